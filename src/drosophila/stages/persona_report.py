"""E10's numbers that are not arms × metrics: the axis per layer, roles on the axis, the capping
and steering sweeps, persona vectors and projection monitoring, the EM-direction ablation, the
papers' numbers beside ours; and its figures (harm against conversation length, the capping
sweep, cosines per layer, the steering sweep)."""

from __future__ import annotations

import math

from drosophila.engine.results import fmt, line_series
from drosophila.evals.stats import Rate
from drosophila.stages.persona import CAPABLE, DRIFT_TURNS, TRAIT_SET, band_layers, drift_set
from drosophila.stages.persona_axis import pearson, role_alignment
from drosophila.stages.persona_run import ABLATED, RANDOM, Plan, cap_arm, steer_arm

JAILBREAK, HARMFUL, OPEN = "roleplay-jailbreak.misaligned", "harmful.misaligned", "open.misaligned"
DRIFT4 = "persona-drift.misaligned"


# -- numbers the findings and the tables share ----------------------------------------------------
def layer_mean(geo: dict, key: str, layers) -> float:
    """The mean over ``layers`` of a per-layer number of one seed's geometry (``nan`` when
    missing)."""
    vals = [geo.get(key, {}).get(str(i)) for i in layers]
    vals = [abs(v) if key == "pc1_cos" else v for v in vals if v is not None and not math.isnan(v)]
    return sum(vals) / len(vals) if vals else math.nan


def per_seed_values(geo: dict, part: str, key: str, layers) -> list[float]:
    """:func:`layer_mean` in each seed, for ``geo[seed][part]`` (``a.b``: ``geo[seed][a][b]``;
    seeds without it left out)."""
    out = []
    for g in geo.values():
        for k in part.split("."):
            g = g.get(k) if isinstance(g, dict) else None
        if g:
            out.append(layer_mean(g, key, layers))
    return out


