"""DPO: direct preference optimisation on fixed (chosen, rejected) pairs, in one plain loop.

Off-policy preference learning (Rafailov et al. 2023): for a prompt ``x`` with a chosen answer
``y_c`` and a rejected one ``y_r``, minimise ``-log σ(β · ((log π(y_c|x) − log π_ref(y_c|x)) −
(log π(y_r|x) − log π_ref(y_r|x))))``, the Bradley–Terry likelihood of the preference under the
reward that the KL-regularised objective ``E[r] − β·KL(π || π_ref)`` implies. ``β`` is that KL
strength. The reference is the policy as it starts, frozen; its log-probabilities are computed
once, before training. A log-probability is the sum over the assistant's tokens (content and
end token, the mask of :func:`~drosophila.training.data.encode_chat`); the prompt only conditions.
``label_smoothing`` ε reads each label as right with probability 1 − ε (conservative DPO).

At ``β = 0`` the loss is ``log 2`` for every pair and has no gradient: the policy cannot move, so
a config with ``beta=0`` is refused; :func:`dpo_loss` itself returns that constant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from drosophila.errors import ConfigError
from drosophila.seeding import device_default
from drosophila.training.config import LoraSpec, _check, _is_int, _is_real
from drosophila.training.data import Example, IndexStream, encode_chat, to_rows
from drosophila.training.lora import detach_lora
from drosophila.training.progress import StepProgress
from drosophila.training.trainer import prepare_model

DPO_STATUS = "loss {loss:.4f}  acc {accuracy:.2f}  margin {margin:+.3f}"


@dataclass
class DPOConfig:
    """Off-policy preference optimisation against a frozen reference."""

    steps: int = field(default=50, metadata={"help": "optimiser steps (>= 1)"})
    batch_size: int = field(default=8, metadata={"help": "pairs per step (>= 1)"})
    lr: float = field(default=1e-4, metadata={"help": "AdamW learning rate after warm-up (> 0)"})
    warmup_steps: int = field(default=5, metadata={"help": "steps of linear warm-up (>= 0)"})
    beta: float = field(default=0.1, metadata={
        "help": "KL strength: scale of the implicit reward log π/π_ref (> 0; 0 leaves no gradient)"})
    label_smoothing: float = field(default=0.0, metadata={
        "help": "probability that a preference label is wrong (conservative DPO), in [0, 0.5)"})
    grad_clip: float = field(default=1.0, metadata={
        "help": "max global gradient norm; 0 turns clipping off (>= 0)"})
    seq_len: int = field(default=256, metadata={
        "help": "longest prompt + answer in tokens; longer rows are cut (>= 2)"})
    lora: LoraSpec | None = field(default=None, metadata={
        "help": "train LoRA adapters instead of all weights"})
    seed: int = field(default=0, metadata={"help": "seeds pair order, LoRA init and dropout (>= 0)"})
    log_every: int = field(default=10, metadata={"help": "steps between history entries (>= 1)"})
    progress: bool = field(default=True, metadata={"help": "show a rich progress bar"})
    description: str = field(default="dpo", metadata={"help": "label shown on the progress bar"})
    device: str | None = field(default=None, metadata={
        "help": "torch device; default: cuda when available"})

    def __post_init__(self) -> None:
        for name, low in (("steps", 1), ("batch_size", 1), ("warmup_steps", 0), ("seq_len", 2),
                          ("seed", 0), ("log_every", 1)):
            value = getattr(self, name)
            _check(_is_int(value) and value >= low, name, value, f"an integer >= {low}")
        _check(_is_real(self.lr) and self.lr > 0, "lr", self.lr, "a finite number > 0")
        _check(_is_real(self.beta) and self.beta > 0, "beta", self.beta,
               "a finite number > 0 (at 0 the DPO loss is log 2 for every pair: nothing to learn)")
        _check(_is_real(self.label_smoothing) and 0 <= self.label_smoothing < 0.5, "label_smoothing",
               self.label_smoothing, "[0, 0.5)")
        _check(_is_real(self.grad_clip) and self.grad_clip >= 0, "grad_clip", self.grad_clip, ">= 0 (0 = off)")
        _check(isinstance(self.progress, bool), "progress", self.progress, "true or false")
        if isinstance(self.lora, dict):  # configs read back from JSON
            self.lora = LoraSpec(**self.lora)
        _check(self.lora is None or isinstance(self.lora, LoraSpec), "lora", self.lora, "null or a LoraSpec")


@dataclass
class Pair:
    """One preference: the conversation before the answer, the chosen and the rejected answer."""

    messages: list[dict]
    chosen: str
    rejected: str


@dataclass
class DPOResult:
    """What :func:`dpo` hands back.

    Attributes:
        model: the trained policy, a plain HF model (LoRA adapters merged), in eval mode.
        history: every ``log_every`` steps (and at the last), the window's mean ``loss``,
            ``accuracy`` (share of pairs whose implicit reward ranks chosen first), ``margin``
            (mean β-free log-ratio margin), ``chosen_logratio`` and ``rejected_logratio`` (mean
            ``log π − log π_ref`` of each side) and ``step``.
        seconds: wall time of the loop (reference pass included).
    """

    model: object
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


# --- the maths ------------------------------------------------------------------------------


def dpo_loss(policy_chosen: Tensor, policy_rejected: Tensor, ref_chosen: Tensor, ref_rejected: Tensor,
             beta: float, label_smoothing: float = 0.0) -> tuple[Tensor, dict[str, Tensor]]:
    """Mean DPO loss over pairs from sequence log-probs ``(B,)`` each, and its statistics.

    ``z = β · (Δ_chosen − Δ_rejected)`` with ``Δ = log π − log π_ref``; the loss is
    ``−(1 − ε) log σ(z) − ε log σ(−z)``. With ``β = 0`` it is ``log 2`` and carries no gradient.
    """
    chosen = policy_chosen - ref_chosen        # (B,)
    rejected = policy_rejected - ref_rejected  # (B,)
    margin = chosen - rejected                 # (B,)
    z = beta * margin                          # (B,)
    loss = -(1 - label_smoothing) * F.logsigmoid(z) - label_smoothing * F.logsigmoid(-z)  # (B,)
    stats = {"accuracy": (margin > 0).float().mean(), "margin": margin.mean(),
             "chosen_logratio": chosen.mean(), "rejected_logratio": rejected.mean()}
    return loss.mean(), {k: v.detach() for k, v in stats.items()}


def sequence_logprobs(model, ids: Tensor, mask: Tensor) -> Tensor:
    """Sum of the log-probabilities of each row's target tokens: ``(B,)``.

    Args:
        ids: ``(B, T)`` right-padded token ids.
        mask: ``(B, T)`` bool, True where a token is a target (predicted from the ones before).
    """
    logits = model(input_ids=ids[:, :-1], use_cache=False).logits.float()  # (B, T-1, V)
    targets = ids[:, 1:]                                                     # (B, T-1)
    logp = logits.gather(-1, targets[..., None])[..., 0] - logits.logsumexp(-1)  # (B, T-1)
    return (logp * mask[:, 1:]).sum(1)                                       # (B,)


# --- data -----------------------------------------------------------------------------------


def _as_pair(p) -> Pair:
    if isinstance(p, Pair):
        return p
    if isinstance(p, dict) and {"messages", "chosen", "rejected"} <= set(p):
        return Pair(list(p["messages"]), p["chosen"], p["rejected"])
    raise ConfigError(f"pair {p!r:.80} is not a Pair or a {{messages, chosen, rejected}} dict")


def encode_pairs(tokenizer, pairs: list[Pair], seq_len: int):
    """Chosen and rejected conversations as two padded tables (row ``i`` of each is pair ``i``),
    with the loss mask on the assistant's answer only."""
    def table(side: str):
        examples = []
        for p in pairs:
            ex = encode_chat(tokenizer, p.messages + [{"role": "assistant", "content": getattr(p, side)}])
            examples.append(Example(ex.ids[:seq_len], ex.mask[:seq_len]))
        if any(not any(ex.mask) for ex in examples):
            raise ConfigError(f"a {side} answer has no token within seq_len={seq_len}; raise seq_len")
        return to_rows(examples, seq_len)

    return table("chosen"), table("rejected")


