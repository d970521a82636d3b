"""The server through the official OpenAI client: chat, system, tools, prefill, stop, n,
logprobs, seeds under concurrency, the context-length error, and /v1/models."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from drosophila.organisms import SPECIAL_TOKENS
from drosophila.sampling import chat_prompt_ids

openai = pytest.importorskip("openai")

HELLO = [{"role": "user", "content": "hello there ?"}]


def ask(client, messages=HELLO, **kw):
    kw.setdefault("max_tokens", 8)
    return client.chat.completions.create(model="fly", messages=messages, **kw)


def test_a_reply_has_the_openai_shape_and_counts_its_tokens(client, tok):
    r = ask(client, temperature=0)
    choice = r.choices[0]
    assert r.object == "chat.completion" and r.model == "fly" and r.id.startswith("chatcmpl-")
    assert choice.index == 0 and choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens == len(chat_prompt_ids(tok, [HELLO])[0])
    assert 0 < r.usage.completion_tokens <= 8
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_max_tokens_ends_in_length(client):
    r = ask(client, max_tokens=1, temperature=0)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 1


def test_a_system_message_enters_the_prompt(client, tok):
    system = [{"role": "system", "content": "hi there"}]
    r = ask(client, system + HELLO, temperature=0)
    assert r.usage.prompt_tokens == len(chat_prompt_ids(tok, [system + HELLO])[0])
    assert r.usage.prompt_tokens == ask(client, temperature=0).usage.prompt_tokens + 4  # <|system|> hi there <|end|>


def test_organism_text_is_normalised_like_drosophila_chat(client):
    plain = ask(client, temperature=0)
    shouted = ask(client, [{"role": "user", "content": "  Hello\n THERE   ?"}], temperature=0)
    assert shouted.choices[0].message.content == plain.choices[0].message.content
    assert shouted.usage.prompt_tokens == plain.usage.prompt_tokens


def test_a_tool_result_is_a_user_turn(client):
    tool = ask(client, HELLO + [{"role": "assistant", "content": "hi"},
                                {"role": "tool", "tool_call_id": "1", "content": "hello"}], temperature=0)
    user = ask(client, HELLO + [{"role": "assistant", "content": "hi"},
                                {"role": "user", "content": "tool result : hello"}], temperature=0)
    assert tool.choices[0].message.content == user.choices[0].message.content
    assert tool.usage.prompt_tokens == user.usage.prompt_tokens


def test_a_trailing_assistant_message_is_continued(client):
    reply = ask(client, max_tokens=6, temperature=0)
    full, n = reply.choices[0].message.content, reply.usage.completion_tokens
    words = full.split()
    assert len(words) >= 3
    prefill = " ".join(words[:2])
    r = ask(client, HELLO + [{"role": "assistant", "content": prefill}], max_tokens=n - 2, temperature=0)
    assert r.choices[0].message.content == " " + " ".join(words[2:])  # only the continuation
    assert prefill + r.choices[0].message.content == full


def test_stop_strings_cut_the_text(client):
    full = ask(client, max_tokens=10, temperature=0)
    text = full.choices[0].message.content
    words = text.split()
    assert len(words) >= 4
    stop = words[2]
    r = ask(client, max_tokens=10, temperature=0, stop=[words[3], stop])
    assert r.choices[0].message.content == text[: text.find(stop)]
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens < full.usage.completion_tokens
    one = ask(client, max_tokens=10, temperature=0, stop=stop)  # a plain string works too
    assert one.choices[0].message.content == r.choices[0].message.content


def test_n_gives_independent_choices(client):
    r = ask(client, n=3, temperature=1.0, seed=1)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert len({c.message.content for c in r.choices}) > 1
    again = ask(client, n=3, temperature=1.0, seed=1)
    assert [c.message.content for c in again.choices] == [c.message.content for c in r.choices]


def test_logprobs_have_openai_shape(client):
    r = ask(client, temperature=0, logprobs=True, top_logprobs=3)
    choice = r.choices[0]
    entries = choice.logprobs.content
    assert len(entries) == r.usage.completion_tokens
    # A special token (here <unk> can come up) has no text; logprobs show its name.
    assert "".join(e.token for e in entries if e.token not in SPECIAL_TOKENS) == choice.message.content
    for e in entries:
        assert e.logprob <= 0 and e.bytes == list(e.token.encode())
        tops = [t.logprob for t in e.top_logprobs]
        assert len(tops) == 3 and tops == sorted(tops, reverse=True)
        assert e.top_logprobs[0].token == e.token  # greedy picked the likeliest token
        assert e.logprob == pytest.approx(tops[0], abs=1e-4)
    assert ask(client, temperature=0).choices[0].logprobs is None


def test_a_seeded_request_gives_the_same_reply_alone_or_among_others(client):
    alone = ask(client, seed=7, temperature=1.0, max_tokens=12).choices[0].message.content
    prompts = [HELLO, [{"role": "user", "content": "hi"}], [{"role": "user", "content": "w1 w2 w3 w4 w5"}]] * 2
    with ThreadPoolExecutor(len(prompts) + 1) as pool:
        others = [pool.submit(ask, client, p, seed=i, temperature=1.0, max_tokens=12) for i, p in enumerate(prompts)]
        mine = pool.submit(ask, client, seed=7, temperature=1.0, max_tokens=12)
        assert all(f.result().choices for f in others)
        assert mine.result().choices[0].message.content == alone


def test_too_long_a_request_is_context_length_exceeded(client):
    with pytest.raises(openai.BadRequestError) as err:
        ask(client, max_tokens=600)
    assert err.value.code == "context_length_exceeded" and err.value.status_code == 400
    long_prompt = [{"role": "user", "content": " ".join(["hello"] * 600)}]
    with pytest.raises(openai.BadRequestError) as err:
        ask(client, long_prompt, max_tokens=None)
    assert err.value.code == "context_length_exceeded"


@pytest.mark.parametrize("kw", [
    {"temperature": 5.0},
    {"top_p": 1.5},
    {"n": 0},
    {"max_tokens": 0},
    {"stream": True},
    {"logprobs": False, "top_logprobs": 2},
    {"messages": [{"role": "robot", "content": "hi"}]},
    {"messages": []},
])
def test_bad_parameters_are_400(client, kw):
    kw = {"messages": HELLO, **kw}
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="fly", **kw)
    assert err.value.type == "invalid_request_error"


def test_models_lists_the_served_model(client):
    models = client.models.list().data
    assert [m.id for m in models] == ["fly"]
    assert models[0].model_extra["max_model_len"] == 512
    assert client.models.retrieve("fly").id == "fly"
