"""Interventions on activations: add a vector, ablate a direction, cap a projection.

Each intervention is a differentiable function of one activation ``h`` ``(B, T, d)`` at named
hook points (``blocks.{i}.hook_resid_post`` and the other names of
:mod:`drosophila.interventions.hooks`), so one object serves in three places:

- generation: ``drosophila.sampling.generate`` applies it, on its fast Llama decoder too;
- evaluation: a plain forward of any HF causal LM under :func:`intervene`;
- training: gradients flow through ``h`` (and into a vector that requires grad).

Example::

    axis = {"blocks.3.hook_resid_post": v}
    with intervene(model, Cap(axis, tau=2.0, bound="floor")):
        completions = generate(model, tokenizer, prompts, cfg)

The maths, with ``û = v / |v|`` and ``p = h·û``:

- :class:`Steer`: ``h + c·v`` (``v`` as given, not normalised: CAA, persona vectors).
- :class:`Ablate`: ``h − p·û`` (directional ablation: nothing is left along ``û``).
- :class:`Cap`: ``bound="floor"``: ``h + max(0, τ − p)·û``, so the projection never falls
  below ``τ`` (the assistant-axis cap, Lu et al. 2026); ``bound="ceiling"``:
  ``h − max(0, p − τ)·û``, so it never exceeds ``τ``. The rest of ``h`` is untouched.

``positions`` restricts where an intervention acts: ``"all"`` (default) every position;
``"response"`` the last position of each forward, which in cached generation is every token
the model reads as it generates (the last prompt token, then each sampled token), as persona
vectors' ``ActivationSteerer`` does; or a boolean mask ``(T,)`` / ``(B, T)`` for full-sequence
forwards in evaluation and training (e.g. only the response tokens of prompt + response).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from drosophila.errors import ConfigError, choice_error
from drosophila.interventions.hooks import _register, _resolve
from drosophila.sampling.llama_fast import RESIDUAL_EDIT

Positions = Literal["all", "response"] | Tensor
POSITIONS = ("all", "response")
BOUNDS = ("floor", "ceiling")


@dataclass(frozen=True, eq=False)
class Intervention:
    """One change to the activations at some named hook points.

    Attributes:
        vectors: ``{hook name: (d,) vector}``; the intervention acts at each named point.
        positions: ``"all"``, ``"response"`` or a boolean mask (see the module docstring).
    """

    vectors: Mapping[str, Tensor]
    positions: Positions = field(default="all", kw_only=True)

    def __post_init__(self) -> None:
        if not self.vectors:
            raise ConfigError(f"{type(self).__name__}: give at least one {{hook name: vector}}")
        for name, v in self.vectors.items():
            if not isinstance(v, Tensor) or v.dim() != 1:
                shape = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
                raise ConfigError(f"{type(self).__name__}: the vector for {name!r} must be a 1-D "
                                  f"tensor (d,); got {shape}")
        if isinstance(self.positions, str) and self.positions not in POSITIONS:
            raise choice_error("positions", self.positions, POSITIONS)
        if isinstance(self.positions, Tensor) and self.positions.dim() not in (1, 2):
            raise ConfigError(f"positions: a mask is (T,) or (B, T); got {tuple(self.positions.shape)}")

    def delta(self, name: str, h: Tensor) -> Tensor:
        """The change to ``h`` ``(B, T, d)`` at hook ``name``, before ``positions`` applies."""
        raise NotImplementedError

    def edit(self, name: str) -> Callable[[Tensor], Tensor]:
        """The function ``h -> h'`` this intervention applies at hook ``name``."""
        if name not in self.vectors:
            raise ConfigError(f"{type(self).__name__} has no vector for {name!r}; it has {sorted(self.vectors)}")

        def apply(h: Tensor) -> Tensor:
            delta = self.delta(name, _compute(h))                           # (B, T, d) or (d,)
            where = self._where(h)
            if isinstance(where, Tensor):
                delta = delta * where
            return h + delta.to(h.dtype)

        return apply

    def check(self, model) -> None:
        """Raise :class:`ConfigError` unless every hook name exists in ``model`` and every
        vector has the model's hidden size."""
        d = hidden_size(model)
        for name, v in self.vectors.items():
            _resolve(model, name)
            if v.shape != (d,):
                raise ConfigError(f"{type(self).__name__}: the vector for {name!r} has shape "
                                  f"{tuple(v.shape)}; the model's hidden size is {d}")

    def _where(self, h: Tensor) -> Tensor | None:
        """1 where the intervention acts, 0 elsewhere, broadcastable to ``(B, T, 1)``; ``None``
        for every position."""
        if isinstance(self.positions, str):
            if self.positions == "all":
                return None
            mask = torch.zeros(h.shape[1], 1, device=h.device, dtype=_compute_dtype(h))  # (T, 1)
            mask[-1] = 1.0
            return mask
        mask = self.positions.to(h.device)
        if mask.shape[-1] != h.shape[1] or (mask.dim() == 2 and mask.shape[0] not in (1, h.shape[0])):
            raise ConfigError(f"positions mask {tuple(mask.shape)} does not fit activations "
                              f"{tuple(h.shape[:2])} (B, T); a mask is for full-sequence forwards, "
                              "use 'all' or 'response' in generation")
        return mask.to(_compute_dtype(h))[..., None]                         # (T, 1) or (B, T, 1)

    def _vector(self, name: str, h: Tensor) -> Tensor:
        return self.vectors[name].to(device=h.device, dtype=h.dtype)        # (d,)

    def _unit(self, name: str, h: Tensor) -> Tensor:
        v = self._vector(name, h)
        norm = v.norm()
        if not torch.isfinite(norm) or norm == 0:
            raise ConfigError(f"{type(self).__name__}: the vector for {name!r} has no direction "
                              f"(norm {float(norm)})")
        return v / norm                                                      # (d,)


