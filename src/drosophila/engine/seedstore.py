"""Each seed's result, kept in its run: ``seeds/s<seed>.json``.

An experiment whose seeds are independent computes one result per seed and then combines
them. Keeping each seed's result (every rate with its per-prompt cells, curves, scored rows)
lets a run resume without recomputing a finished seed and lets runs of the same configuration
over disjoint seeds be combined into one (``drosophila merge``), e.g. seeds built on different
days or machines.

The format is JSON with three tagged kinds: a tuple, a non-finite float, and a dataclass of
:mod:`drosophila.evals.stats` (``Rate``, ``Mean``, ``Contrast``). Nothing else is decoded into
objects, so reading a seed file never runs code.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from drosophila.errors import DrosophilaError
from drosophila.io import atomic_write_text

FORMAT = 1


def _classes() -> dict[str, type]:
    from drosophila.evals.stats import Contrast, Mean, Rate

    return {c.__name__: c for c in (Rate, Mean, Contrast)}


def encode(obj: Any) -> Any:
    """``obj`` as plain JSON values, tagged where JSON would lose a type.

    Raises:
        TypeError: a value of a kind the format does not carry (an array, a tensor, ...).
    """
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(x) for x in obj]}
    if isinstance(obj, list):
        return [encode(x) for x in obj]
    if isinstance(obj, dict) or type(obj).__name__ == "mappingproxy":
        if not all(isinstance(k, str) for k in obj):
            raise TypeError(f"only string keys are kept, got {sorted(map(repr, obj))[:3]}")
        return {k: encode(v) for k, v in obj.items()}
    name = type(obj).__name__
    if dataclasses.is_dataclass(obj) and _classes().get(name) is type(obj):
        return {"__dataclass__": name,
                "fields": {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if hasattr(obj, "item") and getattr(obj, "shape", None) == ():  # a numpy or torch scalar
        return encode(obj.item())
    raise TypeError(f"a seed result cannot hold a {type(obj).__name__}")


def decode(obj: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(obj, list):
        return [decode(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    if set(obj) == {"__float__"}:
        return float(obj["__float__"])
    if set(obj) == {"__tuple__"}:
        return tuple(decode(x) for x in obj["__tuple__"])
    if set(obj) == {"__dataclass__", "fields"}:
        cls = _classes().get(obj["__dataclass__"])
        if cls is None:
            raise DrosophilaError(f"unknown kind {obj['__dataclass__']!r} in a seed result")
        return cls(**{k: decode(v) for k, v in obj["fields"].items()})
    return {k: decode(v) for k, v in obj.items()}


def seed_path(run_path: Path, seed: int) -> Path:
    return Path(run_path) / "seeds" / f"s{seed}.json"


def save_seed(run_path: Path, seed: int, task: str, value: Any) -> Path:
    """Write one seed's result atomically; ``task`` names the function that computed it."""
    doc = {"format": FORMAT, "seed": seed, "task": task, "value": encode(value)}
    return atomic_write_text(seed_path(run_path, seed), json.dumps(doc, separators=(",", ":")))


def load_seed(run_path: Path, seed: int, task: str) -> Any:
    """The kept result of ``seed``, or None when the run has none for it.

    Raises:
        DrosophilaError: the file is of another format, seed or task.
    """
    path = seed_path(run_path, seed)
    if not path.is_file():
        return None
    doc = json.loads(path.read_text(encoding="utf-8"))
    if (doc.get("format"), doc.get("seed"), doc.get("task")) != (FORMAT, seed, task):
        raise DrosophilaError(f"{path} holds format {doc.get('format')}, seed {doc.get('seed')}, "
                              f"task {doc.get('task')!r}; expected {FORMAT}, {seed}, {task!r}")
    return decode(doc["value"])


def task_name(fn) -> str:
    """``module:function`` of a per-seed function (what a seed file records)."""
    fn = getattr(fn, "func", fn)  # a functools.partial names its function
    return f"{fn.__module__}:{fn.__qualname__}"
