"""``report.html``: the same content as ``report.md`` in one self-contained file.

Plots are embedded as base64 PNG data URIs and the CSS is inline, so the file can be mailed
or archived alone and opened offline.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

from drosophila.report import tables
from drosophila.report.data import Report
from drosophila.report.tables import Table

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.setup{color:#555}.verdict{background:#f6f8fa;border-left:4px solid #4C72B0;padding:.6em 1em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{color:#2e7d32;font-weight:bold}.bad{color:#c62828;font-weight:bold}
.unk{color:#888;font-weight:bold}img{max-width:100%;height:auto}
.plots{display:flex;flex-wrap:wrap;gap:1em}.plots figure{margin:0;flex:1 1 420px}
figcaption,.caption{font-size:.85em;color:#555}.wide{overflow-x:auto}
pre{background:#f6f8fa;padding:.8em;overflow:auto}
"""
_RATE_CELL = re.compile(r"^(\d+\.\d% \[|n/a n=0)")
_MARK_CLASS = {"✓": "ok", "✗": "bad", "?": "unk"}


def render_html(r: Report, plots: dict[str, Path]) -> str:
    """The self-contained HTML report."""
    e = html.escape
    body = [f"<h1>{e(r.title)}</h1>"] + ([f"<p>{e(r.intro())}</p>"] if r.intro() else [])
    body.append(f'<p class="setup">{e(r.setup_line())}</p>')
    if r.verdict:
        body += ["<h2>Verdict</h2>", f'<p class="verdict">{e(r.verdict)}</p>']
    if "headline" in plots:
        body.append(_img(plots["headline"], r.metric(r.headline).label))
    body += _findings(r)
    body += ["<h2>Results</h2>",
             "<p>Pooled over seeds; rate [Wilson 95% interval] and sample size.</p>",
             _table(tables.main_table(r))]
    anchors = tables.anchor_summary(r)
    if anchors:
        body += ["<p>Paper anchors (source tags as given by the experiment):</p>",
                 "<ul>" + "".join(f"<li>{e(a)}</li>" for a in anchors) + "</ul>"]
    body += _plots_section(r, plots)
    body += _extras_section(r, plots)
    body += _optional_table("Per seed", tables.seed_table(r))
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


def _findings(r: Report) -> list[str]:
    if not r.findings:
        return []
    items = []
    for f in r.findings:
        ev = f" — {html.escape(f.evidence)}" if f.evidence else ""
        items.append(f'<li><span class="{_MARK_CLASS[f.mark]}">{f.mark}</span> '
                     f"{html.escape(f.claim)}{ev}</li>")
    return ["<h2>Findings</h2>", "<ul>" + "".join(items) + "</ul>",
            '<p class="setup">✓ reproduced · ✗ not reproduced · ? inconclusive</p>']


def _plots_section(r: Report, plots: dict[str, Path]) -> list[str]:
    figs = [_img(plots[m.key], m.label) for m in r.metrics if m.key in plots]
    return ["<h2>Plots</h2>", '<div class="plots">' + "".join(figs) + "</div>"] if figs else []


def _extras_section(r: Report, plots: dict[str, Path]) -> list[str]:
    """The experiment's own tables (title, table, caption), then its figures (image, caption)."""
    out: list[str] = []
    for t in r.tables:
        out += [f"<h2>{html.escape(t.title)}</h2>", _table(t.table)]
        out += [f'<p class="caption">{html.escape(t.caption)}</p>'] if t.caption else []
    figs = [_img(plots[f"figure:{f.name}"], f.caption or f.title, alt=f.title)
            for f in r.figures if f"figure:{f.name}" in plots]
    return out + (["<h2>Figures</h2>", '<div class="plots">' + "".join(figs) + "</div>"]
                  if figs else [])


def _img(path: Path, caption: str, *, alt: str | None = None) -> str:
    """A ``<figure>`` with the PNG inlined as a data URI; ``alt`` defaults to the caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    cap = html.escape(caption)
    alt = cap if alt is None else html.escape(alt)
    return (f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
            f"<figcaption>{cap}</figcaption></figure>")


def _optional_table(title: str, table: Table) -> list[str]:
    return [f"<h2>{html.escape(title)}</h2>", _table(table)] if table[1] else []


def _table(table: Table) -> str:
    header, rows = table
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_td(c, i) for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    # Wide tables (many metrics) scroll inside their own box instead of widening the page.
    return (f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>")


def _td(text: str, col: int) -> str:
    # Only rate cells stay on one line; a paper source tag may wrap.
    cls = ' class="num"' if col > 0 and _RATE_CELL.match(text) else ""
    return f"<td{cls}>{html.escape(text)}</td>"