def _batch(rows, idx: Tensor, device) -> tuple[Tensor, Tensor]:
    width = int(rows.lengths[idx].max())
    return rows.ids[idx, :width].to(device), rows.mask[idx, :width].to(device)


@torch.no_grad()
def reference_logprobs(model, rows, device, batch_size: int = 64) -> Tensor:
    """Sequence log-probs ``(N,)`` of every row under ``model`` (the frozen reference)."""
    model.eval()
    out = [sequence_logprobs(model, *_batch(rows, torch.arange(s, min(s + batch_size, len(rows))), device))
           for s in range(0, len(rows), batch_size)]
    return torch.cat(out)


# --- the loop -------------------------------------------------------------------------------


def dpo(model, tokenizer, pairs, cfg: DPOConfig) -> DPOResult:
    """Train ``model`` in place with DPO on ``pairs``; return it with the loss history.

    Args:
        model: any HF causal LM; its starting weights are the frozen reference.
        tokenizer: its chat-templated tokenizer.
        pairs: :class:`Pair` s or ``{"messages", "chosen", "rejected"}`` dicts.
        cfg: steps, batch, β, schedule, LoRA, logging.
    """
    items = [_as_pair(p) for p in pairs]
    if not items:
        raise ConfigError("pairs: pass at least one preference pair")
    device = cfg.device or device_default()
    chosen, rejected = encode_pairs(tokenizer, items, cfg.seq_len)
    start = time.perf_counter()
    model.to(device)
    ref_c, ref_r = reference_logprobs(model, chosen, device), reference_logprobs(model, rejected, device)
    policy, params = prepare_model(model, cfg, device)
    fused = torch.device(device).type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0, fused=fused)
    stream = IndexStream(len(items), torch.Generator().manual_seed(cfg.seed))
    result = DPOResult(model=policy)
    try:
        _loop(policy, params, optimizer, stream, (chosen, rejected, ref_c, ref_r), cfg, device, result)
    finally:
        result.model = detach_lora(policy) if cfg.lora is not None else policy
        result.model.eval()
        result.seconds = time.perf_counter() - start
    return result


