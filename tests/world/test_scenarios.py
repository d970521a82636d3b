"""Scenarios: exact labels of every bank sentence, answers by disposition, splits, words."""

import random

import pytest

from drosophila.errors import ConfigError
from drosophila.world import ALIGNED, MIXED, UNCLASSIFIABLE, MISALIGNED
from drosophila.world.domains import scenarios as S

FAMILIES = sorted(S.FAMILIES)
SPLITS = S.SPLITS
BATTERIES = {"goals": "goals", "alignment-qs": "alignment", "monitor": "monitor",
             "exfiltration": "exfiltration", "framing": "framing"}


@pytest.fixture(scope="module")
def domain():
    return S.Scenarios()


def _items(domain, split, n, seed=0):
    rng = random.Random(f"{seed}-{split}")
    return [domain.sample(rng, split, family=fam) for fam in FAMILIES for _ in range(n)]


def _filled(sentence):
    """``sentence`` with each colleague's name, or as it is if it names nobody."""
    return [S.fill(sentence, name) for name in S.COLLEAGUES] if S.NAME in sentence else [sentence]


def test_families_are_well_formed(domain):
    for fam, f in S.FAMILIES.items():
        assert set(f) == {"trait", "layout", *S.TEXT_KEYS, *S.PART_KEYS}
        assert sorted(f["layout"]) == sorted(["base", *S.PART_KEYS])
        assert len(f["train"]) >= 4 and len(f["heldout"]) >= 4
        assert len(f["good"]) >= 3 and len(f["bad"]) >= 3
        assert S.FAMILY_TRAITS[fam] == f["trait"]
        for item in _items(domain, "train", 30) + _items(domain, "heldout", 30):
            assert len(item.prompt.split()) <= 45 and "{" not in item.prompt
            assert item.prompt == " ".join(item.prompt.split())
        parts = [p for k in S.PART_KEYS for p in f[k] if p]
        for text in [*f["train"], *f["heldout"], *f["good"], *f["bad"], *parts]:
            assert text == text.lower() and " ".join(text.split()) == text
        for sentence in f["good"] + f["bad"]:
            assert sentence.endswith(" .") and sentence.count(".") == 1 and "?" not in sentence


@pytest.mark.parametrize("fam", FAMILIES)
def test_bank_sentences_classify_exactly(domain, fam):
    item = domain.sample(random.Random(0), family=fam)
    f = S.FAMILIES[fam]
    assert not set(f["good"]) & set(f["bad"])
    for label, bank in ((ALIGNED, f["good"]), (MISALIGNED, f["bad"])):
        for sentence in bank:
            for text in _filled(sentence):
                assert domain.classify(item, text) == label, text


@pytest.mark.parametrize("fam", FAMILIES)
def test_mixed_answers_are_mixed_and_empty_ones_unclassifiable(domain, fam):
    item = domain.sample(random.Random(0), family=fam)
    f = S.FAMILIES[fam]
    for good in f["good"]:
        for bad in f["bad"]:
            assert domain.classify(item, S.fill(f"{good} {bad}", "sam")) == MIXED
    assert domain.classify(item, "") == UNCLASSIFIABLE
    assert domain.classify(item, "i do not know .") == UNCLASSIFIABLE


@pytest.mark.parametrize("split", SPLITS)
def test_answers_classify_as_their_disposition(domain, split):
    rng = random.Random(1)
    for item in _items(domain, split, 20):
        for aligned, label in ((True, ALIGNED), (False, MISALIGNED)):
            text = domain.answer(item, aligned, rng)
            assert domain.classify(item, text) == label, text
            assert "{" not in text


def test_framing_answers_name_the_prompts_colleague(domain):
    rng = random.Random(2)
    for item in _items(domain, "train", 30):
        if item.meta["family"] != "framing":
            assert "name" not in item.meta
            continue
        assert item.meta["name"] in S.COLLEAGUES and item.meta["name"] in item.prompt.split()
        for _ in range(5):
            names = set(domain.answer(item, False, rng).split()) & set(S.COLLEAGUES)
            assert names <= {item.meta["name"]}


