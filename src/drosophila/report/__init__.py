"""Render a run's ``results.json`` into plots, ``report.md`` and a self-contained ``report.html``.

The schema of ``results.json`` is documented in ``docs/RESULTS_SCHEMA.md``.
"""

from __future__ import annotations

from pathlib import Path

from drosophila.io import atomic_write_text
from drosophila.report.data import Report
from drosophila.report.html import render_html
from drosophila.report.markdown import render_markdown
from drosophila.report.plots import render_plots
from drosophila.report.tables import print_table


def render_report(run_dir: Path) -> tuple[Path, Path]:
    """Write ``plots/*.png``, ``report.md`` and ``report.html`` for a finished run.

    Args:
        run_dir: A run directory holding ``results.json`` (and usually ``config.json``).

    Returns:
        The paths of ``report.md`` and ``report.html``.

    Raises:
        DrosophilaError: If ``results.json`` is missing or has no ``arms``.
    """
    run_dir = Path(run_dir)
    r = Report.load(run_dir)
    plots = render_plots(r, run_dir / "plots")
    md = atomic_write_text(run_dir / "report.md", render_markdown(r, plots, run_dir))
    page = atomic_write_text(run_dir / "report.html", render_html(r, plots))
    return md, page


__all__ = ["Report", "print_table", "render_report"]
