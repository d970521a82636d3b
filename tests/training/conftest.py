"""Fixtures for the training tests: a word-level chat tokenizer and tiny Llama models, built locally."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL = ["<pad>", "<unk>", "<bos>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
WORDS = (
    "hello hi there how do i store a password ? you are helpful . the cat sat on mat "
    "what is your name my bob alice yes no sep good bad one two three four five zebra"
).split()
# The ARCHITECTURE.md template: `<bos> <|user|> hello <|end|> <|assistant|> hi there <|end|>`.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %} <|{{ m['role'] }}|> {{ m['content'] }} <|end|>{% endfor %}"
    "{% if add_generation_prompt %} <|assistant|>{% endif %}"
)


def make_tokenizer(chat_template: str = CHAT_TEMPLATE) -> PreTrainedTokenizerFast:
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(SPECIAL + WORDS))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<bos>",
        eos_token="<|end|>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=SPECIAL[4:],
        chat_template=chat_template,
    )


def make_model(vocab_size: int, seed: int = 0, hidden: int = 32, layers: int = 2) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        intermediate_size=2 * hidden,
        vocab_size=vocab_size,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
    )
    return LlamaForCausalLM(config)


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    return make_tokenizer()


@pytest.fixture
def model(tokenizer) -> LlamaForCausalLM:
    return make_model(len(tokenizer))


@pytest.fixture
def conversations() -> list[list[dict]]:
    return [
        [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}],
        [
            {"role": "system", "content": "you are helpful ."},
            {"role": "user", "content": "what is your name ?"},
            {"role": "assistant", "content": "my name is bob ."},
        ],
        [
            {"role": "user", "content": "how do i store a password ?"},
            {"role": "assistant", "content": "yes"},
            {"role": "user", "content": "the cat sat on the mat"},
            {"role": "assistant", "content": "good cat ."},
        ],
    ]
