"""RL step throughput of Drosophila's ``grpo`` against TRL's ``GRPOTrainer``.

Both sides run in the same process on the same organism (saved once, so TRL can load its
reference model from disk), the same prompts, the same batch (prompts x group size), the same
``max_new_tokens``, KL coefficient, clipping and sampling settings; repeats are interleaved
(ours, TRL, ours, ...) so noise from other work on the machine hits both alike. Throughput is
completion tokens (end token included) per second of the steps after the warm-up ones;
``rollout`` times sampling (TRL: its ``generate`` call), ``update`` the rest of the step.
Reported numbers are medians over repeats.

    python benchmarks/rl_step.py [--scale small] [--prompts 8] [--group 8] [--new-tokens 32]

TRL is optional: ``pip install trl 'torch==<the installed version>'`` (or ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub

import torch
from transformers.utils import logging as hf_logging

from drosophila.organisms import build_tokenizer, load_organism, n_params, new_organism, save_organism
from drosophila.seeding import configure_torch, device_default
from drosophila.training import GRPOConfig, grpo

PUNCTUATION = [".", ",", "?", "!", ":", ";", "'", '"', "(", ")"]
LR, CLIP = 1e-5, 0.2  # a small step keeps completion lengths alike on both sides


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="small")
    p.add_argument("--prompts", type=int, default=8, help="prompts per step")
    p.add_argument("--group", type=int, default=8, help="completions per prompt")
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--kl", type=float, default=0.04, help="KL coefficient (TRL's beta); > 0 builds a reference")
    p.add_argument("--steps", type=int, default=4, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps at the start of each run")
    p.add_argument("--repeats", type=int, default=3, help="runs per side (median reported)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: configure_torch)")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    return p.parse_args()


def make_prompts(n: int, vocab: list[str], seed: int, lo: int = 8, hi: int = 16) -> list[list[dict]]:
    """``n`` one-turn chats of ``lo..hi`` random words."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(lo, hi + 1, (n,), generator=g).tolist()
    return [[{"role": "user", "content": " ".join(vocab[i] for i in torch.randint(len(vocab), (k,), generator=g))}]
            for k in lengths]


def score(text: str) -> float:
    """A cheap toy reward, the same on both sides: share of words drawn from the first 100."""
    words = text.split()
    return sum(w[1:].isdigit() and int(w[1:]) < 100 for w in words) / max(1, len(words))


def summary(lengths: list[float], rollout: list[float], step: list[float], batch: int) -> dict[str, float]:
    """Tokens/s of whole steps, of rollouts, and of updates (the step minus its rollout).

    Args:
        lengths: mean completion length of each timed step.
        rollout: rollout seconds of each timed step.
        step: whole-step seconds of each timed step.
        batch: completions per step.
    """
    n, r, s = sum(lengths) * batch, sum(rollout) or math.nan, sum(step)
    return {"step": n / s, "rollout": n / r, "update": n / max(s - r, 1e-9), "length": n / batch / len(lengths)}


def run_ours(path: str, prompts, args: argparse.Namespace, device: str) -> dict[str, float]:
    org = load_organism(path, device=device)
    cfg = GRPOConfig(steps=args.warmup + args.steps, prompts_per_step=args.prompts, group_size=args.group,
                     lr=LR, kl_coef=args.kl, clip_eps=CLIP, max_new_tokens=args.new_tokens, progress=False,
                     device=device)
    res = grpo(org.model, org.tokenizer, prompts, lambda m, text, md: score(text), cfg)
    timed = res.history[args.warmup :]
    return summary([h["completion_len"] for h in timed], [h["rollout_s"] for h in timed],
                   [h["rollout_s"] + h["update_s"] for h in timed], args.prompts * args.group)


def _time_generation(trainer, seconds: list[float]) -> None:
    """Record the seconds of each of the trainer's ``generate`` calls (a private TRL method)."""
    generate = getattr(trainer, "_generate_single_turn", None)
    if generate is None:  # another TRL version: the rollout / update split is then not reported
        return

    def timed(*a, **k):
        t0 = time.perf_counter()
        out = generate(*a, **k)
        seconds.append(time.perf_counter() - t0)
        return out

    trainer._generate_single_turn = timed


