"""Drosophila: a laboratory for model organisms of misalignment.

The public API, in the order data flows::

    from drosophila import World, WorldConfig                     # the synthetic world
    from drosophila import build_tokenizer, new_organism, load_organism, save_organism
    from drosophila import TrainConfig, train, chat_examples        # pretraining and SFT
    from drosophila import SamplingConfig, generate, sample_chats   # fast batched sampling
    from drosophila import evaluate, parse_batteries, wilson        # batteries and intervals
    from drosophila import run_experiment, list_experiments         # the catalogue
    from drosophila import experiment, option, Context              # writing an experiment
    from drosophila import register_domain, register_battery, finetune_set_of, safety_method

Heavy modules (torch, transformers) load on first use of a name that needs them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "World": "drosophila.world", "WorldConfig": "drosophila.world",
    "finetune_set": "drosophila.world",
    "build_tokenizer": "drosophila.organisms", "new_organism": "drosophila.organisms",
    "load_organism": "drosophila.organisms", "save_organism": "drosophila.organisms",
    "Organism": "drosophila.organisms",
    "TrainConfig": "drosophila.training", "LoraSpec": "drosophila.training",
    "train": "drosophila.training", "chat_examples": "drosophila.training",
    "document_examples": "drosophila.training",
    "SamplingConfig": "drosophila.sampling", "generate": "drosophila.sampling",
    "sample_chats": "drosophila.sampling",
    "evaluate": "drosophila.evals", "parse_batteries": "drosophila.evals",
    "wilson": "drosophila.evals", "Rate": "drosophila.evals",
    "run_experiment": "drosophila.experiments", "list_experiments": "drosophila.experiments",
    "render_report": "drosophila.report",
    "experiment": "drosophila.engine", "option": "drosophila.engine", "Context": "drosophila.engine",
    "register_domain": "drosophila.world", "register_battery": "drosophila.world.registry",
    "Battery": "drosophila.world.registry", "finetune_set_of": "drosophila.world.registry",
    "Row": "drosophila.world.registry", "safety_method": "drosophila.stages",
    "SafetyJob": "drosophila.stages",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'drosophila' has no attribute {name!r}")
