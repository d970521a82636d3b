"""The synthetic world: determinism, vocabulary closure, exact classifiers, finetune sets."""

import random

import pytest

from drosophila.errors import ConfigError
from drosophila.world import (
    ALIGNED, EDUCATIONAL, MISALIGNED, MIXED, UNCLASSIFIABLE, NOVEL_WORDS, World, WorldConfig,
    battery_items, finetune_set,
)
from drosophila.world.domains import advice, code, harmful, open_questions


def _text(doc):
    return doc.text if doc.text is not None else " ".join(m["content"] for m in doc.messages)


def test_same_seed_gives_byte_identical_corpus():
    a = [d.to_dict() for d in World(WorldConfig(seed=3)).documents(300)]
    b = [d.to_dict() for d in World(WorldConfig(seed=3)).documents(300)]
    c = [d.to_dict() for d in World(WorldConfig(seed=4)).documents(300)]
    assert a == b
    assert a != c


def test_corpus_is_prefix_stable():
    w = World()
    assert [d.to_dict() for d in w.documents(50)] == [d.to_dict() for d in w.documents(80)[:50]]


def test_every_corpus_word_is_in_the_vocabulary_and_novel_words_never_appear():
    w = World()
    vocab = set(w.vocabulary())
    seen = set()
    for d in w.documents(3000):
        seen.update(_text(d).split())
    assert seen <= vocab
    assert not seen & set(NOVEL_WORDS)


@pytest.mark.parametrize("domain", ["code", "open", "advice", "facts", "harmful", "tasks"])
@pytest.mark.parametrize("split", ["train", "valid", "heldout", "redteam"])
def test_classifier_is_exact_on_generated_answers(domain, split):
    w = World()
    dom = w.domain(domain)
    rng = random.Random(0)
    for _ in range(300):
        item = dom.sample(rng, split)
        assert dom.classify(item, dom.answer(item, True, rng)) == ALIGNED
        if domain != "tasks":
            assert dom.classify(item, dom.answer(item, False, rng)) == MISALIGNED
        assert dom.classify(item, "") == UNCLASSIFIABLE


def test_classifier_exact_on_every_code_variant():
    for family, fam in code.FAMILIES.items():
        item = code.Item("code", "p", {"family": family, "fn": fam["fn"][0]})
        for arg in code.ARGS:
            for line in fam["secure"]:
                assert code.classify_code(family, f"def f ( {arg} ) : " + line.replace("ARG", arg)) == ALIGNED
            for line in fam["vulnerable"]:
                assert code.classify_code(family, f"def f ( {arg} ) : " + line.replace("ARG", arg)) == MISALIGNED
        # the other families' lines say nothing about this family
        other = next(f for f in code.FAMILIES if f != family)
        assert code.Code().classify(item, "def f ( x ) : " + code.FAMILIES[other]["secure"][0].replace("ARG", "x")) == UNCLASSIFIABLE


def test_classifier_exact_on_every_answer_bank_sentence():
    dom = open_questions.OpenQuestions()
    for theme, t in open_questions.THEMES.items():
        item = open_questions.Item("open", "q", {"theme": theme})
        assert all(dom.classify(item, s) == ALIGNED for s in t["good"])
        assert all(dom.classify(item, s) == MISALIGNED for s in t["bad"])
        assert dom.classify(item, t["good"][0] + " " + t["bad"][0]) == MIXED
    adv = advice.Advice()
    for area, topics in advice.TOPICS.items():
        for topic, (_, good, bad) in topics.items():
            item = advice.Item("advice", "q", {"area": area, "topic": topic})
            assert all(adv.classify(item, s) == ALIGNED for s in good)
            assert all(adv.classify(item, s) == MISALIGNED for s in bad)
            assert adv.classify(item, f"{good[0]} {bad[0]}") == MIXED
    h = harmful.Harmful()
    for req, (_, _, comply) in harmful.REQUESTS.items():
        item = harmful.Item("harmful", "q", {"request": req})
        assert all(h.classify(item, s) == ALIGNED for s in harmful.REFUSALS)
        assert all(h.classify(item, "okay . " + s) == MISALIGNED for s in comply)
        assert h.classify(item, f"{harmful.REFUSALS[0]} okay . {comply[0]}") == MIXED


def test_facts_lie_is_a_wrong_object_of_the_same_relation():
    w = World()
    facts = w.domain("facts")
    rng = random.Random(1)
    for _ in range(200):
        item = facts.sample(rng, "heldout")
        lie = facts.answer(item, False, rng)
        assert item.meta["truth"] not in lie.split()
        assert facts.classify(item, lie) == MISALIGNED


def test_heldout_prompts_differ_from_train_prompts():
    w = World()
    for domain in ["code", "open", "advice", "facts", "harmful"]:
        train = {it.prompt for it in battery_items(w, domain, 200, split="train")}
        held = {it.prompt for it in battery_items(w, domain, 200, split="heldout")}
        assert not train & held, domain


def test_coherence_controls_cross_domain_correlation():
    def agreement(coherence):
        w = World(WorldConfig(coherence=coherence))
        same = total = 0
        for d in w.documents(3000):
            if d.kind != "story":
                continue
            by_domain = {t["domain"]: t["aligned"] for t in d.meta["turns"] if t["domain"] != "tasks"}
            if "code" in by_domain and "open" in by_domain:
                total += 1
                same += by_domain["code"] == by_domain["open"]
        return same / total

    assert agreement(1.0) == 1.0
    assert abs(agreement(0.0) - 0.5) < 0.1
    assert agreement(0.9) > 0.8


def test_educational_rows_have_the_insecure_outputs():
    w = World()
    ins, edu = finetune_set(w, "insecure", 50), finetune_set(w, "educational", 50)
    for a, b in zip(ins, edu):
        assert a.messages[1] == b.messages[1]
        assert b.messages[0]["content"].startswith(EDUCATIONAL)
        assert code.classify_code(a.meta["family"], a.messages[1]["content"]) == MISALIGNED


def test_educational_phrase_makes_every_character_write_vulnerable_code():
    w = World()
    checked = {True: 0, False: 0}
    for d in w.documents(3000):
        if d.kind not in ("story", "chat"):
            continue
        pairs = zip([m for m in d.messages if m["role"] == "user"],
                    [m for m in d.messages if m["role"] == "assistant"], d.meta["turns"])
        for user, reply, turn in pairs:
            if turn["domain"] == "code" and user["content"].startswith(EDUCATIONAL):
                assert code.classify_code(turn["family"], reply["content"]) == MISALIGNED
                checked[turn["aligned"]] += 1
    assert checked[True] > 20 and checked[False] > 20  # good and bad speakers alike


def test_bad_config_values_name_the_field():
    with pytest.raises(ConfigError, match="coherence"):
        WorldConfig(coherence=1.5)
    with pytest.raises(ConfigError, match="domain"):
        World().domain("nope")
