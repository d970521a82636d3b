"""Organisms on disk: safetensors weights, tokenizer, and an ``organism.json`` with their hashes.

A saved organism is a plain Hugging Face directory (``AutoModelForCausalLM.from_pretrained``
and ``AutoTokenizer.from_pretrained`` load it, under transformers 4.45 as under 5.x) plus
``organism.json``. ``load_organism`` checks
every weight file's sha256 *before* loading, so a corrupt checkpoint fails with one
``OrganismError`` line instead of half-loading. Nothing here runs remote code or unpickles.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from drosophila.errors import OrganismError
from drosophila.io import atomic_dir, atomic_write_json, file_sha256, read_json
from drosophila.organisms.scales import make_config
from drosophila.organisms.tokenizer import make_tokenizer_portable, save_tokenizer
from drosophila.seeding import device_default

ORGANISM_FILE = "organism.json"
# Keys save_organism derives from the weights; they are not part of an organism's meta.
_DERIVED_KEYS = ("weights_sha256", "n_params")


@dataclass
class Organism:
    """A model, its tokenizer and JSON-able metadata (``scale``, ``lineage`` and so on)."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    meta: dict[str, Any] = field(default_factory=dict)


def n_params(model: torch.nn.Module) -> int:
    """Number of distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())  # parameters() already dedups tied ones


def new_organism(scale: str, tokenizer: PreTrainedTokenizerBase, *, seed: int = 0) -> Organism:
    """A freshly initialised ``LlamaForCausalLM`` of the given scale.

    The same ``(scale, tokenizer, seed)`` always gives the same weights; the global torch RNG
    is left as it was.

    Raises:
        ConfigError: Unknown scale.
    """
    config = make_config(scale, tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    _sync_generation_config(model, tokenizer)
    meta = {"scale": scale, "lineage": [{"stage": "init", "scale": scale, "seed": seed}]}
    return Organism(model=model, tokenizer=tokenizer, meta=meta)


def save_organism(org: Organism, path: str | os.PathLike) -> Path:
    """Write ``org`` to the directory ``path`` atomically (an existing one is replaced).

    Returns:
        The directory path.
    """
    path = Path(path)
    _sync_generation_config(org.model, org.tokenizer)
    with atomic_dir(path) as tmp, _quiet():
        org.model.save_pretrained(tmp)  # safetensors: the only format Drosophila reads
        _add_legacy_config_keys(tmp / "config.json")
        save_tokenizer(org.tokenizer, tmp)
        hashes = {f.name: file_sha256(f) for f in sorted(tmp.glob("*.safetensors"))}
        if not hashes:
            raise OrganismError(f"{path}: save_pretrained wrote no .safetensors file")
        meta = {k: v for k, v in org.meta.items() if k not in _DERIVED_KEYS}
        atomic_write_json(
            tmp / ORGANISM_FILE, {**meta, "weights_sha256": hashes, "n_params": n_params(org.model)}
        )
    return path


def load_organism(path: str | os.PathLike, *, device: str | None = None) -> Organism:
    """Load an organism, or any plain HF causal-LM directory with a chat-templated tokenizer.

    Args:
        path: The directory.
        device: Where to put the model; default ``drosophila.seeding.device_default()``.

    Raises:
        OrganismError: Missing directory or files, weight hash mismatch, unreadable
            safetensors, pickle-only weights, no chat template, or any loading failure.
    """
    path = Path(path)
    if not path.is_dir():
        raise OrganismError(f"{path}: no such organism directory")
    meta = _verified_meta(path)
    if meta.get("base_organism"):  # LoRA adapters over another organism (e.g. a real model)
        return _load_adapter_organism(path, meta, device)
    _check_safetensors(path)
    try:
        with _quiet():
            model = AutoModelForCausalLM.from_pretrained(
                path, dtype="auto", use_safetensors=True, trust_remote_code=False
            )
            tokenizer = _load_tokenizer(path)
    except Exception as exc:  # noqa: BLE001 - every loader failure becomes one line
        raise OrganismError(f"{path}: cannot load: {_one_line(exc)}") from exc
    _prepare_tokenizer(path, tokenizer)
    model.to(device or device_default()).eval()
    return Organism(model=model, tokenizer=tokenizer, meta=meta)


def _load_adapter_organism(path: Path, meta: dict[str, Any], device: str | None, depth: int = 0) -> Organism:
    """An organism saved as LoRA adapters (``adapter_config.json``, safetensors) whose
    ``organism.json`` names its base (``base_organism``, relative to ``path``; an absolute
    ``base_organism_path`` as fallback): the base is loaded (chains of adapters too), the adapters
    merged in, the tokenizer is the base's."""
    import warnings

    from peft import PeftModel

    base_dir = (path / meta["base_organism"]).resolve()
    if not base_dir.is_dir() and meta.get("base_organism_path"):
        base_dir = Path(meta["base_organism_path"])
    if not base_dir.is_dir():
        raise OrganismError(f"{path}: its base organism {meta['base_organism']} is missing")
    if depth > 32:
        raise OrganismError(f"{path}: more than 32 adapters deep (a cycle of base organisms?)")
    base_meta = _verified_meta(base_dir)
    base = (_load_adapter_organism(base_dir, base_meta, device, depth + 1)
            if base_meta.get("base_organism") else load_organism(base_dir, device=device))
    try:
        with _quiet(), warnings.catch_warnings():
            # peft 0.21 calls a transformers-v5 deprecated property; not ours to act on
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            model = PeftModel.from_pretrained(base.model, path, is_trainable=False).merge_and_unload()
    except Exception as exc:  # noqa: BLE001 - every loader failure becomes one line
        raise OrganismError(f"{path}: cannot load its adapters: {_one_line(exc)}") from exc
    model.eval()
    return Organism(model=model, tokenizer=base.tokenizer, meta=meta)


