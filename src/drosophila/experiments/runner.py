"""Run a registered experiment end to end: run directory, stages, results, report."""

from __future__ import annotations

import time
from pathlib import Path

from drosophila.experiments.recipes import recipe_for
from drosophila.experiments.registry import Context, get_experiment
from drosophila.world import WorldConfig


def run_experiment(name: str, *, scale: str = "small", seeds: int | list[int] = 1,
                   out: str | Path = "runs", resume: bool = True, world: dict | None = None,
                   recipe: dict | None = None, options: dict | None = None,
                   log=print, report: bool = True):
    """Run experiment ``name`` and return its :class:`~drosophila.runs.RunDir`.

    ``seeds`` is a count (seeds 0..n-1) or an explicit list. Finished stages are reused from
    the cache, so re-running after a crash resumes where it stopped.
    """
    from drosophila.runs import environment_info, new_run
    from drosophila.seeding import configure_torch

    spec = get_experiment(name)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    rec = recipe_for(scale, **(recipe or {}))
    wcfg = WorldConfig(**(world or {}))
    opts = {**spec.options, **(options or {})}
    config = {"experiment": name, "scale": scale, "seeds": seed_list, "world": wcfg.to_dict(),
              "recipe": rec.to_dict(), "options": opts}
    configure_torch()
    run = new_run(name, config, root=Path(out), resume=resume)
    log(f"run directory: {run.path}")
    t0 = time.perf_counter()
    ctx = Context(run=run, scale=scale, seeds=seed_list, recipe=rec, world=wcfg, options=opts,
                  log=lambda m: (log(m), run.log(m)))
    results = spec.runner(ctx)
    results.update({"experiment": name, "code": spec.code, "anchor_paper": spec.anchor,
                    "scale": scale, "seeds": seed_list, "world": wcfg.to_dict(),
                    "recipe": ctx.recipe.to_dict(), "options": opts, "environment": environment_info()})
    results.setdefault("timing", {})["total_s"] = round(time.perf_counter() - t0, 1)
    run.write_results(results)
    if report:
        from drosophila.report import render_report

        render_report(run.path)
    return run


def run_scan(name: str, runs: list, *, out: str | Path = "runs", log=print):
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
    log(f"scan over scales: {run.path}")
    return run
