"""Independent stages run at the same time, with the numbers of a sequential run."""

import pytest

from drosophila.engine.context import Context
from drosophila.engine.executor import parallel_map
from drosophila.experiments import run_experiment
from drosophila.io import read_json

FAST = {"pretrain_docs": 400, "pretrain_steps": 4, "finetune_steps": 2, "n_prompts": 4,
        "max_new_tokens": 12}


def _square(x: int) -> int:
    return x * x


def _where(ctx: Context, item: int) -> tuple:
    import os

    from drosophila.engine.executor import in_worker

    return item, os.getpid(), in_worker(), ctx.tag


def test_parallel_map_keeps_order_in_processes_and_runs_here_with_one_job():
    assert parallel_map(_square, [3, 1, 2], jobs=2) == [9, 1, 4]
    assert parallel_map(_square, [3, 1, 2], jobs=1) == [9, 1, 4]


def test_context_map_runs_items_in_workers_with_their_own_log_prefix(tmp_path):
    import os

    from drosophila.runs import new_run

    run = new_run("t", {}, root=tmp_path)
    ctx = Context(run=run, scale="tiny", seeds=[0, 1], recipe=None, world=None, jobs=2, echo=False)
    got = ctx.map(_where, [0, 1])
    assert [g[0] for g in got] == [0, 1]
    assert all(pid != os.getpid() and worker for _, pid, worker, _ in got)
    assert [g[3] for g in got] == ["[s0] ", "[s1] "]
    here = Context(run=run, scale="tiny", seeds=[0], recipe=None, world=None, jobs=1, echo=False)
    assert here.map(_where, [5]) == [(5, os.getpid(), False, "")]


@pytest.mark.slow
def test_two_seeds_in_parallel_give_the_sequential_numbers(tmp_path, monkeypatch):
    results = {}
    for jobs in (1, 2):
        monkeypatch.setenv("DROSOPHILA_HOME", str(tmp_path / f"home-{jobs}"))  # nothing shared
        run = run_experiment("emergent-misalignment", scale="tiny", seeds=2, out=tmp_path / f"runs-{jobs}",
                             recipe=FAST, options={"ablation": False}, jobs=jobs, echo=False, report=False)
        results[jobs] = read_json(run.path / "results.json")
        stages = read_json(run.path / "stages.json")
        assert all(s["threads"] == 1 for s in stages)            # every stage on one thread
    assert results[2]["environment"]["jobs"] == 2
    assert results[1]["per_seed"] == results[2]["per_seed"]
    assert results[1]["arms"] == results[2]["arms"]
    links = sorted(p.name for p in (tmp_path / "runs-2").glob("*/organisms/*"))
    assert links == sorted(f"{a}-s{s}" for a in ("base-main", "secure", "insecure", "educational",
                                                    "jailbroken") for s in (0, 1))


def test_a_stage_key_records_its_thread_count_only_when_not_one(tmp_path):
    import torch

    from drosophila.runs import stage, stage_key

    def build(out):
        (out / "x").write_text("x")

    one = stage("t", {"a": 1}, [], build, root=tmp_path)
    assert one.key == stage_key("t", {"a": 1}, [])        # one thread: keys as they always were
    torch.set_num_threads(2)
    try:
        two = stage("t", {"a": 1}, [], build, root=tmp_path)
    finally:
        torch.set_num_threads(1)
    assert two.key == stage_key("t", {"a": 1, "threads": 2}, []) and not two.cached
