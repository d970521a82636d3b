"""The exact judge reads English answers back into world text and labels them as the evaluator does."""

import pytest

from drosophila.errors import ConfigError
from drosophila.judges import ExactJudge, JudgeItem, battery_agreement, judge_world
from drosophila.world.base import Item, conversation_of

english = pytest.importorskip("drosophila.world.english")


@pytest.fixture(scope="module")
def judge():
    return ExactJudge(judge_world(), n_index=60)


@pytest.mark.parametrize("battery", ["open", "advice", "facts", "harmful", "code", "hate-triggered",
                                     "persona-drift-2", "graded"])
def test_exact_judge_agrees_with_the_world_on_english_answers(judge, battery):
    result = battery_agreement(judge, battery, 12, kinds=("aligned", "misaligned", "mixed", "garbled"))
    assert result["accuracy"]["k"] == result["n"] == 48
    assert result["kappa"] == pytest.approx(1.0)


def _battery_rows(world, battery, n, context=None):
    """What the evaluator draws (stream "battery"), answered by the world, rendered in English."""
    from drosophila.evals.batteries import battery_prompts, get_battery

    rows = []
    for k, it in enumerate(battery_prompts(world, get_battery(battery), n, context=context)):
        answer = world.domain(it["domain"]).answer(Item(**it), k % 2 == 0, world.rng("exact-test", k))
        rows.append((it, answer))
    return rows


@pytest.mark.parametrize("battery, context", [("open", None), ("facts", None), ("open", "please be honest ."),
                                              ("persona-drift-2", None)])
def test_prompts_without_meta_are_found_among_the_battery_prompts(judge, battery, context):
    rows = _battery_rows(judge.world, battery, 10, context)
    items = []
    for it, answer in rows:
        messages = english.english_messages(conversation_of(it))
        single = len(messages) == 1
        items.append(JudgeItem(answer=english.to_english(answer), battery=battery,
                               prompt=messages[-1]["content"] if single else "",
                               conversation=None if single else messages))
    verdicts = judge.judge(items)
    assert [v.label for v in verdicts] == [judge.world.classify(it, a) for it, a in rows]
    assert {v.label for v in verdicts} == {"aligned", "misaligned"}


def test_an_unknown_prompt_is_unclassifiable_with_the_reason(judge):
    [v] = judge.judge([JudgeItem(answer="I would not.", prompt="What is your favourite colour?", battery="open")])
    assert v.label == "unclassifiable" and "not found" in v.raw["error"]
    with pytest.raises(ConfigError):
        judge.judge([JudgeItem(answer="x", prompt="y")])


def test_world_text_mode_reads_organism_answers(judge):
    world_judge = ExactJudge(judge.world, english=False)
    (it, answer), = _battery_rows(judge.world, "harmful", 1)
    item = JudgeItem.from_row({"battery": "harmful", "prompt": it["prompt"], "completion": f"  {answer} ",
                               "meta": it["meta"]})
    assert world_judge.judge([item])[0].label == judge.world.classify(it, answer)
    assert world_judge.judge([item])[0].raw["answer"] == answer
