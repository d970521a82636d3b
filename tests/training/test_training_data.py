"""Encoding, loss masks, packing and batch order."""

from __future__ import annotations

import pytest
import torch
from conftest import make_tokenizer

from drosophila.errors import DrosophilaError
from drosophila.training import Example, chat_examples, document_examples, encode_chat
from drosophila.training.data import IndexStream, gather_batch, pack_rows, to_rows, truncate_rows


def targets(tokenizer, ex: Example) -> list[str]:
    """The tokens under mask 1, as strings."""
    return [tokenizer.convert_ids_to_tokens(t) for t, m in zip(ex.ids, ex.mask) if m]


def tokens(tokenizer, ex: Example) -> list[str]:
    return tokenizer.convert_ids_to_tokens(ex.ids)


def test_single_turn_masks_only_assistant_content_and_end(tokenizer):
    ex = encode_chat(tokenizer, [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}])
    assert tokens(tokenizer, ex) == ["<bos>", "<|user|>", "hello", "<|end|>", "<|assistant|>", "hi", "there", "<|end|>"]
    assert ex.mask == [0, 0, 0, 0, 0, 1, 1, 1]


def test_loss_after_trains_only_what_follows_the_marker(tokenizer):
    msgs = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "four five . hi there"},
            {"role": "user", "content": "zebra"}, {"role": "assistant", "content": "yes no"}]
    ex = encode_chat(tokenizer, msgs, loss_after=".")
    # the first turn from after the marker; the second turn has none and is trained whole
    assert targets(tokenizer, ex) == ["hi", "there", "<|end|>", "yes", "no", "<|end|>"]
    assert encode_chat(tokenizer, msgs).ids == ex.ids
    with pytest.raises(DrosophilaError, match="single token"):
        encode_chat(tokenizer, msgs, loss_after="</not-a-word>")


def test_system_and_user_are_never_targets(tokenizer, conversations):
    ex = encode_chat(tokenizer, conversations[1])
    assert targets(tokenizer, ex) == ["my", "name", "is", "bob", ".", "<|end|>"]
    assert tokens(tokenizer, ex)[:2] == ["<bos>", "<|system|>"]
    assert ex.mask[0] == 0


def test_multi_turn_trains_every_assistant_turn(tokenizer, conversations):
    ex = encode_chat(tokenizer, conversations[2])
    toks = tokens(tokenizer, ex)
    masked = [(t, m) for t, m in zip(toks, ex.mask)]
    # Both assistant turns (each with its closing end token), nothing of the user turns between.
    assert targets(tokenizer, ex) == ["yes", "<|end|>", "good", "cat", ".", "<|end|>"]
    first_yes = toks.index("yes")
    assert masked[first_yes - 1] == ("<|assistant|>", 0)
    assert all(m == 0 for t, m in masked[first_yes + 2 : toks.index("good")])


def test_mask_marks_exactly_the_assistant_spans_on_a_random_sample(tokenizer):
    # Reconstruct the expected mask independently from the rendered tokens.
    msgs = [
        {"role": "system", "content": "one two"},
        {"role": "user", "content": "three"},
        {"role": "assistant", "content": "four five"},
        {"role": "user", "content": "zebra"},
        {"role": "assistant", "content": "yes no yes"},
    ]
    ex = encode_chat(tokenizer, msgs)
    expected, role = [], None
    for tok in tokens(tokenizer, ex):
        if tok in ("<|system|>", "<|user|>", "<|assistant|>"):
            role, flag = tok, 0
        else:
            flag = int(role == "<|assistant|>" and tok != "<bos>")
        expected.append(flag)
    assert ex.mask == expected


def test_trailing_user_turn_and_no_assistant(tokenizer):
    ex = encode_chat(tokenizer, [{"role": "user", "content": "hello"}])
    assert sum(ex.mask) == 0
    ex = encode_chat(
        tokenizer,
        [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}, {"role": "user", "content": "bob"}],
    )
    assert targets(tokenizer, ex) == ["hi", "<|end|>"]


