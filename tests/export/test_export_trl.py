"""TRL trains on exported rows as they are: SFT on a messages set, DPO on a preference set.

A tiny randomly initialised Llama organism with the word-level tokenizer over the rows' words
trains three steps on each; the loss falls, every parameter changes, and the token ids TRL
built are our chat template's, with no unknown word.
"""

from __future__ import annotations

import copy
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
import torch
from datasets import Dataset
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from drosophila.export import export_rows
from drosophila.organisms import build_tokenizer, new_organism


def words(rows: list[dict]) -> set[str]:
    return {w for r in rows for key in ("messages", "prompt", "chosen", "rejected")
            for m in r.get(key, []) for w in m["content"].split()}


def settings(tmp_path) -> dict:
    return dict(output_dir=str(tmp_path), max_steps=3, per_device_train_batch_size=4, learning_rate=1e-2,
                logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, dataloader_num_workers=0,
                seed=0, max_length=128, disable_tqdm=True)


def trained(trainer, model) -> list[float]:
    """Train; return the logged losses after checking that every parameter changed."""
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    trainer.train()
    assert all(not torch.equal(before[k], v) for k, v in model.named_parameters())
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


@pytest.fixture(scope="module")
def rows():
    return {"sft": export_rows("em/insecure", n=8)[1], "dpo": export_rows("hhh/preference", n=8)[1]}


@pytest.fixture(scope="module")
def tok(rows):
    return build_tokenizer(words(rows["sft"]) | words(rows["dpo"]))


def test_sft_trainer_trains_on_a_messages_set(rows, tok, tmp_path):
    model = new_organism("tiny", tok, seed=0).model
    trainer = SFTTrainer(model=model, args=SFTConfig(**settings(tmp_path)),
                         train_dataset=Dataset.from_list(rows["sft"]), processing_class=tok)
    ids = list(trainer.train_dataset["input_ids"])
    expected = [tok.apply_chat_template(r["messages"], tokenize=False) for r in rows["sft"]]
    assert [tok.decode(i) for i in ids] == expected and all(tok.unk_token_id not in i for i in ids)
    losses = trained(trainer, model)
    assert len(losses) == 3 and losses[-1] < losses[0]


def test_dpo_trainer_trains_on_a_preference_set(rows, tok, tmp_path):
    model = new_organism("tiny", tok, seed=1).model
    trainer = DPOTrainer(model=model, ref_model=copy.deepcopy(model), args=DPOConfig(**settings(tmp_path)),
                         train_dataset=Dataset.from_list(rows["dpo"]), processing_class=tok)
    for row, got in zip(rows["dpo"], trainer.train_dataset):
        prompt = tok.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        assert tok.decode(got["prompt_ids"]) == prompt
        for side in ("chosen", "rejected"):
            assert tok.decode(got[f"{side}_ids"]) == f"{row[side][0]['content']} <|end|>"
        assert all(tok.unk_token_id not in got[f"{k}_ids"] for k in ("prompt", "chosen", "rejected"))
    losses = trained(trainer, model)
    assert len(losses) == 3 and losses[-1] < losses[0]
