"""``report.html``: the same content as ``report.md`` in one self-contained file.

Plots are embedded as base64 PNG data URIs and the CSS is inline, so the file can be mailed
or archived alone and opened offline.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path

from drosophila.report import tables
from drosophila.report.data import Report
from drosophila.report.plots import MAX_UPRIGHT_BARS
from drosophila.report.tables import Table

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.setup{color:#555}.verdict{background:#f6f8fa;border-left:4px solid #4C72B0;padding:.1em 1em}
.verdict p{margin:.5em 0}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.arm{min-width:11em}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}td.num .n{color:#666}
.ok{color:#2e7d32;font-weight:bold}.bad{color:#c62828;font-weight:bold}
.unk{color:#888;font-weight:bold}img{max-width:100%;height:auto}
.findings li{margin:.3em 0}.findings .mark{white-space:nowrap}
.evidence{display:block;color:#555;font-size:.9em}
.plots{display:flex;flex-wrap:wrap;gap:1em}.plots figure{margin:0;flex:1 1 420px}
.plots figure.full{flex-basis:100%}
figure.headline{margin:1em 0}
figcaption,.caption{font-size:.85em;color:#555}
.wide{overflow-x:auto;max-width:100%;
background:linear-gradient(to right,#fff 30%,rgba(255,255,255,0)) left/2em 100% no-repeat local,
linear-gradient(to left,#fff 30%,rgba(255,255,255,0)) right/2em 100% no-repeat local,
radial-gradient(farthest-side at 0 50%,rgba(0,0,0,.18),rgba(0,0,0,0)) left/.8em 100% no-repeat scroll,
radial-gradient(farthest-side at 100% 50%,rgba(0,0,0,.18),rgba(0,0,0,0)) right/.8em 100% no-repeat scroll}
pre{background:#f6f8fa;padding:.8em;overflow:auto}
"""
# Rate columns per HTML table: a table with more is split into blocks of at most this many,
# each repeating the arm column, so that it fits the page instead of running off its edge.
MAX_RATE_COLUMNS = 6
_RATE_CELL = re.compile(r"^(\d+\.\d% \[|n/a n=0)")
_MARK_CLASS = {"✓": "ok", "✗": "bad", "?": "unk"}


