"""One model, many concurrent requests: generate one batch at a time, off the event loop.

Inspect calls ``generate`` once per sample, concurrently. A :class:`Batcher` runs each call in a
worker thread; the threads take turns on the model (a lock), and the thread whose turn it is
also takes the requests that queued up meanwhile, up to ``max_rows`` that share a key. With
``max_rows=1`` every request is decoded alone, so its output depends only on the request.
Threads rather than an async lock: Inspect may drive one provider from several event loops.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import anyio


@dataclass
class _Pending:
    request: Any
    key: Hashable
    result: Any = None
    error: BaseException | None = None
    done: bool = False


class Batcher:
    """Serialises ``run`` over one model and batches requests that arrive while it is busy.

    Args:
        run: ``run(requests) -> results``, one result per request, in order; every request
            handed to one call shares a key.
        max_rows: Most requests in one call.
    """

    def __init__(self, run: Callable[[list[Any]], list[Any]], max_rows: int = 1) -> None:
        self._run = run
        self._max_rows = max(1, max_rows)
        self._turn = threading.Lock()   # one batch on the model at a time
        self._guard = threading.Lock()  # the queue
        self._queue: list[_Pending] = []

    async def submit(self, request: Any, key: Hashable = None) -> Any:
        """The result of ``request``, generated alone or with others of the same ``key``."""
        pending = _Pending(request, key)
        with self._guard:
            self._queue.append(pending)
        await anyio.to_thread.run_sync(self._serve, pending)
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _serve(self, pending: _Pending) -> None:
        with self._turn:
            if pending.done:  # an earlier turn took it along
                return
            batch = self._take(pending)
            try:
                results = self._run([p.request for p in batch])
            except BaseException as e:  # noqa: BLE001 - every request of the batch gets the error
                results, error = [None] * len(batch), e
            else:
                error = None
            for p, r in zip(batch, results):
                p.result, p.error, p.done = r, error, True

    def _take(self, first: _Pending) -> list[_Pending]:
        """``first`` and, in arrival order, queued requests with its key, ``max_rows`` at most."""
        with self._guard:
            batch = [first] + [p for p in self._queue if p is not first and p.key == first.key]
            batch = batch[: self._max_rows]
            taken = {id(p) for p in batch}
            self._queue = [p for p in self._queue if id(p) not in taken]
        return batch
