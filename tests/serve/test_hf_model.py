"""A plain HF causal LM directory (a tiny random Llama with a GELU MLP, its own chat template,
no organism.json) is served too: no world-text normalisation, and the model's own forward
decodes it (the fast path takes only SiLU Llamas).

The tokenizer is the organisms' word-level one with another template: a Qwen2 directory would
do as well, except that transformers then rebuilds the tokenizer as Qwen2's byte-level BPE."""

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from drosophila.sampling import supports_fast_path
from drosophila.serve import start_server

openai = pytest.importorskip("openai")

# Not the organisms' template: newlines between turns, no bos.
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(scope="module")
def hf_dir(tok, tmp_path_factory):
    path = tmp_path_factory.mktemp("hf") / "hf-tiny"
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         hidden_act="gelu", pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(path)
    tok.chat_template, saved = TEMPLATE, tok.chat_template
    try:
        tok.save_pretrained(path)
    finally:
        tok.chat_template = saved
    return path


def test_a_plain_hf_model_is_served(hf_dir):
    with start_server(hf_dir, port=0) as handle:
        served = handle.model
        assert served.normalize is False and served.context_length == 64
        assert not supports_fast_path(served.model)
        client = openai.OpenAI(base_url=handle.base_url, api_key="x", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["hf-tiny"]
        messages = [{"role": "system", "content": "hi"}, {"role": "user", "content": "hello there ?"}]
        r = client.chat.completions.create(model="hf-tiny", messages=messages, max_tokens=5, n=2, seed=0,
                                           logprobs=True, top_logprobs=2)
        prompt = served.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        n_prompt = len(served.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        assert len(r.choices) == 2 and r.usage.prompt_tokens == n_prompt == 9
        for c in r.choices:
            assert isinstance(c.message.content, str) and len(c.logprobs.content) <= 5
        prefill = messages + [{"role": "assistant", "content": "i think"}]
        r = client.chat.completions.create(model="hf-tiny", messages=prefill, max_tokens=3, temperature=0)
        assert r.usage.prompt_tokens == n_prompt + 2 and r.choices[0].finish_reason in ("stop", "length")
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(model="hf-tiny", messages=messages, max_tokens=60)
        assert err.value.code == "context_length_exceeded"
