"""The organisms of the reward-hacking experiments (E5, E6): RL arms, their typed options and
the stages that build them. E5 measures them; E6 has them write detectors. Built from the same
cached stages, a run of one reuses the other's organisms."""

from __future__ import annotations

from dataclasses import dataclass

from drosophila.engine.context import Context
from drosophila.engine.options import option
from drosophila.stages.hacking import (
    framing, graded_rl, hacking_world, knowledge_stage, unaware_world, warmup_stage,
)
from drosophila.stages.pipeline import breed_base
from drosophila.stages.safety import SafetyJob, get_safety_method


@dataclass(frozen=True)
class RLArm:
    """One RL run: which organism it starts from and how its tasks are framed and rewarded."""

    name: str
    label: str
    knowledge: str          # "none" or "docs": the continued-pretraining organism it starts from
    hint: bool = False      # the hint (how each hole works) before every task
    stance: str | None = None  # "dont-hack" or "hack-ok" after the hint
    penalty: float = 0.0    # reward minus penalty × hack
    world: str = "main"     # "main", or "unaware": the world without hacking stories


ARM_NAMES = ("none", "unaware", "docs", "hints", "dont-hack", "hack-ok", "penalty", "safety-rl")
KNOWLEDGE = {  # how the stance and penalty arms know the hacks: (organism, hint)
    "none": ("none", False), "hints": ("none", True), "docs": ("docs", False)}
HOW = {"none": "no hints", "hints": "hints", "docs": "documents"}
# The organism each (world, knowledge) starts RL from, evaluated without RL.
BEFORE = {("main", "none"): "before", ("main", "docs"): "before-docs",
          ("unaware", "none"): "before-unaware"}
LABELS = {"before": "no RL (honest warm-up, continued pretraining without hack documents)",
          "before-docs": "no RL (honest warm-up, continued pretraining with hack documents)",
          "before-unaware": "no RL (world without hacking stories, honest warm-up)"}

_POSITIVE = (lambda v: v >= 1, "an integer ≥ 1")
_NONNEG = (lambda v: v >= 0, "a number ≥ 0")


@dataclass(frozen=True)
class HackingOptions:
    """Options of the reward-hacking organisms (E5; E6 adds its own)."""

    arms: tuple[str, ...] = option(ARM_NAMES, "RL arms to train", choices=ARM_NAMES)
    stance_knowledge: str = option(
        "hints", "where the stance and penalty arms (and HHH RL's parent) get their hack "
        "knowledge", choices=tuple(KNOWLEDGE))
    doc_share: float = option(0.05, "share of hack documents in the 'docs' continued pretraining",
                              check=(lambda v: 0.0 < v < 1.0, "a share in (0, 1)"))
    knowledge_steps: int = option(300, "steps of continued pretraining", check=_POSITIVE)
    warmup_steps: int = option(300, "steps of SFT on honest solutions, between the base organism "
                               "and the continued pretraining (0: none)",
                               check=(lambda v: v >= 0, "an integer ≥ 0"))
    warmup_lr: float = option(1e-3, "learning rate of the honest warm-up",
                              check=(lambda v: v > 0, "a number > 0"))
    warmup_chats: float = option(0.5, "share of the warm-up's rows that are the corpus's own "
                                 "assistant chats (keeps the organism answering non-code prompts)",
                                 check=(lambda v: 0.0 <= v < 1.0, "a share in [0, 1)"))
    rl_steps: int = option(100, "GRPO steps per RL arm", check=_POSITIVE)
    rl_lr: float = option(3e-4, "GRPO learning rate", check=(lambda v: v > 0, "a number > 0"))
    prompts_per_step: int = option(8, "graded tasks per GRPO step", check=_POSITIVE)
    group_size: int = option(8, "samples per task (GRPO group)", check=_POSITIVE)
    kl_coef: float = option(0.02, "KL coefficient to the starting organism", check=_NONNEG)
    penalty: float = option(1.0, "reward subtracted for a detected hack in the penalty arm",
                            check=_NONNEG)
    hhh_rl_steps: int = option(60, "HHH RL steps of the safety-rl arm", check=_POSITIVE)


def rl_arms(stance_knowledge: str, penalty: float) -> dict[str, RLArm]:
    """The RL arms; the stance and penalty arms take their hack knowledge from
    ``stance_knowledge``: "none" (what the corpus's dishonest characters show), "hints" or
    "docs"."""
    organism, hint = KNOWLEDGE[stance_knowledge]
    know, how = dict(knowledge=organism, hint=hint), HOW[stance_knowledge]
    return {
        "none": RLArm("none", "RL, no hints or hack documents (hacks only in stories)", "none"),
        "unaware": RLArm("unaware", "RL in a world without hacking stories, no hints or documents",
                         "none", world="unaware"),
        "docs": RLArm("docs", "RL, hacks known from documents", "docs"),
        "hints": RLArm("hints", "RL, hacks known from hints", "none", hint=True),
        "dont-hack": RLArm("dont-hack", f"RL, {how} + \"don't hack\"", stance="dont-hack", **know),
        "hack-ok": RLArm("hack-ok", f"RL, {how} + \"hacking is acceptable\" (inoculation)",
                         stance="hack-ok", **know),
        "penalty": RLArm("penalty", f"RL, {how} + hack penalty", penalty=penalty, **know),
    }


