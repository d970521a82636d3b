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


def naive_greedy(model, prompt: list[int], n: int) -> list[int]:
    """Full forward of the growing sequence, no cache, no batch: the definition of greedy."""
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
    return seq[len(prompt):]
