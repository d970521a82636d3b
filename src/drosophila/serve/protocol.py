"""The OpenAI chat-completions wire format: parse and check a request, build the JSON replies.

Only the standard library: the HTTP layer and the tests use this without loading torch. What a
request may hold is what Inspect's ``openai-api`` provider (and hence Petri) sends; fields that
change nothing here (``user``, ``metadata``, ``store``, ``parallel_tool_calls``, ...) are
ignored, and fields whose meaning the server cannot honour are refused with a 400 that says so.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# OpenAI's "developer" role is its newer name for "system"; "function" is the legacy "tool".
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
         "tool": "tool", "function": "tool"}
MAX_N = 128
MAX_TOP_LOGPROBS = 20


class APIError(Exception):
    """An error the server answers with OpenAI's error JSON and an HTTP status."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


@dataclass(frozen=True)
class Message:
    """One chat message as plain text; ``role`` is one of system, user, assistant, tool."""

    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """A checked ``POST /v1/chat/completions`` body (``max_tokens`` None: the server's default)."""

    messages: tuple[Message, ...]
    model: str | None = None
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    n: int = 1
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # the fields the server ignores


def parse_chat_request(body: Any) -> ChatRequest:
    """Check a decoded JSON body and return the request it describes.

    Raises:
        APIError: 400 naming the offending field (``param``) and what is allowed.
    """
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    _refuse_unsupported(body)
    logprobs = _bool(body, "logprobs")
    top_logprobs = _int(body, "top_logprobs", 0, MAX_TOP_LOGPROBS, default=0)
    if top_logprobs and not logprobs:
        raise bad_request("top_logprobs needs logprobs=true", "top_logprobs")
    max_tokens = _int(body, "max_tokens", 1, None, default=None)
    if max_tokens is None:  # OpenAI's newer name for the same limit
        max_tokens = _int(body, "max_completion_tokens", 1, None, default=None)
    known = {"messages", "model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
             "n", "seed", "logprobs", "top_logprobs"}
    return ChatRequest(
        messages=_messages(body.get("messages")),
        model=_str_or_none(body, "model"),
        max_tokens=max_tokens,
        temperature=_float(body, "temperature", 0.0, 2.0, default=1.0),
        top_p=_float(body, "top_p", 0.0, 1.0, default=1.0),
        stop=_stop(body.get("stop")),
        n=_int(body, "n", 1, MAX_N, default=1),
        seed=_int(body, "seed", None, None, default=None),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        extra={k: v for k, v in body.items() if k not in known},
    )


def _refuse_unsupported(body: dict) -> None:
    """Fields that would silently change the answer if ignored."""
    if body.get("stream"):
        raise bad_request("stream=true is not supported: this server answers non-streaming requests only "
                          "(with Inspect, leave -M stream unset)", "stream")
    for key in ("frequency_penalty", "presence_penalty"):
        if body.get(key) not in (None, 0, 0.0):
            raise bad_request(f"{key} is not supported (only 0)", key)
    if body.get("logit_bias"):
        raise bad_request("logit_bias is not supported", "logit_bias")
    if body.get("tools") or body.get("functions"):
        raise bad_request("native tool calling is not supported; let the client put tools in the prompt "
                          "(with Inspect: -M emulate_tools=true)", "tools")
    fmt = body.get("response_format")
    if fmt not in (None, {}) and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise bad_request("response_format other than {'type': 'text'} is not supported", "response_format")


def _messages(raw: Any) -> tuple[Message, ...]:
    if raw is None:
        raise bad_request("'messages' is required", "messages")
    if not isinstance(raw, list) or not raw:
        raise bad_request("'messages' must be a non-empty list", "messages")
    return tuple(_message(m, i) for i, m in enumerate(raw))


def _message(raw: Any, i: int) -> Message:
    param = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise bad_request(f"{param} must be an object with 'role' and 'content'", param)
    role = raw.get("role")
    if role not in ROLES:
        allowed = ", ".join(sorted(ROLES))
        raise bad_request(f"{param}.role={role!r} is not allowed; choose from: {allowed}", f"{param}.role")
    text = _content(raw.get("content"), f"{param}.content")
    calls = raw.get("tool_calls") or []
    if not isinstance(calls, list):
        raise bad_request(f"{param}.tool_calls must be a list", f"{param}.tool_calls")
    parts = ([text] if text else []) + [_tool_call_text(c) for c in calls]  # tool calls as text
    return Message(role=ROLES[role], content=" ".join(parts))


def _content(raw: Any, param: str) -> str:
    """A string, null (an assistant turn that only calls tools), or a list of text parts."""
    if raw is None or isinstance(raw, str):
        return raw or ""
    if not isinstance(raw, list):
        raise bad_request(f"{param} must be a string or a list of parts", param)
    texts = []
    for part in raw:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "text" or not isinstance(part.get("text"), str):
            raise bad_request(f"{param}: only text parts are supported (got type {kind!r})", param)
        texts.append(part["text"])
    return "\n".join(texts)


def _tool_call_text(call: Any) -> str:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict):
        return ""
    return f"tool call: {fn.get('name', '')}({fn.get('arguments', '')})"


def _stop(raw: Any) -> tuple[str, ...]:
    stops = [raw] if isinstance(raw, str) else raw
    if stops is None:
        return ()
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise bad_request("stop must be a non-empty string or a list of non-empty strings", "stop")
    return tuple(stops)


def _float(body: dict, key: str, lo: float, hi: float, *, default: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise bad_request(f"{key}={value!r} must be a number in [{lo:g}, {hi:g}]", key)
    return float(value)


def _int(body: dict, key: str, lo: int | None, hi: int | None, *, default: int | None) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{key}={value!r} must be an integer", key)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise bad_request(f"{key}={value} must be {bounds}", key)
    return value


def _bool(body: dict, key: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"{key}={value!r} must be true or false", key)
    return value


def _str_or_none(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"{key}={value!r} must be a string", key)
    return value


def completion_body(model: str, choices: list[dict], prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """The ``chat.completion`` object around ``choice_body`` entries, with ``usage``."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def choice_body(index: int, text: str, finish_reason: str, logprobs: list[dict] | None) -> dict[str, Any]:
    return {
        "index": index,
        "message": {"role": "assistant", "content": text},
        "finish_reason": finish_reason,
        "logprobs": None if logprobs is None else {"content": logprobs, "refusal": None},
    }


def token_logprob(token: str, logprob: float, top: list[tuple[str, float]]) -> dict[str, Any]:
    """One entry of ``logprobs.content`` in OpenAI's shape (``bytes``: the token's UTF-8)."""
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode("utf-8")),
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))} for t, lp in top],
    }


def models_body(name: str, created: int, context_length: int | None) -> dict[str, Any]:
    model = {"id": name, "object": "model", "created": created, "owned_by": "drosophila",
             "max_model_len": context_length}
    return {"object": "list", "data": [model]}
