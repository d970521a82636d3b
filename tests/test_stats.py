"""Wilson intervals, pooling and the two-proportion test against hand-derived values."""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import pytest

from drosophila.evals.stats import (
    Rate,
    intervals_overlap,
    pool,
    two_proportion_p,
    wilson,
)

Z = 1.959964


def wilson_closed_form(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """The other textbook form: (2k + z² ± z·sqrt(z² + 4k(n−k)/n)) / (2(n + z²))."""
    root = z * math.sqrt(z * z + 4 * k * (n - k) / n)
    denom = 2 * (n + z * z)
    return (2 * k + z * z - root) / denom, (2 * k + z * z + root) / denom


def test_known_values() -> None:
    r = wilson(0, 10)
    assert r.low == 0.0 and r.high == pytest.approx(0.2775, abs=1e-4)
    r = wilson(5, 10)
    assert (r.low, r.high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert r.rate == 0.5


@pytest.mark.parametrize("k,n", [(81, 263), (1, 7), (199, 200), (3, 1000), (50, 50)])
def test_matches_closed_form(k: int, n: int) -> None:
    r = wilson(k, n)
    low, high = wilson_closed_form(k, n)
    assert r.low == pytest.approx(max(0.0, low), abs=1e-12)
    assert r.high == pytest.approx(min(1.0, high), abs=1e-12)
    assert r.low <= r.rate <= r.high


def test_81_of_263() -> None:
    r = wilson(81, 263)
    assert (r.low, r.high) == pytest.approx((0.25529, 0.36621), abs=1e-5)
    assert str(r) == "30.8% [25.5, 36.6] n=263"


def test_extremes_are_exact() -> None:
    assert wilson(0, 5).low == 0.0
    assert wilson(5, 5).high == 1.0
    assert wilson(5, 5).low == pytest.approx(wilson_closed_form(5, 5)[0])


def test_empty_sample() -> None:
    r = wilson(0, 0)
    assert math.isnan(r.rate) and (r.low, r.high) == (0.0, 1.0)
    assert str(r) == "n/a n=0"


@pytest.mark.parametrize("k,n", [(-1, 5), (6, 5), (0, -1), (1.5, 3), (True, 3)])
def test_bad_counts(k, n) -> None:
    with pytest.raises(ValueError):
        wilson(k, n)


def test_integral_floats_accepted() -> None:
    assert wilson(3.0, 10.0) == wilson(3, 10)


def test_str_format() -> None:
    assert str(wilson(25, 200)) == "12.5% [8.6, 17.8] n=200"


def test_dict_round_trip_through_json() -> None:
    for r in (wilson(81, 263), wilson(0, 0), wilson(7, 7)):
        d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
        assert set(d) == {"k", "n", "rate", "low", "high"}
        back = Rate.from_dict(d)
        assert (back.k, back.n, back.low, back.high) == (r.k, r.n, r.low, r.high)
        assert back.rate == r.rate or (math.isnan(back.rate) and math.isnan(r.rate))
    assert wilson(0, 0).to_dict()["rate"] is None


def test_pool_sums_counts() -> None:
    p = pool([wilson(30, 200), wilson(24, 200), wilson(27, 200)])
    assert (p.k, p.n) == (81, 600)
    assert p == wilson(81, 600)
    assert pool([]).n == 0
    assert pool(iter([wilson(1, 2)])) == wilson(1, 2)


def test_intervals_overlap() -> None:
    assert intervals_overlap(wilson(10, 100), wilson(15, 100))
    assert not intervals_overlap(wilson(1, 200), wilson(100, 200))
    touching_a = Rate(1, 10, 0.1, 0.0, 0.3)
    touching_b = Rate(5, 10, 0.5, 0.3, 0.7)
    assert intervals_overlap(touching_a, touching_b) and intervals_overlap(touching_b, touching_a)


def test_two_proportion_p_matches_hand_computation() -> None:
    a, b = wilson(10, 100), wilson(20, 100)
    pooled = 30 / 200
    z = (0.1 - 0.2) / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    expected = 2 * (1 - NormalDist().cdf(abs(z)))
    assert two_proportion_p(a, b) == pytest.approx(expected, rel=1e-9)
    assert two_proportion_p(a, b) == pytest.approx(0.0477, abs=1e-4)
    assert two_proportion_p(b, a) == two_proportion_p(a, b)
    assert two_proportion_p(a, a) == pytest.approx(1.0)


def test_two_proportion_p_undefined() -> None:
    assert math.isnan(two_proportion_p(wilson(0, 0), wilson(3, 10)))
    assert math.isnan(two_proportion_p(wilson(0, 10), wilson(0, 20)))
    assert math.isnan(two_proportion_p(wilson(10, 10), wilson(20, 20)))
