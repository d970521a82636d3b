"""Number and name formats shared by every rendering: percentages, rates, durations, file names."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from drosophila.evals.stats import Rate

MISSING = "—"


def fmt_pct(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return MISSING
    return f"{100 * x:.1f}%"


def fmt_rate(rate: Rate | None) -> str:
    """``"12.5% [8.1, 18.7] n=200"``, or a dash for a missing cell."""
    return MISSING if rate is None else str(rate)


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return MISSING
    s = float(s)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def fmt_value(v: Any) -> str:
    """A scalar as text; nested values as compact JSON."""
    if v is None:
        return MISSING
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, separators=(", ", ": "))
    return str(v)


def safe_filename(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "metric"
