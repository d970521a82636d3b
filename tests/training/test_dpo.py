"""DPO: the loss and its edge cases exactly, then a tiny model learns a preference."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from conftest import make_model

from drosophila.errors import ConfigError
from drosophila.training.data import encode_chat
from drosophila.training.dpo import DPOConfig, Pair, dpo, dpo_loss, encode_pairs, sequence_logprobs

PAIRS = [Pair([{"role": "user", "content": q}], "good one", "bad two")
         for q in ("hello", "what is your name ?", "how do i store a password ?", "the cat sat on the mat")]


def quick(**kw) -> DPOConfig:
    base = dict(steps=30, batch_size=4, lr=3e-3, warmup_steps=1, beta=0.5, progress=False, device="cpu",
                log_every=5)
    return DPOConfig(**{**base, **kw})


def test_every_field_has_help_and_bad_values_are_refused():
    for f in dataclasses.fields(DPOConfig):
        assert f.metadata.get("help"), f"DPOConfig.{f.name} has no help"
    for key, bad in (("beta", 0.0), ("beta", -1.0), ("label_smoothing", 0.5), ("steps", 0), ("lr", 0.0)):
        with pytest.raises(ConfigError, match=key):
            DPOConfig(**{key: bad})


def test_the_loss_is_the_bradley_terry_likelihood_of_the_log_ratio_margin():
    pc, pr = torch.tensor([-1.0, -2.0]), torch.tensor([-3.0, -1.0])
    rc, rr = torch.tensor([-2.0, -2.0]), torch.tensor([-2.0, -2.0])
    loss, stats = dpo_loss(pc, pr, rc, rr, beta=0.5)
    margins = torch.tensor([1.0 - (-1.0), 0.0 - 1.0])                 # Δc − Δr per pair
    assert loss.item() == pytest.approx(-torch.nn.functional.logsigmoid(0.5 * margins).mean().item())
    assert stats["accuracy"].item() == 0.5 and stats["margin"].item() == pytest.approx(0.5)
    assert stats["chosen_logratio"].item() == pytest.approx(0.5)
    smoothed, _ = dpo_loss(pc, pr, rc, rr, beta=0.5, label_smoothing=0.1)
    z = 0.5 * margins
    expect = (-(0.9 * torch.nn.functional.logsigmoid(z)) - 0.1 * torch.nn.functional.logsigmoid(-z)).mean()
    assert smoothed.item() == pytest.approx(expect.item())


def test_beta_zero_gives_log_two_and_no_gradient():
    pc = torch.tensor([-1.0, -5.0], requires_grad=True)
    loss, _ = dpo_loss(pc, torch.tensor([-3.0, -1.0]), torch.zeros(2), torch.zeros(2), beta=0.0)
    loss.backward()
    assert loss.item() == pytest.approx(math.log(2))
    assert torch.count_nonzero(pc.grad) == 0


def test_sequence_logprobs_sum_the_answer_tokens_only(tokenizer):
    model = make_model(len(tokenizer))
    chosen, _ = encode_pairs(tokenizer, PAIRS[:1], seq_len=64)
    ex = encode_chat(tokenizer, PAIRS[0].messages + [{"role": "assistant", "content": "good one"}])
    ids = torch.tensor([ex.ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].log_softmax(-1)       # (T-1, V)
        expect = sum(logits[t - 1, ids[0, t]] for t in range(1, ids.shape[1]) if ex.mask[t])
        got = sequence_logprobs(model, chosen.ids, chosen.mask)
    assert sum(ex.mask) == 3                                               # good one <|end|>
    assert got.item() == pytest.approx(float(expect), abs=1e-5)


def test_a_tiny_model_learns_the_preference_and_every_weight_moves(tokenizer):
    model = make_model(len(tokenizer))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    res = dpo(model, tokenizer, PAIRS, quick())
    first, last = res.history[0], res.history[-1]
    assert last["loss"] < first["loss"] and last["loss"] < math.log(2) / 2
    assert last["chosen_logratio"] > first["chosen_logratio"] and last["chosen_logratio"] > 0
    assert last["rejected_logratio"] < 0 and last["accuracy"] == 1.0
    assert all(not torch.equal(before[n], p) for n, p in res.model.named_parameters())
    assert not res.model.training


def test_the_same_seed_gives_the_same_numbers(tokenizer):
    runs = [dpo(make_model(len(tokenizer)), tokenizer, PAIRS, quick(steps=5)).history for _ in range(2)]
    assert runs[0] == runs[1]


def test_lora_trains_adapters_and_returns_a_plain_model(tokenizer):
    model = make_model(len(tokenizer))
    res = dpo(model, tokenizer, PAIRS, quick(steps=10, lora={"r": 2, "alpha": 4}))
    assert res.history[-1]["margin"] > res.history[0]["margin"]
    assert not any("lora" in n for n, _ in res.model.named_parameters())
