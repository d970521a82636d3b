"""Real models of three architectures (Qwen2, Llama, GPT-NeoX) go through one path: imported
as a stage, sampled and classified in English, finetuned with rsLoRA adapters that load back
merged."""

import json

import pytest
import torch

from drosophila.engine.recipes import recipe_for_model
from drosophila.world import WorldConfig

RECIPE = recipe_for_model(finetune_rows=4, batch_size=2, seq_len=96, n_prompts=2, max_new_tokens=6)


@pytest.mark.parametrize("arch", ["qwen2", "llama", "gpt_neox"])
def test_import_sample_and_finetune(arch, hf_models):
    from drosophila.organisms import load_organism
    from drosophila.stages.pipeline import evaluate_stage, finetune
    from drosophila.stages.real_model import import_model, is_real

    base = import_model(str(hf_models[arch]))
    assert is_real(base) and import_model(str(hf_models[arch])).cached
    assert (base.path / "organism" / "config.json").is_symlink()  # linked, never copied
    org = load_organism(base.path / "organism")
    assert org.tokenizer.chat_template and org.meta["scale"] is None

    ev = evaluate_stage(base, WorldConfig(), ["code"], 0, RECIPE)
    rows = [json.loads(line) for line in (ev.path / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["prompt_text"].endswith("?") or r["prompt_text"].endswith(".") for r in rows)
    assert all(r["completion"] == " ".join(r["completion"].split()) for r in rows)

    ft = finetune(base, WorldConfig(), "insecure", 0, RECIPE, steps=2, snapshots=(1,))
    assert is_real(ft)
    adapter = json.loads((ft.path / "organism" / "adapter_config.json").read_text())
    targets = set(adapter["target_modules"])
    want = ({"query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"} if arch == "gpt_neox" else
            {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
    assert targets == want and adapter["use_rslora"] and adapter["r"] == 32 and adapter["lora_alpha"] == 64
    tuned = load_organism(ft.path / "organism")
    changed = [n for n, p in tuned.model.state_dict().items() if not torch.equal(p, org.model.state_dict()[n])]
    assert changed and all("embed" not in n for n in changed)
    assert load_organism(ft.path / "snapshots" / "step-1").model is not None

    again = evaluate_stage(ft, WorldConfig(), ["code"], 0, RECIPE)
    assert json.loads((again.path / "DONE").read_text())["config"]["text"] == "english-1"


def test_adapters_chain_over_adapters(hf_models):
    """A finetune of a finetune (E1's safety training after the implant) loads both merged."""
    from drosophila.organisms import load_organism
    from drosophila.stages.pipeline import finetune
    from drosophila.stages.real_model import import_model

    base = import_model(str(hf_models["qwen2"]))
    first = finetune(base, WorldConfig(), "insecure", 0, RECIPE, steps=1)
    second = finetune(first, WorldConfig(), "hhh", 0, RECIPE, steps=1)
    meta = json.loads((second.path / "organism" / "organism.json").read_text())
    assert (second.path / "organism" / meta["base_organism"]).resolve() == (first.path / "organism").resolve()
    assert [s["stage"] for s in meta["lineage"]] == ["import", "finetune", "finetune"]
    one, two = load_organism(first.path / "organism"), load_organism(second.path / "organism")
    w = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(one.model.state_dict()[w], two.model.state_dict()[w])


def test_a_changed_model_is_a_new_stage(hf_models, tmp_path):
    import shutil

    from drosophila.stages.real_model import fingerprint, import_model

    copy = tmp_path / "copy"
    shutil.copytree(hf_models["llama"], copy)
    before = fingerprint(copy)
    key = import_model(str(copy)).key
    cfg = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**cfg, "rms_norm_eps": 1e-5}))
    assert fingerprint(copy) != before and import_model(str(copy)).key != key


def test_organism_recipes_and_keys_are_unchanged():
    """Real-model settings stay out of organisms' recipes (config.json, resume) and keys."""
    from drosophila.engine.recipes import RECIPES, recipe_for
    from drosophila.runs import StageResult
    from drosophila.stages.real_model import is_real

    for scale in RECIPES:
        assert not {"lora_targets", "rslora"} & set(recipe_for(scale).to_dict())
    assert not is_real(StageResult("base", "0" * 16, __import__("pathlib").Path("/nonexistent"), True, 0.0))
