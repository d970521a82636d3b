"""A tiny word-level tokenizer and a tiny organism with large random weights, shared by the
sampling tests (module-scoped: each test module gets its own, as before)."""

import pytest

from drosophila.organisms import build_tokenizer, new_organism
from drosophila.seeding import configure_torch
from model_util import scrambled

WORDS = [f"w{i}" for i in range(120)] + ". , ? hello hi there".split()


@pytest.fixture(scope="module")
def tok():
    configure_torch()
    return build_tokenizer(WORDS)


@pytest.fixture(scope="module")
def model(tok):
    """A fresh organism only repeats its last token; its weights are redrawn large."""
    return scrambled(new_organism("tiny", tok, seed=0).model)