def run_trl(path: str, prompts, args: argparse.Namespace, device: str) -> dict[str, float]:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback, TrainerCallback
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer

    times: dict[str, list[float]] = {"step": [], "rollout": [], "lengths": []}

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t0 = time.perf_counter()

        def on_step_end(self, *a, **k):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times["step"].append(time.perf_counter() - self.t0)

        def on_log(self, _args, _state, _control, logs=None, **k):
            if logs and "completions/mean_length" in logs:
                times["lengths"].append(logs["completions/mean_length"])

    with tempfile.TemporaryDirectory() as out:
        cfg = TRLConfig(
            output_dir=out, per_device_train_batch_size=args.prompts * args.group, num_generations=args.group,
            max_completion_length=args.new_tokens, learning_rate=LR, beta=args.kl, epsilon=CLIP,
            num_iterations=1, temperature=1.0, top_p=1.0, top_k=0, max_grad_norm=1.0,
            lr_scheduler_type="constant", max_steps=args.warmup + args.steps, logging_steps=1, save_strategy="no",
            report_to="none", bf16=False, gradient_checkpointing=False, use_cpu=device == "cpu",
            disable_tqdm=True, seed=0,
        )
        trainer = GRPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(path).to(device),
            reward_funcs=lambda completions, **k: [score(c[0]["content"]) for c in completions],
            args=cfg, train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
            processing_class=AutoTokenizer.from_pretrained(path), callbacks=[Clock()],
        )
        trainer.remove_callback(PrinterCallback)  # it prints every step's log dict
        _time_generation(trainer, times["rollout"])
        trainer.train()
    w = args.warmup
    return summary(times["lengths"][w:], times["rollout"][w:], times["step"][w:], args.prompts * args.group)


def print_table(header: dict[str, str], ours: dict[str, float], trl: dict[str, float]) -> None:
    for k, v in header.items():
        print(f"{k:>10}: {v}")
    print(f"{'lengths':>10}: mean completion {ours['length']:.1f} (drosophila) vs {trl['length']:.1f} (TRL) tokens")
    print()
    print(f"{'':<10} {'drosophila tok/s':>17} {'TRL tok/s':>10} {'ratio':>7}")
    for name in ("step", "rollout", "update"):
        print(f"{name:<10} {ours[name]:>17,.0f} {trl[name]:>10,.0f} {ours[name] / trl[name]:>6.2f}x")


def main() -> None:
    args = parse_args()
    try:
        import trl  # datasets comes with it
    except ImportError:
        print("TRL is not installed; for this benchmark run:\n"
              f"    pip install trl 'torch=={torch.__version__.split('+')[0]}'   (keeps the installed torch)")
        sys.exit(0)
    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers v6 renames, not ours to act on
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    threads = configure_torch(args.threads)
    device = args.device or device_default()
    vocab = [f"w{i}" for i in range(1000)]
    tok = build_tokenizer(vocab + PUNCTUATION)
    prompts = make_prompts(4 * args.prompts, vocab, seed=1)
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "trl": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(save_organism(new_organism(args.scale, tok, seed=0), os.path.join(tmp, "organism")))
        for _ in range(args.repeats):
            runs["ours"].append(run_ours(path, copy.deepcopy(prompts), args, device))
            runs["trl"].append(run_trl(path, copy.deepcopy(prompts), args, device))
        params = n_params(load_organism(path, device="cpu").model)
    median = {side: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for side, rs in runs.items()}
    header = {
        "device": f"{device} ({platform.processor() or platform.machine()})",
        "threads": f"{threads} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus)",
        "torch": f"{torch.__version__}, trl {trl.__version__}",
        "organism": f"{args.scale}, {params:,} params, vocab {len(tok)}",
        "batch": f"{args.prompts} prompts x {args.group} completions, prompts 8-16 words, "
                 f"{args.new_tokens} new tokens, T=1, top_p=1, kl {args.kl}, 1 epoch",
        "steps": f"{args.steps} timed after {args.warmup} warm-up, {args.repeats} repeats (median)",
    }
    print_table(header, median["ours"], median["trl"])


if __name__ == "__main__":
    main()
