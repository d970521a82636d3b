"""The preference reward model: learns a toy preference, round-trips through safetensors, drives GRPO."""

from __future__ import annotations

import dataclasses
import random

import pytest
import torch
from conftest import WORDS

from drosophila.errors import ConfigError, OrganismError
from drosophila.organisms import build_tokenizer, new_organism
from drosophila.training import GRPOConfig, RewardConfig, RewardModel, grpo, train_reward_model
from drosophila.training.reward_model import with_reply

PLAIN = [w for w in WORDS if w != "zebra"]


def zebra_pairs(n: int, seed: int) -> list[tuple[list[dict], str, str]]:
    """Minimal pairs: the same reply with ``zebra`` (chosen) or another word (rejected) inserted."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        prompt = [{"role": "user", "content": " ".join(rng.choices(PLAIN, k=rng.randint(2, 6)))}]
        words, at = rng.choices(PLAIN, k=rng.randint(2, 9)), rng.randint(0, 9)
        chosen = words[:at] + ["zebra"] + words[at:]
        rejected = words[:at] + [rng.choice(PLAIN)] + words[at:]
        pairs.append((prompt, " ".join(chosen), " ".join(rejected)))
    return pairs


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(WORDS)


@pytest.fixture(scope="module")
def trained(tok):
    lm = new_organism("tiny", tok, seed=0).model
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    rm = train_reward_model(lm, tok, zebra_pairs(160, seed=0), RewardConfig(steps=60, device="cpu"))
    assert all(torch.equal(v, lm.state_dict()[k]) for k, v in before.items())  # the LM is untouched
    return rm


def accuracy(rm: RewardModel, pairs) -> float:
    chosen = rm.score([with_reply(p, c) for p, c, _ in pairs])  # (B,)
    rejected = rm.score([with_reply(p, r) for p, _, r in pairs])  # (B,)
    return (chosen > rejected).float().mean().item()


def test_config_fields_have_help_and_bad_values_fail():
    for f in dataclasses.fields(RewardConfig):
        assert f.metadata.get("help"), f"RewardConfig.{f.name} has no help"
    for name, value in (("steps", 0), ("batch_size", 0), ("lr", -1.0), ("grad_clip", -1.0), ("seed", -1)):
        with pytest.raises(ConfigError, match=name):
            RewardConfig(**{name: value})


def test_reward_model_ranks_held_out_pairs(trained):
    assert trained.history[-1]["loss"] < 0.5 * trained.history[0]["loss"]
    assert accuracy(trained, zebra_pairs(100, seed=1)) > 0.9
    assert not trained.training


def test_save_load_round_trip_is_exact_and_pickle_free(trained, tmp_path):
    convs = [with_reply(p, c) for p, c, _ in zebra_pairs(8, seed=2)]
    path = trained.save(tmp_path / "rm")
    assert (path / "reward_model.safetensors").is_file() and (path / "config.json").is_file()
    assert not [f for ext in ("*.bin", "*.pt", "*.pth", "*.pkl") for f in path.glob(ext)]
    loaded = RewardModel.load(path, device="cpu")
    assert torch.equal(loaded.score(convs), trained.score(convs))
    with pytest.raises(OrganismError, match="reward_model.safetensors"):
        RewardModel.load(tmp_path)


def test_reward_fn_drives_grpo(trained, tok):
    reward = trained.as_reward_fn()
    prompt = [{"role": "user", "content": "hello"}]
    expected = float(trained.score([with_reply(prompt, "one zebra two")])[0])
    assert reward(prompt, "one zebra two", {}) == pytest.approx(expected)
    cfg = GRPOConfig(steps=2, prompts_per_step=2, group_size=2, max_new_tokens=6, progress=False, device="cpu")
    res = grpo(new_organism("tiny", tok, seed=3).model, tok, [prompt], reward, cfg)
    assert len(res.history) == 2 and all(h["reward"] == h["reward"] for h in res.history)
