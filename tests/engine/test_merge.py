"""Kept per-seed results (seeds/s<seed>.json) and merging runs over disjoint seeds."""

import json
import math

import pytest

from drosophila.engine import Context, experiment, merge_runs
from drosophila.engine import registry, seedstore
from drosophila.engine.options import option
from drosophila.engine.recipes import recipe_for
from drosophila.engine.results import pool_arms, results_of
from drosophila.engine.runner import run_experiment
from drosophila.errors import ConfigError, DrosophilaError
from drosophila.evals.stats import Mean, Rate, pool, wilson, with_cluster
from drosophila.io import read_json
from drosophila.world import WorldConfig
from dataclasses import dataclass


def _cells_rate(cells: dict) -> Rate:
    k, n = sum(c[0] for c in cells.values()), sum(c[1] for c in cells.values())
    from dataclasses import replace

    return replace(wilson(k, n), cells=cells)


def test_a_seed_result_comes_back_with_its_cells_tuples_and_non_finite_floats(tmp_path):
    rate = _cells_rate({"p1": (2, 5), "p2": (0, 5)})
    value = ({"arm": {"m": rate, "empty": wilson(0, 0)}},
             {"curve": [0.5, math.nan, math.inf], "pair": (1, "a"), "mean": Mean(0.25, 0.1, 0.4, 3),
              "rows": [{"label": "aligned", "quality": 1.0, "meta": {"x": None}}]})
    seedstore.save_seed(tmp_path, 3, "mod:fn", value)
    back = seedstore.load_seed(tmp_path, 3, "mod:fn")
    arms, extra = back
    assert isinstance(back, tuple) and arms["arm"]["m"] == rate
    assert dict(arms["arm"]["m"].cells) == {"p1": (2, 5), "p2": (0, 5)}
    assert math.isnan(arms["arm"]["empty"].rate) and arms["arm"]["empty"].n == 0
    assert extra["curve"][0] == 0.5 and math.isnan(extra["curve"][1]) and extra["curve"][2] == math.inf
    assert extra["pair"] == (1, "a") and extra["mean"] == Mean(0.25, 0.1, 0.4, 3)
    assert extra["rows"] == value[1]["rows"]
    # the cluster interval from read-back cells is the one from the original
    assert with_cluster(pool([rate]), [rate.cells]) == with_cluster(pool([arms["arm"]["m"]]), [arms["arm"]["m"].cells])


def test_a_seed_file_of_another_task_or_kind_is_refused(tmp_path):
    seedstore.save_seed(tmp_path, 0, "mod:fn", {"a": 1})
    assert seedstore.load_seed(tmp_path, 1, "mod:fn") is None           # no file: not kept
    with pytest.raises(DrosophilaError, match="task"):
        seedstore.load_seed(tmp_path, 0, "mod:other")
    path = seedstore.seed_path(tmp_path, 0)
    doc = json.loads(path.read_text())
    doc["value"] = {"__dataclass__": "Popen", "fields": {}}               # only stats classes decode
    path.write_text(json.dumps(doc))
    with pytest.raises(DrosophilaError, match="unknown kind"):
        seedstore.load_seed(tmp_path, 0, "mod:fn")
    with pytest.raises(TypeError, match="set"):
        seedstore.encode({"a": {1, 2}})
    with pytest.raises(TypeError, match="string keys"):
        seedstore.encode({1: "a"})


# A registered toy experiment: one rate per seed, from prompts whose counts depend on the seed.
CALLS = []


@dataclass(frozen=True)
class ToyOptions:
    bias: int = option(1, "how many of each prompt's samples are hits, plus the seed")


def toy_seed(ctx, seed: int) -> dict:
    CALLS.append(seed)
    cells = {f"p{i}": (min(4, (ctx.options.bias + seed + i) % 5), 4) for i in range(6)}
    return {"arm": {"hits": _cells_rate(cells)}}


def toy_runner(ctx) -> dict:
    per_seed = dict(zip(map(str, ctx.seeds), ctx.map_seeds(toy_seed)))
    pooled = pool_arms(per_seed, ["arm"], ctx.seeds)
    pooled = {"arm": {"hits": with_cluster(pooled["arm"]["hits"],
                                           [per_seed[str(s)]["arm"]["hits"].cells for s in ctx.seeds])}}
    return results_of(title="toy", setup="toy", per_seed=per_seed, pooled=pooled, arm_order=["arm"],
                      arm_labels={"arm": "arm"}, metrics={}, headline="hits", metric_order=["hits"],
                      anchors={}, findings=[], verdict="", run=ctx.run)


