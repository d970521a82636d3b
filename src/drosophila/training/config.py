"""Typed training configs. Every field carries ``help`` metadata: the CLI is generated from it.

Bad values raise :class:`~drosophila.errors.ConfigError` at construction, naming the field and
the allowed range, so a misconfigured run fails before it touches a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from drosophila.errors import ConfigError

PRECISIONS = ("fp32", "bf16")
LLAMA_LINEAR_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _check(ok: bool, name: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{name}={value!r} is out of range; allowed: {allowed}")


def _is_int(value: object) -> bool:
    # bool is an int subclass; `steps=True` is a typo, not a step count.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class LoraSpec:
    """Low-rank adapters on the named linear layers (merged back into the weights after training)."""

    r: int = field(default=8, metadata={"help": "adapter rank (>= 1)"})
    alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator; the update is scaled by alpha / r (> 0)"})
    dropout: float = field(default=0.0, metadata={"help": "dropout on the adapter input, in [0, 1)"})
    target_modules: tuple[str, ...] = field(
        default=LLAMA_LINEAR_MODULES,
        metadata={"help": "names of the linear sub-modules that get adapters (Llama names by default)"},
    )
    rslora: bool = field(default=False, metadata={
        "help": "rank-stabilised LoRA: scale the update by alpha / sqrt(r) instead of alpha / r"})

    def __post_init__(self) -> None:
        _check(_is_int(self.r) and self.r >= 1, "lora.r", self.r, "an integer >= 1")
        _check(_is_real(self.alpha) and self.alpha > 0, "lora.alpha", self.alpha, "a number > 0")
        _check(_is_real(self.dropout) and 0.0 <= self.dropout < 1.0, "lora.dropout", self.dropout, "[0, 1)")
        if isinstance(self.target_modules, str):  # a lone name from a CLI flag
            self.target_modules = (self.target_modules,)
        self.target_modules = tuple(self.target_modules)
        ok = len(self.target_modules) > 0 and all(isinstance(m, str) and m for m in self.target_modules)
        _check(ok, "lora.target_modules", self.target_modules, "a non-empty list of module names")
        _check(isinstance(self.rslora, bool), "lora.rslora", self.rslora, "true or false")


@dataclass
class TrainConfig:
    """One optimisation run: AdamW, linear warm-up, cosine decay, gradient clipping."""

    steps: int = field(default=100, metadata={"help": "optimiser steps (>= 1)"})
    batch_size: int = field(default=16, metadata={"help": "rows per step (>= 1)"})
    lr: float = field(default=3e-4, metadata={"help": "peak learning rate (> 0)"})
    warmup_steps: int = field(default=10, metadata={"help": "steps of linear warm-up to the peak lr (>= 0)"})
    min_lr_ratio: float = field(
        default=0.1, metadata={"help": "cosine decay ends at min_lr_ratio * lr on the last step, in [0, 1]"}
    )
    weight_decay: float = field(
        default=0.0, metadata={"help": "AdamW decoupled weight decay on matrices (not norms or biases) (>= 0)"}
    )
    grad_clip: float = field(default=1.0, metadata={"help": "max global gradient norm; 0 turns clipping off (>= 0)"})
    seq_len: int = field(
        default=256, metadata={"help": "tokens the model reads per row; longer examples are truncated (>= 1)"}
    )
    seed: int = field(default=0, metadata={"help": "seeds batch order, LoRA init and dropout (>= 0)"})
    precision: str = field(
        default="fp32",
        metadata={"help": "fp32, or bf16: forward and loss under bfloat16 autocast, float32 weights and optimiser"},
    )
    bf16: bool = field(default=False, metadata={"help": "shorthand for precision=bf16"})
    lora: LoraSpec | None = field(default=None, metadata={"help": "train LoRA adapters instead of all weights"})
    log_every: int = field(default=10, metadata={"help": "steps between history entries (>= 1)"})
    progress: bool = field(default=True, metadata={"help": "show a rich progress bar"})
    description: str = field(default="train", metadata={"help": "label shown on the progress bar"})

    def __post_init__(self) -> None:
        for name, low in (("steps", 1), ("batch_size", 1), ("warmup_steps", 0), ("seq_len", 1)):
            value = getattr(self, name)
            _check(_is_int(value) and value >= low, name, value, f"an integer >= {low}")
        _check(_is_int(self.seed) and self.seed >= 0, "seed", self.seed, "an integer >= 0")
        _check(_is_int(self.log_every) and self.log_every >= 1, "log_every", self.log_every, "an integer >= 1")
        _check(_is_real(self.lr) and self.lr > 0, "lr", self.lr, "a finite number > 0")
        _check(_is_real(self.min_lr_ratio) and 0 <= self.min_lr_ratio <= 1, "min_lr_ratio", self.min_lr_ratio, "[0, 1]")
        _check(_is_real(self.weight_decay) and self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        _check(_is_real(self.grad_clip) and self.grad_clip >= 0, "grad_clip", self.grad_clip, ">= 0 (0 = off)")
        _check(isinstance(self.bf16, bool), "bf16", self.bf16, "true or false")
        _check(self.precision in PRECISIONS, "precision", self.precision, " or ".join(PRECISIONS))
        if self.bf16:
            self.precision = "bf16"
        self.bf16 = self.precision == "bf16"  # the two fields always agree
        _check(isinstance(self.progress, bool), "progress", self.progress, "true or false")
        if isinstance(self.lora, dict):  # configs read back from JSON
            self.lora = LoraSpec(**self.lora)
        _check(self.lora is None or isinstance(self.lora, LoraSpec), "lora", self.lora, "null or a LoraSpec")
