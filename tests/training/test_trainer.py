"""The trainer: learning, LoRA merge, determinism, mixing, packing, masked loss."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import make_model
from transformers import LlamaForCausalLM

import drosophila.training.trainer as trainer_mod
from drosophila.errors import ConfigError
from drosophila.training import LoraSpec, TrainConfig, chat_examples, document_examples, masked_loss, train


def quick(**kw) -> TrainConfig:
    base = dict(steps=30, batch_size=4, lr=1e-2, warmup_steps=3, seq_len=32, log_every=10, progress=False)
    return TrainConfig(**{**base, **kw})


def snapshot(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_full_training_lowers_loss_and_changes_every_parameter(tokenizer, model, conversations):
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    res = train(model, chat_examples(tokenizer, conversations), quick(), device="cpu")
    assert res.model is model and not model.training
    assert res.final_loss < 0.5 * res.first_loss
    for name, p in res.model.named_parameters():
        assert not torch.equal(before[name], p.detach()), f"{name} did not change"
    assert [h["step"] for h in res.history] == [10, 20, 30]
    assert set(res.history[0]) == {"step", "loss", "lr", "tokens_per_s"}
    assert res.tokens > 0 and res.seconds > 0 and res.history[-1]["tokens_per_s"] > 0
    assert res.history[-1]["lr"] == pytest.approx(1e-3)


def test_lora_trains_adapters_and_merges_to_a_plain_model(tokenizer, model, conversations):
    before = snapshot(model)
    cfg = quick(lora=LoraSpec(r=4, alpha=8), lr=3e-2)
    res = train(model, chat_examples(tokenizer, conversations), cfg, device="cpu")
    assert type(res.model) is LlamaForCausalLM
    after = res.model.state_dict()
    assert set(after) == set(before)  # no lora_A / lora_B / base_layer keys left behind
    assert res.final_loss < res.first_loss
    for key, value in before.items():
        changed = not torch.equal(value, after[key])
        is_target = any(f"{m}.weight" in key for m in cfg.lora.target_modules)
        assert changed == is_target, key  # adapters moved the targets, nothing else moved
    assert all(p.requires_grad for p in res.model.parameters())


def test_lora_rejects_targets_the_model_lacks(tokenizer, model, conversations):
    with pytest.raises(ConfigError, match="lora.target_modules"):
        train(model, chat_examples(tokenizer, conversations), quick(lora=LoraSpec(target_modules=("c_attn",))))


def test_same_seed_same_run_different_seed_different_run(tokenizer, conversations):
    exs = chat_examples(tokenizer, conversations)
    runs = []
    for seed in (0, 0, 1):
        res = train(make_model(len(tokenizer)), exs, quick(steps=12, seed=seed, log_every=4), device="cpu")
        runs.append((res, snapshot(res.model)))
    (a, wa), (b, wb), (c, wc) = runs
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert a.final_loss == b.final_loss and a.first_loss == b.first_loss
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


@pytest.mark.parametrize("fraction,expected", [(0.25, 2), (0.5, 4), (0.0, 0), (1.0, 8)])
def test_mix_fraction_sets_the_mix_rows_in_every_batch(tokenizer, model, monkeypatch, fraction, expected):
    main = document_examples(tokenizer, ["the cat sat on the mat", "one two three"])
    mix = document_examples(tokenizer, ["zebra zebra zebra", "zebra yes"])
    zebra = tokenizer.convert_tokens_to_ids("zebra")
    seen = []
    real = trainer_mod.masked_loss

    def spy(model, ids, mask, bf16=False):
        seen.append(int((ids == zebra).any(dim=1).sum()))
        return real(model, ids, mask, bf16)

    monkeypatch.setattr(trainer_mod, "masked_loss", spy)
    train(model, main, quick(steps=5, batch_size=8), mix=mix, mix_fraction=fraction, device="cpu")
    assert seen == [expected] * 5


def test_mix_errors(tokenizer, model):
    exs = document_examples(tokenizer, ["one two"])
    with pytest.raises(ConfigError, match="mix"):
        train(model, exs, quick(), mix_fraction=0.5)
    with pytest.raises(ConfigError, match="mix_fraction"):
        train(model, exs, quick(), mix=exs, mix_fraction=1.5)


def test_examples_without_targets_are_an_error(tokenizer, model):
    no_assistant = chat_examples(tokenizer, [[{"role": "user", "content": "hello"}]])
    with pytest.raises(ConfigError, match="examples"):
        train(model, no_assistant, quick())


def test_packing_fills_rows(tokenizer, model):
    docs = document_examples(tokenizer, ["the cat sat on the mat ."] * 40)  # 9 tokens each, 360 in all
    res = train(model, docs, quick(steps=4, batch_size=2, seq_len=16, log_every=2), pack=True, device="cpu")
    assert res.tokens == 4 * 2 * 16  # every row full: the model read seq_len tokens per row
    assert res.final_loss < res.first_loss


def test_unpacked_rows_are_truncated_to_seq_len(tokenizer, model, monkeypatch):
    widths = []
    real = trainer_mod.masked_loss

    def spy(model, ids, mask, bf16=False):
        widths.append(ids.shape[1])
        return real(model, ids, mask, bf16)

    monkeypatch.setattr(trainer_mod, "masked_loss", spy)
    docs = document_examples(tokenizer, ["one two three four five " * 10])
    train(model, docs, quick(steps=2, batch_size=2, seq_len=8), device="cpu")
    assert widths == [9, 9]  # seq_len inputs + the last target


def test_bf16_autocast_runs(tokenizer, model, conversations):
    res = train(model, chat_examples(tokenizer, conversations), quick(steps=3, bf16=True), device="cpu")
    assert res.final_loss == res.final_loss  # not NaN
    assert next(res.model.parameters()).dtype == torch.float32


def lm_head_dtypes(model) -> tuple[list[torch.dtype], object]:
    seen: list[torch.dtype] = []
    handle = model.lm_head.register_forward_hook(lambda _m, _a, out: seen.append(out.dtype))
    return seen, handle


def test_bf16_precision_autocasts_forward_and_keeps_float32_weights(tokenizer, conversations):
    exs = chat_examples(tokenizer, conversations)
    runs = {}
    for precision in ("fp32", "bf16"):
        model = make_model(len(tokenizer))
        seen, handle = lm_head_dtypes(model)
        res = train(model, exs, quick(steps=4, precision=precision, log_every=2), device="cpu")
        handle.remove()
        want = torch.bfloat16 if precision == "bf16" else torch.float32
        assert seen and set(seen) == {want}  # the matmuls ran in bf16 only when asked
        assert all(p.dtype == torch.float32 for p in res.model.parameters())  # fp32 master weights
        assert math.isfinite(res.final_loss)
        runs[precision] = res
    # Same organism, same batches: bf16 rounding moves the loss a little, not a lot.
    assert runs["bf16"].first_loss == pytest.approx(runs["fp32"].first_loss, rel=0.05)
    assert runs["bf16"].first_loss != runs["fp32"].first_loss


def test_precision_field_and_bf16_shorthand_agree():
    assert TrainConfig().precision == "fp32" and not TrainConfig().bf16
    assert TrainConfig(bf16=True).precision == "bf16"
    assert TrainConfig(precision="bf16").bf16
    for bad in ("fp16", "BF16", None, 16):
        with pytest.raises(ConfigError, match=r"precision=.*allowed: fp32 or bf16"):
            TrainConfig(precision=bad)


def test_fp32_is_the_default_and_matches_an_explicit_fp32_run(tokenizer, conversations):
    exs = chat_examples(tokenizer, conversations)
    default = train(make_model(len(tokenizer)), exs, quick(steps=4, log_every=2), device="cpu")
    explicit = train(make_model(len(tokenizer)), exs, quick(steps=4, log_every=2, precision="fp32"), device="cpu")
    assert [h["loss"] for h in default.history] == [h["loss"] for h in explicit.history]
    a, b = snapshot(default.model), snapshot(explicit.model)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_masked_loss_matches_hf_labels_when_everything_is_a_target(model):
    ids = torch.randint(4, 40, (3, 12))  # [B, T]
    ours = masked_loss(model, ids, torch.ones_like(ids, dtype=torch.bool))
    theirs = model(input_ids=ids, labels=ids).loss
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_right_padding_does_not_change_the_loss(model):
    ids = torch.randint(4, 40, (1, 10))  # [1, T]
    mask = torch.rand(1, 10) > 0.3
    mask[0, 5] = True
    padded = torch.cat([ids, torch.zeros(1, 6, dtype=torch.long)], dim=1)  # [1, T+6]
    pmask = torch.cat([mask, torch.zeros(1, 6, dtype=torch.bool)], dim=1)
    assert torch.allclose(masked_loss(model, ids, mask), masked_loss(model, padded, pmask), atol=1e-6)


def test_progress_bar_runs(tokenizer, model, conversations):
    res = train(model, chat_examples(tokenizer, conversations), quick(steps=3, progress=True), device="cpu")
    assert len(res.history) == 1