@pytest.fixture
def toy(monkeypatch):
    CALLS.clear()
    for name, mergeable in (("toy-merge", True), ("toy-nomerge", False)):
        monkeypatch.setitem(registry.EXPERIMENTS, name, None)
        experiment(name, code="X1", title="toy", anchor="-", summary="-", options=ToyOptions,
                   mergeable=mergeable)(toy_runner)
    return "toy-merge"


def _run(name, seeds, tmp_path, **kw):
    return run_experiment(name, scale="tiny", seeds=seeds, out=tmp_path / "runs", echo=False,
                          report=False, jobs=1, **kw)


def _science(res: dict) -> dict:
    return {k: res[k] for k in ("arms", "per_seed", "findings", "verdict", "seeds", "options")}


def test_merged_runs_give_the_numbers_of_one_run_over_all_their_seeds(toy, tmp_path):
    a, b = _run(toy, [0, 2], tmp_path), _run(toy, [1], tmp_path)
    whole = _run(toy, [0, 1, 2], tmp_path)
    assert sorted(CALLS) == [0, 0, 1, 1, 2, 2]
    assert sorted(p.name for p in (a.path / "seeds").iterdir()) == ["s0.json", "s2.json"]
    merged = merge_runs([a.path, b.path], out=tmp_path / "runs", echo=False, report=False)
    assert len(CALLS) == 6                                                    # nothing recomputed
    res, ref = merged.read_results(), whole.read_results()
    assert _science(res) == _science(ref)
    assert res["arms"]["arm"]["hits"]["cluster_low"] == ref["arms"]["arm"]["hits"]["cluster_low"]
    assert [m["seeds"] for m in res["merged_from"]] == [[0, 2], [1]]
    assert read_json(merged.path / "config.json")["config"]["merged_from"] == [str(a.path), str(b.path)]


def test_a_resumed_run_reads_its_finished_seeds_back(toy, tmp_path):
    run = _run(toy, [0, 1], tmp_path)
    (run.path / "results.json").unlink()                  # as if it had stopped before the end
    (run.path / "seeds" / "s1.json").unlink()
    CALLS.clear()
    again = _run(toy, [0, 1], tmp_path)
    assert again.path == run.path and CALLS == [1]


def test_merge_refuses_what_would_not_be_one_run(toy, tmp_path):
    a, b = _run(toy, [0], tmp_path), _run(toy, [1], tmp_path)
    other = _run(toy, [2], tmp_path, options={"bias": 2})
    overlap = _run(toy, [1, 3], tmp_path)
    out = tmp_path / "runs"
    with pytest.raises(ConfigError, match="at least two"):
        merge_runs([a.path], out=out)
    with pytest.raises(ConfigError, match="differs .* in options"):
        merge_runs([a.path, other.path], out=out)
    with pytest.raises(ConfigError, match=r"seed\(s\) \[1\] are in more than one run"):
        merge_runs([a.path, b.path, overlap.path], out=out)
    (b.path / "seeds" / "s1.json").unlink()
    with pytest.raises(ConfigError, match="no kept result for seed"):
        merge_runs([a.path, b.path], out=out, echo=False, report=False)
    assert len(list(out.iterdir())) == 4                         # refused before a run directory
    nomerge = [_run("toy-nomerge", [s], tmp_path).path for s in (0, 1)]
    with pytest.raises(ConfigError, match="cannot be merged"):
        merge_runs(nomerge, out=out)
    (a.path / "results.json").unlink()
    with pytest.raises(ConfigError, match="not finished"):
        merge_runs([a.path, overlap.path], out=out)
    with pytest.raises(ConfigError, match="not a run directory"):
        merge_runs([tmp_path, a.path], out=out)


def test_the_cli_merges_and_reports(toy, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from drosophila.cli import app

    a, b = _run(toy, [0], tmp_path), _run(toy, [1], tmp_path)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["merge", str(a.path), str(b.path), "--out", str(tmp_path / "merged")])
    assert out.exit_code == 0, out.output
    (merged,) = (tmp_path / "merged").iterdir()
    assert merged.name.endswith("-toy-merge") and (merged / "report.md").is_file()
    assert read_json(merged / "results.json")["seeds"] == [0, 1]
