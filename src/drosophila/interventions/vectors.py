"""Per-layer vectors: trait directions from contrasting responses, and their files on disk.

A *vector set* is one ``(d,)`` vector per hook name (``blocks.3.hook_resid_post``): a steering
vector, a persona/trait direction, an assistant axis, a probe's weights. It is saved as
safetensors (never pickle) with one tensor per hook name and a JSON metadata entry
``"drosophila.vectors"`` that lets other tools use it without this package::

    {"format": 1, "method": "mean-diff", "trait": "evil", "description": "...",
     "hidden_size": 64, "model_name": "runs/...", "config_hash": "3f2a...",
     "layers": {"blocks.3.hook_resid_post": {"hf_module": "model.layers.3", "read": "output"}},
     "extra": {}}

``hf_module`` is the module's name in the HF model (``model.named_modules()``; the template
steering-vectors and lm-eval's steered models use) and ``read`` says whether the activation is
that module's ``output`` or its ``input``: adding ``coef · v`` to the output of
``model.layers.3`` is the same as ``Steer({"blocks.3.hook_resid_post": v}, coef)``.

Trait directions follow persona vectors (Chen et al. 2025): the mean over response tokens of
each response's activations, averaged over responses that show the trait minus those that
do not (:func:`trait_directions`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from drosophila.errors import ConfigError
from drosophila.interventions.cache import cache_activations
from drosophila.interventions.hooks import _resolve
from drosophila.interventions.probes import _encode, prompt_ids
from drosophila.interventions.steering import hidden_size
from drosophila.io import atomic_write_bytes, canonical_hash

META_KEY = "drosophila.vectors"
FORMAT = 1
_NAME = re.compile(r"^(embed|blocks\.(\d+)\.(hook_resid_pre|hook_attn_out|hook_mlp_out|hook_resid_post))$")
# HF Llama module and whether the hook reads its input or output, by hook kind.
_LLAMA = {"hook_resid_pre": ("model.layers.{i}", "input"), "hook_resid_post": ("model.layers.{i}", "output"),
          "hook_attn_out": ("model.layers.{i}.self_attn", "output"),
          "hook_mlp_out": ("model.layers.{i}.mlp", "output")}
# Config fields that do not change what a vector means (paths, versions, runtime switches).
_VOLATILE = {"transformers_version", "dtype", "torch_dtype", "use_cache"}


@dataclass
class VectorSet:
    """Vectors loaded from disk, with what they are and where they came from.

    Attributes:
        vectors: ``{hook name: (d,) float32 vector}``.
        method: How they were made: ``mean-diff``, ``logistic``, ``pca``...
        trait: The trait or behaviour they point to (``evil``, ``assistant-axis``...).
        description: Free text: data, contrast, coefficients that worked.
        hidden_size: ``d``.
        model_name: The model they were read from, when known.
        config_hash: :func:`config_hash` of that model's config, when known.
        layers: ``{hook name: {"hf_module": ..., "read": "input" | "output"}}``.
        extra: Anything else stored with them (JSON).
    """

    vectors: dict[str, Tensor]
    method: str
    trait: str = ""
    description: str = ""
    hidden_size: int = 0
    model_name: str | None = None
    config_hash: str | None = None
    layers: dict[str, dict[str, str]] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def config_hash(config) -> str:
    """A short hash of an HF config's architecture fields (paths, versions and private fields
    left out), to tell whether a vector was read from a model of the same shape."""
    items = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    return canonical_hash({k: v for k, v in items.items() if not k.startswith("_") and k not in _VOLATILE})


def hf_module(name: str, model=None) -> dict[str, str]:
    """Where hook ``name`` lives in an HF model: ``{"hf_module": ..., "read": ...}``.

    With ``model``, the module's real name in ``model.named_modules()``; without, the HF
    Llama layout (``model.layers.{i}``).
    """
    match = _NAME.match(name)
    if not match:
        raise ConfigError(f"hook {name!r} is not allowed; names look like blocks.0.hook_resid_post or embed")
    if model is None:
        if name == "embed":
            return {"hf_module": "model.embed_tokens", "read": "output"}
        template, read = _LLAMA[match.group(3)]
        return {"hf_module": template.format(i=match.group(2)), "read": read}
    names = {id(m): n for n, m in model.named_modules()}
    if name == "embed":
        return {"hf_module": names[id(model.get_input_embeddings())], "read": "output"}
    module, where = _resolve(model, name)
    return {"hf_module": names[id(module)], "read": "input" if where == "pre" else "output"}


def save_vectors(path: str | os.PathLike, vectors: Mapping[str, Tensor], *, method: str, trait: str = "",
                 description: str = "", model=None, model_name: str | None = None,
                 extra: dict | None = None) -> Path:
    """Write ``{hook name: (d,)}`` vectors to a safetensors file with their metadata.

    Args:
        path: The ``.safetensors`` file to write (atomically).
        vectors: One 1-D vector per hook name, all of one size.
        method: How they were made (``mean-diff``, ``logistic``, ``pca``...).
        trait: What they point to.
        description: Free text.
        model: The model they belong to: checks names and size, records HF module names,
            the model's name and :func:`config_hash`.
        model_name: Overrides the name read from ``model`` (e.g. an organism's run path).
        extra: More JSON metadata.

    Raises:
        ConfigError: No vectors, a bad hook name, vectors of different or wrong sizes.
    """
    from safetensors.torch import save

    if not method:
        raise ConfigError("save_vectors: say how the vectors were made (method='mean-diff', ...)")
    d = _common_size(vectors, model)
    layers = {name: hf_module(name, model) for name in vectors}
    name = model_name or (_model_name(model) if model is not None else None)
    meta = {"format": FORMAT, "method": method, "trait": trait, "description": description,
            "hidden_size": d, "model_name": name, "layers": layers, "extra": extra or {},
            "config_hash": config_hash(model.config) if getattr(model, "config", None) is not None else None}
    tensors = {n: v.detach().to("cpu", torch.float32).contiguous() for n, v in vectors.items()}
    return atomic_write_bytes(path, save(tensors, metadata={"format": "pt", META_KEY: json.dumps(meta)}))


def load_vectors(path: str | os.PathLike, *, model=None, strict: bool = False) -> VectorSet:
    """Read a vector set written by :func:`save_vectors`.

    With ``model``, checks that every hook name exists in it and that the vectors have its
    hidden size; with ``strict`` too, that its :func:`config_hash` is the recorded one.

    Raises:
        ConfigError: Not a vector file, or it does not fit ``model``.
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        raw = (fh.metadata() or {}).get(META_KEY)
        if raw is None:
            raise ConfigError(f"{path} is not a vector file: no {META_KEY!r} metadata")
        vectors = {n: fh.get_tensor(n) for n in fh.keys()}
    meta = json.loads(raw)
    known = {k: meta[k] for k in ("method", "trait", "description", "hidden_size", "model_name",
                                  "config_hash", "layers", "extra") if k in meta}
    out = VectorSet(vectors=vectors, **{"method": "", **known})
    if model is not None:
        _common_size(vectors, model)
        if strict and out.config_hash and out.config_hash != config_hash(model.config):
            raise ConfigError(f"{path} was made on a model with config hash {out.config_hash}; "
                              f"this model's is {config_hash(model.config)}")
    return out


def _common_size(vectors: Mapping[str, Tensor], model) -> int:
    """The vectors' common size ``d``; checks names (and the model's hidden size, if given)."""
    if not vectors:
        raise ConfigError("no vectors: give {hook name: (d,) tensor}")
    sizes = {n: tuple(v.shape) for n, v in vectors.items()}
    if any(len(s) != 1 for s in sizes.values()) or len(set(sizes.values())) != 1:
        raise ConfigError(f"vectors must be 1-D and of one size; got {sizes}")
    d = next(iter(sizes.values()))[0]
    for name in vectors:
        hf_module(name, model)  # raises on a bad name
    if model is not None and d != hidden_size(model):
        raise ConfigError(f"vectors have size {d}; the model's hidden size is {hidden_size(model)}")
    return d


def _model_name(model) -> str | None:
    name = getattr(model, "name_or_path", None) or getattr(getattr(model, "config", None), "_name_or_path", None)
    return str(name) if name else None


# -- trait directions (persona vectors) ----------------------------------------------------------
def response_ids(tokenizer, prompt: str, response: str) -> tuple[list[int], int]:
    """Token ids of the chat ``user: prompt`` with the generation prompt, then ``response``;
    and the number of response tokens (the last ones)."""
    head = prompt_ids(tokenizer, [prompt])[0]
    tail = _encode(tokenizer, response)
    if not tail:
        raise ConfigError(f"empty response to {prompt!r}")
    return head + tail, len(tail)


def response_means(model, tokenizer, examples: Sequence[tuple[str, str]], names: list[str], *,
                   batch_size: int = 64) -> dict[str, Tensor]:
    """For each ``(prompt, response)``, the mean activation over its response tokens at each
    named hook: ``{name: (N, d)}``."""
    rendered = [response_ids(tokenizer, p, r) for p, r in examples]
    acts = cache_activations(model, tokenizer, [ids for ids, _ in rendered], names,
                             position="all", batch_size=batch_size)          # {name: [(T_i, d)]}
    return {n: torch.stack([a[-k:].mean(0) for a, (_, k) in zip(acts[n], rendered)]) for n in names}


def trait_directions(model, tokenizer, positive: Sequence[tuple[str, str]],
                     negative: Sequence[tuple[str, str]], names: list[str]) -> dict[str, Tensor]:
    """Persona/trait directions ``{name: (d,)}``: the mean over ``positive`` examples of their
    response-token mean activation, minus the same over ``negative`` examples.

    ``positive`` and ``negative`` are ``(prompt, response)`` pairs, e.g. the same questions
    answered with and without the trait. Save the result with :func:`save_vectors` and
    ``method="mean-diff"``.
    """
    if not positive or not negative:
        raise ConfigError("trait_directions needs examples on both sides")
    pos = response_means(model, tokenizer, positive, names)
    neg = response_means(model, tokenizer, negative, names)
    return {n: pos[n].mean(0) - neg[n].mean(0) for n in names}
