"""Log-probabilities of a sampled completion, from one teacher-forced forward pass.

They are the model's own next-token distribution (before temperature and top-p), as OpenAI
reports them. Computing them after sampling keeps the decode loop free of per-step bookkeeping.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def completion_logprobs(
    model: nn.Module, prompt: list[int], tokens: list[int], top: int
) -> tuple[list[float], list[list[tuple[int, float]]]]:
    """Each completion token's log-probability and the ``top`` likeliest tokens at its step.

    Returns:
        ``(logprobs, tops)``: ``len(tokens)`` floats, and per token a list of ``(id, logprob)``
        in descending order (empty when ``top == 0``).
    """
    if not tokens:
        return [], []
    device = next(model.parameters()).device
    ids = torch.tensor([prompt + tokens[:-1]], device=device)  # (1, P+T-1): position i predicts i+1
    with torch.inference_mode():
        logits = _last_logits(model, ids, len(tokens))  # (T, V)
    lp = torch.log_softmax(logits.float(), dim=-1)  # (T, V)
    target = torch.tensor(tokens, device=device)[:, None]  # (T, 1)
    chosen = lp.gather(1, target)[:, 0].tolist()  # (T,)
    if not top:
        return chosen, [[] for _ in tokens]
    values, idx = lp.topk(min(top, lp.shape[-1]), dim=-1)  # (T, k)
    return chosen, [list(zip(i, v)) for i, v in zip(idx.tolist(), values.tolist())]


def _last_logits(model: nn.Module, ids: Tensor, k: int) -> Tensor:
    """Logits of the last ``k`` positions; only those are projected onto the vocabulary when
    the model supports ``logits_to_keep`` (HF causal LMs do)."""
    try:
        out = model(input_ids=ids, logits_to_keep=k)
    except TypeError:
        out = model(input_ids=ids)
    return out.logits[0, -k:]  # (k, V)
