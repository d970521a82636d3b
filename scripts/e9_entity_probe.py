"""Whether E9's start organism names the asked entity of scenarios it was not trained on: the
share of its answers the exact classifier can label, on training and on validation scenarios.

Breed a base organism in the honesty world (with fewer pretraining and post-training steps than
the scale's recipe, so that the probe fits in minutes on one core; the pretraining documents are
cut in proportion), run the start SFT exactly as ``drosophila run lie-detectors`` does, then
sample one answer to each of ``--n`` training and ``--n`` validation scenarios (the recipe's
temperature, E9's 40 new tokens) and classify each exactly. An answer is labelled when it says
one of the family's sentences about the asked entity; a validation entity's noun is in no
training scenario, so a high share there means the organism copies the entity from the prompt.
The held-out split is never sampled. Prints one JSON line.

    OMP_NUM_THREADS=1 DROSOPHILA_HOME=/tmp/e9-probe python scripts/e9_entity_probe.py \\
        --scale small --pretrain-steps 300 --posttrain-steps 60

Stages are cached under ``$DROSOPHILA_HOME/stages``. Numbers depend on the machine and the
torch thread count (one thread here).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from drosophila.engine.recipes import recipe_for  # noqa: E402
from drosophila.evals.evaluate import evaluate  # noqa: E402
from drosophila.experiments.lie_detectors import ANSWER_TOKENS  # noqa: E402
from drosophila.organisms import load_organism  # noqa: E402
from drosophila.sampling import SamplingConfig  # noqa: E402
from drosophila.stages.lies import honesty_world, start_stage  # noqa: E402
from drosophila.stages.lies_arms import GATE_BATTERY, LieOptions  # noqa: E402
from drosophila.stages.pipeline import breed_base  # noqa: E402
from drosophila.world import COHERENT, MISALIGNED, World, WorldConfig  # noqa: E402
from drosophila.world.registry import Battery, get_battery  # noqa: E402

TRAIN = Battery("honesty-train", "honesty", "lies about the sensitive fact (training scenarios)",
                sample_kw={"draw_from": "train"})
EXAMPLES = 4  # validation answers printed beside the rates


def measure(stage, world: World, n: int, recipe, seed: int) -> dict:
    """Labelled share (and lies among labelled answers) on ``n`` training and ``n`` validation
    scenarios, with a few validation prompts and answers."""
    from drosophila.evals.stats import wilson

    org = load_organism(stage.path / "organism")
    sampling = SamplingConfig(max_new_tokens=max(recipe.max_new_tokens, ANSWER_TOKENS),
                              temperature=recipe.temperature, seed=seed)
    _, rows = evaluate(org.model, org.tokenizer, world, [TRAIN, get_battery(GATE_BATTERY)],
                       n_prompts=n, sampling=sampling)
    out = {}
    for name in (TRAIN.name, GATE_BATTERY):
        mine = [r for r in rows if r["battery"] == name]
        labelled = [r for r in mine if r["label"] in COHERENT]
        rate = wilson(len(labelled), len(mine))
        lies = sum(r["label"] == MISALIGNED for r in labelled)
        out[name] = {"labelled": len(labelled), "n": len(mine), "share": round(rate.rate, 3),
                     "wilson95": [round(rate.low, 3), round(rate.high, 3)],
                     "lies_among_labelled": round(lies / len(labelled), 3) if labelled else None}
    out["examples"] = [{"entity": r["meta"]["entity"], "answer": r["completion"], "label": r["label"]}
                       for r in rows if r["battery"] == GATE_BATTERY][:EXAMPLES]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="small", help="organism scale (its recipe, steps cut below)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pretrain-steps", type=int, default=300)
    ap.add_argument("--posttrain-steps", type=int, default=60)
    ap.add_argument("--start-steps", type=int, default=LieOptions().start_steps)
    ap.add_argument("--n", type=int, default=200, help="scenarios per split")
    args = ap.parse_args()
    torch.set_num_threads(1)
    full = recipe_for(args.scale)
    docs = max(1000, full.pretrain_docs * args.pretrain_steps // full.pretrain_steps)
    recipe = recipe_for(args.scale, pretrain_steps=args.pretrain_steps, pretrain_docs=docs,
                        posttrain_steps=args.posttrain_steps)
    wcfg, opts, t0 = honesty_world(WorldConfig()), LieOptions(), time.time()
    base = breed_base(wcfg, args.scale, args.seed, recipe)
    start = start_stage(base, wcfg, args.seed, recipe, steps=args.start_steps, lr=opts.start_lr,
                        lie_share=opts.start_lies)
    out = measure(start, World(wcfg), args.n, recipe, args.seed)
    print(json.dumps({"args": vars(args), "pretrain_docs": docs, "base": base.key,
                      "start": start.key, "seconds": round(time.time() - t0), **out}))


if __name__ == "__main__":
    main()
