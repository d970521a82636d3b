"""Interventions on activations: a hook namespace, activation caches (probes and steering
build on them)."""

from drosophila.interventions.cache import cache_activations
from drosophila.interventions.hooks import decoder_layers, hook_names, hooks

__all__ = ["cache_activations", "decoder_layers", "hook_names", "hooks"]
