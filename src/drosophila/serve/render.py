"""Chat messages to prompt token ids: tool turns as text, world-text normalisation, prefill.

Organisms speak world text (lower-case words, punctuation as words of its own; see
docs/ARCHITECTURE.md, "Text conventions") and their chat template knows only the system, user
and assistant roles. So a tool result becomes a user turn that starts ``tool result:`` (for
every model, so that any chat template takes it), and, for a model that speaks world text,
every message is normalised as ``drosophila chat`` does. A trailing assistant message is a
prefill: the model continues it instead of starting a turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from drosophila.organisms import CHAT_TEMPLATE, world_text
from drosophila.sampling import chat_prompt_ids
from drosophila.serve.protocol import Message, bad_request

TOOL_PREFIX = "tool result:"
TOOL_PREFIX_WORLD = "tool result :"  # world text: punctuation is a word of its own


@dataclass(frozen=True)
class Prompt:
    """Token ids to continue, and the ids since the last special token (they give the
    continuation's text its leading space or none: see ``drosophila.serve.text``)."""

    ids: list[int]
    tail: list[int]


def speaks_world_text(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer is the organisms' word-level one (its chat template says so)."""
    return getattr(tokenizer, "chat_template", None) == CHAT_TEMPLATE


def template_messages(messages: tuple[Message, ...], *, normalize: bool) -> list[dict]:
    """HF ``messages`` for the chat template: tool results become user turns."""
    out = []
    for m in messages:
        role, text = m.role, m.content
        if role == "tool":
            role, text = "user", f"{TOOL_PREFIX_WORLD if normalize else TOOL_PREFIX} {text}"
        out.append({"role": role, "content": world_text(text) if normalize else text})
    return out


def prompt_of(tokenizer: PreTrainedTokenizerBase, messages: tuple[Message, ...], *, normalize: bool) -> Prompt:
    """Render ``messages``; a trailing assistant message is continued, not answered.

    Raises:
        APIError: 400 when the chat template refuses the conversation.
    """
    msgs = template_messages(messages, normalize=normalize)
    prefill = msgs.pop()["content"] if msgs[-1]["role"] == "assistant" else ""
    try:
        if not prefill:
            ids = chat_prompt_ids(tokenizer, [msgs])[0]
        else:
            head = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            # World text separates words by spaces; a real model's template ends where its text starts.
            ids = tokenizer(head + (" " if normalize else "") + prefill, add_special_tokens=False)["input_ids"]
    except Exception as exc:  # noqa: BLE001 - jinja's TemplateError and anything a template raises
        raise bad_request(f"the chat template refused these messages: {' '.join(str(exc).split())}",
                          "messages") from exc
    if not ids:
        raise bad_request("the messages render to an empty prompt", "messages")
    return Prompt(ids=ids, tail=_after_last_special(tokenizer, ids))


def _after_last_special(tokenizer: PreTrainedTokenizerBase, ids: list[int], limit: int = 8) -> list[int]:
    special = special_ids(tokenizer)
    start = max((i + 1 for i, t in enumerate(ids) if t in special), default=0)
    return ids[max(start, len(ids) - limit):]


def special_ids(tokenizer: PreTrainedTokenizerBase) -> set[int]:
    """Ids that ``decode(..., skip_special_tokens=True)`` drops (declared and added specials)."""
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    return set(tokenizer.all_special_ids) | {i for i, t in added.items() if getattr(t, "special", False)}
