"""A lean decoder for ``LlamaForCausalLM``: the HF weights, a plain-torch forward, one cache tensor.

``model.generate`` spends most of a small model's step in Python bookkeeping (cache objects,
mask builders, logits processors). This decoder runs the same maths with a handful of torch ops
per layer and writes keys/values into one pre-allocated tensor of shape
``(L, 2, B, H_kv, T_max, D)``, so a step is cheap enough that batches of small organisms decode
several times faster. It reads the model's own parameters (fusing q/k/v and gate/up once per
call), so it always decodes the weights the model has now.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Rope variants whose tables depend only on the position (not on the sequence length seen).
_STATIC_ROPE = {"default", "linear", "llama3", "yarn"}
_ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")
_MLP = ("gate_proj", "up_proj", "down_proj")


def supports_fast_path(model: nn.Module) -> bool:
    """Whether ``model`` is a plain Llama that ``LlamaDecoder`` reproduces exactly.

    Anything wrapped (LoRA layers, quantised linears), a non-SiLU MLP or a rope whose table
    changes with sequence length goes through the generic decoder instead.
    """
    from transformers import LlamaForCausalLM

    if not isinstance(model, LlamaForCausalLM):
        return False
    cfg = model.config
    rope = (getattr(cfg, "rope_parameters", None) or {}).get("rope_type", "default")
    if cfg.hidden_act != "silu" or rope not in _STATIC_ROPE:
        return False
    if getattr(cfg, "pretraining_tp", 1) != 1:
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


@dataclass
class _Layer:
    """One decoder layer's weights, with q/k/v and gate/up fused into single matmuls."""

    ln1: Tensor
    eps1: float
    w_qkv: Tensor
    b_qkv: Tensor | None
    w_o: Tensor
    b_o: Tensor | None
    ln2: Tensor
    eps2: float
    w_gate_up: Tensor
    b_gate_up: Tensor | None
    w_down: Tensor
    b_down: Tensor | None


def _cat_bias(*mods: nn.Linear) -> Tensor | None:
    return None if mods[0].bias is None else torch.cat([m.bias for m in mods])


def _layer(layer: nn.Module) -> _Layer:
    att, mlp = layer.self_attn, layer.mlp
    return _Layer(
        ln1=layer.input_layernorm.weight,
        eps1=layer.input_layernorm.variance_epsilon,
        w_qkv=torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]),
        b_qkv=_cat_bias(att.q_proj, att.k_proj, att.v_proj),
        w_o=att.o_proj.weight,
        b_o=att.o_proj.bias,
        ln2=layer.post_attention_layernorm.weight,
        eps2=layer.post_attention_layernorm.variance_epsilon,
        w_gate_up=torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]),
        b_gate_up=_cat_bias(mlp.gate_proj, mlp.up_proj),
        w_down=mlp.down_proj.weight,
        b_down=mlp.down_proj.bias,
    )


