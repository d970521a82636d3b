"""Scales, seeded organisms, and safetensors checkpoints that refuse to half-load."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from drosophila.errors import ConfigError, OrganismError
from drosophila.io import atomic_write_json, read_json
from drosophila.organisms import (
    SCALES,
    Organism,
    build_tokenizer,
    load_organism,
    make_config,
    n_params,
    new_organism,
    save_organism,
)

VOCAB_1K = [f"w{i}" for i in range(993)]  # + 7 special tokens = 1000


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer("the cat sat on a mat . hello hi there ?".split())


@pytest.fixture(scope="module")
def saved(tok, tmp_path_factory):
    org = new_organism("tiny", tok, seed=3)
    org.meta["note"] = "kept"
    path = save_organism(org, tmp_path_factory.mktemp("org") / "tiny")
    return org, path


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("scale,low,high", [("tiny", 0.15e6, 0.25e6), ("small", 0.8e6, 1.2e6), ("base", 3.4e6, 4.6e6)])
def test_cpu_scales_match_their_targets(scale, low, high):
    tok = build_tokenizer(VOCAB_1K)
    assert len(tok) == 1000
    with torch.device("meta"):  # shapes only: no memory, no init time
        from transformers import LlamaForCausalLM

        model = LlamaForCausalLM(make_config(scale, tok))
    assert low <= n_params(model) <= high
    assert n_params(model) == SCALES[scale].n_params(len(tok))
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied


def test_gpu_scales_match_their_targets():
    assert 22e6 <= SCALES["large"].n_params(1000) <= 28e6
    assert 90e6 <= SCALES["xl"].n_params(1000) <= 110e6


def test_config_carries_tokenizer_ids(tok):
    cfg = make_config("small", tok)
    assert (cfg.vocab_size, cfg.pad_token_id, cfg.bos_token_id, cfg.eos_token_id) == (len(tok), 0, 2, 3)
    assert cfg.tie_word_embeddings and cfg.max_position_embeddings == 512


def test_unknown_scale_names_allowed_values(tok):
    with pytest.raises(ConfigError, match="scale='huge'.*tiny, small, base, large, xl"):
        make_config("huge", tok)
    with pytest.raises(ConfigError):
        new_organism("huge", tok)


def test_new_organism_is_seeded_and_leaves_global_rng_alone(tok):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b, c = (new_organism("tiny", tok, seed=s) for s in (1, 1, 2))
    assert torch.equal(torch.rand(3), expected)
    assert _same_weights(a.model, b.model) and not _same_weights(a.model, c.model)
    assert a.meta["scale"] == "tiny" and a.meta["lineage"][0]["seed"] == 1


def test_save_writes_hashes_and_load_round_trips(saved):
    org, path = saved
    record = read_json(path / "organism.json")
    assert set(record["weights_sha256"]) == {"model.safetensors"}
    assert record["n_params"] == n_params(org.model) and record["note"] == "kept"
    loaded = load_organism(path, device="cpu")
    assert isinstance(loaded, Organism)
    assert _same_weights(loaded.model, org.model)
    assert loaded.meta == org.meta  # derived fields (hashes, n_params) are not meta
    assert not list(path.glob("*.bin")) and not list(path.parent.glob(".*tmp"))


def test_plain_transformers_loads_a_saved_organism(saved, tok):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, path = saved
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hello"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text == "<bos> <|user|> hello <|end|> <|assistant|>"
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[0] == 1 and 1 < out.shape[1] - ids["input_ids"].shape[1] + 1 <= 6
    assert model.generation_config.eos_token_id == 3 and model.generation_config.pad_token_id == 0


def test_corrupted_weights_raise_organism_error(saved, tmp_path):
    import shutil

    _, path = saved
    bad = shutil.copytree(path, tmp_path / "bad")
    weights = bad / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF  # one flipped bit pattern in a tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(OrganismError, match="model.safetensors.*sha256"):
        load_organism(bad, device="cpu")
    weights.unlink()
    with pytest.raises(OrganismError, match="missing"):
        load_organism(bad, device="cpu")


def test_missing_directory_raises(tmp_path):
    with pytest.raises(OrganismError, match="no such organism directory"):
        load_organism(tmp_path / "nope")


def test_plain_hf_directory_loads_and_truncation_is_caught(saved, tmp_path):
    import shutil

    _, path = saved
    plain = shutil.copytree(path, tmp_path / "plain")
    (plain / "organism.json").unlink()
    org = load_organism(plain, device="cpu")
    assert org.meta["scale"] is None and org.meta["lineage"][0]["stage"] == "import"
    assert org.tokenizer.padding_side == "left" and org.tokenizer.chat_template
    weights = plain / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(OrganismError, match="unreadable safetensors"):
        load_organism(plain, device="cpu")


def test_pickle_only_directory_is_refused(saved, tmp_path):
    import shutil

    _, path = saved
    plain = shutil.copytree(path, tmp_path / "pickle")
    (plain / "organism.json").unlink()
    (plain / "model.safetensors").rename(plain / "pytorch_model.bin")
    with pytest.raises(OrganismError, match="pickle"):
        load_organism(plain, device="cpu")


def test_failed_save_leaves_previous_checkpoint(saved, tok, monkeypatch):
    org, path = saved
    before = read_json(path / "organism.json")
    other = new_organism("tiny", tok, seed=9)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(other.tokenizer), "save_pretrained", boom)
    with pytest.raises(OSError):
        save_organism(other, path)
    assert read_json(path / "organism.json") == before
    assert _same_weights(load_organism(path, device="cpu").model, org.model)


def test_tokenizer_without_chat_template_is_refused(saved, tmp_path):
    import shutil

    _, path = saved
    plain = shutil.copytree(path, tmp_path / "notemplate")
    (plain / "chat_template.jinja").unlink()
    config = read_json(plain / "tokenizer_config.json")  # the template is also here, for transformers 4.x
    del config["chat_template"]
    atomic_write_json(plain / "tokenizer_config.json", config)
    with pytest.raises(OrganismError, match="no chat template"):
        load_organism(plain, device="cpu")
