"""Fixtures of the evaluation tests: the default world and a tiny untrained organism of it."""

import pytest

from drosophila.organisms import build_tokenizer, new_organism
from drosophila.world import World, WorldConfig


@pytest.fixture(scope="module")
def world():
    return World(WorldConfig())


@pytest.fixture(scope="module")
def organism(world):
    return new_organism("tiny", build_tokenizer(world.vocabulary()), seed=0)
