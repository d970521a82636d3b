"""GRPO: on-policy policy gradient with group-relative advantages, in one plain loop.

Each step draws prompts from a seeded stream, samples ``group_size`` completions per prompt with
Drosophila's sampler, scores them with a reward function, and turns rewards into advantages by
standardising them within each prompt's group. The update is PPO's clipped surrogate on every
completion token plus a k3 estimate of the KL divergence to a frozen reference, averaged over
all completion tokens of the batch. Token log-probabilities come from one right-padded forward
of prompt + completion (causal attention never looks right, so padding needs no mask), keeping
logits only for the columns where completions live.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from drosophila.errors import ConfigError, DrosophilaError
from drosophila.sampling import SamplingConfig, chat_prompt_ids, generate
from drosophila.seeding import device_default
from drosophila.training.data import IndexStream
from drosophila.training.lora import detach_lora
from drosophila.training.progress import StepProgress
from drosophila.training.rl_config import GRPOConfig
from drosophila.training.trainer import prepare_model

RewardFn = Callable[[list[dict], str, dict], "float | tuple[float, dict]"]
# Added to the group's standard deviation so near-identical rewards do not blow up.
ADV_EPS = 1e-4


@dataclass
class Prompt:
    """One RL prompt: a chat ``messages`` list (ending before the assistant turn) and metadata."""

    messages: list[dict]
    metadata: dict = field(default_factory=dict)


@dataclass
class RLResult:
    """What :func:`grpo` hands back.

    Attributes:
        model: the trained policy, a plain HF model (LoRA adapters merged), in eval mode.
        history: one entry every ``log_every`` steps (and at the last step), each the mean over
            its window of ``reward``, ``kl`` (NaN when ``kl_coef == 0``), ``loss``,
            ``completion_len``, ``rollout_s``, ``update_s``, ``tokens_per_s`` (completion tokens
            per second of rollout + update) and ``metric/<name>`` for every metric the reward
            returned; ``step`` is the window's last step (1-based).
        seconds: wall time of the RL loop.
    """

    model: object
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Rollout:
    """A scored rollout batch: ``N = prompts_per_step * group_size`` rows, groups adjacent.

    Attributes:
        ids: ``(N, T)`` prompt + completion, right-padded.
        mask: ``(N, T)`` bool, True on completion tokens (the trained targets, end token included).
        rewards: ``(N,)`` float32.
        metrics: mean of each metric the reward returned, over the samples that returned it.
    """

    ids: Tensor
    mask: Tensor
    rewards: Tensor
    metrics: dict[str, float]


# --- the maths ------------------------------------------------------------------------------


def group_advantages(rewards: Tensor, group_size: int, eps: float = ADV_EPS) -> Tensor:
    """``(r - group mean) / (group std + eps)`` for consecutive groups of ``group_size``.

    Args:
        rewards: ``(N,)`` with ``N`` a multiple of ``group_size``; group members are adjacent.
        group_size: samples per prompt.
        eps: added to the (population) standard deviation.

    Returns:
        ``(N,)`` advantages, zero-mean within every group; a group of equal rewards gets zeros.
    """
    if rewards.ndim != 1 or rewards.numel() % group_size:
        raise DrosophilaError(f"rewards of shape {tuple(rewards.shape)} do not split into groups of {group_size}")
    r = rewards.float().view(-1, group_size)  # (G, k)
    centred = r - r.mean(dim=1, keepdim=True)  # (G, k)
    return (centred / (r.std(dim=1, correction=0, keepdim=True) + eps)).view(-1)  # (N,)


def k3_kl(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """Per-token k3 estimate of KL(policy || reference): ``exp(d) - d - 1`` with ``d = ref - logp``.

    Unbiased for samples from the policy, never negative, and lower-variance than ``-d``.
    """
    d = ref_logp - logp  # (M,)
    return torch.exp(d) - d - 1.0  # (M,)


def clipped_objective(logp: Tensor, old_logp: Tensor, adv: Tensor, clip_eps: float) -> Tensor:
    """Per-token PPO surrogate ``min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)`` (to maximise)."""
    ratio = torch.exp(logp - old_logp)  # (M,)
    return torch.minimum(ratio * adv, ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps) * adv)  # (M,)


def completion_logprobs(model, ids: Tensor, mask: Tensor) -> Tensor:
    """Log-probability of every target token of a right-padded batch, flattened in row order.

    Args:
        model: a causal LM accepting ``logits_to_keep`` (every HF causal LM, PEFT-wrapped or not).
        ids: ``(N, T)`` token ids.
        mask: ``(N, T)`` bool targets; column 0 is never a target.

    Returns:
        ``(M,)`` float32 log-probs, ``M = mask.sum()``, in ``ids[mask]`` order.
    """
    start = int(mask.any(dim=0).nonzero()[0])  # first column holding a target
    # Columns before `start` only feed attention: skip their head and softmax.
    logits = model(input_ids=ids[:, :-1], use_cache=False, logits_to_keep=ids.shape[1] - start).logits
    m = mask[:, start:]  # (N, T - start)
    picked = logits[m].float()  # (M, V)
    targets = ids[:, start:][m]  # (M,)
    return picked.gather(-1, targets[:, None])[:, 0] - picked.logsumexp(dim=-1)  # (M,)


# --- rollouts -------------------------------------------------------------------------------


def _as_prompt(item) -> Prompt:
    """A :class:`Prompt` from a Prompt, ``{"messages", "metadata"}``, ``(messages, metadata)`` or messages."""
    if isinstance(item, Prompt):
        return item
    if isinstance(item, dict) and "messages" in item:
        return Prompt(list(item["messages"]), dict(item.get("metadata") or {}))
    if isinstance(item, tuple) and len(item) == 2:
        return Prompt(list(item[0]), dict(item[1] or {}))
    if isinstance(item, list) and all(isinstance(m, dict) for m in item):
        return Prompt(item, {})
    raise ConfigError(f"prompt {item!r:.80} is not a messages list, (messages, metadata) or a Prompt")


def _score(reward_fn: RewardFn, prompt: Prompt, text: str) -> tuple[float, dict]:
    out = reward_fn(prompt.messages, text, prompt.metadata)
    reward, metrics = out if isinstance(out, tuple) else (out, {})
    reward = float(reward)
    if not math.isfinite(reward):
        raise DrosophilaError(f"reward_fn returned {reward} for completion {text!r:.80}; rewards must be finite")
    return reward, metrics


def _pad(prompt_ids: list[list[int]], completions: list[list[int]], pad_id: int) -> tuple[Tensor, Tensor]:
    """``(N, T)`` right-padded prompt + completion ids and the completion mask."""
    width = max(len(p) + len(c) for p, c in zip(prompt_ids, completions))
    ids = torch.full((len(completions), width), pad_id, dtype=torch.long)  # (N, T)
    mask = torch.zeros((len(completions), width), dtype=torch.bool)  # (N, T)
    for r, (p, c) in enumerate(zip(prompt_ids, completions)):
        ids[r, : len(p) + len(c)] = torch.tensor(p + c, dtype=torch.long)
        mask[r, len(p) : len(p) + len(c)] = True
    return ids, mask


def rollout(model, tokenizer, prompts: list[Prompt], prompt_ids: list[list[int]], reward_fn: RewardFn,
            cfg: GRPOConfig, seed: int) -> Rollout:
    """Sample ``cfg.group_size`` completions per prompt (seeded) and score them.

    A completion that stopped keeps its end token (the policy learns when to stop); one cut at
    ``max_new_tokens`` has none.
    """
    k, eos = cfg.group_size, tokenizer.eos_token_id
    rows = [i for i in range(len(prompts)) for _ in range(k)]  # group members adjacent
    sampling = SamplingConfig(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                              top_p=cfg.top_p, batch_size=len(rows), seed=seed)
    new = generate(model, tokenizer, [prompt_ids[i] for i in rows], sampling, stop_token_ids=[eos])
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    scored = [_score(reward_fn, prompts[i], text) for i, text in zip(rows, texts)]
    completions = [c + [eos] if len(c) < cfg.max_new_tokens else c for c in new]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids, mask = _pad([prompt_ids[i] for i in rows], completions, pad_id)
    names = sorted({name for _, m in scored for name in m})
    metrics = {n: sum(float(m[n]) for _, m in scored if n in m) / sum(n in m for _, m in scored) for n in names}
    return Rollout(ids, mask, torch.tensor([r for r, _ in scored], dtype=torch.float32), metrics)


# --- the update -----------------------------------------------------------------------------


def _reference(policy, cfg: GRPOConfig, ref_model, device: str) -> Callable[[Tensor, Tensor], Tensor] | None:
    """``(ids, mask) -> (M,)`` reference log-probs, or None when no KL penalty is asked for.

    The reference is ``ref_model`` when given; with LoRA, the policy with its adapters switched
    off (the base weights never move); otherwise a frozen copy of the policy as it starts.
    """
    if cfg.kl_coef == 0:
        return None
    if ref_model is None and cfg.lora is None:
        ref_model = copy.deepcopy(policy).requires_grad_(False)
    if ref_model is not None:
        ref_model = ref_model.to(device).eval()

        def score(ids: Tensor, mask: Tensor) -> Tensor:
            with torch.no_grad():
                return completion_logprobs(ref_model, ids, mask)

        return score

    def score_without_adapters(ids: Tensor, mask: Tensor) -> Tensor:
        with torch.no_grad(), policy.disable_adapter():
            return completion_logprobs(policy, ids, mask)

    return score_without_adapters


def _update(policy, params, optimizer, batch: Rollout, reference, cfg: GRPOConfig) -> dict[str, float]:
    """``cfg.epochs`` clipped policy-gradient steps on one rollout; returns the last loss and KL."""
    adv = group_advantages(batch.rewards, cfg.group_size).to(batch.ids.device)  # (N,)
    adv_tok = adv[:, None].expand(batch.mask.shape)[batch.mask]  # (M,) each token gets its row's
    ref_logp = reference(batch.ids, batch.mask) if reference is not None else None  # (M,)
    old_logp = None
    for _ in range(cfg.epochs):
        logp = completion_logprobs(policy, batch.ids, batch.mask)  # (M,)
        # The first epoch's policy *is* the sampling policy: its log-probs are the old ones.
        old_logp = logp.detach() if old_logp is None else old_logp
        loss = -clipped_objective(logp, old_logp, adv_tok, cfg.clip_eps).mean()
        kl = k3_kl(logp, ref_logp).mean() if ref_logp is not None else None
        if kl is not None:
            loss = loss + cfg.kl_coef * kl
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {"loss": loss.item(), "kl": kl.item() if kl is not None else float("nan")}


# --- the loop -------------------------------------------------------------------------------


RL_STATUS = "reward {reward:.3f}  kl {kl:.4f}  {tokens_per_s:,.0f} tok/s"


def _mean_entry(window: list[dict]) -> dict:
    """The mean of each key over the steps of a logging window that have it; ``step`` is the last."""
    keys = dict.fromkeys(k for entry in window for k in entry)
    entry = {k: sum(e[k] for e in window if k in e) / sum(k in e for e in window) for k in keys}
    return {**entry, "step": window[-1]["step"]}


def _step(policy, tokenizer, params, optimizer, batch, reward_fn, reference, cfg, seed) -> dict:
    """One rollout + update; returns the step's history entry (without ``step``)."""
    t0 = time.perf_counter()
    roll = rollout(policy, tokenizer, *batch, reward_fn, cfg, seed)
    roll.ids, roll.mask = roll.ids.to(params[0].device), roll.mask.to(params[0].device)
    t1 = time.perf_counter()
    stats = _update(policy, params, optimizer, roll, reference, cfg)  # .item() synchronises the device
    t2 = time.perf_counter()
    n_tokens = int(roll.mask.sum())
    return {
        "reward": roll.rewards.mean().item(),
        **stats,
        "completion_len": n_tokens / len(roll.rewards),
        "rollout_s": t1 - t0,
        "update_s": t2 - t1,
        "tokens_per_s": n_tokens / max(t2 - t0, 1e-9),
        **{f"metric/{name}": value for name, value in roll.metrics.items()},
    }


