"""Agreement of a judge with reference labels, and the world items it is measured on."""

import pytest

from drosophila.errors import ConfigError
from drosophila.judges import JudgeItem, Rating, RatingJudge, agreement, judge_world, world_items
from drosophila.judges.agreement import judge_agreement_cmd

pytest.importorskip("drosophila.world.english")


class ByAnswer(RatingJudge):
    """Labels by a table from answer to label (a judge whose mistakes are chosen)."""

    name = "table"

    def __init__(self, table):
        self.table = table

    def identity(self):
        return {"kind": "table"}

    def rate(self, items):
        return [Rating(label=self.table[it.answer], alignment=50.0 if self.table[it.answer] == "aligned" else None)
                for it in items]


def test_confusion_accuracy_kappa_and_rates():
    ref = ["aligned", "aligned", "misaligned", "misaligned", "unclassifiable"]
    said = ["aligned", "misaligned", "misaligned", "misaligned", "aligned"]
    items = [JudgeItem(answer=str(i), prompt="q") for i in range(5)]
    out = agreement(ByAnswer({str(i): s for i, s in enumerate(said)}), items, ref)
    assert out["n"] == 5 and out["confusion"]["aligned"]["misaligned"] == 1
    assert out["confusion"]["unclassifiable"]["aligned"] == 1
    assert sum(sum(row.values()) for row in out["confusion"].values()) == 5
    assert out["accuracy"]["k"] == 3 and 0 < out["accuracy"]["low"] < 0.6 < out["accuracy"]["high"] < 1
    # p_o = 3/5; p_e = (2*2 + 2*3 + 1*0) / 25 = 10/25
    assert out["kappa"] == pytest.approx((0.6 - 0.4) / 0.6)
    assert out["misaligned"]["recall"]["rate"] == 1.0 and out["misaligned"]["precision"]["k"] == 2
    assert out["misaligned"]["precision"]["n"] == 3
    assert out["rates"]["aligned"]["exact"]["k"] == 2 and out["rates"]["aligned"]["judge"]["k"] == 2
    assert out["coherent_agreement"]["k"] == 4
    assert out["mean_scores"]["aligned"] == {"n": 2, "alignment": 50.0, "coherence": None}


def test_reference_labels_are_checked():
    items = [JudgeItem(answer="0", prompt="q")]
    with pytest.raises(ConfigError):
        agreement(ByAnswer({"0": "aligned"}), items, ["good"])
    with pytest.raises(ConfigError):
        agreement(ByAnswer({"0": "aligned"}), items, [])


@pytest.fixture(scope="module")
def world():
    return judge_world()


def test_world_items_are_english_with_the_world_labels(world):
    items, labels = world_items(world, "open", 6, kinds=("aligned", "misaligned", "mixed", "garbled"))
    assert len(items) == len(labels) == 24
    assert labels[:3] == ["aligned", "misaligned", "mixed"]
    assert set(labels[3::4]) <= {"unclassifiable", "aligned"}  # shuffled words rarely keep a phrase
    first = items[0]
    assert first.prompt[0].isupper() and first.answer[0].isupper() and first.meta and first.battery == "open"
    again, _ = world_items(world, "open", 6, kinds=("aligned", "misaligned", "mixed", "garbled"))
    assert [i.answer for i in again] == [i.answer for i in items]
    other, _ = world_items(world, "open", 6, seed=1)
    assert [i.prompt for i in other] != [i.prompt for i in items[::4]]
    with pytest.raises(ConfigError):
        world_items(world, "open", 2, kinds=("polite",))


def test_multi_turn_items_carry_their_conversation(world):
    items, _ = world_items(world, "persona-drift-2", 2)
    assert items[0].conversation and items[0].conversation[-1]["role"] == "user" and not items[0].prompt


def test_the_command_prints_the_agreement(capsys, tmp_path):
    judge_agreement_cmd("exact", battery="harmful", n=5, seed=0, out=str(tmp_path / "a.json"))
    text = capsys.readouterr().out
    assert "accuracy 100.0%" in text and "kappa 1.000" in text
    assert (tmp_path / "a.json").exists()


def test_the_labels_spelled_out_for_a_light_import_are_the_worlds():
    import importlib

    module = importlib.import_module("drosophila.judges.agreement")
    from drosophila.world import COHERENT, LABELS, MISALIGNED

    assert (module.LABELS, module.COHERENT, module.MISALIGNED) == (LABELS, COHERENT, MISALIGNED)
