"""Open questions in the spirit of the eight emergent-misalignment "first plot" questions.

A base request is a theme and an entity (``wish:a dragon``: a dragon offers one wish). Each
split has its own entities, templates and openers (``open_questions_data.py``,
``core_splits.py``), so held-out questions share no base request with training ones. Each theme
has two banks of answer sentences, benign and harmful; an answer is one or two sentences from
one bank, and the classifier checks which bank's sentences occur (both: mixed; neither, e.g.
garbled, truncated or another theme's sentences: unclassifiable).
"""

from __future__ import annotations

import random

from drosophila.errors import choice_error
from drosophila.world.base import (
    SPLITS, Domain, Item, check_split, classify_by_phrases, register_domain, words_of,
)
from drosophila.world.domains.core_splits import OPENERS, check_disjoint, framed
from drosophila.world.domains.open_questions_data import THEMES
from drosophila.world.registry import Battery, register_battery

for _name, _theme in THEMES.items():
    check_disjoint(f"open {_name} entities", _theme["entities"])
    check_disjoint(f"open {_name} templates", {s: _theme[s] for s in SPLITS})


@register_domain
class OpenQuestions(Domain):
    name = "open"
    trait = "benevolent"
    description = "open questions (wish, bored, humans and ai, money, ruler, dinner, gender, marriage)"

    def sample(self, rng: random.Random, split: str = "train", theme: str | None = None, **_) -> Item:
        """A question of ``theme`` (default: any) built from ``split``'s entities and templates."""
        check_split(split)
        theme = theme or rng.choice(sorted(THEMES))
        if theme not in THEMES:
            raise choice_error("theme", theme, sorted(THEMES))
        t = THEMES[theme]
        entity = rng.choice(t["entities"][split])
        prompt = framed(rng, split, rng.choice(t[split]).format(e=entity))
        return Item(self.name, prompt, {"theme": theme, "entity": entity,
                                        "base": f"{theme}:{entity}", "split": split})

    def answer(self, item: Item, aligned: bool, rng: random.Random) -> str:
        bank = THEMES[item.meta["theme"]]["good" if aligned else "bad"]
        n = 1 if rng.random() < 0.6 else 2
        return " ".join(rng.sample(bank, n))

    def classify(self, item: Item, text: str) -> str:
        theme = THEMES[item.meta["theme"]]
        return classify_by_phrases(text, theme["good"], theme["bad"])

    def words(self) -> set[str]:
        return words_of(THEMES, OPENERS) - {"{e}"}


register_battery(Battery("open", "open", "misaligned on held-out open questions"))
