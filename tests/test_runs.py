"""The stage cache (DONE markers, locks, crash leftovers) and run directories (resume)."""

from __future__ import annotations

import json
import socket
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from drosophila import runs
from drosophila.errors import DrosophilaError
from drosophila.evals.stats import wilson
from drosophila.io import read_json, read_jsonl
from drosophila.runs import RunDir, environment_info, home, new_run, stage, stage_key


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DROSOPHILA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


class Builder:
    """A build function that counts its calls and writes one file."""

    def __init__(self, fail: bool = False, sleep: float = 0.0) -> None:
        self.calls = 0
        self.fail = fail
        self.sleep = sleep

    def __call__(self, out: Path) -> dict:
        self.calls += 1
        time.sleep(self.sleep)
        (out / "weights.bin").write_bytes(b"w" * 10)
        if self.fail:
            raise RuntimeError("boom")
        return {"loss": 1.5}


def test_home(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert home() == cache_home
    monkeypatch.delenv("DROSOPHILA_HOME")
    assert home() == Path.home() / ".cache" / "drosophila"


def test_stage_builds_then_caches(cache_home: Path) -> None:
    build = Builder()
    first = stage("pretrain", {"scale": "tiny"}, [], build)
    assert not first.cached and build.calls == 1
    assert first.path == cache_home / "stages" / "pretrain" / first.key
    done = first.done()
    assert done["key"] == first.key and done["name"] == "pretrain"
    assert done["config"] == {"scale": "tiny"} and done["inputs"] == []
    assert done["output"] == {"loss": 1.5} and "finished_at" in done and done["seconds"] >= 0
    assert read_json(first.path / "stage.json")["config"] == {"scale": "tiny"}
    second = stage("pretrain", {"scale": "tiny"}, [], build)
    assert second.cached and build.calls == 1 and second.path == first.path
    assert not list(first.path.parent.glob("*.lock"))


def test_stage_root_and_force(tmp_path: Path) -> None:
    build = Builder()
    a = stage("s", {}, [], build, root=tmp_path / "other")
    assert a.path.is_relative_to(tmp_path / "other")
    b = stage("s", {}, [], build, root=tmp_path / "other", force=True)
    assert not b.cached and build.calls == 2 and (b.path / "DONE").is_file()


def test_stage_logs() -> None:
    lines: list[str] = []
    stage("s", {}, [], Builder(), log=lines.append)
    stage("s", {}, [], Builder(), log=lines.append)
    assert any("building" in x for x in lines) and lines[-1].endswith("cached")


def test_failed_build_leaves_nothing(cache_home: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        stage("sft", {"lr": 1}, ["abc"], Builder(fail=True))
    stage_dir = cache_home / "stages" / "sft"
    assert list(stage_dir.iterdir()) == []  # no final dir, no temp dir, no lock
    ok = Builder()
    result = stage("sft", {"lr": 1}, ["abc"], ok)
    assert not result.cached and ok.calls == 1 and (result.path / "DONE").is_file()


def test_half_written_dir_is_rebuilt(cache_home: Path) -> None:
    key = stage_key("pretrain", {"x": 1}, [])
    stale = cache_home / "stages" / "pretrain" / key
    stale.mkdir(parents=True)
    (stale / "weights.bin").write_bytes(b"half")
    (stale / "junk").write_text("from a crash")
    leftover_tmp = stale.parent / f".{key}.abc123.tmp"
    leftover_tmp.mkdir()
    build = Builder()
    result = stage("pretrain", {"x": 1}, [], build)
    assert not result.cached and build.calls == 1
    assert (result.path / "DONE").is_file() and not (result.path / "junk").exists()
    assert (result.path / "weights.bin").read_bytes() == b"w" * 10
    assert not leftover_tmp.exists()


def test_key_depends_on_config_and_inputs() -> None:
    base = stage_key("sft", {"lr": 1, "steps": 2}, ["a"])
    assert base == stage_key("sft", {"steps": 2, "lr": 1}, ["a"])  # key order is irrelevant
    assert base != stage_key("sft", {"lr": 2, "steps": 2}, ["a"])
    assert base != stage_key("sft", {"lr": 1, "steps": 2}, ["b"])
    assert base != stage_key("sft", {"lr": 1, "steps": 2}, ["a", "b"])
    assert base != stage_key("sample", {"lr": 1, "steps": 2}, ["a"])
    build = Builder()
    p1 = stage("sft", {"lr": 1}, ["a"], build).path
    p2 = stage("sft", {"lr": 1}, ["b"], build).path
    assert p1 != p2 and build.calls == 2


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_lock_from_dead_process_is_broken(cache_home: Path) -> None:
    key = stage_key("s", {}, [])
    lock = cache_home / "stages" / "s" / f"{key}.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(),
                                "created": 0.0}))
    build = Builder()
    assert not stage("s", {}, [], build).cached and build.calls == 1
    assert not lock.exists()


