"""Shared by the sampling tests."""

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
