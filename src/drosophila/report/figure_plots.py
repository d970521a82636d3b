"""The experiment's own figures (``results["figures"]``, :class:`drosophila.report.extras.Figure`):
``lines`` as lines with bands and reference lines, ``bars`` as grouped bars with whiskers."""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from drosophila.report import extras
from drosophila.report.mpl import (
    _HLINE_DASHES, _LEGEND_INSIDE_MAX, _LINESTYLES, _NEUTRAL, _PALETTE, _nan, _save, _span, _wrap,
)


def plot_lines(spec: extras.Figure, path: Path) -> Path:
    """One ``lines`` figure: a line per series with its interval, grey dashed reference lines.

    Missing ``y`` values leave gaps. Intervals are shaded bands on a numeric x axis and error
    bars on a categorical one (``x_ticks``), where neighbouring points are not related.

    Args:
        spec: A figure of kind ``lines``.
        path: Where to write the PNG.

    Returns:
        ``path``.
    """
    entries = sum(1 for s in spec.series if s.label) + sum(1 for h in spec.hlines if h.label)
    below = entries > _LEGEND_INSIDE_MAX
    rows = math.ceil(entries / 2) if below else 0
    fig = Figure(figsize=(7.2, 4.6 + 0.28 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    groups = list(dict.fromkeys(s.group for s in spec.series))
    grouped = groups != [""]
    for i, s in enumerate(spec.series):
        k = groups.index(s.group) if grouped else i
        _draw_series(ax, s, _PALETTE[k % len(_PALETTE)], bars=spec.x_ticks is not None)
    for i, h in enumerate(spec.hlines):
        ax.axhline(h.y, color=_NEUTRAL, linewidth=1.0, zorder=1,
                   linestyle=_HLINE_DASHES[i % len(_HLINE_DASHES)],
                   label=_wrap(h.label, 40) if h.label else None)
    _style_line_axes(ax, spec)
    if entries and below:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2,
                   fontsize=8, frameon=False)
    elif entries:
        ax.legend(loc="best", fontsize=8, frameon=False)
    return _save(fig, path)


def plot_bars(spec: extras.Figure, path: Path) -> Path:
    """One ``bars`` figure: a group of bars per category, one bar per series, with whiskers.

    Each series keeps its colour across categories (the legend names it); a ``None`` value
    draws no bar and the category's other bars close up. The figure widens with the number
    of bars, so each stays wide enough for its value label.

    Args:
        spec: A figure of kind ``bars``.
        path: Where to write the PNG.

    Returns:
        ``path``.
    """
    cats = spec.categories
    shown = [[j for j, s in enumerate(spec.series) if s.y[i] is not None]
             for i in range(len(cats))]
    most = max(1, max(len(js) for js in shown))
    width = 0.8 / most
    entries = sum(1 for s in spec.series if s.label) + sum(1 for h in spec.hlines if h.label)
    rows = math.ceil(entries / 3)
    fig = Figure(figsize=(max(7.2, len(cats) * max(1.1, 0.3 * most) + 1.6), 4.8 + 0.25 * rows),
                 dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    fs = 8 if most < 4 else 7
    lo, hi = 0.0, 0.0
    for i, js in enumerate(shown):
        for k, j in enumerate(js):
            s, x = spec.series[j], i + (k - (len(js) - 1) / 2) * width
            y = s.y[i]
            ax.bar(x, y, width=width * 0.92, color=_PALETTE[j % len(_PALETTE)],
                   edgecolor="white", zorder=2)
            top = y
            if s.has_band and s.low[i] is not None and s.high[i] is not None:
                ax.errorbar(x, y, yerr=[[max(0.0, y - s.low[i])], [max(0.0, s.high[i] - y)]],
                            fmt="none", ecolor="black", elinewidth=1.0, capsize=2.5, zorder=3)
                top = max(y, s.high[i])
                lo = min(lo, s.low[i])
            ax.text(x, top, _bar_value(y, spec.y_percent), ha="center", va="bottom",
                    fontsize=fs, zorder=4)
            lo, hi = min(lo, y), max(hi, top)
    for i, h in enumerate(spec.hlines):
        ax.axhline(h.y, color=_NEUTRAL, linewidth=1.0, zorder=1,
                   linestyle=_HLINE_DASHES[i % len(_HLINE_DASHES)],
                   label=_wrap(h.label, 40) if h.label else None)
        lo, hi = min(lo, h.y), max(hi, h.y)
    _style_bar_axes(ax, spec, lo, hi)
    # A legend entry for every labelled series, even one with no bar in any category.
    handles = [Patch(color=_PALETTE[j % len(_PALETTE)], label=_wrap(s.label, 40))
               for j, s in enumerate(spec.series) if s.label]
    handles += ax.get_legend_handles_labels()[0]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(3, entries),
                   fontsize=8, frameon=False)
    return _save(fig, path)


def _style_bar_axes(ax, spec: extras.Figure, lo: float, hi: float) -> None:
    ax.set_title(spec.title, fontsize=11)
    ax.set_xlabel(spec.x_label, fontsize=9)
    ax.set_ylabel(spec.y_label, fontsize=9)
    ax.tick_params(labelsize=9)
    ax.set_xticks(range(len(spec.categories)))
    ax.set_xticklabels([_wrap(c) for c in spec.categories])
    ax.set_xlim(-0.5, len(spec.categories) - 0.5)
    pad = 0.12 * ((hi - lo) or 1.0)  # headroom for the value labels
    ax.set_ylim(lo - pad if lo < 0 else 0.0, hi + pad)
    if spec.y_percent:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    ax.yaxis.grid(True, alpha=0.3, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _bar_value(y: float, percent: bool) -> str:
    return f"{100 * y:.0f}%" if percent else f"{y:.3g}"


def _draw_series(ax, s: extras.Series, color: str, *, bars: bool) -> None:
    """One line with markers (so isolated points show), and its band or error bars."""
    y = _nan(s.y)
    ax.plot(s.x, y, color=color, linestyle=_LINESTYLES[s.style], linewidth=1.8, marker="o",
            markersize=3.5, label=_wrap(s.label, 40) if s.label else None, zorder=3)
    if not s.has_band:
        return
    low, high = _nan(s.low), _nan(s.high)
    if not bars:
        ax.fill_between(s.x, low, high, color=color, alpha=0.15, linewidth=0, zorder=2)
        return
    err = [[_span(v, lo) for v, lo in zip(y, low)], [_span(hi, v) for v, hi in zip(y, high)]]
    ax.errorbar(s.x, y, yerr=err, fmt="none", ecolor=color, elinewidth=1.0, capsize=3, zorder=2)


def _style_line_axes(ax, spec: extras.Figure) -> None:
    ax.set_title(spec.title, fontsize=11)
    ax.set_xlabel(spec.x_label, fontsize=9)
    ax.set_ylabel(spec.y_label, fontsize=9)
    ax.tick_params(labelsize=9)
    if spec.x_scale == "log":
        ax.set_xscale("log")
    if spec.x_ticks is not None:
        ax.set_xticks(range(len(spec.x_ticks)))
        ax.set_xticklabels([_wrap(t) for t in spec.x_ticks])
        ax.set_xlim(-0.5, len(spec.x_ticks) - 0.5)
    elif spec.x_scale == "linear" and all(float(v).is_integer() for s in spec.series for v in s.x):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers, steps: no "2.5"
    if spec.y_percent:  # decimals follow the axis range, so small rates do not all read "0%"
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    ax.grid(True, alpha=0.3, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
