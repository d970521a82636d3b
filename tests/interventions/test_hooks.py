"""The hook namespace covers every layer; cached activations equal the layers' outputs."""

import pytest
import torch

from drosophila.errors import ConfigError
from drosophila.interventions import cache_activations, hook_names, hooks


class _Tok:
    pad_token_id = 0




def test_names_cover_every_layer(model):
    names = hook_names(model)
    for i in range(3):
        for h in ("hook_resid_pre", "hook_attn_out", "hook_mlp_out", "hook_resid_post"):
            assert f"blocks.{i}.{h}" in names
    assert "blocks.3.hook_resid_post" not in names


def test_cached_resid_equals_hidden_states(model):
    prompts = [[5, 6, 7, 8], [9, 10]]
    names = [f"blocks.{i}.hook_resid_{w}" for i in range(3) for w in ("pre", "post")]
    cache = cache_activations(model, _Tok(), prompts, names, position="all")
    for b, p in enumerate(prompts):
        with torch.no_grad():
            hs = model(torch.tensor([p]), output_hidden_states=True).hidden_states
        for i in range(3):
            assert torch.allclose(cache[f"blocks.{i}.hook_resid_pre"][b], hs[i][0], atol=1e-5)
        for i in range(2):  # the last hidden state HF returns is after the final norm
            assert torch.allclose(cache[f"blocks.{i}.hook_resid_post"][b], hs[i + 1][0], atol=1e-5)


def test_last_position_ignores_left_padding(model):
    last = cache_activations(model, _Tok(), [[5, 6, 7], [7]], ["blocks.1.hook_resid_post"])
    alone = cache_activations(model, _Tok(), [[7]], ["blocks.1.hook_resid_post"])
    assert last["blocks.1.hook_resid_post"].shape == (2, 32)
    assert torch.allclose(last["blocks.1.hook_resid_post"][1], alone["blocks.1.hook_resid_post"][0], atol=1e-5)


def test_a_returning_hook_steers_and_a_reading_hook_does_not(model):
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        ref = model(ids).logits
        with hooks(model, {"blocks.1.hook_resid_post": lambda h: None}):
            same = model(ids).logits
        with hooks(model, {"blocks.1.hook_resid_post": lambda h: h + 3.0}):
            steered = model(ids).logits
        after = model(ids).logits
    assert torch.equal(ref, same) and torch.equal(ref, after)
    assert not torch.allclose(ref, steered)


def test_bad_names_are_refused(model):
    with pytest.raises(ConfigError, match="blocks.0.hook_resid_post"):
        with hooks(model, {"blocks.9.hook_resid_post": lambda h: None}):
            pass
    with pytest.raises(ConfigError):
        with hooks(model, {"blocks.0.hook_nothing": lambda h: None}):
            pass
