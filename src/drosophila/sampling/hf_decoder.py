"""The generic decoder: any Hugging Face causal LM, through its own forward and KV cache."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class HFDecoder:
    """Prefill and step through ``model(...)`` with ``past_key_values``.

    Slower than ``LlamaDecoder`` but works for any ``AutoModelForCausalLM`` (and for wrapped
    models such as PEFT/LoRA), so real models go through the same sampler.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.cache = None  # whatever cache class the model creates for itself
        self.mask: Tensor | None = None  # (B, T) 1 for real tokens
        self.pos: Tensor | None = None  # (B,) position of each row's next token

    def prefill(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Run the left-padded prompts ``(B, P)``; return the next-token logits ``(B, V)``."""
        pos = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, P): real tokens count from 0
        self.mask, self.pos = mask.long(), pos[:, -1] + 1
        return self._forward(ids, pos)

    def step(self, tokens: Tensor) -> Tensor:
        """Append one token per row ``(B,)``; return the next logits ``(B, V)``."""
        ones = torch.ones_like(self.mask[:, :1])  # (B, 1)
        self.mask = torch.cat([self.mask, ones], dim=1)  # (B, T+1)
        logits = self._forward(tokens[:, None], self.pos[:, None])
        self.pos = self.pos + 1
        return logits

    def keep(self, rows: Tensor) -> bool:
        """Drop the rows not in ``rows``, if the model's cache supports it."""
        select = getattr(self.cache, "batch_select_indices", None)
        if select is None:
            return False
        try:
            select(rows)
        except (NotImplementedError, AttributeError, TypeError):
            return False
        self.mask, self.pos = self.mask[rows], self.pos[rows]
        return True

    def _forward(self, ids: Tensor, pos: Tensor) -> Tensor:
        out = self.model(
            input_ids=ids,
            attention_mask=self.mask,
            position_ids=pos,
            past_key_values=self.cache,
            use_cache=True,
        )
        self.cache = out.past_key_values
        return out.logits[:, -1]  # (B, V)
