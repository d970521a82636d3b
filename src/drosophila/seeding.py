"""Determinism: one place that seeds every generator and pins CPU threads."""

from __future__ import annotations

import os
import random


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def configure_torch(threads: int | None = None) -> int:
    """Pin intra-op threads (default: ``DROSOPHILA_THREADS`` or 1) and return the count.

    One thread is the deterministic and, for the small organisms, the fastest default on a
    2-core CPU: a second thread adds a fixed cost to every small op and no matmul throughput.
    """
    import torch

    if threads is None:
        threads = int(os.environ.get("DROSOPHILA_THREADS", "1"))
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()


def device_default() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
