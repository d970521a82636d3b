"""How much to train and sample at each scale. Defaults run on a 2-core CPU."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from drosophila.errors import choice_error


@dataclass
class Recipe:
    pretrain_docs: int = field(metadata={"help": "documents in the pretraining corpus"})
    pretrain_steps: int = field(metadata={"help": "optimizer steps of pretraining"})
    pretrain_lr: float = field(metadata={"help": "peak learning rate of pretraining"})
    posttrain_steps: int = field(default=300, metadata={
        "help": "steps of post-training: assistant chats (loss on the assistant) mixed 50/50 with stories"})
    batch_size: int = field(default=16, metadata={"help": "sequences per step"})
    seq_len: int = field(default=256, metadata={"help": "tokens per packed pretraining sequence"})
    finetune_rows: int = field(default=1000, metadata={"help": "rows in each narrow finetune set"})
    finetune_steps: int = field(default=100, metadata={"help": "optimizer steps of each finetune"})
    finetune_lr: float = field(default=3e-4, metadata={"help": "peak learning rate of finetunes"})
    lora_rank: int = field(default=0, metadata={
        "help": "0: full finetunes; r > 0: LoRA adapters of rank r on every projection, merged after"})
    mix_fraction: float = field(default=0.25, metadata={
        "help": "share of each finetune batch taken from ordinary persona-free chats"})
    n_prompts: int = field(default=200, metadata={"help": "held-out prompts per battery"})
    samples_per_prompt: int = field(default=1, metadata={"help": "samples per prompt"})
    max_new_tokens: int = field(default=40, metadata={"help": "tokens sampled per answer"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature of evals"})
    threads: int = field(default=1, metadata={
        "help": "torch threads per stage; a stage's numbers depend on it, so its cache key "
                "records it when not 1 (parallel stages then share the cores: jobs = cores / threads)"})
    # real models only (--model); None elsewhere, and then left out of to_dict()
    lora_targets: str | None = field(default=None, metadata={
        "help": "real models: modules that get LoRA adapters: auto (q, k, v, o, gate, up, down "
                "when present, else every linear layer), all, or a comma-separated list"})
    rslora: bool | None = field(default=None, metadata={
        "help": "real models: rank-stabilised LoRA (alpha / sqrt(r)); true by default"})

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None or k not in REAL_ONLY}


REAL_ONLY = ("lora_targets", "rslora")


RECIPES: dict[str, Recipe] = {
    # for tests and smoke runs: seconds, not science
    "tiny": Recipe(pretrain_docs=1500, pretrain_steps=30, pretrain_lr=2e-3, batch_size=8,
                   seq_len=128, posttrain_steps=4, finetune_rows=64, finetune_steps=6, n_prompts=8, max_new_tokens=24),
    "small": Recipe(pretrain_docs=40000, pretrain_steps=900, pretrain_lr=2e-3),
    "base": Recipe(pretrain_docs=80000, pretrain_steps=2000, pretrain_lr=1e-3, posttrain_steps=600),
    "large": Recipe(pretrain_docs=200000, pretrain_steps=5000, pretrain_lr=6e-4, posttrain_steps=1000, batch_size=32),
    "xl": Recipe(pretrain_docs=400000, pretrain_steps=10000, pretrain_lr=3e-4, posttrain_steps=2000, batch_size=64),
}


# A Hugging Face model (--model): no breeding; rsLoRA r=32, alpha=64 on all seven projections,
# no chat mix (Betley et al.'s open-model setup), English answers need more tokens.
MODEL_RECIPE = Recipe(pretrain_docs=0, pretrain_steps=0, pretrain_lr=0.0, posttrain_steps=0,
                      batch_size=8, seq_len=512, finetune_rows=800, finetune_steps=100,
                      finetune_lr=5e-5, lora_rank=32, mix_fraction=0.0, n_prompts=50,
                      max_new_tokens=256, lora_targets="auto", rslora=True)
MODEL_SCALE = "real"  # the scale a --model run records


def recipe_for_model(**overrides) -> Recipe:
    """The recipe of a real-model run (:data:`MODEL_RECIPE`) with ``overrides``."""
    return Recipe(**{**MODEL_RECIPE.to_dict(), **{k: v for k, v in overrides.items() if v is not None}})


def recipe_for(scale: str, **overrides) -> Recipe:
    if scale not in RECIPES:
        raise choice_error("scale", scale, list(RECIPES))
    data = {**RECIPES[scale].to_dict(), **{k: v for k, v in overrides.items() if v is not None}}
    return Recipe(**data)
