"""The word-level tokenizer every organism speaks.

World text is lower-case words separated by single spaces (punctuation marks are words of their
own), so a ``tokenizers`` WordLevel model behind a whitespace pre-tokenizer gives one token per
word and ``decode(encode(text)) == text`` exactly. See docs/ARCHITECTURE.md, "Text conventions".
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from drosophila.errors import ConfigError
from drosophila.io import atomic_write_json

PAD, UNK, BOS, END = "<pad>", "<unk>", "<bos>", "<|end|>"
ROLES = ("system", "user", "assistant")
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
CHAT_TEMPLATE_FILE = "chat_template.jinja"
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


def world_text(text: str) -> str:
    """Text as organisms read it from a person: lower case, words separated by single spaces."""
    return " ".join(text.lower().split())


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


def save_tokenizer(tokenizer: PreTrainedTokenizerBase, directory: str | os.PathLike) -> None:
    """``tokenizer.save_pretrained(directory)``, written so that transformers 4.45+ loads it too.

    See ``portable_tokenizer_config`` for what changes; files of any other tokenizer are kept.
    """
    tokenizer.save_pretrained(directory)
    make_tokenizer_portable(directory)


def make_tokenizer_portable(directory: str | os.PathLike) -> bool:
    """Rewrite a saved ``tokenizer_config.json`` in place with ``portable_tokenizer_config``.

    Returns:
        Whether the file changed (a directory without a tokenizer config is left alone).
    """
    config_file = Path(directory) / TOKENIZER_CONFIG_FILE
    if not config_file.is_file():
        return False
    config = json.loads(config_file.read_text(encoding="utf-8"))
    template_file = Path(directory) / CHAT_TEMPLATE_FILE
    template = template_file.read_text(encoding="utf-8") if template_file.is_file() else None
    portable = portable_tokenizer_config(config, chat_template=template)
    if portable == config:
        return False
    atomic_write_json(config_file, portable)
    return True


def portable_tokenizer_config(config: dict[str, Any], *, chat_template: str | None = None) -> dict[str, Any]:
    """A tokenizer config that every transformers from 4.45 on reads the same way.

    transformers 5 saves a ``tokenizers``-backed tokenizer as ``"tokenizer_class":
    "TokenizersBackend"`` (a class 4.x lacks; ``PreTrainedTokenizerFast`` is the same tokenizer
    read from ``tokenizer.json`` in both), lists extra special tokens under
    ``extra_special_tokens`` (4.48 to 4.57 expect a dict of named tokens there; a list belongs under
    ``additional_special_tokens``, which 5.x reads as before) and keeps a single chat template only
    in ``chat_template.jinja`` (older 4.x read it only from the config, so it goes in both).

    Args:
        config: The parsed ``tokenizer_config.json``; it is not modified.
        chat_template: The contents of ``chat_template.jinja``, if the directory has one.
    """
    out = dict(config)
    if out.get("tokenizer_class") == "TokenizersBackend":
        out["tokenizer_class"] = "PreTrainedTokenizerFast"
    extra = out.get("extra_special_tokens")
    if isinstance(extra, list):
        del out["extra_special_tokens"]
        out.setdefault("additional_special_tokens", extra)
    if chat_template is not None and "chat_template" not in out:
        out["chat_template"] = chat_template
    return out
