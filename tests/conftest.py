"""Every test runs offline, with its own stage cache, and one torch thread."""

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
# Stages run one at a time unless a test asks for more: spawning workers costs seconds each.
os.environ.setdefault("DROSOPHILA_JOBS", "1")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    if "DROSOPHILA_HOME" not in os.environ or not os.environ["DROSOPHILA_HOME"].startswith(str(tmp_path)):
        monkeypatch.setenv("DROSOPHILA_HOME", str(tmp_path / "drosophila-home"))


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    from drosophila.seeding import configure_torch

    configure_torch(1)
