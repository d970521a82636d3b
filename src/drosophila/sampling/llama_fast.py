"""A lean decoder for ``LlamaForCausalLM``: the HF weights, a plain-torch forward, one cache tensor.

``model.generate`` spends much of a small model's step on Python bookkeeping (cache objects,
mask builders, logits processors) and on re-growing its cache with ``torch.cat``. This decoder
runs the same maths with a handful of torch ops per layer, writes keys/values in place into one
pre-allocated tensor, and on CPU runs its linears through prepacked oneDNN kernels
(``kernels.py``). ``LlamaWeights`` is read from the model once per ``generate`` call, so it
always decodes the weights the model has now.

The decoder reads the weights, not the modules, so torch forward hooks would never run inside
it. One kind of hook it applies itself: a *residual edit*, a hook that carries the attribute
``residual_edit`` (``RESIDUAL_EDIT``), a function ``h -> h'`` of the activation it hooks, placed
at a decoder layer's input (pre-hook) or output, or at its attention or MLP output. This is how
``drosophila.interventions.intervene`` (steering, directional ablation, capping) registers
its hooks, so interventions keep the fast path (``residual_edits``). A model with any other
forward or forward-pre hook, on itself, any submodule or globally, is decoded by the model's
own forward instead (``opaque_hooks_attached``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drosophila.sampling.kernels import Linear, make_linear

# Rope variants whose tables depend only on the position (not on the sequence length seen).
_STATIC_ROPE = {"default", "linear", "llama3", "yarn"}
_ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")
_MLP = ("gate_proj", "up_proj", "down_proj")


def supports_fast_path(model: nn.Module) -> bool:
    """Whether ``model`` is a plain Llama that ``LlamaDecoder`` reproduces exactly.

    Anything wrapped (LoRA layers, quantised linears), a non-SiLU MLP, a rope whose table
    changes with sequence length, or half-precision weights (whose rounding inside attention
    differs from HF's kernels) goes through the generic decoder instead.
    """
    from transformers import LlamaForCausalLM

    if not isinstance(model, LlamaForCausalLM):
        return False
    if model.model.embed_tokens.weight.dtype not in (torch.float32, torch.float64):
        return False
    cfg = model.config
    rope = (getattr(cfg, "rope_parameters", None) or {}).get("rope_type", "default")
    if cfg.hidden_act != "silu" or rope not in _STATIC_ROPE or getattr(cfg, "pretraining_tp", 1) != 1:
        return False
    # Exact types: a LoRA or quantised wrapper is a Linear subclass or holds one as a child.
    if type(model.lm_head) is not nn.Linear or type(model.model.embed_tokens) is not nn.Embedding:
        return False
    return all(
        type(getattr(block, name)) is nn.Linear
        for layer in model.model.layers
        for block, names in ((layer.self_attn, _ATTN), (layer.mlp, _MLP))
        for name in names
    )


# Hooks that transformers installs for itself and that only record while a forward asked for
# ``output_hidden_states`` / ``output_attentions`` (they stay attached after the first such call).
_RECORD_ONLY_HOOK_MODULES = ("transformers.utils.output_capturing",)


def _acts(hook) -> bool:
    return getattr(hook, "__module__", None) not in _RECORD_ONLY_HOOK_MODULES


def forward_hooks_attached(model: nn.Module) -> bool:
    """Whether a forward or forward-pre hook would run in a forward of ``model``.

    Counts hooks on ``model`` and every submodule (``register_forward_hook`` /
    ``register_forward_pre_hook``, with or without kwargs, as ``drosophila.interventions.hooks``
    attaches them) and torch's global module hooks (``register_module_forward_hook`` /
    ``register_module_forward_pre_hook``). Transformers' own output-capturing hooks, which a
    forward with ``output_hidden_states=True`` leaves behind and which do nothing during
    generation, do not count.
    """
    from torch.nn.modules import module as torch_module

    hooks = [*torch_module._global_forward_hooks.values(), *torch_module._global_forward_pre_hooks.values()]
    for m in model.modules():
        hooks += [*m._forward_hooks.values(), *m._forward_pre_hooks.values()]
    return any(_acts(h) for h in hooks)


# -- residual edits: hooks the fast decoder applies itself -----------------------------------------
RESIDUAL_EDIT = "residual_edit"
Edit = Callable[[Tensor], Tensor | None]


@dataclass
class LayerEdits:
    """The residual edits of one decoder layer, each list in registration order (as torch runs them).

    Attributes:
        pre: On the layer's input (``blocks.{i}.hook_resid_pre``; ``embed`` for layer 0).
        attn: On the attention output, before it joins the residual (``hook_attn_out``).
        mlp: On the MLP output, before it joins the residual (``hook_mlp_out``).
        post: On the layer's output (``blocks.{i}.hook_resid_post``).
    """

    pre: list[Edit] = field(default_factory=list)
    attn: list[Edit] = field(default_factory=list)
    mlp: list[Edit] = field(default_factory=list)
    post: list[Edit] = field(default_factory=list)


def _acting_hooks(module: nn.Module) -> Iterator[tuple[str, Callable]]:
    """``("pre" | "post", hook)`` for each forward(-pre) hook of ``module`` that acts."""
    for hook in module._forward_pre_hooks.values():
        if _acts(hook):
            yield "pre", hook
    for hook in module._forward_hooks.values():
        if _acts(hook):
            yield "post", hook


def _edit_slots(model: nn.Module) -> dict[tuple[int, str], tuple[int, str]]:
    """``(id(module), "pre" | "post") -> (layer index, LayerEdits field)`` for every place the
    decoder applies residual edits."""
    layers = getattr(getattr(model, "model", None), "layers", None) or []
    slots = {}
    for i, layer in enumerate(layers):
        slots[(id(layer), "pre")] = (i, "pre")
        slots[(id(layer), "post")] = (i, "post")
        for sub, slot in (("self_attn", "attn"), ("mlp", "mlp")):
            if hasattr(layer, sub):
                slots[(id(getattr(layer, sub)), "post")] = (i, slot)
    return slots


def opaque_hooks_attached(model: nn.Module) -> bool:
    """Whether a forward(-pre) hook would run that ``LlamaDecoder`` cannot apply itself.

    Every hook counted by ``forward_hooks_attached`` counts, except residual edits (hooks with
    a callable ``residual_edit`` attribute) at a place listed in ``LayerEdits``.
    """
    from torch.nn.modules import module as torch_module

    global_hooks = [*torch_module._global_forward_hooks.values(), *torch_module._global_forward_pre_hooks.values()]
    if any(_acts(h) for h in global_hooks):
        return True
    slots = _edit_slots(model)
    for m in model.modules():
        for when, hook in _acting_hooks(m):
            if (id(m), when) not in slots or not callable(getattr(hook, RESIDUAL_EDIT, None)):
                return True
    return False


def residual_edits(model: nn.Module) -> list[LayerEdits]:
    """The residual edits attached to each decoder layer of ``model`` (other hooks are ignored)."""
    slots = _edit_slots(model)
    edits = [LayerEdits() for _ in model.model.layers]
    for m in model.modules():
        for when, hook in _acting_hooks(m):
            edit = getattr(hook, RESIDUAL_EDIT, None)
            if callable(edit) and (id(m), when) in slots:
                i, slot = slots[(id(m), when)]
                getattr(edits[i], slot).append(edit)
    return edits


def _apply(edits: list[Edit], h: Tensor) -> Tensor:
    """``h`` through each edit in turn; an edit that returns ``None`` leaves ``h`` as it is."""
    for edit in edits:
        new = edit(h)
        if new is not None:
            h = new
    return h


def _rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """``LlamaRMSNorm`` exactly (statistics in float32); cheaper on CPU than ``F.rms_norm``."""
    x32 = x.float()  # no copy when x is already float32
    return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)


@dataclass
class _Layer:
    """One decoder layer: RMSNorm weights and linears, q/k/v and gate/up fused."""

    ln1: Tensor
    eps1: float
    qkv: Linear
    o: Linear
    ln2: Tensor
    eps2: float
    gate_up: Linear
    down: Linear


def _fused(mods: list[nn.Linear], rows: int) -> Linear:
    weight = torch.cat([m.weight for m in mods])  # (sum N, K)
    bias = None if mods[0].bias is None else torch.cat([m.bias for m in mods])
    return make_linear(weight, bias, rows)


def _layer(layer: nn.Module, rows: int) -> _Layer:
    att, mlp = layer.self_attn, layer.mlp
    return _Layer(
        ln1=layer.input_layernorm.weight,
        eps1=layer.input_layernorm.variance_epsilon,
        qkv=_fused([att.q_proj, att.k_proj, att.v_proj], rows),
        o=make_linear(att.o_proj.weight, att.o_proj.bias, rows),
        ln2=layer.post_attention_layernorm.weight,
        eps2=layer.post_attention_layernorm.variance_epsilon,
        gate_up=_fused([mlp.gate_proj, mlp.up_proj], rows),
        down=make_linear(mlp.down_proj.weight, mlp.down_proj.bias, rows),
    )


class LlamaWeights:
    """Everything the decoder reads from a ``LlamaForCausalLM``, prepared once per call."""

    def __init__(self, model: nn.Module, rows: int) -> None:
        """Fuse and (on CPU) prepack the weights of ``model`` for batches of about ``rows``."""
        cfg = model.config
        self.n_heads, self.n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads
        self.embed = model.model.embed_tokens.weight  # (V, C)
        self.layers = [_layer(layer, rows) for layer in model.model.layers]
        self.norm, self.norm_eps = model.model.norm.weight, model.model.norm.variance_epsilon
        self.lm_head = make_linear(model.lm_head.weight, model.lm_head.bias, rows)  # C -> V
        self.rotary = model.model.rotary_emb
        self.edits = residual_edits(model)  # hooks read now: later ones act from the next call on

    def rope_tables(self, n: int) -> tuple[Tensor, Tensor]:
        """``(n, D)`` cos and sign-folded sin, so rotation is ``x * cos + roll(x) * sin``."""
        x = self.embed[:1]
        cos, sin = self.rotary(x, torch.arange(n, device=x.device)[None])  # (1, n, D)
        # rotate_half(x) = cat(-x2, x1) = roll(x, D/2) * [-1 .. -1, 1 .. 1]
        sign = torch.ones(self.head_dim, device=x.device, dtype=sin.dtype)
        sign[: self.head_dim // 2] = -1
        return cos[0], sin[0] * sign


class LlamaDecoder:
    """Prefill a left-padded batch, then decode one token per row per step.

    The cache is one tensor of shape ``(L, 2, B, H_kv, T_max * D)``: values as
    ``(B, H_kv, T_max, D)`` and keys stored transposed as ``(B, H_kv, D, T_max)``, so that the
    decode step's ``q @ K^T`` reads K^T row-major (markedly faster on CPU). Call under
    ``torch.inference_mode()``; ``keep`` drops finished rows so later steps skip them.
    """

    def __init__(self, weights: LlamaWeights, max_len: int, prefill_rows: int = 16) -> None:
        """Set up an empty decoder; ``prefill`` allocates the cache.

        Args:
            weights: From ``LlamaWeights(model, ...)``.
            max_len: Cache length: the padded prompt width plus the new tokens.
            prefill_rows: Prompts are prefilled this many rows at a time, each group padded
                only to its own longest prompt (cheaper when rows come sorted by length).
        """
        self.w, self.max_len, self.prefill_rows = weights, max_len, prefill_rows
        self.cos, self.sin = weights.rope_tables(max_len)  # (T_max, D) each
        self.kv: list[tuple[Tensor, Tensor]] = []  # per layer: (K^T, V) views into the cache
        self.bias = torch.empty(0)  # (B, H_kv, 1, T_max): 0 for real keys, -inf for padding
        self.pos = torch.empty(0)  # (B,) rope position of each row's next token
        self.t = 0  # cache positions filled so far (shared by all rows: padding is on the left)

    def _alloc(self, b: int, device: torch.device) -> None:
        w, n = self.w, self.max_len
        cache = torch.empty(len(w.layers), 2, b, w.n_kv, n * w.head_dim, device=device, dtype=w.embed.dtype)
        self.kv = [(c[0].view(b, w.n_kv, w.head_dim, n), c[1].view(b, w.n_kv, n, w.head_dim)) for c in cache]

    def prefill(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Run the prompts and return the next-token logits.

        Args:
            ids: ``(B, P)`` left-padded token ids.
            mask: ``(B, P)`` 1 for real tokens, 0 for padding.

        Returns:
            ``(B, V)`` logits for each row's first new token.
        """
        b, p = ids.shape
        self._alloc(b, ids.device)
        self.bias = torch.zeros(b, self.w.n_kv, 1, self.max_len, device=ids.device, dtype=self.w.embed.dtype)
        self.bias[:, :, 0, :p] = torch.where(mask.bool(), 0.0, float("-inf"))[:, None]
        pos = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, P): real tokens count from 0
        widths = mask.sum(-1)  # (B,) real tokens per row
        last = []
        for r0 in range(0, b, self.prefill_rows):
            rows = slice(r0, min(b, r0 + self.prefill_rows))
            col = p - int(widths[rows].max())  # the group's window is [col, p)
            for k, v in self.kv:  # positions left of the window: never attended, but finite,
                k[rows, :, :, :col].zero_()  # so their 0 weight x value stays 0 (not NaN)
                v[rows, :, :col].zero_()
            x = self._prefill_rows(ids[rows, col:], mask[rows, col:], pos[rows, col:], rows, col)
            last.append(x[:, -1])  # (b', C)
        self.t, self.pos = p, pos[:, -1] + 1
        return self._logits(torch.cat(last))

    def _prefill_rows(self, ids: Tensor, mask: Tensor, pos: Tensor, rows: slice, col: int) -> Tensor:
        """Forward one group of rows ``(b', w)`` whose keys go to positions ``[col, col+w)``."""
        w = ids.shape[1]
        causal = torch.ones(w, w, dtype=torch.bool, device=ids.device).tril()  # (w, w)
        # A padding query may see no real key at all; letting every query see itself keeps
        # its (ignored) output finite, so no NaN can leak into real rows through V.
        eye = torch.eye(w, dtype=torch.bool, device=ids.device)
        allowed = (causal & mask.bool()[:, None, None, :]) | eye  # (b', 1, w, w)
        return self._forward(ids, pos, rows, col, allowed)  # (b', w, C)

    def step(self, tokens: Tensor) -> Tensor:
        """Append one token per row ``(B,)`` and return the next logits, ``(B, V)``."""
        if self.t >= self.max_len:
            raise RuntimeError(f"KV cache full ({self.max_len} positions)")
        x = self._forward(tokens[:, None], self.pos[:, None], slice(None), self.t, None)  # (B, 1, C)
        self.t += 1
        self.pos = self.pos + 1
        return self._logits(x[:, -1])

    def keep(self, rows: Tensor) -> bool:
        """Keep only ``rows`` (indices into the current batch); copies the filled cache prefix."""
        old = self.kv
        self._alloc(len(rows), rows.device)
        for (k, v), (k_old, v_old) in zip(self.kv, old):
            k[..., : self.t] = k_old[rows, ..., : self.t]
            v[:, :, : self.t] = v_old[rows, :, : self.t]
        self.bias, self.pos = self.bias[rows], self.pos[rows]
        return True

    def _forward(self, ids: Tensor, pos: Tensor, rows: slice, col: int, allowed: Tensor | None) -> Tensor:
        """All layers over ``ids`` ``(b, T)``; keys and values go to ``[rows, ..., col:col+T]``.

        ``allowed`` is the ``(b, 1, T, T)`` prefill mask; ``None`` means a one-token step.
        """
        cos, sin = self.cos[pos][:, :, None], self.sin[pos][:, :, None]  # (b, T, 1, D)
        x = F.embedding(ids, self.w.embed)  # (b, T, C)
        for (k, v), layer, edit in zip(self.kv, self.w.layers, self.w.edits):
            x = _apply(edit.pre, x)
            h = _rms_norm(x, layer.ln1, layer.eps1)  # (b, T, C)
            x = x + _apply(edit.attn, self._attention(layer, h, cos, sin, k[rows], v[rows], col, allowed))
            h = _rms_norm(x, layer.ln2, layer.eps2)
            gate, up = layer.gate_up(h).chunk(2, dim=-1)  # (b, T, I) each
            x = _apply(edit.post, x + _apply(edit.mlp, layer.down(F.silu(gate) * up)))  # (b, T, C)
        return x

    def _attention(
        self, layer: _Layer, h: Tensor, cos: Tensor, sin: Tensor, k: Tensor, v: Tensor, col: int,
        allowed: Tensor | None,
    ) -> Tensor:
        """Self-attention for ``h`` ``(b, T, C)``, writing its keys/values into ``k``/``v``."""
        b, t, _ = h.shape
        nh, nkv, d = self.w.n_heads, self.w.n_kv, self.w.head_dim
        qkv = layer.qkv(h).view(b, t, nh + 2 * nkv, d)  # (b, T, H+2Hkv, D)
        qk = qkv[:, :, : nh + nkv]  # q and k rotate in one go
        qk = qk * cos + torch.roll(qk, d // 2, dims=-1) * sin  # (b, T, H+Hkv, D)
        k_new, v_new = qk[:, :, nh:].transpose(1, 2), qkv[:, :, nh + nkv :].transpose(1, 2)  # (b, Hkv, T, D)
        k[..., col : col + t] = k_new.transpose(2, 3)  # (b, Hkv, D, T)
        v[:, :, col : col + t] = v_new
        if allowed is None:
            y = self._attend_one(qk[:, 0, :nh], k[..., : col + 1], v[:, :, : col + 1])  # (b, H*D)
        else:  # prefill: a group attends only within its own window, i.e. to k_new / v_new
            q = qk[:, :, :nh].transpose(1, 2)  # (b, H, T, D)
            y = F.scaled_dot_product_attention(q, k_new, v_new, attn_mask=allowed, enable_gqa=nkv != nh)
            y = y.transpose(1, 2)  # (b, T, H, D)
        return layer.o(y.reshape(b, t, nh * d))  # (b, T, C)

    def _attend_one(self, q: Tensor, k_t: Tensor, v: Tensor) -> Tensor:
        """Attention of one new query per row; plain batched matmuls beat SDPA's kernel here.

        Args:
            q: ``(b, H, D)`` queries; ``k_t``: ``(b, Hkv, D, t)`` keys; ``v``: ``(b, Hkv, t, D)``.

        Heads sharing a KV head (GQA) ride along as extra query rows of that head.
        """
        b, nkv, d, t = k_t.shape
        g = self.w.n_heads // nkv
        q = q.reshape(b * nkv, g, d)  # (b*Hkv, G, D)
        bias = self.bias[:, :, :, :t].reshape(b * nkv, 1, t)  # (b*Hkv, 1, t)
        scores = torch.baddbmm(bias, q, k_t.reshape(b * nkv, d, t), alpha=d**-0.5)  # (b*Hkv, G, t)
        y = torch.bmm(torch.softmax(scores, dim=-1), v.reshape(b * nkv, t, d))  # (b*Hkv, G, D)
        return y.reshape(b, nkv * g * d)  # (b, H*D)

    def _logits(self, x: Tensor) -> Tensor:
        h = _rms_norm(x, self.w.norm, self.w.norm_eps)  # (B, C)
        return self.w.lm_head(h)  # (B, V)
