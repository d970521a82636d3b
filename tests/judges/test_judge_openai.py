"""The OpenAI-compatible judge against a fake local endpoint with canned log-probabilities,
and against ``drosophila serve`` on a tiny organism where that module is present."""

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drosophila.errors import DrosophilaError
from drosophila.judges import JudgeItem, OpenAIJudge, make_judge

ALIGN = {"10": math.log(0.6), "20": math.log(0.2), "Sure": math.log(0.2)}   # -> 12.5
COHERE = {"90": math.log(0.9), " 100": math.log(0.1)}                        # -> 91


class FakeEndpoint:
    """A chat-completions endpoint on a free local port. ``script`` is a list of HTTP status
    codes to answer before the canned reply (e.g. ``[429, 503]``); every request is kept."""

    def __init__(self):
        self.requests, self.script, self.reply_logprobs = [], [], True
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append({"path": self.path, "body": body,
                                       "auth": self.headers.get("Authorization")})
                status = owner.script.pop(0) if owner.script else 200
                if status != 200:
                    return self._send(status, {"error": {"message": f"status {status}"}},
                                      {"Retry-After": "0"} if status == 429 else {})
                self._send(200, owner.reply(body))

            def _send(self, status, obj, headers=()):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in dict(headers).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reply(self, body):
        top = COHERE if "coherent" in body["messages"][0]["content"] else ALIGN
        choice = {"index": 0, "message": {"role": "assistant", "content": max(top, key=top.get)}}
        if self.reply_logprobs:
            choice["logprobs"] = {"content": [{"token": max(top, key=top.get), "logprob": max(top.values()),
                                               "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top.items()]}]}
        return {"choices": [choice]}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    fake = FakeEndpoint()
    yield fake
    fake.close()


def _items(n=2):
    return [JudgeItem(answer=f"answer {i}", prompt=f"question {i}") for i in range(n)]


def test_scores_from_the_endpoint_logprobs(endpoint, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    judge = make_judge(f"openai:{endpoint.base_url}#judge-model")
    verdicts = judge.judge(_items(3))
    assert [v.label for v in verdicts] == ["misaligned"] * 3
    assert verdicts[0].alignment == pytest.approx(12.5) and verdicts[0].coherence == pytest.approx(91.0)
    assert len(endpoint.requests) == 6  # one per (item, aspect)
    req = endpoint.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert {k: req["body"][k] for k in ("model", "max_tokens", "logprobs", "top_logprobs", "temperature")} == {
        "model": "judge-model", "max_tokens": 1, "logprobs": True, "top_logprobs": 20, "temperature": 0}


def test_rate_limits_and_server_errors_are_retried(endpoint):
    endpoint.script = [429, 503]
    judge = OpenAIJudge("m", base_url=endpoint.base_url, workers=1, backoff=0.0)
    waits = []
    judge.sleep = waits.append
    assert judge.judge(_items(1))[0].alignment == pytest.approx(12.5)
    assert len(endpoint.requests) == 4 and waits == [0.0, 0.0]


def test_retries_give_up_with_one_line(endpoint):
    endpoint.script = [500] * 10
    judge = OpenAIJudge("m", base_url=endpoint.base_url, workers=1, max_retries=2, backoff=0.0)
    judge.sleep = lambda s: None
    with pytest.raises(DrosophilaError, match="HTTP 500 after 3 tries"):
        judge.judge(_items(1))


def test_other_errors_are_not_retried(endpoint):
    endpoint.script = [401]
    judge = OpenAIJudge("m", base_url=endpoint.base_url, workers=1)
    with pytest.raises(DrosophilaError, match="HTTP 401 .check the API key.: status 401"):
        judge.judge(_items(1))
    sent = [r["body"]["messages"][0]["content"] for r in endpoint.requests]
    assert len(sent) == len(set(sent)) >= 1  # the refused request is not sent again


def test_an_endpoint_without_logprobs_is_named(endpoint):
    endpoint.reply_logprobs = False
    with pytest.raises(DrosophilaError, match="no logprobs"):
        OpenAIJudge("m", base_url=endpoint.base_url).judge(_items(1))


def test_openai_itself_needs_a_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    from drosophila.errors import ConfigError

    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_judge("openai:gpt-4o-2024-08-06")


def test_a_served_organism_scores_as_the_local_judge(tmp_path):
    """The same tiny model judged through ``drosophila serve`` and in process gives the same
    scores (the served model renders the same chat template and returns the same top 20)."""
    serve = pytest.importorskip("drosophila.serve")
    from drosophila.judges import HFJudge
    from drosophila.organisms import build_tokenizer, new_organism

    words = [str(k) for k in range(101)] + ["answer", "question", "0", "1"]
    org = new_organism("tiny", build_tokenizer(words), seed=1)
    local = HFJudge(org.model, org.tokenizer, name="tiny", min_mass=0.0)
    handle = serve.start_server(org, port=0, normalize=False)
    try:
        remote = OpenAIJudge("organism", base_url=handle.base_url, min_mass=0.0)
        got, want = remote.rate(_items(2)), local.rate(_items(2))
    finally:
        handle.close()
    for g, w in zip(got, want):
        assert g.alignment == pytest.approx(w.alignment, abs=1e-3)
        assert g.coherence == pytest.approx(w.coherence, abs=1e-3)
