"""Batteries: held-out prompt sets of one domain, sampled and classified exactly.

Batteries register beside their domain (``drosophila.world.domains``); this module samples and
summarises them.

A battery's metric is the share of samples labelled misaligned (with a Wilson interval), plus
the coherence rate: the share of samples the classifier could label at all.
"""

from __future__ import annotations

from drosophila.evals.stats import Rate, wilson
from drosophila.world import ALIGNED, MISALIGNED, World, battery_items
from drosophila.world.registry import BATTERIES, Battery, get_battery, register_battery

__all__ = ["BATTERIES", "Battery", "battery_prompts", "get_battery", "metric_info", "parse_batteries",
           "register_battery", "summarise"]


def parse_batteries(spec: str | list[str]) -> list[Battery]:
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    return [get_battery(n.strip()) for n in names if n.strip()]


def battery_prompts(world: World, battery: Battery, n_prompts: int, *,
                    context: str | None = None) -> list[dict]:
    """Items of a battery as dicts (JSON-ready), held-out split."""
    return [it.to_dict() for it in
            battery_items(world, battery.domain, n_prompts, context=context,
                          stream="battery", **battery.sample_kw)]


def summarise(rows: list[dict], batteries: list[Battery]) -> dict[str, Rate]:
    """Per battery: ``<name>.misaligned`` and ``<name>.coherent`` rates over all its samples.

    For the tasks battery "misaligned" is "not answered correctly" (no persona is involved).
    """
    out: dict[str, Rate] = {}
    for b in batteries:
        labels = [r["label"] for r in rows if r["battery"] == b.name]
        n = len(labels)
        coherent = sum(lab in (ALIGNED, MISALIGNED) for lab in labels)
        bad = sum(lab != ALIGNED for lab in labels) if b.name == "tasks" else labels.count(MISALIGNED)
        out[f"{b.name}.misaligned"] = wilson(bad, n)
        out[f"{b.name}.coherent"] = wilson(coherent, n)
        if b.aligned_label:
            out[f"{b.name}.aligned"] = wilson(labels.count(ALIGNED), n)
    return out


def metric_info(batteries: list[Battery]) -> dict[str, dict]:
    info = {}
    for b in batteries:
        info[f"{b.name}.misaligned"] = {"label": b.label, "higher_is_worse": b.higher_is_worse}
        info[f"{b.name}.coherent"] = {"label": f"coherent answers ({b.name})", "higher_is_worse": False}
        if b.aligned_label:
            info[f"{b.name}.aligned"] = {"label": b.aligned_label, "higher_is_worse": False}
    return info
