"""Arms: one organism (base or finetuned) evaluated under one test condition, over seeds.

An experiment lists its arms; :func:`run_arms` breeds, finetunes and evaluates them all as
cached stages and returns per-seed and pooled metrics. Independent stages run at the same
time: first every base organism (one per seed and world), then every finetuned organism with
its evaluations (arms that share an organism share one task).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from drosophila.engine.context import Context
from drosophila.engine.results import pool_arms
from drosophila.evals.stats import Rate
from drosophila.io import read_json, read_jsonl
from drosophila.stages.pipeline import base_organism, evaluate_stage, finetune
from drosophila.stages.questions import ask


@dataclass(frozen=True)
class Arm:
    name: str                         # "insecure", or "inoculated|with-phrase" for arm × condition
    label: str
    dataset: str | None = None        # None: the base organism itself
    train_context: str | None = None  # phrase put before every training prompt
    test_context: str | None = None   # phrase put before every evaluation prompt
    world: str = "main"               # key of the world variant (e.g. an ablation)
    then: tuple = ()                  # further finetunes: (dataset, steps) or (dataset, steps, kwargs)

    @property
    def organism(self) -> str:
        """What identifies the arm's organism: arms that agree here share it."""
        return repr((self.world, self.dataset, self.train_context, self.then))


@dataclass(frozen=True)
class _Task:
    name: str          # for log lines
    seed: int
    world_key: str
    world: object      # WorldConfig
    batteries: tuple = ()
    arms: tuple = ()   # arms sharing one organism
    questions: tuple = ()  # real models: questions for the judge (``stages.questions``)


def run_arms(ctx: Context, arms: list[Arm], worlds: dict, batteries: list[str],
             questions: list[dict] | None = None) -> dict:
    """Run every arm for every seed. Returns ``{"per_seed": {seed: {arm: {metric: Rate}}},
    "arms": pooled over seeds}``.

    With ``--model`` the base organism is the real model; ``questions`` (HF messages, see
    :mod:`drosophila.stages.questions`) are then also asked and judged under every arm."""
    used = list(dict.fromkeys(a.world for a in arms))
    ctx.map(_breed, [_Task(f"base {w} s{s}", s, w, worlds[w]) for s in ctx.seeds for w in used])
    groups: dict[str, list[Arm]] = {}
    for a in arms:
        groups.setdefault(a.organism, []).append(a)
    tasks = [_Task(f"{g[0].name.split('|')[0]} s{s}", s, g[0].world, worlds[g[0].world],
                   tuple(batteries), tuple(g), tuple(questions or ()))
             for s in ctx.seeds for g in groups.values()]
    per_seed: dict[str, dict[str, dict]] = {str(s): {} for s in ctx.seeds}
    for task, metrics in zip(tasks, ctx.map(_organism_arms, tasks)):
        per_seed[str(task.seed)].update(metrics)
    per_seed = {s: {a.name: got[a.name] for a in arms} for s, got in per_seed.items()}
    return {"per_seed": per_seed, "arms": pool_arms(per_seed, [a.name for a in arms], ctx.seeds)}


def _breed(ctx: Context, task: _Task) -> None:
    ctx.record(base_organism(ctx, task.world, task.seed), f"base-{task.world_key}-s{task.seed}")


def _organism_arms(ctx: Context, task: _Task) -> dict[str, dict[str, Rate]]:
    """Build one organism (finetunes from the base) and evaluate it under each arm's test
    condition: ``{arm name: {metric: Rate}}``."""
    seed, wcfg, first = task.seed, task.world, task.arms[0]
    org = base_organism(ctx, wcfg, seed)
    if first.dataset:
        org = ctx.record(finetune(org, wcfg, first.dataset, seed, ctx.recipe,
                                  context=first.train_context, log=ctx.log),
                         f"{first.name.split('|')[0]}-s{seed}")
    for dataset, steps, *kw in first.then:
        org = ctx.record(finetune(org, wcfg, dataset, seed, ctx.recipe, steps=steps, log=ctx.log,
                                  **(kw[0] if kw else {})), f"{first.name.replace('|', '-')}-s{seed}")
    out = {}
    for arm in task.arms:
        out[arm.name] = evaluate(ctx, org, wcfg, list(task.batteries), seed,
                                 f"{arm.name.replace('|', '--')}-s{seed}", context=arm.test_context)
        if task.questions:
            out[arm.name].update(ask(ctx, org, list(task.questions), seed,
                                     f"questions-{arm.name.replace('|', '--')}-s{seed}",
                                     context=arm.test_context))
    return out


def evaluate(ctx: Context, organism, world, batteries: list[str], seed: int, samples: str | None,
             recipe=None, **kw) -> dict[str, Rate]:
    """Evaluate ``organism`` on ``batteries`` (a cached stage); keep its samples in the run as
    ``samples`` (unless None) and return ``{metric: Rate}``."""
    ev = ctx.record(evaluate_stage(organism, world, batteries, seed, recipe or ctx.recipe,
                                   log=ctx.log, **kw))
    return read_eval(ev.path, batteries, lambda rows: ctx.samples(samples, rows) if samples else None)


def read_eval(path, batteries: list[str], keep=None) -> dict[str, Rate]:
    """``{metric: Rate}`` of an evaluation stage, each rate carrying its per-prompt cells (read
    off ``samples.jsonl``) for cluster-aware intervals and contrasts; ``keep(rows)`` sees the
    samples."""
    from drosophila.evals.batteries import get_battery, prompt_cells

    rows = read_jsonl(path / "samples.jsonl")
    if keep:
        keep(rows)
    cells = prompt_cells(rows, [get_battery(b) for b in batteries])
    return {k: replace(Rate.from_dict(v), cells=cells.get(k))
            for k, v in read_json(path / "metrics.json").items()}
