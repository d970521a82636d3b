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
