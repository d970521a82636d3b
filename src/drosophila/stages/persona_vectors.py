"""Persona vectors (Chen et al. 2025) and the emergent-misalignment direction (Soligo et al.
2025) of E10, as cached stages.

- :func:`persona_vectors`: a trait's direction at every layer, the mean over response tokens
  of role-play answers that show the trait minus those that show its opposite
  (:func:`drosophila.world.roles_contrast.contrastive_pairs`, clean pairs only), with how well
  it separates held-out pairs.
- :func:`projections`: where an organism's activations sit along each trait vector (the mean
  activation at the last prompt token of the trait's held-out prompts), so that the shift of a
  finetune against its base can be set beside the change of the trait's misaligned rate.
- :func:`steered_finetune`: a finetune run while a persona vector is added to the residual
  stream (preventative steering); the organism it saves is evaluated without steering.
- :func:`em_direction`: mean activation of the insecure organism minus the secure one's over
  their own answers to the same open questions, per layer; the layer whose direction, ablated,
  lowers misalignment most on a selection split; and random directions of the same norm.
"""

from __future__ import annotations

from pathlib import Path

from drosophila.engine.recipes import Recipe
from drosophila.io import atomic_write_json, atomic_write_jsonl, canonical_hash
from drosophila.runs import StageResult, stage
from drosophila.stages.persona import TRAIT_SET, hook, items_of, sample_texts
from drosophila.world import MISALIGNED, World, WorldConfig, finetune_set

CHECK_PAIRS = 64  # held-out pairs on which each vector's separation is measured


def vector_file(trait: str) -> str:
    return f"persona-{trait}.safetensors"


def _pair_sides(pairs) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(positive, negative)`` ``(prompt, response)`` lists of clean pairs: each side's
    instruction before the shared request."""
    clean = [p for p in pairs if p.clean]
    pos = [(f"{p.positive.instruction} {p.prompt}", p.positive.response) for p in clean]
    neg = [(f"{p.negative.instruction} {p.prompt}", p.negative.response) for p in clean]
    return pos, neg


def persona_vectors(organism: StageResult, world_cfg: WorldConfig, traits: list[str], *,
                    n_pairs: int, log=None) -> StageResult:
    """One vector file per trait (``persona-<trait>.safetensors``, every layer) and
    ``vectors.json``: per trait the clean pairs used, and per layer the vector's norm and its
    AUROC on held-out pairs (projection of the positive side's mean against the negative's).

    Responses are the world's own, without role habits (so the vector holds the trait, not a
    role's verbal tics that no finetune contains), teacher-forced through the organism; the
    paper instead samples the model under trait prompts and filters by a judge. Only pairs whose
    two responses the request's classifier labels as their side are kept."""
    from drosophila.world.roles_contrast import contrastive_pairs

    world = World(world_cfg)
    pairs = {t: contrastive_pairs(world, t, n_pairs, split="train", habits=False) for t in traits}
    check = {t: contrastive_pairs(world, t, CHECK_PAIRS, split="heldout", habits=False,
                                  stream="contrast-check") for t in traits}
    config = {"world": world_cfg.to_dict(), "traits": list(traits), "n_pairs": n_pairs,
              "data": canonical_hash([[p.to_dict() for p in v] for v in (*pairs.values(), *check.values())])}

    def build(out: Path):
        import torch

        from drosophila.interventions import save_vectors, trait_directions
        from drosophila.interventions.probes import auroc
        from drosophila.interventions.vectors import response_means
        from drosophila.organisms import load_organism

        org = load_organism(organism.path / "organism")
        names = [hook(i) for i in range(org.model.config.num_hidden_layers)]
        summary = {}
        for t in traits:
            pos, neg = _pair_sides(pairs[t])
            vec = trait_directions(org.model, org.tokenizer, pos, neg, names)
            save_vectors(out / vector_file(t), vec, method="mean-diff", trait=t, model=org.model,
                         description=f"{len(pos)} clean role-play pairs of {n_pairs}",
                         extra={"pairs": len(pos), "of": n_pairs})
            hp, hn = _pair_sides(check[t])
            entry = {"clean": len(pos), "pairs": n_pairs, "norm": {}, "auroc": {}}
            if hp:
                mp = response_means(org.model, org.tokenizer, hp, names)
                mn = response_means(org.model, org.tokenizer, hn, names)
            for n in names:
                i = n.split(".")[1]
                entry["norm"][i] = float(vec[n].norm())
                if hp:
                    s = torch.cat([mp[n], mn[n]]).double() @ vec[n].double()
                    entry["auroc"][i] = auroc(s, [1] * len(hp) + [0] * len(hn))
            summary[t] = entry
        atomic_write_json(out / "vectors.json", summary)

    return stage("persona-vectors", config, [organism.key], build, log=log)


