"""Shared by the sampling tests."""

import torch

from drosophila.sampling import sampler


def decoders_built(monkeypatch) -> list[str]:
    """Record the name of every decoder class the sampler builds (the path it took)."""
    built: list[str] = []
    for cls in (sampler.LlamaDecoder, sampler.HFDecoder):
        init = cls.__init__

        def spy(self, *a, init=init, name=cls.__name__, **kw):
            built.append(name)
            init(self, *a, **kw)

        monkeypatch.setattr(cls, "__init__", spy)
    return built


def scrambled(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Redraw every matrix with a large std.

    A freshly initialised organism (std 0.02, tied embeddings) just repeats its last input
    token under greedy decoding, which would make equality tests trivially true.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.25, generator=g)
    return model.eval()


def naive_greedy(model, prompt: list[int], n: int) -> list[int]:
    """Full forward of the growing sequence, no cache, no batch: the definition of greedy."""
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
    return seq[len(prompt):]
