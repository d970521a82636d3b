"""The GRPO config. Every field carries ``help`` metadata: the CLI is generated from it.

Defaults run a few seconds on the ``tiny`` organism on a 2-core CPU; bad values raise
:class:`~drosophila.errors.ConfigError` at construction, naming the field and the allowed range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drosophila.training.config import LoraSpec, _check, _is_int, _is_real


@dataclass
class GRPOConfig:
    """On-policy RL with group-relative advantages, PPO-style clipping and a KL penalty."""

    steps: int = field(default=20, metadata={"help": "RL steps: one rollout batch each (>= 1)"})
    prompts_per_step: int = field(default=4, metadata={"help": "prompts drawn per step (>= 1)"})
    group_size: int = field(
        default=4, metadata={"help": "completions sampled per prompt; advantages compare within a group (>= 2)"}
    )
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate, constant (> 0)"})
    kl_coef: float = field(
        default=0.05,
        metadata={"help": "weight of the per-token KL penalty to the frozen reference; 0 builds no reference (>= 0)"},
    )
    clip_eps: float = field(
        default=0.2, metadata={"help": "PPO ratio clipping: ratios leave [1 - eps, 1 + eps] without gradient (> 0)"}
    )
    epochs: int = field(
        default=1, metadata={"help": "optimiser steps on each rollout batch; > 1 makes clipping matter (>= 1)"}
    )
    max_new_tokens: int = field(default=16, metadata={"help": "longest completion, end token included (>= 1)"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature of the rollouts (> 0)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass of the rollouts, in (0, 1]"})
    lora: LoraSpec | None = field(default=None, metadata={"help": "train LoRA adapters instead of all weights"})
    grad_clip: float = field(default=1.0, metadata={"help": "max global gradient norm; 0 turns clipping off (>= 0)"})
    seed: int = field(default=0, metadata={"help": "seeds prompt order, rollouts, LoRA init and dropout (>= 0)"})
    log_every: int = field(
        default=1, metadata={"help": "steps between history entries; each averages its window (>= 1)"}
    )
    progress: bool = field(default=True, metadata={"help": "show a rich progress bar"})
    description: str = field(default="grpo", metadata={"help": "label shown on the progress bar"})
    device: str | None = field(default=None, metadata={"help": "torch device; default: cuda when available"})

    def __post_init__(self) -> None:
        for name, low in (("steps", 1), ("prompts_per_step", 1), ("group_size", 2), ("epochs", 1),
                          ("max_new_tokens", 1), ("log_every", 1), ("seed", 0)):
            value = getattr(self, name)
            _check(_is_int(value) and value >= low, name, value, f"an integer >= {low}")
        _check(_is_real(self.lr) and self.lr > 0, "lr", self.lr, "a finite number > 0")
        _check(_is_real(self.kl_coef) and self.kl_coef >= 0, "kl_coef", self.kl_coef, "a finite number >= 0")
        _check(_is_real(self.clip_eps) and self.clip_eps > 0, "clip_eps", self.clip_eps, "a finite number > 0")
        _check(_is_real(self.temperature) and self.temperature > 0, "temperature", self.temperature, "> 0")
        _check(_is_real(self.top_p) and 0 < self.top_p <= 1, "top_p", self.top_p, "(0, 1]")
        _check(_is_real(self.grad_clip) and self.grad_clip >= 0, "grad_clip", self.grad_clip, ">= 0 (0 = off)")
        _check(isinstance(self.progress, bool), "progress", self.progress, "true or false")
        _check(self.device is None or isinstance(self.device, str), "device", self.device, "null or a device name")
        if isinstance(self.lora, dict):  # configs read back from JSON
            self.lora = LoraSpec(**self.lora)
        _check(self.lora is None or isinstance(self.lora, LoraSpec), "lora", self.lora, "null or a LoraSpec")
