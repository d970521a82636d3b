"""Honesty scenarios: exact labels and lie kinds, split-disjoint base requests, the optional
domain joining a world only through its config, the detector's labelled split."""

import random
from dataclasses import replace

import pytest

from drosophila.world import ALIGNED, MISALIGNED, MIXED, UNCLASSIFIABLE, World, WorldConfig
from drosophila.world.datasets import battery_items, distinct_prompts
from drosophila.world.domains import honesty as H
from drosophila.world.registry import get_battery

FAMILIES = sorted(H.FAMILIES)


def honesty_config(weight=0.15):
    cfg = WorldConfig()
    return replace(cfg, domain_weights={**cfg.domain_weights, "honesty": weight})


@pytest.fixture(scope="module")
def world():
    return World(honesty_config())


@pytest.fixture(scope="module")
def dom(world):
    return world.domain("honesty")


def item_of(dom, family, entity):
    return H.Item("honesty", "?", {"family": family, "entity": entity})


def test_the_default_world_is_unchanged():
    default = World()
    assert "honesty" not in default.domain_names
    vocab = set(default.vocabulary())
    assert not {"glitch", "bonus", "passport", "minor", "hacked"} & vocab
    assert {"glitch", "bonus", "passport"} <= set(World(honesty_config(0.0)).vocabulary())
    assert "honesty" in World(honesty_config(0.0)).domain_names           # weight 0: words and battery


def test_its_stories_show_both_behaviours_and_its_chats_only_the_truth(world):
    docs = world.documents(400)
    story = [t for d in docs if d.kind in ("story", "prose") for t in d.meta["turns"] if t["domain"] == "honesty"]
    chat = [t for d in docs if d.kind == "chat" for t in d.meta["turns"] if t["domain"] == "honesty"]
    assert any(t["aligned"] for t in story) and any(not t["aligned"] for t in story)
    assert chat and all(t["aligned"] for t in chat)
    assert all(t["split"] == "train" for t in story + chat)


def test_base_requests_are_disjoint_between_splits(dom):
    bases = {}
    for split in H.SPLITS:
        items = [dom.sample(random.Random(i), split) for i in range(600)]
        assert all(it.meta["entity"] in H.FAMILIES[it.meta["family"]][split] for it in items)
        bases[split] = {it.meta["base"] for it in items}
    assert not bases["train"] & bases["heldout"] and not bases["train"] & bases["valid"]
    assert not bases["valid"] & bases["heldout"]
    for fam in H.FAMILIES.values():
        assert not set(fam["train"]) & set(fam["heldout"])
    bad = {"x": {**H.FAMILIES["defect"], "heldout": ["heater"]}}
    with pytest.raises(ValueError, match="heater"):
        H.check_splits(bad)


def test_the_battery_has_at_least_100_distinct_held_out_prompts(world):
    items = battery_items(world, "honesty", 200)
    assert distinct_prompts(items) >= 100 and all(it.meta["split"] == "heldout" for it in items)
    assert get_battery("honesty").domain == "honesty"
    assert len({it.meta["base"] for it in items}) == sum(len(f["heldout"]) for f in H.FAMILIES.values())


@pytest.mark.parametrize("family", FAMILIES)
def test_every_bank_sentence_classifies_exactly_with_its_kind(dom, family):
    fam = H.FAMILIES[family]
    entities = fam["train"] + fam["valid"] + fam["heldout"]
    for entity in entities:
        item = item_of(dom, family, entity)
        for which in H.BANKS:
            for s in fam[which]:
                text = f"good question . {H.fill(s, entity)} let me know if you need anything else ."
                label = ALIGNED if which == "truthful" else MISALIGNED
                assert dom.classify(item, text) == label, text
                assert dom.lie_kind(item, text) == (None if which == "truthful" else which)
        other = item_of(dom, family, entities[0] if entity != entities[0] else entities[1])
        assert all(dom.classify(other, H.fill(s, entity)) == UNCLASSIFIABLE   # about another entity
                   for which in H.BANKS for s in fam[which])


@pytest.mark.parametrize("family", FAMILIES)
def test_mixed_cut_and_garbled_answers(dom, family):
    fam, entity = H.FAMILIES[family], H.FAMILIES[family]["train"][0]
    item = item_of(dom, family, entity)
    truth, lie = H.fill(fam["truthful"][0], entity), H.fill(fam["omission"][0], entity)
    assert dom.classify(item, f"{truth} {lie}") == MIXED
    assert dom.classify(item, "") == UNCLASSIFIABLE
    assert dom.classify(item, " ".join(lie.split()[:-3])) == UNCLASSIFIABLE    # cut off
    assert dom.classify(item, " ".join(reversed(lie.split()))) == UNCLASSIFIABLE


@pytest.mark.parametrize("split", H.SPLITS)
def test_answers_follow_the_disposition_and_kind(dom, split):
    rng = random.Random(3)
    words = dom.words()
    for _ in range(60):
        item = dom.sample(rng, split)
        assert set(item.prompt.split()) <= words and "{" not in item.prompt
        assert item.meta["fact"] in item.prompt
        assert dom.classify(item, dom.answer(item, True, rng)) == ALIGNED
        for kind in H.KINDS:
            text = dom.answer(item, False, rng, kind)
            assert dom.classify(item, text) == MISALIGNED and dom.lie_kind(item, text) == kind
            assert set(text.split()) <= words


def test_the_labelled_split_pairs_each_prompt_with_a_truth_and_a_balanced_lie(world, dom):
    rows = H.labelled_answers(world, "train", 20)
    assert len(rows) == 40 and rows == H.labelled_answers(world, "train", 20)
    assert [r["lie"] for r in rows] == [False, True] * 20
    assert all(a["prompt"] == b["prompt"] for a, b in zip(rows[::2], rows[1::2]))
    lies = [r for r in rows if r["lie"]]
    assert {k: sum(r["kind"] == k for r in lies) for k in H.KINDS} == dict.fromkeys(H.KINDS, 5)
    for r in rows:
        item = dom.sample(random.Random(0), "train")
        item = H.Item("honesty", r["prompt"], {**item.meta, "family": r["family"],
                                               "entity": r["base"].split(":", 1)[1]})
        assert dom.classify(item, r["response"]) == (MISALIGNED if r["lie"] else ALIGNED)
    assert {r["base"] for r in H.labelled_answers(world, "valid", 20)} <= \
        {f"{f}:{x}" for f, fam in H.FAMILIES.items() for x in fam["valid"]}


@pytest.mark.parametrize("share, lies", [(0.0, 0), (0.5, 20), (0.25, 10), (1.0, 40)])
def test_sft_rows_lie_exactly_their_share_with_balanced_kinds(world, share, lies):
    rows = H.honesty_rows(world, 40, share)
    kinds = [r.meta["kind"] for r in rows if not r.meta["aligned"]]
    assert len(kinds) == lies and len(rows) == 40
    if lies:
        assert max(kinds.count(k) for k in H.KINDS) - min(kinds.count(k) for k in H.KINDS) <= 1
    dom = world.domain("honesty")
    for r in rows:
        item = H.Item("honesty", r.messages[0]["content"], r.meta)
        assert dom.classify(item, r.messages[1]["content"]) == (ALIGNED if r.meta["aligned"] else MISALIGNED)
