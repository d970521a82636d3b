"""Batched sampling: sort prompts by length, left-pad, decode with a KV cache, cut at end of turn.

``generate`` picks a decoder per model: the lean ``LlamaDecoder`` for plain
``LlamaForCausalLM`` organisms, or ``HFDecoder`` (the model's own forward and cache) for anything
else. Interventions registered by ``drosophila.interventions.intervene`` (steering, directional
ablation, capping) are residual edits that ``LlamaDecoder`` applies itself; any other forward
hook only runs inside the model's own forward, so a model carrying one is decoded by
``HFDecoder``. Both see the same left-padded batch and the same position ids, so they agree
with each other and with a cache-free forward of each prompt alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase

from drosophila.errors import ConfigError
from drosophila.sampling.hf_decoder import HFDecoder
from drosophila.sampling.llama_fast import LlamaDecoder, LlamaWeights, opaque_hooks_attached, supports_fast_path

# Finished rows keep decoding (and are ignored) until they are this share of the batch; only
# then is the cache compacted, so one early stop does not cost a full cache copy.
_COMPACT_SHARE = 0.25


@dataclass
class SamplingConfig:
    """How to sample. ``temperature == 0`` is greedy decoding (``top_p`` is then unused)."""

    max_new_tokens: int = 48
    temperature: float = 1.0
    top_p: float = 1.0
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 0:
            raise ConfigError(f"max_new_tokens={self.max_new_tokens} must be >= 0")
        if self.temperature < 0:
            raise ConfigError(f"temperature={self.temperature} must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p={self.top_p} must be in (0, 1]")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size} must be >= 1")


class Decoder(Protocol):
    """What the decode loop needs from a model: prefill, one step, drop rows."""

    def prefill(self, ids: Tensor, mask: Tensor) -> Tensor: ...

    def step(self, tokens: Tensor) -> Tensor: ...

    def keep(self, rows: Tensor) -> bool: ...


def chat_prompt_ids(tokenizer: PreTrainedTokenizerBase, conversations: list[list[dict]]) -> list[list[int]]:
    """Token ids of each conversation rendered with the chat template plus the generation prompt."""
    render = tokenizer.apply_chat_template
    texts = [render(c, tokenize=False, add_generation_prompt=True) for c in conversations]
    # The template already wrote <bos>; the tokenizer must not add specials a second time.
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def sample_chats(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    conversations: list[list[dict]],
    cfg: SamplingConfig,
) -> list[str]:
    """Sample one assistant turn per conversation; returns the decoded text without specials."""
    completions = generate(model, tokenizer, chat_prompt_ids(tokenizer, conversations), cfg)
    return tokenizer.batch_decode(completions, skip_special_tokens=True)


def generate(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    cfg: SamplingConfig,
    *,
    stop_token_ids: list[int] | None = None,
    progress: bool = False,
    row_seeds: list[int] | None = None,
) -> list[list[int]]:
    """Sample continuations of token-id prompts.

    Args:
        model: A causal LM (plain Llama models take the fast path).
        tokenizer: Supplies the default stop token (``eos_token_id``) and the pad id.
        prompts: Non-empty lists of token ids.
        cfg: Sampling settings; ``cfg.seed`` seeds the one generator used for the whole call,
            so the same ``(prompts, cfg)`` always gives the same output.
        stop_token_ids: Tokens that end a row; ``[]`` never stops early. Default: the
            tokenizer's ``eos_token_id`` (``<|end|>`` for organisms) plus any eos ids in
            ``model.generation_config`` (real chat models often list several).
        progress: Show a progress bar over prompts.
        row_seeds: One seed per prompt. Each row then samples from its own stream, drawn from
            its seed, instead of the call's shared generator, so a row's tokens depend only on
            its prompt, ``cfg`` and its seed, not on the other prompts in the call (a server
            batching independent requests needs this). Default: the shared generator.

    Returns:
        The new token ids of each prompt, in input order, cut before the first stop token.
    """
    if any(len(p) == 0 for p in prompts):
        raise ConfigError("generate: every prompt needs at least one token")
    if not prompts:
        return []
    if row_seeds is not None and len(row_seeds) != len(prompts):
        raise ConfigError(f"generate: {len(row_seeds)} row_seeds for {len(prompts)} prompts")
    stops = _default_stops(model, tokenizer) if stop_token_ids is None else list(stop_token_ids)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # similar lengths share a batch
    results: list[list[int]] = [[] for _ in prompts]
    with _eval_mode(model), torch.inference_mode(), _progress_bar(progress, len(prompts)) as advance:
        new_decoder = _decoder_factory(model, rows=min(cfg.batch_size, len(prompts)))
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            ids, mask = _left_pad([prompts[i] for i in idx], pad_id, device)
            decoder = new_decoder(ids.shape[1] + cfg.max_new_tokens)
            uniforms = None if row_seeds is None else _row_uniforms([row_seeds[i] for i in idx], cfg, device)
            rows = _decode(decoder, ids, mask, cfg, stops, gen, uniforms)
            for i, row in zip(idx, rows):
                results[i] = row
            advance(len(idx))
    return results


def _default_stops(model: nn.Module, tokenizer: PreTrainedTokenizerBase) -> list[int]:
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    gen_eos = gen_eos if isinstance(gen_eos, list) else [gen_eos]
    return sorted({t for t in (tokenizer.eos_token_id, *gen_eos) if t is not None})


def _decoder_factory(model: nn.Module, rows: int) -> Callable[[int], Decoder]:
    """``max_len -> Decoder`` for one batch; the fast path prepares its weights once, here.

    Hooks are checked on every call, so a hook takes effect in the next ``generate``. Residual
    edits (``drosophila.interventions.intervene``) stay on the fast path; any other hook moves
    the call to ``HFDecoder`` and, once removed, the next call is back on the fast path.
    """
    if supports_fast_path(model) and not opaque_hooks_attached(model):
        weights = LlamaWeights(model, rows)
        return lambda max_len: LlamaDecoder(weights, max_len)
    return lambda max_len: HFDecoder(model)


def _row_uniforms(seeds: list[int], cfg: SamplingConfig, device: torch.device) -> Tensor | None:
    """``(B, N)`` uniforms for one batch, row r drawn from its own generator seeded ``seeds[r]``."""
    if cfg.temperature == 0:
        return None  # greedy decoding draws nothing
    rows = [torch.rand(cfg.max_new_tokens, generator=torch.Generator().manual_seed(s)) for s in seeds]
    return torch.stack(rows).to(device)  # (B, N), drawn on the CPU so every device gets the same


def _decode(
    decoder: Decoder,
    ids: Tensor,
    mask: Tensor,
    cfg: SamplingConfig,
    stops: list[int],
    gen: torch.Generator,
    uniforms: Tensor | None = None,
) -> list[list[int]]:
    """The decode loop for one batch; returns each row's new tokens cut before a stop token.

    ``uniforms`` ``(B, N)``, when given, holds row r's draw for step t (``row_seeds``).
    """
    b, n_new = ids.shape[0], cfg.max_new_tokens
    out = torch.full((b, n_new), -1, dtype=torch.long, device=ids.device)  # (B, N); -1 = not reached
    stop_t = torch.tensor(stops, dtype=torch.long, device=ids.device)
    present = torch.arange(b, device=ids.device)  # original row of each row still in the decoder
    alive = torch.ones(b, dtype=torch.bool, device=ids.device)  # (b,) row has not stopped
    logits = decoder.prefill(ids, mask) if n_new else None
    for t in range(n_new):
        u = None if uniforms is None else uniforms[present, t]  # (b,)
        tok = pick_tokens(logits, cfg, gen, u=u)  # (b,)
        out[present, t] = tok
        if len(stops):
            alive &= ~torch.isin(tok, stop_t)
            n_alive = int(alive.sum())  # one host sync per step, only when rows can stop
            if n_alive == 0:
                break
            if len(alive) - n_alive >= _COMPACT_SHARE * len(alive) and decoder.keep(alive.nonzero()[:, 0]):
                present, tok, alive = present[alive], tok[alive], alive[alive]
        if t + 1 < n_new:
            logits = decoder.step(tok)
    return [_cut(row, stops) for row in out.tolist()]


def _cut(row: list[int], stops: list[int]) -> list[int]:
    for j, tok in enumerate(row):
        if tok == -1 or tok in stops:
            return row[:j]
    return row


def pick_tokens(logits: Tensor, cfg: SamplingConfig, gen: torch.Generator, *, u: Tensor | None = None) -> Tensor:
    """Next token per row from ``(B, V)`` logits: argmax at temperature 0, else top-p sampling.

    ``u`` ``(B,)``: uniforms in [0, 1) to use instead of drawing from ``gen``.
    """
    if cfg.temperature == 0:
        return logits.argmax(dim=-1)  # (B,)
    logits = logits.float() if cfg.temperature == 1 else logits.float() / cfg.temperature
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    if cfg.top_p < 1:
        probs = top_p_filter(probs, cfg.top_p)
    return _sample(probs, gen, u)


def _sample(probs: Tensor, gen: torch.Generator, u: Tensor | None = None) -> Tensor:
    """One draw per row from unnormalised ``(B, V)`` probabilities, by inverting the CDF.

    Same distribution as ``torch.multinomial`` but one uniform per row instead of one
    exponential per vocabulary entry: many times faster on CPU for a ~1k vocabulary.
    """
    cdf = probs.cumsum(dim=-1)  # (B, V)
    if u is None:
        u = torch.rand((probs.shape[0], 1), generator=gen, device=probs.device, dtype=cdf.dtype)  # (B, 1)
    else:
        u = u.to(cdf.dtype)[:, None]  # (B, 1)
    u = u * cdf[:, -1:]
    # right=True skips zero-probability tokens (flat steps of the CDF).
    return torch.searchsorted(cdf, u, right=True)[:, 0].clamp_(max=probs.shape[-1] - 1)  # (B,)


def top_p_filter(probs: Tensor, top_p: float) -> Tensor:
    """Zero all but the smallest set of most likely tokens whose mass reaches ``top_p``.

    The token that crosses ``top_p`` is kept, so at least one token always survives.
    """
    sorted_p, order = probs.sort(dim=-1, descending=True)  # (B, V)
    mass_before = sorted_p.cumsum(dim=-1) - sorted_p  # (B, V): mass of strictly likelier tokens
    sorted_p = sorted_p.masked_fill(mass_before >= top_p, 0.0)
    return torch.zeros_like(probs).scatter_(-1, order, sorted_p)  # unsorted, unnormalised


def _left_pad(prompts: list[list[int]], pad_id: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """``(B, P)`` ids and attention mask, padded on the left so every row ends in column P-1."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[r, width - len(p) :] = 1
    return ids.to(device), mask.to(device)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Decode without dropout, then give the model back in the mode it came in."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int) -> Iterator:
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("sampling", total=total)
        yield lambda n: bar.advance(task, n)
