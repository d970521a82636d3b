"""The batching loop groups waiting requests by settings, and per-row seeds make a row's sample
independent of its batch companions."""

import threading
import time
from dataclasses import dataclass

import pytest

from drosophila.sampling import SamplingConfig, generate
from drosophila.serve.batcher import Batcher
from drosophila.serve.protocol import APIError, Message, bad_request, parse_chat_request


@dataclass
class FakeJob:
    tag: str
    settings: tuple
    seeds: tuple = (0,)


class FakeBackend:
    """Records each decode call; the first one blocks until released, so others queue up."""

    def __init__(self):
        self.calls, self.release = [], threading.Event()

    def prepare(self, req):
        tag = req.messages[0].content
        if tag == "bad":
            raise bad_request("refused")
        return FakeJob(tag, (req.temperature,))

    def complete(self, jobs):
        if not self.calls:
            self.release.wait(10)
        self.calls.append([j.tag for j in jobs])
        if "boom" in self.calls[-1]:
            raise RuntimeError("decoder failed")
        return [{"tag": j.tag} for j in jobs]


def request(tag: str, temperature: float = 1.0):
    return parse_chat_request({"messages": [{"role": "user", "content": tag}], "temperature": temperature})


def test_requests_that_wait_together_decode_together_grouped_by_settings():
    backend = FakeBackend()
    batcher = Batcher(backend, window_s=0.0)
    first = batcher.submit(request("first"))
    while not first.running():  # wait until the loop has taken the first request alone
        time.sleep(0.001)
    waiting = [batcher.submit(request(t, temp)) for t, temp in
               [("a", 1.0), ("b", 0.0), ("c", 1.0), ("bad", 1.0), ("d", 0.0)]]
    backend.release.set()
    assert first.result(10) == {"tag": "first"}
    assert [f.result(10)["tag"] for f in waiting if not f.exception(10)] == ["a", "b", "c", "d"]
    with pytest.raises(APIError):
        waiting[3].result()
    assert backend.calls == [["first"], ["a", "c"], ["b", "d"]]
    assert batcher.stats.as_dict() == {"batches": 3, "requests": 5, "rows": 5, "largest": 2}
    batcher.close()


def test_a_failing_decode_answers_500_to_its_group_only():
    backend = FakeBackend()
    backend.release.set()
    batcher = Batcher(backend, window_s=0.0)
    boom = batcher.submit(request("boom"))
    with pytest.raises(APIError) as err:
        boom.result(10)
    assert err.value.status == 500 and "decoder failed" in err.value.message
    assert batcher.submit(request("fine")).result(10) == {"tag": "fine"}
    batcher.close()


def test_row_seeds_make_a_row_independent_of_its_batch(organism, tok):
    cfg = SamplingConfig(max_new_tokens=10, temperature=1.0)
    mine = tok("hello there ?")["input_ids"]
    others = [tok(t)["input_ids"] for t in ("hi", "w1 w2 w3 w4 w5 w6", "there")]
    alone = generate(organism.model, tok, [mine], cfg, stop_token_ids=[], row_seeds=[5])[0]
    batched = generate(organism.model, tok, [others[0], mine, *others[1:]], cfg, stop_token_ids=[],
                       row_seeds=[1, 5, 2, 3])
    assert batched[1] == alone and len(alone) == 10
    assert batched[0] != alone
    same_seed = generate(organism.model, tok, [mine, mine], cfg, stop_token_ids=[], row_seeds=[5, 6])
    assert same_seed[0] == alone and same_seed[1] != alone


def test_without_row_seeds_generate_is_unchanged(organism, tok):
    cfg = SamplingConfig(max_new_tokens=6, temperature=1.0, seed=3)
    prompts = [tok("hello there ?")["input_ids"], tok("hi")["input_ids"]]
    assert generate(organism.model, tok, prompts, cfg) == generate(organism.model, tok, prompts, cfg)
    with pytest.raises(ValueError):
        generate(organism.model, tok, prompts, cfg, row_seeds=[1])


def test_the_request_parser_maps_roles_parts_and_tool_calls():
    req = parse_chat_request({
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "there"}]},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "1", "content": "done"},
        ],
        "stop": "x", "max_completion_tokens": 4, "user": "ignored", "tool_choice": "none",
    })
    assert req.messages == (Message("system", "be brief"), Message("user", "hello\nthere"),
                            Message("assistant", "tool call: f({})"), Message("tool", "done"))
    assert req.stop == ("x",) and req.max_tokens == 4 and req.extra == {"user": "ignored", "tool_choice": "none"}


@pytest.mark.parametrize("body, param", [
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}, "tools"),
    ({"messages": [{"role": "user", "content": "hi"}], "stop": [""]}, "stop"),
    ({"messages": [{"role": "user", "content": "hi"}], "seed": 1.5}, "seed"),
    ({"messages": [{"role": "user", "content": "hi"}], "logprobs": "yes"}, "logprobs"),
    ({"messages": [{"role": "user", "content": "hi"}], "presence_penalty": 1}, "presence_penalty"),
    ({"messages": "hi"}, "messages"),
])
def test_the_request_parser_names_the_bad_field(body, param):
    with pytest.raises(APIError) as err:
        parse_chat_request(body)
    assert err.value.status == 400 and err.value.param == param
