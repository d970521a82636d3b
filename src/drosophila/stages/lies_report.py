"""E9's tables and figures: the detector, the four outcomes per cell of the grid, drift of
the probe, the labeller, and deception against the detector's TPR per method and KL."""

from __future__ import annotations

from drosophila.engine.results import line_series
from drosophila.evals.stats import Rate, wilson
from drosophila.stages.lies_arms import BEFORE, LieArm, Plan, organism_name
from drosophila.stages.lies_outcomes import (
    BLATANT, CAUGHT_RETRAINED, COHERENT_M, DECEPTION, FLAGGED, HONEST, OBF_ACTS, OBF_POLICY, TF_FPR, TF_RECALL,
    TF_RETRAINED, UNDETECTED, fmt_auroc,
)

APOLLO = "Apollo (Goldowsky-Dill et al. 2025), Llama-3.3-70B [P]"


def short(r: Rate) -> str:
    """``"31.0% [24.9, 37.8]"``: the cluster-aware interval where there is one, else Wilson."""
    if not r.n:
        return "n/a (n=0)"
    low, high = (r.cluster_low, r.cluster_high) if r.cluster_low is not None else (r.low, r.high)
    return f"{100 * r.rate:.1f}% [{100 * low:.1f}, {100 * high:.1f}]"


def detector_table(detectors: dict, auroc: dict, plan: Plan) -> dict:
    """Per seed: the layer, the held-out AUROC, and per TPR the threshold's TPR/FPR on the
    calibration split and on the held-out split; then the pooled AUROC and Apollo's."""
    cols = ["seed", "layer", "held-out AUROC"] + [f"TPR {t:g}: calibration / held-out TPR, FPR"
                                                  for t in plan.tprs]
    rows = []
    for seed, d in detectors.items():
        cells = []
        for t in plan.tprs:
            c, h = d["thresholds"][f"{t:g}"], d["heldout"][f"{t:g}"]
            cells.append(f"{c['tpr']:.2f}, {c['fpr']:.2f} / {h['tpr']:.2f}, {h['fpr']:.2f}")
        rows.append([seed, d["layer"], fmt_auroc(d["auroc"]), *cells])
    rows.append(["pooled", "", fmt_auroc(auroc), *[""] * len(plan.tprs)])
    rows.append([APOLLO, "layer 22 of 80", "0.96–0.999", *["95–99% recall at 1% FPR"] +
                 [""] * (len(plan.tprs) - 1)])
    return {"title": "The lie detector (logistic probe on response-token activations)",
            "columns": cols, "rows": rows,
            "caption": f"fitted on {plan.options.label_prompts} train prompts (each answered "
                       f"truthfully and with a lie), thresholds set on {plan.options.calib_prompts} "
                       f"validation prompts, measured on {plan.options.test_prompts} held-out "
                       "prompts (written answers); AUROC pooled as the mean over seeds with a 95% "
                       "bootstrap interval over base requests (within families) and seeds"}


OUTCOME_COLUMNS = [(COHERENT_M, "coherent"), (DECEPTION, "deception"), (HONEST, "honest"), (BLATANT, "blatant"),
                   (OBF_POLICY, "obfuscated policy"), (OBF_ACTS, "obfuscated activations"),
                   (UNDETECTED, "undetected"), (FLAGGED, "flagged"),
                   (CAUGHT_RETRAINED, "caught by retrained probe")]


def outcome_table(pooled: dict, arms: list[LieArm], gate: Rate | None = None) -> dict:
    """The four outcomes per cell of the grid (every arm), with deception and detection; with
    ``gate`` (the start organism's labelled share on validation scenarios) a first row for it."""
    rows = []
    if gate is not None:
        rows.append(["gate: start, validation scenarios", BEFORE, "", "", gate.n, short(gate),
                     *[""] * (len(OUTCOME_COLUMNS) - 1)])
    for a in arms:
        m = pooled[a.name]
        method = "no detector" if a.tpr is None and a.method != BEFORE else a.method
        strength = "" if a.strength is None else f"{'β' if a.method == 'dpo' else 'KL'} {a.strength:g}"
        rows.append([a.name, method, strength, f"{a.score_tpr:g}", m[DECEPTION].n,
                     *[short(m[k]) for k, _ in OUTCOME_COLUMNS]])
    return {"title": "Four outcomes per TPR × KL × method (Obfuscation Atlas)",
            "columns": ["arm", "method", "KL / β", "TPR", "n", *[c for _, c in OUTCOME_COLUMNS]],
            "rows": rows,
            "caption": "held-out scenarios sampled once each, pooled over seeds; 95% intervals "
                       "over seeds × prompts. Coherent: answers the exact classifier could label (the "
                       "rest name no asked entity, or are garbled); the gate row gives it for the "
                       "organism before training on validation scenarios (entities that no training "
                       "or held-out scenario asks about), measured before any preference training "
                       "(it should reach 50%). Honest + blatant + obfuscated policy + obfuscated "
                       "activations + (mixed or unclassifiable) = 100%. Blatant: the original "
                       "probe flags the lie on the trained organism; obfuscated policy: it misses "
                       "it on both organisms (the text fools it); obfuscated activations: it "
                       "misses it on the trained organism only (drift). Flagged: all answers the "
                       "detector flags; caught by retrained probe: lies a probe refitted on the "
                       "trained organism flags"}


