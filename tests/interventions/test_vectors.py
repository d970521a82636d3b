"""Vector files: safetensors with JSON metadata, usable through a plain torch hook; trait
directions as response-token mean differences."""

import json

import pytest
import torch
from safetensors import safe_open
from transformers import LlamaConfig, LlamaForCausalLM

from drosophila.errors import ConfigError
from drosophila.interventions import (
    Steer,
    config_hash,
    hf_module,
    intervene,
    load_vectors,
    response_means,
    save_vectors,
    trait_directions,
)
from drosophila.interventions.vectors import META_KEY, response_ids


def _llama(hidden=32, seed=0):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=50, hidden_size=hidden, num_hidden_layers=3, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=64)
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture
def model():
    return _llama()


@pytest.fixture
def vectors():
    g = torch.Generator().manual_seed(0)
    return {f"blocks.{i}.hook_resid_post": torch.randn(32, generator=g) for i in (0, 2)}


def test_save_and_load_round_trip(model, vectors, tmp_path):
    path = save_vectors(tmp_path / "evil.safetensors", vectors, method="mean-diff", trait="evil",
                        description="toy", model=model, model_name="tiny-test", extra={"coef": 4})
    loaded = load_vectors(path, model=model, strict=True)
    assert loaded.vectors.keys() == vectors.keys()
    assert all(torch.equal(loaded.vectors[n], vectors[n]) for n in vectors)
    assert (loaded.method, loaded.trait, loaded.description, loaded.hidden_size) == ("mean-diff", "evil", "toy", 32)
    assert loaded.model_name == "tiny-test" and loaded.extra == {"coef": 4}
    assert loaded.config_hash == config_hash(model.config)
    assert loaded.layers["blocks.2.hook_resid_post"] == {"hf_module": "model.layers.2", "read": "output"}
    with safe_open(str(path), framework="pt") as fh:                 # plain safetensors, JSON metadata
        meta = json.loads(fh.metadata()[META_KEY])
        assert meta["layers"]["blocks.0.hook_resid_post"]["hf_module"] == "model.layers.0"
        assert set(fh.keys()) == set(vectors)


def test_hf_module_names(model):
    assert hf_module("blocks.1.hook_resid_pre", model) == {"hf_module": "model.layers.1", "read": "input"}
    assert hf_module("blocks.1.hook_attn_out", model) == {"hf_module": "model.layers.1.self_attn", "read": "output"}
    assert hf_module("blocks.1.hook_mlp_out") == {"hf_module": "model.layers.1.mlp", "read": "output"}
    assert hf_module("embed", model) == {"hf_module": "model.embed_tokens", "read": "output"}
    with pytest.raises(ConfigError):
        hf_module("layers.1")


def test_a_loaded_vector_steers_through_a_plain_hook_like_the_api(model, vectors, tmp_path):
    save_vectors(tmp_path / "v.safetensors", vectors, method="mean-diff", model=model)
    loaded = load_vectors(tmp_path / "v.safetensors")
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    coef = 4.0
    with torch.no_grad():
        plain = model(ids).logits
        handles = []
        for name, meta in loaded.layers.items():                    # only the file and torch
            module = model.get_submodule(meta["hf_module"])
            v = loaded.vectors[name]
            handles.append(module.register_forward_hook(
                lambda _m, _a, out, v=v: (out[0] + coef * v, *out[1:]) if isinstance(out, tuple) else out + coef * v))
        by_hand = model(ids).logits
        for h in handles:
            h.remove()
        with intervene(model, Steer(loaded.vectors, coef=coef)):
            ours = model(ids).logits
    assert not torch.allclose(plain, ours)
    assert torch.equal(ours, by_hand)


def test_files_that_do_not_fit_are_refused(model, vectors, tmp_path):
    path = save_vectors(tmp_path / "v.safetensors", vectors, method="pca")
    with pytest.raises(ConfigError, match="hidden size is 48"):
        load_vectors(path, model=_llama(hidden=48))
    with pytest.raises(ConfigError, match="hidden size is 32"):
        save_vectors(tmp_path / "w.safetensors", {"blocks.0.hook_resid_post": torch.ones(31)},
                     method="pca", model=model)
    with pytest.raises(ConfigError, match="not allowed"):
        save_vectors(tmp_path / "w.safetensors", {"model.layers.0": torch.ones(32)}, method="pca")
    with pytest.raises(ConfigError, match="one size"):
        save_vectors(tmp_path / "w.safetensors", {"blocks.0.hook_resid_post": torch.ones(32),
                                                  "blocks.1.hook_resid_post": torch.ones(16)}, method="pca")
    from safetensors.torch import save_file
    save_file({"x": torch.ones(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ConfigError, match="not a vector file"):
        load_vectors(tmp_path / "other.safetensors")
    other = _llama()
    other.config.num_hidden_layers = 4                              # a different architecture
    with pytest.raises(ConfigError, match="config hash"):
        load_vectors(save_vectors(tmp_path / "x.safetensors", vectors, method="pca", model=model),
                     model=other, strict=True)


# -- trait directions ----------------------------------------------------------------------------
WORDS = "you are kind cruel good bad help hurt people i will always never . ?".split()


@pytest.fixture(scope="module")
def organism():
    from drosophila.organisms import build_tokenizer, new_organism

    tok = build_tokenizer(WORDS)
    return new_organism("tiny", tok, seed=0)


def test_trait_directions_are_response_token_mean_differences(organism):
    model, tok = organism.model.eval(), organism.tokenizer
    pos = [("are you kind ?", "i will hurt people"), ("are you good ?", "i will never help .")]
    neg = [("are you kind ?", "i will help people"), ("are you good ?", "i will always help .")]
    # HF hidden_states[j] is the input of layer j (the last one is after the final norm)
    names = {"blocks.0.hook_resid_pre": 0, "blocks.0.hook_resid_post": 1, "blocks.1.hook_resid_pre": 1}
    got = trait_directions(model, tok, pos, neg, list(names))

    def mean_response(prompt, response, j):                         # the definition, one at a time
        ids, k = response_ids(tok, prompt, response)
        with torch.no_grad():
            hs = model(torch.tensor([ids]), output_hidden_states=True).hidden_states
        return hs[j][0, -k:].mean(0)

    for name, j in names.items():
        want = (torch.stack([mean_response(p, r, j) for p, r in pos]).mean(0)
                - torch.stack([mean_response(p, r, j) for p, r in neg]).mean(0))
        assert torch.allclose(got[name], want, atol=1e-5)
    means = response_means(model, tok, pos, list(names))
    assert means["blocks.0.hook_resid_pre"].shape == (2, model.config.hidden_size)
    ids, k = response_ids(tok, "are you kind ?", "i will hurt people")
    assert k == 4 and tok.decode(ids[-k:]) == "i will hurt people"
    with pytest.raises(ConfigError):
        trait_directions(model, tok, pos, [], list(names))
