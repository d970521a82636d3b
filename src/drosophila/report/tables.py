"""Tables shared by the Markdown, HTML and console renderings (header + rows of strings)."""

from __future__ import annotations

from typing import Any

from drosophila.evals.stats import Rate

from drosophila.report.data import MISSING, Report, fmt_rate, fmt_seconds, fmt_value

Table = tuple[list[str], list[list[str]]]


def metric_header(r: Report, key: str) -> str:
    """Metric label with the direction that counts as worse, e.g. ``"misaligned (↑ worse)"``."""
    m = r.metric(key)
    arrow = {True: " (↑ worse)", False: " (↑ better)"}.get(m.higher_is_worse, "")
    return m.label + arrow


def paper_cell(r: Report, arm: str) -> str:
    """The published anchors for ``arm``; metric names only when more than one is anchored."""
    anchored = r.anchored_metrics()
    parts = []
    for key in anchored:
        a = r.anchor(arm, key)
        if a is None:
            continue
        prefix = "" if len(anchored) == 1 else f"{r.metric(key).label}: "
        parts.append(prefix + str(a))
    return "; ".join(parts) or MISSING


def main_table(r: Report) -> Table:
    """Arms × metrics, pooled over seeds, plus a ``paper`` column when anchors exist."""
    metrics = [m.key for m in r.metrics]
    header = ["arm"] + [metric_header(r, k) for k in metrics]
    with_paper = bool(r.anchored_metrics())
    if with_paper:
        header.append("paper")
    rows = []
    for arm in r.arms:
        row = [r.label(arm)] + [fmt_rate(r.rate(arm, k)) for k in metrics]
        if with_paper:
            row.append(paper_cell(r, arm))
        rows.append(row)
    return header, rows


def seed_table(r: Report) -> Table:
    """One row per (seed, arm): the unpooled rates behind the main table."""
    metrics = [m.key for m in r.metrics]
    header = ["seed", "arm"] + [metric_header(r, k) for k in metrics]
    rows = [[seed, r.label(arm)] + [fmt_rate(r.rate(arm, k, seed)) for k in metrics]
            for seed in r.seeds for arm in r.arms
            if arm in r.results["per_seed"].get(seed, {})]
    return header, rows


def timing_table(r: Report) -> Table:
    timing = r.results.get("timing", {}) or {}
    rows = [[str(name), fmt_seconds(s)] for name, s in (timing.get("stages") or {}).items()]
    if timing.get("total_s") is not None:
        rows.append(["total", fmt_seconds(timing["total_s"])])
    return ["stage", "wall time"], rows


def kv_table(d: dict[str, Any] | None, key_name: str = "field") -> Table:
    return [key_name, "value"], [[str(k), fmt_value(v)] for k, v in (d or {}).items()]


def anchor_summary(r: Report) -> list[str]:
    """Lines like ``"insecure code: 20.0% (Betley et al. 2025, GPT-4o [S])"``."""
    return [f"{r.label(arm)}: {paper_cell(r, arm)}" for arm in r.arms
            if paper_cell(r, arm) != MISSING]


def print_table(results: dict[str, Any], console: Any = None) -> None:
    """Print the arms × metrics table (with the paper column) to a rich console.

    Args:
        results: A ``results.json`` dict.
        console: A ``rich.console.Console``; a new one on stdout when omitted.
    """
    from rich.console import Console
    from rich.table import Table as RichTable

    r = Report(results)
    console = console or Console()
    metrics = r.metrics
    paper = bool(r.anchored_metrics())
    table = RichTable(title=r.title, caption="pooled over seeds · rate [Wilson 95% CI] n")
    table.add_column("arm", no_wrap=True)
    for m in metrics:
        # Keys, not labels, as headers: labels are sentences and would squeeze the numbers.
        arrow = {True: " ↑worse", False: " ↑better"}.get(m.higher_is_worse, "")
        table.add_column(m.key + arrow, style="bold" if m.key == r.headline else None)
    if paper:
        table.add_column("paper", overflow="fold")
    for arm in r.arms:
        row = [r.label(arm)] + [_console_cell(r.rate(arm, m.key)) for m in metrics]
        table.add_row(*row, *([paper_cell(r, arm)] if paper else []))
    console.print(table)


def _console_cell(rate: Rate | None) -> str:
    """Rate and interval on one line, ``n`` on the next, so columns stay narrow."""
    if rate is None or rate.n == 0:
        return fmt_rate(rate)
    return f"{100 * rate.rate:.1f}% [{100 * rate.low:.1f}, {100 * rate.high:.1f}]\nn={rate.n}"