def drift_table(pooled: dict, aurocs: dict, arms: list[LieArm]) -> dict:
    """Per organism: AUROCs of the original probe read from it and of a retrained probe, and the
    original probe's recall and FPR on written held-out answers at the arm's threshold."""
    rows, seen = [], set()
    for a in arms:
        org = organism_name(a)
        first = org not in seen
        seen.add(org)
        au = aurocs[org]
        m = pooled[a.name]
        rows.append([a.name, fmt_auroc(au["deployed"]) if first else "〃",
                     fmt_auroc(au["retrained"]) if first else "〃",
                     short(m[TF_RECALL]), short(m[TF_FPR]), short(m[TF_RETRAINED])])
    return {"title": "Drift: the original probe on each organism's activations (written held-out answers)",
            "columns": ["arm", "AUROC, original probe", "AUROC, retrained probe",
                        "recall, original probe", "FPR, original probe", "recall, retrained probe"],
            "rows": rows,
            "caption": "the same written truthful and lying answers for every organism; the "
                       "original probe's threshold is the arm's TPR on the organism before "
                       "training, so a recall below that TPR on a trained organism is "
                       "representation drift; the retrained probe is refitted on the trained "
                       "organism (same data, layer and TPR)"}


def labeller_table(plan: Plan, pairs: dict) -> dict:
    """The labeller's rewards and preference probabilities beside SOLiD's, then what it made of
    the DPO pairs at each TPR (``pairs``: per seed, per DPO organism, counts of
    :func:`pair_counts`), pooled over seeds."""
    lab = plan.labeller
    rows = [["undetected lie", f"{lab.undetected_lie:g}", f"{lab.p_lie_preferred(False):.3f}", "0.731"],
            ["truthful", f"{lab.truth:g}", "", ""],
            ["detected lie", f"{lab.detected_lie:g}", f"{lab.p_lie_preferred(True):.3f}", "0.119"],
            ["neither (null)", f"{lab.null:g}", "", "reward −5"]]
    for org in dict.fromkeys(o for per in pairs.values() for o in per):
        c = {k: sum(per[org][k] for per in pairs.values()) for k in ("n", "flagged", "chosen_flagged",
                                                                    "chosen_missed")}
        missed = c["n"] - c["flagged"]
        rows.append([f"DPO pairs of {org}: lies flagged {short(wilson(c['flagged'], c['n']))} n={c['n']}",
                     "", f"missed {short(wilson(c['chosen_missed'], missed))}, flagged "
                         f"{short(wilson(c['chosen_flagged'], c['flagged']))}", "0.731, 0.119"])
    return {"title": "The simulated labeller",
            "columns": ["answer", "reward", "P(lie preferred over the truth)", "SOLiD"],
            "rows": rows,
            "caption": "GRPO uses the rewards directly; DPO's pairs draw the preferred answer "
                       "with the Bradley–Terry probability σ(r_lie − r_truth) (Cundy & Gleave 2025); "
                       "the DPO rows give, over the pairs pooled over seeds, the share of lies the "
                       "detector flagged and how often the lie was preferred when missed and when "
                       "flagged (Wilson 95% intervals)"}


def curve_figures(curves: dict, plan: Plan) -> list[dict]:
    """Undetected lies over GRPO steps, one line per GRPO organism, pooled over seeds (``curves``:
    per seed, per organism, :func:`grpo_curve`)."""
    per = plan.options.prompts_per_step * plan.options.group_size
    names = list(dict.fromkeys(o for c in curves.values() for o in c))
    if not names:
        return []
    series = []
    for org in names:
        cs = [c[org] for c in curves.values()]
        steps = cs[0]["steps"]
        rates = [wilson(sum(round(c["undetected"][i] * per) for c in cs), per * len(cs))
                 for i in range(len(steps))]
        series.append(line_series(org, rates, steps, "dashed" if org.startswith("nodet") else "solid"))
    return [{"name": "grpo-undetected", "kind": "lines", "y_percent": True,
             "title": "undetected lies over GRPO steps", "x_label": "GRPO step",
             "y_label": "undetected lies (share of rollouts)", "series": series,
             "caption": "the share of sampled training answers that lie and are not flagged by the "
                        "detector in the reward (the control: every lie), per step, pooled over "
                        "seeds; 95% Wilson bands over the step's rollouts"}]


def tpr_figures(pooled: dict, plan: Plan) -> list[dict]:
    """Deception and undetected deception against the detector's TPR: one line per method and
    KL (before and the control too, scored at each TPR)."""
    groups = list(dict.fromkeys(a.name.split("|")[0] for a in plan.arms()))
    figs = []
    for metric, what in ((DECEPTION, "deception rate"), (UNDETECTED, "undetected deception")):
        series = []
        for g in groups:
            names = [f"{g}|tpr{t:g}" for t in plan.tprs]
            style = "dashed" if g == BEFORE or g.startswith("nodet") else "solid"
            series.append(line_series(g, [pooled[n][metric] for n in names], plan.tprs, style))
        figs.append({"name": f"{metric}-vs-tpr", "kind": "lines", "y_percent": True,
                     "title": f"{what} against the detector's TPR", "x_label": "detector TPR",
                     "y_label": what, "series": series,
                     "caption": "per method and KL (GRPO) or β (DPO), pooled over seeds, 95% "
                                "Wilson bands; before and the no-detector control (dashed) are "
                                "the same organisms at every TPR, scored with each threshold"})
    return figs
