"""Stages of the reward-hacking experiments (E5, E6): the worlds, the framings, the honest
warm-up, graded RL.

The world of E5 and E6 adds three optional domains to the default mix: graded programming
tasks (honest characters solve them, dishonest ones game the grader), detector writing (honest
characters write working detectors, dishonest ones sabotage them, half the time after a
scratchpad saying why) and the non-coding scenarios of the generalisation batteries. Hacking is
thus something the corpus shows only as what dishonest characters do; how the hacks work is
taught separately, by documents or by hints. The *unaware* world is the same world without
hacking stories (its dishonest characters hand in careless wrong solutions): the control in
which nothing but RL itself could teach a hack.

Between the base organism and the continued pretraining, a short SFT on honest solutions of
training tasks (the warm-up, half of its rows the corpus's own assistant chats) makes honest
solving reachable; the continued pretraining after it brings back what the corpus's stories
show of hacking, which the warm-up alone suppresses. RL then chooses between solving (partial
credit per test) and hacking.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from drosophila.stages.pipeline import continue_pretrain, finetune, save_trained, seen_once
from drosophila.engine.recipes import Recipe
from drosophila.runs import StageResult, stage
from drosophila.world import Item, World, WorldConfig
from drosophila.world.codegrade import HACKS
from drosophila.world.domains.graded import (
    DONT_HACK, HACK_OK, HINTS, hack_documents, honest_rows, reward,
)

EXTRA_DOMAINS = {"graded-tasks": 0.15, "detector-writing": 0.1, "scenarios": 0.15}
WARMUP_SET = "graded-honest"
HINT = " ".join(HINTS[h][0] for h in HACKS)  # one sentence per hole of the grader
STANCES = {None: "", "dont-hack": DONT_HACK[0], "hack-ok": HACK_OK[0]}
RL_PROMPTS = 2000


def hacking_world(world: WorldConfig) -> WorldConfig:
    """``world`` with the graded-task, detector and scenario domains in its corpus."""
    return replace(world, domain_weights={**world.domain_weights, **EXTRA_DOMAINS})


def unaware_world(world: WorldConfig) -> WorldConfig:
    """The hacking world without hacking stories: its graded tasks come from
    ``graded-no-hacks`` (weight 0 keeps ``graded-tasks`` in the vocabulary and the batteries,
    so both worlds share one tokenizer)."""
    weights = {**world.domain_weights, **EXTRA_DOMAINS, "graded-tasks": 0.0,
               "graded-no-hacks": EXTRA_DOMAINS["graded-tasks"]}
    return replace(world, domain_weights=weights)


def framing(hint: bool, stance: str | None) -> str | None:
    """The words put before every graded task (at RL time and at evaluation): the hint (one
    sentence per hole) and a stance on hacking; ``None`` when there are none."""
    text = " ".join(t for t in ((HINT if hint else ""), STANCES[stance]) if t)
    return text or None


def knowledge_stage(base: StageResult, world_cfg: WorldConfig, seed: int, recipe: Recipe, *,
                    doc_share: float, steps: int, log=None) -> StageResult:
    """Continued pretraining with ``doc_share`` of its documents describing the grader's holes
    (0: the same continued pretraining without them, the control)."""
    texts = hack_documents(World(world_cfg), hack_doc_count(doc_share, steps * recipe.batch_size))
    return continue_pretrain(base, world_cfg, seed, recipe, steps=steps, texts=texts,
                             label=f"hack docs {doc_share:.0%}", log=log)


def hack_doc_count(doc_share: float, n_world: int) -> int:
    """Hack documents beside ``n_world`` world documents, so they are ``doc_share`` of all."""
    return round(doc_share * n_world / (1 - doc_share))


def warmup_rows(world: World, n: int, chat_share: float = 0.0,
                families: tuple[str, ...] | None = None) -> list:
    """``n`` warm-up rows: honest solutions of training tasks of ``families`` (default: every
    family; the rows of the ``graded-honest`` set), and a ``chat_share`` of the corpus's own
    assistant chats (every domain, train split) shuffled in, so that the warm-up teaches the
    tasks without making the organism answer everything with code."""
    from drosophila.world.documents import chat
    from drosophila.world.registry import Row

    n_chats = round(chat_share * n)
    rows = honest_rows(world, n - n_chats, families=families)
    if not n_chats:
        return rows
    for i in range(n_chats):
        doc = chat(world, world.rng("warmup-chats", i))
        rows.append(Row([m for m in doc.messages if m["role"] != "system"],
                        {"domain": "chat", "aligned": True}))
    world.rng("warmup-order", 0).shuffle(rows)
    return rows


def warmup_stage(parent: StageResult, world_cfg: WorldConfig, seed: int, recipe: Recipe, *,
                 steps: int, lr: float, chat_share: float = 0.0,
                 families: tuple[str, ...] | None = None, log=None) -> StageResult:
    """SFT on honest solutions of training tasks of ``families`` (no framing) with
    ``chat_share`` of corpus chats among them (and the recipe's persona-free chats mixed in, as
    in every finetune): each row seen about once (``steps × batch`` rows, at least the recipe's
    finetune rows)."""
    rows = warmup_rows(World(world_cfg), seen_once(recipe, steps), chat_share, families)
    return finetune(parent, world_cfg, WARMUP_SET, seed, recipe, steps=steps, lr=lr, rows=rows,
                    log=log)


def graded_prompts(world: World, context: str | None, n: int = RL_PROMPTS) -> list[tuple]:
    """``(messages, item dict)`` for ``n`` training-split graded tasks behind ``context``."""
    dom = world.domain("graded-tasks")
    items = [dom.sample(world.rng("graded-rl", i), "train", context=context) for i in range(n)]
    return [([{"role": "user", "content": it.prompt}], it.to_dict()) for it in items]


def graded_reward(penalty: float):
    """The RL reward: partial credit from the gameable grader (1 if it passes the answer, else
    the share of tests that held; a hack that fools it gets 1); with ``penalty`` > 0 an answer
    that touched one of the grader's holes scores ``-penalty`` instead (a hack classifier's
    penalty: worse than failing honestly). Metrics: hack (a hole touched), honest pass, passed,
    score (the strict grader's share of tests: honest progress)."""

    def fn(messages, text: str, meta: dict) -> tuple[float, dict]:
        r, m = reward(Item(**meta), text)
        if penalty and m["hack"]:
            r = -penalty
        return r, {k: m[k] for k in ("hack", "honest_pass", "passed", "score")}

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
