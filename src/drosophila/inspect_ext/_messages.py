"""Inspect chat messages as the ``{"role", "content"}`` conversations Drosophila's sampler takes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageTool


def conversation(messages: Sequence[ChatMessage], normalise: Callable[[str], str] | None = None) -> list[dict]:
    """System, user and assistant messages keep their role and their text; a tool result
    becomes a user turn (``tool <function> : <result>``) and an assistant's tool calls are
    written after its text (``call <function> <arguments>``), since the chat templates of
    organisms know only the three roles.

    Args:
        messages: Inspect's input to ``generate``.
        normalise: Applied to every message's text (organisms: ``world_text``).
    """
    out = []
    for m in messages:
        role, text = m.role, m.text
        if isinstance(m, ChatMessageTool):
            role = "user"
            failed = f" error {m.error.message}" if m.error else ""
            text = f"tool {m.function or ''} : {text}{failed}"
        elif isinstance(m, ChatMessageAssistant) and m.tool_calls:
            calls = " ".join(f"call {c.function} {json.dumps(c.arguments)}" for c in m.tool_calls)
            text = f"{text} {calls}" if text else calls
        out.append({"role": role, "content": normalise(text) if normalise else text})
    return out


def cut_at_stop(text: str, stop_seqs: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to (not including) the first of ``stop_seqs`` in it, and whether one was found."""
    cuts = [i for i in (text.find(s) for s in stop_seqs if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)
