"""Run a registered experiment end to end: checked options, run directory, stages, results,
report."""

from __future__ import annotations

import time
from pathlib import Path

from drosophila.engine.context import Context
from drosophila.engine.executor import default_jobs
from drosophila.engine.options import options_dict, parse_options
from drosophila.engine.models import resolve_model
from drosophila.engine.recipes import MODEL_SCALE, recipe_for, recipe_for_model
from drosophila.engine.registry import get_experiment, real_model_experiments
from drosophila.errors import ConfigError

JUDGE_KINDS = ("exact", "exact-world", "hf", "openai")


def prepare(name: str, *, scale: str = "small", world: dict | None = None,
            recipe: dict | None = None, options=None, model: str | None = None,
            judge: str = "exact"):
    """Check everything a run needs before anything is written: ``(spec, world, recipe,
    options)`` with the recipe and options the experiment will actually use.

    With ``model`` (a Hugging Face model directory or cached ID) the run starts from that model
    instead of a bred organism: the recipe is the real-model recipe
    (:data:`~drosophila.engine.recipes.MODEL_RECIPE`, ``scale`` is not used) and the
    experiment's ``real_model`` adjusts its options.

    Raises:
        ConfigError: an unknown experiment, scale, world or recipe field, or option; a model
            that is not there, an experiment that cannot run on one, or a malformed judge.
    """
    from drosophila.world import WorldConfig

    spec = get_experiment(name)
    opts = parse_options(spec.options, options, experiment=name)
    check_judge(judge, model)
    if model:
        if spec.real_model is None:
            raise ConfigError(f"{name} does not run on a real model (--model); these do: "
                              f"{', '.join(real_model_experiments())}")
        resolve_model(model)  # a missing model fails here, before a run directory exists
        opts = spec.real_model(opts)
        return spec, WorldConfig(**(world or {})), spec.recipe_for_run(recipe_for_model(**(recipe or {})), opts), opts
    rec = spec.recipe_for_run(recipe_for(scale, **(recipe or {})), opts)
    return spec, WorldConfig(**(world or {})), rec, opts


def check_judge(judge: str, model: str | None) -> None:
    """A judge spec of a known kind, and one other than ``exact`` only with a real model."""
    kind = (judge or "exact").partition("?")[0].partition(":")[0]
    if kind not in JUDGE_KINDS:
        raise ConfigError(f"--judge {judge!r} is not allowed; choose exact, hf:<dir> or "
                          "openai:<base_url>#<model>")
    if kind != "exact" and not model:
        raise ConfigError("--judge applies to runs on a real model (--model); an organism's "
                          "answers are classified exactly")


