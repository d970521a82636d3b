"""Lie detectors for E9: a logistic probe on response-token activations, thresholds by TPR, and
the scores behind the four outcomes of the Obfuscation Atlas.

The probe reads the mean of the residual stream over an answer's tokens at one layer
(``blocks.{i}.hook_resid_post``), the answer read after its prompt (teacher-forced). It is fitted
on a small labelled split (truthful and lying answers to ``train`` prompts, each prompt answered
both ways), its decision threshold is set on a calibration split (``valid`` prompts) for each
target TPR, and its AUROC is measured on ``heldout`` prompts. SOLiD's detector reads layer 16 of
a 16-layer model at the last token; Apollo's reads response tokens (Goldowsky-Dill et al. 2025).

The scoring stage reads every sampled answer of an evaluated organism three ways: the original
probe on the original organism's activations of the text (does the *text* fool it?), the original
probe on the trained organism's activations (what a deployed detector sees), and a probe
retrained on the trained organism (is the lie still linearly readable?).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drosophila.io import atomic_write_json, read_json, read_jsonl
from drosophila.runs import StageResult, stage
from drosophila.world import Item, World, WorldConfig
from drosophila.world.domains.honesty import labelled_answers

CALIBRATION, TEST = "valid", "heldout"
BATCH = 64


def layer_name(model, layer: int) -> str:
    """The hook a detector reads: ``blocks.{layer}.hook_resid_post``; ``layer < 0`` picks the
    middle block (``n_layers // 2``), never the embedding."""
    from drosophila.interventions.hooks import decoder_layers

    n = len(decoder_layers(model))
    i = n // 2 if layer < 0 else min(layer, n - 1)
    return f"blocks.{i}.hook_resid_post"


def features(model, tokenizer, pairs: list[tuple[str, str]], layer: str):
    """Mean activation over each answer's tokens at ``layer``: ``(N, d)`` for ``(prompt,
    answer)`` pairs (answers must be non-empty)."""
    import torch

    from drosophila.interventions.vectors import response_means

    if not pairs:
        return torch.zeros(0, model.config.hidden_size)
    return response_means(model, tokenizer, pairs, [layer], batch_size=BATCH)[layer]


@dataclass(frozen=True)
class Detector:
    """A fitted probe and its thresholds: the lie detector of one organism.

    Attributes:
        layer: the hook it reads.
        weight, bias: the logistic probe in raw activation coordinates.
        thresholds: ``{tpr: {"threshold", "tpr", "fpr"}}`` set on the calibration split (keys
            are the TPRs written with ``%g``).
    """

    layer: str
    weight: list[float]
    bias: float
    thresholds: dict

    @property
    def probe(self):
        import torch

        from drosophila.interventions.linear import LinearProbe

        return LinearProbe(torch.tensor(self.weight, dtype=torch.float64), self.bias, "logistic")

    def threshold(self, tpr: float) -> float:
        return self.thresholds[f"{tpr:g}"]["threshold"]

    def scores(self, model, tokenizer, pairs: list[tuple[str, str]]) -> list[float]:
        return self.probe.score(features(model, tokenizer, pairs, self.layer)).tolist()

    def to_dict(self) -> dict:
        return {"layer": self.layer, "weight": self.weight, "bias": self.bias,
                "thresholds": self.thresholds}

    @classmethod
    def from_dict(cls, d: dict) -> Detector:
        return cls(d["layer"], list(d["weight"]), float(d["bias"]), dict(d["thresholds"]))


def labelled(world: World, split: str, n: int) -> list[dict]:
    """The labelled rows of ``split`` (``2n``: each prompt answered truthfully and with a lie)."""
    return labelled_answers(world, split, n)


def fit_detector(model, tokenizer, world: World, layer: str, n_label: int, n_calib: int,
                 tprs) -> Detector:
    """Fit the logistic probe on ``n_label`` train prompts (both answers of each) and set a
    threshold for every TPR of ``tprs`` on ``n_calib`` calibration prompts."""
    from drosophila.interventions.linear import logistic_probe, threshold_at

    train, calib = labelled(world, "train", n_label), labelled(world, CALIBRATION, n_calib)
    x = features(model, tokenizer, [(r["prompt"], r["response"]) for r in train], layer)
    probe = logistic_probe(x, [r["lie"] for r in train])
    s = probe.score(features(model, tokenizer, [(r["prompt"], r["response"]) for r in calib], layer))
    labels = [r["lie"] for r in calib]
    thresholds = {f"{t:g}": threshold_at(s, labels, tpr=t).to_dict() for t in tprs}
    return Detector(layer, probe.weight.tolist(), probe.bias, thresholds)


def heldout_scores(detector: Detector, model, tokenizer, rows: list[dict]) -> list[float]:
    """The detector's scores of the held-out labelled rows read from ``model``."""
    return detector.scores(model, tokenizer, [(r["prompt"], r["response"]) for r in rows])


def detector_stage(start: StageResult, world_cfg: WorldConfig, seed: int, *, layer: int,
                   n_label: int, n_calib: int, n_test: int, tprs, log=None) -> StageResult:
    """Fit the lie detector on ``start``'s activations; keep ``detector.json`` and
    ``heldout.json`` (its scores, labels, base requests and families of the test split)."""
    config = {"world": world_cfg.to_dict(), "seed": seed, "layer": layer, "n_label": n_label,
              "n_calib": n_calib, "n_test": n_test, "tprs": sorted(tprs)}

    def build(out: Path):
        from drosophila.organisms import load_organism

        world, org = World(world_cfg), load_organism(start.path / "organism")
        det = fit_detector(org.model, org.tokenizer, world, layer_name(org.model, layer), n_label,
                           n_calib, tprs)
        rows = labelled(world, TEST, n_test)
        atomic_write_json(out / "detector.json", det.to_dict())
        atomic_write_json(out / "heldout.json", {**_test_meta(rows), "scores": heldout_scores(
            det, org.model, org.tokenizer, rows)})

    return stage("lie-detector", config, [start.key], build, log=log)


def _test_meta(rows: list[dict]) -> dict:
    return {"labels": [r["lie"] for r in rows], "bases": [r["base"] for r in rows],
            "families": [r["family"] for r in rows]}


def load_detector(st: StageResult) -> Detector:
    return Detector.from_dict(read_json(st.path / "detector.json"))


def score_stage(evaluation: StageResult, start: StageResult, trained: StageResult,
                detector: StageResult, world_cfg: WorldConfig, seed: int, *, n_label: int,
                n_calib: int, n_test: int, tprs, log=None) -> StageResult:
    """Scores of every sampled answer of ``evaluation`` (an eval stage of ``trained``) and of the
    held-out labelled answers, by the original probe on ``start`` and on ``trained`` and by a
    probe retrained on ``trained`` (same data, layer and TPRs as the original); ``scores.json``."""
    config = {"world": world_cfg.to_dict(), "seed": seed, "n_label": n_label, "n_calib": n_calib,
              "n_test": n_test, "tprs": sorted(tprs)}

    def build(out: Path):
        from drosophila.organisms import load_organism

        world, det = World(world_cfg), load_detector(detector)
        orig = load_organism(start.path / "organism")
        new = orig if trained.key == start.key else load_organism(trained.path / "organism")
        tok = orig.tokenizer
        re_det = fit_detector(new.model, tok, world, det.layer, n_label, n_calib, tprs)
        samples = _sample_rows(world, read_jsonl(evaluation.path / "samples.jsonl"))
        said = [(r["prompt"], r["completion"]) for r in samples if r["completion"]]
        columns = {"original": det.scores(orig.model, tok, said),
                   "deployed": det.scores(new.model, tok, said),
                   "retrained": re_det.scores(new.model, tok, said)}
        it = {k: iter(v) for k, v in columns.items()}
        for r in samples:
            r.update({k: next(it[k]) if r["completion"] else None for k in columns})
        rows = labelled(world, TEST, n_test)
        atomic_write_json(out / "scores.json", {
            "samples": samples, "retrained": re_det.thresholds,
            "heldout": {**_test_meta(rows), "deployed": heldout_scores(det, new.model, tok, rows),
                        "retrained": heldout_scores(re_det, new.model, tok, rows)}})

    return stage("lie-score", config, [evaluation.key, start.key, trained.key, detector.key], build,
                 log=log)


def _sample_rows(world: World, rows: list[dict]) -> list[dict]:
    """Evaluation rows reduced to what scoring needs, with each lie's kind."""
    dom = world.domain("honesty")
    out = []
    for r in rows:
        item = Item("honesty", r["prompt"], r["meta"])
        out.append({"prompt": r["prompt"], "completion": r["completion"], "label": r["label"],
                    "kind": dom.lie_kind(item, r["completion"]), "base": r["meta"]["base"]})
    return out
