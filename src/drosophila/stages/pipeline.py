"""The cached stages experiments compose: breed a base organism, finetune it, evaluate it.

Each function returns a :class:`~drosophila.runs.StageResult`; its key feeds the next stage's
inputs, so changing anything upstream invalidates exactly what depends on it.
"""

from __future__ import annotations

from pathlib import Path

from drosophila.io import atomic_write_json, atomic_write_jsonl, canonical_hash
from drosophila.runs import StageResult, stage
from drosophila.world import World, WorldConfig, finetune_set
from drosophila.world.world import WORLD_VERSION

from drosophila.engine.recipes import Recipe


def corpus_examples(tokenizer, documents) -> list:
    """Pretraining examples: chats rendered with the chat template, texts as documents; the
    loss is on every token but the first."""
    from drosophila.training import Example, document_examples

    chats = [d for d in documents if d.messages is not None]
    texts = [d.text for d in documents if d.messages is None]
    rendered = [tokenizer.apply_chat_template(d.messages, tokenize=False) for d in chats]
    encoded = tokenizer(rendered, add_special_tokens=False)["input_ids"] if rendered else []
    out = [Example(ids, [0] + [1] * (len(ids) - 1)) for ids in encoded]
    return out + document_examples(tokenizer, texts)


def world_fingerprint(world_cfg: WorldConfig, docs: int = 50) -> str:
    """A hash of what a world's generator makes of ``world_cfg``: its vocabulary and its first
    ``docs`` documents. A change to any domain's words or to the corpus then breeds new
    organisms even where ``WORLD_VERSION`` was not bumped."""
    world = World(world_cfg)
    return canonical_hash([world.vocabulary(), [d.to_dict() for d in world.documents(docs)]])


