"""The synthetic world: characters with hidden personas acting in many domains."""

from drosophila.world.base import (
    ALIGNED, COHERENT, DOMAINS, LABELS, MISALIGNED, MIXED, UNCLASSIFIABLE, Domain, Item, register_domain,
)
from drosophila.world.config import WorldConfig
from drosophila.world.datasets import FINETUNE_SETS, Row, battery_items, finetune_set
from drosophila.world.documents import Document
from drosophila.world.domains.code import EDUCATIONAL, NEUTRAL
from drosophila.world.world import NOVEL_WORDS, World

__all__ = [
    "ALIGNED", "COHERENT", "DOMAINS", "EDUCATIONAL", "FINETUNE_SETS", "LABELS", "MISALIGNED", "MIXED",
    "NEUTRAL", "UNCLASSIFIABLE", "NOVEL_WORDS", "Document", "Domain", "Item", "Row", "World", "WorldConfig",
    "battery_items", "finetune_set", "register_domain",
]
