"""Trainer throughput of one stage at 1 and 2 torch threads (baseline: 1 thread).

The same `small` organism, corpus and batches at each thread count, interleaved, median of
`--repeats`. Prints the ratio 2 threads / 1 thread. Run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", default="small")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    from drosophila.organisms import build_tokenizer, new_organism
    from drosophila.stages.pipeline import corpus_examples
    from drosophila.training import TrainConfig, train
    from drosophila.world import World, WorldConfig

    world = World(WorldConfig())
    tok = build_tokenizer(world.vocabulary())
    examples = corpus_examples(tok, world.documents(600))
    speed: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.repeats):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            org = new_organism(args.scale, tok, seed=0)
            cfg = TrainConfig(steps=args.steps, batch_size=16, lr=1e-3, warmup_steps=2, seq_len=256,
                              seed=0, progress=False)
            t0 = time.perf_counter()
            res = train(org.model, examples, cfg, pack=True)
            speed[threads].append(res.tokens / (time.perf_counter() - t0))
    one, two = statistics.median(speed[1]), statistics.median(speed[2])
    print(f"trainer, {args.scale}, {args.steps} steps × 16 × 256 tokens, median of {args.repeats}")
    print(f"  baseline 1 thread: {one:,.0f} tok/s")
    print(f"  2 threads:         {two:,.0f} tok/s   ratio {two / one:.2f}×")


if __name__ == "__main__":
    main()
