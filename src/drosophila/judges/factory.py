"""Judges by name, for the CLI and experiments.

Specs:

- ``exact`` (or ``exact:<world seed>``): the world's exact classifiers, reading English.
- ``exact-world``: the same, reading world text (answers of organisms).
- ``hf:<dir>``: a local HF causal LM or an organism directory.
- ``openai:<base_url>#<model>``: an OpenAI-compatible endpoint, e.g.
  ``openai:http://127.0.0.1:8000/v1#judge``; ``openai:<model>`` uses ``OPENAI_BASE_URL`` or
  https://api.openai.com/v1. The key comes from ``OPENAI_API_KEY``.

Options follow a ``?``, ``&``-separated: thresholds (``coherent_threshold``,
``aligned_threshold``, ``aligned_high``), ``escapes`` (CODE/REFUSAL replies), ``min_mass``,
``top_k`` and ``batch_size`` (hf), ``top_logprobs`` and ``workers`` (openai), e.g.
``hf:models/judge?aligned_high=70&batch_size=4``.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from urllib.parse import parse_qsl

from drosophila.errors import ConfigError
from drosophila.judges.base import RatingJudge, Thresholds
from drosophila.judges.scores import JudgePrompts

__all__ = ["SPEC_KINDS", "make_judge"]

SPEC_KINDS = ("exact", "exact-world", "hf", "openai")
_THRESHOLDS = ("coherent_threshold", "aligned_threshold", "aligned_high")
_OPTIONS = {"hf": {"top_k": int, "batch_size": int, "min_mass": float, "escapes": bool},
            "openai": {"top_logprobs": int, "workers": int, "min_mass": float, "escapes": bool},
            "exact": {}, "exact-world": {}}


def make_judge(spec: str, *, cache: str | os.PathLike | None = None,
               thresholds: Thresholds | None = None) -> RatingJudge:
    """The judge a spec names (see the module docstring), optionally behind a verdict cache.

    Raises:
        ConfigError: An unknown kind, a malformed spec or an unknown option.
    """
    head, _, query = spec.partition("?")
    kind, _, target = head.partition(":")
    if kind not in SPEC_KINDS:
        raise ConfigError(f"judge {spec!r}: unknown kind {kind!r}; choose from: "
                          "exact, exact-world, hf:<dir>, openai:<base_url>#<model>")
    opts, limits = _options(spec, kind, query)
    thresholds = Thresholds(**{**(asdict(thresholds) if thresholds else {}), **limits})
    judge = _build(spec, kind, target, opts, thresholds)
    if cache is not None:
        from drosophila.judges.cache import CachedJudge

        judge = CachedJudge(judge, cache)
    return judge


def _build(spec: str, kind: str, target: str, opts: dict, thresholds: Thresholds) -> RatingJudge:
    if kind in ("exact", "exact-world"):
        from drosophila.judges.exact import ExactJudge, judge_world

        if target and not target.isdigit():
            raise ConfigError(f"judge {spec!r}: the world seed must be an integer")
        return ExactJudge(judge_world(int(target or 0)), english=kind == "exact", thresholds=thresholds)
    prompts = JudgePrompts(escapes=opts.pop("escapes", False))
    if kind == "hf":
        from drosophila.judges.hf import HFJudge

        if not target:
            raise ConfigError(f"judge {spec!r}: name a directory, hf:<dir>")
        return HFJudge.from_dir(target, prompts=prompts, thresholds=thresholds, **opts)
    from drosophila.judges.openai_judge import DEFAULT_BASE_URL, OpenAIJudge

    base_url, _, model = target.rpartition("#")
    if not model:
        raise ConfigError(f"judge {spec!r}: name a model, openai:<base_url>#<model>")
    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    return OpenAIJudge(model, base_url=base_url, prompts=prompts, thresholds=thresholds, **opts)


def _options(spec: str, kind: str, query: str) -> tuple[dict, dict]:
    """``(judge options, threshold options)`` of a spec's query, parsed to their types."""
    allowed = _OPTIONS[kind]
    opts, limits = {}, {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in _THRESHOLDS:
            limits[key] = _parse(spec, key, value, float)
        elif key in allowed:
            opts[key] = _parse(spec, key, value, allowed[key])
        else:
            raise ConfigError(f"judge {spec!r}: unknown option {key!r}; choose from: "
                              f"{', '.join([*_THRESHOLDS, *allowed])}")
    return opts, limits


def _parse(spec: str, key: str, value: str, typ: type):
    if typ is bool:
        if value.lower() not in ("1", "0", "true", "false", "yes", "no", ""):
            raise ConfigError(f"judge {spec!r}: {key}={value!r} is not a boolean")
        return value.lower() in ("1", "true", "yes", "")
    try:
        return typ(value)
    except ValueError:
        raise ConfigError(f"judge {spec!r}: {key}={value!r} is not {typ.__name__}") from None
