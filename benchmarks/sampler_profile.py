"""Where the fast sampler's decode step spends its time, and what candidate remedies buy.

Everything runs in one process on one organism and one batch, with repeats interleaved so that
noise from other work on the machine hits every variant alike; numbers are medians after a
warm-up. Each variant is a decoder for ``drosophila.sampling.generate``'s own loop, so a whole
``generate`` call is timed and set against HF ``model.generate`` measured in the same run.

Variants:

- ``default``: the shipped ``LlamaDecoder`` (prepacked oneDNN linears).
- ``no attention`` (ablation, wrong output): attention replaced by a stub, to measure its share.
- ``lean step``: the same kernels on the same operands with fewer torch calls per step (views of
  the cache made once, in-place temporaries); checked bit-identical to ``default``.
- ``MKL linears``: ``F.linear`` instead of the prepacked oneDNN kernels (other rounding).
- ``lean + MKL``: both.
- ``compiled step`` (``--compile``): ``torch.compile`` of a static-shape decode step (attention
  over the whole cache length, masked), compile time reported separately (other rounding).

    python benchmarks/sampler_profile.py [--scale small] [--batch 64] [--new-tokens 48] [--compile]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub

import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import GenerationConfig

import drosophila.sampling.kernels as kernels
import drosophila.sampling.sampler as sampler
from drosophila.organisms import build_tokenizer, n_params, new_organism
from drosophila.sampling.llama_fast import LlamaDecoder, LlamaWeights, _rms_norm
from drosophila.seeding import configure_torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from throughput import PUNCTUATION, cpu_info, random_prompts  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="small")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--new-tokens", type=int, default=48)
    p.add_argument("--repeats", type=int, default=9, help="timed repeats per variant (median and min reported)")
    p.add_argument("--compile", action="store_true", help="also time a torch.compile'd decode step (slow to compile)")
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args()


class LeanDecoder(LlamaDecoder):
    """``LlamaDecoder`` with a decode step written with fewer torch calls, same kernels and operands."""

    def _alloc(self, b: int, device: torch.device) -> None:
        super()._alloc(b, device)
        w, n = self.w, self.max_len
        self.kv_flat = [(k.view(b * w.n_kv, w.head_dim, n), v.view(b * w.n_kv, n, w.head_dim)) for k, v in self.kv]

    def step(self, tokens: Tensor) -> Tensor:
        w, col = self.w, self.t
        b, nh, nkv, d = tokens.shape[0], w.n_heads, w.n_kv, w.head_dim
        g, t = nh // nkv, col + 1
        cos, sin = self.cos[self.pos].view(b, 1, 1, d), self.sin[self.pos].view(b, 1, 1, d)
        bias = self.bias.view(b * nkv, 1, self.max_len)[:, :, :t]
        x = F.embedding(tokens[:, None], w.embed)  # (b, 1, C)
        for (k, v), (k_flat, v_flat), layer in zip(self.kv, self.kv_flat, w.layers):
            h = _rms_norm(x, layer.ln1, layer.eps1)
            qkv = layer.qkv(h).view(b, 1, nh + 2 * nkv, d)
            qk = qkv[:, :, : nh + nkv]
            qk = qk * cos + torch.roll(qk, d // 2, dims=-1).mul_(sin)
            k.select(3, col).copy_(qk[:, 0, nh:])
            v.select(2, col).copy_(qkv[:, 0, nh + nkv :])
            q = qk[:, 0, :nh].reshape(b * nkv, g, d)
            scores = torch.baddbmm(bias, q, k_flat[:, :, :t], alpha=d**-0.5)
            y = torch.bmm(torch.softmax(scores, dim=-1), v_flat[:, :t])
            x += layer.o(y.view(b, 1, nh * d))
            h = _rms_norm(x, layer.ln2, layer.eps2)
            gate, up = layer.gate_up(h).chunk(2, dim=-1)
            x += layer.down(F.silu(gate).mul_(up))
        self.t, self.pos = t, self.pos + 1
        return self._logits(x[:, -1])


@contextlib.contextmanager
def no_attention() -> Iterator[None]:
    """Replace the decode step's attention kernels by stubs of the right shape (ablation only)."""
    saved = torch.baddbmm, torch.bmm, torch.softmax
    torch.baddbmm = lambda bias, q, k, alpha=1: bias.expand(q.shape[0], q.shape[1], k.shape[-1])
    torch.bmm = lambda p, v: v[:, : p.shape[1]].contiguous()
    torch.softmax = lambda s, dim: s if s.dim() == 3 else saved[2](s, dim=dim)  # sampling keeps its softmax
    try:
        yield
    finally:
        torch.baddbmm, torch.bmm, torch.softmax = saved


def mkl_weights(model, rows: int) -> LlamaWeights:
    """``LlamaWeights`` whose linears are plain ``F.linear`` (MKL on CPU)."""
    saved = kernels.onednn_linear_ok
    kernels.onednn_linear_ok = lambda *a: False
    try:
        return LlamaWeights(model, rows)
    finally:
        kernels.onednn_linear_ok = saved