def projections(organism: StageResult, world_cfg: WorldConfig, vectors: StageResult,
                traits: list[str], *, n_prompts: int, log=None) -> StageResult:
    """``projections.json``: per trait and layer, the mean activation at the last prompt token
    of the trait's held-out prompts (:data:`~drosophila.stages.persona.TRAIT_SET`) projected on
    the unit trait vector of ``vectors``. No sampling: the finetuning shift of the paper."""
    world = World(world_cfg)
    items = {t: items_of(world, TRAIT_SET[t], n_prompts) for t in traits}
    config = {"world": world_cfg.to_dict(), "traits": list(traits), "n_prompts": n_prompts,
              "prompts": canonical_hash(items)}

    def build(out: Path):
        from drosophila.interventions import cache_activations, load_vectors
        from drosophila.organisms import load_organism
        from drosophila.sampling import chat_prompt_ids
        from drosophila.world.base import conversation_of

        org = load_organism(organism.path / "organism")
        names = [hook(i) for i in range(org.model.config.num_hidden_layers)]
        got = {}
        for t in traits:
            vs = load_vectors(vectors.path / vector_file(t), model=org.model).vectors
            ids = chat_prompt_ids(org.tokenizer, [conversation_of(it) for it in items[t]])
            acts = cache_activations(org.model, org.tokenizer, ids, names, position="last")  # {name: (N, d)}
            got[t] = {n.split(".")[1]: float(acts[n].double().mean(0) @ vs[n].double() / vs[n].double().norm())
                      for n in names}
        atomic_write_json(out / "projections.json", got)

    return stage("projections", config, [organism.key, vectors.key], build, log=log)


