"""The served model: render a request, check it fits the context, decode a group of requests.

``prepare`` turns one checked request into a ``Job`` (prompt ids, token budget, one seed per
choice); ``complete`` decodes jobs that share their sampling settings as one batch through
``drosophila.sampling.generate`` and builds each reply. Every choice samples from its own seeded
stream (``generate(row_seeds=...)``), so a request with a ``seed`` gets the same answer whether
it was decoded alone or beside others.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn
from transformers import PreTrainedTokenizerBase

from drosophila.sampling import SamplingConfig, generate
from drosophila.serve.logprobs import completion_logprobs
from drosophila.serve.protocol import (
    ChatRequest,
    bad_request,
    choice_body,
    completion_body,
    token_logprob,
)
from drosophila.serve.render import Prompt, prompt_of, special_ids, speaks_world_text
from drosophila.serve.text import (
    continuation,
    first_stop,
    piece_after,
    pieces,
    tokens_ending_by,
    tokens_starting_before,
)


@dataclass(frozen=True)
class Job:
    """A request rendered and budgeted: what one batch row group decodes."""

    request: ChatRequest
    prompt: Prompt
    max_new: int
    seeds: tuple[int, ...]  # one per choice

    @property
    def settings(self) -> tuple[float, float, int]:
        """Requests with equal settings decode as one batch. ``top_p == 0`` keeps only the
        likeliest token, which is greedy decoding."""
        req = self.request
        return (0.0, 1.0, self.max_new) if req.top_p == 0 else (req.temperature, req.top_p, self.max_new)


class ServedModel:
    """A causal LM and its tokenizer behind the chat-completions protocol.

    Args:
        model: Any HF causal LM (plain Llama organisms take the sampler's fast path).
        tokenizer: With a chat template.
        name: The model id reported by ``/v1/models`` and in every reply.
        normalize: Lower-case and re-space incoming text (world text). Default: when the
            tokenizer is the organisms' word-level one.
        default_max_tokens: Completion budget for requests that set no ``max_tokens`` (cut to
            what the context leaves).
        batch_size: Most rows one decode batch holds.
        seed: Seeds the per-choice seeds of requests that bring none.
    """

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, *, name: str,
                 normalize: bool | None = None, default_max_tokens: int = 256, batch_size: int = 64,
                 seed: int = 0) -> None:
        self.model, self.tokenizer, self.name = model.eval(), tokenizer, name
        self.normalize = speaks_world_text(tokenizer) if normalize is None else normalize
        self.default_max_tokens, self.batch_size = default_max_tokens, batch_size
        self.context_length: int | None = getattr(model.config, "max_position_embeddings", None)
        self._special = special_ids(tokenizer)
        self._rng = random.Random(seed)

    @classmethod
    def load(cls, path: str | os.PathLike, *, name: str | None = None, **kwargs: Any) -> ServedModel:
        """An organism directory, or a local HF causal-LM directory whose tokenizer has a chat
        template (``drosophila.organisms.load_organism``: safetensors only, no remote code)."""
        from drosophila.organisms import load_organism

        org = load_organism(path)
        return cls(org.model, org.tokenizer, name=name or Path(path).resolve().name, **kwargs)

    def prepare(self, req: ChatRequest) -> Job:
        """Render ``req`` and fix its token budget.

        Raises:
            APIError: 400 ``context_length_exceeded`` when prompt and completion do not fit, or
                400 when the chat template refuses the messages.
        """
        prompt = prompt_of(self.tokenizer, req.messages, normalize=self.normalize)
        return Job(req, prompt, self._budget(len(prompt.ids), req.max_tokens), self._seeds(req))

    def _budget(self, n_prompt: int, asked: int | None) -> int:
        ctx = self.context_length
        if ctx is None:
            return asked or self.default_max_tokens
        budget = asked if asked is not None else min(self.default_max_tokens, ctx - n_prompt)
        if n_prompt + max(budget, 1) > ctx:
            n_new = asked or 0
            raise bad_request(
                f"This model's maximum context length is {ctx} tokens. However, you requested "
                f"{n_prompt + n_new} tokens ({n_prompt} in the messages, {n_new} in the completion). "
                "Please reduce the length of the messages or completion.",
                "messages", code="context_length_exceeded")
        return budget

    def _seeds(self, req: ChatRequest) -> tuple[int, ...]:
        if req.seed is None:
            return tuple(self._rng.getrandbits(63) for _ in range(req.n))
        # Choice i of a seeded request always gets the same stream, and choices differ.
        digests = (hashlib.sha256(f"{req.seed}:{i}".encode()).digest() for i in range(req.n))
        return tuple(int.from_bytes(d[:8], "little") >> 1 for d in digests)

    def complete(self, jobs: list[Job]) -> list[dict[str, Any]]:
        """Decode jobs that share ``settings`` as one batch; a reply body per job, in order."""
        temperature, top_p, max_new = jobs[0].settings
        cfg = SamplingConfig(max_new_tokens=max_new, temperature=temperature, top_p=top_p,
                             batch_size=self.batch_size)
        prompts = [job.prompt.ids for job in jobs for _ in job.seeds]
        seeds = [s for job in jobs for s in job.seeds]
        rows = iter(generate(self.model, self.tokenizer, prompts, cfg, row_seeds=seeds))
        return [self._reply(job, [next(rows) for _ in job.seeds]) for job in jobs]

    def _reply(self, job: Job, rows: list[list[int]]) -> dict[str, Any]:
        choices, used = [], 0
        for index, tokens in enumerate(rows):
            choice, n_tokens = self._choice(job, index, tokens)
            choices.append(choice)
            used += n_tokens
        return completion_body(self.name, choices, len(job.prompt.ids), used)

    def _choice(self, job: Job, index: int, tokens: list[int]) -> tuple[dict[str, Any], int]:
        """One choice and the completion tokens it used."""
        req, tail = job.request, job.prompt.tail
        text = continuation(self.tokenizer, tail, tokens)
        stop = first_stop(text, req.stop)
        token_pieces = pieces(self.tokenizer, tail, tokens) if stop or req.logprobs else []
        if stop is None:
            n_used = n_shown = len(tokens)
            reason = "length" if len(tokens) >= job.max_new else "stop"
        else:
            at, s = stop
            text, reason = text[:at], "stop"
            n_shown = tokens_ending_by(token_pieces, at)
            n_used = max(n_shown, tokens_starting_before(token_pieces, at + len(s)))
        logprobs = self._logprobs(job, tokens[:n_shown], token_pieces) if req.logprobs else None
        return choice_body(index, text, reason, logprobs), n_used

    def _logprobs(self, job: Job, tokens: list[int], token_pieces: list[str]) -> list[dict]:
        chosen, tops = completion_logprobs(self.model, job.prompt.ids, tokens, job.request.top_logprobs)
        tail = job.prompt.tail
        out = []
        for j, (tok, lp, top) in enumerate(zip(tokens, chosen, tops)):
            before = tail + tokens[:j]
            alts = [(self._shown(piece_after(self.tokenizer, before, t), t), v) for t, v in top]
            out.append(token_logprob(self._shown(token_pieces[j], tok), lp, alts))
        return out

    def _shown(self, piece: str, token: int) -> str:
        """A token as logprobs show it: its piece of the text, or its name if it has none."""
        if piece or token not in self._special:
            return piece
        return self.tokenizer.convert_ids_to_tokens(token)