class CompiledDecoder(LlamaDecoder):
    """Prefill as ``LlamaDecoder``; each step is one ``torch.compile``'d function of static shapes.

    Attention covers the whole cache length with future positions masked, so the shapes never
    change; the new keys/values come back from the compiled function and are written outside it.
    """

    compiled: Callable | None = None

    def prefill(self, ids: Tensor, mask: Tensor) -> Tensor:
        logits = super().prefill(ids, mask)
        for k, v in self.kv:  # positions not yet written must be finite under a zero weight
            k[..., self.t :].zero_()
            v[:, :, self.t :].zero_()
        w = self.w
        self.plain = [
            (layer.ln1, layer.eps1, layer.qkv_w, layer.o_w, layer.ln2, layer.eps2, layer.gate_up_w, layer.down_w)
            for layer in w.plain_layers
        ]
        return logits

    def step(self, tokens: Tensor) -> Tensor:
        if CompiledDecoder.compiled is None:
            CompiledDecoder.compiled = torch.compile(_compiled_step, dynamic=False, fullgraph=True)
        w, col = self.w, self.t
        pos_bias = torch.where(torch.arange(self.max_len) < col, 0.0, float("-inf"))  # (T_max,): keys so far
        logits, new_k, new_v = CompiledDecoder.compiled(
            tokens, self.cos[self.pos], self.sin[self.pos], self.bias + pos_bias, w.embed, self.plain,
            [k for k, _ in self.kv], [v for _, v in self.kv], w.norm, w.norm_eps, w.lm_head_w, w.n_heads, w.n_kv,
        )
        for (k, v), kn, vn in zip(self.kv, new_k, new_v):
            k[..., col] = kn
            v[:, :, col] = vn
        self.t, self.pos = col + 1, self.pos + 1
        return logits


def _compiled_step(tokens, cos, sin, bias, embed, layers, ks, vs, norm, norm_eps, lm_head, nh: int, nkv: int):
    b, d = tokens.shape[0], cos.shape[-1]
    cos, sin = cos[:, None], sin[:, None]  # (b, 1, D)
    x = F.embedding(tokens, embed)  # (b, C)
    new_k, new_v = [], []
    for (ln1, eps1, qkv_w, o_w, ln2, eps2, gate_up_w, down_w), k, v in zip(layers, ks, vs):
        h = _rms_norm(x, ln1, eps1)
        qkv = F.linear(h, qkv_w).view(b, nh + 2 * nkv, d)
        qk = qkv[:, : nh + nkv]
        qk = qk * cos + torch.roll(qk, d // 2, dims=-1) * sin
        q, kn, vn = qk[:, :nh], qk[:, nh:], qkv[:, nh + nkv :]  # (b, H|Hkv, D)
        qg = q.view(b, nkv, nh // nkv, d)
        scores = torch.matmul(qg, k) * d**-0.5 + bias  # (b, Hkv, G, T_max): cache position col is still empty
        own = (qg * kn[:, :, None]).sum(-1, keepdim=True) * d**-0.5  # (b, Hkv, G, 1): the new key
        p = torch.softmax(torch.cat([scores, own], dim=-1), dim=-1)
        y = torch.matmul(p[..., :-1], v) + p[..., -1:] * vn[:, :, None]  # (b, Hkv, G, D)
        x = x + F.linear(y.reshape(b, nh * d), o_w)
        h = _rms_norm(x, ln2, eps2)
        gate, up = F.linear(h, gate_up_w).chunk(2, dim=-1)
        x = x + F.linear(F.silu(gate) * up, down_w)
        new_k.append(kn)
        new_v.append(vn)
    return F.linear(_rms_norm(x, norm, norm_eps), lm_head), new_k, new_v


def plain_weights(model, rows: int) -> LlamaWeights:
    """``LlamaWeights`` plus the plain fused matrices the compiled step reads."""
    w = LlamaWeights(model, rows)
    w.plain_layers = []
    for layer, mine in zip(model.model.layers, w.layers):
        att, mlp = layer.self_attn, layer.mlp
        mine.qkv_w = torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]).detach()
        mine.o_w = att.o_proj.weight.detach()
        mine.gate_up_w = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).detach()
        mine.down_w = mlp.down_proj.weight.detach()
        w.plain_layers.append(mine)
    w.lm_head_w = model.lm_head.weight.detach()
    return w


