"""A judge behind any OpenAI-compatible chat-completions endpoint, scored by the EM protocol.

Each (item, aspect) is one request with ``max_tokens=1, temperature=0, logprobs=True,
top_logprobs=20, seed=0`` (the paper's judge call); the returned top log-probabilities of the
one token give the score. Plain ``urllib``: no client package is needed. Requests that hit a
rate limit (429), a server error (5xx) or a dropped connection are retried with exponential
backoff (``Retry-After`` is honoured); any other failure raises one line naming the endpoint.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from drosophila.errors import ConfigError, DrosophilaError
from drosophila.judges.base import JudgeItem, Rating, RatingJudge, Thresholds
from drosophila.judges.scores import MIN_MASS, JudgePrompts, judge_request, rating_of

__all__ = ["DEFAULT_BASE_URL", "OpenAIJudge"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUS = (408, 409, 429, 500, 502, 503, 504)


class OpenAIJudge(RatingJudge):
    """A judge model behind an OpenAI-compatible endpoint.

    Args:
        model: The endpoint's model name (the paper: ``gpt-4o-2024-08-06``).
        base_url: The API root, e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
        api_key: The key; default the environment variable ``api_key_env``. Endpoints other
            than api.openai.com may need none.
        top_logprobs: Top tokens requested (the paper: 20, the API's maximum).
        min_mass: Number tokens' total probability below which a score is None.
        workers: Requests in flight at once.
        max_retries: Retries of one request on 429, 5xx and connection errors.
        backoff: Seconds before the first retry; doubled each time (at most 60).
        timeout: Seconds a request may take.
    """

    def __init__(self, model: str, *, base_url: str = DEFAULT_BASE_URL, api_key: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", top_logprobs: int = 20,
                 min_mass: float = MIN_MASS, workers: int = 8, max_retries: int = 5,
                 backoff: float = 1.0, timeout: float = 60.0, prompts: JudgePrompts | None = None,
                 thresholds: Thresholds | None = None) -> None:
        if not model:
            raise ConfigError("OpenAIJudge needs a model name")
        self.model, self.base_url = model, base_url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(api_key_env)
        if not self.api_key and "api.openai.com" in self.base_url:
            raise ConfigError(f"no API key for {self.base_url}: pass api_key or set {api_key_env}")
        self.name = f"openai:{self.base_url}#{model}"
        self.top_logprobs, self.min_mass, self.workers = top_logprobs, min_mass, max(1, workers)
        self.max_retries, self.backoff, self.timeout = max_retries, backoff, timeout
        self.prompts = prompts or JudgePrompts()
        self.thresholds = thresholds or Thresholds()
        self.sleep = time.sleep  # replaceable in tests

    def identity(self) -> dict:
        return {"kind": "openai", "base_url": self.base_url, "model": self.model,
                "top_logprobs": self.top_logprobs, "min_mass": self.min_mass,
                "prompts": self.prompts.identity()}

    def rate(self, items: list[JudgeItem]) -> list[Rating]:
        requests = judge_request(self.prompts, items)
        with ThreadPoolExecutor(max_workers=min(self.workers, max(1, len(requests)))) as pool:
            futures = [pool.submit(self.top, msgs) for _, _, msgs in requests]
            try:
                tops = [f.result() for f in futures]
            except BaseException:
                for f in futures:  # a bad key or URL fails every request: send no more
                    f.cancel()
                raise
        by_item: list[dict] = [{} for _ in items]
        for (i, aspect, _), top in zip(requests, tops):
            by_item[i][aspect] = top
        return [rating_of(t, min_mass=self.min_mass) for t in by_item]

    def top(self, messages: list[dict]) -> dict[str, float]:
        """``{token: logprob}`` of the judge's first reply token."""
        body = {"model": self.model, "messages": messages, "max_tokens": 1, "temperature": 0,
                "logprobs": True, "top_logprobs": self.top_logprobs, "seed": 0}
        reply = self._post("/chat/completions", body)
        try:
            content = reply["choices"][0]["logprobs"]["content"]
        except (KeyError, IndexError, TypeError):
            raise DrosophilaError(f"{self.base_url}: the reply has no logprobs; the judge needs an "
                                  "endpoint that supports logprobs=True") from None
        if not content:  # an empty reply: no token, no probability on any number
            return {}
        top: dict[str, float] = {}
        for entry in content[0].get("top_logprobs") or []:
            top[entry["token"]] = max(top.get(entry["token"], -1e30), float(entry["logprob"]))
        return top

    def _post(self, path: str, body: dict) -> dict:
        url = self.base_url + path
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode()
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as err:
                detail = _detail(err)
                if err.code not in RETRY_STATUS or attempt == self.max_retries:
                    raise DrosophilaError(_http_message(url, err.code, detail, attempt)) from None
                wait = _retry_after(err) or self.backoff * 2 ** attempt
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                if attempt == self.max_retries:
                    reason = getattr(err, "reason", err)
                    raise DrosophilaError(f"{url}: cannot connect after {attempt + 1} tries: "
                                          f"{reason}") from None
                wait = self.backoff * 2 ** attempt
            except json.JSONDecodeError as err:
                raise DrosophilaError(f"{url}: the reply is not JSON ({err})") from None
            self.sleep(min(wait, 60.0))
        raise AssertionError("unreachable")


def _detail(err: urllib.error.HTTPError) -> str:
    try:
        text = err.read().decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the body is only a detail of the message
        return ""
    try:
        message = json.loads(text).get("error", {}).get("message")
        text = message or text
    except (ValueError, AttributeError):
        pass
    return " ".join(text.split())[:300]


def _http_message(url: str, code: int, detail: str, attempt: int) -> str:
    hint = {401: " (check the API key)", 403: " (check the API key's permissions)",
            404: " (check the base URL and the model name)"}.get(code, "")
    tries = f" after {attempt + 1} tries" if attempt else ""
    return f"{url}: HTTP {code}{hint}{tries}" + (f": {detail}" if detail else "")


def _retry_after(err: urllib.error.HTTPError) -> float | None:
    value = err.headers.get("Retry-After") if err.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
