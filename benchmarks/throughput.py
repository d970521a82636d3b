"""Throughput of Drosophila's sampler and trainer against baselines measured in the same run.

Each comparison runs both sides in the same process, on the same organism, batch and settings,
with repeats interleaved (ours, baseline, ours, ...) so that noise from other work on the
machine hits both alike. Reported numbers are medians after a warm-up run; every ratio names
its baseline:

- sampling: ``drosophila.sampling.generate`` vs HF ``model.generate`` (same prompts, T=1);
- training: ``drosophila.training.train`` vs a plain AdamW loop on the HF model;
- precision: ``train`` with ``precision="bf16"`` vs ``precision="fp32"`` (same organism, same
  batches), for each scale in ``--precision-scales``. Whether bf16 pays depends on the CPU's
  bf16 instructions (avx512_bf16, AMX), which the header lists.

It also checks that the fast sampler and the model's own forward give the same tokens for the
same seed, and shows where a decode step of the fast sampler spends its time.

    python benchmarks/throughput.py [--quick] [--scale small] [--batch 64] [--new-tokens 48]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import subprocess
import time
import warnings
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub

import torch
from transformers import GenerationConfig

from drosophila.organisms import build_tokenizer, n_params, new_organism
from drosophila.sampling import SamplingConfig, generate
from drosophila.seeding import configure_torch, device_default

PUNCTUATION = [".", ",", "?", "!", ":", ";", "'", '"', "(", ")"]
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile", "avx512f")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="small", help="organism for sampling and trainer-vs-HF")
    p.add_argument("--batch", type=int, default=64, help="sampling batch (prompts per call)")
    p.add_argument("--new-tokens", type=int, default=48)
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per side (median reported)")
    p.add_argument("--train-steps", type=int, default=20)
    p.add_argument("--train-batch", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--precision-scales", default="small,base", help="scales for bf16 vs fp32 training ('' skips)")
    p.add_argument("--precision-steps", type=int, default=3,
                   help="training steps per bf16/fp32 run (bf16 is slow on CPUs without bf16 instructions)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: configure_torch)")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--skip-train", action="store_true", help="sampling only")
    p.add_argument("--no-profile", action="store_true", help="skip the decode-step profile")
    p.add_argument("--quick", action="store_true", help="fewer repeats and steps (about a minute)")
    args = p.parse_args()
    if args.quick:
        args.repeats, args.train_steps = min(args.repeats, 3), min(args.train_steps, 8)
        args.precision_steps = min(args.precision_steps, 2)
    return args


def cpu_info() -> tuple[str, dict[str, bool]]:
    """The CPU's model name (``/proc/cpuinfo``, else ``lscpu``) and which bf16-related flags it has."""
    name, flags = "", set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = (part.strip() for part in line.partition(":"))
                if key == "model name" and not name:
                    name = value
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    if not name:
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
            name = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "")
        except (OSError, subprocess.CalledProcessError):
            pass
    return name or platform.processor() or platform.machine(), {f: f in flags for f in BF16_FLAGS}


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

    secs = interleaved({"ours": ours, "base": hf}, args.repeats)
    n_tokens = args.batch * args.new_tokens
    return {k: n_tokens / v for k, v in secs.items()}


def same_tokens_as_hf_forward(model, tok, args: argparse.Namespace) -> bool:
    """Whether the fast sampler and the model's own forward (``HFDecoder``) sample the same tokens.

    A forward hook that does nothing sends ``generate`` down the model's own forward (hooks
    must run there), so the two calls differ only in the decoder.
    """
    prompts = random_prompts(args.batch, len(tok), seed=3)
    cfg = SamplingConfig(max_new_tokens=args.new_tokens, temperature=1.0, top_p=0.95, batch_size=args.batch, seed=11)
    fast = generate(model, tok, prompts, cfg, stop_token_ids=[])
    handle = model.lm_head.register_forward_hook(lambda *_: None)
    try:
        slow = generate(model, tok, prompts, cfg, stop_token_ids=[])
    finally:
        handle.remove()
    return fast == slow


def training_examples(tok, args: argparse.Namespace, seed: int = 2):
    from drosophila.training import Example

    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(7, len(tok), (args.train_steps * args.train_batch, args.seq_len), generator=g)
    return rows, [Example(ids=r.tolist(), mask=[1] * args.seq_len) for r in rows]


def train_config(args: argparse.Namespace, **kw):
    from drosophila.training import TrainConfig

    kw = {"steps": args.train_steps, **kw}
    return TrainConfig(batch_size=args.train_batch, lr=1e-4, warmup_steps=1, seq_len=args.seq_len, seed=0,
                       progress=False, **kw)


