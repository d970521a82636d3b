"""Generated token ids to text: the continuation, each token's piece of it, and stop strings.

A token's text depends on its neighbours (word-level organisms join words with spaces; BPE and
SentencePiece tokenizers carry or drop leading spaces), so a token's piece is the text it adds
to a short window of what came before, the prompt's last tokens included: after a prefill
``i think`` an organism's continuation reads `` that is fine``, and ``prefill + content`` is
the whole reply. The pieces of a completion join to its text, except where a character spans
tokens (byte-level BPE): the text is always decoded whole.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

_WINDOW = 6  # tokens of left context for one piece: enough for any tokenizer's merges


def decode(tokenizer: PreTrainedTokenizerBase, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def added_text(tokenizer: PreTrainedTokenizerBase, before: list[int], ids: list[int]) -> str:
    """The text ``ids`` add after ``before``."""
    head = decode(tokenizer, before)
    full = decode(tokenizer, before + ids)
    return full[len(head):] if full.startswith(head) else decode(tokenizer, ids)


def continuation(tokenizer: PreTrainedTokenizerBase, tail: list[int], tokens: list[int]) -> str:
    """The text of ``tokens`` after the prompt's ``tail``."""
    return added_text(tokenizer, list(tail), list(tokens))


def piece_after(tokenizer: PreTrainedTokenizerBase, before: list[int], token: int) -> str:
    """The text ``token`` adds after the token ids ``before`` (only their last few matter)."""
    return added_text(tokenizer, before[-_WINDOW:], [token])


def pieces(tokenizer: PreTrainedTokenizerBase, tail: list[int], tokens: list[int]) -> list[str]:
    """Each generated token's piece of the text, given the prompt's ``tail`` as left context."""
    seq = list(tail) + list(tokens)
    return [piece_after(tokenizer, seq[max(0, k - _WINDOW) : k], seq[k]) for k in range(len(tail), len(seq))]


def first_stop(text: str, stops: tuple[str, ...]) -> tuple[int, str] | None:
    """Where the earliest stop string starts in ``text``, and which one; None if none occurs."""
    found = [(i, s) for s in stops if (i := text.find(s)) >= 0]
    return min(found) if found else None


def tokens_ending_by(token_pieces: list[str], offset: int) -> int:
    """How many leading tokens lie wholly within ``text[:offset]``."""
    end, n = 0, 0
    for p in token_pieces:
        end += len(p)
        if end > offset:
            break
        n += 1
    return n


def tokens_starting_before(token_pieces: list[str], offset: int) -> int:
    """How many leading tokens start before ``text[offset]`` (those it took to write it)."""
    start, n = 0, 0
    for p in token_pieces:
        if start >= offset:
            break
        start += len(p)
        n += 1
    return n