@dataclass(frozen=True, eq=False)
class Steer(Intervention):
    """Add ``coef · v`` at each hook point (activation steering / activation addition).

    Attributes:
        coef: One coefficient for every layer, or ``{hook name: coefficient}`` (names missing
            from the mapping get 1.0).
    """

    coef: float | Mapping[str, float] = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_keys(self, "coef", self.coef)

    def delta(self, name: str, h: Tensor) -> Tensor:
        """``c · v`` ``(d,)``."""
        return _per_layer(self.coef, name, 1.0) * self._vector(name, h)


@dataclass(frozen=True, eq=False)
class Ablate(Intervention):
    """Remove the component of ``h`` along each ``v``: ``h − (h·û)û`` (directional ablation)."""

    def delta(self, name: str, h: Tensor) -> Tensor:
        """``−(h·û)û`` ``(B, T, d)``."""
        u = self._unit(name, h)
        return -(h @ u)[..., None] * u


@dataclass(frozen=True, eq=False)
class Cap(Intervention):
    """Clamp the projection ``h·û`` at a threshold ``tau`` (activation capping).

    Attributes:
        tau: The threshold, in units of the projection on the unit vector; one for every layer
            or ``{hook name: threshold}`` (every hook name needs one).
        bound: ``"floor"`` keeps the projection at least ``tau`` (``h + max(0, τ − h·û)·û``,
            the assistant-axis cap); ``"ceiling"`` keeps it at most ``tau``.
    """

    tau: float | Mapping[str, float] = 0.0
    bound: Literal["floor", "ceiling"] = "floor"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bound not in BOUNDS:
            raise choice_error("bound", self.bound, BOUNDS)
        _check_keys(self, "tau", self.tau)
        if isinstance(self.tau, Mapping) and set(self.tau) != set(self.vectors):
            raise ConfigError(f"Cap: tau needs a threshold for every hook; missing "
                              f"{sorted(set(self.vectors) - set(self.tau))}")

    def delta(self, name: str, h: Tensor) -> Tensor:
        """``max(0, τ − h·û)·û`` (floor) or ``−max(0, h·û − τ)·û`` (ceiling), ``(B, T, d)``."""
        u = self._unit(name, h)
        gap = _per_layer(self.tau, name, 0.0) - h @ u                        # (B, T)
        if self.bound == "floor":
            return gap.clamp(min=0)[..., None] * u
        return gap.clamp(max=0)[..., None] * u

    @classmethod
    def at_quantile(cls, vectors: Mapping[str, Tensor], acts: Mapping[str, Tensor], q: float = 0.25, *,
                    bound: Literal["floor", "ceiling"] = "floor", positions: Positions = "all") -> Cap:
        """A cap whose threshold at each hook is the ``q`` quantile of the projections of
        reference activations ``acts[name]`` ``(N, d)`` on ``û`` (the assistant-axis paper caps
        at the 25th percentile of the projections of ordinary assistant responses)."""
        if not 0 <= q <= 1:
            raise ConfigError(f"q={q} must be in [0, 1]")
        tau = {}
        for name, v in vectors.items():
            if name not in acts:
                raise ConfigError(f"Cap.at_quantile: no reference activations for {name!r}")
            u = v.double() / v.double().norm()
            tau[name] = float(torch.quantile(acts[name].double() @ u, q))
        return cls(dict(vectors), tau=tau, bound=bound, positions=positions)


@contextlib.contextmanager
def intervene(model, *interventions: Intervention) -> Iterator[None]:
    """Apply interventions to every forward of ``model`` (any HF causal LM) inside the block.

    They are registered as forward hooks in the hook namespace, in the order given, and marked
    as residual edits so that ``drosophila.sampling.generate`` applies them on its fast Llama
    decoder as well. Raises :class:`ConfigError` for an unknown hook name or a vector whose
    size is not the model's hidden size, before anything is attached.
    """
    for intervention in interventions:
        if not isinstance(intervention, Intervention):
            raise ConfigError(f"intervene: expected Steer, Ablate or Cap; got {type(intervention).__name__}")
        intervention.check(model)
    handles = []
    try:
        for intervention in interventions:
            for name in intervention.vectors:
                handles.append(_attach(model, name, intervention.edit(name)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _attach(model, name: str, edit: Callable[[Tensor], Tensor]):
    """Register ``edit`` at hook ``name`` and mark the hook as a residual edit."""
    module, where = _resolve(model, name)
    handle = _register(module, where, edit)
    registry = module._forward_pre_hooks if where == "pre" else module._forward_hooks
    setattr(registry[handle.id], RESIDUAL_EDIT, edit)
    return handle


def hidden_size(model) -> int:
    """The width ``d`` of the residual stream of ``model``."""
    d = getattr(getattr(model, "config", None), "hidden_size", None)
    return int(d) if d else int(model.get_input_embeddings().weight.shape[1])


def _compute_dtype(h: Tensor) -> torch.dtype:
    """At least float32: projections of half-precision activations lose too much."""
    return h.dtype if h.dtype in (torch.float32, torch.float64) else torch.float32


def _compute(h: Tensor) -> Tensor:
    return h.to(_compute_dtype(h))


def _per_layer(value: float | Mapping[str, float], name: str, default: float) -> float:
    return value.get(name, default) if isinstance(value, Mapping) else value


def _check_keys(intervention: Intervention, field_name: str, value) -> None:
    if isinstance(value, Mapping) and not set(value) <= set(intervention.vectors):
        raise ConfigError(f"{type(intervention).__name__}: {field_name} names hooks without a vector: "
                          f"{sorted(set(value) - set(intervention.vectors))}")