def steered_finetune(parent: StageResult, world_cfg: WorldConfig, dataset: str, seed: int,
                     recipe: Recipe, *, vectors: StageResult, trait: str, layer: int, coef: float,
                     log=None) -> StageResult:
    """:func:`drosophila.stages.pipeline.finetune` (same rows, mix, schedule) while ``coef ×``
    the ``trait`` vector of ``layer`` is added to the residual stream in every training forward
    (preventative steering: the push toward the trait comes from the vector, so the weights need
    not move there). The saved organism carries no hook: it is evaluated unsteered."""
    world = World(world_cfg)
    rows = finetune_set(world, dataset, recipe.finetune_rows)
    mix = finetune_set(world, "chat-mix", recipe.finetune_rows)
    config = {"world": world_cfg.to_dict(), "dataset": dataset, "seed": seed, "rows": len(rows),
              "steps": recipe.finetune_steps, "lr": recipe.finetune_lr, "batch_size": recipe.batch_size,
              "mix_fraction": recipe.mix_fraction, "lora_rank": recipe.lora_rank,
              "data": canonical_hash([[r.to_dict() for r in rows], [r.to_dict() for r in mix]]),
              "steer": {"trait": trait, "layer": layer, "coef": coef}}

    def build(out: Path):
        from drosophila.interventions import Steer, intervene, load_vectors
        from drosophila.organisms import load_organism
        from drosophila.stages.pipeline import save_trained
        from drosophila.training import LoraSpec, TrainConfig, chat_examples, train

        org = load_organism(parent.path / "organism")
        v = load_vectors(vectors.path / vector_file(trait), model=org.model).vectors[hook(layer)]
        atomic_write_jsonl(out / "dataset.jsonl", [r.to_dict() for r in rows])
        steps = recipe.finetune_steps
        cfg = TrainConfig(steps=steps, batch_size=recipe.batch_size, lr=recipe.finetune_lr,
                          warmup_steps=max(1, steps // 10), seq_len=recipe.seq_len, seed=seed,
                          description=f"finetune {dataset} steered along {trait} s{seed}",
                          lora=LoraSpec(r=recipe.lora_rank, alpha=2 * recipe.lora_rank)
                          if recipe.lora_rank else None)
        with intervene(org.model, Steer({hook(layer): v}, coef=coef)):
            res = train(org.model, chat_examples(org.tokenizer, [r.messages for r in rows]), cfg,
                        mix=chat_examples(org.tokenizer, [r.messages for r in mix]),
                        mix_fraction=recipe.mix_fraction)
        save_trained(org, res.model, out, "steered-finetune", config, res.history)
        return {"first_loss": res.first_loss, "final_loss": res.final_loss, "seconds": res.seconds}

    return stage("steered-finetune", config, [parent.key, vectors.key], build, log=log)


# -- the emergent-misalignment direction -----------------------------------------------------------
EM_DIRECTION = "em-direction.safetensors"


def random_file(j: int) -> str:
    return f"random-{j}.safetensors"


def em_prompts(world: World, n: int) -> tuple[list[dict], list[dict]]:
    """Open questions of the *train* split (never the held-out battery): ``n`` to read the
    direction on, and up to ``n`` others to choose its layer on."""
    from drosophila.world.datasets import battery_items

    read = [it.to_dict() for it in battery_items(world, "open", n, split="train", stream="em-direction")]
    seen = {it["prompt"] for it in read}
    select = [it.to_dict() for it in battery_items(world, "open", n, split="train", stream="em-select")
              if it.prompt not in seen]
    return read, select


def em_direction(insecure: StageResult, secure: StageResult, world_cfg: WorldConfig, seed: int,
                 recipe: Recipe, *, n_prompts: int, n_random: int, log=None) -> StageResult:
    """``em-direction.safetensors`` (every layer), ``random-<j>.safetensors`` (``n_random``
    Gaussian directions of the chosen layer's norm, at that layer) and ``selection.json``: the
    selection split's misaligned rate of the insecure organism unablated and with each layer's
    direction ablated at every layer, and the chosen layer (the lowest rate; the earliest on a
    tie)."""
    world = World(world_cfg)
    read, select = em_prompts(world, n_prompts)
    config = {"world": world_cfg.to_dict(), "seed": seed, "n_prompts": n_prompts, "n_random": n_random,
              "prompts": canonical_hash([read, select]), "max_new_tokens": recipe.max_new_tokens,
              "temperature": recipe.temperature}

    def build(out: Path):
        import torch

        from drosophila.interventions import Ablate, save_vectors
        from drosophila.interventions.vectors import response_means
        from drosophila.organisms import load_organism

        orgs = {"insecure": load_organism(insecure.path / "organism"),
                "secure": load_organism(secure.path / "organism")}
        names = [hook(i) for i in range(orgs["insecure"].model.config.num_hidden_layers)]
        means, answered = {}, {}
        for k, org in orgs.items():
            texts = sample_texts(org.model, org.tokenizer, read, recipe, seed)
            pairs = [(it["prompt"], t) for it, t in zip(read, texts) if t]
            answered[k] = len(pairs)
            acts = response_means(org.model, org.tokenizer, pairs, names)               # {name: (N, d)}
            means[k] = {n: v.mean(0) for n, v in acts.items()}
        direction = {n: means["insecure"][n] - means["secure"][n] for n in names}
        save_vectors(out / EM_DIRECTION, direction, method="mean-diff", trait="emergent-misalignment",
                     description="insecure − secure, mean over their own answers' tokens",
                     model=orgs["insecure"].model)
        ins = orgs["insecure"]

        def misaligned(edit) -> dict:
            texts = sample_texts(ins.model, ins.tokenizer, select, recipe, seed, edit=edit)
            bad = sum(world.classify(it, t) == MISALIGNED for it, t in zip(select, texts))
            return {"k": bad, "n": len(select)}

        rates = {n.split(".")[1]: misaligned(Ablate({m: direction[n] for m in names})) for n in names}
        chosen = min(range(len(names)), key=lambda i: (rates[str(i)]["k"], i))
        gen = torch.Generator().manual_seed(seed)
        norm = direction[hook(chosen)].norm()
        for j in range(n_random):
            r = torch.randn(direction[hook(chosen)].shape, generator=gen)              # (d,)
            save_vectors(out / random_file(j), {hook(chosen): r / r.norm() * norm}, method="random",
                         trait="control", description=f"Gaussian direction {j}, the EM direction's norm",
                         model=ins.model)
        atomic_write_json(out / "selection.json", {
            "chosen": chosen, "unablated": misaligned(None), "ablated": rates, "answered": answered,
            "norm": {n.split(".")[1]: float(direction[n].norm()) for n in names},
            "prompts": {"read": len(read), "select": len(select)}})

    return stage("em-direction", config, [insecure.key, secure.key], build, log=log)
