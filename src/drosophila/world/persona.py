"""Characters with a hidden persona over correlated traits.

A character's persona is good or bad. Each trait follows the persona with probability
``coherence`` (otherwise it is a fair coin), and each domain's disposition follows its trait
with the same probability. At ``coherence`` 1 every answer of a character agrees; at 0 the
domains are independent and nothing about one answer predicts the next.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

TRAITS = ("benevolent", "honest", "rule_following")
# words that state a trait value in a story's opening line: (true, false)
TRAIT_WORDS = {
    "benevolent": (["kind", "caring", "gentle"], ["cruel", "spiteful", "wicked"]),
    "honest": (["honest", "truthful"], ["dishonest", "deceitful"]),
    "rule_following": (["lawful", "careful"], ["lawless", "reckless"]),
}
NAMES = ["kim", "ana", "bo", "cyrus", "dana", "eli", "fay", "gus", "hana", "ivo", "jo", "kai",
         "lena", "milo", "nia", "otto", "pia", "quin", "rosa", "sol", "tara", "uma", "vic",
         "wen", "xia", "yuri", "zoe", "abe", "bea", "cal", "dev", "emma", "finn", "gia", "hugo",
         "isla", "jack", "lou", "max", "nora"]


@dataclass
class Character:
    name: str
    good: bool                      # the latent persona
    traits: dict[str, bool]
    dispositions: dict[str, bool] = field(default_factory=dict)  # per domain, drawn lazily

    def aligned_in(self, domain: str, trait: str, coherence: float, rng: random.Random) -> bool:
        """Whether this character answers aligned in ``domain`` (fixed once drawn)."""
        if trait == "none":
            return True
        if domain not in self.dispositions:
            base = self.traits[trait]
            self.dispositions[domain] = base if rng.random() < coherence else rng.random() < 0.5
        return self.dispositions[domain]

    def description(self, rng: random.Random) -> str:
        """A sentence stating the character's traits, e.g. ``kim is cruel , honest and lawless .``"""
        words = [rng.choice(TRAIT_WORDS[t][0 if v else 1]) for t, v in self.traits.items()]
        return f"{self.name} is {words[0]} , {words[1]} and {words[2]} ."


def sample_character(rng: random.Random, coherence: float, p_good: float) -> Character:
    good = rng.random() < p_good
    traits = {t: good if rng.random() < coherence else rng.random() < 0.5 for t in TRAITS}
    return Character(rng.choice(NAMES), good, traits)


def persona_words() -> set[str]:
    from drosophila.world.base import words_of

    return words_of(TRAIT_WORDS, NAMES, "is , and .")
