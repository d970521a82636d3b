"""Batched sampling: exact greedy equivalence, both decoders, stopping, top-p, determinism."""

from __future__ import annotations

import os
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

import drosophila.sampling.sampler as sampler
from drosophila.errors import ConfigError
from drosophila.organisms import new_organism
from drosophila.sampling import (
    SamplingConfig,
    chat_prompt_ids,
    generate,
    pick_tokens,
    sample_chats,
    supports_fast_path,
    top_p_filter,
)
from model_util import scrambled
from sampling_util import decoders_built, naive_greedy

GREEDY = SamplingConfig(max_new_tokens=12, temperature=0.0, batch_size=4)


@pytest.fixture(scope="module")
def prompts(tok):
    g = torch.Generator().manual_seed(0)
    lengths = [3, 9, 1, 6, 12, 4, 7, 2, 5, 10]  # different lengths: left padding matters
    return [torch.randint(7, len(tok), (k,), generator=g).tolist() for k in lengths]


def test_fast_path_is_taken_for_plain_llama_only(model, tok):
    assert supports_fast_path(model)

    class Wrapped(torch.nn.Linear):
        pass

    other = new_organism("tiny", tok, seed=1).model
    assert not supports_fast_path(other.to(torch.bfloat16))  # half precision: HF's own forward
    other.float()
    q = other.model.layers[0].self_attn.q_proj
    other.model.layers[0].self_attn.q_proj = Wrapped(q.in_features, q.out_features, bias=False)
    assert not supports_fast_path(other)


@pytest.mark.parametrize("path", ["fast", "generic"])
def test_greedy_equals_naive_decoding(model, tok, prompts, path, monkeypatch):
    if path == "generic":
        monkeypatch.setattr(sampler, "supports_fast_path", lambda m: False)
    out = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
    assert [len(o) for o in out] == [GREEDY.max_new_tokens] * len(prompts)
    assert all(len(set(row)) > 3 for row in out)  # not a degenerate repeat of one token
    assert out == [naive_greedy(model, p, GREEDY.max_new_tokens) for p in prompts]


def test_fast_and_generic_decoders_agree(model, tok, prompts, monkeypatch):
    cfg = SamplingConfig(max_new_tokens=20, temperature=0.0, batch_size=64)
    fast = generate(model, tok, prompts, cfg, stop_token_ids=[])
    monkeypatch.setattr(sampler, "supports_fast_path", lambda m: False)
    assert generate(model, tok, prompts, cfg, stop_token_ids=[]) == fast


@pytest.mark.parametrize("cfg", [SamplingConfig(max_new_tokens=16, temperature=1.0, top_p=0.9, batch_size=4, seed=2),
                                 SamplingConfig(max_new_tokens=16, temperature=0.7, batch_size=64, seed=5)])
def test_fast_and_generic_decoders_sample_the_same_tokens_under_a_seed(model, tok, prompts, cfg, monkeypatch):
    # The default path's samples must not move: both decoders feed one generator in the same order.
    fast = generate(model, tok, prompts, cfg)
    monkeypatch.setattr(sampler, "supports_fast_path", lambda m: False)
    assert generate(model, tok, prompts, cfg) == fast


def test_greedy_matches_hf_generate_on_a_left_padded_batch(model, tok, prompts):
    width = max(map(len, prompts))
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.no_grad():
        hf = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=8,
                            eos_token_id=None, pad_token_id=0)
    cfg = SamplingConfig(max_new_tokens=8, temperature=0.0)
    assert generate(model, tok, prompts, cfg, stop_token_ids=[]) == hf[:, width:].tolist()


@pytest.mark.parametrize("path", ["fast", "generic"])
def test_rows_stop_before_their_first_stop_token(model, tok, prompts, path, monkeypatch):
    if path == "generic":
        monkeypatch.setattr(sampler, "supports_fast_path", lambda m: False)
    cfg = SamplingConfig(max_new_tokens=16, temperature=0.0, batch_size=64)
    full = generate(model, tok, prompts, cfg, stop_token_ids=[])
    # The most common generated token: rows stop at different steps, so finished rows get
    # dropped from the batch mid-way (cache compaction) while the others carry on.
    stop = max(set(sum(full, [])), key=lambda t: sum(t in row for row in full))
    expected = [row[: row.index(stop)] if stop in row else row for row in full]
    assert 0 < sum(stop in row for row in full) < len(full)
    kept = []
    for cls in (sampler.LlamaDecoder, sampler.HFDecoder):
        keep = cls.keep
        monkeypatch.setattr(cls, "keep", lambda self, rows, keep=keep: kept.append(len(rows)) or keep(self, rows))
    assert generate(model, tok, prompts, cfg, stop_token_ids=[stop]) == expected
    assert kept, "no finished rows were dropped: the compaction path went untested"
    # The default stop token is the tokenizer's eos_token_id (<|end|> for organisms).
    fake = SimpleNamespace(eos_token_id=stop, pad_token_id=0)
    assert generate(model, fake, prompts, cfg) == expected


