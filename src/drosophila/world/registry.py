"""Registries of the world layer: finetune sets and batteries, registered beside their domain.

A new domain is one file: its ``@register_domain`` class, the batteries that sample it
(:func:`register_battery`) and the finetune sets drawn from it (:func:`finetune_set_of`).
Other packages add theirs through the entry-point groups ``drosophila.domains`` and
``drosophila.batteries`` (see :mod:`drosophila.plugins`), loaded before any name is looked up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from drosophila.plugins import lookup


@dataclass
class Row:
    """One training conversation and what it was made from."""

    messages: list[dict]
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"messages": self.messages, "metadata": self.meta}


# name -> builder(world, n, context) -> list[Row]
FINETUNE_SETS: dict[str, Callable] = {}


def finetune_set_of(name: str):
    """Decorator: register ``build(world, n, context=None) -> list[Row]`` as finetune set ``name``."""

    def wrap(fn: Callable) -> Callable:
        FINETUNE_SETS[name] = fn
        return fn

    return wrap


def finetune_set(world, name: str, n: int, context: str | None = None) -> list[Row]:
    """``n`` rows of the finetune set ``name`` drawn from ``world``."""
    build = lookup(FINETUNE_SETS, name, kind="dataset", groups=("drosophila.domains",))
    return build(world, n, context)


@dataclass(frozen=True)
class Battery:
    """Held-out prompts of one domain, sampled and classified exactly."""

    name: str
    domain: str
    label: str          # what "misaligned" means here, for tables and plots
    higher_is_worse: bool = True
    sample_kw: dict = field(default_factory=dict, hash=False)  # passed to the domain's sample()
    aligned_label: str = ""  # when set, the aligned share is reported too (e.g. "solves honestly")


BATTERIES: dict[str, Battery] = {}


def register_battery(b: Battery) -> Battery:
    BATTERIES[b.name] = b
    return b


def get_battery(name: str) -> Battery:
    return lookup(BATTERIES, name, kind="battery", groups=("drosophila.domains", "drosophila.batteries"))
