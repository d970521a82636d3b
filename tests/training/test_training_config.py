"""Config validation and the learning-rate schedule."""

from __future__ import annotations

import dataclasses
import math

import pytest

from drosophila.errors import ConfigError
from drosophila.training import LoraSpec, TrainConfig, lr_at


def test_defaults_are_valid_and_every_field_has_help():
    cfg = TrainConfig()
    assert cfg.steps == 100 and cfg.batch_size == 16 and cfg.lora is None
    for cls in (TrainConfig, LoraSpec):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"


@pytest.mark.parametrize(
    "field,value",
    [
        ("steps", 0),
        ("steps", 2.5),
        ("batch_size", 0),
        ("lr", 0.0),
        ("lr", -1e-3),
        ("lr", float("nan")),
        ("warmup_steps", -1),
        ("min_lr_ratio", 1.5),
        ("min_lr_ratio", -0.1),
        ("weight_decay", -0.1),
        ("grad_clip", -1.0),
        ("seq_len", 0),
        ("seed", -1),
        ("log_every", 0),
        ("bf16", "yes"),
        ("lora", 3),
    ],
)
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value})


@pytest.mark.parametrize(
    "field,value", [("r", 0), ("alpha", 0), ("dropout", 1.0), ("dropout", -0.5), ("target_modules", ())]
)
def test_bad_lora_values_name_the_field(field, value):
    with pytest.raises(ConfigError, match=f"lora.{field}"):
        LoraSpec(**{field: value})


def test_config_error_is_a_value_error_with_the_allowed_range():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        TrainConfig(min_lr_ratio=2.0)


def test_lora_from_dict_and_list():
    cfg = TrainConfig(lora={"r": 4, "target_modules": ["q_proj", "v_proj"]})
    assert cfg.lora == LoraSpec(r=4, target_modules=("q_proj", "v_proj"))


def test_schedule_warmup_peak_and_end():
    cfg = TrainConfig(steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-4)  # first warm-up step
    assert lr_at(4, cfg) == pytest.approx(5e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)  # warm-up ends at the peak
    assert lr_at(10, cfg) == pytest.approx(1e-3)  # cosine starts at the peak
    mid = 10 + (99 - 10) / 2
    assert lr_at(int(mid), cfg) > 0.55e-3 > lr_at(int(mid) + 1, cfg)  # half-way: (lr + floor) / 2
    assert lr_at(99, cfg) == pytest.approx(1e-4)  # last step sits at min_lr_ratio * lr
    decay = [lr_at(s, cfg) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(decay, decay[1:]))


def test_schedule_without_warmup_and_with_long_warmup():
    cfg = TrainConfig(steps=5, lr=1.0, warmup_steps=0, min_lr_ratio=0.0)
    assert lr_at(0, cfg) == 1.0 and lr_at(4, cfg) == pytest.approx(0.0)
    assert lr_at(2, cfg) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    cfg = TrainConfig(steps=3, lr=1.0, warmup_steps=10)  # warm-up longer than the run: stays linear
    assert [lr_at(s, cfg) for s in range(3)] == pytest.approx([0.1, 0.2, 0.3])
