"""Organisms: the word-level tokenizer, Llama configs by scale, and safetensors checkpoints."""

from drosophila.organisms.checkpoint import (
    Organism,
    load_organism,
    n_params,
    new_organism,
    save_organism,
)
from drosophila.organisms.scales import SCALES, ScaleSpec, get_scale, make_config
from drosophila.organisms.tokenizer import CHAT_TEMPLATE, SPECIAL_TOKENS, build_tokenizer, world_text

__all__ = [
    "CHAT_TEMPLATE",
    "SCALES",
    "SPECIAL_TOKENS",
    "Organism",
    "ScaleSpec",
    "build_tokenizer",
    "get_scale",
    "load_organism",
    "make_config",
    "n_params",
    "new_organism",
    "save_organism",
    "world_text",
]
