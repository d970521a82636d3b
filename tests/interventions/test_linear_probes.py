"""Linear probes (difference of means, logistic regression) and thresholds calibrated at a
target TPR or FPR."""

import pytest
import torch

from drosophila.errors import ConfigError
from drosophila.interventions import logistic_probe, mean_diff_probe, rates, threshold_at


def _separable(n=120, d=16, seed=0):
    """Two classes split by a margin along a random direction, with large nuisance variance
    elsewhere (difference of means is not enough there; a logistic probe is)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g) * 5.0
    w = torch.randn(d, generator=g)
    w = w / w.norm()
    y = torch.arange(n) % 2 == 0
    x = x - (x @ w)[:, None] * w + torch.where(y, 1.0, -1.0)[:, None] * w * (0.5 + torch.rand(n, 1, generator=g))
    return x, y


def test_logistic_probe_separates_separable_data():
    x, y = _separable()
    probe = logistic_probe(x, y, l2=1e-3)
    assert probe.method == "logistic" and probe.weight.shape == (16,)
    assert probe.auroc(x, y) == 1.0
    assert ((probe.score(x) > 0) == y).all()                        # the bias is at the boundary
    again = logistic_probe(x, y, l2=1e-3)
    assert torch.equal(again.weight, probe.weight) and again.bias == probe.bias   # deterministic


def test_logistic_probe_l2_shrinks_the_weights():
    x, y = _separable(seed=1)
    assert logistic_probe(x, y, l2=10.0).weight.norm() < logistic_probe(x, y, l2=1e-2).weight.norm()


def test_mean_diff_probe():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(200, 8, generator=g, dtype=torch.float64)
    y = torch.arange(200) < 100
    x[y] += 3.0
    probe = mean_diff_probe(x, y)
    assert torch.allclose(probe.weight, x[y].mean(0) - x[~y].mean(0))
    assert probe.auroc(x, y) > 0.99
    mid = (x[y].mean(0) + x[~y].mean(0)) / 2
    assert float(probe.score(mid[None])[0]) == pytest.approx(0.0, abs=1e-9)   # boundary at the midpoint


def test_probes_work_on_inference_tensors():
    x, y = _separable(seed=3)
    outside = logistic_probe(x, y)
    with torch.inference_mode():                                    # activations cached there
        probe = logistic_probe(x.clone(), y)
    assert torch.equal(probe.weight, outside.weight)


def test_probes_refuse_one_class():
    x, y = _separable()
    for fit in (logistic_probe, mean_diff_probe):
        with pytest.raises(ConfigError, match="both classes"):
            fit(x, torch.ones(len(x), dtype=torch.bool))
    with pytest.raises(ConfigError):
        logistic_probe(x, y[:-1])


# -- thresholds ----------------------------------------------------------------------------------
def test_threshold_at_target_tpr():
    pos = torch.arange(1, 11, dtype=torch.float64)                  # 1..10
    neg = torch.arange(0, 100, dtype=torch.float64) / 10            # 0.0..9.9
    s, y = torch.cat([pos, neg]), torch.cat([torch.ones(10), torch.zeros(100)]).bool()
    t = threshold_at(s, y, tpr=0.9)
    assert t.threshold == 2.0 and t.tpr == 0.9                      # the 9th-highest positive
    assert t.fpr == pytest.approx(0.8)                               # negatives 2.0..9.9
    assert (t.tpr, t.fpr) == rates(s, y, t.threshold)
    assert threshold_at(s, y, tpr=1.0).threshold == 1.0
    assert threshold_at(s, y, tpr=0.0).tpr == 0.0


def test_threshold_at_target_fpr():
    g = torch.Generator().manual_seed(0)
    neg = torch.randn(1000, generator=g, dtype=torch.float64)
    pos = torch.randn(200, generator=g, dtype=torch.float64) + 3.0
    s, y = torch.cat([pos, neg]), torch.cat([torch.ones(200), torch.zeros(1000)]).bool()
    t = threshold_at(s, y, fpr=0.01)
    assert t.fpr == 0.01                                             # exactly 10 of 1000 negatives
    assert t.threshold in s.tolist()                                 # an observed score
    lower = s[s < t.threshold].max()
    assert rates(s, y, float(lower))[1] > 0.01                       # the lowest threshold within budget
    assert t.tpr > 0.5
    assert threshold_at(s, y, fpr=0.0).fpr == 0.0
    assert threshold_at(s, y, fpr=1.0).tpr == 1.0


def test_threshold_with_ties_reports_what_it_achieves():
    s = [1, 1, 1, 1, 0, 0]
    y = [1, 0, 1, 0, 0, 1]
    t = threshold_at(s, y, fpr=0.25)                                 # cannot split the tie at 1
    assert t.fpr <= 0.25 and t.threshold > 0
    t = threshold_at(s, y, tpr=0.5)
    assert t.tpr >= 0.5 and t.fpr == pytest.approx(2 / 3)


def test_threshold_at_refuses_bad_requests():
    with pytest.raises(ConfigError, match="exactly one"):
        threshold_at([0, 1], [0, 1])
    with pytest.raises(ConfigError, match="exactly one"):
        threshold_at([0, 1], [0, 1], tpr=0.5, fpr=0.5)
    with pytest.raises(ConfigError, match="in \\[0, 1\\]"):
        threshold_at([0, 1], [0, 1], tpr=1.5)
    with pytest.raises(ConfigError, match="both classes"):
        threshold_at([0, 1], [1, 1], fpr=0.1)
