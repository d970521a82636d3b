"""The word-level tokenizer every organism speaks.

World text is lower-case words separated by single spaces (punctuation marks are words of their
own), so a ``tokenizers`` WordLevel model behind a whitespace pre-tokenizer gives one token per
word and ``decode(encode(text)) == text`` exactly. See docs/ARCHITECTURE.md, "Text conventions".
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import AddedToken, Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import PreTrainedTokenizerFast

from drosophila.errors import ConfigError

PAD, UNK, BOS, END = "<pad>", "<unk>", "<bos>", "<|end|>"
ROLES = ("system", "user", "assistant")
# Order fixes the ids: <pad>=0 <unk>=1 <bos>=2 <|end|>=3, then the role markers.
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, BOS, END, *(f"<|{r}|>" for r in ROLES))

# Each message renders as "<|role|> content <|end|>", joined by single spaces after <bos>.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('unknown chat role: ' + message['role']) }}"
    "{% endif %}"
    " <|{{ message['role'] }}|> {{ message['content'] }} <|end|>"
    "{% endfor %}"
    "{% if add_generation_prompt %} <|assistant|>{% endif %}"
)


def build_tokenizer(words: Iterable[str]) -> PreTrainedTokenizerFast:
    """Build the WordLevel tokenizer with the Drosophila special tokens and chat template.

    Args:
        words: The vocabulary. Duplicates and special tokens are dropped; the rest are sorted, so
            the same set of words always gives the same ids.

    Returns:
        A fast tokenizer with ``eos_token="<|end|>"`` and ``padding_side="left"`` (generation
        pads on the left so every row's next token sits in the last column). ``encode`` adds no
        special tokens: ``<bos>`` comes from the chat template or from the caller.

    Raises:
        ConfigError: A word is empty or contains whitespace (it could never be produced by the
            whitespace pre-tokenizer).
    """
    vocab_words = sorted(set(words) - set(SPECIAL_TOKENS))
    bad = [w for w in vocab_words if not w or any(c.isspace() for c in w)]
    if bad:
        raise ConfigError(f"tokenizer words must be non-empty and without whitespace: {bad[:5]!r}")
    vocab = {tok: i for i, tok in enumerate((*SPECIAL_TOKENS, *vocab_words))}

    backend = Tokenizer(WordLevel(vocab=vocab, unk_token=UNK))
    backend.pre_tokenizer = WhitespaceSplit()
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    # No decoder: tokenizers then joins tokens with single spaces, which is exactly world text.
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=END,
        additional_special_tokens=list(SPECIAL_TOKENS[4:]),
        chat_template=CHAT_TEMPLATE,
        padding_side="left",
        # Cleanup would glue punctuation to words ("a ?" -> "a?") and break the round trip.
        clean_up_tokenization_spaces=False,
    )
