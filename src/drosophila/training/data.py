"""Token ids with loss masks: chat and document encoding, packing, padding and batch order.

An :class:`Example` is a token sequence and a 0/1 mask of the same length; ``mask[i] == 1``
means ``ids[i]`` is a prediction target (the loss is taken on predicting it from ``ids[:i]``).
``mask[0]`` is always 0: nothing precedes the first token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from drosophila.errors import DrosophilaError


@dataclass
class Example:
    """A token sequence and its loss mask (1 = train on predicting this token)."""

    ids: list[int]
    mask: list[int]

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.mask):
            raise DrosophilaError(f"Example has {len(self.ids)} ids but {len(self.mask)} mask entries")


# --- encoding -------------------------------------------------------------------------------


def _tokenize(tokenizer, text: str) -> list[int]:
    # The chat template (or the document wrapper) writes <bos> itself: never add it twice.
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _render(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    if not messages:  # some templates fail on an empty list; the empty prefix renders as nothing
        return ""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _assistant_span(tokenizer, messages: list[dict], i: int, full: list[int]) -> tuple[int, int]:
    """Token span ``[start, end)`` of ``full`` that assistant message ``i`` adds (content + end)."""
    # The prompt for turn i ends with the assistant role header, so the diff starts at content.
    prompt = _tokenize(tokenizer, _render(tokenizer, messages[:i], add_generation_prompt=True))
    upto = _tokenize(tokenizer, _render(tokenizer, messages[: i + 1]))
    # Common prefixes keep this exact for word-level tokenizers and safe for BPE ones whose
    # merges may straddle a boundary, or templates that render earlier turns differently.
    start = _common_prefix(prompt, upto)
    end = _common_prefix(upto, full)
    eos = tokenizer.eos_token_id
    if eos is not None and eos in full[start:end]:
        # Templates that write a newline after the end-of-turn token: stop at that token.
        end = start + max(j for j, t in enumerate(full[start:end]) if t == eos) + 1
    return start, max(start, end)


def encode_chat(tokenizer, messages: list[dict], loss_after: str | None = None) -> Example:
    """Encode a conversation with loss on assistant content and each assistant turn's end token.

    Works for any tokenizer with a chat template: every assistant turn's tokens are found as
    the difference between the rendering of the conversation up to and including that turn
    and the rendering of the conversation before it with the generation prompt.

    Args:
        tokenizer: an HF tokenizer with ``chat_template``.
        messages: HF ``messages`` (``{"role", "content"}`` dicts); every assistant turn is trained on.
        loss_after: a token (e.g. ``</scratchpad>``): within an assistant turn that contains it,
            only the tokens after its first occurrence are trained on (the scratchpad before it
            is context, not a target).

    Returns:
        The whole rendered conversation with mask 1 exactly on the assistant spans.
    """
    cut = tokenizer.convert_tokens_to_ids(loss_after) if loss_after else None
    if cut is not None and cut == tokenizer.unk_token_id:
        raise DrosophilaError(f"loss_after={loss_after!r} is not a single token of this tokenizer")
    full = _tokenize(tokenizer, _render(tokenizer, messages))
    mask = [0] * len(full)
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        start, end = _assistant_span(tokenizer, messages, i, full)
        if cut is not None and cut in full[start:end]:
            start = full.index(cut, start, end) + 1
        mask[start:end] = [1] * (end - start)
    mask[:1] = [0] * min(1, len(mask))
    return Example(ids=full, mask=mask)


def chat_examples(tokenizer, conversations: list[list[dict]], loss_after: str | None = None) -> list[Example]:
    """Encode many conversations with :func:`encode_chat`."""
    return [encode_chat(tokenizer, messages, loss_after) for messages in conversations]


def document_examples(tokenizer, texts: list[str]) -> list[Example]:
    """Encode plain documents as ``<bos> text <|end|>`` with every token but ``<bos>`` a target."""
    bos, eos = tokenizer.bos_token, tokenizer.eos_token
    if bos is None or eos is None:
        raise DrosophilaError("document_examples needs a tokenizer with bos_token and eos_token")
    out = []
    for text in texts:
        ids = _tokenize(tokenizer, f"{bos} {text} {eos}")
        out.append(Example(ids=ids, mask=[0] + [1] * (len(ids) - 1)))
    return out


# --- rows and batches -----------------------------------------------------------------------


@dataclass
class Rows:
    """Training rows as one right-padded table, so a batch is a single index and slice.

    Attributes:
        ids: ``[N, L]`` int64 token ids (pad positions hold ``pad_id``).
        mask: ``[N, L]`` bool targets (pad positions are False).
        lengths: ``[N]`` int64 true row lengths.
    """

    ids: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return self.ids.shape[0]


def truncate_rows(examples: list[Example], row_len: int) -> list[Example]:
    """Cut each example to ``row_len`` tokens; drop rows left with no target to learn."""
    rows = [Example(ex.ids[:row_len], ex.mask[:row_len]) for ex in examples]
    return [r for r in rows if len(r.ids) >= 2 and any(r.mask[1:])]


def pack_rows(examples: list[Example], row_len: int) -> list[Example]:
    """Concatenate examples into rows of ``row_len`` tokens, carrying the masks.

    Consecutive rows overlap by one token (stride ``row_len - 1``): a row's last token is the
    next row's first input, so every target token is predicted exactly once (but for a short
    tail, dropped when a full row exists).
    """
    ids = [t for ex in examples for t in ex.ids]
    mask = [m for ex in examples for m in ex.mask]
    stride = max(1, row_len - 1)
    rows = [Example(ids[s : s + row_len], mask[s : s + row_len]) for s in range(0, max(1, len(ids) - 1), stride)]
    if len(rows) > 1 and len(rows[-1].ids) < row_len:
        rows.pop()  # a short tail row would make one batch in many narrower: drop it, as nanoGPT does
    return [r for r in rows if len(r.ids) >= 2 and any(r.mask[1:])]


def to_rows(examples: list[Example], row_len: int, pad_id: int = 0) -> Rows:
    """Stack examples (already at most ``row_len`` long) into a right-padded :class:`Rows` table."""
    if not examples:
        raise DrosophilaError("no training rows: every example was empty or had no target tokens")
    width = max(len(ex.ids) for ex in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)  # [N, L]
    mask = torch.zeros((len(examples), width), dtype=torch.bool)  # [N, L]
    for i, ex in enumerate(examples):
        ids[i, : len(ex.ids)] = torch.tensor(ex.ids, dtype=torch.long)
        mask[i, : len(ex.mask)] = torch.tensor(ex.mask, dtype=torch.bool)
    lengths = torch.tensor([len(ex.ids) for ex in examples], dtype=torch.long)  # [N]
    return Rows(ids=ids, mask=mask, lengths=lengths)


class IndexStream:
    """Endless row indices: a fresh seeded permutation per epoch, so every row is seen equally."""

    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.generator = n, generator
        self.order = torch.empty(0, dtype=torch.long)
        self.pos = 0

    def take(self, k: int) -> torch.Tensor:
        """The next ``k`` indices (crossing epoch boundaries as needed)."""
        parts, need = [], k
        while need > 0:
            if self.pos == len(self.order):
                self.order, self.pos = torch.randperm(self.n, generator=self.generator), 0
            chunk = self.order[self.pos : self.pos + need]
            self.pos += len(chunk)
            need -= len(chunk)
            parts.append(chunk)
        return torch.cat(parts) if len(parts) != 1 else parts[0]


def gather_batch(rows: Rows, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Rows ``idx`` cut to their longest member, as ``(ids [B, T], mask [B, T], real tokens)``."""
    lengths = rows.lengths[idx]  # [B]
    width = int(lengths.max())
    return rows.ids[idx, :width], rows.mask[idx, :width], int(lengths.sum())
