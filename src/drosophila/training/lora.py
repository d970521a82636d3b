"""LoRA via peft: attach adapters for training, merge them back so the result is a plain model."""

from __future__ import annotations

import warnings

import torch

from drosophila.errors import ConfigError
from drosophila.training.config import LoraSpec


def _present_targets(model: torch.nn.Module, wanted: tuple[str, ...]) -> list[str]:
    """The wanted names that match at least one linear sub-module's last name component."""
    names = {name.rsplit(".", 1)[-1] for name, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)}
    return [w for w in wanted if w in names]


def attach_lora(model: torch.nn.Module, spec: LoraSpec):
    """Wrap ``model`` in a peft ``PeftModel`` with adapters on ``spec.target_modules``.

    Names a model lacks are skipped, so the Llama defaults also fit models that share only some
    of them; a spec matching nothing is an error rather than a silent no-op finetune.
    """
    from peft import LoraConfig, get_peft_model

    targets = _present_targets(model, spec.target_modules)
    if not targets:
        raise ConfigError(
            f"lora.target_modules={list(spec.target_modules)!r} matches no linear layer of "
            f"{type(model).__name__}; name some of its linear sub-modules"
        )
    config = LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
        use_rslora=spec.rslora,
    )
    with warnings.catch_warnings():
        # peft 0.21 calls a transformers-v5 deprecated property; the warning is not ours to act on.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, config)


def detach_lora(peft_model) -> torch.nn.Module:
    """Merge the adapters into the base weights and return the plain model, all weights trainable."""
    model = peft_model.merge_and_unload()
    # peft froze the base weights; a plain model should not carry that state into the next run.
    model.requires_grad_(True)
    return model


def merged_copy(peft_model) -> torch.nn.Module:
    """A plain model with the adapters' current weights merged in; ``peft_model`` is untouched."""
    import copy

    return copy.deepcopy(peft_model).merge_and_unload()