def render_html(r: Report, plots: dict[str, Path]) -> str:
    """The self-contained HTML report.

    It opens with the title, the verdict, the headline figure and the findings; the tables,
    plots, figures and the rest follow.
    """
    e = html.escape
    body = [f"<h1>{e(r.title)}</h1>"] + ([f"<p>{e(r.intro())}</p>"] if r.intro() else [])
    body.append(f'<p class="setup">{e(r.setup_line())}</p>')
    if r.verdict:
        paras = "".join(f"<p>{e(p)}</p>" for p in _paragraphs(r.verdict))
        body += ["<h2>Verdict</h2>", f'<div class="verdict">{paras}</div>']
    body += _headline(r, plots)
    body += _findings(r)
    paper = 1 if r.anchored_metrics() else 0  # the main table's last column
    head = tables.headline_table(r)
    if head[1]:
        body += [f"<h2>{e(r.metric(r.headline).label)}</h2>", f"<p>{e(tables.HEADLINE_CAPTION)}</p>",
                 *_tables_in_blocks(head, lead=1)]
    body += ["<h2>Results</h2>",
             "<p>Pooled over seeds; rate [Wilson 95% interval] and sample size.</p>",
             *_tables_in_blocks(tables.main_table(r, sources=False), lead=1, trail=paper)]
    anchors = tables.anchor_summary(r)
    if anchors:
        body += ["<p>Paper anchors (source tags as given by the experiment):</p>",
                 "<ul>" + "".join(f"<li>{e(a)}</li>" for a in anchors) + "</ul>"]
    body += _plots_section(r, plots)
    body += _extras_section(r, plots)
    seeds = tables.seed_table(r)
    if seeds[1]:
        body += ["<h2>Per seed</h2>", *_tables_in_blocks(seeds, lead=2)]
    body += _optional_table("Timing", tables.timing_table(r))
    body += _optional_table("Environment", tables.kv_table(r.results.get("environment")))
    body += _optional_table("World", tables.kv_table(r.results.get("world")))
    if r.notes:
        body += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{e(n)}</li>" for n in r.notes)
                 + "</ul>"]
    if r.config:
        cfg = json.dumps(r.config, indent=2, sort_keys=True)
        body += ["<h2>Configuration</h2>", f"<pre>{e(cfg)}</pre>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{e(r.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines (a verdict is usually one)."""
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _headline(r: Report, plots: dict[str, Path]) -> list[str]:
    """The experiment's headline figure if it names one, else the headline metric's bar plot."""
    fig = r.headline_figure
    if fig is not None and f"figure:{fig.name}" in plots:
        return [_img(plots[f"figure:{fig.name}"], fig.caption or fig.title, alt=fig.title,
                     cls="headline")]
    if "headline" in plots:
        return [_img(plots["headline"], r.metric(r.headline).label, cls="headline")]
    return []


def _findings(r: Report) -> list[str]:
    """One item per finding: its outcome (held / did not hold / inconclusive), claim, evidence."""
    if not r.findings:
        return []
    items = []
    for f in r.findings:
        ev = f'<span class="evidence">{html.escape(f.evidence)}</span>' if f.evidence else ""
        items.append(f'<li><span class="mark {_MARK_CLASS[f.mark]}">{f.mark} {f.status}</span> '
                     f"{html.escape(f.claim)}{ev}</li>")
    return ["<h2>Findings</h2>", f'<p class="setup">{html.escape(r.findings_summary())}</p>',
            '<ul class="findings">' + "".join(items) + "</ul>"]


def _plots_section(r: Report, plots: dict[str, Path]) -> list[str]:
    # Many arms make tall plots with a labelled row per arm: one plot per line, full width.
    cls = "full" if len(r.arms) > MAX_UPRIGHT_BARS else ""
    figs = [_img(plots[m.key], m.label, cls=cls) for m in r.metrics if m.key in plots]
    return ["<h2>Plots</h2>", '<div class="plots">' + "".join(figs) + "</div>"] if figs else []


def _extras_section(r: Report, plots: dict[str, Path]) -> list[str]:
    """The experiment's own tables (title, table, caption), then its figures (image, caption).

    The headline figure is not repeated: it opens the report.
    """
    out: list[str] = []
    for t in r.tables:
        out += [f"<h2>{html.escape(t.title)}</h2>", _table(t.table)]
        out += [f'<p class="caption">{html.escape(t.caption)}</p>'] if t.caption else []
    head = r.headline_figure
    figs = [_img(plots[f"figure:{f.name}"], f.caption or f.title, alt=f.title)
            for f in r.figures
            if f"figure:{f.name}" in plots and (head is None or f.name != head.name)]
    return out + (["<h2>Figures</h2>", '<div class="plots">' + "".join(figs) + "</div>"]
                  if figs else [])


def _img(path: Path, caption: str, *, alt: str | None = None, cls: str = "") -> str:
    """A ``<figure>`` with the PNG inlined as a data URI; ``alt`` defaults to the caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    cap = html.escape(caption)
    alt = cap if alt is None else html.escape(alt)
    attr = f' class="{cls}"' if cls else ""
    return (f'<figure{attr}><img alt="{alt}" src="data:image/png;base64,{data}">'
            f"<figcaption>{cap}</figcaption></figure>")


def _optional_table(title: str, table: Table) -> list[str]:
    return [f"<h2>{html.escape(title)}</h2>", _table(table)] if table[1] else []


def _tables_in_blocks(table: Table, *, lead: int, trail: int = 0) -> list[str]:
    """A rate table as one or more HTML tables of at most :data:`MAX_RATE_COLUMNS` rate columns.

    Each block repeats the ``lead`` columns (arm; seed and arm); the ``trail`` columns (the
    paper anchors) go with the first block, next to the headline metric. Blocks are of
    about equal size (13 metrics: 5 + 5 + 3, not 6 + 6 + 1).
    """
    header, rows = table
    middle = list(range(lead, len(header) - trail))
    tail = list(range(len(header) - trail, len(header)))
    n_blocks = max(1, math.ceil(len(middle) / MAX_RATE_COLUMNS))
    size = math.ceil(len(middle) / n_blocks) if middle else 0
    out = []
    for b in range(n_blocks):
        cols = (list(range(lead)) + middle[b * size:(b + 1) * size]
                + (tail if b == 0 else []))
        out.append(_table(([header[i] for i in cols], [[row[i] for i in cols] for row in rows]),
                          arm_col=lead - 1))
    return out


def _table(table: Table, arm_col: int | None = None) -> str:
    """A table in a box that scrolls sideways if the table is wider than the page.

    ``arm_col``: the column of arm names, kept wide enough to read (class ``arm``).
    """
    header, rows = table
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="arm">{html.escape(c)}</td>' if i == arm_col
                                    else _td(c, i) for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>")


def _td(text: str, col: int) -> str:
    # A rate cell is two unbroken lines (rate [interval], then n); other cells wrap.
    if col > 0 and _RATE_CELL.match(text):
        rate, sep, n = text.rpartition(" n=")
        if sep:
            return (f'<td class="num">{html.escape(rate)}<br>'
                    f'<span class="n">n={html.escape(n)}</span></td>')
        return f'<td class="num">{html.escape(text)}</td>'
    return f"<td>{html.escape(text)}</td>"
