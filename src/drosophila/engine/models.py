"""Where a real model (``--model``) lives: a local directory, or an ID in the local Hugging Face
cache. Nothing is ever downloaded."""

from __future__ import annotations

from pathlib import Path

from drosophila.errors import ConfigError


def resolve_model(model: str) -> Path:
    """The directory of ``model``: a local path, else a model ID already in the local Hugging
    Face cache (nothing is ever downloaded).

    Raises:
        ConfigError: neither a directory nor a cached model ID.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise ConfigError(f"--model {model}: not a directory; pass a Hugging Face model directory")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=model, local_files_only=True)).resolve()
    except Exception:  # noqa: BLE001 - not cached, not a valid ID, or no hub client
        raise ConfigError(
            f"--model {model}: no such directory, and not in the local Hugging Face cache "
            "(models are never downloaded here); pass a local model directory, or download it "
            f"first (e.g. `huggingface-cli download {model}`)") from None