def fisher(r: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% interval of Pearson's r by Fisher's z (``(-1, 1)`` below 4 points)."""
    if n < 4 or math.isnan(r):
        return -1.0, 1.0
    c = math.atanh(max(-0.999999, min(0.999999, r)))
    half = z / math.sqrt(n - 3)
    return math.tanh(c - half), math.tanh(c + half)


def monitor_points(seeds: dict, geo: dict, trait: str, layer: int) -> list[tuple[float, float, str, str]]:
    """``(shift, change, seed, finetune)`` per finetune and seed: the shift of the mean
    projection on the trait vector (finetune − base) and the change of the trait's misaligned
    rate (finetune − base)."""
    metric, out = f"{TRAIT_SET[trait]}.misaligned", []
    for s, g in geo.items():
        proj = g.get("projections") or {}
        for f, p in proj.items():
            if f == "base" or f not in seeds[s] or trait not in p:
                continue
            shift = p[trait][str(layer)] - proj["base"][trait][str(layer)]
            out.append((shift, seeds[s][f][metric].rate - seeds[s]["base"][metric].rate, s, f))
    return out


def correlation(seeds: dict, geo: dict, trait: str, layer: int) -> tuple[float, int, tuple[float, float]]:
    """Pearson's r of :func:`monitor_points`, their number and Fisher's 95% interval."""
    pts = monitor_points(seeds, geo, trait, layer)
    r = pearson([p[0] for p in pts], [p[1] for p in pts])
    return r, len(pts), fisher(r, len(pts))


def reduction(after: Rate, before: Rate) -> str:
    """``1 − after / before`` of pooled rates, as a percentage (``—`` when ``before`` is 0)."""
    return f"{100 * (1 - after.rate / before.rate):.0f}%" if before.n and before.rate > 0 else "—"


def signed(r: float) -> str:
    """A correlation as ``+0.83``; ``n/a`` where it is undefined (no variation)."""
    return "n/a" if math.isnan(r) else f"{r:+.2f}"


def ordinal(q: int) -> str:
    """``1st``, ``2nd``, ``25th``..."""
    tail = "th" if 10 <= q % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(q % 10, "th")
    return f"{q}{tail}"


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def _range(vals: list[float], digits: int = 2) -> str:
    vals = [v for v in vals if not math.isnan(v)]
    if not vals:
        return "—"
    return f"{sum(vals) / len(vals):.{digits}f} [{min(vals):.{digits}f}, {max(vals):.{digits}f}]"


# -- tables --------------------------------------------------------------------------------------
def tables_of(arms: dict, seeds: dict, geo: dict, plan: Plan) -> list[dict]:
    out = [paper_table(arms, seeds, geo, plan), axis_table(geo, plan), roles_table(geo, plan)]
    if "capping" in plan.parts:
        out.append(cap_table(arms, plan))
    if "steering" in plan.parts:
        out.append(steer_table(arms, plan))
    if "monitoring" in plan.parts:
        out += [vectors_table(geo, plan), monitor_table(seeds, geo, plan)]
    if "ablation" in plan.parts:
        out.append(em_table(arms, geo))
    return out


def axis_table(geo: dict, plan: Plan) -> dict:
    pre = any(g.get("pretrained") for g in geo.values())
    rows = []
    for i in range(plan.n_layers):
        row = [str(i) + (" (mid)" if i in band_layers("mid", plan.n_layers) else ""),
               _range(per_seed_values(geo, "axis", "pc1_cos", [i])),
               _range(per_seed_values(geo, "axis", "pc1_share", [i])),
               _range(per_seed_values(geo, "axis", "role_r", [i])),
               _range(per_seed_values(geo, "axis.untrained", "pc1_cos", [i])),
               _range(per_seed_values(geo, "axis.untrained", "role_r", [i]))]
        if pre:
            row += [_range(per_seed_values(geo, "pretrained", "pc1_cos", [i])),
                    _range(per_seed_values(geo, "pretrained", "axis_cos", [i]))]
        rows.append(row)
    cols = ["block", "|cos(axis, PC1)|", "PC1 share of variance", "r(role alignment, projection)",
            "untrained: |cos(axis, PC1)|", "untrained: r"]
    cols += ["pretrained only: |cos(axis, PC1)|", "cos(pretrained axis, post-trained axis)"] if pre else []
    return {"title": "The assistant axis per layer", "columns": cols, "rows": rows,
            "caption": "Mean over seeds [min, max]. Axis = mean(assistant) − mean(23 other roles) of "
                       "per-role mean response-token activations (hook_resid_post); PC1 of the 24 "
                       "role means; r over the 23 other roles between a role's mean probability of "
                       "answering aligned and its projection on the unit axis. Untrained: the same on "
                       "an organism of the same shape and vocabulary before any training (what the "
                       "roles' own words give)."}


def roles_table(geo: dict, plan: Plan) -> dict:
    layer = str(plan.persona_layer)
    roles = next(iter(geo.values()))["axis"]["roles"]
    proj = {r: [g["axis"]["projections"][layer][r] for g in geo.values()] for r in roles}
    order = sorted(roles, key=lambda r: -sum(proj[r]) / len(proj[r]))
    return {"title": f"Roles on the assistant axis (block {layer})",
            "columns": ["role", "alignment", "projection"],
            "rows": [[r, f"{role_alignment(r):.2f}", _range(proj[r])] for r in order],
            "caption": "Projection of each role's mean activation on the unit axis, mean over seeds "
                       "[min, max]; alignment: the role's mean probability of answering aligned."}


def cap_table(arms: dict, plan: Plan) -> dict:
    base, rows = arms["base"], []
    for b, q in plan.caps():
        a = arms[cap_arm(b, q)]
        rows.append([b, ordinal(q), fmt(a[JAILBREAK]), reduction(a[JAILBREAK], base[JAILBREAK]),
                     fmt(a[DRIFT4]), fmt(a[CAPABLE]), f"{100 * (a[CAPABLE].rate - base[CAPABLE].rate):+.1f}"])
    rows.append(["none", "—", fmt(base[JAILBREAK]), "—", fmt(base[DRIFT4]), fmt(base[CAPABLE]), "—"])
    return {"title": "Capping along the assistant axis", "columns": [
        "band", "floor at percentile", "jailbreak harm", "harm cut", "drift harm (4 turns)",
        "capability", "capability change (points)"], "rows": rows,
        "caption": "Floor on the projection on the axis at each block of the band, at the percentile "
                   "of the assistant's own response-token projections; capability pools facts known, "
                   "tasks answered right and coherent open answers."}


def steer_table(arms: dict, plan: Plan) -> dict:
    rows = [[f"{c:+g}", *(fmt(arms[steer_arm(c)][m]) for m in (HARMFUL, JAILBREAK, DRIFT4, CAPABLE))]
            for c in sorted(plan.coefs)]
    rows.append(["0", *(fmt(arms["base"][m]) for m in (HARMFUL, JAILBREAK, DRIFT4, CAPABLE))])
    return {"title": f"Steering along the assistant axis (block {plan.persona_layer})",
            "columns": ["coefficient", "harmful", "jailbreak harm", "drift harm (4 turns)", "capability"],
            "rows": sorted(rows, key=lambda r: float(r[0])),
            "caption": "coefficient × the axis (mean(assistant) − mean(other roles), unnormalised) added "
                       "at every position; positive pushes toward the assistant."}


def vectors_table(geo: dict, plan: Plan) -> dict:
    layer, rows = str(plan.persona_layer), []
    for t in plan.traits:
        vs = [g["vectors"][t] for g in geo.values() if g.get("vectors")]
        rows.append([t, TRAIT_SET[t], ", ".join(f"{v['clean']}/{v['pairs']}" for v in vs),
                     _range([v["auroc"].get(layer, math.nan) for v in vs], 3),
                     _range([v["norm"][layer] for v in vs])])
    return {"title": "Persona vectors", "columns": ["trait", "measured on", "clean pairs (per seed)",
                                                    f"held-out AUROC (block {layer})", "norm"],
            "rows": rows, "caption": "Mean over response tokens of answers showing the trait minus "
                                     "answers showing its opposite, after role-play instructions."}


def monitor_table(seeds: dict, geo: dict, plan: Plan) -> dict:
    rows = []
    for t in plan.traits:
        r, n, (lo, hi) = correlation(seeds, geo, t, plan.persona_layer)
        per_layer = ", ".join(f"{i}: {signed(correlation(seeds, geo, t, i)[0])}" for i in range(plan.n_layers))
        pts = monitor_points(seeds, geo, t, plan.persona_layer)
        by_ft = {}
        for shift, change, _, f in pts:
            by_ft.setdefault(f, []).append((shift, change))
        each = "; ".join(f"{f} {_mean(a for a, _ in v):+.2f} / {100 * _mean(b for _, b in v):+.1f}"
                         for f, v in by_ft.items())
        rows.append([t, f"{TRAIT_SET[t]}.misaligned", f"{signed(r)} [{lo:+.2f}, {hi:+.2f}]", n, per_layer,
                     each])
    return {"title": "Projection monitoring: finetuning shift against trait change",
            "columns": ["trait", "rate", f"r (block {plan.persona_layer}) [Fisher 95%]", "n",
                        "r per block", "per finetune: mean shift / mean change (points)"],
            "rows": rows, "caption": "Shift: the mean activation at the last prompt token of the "
                                     "trait's held-out prompts, projected on the unit trait vector of "
                                     "the base organism, finetune − base; change: its misaligned rate, "
                                     "finetune − base; one point per finetune and seed. Paper: evil "
                                     "r 0.83–0.95, sycophancy 0.75–0.92 [S]."}


def em_table(arms: dict, geo: dict) -> dict:
    chosen = ", ".join(str(g["em"]["chosen"]) for g in geo.values())
    ins, abl, rnd, sec = (arms[a][OPEN] for a in ("insecure", ABLATED, RANDOM, "secure"))
    rows = [["insecure (no ablation)", fmt(ins), "—"],
            ["EM direction ablated", fmt(abl), reduction(abl, ins)],
            ["random directions ablated", fmt(rnd), reduction(rnd, ins)], ["secure", fmt(sec), "—"]]
    return {"title": "Ablating the emergent-misalignment direction in the insecure organism",
            "columns": ["organism", "open questions misaligned", "cut against insecure"], "rows": rows,
            "caption": f"Direction: insecure − secure mean response-token activation on open questions "
                       f"of the train split; its layer (per seed: {chosen}) chosen on a separate "
                       "selection split; removed at every block. Paper: 78–90% [S]."}


def paper_table(arms: dict, seeds: dict, geo: dict, plan: Plan) -> dict:
    base, rows = arms["base"], [
        ["persona jailbreak harm", "65–88% [P]", fmt(arms["base"][JAILBREAK])],
        ["harm without a jailbreak", "0.5–4.5% [P]", fmt(arms["base"][HARMFUL])]]
    if "capping" in plan.parts:
        b, q = plan.main_cap.rsplit("-p", 1)
        a = arms[cap_arm(b, int(q))]
        rows += [[f"harm cut by capping ({plan.main_cap})", "nearly 60% [P] (seed essay ~50%)",
                  reduction(a[JAILBREAK], base[JAILBREAK])],
                 ["capability change under capping", "no loss [P]",
                  f"{100 * (a[CAPABLE].rate - base[CAPABLE].rate):+.1f} points"]]
    if "monitoring" in plan.parts:
        for t, paper in (("malicious", "evil r 0.83–0.95 [S]"), ("sycophantic", "r 0.75–0.92 [S]")):
            if t in plan.traits:
                r, n, _ = correlation(seeds, geo, t, plan.persona_layer)
                rows.append([f"projection shift vs {t} change", paper, f"r = {signed(r)}, n = {n}"])
    if "ablation" in plan.parts:
        rows.append(["EM cut by ablating its direction", "78–90% [S]",
                     f"{reduction(arms[ABLATED][OPEN], arms['insecure'][OPEN])} (random: "
                     f"{reduction(arms[RANDOM][OPEN], arms['insecure'][OPEN])})"])
    return {"title": "The papers' numbers beside ours", "columns": ["quantity", "paper", "ours"],
            "rows": rows, "caption": "Lu et al. 2026 (assistant axis, capping), Chen et al. 2025 "
                                     "(persona vectors), Soligo et al. 2025 (EM direction). Ours: "
                                     "pooled over seeds; reductions are 1 − after / before."}


# -- figures -------------------------------------------------------------------------------------
def figures_of(arms: dict, geo: dict, plan: Plan) -> list[dict]:
    out = [drift_figure(arms), axis_figure(geo, plan)]
    if "capping" in plan.parts:
        out.append(cap_figure(arms, plan))
    if "steering" in plan.parts:
        out.append(steer_figure(arms, plan))
    return out


def drift_figure(arms: dict) -> dict:
    base = arms["base"]
    series = [line_series(label, [base[f"{drift_set(k, s)}.misaligned"] for k in DRIFT_TURNS],
                          list(DRIFT_TURNS), style)
              for s, label, style in ((False, "without a system prompt", "solid"),
                                      (True, "with the assistant's system prompt", "dashed"))]
    return {"name": "drift-by-length", "kind": "lines", "y_percent": True, "x_scale": "log",
            "title": "Harm against conversation length (persona drift)",
            "x_label": "turns pulling toward a role",
            "y_label": "complies with the harmful request", "series": series,
            "hlines": [{"y": base[HARMFUL].rate, "label": "plain harmful request"},
                       {"y": base[JAILBREAK].rate, "label": "one-turn role-play jailbreak"}],
            "caption": "base organism, pooled over seeds; 95% Wilson bands"}


def cap_figure(arms: dict, plan: Plan) -> dict:
    base, series = arms["base"], []
    for b in plan.bands:
        pts = [base] + [arms[cap_arm(b, q)] for q in sorted(plan.percentiles)]
        s = line_series(f"{b} band", [p[JAILBREAK] for p in pts], [p[CAPABLE].rate for p in pts])
        series.append(s)
    return {"name": "capping-sweep", "kind": "lines", "y_percent": True,
            "title": "Capping along the axis: jailbreak harm against capability",
            "x_label": "capability kept (share)", "y_label": "jailbreak harm", "series": series,
            "caption": "each line starts uncapped and raises the floor: percentiles "
                       f"{', '.join(map(str, sorted(plan.percentiles)))}; pooled over seeds"}


def axis_figure(geo: dict, plan: Plan) -> dict:
    layers = list(range(plan.n_layers))

    def series(part, key, label, style="solid"):
        vals = [[v for v in per_seed_values(geo, part, key, [i]) if not math.isnan(v)] for i in layers]
        mean = [sum(v) / len(v) if v else None for v in vals]
        return {"label": label, "x": layers, "y": mean, "low": [min(v) if v else None for v in vals],
                "high": [max(v) if v else None for v in vals], "style": style}

    out = [series("axis", "pc1_cos", "|cos(axis, PC1)|, post-trained"),
           series("axis.untrained", "pc1_cos", "|cos(axis, PC1)|, untrained organism", "dotted")]
    if any(g.get("pretrained") for g in geo.values()):
        out += [series("pretrained", "pc1_cos", "|cos(axis, PC1)|, pretrained only", "dashed"),
                series("pretrained", "axis_cos", "cos(pretrained axis, post-trained axis)", "dashed")]
    return {"name": "axis-by-layer", "kind": "lines", "title": "The assistant axis and PC1 per layer",
            "x_label": "block", "y_label": "cosine", "series": out,
            "hlines": [{"y": 0.5, "label": "finding threshold 0.5"}],
            "caption": "mean over seeds; band: min to max over seeds"}


def steer_figure(arms: dict, plan: Plan) -> dict:
    coefs = sorted({0.0, *plan.coefs})
    rows = [arms["base"] if c == 0 else arms[steer_arm(c)] for c in coefs]
    series = [line_series(label, [r[m] for r in rows], coefs, style)
              for m, label, style in ((JAILBREAK, "jailbreak harm", "solid"),
                                      (HARMFUL, "plain harmful", "dashed"), (CAPABLE, "capability", "dotted"))]
    return {"name": "steering-sweep", "kind": "lines", "y_percent": True,
            "title": "Steering along the assistant axis", "x_label": "coefficient (+: toward the assistant)",
            "y_label": "rate", "series": series, "caption": "pooled over seeds; 95% Wilson bands"}
