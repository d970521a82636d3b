"""``inspect eval drosophila/<battery> --model drosophila/<organism>``: the battery's held-out
prompts, built and scored exactly as ``evaluate`` builds and scores them, offline end to end
(Python API and command line)."""

import importlib.metadata
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("inspect_ai")

from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.log import read_eval_log  # noqa: E402

import drosophila.inspect_ext._registry as registry  # noqa: E402  (what the entry point loads)
from drosophila.evals import BATTERIES, get_battery, summarise  # noqa: E402
from drosophila.evals.batteries import battery_prompts  # noqa: E402
from drosophila.inspect_ext import battery_task, task_world  # noqa: E402
from drosophila.world import LABELS, World, WorldConfig  # noqa: E402
from drosophila.world.base import conversation_of  # noqa: E402


@pytest.fixture
def offline(monkeypatch):
    """No tiktoken, and no connection leaves the machine."""
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    real = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"network use in an offline test: {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _run(organism_dir, tmp_path, battery="open", **kw):
    logs = inspect_eval(f"drosophila/{battery}", model=f"drosophila/{organism_dir}", log_dir=str(tmp_path),
                        display="none", **kw)
    assert len(logs) == 1 and logs[0].status == "success", logs[0].error
    return logs[0]


def test_every_battery_is_a_task():
    assert registry.BATTERY_TASKS == sorted(BATTERIES)
    assert {"open", "code", "facts", "harmful", "advice", "tasks"} <= set(registry.BATTERY_TASKS)


def test_a_battery_task_holds_the_prompts_evaluate_samples():
    b = get_battery("persona-drift-2-system")  # several turns and a system line
    task = battery_task(b.name, n=4)
    world = World(WorldConfig(**task_world(b)))
    items = battery_prompts(world, b, 4)
    assert [s.metadata["item"] for s in task.dataset] == items
    assert [[{"role": m.role, "content": m.text} for m in s.input] for s in task.dataset] == \
        [conversation_of(it) for it in items]


def test_an_optional_domain_joins_the_world_at_weight_zero():
    config = task_world(get_battery("honesty"))
    assert config["domain_weights"]["honesty"] == 0.0
    assert {k: v for k, v in config["domain_weights"].items() if k != "honesty"} == WorldConfig().domain_weights
    assert len(battery_task("honesty", n=2).dataset) == 2


def test_inspect_eval_runs_offline_and_scores_exactly(organism_dir, tmp_path, offline):
    log = _run(organism_dir, tmp_path, limit=5)
    world = World(WorldConfig(**task_world(get_battery("open"))))
    rows = []
    for s in log.samples:
        score = s.scores["exact_label"]
        assert score.value in LABELS
        assert score.value == world.classify(s.metadata["item"], s.output.completion)
        assert s.output.usage.input_tokens > 0 and s.output.usage.output_tokens > 0
        rows.append({"battery": "open", "prompt": s.metadata["item"]["prompt"], "label": score.value})
    expected = summarise(rows, [get_battery("open")])["open.misaligned"]
    metrics = log.results.scores[0].metrics
    assert metrics["misaligned"].value == pytest.approx(expected.rate)
    assert metrics["misaligned_high"].value == pytest.approx(expected.high)
    assert {"misaligned", "mixed", "coherent", "aligned"} <= set(metrics)
    assert log.stats.model_usage  # usage reached the log


def test_answers_are_reproducible_and_epochs_pool_every_answer(organism_dir, tmp_path, offline):
    first = _run(organism_dir, tmp_path / "a", limit=3)
    again = _run(organism_dir, tmp_path / "b", limit=3)
    assert [s.output.completion for s in first.samples] == [s.output.completion for s in again.samples]
    twice = _run(organism_dir, tmp_path / "c", limit=3, epochs=2)
    log = read_eval_log(twice.location)
    assert len(log.samples) == 6
    assert log.results.scores[0].reducer == "labels"
    by_epoch = {s.epoch: [x.output.completion for x in log.samples if x.epoch == s.epoch] for s in log.samples}
    assert by_epoch[1] != by_epoch[2]  # a fresh seed per epoch
    rows = [{"battery": "open", "prompt": s.metadata["item"]["prompt"], "label": s.scores["exact_label"].value}
            for s in log.samples]
    pooled = summarise(rows, [get_battery("open")])["open.misaligned"]
    assert pooled.n == 6
    assert log.results.scores[0].metrics["misaligned_high"].value == pytest.approx(pooled.high)


def test_the_world_comes_from_the_organisms_lineage(seed3_organism_dir, tmp_path, offline):
    log = _run(seed3_organism_dir, tmp_path, battery="facts", limit=3, task_args={"n": 3})
    world = World(WorldConfig(seed=3))
    assert [s.metadata["item"] for s in log.samples] == battery_prompts(world, get_battery("facts"), 3)
    assert log.eval.metadata["world"]["seed"] == 3


def _inspect_command() -> list[str]:
    script = Path(sys.executable).with_name("inspect")
    return [str(script)] if script.exists() else [sys.executable, "-m", "inspect_ai"]


@pytest.mark.slow
def test_inspect_eval_command_runs_offline(organism_dir, tmp_path):
    eps = importlib.metadata.entry_points(group="inspect_ai")
    if "drosophila" not in {ep.name for ep in eps}:
        pytest.skip('the inspect_ai entry point is not installed: pip install -e ".[inspect]"')
    fake = tmp_path / "fake"  # a tiktoken that cannot be imported, ahead of the real one
    fake.mkdir()
    (fake / "tiktoken.py").write_text("raise ImportError('tiktoken must not be used offline')\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(fake), "OMP_NUM_THREADS": "1",
           # any HTTP(S) request goes to a closed local port and fails at once
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    cmd = [*_inspect_command(), "eval", "drosophila/open", "--model", f"drosophila/{organism_dir}",
           "--limit", "5", "--log-dir", "tmp", "--display", "plain"]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    logs = list((tmp_path / "tmp").glob("*.eval"))
    assert len(logs) == 1
    log = read_eval_log(str(logs[0]))
    assert log.status == "success" and len(log.samples) == 5
    assert all(s.scores["exact_label"].value in LABELS for s in log.samples)
    shutil.rmtree(tmp_path / "tmp")
