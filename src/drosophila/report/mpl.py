"""What the report's plot modules share: colours, line styles, saving a figure."""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path

from matplotlib.figure import Figure

from drosophila.evals.stats import Rate
from drosophila.io import atomic_write_bytes

_PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3",
            "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD"]
_NEUTRAL = "#9E9E9E"
_LINESTYLES = {"solid": "-", "dashed": "--", "dotted": ":"}
# Reference lines are all grey and dashed; the dash pattern tells them apart in the legend.
_HLINE_DASHES = [(0, (5, 3)), (0, (10, 4)), (0, (6, 2, 1, 2)), (0, (2, 2))]
_LEGEND_INSIDE_MAX = 4  # more legend entries than this go below the axes


def _save(fig: Figure, path: Path) -> Path:
    buf = io.BytesIO()
    # No "Software" entry: the PNG bytes then depend on the data only, not on the version.
    fig.savefig(buf, format="png", metadata={"Software": None})
    return atomic_write_bytes(path, buf.getvalue())


def _span(top: float, bottom: float) -> float:
    """``top - bottom`` as an error-bar length: NaN (no bar) if either end is missing.

    Clipped at zero, so an interval that does not contain its point cannot fail the plot.
    """
    return math.nan if math.isnan(top) or math.isnan(bottom) else max(0.0, top - bottom)


def _nan(values: tuple[float | None, ...]) -> list[float]:
    """``None`` as NaN, which matplotlib leaves out: a gap in a line or band."""
    return [math.nan if v is None else v for v in values]


def _wrap(text: str, width: int = 14) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _n(rate: Rate | None) -> str:
    return "0" if rate is None else str(rate.n)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan
