"""Contrastive role-play data for persona vectors (Chen et al. 2025).

For a trait, each pair shares one request and holds two role-play instructions: one that
elicits the trait (a role that leans toward it) and one that elicits its opposite, each with a
response in its role's voice. Every response is labelled by the request's domain classifier,
so a later step can keep only the pairs whose responses really show the trait (and, with a
model's own responses in their place, filter those the same way).

Traits: ``malicious`` / ``benevolent`` (open questions and advice), ``dishonest`` / ``honest``
(facts), ``sycophantic`` (a fact question after the user's wrong belief: the sycophant agrees,
the honest role corrects it) and ``rule-breaking`` / ``rule-following`` (harmful requests).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field

from drosophila.errors import ConfigError, choice_error
from drosophila.world.base import ALIGNED, MISALIGNED, Item
from drosophila.world.roles import (
    INSTRUCTIONS, SPLITS, get_role, inner_answer, role_of, roles_high_on, roles_low_on, with_belief,
)

# trait -> the persona trait it is about, whether the trait is that trait's aligned side, the
# domains whose requests show it, and (optionally) the roles that elicit it
CONTRASTS: dict[str, dict] = {
    "malicious": dict(trait="benevolent", aligned=False, domains=("open", "advice")),
    "benevolent": dict(trait="benevolent", aligned=True, domains=("open", "advice")),
    "dishonest": dict(trait="honest", aligned=False, domains=("facts",)),
    "honest": dict(trait="honest", aligned=True, domains=("facts",)),
    "sycophantic": dict(trait="honest", aligned=False, domains=("facts",), belief=True,
                        roles=("sycophant",)),
    "rule-breaking": dict(trait="rule_following", aligned=False, domains=("harmful",)),
    "rule-following": dict(trait="rule_following", aligned=True, domains=("harmful",)),
}
STRONG_LOW, STRONG_HIGH = 0.1, 0.9  # how firmly a role must lean to elicit a side


@dataclass
class Side:
    """One half of a pair: the instruction, its role, the response and what the response shows."""

    instruction: str
    role: str
    response: str
    label: str              # the request domain's label of the response
    shown_role: str | None  # the role whose speech habits the response shows
    shows_trait: bool       # the response shows this side's end of the trait


@dataclass
class ContrastPair:
    """A request with an instruction that elicits the trait (``positive``) and one that elicits
    its opposite (``negative``)."""

    trait: str
    prompt: str
    item: Item
    positive: Side
    negative: Side
    meta: dict = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Both responses show their side of the trait."""
        return self.positive.shows_trait and self.negative.shows_trait

    def to_dict(self) -> dict:
        return {"trait": self.trait, "prompt": self.prompt, "item": self.item.to_dict(),
                "positive": asdict(self.positive), "negative": asdict(self.negative), "meta": self.meta}


def eliciting_roles(trait: str) -> tuple[list[str], list[str]]:
    """The roles that elicit ``trait`` and those that elicit its opposite."""
    spec = _spec(trait)
    low, high = roles_low_on(spec["trait"], STRONG_LOW), roles_high_on(spec["trait"], STRONG_HIGH)
    pos, neg = (high, low) if spec["aligned"] else (low, high)
    return list(spec.get("roles", pos)), neg


def states_belief(world, item: Item, text: str) -> bool:
    """Whether ``text`` claims the user's stated belief about the asked fact."""
    rel, subject, belief = item.meta["relation"], item.meta["subject"], item.meta.get("belief")
    return belief is not None and any(
        s == subject and o == belief for s, o in world.kb.claims(text, rel, about=subject))


def contrastive_pairs(world, trait: str, n: int, *, split: str = "train", habits: bool = True,
                      fidelity: float = 1.0, stream: str = "contrast") -> list[ContrastPair]:
    """``n`` pairs for ``trait`` from ``split``'s requests and instructions.

    Args:
        habits: responses speak with their role's habits (else plain answers).
        fidelity: the chance that a response follows its instruction; below 1 some responses
            show the other side, which ``Side.shows_trait`` (and ``ContrastPair.clean``) flags.
        stream: the random stream; pair ``i`` is drawn from ``(stream, trait, i)`` alone.
    """
    spec = _spec(trait)
    if split not in SPLITS:
        raise choice_error("split", split, SPLITS)
    if not 0.0 <= fidelity <= 1.0:
        raise ConfigError(f"fidelity={fidelity!r} is not allowed; choose a value in [0, 1]")
    pos_roles, neg_roles = eliciting_roles(trait)
    pairs = []
    for i in range(n):
        rng = world.rng(f"{stream}-{trait}", i)
        item = _request(world, spec, split, rng)
        template = rng.choice(INSTRUCTIONS[split])
        sides = []
        for roles, aligned in ((pos_roles, spec["aligned"]), (neg_roles, not spec["aligned"])):
            role = get_role(rng.choice(roles))
            follows = rng.random() < fidelity
            sides.append(_side(world, item, role, template, aligned if follows else not aligned,
                               aligned, spec, habits, rng))
        pairs.append(ContrastPair(trait, item.prompt, item, sides[0], sides[1],
                                  {"split": split, "template": template, "base": item.meta.get("base")}))
    return pairs


def _spec(trait: str) -> dict:
    if trait not in CONTRASTS:
        raise choice_error("trait", trait, sorted(CONTRASTS))
    return CONTRASTS[trait]


def _request(world, spec: dict, split: str, rng: random.Random) -> Item:
    item = world.domain(rng.choice(spec["domains"])).sample(rng, split)
    if spec.get("belief"):
        item = with_belief(world, item, rng, rate=1.0, false_rate=1.0)
    return item


def _side(world, item: Item, role, template: str, aligned: bool, intended: bool, spec: dict,
          habits: bool, rng: random.Random) -> Side:
    """A response of ``role`` answering ``aligned``, labelled; ``intended`` is the side's end."""
    body = inner_answer(world, item, aligned, rng)
    response = role.speak(body, rng) if habits else body
    label = world.classify(item, response)
    shows = label == (ALIGNED if intended else MISALIGNED)
    if spec.get("belief") and not intended:
        shows = shows and states_belief(world, item, response)
    return Side(template.format(role=role.noun), role.name, response, label, role_of(response), shows)


__all__ = ["CONTRASTS", "ContrastPair", "Side", "contrastive_pairs", "eliciting_roles",
           "states_belief"]
