"""The ``drosophila/<path>`` model provider: an organism (or a local HF causal LM) in Inspect.

``inspect eval TASK --model drosophila/runs/.../organisms/insecure-s0`` loads the directory with
:func:`drosophila.organisms.load_organism` (local files only, weights checked against their
hashes) and samples with Drosophila's own sampler. Token counts come from the model's tokenizer,
so nothing downloads a tokenizer (Inspect's default counter fetches tiktoken's).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from drosophila.errors import ConfigError
from drosophila.inspect_ext._batching import Batcher
from drosophila.inspect_ext._messages import conversation, cut_at_stop
from drosophila.organisms import Organism, load_organism, world_text
from drosophila.organisms.checkpoint import ORGANISM_FILE
from drosophila.sampling import SamplingConfig, chat_prompt_ids, generate
from drosophila.seeding import configure_torch


@dataclass
class ProviderArgs:
    """What ``-M key=value`` may set.

    Attributes:
        device: Where the model runs (default: CUDA when available, else CPU).
        batch_size: Most concurrent requests decoded together. 1 (the default) decodes each
            request alone, so an answer depends only on its prompt, settings and seed; more is
            faster on a GPU, but then a sampled answer depends on which requests shared its batch.
        normalise: Lower-case inputs and collapse their whitespace (world text). Default: on for
            organisms (a directory with ``organism.json``), off for other models.
        threads: Torch intra-op threads (default: ``DROSOPHILA_THREADS`` or 1).
        organism: A live :class:`~drosophila.organisms.Organism` to serve instead of loading
            the path (Python API only; the model name is then just its label).
    """

    device: str | None = None
    batch_size: int = 1
    normalise: bool | None = None
    threads: int | None = None
    organism: Organism | None = None

    @classmethod
    def parse(cls, model_args: dict[str, Any]) -> ProviderArgs:
        args = dict(model_args)
        if "normalize" in args:
            args["normalise"] = args.pop("normalize")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(args) - known)
        if unknown:
            raise ConfigError(f"drosophila model args {unknown} are not known; choose from: "
                              f"{', '.join(sorted(known))}")
        out = cls(**args)
        if int(out.batch_size) < 1:
            raise ConfigError(f"batch_size={out.batch_size} must be >= 1")
        out.batch_size = int(out.batch_size)
        return out


@dataclass(frozen=True)
class _Request:
    ids: list[int]
    sampling: SamplingConfig


class DrosophilaAPI(ModelAPI):
    """Inspect's ``ModelAPI`` over a Drosophila organism or a local HF causal-LM directory."""

    def __init__(self, model_name: str, base_url: str | None = None, api_key: str | None = None,
                 config: GenerateConfig = GenerateConfig(), **model_args: Any) -> None:
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        args = ProviderArgs.parse(model_args)
        configure_torch(args.threads)
        path = Path(model_name).expanduser()
        if args.organism is not None:
            org = args.organism
            if args.device:
                org.model.to(args.device)
        else:
            org = load_organism(path, device=args.device)
        self.model, self.tokenizer = org.model, org.tokenizer
        self.organism_meta: dict = dict(org.meta)  # scale, lineage (its world): tasks read it
        is_organism = args.organism is not None or (path / ORGANISM_FILE).is_file()
        self.normalise = is_organism if args.normalise is None else bool(args.normalise)
        self.batch_size = args.batch_size
        self._calls = 0  # seeds requests that carry no seed of their own
        self._batcher = Batcher(self._generate_batch, max_rows=self.batch_size)

    async def generate(self, input: list[ChatMessage], tools: list[ToolInfo], tool_choice: ToolChoice,
                       config: GenerateConfig) -> ModelOutput:
        """Sample one assistant turn; tools are not offered (organisms cannot call them)."""
        start = time.monotonic()
        ids = self._prompt_ids(input)
        room = self._room(len(ids))
        wanted = config.max_tokens if config.max_tokens is not None else self.max_tokens()
        if room <= 0:
            return self._output("", "model_length", len(ids), 0, start)
        sampling = self._sampling(config, min(wanted, room))
        new = await self._batcher.submit(_Request(ids, sampling), key=_batch_key(sampling))
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, config.stop_seqs or [])
        if stopped or len(new) < sampling.max_new_tokens:
            reason = "stop"
        else:
            reason = "max_tokens" if wanted <= room else "model_length"
        return self._output(text, reason, len(ids), len(new), start)

    def _sampling(self, config: GenerateConfig, max_new: int) -> SamplingConfig:
        defaults = SamplingConfig()
        seed = config.seed
        if seed is None:  # a fresh draw per call, in call order
            seed, self._calls = self._calls, self._calls + 1
        return SamplingConfig(
            max_new_tokens=max_new,
            temperature=defaults.temperature if config.temperature is None else config.temperature,
            top_p=defaults.top_p if config.top_p is None else config.top_p,
            batch_size=self.batch_size,
            seed=seed,
        )

    def _generate_batch(self, requests: list[_Request]) -> list[list[int]]:
        """Runs in a worker thread; every request here shares its settings but the seed."""
        first = requests[0].sampling
        return generate(self.model, self.tokenizer, [r.ids for r in requests], first)

    def _output(self, text: str, reason: str, n_in: int, n_out: int, start: float) -> ModelOutput:
        message = ChatMessageAssistant(content=text, model=self.model_name, source="generate")
        return ModelOutput(
            model=self.model_name,
            choices=[ChatCompletionChoice(message=message, stop_reason=reason)],
            usage=ModelUsage(input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out),
            time=time.monotonic() - start,
        )

    def _prompt_ids(self, messages: list[ChatMessage]) -> list[int]:
        conv = conversation(messages, world_text if self.normalise else None)
        return chat_prompt_ids(self.tokenizer, [conv])[0]

    def _room(self, n_prompt: int) -> int:
        """New tokens that still fit the model's context after a prompt of ``n_prompt``."""
        limit = getattr(self.model.config, "max_position_embeddings", None)
        return 2**31 if limit is None else limit - n_prompt

    # -- token counting: the model's own tokenizer, never tiktoken -------------------------
    async def count_text_tokens(self, text: str) -> int:
        return len(await self.tokenize(text))

    async def count_tokens(self, input: str | list[ChatMessage], config: GenerateConfig | None = None) -> int:
        """Tokens of a text, or of a conversation as the chat template renders it for generation."""
        if isinstance(input, str):
            return await self.count_text_tokens(input)
        return len(self._prompt_ids(input))

    async def tokenize(self, text: str) -> list[int]:
        text = world_text(text) if self.normalise else text
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # -- defaults ---------------------------------------------------------------------------
    def max_tokens(self) -> int | None:
        return SamplingConfig().max_new_tokens

    def max_connections(self) -> int:
        return self.batch_size


def _batch_key(s: SamplingConfig) -> tuple:
    """Requests that may share a batch: the same settings but the seed."""
    return (s.max_new_tokens, s.temperature, s.top_p)
