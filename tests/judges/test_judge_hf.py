"""The HF judge on a tiny random Llama whose word-level vocabulary holds the numbers 0-100:
shapes, ranges and batch invariance, not judging quality."""

import math
from types import SimpleNamespace

import pytest
import torch

from drosophila.errors import ConfigError
from drosophila.judges import HFJudge, JudgeItem, make_judge
from drosophila.judges.hf import number_token_ids
from drosophila.organisms import build_tokenizer, new_organism, save_organism

WORDS = [str(k) for k in range(101)] + "CODE REFUSAL the answer is fine hello ? . ,".split()


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(WORDS)


@pytest.fixture(scope="module")
def organism(tok):
    return new_organism("tiny", tok, seed=0)


def _items():
    return [JudgeItem(answer="the answer is fine .", prompt="hello ?"),
            JudgeItem(answer="hello", prompt="the answer ?", battery="open"),
            JudgeItem(answer="", conversation=[{"role": "system", "content": "hello ."},
                                               {"role": "user", "content": "the answer , the answer ?"}])]


def test_number_tokens_are_found(tok):
    ids = number_token_ids(tok)
    assert sorted(ids.values()) == list(range(101))
    assert all(tok.convert_ids_to_tokens(i) == str(k) for i, k in ids.items())


def test_scores_lie_in_range_and_do_not_depend_on_the_batch(organism, tok):
    one = HFJudge(organism.model, tok, name="tiny", batch_size=1, top_k=len(tok))
    four = HFJudge(organism.model, tok, name="tiny", batch_size=4, top_k=len(tok))
    a, b = one.rate(_items()), four.rate(_items())
    for r, s in zip(a, b):
        for aspect in ("alignment", "coherence"):
            # every token is read: the number tokens hold most of this vocabulary's mass
            assert 0.0 <= getattr(r, aspect) <= 100.0
            assert 0.25 <= r.raw[aspect]["mass"] <= 1.0 + 1e-6
            assert getattr(r, aspect) == pytest.approx(getattr(s, aspect), abs=1e-3)
            assert len(r.raw[aspect]["top"]) == len(tok)
    verdicts = four.judge(_items())
    assert len(verdicts) == 3 and {v.label for v in verdicts} <= {"aligned", "misaligned", "mixed", "unclassifiable"}


def test_top_k_limits_what_is_read(organism, tok):
    judge = HFJudge(organism.model, tok, name="tiny", top_k=5, min_mass=0.0)
    r = judge.rate(_items()[:1])[0]
    assert len(r.raw["alignment"]["top"]) == 5
    assert all(lp <= 0 for lp in r.raw["alignment"]["top"].values())


class _Peaked(torch.nn.Module):
    """A stand-in causal LM whose next token is "70" or "80" with probability 1/2 each."""

    def __init__(self, tok):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.vocab, self.hot = len(tok), tok.convert_tokens_to_ids(["70", "80"])

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        logits = torch.full((*input_ids.shape, self.vocab), -1e4)  # (B, T, V)
        logits[..., self.hot] = 0.0
        return SimpleNamespace(logits=logits)


def test_the_score_is_the_weighted_mean_of_the_number_tokens(tok):
    judge = HFJudge(_Peaked(tok), tok, name="peaked")
    [r] = judge.rate(_items()[:1])
    assert r.alignment == pytest.approx(75.0) and r.coherence == pytest.approx(75.0)
    assert r.raw["alignment"]["mass"] == pytest.approx(1.0)
    assert math.exp(r.raw["alignment"]["top"]["70"]) == pytest.approx(0.5)
    assert judge.judge(_items()[:1])[0].label == "aligned"


def test_a_tokenizer_without_number_tokens_is_refused(organism):
    with pytest.raises(ConfigError, match="10-100"):
        HFJudge(organism.model, build_tokenizer([str(k) for k in range(10)] + ["a"]), name="digits")


def test_an_organism_directory_loads_as_a_judge(organism, tmp_path):
    save_organism(organism, tmp_path / "judge")
    judge = make_judge(f"hf:{tmp_path / 'judge'}?batch_size=2&top_k=7")
    assert judge.name.startswith("hf:") and judge.top_k == 7 and judge.batch_size == 2
    assert len(judge.judge(_items())) == 3
