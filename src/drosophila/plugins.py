"""Extensions from other packages, found through entry points at start-up.

A package adds experiments, domains, batteries or safety methods by naming a module (or an
object in it) under one of the groups below in its own metadata, e.g. in ``pyproject.toml``::

    [project.entry-points."drosophila.experiments"]
    my-experiment = "my_package.my_experiment"

Loading the entry point imports the module, whose registering decorators (``@experiment``,
``@register_domain``, ``register_battery``, ``@safety_method``) do the rest. The built-in
catalogue is loaded the same way, by module name, so no registry imports the layers above it.
"""

from __future__ import annotations

import importlib
import importlib.metadata

from drosophila.errors import DrosophilaError, choice_error

GROUPS = ("drosophila.domains", "drosophila.batteries", "drosophila.safety_methods",
          "drosophila.experiments")
# What each group means for the built-ins: modules imported before the group's entry points.
BUILTIN = {
    "drosophila.domains": ("drosophila.world.domains",),
    "drosophila.batteries": ("drosophila.world.domains",),
    "drosophila.safety_methods": ("drosophila.stages.safety",),
    "drosophila.experiments": ("drosophila.experiments",),
}

_loaded: set[str] = set()


def load_plugins(*groups: str) -> None:
    """Import the built-ins and every entry point of ``groups`` (all groups by default), once."""
    for group in groups or GROUPS:
        if group in _loaded:
            continue
        _loaded.add(group)  # before loading: a plugin may itself look names up
        for module in BUILTIN[group]:
            importlib.import_module(module)
        for ep in importlib.metadata.entry_points(group=group):
            try:
                ep.load()
            except Exception as e:  # a broken extension names itself instead of a traceback
                raise DrosophilaError(f"extension {ep.name!r} ({ep.value}) in {group} failed to "
                                      f"load: {type(e).__name__}: {e}") from e


def lookup(table: dict, name: str, *, kind: str, groups: tuple[str, ...]):
    """``table[name]`` once the built-ins and extensions of ``groups`` are loaded; a name that
    is not there raises a one-line error listing the ones that are."""
    load_plugins(*groups)
    if name not in table:
        raise choice_error(kind, name, sorted(table))
    return table[name]
