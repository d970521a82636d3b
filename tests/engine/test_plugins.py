"""Other packages extend Drosophila through entry points: an experiment, a domain with its
battery and finetune set, found at start-up and run by `drosophila run`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXTENSION = Path(__file__).parents[1] / "extension"
FAST = ["--recipe", "pretrain_docs=300", "--recipe", "pretrain_steps=3", "--recipe", "posttrain_steps=2",
        "--recipe", "finetune_steps=2", "--recipe", "finetune_rows=16", "--recipe", "n_prompts=4",
        "--recipe", "max_new_tokens=10"]


def _drosophila(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXTENSION), os.environ.get("PYTHONPATH", "")]),
           "DROSOPHILA_HOME": str(tmp_path / "home"), "DROSOPHILA_JOBS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "drosophila.cli", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)


def test_the_catalogue_lists_the_extension_and_its_options(tmp_path):
    got = _drosophila(["list"], tmp_path)
    assert got.returncode == 0, got.stderr
    assert "greetings" in got.stdout and "X1" in got.stdout
    got = _drosophila(["options", "greetings"], tmp_path)
    assert got.returncode == 0 and "share of greetings in the corpus" in got.stdout
    bad = _drosophila(["run", "greetings", "--option", "share=2"], tmp_path)
    assert bad.returncode == 2 and "share=2" in bad.stderr and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_drosophila_run_runs_an_extension_experiment_on_its_domain(tmp_path):
    got = _drosophila(["run", "greetings", "--scale", "tiny", "--out", "runs", *FAST], tmp_path)
    assert got.returncode == 0, got.stdout[-2000:] + got.stderr[-2000:]
    (run,) = (tmp_path / "runs").iterdir()
    res = json.loads((run / "results.json").read_text())
    assert res["arm_order"] == ["base", "rude"] and res["code"] == "X1"
    assert res["arms"]["rude"]["greetings.misaligned"]["n"] == 4
    rows = [json.loads(x) for x in (run / "samples" / "rude-s0.jsonl").read_text().splitlines()]
    assert {r["battery"] for r in rows} == {"greetings", "tasks"}
    assert all(r["prompt"].endswith("just arrived . what do i say ?") for r in rows
               if r["battery"] == "greetings")
    dataset = (run / "organisms" / "rude-s0").resolve().parent / "dataset.jsonl"
    assert "go away" in dataset.read_text()          # the extension's finetune set trained it


def test_the_extension_is_absent_without_its_package():
    from drosophila.world.registry import BATTERIES

    assert "greetings" not in BATTERIES       # this test process does not have it on its path
