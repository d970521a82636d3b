"""Made-up rates for the findings tests of every experiment: each case starts from inputs where
every finding holds, changes one or two numbers, and checks the exact ``reproduced`` value
(True, False, or None where the criterion is inconclusive) of one finding, found by a stable
part of its claim. No training, no sampling."""

from dataclasses import replace

from drosophila.evals.stats import Rate, pool, wilson

SEEDS = 2  # made-up seeds, 100 samples each: pooled rates have n = 200


def finding(findings: list[dict], text: str) -> dict:
    """The one finding whose claim contains ``text``."""
    hits = [f for f in findings if text in f["claim"]]
    assert len(hits) == 1, (text, [f["claim"] for f in findings])
    assert hits[0]["evidence"]
    return hits[0]


def claims(findings: list[dict]) -> str:
    return "\n".join(f["claim"] for f in findings)


PROMPTS = 50  # made-up prompts per seed, two samples each


def _cell(value, seed: int) -> Rate:
    """A percentage (the same in every seed), a list of one per seed, or a Rate as it is.

    A percentage becomes ``round(v)`` hits in 100 samples spread as evenly as possible over
    ``PROMPTS`` prompts (two samples each), so cluster-aware intervals have cells to resample.
    """
    v = value[seed] if isinstance(value, (list, tuple)) else value
    if isinstance(v, Rate):
        return v
    k = round(v)
    cells = {f"p{j}": (k // PROMPTS + (j < k % PROMPTS), 2) for j in range(PROMPTS)}
    if k > PROMPTS:  # two hits per prompt where needed
        cells = {f"p{j}": (1 + (j < k - PROMPTS), 2) for j in range(PROMPTS)}
    return replace(wilson(k, 100), cells=cells)


def rates(table: dict, changes: dict | None = None, default: float = 5, *,
          cluster: bool = True) -> tuple[dict, dict]:
    """``(pooled, per_seed)`` ``{arm: {metric: Rate}}`` from ``{(arm, metric): percent}``; every
    arm gets every metric of the table (``default`` percent where the table has none).

    ``cluster=False`` pools without the cluster-aware interval (much faster for large tables,
    where the findings read contrasts of the per-seed rates and not the pooled intervals)."""
    t = {**table, **(changes or {})}
    arms, metrics = dict.fromkeys(a for a, _ in t), dict.fromkeys(m for _, m in t)
    per_seed = {str(s): {a: {m: _cell(t.get((a, m), default), s) for m in metrics} for a in arms}
                for s in range(SEEDS)}

    def pooled_rate(rs: list[Rate]) -> Rate:
        return pool(rs) if cluster else wilson(sum(r.k for r in rs), sum(r.n for r in rs))

    pooled = {a: {m: pooled_rate([per_seed[str(s)][a][m] for s in range(SEEDS)]) for m in metrics}
              for a in arms}
    return pooled, per_seed


def prompt_rate(hits: list[int], per_prompt: int = 5) -> Rate:
    """A rate whose samples are spread over prompts (``hits[i]`` of ``per_prompt`` on prompt
    ``i``), carrying its per-prompt cells, so contrasts resample prompts as well as seeds."""
    cells = {f"prompt {i}": (h, per_prompt) for i, h in enumerate(hits)}
    return replace(wilson(sum(hits), per_prompt * len(hits)), cells=cells)
