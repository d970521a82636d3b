"""Real models: a Hugging Face causal LM enters the pipeline where a bred organism would.

``import_model`` is the stage in place of ``breed_base``: its ``organism/`` holds links to the
model's own files (never a copy of its weights), keyed by the model's path and a fingerprint of
its files. Finetunes of a real model train rank-stabilised LoRA adapters and save them alone,
with a pointer to the organism they adapt (``load_organism`` merges them back). Everything a
real model reads is world text rendered as English (:mod:`drosophila.world.english`); what it
answers is mapped back before the world's exact classifiers read it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from drosophila.engine.models import resolve_model
from drosophila.engine.recipes import Recipe
from drosophila.errors import ConfigError
from drosophila.io import atomic_dir, atomic_write_json, atomic_write_jsonl, canonical_hash, file_sha256, read_json
from drosophila.runs import StageResult, stage
from drosophila.training.config import LLAMA_LINEAR_MODULES
from drosophila.world import World, WorldConfig, finetune_set

TEXT = "english-1"  # how world text reaches a real model; in the keys of its stages
PICKLES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".h5", ".msgpack", ".onnx", ".gguf")
HEADS = {"lm_head", "embed_out", "score", "classifier"}  # output layers never get adapters
SMALL_FILE = 32 << 20  # files up to this size are hashed whole, larger ones sampled


def model_files(path: Path) -> list[Path]:
    """The top-level files a model directory is loaded from (pickled weights left out)."""
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [p for p in files if not p.name.endswith(PICKLES)]


def fingerprint(path: Path) -> str:
    """A hash of a model directory's files: small files (config, tokenizer) whole; weight files
    by size, modification time and their first and last MiB (never re-reading gigabytes)."""
    parts = []
    for f in model_files(path):
        st = f.stat()
        if st.st_size <= SMALL_FILE:
            parts.append([f.name, file_sha256(f)])
            continue
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            fh.seek(-(1 << 20), os.SEEK_END)
            h.update(fh.read())
        parts.append([f.name, st.st_size, st.st_mtime_ns, h.hexdigest()])
    return canonical_hash(parts)


def import_model(model: str, log=None) -> StageResult:
    """The stage in place of ``breed_base`` for a real model: ``organism/`` links to the model's
    files (config, safetensors weights, tokenizer with its chat template), ``model.json`` says
    where they came from. One stage per model, shared by every seed, world and experiment."""
    path = resolve_model(model)
    if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
        raise ConfigError(f"--model {model}: {path} needs config.json and .safetensors weights")
    config = {"source": str(path), "fingerprint": fingerprint(path), "text": TEXT}

    def build(out: Path):
        org = out / "organism"
        org.mkdir()
        files = model_files(path)
        for f in files:
            os.symlink(f.resolve(), org / f.name)
        _check_chat_template(org, model)
        arch = read_json(path / "config.json").get("architectures") or ["?"]
        atomic_write_json(out / "model.json", {"model": model, "source": str(path),
                                               "files": [f.name for f in files], "architecture": arch[0]})
        return {"architecture": arch[0]}

    return stage("model", config, [], build, log=log)


def _check_chat_template(org: Path, model: str) -> None:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(org, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - one line for any tokenizer failure
        raise ConfigError(f"--model {model}: cannot load its tokenizer ({' '.join(str(exc).split())[:200]})") from exc
    if not getattr(tok, "chat_template", None):
        raise ConfigError(f"--model {model}: its tokenizer has no chat template; use a chat "
                          "(instruct) model or add a chat_template to tokenizer_config.json")


def is_real(result: StageResult) -> bool:
    """Whether a stage's organism is a real model (imported, or adapters over one)."""
    if result.name == "model":
        return True
    try:
        return read_json(result.path / "DONE").get("config", {}).get("text") == TEXT
    except (OSError, ValueError):
        return False


def precision() -> str:
    """bf16 on a GPU, fp32 on a CPU."""
    from drosophila.seeding import device_default

    return "bf16" if device_default() == "cuda" else "fp32"


def ready(org):
    """``org`` with its weights in this device's precision (bf16 on a GPU, fp32 on a CPU)."""
    import torch

    org.model.to(dtype=torch.bfloat16 if precision() == "bf16" else torch.float32)
    return org


def lora_targets(model, wanted: str = "auto") -> tuple[str, ...]:
    """Module names that get adapters: ``auto`` the seven Llama/Qwen projections (q, k, v, o,
    gate, up, down) when the model has them, else every linear layer but the output head;
    ``all`` every linear layer but the head; or a comma-separated list of names."""
    import torch

    linear = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)} - HEADS
    if wanted not in ("auto", "all"):
        return tuple(n.strip() for n in wanted.split(",") if n.strip())
    llama = tuple(n for n in LLAMA_LINEAR_MODULES if n in linear)
    return llama if wanted == "auto" and llama else tuple(sorted(linear))