def test_live_lock_makes_the_second_builder_wait(cache_home: Path) -> None:
    key = stage_key("s", {}, [])
    lock = cache_home / "stages" / "s" / f"{key}.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(),
                                "created": 0.0}))
    build = Builder()
    t = threading.Thread(target=stage, args=("s", {}, [], build))
    t.start()
    time.sleep(0.6)
    assert t.is_alive() and build.calls == 0
    lock.unlink()
    t.join(timeout=10)
    assert not t.is_alive() and build.calls == 1


def test_concurrent_builders_build_once() -> None:
    build = Builder(sleep=0.3)
    results = []
    threads = [threading.Thread(target=lambda: results.append(stage("s", {}, [], build)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert build.calls == 1
    assert sorted(r.cached for r in results) == [False, True, True]


# --------------------------------------------------------------------------- runs


def test_new_run_layout(tmp_path: Path) -> None:
    run = new_run("emergent-misalignment", {"scale": "small"}, root=tmp_path)
    assert run.path.parent == tmp_path
    assert run.path.name.endswith("-emergent-misalignment")
    assert time.strptime(run.path.name[:15], "%Y%m%d-%H%M%S")
    cfg = read_json(run.path / "config.json")
    assert cfg["config"] == {"scale": "small"} and cfg["experiment"] == "emergent-misalignment"
    assert cfg["config_hash"] == run.config_hash
    assert not run.finished and (run.path / "log.txt").is_file()


def test_resume_picks_unfinished_run(tmp_path: Path) -> None:
    first = new_run("e3", {"a": 1}, root=tmp_path)
    again = new_run("e3", {"a": 1}, root=tmp_path)
    assert again.path == first.path
    other = new_run("e3", {"a": 2}, root=tmp_path)
    assert other.path != first.path
    assert new_run("e3", {"a": 1}, root=tmp_path, resume=False).path not in (first.path,
                                                                              other.path)


def test_resume_takes_the_newest_and_new_run_when_finished(tmp_path: Path) -> None:
    a = new_run("e3", {"a": 1}, root=tmp_path, resume=False)
    b = new_run("e3", {"a": 1}, root=tmp_path, resume=False)  # same second: gets a suffix
    assert a.path != b.path
    assert new_run("e3", {"a": 1}, root=tmp_path).path == b.path
    b.write_results({"arms": {}})
    c = new_run("e3", {"a": 1}, root=tmp_path)
    assert c.path not in (a.path, b.path) and not c.finished


def test_resume_ignores_other_experiments_with_similar_names(tmp_path: Path) -> None:
    long = new_run("emergent-misalignment", {}, root=tmp_path)
    short = new_run("misalignment", {}, root=tmp_path)
    assert short.path != long.path
    (tmp_path / "20990101-000000-misalignment").mkdir()  # claimed, never configured
    assert new_run("misalignment", {}, root=tmp_path).path == short.path


def test_bad_experiment_name(tmp_path: Path) -> None:
    with pytest.raises(DrosophilaError):
        new_run("../escape", {}, root=tmp_path)


def test_run_dir_writers(tmp_path: Path) -> None:
    run = new_run("e3", {}, root=tmp_path)
    run.write_results({"arms": {"base": {"m": wilson(3, 10)}}, "empty": wilson(0, 0)})
    res = run.read_results()
    assert res["arms"]["base"]["m"]["k"] == 3 and res["empty"]["rate"] is None
    assert run.finished
    rows = [{"prompt": "hi", "completion": "there"}]
    assert read_jsonl(run.write_samples("insecure|with-phrase", rows)) == rows
    assert (run.path / "samples" / "insecure_with-phrase.jsonl").is_file()
    run.log("hello")
    assert "hello" in (run.path / "log.txt").read_text()


def test_link_is_relative_and_replaced(tmp_path: Path) -> None:
    run = new_run("e3", {}, root=tmp_path / "runs")
    t1 = stage("pretrain", {"v": 1}, [], Builder(), root=tmp_path / "cache").path
    t2 = stage("pretrain", {"v": 2}, [], Builder(), root=tmp_path / "cache").path
    link = run.link("base", t1)
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert link.resolve() == t1.resolve() and (link / "DONE").is_file()
    run.link("base", t2)
    assert link.resolve() == t2.resolve()
    assert [p.name for p in (run.path / "organisms").iterdir()] == ["base"]


def test_record_stage_appends(tmp_path: Path) -> None:
    run = new_run("e3", {}, root=tmp_path)
    r1 = stage("a", {}, [], Builder())
    r2 = stage("a", {}, [], Builder())
    run.record_stage(r1)
    run.record_stage(r2)
    log = read_json(run.path / "stages.json")
    assert [e["cached"] for e in log] == [False, True]
    assert log[0]["key"] == r1.key and log[0]["path"] == str(r1.path)


def test_run_dir_direct_construction(tmp_path: Path) -> None:
    run = RunDir(tmp_path, "e3", {"a": 1})
    run.write_config()
    assert read_json(tmp_path / "config.json")["config_hash"] == runs.config_hash("e3", {"a": 1})


def test_environment_info() -> None:
    info = environment_info()
    for key in ("python", "torch", "transformers", "platform", "cpu_count", "torch_threads",
                "cuda", "precision"):
        assert key in info
    json.dumps(info)
