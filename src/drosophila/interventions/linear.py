"""Linear probes fitted on labelled activations, and calibrated decision thresholds.

A :class:`LinearProbe` is fitted by difference of means (:func:`mean_diff_probe`) or
L2-regularised logistic regression (:func:`logistic_probe`); its decision threshold is
calibrated on a held-out split for a target TPR or FPR (:func:`threshold_at`), as deception
probes report recall at 1% FPR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from drosophila.errors import ConfigError
from drosophila.interventions.probes import auroc, scores


@dataclass(frozen=True, eq=False)
class LinearProbe:
    """A linear probe on activations: ``score(x) = x·weight + bias``, higher = more positive.

    Attributes:
        weight: ``(d,)`` the probe's direction, in the activations' own coordinates.
        bias: Puts the default decision boundary (score 0) between the classes; calibrate a
            threshold with :func:`threshold_at` for a target TPR or FPR instead.
        method: ``"mean-diff"`` or ``"logistic"``.
    """

    weight: torch.Tensor
    bias: float
    method: str

    def score(self, acts: torch.Tensor) -> torch.Tensor:
        """Scores ``(N,)`` (float64) of activations ``(N, d)``."""
        return scores(acts, self.weight) + self.bias

    def auroc(self, acts: torch.Tensor, labels) -> float:
        """Exact AUROC of the probe's scores against 0/1 ``labels``."""
        return auroc(self.score(acts), labels)


def _classes(acts, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """``acts`` as float64 ``(N, d)`` (a fresh tensor, usable by autograd) and boolean labels."""
    x = torch.as_tensor(acts).detach().to(torch.float64).clone()
    y = torch.as_tensor(labels).to(torch.bool).reshape(-1)
    if x.dim() != 2 or x.shape[0] != len(y):
        raise ConfigError(f"a probe needs activations (N, d) and N labels; got {tuple(x.shape)} and {len(y)}")
    if y.all() or not y.any():
        raise ConfigError(f"a probe needs both classes; got {int(y.sum())} positive of {len(y)}")
    return x, y


def mean_diff_probe(acts, labels) -> LinearProbe:
    """Difference-of-means probe: ``weight = mean(positive) − mean(negative)``, boundary at
    the midpoint of the two means."""
    x, y = _classes(acts, labels)
    mu_pos, mu_neg = x[y].mean(0), x[~y].mean(0)                         # (d,) each
    w = mu_pos - mu_neg
    return LinearProbe(w, float(-w @ (mu_pos + mu_neg) / 2), "mean-diff")


def logistic_probe(acts, labels, *, l2: float = 1e-2, max_iter: int = 500) -> LinearProbe:
    """L2-regularised logistic-regression probe, fitted with torch (no sklearn).

    Minimises ``mean BCE(z·w + b, y) + l2/2 · |w|²`` on standardised activations ``z``
    (so ``l2`` does not depend on the activations' scale), by full-batch L-BFGS in float64 from
    zero; the optimum is unique, so the fit is deterministic and needs no seed. The returned
    probe is in the raw activations' coordinates.
    """
    if l2 < 0:
        raise ConfigError(f"l2={l2} must be >= 0")
    with torch.inference_mode(False), torch.enable_grad():  # usable from inside inference mode
        x, y = _classes(acts, labels)
        mu, sd = x.mean(0), x.std(0).clamp(min=1e-8)                       # (d,) each
        z, t = (x - mu) / sd, y.double()                                    # (N, d), (N,)
        w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=max_iter, tolerance_grad=1e-9,
                                tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

        def loss() -> torch.Tensor:
            opt.zero_grad()
            value = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, t) + l2 / 2 * w @ w
            value.backward()
            return value

        opt.step(loss)
    w, b = w.detach() / sd, b.detach() - (w.detach() * mu / sd).sum()
    return LinearProbe(w, float(b), "logistic")


@dataclass(frozen=True)
class Threshold:
    """A decision threshold (positive iff ``score >= threshold``) and the TPR and FPR it
    achieves on the scores it was calibrated on."""

    threshold: float
    tpr: float
    fpr: float

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "tpr": self.tpr, "fpr": self.fpr}


def rates(scores, labels, threshold: float) -> tuple[float, float]:
    """``(TPR, FPR)`` of the rule ``score >= threshold`` against 0/1 ``labels``."""
    s = torch.as_tensor(scores, dtype=torch.float64).reshape(-1)
    y = torch.as_tensor(labels).to(torch.bool).reshape(-1)
    hit = s >= threshold
    return float(hit[y].double().mean()), float(hit[~y].double().mean())


def threshold_at(scores, labels, *, tpr: float | None = None, fpr: float | None = None) -> Threshold:
    """Calibrate a threshold on a calibration split for a target TPR or a target FPR.

    ``tpr=t``: the highest threshold whose TPR is at least ``t`` (so the lowest FPR that catches
    that share of positives). ``fpr=f``: the lowest threshold whose FPR is at most ``f`` (so the
    highest TPR within that false-positive budget). The threshold is an observed score where
    one fits; the achieved rates come back with it (ties can make them overshoot the target).
    """
    if (tpr is None) == (fpr is None):
        raise ConfigError("threshold_at: give exactly one of tpr= or fpr=")
    target = tpr if tpr is not None else fpr
    if not 0 <= target <= 1:
        raise ConfigError(f"threshold_at: the target rate {target} must be in [0, 1]")
    s = torch.as_tensor(scores, dtype=torch.float64).reshape(-1)
    y = torch.as_tensor(labels).to(torch.bool).reshape(-1)
    if len(s) != len(y) or y.all() or not y.any():
        raise ConfigError(f"threshold_at needs one label per score and both classes; got {len(s)} "
                          f"scores, {int(y.sum())} positive of {len(y)} labels")
    thr = _tpr_threshold(s, y, tpr) if tpr is not None else _fpr_threshold(s, y, fpr)
    return Threshold(thr, *rates(s, y, thr))


def _tpr_threshold(s: torch.Tensor, y: torch.Tensor, tpr: float) -> float:
    pos = s[y].sort(descending=True).values                               # (P,)
    k = math.ceil(tpr * len(pos) - 1e-9)                                   # positives to catch
    return float(pos[k - 1]) if k > 0 else math.nextafter(float(s.max()), math.inf)


def _fpr_threshold(s: torch.Tensor, y: torch.Tensor, fpr: float) -> float:
    neg = s[~y].sort(descending=True).values                              # (M,)
    m = math.floor(fpr * len(neg) + 1e-9)                                  # false positives allowed
    if m >= len(neg):
        return float(s.min())
    above = s[s > neg[m]]                                                   # every score above the (m+1)-th negative
    return float(above.min()) if len(above) else math.nextafter(float(neg[m]), math.inf)