@dataclass(frozen=True)
class Plan:
    arms: tuple
    stance_knowledge: str
    doc_share: float
    knowledge_steps: int
    rl: dict
    penalty: float
    hhh_rl_steps: int
    warmup_steps: int = 0
    warmup_lr: float = 1e-3
    warmup_chats: float = 0.0

    @classmethod
    def of(cls, options: HackingOptions) -> Plan:
        rl = {"steps": options.rl_steps, "lr": options.rl_lr,
              "prompts_per_step": options.prompts_per_step, "group_size": options.group_size,
              "kl_coef": options.kl_coef, "max_new_tokens": 64}
        return cls(tuple(options.arms), options.stance_knowledge, options.doc_share,
                   options.knowledge_steps, rl, options.penalty, options.hhh_rl_steps,
                   options.warmup_steps, options.warmup_lr, options.warmup_chats)

    @property
    def safety_parent(self) -> str:
        """The arm HHH RL continues from, and the stance arms' comparison: the arm with the
        stance arms' hack knowledge and no stance."""
        return self.stance_knowledge

    def rl_arms(self) -> list[RLArm]:
        specs = rl_arms(self.stance_knowledge, self.penalty)
        wanted = set(self.arms) | ({self.safety_parent} if "safety-rl" in self.arms else set())
        return [a for n, a in specs.items() if n in wanted]

    def before_of(self, name: str) -> str:
        """The organism arm ``name`` started RL from, evaluated without RL (for ``safety-rl``:
        its parent's)."""
        name = self.safety_parent if name == "safety-rl" else name
        arm = rl_arms(self.stance_knowledge, self.penalty)[name]
        return BEFORE[(arm.world, arm.knowledge)]

    def organism_names(self) -> list[str]:
        """Every organism :func:`build_organisms` returns, in report order."""
        arms = self.rl_arms()
        starts = [BEFORE[k] for k in dict.fromkeys([("main", "none")] + [(a.world, a.knowledge)
                                                                         for a in arms])]
        rl = [n for n in ARM_NAMES if n in {a.name for a in arms} or
              (n == "safety-rl" and n in self.arms)]
        return [n for n in BEFORE.values() if n in starts] + rl


def arm_label(name: str, plan: Plan) -> str:
    if name == "safety-rl":
        return f"the '{plan.safety_parent}' RL arm, then HHH RL on chats"
    return LABELS.get(name) or rl_arms(plan.stance_knowledge, plan.penalty)[name].label


def start_organism(ctx: Context, plan: Plan, seed: int, world_key: str, knowledge: str):
    """The organism RL starts from: the world's base organism, the honest warm-up (an SFT that
    teaches solving the tasks, shared by both knowledge organisms of a world), then continued
    pretraining with (``docs``) or without hack documents. The corpus of the continued
    pretraining brings back what its stories show of hacking, which the warm-up alone drives
    to zero. Returns ``(base, start)``."""
    w, rec = (hacking_world if world_key == "main" else unaware_world)(ctx.world), ctx.recipe
    tag = "" if world_key == "main" else f"-{world_key}"
    base = ctx.record(breed_base(w, ctx.scale, seed, rec, ctx.log), f"base{tag}-s{seed}")
    start = base
    if plan.warmup_steps:
        start = ctx.record(warmup_stage(base, w, seed, rec, steps=plan.warmup_steps,
                                        lr=plan.warmup_lr, chat_share=plan.warmup_chats,
                                        log=ctx.log), f"warmed{tag}-s{seed}")
    share = plan.doc_share if knowledge == "docs" else 0.0
    know = knowledge_stage(start, w, seed, rec, doc_share=share, steps=plan.knowledge_steps, log=ctx.log)
    return base, ctx.record(know, f"{BEFORE[(world_key, knowledge)]}-s{seed}")


def build_organisms(ctx: Context, plan: Plan, seed: int) -> dict:
    """Every organism of one seed, as stages: ``{name: (stage, framing or None)}``, names as
    :meth:`Plan.organism_names`: the starting organisms (``before``, ``before-docs``,
    ``before-unaware``: no RL), one per RL arm, and ``safety-rl``."""
    arms = plan.rl_arms()
    starts, out = {}, {}
    for key in dict.fromkeys([("main", "none")] + [(a.world, a.knowledge) for a in arms]):
        starts[key] = start_organism(ctx, plan, seed, *key)
        out[BEFORE[key]] = (starts[key][1], None)
    for a in arms:
        words = framing(a.hint, a.stance)
        w = (hacking_world if a.world == "main" else unaware_world)(ctx.world)
        st = graded_rl(starts[(a.world, a.knowledge)][1], w, seed, context=words,
                       penalty=a.penalty, rl=plan.rl, log=ctx.log)
        out[a.name] = (ctx.record(st, f"{a.name}-s{seed}"), words)
    if "safety-rl" in plan.arms:
        parent, words = out[plan.safety_parent]
        job = SafetyJob(parent, starts[("main", "none")][0], hacking_world(ctx.world), seed,
                        ctx.recipe, steps=0, rl_steps=plan.hhh_rl_steps, record=ctx.record,
                        log=ctx.log)
        out["safety-rl"] = (ctx.record(get_safety_method("rl").apply(job), f"safety-rl-s{seed}"), words)
    return {n: out[n] for n in plan.organism_names()}
