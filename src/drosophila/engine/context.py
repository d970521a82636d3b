"""What an experiment runner gets: where to write, what to run, and how to record stages."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from drosophila.engine.executor import in_worker, parallel_map


@dataclass
class Context:
    """One run of one experiment. Picklable: workers receive it with their task.

    Attributes:
        run: the run directory (``drosophila.runs.RunDir``).
        scale, seeds, recipe, world: what to breed and how (the recipe is the one the run
            uses, recorded in config.json; experiments never change it).
        options: the experiment's typed options (an instance of its options dataclass).
        jobs: how many stages may run at the same time.
        ray_address: run parallel stages on this Ray cluster instead of local processes.
        echo: print log lines (they always go to the run's ``log.txt``).
        model: a Hugging Face model (directory or cached ID) the run starts from instead of a
            bred organism (``--model``); None for organisms.
        judge: the judge of answers without an exact classifier (``--judge``: ``exact``,
            ``hf:<dir>``, ``openai:<base_url>#<model>``).
    """

    run: Any
    scale: str
    seeds: list[int]
    recipe: Any
    world: Any
    options: Any = None
    jobs: int = 1
    ray_address: str | None = None
    echo: bool = True
    tag: str = field(default="", repr=False)  # prefix of this worker's log lines
    model: str | None = None
    judge: str = "exact"
    kept_seeds_only: bool = False  # a merge: every seed's result must already be in the run

    def log(self, message: str) -> None:
        line = f"{self.tag}{message}"
        if self.echo:
            print(line, flush=True)
        self.run.log(line)

    def record(self, result, link: str | None = None):
        """Note a finished stage in the run (``stages.json``: key, path, cached, seconds) and,
        with ``link``, point ``organisms/<link>`` at its organism. Returns ``result``."""
        self.run.record_stage(result)
        if link:
            self.run.link(link, result.path / "organism")
        return result

    def samples(self, name: str, rows: list[dict]) -> None:
        """Keep a copy of an evaluation's samples in the run (``samples/<name>.jsonl``)."""
        self.run.write_samples(name, rows)

    def map(self, fn: Callable, items: Sequence) -> list:
        """``[fn(ctx, item) for item in items]``, independent items run at the same time.

        ``fn`` must be a top-level function (workers import it by name). Each worker logs with
        its item as prefix.
        """
        items = list(items)
        if len(items) > 1 and (self.jobs > 1 or self.ray_address):
            self.log(f"running {len(items)} independent tasks on "
                     f"{'Ray' if self.ray_address else f'{min(self.jobs, len(items))} processes'}")
        return parallel_map(functools.partial(_call, fn, self), items, jobs=self.jobs,
                            ray_address=self.ray_address, threads=getattr(self.recipe, "threads", 1))

    def map_seeds(self, fn: Callable) -> list:
        """``[fn(ctx, seed) for seed in ctx.seeds]``, each seed's result kept in the run
        (``seeds/s<seed>.json``, :mod:`drosophila.engine.seedstore`).

        A seed whose result the run already keeps is read back instead of computed (a resumed
        run, or a merge of runs over other seeds); the others run as :meth:`map` runs them.

        Raises:
            ConfigError: in a merge, a seed whose result no merged run kept.
        """
        from drosophila.engine import seedstore
        from drosophila.errors import ConfigError

        task = seedstore.task_name(fn)
        kept = {s: seedstore.load_seed(self.run.path, s, task) for s in self.seeds}
        todo = [s for s in self.seeds if kept[s] is None]
        if todo and self.kept_seeds_only:
            raise ConfigError(f"no kept result for seed(s) {todo} of {task}: the merged runs must "
                              "each have finished with seeds/s<seed>.json")
        if len(todo) < len(self.seeds):
            self.log(f"seed(s) {[s for s in self.seeds if s not in todo]} read from {self.run.path / 'seeds'}")
        for seed, value in zip(todo, self.map(functools.partial(_keep_seed, fn), todo)):
            kept[seed] = value
        return [kept[s] for s in self.seeds]


def _keep_seed(fn: Callable, ctx: Context, seed: int):
    """``fn(ctx, seed)``, its result written to the run; a result the seed format cannot carry
    is logged and not kept (the run goes on; only a later merge would miss it)."""
    from drosophila.engine import seedstore

    value = fn(ctx, seed)
    try:
        seedstore.save_seed(ctx.run.path, seed, seedstore.task_name(fn), value)
    except TypeError as err:
        ctx.log(f"seed {seed}'s result was not kept ({err})")
    return value


def _call(fn: Callable, ctx: Context, item):
    if in_worker():
        tag = f"[{_label(item)}] "
        os.environ["DROSOPHILA_LOG_PREFIX"] = tag  # training progress lines carry it too
        ctx = Context(**{**ctx.__dict__, "tag": tag, "jobs": 1, "ray_address": None})
    return fn(ctx, item)


def _label(item) -> str:
    """A seed as ``s1``; a task by its ``name``."""
    name = getattr(item, "name", None)
    return f"s{item}" if isinstance(item, int) else str(name or item)
