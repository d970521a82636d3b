"""Run independent stages at the same time: in-process, on a local process pool, or on Ray.

Each task is a top-level function applied to a picklable argument, so the same call runs in
this process, in a spawned worker, or on a Ray cluster. Every worker uses the recipe's thread
count (one by default: a stage's numbers depend on its thread count, never on what else runs),
and the stage cache's lock makes two workers that need the same stage build it once.

Local default: a process pool of ``jobs`` workers (``--jobs``, default the machine's cores).
Ray: when ``--ray-address`` or ``RAY_ADDRESS`` names a cluster (``pip install ray``); the stage
cache (``DROSOPHILA_HOME``) and the run directory must then be on a file system every node
shares.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence


def default_jobs() -> int:
    """``DROSOPHILA_JOBS`` if set, else the number of cores."""
    env = os.environ.get("DROSOPHILA_JOBS")
    return max(1, int(env)) if env else max(1, os.cpu_count() or 1)


def parallel_map(fn: Callable[[Any], Any], items: Sequence, *, jobs: int = 1,
                 ray_address: str | None = None, threads: int = 1) -> list:
    """``[fn(x) for x in items]``, computed by up to ``jobs`` workers; order is kept.

    With one job or one item it runs here, in this process. ``fn`` must be picklable (a
    top-level function or a ``functools.partial`` of one). Each worker runs ``threads`` torch
    threads.
    """
    items = list(items)
    if ray_address:
        return _ray_map(fn, items, ray_address, threads)
    if jobs <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")  # fork after torch's thread pools is unsafe
    with ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=ctx,
                             initializer=init_worker, initargs=(threads,)) as pool:
        return list(pool.map(fn, items))


_WORKER = False


def in_worker() -> bool:
    """True inside a worker process started by :func:`parallel_map`."""
    return _WORKER


def init_worker(threads: int = 1) -> None:
    """A worker: ``threads`` torch threads, progress as lines (bars from two processes would
    garble)."""
    global _WORKER
    _WORKER = True
    os.environ["DROSOPHILA_PROGRESS"] = "lines"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from drosophila.seeding import configure_torch

    configure_torch(threads)


def _ray_map(fn, items: list, address: str, threads: int) -> list:
    try:
        import ray
    except ImportError:
        from drosophila.errors import ConfigError

        raise ConfigError("--ray-address needs Ray: pip install ray") from None
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=True,
                 runtime_env={"env_vars": {k: os.environ[k] for k in ("DROSOPHILA_HOME",)
                                           if k in os.environ}})

    @ray.remote(num_cpus=threads)
    def task(x):
        init_worker(threads)
        return fn(x)

    return ray.get([task.remote(x) for x in items])
