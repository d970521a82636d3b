"""One flat, greppable namespace for activations over any HF decoder (TransformerLens-style).

Names:

- ``embed``: the token embeddings (input of block 0), shape ``(B, T, d)``
- ``blocks.{i}.hook_resid_pre``: the residual stream entering block ``i``
- ``blocks.{i}.hook_attn_out``: the attention sub-layer's output of block ``i``
- ``blocks.{i}.hook_mlp_out``: the MLP sub-layer's output of block ``i``
- ``blocks.{i}.hook_resid_post``: the residual stream leaving block ``i`` (= the layer's output)

Caching, probing and steering all address activations by these names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from drosophila.errors import ConfigError

HookFn = Callable[[torch.Tensor], torch.Tensor | None]


def decoder_layers(model) -> torch.nn.ModuleList:
    """The list of decoder blocks of an HF causal LM (Llama, Mistral, Qwen, GPT-2, GPT-NeoX...)."""
    for path in ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        if isinstance(obj, torch.nn.ModuleList):
            return obj
    raise ConfigError(f"cannot find the decoder layers of {type(model).__name__}")


def _sublayer(block, kind: str):
    names = {"attn": ("self_attn", "attn", "attention"), "mlp": ("mlp", "feed_forward")}[kind]
    for n in names:
        if hasattr(block, n):
            return getattr(block, n)
    raise ConfigError(f"block {type(block).__name__} has no {kind} sub-layer")


def hook_names(model) -> list[str]:
    n = len(decoder_layers(model))
    per_block = ("hook_resid_pre", "hook_attn_out", "hook_mlp_out", "hook_resid_post")
    return ["embed"] + [f"blocks.{i}.{h}" for i in range(n) for h in per_block]


def _resolve(model, name: str) -> tuple[torch.nn.Module, str]:
    """The module to hook for ``name`` and whether to read its input ('pre') or output ('post')."""
    layers = decoder_layers(model)
    if name == "embed":
        return layers[0], "pre"
    parts = name.split(".")
    if len(parts) != 3 or parts[0] != "blocks" or not parts[1].isdigit() or int(parts[1]) >= len(layers):
        raise ConfigError(f"hook {name!r} is not allowed; names look like blocks.0.hook_resid_post "
                          f"(blocks 0..{len(layers) - 1}) or embed")
    block = layers[int(parts[1])]
    table = {"hook_resid_pre": (block, "pre"), "hook_resid_post": (block, "post"),
             "hook_attn_out": (_sublayer(block, "attn"), "post"),
             "hook_mlp_out": (_sublayer(block, "mlp"), "post")}
    if parts[2] not in table:
        raise ConfigError(f"hook {name!r} is not allowed; choose from: {', '.join(table)}")
    return table[parts[2]]


@contextlib.contextmanager
def hooks(model, fns: dict[str, HookFn]) -> Iterator[None]:
    """Attach ``fn(activation) -> replacement or None`` to named activations for the block.

    A function that returns a tensor replaces the activation (steering, ablation, capping);
    one that returns ``None`` only reads it (caching, probing).
    """
    handles = []
    try:
        for name, fn in fns.items():
            module, where = _resolve(model, name)
            handles.append(_register(module, where, fn))
        yield
    finally:
        for h in handles:
            h.remove()


def _register(module: torch.nn.Module, where: str, fn: HookFn):
    if where == "pre":
        def pre(_mod, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            new = fn(hidden)
            if new is None:
                return None
            if args:
                return (new, *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": new}

        return module.register_forward_pre_hook(pre, with_kwargs=True)

    def post(_mod, _args, output):
        hidden = output[0] if isinstance(output, tuple) else output
        new = fn(hidden)
        if new is None:
            return None
        return (new, *output[1:]) if isinstance(output, tuple) else new

    return module.register_forward_hook(post)
