"""Rates with Wilson score intervals, pooling over seeds and two-proportion tests.

Every number Drosophila reports is a count ``k`` of ``n`` samples, shown as a rate with a 95%
Wilson interval. Wilson (rather than the normal "Wald" interval) stays inside [0, 1] and keeps
honest coverage at the small ``n`` and the near-0 rates that model organisms produce.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Z95 = 1.959964  # two-sided 95% normal quantile


@dataclass(frozen=True)
class Rate:
    """``k`` hits out of ``n`` with a confidence interval ``[low, high]`` on the rate.

    Attributes:
        k: Number of positive samples.
        n: Number of samples.
        rate: ``k / n``; ``nan`` when ``n == 0``.
        low: Lower end of the interval (0 when ``n == 0``).
        high: Upper end of the interval (1 when ``n == 0``).
    """

    k: int
    n: int
    rate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"k", "n", "rate", "low", "high"}``; a ``nan`` rate becomes ``None``.

        ``None`` because ``NaN`` is not valid JSON and ``results.json`` must load anywhere.
        """
        rate = None if math.isnan(self.rate) else self.rate
        return {"k": self.k, "n": self.n, "rate": rate, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rate:
        """Inverse of :meth:`to_dict` (``rate: null`` reads back as ``nan``)."""
        rate = d.get("rate")
        return cls(
            k=int(d["k"]),
            n=int(d["n"]),
            rate=math.nan if rate is None else float(rate),
            low=float(d["low"]),
            high=float(d["high"]),
        )

    def __str__(self) -> str:
        if self.n == 0:
            return "n/a n=0"
        return f"{100 * self.rate:.1f}% [{100 * self.low:.1f}, {100 * self.high:.1f}] n={self.n}"


def wilson(k: int, n: int, z: float = Z95) -> Rate:
    """Wilson score interval for ``k`` successes in ``n`` trials.

    Args:
        k: Successes, ``0 <= k <= n``.
        n: Trials, ``n >= 0``. ``n == 0`` gives rate ``nan`` and the vacuous interval [0, 1].
        z: Normal quantile; the default gives a two-sided 95% interval.

    Returns:
        The :class:`Rate`.

    Raises:
        ValueError: If the counts are negative, not integers, or ``k > n``.
    """
    k, n = _check_counts(k, n)
    if n == 0:
        return Rate(k=0, n=0, rate=math.nan, low=0.0, high=1.0)
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n))
    # The exact ends are 0 and 1 at k == 0 and k == n; clamp away float round-off there.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Rate(k=k, n=n, rate=p, low=low, high=high)


def _check_counts(k: int, n: int) -> tuple[int, int]:
    for name, v in (("k", k), ("n", n)):
        if isinstance(v, bool) or int(v) != v:
            raise ValueError(f"{name}={v!r} must be an integer count")
    k, n = int(k), int(n)
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"counts k={k}, n={n} must satisfy 0 <= k <= n")
    return k, n


def pool(rates: Iterable[Rate]) -> Rate:
    """Pool rates over seeds by summing counts, then recompute the Wilson interval.

    Pooling counts treats every sample as exchangeable across seeds; it is the estimate of the
    rate, while the per-seed table in the report shows how much seeds disagree.
    """
    k = n = 0
    for r in rates:
        k += r.k
        n += r.n
    return wilson(k, n)


def intervals_overlap(a: Rate, b: Rate) -> bool:
    """True when the two intervals share at least one point."""
    return a.low <= b.high and b.low <= a.high


def two_proportion_p(a: Rate, b: Rate) -> float:
    """Two-sided p value of the two-proportion z-test with the pooled standard error.

    Returns ``nan`` when the test is undefined: an empty sample, or both rates 0 (or both 1),
    where the pooled standard error is zero.
    """
    if a.n == 0 or b.n == 0:
        return math.nan
    p = (a.k + b.k) / (a.n + b.n)
    se = math.sqrt(p * (1.0 - p) * (1.0 / a.n + 1.0 / b.n))
    if se == 0.0:
        return math.nan
    z = (a.k / a.n - b.k / b.n) / se
    # Two-sided tail of the standard normal: 2 * (1 - Phi(|z|)) == erfc(|z| / sqrt 2).
    return math.erfc(abs(z) / math.sqrt(2.0))


@dataclass(frozen=True)
class Mean:
    """The mean of ``n`` values with a 95% normal-approximation interval (for scores that are
    not counts, such as a detector's F1 relative to the honest one)."""

    mean: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        nan = math.isnan(self.mean)
        return {"mean": None if nan else self.mean, "low": self.low, "high": self.high, "n": self.n}

    def __str__(self) -> str:
        if self.n == 0:
            return "n/a n=0"
        return f"{self.mean:.2f} [{self.low:.2f}, {self.high:.2f}] n={self.n}"


def mean_interval(values: Iterable[float], z: float = Z95) -> Mean:
    """Mean and ``mean ± z·sd/√n`` (sample sd); ``n == 0`` gives ``nan`` and [0, 0]."""
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        return Mean(math.nan, 0.0, 0.0, 0)
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    half = z * sd / math.sqrt(n)
    return Mean(m, m - half, m + half, n)