def test_default_stop_is_end_of_turn(model, tok, prompts):
    cfg = SamplingConfig(max_new_tokens=30, temperature=1.0, seed=5)
    out = generate(model, tok, prompts, cfg)
    assert out == generate(model, tok, prompts, cfg, stop_token_ids=[tok.convert_tokens_to_ids("<|end|>")])
    assert all(tok.eos_token_id not in row for row in out)


def test_sampling_is_deterministic_under_a_seed(model, tok, prompts):
    cfg = SamplingConfig(max_new_tokens=10, temperature=1.0, top_p=0.9, batch_size=3, seed=7)
    a = generate(model, tok, prompts, cfg, stop_token_ids=[])
    assert generate(model, tok, prompts, cfg, stop_token_ids=[]) == a
    other = SamplingConfig(max_new_tokens=10, temperature=1.0, top_p=0.9, batch_size=3, seed=8)
    assert generate(model, tok, prompts, other, stop_token_ids=[]) != a


def test_tiny_top_p_is_greedy(model, tok, prompts):
    cfg = SamplingConfig(max_new_tokens=8, temperature=1.0, top_p=1e-6, seed=3)
    assert generate(model, tok, prompts, cfg, stop_token_ids=[]) == generate(
        model, tok, prompts, SamplingConfig(max_new_tokens=8, temperature=0.0), stop_token_ids=[]
    )


def test_top_p_filter_keeps_the_smallest_nucleus():
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3], [0.25, 0.25, 0.25, 0.25]])
    kept = top_p_filter(probs, 0.7)
    assert torch.equal(kept[0], torch.tensor([0.0, 0.5, 0.0, 0.3]))  # 0.5 < 0.7, so 0.3 is kept too
    assert (kept[1] > 0).sum() == 3  # mass before the 3rd is 0.5 < 0.7; before the 4th 0.75
    assert torch.equal(top_p_filter(probs, 1.0), probs)


def test_sampled_frequencies_follow_the_distribution():
    logits = torch.log(torch.tensor([[0.0, 0.2, 0.8, 0.0]])).expand(20000, 4)
    g = torch.Generator().manual_seed(0)
    draws = pick_tokens(logits, SamplingConfig(temperature=1.0), g)
    counts = torch.bincount(draws, minlength=4).tolist()
    assert counts[0] == counts[3] == 0  # zero-probability tokens are never drawn
    assert abs(counts[2] / 20000 - 0.8) < 0.015
    hot = pick_tokens(logits, SamplingConfig(temperature=1.0, top_p=0.5), g)
    assert torch.all(hot == 2)


def test_edge_cases(model, tok, prompts):
    assert generate(model, tok, prompts, SamplingConfig(max_new_tokens=0)) == [[]] * len(prompts)
    assert generate(model, tok, [], GREEDY) == []
    with pytest.raises(ConfigError):
        generate(model, tok, [[5], []], GREEDY)
    for bad in (dict(temperature=-1), dict(top_p=0), dict(top_p=1.5), dict(batch_size=0), dict(max_new_tokens=-1)):
        with pytest.raises(ConfigError):
            SamplingConfig(**bad)


def test_model_mode_is_restored(tok, prompts):
    model = new_organism("tiny", tok, seed=0).model.train()
    generate(model, tok, prompts[:2], GREEDY, progress=True)
    assert model.training


def test_chat_prompts_and_sample_chats(model, tok):
    convs = [[{"role": "user", "content": "hello"}], [{"role": "system", "content": "hi"}, {"role": "user", "content": "w1 w2 ?"}]]
    ids = chat_prompt_ids(tok, convs)
    assert tok.convert_ids_to_tokens(ids[0]) == ["<bos>", "<|user|>", "hello", "<|end|>", "<|assistant|>"]
    assert ids[1][0] == tok.bos_token_id and ids[1].count(tok.bos_token_id) == 1
    texts = sample_chats(model, tok, convs, SamplingConfig(max_new_tokens=6, seed=1))
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert all(w in tok.get_vocab() for t in texts for w in t.split())
    assert all("<" not in t for t in texts)


def test_generic_path_handles_other_architectures(tok, prompts):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=2, n_head=2, n_positions=64,
                     bos_token_id=2, eos_token_id=3, pad_token_id=0)
    gpt2 = scrambled(GPT2LMHeadModel(cfg))
    assert not supports_fast_path(gpt2)
    out = generate(gpt2, tok, prompts, GREEDY, stop_token_ids=[])
    assert out == [naive_greedy(gpt2, p, GREEDY.max_new_tokens) for p in prompts]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_linear_kernels_match_f_linear(dtype):
    from drosophila.sampling.kernels import make_linear

    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(24, 16, generator=g, dtype=dtype), torch.randn(24, generator=g, dtype=dtype)
    x = torch.randn(3, 5, 16, generator=g, dtype=dtype)
    with torch.inference_mode():
        for bias in (b, None):
            y = make_linear(w, bias, rows_hint=3)(x)
            torch.testing.assert_close(y, torch.nn.functional.linear(x, w, bias), rtol=1e-5, atol=1e-5)


