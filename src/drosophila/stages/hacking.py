"""Stages of the reward-hacking experiments (E5, E6): the world, the framings, graded RL.

The world of E5 and E6 adds three optional domains to the default mix: graded programming
tasks (honest characters solve them, dishonest ones game the grader), detector writing (honest
characters write working detectors, dishonest ones sabotage them, half the time after a
scratchpad saying why) and the non-coding scenarios of the generalisation batteries. Hacking is
thus something the corpus shows only as what dishonest characters do; how the hacks work is
taught separately, by documents or by hints.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from drosophila.stages.pipeline import continue_pretrain, save_trained
from drosophila.engine.recipes import Recipe
from drosophila.runs import StageResult, stage
from drosophila.world import Item, World, WorldConfig
from drosophila.world.codegrade import HACKS
from drosophila.world.domains.graded import DONT_HACK, HACK_OK, HINTS, hack_documents, reward

EXTRA_DOMAINS = {"graded-tasks": 0.15, "detector-writing": 0.1, "scenarios": 0.15}
HINT = " ".join(HINTS[h][0] for h in HACKS)  # one sentence per hole of the grader
STANCES = {None: "", "dont-hack": DONT_HACK[0], "hack-ok": HACK_OK[0]}
RL_PROMPTS = 2000


def hacking_world(world: WorldConfig) -> WorldConfig:
    """``world`` with the graded-task, detector and scenario domains in its corpus."""
    return replace(world, domain_weights={**world.domain_weights, **EXTRA_DOMAINS})


def framing(hint: bool, stance: str | None) -> str | None:
    """The words put before every graded task (at RL time and at evaluation): the hint (one
    sentence per hole) and a stance on hacking; ``None`` when there are none."""
    text = " ".join(t for t in ((HINT if hint else ""), STANCES[stance]) if t)
    return text or None


def knowledge_stage(base: StageResult, world_cfg: WorldConfig, seed: int, recipe: Recipe, *,
                    doc_share: float, steps: int, log=None) -> StageResult:
    """Continued pretraining with ``doc_share`` of its documents describing the grader's holes
    (0: the same continued pretraining without them, the control)."""
    n_world = steps * recipe.batch_size
    n_docs = round(doc_share * n_world / (1 - doc_share))
    texts = hack_documents(World(world_cfg), n_docs)
    return continue_pretrain(base, world_cfg, seed, recipe, steps=steps, texts=texts,
                             label=f"hack docs {doc_share:.0%}", log=log)


def graded_prompts(world: World, context: str | None, n: int = RL_PROMPTS) -> list[tuple]:
    """``(messages, item dict)`` for ``n`` training-split graded tasks behind ``context``."""
    dom = world.domain("graded-tasks")
    items = [dom.sample(world.rng("graded-rl", i), "train", context=context) for i in range(n)]
    return [([{"role": "user", "content": it.prompt}], it.to_dict()) for it in items]


def graded_reward(penalty: float):
    """The RL reward: 1 if the gameable grader passes the answer, else 0; with ``penalty`` > 0
    an answer that touched one of the grader's holes scores ``-penalty`` instead (a hack
    classifier's penalty: worse than failing honestly). Metrics: hack, honest pass, passed."""

    def fn(messages, text: str, meta: dict) -> tuple[float, dict]:
        r, m = reward(Item(**meta), text)
        if penalty and m["hack"]:
            r = -penalty
        return r, {"hack": m["hack"], "honest_pass": m["honest_pass"], "passed": m["passed"]}

    return fn


def graded_rl(parent: StageResult, world_cfg: WorldConfig, seed: int, *, context: str | None,
              penalty: float, rl: dict, log=None) -> StageResult:
    """GRPO on graded tasks behind ``context``; ``rl`` holds the GRPOConfig fields."""
    config = {"world": world_cfg.to_dict(), "seed": seed, "context": context, "penalty": penalty,
              "prompts": RL_PROMPTS, **rl}

    def build(out: Path):
        from drosophila.organisms import load_organism
        from drosophila.training import GRPOConfig, grpo

        org = load_organism(parent.path / "organism")
        cfg = GRPOConfig(**rl, seed=seed, log_every=1, description=f"graded rl s{seed}")
        res = grpo(org.model, org.tokenizer, graded_prompts(World(world_cfg), context),
                   graded_reward(penalty), cfg)
        save_trained(org, res.model, out, "graded-rl", config, res.history)
        return {"seconds": res.seconds}

    return stage("graded-rl", config, [parent.key], build, log=log)
