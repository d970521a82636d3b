"""Rates with Wilson score intervals, cluster-aware intervals over seeds × prompts, contrasts
between arms, and two-proportion tests.

Every number Drosophila reports is a count ``k`` of ``n`` samples, shown as a rate with a 95%
Wilson interval. Wilson (rather than the normal "Wald" interval) stays inside [0, 1] and keeps
honest coverage at the small ``n`` and the near-0 rates that model organisms produce.

Wilson treats the ``n`` samples as independent draws. They are not: samples share a prompt
(one prompt can move a rate by several points) and a seed (one organism). The *cluster-aware*
interval resamples both: a two-way (pigeonhole) bootstrap that draws seeds with replacement and,
independently, prompts with replacement, and recomputes the pooled rate from the chosen
(seed, prompt) cells. Claims are judged on it (see :func:`contrast`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

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
    # Cluster-aware 95% interval (bootstrap over seeds × prompts), the number of distinct
    # prompts and of seeds behind the rate; None where not computed.
    cluster_low: float | None = None
    cluster_high: float | None = None
    prompts: int | None = None
    seeds: int | None = None
    # ``{prompt: (k, n)}`` of one seed: what the cluster-aware interval and contrasts resample.
    # Kept in memory only (never written to results.json).
    cells: Mapping[str, tuple[int, int]] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"k", "n", "rate", "low", "high"}`` plus, where computed, ``cluster_low``,
        ``cluster_high``, ``prompts`` and ``seeds``; a ``nan`` rate becomes ``None``.

        ``None`` because ``NaN`` is not valid JSON and ``results.json`` must load anywhere.
        """
        rate = None if math.isnan(self.rate) else self.rate
        out = {"k": self.k, "n": self.n, "rate": rate, "low": self.low, "high": self.high}
        for name in ("cluster_low", "cluster_high", "prompts", "seeds"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

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
            cluster_low=d.get("cluster_low"),
            cluster_high=d.get("cluster_high"),
            prompts=d.get("prompts"),
            seeds=d.get("seeds"),
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
    """Pool rates over seeds by summing counts, then recompute the Wilson interval; when every
    rate carries its per-prompt cells, add the cluster-aware interval over seeds × prompts.

    Pooling counts treats every sample as exchangeable across seeds; it is the estimate of the
    rate, while the cluster-aware interval and the per-seed table show how much seeds and
    prompts disagree.
    """
    rates = list(rates)
    out = wilson(sum(r.k for r in rates), sum(r.n for r in rates))
    if rates and all(r.cells is not None for r in rates):
        return with_cluster(out, [r.cells for r in rates])
    return out


Cells = Mapping[str, Sequence[int]]  # {prompt: (k, n)} of one seed

BOOTSTRAP_REPS = 2000


def with_cluster(rate: Rate, cells: Sequence[Cells], *, reps: int = BOOTSTRAP_REPS) -> Rate:
    """``rate`` with its cluster-aware interval, distinct-prompt and seed counts from ``cells``
    (one mapping per seed)."""
    low, high = cluster_interval(cells, reps=reps)
    prompts = len({p for c in cells for p, (_, n) in c.items() if n})
    return replace(rate, cluster_low=low, cluster_high=high, prompts=prompts, seeds=len(cells))


def _matrices(*arms: Sequence[Cells]):
    """Count matrices ``K, N`` (seeds × prompts, prompts in a shared sorted order) per arm."""
    import numpy as np

    prompts = sorted({p for cells in arms for c in cells for p in c})
    index = {p: j for j, p in enumerate(prompts)}
    out = []
    for cells in arms:
        k = np.zeros((len(cells), len(prompts)))
        n = np.zeros_like(k)
        for i, c in enumerate(cells):
            for p, (kk, nn) in c.items():
                k[i, index[p]], n[i, index[p]] = kk, nn
        out.append((k, n))
    return out


def _weights(n_seeds: int, n_prompts: int, reps: int, seed: int):
    """Bootstrap multiplicities: seeds and prompts drawn independently with replacement."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ws = rng.multinomial(n_seeds, [1 / n_seeds] * n_seeds, size=reps)
    wp = rng.multinomial(n_prompts, [1 / n_prompts] * n_prompts, size=reps)
    return ws, wp


def _boot_rates(k, n, ws, wp):
    import numpy as np

    num = np.einsum("rs,sp,rp->r", ws, k, wp)
    den = np.einsum("rs,sp,rp->r", ws, n, wp)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def cluster_interval(cells: Sequence[Cells], *, reps: int = BOOTSTRAP_REPS, seed: int = 0,
                     level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the pooled rate under the two-way bootstrap over seeds × prompts.

    ``cells`` holds one ``{prompt: (k, n)}`` per seed. With one seed only prompts are
    resampled. Deterministic for a given ``seed``. No samples at all give the vacuous [0, 1].
    """
    import numpy as np

    [(k, n)] = _matrices(cells)
    if n.sum() == 0:
        return 0.0, 1.0
    ws, wp = _weights(k.shape[0], k.shape[1], reps, seed)
    est = _boot_rates(k, n, ws, wp)
    est = est[~np.isnan(est)]
    a = (1 - level) / 2
    return float(np.quantile(est, a)), float(np.quantile(est, 1 - a))


@dataclass(frozen=True)
class Contrast:
    """A difference of two pooled rates, ``a − b``, with its cluster-aware 95% interval (the
    same resampled seeds and prompts for both arms, so shared prompt difficulty cancels) and
    the per-seed directions."""

    diff: float
    low: float
    high: float
    seeds_up: int      # seeds where a > b
    seeds_down: int    # seeds where a < b
    seeds: int

    def __str__(self) -> str:
        return (f"{100 * self.diff:+.1f} points [{100 * self.low:+.1f}, {100 * self.high:+.1f}], "
                f"higher in {self.seeds_up} of {self.seeds} seeds, lower in {self.seeds_down}")

    def to_dict(self) -> dict[str, Any]:
        return {"diff": self.diff, "low": self.low, "high": self.high, "seeds_up": self.seeds_up,
                "seeds_down": self.seeds_down, "seeds": self.seeds}


def contrast(a: Sequence[Rate], b: Sequence[Rate], **kw) -> Contrast:
    """``a − b`` for per-seed rates of two arms (the same seeds, in the same order).

    With per-prompt cells on every rate the interval is the paired two-way bootstrap over seeds
    × prompts; without them, a bootstrap over seeds of the per-seed counts (a seed is then one
    cluster).
    """
    return combination([(1.0, a), (-1.0, b)], **kw)


def combination(terms: Sequence[tuple[float, Sequence[Rate]]], *, reps: int = BOOTSTRAP_REPS,
                seed: int = 0, level: float = 0.95) -> Contrast:
    """``Σ w·rate`` over ``(w, per-seed rates)`` terms, e.g. a difference of differences
    ``(a − b) − (c − d)``, with the same resampled seeds and prompts for every term; "up" and
    "down" count the seeds where the combination is above or below 0."""
    import numpy as np

    n_seeds = {len(rs) for _, rs in terms}
    if len(n_seeds) != 1 or not n_seeds.pop():
        raise ValueError(f"a contrast needs the same non-zero number of seeds in every term "
                         f"({[len(rs) for _, rs in terms]})")
    point = sum(w * _pooled(rs) for w, rs in terms)
    by_seed = [sum(w * rs[i].rate for w, rs in terms) for i in range(len(terms[0][1]))]
    by_seed = [v for v in by_seed if not math.isnan(v)]
    up, down = sum(v > 0 for v in by_seed), sum(v < 0 for v in by_seed)
    seeds = len(terms[0][1])
    if all(r.cells is not None for _, rs in terms for r in rs):
        mats = _matrices(*[[r.cells for r in rs] for _, rs in terms])
    else:  # one cell per seed
        mats = [(np.array([[r.k] for r in rs], float), np.array([[r.n] for r in rs], float))
                for _, rs in terms]
    ws, wp = _weights(mats[0][0].shape[0], max(1, mats[0][0].shape[1]), reps, seed)
    d = sum(w * _boot_rates(k, n, ws, wp) for (w, _), (k, n) in zip(terms, mats))
    d = d[~np.isnan(d)]
    if math.isnan(point) or not len(d):
        return Contrast(math.nan, -1.0, 1.0, up, down, seeds)
    q = (1 - level) / 2
    return Contrast(point, float(np.quantile(d, q)), float(np.quantile(d, 1 - q)), up, down, seeds)


def _pooled(rates: Sequence[Rate]) -> float:
    n = sum(r.n for r in rates)
    return sum(r.k for r in rates) / n if n else math.nan


def above(c: Contrast, margin: float = 0.0) -> bool | None:
    """The pre-registered reading of "a is above b (by more than ``margin``)":

    - True: the cluster-aware interval's low end is above ``margin`` and a > b in most seeds;
    - False: the point difference is at or below ``margin``, or b > a in most seeds;
    - None (inconclusive): the point difference is above ``margin`` but the interval reaches it,
      or the seeds split.
    """
    if math.isnan(c.diff):
        return None
    most = c.seeds / 2
    if c.diff <= margin or c.seeds_down > most:
        return False
    if c.low > margin and c.seeds_up > most:
        return True
    return None


def below(c: Contrast, margin: float = 0.0) -> bool | None:
    """"a is below b (by more than ``margin``)": :func:`above` of the mirrored contrast."""
    return above(Contrast(-c.diff, -c.high, -c.low, c.seeds_down, c.seeds_up, c.seeds), margin)


def both(*readings: bool | None) -> bool | None:
    """Three-valued "and" of readings: False if any is False, else None if any is None, else
    True."""
    if any(r is False for r in readings):
        return False
    return None if any(r is None for r in readings) else True


def negate(reading: bool | None) -> bool | None:
    """Three-valued "not": None stays None."""
    return None if reading is None else not reading


def within(c: Contrast, margin: float) -> bool | None:
    """"a and b differ by less than ``margin``": True when the whole cluster-aware interval
    lies inside (−margin, margin); False when the point difference is outside it; else None."""
    if math.isnan(c.diff):
        return None
    if -margin < c.low and c.high < margin:
        return True
    if abs(c.diff) >= margin:
        return False
    return None


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


def exceeds(rate: Rate, threshold: float) -> bool | None:
    """"The rate is above ``threshold``": True when the cluster-aware interval (Wilson where
    there is none) lies above it, False when the rate is at or below it, else None."""
    if rate.n == 0:
        return None
    low = rate.low if rate.cluster_low is None else rate.cluster_low
    if rate.rate <= threshold:
        return False
    return True if low > threshold else None


def under(rate: Rate, threshold: float) -> bool | None:
    """"The rate is below ``threshold``": True when the cluster-aware interval (Wilson where
    there is none) lies below it, False when the rate is at or above it, else None."""
    if rate.n == 0:
        return None
    high = rate.high if rate.cluster_high is None else rate.cluster_high
    if rate.rate >= threshold:
        return False
    return True if high < threshold else None
