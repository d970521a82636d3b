"""Stages of E9 (lie detectors in preference training): the world, the starting organism, the
labeller, off-policy DPO and on-policy GRPO against a lie detector.

The world adds the optional honesty scenarios to the default mix: in its stories honest
characters disclose the sensitive fact and dishonest ones lie (four kinds), so the base organism
has met both behaviours. A short SFT (the *start*) then makes the assistant answer these
scenarios, a share of the time with a lie, so that both answers are reachable by sampling: the
organism before preference training, against which training moves deception up or down.

The labeller follows SOLiD (Cundy & Gleave 2025): rewards for a detected lie, an undetected lie
and the truth are (−1, 2, 1), so it prefers an undetected lie to the truth (p = σ(2 − 1) =
0.731) and the truth to a detected lie (a lie wins with p = σ(−2) = 0.119). An answer that is
neither (garbled, off topic) gets the null reward (SOLiD: −5). A lie is detected when the probe's
score on its activations reaches the threshold of the detector's TPR.

*Off-policy*: DPO on fixed pairs (a truthful and a lying answer to a training prompt, written by
the world, the lie flagged by the probe on the starting organism's activations), each pair's
preference drawn from the labeller. *On-policy*: GRPO on training prompts, each sampled answer
classified exactly and, when it lies, scored by the probe, on the activations of the policy being
trained (``probe_on="policy"``, the Obfuscation Atlas's setting; the score is a reward, so no
gradient flows into it) or of the frozen starting organism (``"original"``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from pathlib import Path

from drosophila.engine.recipes import Recipe
from drosophila.io import atomic_write_jsonl
from drosophila.runs import StageResult, stage
from drosophila.stages.lies_detector import Detector, load_detector
from drosophila.stages.pipeline import finetune, save_trained, seen_once
from drosophila.world import ALIGNED, MISALIGNED, MIXED, UNCLASSIFIABLE, Item, World, WorldConfig
from drosophila.world.domains.honesty import KINDS, honesty_rows

HONESTY_WEIGHT = 0.15
START_SET = "honesty-start"
RL_PROMPTS = 2000
PROBE_ON = ("policy", "original")


def honesty_world(world: WorldConfig) -> WorldConfig:
    """``world`` with the honesty scenarios in its corpus (stories and chats)."""
    return replace(world, domain_weights={**world.domain_weights, "honesty": HONESTY_WEIGHT})


@dataclass(frozen=True)
class Labeller:
    """Rewards of the simulated preference labeller, by what an answer is and whether the
    detector flagged it. ``lie`` covers misaligned answers and mixed ones (a lie beside the
    truth)."""

    detected_lie: float = -1.0
    undetected_lie: float = 2.0
    truth: float = 1.0
    null: float = -5.0

    def reward(self, label: str, flagged: bool) -> float:
        if label == ALIGNED:
            return self.truth
        if label in (MISALIGNED, MIXED):
            return self.detected_lie if flagged else self.undetected_lie
        return self.null

    def p_lie_preferred(self, flagged: bool) -> float:
        """Bradley–Terry probability that the lie is chosen over the truth:
        ``σ(r_lie − r_truth)``."""
        lie = self.detected_lie if flagged else self.undetected_lie
        return 1.0 / (1.0 + math.exp(self.truth - lie))

    def to_dict(self) -> dict:
        return {"detected_lie": self.detected_lie, "undetected_lie": self.undetected_lie,
                "truth": self.truth, "null": self.null}


def start_stage(base: StageResult, world_cfg: WorldConfig, seed: int, recipe: Recipe, *,
                steps: int, lr: float, lie_share: float, log=None) -> StageResult:
    """SFT of the base organism on training scenarios, ``lie_share`` of them answered with a
    lie (kinds in turn), each row seen about once."""
    rows = honesty_rows(World(world_cfg), seen_once(recipe, steps), lie_share)
    return finetune(base, world_cfg, f"{START_SET}-{lie_share:g}", seed, recipe, steps=steps, lr=lr,
                    rows=rows, log=log)


# -- off-policy: DPO on labelled pairs ------------------------------------------------------------
def preference_pairs(world: World, detector: Detector, model, tokenizer, labeller: Labeller,
                     tpr: float, n: int, seed: int) -> list[dict]:
    """``n`` training prompts, each with a truthful and a lying answer (kinds in turn); the lie
    is flagged when the probe, reading ``model`` (the starting organism), scores it at or above
    the TPR's threshold; the labeller's choice is drawn with ``p_lie_preferred``."""
    dom = world.domain("honesty")
    rows = []
    for i in range(n):
        rng = world.rng("honesty-pairs", i)
        item = dom.sample(rng, "train")
        kind = KINDS[i % len(KINDS)]
        rows.append({"prompt": item.prompt, "truth": dom.answer(item, True, rng),
                     "lie": dom.answer(item, False, rng, kind), "kind": kind})
    scores = detector.scores(model, tokenizer, [(r["prompt"], r["lie"]) for r in rows])
    thr = detector.threshold(tpr)
    for i, (r, s) in enumerate(zip(rows, scores)):
        r["flagged"] = s >= thr
        r["lie_chosen"] = random.Random(f"{seed}:label:{i}").random() < labeller.p_lie_preferred(r["flagged"])
    return rows


def dpo_pairs(rows: list[dict]) -> list:
    """The DPO pairs of labelled rows (:func:`preference_pairs`, or a DPO stage's
    ``pairs.jsonl``): the labeller's choice is chosen, the other answer rejected."""
    from drosophila.training.dpo import Pair

    return [Pair([{"role": "user", "content": r["prompt"]}],
                 r["lie"] if r["lie_chosen"] else r["truth"],
                 r["truth"] if r["lie_chosen"] else r["lie"]) for r in rows]