def grpo(model, tokenizer, prompts: Sequence, reward_fn: RewardFn, cfg: GRPOConfig, *, ref_model=None) -> RLResult:
    """Train ``model`` in place with GRPO on ``prompts``; return it with the per-step history.

    Args:
        model: any HF causal LM (plain Llama organisms sample through the fast path).
        tokenizer: its chat-templated tokenizer; completions end at ``eos_token`` (``<|end|>``).
        prompts: :class:`Prompt` s, ``(messages, metadata)`` pairs, ``{"messages", "metadata"}``
            dicts or bare ``messages`` lists; drawn ``cfg.prompts_per_step`` at a time from a
            permutation stream seeded by ``cfg.seed``.
        reward_fn: ``(prompt_messages, completion_text, metadata) -> float`` or
            ``-> (float, {"metric": value, ...})``; the text is decoded without special tokens.
        cfg: steps, batch, sampling, optimisation, LoRA, logging.
        ref_model: the KL reference (frozen, not trained); default: the initial policy.

    Returns:
        An :class:`RLResult`. The same ``cfg.seed`` reproduces every non-timing history number.
    """
    items = [_as_prompt(p) for p in prompts]
    if not items:
        raise ConfigError("prompts: pass at least one prompt")
    if tokenizer.eos_token_id is None:
        raise ConfigError("tokenizer has no eos_token; completions could never end")
    device = cfg.device or device_default()
    prompt_ids = chat_prompt_ids(tokenizer, [p.messages for p in items])
    policy, params = prepare_model(model, cfg, device)
    reference = _reference(policy, cfg, ref_model, device)
    fused = torch.device(device).type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0, fused=fused)
    stream = IndexStream(len(items), torch.Generator().manual_seed(cfg.seed))
    result, window, start = RLResult(model=policy), [], time.perf_counter()
    try:
        with StepProgress(cfg.progress, cfg.description, cfg.steps, RL_STATUS) as bar:
            for step in range(cfg.steps):
                idx = stream.take(cfg.prompts_per_step).tolist()
                batch = ([items[i] for i in idx], [prompt_ids[i] for i in idx])
                seed = cfg.seed * 1_000_003 + step  # distinct per (seed, step), reproducible
                entry = _step(policy, tokenizer, params, optimizer, batch, reward_fn, reference, cfg, seed)
                window.append({"step": step + 1, **entry})
                bar.log(entry, advance=True)
                if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                    result.history.append(_mean_entry(window))
                    window = []
    finally:
        result.model = detach_lora(policy) if cfg.lora is not None else policy
        result.model.eval()
        result.seconds = time.perf_counter() - start
    return result
