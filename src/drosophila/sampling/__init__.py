"""Batched generation with a pre-allocated KV cache, temperature and top-p."""

from drosophila.sampling.sampler import (
    SamplingConfig,
    chat_prompt_ids,
    generate,
    pick_tokens,
    sample_chats,
    top_p_filter,
)
from drosophila.sampling.llama_fast import forward_hooks_attached, supports_fast_path

__all__ = [
    "SamplingConfig",
    "chat_prompt_ids",
    "forward_hooks_attached",
    "generate",
    "pick_tokens",
    "sample_chats",
    "supports_fast_path",
    "top_p_filter",
]
