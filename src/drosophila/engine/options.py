"""Typed experiment options: a dataclass per experiment, parsed and checked before a run starts.

An experiment declares its options as a dataclass whose fields come from :func:`option`::

    @dataclass(frozen=True)
    class Options:
        ablation: bool = option(True, "also run the coherence-0 world (persona ablation)")
        backdoors: tuple[str, ...] = option(("hate", "code"), "backdoors to implant",
                                            choices=BACKDOORS)

Values arrive as strings or JSON scalars (``--option ablation=false``); :func:`parse_options`
turns them into the field's type (``bool``, ``int``, ``float``, ``str`` or a tuple of ``str`` /
``int`` written comma-separated) and raises a one-line :class:`ConfigError` naming the option
and what is allowed for an unknown key, a wrong type or a value outside its choices or range.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Callable

from drosophila.errors import ConfigError

TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def option(default: Any, help: str, *, choices=None,
           check: tuple[Callable[[Any], bool], str] | None = None) -> Any:
    """A dataclass field with help text, optional ``choices`` (for ``str`` and tuple fields) and
    ``check``: ``(predicate, what is allowed)`` for range checks."""
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "check": check}
    if isinstance(default, (list, dict, set)):
        raise TypeError("option defaults must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """For experiments without options."""


def option_fields(cls) -> list[tuple[dataclasses.Field, Any]]:
    """``[(field, resolved type)]`` of an options dataclass."""
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


def parse_options(cls, raw: dict | None, *, experiment: str = ""):
    """An instance of ``cls`` from ``raw`` (``{name: value}``; missing names keep their default).

    Raises:
        ConfigError: one line naming the option and what is allowed.
    """
    if raw is not None and dataclasses.is_dataclass(raw) and not isinstance(raw, dict):
        raw = dataclasses.asdict(raw)
    fields = {f.name: (f, t) for f, t in option_fields(cls)}
    where = f" of {experiment}" if experiment else ""
    values = {}
    for key, value in (raw or {}).items():
        if key not in fields:
            allowed = ", ".join(sorted(fields)) or "(none)"
            raise ConfigError(f"option {key!r} is not an option{where}; choose from: {allowed}")
        f, typ = fields[key]
        values[key] = _convert(key, value, typ, f.metadata)
    return cls(**values)


def _convert(key: str, value: Any, typ: Any, meta) -> Any:
    origin = typing.get_origin(typ)
    if origin is tuple:
        inner = typing.get_args(typ)[0]
        items = value if isinstance(value, (list, tuple)) else \
            [v.strip() for v in str(value).split(",") if v.strip()]
        out = tuple(_scalar(key, v, inner) for v in items)
        _choices(key, out, meta)
    else:
        out = _scalar(key, value, typ)
        _choices(key, (out,) if typ is str else (), meta)
    check = meta.get("check")
    if check and not check[0](out):
        raise ConfigError(f"option {key}={value!r} is not allowed; choose {check[1]}")
    return out


def _scalar(key: str, value: Any, typ: type) -> Any:
    bad = ConfigError(f"option {key}={value!r} is not allowed; expected {_type_name(typ)}")
    if typ is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        raise bad
    if typ is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad from None
    if typ is float:
        if isinstance(value, bool):
            raise bad
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad from None
    if typ is str:
        if isinstance(value, (dict, list)):
            raise bad
        return str(value)
    raise TypeError(f"option {key}: unsupported type {typ!r}")


def _choices(key: str, values: tuple, meta) -> None:
    choices = meta.get("choices")
    if choices is None:
        return
    bad = [v for v in values if v not in choices]
    if bad:
        raise ConfigError(f"option {key}={bad[0]!r} is not allowed; choose from: "
                          f"{', '.join(map(str, choices))}")


def _type_name(typ) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "text"}.get(typ, str(typ))


def describe_options(cls) -> list[dict]:
    """One dict per option: name, type, default, help, choices (for listings)."""
    out = []
    for f, typ in option_fields(cls):
        origin = typing.get_origin(typ)
        type_name = (f"list of {typing.get_args(typ)[0].__name__} (comma-separated)"
                     if origin is tuple else typ.__name__)
        default = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
        help_text = f.metadata.get("help", "")
        if f.metadata.get("choices"):
            help_text += f" (from: {', '.join(map(str, f.metadata['choices']))})"
        elif f.metadata.get("check"):
            help_text += f" ({f.metadata['check'][1]})"
        out.append({"name": f.name, "type": type_name, "default": default, "help": help_text})
    return out


def options_dict(opts) -> dict:
    """The options as plain JSON values (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(opts).items()}
