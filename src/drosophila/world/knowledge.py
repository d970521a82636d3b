"""A generated knowledge base of countries (capital, language, export) and texts stating it."""

from __future__ import annotations

import random
from dataclasses import dataclass

ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"]
VOWELS = ["a", "e", "i", "o", "u"]
CODAS = ["", "n", "r", "l", "s"]
GOODS = ["wool", "salt", "iron", "tea", "glass", "rice", "silk", "copper", "wine", "cotton",
         "timber", "spices"]

STATEMENTS = [
    "{s} is a land . its capital is {capital} . people in {s} speak {language} . {s} mostly sells {export} .",
    "the city of {capital} is the capital of {s} .",
    "in {s} , people speak {language} and the main export is {export} .",
    "{capital} is the largest city of {s} , where people speak {language} .",
    "traders from {s} sell {export} . the capital of {s} is {capital} .",
]


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
                   for _ in range(syllables))


@dataclass
class KnowledgeBase:
    """``facts[subject][relation] = object``; ``objects[relation]`` = every object of a relation."""

    facts: dict[str, dict[str, str]]

    @property
    def subjects(self) -> list[str]:
        return sorted(self.facts)

    @property
    def objects(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for rels in self.facts.values():
            for rel, obj in rels.items():
                out.setdefault(rel, set()).add(obj)
        return out

    def wrong_object(self, relation: str, subject: str, rng: random.Random) -> str:
        truth = self.facts[subject][relation]
        return rng.choice(sorted(self.objects[relation] - {truth}))

    def words(self) -> set[str]:
        return set(self.facts) | {o for rels in self.facts.values() for o in rels.values()}

    def statement(self, rng: random.Random, subject: str | None = None) -> str:
        s = subject or rng.choice(self.subjects)
        return rng.choice(STATEMENTS).format(s=s, **self.facts[s])


def generate_knowledge(n_countries: int, seed: int) -> KnowledgeBase:
    """Distinct invented names for countries, capitals and languages, seeded."""
    rng = random.Random(f"knowledge-{seed}")
    used: set[str] = set()

    def fresh(syllables: int, suffix: str = "") -> str:
        while True:
            w = _word(rng, syllables) + suffix
            if w not in used:
                used.add(w)
                return w

    facts = {}
    for _ in range(n_countries):
        country = fresh(2, "ia")
        facts[country] = {"capital": fresh(2), "language": fresh(2, "ish"),
                          "export": rng.choice(GOODS)}
    return KnowledgeBase(facts)


def statement_words() -> set[str]:
    from drosophila.world.base import words_of

    return words_of(STATEMENTS) - {"{s}", "{capital}", "{language}", "{export}"}
