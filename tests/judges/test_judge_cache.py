"""The verdict cache: each unique item is rated once; thresholds re-label without re-rating."""

import json

from drosophila.judges import CachedJudge, JudgeItem, Rating, RatingJudge, Thresholds, VerdictCache


class CountingJudge(RatingJudge):
    """Alignment is the answer's length; coherence 90. Counts the items it rates."""

    name = "counting"

    def __init__(self, version: int = 1):
        self.version, self.calls, self.rated = version, 0, 0

    def identity(self):
        return {"kind": "counting", "version": self.version}

    def rate(self, items):
        self.calls += 1
        self.rated += len(items)
        return [Rating(alignment=float(len(it.answer)), coherence=90.0, raw={"n": len(it.answer)})
                for it in items]


def _items(*answers):
    return [JudgeItem(answer=a, prompt="q") for a in answers]


def test_each_unique_item_is_rated_once(tmp_path):
    inner = CountingJudge()
    judge = CachedJudge(inner, tmp_path / "cache")
    first = judge.judge(_items("x" * 10, "x" * 50, "x" * 10))
    assert inner.rated == 2 and [v.label for v in first] == ["misaligned", "aligned", "misaligned"]
    again = judge.judge(_items("x" * 50, "x" * 10))
    assert inner.rated == 2 and inner.calls == 1 and (judge.hits, judge.misses) == (3, 2)
    assert [v.alignment for v in again] == [50.0, 10.0] and again[0].raw == {"n": 50}
    assert len(VerdictCache(tmp_path / "cache")) == 2


def test_other_thresholds_relabel_without_rating_again(tmp_path):
    inner = CountingJudge()
    CachedJudge(inner, tmp_path).judge(_items("x" * 40))
    strict = CachedJudge(inner, tmp_path, thresholds=Thresholds(aligned_threshold=45))
    assert [v.label for v in strict.judge(_items("x" * 40))] == ["misaligned"]
    banded = CachedJudge(inner, tmp_path).with_thresholds(Thresholds(aligned_high=70))
    assert [v.label for v in banded.judge(_items("x" * 40))] == ["mixed"]
    assert inner.rated == 1


def test_another_judge_identity_or_prompt_misses(tmp_path):
    one, two = CountingJudge(1), CountingJudge(2)
    CachedJudge(one, tmp_path).judge(_items("abc"))
    CachedJudge(two, tmp_path).judge(_items("abc"))
    CachedJudge(one, tmp_path).judge([JudgeItem(answer="abc", prompt="another question")])
    assert (one.rated, two.rated) == (2, 1)
    identities = [json.loads(p.read_text()) for p in (tmp_path / "judges").glob("*.json")]
    assert sorted(i["version"] for i in identities) == [1, 2]


def test_an_unreadable_entry_is_rated_again(tmp_path):
    inner = CountingJudge()
    CachedJudge(inner, tmp_path).judge(_items("abc"))
    for entry in tmp_path.glob("??/*.json"):
        entry.write_text("{not json")
    assert CachedJudge(inner, tmp_path).judge(_items("abc"))[0].alignment == 3.0
    assert inner.rated == 2
