"""Bar charts of rates with Wilson error bars and paper anchors, and the experiment's figures.

Rates are drawn as bars (matplotlib, Agg, no pyplot): upright with up to
:data:`MAX_UPRIGHT_BARS` arms, otherwise one labelled horizontal bar per arm in a figure whose
height grows with the arm count. The experiment's own ``figures``
(:class:`drosophila.report.extras.Figure`) of kind ``lines`` are drawn as lines with bands and
reference lines, those of kind ``bars`` as grouped bars with whiskers.

Figures are built with ``matplotlib.figure.Figure`` on an Agg canvas rather than ``pyplot``:
no global backend switch, no figure registry to leak, and the same bytes on every render
(PNG metadata is stripped so files carry no version or date).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from drosophila.evals.stats import Rate
from drosophila.report.data import Metric, Report
from drosophila.report.figure_plots import plot_bars, plot_lines
from drosophila.report.formats import safe_filename
from drosophila.report.mpl import _NEUTRAL, _PALETTE, _mean, _n, _save, _wrap

_ANCHOR_MARKERS = ["D", "s", "^", "v", "P", "X"]
MAX_UPRIGHT_BARS = 12  # more arms than this are drawn as horizontal bars, one row each
_ROW_IN = 0.3  # height of one horizontal bar's row, inches


@dataclass(frozen=True)
class Bar:
    """Where one arm's bar goes: x centre, width, colour and its legend condition."""

    arm: str
    x: float
    width: float
    color: str
    condition: str | None


def render_plots(r: Report, plots_dir: Path) -> dict[str, Path]:
    """Write every plot of the report and return its path by key.

    Keys: each metric's key (``<metric>.png``), ``"headline"`` (``headline.png``) and
    ``"figure:<name>"`` for each of the experiment's figures (``<name>.png``); figures of a
    kind the report cannot draw are left out (:attr:`Report.notes` names them).
    """
    out: dict[str, Path] = {}
    for m in r.metrics:
        out[m.key] = plot_metric(r, m, plots_dir / f"{safe_filename(m.key)}.png")
    if r.metrics:
        head = r.metric(r.headline) if r.headline else r.metrics[0]
        out["headline"] = plot_metric(r, head, plots_dir / "headline.png", big=True)
    for f in r.figures:
        if f.kind == "lines":
            out[f"figure:{f.name}"] = plot_lines(f, plots_dir / f.filename)
        elif f.kind == "bars":
            out[f"figure:{f.name}"] = plot_bars(f, plots_dir / f.filename)
    return out


def layout(r: Report) -> list[Bar]:
    """Bars in arm order; with ``arm|condition`` names, grouped by arm, hue by condition."""
    arms = r.arms
    if not r.grouped:
        return [Bar(a, float(i), 0.7, _PALETTE[i % len(_PALETTE)], None)
                for i, a in enumerate(arms)]
    groups = list(dict.fromkeys(a.split("|", 1)[0] for a in arms))
    conds = list(dict.fromkeys(a.split("|", 1)[1] for a in arms if "|" in a))
    members = {g: [a for a in arms if a.split("|", 1)[0] == g] for g in groups}
    width = 0.8 / max(len(m) for m in members.values())
    bars = []
    for gi, g in enumerate(groups):
        k = len(members[g])
        for j, arm in enumerate(members[g]):
            cond = arm.split("|", 1)[1] if "|" in arm else None
            color = _NEUTRAL if cond is None else _PALETTE[conds.index(cond) % len(_PALETTE)]
            bars.append(Bar(arm, gi + (j - (k - 1) / 2) * width, width, color, cond))
    return bars


def row_layout(r: Report) -> list[Bar]:
    """Horizontal bars, one row per arm from the top (``x`` is the row's position).

    With ``arm|condition`` names, arms of one group are adjacent, a gap separates groups and
    the colour is the condition's; otherwise every bar has the same colour (the row says which
    arm it is).
    """
    arms = r.arms
    if not r.grouped:
        return [Bar(a, float(i), 0.8, _PALETTE[0], None) for i, a in enumerate(arms)]
    groups = list(dict.fromkeys(a.split("|", 1)[0] for a in arms))
    conds = list(dict.fromkeys(a.split("|", 1)[1] for a in arms if "|" in a))
    bars, y = [], 0.0
    for g in groups:
        for arm in (a for a in arms if a.split("|", 1)[0] == g):
            cond = arm.split("|", 1)[1] if "|" in arm else None
            color = _NEUTRAL if cond is None else _PALETTE[conds.index(cond) % len(_PALETTE)]
            bars.append(Bar(arm, y, 0.8, color, cond))
            y += 1.0
        y += 0.6
    return bars


