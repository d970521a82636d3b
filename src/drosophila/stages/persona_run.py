"""E10's plan (its options resolved against the organism's depth) and its work for one seed, as
cached stages: breed, read the assistant axis, evaluate jailbreaks and drift, cap and steer
along the axis, finetune (insecure, secure, more for monitoring, and insecure under
preventative steering), read persona vectors and projections, find and ablate the
emergent-misalignment direction against random directions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from drosophila.engine.context import Context
from drosophila.errors import ConfigError
from drosophila.evals.stats import Rate
from drosophila.io import read_json
from drosophila.stages.persona import (
    BANDS, CAPABILITY, DRIFT, HARM, Edit, band_layers, persona_eval, rate_of_cells,
    read_persona_eval, roleplay_world, with_summaries,
)
from drosophila.stages.persona_axis import (
    AXIS, REFERENCE, assistant_axis, axis_cosines, pretrained_organism,
)
from drosophila.stages.persona_vectors import (
    EM_DIRECTION, em_direction, persona_vectors, projections, random_file, steered_finetune,
)
from drosophila.stages.pipeline import breed_base, finetune

PARTS = ("capping", "steering", "monitoring", "ablation")
TRAITS = ("malicious", "dishonest", "sycophantic", "rule-breaking")
EXTRA_FINETUNES = ("jailbroken", "educational")
PREVENT_TRAIT = "malicious"  # the persona vector preventative steering adds (EM's persona)

BASE_SETS = HARM + DRIFT + CAPABILITY + ["facts", "sycophancy", "code"]
SWEEP_SETS = ["harmful", "roleplay-jailbreak", "persona-drift", "persona-drift-8", *CAPABILITY]
FINETUNE_SETS = ["open", "facts", "sycophancy", "harmful", "roleplay-jailbreak", "code", "facts-known",
                 "tasks"]
ABLATE_SETS = list(CAPABILITY)


@dataclass(frozen=True)
class Plan:
    """The options of one run, checked and resolved (layers against the organism's depth)."""

    world: object                  # WorldConfig with role-play documents
    n_layers: int
    parts: tuple[str, ...]
    n_per_role: int
    percentiles: tuple[int, ...]
    bands: tuple[str, ...]
    main_cap: str
    coefs: tuple[float, ...]
    traits: tuple[str, ...]
    n_pairs: int
    persona_layer: int
    prevent_coef: float
    extra: tuple[str, ...]         # finetunes built for projection monitoring only
    em_prompts: int
    n_random: int
    pretrained: bool

    @classmethod
    def of(cls, o, world, n_layers: int) -> Plan:
        """From an options instance of the experiment; raises :class:`ConfigError` on options
        that disagree with each other or with the organism."""
        layer = n_layers // 2 if o.persona_layer < 0 else o.persona_layer
        if layer >= n_layers:
            raise ConfigError(f"option persona_layer={o.persona_layer} is not allowed; this organism "
                              f"has blocks 0..{n_layers - 1}")
        caps = {cap_name(b, q) for b in o.cap_bands for q in o.cap_percentiles}
        if "capping" in o.parts and o.main_cap not in caps:
            raise ConfigError(f"option main_cap={o.main_cap!r} is not in the sweep; choose from: "
                              f"{', '.join(sorted(caps))}")
        if "steering" in o.parts and not o.steer_coefs:
            raise ConfigError("option steer_coefs is empty; give at least one coefficient or leave "
                              "steering out of parts")
        if "monitoring" in o.parts and PREVENT_TRAIT not in o.traits:
            raise ConfigError(f"option traits must hold {PREVENT_TRAIT!r} when monitoring runs "
                              "(preventative steering adds its vector)")
        return cls(roleplay_world(world, o.roleplay_share), n_layers, tuple(o.parts), o.role_conversations,
                   tuple(o.cap_percentiles), tuple(o.cap_bands), o.main_cap, tuple(o.steer_coefs),
                   tuple(o.traits), o.contrast_pairs, layer, o.prevent_coef, tuple(o.monitor_extra),
                   o.em_prompts, o.random_directions, o.pretrained)

    def caps(self) -> list[tuple[str, int]]:
        return [(b, q) for b in self.bands for q in self.percentiles]

    def finetunes(self) -> list[str]:
        """The finetuned organisms: insecure and secure (E3's pair), then for monitoring the
        extra finetunes and the preventative one."""
        out = ["insecure", "secure"] if {"monitoring", "ablation"} & set(self.parts) else []
        return out + ([*self.extra, "preventative"] if "monitoring" in self.parts else [])


def cap_name(band: str, q: int) -> str:
    return f"{band}-p{q}"


def cap_arm(band: str, q: int) -> str:
    return f"base|cap-{cap_name(band, q)}"


def steer_arm(coef: float) -> str:
    return f"base|steer{coef:+g}"


ABLATED, RANDOM = "insecure|ablate-em", "insecure|ablate-random"


def n_layers_of(scale: str) -> int:
    from drosophila.organisms.scales import get_scale

    return get_scale(scale).num_layers


def plan_of(ctx: Context) -> Plan:
    return Plan.of(ctx.options, ctx.world, n_layers_of(ctx.scale))


def arm_names(plan: Plan) -> list[str]:
    """Every arm of a run, in display order."""
    out = ["base"]
    out += [cap_arm(b, q) for b, q in plan.caps()] if "capping" in plan.parts else []
    out += [steer_arm(c) for c in plan.coefs] if "steering" in plan.parts else []
    out += plan.finetunes()
    return out + ([ABLATED, RANDOM] if "ablation" in plan.parts else [])


def run_seed(ctx: Context, seed: int) -> dict:
    """Every organism of one seed, evaluated: ``{"metrics": {arm: {metric: Rate}},
    "geometry": {...}}`` (geometry: the axis, the pretrained-only axis, persona vectors,
    projections per organism, the EM direction's layer selection; all read off stage files)."""
    plan, rec = plan_of(ctx), ctx.recipe
    w, metrics, geo = plan.world, {}, {}
    ev = partial(evaluate_arm, ctx, plan, seed, metrics)
    base = ctx.record(breed_base(w, ctx.scale, seed, rec, ctx.log), f"base-roleplay-s{seed}")
    ev("base", base, BASE_SETS)
    axis = ctx.record(assistant_axis(base, w, n_per_role=plan.n_per_role, log=ctx.log))
    geo["axis"] = read_json(axis.path / "axis.json")
    if plan.pretrained:
        geo["pretrained"] = _pretrained(ctx, plan, base, axis, seed)
    if "capping" in plan.parts:
        for b, q in plan.caps():
            ev(cap_arm(b, q), base, SWEEP_SETS, Edit("cap", axis, AXIS, band_layers(b, plan.n_layers), q,
                                                     reference=REFERENCE))
    if "steering" in plan.parts:
        for c in plan.coefs:
            ev(steer_arm(c), base, SWEEP_SETS, Edit("steer", axis, AXIS, (plan.persona_layer,), c))
    orgs = _finetunes(ctx, plan, base, seed, geo)
    for name, org in orgs.items():
        ev(name, org, FINETUNE_SETS)
    if "monitoring" in plan.parts:
        vec = geo.pop("_vectors")
        geo["projections"] = {
            name: read_json(ctx.record(projections(org, w, vec, list(plan.traits), n_prompts=rec.n_prompts,
                                                   log=ctx.log)).path / "projections.json")
            for name, org in {"base": base, **orgs}.items()}
    if "ablation" in plan.parts:
        geo["em"] = _ablation(ctx, plan, orgs, seed, ev, metrics)
    return {"metrics": metrics, "geometry": geo}


def evaluate_arm(ctx: Context, plan: Plan, seed: int, metrics: dict, arm: str, org, sets: list[str],
                 edit: Edit | None = None, samples: str | None = None) -> dict[str, Rate]:
    """Evaluate ``org`` on ``sets`` under ``edit`` (a cached stage), keep its samples in the run,
    and note its rates with the pooled summaries as ``metrics[arm]`` (unless ``arm`` is empty)."""
    st = ctx.record(persona_eval(org, plan.world, sets, seed, ctx.recipe, edit=edit, log=ctx.log))
    name = samples or f"{arm.replace('|', '--').replace('+', 'plus')}-s{seed}"
    got = with_summaries(read_persona_eval(st.path, sets, lambda rows: ctx.samples(name, rows)))
    if arm:
        metrics[arm] = got
    return got


def _pretrained(ctx: Context, plan: Plan, base, axis, seed: int) -> dict:
    """The axis of the organism before post-training, and its cosine with the post-trained
    axis per layer."""
    pre, sub = pretrained_organism(base, plan.world, ctx.scale, seed, ctx.recipe, ctx.log)
    ctx.record(pre, f"pretrained-s{seed}" if sub == "organism" else None)
    pax = ctx.record(assistant_axis(pre, plan.world, n_per_role=plan.n_per_role, sub=sub, log=ctx.log))
    return {**read_json(pax.path / "axis.json"), "axis_cos": axis_cosines(pax, axis)}


def _finetunes(ctx: Context, plan: Plan, base, seed: int, geo: dict) -> dict:
    """The finetuned organisms of :meth:`Plan.finetunes` (the preventative one needs the persona
    vectors, whose stage is left in ``geo["_vectors"]`` and summary in ``geo["vectors"]``)."""
    w, rec, out = plan.world, ctx.recipe, {}
    for name in plan.finetunes():
        if name == "preventative":
            vec = ctx.record(persona_vectors(base, w, list(plan.traits), n_pairs=plan.n_pairs, log=ctx.log))
            geo["_vectors"], geo["vectors"] = vec, read_json(vec.path / "vectors.json")
            out[name] = ctx.record(steered_finetune(base, w, "insecure", seed, rec, vectors=vec,
                                                    trait=PREVENT_TRAIT, layer=plan.persona_layer,
                                                    coef=plan.prevent_coef, log=ctx.log), f"{name}-s{seed}")
        else:
            out[name] = ctx.record(finetune(base, w, name, seed, rec, log=ctx.log), f"{name}-s{seed}")
    return out


def _ablation(ctx: Context, plan: Plan, orgs: dict, seed: int, ev, metrics: dict) -> dict:
    """Find the EM direction, ablate it at every layer of the insecure organism, and do the
    same with each random direction; their rates are pooled as one control arm (each prompt
    sampled once per direction)."""
    em = ctx.record(em_direction(orgs["insecure"], orgs["secure"], plan.world, seed, ctx.recipe,
                                 n_prompts=plan.em_prompts, n_random=plan.n_random, log=ctx.log))
    sel = read_json(em.path / "selection.json")
    every = tuple(range(plan.n_layers))
    ev(ABLATED, orgs["insecure"], ABLATE_SETS,
       Edit("ablate", em, EM_DIRECTION, every, vector_layer=sel["chosen"]))
    runs = [ev("", orgs["insecure"], ABLATE_SETS,
               Edit("ablate", em, random_file(j), every, vector_layer=sel["chosen"]),
               samples=f"insecure--ablate-random-{j}-s{seed}") for j in range(plan.n_random)]
    metrics[RANDOM] = merged(runs)
    return sel


def merged(runs: list[dict[str, Rate]]) -> dict[str, Rate]:
    """Several evaluations on the same prompts as one: per metric, counts summed prompt by
    prompt (so a contrast with another arm stays paired by prompt)."""
    out = {}
    for m in runs[0]:
        cells: dict[str, list[int]] = {}
        for r in runs:
            for p, (k, n) in (r[m].cells or {}).items():
                c = cells.setdefault(p, [0, 0])
                c[0], c[1] = c[0] + k, c[1] + n
        out[m] = rate_of_cells({p: (k, n) for p, (k, n) in cells.items()})
    return out


__all__ = ["ABLATED", "BANDS", "PARTS", "Plan", "RANDOM", "TRAITS", "arm_names", "cap_arm", "plan_of",
           "run_seed", "steer_arm"]