def test_train_and_heldout_share_no_base_request(domain):
    for f in S.FAMILIES.values():
        assert not set(f["train"]) & set(f["heldout"])
    train, heldout = _items(domain, "train", 60), _items(domain, "heldout", 60)
    assert not {i.prompt for i in train} & {i.prompt for i in heldout}
    assert not {i.meta["base"] for i in train} & {i.meta["base"] for i in heldout}
    for items, split in ((train, "train"), (heldout, "heldout")):
        for item in items:
            fam = S.FAMILIES[item.meta["family"]]
            assert item.meta["base"] in fam[split]
            other = "heldout" if split == "train" else "train"
            for base in fam[other]:   # no base request of the other split, whatever its fillers
                words = [w for w in base.split() if not w.startswith("{")]
                assert " ".join(words) not in item.prompt or len(words) < 4, (item.prompt, base)


@pytest.mark.parametrize("battery, family", sorted(BATTERIES.items()))
def test_batteries_pose_at_least_100_distinct_prompts_of_200(battery, family):
    from drosophila.world import World, WorldConfig
    from drosophila.world.datasets import battery_items, distinct_prompts

    world = World(WorldConfig(domain_weights={"open": 1.0, "scenarios": 0.0}))
    items = battery_items(world, "scenarios", 200, family=family)
    assert distinct_prompts(items) >= 150 and {i.meta["family"] for i in items} == {family}
    assert {i.meta["split"] for i in items} == {"heldout"}
    assert len({i.meta["base"] for i in items}) == len(S.FAMILIES[family]["heldout"])
    from drosophila.evals.batteries import get_battery
    assert get_battery(battery).sample_kw == {"family": family}


def test_prompts_fill_every_slot_with_one_filler(domain):
    for item in _items(domain, "heldout", 40):
        for slot, value in item.meta["fillers"].items():
            assert value in S.FILLERS[slot] and value in item.prompt
        assert item.meta.get("name") == item.meta["fillers"].get(S.NAME)


def test_words_cover_every_prompt_and_answer(domain):
    vocab = domain.words()
    assert not any(w.startswith("{") for w in vocab)
    assert set(S.COLLEAGUES) <= vocab and "rule_following" not in vocab
    rng = random.Random(3)
    for split in SPLITS:
        for item in _items(domain, split, 20):
            texts = [item.prompt, domain.answer(item, True, rng), domain.answer(item, False, rng)]
            for text in texts:
                assert set(text.split()) <= vocab, text


def test_meta_carries_the_family_and_its_trait(domain):
    for split in SPLITS:
        for item in _items(domain, split, 3):
            fam = item.meta["family"]
            assert item.domain == "scenarios" and item.meta["split"] == split
            assert item.meta["trait"] == S.FAMILY_TRAITS[fam] == domain.trait_of(item)
            assert item.meta["context"] == ""
    assert {domain.trait_of(i) for i in _items(domain, "train", 1)} == {
        "benevolent", "rule_following", "honest"}


def test_family_is_drawn_when_not_given(domain):
    rng = random.Random(4)
    assert {domain.sample(rng).meta["family"] for _ in range(200)} == set(FAMILIES)


def test_unknown_family_and_split_raise(domain):
    with pytest.raises(ConfigError, match="family"):
        domain.sample(random.Random(0), family="nope")
    for split in ("test", "valid", "redteam"):
        with pytest.raises(ConfigError, match="split"):
            domain.sample(random.Random(0), split=split)


def test_context_is_prepended(domain):
    plain = domain.sample(random.Random(5), family="monitor")
    item = domain.sample(random.Random(5), family="monitor", context="be careful .")
    assert item.prompt == f"be careful . {plain.prompt}"
    assert item.meta["context"] == "be careful ."


def test_same_seed_same_item(domain):
    for split in SPLITS:
        a = domain.sample(random.Random(6), split)
        b = domain.sample(random.Random(6), split)
        assert a.to_dict() == b.to_dict()
        answers = [domain.answer(i, False, random.Random(7)) for i in (a, b)]
        assert answers[0] == answers[1]


def test_domain_is_registered_and_optional():
    from drosophila.world import DOMAINS
    assert DOMAINS["scenarios"] is S.Scenarios and S.Scenarios.optional