def plot_metric(r: Report, metric: Metric, path: Path, *, big: bool = False) -> Path:
    """One figure: a bar per arm with its Wilson interval, paper anchors as dashed ticks.

    More than :data:`MAX_UPRIGHT_BARS` arms are drawn as horizontal bars (see
    :func:`plot_metric_rows`), so that every arm keeps a readable label.
    """
    if len(r.arms) > MAX_UPRIGHT_BARS:
        return plot_metric_rows(r, metric, path, big=big)
    bars = layout(r)
    # Width grows with the number of bars so wrapped arm labels never run into each other.
    width = max(10.0 if big else 6.4, 1.25 * len(bars) + 2.0)
    fig = Figure(figsize=(width, 6.0 if big else 4.6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    fs = 11 if big else 9
    top = 0.0
    for b in bars:
        top = max(top, _draw_bar(ax, b, r.rate(b.arm, metric.key), r.grouped, fs - 1))
    handles = _draw_anchors(ax, r, metric, bars)
    for a in handles.values():
        top = max(top, a[1])
    _style_axes(ax, r, metric, bars, fs, top)
    legend = _legend_items(r, bars) + [h for h, _ in handles.values()]
    if legend:
        ax.legend(handles=legend, fontsize=fs - 1, loc="best", frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def plot_metric_rows(r: Report, metric: Metric, path: Path, *, big: bool = False) -> Path:
    """Many arms: one horizontal bar per arm, labelled with the arm and its sample size.

    The figure's height grows with the number of arms (:data:`_ROW_IN` inches a row), so
    labels never shrink or overlap; the legend (conditions, paper anchors) sits on top.
    """
    bars = row_layout(r)
    fs = 10 if big else 9
    labels = [_wrap(r.label(b.arm), 48) + f"  (n={_n(r.rate(b.arm, metric.key))})" for b in bars]
    legend_items = _legend_items(r, bars)
    anchors: dict[str, tuple] = {}
    for b in bars:
        a = r.anchor(b.arm, metric.key)
        if a is not None and a.source not in anchors:
            marker = _ANCHOR_MARKERS[len(anchors) % len(_ANCHOR_MARKERS)]
            label = f"paper: {a.source}" if a.source else "paper"
            anchors[a.source] = Line2D([], [], color="black", ls="--", marker=marker,
                                       label=_wrap(label, 60))
    entries = len(legend_items) + len(anchors)
    span = bars[-1].x + 1.0 if bars else 1.0
    height = 1.3 + _ROW_IN * span + 0.25 * math.ceil(entries / 3)
    fig = Figure(figsize=(11.0 if big else 9.0, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    top = 0.0
    for b in bars:
        rate = r.rate(b.arm, metric.key)
        if rate is None or rate.n == 0:
            ax.text(0.005, b.x, "n/a", va="center", fontsize=fs - 1, color="0.4")
            continue
        ax.barh(b.x, rate.rate, height=b.width, color=b.color, edgecolor="white", zorder=2)
        ax.errorbar(rate.rate, b.x, xerr=[[rate.rate - rate.low], [rate.high - rate.rate]],
                    fmt="none", ecolor="black", elinewidth=1.0, capsize=3, zorder=3)
        ax.text(rate.high + 0.01, b.x, f"{100 * rate.rate:.1f}%", va="center",
                fontsize=fs - 1, zorder=4)
        top = max(top, rate.high)
    for b in bars:
        a = r.anchor(b.arm, metric.key)
        if a is None:
            continue
        ax.vlines(a.value, b.x - b.width / 2, b.x + b.width / 2, colors="black",
                  linestyles="--", linewidth=1.5, zorder=5)
        ax.plot([a.value], [b.x], marker=anchors[a.source].get_marker(), color="black",
                markersize=6, zorder=6, linestyle="none")
        top = max(top, a.value)
    _style_row_axes(ax, metric, bars, labels, fs, top)
    if entries:
        fig.legend(handles=legend_items + list(anchors.values()), loc="outside upper center",
                   ncol=min(3, entries), fontsize=fs - 1, frameon=False)
    return _save(fig, path)


def _style_row_axes(ax, metric: Metric, bars: list[Bar], labels: list[str], fs: int,
                    top: float) -> None:
    ax.set_title(metric.label, fontsize=fs + 2)
    ax.set_yticks([b.x for b in bars])
    ax.set_yticklabels(labels, fontsize=fs - 1)
    ax.set_ylim((bars[-1].x if bars else 0.0) + 0.7, -0.7)  # first arm at the top
    # Room right of the longest whisker for its value label; ticks stop at 100%.
    right = min(1.2, max(0.05, top) * 1.1 + 0.09)
    ax.set_xlim(0.0, right)
    step = next(s for s in (0.01, 0.02, 0.05, 0.1, 0.2) if right / s <= 7)
    ax.set_xticks([i * step for i in range(int(min(1.0, right) / step + 1e-9) + 1)])
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
    ax.set_xlabel("rate (% of samples, 95% CI)", fontsize=fs)
    ax.tick_params(axis="x", labelsize=fs - 1)
    ax.xaxis.grid(True, alpha=0.3, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_bar(ax, b: Bar, rate: Rate | None, grouped: bool, fs: int) -> float:
    """Draw one bar with its interval and value label; return the highest point drawn."""
    if rate is None or rate.n == 0:
        ax.text(b.x, 0.005, "n/a", ha="center", va="bottom", fontsize=fs, color="0.4")
        return 0.0
    ax.bar(b.x, rate.rate, width=b.width * 0.92, color=b.color, edgecolor="white", zorder=2)
    err = [[rate.rate - rate.low], [rate.high - rate.rate]]
    ax.errorbar(b.x, rate.rate, yerr=err, fmt="none", ecolor="black", elinewidth=1.2,
                capsize=4, zorder=3)
    text = f"{100 * rate.rate:.1f}%" + (f"\nn={rate.n}" if grouped else "")
    ax.text(b.x, rate.high + 0.01, text, ha="center", va="bottom", fontsize=fs, zorder=4)
    return rate.high


def _draw_anchors(ax, r: Report, metric: Metric, bars: list[Bar]) -> dict[str, tuple]:
    """Dashed tick + marker at each anchor; one legend handle per distinct source."""
    handles: dict[str, tuple] = {}
    for b in bars:
        a = r.anchor(b.arm, metric.key)
        if a is None:
            continue
        if a.source not in handles:
            marker = _ANCHOR_MARKERS[len(handles) % len(_ANCHOR_MARKERS)]
            label = f"paper: {a.source}" if a.source else "paper"
            handles[a.source] = (Line2D([], [], color="black", ls="--", marker=marker,
                                        label=label), a.value)
        line, hi = handles[a.source]
        handles[a.source] = (line, max(hi, a.value))
        ax.hlines(a.value, b.x - b.width / 2, b.x + b.width / 2, colors="black",
                  linestyles="--", linewidth=1.5, zorder=5)
        ax.plot([b.x], [a.value], marker=line.get_marker(), color="black", markersize=6,
                zorder=6, linestyle="none")
    return handles


def _legend_items(r: Report, bars: list[Bar]) -> list:
    if not r.grouped:
        return []
    seen: dict[str, str] = {}
    for b in bars:
        if b.condition is not None:
            seen.setdefault(b.condition, b.color)
    return [Patch(color=c, label=r.label(cond) if cond in r.results.get("arm_labels", {})
                  else cond) for cond, c in seen.items()]


def _style_axes(ax, r: Report, metric: Metric, bars: list[Bar], fs: int, top: float) -> None:
    ax.set_title(metric.label, fontsize=fs + 2)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_ylabel("rate (% of samples, 95% CI)", fontsize=fs)
    # Headroom for the value labels and the legend above the tallest interval.
    ax.set_ylim(0.0, min(1.12, max(0.05, top) * 1.25 + 0.04))
    ax.yaxis.grid(True, alpha=0.3, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if r.grouped:
        groups = list(dict.fromkeys(b.arm.split("|", 1)[0] for b in bars))
        xs = [_mean([b.x for b in bars if b.arm.split("|", 1)[0] == g]) for g in groups]
        labels = [_wrap(r.label(g)) for g in groups]
        ax.set_xlabel("arm (colour: condition)", fontsize=fs)
    else:
        xs = [b.x for b in bars]
        labels = [_wrap(r.label(b.arm)) + f"\nn={_n(r.rate(b.arm, metric.key))}" for b in bars]
        ax.set_xlabel("arm", fontsize=fs)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=fs)
    if bars:
        ax.set_xlim(min(b.x - b.width for b in bars), max(b.x + b.width for b in bars))


