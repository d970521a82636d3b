"""One trainer for pretraining and finetuning (full or LoRA), nanoGPT-style.

The loop is plain on purpose: a seeded index stream picks rows from one padded table, the
loss is masked cross-entropy computed here from the logits (so the mask is exact whatever the
model's own ``labels`` handling does), AdamW steps under a warm-up + cosine schedule, and the
host only synchronises with the device at logging steps.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from drosophila.errors import ConfigError
from drosophila.seeding import device_default, set_seed
from drosophila.training.config import TrainConfig
from drosophila.training.data import Example, IndexStream, Rows, gather_batch, pack_rows, to_rows, truncate_rows
from drosophila.training.lora import attach_lora, detach_lora
from drosophila.training.progress import StepProgress

IGNORE = -100


@dataclass
class TrainResult:
    """What :func:`train` hands back.

    Attributes:
        model: the trained model, a plain HF model (LoRA adapters merged), in eval mode.
        history: ``{"step", "loss", "lr", "tokens_per_s"}`` every ``log_every`` steps and at the
            last step; ``loss`` is the mean over the steps since the previous entry.
        tokens: tokens the model read (padding excluded).
        seconds: wall time of the optimisation loop.
        first_loss: loss of the first step.
        final_loss: ``loss`` of the last history entry.
    """

    model: object
    history: list[dict] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0
    first_loss: float = float("nan")
    final_loss: float = float("nan")


TRAIN_STATUS = "loss {loss:.4f}  lr {lr:.2e}  {tokens_per_s:,.0f} tok/s"


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate for 0-based ``step``: linear warm-up, then cosine decay to ``min_lr_ratio * lr``.

    Step ``warmup_steps - 1`` reaches the peak; the last step (``steps - 1``) sits at the floor.
    """
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    floor = cfg.lr * cfg.min_lr_ratio
    span = max(1, cfg.steps - 1 - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.lr - floor)


def _rows_for(examples: list[Example], row_len: int, pack: bool) -> list[Example]:
    return pack_rows(examples, row_len) if pack else truncate_rows(examples, row_len)


def _build_rows(examples, mix, mix_rows: int, cfg: TrainConfig, pack: bool, pad_id: int) -> tuple[Rows, int]:
    """One table holding the main rows then the mix rows; returns it and the main-row count."""
    # A row holds seq_len + 1 tokens: the model reads seq_len and predicts seq_len targets.
    main = _rows_for(examples, cfg.seq_len + 1, pack) if mix_rows < cfg.batch_size else []
    extra = _rows_for(mix or [], cfg.seq_len + 1, pack) if mix_rows > 0 else []
    if mix_rows < cfg.batch_size and not main:
        raise ConfigError("examples: no example has a target token within seq_len; pass non-empty examples")
    if mix_rows > 0 and not extra:
        raise ConfigError(f"mix_fraction={mix_rows / cfg.batch_size:g} needs a non-empty mix with target tokens")
    return to_rows(main + extra, cfg.seq_len + 1, pad_id), len(main)


def _mix_rows(mix_fraction: float, batch_size: int) -> int:
    if not (isinstance(mix_fraction, (int, float)) and 0.0 <= mix_fraction <= 1.0):
        raise ConfigError(f"mix_fraction={mix_fraction!r} is out of range; allowed: [0, 1]")
    return round(mix_fraction * batch_size)


def _optimizer(params: list[torch.nn.Parameter], cfg: TrainConfig, device: str) -> torch.optim.AdamW:
    # Decay matrices only (nanoGPT): shrinking norm gains and biases towards zero only hurts.
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    fused = torch.device(device).type in ("cpu", "cuda")
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), eps=1e-8, fused=fused)


def masked_loss(model, ids: torch.Tensor, mask: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """Mean cross-entropy of predicting ``ids[:, 1:]`` where ``mask[:, 1:]`` is set.

    Args:
        model: a causal LM returning ``.logits``.
        ids: ``[B, T]`` token ids (right padding allowed: causal attention never looks right).
        mask: ``[B, T]`` bool, True where the token is a target.
        bf16: run forward and loss under bfloat16 autocast (``TrainConfig.precision="bf16"``).
            The weights stay float32 (autocast casts copies for its matmuls) and the
            cross-entropy reads the logits cast to float32.
    """
    inputs = ids[:, :-1]  # [B, T-1]
    targets = ids[:, 1:].masked_fill(~mask[:, 1:], IGNORE)  # [B, T-1]
    # bf16: autocast over forward and loss; float32: no autocast context at all
    precision = (torch.autocast(device_type=ids.device.type, dtype=torch.bfloat16) if bf16
                 else contextlib.nullcontext())
    with precision:
        logits = model(input_ids=inputs, use_cache=False).logits  # [B, T-1, V]
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)


