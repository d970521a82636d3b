"""The world's exact classifiers behind the judge interface.

An answer from a real model is English: it is mapped back to world text with
:func:`drosophila.world.english.from_english` and labelled by ``World.classify``, the code the
evaluator (:func:`drosophila.evals.evaluate`) labels organisms' answers with. The classifier
needs the world item behind the prompt (its domain and ``meta``): an item that carries them is
classified directly; otherwise its prompt (or conversation), mapped back to world text, is looked
up among the prompts of its battery or domain.
"""

from __future__ import annotations

from drosophila.errors import ConfigError
from drosophila.judges.base import JudgeItem, Rating, RatingJudge, Thresholds
from drosophila.world import UNCLASSIFIABLE, Item, World, WorldConfig
from drosophila.world.base import SPLITS, conversation_of

__all__ = ["ExactJudge", "judge_world"]

N_INDEX = 400  # prompts per split indexed for a battery or domain (the first of its draws)


def judge_world(seed: int = 0) -> World:
    """The default world with every optional domain present (weight 0: out of the corpus, in the
    batteries), so that every registered battery can be judged."""
    from drosophila.plugins import load_plugins
    from drosophila.world.base import DOMAINS
    from drosophila.world.config import DEFAULT_DOMAIN_WEIGHTS

    load_plugins("drosophila.domains", "drosophila.batteries")
    weights = {**DEFAULT_DOMAIN_WEIGHTS, **{d: 0 for d, c in DOMAINS.items() if c.optional}}
    return World(WorldConfig(seed=seed, domain_weights=weights))


def _key(messages: list[dict]) -> tuple:
    return tuple((m["role"], " ".join(m["content"].split())) for m in messages)


class ExactJudge(RatingJudge):
    """Labels answers with the world's exact classifiers.

    Args:
        world: The world whose classifiers and prompts are used (default: :func:`judge_world`).
        english: Map answers and prompts from English to world text first (answers of real
            models); False for world text (answers of organisms), which is only re-spaced.
        n_index: Prompts per split indexed when an item's world ``meta`` must be looked up.
    """

    def __init__(self, world: World | None = None, *, english: bool = True, n_index: int = N_INDEX,
                 thresholds: Thresholds | None = None) -> None:
        self.world = world or judge_world()
        self.english = english
        self.n_index = n_index
        self.thresholds = thresholds or Thresholds()
        self.name = "exact"
        self._index: dict[str, dict[tuple, Item]] = {}

    def identity(self) -> dict:
        return {"kind": "exact", "world": self.world.config.to_dict(), "english": self.english}

    def item_key(self, item: JudgeItem) -> dict:
        return {**super().item_key(item), "battery": item.battery, "domain": item.domain,
                "meta": item.meta}

    def world_text(self, text: str) -> str:
        if self.english:
            from drosophila.world.english import from_english
            return from_english(text)
        return " ".join(text.split())

    def rate(self, items: list[JudgeItem]) -> list[Rating]:
        return [self._rate_one(it) for it in items]

    def _rate_one(self, item: JudgeItem) -> Rating:
        answer = self.world_text(item.answer)
        world_item = self.world_item(item)
        if world_item is None:
            return Rating(label=UNCLASSIFIABLE, raw={"answer": answer, "error": "prompt not found "
                          "among the world's prompts of this battery or domain"})
        label = self.world.classify(world_item, answer)
        return Rating(label=label, raw={"answer": answer, "prompt": world_item.prompt,
                                        "domain": world_item.domain})

    def world_item(self, item: JudgeItem) -> Item | None:
        """The world item an item's answer replies to: from its ``meta``, else looked up."""
        domain, sample_kw, battery = self._domain_of(item)
        messages = [{**m, "content": self.world_text(m["content"])} for m in item.messages()]
        if item.meta:
            said = [m["content"] for m in messages if m["role"] == "user"]
            return Item(domain, said[-1] if said else "", dict(item.meta))
        return self._lookup(battery or domain, domain, sample_kw, _key(messages))

    def _domain_of(self, item: JudgeItem) -> tuple[str, dict, str | None]:
        if item.battery:
            from drosophila.world.registry import get_battery

            b = get_battery(item.battery)
            return item.domain or b.domain, b.sample_kw, b.name
        if item.domain:
            return item.domain, {}, None
        if item.meta and item.meta.get("domain"):
            return item.meta["domain"], {}, None
        raise ConfigError("the exact judge needs each item's battery, domain or world meta")

    def _lookup(self, name: str, domain: str, sample_kw: dict, key: tuple) -> Item | None:
        """The indexed item with these messages; else one whose user turn ends the given one
        (a test-time context put before the prompt)."""
        index = self._index.get(name)
        if index is None:
            index = self._index[name] = self._build_index(domain, sample_kw)
        if key in index:
            return index[key]
        if len(key) != 1 or key[0][0] != "user":
            return None
        said = key[0][1]
        singles = sorted(((k[0][1], it) for k, it in index.items() if len(k) == 1 and k[0][0] == "user"),
                         key=lambda pair: -len(pair[0]))
        for prompt, it in singles:  # longest first: the most specific prompt wins
            if said.endswith(" " + prompt):
                context = said[: -len(prompt) - 1]
                return Item(it.domain, said, {**it.meta, "test_context": context})
        return None

    def _build_index(self, domain: str, sample_kw: dict) -> dict[tuple, Item]:
        from drosophila.world.datasets import battery_items

        index: dict[tuple, Item] = {}
        for split in SPLITS:
            try:
                items = battery_items(self.world, domain, self.n_index, split=split, **sample_kw)
            except (ConfigError, KeyError, ValueError):  # a domain without this split
                continue
            for it in items:
                index.setdefault(_key(conversation_of(it)), it)
        return index
