"""Inspect (inspect_ai) integration: ``pip install "drosophila[inspect]"``.

``inspect eval drosophila/<battery> --model drosophila/<organism directory>`` evaluates an
organism on a battery offline: the provider samples with Drosophila's sampler and counts tokens
with the organism's tokenizer; the task's scorer is the world's exact classifier. See
docs/INSPECT.md.
"""

from __future__ import annotations

try:
    import inspect_ai  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError('drosophila.inspect_ext needs inspect_ai: pip install "drosophila[inspect]"') from e

from drosophila.inspect_ext._scorer import exact_label, labels, rates
from drosophila.inspect_ext._tasks import battery_task, seeded_generate, task_world

__all__ = ["DrosophilaAPI", "battery_task", "exact_label", "labels", "rates", "seeded_generate",
           "task_world"]


def __getattr__(name: str):
    if name == "DrosophilaAPI":  # imports torch and transformers: only when asked for
        from drosophila.inspect_ext._provider import DrosophilaAPI

        return DrosophilaAPI
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
