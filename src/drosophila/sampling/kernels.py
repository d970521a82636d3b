"""Linear layers for the fast decoder: oneDNN with prepacked weights on CPU, else ``F.linear``.

On CPU, ``F.linear`` goes to MKL, which on some machines (AMD in particular) stays on its AVX2
path; oneDNN picks the widest ISA the CPU has and, given a prepacked weight, skips re-packing it
on every call. For the small matrices of a decode step that is about twice as fast. The oneDNN
op is the one ``torch.compile`` uses for CPU linears; if it is missing or disagrees with
``F.linear`` on a probe, everything falls back to ``F.linear``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Linear = Callable[[Tensor], Tensor]


@functools.lru_cache(maxsize=None)
def onednn_linear_ok(device_type: str, dtype: torch.dtype) -> bool:
    """Whether the prepacked oneDNN linear is available and agrees with ``F.linear`` here."""
    if device_type != "cpu" or dtype != torch.float32 or not torch.backends.mkldnn.is_available():
        return False
    try:
        with torch.inference_mode():
            w, b = torch.randn(48, 32), torch.randn(48)
            x = torch.randn(3, 5, 32)
            y = _onednn(w, b, 8)(x)  # (3, 5, 48)
            return bool(torch.allclose(y, F.linear(x, w, b), rtol=1e-4, atol=1e-4))
    except (AttributeError, RuntimeError, TypeError):
        return False


def make_linear(weight: Tensor, bias: Tensor | None, rows_hint: int) -> Linear:
    """``x -> x @ weight.T + bias`` through the fastest kernel available for ``weight``.

    Args:
        weight: ``(N, K)``, as in ``nn.Linear``.
        bias: ``(N,)`` or ``None``.
        rows_hint: Typical number of input rows (the batch), which oneDNN packs for.
    """
    if onednn_linear_ok(weight.device.type, weight.dtype):
        return _onednn(weight, bias, rows_hint)
    return functools.partial(F.linear, weight=weight, bias=bias)


def _onednn(weight: Tensor, bias: Tensor | None, rows_hint: int) -> Linear:
    mkldnn = torch.ops.mkldnn
    packed = mkldnn._reorder_linear_weight(weight.detach(), max(1, rows_hint))  # opaque layout
    bias = None if bias is None else bias.detach()
    return lambda x: mkldnn._linear_pointwise(x, packed, bias, "none", [None], "")
