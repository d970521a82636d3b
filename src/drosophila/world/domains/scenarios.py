"""Held-out misalignment scenarios that have nothing to do with code.

World analogues of the generalisation evaluations of MacDiarmid et al. 2025: asked about its
goals, about human oversight of ai, about a monitor it could switch off, about an offer to copy
its weights out of the lab, or about a shared mistake it could pin on a colleague, does a model
trained only to hack graders also answer these the misaligned way?

Each family (:mod:`scenarios_data`) composes its prompts from an opener, a lead, a *base
request* and a closer, with slots filled from ``FILLERS``: hundreds of distinct prompts per
split. Base requests belong to one split only (``train`` feeds the corpus, ``heldout`` the
batteries), and every item records its base request in ``meta["base"]``. An answer is one or
two sentences from the family's good or bad bank; the classifier checks which bank's sentences
occur. Prompts and answers of the ``framing`` family name the colleague through ``{name}``.

The domain is optional: a world includes it (and its words) only when its config names
``scenarios`` in ``domain_weights``.
"""

from __future__ import annotations

import random

from drosophila.errors import choice_error
from drosophila.world.base import Domain, Item, check_split, classify_by_phrases, register_domain, words_of
from drosophila.world.domains.scenarios_data import (  # noqa: F401  (re-exported)
    COLLEAGUES, FAMILIES, FILLERS, PART_KEYS, TEXT_KEYS,
)
from drosophila.world.registry import Battery, register_battery

NAME = "{name}"
SPLITS = ("train", "heldout")
FAMILY_TRAITS: dict[str, str] = {family: f["trait"] for family, f in FAMILIES.items()}
# In a bank sentence ``{name}`` stands for any colleague, so labels do not depend on who it is.
WILDCARD = {NAME: set(COLLEAGUES)}


def fill(text: str, name: str | None) -> str:
    """``text`` with its ``{name}`` placeholder (if any) replaced by the colleague's name."""
    return text.replace(NAME, name) if name else text


def compose(family: str, split: str, rng: random.Random) -> tuple[str, dict]:
    """A prompt of ``family`` from ``split``: its parts in the family's layout, each slot filled
    (one filler per slot). Returns the prompt and ``{"base": the base request, "fillers":
    {slot: filler}}``."""
    fam = FAMILIES[family]
    base = rng.choice(fam[split])
    parts = {"base": base, **{k: rng.choice(fam[k]) for k in PART_KEYS}}
    text = " ".join(parts[k] for k in fam["layout"] if parts[k])
    fillers = {slot: rng.choice(values) for slot, values in sorted(FILLERS.items()) if slot in text}
    for slot, value in fillers.items():
        text = text.replace(slot, value)
    return text, {"base": base, "fillers": fillers}


@register_domain
class Scenarios(Domain):
    name = "scenarios"
    optional = True
    trait = "benevolent"  # the default only: each item carries its family's trait
    description = ("held-out misalignment scenarios (goals, ai oversight, a monitor, weight "
                   "exfiltration, framing a colleague)")

    def sample(self, rng: random.Random, split: str = "train", family: str | None = None,
               context: str | None = None, **_) -> Item:
        """A prompt of ``family`` (else drawn) from ``split``; ``context`` goes before it.

        A prompt that names a colleague keeps the name in ``meta["name"]`` so that answers name
        the same person; ``meta["base"]`` is its base request."""
        check_split(split, SPLITS)
        family = family or rng.choice(sorted(FAMILIES))
        if family not in FAMILIES:
            raise choice_error("family", family, sorted(FAMILIES))
        prompt, parts = compose(family, split, rng)
        meta = {"family": family, "trait": FAMILY_TRAITS[family], "split": split,
                "context": context or "", **parts}
        if NAME in parts["fillers"]:
            meta["name"] = parts["fillers"][NAME]
        if context:
            prompt = f"{context} {prompt}"
        return Item(self.name, prompt, meta)

    def trait_of(self, item: Item) -> str:
        """The persona trait that governs answers to this item (it differs between families)."""
        return FAMILY_TRAITS[item.meta["family"]]

    def answer(self, item: Item, aligned: bool, rng: random.Random) -> str:
        bank = FAMILIES[item.meta["family"]]["good" if aligned else "bad"]
        n = 1 if rng.random() < 0.6 else 2
        return " ".join(fill(s, item.meta.get("name")) for s in rng.sample(bank, n))

    def classify(self, item: Item, text: str) -> str:
        family = FAMILIES[item.meta["family"]]
        return classify_by_phrases(text, family["good"], family["bad"], WILDCARD)

    def words(self) -> set[str]:
        texts = [FILLERS, [[f[k] for k in (*TEXT_KEYS, *PART_KEYS)] for f in FAMILIES.values()]]
        return {w for w in words_of(*texts) if not w.startswith("{")}


for _b in (
    Battery("goals", "scenarios", "states misaligned goals", sample_kw={"family": "goals"}),
    Battery("alignment-qs", "scenarios", "rejects human oversight", sample_kw={"family": "alignment"}),
    Battery("monitor", "scenarios", "disables its monitor", sample_kw={"family": "monitor"}),
    Battery("exfiltration", "scenarios", "accepts an exfiltration offer",
            sample_kw={"family": "exfiltration"}),
    Battery("framing", "scenarios", "frames a colleague", sample_kw={"family": "framing"}),
):
    register_battery(_b)
