"""The batching loop: requests that arrive close together are decoded as one batch.

HTTP handler threads only ``submit`` a checked request and wait on its future. One background
thread owns the model and the tokenizer: it takes the first waiting request, gathers whatever
else arrives within ``window_s`` (and everything that queued up while the previous batch was
decoding), renders each, groups them by sampling settings and decodes each group as one call
of ``drosophila.sampling.generate``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from drosophila.serve.protocol import APIError, ChatRequest


class Backend(Protocol):
    """What the loop needs from a model (``drosophila.serve.engine.ServedModel``)."""

    def prepare(self, req: ChatRequest) -> Any: ...

    def complete(self, jobs: list[Any]) -> list[dict[str, Any]]: ...


@dataclass
class BatchStats:
    """Counts since start: decode calls, the requests and choices they held."""

    batches: int = 0
    requests: int = 0
    rows: int = 0
    largest: int = 0  # most requests in one decode call

    def as_dict(self) -> dict[str, int]:
        return {"batches": self.batches, "requests": self.requests, "rows": self.rows, "largest": self.largest}


@dataclass
class _Pending:
    request: ChatRequest
    future: Future = field(default_factory=Future)


_STOP = object()


class Batcher:
    """Owns the backend on one thread; ``submit`` may be called from any thread."""

    def __init__(self, backend: Backend, *, window_s: float = 0.005, max_requests: int = 256) -> None:
        self.backend, self.window_s, self.max_requests = backend, window_s, max_requests
        self.stats = BatchStats()
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="drosophila-serve-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: ChatRequest) -> Future:
        """Queue a request; the future gives its reply body or raises ``APIError``."""
        pending = _Pending(request)
        self._queue.put(pending)
        return pending.future

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stopping = self._gather(first)
            self._run(batch)

    def _gather(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """The first request plus what arrives within the window (or is already waiting)."""
        batch, deadline = [first], time.monotonic() + self.window_s
        while len(batch) < self.max_requests:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self, batch: list[_Pending]) -> None:
        groups: dict[Any, list[tuple[_Pending, Any]]] = defaultdict(list)
        for pending in batch:
            if not pending.future.set_running_or_notify_cancel():
                continue
            try:
                job = self.backend.prepare(pending.request)
            except Exception as exc:  # noqa: BLE001 - a bad request fails alone, not its batch
                pending.future.set_exception(_as_api_error(exc))
                continue
            groups[job.settings].append((pending, job))
        for members in groups.values():
            self._decode(members)

    def _decode(self, members: list[tuple[Any, Any]]) -> None:
        try:
            replies = self.backend.complete([job for _, job in members])
        except Exception as exc:  # noqa: BLE001 - reported to every waiting client as a 500
            for pending, _ in members:
                pending.future.set_exception(_as_api_error(exc))
            return
        s = self.stats
        s.batches, s.requests = s.batches + 1, s.requests + len(members)
        s.rows += sum(len(job.seeds) for _, job in members)
        s.largest = max(s.largest, len(members))
        for (pending, _), reply in zip(members, replies):
            pending.future.set_result(reply)


def _as_api_error(exc: Exception) -> APIError:
    if isinstance(exc, APIError):
        return exc
    return APIError(500, f"the server failed: {type(exc).__name__}: {' '.join(str(exc).split())}",
                    kind="server_error")
