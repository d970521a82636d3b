"""Tables shared by the Markdown, HTML and console renderings (header + rows of strings)."""

from __future__ import annotations

from typing import Any

from drosophila.evals.stats import Rate

from drosophila.report.data import Report
from drosophila.report.formats import MISSING, fmt_pct, fmt_rate, fmt_seconds, fmt_value

Table = tuple[list[str], list[list[str]]]

HEADLINE_CAPTION = ("Rate over all answers, its Wilson interval (samples as independent draws), its "
                    "cluster-aware interval (bootstrap over seeds × prompts: what the findings use), "
                    "distinct prompts, seeds, and the spread of the per-seed rates.")


def metric_header(r: Report, key: str) -> str:
    """Metric label with the direction that counts as worse, e.g. ``"misaligned (↑ worse)"``."""
    m = r.metric(key)
    arrow = {True: " (↑ worse)", False: " (↑ better)"}.get(m.higher_is_worse, "")
    return m.label + arrow


def paper_cell(r: Report, arm: str, with_source: bool = True) -> str:
    """The published anchors for ``arm``; metric names only when more than one is anchored."""
    anchored = r.anchored_metrics()
    parts = []
    for key in anchored:
        a = r.anchor(arm, key)
        if a is None:
            continue
        prefix = "" if len(anchored) == 1 else f"{r.metric(key).label}: "
        parts.append(prefix + (str(a) if with_source else fmt_pct(a.value)))
    return "; ".join(parts) or MISSING


def main_table(r: Report, sources: bool = True) -> Table:
    """Arms × metrics, pooled over seeds, plus a ``paper`` column when anchors exist.

    With ``sources=False`` the paper column holds just the numbers (the report lists the
    sources under the table), which keeps it narrow.
    """
    metrics = [m.key for m in r.metrics]
    header = ["arm"] + [metric_header(r, k) for k in metrics]
    with_paper = bool(r.anchored_metrics())
    if with_paper:
        header.append("paper")
    rows = []
    for arm in r.arms:
        row = [r.label(arm)] + [fmt_rate(r.rate(arm, k)) for k in metrics]
        if with_paper:
            row.append(paper_cell(r, arm, sources))
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


def headline_table(r: Report) -> Table:
    """The headline metric per arm with every interval a claim needs: Wilson over samples, the
    cluster-aware interval over seeds × prompts, the rate over coherent answers, the number of
    distinct prompts and seeds, and the seed spread (lowest and highest per-seed rate)."""
    key = r.headline
    coherent = key.replace(".misaligned", ".misaligned_coherent")
    has_coherent = key.endswith(".misaligned") and any(r.rate(a, coherent) for a in r.arms)
    header = ["arm", "rate", "Wilson 95%", "seeds × prompts 95%", "n", "prompts", "seeds",
              "seed spread"] + (["over coherent answers"] if has_coherent else [])
    rows = []
    for arm in r.arms:
        rate = r.rate(arm, key)
        if rate is None:
            continue
        cells = [fmt_pct(rate.rate), _interval(rate.low, rate.high),
                 _interval(rate.cluster_low, rate.cluster_high), str(rate.n),
                 fmt_value(rate.prompts), fmt_value(rate.seeds), _spread(r, arm, key)]
        if has_coherent:
            cells.append(fmt_rate(r.rate(arm, coherent)))
        rows.append([r.label(arm)] + cells)
    return header, rows


def _interval(low: float | None, high: float | None) -> str:
    return MISSING if low is None or high is None else f"[{100 * low:.1f}, {100 * high:.1f}]"


