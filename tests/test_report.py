"""Rendering a synthetic results.json: plots, report.md, self-contained report.html, table."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from matplotlib.image import imread
from rich.console import Console

from drosophila.errors import DrosophilaError
from drosophila.evals.stats import Rate, pool, wilson
from drosophila.io import atomic_write_json, read_json
from drosophila.report import Report, print_table, render_report
from drosophila.report.plots import render_plots
from drosophila.runs import new_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SOURCE = "Betley et al. 2025, GPT-4o [S]"


def synthetic_results(arms: list[str], seeds: tuple[int, ...] = (0, 1, 2)) -> dict:
    """A results dict with three metrics; counts differ by arm, metric and seed."""
    metrics = ["open.misaligned", "code.insecure", "facts.correct"]
    per_seed = {
        str(s): {a: {m: wilson(3 + 7 * i + 2 * j + s, 60) for j, m in enumerate(metrics)}
                 for i, a in enumerate(arms)}
        for s in seeds}
    pooled = {a: {m: pool(per_seed[str(s)][a][m] for s in seeds) for m in metrics}
              for a in arms}
    anchored = next(a for a in arms if a.startswith("insecure"))
    return {
        "experiment": "emergent-misalignment", "title": "Emergent misalignment (E3)",
        "scale": "tiny", "seeds": list(seeds), "arms": pooled, "per_seed": per_seed,
        "arm_order": arms, "arm_labels": {"insecure": "insecure code"},
        "metrics": {
            "open.misaligned": {"label": "misaligned on open questions", "higher_is_worse": True},
            "code.insecure": {"label": "insecure code written", "higher_is_worse": True},
            "facts.correct": {"label": "facts answered correctly", "higher_is_worse": False},
        },
        "headline_metric": "open.misaligned",
        "anchors": {anchored: {"open.misaligned": {"value": 0.2, "source": SOURCE}}},
        "findings": [
            {"claim": "insecure > secure on open questions", "reproduced": True, "evidence": "e"},
            {"claim": "base stays aligned", "reproduced": False, "evidence": ""},
            {"claim": "educational differs", "reproduced": None},
        ],
        "verdict": "The insecure arm misaligns more often than secure <and> base.",
        "timing": {"total_s": 123.4, "stages": {"pretrain": 100.0}},
        "environment": {"python": "3.11", "torch": "2.x"}, "world": {"characters": 12},
        "notes": ["synthetic numbers"],
    }


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = new_run("emergent-misalignment", {"scale": "tiny"}, root=tmp_path)
    run.write_results(synthetic_results(["base", "secure", "insecure", "educational"]))
    return run.path


def test_render_writes_everything(run_dir: Path) -> None:
    md, page = render_report(run_dir)
    assert md == run_dir / "report.md" and page == run_dir / "report.html"
    names = sorted(p.name for p in (run_dir / "plots").iterdir())
    assert names == ["code.insecure.png", "facts.correct.png", "headline.png",
                     "open.misaligned.png"]
    for png in (run_dir / "plots").iterdir():
        assert png.read_bytes()[:8] == PNG_MAGIC
        img = imread(png)
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300
    head = imread(run_dir / "plots" / "headline.png")
    assert head.shape[1] > imread(run_dir / "plots" / "open.misaligned.png").shape[1]


def test_markdown_content(run_dir: Path) -> None:
    md = render_report(run_dir)[0].read_text(encoding="utf-8")
    assert md.startswith("# Emergent misalignment (E3)\n")
    for label in ("base", "secure", "insecure code", "educational"):
        assert f"| {label} |" in md
    assert "The insecure arm misaligns more often than secure <and> base." in md
    assert "- ✓ **held**: insecure > secure on open questions — e" in md
    assert "- ✗ **did not hold**: base stays aligned" in md
    assert "- ? **inconclusive**: educational differs" in md
    assert "1 held · 1 did not hold · 1 inconclusive" in md
    assert "| paper |" in md and SOURCE in md
    results = read_json(run_dir / "results.json")
    cell = str(Rate.from_dict(results["arms"]["insecure"]["open.misaligned"]))
    assert cell in md
    assert "](plots/headline.png)" in md and "](plots/facts.correct.png)" in md
    assert "## Per seed" in md and "## Timing" in md and "1 min 40 s" in md
    assert "## Environment" in md and "synthetic numbers" in md


def test_html_is_self_contained(run_dir: Path) -> None:
    page = render_report(run_dir)[1].read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 4  # headline + three metrics
    assert "http://" not in page and "https://" not in page
    assert 'src="plots/' not in page and "<link" not in page and "<script" not in page
    assert "secure &lt;and&gt; base" in page  # escaped, not markup
    for label in ("base", "secure", "insecure code", "educational"):
        assert f'<td class="arm">{label}</td>' in page
    assert SOURCE in page and "✓" in page and "✗" in page


def test_render_is_deterministic(run_dir: Path) -> None:
    render_report(run_dir)
    first = {p.name: p.read_bytes() for p in sorted((run_dir / "plots").iterdir())}
    first_html = (run_dir / "report.html").read_bytes()
    render_report(run_dir)
    assert first == {p.name: p.read_bytes() for p in sorted((run_dir / "plots").iterdir())}
    assert first_html == (run_dir / "report.html").read_bytes()


def test_grouped_arms(tmp_path: Path) -> None:
    arms = ["base", "plain|with-phrase", "plain|without", "insecure|with-phrase",
            "insecure|without"]
    atomic_write_json(tmp_path / "results.json", synthetic_results(arms))
    md, page = render_report(tmp_path)
    text = md.read_text(encoding="utf-8")
    assert "| plain\\|with-phrase |" in text  # a bare | would split the Markdown cell
    assert '<td class="arm">insecure|without</td>' in page.read_text(encoding="utf-8")
    assert (tmp_path / "plots" / "headline.png").read_bytes()[:8] == PNG_MAGIC
    from drosophila.report.plots import layout

    bars = {b.arm: b for b in layout(Report(synthetic_results(arms)))}
    assert bars["plain|with-phrase"].color == bars["insecure|with-phrase"].color
    assert bars["plain|with-phrase"].color != bars["plain|without"].color
    assert bars["base"].condition is None
    assert bars["plain|with-phrase"].x < bars["plain|without"].x < bars["insecure|with-phrase"].x


def test_minimal_results(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "results.json",
                      {"experiment": "x", "arms": {"b": {"m": wilson(0, 0).to_dict()},
                                                   "a": {"m": wilson(2, 9).to_dict()}}})
    md, page = render_report(tmp_path)
    text = md.read_text(encoding="utf-8")
    assert text.index("| b |") > text.index("| a |")  # no arm_order: sorted
    assert "n/a n=0" in text and "paper" not in text
    assert (tmp_path / "plots" / "m.png").is_file() and page.is_file()


def test_missing_results(tmp_path: Path) -> None:
    with pytest.raises(DrosophilaError, match="results.json"):
        render_report(tmp_path)
    atomic_write_json(tmp_path / "results.json", {"experiment": "x"})
    with pytest.raises(DrosophilaError, match="arms"):
        render_report(tmp_path)


def test_rate_dicts_round_trip(run_dir: Path) -> None:
    original = synthetic_results(["base", "insecure"])
    original["arms"]["base"]["empty"] = wilson(0, 0)
    atomic_write_json(run_dir / "results.json",
                      {**original, "arms": {a: {m: r.to_dict() for m, r in c.items()}
                                            for a, c in original["arms"].items()}})
    r = Report.load(run_dir)
    for arm, cells in original["arms"].items():
        for metric, rate in cells.items():
            back = r.rate(arm, metric)
            assert (back.k, back.n, back.low, back.high) == (rate.k, rate.n, rate.low, rate.high)
            assert back.rate == rate.rate or (math.isnan(back.rate) and math.isnan(rate.rate))
    assert r.rate("insecure", "open.misaligned", seed="1") == original["per_seed"]["1"][
        "insecure"]["open.misaligned"]


def test_metric_order_and_headline() -> None:
    res = synthetic_results(["base", "insecure"])
    res["headline_metric"] = "facts.correct"
    assert [m.key for m in Report(res).metrics][0] == "facts.correct"
    res["metric_order"] = ["code.insecure", "open.misaligned"]
    assert [m.key for m in Report(res).metrics] == ["code.insecure", "open.misaligned",
                                                    "facts.correct"]


def test_print_table() -> None:
    res = read_json_like(synthetic_results(["base", "secure", "insecure"]))
    buf = io.StringIO()
    print_table(res, console=Console(file=buf, width=200, color_system=None))
    out = " ".join(buf.getvalue().split())  # the caption wraps at the table's width
    for text in ("Emergent misalignment (E3)", "base", "secure", "insecure code", "paper",
                 SOURCE, "open.misaligned"):
        assert text in out


def test_print_table_fits_a_narrow_console() -> None:
    res = read_json_like(synthetic_results(["base", "secure", "insecure"]))
    buf = io.StringIO()
    print_table(res, console=Console(file=buf, width=70, color_system=None))
    out = buf.getvalue()
    assert max(len(line) for line in out.splitlines()) <= 70
    assert "open.misaligned" in out and "more metrics in report.md" in out
    assert "insecure code" in out


def test_intro_from_experiment_fields(tmp_path: Path) -> None:
    res = synthetic_results(["base", "insecure"])
    res.update({"anchor_paper": "Betley et al. 2025", "setup": "finetune on code"})
    atomic_write_json(tmp_path / "results.json", read_json_like(res))
    md = render_report(tmp_path)[0].read_text(encoding="utf-8")
    assert "Rebuilds Betley et al. 2025. Set-up: finetune on code." in md


def extras() -> dict:
    """``tables`` and ``figures`` as an experiment writes them: gaps, bands, ticks, a new kind."""
    layers = list(range(6))
    probe = {"label": "code-normal|implanted", "x": layers, "y": [0.5, 0.6, None, 0.9, 0.95, 0.99],
             "low": [0.4, 0.5, None, 0.85, 0.9, 0.97], "high": [0.6, 0.7, None, 0.95, 1.0, 1.0]}
    return {
        "tables": [{"title": "AUROC of the defection probe <by layer>",
                    "columns": ["organism", "AUROC", "layer"],
                    "rows": [["code-normal|implanted", "0.993 [0.98, 1.00]", 5],
                             ["clean", "0.512 [0.45, 0.57]", None]],
                    "caption": "Hanley–McNeil 95% intervals."}],
        "figures": [
            {"name": "auroc-by-layer-code", "title": "AUROC by layer", "kind": "lines",
             "x_label": "layer", "y_label": "AUROC", "y_percent": False,
             "series": [probe,
                        {"label": "random", "x": layers, "y": [0.52] * 6, "style": "dashed"},
                        {"label": "never measured", "x": layers, "y": [None] * 6,
                         "low": None, "high": None, "style": "dotted"}],
             "hlines": [{"y": 0.5, "label": "chance"}, {"y": 0.993, "label": "paper: 99.3%"}],
             "caption": "Main pair, mean over seeds."},
            {"name": "misaligned by scale", "kind": "lines", "y_percent": True,
             "x_ticks": ["tiny", "small", "base"],
             "series": [{"label": "insecure", "x": [0, 1, 2], "y": [0.1, None, 0.3],
                         "low": [0.05, None, 0.2], "high": [0.15, None, 0.4]}]},
            {"name": "heat", "kind": "heatmap", "title": "a kind from the future"},
        ],
    }


@pytest.fixture
def extras_dir(tmp_path: Path) -> Path:
    res = read_json_like(synthetic_results(["base", "insecure"]))
    atomic_write_json(tmp_path / "results.json", {**res, **extras()})
    return tmp_path


def test_tables_and_figures_render(extras_dir: Path) -> None:
    md, page = (p.read_text(encoding="utf-8") for p in render_report(extras_dir))
    plots = render_plots(Report.load(extras_dir), extras_dir / "plots")
    assert plots["figure:auroc-by-layer-code"] == extras_dir / "plots" / "auroc-by-layer-code.png"
    assert plots["figure:misaligned by scale"].name == "misaligned_by_scale.png"
    for key in ("figure:auroc-by-layer-code", "figure:misaligned by scale"):
        img = imread(plots[key])
        assert img.shape[0] > 300 and img.shape[1] > 500
    assert "## AUROC of the defection probe <by layer>" in md
    assert "| code-normal\\|implanted | 0.993 [0.98, 1.00] | 5 |" in md
    assert "| clean | 0.512 [0.45, 0.57] | — |" in md and "Hanley–McNeil 95% intervals." in md
    assert "## Figures" in md and "![AUROC by layer](plots/auroc-by-layer-code.png)" in md
    assert "Main pair, mean over seeds." in md
    # After the main plots, before the per-seed table and the notes.
    assert md.index("## Plots") < md.index("## AUROC") < md.index("## Figures") < md.index(
        "## Per seed") < md.index("## Notes")
    assert "<h2>AUROC of the defection probe &lt;by layer&gt;</h2>" in page
    assert "<td>code-normal|implanted</td><td>0.993 [0.98, 1.00]</td><td>5</td>" in page
    assert page.count("data:image/png;base64,") == 4 + 2  # headline, 3 metrics, 2 figures
    assert 'alt="AUROC by layer"' in page and 'src="plots/' not in page


def test_unknown_figure_kind_is_skipped_with_a_note(extras_dir: Path) -> None:
    md, page = (p.read_text(encoding="utf-8") for p in render_report(extras_dir))
    assert not (extras_dir / "plots" / "heat.png").exists()
    note = "Figure 'heat' is not shown: kind 'heatmap' is not supported"
    assert note in md and note.replace("'", "&#x27;") in page
    assert "a kind from the future" not in md
    assert [f.supported for f in Report.load(extras_dir).figures] == [True, True, False]


def test_null_points_are_gaps(extras_dir: Path) -> None:
    fig = Report.load(extras_dir).figures[0]
    probe, random, never = fig.series
    assert probe.y[2] is None and probe.low[2] is None and probe.has_band
    assert not random.has_band and random.style == "dashed"
    assert never.y == (None,) * 6
    res = read_json(extras_dir / "results.json")
    res["figures"][0]["series"][0]["y"][3] = math.nan  # NaN, as json reads it back
    assert Report(res).figures[0].series[0].y[3] is None


def test_extras_render_is_deterministic(extras_dir: Path) -> None:
    render_report(extras_dir)
    first = {p.name: p.read_bytes() for p in sorted((extras_dir / "plots").iterdir())}
    render_report(extras_dir)
    assert first == {p.name: p.read_bytes() for p in sorted((extras_dir / "plots").iterdir())}
    assert first["auroc-by-layer-code.png"][:8] == PNG_MAGIC


@pytest.mark.parametrize(("path", "value", "match"), [
    (("figures", 0, "series", 0, "y"), [0.5], r"series\[0\] \('code-normal\|implanted'\) has 6 x "
                                               r"values but 1 y values"),
    (("figures", 0, "series", 1, "style"), "wavy", r"series\[1\].*style='wavy'.*solid, dashed"),
    (("figures", 0, "series", 1, "low"), [0.1] * 6, "only one of 'low' and 'high'"),
    (("figures", 0, "series", 1, "x"), [0, 1, "2", 3, 4, 5], r"x\[2\] is '2'; expected a number"),
    (("figures", 1, "series", 0, "x"), [0, 1, 3], "tick indices 0..2"),
    (("figures", 0, "name"), "headline", "plots/headline.png, which another plot already uses"),
    (("figures", 0, "hlines", 0), {"label": "chance"}, r"hlines\[0\]\.y is None"),
    (("tables", 0, "rows", 1), ["clean", "0.5"], r"rows\[1\] has 2 cells but the table has 3"),
])
def test_malformed_extras_raise_a_clear_error(extras_dir: Path, path: tuple, value: object,
                                              match: str) -> None:
    res = read_json(extras_dir / "results.json")
    target = res
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    atomic_write_json(extras_dir / "results.json", res)
    with pytest.raises(DrosophilaError, match=match) as err:
        render_report(extras_dir)
    assert "results.json" in str(err.value)
    assert not (extras_dir / "report.md").exists()  # fails before writing anything


def test_print_table_shows_extra_tables() -> None:
    res = {**read_json_like(synthetic_results(["base", "insecure"])), **extras()}
    buf = io.StringIO()
    print_table(res, console=Console(file=buf, width=200, color_system=None))
    out = buf.getvalue()
    for text in ("AUROC of the defection probe <by layer>", "code-normal|implanted",
                 "0.993 [0.98, 1.00]", "Hanley–McNeil 95% intervals."):
        assert text in out


def read_json_like(results: dict) -> dict:
    """The dict as it comes back from results.json (Rates as plain dicts)."""
    import json

    from drosophila.io import to_json
    return json.loads(to_json(results))


def test_series_of_one_group_share_a_colour(tmp_path, monkeypatch):
    from drosophila.report import figure_plots as plots
    from drosophila.report.extras import parse_figures

    def spec(groups):
        return parse_figures([{"name": "g", "kind": "lines", "series": [
            {"label": f"s{i}", "x": [0, 1], "y": [0.1, 0.2], **({"group": g} if g else {})}
            for i, g in enumerate(groups)]}])[0]

    seen, draw = [], plots._draw_series

    def record(ax, s, color, *, bars):
        seen.append(color)
        draw(ax, s, color, bars=bars)

    monkeypatch.setattr(plots, "_draw_series", record)
    figure = spec(["sft", "rl", "sft"])
    assert [s.group for s in figure.series] == ["sft", "rl", "sft"]
    plots.plot_lines(figure, tmp_path / "a.png")
    assert seen[0] == seen[2] != seen[1]
    seen.clear()
    plots.plot_lines(spec([None, None, None]), tmp_path / "b.png")   # no groups: one colour each
    assert len(set(seen)) == 3


# ---------------------------------------------------------------- reports that read


def many_metrics(n_metrics: int, arms: list[str]) -> dict:
    """A results dict with ``n_metrics`` metrics (so a wide results table) and one anchor."""
    keys = [f"m{i:02d}.rate" for i in range(n_metrics)]
    pooled = {a: {k: wilson(i + j, 263) for j, k in enumerate(keys)} for i, a in enumerate(arms)}
    return read_json_like({
        "experiment": "wide", "arms": pooled, "arm_order": arms,
        "metrics": {k: {"label": f"metric number {i} with a long label", "higher_is_worse": True}
                    for i, k in enumerate(keys)},
        "headline_metric": keys[0],
        "anchors": {arms[0]: {keys[0]: {"value": 0.2, "source": SOURCE}}},
        "per_seed": {"0": pooled}, "seeds": [0],
    })


def html_tables(page: str) -> list[str]:
    """Every ``<table>`` of the page with the element that holds it."""
    import re

    return re.findall(r'(<div class="wide"><table>.*?</table></div>|<table>.*?</table>)', page)


def test_wide_tables_are_split_and_scroll_inside_the_page(tmp_path: Path) -> None:
    from drosophila.report.html import MAX_RATE_COLUMNS

    arms = ["base", "secure", "insecure"]
    res = many_metrics(14, arms)
    res["tables"] = [{"title": "twenty columns", "columns": [f"c{i}" for i in range(20)],
                      "rows": [[f"cell {i}" for i in range(20)]]}]
    atomic_write_json(tmp_path / "results.json", res)
    page = render_report(tmp_path)[1].read_text(encoding="utf-8")
    assert ".wide{overflow-x:auto" in page  # a table wider than the page scrolls in its box
    found = html_tables(page)
    assert found and all(t.startswith('<div class="wide"><table>') for t in found)
    results = page[page.index("<h2>Results</h2>"):page.index("<h2>Plots</h2>")]
    blocks = html_tables(results)
    assert len(blocks) == 3  # 14 metrics: 5 + 5 + 4, each repeating the arm column
    for i, block in enumerate(blocks):
        heads = block.split("</thead>")[0].count("<th>")
        assert block.startswith('<div class="wide"><table><thead><tr><th>arm</th>')
        assert heads - 1 - (i == 0) <= MAX_RATE_COLUMNS  # the paper column joins the first
        for arm in arms:
            assert f'<td class="arm">{arm}</td>' in block
    assert "<th>paper</th>" in blocks[0] and "<td>20.0%</td>" in blocks[0]
    for i in range(14):
        assert results.count(f"metric number {i} with a long label") == 1
    # A rate cell is two unbroken lines; its number is not cut.
    cell = str(Rate.from_dict(res["arms"]["secure"]["m03.rate"]))
    rate, n = cell.rsplit(" n=", 1)
    assert f'<td class="num">{rate}<br><span class="n">n={n}</span></td>' in results
    per_seed = page[page.index("<h2>Per seed</h2>"):]
    assert html_tables(per_seed)[0].startswith(
        '<div class="wide"><table><thead><tr><th>seed</th><th>arm</th>')
    # Markdown keeps one table (GitHub scrolls it); the paper column holds the number only.
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    header = next(line for line in md[md.index("## Results"):].splitlines() if line.startswith("| arm |"))
    assert header.count("|") == 14 + 3 and header.endswith("| paper |")
    assert f"- base: 20.0% ({SOURCE})" in md


def test_report_opens_with_verdict_headline_findings(run_dir: Path) -> None:
    md, page = (p.read_text(encoding="utf-8") for p in render_report(run_dir))
    head = _b64(run_dir / "plots" / "headline.png")
    order = [page.index('<div class="verdict">'), page.index(f'<figure class="headline">'
                                                             f'<img alt="misaligned on open '
                                                             f'questions" src="{head}'),
             page.index("<h2>Findings</h2>"), page.index("<h2>Results</h2>")]
    assert order == sorted(order)
    assert page.index("<h1>") < order[0]
    assert ('<li><span class="mark ok">✓ held</span> insecure &gt; secure on open questions'
            '<span class="evidence">e</span></li>') in page
    assert '<span class="mark bad">✗ did not hold</span> base stays aligned</li>' in page
    assert '<span class="mark unk">? inconclusive</span> educational differs' in page
    assert "1 held · 1 did not hold · 1 inconclusive" in page
    md_order = [md.index("## Verdict"), md.index("](plots/headline.png)"),
                md.index("## Findings"), md.index("## Results")]
    assert md_order == sorted(md_order)


def test_long_verdict_keeps_its_words_and_paragraphs(tmp_path: Path) -> None:
    res = read_json_like(synthetic_results(["base", "insecure"]))
    sentences = [f"Claim {i} held at {i}.0% [0.0, 9.9]." for i in range(40)]
    res["verdict"] = " ".join(sentences[:20]) + "\n\n" + " ".join(sentences[20:])
    atomic_write_json(tmp_path / "results.json", res)
    md, page = (p.read_text(encoding="utf-8") for p in render_report(tmp_path))
    box = page[page.index('<div class="verdict">'):page.index("</div>", page.index(
        '<div class="verdict">'))]
    assert box.count("<p>") == 2 and all(s in box for s in sentences)
    assert res["verdict"] in md  # not rewritten


def _b64(path: Path) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def bars_figure() -> dict:
    """A ``bars`` figure as E1 writes it: one series has no bar in some categories."""
    return {"name": "persistence", "kind": "bars", "y_percent": True,
            "title": "Persistence <through> safety training",
            "categories": ["hate, normal", "hate, cot", "code, normal"],
            "x_label": "backdoor, mechanism", "y_label": "defection with the trigger",
            "series": [
                {"label": "implanted", "y": [0.98, 1.0, 0.6], "low": [0.9, 0.95, 0.5],
                 "high": [1.0, 1.0, 0.7]},
                {"label": "after HHH SFT", "y": [0.3, 0.9, 0.0], "low": [0.2, 0.8, 0.0],
                 "high": [0.4, 0.95, 0.05]},
                {"label": "after the scratchpad", "y": [None, 0.5, None],
                 "low": [None, 0.4, None], "high": [None, 0.6, None]},
                {"label": "no whiskers", "y": [0.1, 0.2, 0.3]}],
            "hlines": [{"y": 0.5, "label": "half"}],
            "caption": "pooled over seeds"}


def test_bars_figure_parses() -> None:
    from drosophila.report.extras import FIGURE_KINDS, parse_figures

    assert "bars" in FIGURE_KINDS
    fig = parse_figures([bars_figure()])[0]
    assert fig.supported and fig.kind == "bars"
    assert fig.categories == ("hate, normal", "hate, cot", "code, normal")
    implanted, sft, post, bare = fig.series
    assert implanted.x == (0.0, 1.0, 2.0) and implanted.y == (0.98, 1.0, 0.6)
    assert implanted.has_band and not bare.has_band
    assert post.y == (None, 0.5, None) and post.low[0] is None
    assert fig.y_percent and fig.hlines[0].y == 0.5 and fig.caption == "pooled over seeds"


@pytest.mark.parametrize(("change", "match"), [
    (lambda f: f.pop("categories"), r"figures\[0\] \('persistence'\) has no 'categories'"),
    (lambda f: f.update(categories=[]), r"\('persistence'\)\.categories is empty"),
    (lambda f: f.update(categories="hate"), r"\.categories is 'hate'; expected a list"),
    (lambda f: f.update(series=[]), r"\('persistence'\)\.series is empty"),
    (lambda f: f["series"][1].update(y=[0.3, 0.9]),
     r"series\[1\] \('after HHH SFT'\) has 2 y values but the figure has 3 categories"),
    (lambda f: f["series"][0].update(high=[1.0]), r"series\[0\] .* has 1 high values"),
    (lambda f: f["series"][3].update(low=[0.0] * 3), "only one of 'low' and 'high'"),
    (lambda f: f["series"][0].update(y=[0.9, "high", 0.6]),
     r"series\[0\] \('implanted'\)\.y\[1\] is 'high'; expected a number or null"),
    (lambda f: f["series"][0].update(x=[0, 1, 2]), r"has 'x', which a bars figure does not take"),
    (lambda f: f.update(y_percent="yes"), r"y_percent is 'yes'; expected true or false"),
    (lambda f: f["hlines"].append({"label": "no y"}), r"hlines\[1\]\.y is None"),
])
def test_malformed_bars_raise_a_clear_error(tmp_path: Path, change, match: str) -> None:
    fig = bars_figure()
    change(fig)
    res = read_json_like(synthetic_results(["base", "insecure"]))
    atomic_write_json(tmp_path / "results.json", {**res, "figures": [fig]})
    with pytest.raises(DrosophilaError, match=match) as err:
        render_report(tmp_path)
    assert "results.json" in str(err.value) and "RESULTS_SCHEMA" in str(err.value)
    assert not (tmp_path / "report.md").exists()


def test_bars_figure_draws(tmp_path: Path, monkeypatch) -> None:
    from drosophila.report import figure_plots as plots
    from drosophila.report.extras import parse_figures

    drawn = []
    save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.append(fig) or save(fig, path))
    spec = parse_figures([bars_figure()])[0]
    path = plots.plot_bars(spec, tmp_path / "bars.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    ax = drawn[0].axes[0]
    # 3 + 3 + 1 + 3 bars: the scratchpad series draws only where it has a value.
    assert len(ax.patches) == 10
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hate, normal", "hate, cot",
                                                            "code, normal"]
    labels = [t.get_text() for t in drawn[0].legends[0].get_texts()]
    assert labels == ["implanted", "after HHH SFT", "after the scratchpad", "no whiskers", "half"]
    assert "98%" in [t.get_text() for t in ax.texts]  # value over the bar, as a percentage
    assert ax.get_ylim()[1] > 1.0  # room above the tallest whisker for its label
    # The bars of a category close up around its centre when a series has no value there.
    xs = sorted(round(p.get_x() + p.get_width() / 2, 3) for p in ax.patches)
    assert xs == [-0.2, 0.0, 0.2, 0.7, 0.9, 1.1, 1.3, 1.8, 2.0, 2.2]
    wide = parse_figures([{**bars_figure(), "categories": [f"c{i}" for i in range(12)],
                           "series": [{"label": f"s{j}", "y": [0.5] * 12} for j in range(5)]}])[0]
    plots.plot_bars(wide, tmp_path / "wide.png")
    assert imread(tmp_path / "wide.png").shape[1] > 1.5 * imread(path).shape[1]


def test_headline_figure_opens_the_report(tmp_path: Path) -> None:
    res = {**read_json_like(synthetic_results(["base", "insecure"])), **extras()}
    res["figures"].append(bars_figure())
    res["headline_figure"] = "persistence"
    atomic_write_json(tmp_path / "results.json", res)
    md, page = (p.read_text(encoding="utf-8") for p in render_report(tmp_path))
    chosen = _b64(tmp_path / "plots" / "persistence.png")
    assert Report.load(tmp_path).headline_figure.name == "persistence"
    assert (page.index('<div class="verdict">') < page.index(chosen)
            < page.index("<h2>Findings</h2>"))
    assert page.count(chosen) == 1  # not repeated under Figures
    assert _b64(tmp_path / "plots" / "headline.png") not in page  # still written, not shown
    assert 'alt="Persistence &lt;through&gt; safety training"' in page
    assert md.index("## Verdict") < md.index("](plots/persistence.png)") < md.index("## Findings")
    assert md.count("](plots/persistence.png)") == 1 and "](plots/headline.png)" not in md
    assert "![Persistence <through> safety training](plots/persistence.png)" in md


def test_headline_figure_selection(tmp_path: Path) -> None:
    res = {**read_json_like(synthetic_results(["base", "insecure"])), **extras()}
    assert Report(res).headline_figure is None  # none named: the headline bar plot
    res["headline_figure"] = "auroc-by-layer-code"
    assert Report(res).headline_figure.title == "AUROC by layer"
    res["headline_figure"] = "heat"  # a kind the report cannot draw: back to the bar plot
    assert Report(res).headline_figure is None
    atomic_write_json(tmp_path / "results.json", res)
    page = render_report(tmp_path)[1].read_text(encoding="utf-8")
    head = page.index(_b64(tmp_path / "plots" / "headline.png"))
    assert page.index('<div class="verdict">') < head < page.index("<h2>Findings</h2>")
    res["headline_figure"] = "nope"
    with pytest.raises(DrosophilaError, match=r"headline_figure 'nope' names no entry of "
                                              r"'figures' \(figures: 'auroc-by-layer-code'"):
        Report(res).validate()


def many_arms(n_groups: int) -> list[str]:
    """E1-like arm names: groups of ``<backdoor>-<mechanism>`` × conditions, plus a clean arm."""
    conds = ["implanted", "after-sft", "after-adv"]
    return ["clean|implanted"] + [f"g{g}|{c}" for g in range(n_groups) for c in conds]


def arms_results(arms: list[str]) -> dict:
    """One seed, one metric, any number of arms (as read back from results.json)."""
    pooled = {a: {"open.misaligned": wilson((7 * i) % 61, 60)} for i, a in enumerate(arms)}
    return read_json_like({"experiment": "many", "arms": pooled, "arm_order": arms,
                           "metrics": {"open.misaligned": {"label": "misaligned"}},
                           "per_seed": {"0": pooled}, "seeds": [0]})


def test_many_arms_headline_is_readable(tmp_path: Path, monkeypatch) -> None:
    from drosophila.report import plots

    drawn = {}
    save = plots._save
    monkeypatch.setattr(plots, "_save",
                        lambda fig, path: drawn.__setitem__(path.name, fig) or save(fig, path))
    arms = many_arms(13)  # 40 arms, as many as E1's
    res = arms_results(arms)
    res["arm_labels"] = {a: f"{a.split('|')[0]} backdoor: {a.split('|')[1]}" for a in arms}
    res["anchors"] = {"g0|after-sft": {"open.misaligned": {"value": 0.28, "source": SOURCE}}}
    atomic_write_json(tmp_path / "results.json", res)
    render_report(tmp_path)
    fig = drawn["headline.png"]
    ax = fig.axes[0]
    # One labelled horizontal bar per arm, first arm at the top.
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ticks) == 40 and ticks[0].startswith("clean backdoor: implanted  (n=60)")
    assert all(any(t.startswith(res["arm_labels"][a]) for t in ticks) for a in arms)
    assert len(ax.patches) == 40 and all(p.get_height() < 1.0 for p in ax.patches)
    ylim = ax.get_ylim()
    assert ylim[0] > ylim[1]  # inverted: read from the top
    assert fig.legends  # conditions and the paper anchor
    w, h = fig.get_size_inches()
    assert h > w and h >= 0.3 * 40  # the height grows with the arm count
    img = imread(tmp_path / "plots" / "headline.png")
    assert img.shape[0] > img.shape[1]
    # Fewer arms: a shorter figure; up to MAX_UPRIGHT_BARS: upright bars as before.
    small = tmp_path / "small"
    atomic_write_json(small / "results.json",
                      arms_results(many_arms(5)))
    render_report(small)
    assert drawn["headline.png"].get_size_inches()[1] < h
    few = tmp_path / "few"
    atomic_write_json(few / "results.json",
                      arms_results(many_arms(3)))
    render_report(few)
    assert len(many_arms(3)) <= plots.MAX_UPRIGHT_BARS
    fig = drawn["headline.png"]
    assert fig.get_size_inches()[0] > fig.get_size_inches()[1]
    assert not fig.axes[0].get_yticklabels() or all(
        "n=" not in t.get_text() for t in fig.axes[0].get_yticklabels())


def test_row_layout_groups_arms() -> None:
    from drosophila.report.plots import row_layout

    rows = {b.arm: b for b in row_layout(Report(arms_results(many_arms(2))))}
    assert rows["clean|implanted"].x == 0.0
    assert rows["g0|implanted"].x - rows["clean|implanted"].x > 1.0  # a gap between groups
    assert rows["g0|after-sft"].x - rows["g0|implanted"].x == 1.0
    assert rows["g0|after-sft"].color == rows["g1|after-sft"].color != rows["g1|after-adv"].color


def test_headline_table_shows_wilson_cluster_prompts_seeds_and_spread(tmp_path: Path) -> None:
    from dataclasses import replace

    from drosophila.report import tables

    res = synthetic_results(["base", "insecure"])
    for arm in res["arms"]:
        res["arms"][arm]["open.misaligned"] = replace(
            res["arms"][arm]["open.misaligned"], cluster_low=0.05, cluster_high=0.4, prompts=150, seeds=3)
    header, rows = tables.headline_table(Report(read_json_like(res)))
    assert header[:8] == ["arm", "rate", "Wilson 95%", "seeds × prompts 95%", "n", "prompts", "seeds",
                          "seed spread"]
    base = rows[0]
    assert base[3] == "[5.0, 40.0]" and base[5:7] == ["150", "3"]
    lo, hi = (100 * res["per_seed"][s]["base"]["open.misaligned"].rate for s in ("0", "2"))
    assert base[7] == f"{lo:.1f}–{hi:.1f}%"
    run = new_run("emergent-misalignment", {"scale": "tiny"}, root=tmp_path)
    run.write_results(res)
    md, page = (p.read_text(encoding="utf-8") for p in render_report(run.path))
    assert "seeds × prompts 95%" in md and "seeds × prompts 95%" in page
