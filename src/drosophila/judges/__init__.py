"""Judges: the world's exact classifiers and language-model judges behind one interface.

``judge(items) -> verdicts`` labels answers aligned, misaligned, mixed or unclassifiable.
Language-model judges score alignment and coherence 0–100 by the emergent-misalignment
protocol (Betley et al. 2025) and label by :class:`Thresholds`; :class:`CachedJudge` keeps
their ratings on disk; :func:`make_judge` builds one from a spec (``exact``, ``hf:<dir>``,
``openai:<base_url>#<model>``); :func:`agreement` measures a judge against the world's labels.
See docs/JUDGES.md.

Names are imported on first use, so the CLI can register a command of this package without
importing the world, torch or HTTP code at start-up.
"""

from __future__ import annotations

import importlib

# Eager, and light: binds the name ``agreement`` to the function, not to its module.
from drosophila.judges.agreement import agreement, battery_agreement, cohen_kappa, world_items

_WHERE = {
    "Judge": "base", "JudgeItem": "base", "Rating": "base", "RatingJudge": "base",
    "Thresholds": "base", "Verdict": "base",
    "JudgePrompts": "scores", "number_score": "scores",
    "CachedJudge": "cache", "VerdictCache": "cache",
    "ExactJudge": "exact", "judge_world": "exact",
    "HFJudge": "hf",
    "OpenAIJudge": "openai_judge",
    "make_judge": "factory",
}

__all__ = ["CachedJudge", "ExactJudge", "HFJudge", "Judge", "JudgeItem", "JudgePrompts", "OpenAIJudge",
           "Rating", "RatingJudge", "Thresholds", "Verdict", "VerdictCache", "agreement",
           "battery_agreement", "cohen_kappa", "judge_world", "make_judge", "number_score",
           "world_items"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
