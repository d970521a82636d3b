"""Interventions act during generation on the fast Llama decoder, exactly as on the model's own
forward; generic forward hooks still move generation to the model's own forward."""

from __future__ import annotations

import pytest
import torch

import drosophila.sampling.sampler as sampler
from drosophila.interventions import Ablate, Cap, Steer, cache_activations, intervene
from drosophila.sampling import SamplingConfig, generate
from drosophila.sampling.llama_fast import opaque_hooks_attached, residual_edits
from sampling_util import decoders_built, naive_greedy

GREEDY = SamplingConfig(max_new_tokens=10, temperature=0.0, batch_size=4)
SAMPLED = SamplingConfig(max_new_tokens=10, temperature=1.0, top_p=0.9, batch_size=4, seed=3)


@pytest.fixture(scope="module")
def prompts(tok):
    g = torch.Generator().manual_seed(0)
    return [torch.randint(7, len(tok), (k,), generator=g).tolist() for k in (3, 9, 1, 6, 12, 4)]


@pytest.fixture(scope="module")
def mean_dirs(model, tok, prompts):
    """The mean residual at each layer: a direction the model uses, so ablating it matters."""
    names = [f"blocks.{i}.hook_resid_post" for i in range(2)]
    acts = cache_activations(model, tok, prompts, names)
    return {n: a.mean(0) for n, a in acts.items()}


def _random(d: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(d, generator=torch.Generator().manual_seed(seed))


def _interventions(mean_dirs: dict) -> dict:
    v = _random(64, 1)
    return {
        "steer": Steer({"blocks.0.hook_resid_post": v}, coef=4.0),
        "steer-per-layer": Steer({"blocks.0.hook_resid_post": v, "blocks.1.hook_resid_post": -v},
                                 coef={"blocks.0.hook_resid_post": 2.0, "blocks.1.hook_resid_post": 3.0}),
        "steer-response": Steer({"blocks.1.hook_resid_post": v}, coef=6.0, positions="response"),
        "steer-attn-mlp-pre": Steer({"blocks.1.hook_attn_out": v, "blocks.0.hook_mlp_out": -v,
                                     "blocks.1.hook_resid_pre": v, "embed": v}, coef=2.0),
        "ablate": Ablate(mean_dirs),
        "cap-floor": Cap({"blocks.0.hook_resid_post": v}, tau=8.0),
        "cap-ceiling": Cap(mean_dirs, tau=-1.0, bound="ceiling"),
    }


KINDS = list(_interventions({"blocks.0.hook_resid_post": torch.ones(64)}))


@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_applies_interventions_exactly_as_the_model_does(model, tok, prompts, mean_dirs, kind, monkeypatch):
    intervention = _interventions(mean_dirs)[kind]
    plain = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
    built = decoders_built(monkeypatch)
    with intervene(model, intervention):
        fast = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
        assert set(built) == {"LlamaDecoder"}                          # stayed on the fast path
        monkeypatch.setattr(sampler, "supports_fast_path", lambda m: False)
        built.clear()
        slow = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
        assert set(built) == {"HFDecoder"}
        assert fast == slow
        assert fast == [naive_greedy(model, p, GREEDY.max_new_tokens) for p in prompts]
    assert fast != plain
    assert not opaque_hooks_attached(model) and not any(
        e.pre or e.attn or e.mlp or e.post for e in residual_edits(model))   # all removed


def test_sampled_generation_agrees_across_paths(model, tok, prompts, mean_dirs, monkeypatch):
    ivs = _interventions(mean_dirs)
    with intervene(model, ivs["steer"], ivs["cap-ceiling"]):
        fast = generate(model, tok, prompts, SAMPLED, stop_token_ids=[])
        monkeypatch.setattr(sampler, "supports_fast_path", lambda m: False)
        assert generate(model, tok, prompts, SAMPLED, stop_token_ids=[]) == fast


def test_a_generic_hook_still_forces_the_models_own_forward(model, tok, prompts, mean_dirs, monkeypatch):
    steer = _interventions(mean_dirs)["steer"]
    with intervene(model, steer):
        alone = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
        handle = model.model.layers[1].register_forward_hook(lambda _m, _a, out: None)  # reads only
        try:
            assert opaque_hooks_attached(model)
            built = decoders_built(monkeypatch)
            both = generate(model, tok, prompts, GREEDY, stop_token_ids=[])
            assert set(built) == {"HFDecoder"}
        finally:
            handle.remove()
    assert both == alone


def test_residual_edits_keep_registration_order(model, mean_dirs):
    ivs = _interventions(mean_dirs)
    with intervene(model, ivs["steer"], ivs["cap-floor"]):
        edits = residual_edits(model)
        assert len(edits[0].post) == 2 and not edits[1].post
        h = torch.zeros(1, 1, 64)
        v = ivs["steer"].vectors["blocks.0.hook_resid_post"]
        want = ivs["cap-floor"].edit("blocks.0.hook_resid_post")(h + 4.0 * v)
        got = edits[0].post[1](edits[0].post[0](h))
        assert torch.equal(got, want)
