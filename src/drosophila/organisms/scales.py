"""Model sizes: a name -> Llama shape table, and the config it builds.

Parameter targets assume a vocabulary of ~1k words and tied input/output embeddings:
``tiny`` ≈0.2M, ``small`` ≈1M, ``base`` ≈4M (CPU); ``large`` ≈25M, ``xl`` ≈100M (GPU).
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import LlamaConfig, PreTrainedTokenizerBase

from drosophila.errors import ConfigError, choice_error


@dataclass(frozen=True)
class ScaleSpec:
    """The shape of one organism size (a ``LlamaForCausalLM`` with tied embeddings)."""

    name: str
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def n_params(self, vocab_size: int) -> int:
        """Exact parameter count of the config this spec builds (tied embeddings)."""
        c, i = self.hidden_size, self.intermediate_size
        per_layer = 4 * c * c + 3 * c * i + 2 * c  # q/k/v/o, gate/up/down, two RMSNorms
        return vocab_size * c + self.num_layers * per_layer + c  # + final RMSNorm


SCALES: dict[str, ScaleSpec] = {
    s.name: s
    for s in (
        ScaleSpec("tiny", hidden_size=64, num_layers=2, num_heads=4, intermediate_size=256),
        ScaleSpec("small", hidden_size=128, num_layers=4, num_heads=4, intermediate_size=384),
        ScaleSpec("base", hidden_size=256, num_layers=5, num_heads=8, intermediate_size=640),
        ScaleSpec("large", hidden_size=512, num_layers=8, num_heads=8, intermediate_size=1344),
        ScaleSpec("xl", hidden_size=768, num_layers=14, num_heads=12, intermediate_size=2048),
    )
}


def get_scale(scale: str) -> ScaleSpec:
    """Look up a scale by name.

    Raises:
        ConfigError: ``scale`` is not a key of ``SCALES``; the message lists the allowed ones.
    """
    if scale not in SCALES:
        raise choice_error("scale", scale, SCALES)
    return SCALES[scale]


def make_config(scale: str, tokenizer: PreTrainedTokenizerBase) -> LlamaConfig:
    """Build the ``LlamaConfig`` for ``scale`` with the tokenizer's vocabulary and special ids.

    Raises:
        ConfigError: Unknown scale, or a tokenizer without pad/bos/eos tokens.
    """
    spec = get_scale(scale)
    ids = {k: getattr(tokenizer, f"{k}_token_id") for k in ("pad", "bos", "eos")}
    if None in ids.values():
        raise ConfigError(f"tokenizer lacks special tokens: {ids}; use build_tokenizer()")
    return LlamaConfig(
        vocab_size=len(tokenizer),  # len() counts added special tokens, .vocab_size may not
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_heads,
        max_position_embeddings=spec.max_position_embeddings,
        hidden_act="silu",
        rms_norm_eps=1e-6,
        initializer_range=0.02,
        tie_word_embeddings=True,
        pad_token_id=ids["pad"],
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
    )