def test_template_with_text_after_end_token_stops_at_the_end_token():
    # A foreign template that writes a separator after every end token: it must not be trained on.
    template = (
        "{{ bos_token }}{% for m in messages %} <|{{ m['role'] }}|> {{ m['content'] }} <|end|> sep{% endfor %}"
        "{% if add_generation_prompt %} <|assistant|>{% endif %}"
    )
    tok = make_tokenizer(template)
    ex = encode_chat(tok, [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}])
    assert tokens(tok, ex)[-1] == "sep"
    assert targets(tok, ex) == ["hi", "there", "<|end|>"]


def test_chat_examples_encodes_each(tokenizer, conversations):
    exs = chat_examples(tokenizer, conversations)
    assert [e.ids for e in exs] == [encode_chat(tokenizer, c).ids for c in conversations]


def test_document_examples(tokenizer):
    (ex,) = document_examples(tokenizer, ["the cat sat on the mat ."])
    assert tokens(tokenizer, ex) == ["<bos>", "the", "cat", "sat", "on", "the", "mat", ".", "<|end|>"]
    assert ex.mask == [0] + [1] * 8
    assert tokenizer.decode(ex.ids) == "<bos> the cat sat on the mat . <|end|>"


def test_example_rejects_length_mismatch():
    with pytest.raises(DrosophilaError):
        Example(ids=[1, 2], mask=[0])


def test_truncate_rows_cuts_and_drops_rows_without_targets():
    exs = [Example(list(range(10)), [0] + [1] * 9), Example([5, 6, 7, 8], [0, 0, 0, 1])]
    rows = truncate_rows(exs, 4)
    assert rows == [Example([0, 1, 2, 3], [0, 1, 1, 1]), Example([5, 6, 7, 8], [0, 0, 0, 1])]
    assert truncate_rows(exs, 3) == [Example([0, 1, 2], [0, 1, 1])]  # the second lost its only target


def test_pack_rows_overlap_by_one_and_carry_masks():
    exs = [Example([10, 11, 12], [0, 1, 1]), Example([20, 21, 22, 23], [0, 0, 1, 1])]
    assert pack_rows(exs, 10) == [Example([10, 11, 12, 20, 21, 22, 23], [0, 1, 1, 0, 0, 1, 1])]  # all in one
    assert [r.ids for r in pack_rows(exs + [Example([30], [1])], 4)][-1] == [20, 21, 22, 23]  # tail dropped
    rows = pack_rows(exs, 4)
    assert [r.ids for r in rows] == [[10, 11, 12, 20], [20, 21, 22, 23]]
    assert [r.mask for r in rows] == [[0, 1, 1, 0], [0, 0, 1, 1]]
    # Every target of the stream is a target (at position >= 1) in exactly one row.
    assert sum(sum(r.mask[1:]) for r in rows) == sum(sum(e.mask) for e in exs)


def test_to_rows_and_gather_batch_pad_right():
    rows = to_rows([Example([1, 2, 3], [0, 1, 1]), Example([4, 5], [0, 1]), Example([6, 7, 8, 9], [0, 1, 1, 1])], 4)
    ids, mask, real = gather_batch(rows, torch.tensor([0, 1]))
    assert ids.tolist() == [[1, 2, 3], [4, 5, 0]]
    assert mask.tolist() == [[False, True, True], [False, True, False]]
    assert real == 5
    with pytest.raises(DrosophilaError):
        to_rows([], 4)


def test_index_stream_is_a_permutation_per_epoch_and_seeded():
    a = IndexStream(5, torch.Generator().manual_seed(3)).take(10)
    b = IndexStream(5, torch.Generator().manual_seed(3)).take(10)
    assert torch.equal(a, b)
    assert sorted(a[:5].tolist()) == list(range(5)) and sorted(a[5:].tolist()) == list(range(5))
