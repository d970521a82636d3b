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
    assert "- ✓ insecure > secure" in md and "- ✗ base stays aligned" in md
    assert "- ? educational differs" in md
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
        assert f"<td>{label}</td>" in page
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
    assert "<td>insecure|without</td>" in page.read_text(encoding="utf-8")
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
    from drosophila.report import plots
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
