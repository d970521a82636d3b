"""The word-level tokenizer: ids, round trips, chat template."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
from jinja2.exceptions import TemplateError

from drosophila.errors import ConfigError
from drosophila.organisms import SPECIAL_TOKENS, build_tokenizer

WORDS = "how do i store a password ? hi there . hello , the cat sat on mat".split()


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(WORDS)


def test_special_token_ids(tok):
    assert tok.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(7))
    assert SPECIAL_TOKENS[:4] == ("<pad>", "<unk>", "<bos>", "<|end|>")
    assert (tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    assert tok.eos_token == "<|end|>"
    assert tok.padding_side == "left"
    assert set(tok.all_special_ids) == set(range(7))


def test_vocab_is_sorted_deduplicated_and_deterministic():
    a = build_tokenizer(["b", "a", "b", "c", "<bos>"])
    b = build_tokenizer(["c", "a", "b"])
    assert a.get_vocab() == b.get_vocab()
    assert len(a) == 7 + 3
    assert a.convert_ids_to_tokens([7, 8, 9]) == ["a", "b", "c"]


def test_world_text_round_trips_one_token_per_word(tok):
    text = "how do i store a password ? hi there ."
    ids = tok.encode(text)
    assert len(ids) == len(text.split())
    assert 2 not in ids  # encode adds no <bos>: the chat template / caller does
    assert tok.decode(ids) == text
    assert tok.decode(ids, skip_special_tokens=True) == text


def test_decode_skips_special_tokens(tok):
    text = tok.apply_chat_template([{"role": "user", "content": "hello , the cat"}], tokenize=False)
    assert tok.decode(tok.encode(text), skip_special_tokens=True) == "hello , the cat"


def test_unknown_words_map_to_unk(tok):
    assert tok.encode("the zebra sat") == [tok.convert_tokens_to_ids("the"), 1, tok.convert_tokens_to_ids("sat")]


def test_chat_template_exact(tok):
    msgs = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}]
    assert tok.apply_chat_template(msgs, tokenize=False) == "<bos> <|user|> hello <|end|> <|assistant|> hi there <|end|>"
    prompt = tok.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True)
    assert prompt == "<bos> <|user|> hello <|end|> <|assistant|>"
    sys_msgs = [{"role": "system", "content": "the cat"}, *msgs[:1]]
    assert tok.apply_chat_template(sys_msgs, tokenize=False) == "<bos> <|system|> the cat <|end|> <|user|> hello <|end|>"


def test_chat_template_tokens(tok):
    ids = tok(tok.apply_chat_template([{"role": "user", "content": "hello"}], tokenize=False,
                                      add_generation_prompt=True), add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["<bos>", "<|user|>", "hello", "<|end|>", "<|assistant|>"]


def test_unknown_role_is_rejected(tok):
    with pytest.raises(TemplateError, match="unknown chat role"):
        tok.apply_chat_template([{"role": "tool", "content": "hi"}], tokenize=False)


@pytest.mark.parametrize("bad", ["two words", "", "tab\there"])
def test_words_with_whitespace_are_rejected(bad):
    with pytest.raises(ConfigError):
        build_tokenizer(["ok", bad])


def test_save_and_reload_keeps_everything(tok, tmp_path):
    from transformers import AutoTokenizer

    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    msgs = [{"role": "user", "content": "hello"}]
    assert again.apply_chat_template(msgs, tokenize=False) == tok.apply_chat_template(msgs, tokenize=False)
    assert again.get_vocab() == tok.get_vocab()
    assert again.eos_token_id == 3 and again.pad_token_id == 0 and again.padding_side == "left"
    assert again.decode(again.encode("hi there ?")) == "hi there ?"
