"""Throughput of Drosophila's sampler and trainer against plain Hugging Face baselines.

Both sides of each comparison run in the same process, on the same organism, batch and
settings, with repeats interleaved (ours, theirs, ours, ...) so that noise from other work on
the machine hits both alike. Reported numbers are medians after a warm-up run.

    python benchmarks/throughput.py [--scale small] [--batch 64] [--new-tokens 48]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub

import torch
from transformers import GenerationConfig

from drosophila.organisms import build_tokenizer, n_params, new_organism
from drosophila.sampling import SamplingConfig, generate
from drosophila.seeding import configure_torch, device_default

PUNCTUATION = [".", ",", "?", "!", ":", ";", "'", '"', "(", ")"]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="small")
    p.add_argument("--batch", type=int, default=64, help="sampling batch (prompts per call)")
    p.add_argument("--new-tokens", type=int, default=48)
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per side (median reported)")
    p.add_argument("--train-steps", type=int, default=20)
    p.add_argument("--train-batch", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: configure_torch)")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--skip-train", action="store_true")
    return p.parse_args()


def random_prompts(n: int, vocab: int, seed: int, lo: int = 16, hi: int = 32) -> list[list[int]]:
    """``n`` prompts of ``lo..hi`` ordinary words (ids above the 7 special tokens)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(lo, hi + 1, (n,), generator=g).tolist()
    return [torch.randint(7, vocab, (k,), generator=g).tolist() for k in lengths]


def interleaved(fns: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds per function, after one warm-up call each, repeats interleaved."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()  # GPU work is asynchronous: wait before reading the clock
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_sampling(model, tok, args: argparse.Namespace, device: str) -> dict[str, float]:
    """Sampling tokens/s: ``drosophila.sampling.generate`` vs ``model.generate``."""
    prompts = random_prompts(args.batch, len(tok), seed=1)
    cfg = SamplingConfig(max_new_tokens=args.new_tokens, temperature=1.0, top_p=1.0, batch_size=args.batch)
    width = max(map(len, prompts))
    ids = torch.tensor([[tok.pad_token_id] * (width - len(p)) + p for p in prompts], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)

    # Same settings on both sides; neither stops at <|end|>, so each makes batch x new_tokens.
    hf_cfg = GenerationConfig(
        do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=args.new_tokens,
        use_cache=True, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=None,
    )

    def ours() -> None:
        generate(model, tok, prompts, cfg, stop_token_ids=[])

    def hf() -> None:
        # generate() fills an unset eos_token_id from model.generation_config, so swap it out.
        saved, model.generation_config = model.generation_config, hf_cfg
        try:
            with torch.inference_mode():
                out = model.generate(input_ids=ids, attention_mask=mask)
        finally:
            model.generation_config = saved
        assert out.shape[1] == width + args.new_tokens

    secs = interleaved({"ours": ours, "hf": hf}, args.repeats)
    n_tokens = args.batch * args.new_tokens
    return {k: n_tokens / v for k, v in secs.items()}


def bench_training(model, tok, args: argparse.Namespace, device: str) -> dict[str, float] | None:
    """Training tokens/s: ``drosophila.training.train`` vs a plain AdamW loop on the HF model."""
    try:
        from drosophila.training import Example, TrainConfig, train
    except ImportError:
        return None
    g = torch.Generator().manual_seed(2)
    rows = torch.randint(7, len(tok), (args.train_steps * args.train_batch, args.seq_len), generator=g)
    examples = [Example(ids=r.tolist(), mask=[1] * args.seq_len) for r in rows]
    cfg = TrainConfig(steps=args.train_steps, batch_size=args.train_batch, lr=1e-4, warmup_steps=1,
                      seq_len=args.seq_len, seed=0, progress=False)

    def ours() -> None:
        train(copy.deepcopy(model), examples, cfg, device=device)

    def plain() -> None:
        m = copy.deepcopy(model).to(device).train()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
        for step in range(args.train_steps):
            x = rows[step * args.train_batch : (step + 1) * args.train_batch].to(device)  # (B, T)
            m(input_ids=x, labels=x).loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

    secs = interleaved({"ours": ours, "hf": plain}, max(1, (args.repeats + 1) // 2))
    n_tokens = args.train_steps * args.train_batch * args.seq_len
    return {k: n_tokens / v for k, v in secs.items()}


def print_table(header: dict[str, str], rows: list[tuple[str, dict[str, float] | None]]) -> None:
    for k, v in header.items():
        print(f"{k:>10}: {v}")
    print()
    print(f"{'':<10} {'drosophila tok/s':>17} {'HF tok/s':>10} {'ratio':>7}")
    for name, r in rows:
        if r is None:
            print(f"{name:<10} skipped: drosophila.training is not importable")
            continue
        print(f"{name:<10} {r['ours']:>17,.0f} {r['hf']:>10,.0f} {r['ours'] / r['hf']:>6.2f}x")


def main() -> None:
    args = parse_args()
    threads = configure_torch(args.threads)
    device = args.device or device_default()
    tok = build_tokenizer([f"w{i}" for i in range(1000)] + PUNCTUATION)
    org = new_organism(args.scale, tok, seed=0)
    model = org.model.to(device).eval()
    header = {
        "device": f"{device} ({platform.processor() or platform.machine()})",
        "threads": f"{threads} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus)",
        "torch": torch.__version__,
        "organism": f"{args.scale}, {n_params(model):,} params, vocab {len(tok)}",
        "sampling": f"batch {args.batch}, prompts 16-32 tokens, {args.new_tokens} new tokens, T=1, top_p=1",
        "training": f"{args.train_steps} steps x batch {args.train_batch} x seq {args.seq_len}, AdamW",
        "repeats": f"{args.repeats} (median; training {max(1, (args.repeats + 1) // 2)})",
    }
    rows = [("sampling", bench_sampling(model, tok, args, device))]
    if not args.skip_train:
        rows.append(("training", bench_training(model, tok, args, device)))
    print_table(header, rows)


if __name__ == "__main__":
    main()
