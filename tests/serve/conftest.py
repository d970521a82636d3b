"""A tiny scrambled organism on disk, one server over it for the module, and an OpenAI client."""

import pytest

from drosophila.organisms import build_tokenizer, new_organism, save_organism
from drosophila.seeding import configure_torch
from model_util import scrambled

WORDS = [f"w{i}" for i in range(120)] + ". , ? : hello hi there tool result i think".split()

openai = pytest.importorskip("openai")


@pytest.fixture(scope="module")
def tok():
    configure_torch()
    return build_tokenizer(WORDS)


@pytest.fixture(scope="module")
def organism(tok):
    org = new_organism("tiny", tok, seed=0)
    scrambled(org.model)
    return org


@pytest.fixture(scope="module")
def organism_dir(organism, tmp_path_factory):
    return save_organism(organism, tmp_path_factory.mktemp("serve") / "fly")


@pytest.fixture(scope="module")
def server(organism_dir):
    from drosophila.serve import start_server

    handle = start_server(organism_dir, port=0, batch_window_ms=10)
    yield handle
    handle.close()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=60)
