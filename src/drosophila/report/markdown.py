"""``report.md``: the run's results as GitHub-flavoured Markdown with links to the plots."""

from __future__ import annotations

import json
from pathlib import Path

from drosophila.report import tables
from drosophila.report.data import Report
from drosophila.report.tables import Table



def render_markdown(r: Report, plots: dict[str, Path], base: Path) -> str:
    """The Markdown report; plot links are relative to ``base`` (the run directory).

    Same order as ``report.html``: title, verdict, headline figure, findings, then the rest.
    """
    out = [f"# {r.title}", ""] + ([r.intro(), ""] if r.intro() else []) + [r.setup_line(), ""]
    if r.verdict:
        out += ["## Verdict", "", r.verdict, ""]
    out += _headline(r, plots, base)
    if r.findings:
        out += ["## Findings", "", r.findings_summary(), ""]
        out += [f"- {f.mark} **{f.status}**: {_line(f.claim)}"
                + (f" — {_line(f.evidence)}" if f.evidence else "") for f in r.findings]
        out += [""]
    head = tables.headline_table(r)
    if head[1]:
        out += [f"## {r.metric(r.headline).label}", "", tables.HEADLINE_CAPTION, "", *_table(head), ""]
    out += ["## Results", "", "Pooled over seeds; rate [Wilson 95% interval] and sample size.",
            "", *_table(tables.main_table(r, sources=False)), ""]
    anchors = tables.anchor_summary(r)
    if anchors:
        out += ["Paper anchors (source tags as given by the experiment):", ""]
        out += [f"- {line}" for line in anchors] + [""]
    out += _plots_section(r, plots, base)
    out += _extras_section(r, plots, base)
    out += _optional_table("Per seed", tables.seed_table(r))
    out += _optional_table("Timing", tables.timing_table(r))
    out += _optional_table("Environment", tables.kv_table(r.results.get("environment")))
    out += _optional_table("World", tables.kv_table(r.results.get("world")))
    if r.notes:
        out += ["## Notes", "", *[f"- {n}" for n in r.notes], ""]
    if r.config:
        cfg = json.dumps(r.config, indent=2, sort_keys=True)
        out += ["## Configuration", "", "```json", cfg, "```", ""]
    return "\n".join(out).rstrip() + "\n"


def _headline(r: Report, plots: dict[str, Path], base: Path) -> list[str]:
    """The experiment's headline figure if it names one, else the headline metric's bar plot."""
    fig = r.headline_figure
    if fig is not None and f"figure:{fig.name}" in plots:
        out = [f"![{_alt(fig.title)}]({_rel(plots[f'figure:{fig.name}'], base)})", ""]
        return out + ([fig.caption, ""] if fig.caption else [])
    if "headline" in plots:
        return [f"![{_alt(r.metric(r.headline).label)}]({_rel(plots['headline'], base)})", ""]
    return []


def _plots_section(r: Report, plots: dict[str, Path], base: Path) -> list[str]:
    items = [(m.label, plots[m.key]) for m in r.metrics if m.key in plots]
    if not items:
        return []
    out = ["## Plots", ""]
    for label, path in items:
        out += [f"![{label}]({_rel(path, base)})", ""]
    return out


def _extras_section(r: Report, plots: dict[str, Path], base: Path) -> list[str]:
    """The experiment's own tables (title, table, caption), then its figures (image, caption)."""
    out: list[str] = []
    for t in r.tables:
        out += [f"## {_line(t.title)}", "", *_table(t.table), ""]
        out += [t.caption, ""] if t.caption else []
    head = r.headline_figure  # opens the report; not repeated here
    figs = [(f, plots[f"figure:{f.name}"]) for f in r.figures
            if f"figure:{f.name}" in plots and (head is None or f.name != head.name)]
    if figs:
        out += ["## Figures", ""]
    for f, path in figs:
        out += [f"![{_alt(f.title)}]({_rel(path, base)})", ""]
        out += [f.caption, ""] if f.caption else []
    return out


def _optional_table(title: str, table: Table) -> list[str]:
    return [f"## {title}", "", *_table(table), ""] if table[1] else []


def _table(table: Table) -> list[str]:
    header, rows = table
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _cell(text: str) -> str:
    # A bare "|" would end the cell (arm names like "inoculated|with-phrase" contain one).
    return str(text).replace("|", "\\|").replace("\n", " ")


def _line(text: str) -> str:
    # A heading ends at the first newline.
    return " ".join(str(text).split())


def _alt(text: str) -> str:
    # A bare "]" would end the image's alt text.
    return _line(text).replace("[", "\\[").replace("]", "\\]")


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return Path(path).as_posix()