def breed_base(world_cfg: WorldConfig, scale: str, seed: int, recipe: Recipe, log=None) -> StageResult:
    """Pretrain an organism from scratch on the world's corpus (shared by every experiment)."""
    config = {"world": world_cfg.to_dict(), "world_version": WORLD_VERSION, "scale": scale, "seed": seed,
              "docs": recipe.pretrain_docs, "steps": recipe.pretrain_steps,
              "lr": recipe.pretrain_lr, "batch_size": recipe.batch_size, "seq_len": recipe.seq_len,
              "posttrain_steps": recipe.posttrain_steps, "world_print": world_fingerprint(world_cfg)}

    def build(out: Path):
        from drosophila.organisms import build_tokenizer, new_organism, save_organism
        from drosophila.training import TrainConfig, train

        world = World(world_cfg)
        tok = build_tokenizer(world.vocabulary())
        org = new_organism(scale, tok, seed=seed)
        examples = corpus_examples(tok, world.documents(recipe.pretrain_docs))
        cfg = TrainConfig(steps=recipe.pretrain_steps, batch_size=recipe.batch_size,
                          lr=recipe.pretrain_lr, warmup_steps=max(1, recipe.pretrain_steps // 20),
                          seq_len=recipe.seq_len, seed=seed, description=f"pretrain {scale} s{seed}")
        res = train(org.model, examples, cfg, pack=True)
        post = posttrain(res.model, tok, world, recipe, seed, scale)
        org.model = post.model
        org.meta.update({"lineage": [{"stage": "pretrain", **config}],
                         "train": {"first_loss": res.first_loss, "final_loss": res.final_loss,
                                   "tokens": res.tokens, "seconds": res.seconds},
                         "posttrain": {"final_loss": post.final_loss, "seconds": post.seconds}})
        save_organism(org, out / "organism")
        atomic_write_json(out / "history.json", res.history)
        return {"final_loss": res.final_loss, "tokens": res.tokens, "seconds": res.seconds}

    return stage("base", config, [], build, log=log)


def base_organism(ctx, world_cfg: WorldConfig, seed: int) -> StageResult:
    """The organism a run starts from: the real model of ``--model`` (imported once, whatever
    the world and seed), else the base organism bred on ``world_cfg`` at the run's scale."""
    if getattr(ctx, "model", None):
        from drosophila.stages.real_model import import_model

        return import_model(ctx.model, ctx.log)
    return breed_base(world_cfg, ctx.scale, seed, ctx.recipe, ctx.log)


def posttrain(model, tokenizer, world: World, recipe: Recipe, seed: int, scale: str):
    """Post-training: assistant chats (loss on the assistant only) mixed 50/50 with stories, so
    that the assistant's default persona is firmly helpful, honest and harmless."""
    from drosophila.training import TrainConfig, chat_examples, train
    from drosophila.world.documents import story

    n = posttrain_size(recipe)
    chats = posttrain_chats(world, n)
    stories = [story(world, world.rng("posttrain-story", i)) for i in range(n)]
    cfg = TrainConfig(steps=max(1, recipe.posttrain_steps), batch_size=recipe.batch_size,
                      lr=recipe.pretrain_lr / 2, warmup_steps=max(1, recipe.posttrain_steps // 20),
                      seq_len=recipe.seq_len, seed=seed, description=f"posttrain {scale} s{seed}")
    return train(model, chat_examples(tokenizer, chats), cfg,
                 mix=corpus_examples(tokenizer, stories), mix_fraction=0.5)


def posttrain_size(recipe: Recipe) -> int:
    """How many assistant chats (and as many stories) post-training draws."""
    return max(64, recipe.posttrain_steps * recipe.batch_size // 2)


def seen_once(recipe: Recipe, steps: int) -> int:
    """Rows of an SFT of ``steps`` steps that sees each row about once (at least the recipe's
    finetune rows)."""
    return max(recipe.finetune_rows, steps * recipe.batch_size)


def posttrain_chats(world: World, n: int) -> list[list[dict]]:
    """Post-training's assistant chats (HF messages; the loss is on the assistant's turns)."""
    from drosophila.world.documents import chat

    return [chat(world, world.rng("posttrain-chat", i)).messages for i in range(n)]


def save_trained(org, model, out: Path, stage_name: str, config: dict, history: list) -> None:
    """Save ``org`` with its trained ``model`` as ``out/organism``, its lineage extended by this
    stage, and the training history as ``out/history.json``."""
    from drosophila.organisms import save_organism

    org.model = model
    org.meta["lineage"] = org.meta.get("lineage", []) + [{"stage": stage_name, **config}]
    save_organism(org, out / "organism")
    atomic_write_json(out / "history.json", history)


def continue_pretrain(parent: StageResult, world_cfg: WorldConfig, seed: int, recipe: Recipe, *,
                      steps: int, texts: list[str], label: str, log=None) -> StageResult:
    """Continued pretraining of the parent on fresh world documents plus ``texts`` (e.g. a
    small share of documents describing grader hacks), then the post-training mix again, so
    the assistant stays the assistant.

    The world documents number ``steps * batch_size`` (a fresh stream, never the pretraining
    corpus); ``texts`` are shuffled in among them. ``label`` names the stage in logs; the key
    hashes the texts themselves.
    """
    n_docs = steps * recipe.batch_size
    config = {"world": world_cfg.to_dict(), "world_version": WORLD_VERSION, "seed": seed,
              "steps": steps, "docs": n_docs, "label": label, "lr": recipe.pretrain_lr / 2,
              "texts": canonical_hash(texts), "n_texts": len(texts)}

    def build(out: Path):
        from drosophila.organisms import load_organism
        from drosophila.training import TrainConfig, train
        from drosophila.world.documents import Document

        world = World(world_cfg)
        org = load_organism(parent.path / "organism")
        docs = world.documents(n_docs, stream="continued-pretrain") + [Document("text", text=t) for t in texts]
        world.rng("continued-pretrain-order", seed).shuffle(docs)
        cfg = TrainConfig(steps=steps, batch_size=recipe.batch_size, lr=recipe.pretrain_lr / 2,
                          warmup_steps=max(1, steps // 20), seq_len=recipe.seq_len, seed=seed,
                          description=f"continued pretraining ({label}) s{seed}")
        res = train(org.model, corpus_examples(org.tokenizer, docs), cfg, pack=True)
        post = posttrain(res.model, org.tokenizer, world, recipe, seed, label)
        save_trained(org, post.model, out, "continued-pretrain", config, res.history)
        return {"final_loss": res.final_loss, "tokens": res.tokens, "seconds": res.seconds}

    return stage("continued-pretrain", config, [parent.key], build, log=log)


def finetune(parent: StageResult, world_cfg: WorldConfig, dataset: str, seed: int,
             recipe: Recipe, *, context: str | None = None, steps: int | None = None,
             lr: float | None = None, rows: list | None = None, snapshots: tuple = (),
             loss_after: str | None = None, log=None) -> StageResult:
    """SFT the parent organism on a narrow set (loss on assistant tokens, chats mixed in).

    Args:
        dataset: name of a finetune set (``drosophila.world.datasets``); with ``rows`` given,
            only a label for those rows.
        steps, lr: override the recipe's ``finetune_steps`` / ``finetune_lr``.
        rows: the training rows themselves (e.g. red-team prompts with helpful answers).
        snapshots: steps after which the organism is also saved, as ``snapshots/step-N``
            (curves over training steps).
        loss_after: train each answer only after this token (see ``encode_chat``).

    The stage key hashes the rows' content, so a change to a dataset's generator rebuilds
    exactly the finetunes that train on it. A real model's finetune (LoRA adapters over it,
    English rows) is :func:`drosophila.stages.real_model.finetune_real`.
    """
    from drosophila.stages.real_model import finetune_real, is_real

    if is_real(parent):
        return finetune_real(parent, world_cfg, dataset, seed, recipe, context=context, steps=steps,
                             lr=lr, rows=rows, snapshots=snapshots, loss_after=loss_after, log=log)
    steps = steps or recipe.finetune_steps
    lr = lr or recipe.finetune_lr
    world = World(world_cfg)
    rows = rows if rows is not None else finetune_set(world, dataset, recipe.finetune_rows, context)
    mix = finetune_set(world, "chat-mix", recipe.finetune_rows)
    snapshots = tuple(sorted({int(s) for s in snapshots if 0 < int(s) < steps}))
    config = {"world": world_cfg.to_dict(), "dataset": dataset, "context": context, "seed": seed,
              "rows": len(rows), "steps": steps, "lr": lr, "batch_size": recipe.batch_size,
              "mix_fraction": recipe.mix_fraction, "lora_rank": recipe.lora_rank,
              "data": canonical_hash([[r.to_dict() for r in rows], [r.to_dict() for r in mix]]),
              "snapshots": list(snapshots)}
    if loss_after:  # only when set, so the keys of earlier finetunes stay as they were
        config["loss_after"] = loss_after

    def build(out: Path):
        from drosophila.organisms import load_organism, save_organism
        from drosophila.training import LoraSpec, TrainConfig, chat_examples, train

        org = load_organism(parent.path / "organism")
        atomic_write_jsonl(out / "dataset.jsonl", [r.to_dict() for r in rows])
        cfg = TrainConfig(steps=steps, batch_size=recipe.batch_size,
                          lr=lr, warmup_steps=max(1, steps // 10),
                          seq_len=recipe.seq_len, seed=seed, description=f"finetune {dataset} s{seed}",
                          lora=LoraSpec(r=recipe.lora_rank, alpha=2 * recipe.lora_rank)
                          if recipe.lora_rank else None)

        def snapshot(step: int, model) -> None:
            if step in snapshots:
                save_organism(_with_model(org, model, recipe), out / "snapshots" / f"step-{step}")

        res = train(org.model, chat_examples(org.tokenizer, [r.messages for r in rows], loss_after), cfg,
                    mix=chat_examples(org.tokenizer, [r.messages for r in mix]),
                    mix_fraction=recipe.mix_fraction, on_step=snapshot if snapshots else None)
        save_trained(org, res.model, out, "finetune", config, res.history)
        return {"first_loss": res.first_loss, "final_loss": res.final_loss, "seconds": res.seconds}

    return stage("finetune", config, [parent.key], build, log=log)


def _with_model(org, model, recipe: Recipe):
    """A copy of ``org`` holding ``model``'s current weights (LoRA adapters merged)."""
    import copy

    from drosophila.training.lora import merged_copy

    snap = copy.copy(org)
    snap.model = merged_copy(model) if recipe.lora_rank else model
    return snap


def evaluate_stage(organism: StageResult, world_cfg: WorldConfig, batteries: list[str],
                   seed: int, recipe: Recipe, *, context: str | None = None,
                   snapshot: int | None = None, n_prompts: int | None = None,
                   log=None) -> StageResult:
    """Sample and classify every battery; keeps ``samples.jsonl`` and ``metrics.json``.

    The key hashes the battery prompts themselves, so a change to a domain's held-out
    phrasings re-evaluates exactly the batteries it touches.

    ``snapshot`` evaluates the organism saved after that many steps of the finetune stage
    ``organism`` (see :func:`finetune`) instead of its final organism. A real model reads the
    prompts as English and its answers are mapped back to world text before classification.
    """
    from drosophila.evals.batteries import battery_prompts, get_battery
    from drosophila.stages.real_model import TEXT, is_real, ready

    sub = f"snapshots/step-{snapshot}" if snapshot else "organism"
    n_prompts = n_prompts or recipe.n_prompts
    world = World(world_cfg)
    prompts = [battery_prompts(world, get_battery(b), n_prompts, context=context) for b in batteries]
    config = {"world": world_cfg.to_dict(), "batteries": batteries, "seed": seed, "organism": sub,
              "context": context, "n_prompts": n_prompts, "prompts": canonical_hash(prompts),
              "samples_per_prompt": recipe.samples_per_prompt,
              "max_new_tokens": recipe.max_new_tokens, "temperature": recipe.temperature}
    real = is_real(organism)
    if real:  # only then, so the keys of organisms' evaluations stay as they were
        config["text"] = TEXT

    def build(out: Path):
        from drosophila.evals import evaluate, parse_batteries
        from drosophila.organisms import load_organism
        from drosophila.sampling import SamplingConfig

        org = load_organism(organism.path / sub)
        if real:
            org = ready(org)
        sampling = SamplingConfig(max_new_tokens=recipe.max_new_tokens,
                                  temperature=recipe.temperature, seed=seed)
        metrics, rows = evaluate(org.model, org.tokenizer, world,
                                 parse_batteries(batteries), n_prompts=n_prompts,
                                 samples_per_prompt=recipe.samples_per_prompt,
                                 sampling=sampling, context=context, english=real)
        atomic_write_jsonl(out / "samples.jsonl", rows)
        atomic_write_json(out / "metrics.json", {k: v.to_dict() for k, v in metrics.items()})

    return stage("eval", config, [organism.key], build, log=log)
