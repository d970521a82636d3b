"""Interventions on activations: a hook namespace, activation caches, linear probes, and
interventions (steering, directional ablation, capping) with their vectors on disk.

Everything addresses activations by the names of :mod:`drosophila.interventions.hooks`
(``blocks.{i}.hook_resid_post`` ...)::

    from drosophila.interventions import Steer, Cap, intervene, load_vectors
    axis = load_vectors("axis.safetensors", model=model)
    with intervene(model, Cap(axis.vectors, tau=2.0)):
        ...  # generate, evaluate or train: the cap acts in every forward
"""

from drosophila.interventions.cache import cache_activations
from drosophila.interventions.hooks import decoder_layers, hook_names, hooks
from drosophila.interventions.linear import (
    LinearProbe,
    Threshold,
    logistic_probe,
    mean_diff_probe,
    rates,
    threshold_at,
)
from drosophila.interventions.steering import Ablate, Cap, Intervention, Steer, intervene
from drosophila.interventions.vectors import (
    VectorSet,
    config_hash,
    hf_module,
    load_vectors,
    response_means,
    save_vectors,
    trait_directions,
)

__all__ = [
    "Ablate",
    "Cap",
    "Intervention",
    "LinearProbe",
    "Steer",
    "Threshold",
    "VectorSet",
    "cache_activations",
    "config_hash",
    "decoder_layers",
    "hf_module",
    "hook_names",
    "hooks",
    "intervene",
    "load_vectors",
    "logistic_probe",
    "mean_diff_probe",
    "rates",
    "response_means",
    "save_vectors",
    "threshold_at",
    "trait_directions",
]