def main() -> None:
    args = parse_args()
    threads = configure_torch(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    tok = build_tokenizer([f"w{i}" for i in range(1000)] + PUNCTUATION)
    model = new_organism(args.scale, tok, seed=0).model.eval()
    prompts = random_prompts(args.batch, len(tok), seed=1)
    cfg = sampler.SamplingConfig(max_new_tokens=args.new_tokens, temperature=1.0, batch_size=args.batch)
    rows = min(args.batch, len(prompts))

    def with_decoder(make: Callable[[int], LlamaDecoder], ablate: bool = False) -> Callable[[], list]:
        def run() -> list:
            saved = sampler._decoder_factory
            sampler._decoder_factory = lambda m, rows: make
            try:
                with no_attention() if ablate else contextlib.nullcontext():
                    return sampler.generate(model, tok, prompts, cfg, stop_token_ids=[])
            finally:
                sampler._decoder_factory = saved

        return run

    with torch.inference_mode():
        onednn, mkl = LlamaWeights(model, rows), mkl_weights(model, rows)
    # Weights are prepared once here, outside the timings; generate() prepares them per call,
    # which the "generate" variant (the real entry point) includes.
    variants: dict[str, Callable[[], list]] = {
        "generate (default, as shipped)": lambda: sampler.generate(model, tok, prompts, cfg, stop_token_ids=[]),
        "default": with_decoder(lambda n: LlamaDecoder(onednn, n)),
        "no attention (ablation)": with_decoder(lambda n: LlamaDecoder(onednn, n), ablate=True),
        "lean step": with_decoder(lambda n: LeanDecoder(onednn, n)),
        "MKL linears": with_decoder(lambda n: LlamaDecoder(mkl, n)),
        "lean + MKL": with_decoder(lambda n: LeanDecoder(mkl, n)),
    }
    compile_s = None
    if args.compile:
        with torch.inference_mode():
            plain = plain_weights(model, rows)
        variants["compiled step"] = with_decoder(lambda n: CompiledDecoder(plain, n))
        t0 = time.perf_counter()
        variants["compiled step"]()  # compiles
        compile_s = time.perf_counter() - t0

    width = max(map(len, prompts))
    ids = torch.tensor([[tok.pad_token_id] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    hf_cfg = GenerationConfig(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=args.new_tokens,
                              use_cache=True, pad_token_id=tok.pad_token_id, eos_token_id=None)

    def hf() -> None:
        saved, model.generation_config = model.generation_config, hf_cfg
        try:
            with torch.inference_mode():
                model.generate(input_ids=ids, attention_mask=mask)
        finally:
            model.generation_config = saved

    def logit_gap(make: Callable[[int], LlamaDecoder]) -> float:
        """Largest |logit difference| to the default decoder over the prefill and 16 steps."""
        left, lmask = sampler._left_pad(prompts, tok.pad_token_id, torch.device("cpu"))
        with torch.inference_mode():
            ref, other = LlamaDecoder(onednn, left.shape[1] + 17), make(left.shape[1] + 17)
            a, b = ref.prefill(left, lmask), other.prefill(left, lmask)
            gap = (a - b).abs().max().item()
            for _ in range(16):
                nxt = a.argmax(-1)
                a, b = ref.step(nxt), other.step(nxt)
                gap = max(gap, (a - b).abs().max().item())
        return gap

    makers = {"default": lambda n: LlamaDecoder(onednn, n), "lean step": lambda n: LeanDecoder(onednn, n),
              "MKL linears": lambda n: LlamaDecoder(mkl, n), "lean + MKL": lambda n: LeanDecoder(mkl, n)}
    if args.compile:
        makers["compiled step"] = lambda n: CompiledDecoder(plain, n)
    gaps = {name: logit_gap(make) for name, make in makers.items()}
    outputs = {name: fn() for name, fn in variants.items()}  # warm-up, and the tokens to compare
    timings: dict[str, list[float]] = {name: [] for name in [*variants, "HF generate"]}
    hf()
    for _ in range(args.repeats):
        for name, fn in [*variants.items(), ("HF generate", hf)]:
            t0 = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in timings.items()}
    best = {k: min(v) for k, v in timings.items()}

    print(f"cpu: {cpu_info()[0]}, {threads} thread(s), torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    print(f"organism: {args.scale}, {n_params(model):,} params; batch {args.batch}, {args.new_tokens} new tokens, T=1")
    if compile_s is not None:
        print(f"compile (first call of the compiled step, included in no timing below): {compile_s:.1f} s")
    print()
    print(f"{'variant':<32} {'ms/call':>8} {'(min)':>6} {'vs default':>11} {'vs HF generate':>15} {'(min)':>6}"
          f"  {'max |dlogit|':>12}  same tokens")
    for name in timings:
        same = "-" if name == "HF generate" else ("yes" if outputs[name] == outputs["default"] else "no")
        if name.startswith("no attention"):
            same = "- (ablation)"
        gap = f"{gaps[name]:.1e}" if name in gaps else "-"
        print(f"{name:<32} {med[name] * 1e3:>8.0f} {best[name] * 1e3:>6.0f} {med['default'] / med[name]:>10.2f}x "
              f"{med['HF generate'] / med[name]:>14.2f}x {best['HF generate'] / best[name]:>5.2f}x  {gap:>12}  {same}")
    print("\nratios: median over repeats (min: fastest repeat of each); 'same tokens': the whole sampled batch, "
          "T=1, same seed, against 'default'")


if __name__ == "__main__":
    main()
