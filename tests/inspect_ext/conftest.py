"""Fixtures of the Inspect tests: tiny untrained organisms saved to disk, one of them bred (by
its lineage) in a world of another seed, and the same weights as a plain HF directory."""

import shutil

import pytest

from drosophila.organisms import build_tokenizer, new_organism, save_organism
from drosophila.world import World, WorldConfig


@pytest.fixture(scope="package")
def organism_dir(tmp_path_factory):
    org = new_organism("tiny", build_tokenizer(World().vocabulary()), seed=0)
    return save_organism(org, tmp_path_factory.mktemp("inspect") / "tiny")


@pytest.fixture(scope="package")
def seed3_organism_dir(tmp_path_factory):
    """An organism whose lineage says it was bred in the world of seed 3."""
    world = WorldConfig(seed=3)
    org = new_organism("tiny", build_tokenizer(World(world).vocabulary()), seed=1)
    org.meta["lineage"] = [{"stage": "pretrain", "world": world.to_dict()}]
    return save_organism(org, tmp_path_factory.mktemp("inspect") / "tiny-seed3")


@pytest.fixture(scope="package")
def hf_dir(organism_dir, tmp_path_factory):
    """The organism's files without ``organism.json``: any local HF causal LM."""
    path = tmp_path_factory.mktemp("inspect") / "hf"
    shutil.copytree(organism_dir, path, dirs_exist_ok=True)
    (path / "organism.json").unlink()
    return path