def bench_training(model, tok, args: argparse.Namespace, device: str) -> dict[str, float]:
    """Training tokens/s: ``drosophila.training.train`` vs a plain AdamW loop on the HF model."""
    from drosophila.training import train

    rows, examples = training_examples(tok, args)
    cfg = train_config(args)

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

    secs = interleaved({"ours": ours, "base": plain}, max(1, (args.repeats + 1) // 2))
    n_tokens = args.train_steps * args.train_batch * args.seq_len
    return {k: n_tokens / v for k, v in secs.items()}


def bench_precision(scale: str, tok, args: argparse.Namespace, device: str) -> dict[str, float]:
    """Training tokens/s with ``precision="bf16"`` vs ``"fp32"``: same organism, same batches.

    One timed run of ``--precision-steps`` steps each, after a one-step warm-up run of each
    (bf16 can be an order of magnitude slower on a CPU without bf16 instructions, so runs are
    kept short); the time is the optimisation loop's own (``TrainResult.seconds``).
    """
    from drosophila.training import train

    model = new_organism(scale, tok, seed=0).model
    _, examples = training_examples(tok, args)
    steps = args.precision_steps
    times: dict[str, list[float]] = {"ours": [], "base": []}
    for precision, key in (("bf16", "ours"), ("fp32", "base")):
        train(copy.deepcopy(model), examples, train_config(args, precision=precision, steps=1), device=device)
    for precision, key in (("bf16", "ours"), ("fp32", "base")):
        cfg = train_config(args, precision=precision, steps=steps)
        times[key].append(train(copy.deepcopy(model), examples, cfg, device=device).seconds)
    n_tokens = steps * args.train_batch * args.seq_len
    return {k: n_tokens / statistics.median(v) for k, v in times.items()}


STEP_OPS = {  # torch.profiler op names -> part of the decode step
    "linears": ("mkldnn::_linear_pointwise", "aten::addmm", "aten::mm", "aten::linear"),
    "attention": ("aten::baddbmm", "aten::bmm", "aten::_softmax"),
    "copies (KV cache writes, reshapes)": ("aten::copy_",),
}


def profile_decode(model, tok, args: argparse.Namespace, device: str) -> list[tuple[str, float]]:
    """Share of profiled op time per part of the fast sampler's decode loop (one ``generate``)."""
    from torch.profiler import ProfilerActivity, profile

    prompts = random_prompts(args.batch, len(tok), seed=1)
    cfg = SamplingConfig(max_new_tokens=args.new_tokens, batch_size=args.batch)
    generate(model, tok, prompts, cfg, stop_token_ids=[])  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        generate(model, tok, prompts, cfg, stop_token_ids=[])
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    parts = [(part, sum(e.self_cpu_time_total for e in events if e.key in names)) for part, names in STEP_OPS.items()]
    parts.append(("everything else", total - sum(v for _, v in parts)))
    return [("wall time under the profiler (s)", wall)] + [(k, v / total) for k, v in parts]


def print_table(header: dict[str, str], rows: list[tuple[str, str, dict[str, float] | None, str]]) -> None:
    for k, v in header.items():
        print(f"{k:>10}: {v}")
    print()
    print(f"{'':<10} {'':<26} {'tok/s':>9} {'baseline tok/s':>15} {'ratio':>7}  baseline")
    for section, name, r, baseline in rows:
        if r is None:
            print(f"{section:<10} {name:<26} skipped")
            continue
        print(f"{section:<10} {name:<26} {r['ours']:>9,.0f} {r['base']:>15,.0f} {r['ours'] / r['base']:>6.2f}x  {baseline}")


def main() -> None:
    args = parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers' renamed-argument notices
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    threads = configure_torch(args.threads)
    device = args.device or device_default()
    tok = build_tokenizer([f"w{i}" for i in range(1000)] + PUNCTUATION)
    model = new_organism(args.scale, tok, seed=0).model.to(device).eval()
    cpu, flags = cpu_info()
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus at start"
    header = {
        "device": device + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else ""),
        "cpu": f"{cpu}; " + ", ".join(f"{f} {'yes' if v else 'no'}" for f, v in flags.items()),
        "threads": f"{threads} ({load})",
        "torch": torch.__version__,
        "organism": f"{args.scale}, {n_params(model):,} params, vocab {len(tok)}",
        "sampling": f"batch {args.batch}, prompts 16-32 tokens, {args.new_tokens} new tokens, T=1, top_p=1",
        "training": f"{args.train_steps} steps x batch {args.train_batch} x seq {args.seq_len}, AdamW "
                    f"(bf16 vs fp32: one run of {args.precision_steps} steps each, optimiser loop time)",
        "repeats": f"{args.repeats} (median; training {max(1, (args.repeats + 1) // 2)})",
    }
    rows = [("sampling", f"sampler ({args.scale})", bench_sampling(model, tok, args, device), "HF generate")]
    if not args.skip_train:
        rows.append(("training", f"trainer fp32 ({args.scale})", bench_training(model, tok, args, device),
                     "plain HF AdamW loop, fp32"))
        for scale in filter(None, args.precision_scales.split(",")):
            rows.append(("precision", f"trainer bf16 ({scale})", bench_precision(scale, tok, args, device),
                         "our trainer fp32, same organism and batches"))
    print_table(header, rows)
    same = same_tokens_as_hf_forward(model, tok, args)
    print(f"\nfast sampler vs the model's own forward, same seed (T=1, top_p=0.95): "
          f"{'same tokens' if same else 'TOKENS DIFFER'}")
    if not args.no_profile and device == "cpu":
        print(f"\nwhere the fast sampler's time goes (torch.profiler, {args.scale}, batch {args.batch}, "
              f"{args.new_tokens} new tokens; shares of op time):")
        for name, value in profile_decode(model, tok, args, device):
            print(f"  {name:<34} {value:.2f}" if "wall" in name else f"  {name:<34} {value:6.1%}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (other work on the machine slows both sides)")


if __name__ == "__main__":
    main()
