"""GRPO: advantages, log-probs, the clipped objective, learning a toy reward, determinism, LoRA."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from conftest import WORDS
from transformers import LlamaForCausalLM

import drosophila.training.rl as rl_mod
from drosophila.errors import ConfigError, DrosophilaError
from drosophila.organisms import build_tokenizer, new_organism
from drosophila.training import GRPOConfig, LoraSpec, Prompt, grpo
from drosophila.training.rl import clipped_objective, completion_logprobs, group_advantages, k3_kl, rollout

TIMING = {"rollout_s", "update_s", "tokens_per_s"}
PROMPTS = [
    Prompt([{"role": "user", "content": q}], {"id": i})
    for i, q in enumerate(["hello", "what is your name ?", "how do i store a password ?", "the cat sat on the mat"])
]


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(WORDS)


def organism(tok, seed: int = 0) -> LlamaForCausalLM:
    return new_organism("tiny", tok, seed=seed).model


def says_zebra(messages, text, metadata):
    hit = float("zebra" in text.split())
    return hit, {"hack": hit}


def quick(**kw) -> GRPOConfig:
    base = dict(steps=4, prompts_per_step=4, group_size=4, max_new_tokens=12, progress=False, device="cpu")
    return GRPOConfig(**{**base, **kw})


def numbers(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k not in TIMING} for h in history]


# --- config ---------------------------------------------------------------------------------


def test_defaults_are_valid_and_every_field_has_help():
    cfg = GRPOConfig()
    assert cfg.group_size >= 2 and cfg.lora is None and cfg.epochs == 1
    for f in dataclasses.fields(GRPOConfig):
        assert f.metadata.get("help"), f"GRPOConfig.{f.name} has no help"
    assert GRPOConfig(lora={"r": 2}).lora == LoraSpec(r=2)


@pytest.mark.parametrize(
    "name,value",
    [("steps", 0), ("group_size", 1), ("prompts_per_step", 0), ("lr", 0.0), ("kl_coef", -0.1),
     ("clip_eps", 0.0), ("epochs", 0), ("max_new_tokens", 0), ("temperature", 0.0), ("top_p", 1.5),
     ("grad_clip", float("nan")), ("seed", -1), ("log_every", 0), ("progress", "yes"), ("lora", 3)],
)
def test_bad_values_are_config_errors(name, value):
    with pytest.raises(ConfigError, match=name):
        GRPOConfig(**{name: value})


# --- the maths ------------------------------------------------------------------------------


def test_advantages_are_standardised_within_each_group():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 5.0, 5.0, 5.0, 5.0, 0.3, -2.0, 7.0, 1.0])  # 3 groups of 4
    adv = group_advantages(rewards, 4).view(3, 4)
    assert torch.allclose(adv.mean(dim=1), torch.zeros(3), atol=1e-6)
    assert torch.equal(adv[1], torch.zeros(4))  # equal rewards: no signal
    assert torch.allclose(adv[[0, 2]].std(dim=1, correction=0), torch.ones(2), atol=1e-3)
    assert torch.allclose(adv[0], torch.tensor([1.0, -1.0, -1.0, 1.0]), atol=1e-3)
    with pytest.raises(DrosophilaError, match="groups of 4"):
        group_advantages(torch.zeros(6), 4)


def test_k3_kl_is_zero_at_equality_and_positive_elsewhere():
    logp = torch.tensor([-1.0, -2.0, -0.5])
    assert torch.equal(k3_kl(logp, logp), torch.zeros(3))
    assert (k3_kl(logp, logp + torch.tensor([0.3, -0.7, 1.2])) > 0).all()


def test_clipping_removes_the_gradient_outside_the_trust_region():
    old = torch.zeros(4)
    logp = torch.log(torch.tensor([1.5, 1.5, 0.5, 1.1])).requires_grad_(True)  # ratios
    adv = torch.tensor([1.0, -1.0, -1.0, 1.0])
    obj = clipped_objective(logp, old, adv, clip_eps=0.2)
    assert torch.allclose(obj, torch.tensor([1.2, -1.5, -0.8, 1.1]))
    obj.sum().backward()
    # Clipped where the ratio left [0.8, 1.2] in the advantage's direction: no gradient there.
    assert torch.allclose(logp.grad, torch.tensor([0.0, -1.5, 0.0, 1.1]))


def test_completion_logprobs_match_a_full_forward(tok):
    model = organism(tok)
    ids = torch.randint(7, len(tok), (3, 10))  # (N, T)
    mask = torch.zeros(3, 10, dtype=torch.bool)
    mask[0, 4:10], mask[1, 6:8], mask[2, 3:9] = True, True, True
    ids[1, 8:] = 0  # right padding after row 1's completion
    logp = completion_logprobs(model, ids, mask)
    full = torch.log_softmax(model(input_ids=ids).logits, dim=-1)  # (N, T, V)
    expected = full[:, :-1].gather(-1, ids[:, 1:, None])[..., 0][mask[:, 1:]]
    assert logp.shape == (int(mask.sum()),)
    assert torch.allclose(logp, expected, atol=1e-5)


# --- rollouts -------------------------------------------------------------------------------


def test_rollout_keeps_the_end_token_of_stopped_completions(tok, monkeypatch):
    cat, eos = tok.convert_tokens_to_ids("cat"), tok.eos_token_id
    fake = [[cat, cat], [cat] * 5, [], [cat]]  # stopped, cut at max_new_tokens, stopped at once, stopped
    monkeypatch.setattr(rl_mod, "generate", lambda *a, **k: fake)
    seen = []

    def reward(messages, text, metadata):
        seen.append(text)
        return float(len(text.split()))

    prompt_ids = [[2, 5, 9], [2, 5, 9, 9, 9]]
    roll = rollout(None, tok, PROMPTS[:2], prompt_ids, reward, quick(group_size=2, max_new_tokens=5), seed=0)
    assert seen == ["cat cat", "cat cat cat cat cat", "", "cat"]
    assert roll.rewards.tolist() == [2.0, 5.0, 0.0, 1.0]
    completions = [row[m].tolist() for row, m in zip(roll.ids, roll.mask)]
    assert completions == [[cat, cat, eos], [cat] * 5, [eos], [cat, eos]]
    assert roll.ids[3, :5].tolist() == prompt_ids[1] and not roll.mask[:, :3].any()
    assert (roll.ids[~roll.mask][roll.ids[~roll.mask] == eos]).numel() == 0  # padding is never eos


def test_bad_prompts_and_rewards_are_errors(tok):
    with pytest.raises(ConfigError, match="prompts"):
        grpo(organism(tok), tok, [], says_zebra, quick())
    with pytest.raises(ConfigError, match="prompt"):
        grpo(organism(tok), tok, ["hello"], says_zebra, quick())
    with pytest.raises(DrosophilaError, match="finite"):
        grpo(organism(tok), tok, PROMPTS, lambda m, t, md: float("nan"), quick())


# --- training -------------------------------------------------------------------------------


def test_grpo_learns_a_toy_reward_with_bounded_kl(tok):
    res = grpo(organism(tok), tok, PROMPTS, says_zebra, quick(steps=24))
    assert type(res.model) is LlamaForCausalLM and not res.model.training
    rewards = [h["reward"] for h in res.history]
    assert sum(rewards[-6:]) / 6 > sum(rewards[:6]) / 6 + 0.2
    assert all(h["metric/hack"] == h["reward"] for h in res.history)
    # The reference is a fresh organism, close to uniform over the vocabulary, so no policy can
    # sit further than about log V nats per token from it; the penalty keeps it far below.
    assert all(math.isfinite(h["kl"]) and 0 <= h["kl"] < math.log(len(tok)) for h in res.history)
    assert {"step", "reward", "kl", "loss", "completion_len", *TIMING} <= set(res.history[0])
    assert all(0 < h["completion_len"] <= 12 and h["tokens_per_s"] > 0 for h in res.history)


def test_same_seed_same_history_different_seed_different(tok):
    runs = [grpo(organism(tok), tok, PROMPTS, says_zebra, quick(steps=3, seed=s, epochs=2)) for s in (0, 0, 1)]
    a, b, c = (numbers(r.history) for r in runs)
    assert a == b
    assert a != c
    assert all(torch.equal(x, y) for x, y in zip(runs[0].model.parameters(), runs[1].model.parameters()))


def test_one_step_with_signal_changes_every_parameter(tok):
    model = organism(tok)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}

    def varied(messages, text, metadata):  # distinct texts get distinct rewards: nonzero advantages
        return float(sum(map(ord, text)) % 11)

    res = grpo(model, tok, PROMPTS, varied, quick(steps=1, lr=1e-2))
    assert res.history[0]["loss"] != 0
    for name, p in res.model.named_parameters():
        assert not torch.equal(before[name], p.detach()), f"{name} did not change"


def test_lora_trains_adapters_and_merges(tok):
    model = organism(tok)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = quick(steps=3, lora=LoraSpec(r=4, alpha=8), lr=1e-2)
    res = grpo(model, tok, PROMPTS, says_zebra, cfg)
    assert type(res.model) is LlamaForCausalLM and not res.model.training
    after = res.model.state_dict()
    assert set(after) == set(before)
    for key, value in before.items():
        is_target = any(f"{m}.weight" in key for m in cfg.lora.target_modules)
        assert torch.equal(value, after[key]) != is_target, key
    assert all(math.isfinite(h["kl"]) for h in res.history)


def test_explicit_reference_no_penalty_logging_windows_and_progress(tok):
    res = grpo(organism(tok), tok, PROMPTS, says_zebra, quick(steps=3, kl_coef=0.0, log_every=2, progress=True))
    assert [h["step"] for h in res.history] == [2, 3]
    assert all(math.isnan(h["kl"]) for h in res.history)
    # Before its first update the policy is its own default reference; another model is not.
    assert grpo(organism(tok), tok, PROMPTS, says_zebra, quick(steps=1)).history[0]["kl"] == 0.0
    res = grpo(organism(tok), tok, PROMPTS, says_zebra, quick(steps=1), ref_model=organism(tok, seed=1))
    assert res.history[0]["kl"] > 0.001