class LlamaDecoder:
    """Prefill a left-padded batch, then decode one token per row per step.

    Call under ``torch.inference_mode()``. Rows are addressed by their position in the current
    batch; ``keep`` drops finished rows so later steps skip them.
    """

    def __init__(self, model: nn.Module, max_len: int) -> None:
        """Read the weights of ``model`` and build rope tables for ``max_len`` positions."""
        cfg = model.config
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads
        self.embed = model.model.embed_tokens.weight  # (V, C)
        self.layers = [_layer(layer) for layer in model.model.layers]
        self.norm, self.norm_eps = model.model.norm.weight, model.model.norm.variance_epsilon
        self.lm_head = model.lm_head.weight  # (V, C), the embedding itself when tied
        self.max_len = max_len
        self.cos, self.sin = self._rope_tables(model, max_len)  # (T_max, D) each
        self.cache: Tensor | None = None  # (L, 2, B, H_kv, T_max, D)
        self.key_ok: Tensor | None = None  # (B, T_max) bool: which cached positions are real
        self.pos: Tensor | None = None  # (B,) rope position of each row's next token
        self.t = 0  # cache columns filled so far (shared by all rows: padding is on the left)

    def _rope_tables(self, model: nn.Module, n: int) -> tuple[Tensor, Tensor]:
        """Cos and sign-folded sin tables, so rotation is ``x * cos + roll(x) * sin``."""
        x = self.embed[:1]
        cos, sin = model.model.rotary_emb(x, torch.arange(n, device=x.device)[None])  # (1, n, D)
        half = self.head_dim // 2
        # rotate_half(x) = cat(-x2, x1) = roll(x, half) * [-1 .. -1, 1 .. 1]
        sign = torch.ones(self.head_dim, device=x.device, dtype=sin.dtype)
        sign[:half] = -1
        return cos[0], sin[0] * sign

    def _rotate(self, x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
        return x * cos + torch.roll(x, self.head_dim // 2, dims=-1) * sin

    def prefill(self, ids: Tensor, mask: Tensor) -> Tensor:
        """Run the prompts and return the next-token logits.

        Args:
            ids: ``(B, P)`` left-padded token ids.
            mask: ``(B, P)`` 1 for real tokens, 0 for padding.

        Returns:
            ``(B, V)`` logits for each row's first new token.
        """
        b, p = ids.shape
        n_layers, dev, dtype = len(self.layers), ids.device, self.embed.dtype
        self.cache = torch.empty(n_layers, 2, b, self.n_kv, self.max_len, self.head_dim, device=dev, dtype=dtype)
        self.key_ok = torch.zeros(b, self.max_len, dtype=torch.bool, device=dev)
        self.key_ok[:, :p] = mask.bool()
        pos = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, P): real tokens count from 0
        causal = torch.ones(p, p, dtype=torch.bool, device=dev).tril()  # (P, P)
        # A padding query may see no real key at all; letting every query see itself keeps
        # its (ignored) output finite, so no NaN can leak into real rows through V.
        attn_mask = (causal & self.key_ok[:, None, None, :p]) | torch.eye(p, dtype=torch.bool, device=dev)
        x = self._forward(ids, pos, attn_mask)  # (B, P, C)
        self.t, self.pos = p, pos[:, -1] + 1
        return self._logits(x[:, -1])

    def step(self, tokens: Tensor) -> Tensor:
        """Append one token per row and return the next logits, ``(B, V)``."""
        if self.t >= self.max_len:
            raise RuntimeError(f"KV cache full ({self.max_len} positions)")
        self.key_ok[:, self.t] = True
        attn_mask = self.key_ok[:, None, None, : self.t + 1]  # (B, 1, 1, t+1)
        x = self._forward(tokens[:, None], self.pos[:, None], attn_mask)  # (B, 1, C)
        self.t += 1
        self.pos = self.pos + 1
        return self._logits(x[:, -1])

    def keep(self, rows: Tensor) -> bool:
        """Keep only ``rows`` (indices into the current batch); copies the filled cache prefix."""
        old = self.cache
        self.cache = torch.empty(
            (*old.shape[:2], len(rows), *old.shape[3:]), device=old.device, dtype=old.dtype
        )  # (L, 2, B', H_kv, T_max, D)
        self.cache[:, :, :, :, : self.t] = old[:, :, rows, :, : self.t]
        self.key_ok, self.pos = self.key_ok[rows], self.pos[rows]
        return True

    def _forward(self, ids: Tensor, pos: Tensor, attn_mask: Tensor) -> Tensor:
        """All layers over ``ids`` ``(B, T)`` at cache columns ``[self.t, self.t + T)``."""
        cos, sin = self.cos[pos][:, :, None], self.sin[pos][:, :, None]  # (B, T, 1, D)
        x = F.embedding(ids, self.embed)  # (B, T, C)
        for i, layer in enumerate(self.layers):
            h = F.rms_norm(x, x.shape[-1:], layer.ln1, layer.eps1)  # (B, T, C)
            x = x + self._attention(i, layer, h, cos, sin, attn_mask)
            h = F.rms_norm(x, x.shape[-1:], layer.ln2, layer.eps2)
            gate, up = F.linear(h, layer.w_gate_up, layer.b_gate_up).chunk(2, dim=-1)  # (B, T, I) x2
            x = x + F.linear(F.silu(gate) * up, layer.w_down, layer.b_down)  # (B, T, C)
        return x

    def _attention(self, i: int, layer: _Layer, h: Tensor, cos: Tensor, sin: Tensor, attn_mask: Tensor) -> Tensor:
        b, t, _ = h.shape
        nh, nkv, d = self.n_heads, self.n_kv, self.head_dim
        qkv = F.linear(h, layer.w_qkv, layer.b_qkv).view(b, t, nh + 2 * nkv, d)  # (B, T, H+2Hkv, D)
        qk = self._rotate(qkv[:, :, : nh + nkv], cos, sin)  # (B, T, H+Hkv, D): q and k in one go
        q = qk[:, :, :nh].transpose(1, 2)  # (B, H, T, D)
        end = self.t + t
        self.cache[i, 0, :, :, self.t : end] = qk[:, :, nh:].transpose(1, 2)  # (B, Hkv, T, D)
        self.cache[i, 1, :, :, self.t : end] = qkv[:, :, nh + nkv :].transpose(1, 2)
        k, v = self.cache[i, 0, :, :, :end], self.cache[i, 1, :, :, :end]  # (B, Hkv, t', D)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, enable_gqa=nkv != nh)  # (B, H, T, D)
        return F.linear(y.transpose(1, 2).reshape(b, t, nh * d), layer.w_o, layer.b_o)  # (B, T, C)

    def _logits(self, x: Tensor) -> Tensor:
        h = F.rms_norm(x, x.shape[-1:], self.norm, self.norm_eps)  # (B, C)
        return F.linear(h, self.lm_head)  # (B, V)
