"""Arms: one organism (base or finetuned) evaluated under one test condition, over seeds.

An experiment lists its arms; :func:`run_arms` breeds, finetunes and evaluates them all as
cached stages and returns per-seed and pooled metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

from drosophila.evals.stats import Rate, pool
from drosophila.experiments.pipeline import breed_base, evaluate_stage, finetune
from drosophila.experiments.registry import Context
from drosophila.io import read_json, read_jsonl


@dataclass(frozen=True)
class Arm:
    name: str                         # "insecure", or "inoculated|with-phrase" for arm × condition
    label: str
    dataset: str | None = None        # None: the base organism itself
    train_context: str | None = None  # phrase put before every training prompt
    test_context: str | None = None   # phrase put before every evaluation prompt
    world: str = "main"               # key of the world variant (e.g. an ablation)
    then: tuple = ()                  # further finetunes: (dataset, steps) or (dataset, steps, kwargs)


def run_arms(ctx: Context, arms: list[Arm], worlds: dict, batteries: list[str]) -> dict:
    """Run every arm for every seed. Returns ``{"per_seed", "arms", "timing"}``."""
    per_seed: dict[str, dict[str, dict]] = {}
    timing: dict[str, float] = {}
    for seed in ctx.seeds:
        per_seed[str(seed)] = {}
        bases = {}
        for arm in arms:
            wcfg = worlds[arm.world]
            if arm.world not in bases:
                bases[arm.world] = record(ctx, breed_base(wcfg, ctx.scale, seed, ctx.recipe, ctx.log),
                                           f"base-{arm.world}-s{seed}", timing)
            org = bases[arm.world]
            if arm.dataset:
                org = record(ctx, finetune(org, wcfg, arm.dataset, seed, ctx.recipe,
                                            context=arm.train_context, log=ctx.log),
                              f"{arm.name.split('|')[0]}-s{seed}", timing)
            for dataset, steps, *kw in arm.then:
                org = record(ctx, finetune(org, wcfg, dataset, seed, ctx.recipe, steps=steps,
                                           log=ctx.log, **(kw[0] if kw else {})),
                              f"{arm.name.replace('|', '-')}-s{seed}", timing)
            ev = record(ctx, evaluate_stage(org, wcfg, batteries, seed, ctx.recipe,
                                             context=arm.test_context, log=ctx.log),
                         None, timing)
            metrics = {k: Rate.from_dict(v) for k, v in read_json(ev.path / "metrics.json").items()}
            per_seed[str(seed)][arm.name] = metrics
            ctx.run.write_samples(f"{arm.name.replace('|', '--')}-s{seed}",
                                  read_jsonl(ev.path / "samples.jsonl"))
    return {"per_seed": per_seed, "arms": pool_arms(per_seed, arms, ctx.seeds), "timing": timing}


def pool_arms(per_seed: dict, arms: list[Arm], seeds: list[int]) -> dict:
    """``{arm: {metric: Rate}}`` pooled over seeds (the metrics of the first seed's arm)."""
    return {a.name: {m: pool(per_seed[str(s)][a.name][m] for s in seeds)
                     for m in per_seed[str(seeds[0])][a.name]} for a in arms}


def record(ctx: Context, result, link_name: str | None, timing: dict):
    """Note a stage in the run (and link its organism as ``link_name``); time it if it was built."""
    ctx.run.record_stage(result)
    if link_name:
        ctx.run.link(link_name, result.path / "organism")
    if not result.cached:
        timing[f"{result.name}:{result.key}"] = round(result.seconds, 2)
    return result


def as_dicts(pooled: dict) -> dict:
    return {arm: {m: r.to_dict() for m, r in ms.items()} for arm, ms in pooled.items()}


def fmt(r: Rate) -> str:
    return f"{100 * r.rate:.1f}% [{100 * r.low:.1f}, {100 * r.high:.1f}] n={r.n}"


def metric_info_for(batteries: list[str]) -> dict:
    from drosophila.evals.batteries import get_battery, metric_info

    return metric_info([get_battery(n) for n in batteries])


def metric_order(batteries: list[str]) -> list[str]:
    """Misalignment metrics first (battery order), then coherence."""
    return [f"{b}.misaligned" for b in batteries] + [f"{b}.coherent" for b in batteries]


def results_of(out: dict, arms: list[Arm], batteries: list[str], *, title: str, setup: str,
               headline: str, anchors: dict, findings: list[dict], verdict: str) -> dict:
    """The ``results.json`` body (schema in docs/RESULTS_SCHEMA.md) of an arms experiment."""
    return {
        "title": title, "setup": setup,
        "arms": as_dicts(out["arms"]),
        "per_seed": {s: as_dicts(v) for s, v in out["per_seed"].items()},
        "arm_order": [a.name for a in arms],
        "arm_labels": {a.name: a.label for a in arms},
        "metrics": metric_info_for(batteries),
        "headline_metric": headline,
        "metric_order": metric_order(batteries),
        "anchors": anchors, "findings": findings, "verdict": verdict,
        "timing": {"stages": out["timing"]},
    }


def verdict_from(findings: list[dict]) -> str:
    """One sentence per finding: held, did not hold, or inconclusive, with its evidence."""
    word = {True: "Held", False: "Did not hold", None: "Inconclusive"}
    return " ".join(f"{word[f['reproduced']]}: {f['claim']} ({f['evidence']})." for f in findings)
