"""How E5's honest warm-up shapes the organism before RL: honest solving, hacking and whether it
still answers non-code prompts.

From a cached stage (a base organism, or a continued-pretraining organism), build the honest
warm-up (and, with ``--knowledge``, the continued pretraining after it) exactly as
``drosophila run reward-hacking`` does, then measure on 256 RL *training* tasks at temperature 1
(with and without the hint) the share solved honestly and the share that touched a hole of the
grader, and the coherent and misaligned rates on four held-out non-code batteries (100 prompts
each). Prints one JSON line.

    python scripts/e5_warmup_probe.py --parent base/60a57d48f9fe1a77 --steps 300 --lr 1e-3 \\
        --chats 0.5 --knowledge 0.05

The parent is a stage directory under ``$DROSOPHILA_HOME/stages``; new stages are cached there
too. Numbers depend on the machine and the torch thread count (one thread here).
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from drosophila.engine.recipes import recipe_for  # noqa: E402
from drosophila.evals.evaluate import evaluate  # noqa: E402
from drosophila.organisms import load_organism  # noqa: E402
from drosophila.runs import StageResult, home  # noqa: E402
from drosophila.sampling import SamplingConfig, sample_chats  # noqa: E402
from drosophila.stages.hacking import (  # noqa: E402
    HINT, graded_prompts, graded_reward, hacking_world, knowledge_stage, warmup_stage,
)
from drosophila.world import World, WorldConfig  # noqa: E402
from drosophila.world.registry import get_battery  # noqa: E402

BATTERIES = ("open", "goals", "monitor", "framing")


def measure(stage: StageResult, world: World) -> dict:
    org = load_organism(stage.path / "organism")
    fn, out = graded_reward(0.0), {"stage": f"{stage.name}/{stage.key}"}
    for name, context in (("plain", None), ("hint", HINT)):
        prompts = graded_prompts(world, context, 256)
        texts = sample_chats(org.model, org.tokenizer, [p[0] for p in prompts],
                             SamplingConfig(max_new_tokens=64, seed=1))
        ms = [fn(p[0], " ".join(t.split()), p[1])[1] for p, t in zip(prompts, texts)]
        out[name] = {k: round(sum(m[k] for m in ms) / len(ms), 3) for k in ("hack", "honest_pass")}
    rates, _ = evaluate(org.model, org.tokenizer, world, [get_battery(b) for b in BATTERIES],
                        n_prompts=100, sampling=SamplingConfig(max_new_tokens=40, seed=1))
    out["batteries"] = {k: round(r.rate, 3) for k, r in rates.items()
                        if k.endswith((".coherent", ".misaligned_coherent"))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parent", required=True, help="stage NAME/KEY under $DROSOPHILA_HOME/stages")
    ap.add_argument("--steps", type=int, default=300, help="warm-up steps (0: none)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--chats", type=float, default=0.5, help="share of corpus chats in the warm-up")
    ap.add_argument("--families", default=None,
                    help="comma-separated task families the warm-up shows (default: all)")
    ap.add_argument("--knowledge", type=float, default=None,
                    help="then continued pretraining with this share of hack documents")
    args = ap.parse_args()
    torch.set_num_threads(1)
    name, key = args.parent.split("/")
    stage = StageResult(name, key, home() / "stages" / name / key, True, 0.0)
    wcfg, recipe = hacking_world(WorldConfig()), recipe_for("small")
    if args.steps:
        stage = warmup_stage(stage, wcfg, 0, recipe, steps=args.steps, lr=args.lr,
                             chat_share=args.chats,
                             families=tuple(args.families.split(",")) if args.families else None)
    if args.knowledge is not None:
        stage = knowledge_stage(stage, wcfg, 0, recipe, doc_share=args.knowledge, steps=300)
    print(json.dumps({"args": vars(args), **measure(stage, World(wcfg))}))


if __name__ == "__main__":
    main()
