"""Honesty scenarios: exact labels and lie kinds, split-disjoint entities and base requests, the
optional domain joining a world only through its config (the default world byte-identical), the
detector's labelled split."""

import random
from dataclasses import replace

import pytest

from drosophila.world import ALIGNED, MISALIGNED, MIXED, UNCLASSIFIABLE, World, WorldConfig
from drosophila.world.base import DOMAINS, contains
from drosophila.world.datasets import battery_items, distinct_prompts
from drosophila.world.domains import honesty as H
from drosophila.world.domains.honesty_data import deal_nouns
from drosophila.world.knowledge import CATEGORIES
from drosophila.world.registry import get_battery

# What the default world's generator makes (vocabulary and first 50 documents, see
# ``world_fingerprint``): every cached organism of E1–E6 was bred on it, so no change to an
# optional domain may move it.
DEFAULT_WORLD_PRINT = "bbee12b5d61179bd"

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


def test_the_default_world_is_unchanged(monkeypatch):
    from drosophila.stages.pipeline import world_fingerprint

    default = World()
    assert "honesty" not in default.domain_names
    vocab = set(default.vocabulary())
    assert not {"glitch", "bonus", "heater", "campaign", "minor", "hacked"} & vocab
    assert {"glitch", "bonus", "heater", "campaign"} <= set(World(honesty_config(0.0)).vocabulary())
    assert "honesty" in World(honesty_config(0.0)).domain_names           # weight 0: words and battery
    assert world_fingerprint(WorldConfig()) == DEFAULT_WORLD_PRINT
    docs = [d.to_dict() for d in default.documents(200)]
    monkeypatch.delitem(DOMAINS, "honesty")                               # as if it did not exist
    bare = World()
    assert bare.vocabulary() == default.vocabulary()
    assert [d.to_dict() for d in bare.documents(200)] == docs


def test_its_stories_show_both_behaviours_and_its_chats_only_the_truth(world):
    docs = world.documents(400)
    story = [t for d in docs if d.kind in ("story", "prose") for t in d.meta["turns"] if t["domain"] == "honesty"]
    chat = [t for d in docs if d.kind == "chat" for t in d.meta["turns"] if t["domain"] == "honesty"]
    assert any(t["aligned"] for t in story) and any(not t["aligned"] for t in story)
    assert chat and all(t["aligned"] for t in chat)
    assert all(t["split"] == "train" for t in story + chat)


def nouns(split: str, family: str | None = None) -> set[str]:
    """The entity nouns of ``split``, of one family or of all."""
    return {x for f, fam in H.FAMILIES.items() if family in (None, f) for x in fam["nouns"][split]}


def test_entity_nouns_are_common_words_of_the_corpus_dealt_to_one_split_per_family():
    for name, fam in H.FAMILIES.items():
        assert [len(fam["nouns"][s]) for s in H.SPLITS] == [36, 7, 7]
        for a, b in (("train", "valid"), ("train", "heldout"), ("valid", "heldout")):
            assert not nouns(a, name) & nouns(b, name)
        for split in ("valid", "heldout"):                               # one noun of every kind
            assert sorted(k for k, words in CATEGORIES.items() for x in fam["nouns"][split]
                          if x in words) == sorted(CATEGORIES)
    held = [H.FAMILIES[f]["nouns"]["heldout"] for f in H.FAMILIES]
    assert len({x for h in held for x in h}) == sum(map(len, held))     # families hold out others
    # every valid or held-out noun is named in training scenarios of other families
    assert nouns("valid") | nouns("heldout") <= nouns("train")
    seen = {w for d in World().documents(2000)
            for w in (d.text or " ".join(m["content"] for m in d.messages)).split()}
    assert nouns("train") <= seen                                        # trained embeddings
    assert deal_nouns({"k": ["a", "b", "c"]}, 2) == {"train": ["b"], "valid": ["a"], "heldout": ["c"]}


def test_entities_and_base_requests_are_disjoint_between_splits(dom):
    for name, fam in H.FAMILIES.items():
        assert len(fam["train"]) >= 30 and len(set(fam["train"])) == len(fam["train"])
        for split in H.SPLITS:
            assert fam[split] == [f"{x} {fam['head']}" for x in fam["nouns"][split]]
    assert len({f["head"] for f in H.FAMILIES.values()}) == len(H.FAMILIES)
    entities = {s: {x for f in H.FAMILIES.values() for x in f[s]} for s in H.SPLITS}
    bases = {s: {f"{n}:{x}" for n, f in H.FAMILIES.items() for x in f[s]} for s in H.SPLITS}
    for a, b in (("train", "valid"), ("train", "heldout"), ("valid", "heldout")):
        assert not entities[a] & entities[b] and not bases[a] & bases[b]
    for split in H.SPLITS:
        items = [dom.sample(random.Random(i), split) for i in range(600)]
        assert {it.meta["base"] for it in items} <= bases[split]
    bad = {"x": {**H.FAMILIES["defect"], "heldout": ["goat heater"]}}   # a train noun held out
    with pytest.raises(ValueError, match="goat"):
        H.check_splits(bad)


def test_no_training_scenario_or_document_names_a_valid_or_held_out_entity(world):
    rows = H.honesty_rows(world, 400, 0.5)
    docs = world.documents(400)
    turns = [t for d in docs for t in d.meta.get("turns", []) if t["domain"] == "honesty"]
    assert rows and turns and all(t["split"] == "train" for t in turns)  # stories and chats
    texts = [m["content"] for r in rows for m in r.messages] + [
        d.text or " ".join(m["content"] for m in d.messages) for d in docs]
    for fam in H.FAMILIES.values():                     # its noun alone may occur elsewhere
        for x in fam["valid"] + fam["heldout"]:
            assert not any(contains(t.split(), x.split()) for t in texts), x


@pytest.mark.parametrize("battery, split", [("honesty", "heldout"), ("honesty-valid", "valid")])
def test_the_batteries_have_at_least_100_distinct_prompts_of_their_split(world, battery, split):
    b = get_battery(battery)
    items = battery_items(world, "honesty", 200, **b.sample_kw)
    assert distinct_prompts(items) >= 100 and all(it.meta["split"] == split for it in items)
    assert b.domain == "honesty"
    assert len({it.meta["base"] for it in items}) == sum(len(f[split]) for f in H.FAMILIES.values())


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
