"""The experiment engine: typed options, the registry, run contexts, parallel stages, the
results builder and the runner. Below the catalogue (``drosophila.experiments``) and the stage
library (``drosophila.stages``); it imports neither."""

from drosophila.engine.context import Context
from drosophila.engine.options import NoOptions, describe_options, option, parse_options
from drosophila.engine.recipes import RECIPES, Recipe, recipe_for
from drosophila.engine.registry import (
    EXPERIMENTS, ExperimentSpec, experiment, get_experiment, list_experiments,
)
from drosophila.engine.runner import merge_runs, prepare, run_experiment, run_scan

__all__ = ["EXPERIMENTS", "RECIPES", "Context", "ExperimentSpec", "NoOptions", "Recipe",
           "describe_options", "experiment", "get_experiment", "list_experiments", "merge_runs", "option",
           "parse_options", "prepare", "recipe_for", "run_experiment", "run_scan"]