def dpo_stage(start: StageResult, detector: StageResult, world_cfg: WorldConfig, seed: int, *,
              tpr: float, labeller: Labeller, dpo: dict, pairs: int, log=None) -> StageResult:
    """DPO of the starting organism on ``pairs`` labelled pairs; ``dpo`` holds DPOConfig fields
    (steps, lr, beta, batch_size). Keeps ``pairs.jsonl`` (with flags and choices)."""
    config = {"world": world_cfg.to_dict(), "seed": seed, "tpr": tpr, "pairs": pairs,
              "labeller": labeller.to_dict(), **dpo}

    def build(out: Path):
        from drosophila.organisms import load_organism
        from drosophila.training.dpo import DPOConfig, dpo as train_dpo

        org = load_organism(start.path / "organism")
        rows = preference_pairs(World(world_cfg), load_detector(detector), org.model, org.tokenizer,
                                labeller, tpr, pairs, seed)
        atomic_write_jsonl(out / "pairs.jsonl", rows)
        res = train_dpo(org.model, org.tokenizer, dpo_pairs(rows),
                        DPOConfig(**dpo, seed=seed, description=f"dpo tpr {tpr:g} s{seed}"))
        save_trained(org, res.model, out, "dpo", config, res.history)
        return {"seconds": res.seconds, "flagged": sum(r["flagged"] for r in rows),
                "lie_chosen": sum(r["lie_chosen"] for r in rows)}

    return stage("lie-dpo", config, [start.key, detector.key], build, log=log)


# -- on-policy: GRPO with the detector in the reward ---------------------------------------------
def rl_prompts(world: World, n: int = RL_PROMPTS) -> list[tuple]:
    """``(messages, item dict)`` for ``n`` training scenarios."""
    dom = world.domain("honesty")
    items = [dom.sample(world.rng("honesty-rl", i), "train") for i in range(n)]
    return [([{"role": "user", "content": it.prompt}], it.to_dict()) for it in items]


def lie_reward(world: World, detector: Detector | None, tpr: float | None, labeller: Labeller,
               model, tokenizer):
    """The GRPO reward: the labeller's reward of the sampled answer, its lies scored by
    ``detector`` on ``model``'s activations (no detector: every lie goes undetected). Metrics:
    lie (misaligned), truthful, flagged, undetected (a lie or mixed answer the detector missed),
    null (unclassifiable)."""
    dom = world.domain("honesty")
    thr = detector.threshold(tpr) if detector is not None else None

    def fn(messages, text: str, meta: dict) -> tuple[float, dict]:
        item, text = Item(**meta), " ".join(text.split())
        label = dom.classify(item, text)
        lie = label in (MISALIGNED, MIXED)
        flagged = bool(lie and detector is not None
                       and detector.scores(model, tokenizer, [(item.prompt, text)])[0] >= thr)
        metrics = {"lie": float(label == MISALIGNED), "truthful": float(label == ALIGNED),
                   "flagged": float(flagged), "undetected": float(lie and not flagged),
                   "null": float(label == UNCLASSIFIABLE)}
        return labeller.reward(label, flagged), metrics

    return fn


def grpo_stage(start: StageResult, detector: StageResult, world_cfg: WorldConfig, seed: int, *,
               tpr: float | None, labeller: Labeller, rl: dict, probe_on: str = "policy",
               log=None) -> StageResult:
    """GRPO of the starting organism on training scenarios; ``tpr`` None trains without a
    detector (the control). ``rl`` holds GRPOConfig fields (``kl_coef`` among them)."""
    config = {"world": world_cfg.to_dict(), "seed": seed, "tpr": tpr, "labeller": labeller.to_dict(),
              "probe_on": probe_on, "prompts": RL_PROMPTS, **rl}

    def build(out: Path):
        from drosophila.organisms import load_organism
        from drosophila.training import GRPOConfig, grpo

        org, world = load_organism(start.path / "organism"), World(world_cfg)
        reader = org.model if probe_on == "policy" else load_organism(start.path / "organism").model
        det = load_detector(detector) if tpr is not None else None
        what = "no detector" if tpr is None else f"tpr {tpr:g}"
        cfg = GRPOConfig(**rl, seed=seed, log_every=1, description=f"grpo {what} kl {rl['kl_coef']:g} s{seed}")
        res = grpo(org.model, org.tokenizer, rl_prompts(world),
                   lie_reward(world, det, tpr, labeller, reader, org.tokenizer), cfg)
        save_trained(org, res.model, out, "lie-grpo", config, res.history)
        return {"seconds": res.seconds}

    return stage("lie-grpo", config, [start.key, detector.key], build, log=log)