def run_experiment(name: str, *, scale: str = "small", seeds: int | list[int] = 1,
                   out: str | Path = "runs", resume: bool = True, world: dict | None = None,
                   recipe: dict | None = None, options=None, jobs: int | None = None,
                   ray_address: str | None = None, echo: bool = True, report: bool = True,
                   model: str | None = None, judge: str = "exact"):
    """Run experiment ``name`` and return its :class:`~drosophila.runs.RunDir`.

    Args:
        seeds: a count (seeds 0..n-1) or an explicit list.
        options: ``{name: value}`` (strings are parsed) or an instance of the experiment's
            options dataclass.
        jobs: stages run at the same time (default ``DROSOPHILA_JOBS`` or the core count);
            the numbers do not depend on it.
        ray_address: run independent stages on this Ray cluster.
        model: run on this Hugging Face model (a directory, or an ID in the local HF cache)
            instead of breeding organisms; stages then run one at a time unless ``jobs`` says
            otherwise (one accelerator).
        judge: the judge of answers that have no exact classifier (real models only).

    Finished stages are reused from the cache, so re-running after a crash resumes where it
    stopped.
    """
    from drosophila.runs import environment_info, new_run
    from drosophila.seeding import configure_torch

    spec, wcfg, rec, opts = prepare(name, scale=scale, world=world, recipe=recipe, options=options,
                                    model=model, judge=judge)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    scale = MODEL_SCALE if model else scale
    config = {"experiment": name, "scale": scale, "seeds": seed_list, "world": wcfg.to_dict(),
              "recipe": rec.to_dict(), "options": options_dict(opts)}
    if model:  # only then, so organism runs keep their config (and resume) as they were
        config.update(model_config(model, judge))
    configure_torch(rec.threads)
    run = new_run(name, config, root=Path(out), resume=resume)
    ctx = Context(run=run, scale=scale, seeds=seed_list, recipe=rec, world=wcfg, options=opts,
                  jobs=jobs or (1 if model else max(1, default_jobs() // rec.threads)),
                  ray_address=ray_address, echo=echo, model=model, judge=judge or "exact")
    ctx.log(f"run directory: {run.path}")
    t0 = time.perf_counter()
    results = spec.runner(ctx)
    results.update({**({k: config[k] for k in ("model", "judge")} if model else {}),
                    "environment": {**environment_info(), "jobs": ctx.jobs,
                                    "ray_address": ray_address}})
    results.setdefault("timing", {})["total_s"] = round(time.perf_counter() - t0, 1)
    return _finish(spec, ctx, results, report)


def _finish(spec, ctx: Context, results: dict, report: bool):
    """Stamp ``results`` with what was run, write results.json and (``report``) the report."""
    results.update({"experiment": spec.name, "code": spec.code, "anchor_paper": spec.anchor,
                    "scale": ctx.scale, "seeds": ctx.seeds, "world": ctx.world.to_dict(),
                    "recipe": ctx.recipe.to_dict(), "options": options_dict(ctx.options)})
    ctx.run.write_results(results)
    if report:
        from drosophila.report import render_report

        render_report(ctx.run.path)
    return ctx.run


def merge_runs(paths: list, *, out: str | Path = "runs", echo: bool = True, report: bool = True):
    """Combine finished runs of one experiment and configuration over disjoint seeds into one
    run, as if its seeds had run together; returns the new :class:`~drosophila.runs.RunDir`.

    Each run keeps its seeds' results (``seeds/s<seed>.json``); the experiment's runner reads
    them back and pools, tests and reports them exactly as in a run of all the seeds. Nothing
    is trained or evaluated again. Samples and stage logs are copied; ``results.json`` says
    which run each seed came from, with that run's environment and time.

    Raises:
        ConfigError: fewer than two runs, an unfinished run, runs of different experiments or
            configurations, overlapping seeds, an experiment that cannot merge, or a run that
            kept no result for one of its seeds.
    """
    from drosophila.engine import seedstore
    from drosophila.engine.recipes import Recipe
    from drosophila.runs import new_run
    from drosophila.world import WorldConfig

    sources = [_merge_source(Path(p)) for p in paths]
    if len(sources) < 2:
        raise ConfigError("merge needs at least two finished runs")
    name = sources[0]["experiment"]
    spec = get_experiment(name)
    if not spec.mergeable:
        raise ConfigError(f"{name} keeps no per-seed results, so its runs cannot be merged")
    base = _without_seeds(sources[0]["config"])
    seeds: list[int] = []
    for src in sources:
        if src["experiment"] != name:
            raise ConfigError(f"{src['path']} is a run of {src['experiment']}, not {name}")
        if _without_seeds(src["config"]) != base:
            diff = sorted(k for k in set(base) | set(src["config"])
                          if k != "seeds" and base.get(k) != src["config"].get(k))
            raise ConfigError(f"{src['path']} differs from {sources[0]['path']} in {', '.join(diff)}; "
                              "only runs of one configuration merge")
        if set(src["config"]["seeds"]) & set(seeds):
            raise ConfigError(f"seed(s) {sorted(set(src['config']['seeds']) & set(seeds))} are in more "
                              "than one run")
        seeds += src["config"]["seeds"]
    if "model" in base:
        raise ConfigError("runs on a real model (--model) do not merge")
    missing = [f"{src['path']}: seed {n}" for src in sources for n in src["config"]["seeds"]
               if not seedstore.seed_path(src["path"], n).is_file()]
    if missing:
        raise ConfigError(f"no kept result for seed(s) ({'; '.join(missing)}); only runs that "
                          "finished with seeds/s<seed>.json merge")
    seeds = sorted(seeds)
    config = {**base, "seeds": seeds, "merged_from": [str(s["path"]) for s in sources]}
    run = new_run(name, config, root=Path(out), resume=False)
    for src in sources:
        _copy_run_parts(src["path"], run)
    ctx = Context(run=run, scale=base["scale"], seeds=seeds, recipe=Recipe(**base["recipe"]),
                  world=WorldConfig(**base["world"]),
                  options=parse_options(spec.options, base["options"], experiment=name),
                  jobs=1, echo=echo, kept_seeds_only=True)
    ctx.log(f"merging {', '.join(str(s['path']) for s in sources)} into {run.path}")
    results = spec.runner(ctx)
    results["merged_from"] = [{"run": str(s["path"]), "seeds": s["config"]["seeds"],
                               "total_s": s["results"].get("timing", {}).get("total_s"),
                               "environment": s["results"].get("environment")} for s in sources]
    results["environment"] = sources[0]["results"].get("environment")
    timing = results.setdefault("timing", {})
    timing["total_s"] = round(sum(s["results"].get("timing", {}).get("total_s") or 0.0 for s in sources), 1)
    run_ = _finish(spec, ctx, results, report)
    if echo:
        print(f"merged {len(sources)} runs (seeds {seeds}): {run_.path}")
    return run_


def _merge_source(path: Path) -> dict:
    from drosophila.io import read_json

    if not (path / "config.json").is_file():
        raise ConfigError(f"{path} is not a run directory (no config.json)")
    if not (path / "results.json").is_file():
        raise ConfigError(f"{path} has not finished (no results.json)")
    info = read_json(path / "config.json")
    return {"path": path, "experiment": info["experiment"], "config": info["config"],
            "results": read_json(path / "results.json")}


def _without_seeds(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in ("seeds", "merged_from")}


def _copy_run_parts(src: Path, run) -> None:
    """A merged run's copy of one source's kept seeds, samples and stage log."""
    import shutil

    from drosophila.io import atomic_write_json, read_json

    for part in ("seeds", "samples"):
        for f in sorted((src / part).glob("*")) if (src / part).is_dir() else []:
            dest = run.path / part / f.name
            if dest.exists():
                raise ConfigError(f"{src / part / f.name} would overwrite the same file of another run")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
    if (src / "stages.json").is_file():
        have = read_json(run.path / "stages.json") if (run.path / "stages.json").is_file() else []
        atomic_write_json(run.path / "stages.json",
                          have + [{**r, "merged_from": str(src)} for r in read_json(src / "stages.json")])


def model_config(model: str, judge: str) -> dict:
    """What config.json and results.json record of a real model and its judge."""
    return {"model": {"model": model, "path": str(resolve_model(model))}, "judge": judge or "exact"}


def run_scan(name: str, runs: list, *, out: str | Path = "runs", echo: bool = True):
    """Combine finished runs of ``name`` at several scales with the experiment's ``scan``;
    returns the scan's :class:`~drosophila.runs.RunDir`, or None if the experiment has none."""
    from drosophila.report import render_report
    from drosophila.runs import new_run

    spec = get_experiment(name)
    if spec.scan is None or len(runs) < 2:
        return None
    results = [{**rd.read_results(), "run_dir": str(rd.path)} for rd in runs]
    combined = spec.scan(results)
    config = {"experiment": f"{name}-scan", "runs": [str(rd.path) for rd in runs]}
    run = new_run(f"{name}-scan", config, root=Path(out), resume=False)
    combined.update({"experiment": f"{name}-scan", "code": spec.code, "anchor_paper": spec.anchor,
                     "scale": ",".join(r["scale"] for r in results)})
    run.write_results(combined)
    render_report(run.path)
    if echo:
        print(f"scan over scales: {run.path}")
    return run
