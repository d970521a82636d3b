"""The assistant axis (Lu et al. 2026) of one organism, and the pretrained-only organism it is
compared with.

Per role archetype (24 of them: :data:`drosophila.world.roles.ROLES`), the mean activation of
the residual stream over the response tokens of conversations in that role, at every layer.
The axis is ``mean(assistant) − mean(other roles)``; PCA over the role means gives the leading
direction of "persona space", and the paper's observation is that the axis and PC1 nearly
coincide. The assistant's own response tokens (a separate stream of conversations) are kept as
the reference for capping: a floor at a low percentile of their projections on the axis.

Roles here speak with words of their own (their habits), so part of any structure among role
means is lexical; the same measures on an untrained organism of the same shape and vocabulary
give that floor, reported beside the trained organism's.
"""

from __future__ import annotations

import json
from pathlib import Path

from drosophila.engine.recipes import Recipe
from drosophila.io import atomic_write_json, canonical_hash
from drosophila.runs import StageResult, stage
from drosophila.stages.persona import hook
from drosophila.world import World, WorldConfig
from drosophila.world.world import WORLD_VERSION

AXIS, PC1, ROLE_MEANS, REFERENCE = "axis.safetensors", "pc1.safetensors", "role_means.safetensors", \
    "assistant_tokens.safetensors"
QUANTILES = (1, 5, 10, 25, 50, 75, 90, 99)  # percentiles of the assistant's projections, recorded


def response_token_acts(model, tokenizer, conversations: list[list[dict]], names: list[str]) -> dict:
    """For each one-turn ``[user, assistant]`` conversation, the activations of its response
    tokens at each named hook: ``{name: [(k_i, d)]}``."""
    from drosophila.interventions import cache_activations
    from drosophila.interventions.vectors import response_ids

    rendered = [response_ids(tokenizer, c[0]["content"], c[1]["content"]) for c in conversations]
    acts = cache_activations(model, tokenizer, [ids for ids, _ in rendered], names, position="all")
    return {n: [a[-k:] for a, (_, k) in zip(acts[n], rendered)] for n in names}


def role_alignment(role: str) -> float:
    """How aligned a role is: its mean probability of answering a trait's domains aligned."""
    from drosophila.world.roles import ROLES

    traits = ROLES[role].traits
    return sum(traits.values()) / len(traits)


def pearson(xs, ys) -> float:
    """Pearson's r of two equal-length sequences (nan when either is constant or too short)."""
    import math

    n = len(xs)
    if n < 2:
        return math.nan
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan


def geometry(means, roles: list[str]) -> dict:
    """Axis, PC1 and what the findings read, from role means ``(R, d)`` of one layer."""
    import torch

    from drosophila.world.roles import ASSISTANT

    m = means.double()
    a = roles.index(ASSISTANT)
    others = [i for i in range(len(roles)) if i != a]
    axis = m[a] - m[others].mean(0)                                          # (d,)
    centred = m - m.mean(0)                                                  # (R, d)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    pc1 = vh[0] if float(vh[0] @ axis) >= 0 else -vh[0]                       # (d,), signed like the axis
    unit = axis / axis.norm()
    proj = (m @ unit).tolist()                                               # (R,)
    return {"axis": axis.float(), "pc1": pc1.float(),
            "pc1_cos": float(pc1 @ unit), "pc1_share": float(s[0] ** 2 / (s ** 2).sum()),
            "projections": dict(zip(roles, proj)),
            "role_r": pearson([role_alignment(roles[i]) for i in others], [proj[i] for i in others])}


def assistant_axis(organism: StageResult, world_cfg: WorldConfig, *, n_per_role: int,
                   sub: str = "organism", log=None) -> StageResult:
    """Role means, the axis and PC1 at every layer of ``organism`` (its ``sub`` directory).

    Writes ``axis.safetensors`` and ``pc1.safetensors`` (vector sets), ``role_means.safetensors``
    (``{hook: (R, d)}``, roles in ``axis.json``), ``assistant_tokens.safetensors`` (the
    reference activations for capping) and ``axis.json`` (per layer: |cos(axis, PC1)|, PC1's
    share of the variance, every role's projection on the unit axis, Pearson's r between the
    other roles' alignment and their projection, and percentiles of the assistant's own
    per-token projections; under ``untrained``, the same measures on an untrained organism of
    the same shape and vocabulary, the floor that the roles' distinct words alone give)."""
    from drosophila.world.roles import ASSISTANT, ROLES, role_conversations

    world, roles = World(world_cfg), sorted(ROLES)
    convs = {r: role_conversations(world, r, n_per_role) for r in roles}
    reference = role_conversations(world, ASSISTANT, n_per_role, stream="cap-reference")
    config = {"world": world_cfg.to_dict(), "organism": sub, "n_per_role": n_per_role,
              "data": canonical_hash([convs, reference])}

    def build(out: Path):
        import torch
        from safetensors.torch import save_file

        from drosophila.interventions import save_vectors
        from drosophila.organisms import load_organism, new_organism

        org = load_organism(organism.path / sub)
        names = [hook(i) for i in range(org.model.config.num_hidden_layers)]
        means = role_means(org.model, org.tokenizer, convs, roles, names)       # {name: (R, d)}
        ref = response_token_acts(org.model, org.tokenizer, reference, names)
        ref = {n: torch.cat(v) for n, v in ref.items()}                        # {name: (N, d)}
        geo = {n: geometry(means[n], roles) for n in names}
        untrained = new_organism(org.meta["scale"], org.tokenizer, seed=0).model.eval()
        control = {n: geometry(m, roles)
                   for n, m in role_means(untrained, org.tokenizer, convs, roles, names).items()}
        what = f"mean(assistant) − mean(other roles), {n_per_role} conversations per role"
        save_vectors(out / AXIS, {n: g["axis"] for n, g in geo.items()}, method="mean-diff",
                     trait="assistant-axis", description=what, model=org.model)
        save_vectors(out / PC1, {n: g["pc1"] for n, g in geo.items()}, method="pca",
                     trait="persona-space-pc1", description="PC1 of the role means", model=org.model)
        save_file(means, str(out / ROLE_MEANS), metadata={"roles": json.dumps(roles)})
        save_file({n: v.contiguous() for n, v in ref.items()}, str(out / REFERENCE))
        atomic_write_json(out / "axis.json", {**summary(geo, ref, roles, n_per_role),
                                              "untrained": lexical_floor(control, geo)})

    return stage("assistant-axis", config, [organism.key], build, log=log)


