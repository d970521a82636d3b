"""The one builder of ``results.json`` bodies (schema in docs/RESULTS_SCHEMA.md) and the
helpers experiments share to state rates and findings."""

from __future__ import annotations

from drosophila.evals.stats import Rate, pool


def fmt(r: Rate) -> str:
    """``"31.0% [24.9, 37.8] n=200"`` (``"no answers (n=0)"`` for an empty rate, e.g. a rate
    over coherent answers when none was coherent), then the cluster-aware interval where there is one:
    ``"; seeds × prompts [22.5, 40.1] (150 prompts, 5 seeds)"``."""
    if not r.n:
        return "no answers (n=0)"
    text = f"{100 * r.rate:.1f}% [{100 * r.low:.1f}, {100 * r.high:.1f}] n={r.n}"
    if r.cluster_low is None:
        return text
    return (text + f"; seeds × prompts [{100 * r.cluster_low:.1f}, {100 * r.cluster_high:.1f}] "
            f"({r.prompts} prompts, {r.seeds} seed{'s' if r.seeds != 1 else ''})")


def per_seed(per_seed: dict, arm: str, metric: str) -> list[Rate]:
    """The rates of one arm and metric, one per seed, in seed order."""
    return [per_seed[s][arm][metric] for s in per_seed]


def as_dicts(pooled: dict) -> dict:
    """``{arm: {metric: Rate}}`` as plain dicts."""
    return {arm: {m: r.to_dict() for m, r in ms.items()} for arm, ms in pooled.items()}


def pool_arms(per_seed: dict, arms: list[str], seeds: list[int]) -> dict:
    """``{arm: {metric: Rate}}`` pooled over seeds (the metrics of the first seed's arm)."""
    return {a: {m: pool(per_seed[str(s)][a][m] for s in seeds)
                for m in per_seed[str(seeds[0])][a]} for a in arms}


def metric_info_for(batteries: list[str]) -> dict:
    from drosophila.evals.batteries import get_battery, metric_info

    return metric_info([get_battery(n) for n in batteries])


def metric_order(batteries: list[str]) -> list[str]:
    """Misalignment over all and over coherent answers first (battery order), then mixed
    answers, then coherence."""
    return ([m for b in batteries for m in (f"{b}.misaligned", f"{b}.misaligned_coherent")]
            + [f"{b}.mixed" for b in batteries] + [f"{b}.coherent" for b in batteries])


def results_of(*, title: str, setup: str, per_seed: dict, pooled: dict, arm_order: list[str],
               arm_labels: dict, metrics: dict, headline: str, metric_order: list[str],
               anchors: dict, findings: list[dict], verdict: str, run=None, **extra) -> dict:
    """The ``results.json`` body of an experiment; ``extra`` adds its own keys (``tables``,
    ``figures``, ``notes``, ``headline_figure``, ...). With ``run`` given, ``timing.stages``
    holds the build time of every stage the run built."""
    body = {
        "title": title, "setup": setup,
        "arms": as_dicts(pooled),
        "per_seed": {s: as_dicts(v) for s, v in per_seed.items()},
        "arm_order": list(arm_order),
        "arm_labels": dict(arm_labels),
        "metrics": metrics,
        "headline_metric": headline,
        "metric_order": list(metric_order),
        "anchors": anchors, "findings": findings, "verdict": verdict,
        "timing": {"stages": run.stage_timing() if run is not None else {}},
    }
    body.update(extra)
    return body


WORD = {True: "Held", False: "Did not hold", None: "Inconclusive"}


def verdict_from(findings: list[dict]) -> str:
    """One sentence per finding: held, did not hold, or inconclusive, with its evidence."""
    return " ".join(f"{WORD[f['reproduced']]}: {f['claim']} ({f['evidence']})." for f in findings)


def short_verdict(findings: list[dict], key: list[dict] = (), *, lead: str = "") -> str:
    """A verdict of a few sentences: ``lead``, then the ``key`` findings with their evidence,
    then how many of all findings held, did not hold, or were inconclusive."""
    parts = [lead] if lead else []
    parts += [f"{WORD[f['reproduced']]}: {f['claim']} ({f['evidence']})." for f in key]
    counts = {w: sum(f["reproduced"] is v for f in findings) for v, w in WORD.items()}
    parts.append(f"Of {len(findings)} findings, {counts['Held']} held, {counts['Did not hold']} "
                 f"did not hold and {counts['Inconclusive']} were inconclusive; the list below "
                 "gives each with its evidence.")
    return " ".join(parts)


def line_series(label: str, rates: list[Rate | None], x: list, style: str = "solid",
                group: str = "") -> dict:
    """A ``lines`` figure series from rates (a rate without samples is a gap)."""
    def val(r, f):
        return None if r is None or r.n == 0 else getattr(r, f)

    out = {"label": label, "x": x, "y": [val(r, "rate") for r in rates],
           "low": [val(r, "low") for r in rates], "high": [val(r, "high") for r in rates],
           "style": style}
    return {**out, "group": group} if group else out