def prepare_model(model, cfg, device: str):
    """Seed, move to ``device``, wrap in LoRA if asked; return (model, trainable params).

    ``cfg`` is any config with ``seed`` and ``lora`` (:class:`TrainConfig`, ``GRPOConfig``).
    """
    set_seed(cfg.seed)  # LoRA initialisation and dropout draw from the global generators
    model = model.to(device)
    if cfg.lora is not None:
        model = attach_lora(model, cfg.lora)
    else:
        model.requires_grad_(True)  # full finetune means every weight, even after an earlier LoRA run
    model.train()
    return model, [p for p in model.parameters() if p.requires_grad]


def train(
    model,
    examples: list[Example],
    cfg: TrainConfig,
    *,
    mix: list[Example] | None = None,
    mix_fraction: float = 0.0,
    pack: bool = False,
    device: str | None = None,
    on_step: Callable[[int, torch.nn.Module], None] | None = None,
    merge: bool = True,
) -> TrainResult:
    """Train ``model`` in place on ``examples``; return it with the loss history.

    Args:
        model: any HF causal LM (``AutoModelForCausalLM``).
        examples: rows to learn, from :func:`encode_chat` / :func:`document_examples`.
        cfg: steps, batch, schedule, LoRA, logging.
        mix: ordinary examples blended into every batch (keeps a finetune from collapsing the format).
        mix_fraction: share of each batch drawn from ``mix``: ``round(mix_fraction * batch_size)`` rows.
        pack: concatenate examples into full ``seq_len`` rows (pretraining) instead of
            truncating and right-padding each one (finetuning).
        device: torch device; defaults to CUDA when available.
        on_step: called as ``on_step(step, model)`` after every optimizer step (``step`` counts
            from 1), e.g. to save snapshots; the model is put back in train mode afterwards.
        merge: with LoRA, merge the adapters into the weights (default); ``False`` returns the
            peft model itself, adapters separate (to save them alone, e.g. over a large model).

    Returns:
        A :class:`TrainResult`; ``result.model`` is a plain HF model in eval mode (the peft
        model when ``merge`` is False).
    """
    device = device or device_default()
    n_mix = _mix_rows(mix_fraction, cfg.batch_size)
    pad_id = getattr(model.config, "pad_token_id", None) or 0
    rows, n_main = _build_rows(examples, mix, n_mix, cfg, pack, pad_id)
    model, params = prepare_model(model, cfg, device)
    optimizer = _optimizer(params, cfg, device)
    result = TrainResult(model=model)
    try:
        _loop(model, params, optimizer, rows, n_main, n_mix, cfg, device, result, on_step)
    finally:
        result.model = detach_lora(model) if cfg.lora is not None and merge else model
        result.model.eval()
    return result


def _sampler(rows: Rows, n_main: int, n_mix: int, cfg: TrainConfig):
    """Endless batch indices into ``rows``: ``batch_size - n_mix`` main rows, then ``n_mix`` mix rows."""
    generator = torch.Generator().manual_seed(cfg.seed)
    main = IndexStream(n_main, generator) if n_mix < cfg.batch_size else None
    extra = IndexStream(len(rows) - n_main, generator) if n_mix > 0 else None
    while True:
        parts = [main.take(cfg.batch_size - n_mix)] if main else []
        parts += [extra.take(n_mix) + n_main] if extra else []
        yield torch.cat(parts) if len(parts) > 1 else parts[0]


def _loop(model, params, optimizer, rows, n_main, n_mix, cfg: TrainConfig, device: str, result: TrainResult,
          on_step=None):
    batches = _sampler(rows, n_main, n_mix, cfg)
    window_loss, window_steps, window_tokens = torch.zeros((), device=device), 0, 0
    start = window_start = time.perf_counter()
    with StepProgress(cfg.progress, cfg.description, cfg.steps, TRAIN_STATUS) as bar:
        for step in range(cfg.steps):
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            ids, mask, tokens = gather_batch(rows, next(batches))
            ids, mask = ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)
            loss = masked_loss(model, ids, mask, cfg.precision == "bf16")
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            # Accumulate on the device: reading the loss every step would stall a GPU.
            window_loss += loss.detach()
            window_steps, window_tokens = window_steps + 1, window_tokens + tokens - ids.shape[0]
            if step == 0:
                result.first_loss = loss.item()
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                now = time.perf_counter()
                entry = {
                    "step": step + 1,
                    "loss": window_loss.item() / window_steps,
                    "lr": lr,
                    "tokens_per_s": window_tokens / max(now - window_start, 1e-9),
                }
                result.history.append(entry)
                bar.log(entry)
                result.tokens += window_tokens
                window_loss.zero_()
                window_steps, window_tokens, window_start = 0, 0, now
            bar.advance()
            if on_step is not None:
                on_step(step + 1, model)
                model.train()
    result.seconds = time.perf_counter() - start
    result.final_loss = result.history[-1]["loss"]