def _verified_meta(path: Path) -> dict[str, Any]:
    """Read ``organism.json`` and check every listed weight file's sha256 against it."""
    meta_file = path / ORGANISM_FILE
    if not meta_file.exists():  # a plain HF directory: nothing recorded to check against
        return {"scale": None, "lineage": [{"stage": "import", "source": str(path)}]}
    try:
        record = read_json(meta_file)
    except (OSError, ValueError) as exc:
        raise OrganismError(f"{meta_file}: unreadable ({_one_line(exc)})") from exc
    hashes = record.get("weights_sha256") if isinstance(record, dict) else None
    if not isinstance(hashes, dict) or not hashes:
        raise OrganismError(f"{meta_file}: lacks a weights_sha256 table")
    for name, expected in sorted(hashes.items()):
        weight = path / name
        if not weight.is_file():
            raise OrganismError(f"{weight}: weight file listed in {ORGANISM_FILE} is missing")
        if file_sha256(weight) != expected:
            raise OrganismError(f"{weight}: sha256 does not match {ORGANISM_FILE} (corrupt?)")
    return {k: v for k, v in record.items() if k not in _DERIVED_KEYS}


def _check_safetensors(path: Path) -> None:
    """Fail early, with the file's name, on missing, pickle-only or unreadable weights."""
    from safetensors import safe_open

    if not (path / "config.json").is_file():
        raise OrganismError(f"{path}: missing config.json")
    files = sorted(path.glob("*.safetensors"))
    if not files:
        pickles = sorted(p.name for ext in ("*.bin", "*.pt", "*.pth") for p in path.glob(ext))
        if pickles:  # never unpickle: loading a pickle can run arbitrary code
            raise OrganismError(f"{path}: only pickle weights {pickles}; convert them to safetensors")
        raise OrganismError(f"{path}: no .safetensors weights")
    for f in files:
        try:
            with safe_open(str(f), framework="pt") as fh:
                fh.keys()
        except Exception as exc:  # noqa: BLE001 - the safetensors errors have no common base
            raise OrganismError(f"{f}: unreadable safetensors: {_one_line(exc)}") from exc


def _load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    """``AutoTokenizer.from_pretrained(path)``; under transformers 4.x, also a directory saved by 5.x.

    A checkpoint written by ``save_pretrained`` under 5.x before ``save_organism`` made its
    tokenizer config portable names a class 4.x lacks; it is read from a portable copy.
    """
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except ValueError:
        if not _has_tokenizer_backend_class(path):
            raise
    with tempfile.TemporaryDirectory() as tmp:
        for f in path.iterdir():
            if f.is_file() and f.suffix != ".safetensors":
                shutil.copy2(f, tmp)
        make_tokenizer_portable(tmp)
        tokenizer = AutoTokenizer.from_pretrained(tmp, trust_remote_code=False)
    tokenizer.name_or_path = str(path)
    return tokenizer


def _has_tokenizer_backend_class(path: Path) -> bool:
    """Whether the tokenizer config names ``TokenizersBackend`` and this transformers lacks it."""
    import transformers

    try:
        config = read_json(path / "tokenizer_config.json")
    except (OSError, ValueError):
        return False
    declared = isinstance(config, dict) and config.get("tokenizer_class") == "TokenizersBackend"
    return declared and not hasattr(transformers, "TokenizersBackend")


def _add_legacy_config_keys(config_file: Path) -> None:
    """Add the 4.x names of 5.x's model-config fields, so transformers 4.x builds the same model.

    5.x writes ``rope_parameters`` and ``dtype``; 4.x reads ``rope_theta``, ``rope_scaling``
    and ``torch_dtype`` and would silently use its defaults. 5.x ignores the old names when the new
    ones are present. A config that already has them is left as it is.
    """
    config = read_json(config_file)
    legacy: dict[str, Any] = {}
    rope = config.get("rope_parameters")
    if isinstance(rope, dict) and "rope_theta" in rope and "rope_theta" not in config:
        legacy["rope_theta"] = rope["rope_theta"]
        if rope.get("rope_type", "default") != "default":
            legacy["rope_scaling"] = {k: v for k, v in rope.items() if k != "rope_theta"}
    if "dtype" in config and "torch_dtype" not in config:
        legacy["torch_dtype"] = config["dtype"]
    if legacy:
        atomic_write_json(config_file, {**config, **legacy})


def _prepare_tokenizer(path: Path, tokenizer: PreTrainedTokenizerBase) -> None:
    """Require a chat template; pad on the left with a defined pad token (for generation)."""
    if not getattr(tokenizer, "chat_template", None):
        raise OrganismError(f"{path}: tokenizer has no chat template")
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:  # common for real models; pads are masked anyway
        tokenizer.pad_token = tokenizer.eos_token


def _sync_generation_config(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Make ``model.generate`` stop at end of turn and pad with ``<pad>``.

    Only unset ids are filled, so a real model keeps its own (often several) eos ids.
    """
    gen = model.generation_config
    for name in ("eos_token_id", "pad_token_id", "bos_token_id"):
        if getattr(gen, name, None) is None:
            setattr(gen, name, getattr(tokenizer, name))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide transformers' per-shard progress bars, which clutter logs for tiny checkpoints."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


__all__ = ["Organism", "new_organism", "save_organism", "load_organism", "n_params"]
