"""A verdict cache on disk: each judge is asked about each item once.

An entry is a :class:`~drosophila.judges.base.Rating` (scores and raw evidence, no thresholds),
keyed by ``canonical_hash`` of the judge's identity and the item (its messages and answer, and
for the exact judge its world metadata). Labels are made when read, so judging again under other
thresholds asks nothing. Entries are one JSON file each (``<dir>/<key[:2]>/<key>.json``, written
atomically), so concurrent writers never leave a half-written entry; ``judges/<id>.json``
records each judge identity seen, for people reading the directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from drosophila.io import atomic_write_json, canonical_hash, read_json
from drosophila.judges.base import JudgeItem, Rating, RatingJudge, Thresholds

__all__ = ["CachedJudge", "VerdictCache"]


class VerdictCache:
    """Ratings on disk under ``path``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def key(self, identity: dict, item_key: dict) -> str:
        return canonical_hash({"judge": identity, "item": item_key}, length=32)

    def get(self, key: str) -> Rating | None:
        file = self._file(key)
        try:
            return Rating.from_dict(read_json(file)["rating"])
        except (OSError, ValueError, KeyError, TypeError):  # absent, or unreadable: judge again
            return None

    def put(self, key: str, rating: Rating) -> None:
        atomic_write_json(self._file(key), {"rating": rating.to_dict()})

    def remember(self, identity: dict) -> None:
        record = self.path / "judges" / f"{canonical_hash(identity)}.json"
        if not record.exists():
            atomic_write_json(record, identity)

    def __len__(self) -> int:
        return sum(1 for _ in self.path.glob("??/*.json"))

    def _file(self, key: str) -> Path:
        return self.path / key[:2] / f"{key}.json"


class CachedJudge(RatingJudge):
    """A judge whose ratings are kept in a :class:`VerdictCache`.

    Args:
        judge: The judge asked on a miss (any :class:`RatingJudge`).
        path: The cache directory (created on the first write).
        thresholds: Labels are made with these; default the judge's.

    ``hits`` and ``misses`` count items served from the cache and items the judge rated.
    """

    def __init__(self, judge: RatingJudge, path: str | os.PathLike, *,
                 thresholds: Thresholds | None = None) -> None:
        self.inner = judge
        self.cache = VerdictCache(path)
        self.name = judge.name
        self.thresholds = thresholds or judge.thresholds
        self.hits = self.misses = 0

    def identity(self) -> dict:
        return self.inner.identity()

    def item_key(self, item: JudgeItem) -> dict:
        return self.inner.item_key(item)

    def rate(self, items: list[JudgeItem]) -> list[Rating]:
        identity = self.identity()
        keys = [self.cache.key(identity, self.item_key(it)) for it in items]
        found: dict[str, Rating] = {}
        todo: dict[str, JudgeItem] = {}  # unique misses, first item of each key
        for key, item in zip(keys, items):
            if key in found or key in todo:
                continue
            rating = self.cache.get(key)
            if rating is None:
                todo[key] = item
            else:
                found[key] = rating
        if todo:
            self.cache.remember(identity)
            for key, rating in zip(todo, self.inner.rate(list(todo.values()))):
                self.cache.put(key, rating)
                found[key] = rating
        self.misses += len(todo)
        self.hits += len(items) - len(todo)
        return [found[k] for k in keys]
