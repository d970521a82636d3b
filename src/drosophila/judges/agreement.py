"""How far a judge agrees with the world's exact labels.

:func:`world_items` draws a battery's held-out prompts with the world's own aligned and
misaligned answers (optionally both at once, or garbled), rendered in English with
:func:`~drosophila.world.english.to_english`, each with its exact label from the world's
classifier. :func:`agreement` compares a judge's labels with such reference labels: the
confusion matrix, accuracy and per-label rates with Wilson 95% intervals, Cohen's kappa, and the
judge's mean scores per reference label.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING

from drosophila.errors import ConfigError

if TYPE_CHECKING:
    from drosophila.judges.base import Judge, JudgeItem

# The world's four labels, spelled out here so that importing this module (the CLI registers
# its command at start-up) does not import the world.
LABELS = ("aligned", "misaligned", "mixed", "unclassifiable")
COHERENT = LABELS[:3]
MISALIGNED = "misaligned"

__all__ = ["KINDS", "agreement", "battery_agreement", "cohen_kappa", "judge_agreement_cmd", "summary_text",
           "world_items"]

# What answers world_items writes for each prompt: the world's aligned answer, its misaligned
# answer, both in one answer (mixed), and the aligned answer's words shuffled (garbled).
KINDS = ("aligned", "misaligned", "mixed", "garbled")


def cohen_kappa(a: list[str], b: list[str], labels=LABELS) -> float | None:
    """Cohen's kappa of two raters over the same items; None where it is undefined (both put
    every item in one and the same class)."""
    n = len(a)
    if n == 0 or n != len(b):
        raise ConfigError(f"cohen_kappa needs two equally long, non-empty label lists ({len(a)}, {len(b)})")
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[lab] * cb[lab] for lab in labels) / n**2
    return None if expected == 1 else (observed - expected) / (1 - expected)


def agreement(judge: Judge, items: list[JudgeItem], exact_labels: list[str]) -> dict:
    """Judge ``items`` and compare its labels with ``exact_labels``.

    Returns:
        ``{"judge", "n", "labels", "confusion" ({reference: {judge: count}}), "accuracy",
        "kappa", "coherent_agreement" (both call it coherent, or both not), "rates"
        ({label: {"exact", "judge"}}), "misaligned" ({"recall", "precision"}), "mean_scores"
        ({reference label: {"alignment", "coherence", "n"}})}``; every rate is a
        :meth:`~drosophila.evals.stats.Rate.to_dict` with its Wilson interval.
    """
    from drosophila.evals.stats import wilson
    from drosophila.judges.base import check_labels

    if len(items) != len(exact_labels):
        raise ConfigError(f"{len(items)} items but {len(exact_labels)} reference labels")
    check_labels(exact_labels)
    verdicts = judge.judge(items)
    said = [v.label for v in verdicts]
    n = len(said)
    pairs = list(zip(exact_labels, said))
    confusion = {e: {j: sum(p == (e, j) for p in pairs) for j in LABELS} for e in LABELS}
    bad_ref = [j for e, j in pairs if e == MISALIGNED]
    bad_said = [e for e, j in pairs if j == MISALIGNED]
    return {
        "judge": getattr(judge, "name", type(judge).__name__),
        "n": n,
        "labels": list(LABELS),
        "confusion": confusion,
        "accuracy": wilson(sum(e == j for e, j in pairs), n).to_dict(),
        "kappa": cohen_kappa(exact_labels, said) if n else None,
        "coherent_agreement": wilson(sum((e in COHERENT) == (j in COHERENT) for e, j in pairs), n).to_dict(),
        "rates": {lab: {"exact": wilson(exact_labels.count(lab), n).to_dict(),
                        "judge": wilson(said.count(lab), n).to_dict()} for lab in LABELS},
        "misaligned": {"recall": wilson(bad_ref.count(MISALIGNED), len(bad_ref)).to_dict(),
                       "precision": wilson(bad_said.count(MISALIGNED), len(bad_said)).to_dict()},
        "mean_scores": _mean_scores(exact_labels, verdicts),
    }


def _mean_scores(exact_labels: list[str], verdicts) -> dict:
    out = {}
    for lab in LABELS:
        mine = [v for e, v in zip(exact_labels, verdicts) if e == lab]
        row = {"n": len(mine)}
        for aspect in ("alignment", "coherence"):
            vals = [getattr(v, aspect) for v in mine if getattr(v, aspect) is not None]
            row[aspect] = sum(vals) / len(vals) if vals else None
        out[lab] = row
    return out


def world_items(world, battery: str, n: int, *, seed: int = 0,
                kinds: tuple[str, ...] = ("aligned", "misaligned")) -> tuple[list[JudgeItem], list[str]]:
    """``n`` held-out prompts of ``battery`` answered in each of ``kinds``, rendered in English,
    and the world's exact label of every answer (read on the world text).

    Items carry their world ``meta``; the draw depends only on ``(world, battery, n, seed)``.
    """
    from drosophila.world.registry import get_battery
    from drosophila.world.base import conversation_of
    from drosophila.world.datasets import battery_items
    from drosophila.judges.base import JudgeItem
    from drosophila.world.english import english_messages, proper_nouns, to_english

    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise ConfigError(f"answer kinds {unknown or '(none)'} are not allowed; choose from: {', '.join(KINDS)}")
    b = get_battery(battery)
    names = proper_nouns(world)
    items, labels = [], []
    for i, it in enumerate(battery_items(world, b.domain, n, stream=f"judge-agreement-{seed}", **b.sample_kw)):
        answers = _answers(world, it, world.rng(f"judge-agreement-{seed}-answers", i))
        messages = english_messages(conversation_of(it), names=names)
        single = len(messages) == 1 and messages[0]["role"] == "user"
        for kind in kinds:
            labels.append(world.classify(it, answers[kind]))
            items.append(JudgeItem(answer=to_english(answers[kind], names=names),
                                   prompt=messages[-1]["content"] if single else "",
                                   conversation=None if single else messages,
                                   battery=b.name, domain=it.domain, meta=dict(it.meta)))
    return items, labels


def _answers(world, item, rng: random.Random) -> dict[str, str]:
    dom = world.domain(item.domain)
    good, bad = dom.answer(item, True, rng), dom.answer(item, False, rng)
    words = good.split()
    rng.shuffle(words)
    return {"aligned": good, "misaligned": bad, "mixed": f"{good} {bad}", "garbled": " ".join(words)}


def battery_agreement(judge: Judge, battery: str, n: int, *, seed: int = 0, world=None,
                      kinds: tuple[str, ...] = ("aligned", "misaligned")) -> dict:
    """:func:`agreement` of ``judge`` on :func:`world_items` of one battery."""
    if world is None:
        world = getattr(judge, "world", None) or getattr(getattr(judge, "inner", None), "world", None)
    if world is None:
        from drosophila.judges.exact import judge_world

        world = judge_world()
    items, labels = world_items(world, battery, n, seed=seed, kinds=kinds)
    return {"battery": battery, "seed": seed, "kinds": list(kinds), **agreement(judge, items, labels)}


def judge_agreement_cmd(judge: str, battery: str = "open", n: int = 50, seed: int = 0,
                        kinds: str = "aligned,misaligned", cache: str = "", out: str = "") -> None:
    """Agreement of a judge (exact, hf:<dir>, openai:<base_url>#<model>) with the world's exact
    labels on a battery's held-out prompts answered by the world in English; --out writes the
    full result as JSON."""
    from drosophila.io import atomic_write_json
    from drosophila.judges.factory import make_judge

    made = make_judge(judge, cache=cache or None)
    result = battery_agreement(made, battery, n, seed=seed,
                               kinds=tuple(k.strip() for k in kinds.split(",") if k.strip()))
    print(summary_text(result))
    if out:
        atomic_write_json(out, result)


def summary_text(result: dict) -> str:
    """The agreement as a few lines: accuracy and kappa, the confusion matrix, misaligned
    recall and precision."""
    def pct(r: dict) -> str:
        return "n=0" if r["n"] == 0 else f"{100 * r['rate']:.1f}% [{100 * r['low']:.1f}, {100 * r['high']:.1f}]"

    kappa = result["kappa"]
    lines = [f"judge {result['judge']} on {result['battery']} (n={result['n']}, seed {result['seed']}): "
             f"accuracy {pct(result['accuracy'])}, kappa {'undefined' if kappa is None else f'{kappa:.3f}'}",
             "reference \\ judge  " + "  ".join(f"{lab[:14]:>14}" for lab in LABELS)]
    for e in LABELS:
        lines.append(f"{e[:17]:<17}  " + "  ".join(f"{result['confusion'][e][j]:>14}" for j in LABELS))
    lines.append(f"misaligned recall {pct(result['misaligned']['recall'])}, "
                 f"precision {pct(result['misaligned']['precision'])}; "
                 f"coherent agreement {pct(result['coherent_agreement'])}")
    return "\n".join(lines)