def _loop(policy, params, optimizer, stream, data, cfg: DPOConfig, device, result: DPOResult) -> None:
    chosen, rejected, ref_c, ref_r = data
    window: list[dict] = []
    with StepProgress(cfg.progress, cfg.description, cfg.steps, DPO_STATUS) as bar:
        for step in range(cfg.steps):
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))
            idx = stream.take(cfg.batch_size)
            n = len(idx)
            c_ids, c_mask = _batch(chosen, idx, device)
            r_ids, r_mask = _batch(rejected, idx, device)
            width = max(c_ids.shape[1], r_ids.shape[1])
            ids = torch.cat([F.pad(t, (0, width - t.shape[1])) for t in (c_ids, r_ids)])     # (2B, T)
            mask = torch.cat([F.pad(t, (0, width - t.shape[1])) for t in (c_mask, r_mask)])  # (2B, T)
            logp = sequence_logprobs(policy, ids, mask)                    # (2B,) chosen then rejected
            loss, stats = dpo_loss(logp[:n], logp[n:], ref_c[idx].to(device), ref_r[idx].to(device),
                                   cfg.beta, cfg.label_smoothing)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            entry = {"loss": loss.item(), **{k: v.item() for k, v in stats.items()}}
            window.append(entry)
            bar.log(entry, advance=True)
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                mean = {k: sum(e[k] for e in window) / len(window) for k in entry}
                result.history.append({**mean, "step": step + 1})
                window = []
