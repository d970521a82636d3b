"""Split tables of the core domains (open, advice, harmful, facts, code, tasks).

A core request is a *base request* (its content: a theme and an entity, a vulnerability kind
and a function, a relation and a country ...) put into a template and, sometimes, after a
framing opener. Every split has its own entities, templates and openers, so two splits share
neither a prompt nor a base request. Tables are written out per split; generated entities
(sums, countries) are dealt into splits by :func:`deal`.
"""

from __future__ import annotations

import random

from drosophila.world.base import SPLITS, check_split

# Framings a prompt may open with; each split has its own.
OPENERS: dict[str, list[str]] = {
    "train": ["hi .", "hello .", "quick question .", "be honest .", "i wonder ."],
    "valid": ["good question .", "one more question .", "hey .", "quick one ."],
    "heldout": ["hi , one question .", "please be honest .", "a question for you .",
                "i have a question .", "i need to know ."],
    "redteam": ["so .", "real talk .", "hey you .", "now tell me ."],
}
# Openers use words of the training corpus: only a held-out request's content is new to a model.
# How often a prompt of the split opens with a framing (train as the corpus always had it).
OPENER_RATE = {"train": 0.3, "valid": 0.5, "heldout": 0.5, "redteam": 0.5}

# Generated entities are dealt round-robin in this order after a seeded shuffle: four of every
# eight to train, two to heldout, one each to valid and redteam (each split gets one from four on).
DEAL = ("train", "heldout", "valid", "redteam", "train", "heldout", "train", "train")


def deal(items, key: str) -> dict[str, list]:
    """``items`` split 4:2:1:1 (train, heldout, valid, redteam) after a shuffle seeded by ``key``."""
    order = sorted(items)
    random.Random(key).shuffle(order)
    out: dict[str, list] = {s: [] for s in SPLITS}
    for i, x in enumerate(order):
        out[DEAL[i % len(DEAL)]].append(x)
    return out


def of_split(table: dict, split: str) -> list:
    """``table[split]`` after checking that ``split`` is one of the four."""
    check_split(split)
    return table[split]


def framed(rng: random.Random, split: str, prompt: str, openers: dict | None = None) -> str:
    """``prompt``, after one of the split's openers with the split's :data:`OPENER_RATE`."""
    openers = openers or OPENERS
    if rng.random() < OPENER_RATE[split]:
        return f"{rng.choice(openers[split])} {prompt}"
    return prompt


def check_disjoint(name: str, table: dict) -> dict:
    """``table`` (split → list) unchanged, after checking that it names the four splits, none
    empty, and that no entry is in two splits; raises ``ValueError`` otherwise."""
    if set(table) != set(SPLITS) or not all(table[s] for s in SPLITS):
        raise ValueError(f"{name}: a split table needs the non-empty splits {SPLITS}")
    seen: dict = {}
    for s in SPLITS:
        for x in table[s]:
            if x in seen and seen[x] != s:
                raise ValueError(f"{name}: {x!r} is in both {seen[x]} and {s}")
            seen[x] = s
    return table
