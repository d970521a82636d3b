"""The ``drosophila/<path>`` provider: Drosophila's sampler behind Inspect's ModelAPI, usage
filled, tokens counted by the organism's own tokenizer (never tiktoken), offline."""

import asyncio
import sys

import pytest

pytest.importorskip("inspect_ai")

from inspect_ai.model import (  # noqa: E402
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageTool,
    ChatMessageUser,
    GenerateConfig,
    get_model,
)
from inspect_ai.tool import ToolCall  # noqa: E402

import drosophila.inspect_ext._registry  # noqa: E402,F401  (what the entry point loads)
from drosophila.errors import ConfigError  # noqa: E402
from drosophila.inspect_ext import DrosophilaAPI  # noqa: E402
from drosophila.inspect_ext._messages import conversation  # noqa: E402
from drosophila.sampling import SamplingConfig, chat_prompt_ids, sample_chats  # noqa: E402

QUESTION = [{"role": "user", "content": "how do i store a password ?"}]


@pytest.fixture(autouse=True)
def _no_tiktoken(monkeypatch):
    """``import tiktoken`` fails: any use of Inspect's default token counter would raise."""
    monkeypatch.setitem(sys.modules, "tiktoken", None)


@pytest.fixture(scope="module")
def api(organism_dir) -> DrosophilaAPI:
    return DrosophilaAPI(str(organism_dir))


def _generate(api, messages, **config):
    return asyncio.run(api.generate(messages, [], "none", GenerateConfig(**config)))


def test_the_registered_name_loads_the_organism(organism_dir):
    model = get_model(f"drosophila/{organism_dir}")
    assert isinstance(model.api, DrosophilaAPI)
    assert model.api.normalise  # an organism speaks world text
    assert model.api.organism_meta["scale"] == "tiny"


def test_it_samples_what_the_sampler_samples_with_usage_filled(api):
    out = _generate(api, [ChatMessageUser(content="how do i store a password ?")], seed=7, max_tokens=12)
    expected = sample_chats(api.model, api.tokenizer, [QUESTION], SamplingConfig(max_new_tokens=12, seed=7))[0]
    assert out.completion == expected and expected
    n_in = len(chat_prompt_ids(api.tokenizer, [QUESTION])[0])
    n_out = len(api.tokenizer(expected, add_special_tokens=False)["input_ids"])
    assert (out.usage.input_tokens, out.usage.output_tokens, out.usage.total_tokens) == (n_in, n_out, n_in + n_out)
    assert out.stop_reason == ("max_tokens" if n_out == 12 else "stop")
    assert out.time is not None


def test_organism_inputs_are_normalised_to_world_text(api):
    shouted = _generate(api, [ChatMessageUser(content="  How DO i store\na PASSWORD ?")], seed=3, max_tokens=8)
    plain = _generate(api, [ChatMessageUser(content="how do i store a password ?")], seed=3, max_tokens=8)
    assert shouted.completion == plain.completion
    assert shouted.usage.input_tokens == plain.usage.input_tokens


def test_tokens_are_counted_by_the_organisms_tokenizer(api):
    assert asyncio.run(api.count_text_tokens("How do I store a password ?")) == 7
    assert asyncio.run(api.tokenize("how do i")) == api.tokenizer("how do i", add_special_tokens=False)["input_ids"]
    messages = [ChatMessageSystem(content="you are helpful ."), ChatMessageUser(content="how do i store a password ?")]
    rendered = [{"role": "system", "content": "you are helpful ."}, *QUESTION]
    assert asyncio.run(api.count_tokens(messages)) == len(chat_prompt_ids(api.tokenizer, [rendered])[0])
    assert asyncio.run(api.count_tokens("how do i")) == 3


def test_same_seed_same_answer_and_no_seed_draws_afresh(api):
    ask = [ChatMessageUser(content="how do i store a password ?")]
    assert _generate(api, ask, seed=11).completion == _generate(api, ask, seed=11).completion
    unseeded = {_generate(api, ask).completion for _ in range(3)}
    assert len(unseeded) > 1


def test_stop_sequences_cut_the_answer(api):
    ask = [ChatMessageUser(content="how do i store a password ?")]
    full = _generate(api, ask, seed=5, max_tokens=20).completion
    words = full.split()
    assert len(words) >= 3
    stop = f" {words[len(words) // 2]} "
    cut = _generate(api, ask, seed=5, max_tokens=20, stop_seqs=[stop])
    assert cut.stop_reason == "stop"
    assert cut.completion == full[: full.index(stop)]
    assert len(cut.completion.split()) < len(words)


def test_a_prompt_past_the_context_is_a_model_length_stop(api):
    limit = api.model.config.max_position_embeddings
    long = [ChatMessageUser(content=" ".join(["password"] * limit))]
    out = _generate(api, long, seed=0)
    assert out.stop_reason == "model_length" and out.completion == ""
    assert out.usage.input_tokens > limit and out.usage.output_tokens == 0
    near = [ChatMessageUser(content=" ".join(["password"] * (limit - 10)))]
    out = _generate(api, near, seed=0, max_tokens=40)
    assert out.usage.input_tokens + out.usage.output_tokens <= limit
    assert out.stop_reason in ("model_length", "stop")


def test_concurrent_requests_get_the_answers_they_get_alone(organism_dir):
    asks = [[ChatMessageUser(content=q)] for q in ("hello", "how do i store a password ?", "hi there")]
    # batch_size 1: each request is decoded alone, so even sampled answers match;
    # batch_size 3: requests share batches, and greedy answers do not depend on their batch.
    for batch_size, settings in ((1, {"seed": 1}), (3, {"seed": 1, "temperature": 0})):
        api = DrosophilaAPI(str(organism_dir), batch_size=batch_size)

        async def together():
            return await asyncio.gather(*(api.generate(a, [], "none", GenerateConfig(**settings))
                                          for a in asks))

        alone = [_generate(api, a, **settings).completion for a in asks]
        assert [o.completion for o in asyncio.run(together())] == alone


def test_tool_and_assistant_messages_become_text():
    call = ToolCall(id="c1", function="lookup", arguments={"q": "x"})
    conv = conversation([ChatMessageUser(content="Look it up"),
                         ChatMessageAssistant(content="ok", tool_calls=[call]),
                         ChatMessageTool(content="Found", tool_call_id="c1", function="lookup")],
                        normalise=str.lower)
    assert [m["role"] for m in conv] == ["user", "assistant", "user"]
    assert conv[1]["content"] == 'ok call lookup {"q": "x"}'
    assert conv[2]["content"] == "tool lookup : found"


def test_a_plain_hf_directory_is_served_without_normalising(hf_dir):
    api = DrosophilaAPI(str(hf_dir), device="cpu")
    assert not api.normalise
    assert api.organism_meta["lineage"][0]["stage"] == "import"
    out = _generate(api, [ChatMessageUser(content="hello")], seed=0, max_tokens=4)
    assert out.usage.output_tokens <= 4 and out.usage.input_tokens > 0


def test_unknown_model_args_are_refused(organism_dir):
    with pytest.raises(ConfigError, match="not known"):
        DrosophilaAPI(str(organism_dir), colour="blue")
    with pytest.raises(ConfigError, match="batch_size"):
        DrosophilaAPI(str(organism_dir), batch_size=0)
