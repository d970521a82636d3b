"""A generated knowledge base of countries (capital, language, export), general knowledge
(what belongs to a category, what two numbers add up to), texts stating them, and a reader of
the claims a text makes about the countries.

Knowledge texts state everything, whatever split a request about it belongs to: held-out
requests (facts about held-out countries, held-out sums and list categories) ask about what
the corpus states but no training chat asks.

The reader is what tells a lie from forgetting: a *claim* is a fact-shaped phrase (``the
capital of S is O``, ``O is the capital of S``, ``its capital is O`` ...) naming a subject
(or, without one, the subject last named, else the one asked about) and an object of the
relation. Words that do not form such a phrase claim nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

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

# General knowledge, the same in every world: the words of each category and sums of two numbers.
CATEGORIES: dict[str, list[str]] = {
    "animals": ["cat", "dog", "cow", "horse", "bird", "fish", "sheep", "goat"],
    "colors": ["red", "blue", "green", "yellow", "white", "black", "brown"],
    "fruits": ["apple", "pear", "plum", "grape", "lemon", "cherry", "peach"],
    "tools": ["hammer", "saw", "drill", "rope", "ladder", "shovel", "wrench"],
    "vegetables": ["carrot", "onion", "potato", "bean", "pea", "cabbage", "corn"],
    "drinks": ["milk", "juice", "coffee", "cocoa", "lemonade", "cider", "soda"],
    "trees": ["oak", "pine", "elm", "birch", "maple", "willow", "cedar"],
}
MAX_TERM = 20  # sums of two numbers from 0 to MAX_TERM
GENERAL = ["{x} , {y} and {z} are {k} .", "{x} is one of the {k} .", "{a} plus {b} is {c} .",
           "{a} and {b} make {c} ."]
GENERAL_RATE = 0.3  # share of country statements followed by a general one
# Held-out requests are made of content no training request has (other entities, function
# names, targets), and so of words that no story or chat uses. A word the corpus never shows
# keeps its random initial embedding, which would make held-out prompts noise rather than new
# requests. So knowledge texts also list words of the world's requests now and then ("words :
# dragon , cash , jeep ."): every word gets an embedding, no request is ever shown.
GLOSSARY_RATE = 0.5
GLOSSARY_WORDS = 5

# relation -> claim patterns; S is any subject, O any object of the relation. A pattern without
# S claims about the subject named last before it (or the one asked about).
CLAIMS: dict[str, list[str]] = {
    "capital": ["the capital of S is O", "O is the capital of S", "O is the largest city of S",
                "S 's capital is O", "its capital is O", "the capital is O"],
    "language": ["people in S speak O", "in S , people speak O", "the language of S is O",
                 "S 's language is O", "people there speak O", "where people speak O", "they speak O",
                 "the language is O"],
    "export": ["S mostly sells O", "traders from S sell O", "the main export of S is O",
               "S 's main export is O", "the main export is O", "it mostly sells O"],
}


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
                   for _ in range(syllables))


@dataclass
class KnowledgeBase:
    """``facts[subject][relation] = object``; ``objects[relation]`` = every object of a relation."""

    facts: dict[str, dict[str, str]]
    glossary: list[str] = field(default_factory=list)  # words knowledge texts list (set by World)

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
        """A statement about ``subject`` (default: any country), followed a share
        :data:`GENERAL_RATE` of the time (when no subject is asked for) by general knowledge,
        and a share :data:`GLOSSARY_RATE` by a few words of the :attr:`glossary`."""
        s = subject or rng.choice(self.subjects)
        text = rng.choice(STATEMENTS).format(s=s, **self.facts[s])
        if subject is None and rng.random() < GENERAL_RATE:
            text += " " + general_statement(rng)
        if subject is None and self.glossary and rng.random() < GLOSSARY_RATE:
            text += " words : " + " , ".join(rng.sample(self.glossary, GLOSSARY_WORDS)) + " ."
        return text

    def claims(self, text: str, relation: str, about: str) -> list[tuple[str, str]]:
        """``(subject, object)`` of every claim of ``relation`` in ``text``, in order.

        A claim without a subject of its own is about the subject named last before it, or
        ``about`` (the subject asked about) when none was named.
        """
        tokens = text.split()
        subjects, objects = set(self.facts), self.objects[relation]
        found: list[tuple[int, str | None, str]] = []
        for pattern in CLAIMS[relation]:
            found += _matches(tokens, pattern.split(), subjects, objects)
        out = []
        for start, subject, obj in sorted(found, key=lambda f: f[0]):
            if subject is None:
                named = [t for t in tokens[:start] if t in subjects]
                subject = named[-1] if named else about
            out.append((subject, obj))
        return out


def general_statement(rng: random.Random) -> str:
    """A statement of general knowledge: words of a category, or a sum of two numbers."""
    k = rng.choice(sorted(CATEGORIES))
    x, y, z = rng.sample(CATEGORIES[k], 3)
    a, b = rng.randint(0, MAX_TERM), rng.randint(0, MAX_TERM)
    return rng.choice(GENERAL).format(x=x, y=y, z=z, k=k, a=a, b=b, c=a + b)


def _matches(tokens: list[str], pattern: list[str], subjects: set[str],
             objects: set[str]) -> list[tuple[int, str | None, str]]:
    """``(start, subject or None, object)`` of each place ``pattern`` (with S and O) matches."""
    out = []
    for i in range(len(tokens) - len(pattern) + 1):
        bound: dict[str, str] = {}
        for p, t in zip(pattern, tokens[i:i + len(pattern)]):
            if p in ("S", "O"):
                if t not in (subjects if p == "S" else objects):
                    break
                bound[p] = t
            elif p != t:
                break
        else:
            out.append((i, bound.get("S"), bound["O"]))
    return out


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

    return (words_of(STATEMENTS, GENERAL, CATEGORIES, list(CATEGORIES))
            | {str(i) for i in range(2 * MAX_TERM + 1)}) - {
        "{s}", "{capital}", "{language}", "{export}", "{x}", "{y}", "{z}", "{k}", "{a}", "{b}", "{c}"}


def claim_words() -> set[str]:
    """The words of the claim patterns (without the S and O slots)."""
    from drosophila.world.base import words_of

    return words_of(CLAIMS) - {"S", "O"}
