"""Run a registered experiment end to end: checked options, run directory, stages, results,
report."""

from __future__ import annotations

import time
from pathlib import Path

from drosophila.engine.context import Context
from drosophila.engine.executor import default_jobs
from drosophila.engine.options import options_dict, parse_options
from drosophila.engine.recipes import recipe_for
from drosophila.engine.registry import get_experiment


def prepare(name: str, *, scale: str = "small", world: dict | None = None,
            recipe: dict | None = None, options=None):
    """Check everything a run needs before anything is written: ``(spec, world, recipe,
    options)`` with the recipe the experiment will actually use.

    Raises:
        ConfigError: an unknown experiment, scale, world or recipe field, or option.
    """
    from drosophila.world import WorldConfig

    spec = get_experiment(name)
    opts = parse_options(spec.options, options, experiment=name)
    rec = spec.recipe_for_run(recipe_for(scale, **(recipe or {})), opts)
    return spec, WorldConfig(**(world or {})), rec, opts


def run_experiment(name: str, *, scale: str = "small", seeds: int | list[int] = 1,
                   out: str | Path = "runs", resume: bool = True, world: dict | None = None,
                   recipe: dict | None = None, options=None, jobs: int | None = None,
                   ray_address: str | None = None, echo: bool = True, report: bool = True):
    """Run experiment ``name`` and return its :class:`~drosophila.runs.RunDir`.

    Args:
        seeds: a count (seeds 0..n-1) or an explicit list.
        options: ``{name: value}`` (strings are parsed) or an instance of the experiment's
            options dataclass.
        jobs: stages run at the same time (default ``DROSOPHILA_JOBS`` or the core count);
            the numbers do not depend on it.
        ray_address: run independent stages on this Ray cluster.

    Finished stages are reused from the cache, so re-running after a crash resumes where it
    stopped.
    """
    from drosophila.runs import environment_info, new_run
    from drosophila.seeding import configure_torch

    spec, wcfg, rec, opts = prepare(name, scale=scale, world=world, recipe=recipe, options=options)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    config = {"experiment": name, "scale": scale, "seeds": seed_list, "world": wcfg.to_dict(),
              "recipe": rec.to_dict(), "options": options_dict(opts)}
    configure_torch(rec.threads)
    run = new_run(name, config, root=Path(out), resume=resume)
    ctx = Context(run=run, scale=scale, seeds=seed_list, recipe=rec, world=wcfg, options=opts,
                  jobs=jobs or max(1, default_jobs() // rec.threads), ray_address=ray_address,
                  echo=echo)
    ctx.log(f"run directory: {run.path}")
    t0 = time.perf_counter()
    results = spec.runner(ctx)
    results.update({"experiment": name, "code": spec.code, "anchor_paper": spec.anchor,
                    "scale": scale, "seeds": seed_list, "world": wcfg.to_dict(),
                    "recipe": rec.to_dict(), "options": options_dict(opts),
                    "environment": {**environment_info(), "jobs": ctx.jobs,
                                    "ray_address": ray_address}})
    results.setdefault("timing", {})["total_s"] = round(time.perf_counter() - t0, 1)
    run.write_results(results)
    if report:
        from drosophila.report import render_report

        render_report(run.path)
    return run


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
