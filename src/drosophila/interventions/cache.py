"""Activation caches: run prompts through a model and keep named activations."""

from __future__ import annotations

import torch

from drosophila.interventions.hooks import hooks


@torch.inference_mode()
def cache_activations(model, tokenizer, prompts: list[list[int]], names: list[str], *,
                      position: str = "last", batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Activations at the ``last`` prompt token (``(N, d)`` per name) or at ``all`` tokens
    (a list of ``(T_i, d)`` tensors per name), for token-id prompts of any lengths.

    Prompts are left-padded per batch with an attention mask, so the last position is always
    the last real token.
    """
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: dict[str, list] = {n: [] for n in names}
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        width = max(len(p) for p in chunk)
        ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in chunk], device=device)  # (B, T)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk], device=device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)                                               # (B, T)
        seen: dict[str, torch.Tensor] = {}

        def keep(name):
            return lambda h: seen.__setitem__(name, h.detach().float())

        with hooks(model, {n: keep(n) for n in names}):
            model(input_ids=ids, attention_mask=mask, position_ids=pos)
        for n in names:
            h = seen[n]                                                                         # (B, T, d)
            if position == "last":
                out[n].append(h[:, -1, :].cpu())
            else:
                out[n].extend(h[b, width - len(p):, :].cpu() for b, p in enumerate(chunk))
    return {n: torch.cat(v) if position == "last" else v for n, v in out.items()}
