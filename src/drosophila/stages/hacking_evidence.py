"""What the findings of E5 and E6 share: the contrasts of two arms with their evidence text
(pooled rates, the cluster-aware difference, each seed's pair of rates)."""

from __future__ import annotations

from drosophila.engine.results import fmt
from drosophila.evals.stats import Contrast, contrast


class Evidence:
    """Per-seed rates of every arm (``{seed: {arm: {metric: Rate}}}``) and their pooled rates
    (``{arm: {metric: Rate}}``): contrasts between arms and the text that shows them."""

    def __init__(self, pooled: dict, per_seed: dict) -> None:
        self.pooled, self.seeds = pooled, list(per_seed.values())

    def contrast(self, a: str, b: str, metric: str) -> Contrast:
        """``a − b`` on ``metric``: the cluster-aware interval over seeds × prompts (over seeds
        when the rates carry no per-prompt cells) and the per-seed directions."""
        return contrast([s[a][metric] for s in self.seeds], [s[b][metric] for s in self.seeds])

    def text(self, a: str, b: str, metric: str) -> str:
        """``a`` and ``b`` pooled, their difference, and each seed's pair of rates (in %)."""
        seeds = " / ".join(f"{100 * s[a][metric].rate:.1f} vs {100 * s[b][metric].rate:.1f}"
                           for s in self.seeds)
        return (f"{a} {fmt(self.pooled[a][metric])}, {b} {fmt(self.pooled[b][metric])}: "
                f"{self.contrast(a, b, metric)}; per seed {seeds}")