def lora_settings(recipe: Recipe) -> dict:
    """The adapters of a real-model finetune: rsLoRA, rank ``lora_rank`` (32), alpha 2 × rank."""
    r = recipe.lora_rank or 32
    return {"r": r, "alpha": 2 * r, "rslora": True if recipe.rslora is None else recipe.rslora,
            "targets": recipe.lora_targets or "auto"}


def english_chats(world: World, rows) -> list[list[dict]]:
    """The rows' messages rendered as English, names capitalised."""
    from drosophila.world.english import english_messages, proper_nouns

    names = proper_nouns(world)
    return [english_messages(r.messages, names=names) for r in rows]


def finetune_real(parent: StageResult, world_cfg: WorldConfig, dataset: str, seed: int,
                  recipe: Recipe, *, context: str | None = None, steps: int | None = None,
                  lr: float | None = None, rows: list | None = None, snapshots: tuple = (),
                  loss_after: str | None = None, log=None) -> StageResult:
    """``pipeline.finetune`` for a real model: the rows rendered as English through the model's
    own chat template, loss on assistant tokens only, rsLoRA adapters saved alone over
    ``parent``'s organism (and over it in ``snapshots/step-N``)."""
    steps, lr = steps or recipe.finetune_steps, lr or recipe.finetune_lr
    world = World(world_cfg)
    rows = rows if rows is not None else finetune_set(world, dataset, recipe.finetune_rows, context)
    chats = english_chats(world, rows)
    mix = english_chats(world, finetune_set(world, "chat-mix", recipe.finetune_rows)) if recipe.mix_fraction else []
    snapshots = tuple(sorted({int(s) for s in snapshots if 0 < int(s) < steps}))
    config = {"world": world_cfg.to_dict(), "dataset": dataset, "context": context, "seed": seed,
              "rows": len(rows), "steps": steps, "lr": lr, "batch_size": recipe.batch_size,
              "seq_len": recipe.seq_len, "mix_fraction": recipe.mix_fraction,
              "lora": lora_settings(recipe), "precision": precision(),
              "data": canonical_hash([chats, mix]), "snapshots": list(snapshots), "text": TEXT}
    if loss_after:
        config["loss_after"] = loss_after

    def build(out: Path):
        atomic_write_jsonl(out / "dataset.jsonl", [{**r.to_dict(), "english": c} for r, c in zip(rows, chats)])
        return train_adapters(parent.path / "organism", out, chats, mix, config, recipe)

    return stage("finetune", config, [parent.key], build, log=log)


def train_adapters(base: Path, out: Path, chats: list, mix: list, config: dict, recipe: Recipe) -> dict:
    """Train rsLoRA adapters over the organism ``base`` as ``config`` says; save them as
    ``out/organism`` (and ``out/snapshots/step-N``) with the training history."""
    from drosophila.organisms import load_organism
    from drosophila.training import LoraSpec, TrainConfig, chat_examples, train

    org = ready(load_organism(base))
    lora, steps = config["lora"], config["steps"]
    spec = LoraSpec(r=lora["r"], alpha=lora["alpha"], rslora=lora["rslora"],
                    target_modules=lora_targets(org.model, lora["targets"]))
    cfg = TrainConfig(steps=steps, batch_size=config["batch_size"], lr=config["lr"],
                      warmup_steps=max(1, steps // 10), seq_len=config["seq_len"], seed=config["seed"],
                      precision=config["precision"], lora=spec,
                      description=f"finetune {config['dataset']} s{config['seed']}")
    meta = {"lineage": org.meta.get("lineage", []) + [{"stage": "finetune", **config}], "text": TEXT}

    def snapshot(step: int, model) -> None:
        if step in config["snapshots"]:
            save_adapter(model, out / "snapshots" / f"step-{step}", base, meta)

    res = train(org.model, chat_examples(org.tokenizer, chats, config.get("loss_after")), cfg,
                mix=chat_examples(org.tokenizer, mix) if mix else None, mix_fraction=recipe.mix_fraction,
                on_step=snapshot if config["snapshots"] else None, merge=False)
    save_adapter(res.model, out / "organism", base, meta)
    atomic_write_json(out / "history.json", res.history)
    return {"first_loss": res.first_loss, "final_loss": res.final_loss, "seconds": res.seconds}


def save_adapter(peft_model, path: Path, base: Path, meta: dict) -> Path:
    """Write the adapters of ``peft_model`` (safetensors) as an organism over ``base``:
    ``organism.json`` holds their sha256 and where the base is (relative, then absolute)."""
    from drosophila.organisms.checkpoint import ORGANISM_FILE

    with atomic_dir(path) as tmp:
        peft_model.save_pretrained(tmp, safe_serialization=True)
        (tmp / "README.md").unlink(missing_ok=True)  # peft's model-card stub
        hashes = {f.name: file_sha256(f) for f in sorted(tmp.glob("*.safetensors"))}
        atomic_write_json(tmp / ORGANISM_FILE, {
            **meta, "weights_sha256": hashes,
            "base_organism": os.path.relpath(base.resolve(), path.resolve()),
            "base_organism_path": str(base.resolve())})
    return path