def _spread(r: Report, arm: str, key: str) -> str:
    vals = [x.rate for s in r.seeds if (x := r.rate(arm, key, s)) is not None and x.n]
    if len(vals) < 2:
        return MISSING
    return f"{100 * min(vals):.1f}–{100 * max(vals):.1f}%"


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

    Metrics that do not fit the console width are left out (the headline and anchored
    metrics first in line) and named in the caption; ``report.md`` has them all. The
    experiment's own ``tables`` follow, each with its title and caption.

    Args:
        results: A ``results.json`` dict.
        console: A ``rich.console.Console``; a new one on stdout when omitted.
    """
    from rich.console import Console

    r = Report(results)
    console = console or Console()
    console.print(_rich_main_table(r, console.width))
    _print_extra_tables(r, console)


def _rich_main_table(r: Report, width: int) -> Any:
    """The arms × metrics ``rich`` table, with as many metrics as fit ``width`` columns."""
    from rich.table import Table as RichTable

    uniform_n = _uniform_n(r)
    paper = bool(r.anchored_metrics())
    arm_w = min(28, max([len(r.label(a)) for a in r.arms] + [3]))
    budget = width - (arm_w + 4) - (10 if paper else 0)  # + borders and padding
    shown, hidden = _fit_metrics(r, budget, two_lines=uniform_n is None)
    caption = "pooled over seeds · rate [Wilson 95% CI]"
    caption += f" · n={uniform_n} per cell" if uniform_n is not None else " · n"
    sources = _anchor_sources(r)
    if sources:
        caption += f" · paper: {'; '.join(sources)}"
    if hidden:
        caption += f" · {len(hidden)} more metrics in report.md: {', '.join(hidden)}"
    table = RichTable(title=r.title, caption=caption)
    table.add_column("arm", max_width=arm_w, overflow="fold")
    for key in shown:
        m = r.metric(key)
        arrow = {True: "\n↑ worse", False: "\n↑ better"}.get(m.higher_is_worse, "")
        # Keys, not labels, as headers: labels are sentences and would squeeze the numbers.
        table.add_column(key + arrow, style="bold" if key == r.headline else None,
                         overflow="fold", no_wrap=True)
    if paper:
        table.add_column("paper", overflow="fold", max_width=24)
    for arm in r.arms:
        cells = [_console_cell(r.rate(arm, k), uniform_n is None) for k in shown]
        # Sources go once into the caption; cells keep just the numbers.
        table.add_row(r.label(arm), *cells, *([paper_cell(r, arm, False)] if paper else []))
    return table


def _print_extra_tables(r: Report, console: Any) -> None:
    from rich.markup import escape
    from rich.table import Table as RichTable

    # Escaped: a cell like "[tag]" is text, not rich markup.
    for t in r.tables:
        table = RichTable(title=escape(t.title), caption=escape(t.caption) or None)
        for col in t.columns:
            table.add_column(escape(col), overflow="fold")
        for row in t.rows:
            table.add_row(*(escape(c) for c in row))
        console.print(table)


def _anchor_sources(r: Report) -> list[str]:
    found = [a.source for arm in r.arms for k in r.anchored_metrics()
             if (a := r.anchor(arm, k)) is not None and a.source]
    return list(dict.fromkeys(found))


def _uniform_n(r: Report) -> int | None:
    ns = {rate.n for a in r.arms for m in r.metrics if (rate := r.rate(a, m.key)) is not None}
    return ns.pop() if len(ns) == 1 else None


def _fit_metrics(r: Report, budget: int, two_lines: bool) -> tuple[list[str], list[str]]:
    """Metrics that fit ``budget`` columns: headline, then anchored, then the rest."""
    keys = [m.key for m in r.metrics]
    anchored = r.anchored_metrics()
    order = sorted(keys, key=lambda k: (k != r.headline, k not in anchored, keys.index(k)))
    cell_w = 12 if two_lines else 18  # "30.8% [25.5, 36.6]", or "[25.5, 36.6]" when split
    shown: list[str] = []
    for key in order:
        width = max(cell_w, len(key)) + 3  # padding and border
        if shown and width > budget:
            break
        shown.append(key)
        budget -= width
    shown.sort(key=keys.index)
    return shown, [k for k in keys if k not in shown]


def _console_cell(rate: Rate | None, with_n: bool) -> str:
    if rate is None or rate.n == 0:
        return fmt_rate(rate)
    text = f"{100 * rate.rate:.1f}% [{100 * rate.low:.1f}, {100 * rate.high:.1f}]"
    return text.replace(" [", "\n[") + f"\nn={rate.n}" if with_n else text