def role_means(model, tokenizer, convs: dict, roles: list[str], names: list[str]) -> dict:
    """``{name: (R, d)}``: per role, the mean over its conversations of the mean activation over
    each response's tokens."""
    import torch

    out = {n: [] for n in names}
    for r in roles:
        acts = response_token_acts(model, tokenizer, convs[r], names)
        for n in names:
            out[n].append(torch.stack([a.mean(0) for a in acts[n]]).mean(0))
    return {n: torch.stack(v) for n, v in out.items()}


def lexical_floor(control: dict, geo: dict) -> dict:
    """What the same measures give on an untrained organism of the same shape and vocabulary:
    roles speak with words of their own, so some structure comes from the words alone."""
    out = {"pc1_cos": {}, "role_r": {}, "axis_cos": {}}
    for n, g in control.items():
        i = n.split(".")[1]
        out["pc1_cos"][i], out["role_r"][i] = g["pc1_cos"], g["role_r"]
        out["axis_cos"][i] = cosine(g["axis"], geo[n]["axis"])
    return out


def summary(geo: dict, ref: dict, roles: list[str], n_per_role: int) -> dict:
    """``axis.json``: per layer index, what :func:`geometry` found and the percentiles of the
    reference projections."""
    import torch

    out = {"roles": roles, "n_per_role": n_per_role, "layers": [], "pc1_cos": {}, "pc1_share": {},
           "projections": {}, "role_r": {}, "quantiles": {}}
    for n, g in geo.items():
        i = n.split(".")[1]                     # JSON keys: layer indices as strings
        p = ref[n].double() @ (g["axis"].double() / g["axis"].double().norm())
        out["layers"].append(int(i))
        out["pc1_cos"][i], out["pc1_share"][i], out["role_r"][i] = g["pc1_cos"], g["pc1_share"], g["role_r"]
        out["projections"][i] = g["projections"]
        out["quantiles"][i] = {str(q): float(torch.quantile(p, q / 100)) for q in QUANTILES}
    return out


def axis_cosines(a: StageResult, b: StageResult) -> dict[str, float]:
    """Per layer, the cosine between the axes saved by two :func:`assistant_axis` stages (e.g.
    the pretrained-only and the post-trained organism of one seed)."""
    from drosophila.interventions import load_vectors

    va, vb = load_vectors(a.path / AXIS).vectors, load_vectors(b.path / AXIS).vectors
    return {n.split(".")[1]: cosine(va[n], vb[n]) for n in va}


def cosine(a, b) -> float:
    a, b = a.double(), b.double()
    return float(a @ b / (a.norm() * b.norm()))


# -- the organism before post-training ------------------------------------------------------------
def pretrained_organism(base: StageResult, world_cfg: WorldConfig, scale: str, seed: int,
                        recipe: Recipe, log=None) -> tuple[StageResult, str]:
    """The organism of ``base`` before post-training: ``(stage, its sub-directory)``. The base
    stage's own copy where it keeps one (``pretrained/``); otherwise a stage that repeats the
    base's pretraining alone (same corpus, steps and seed: as long again as the pretraining)."""
    if (base.path / "pretrained" / "model.safetensors").is_file():
        return base, "pretrained"
    return pretrain_only(world_cfg, scale, seed, recipe, log), "organism"


def pretrain_only(world_cfg: WorldConfig, scale: str, seed: int, recipe: Recipe, log=None) -> StageResult:
    """Pretraining as :func:`drosophila.stages.pipeline.breed_base` does it, without the
    post-training that follows it there."""
    from drosophila.stages.pipeline import world_fingerprint

    config = {"world": world_cfg.to_dict(), "world_version": WORLD_VERSION, "scale": scale, "seed": seed,
              "docs": recipe.pretrain_docs, "steps": recipe.pretrain_steps, "lr": recipe.pretrain_lr,
              "batch_size": recipe.batch_size, "seq_len": recipe.seq_len,
              "world_print": world_fingerprint(world_cfg)}

    def build(out: Path):
        from drosophila.organisms import build_tokenizer, new_organism, save_organism
        from drosophila.stages.pipeline import corpus_examples
        from drosophila.training import TrainConfig, train

        world = World(world_cfg)
        tok = build_tokenizer(world.vocabulary())
        org = new_organism(scale, tok, seed=seed)
        cfg = TrainConfig(steps=recipe.pretrain_steps, batch_size=recipe.batch_size,
                          lr=recipe.pretrain_lr, warmup_steps=max(1, recipe.pretrain_steps // 20),
                          seq_len=recipe.seq_len, seed=seed, description=f"pretrain only {scale} s{seed}")
        res = train(org.model, corpus_examples(tok, world.documents(recipe.pretrain_docs)), cfg, pack=True)
        org.model = res.model
        org.meta["lineage"] = [{"stage": "pretrain", **config}]
        save_organism(org, out / "organism")
        return {"final_loss": res.final_loss, "tokens": res.tokens, "seconds": res.seconds}

    return stage("pretrain-only", config, [], build, log=log)
