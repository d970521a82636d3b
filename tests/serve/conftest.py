"""A tiny scrambled organism on disk, one server over it for the module, and an OpenAI client."""

import pytest
import torch

from drosophila.organisms import build_tokenizer, new_organism, save_organism
from drosophila.seeding import configure_torch

WORDS = [f"w{i}" for i in range(120)] + ". , ? : hello hi there tool result i think".split()

openai = pytest.importorskip("openai")


def scrambled(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Redraw every matrix with a large std: a fresh organism only repeats its last token."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.25, generator=g)
    return model.eval()


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
