"""Experiments: the catalogue of DESIGN.md §4, composed from cached stages."""

from drosophila.experiments.recipes import RECIPES, Recipe, recipe_for
from drosophila.experiments.registry import (
    EXPERIMENTS, Context, ExperimentSpec, experiment, get_experiment, list_experiments,
)
from drosophila.experiments.runner import run_experiment

__all__ = ["EXPERIMENTS", "RECIPES", "Context", "ExperimentSpec", "Recipe", "experiment",
           "get_experiment", "list_experiments", "recipe_for", "run_experiment"]