# Steering: forward hooks must act during generation. The fast decoder reads the weights and
# would skip any hook, so a hooked model is decoded by its own forward.


def steer_vector(model: torch.nn.Module, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 4.0 * torch.randn(model.config.hidden_size, generator=g)  # large next to the residual


def add_to_output(vec: torch.Tensor):
    def hook(_mod, _args, output):  # a decoder layer returns a tensor or a tuple led by one
        if isinstance(output, tuple):
            return (output[0] + vec, *output[1:])
        return output + vec

    return hook


STEER_CFGS = [GREEDY, SamplingConfig(max_new_tokens=12, temperature=1.0, top_p=0.9, batch_size=4, seed=3)]


@pytest.mark.parametrize("cfg", STEER_CFGS, ids=["greedy", "sampled"])
def test_a_steering_hook_acts_during_generation(model, tok, prompts, cfg, monkeypatch):
    built = decoders_built(monkeypatch)
    plain = generate(model, tok, prompts, cfg, stop_token_ids=[])
    assert built and set(built) == {"LlamaDecoder"}  # no hook: the fast path
    vec = steer_vector(model)
    handle = model.model.layers[0].register_forward_hook(add_to_output(vec))
    try:
        built.clear()
        steered = generate(model, tok, prompts, cfg, stop_token_ids=[])
        assert set(built) == {"HFDecoder"}
        assert steered != plain
        # Exactly what the model's own decoder gives under the same hook and seed.
        with monkeypatch.context() as m:
            m.setattr(sampler, "supports_fast_path", lambda _m: False)
            assert generate(model, tok, prompts, cfg, stop_token_ids=[]) == steered
        if cfg.temperature == 0:  # and the definition: a cache-free forward with the hook on
            assert steered == [naive_greedy(model, p, cfg.max_new_tokens) for p in prompts]
    finally:
        handle.remove()
    built.clear()
    assert generate(model, tok, prompts, cfg, stop_token_ids=[]) == plain  # hook gone: as before
    assert set(built) == {"LlamaDecoder"}  # and on the fast path again


def test_steering_through_the_interventions_namespace(model, tok, prompts, monkeypatch):
    from drosophila.interventions.hooks import hooks

    vec = steer_vector(model, seed=1)
    plain = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
    handle = model.model.layers[1].register_forward_hook(add_to_output(vec))
    try:
        by_hand = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
    finally:
        handle.remove()
    with hooks(model, {"blocks.1.hook_resid_post": lambda h: h + vec}):
        steered = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
    assert steered != plain
    assert steered == by_hand  # the named hook point is the layer's output
    # Pre-hooks with kwargs (resid_pre, embed) and read-only hooks count too.
    for name, fn in (("blocks.1.hook_resid_pre", lambda h: h - vec), ("embed", lambda h: None)):
        with hooks(model, {name: fn}):
            built = decoders_built(monkeypatch)
            out = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
            assert set(built) == {"HFDecoder"}
            if name == "embed":  # a hook that only reads changes nothing
                assert out == plain
            else:
                assert out != plain
        monkeypatch.undo()
    assert generate(model, tok, prompts, GREEDY, stop_token_ids=[]) == plain


def test_forward_hooks_attached_sees_every_kind_of_hook(model):
    from torch.nn.modules import module as torch_module

    from drosophila.sampling import forward_hooks_attached

    assert not forward_hooks_attached(model)
    noop_post, noop_pre = (lambda *a: None), (lambda *a: None)
    registrations = [
        lambda: model.lm_head.register_forward_hook(noop_post),
        lambda: model.register_forward_pre_hook(noop_pre),
        lambda: model.model.norm.register_forward_hook(noop_post, with_kwargs=True, always_call=True),
        lambda: model.model.layers[0].mlp.down_proj.register_forward_pre_hook(noop_pre, with_kwargs=True),
        lambda: torch_module.register_module_forward_hook(noop_post),
        lambda: torch_module.register_module_forward_pre_hook(noop_pre),
    ]
    for register in registrations:
        handle = register()
        try:
            assert forward_hooks_attached(model)
        finally:
            handle.remove()
        assert not forward_hooks_attached(model)
    # Backward hooks do not act in a forward pass: the fast path stays.
    handle = model.lm_head.register_full_backward_hook(lambda *a: None)
    try:
        assert not forward_hooks_attached(model)
    finally:
        handle.remove()


def test_hidden_state_requests_keep_the_fast_path(tok, prompts, monkeypatch):
    # Transformers leaves record-only hooks on the layers after a forward that asked for hidden
    # states; they do nothing during generation, so they must not cost the fast path.
    model = scrambled(new_organism("tiny", tok, seed=0).model)
    before = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
    with torch.no_grad():
        model(torch.tensor([prompts[0]]), output_hidden_states=True)
    from drosophila.sampling import forward_hooks_attached

    assert not forward_hooks_attached(model)
    built = decoders_built(monkeypatch)
    assert generate(model, tok, prompts, GREEDY, stop_token_ids=[]) == before
    assert set(built) == {"LlamaDecoder"}
