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


def read_json_like(results: dict) -> dict:
    """The dict as it comes back from results.json (Rates as plain dicts)."""
    import json

    from drosophila.io import to_json
    return json.loads(to_json(results))
