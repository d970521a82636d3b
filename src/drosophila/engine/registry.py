"""The experiment registry: ``@experiment`` makes a runner available to the CLI and the API.

The built-in catalogue (``drosophila.experiments``) and other packages' experiments (entry-point
group ``drosophila.experiments``) register here when :mod:`drosophila.plugins` loads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from drosophila.engine.options import NoOptions
from drosophila.plugins import load_plugins, lookup


@dataclass
class ExperimentSpec:
    name: str
    code: str          # catalogue id, e.g. "E3"
    title: str
    anchor: str        # the paper it rebuilds
    summary: str
    runner: Callable   # runner(ctx) -> results dict
    options: type = NoOptions  # a dataclass of typed options (drosophila.engine.options)
    scan: Callable[[list[dict]], dict] | None = None  # combines one results.json per scale
    recipe: Callable | None = None  # recipe(recipe, options) -> the recipe the run uses
    real_model: Callable | None = None  # options -> options of a run on a real model (--model)
    mergeable: bool = False  # per-seed work goes through ctx.map_seeds alone: runs can merge

    def recipe_for_run(self, recipe, options):
        """The recipe this experiment runs with (recorded in config.json); never mutated."""
        return self.recipe(recipe, options) if self.recipe else recipe


EXPERIMENTS: dict[str, ExperimentSpec] = {}


def experiment(name: str, *, code: str, title: str, anchor: str, summary: str,
               options: type = NoOptions, scan: Callable[[list[dict]], dict] | None = None,
               recipe: Callable | None = None, real_model: Callable | None = None,
               mergeable: bool = False):
    """Decorator registering ``runner(ctx) -> results`` under ``name``.

    Args:
        options: a dataclass of typed options (see :func:`drosophila.engine.options.option`);
            ``ctx.options`` is an instance of it.
        scan: turns the results of one run per scale into one results dict (e.g. a plot
            against scale); the CLI calls it when ``--scale`` names several scales.
        recipe: ``recipe(recipe, options) -> recipe`` when the experiment needs other settings
            than the scale's (e.g. longer answers); applied before the run starts, so
            config.json records the recipe actually used.
        real_model: the experiment also runs on a Hugging Face model (``--model``):
            ``real_model(options) -> options`` adjusts its options for one (e.g. leaves out
            what needs a bred organism); ``lambda o: o`` when nothing changes.
        mergeable: the runner does all per-seed work through ``ctx.map_seeds`` and builds
            nothing else, so finished runs over disjoint seeds combine into one
            (:func:`drosophila.engine.runner.merge_runs`).
    """

    def wrap(fn: Callable) -> Callable:
        EXPERIMENTS[name] = ExperimentSpec(name, code, title, anchor, summary, fn, options, scan, recipe,
                                           real_model, mergeable)
        return fn

    return wrap


def real_model_experiments() -> list[str]:
    """The experiments that run on a Hugging Face model (``--model``)."""
    return [e.name for e in list_experiments() if e.real_model is not None]


def get_experiment(name: str) -> ExperimentSpec:
    return lookup(EXPERIMENTS, name, kind="experiment", groups=("drosophila.experiments",))


def list_experiments() -> list[ExperimentSpec]:
    load_plugins("drosophila.experiments")
    return sorted(EXPERIMENTS.values(), key=_order)


def _order(e: ExperimentSpec) -> tuple:
    digits = e.code[1:]
    return (0, int(digits), e.name) if e.code[:1] == "E" and digits.isdigit() else (1, 0, e.name)
