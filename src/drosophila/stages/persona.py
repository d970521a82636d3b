"""What E10 (persona steering) evaluates, and how: the role-play world, layer bands, the item
sets, interventions named by the stage that holds their vectors, and the evaluation stage that
samples under an intervention.

An evaluation here is :func:`drosophila.stages.pipeline.evaluate_stage` with two additions: an
optional :class:`Edit` (cap, steer or ablate along saved vectors) active in every forward while
the organism samples, and one set that is not a registered battery, ``sycophancy`` (fact
questions that first state a wrong belief of the user's). Every answer also records the role
whose speech habits it shows (:func:`drosophila.world.roles.role_of`), so a role-play set
reports how often the organism answered in a role (``<set>.in_role``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path

from drosophila.engine.recipes import Recipe
from drosophila.evals.stats import Rate, wilson, with_cluster
from drosophila.io import atomic_write_json, atomic_write_jsonl, canonical_hash, read_json, read_jsonl
from drosophila.runs import StageResult, stage
from drosophila.world import World, WorldConfig
from drosophila.world.registry import Battery, get_battery

# -- the world and the layers ---------------------------------------------------------------------
ROLEPLAY_SHARE = 0.2  # weight of role-play documents beside the default mix (which sums to 1)


def roleplay_world(world: WorldConfig, share: float = ROLEPLAY_SHARE) -> WorldConfig:
    """``world`` with role-play documents in its corpus at weight ``share`` (``share / (1 +
    share)`` of the documents), which also brings the roleplay domain and its batteries in."""
    return replace(world, doc_mix={**world.doc_mix, "roleplay": share})


BANDS = ("early", "mid", "late", "all")


def band_layers(band: str, n_layers: int) -> tuple[int, ...]:
    """The blocks of a band of an ``n_layers`` decoder: thirds rounded outward (``mid`` of 4
    blocks is 1–2), or ``all``."""
    lo, hi = n_layers // 3, -(-2 * n_layers // 3)        # floor(n/3), ceil(2n/3)
    span = {"early": (0, max(1, -(-n_layers // 3))), "mid": (lo, max(hi, lo + 1)),
            "late": (2 * n_layers // 3, n_layers), "all": (0, n_layers)}[band]
    return tuple(range(*span))


def hook(layer: int) -> str:
    """The residual stream leaving block ``layer``: where every vector of E10 is read and acts."""
    return f"blocks.{layer}.hook_resid_post"


# -- item sets -----------------------------------------------------------------------------------
SYCOPHANCY = Battery("sycophancy", "facts", "agrees with a wrong belief the user states first")
DRIFT_TURNS = (1, 2, 4, 8)


def drift_set(turns: int, system: bool) -> str:
    """The persona-drift battery of ``turns`` pulls, without or behind the system prompt."""
    if turns == 4 and not system:
        return "persona-drift"
    return f"persona-drift-{turns}" + ("-system" if system else "")


DRIFT = [drift_set(k, s) for s in (False, True) for k in DRIFT_TURNS]
HARM = ["harmful", "roleplay-jailbreak"]
CAPABILITY = ["facts-known", "tasks", "open"]
# each persona trait and the set whose misaligned rate measures it
TRAIT_SET = {"malicious": "open", "dishonest": "facts", "sycophantic": "sycophancy",
             "rule-breaking": "harmful"}


def battery_of(name: str) -> Battery:
    return SYCOPHANCY if name == SYCOPHANCY.name else get_battery(name)


def items_of(world: World, name: str, n: int) -> list[dict]:
    """``n`` held-out items of a registered battery, or of ``sycophancy``: fact questions after
    a wrong belief (a dishonest speaker of the world agrees with it; the facts classifier marks
    that answer misaligned)."""
    if name != SYCOPHANCY.name:
        from drosophila.evals.batteries import battery_prompts

        return battery_prompts(world, get_battery(name), n)
    from drosophila.world.roles import with_belief

    facts, out = world.domain("facts"), []
    for i in range(n):
        rng = world.rng("battery-sycophancy", i)
        out.append(with_belief(world, facts.sample(rng, "heldout"), rng, rate=1.0, false_rate=1.0).to_dict())
    return out


# -- interventions -------------------------------------------------------------------------------
EDITS = ("cap", "steer", "ablate")


@dataclass(frozen=True)
class Edit:
    """An intervention at ``hook_resid_post`` of ``layers``, its vectors read from a stage.

    Attributes:
        kind: ``cap`` (floor on the projection: :class:`~drosophila.interventions.Cap`),
            ``steer`` (add ``value ×`` the vector) or ``ablate`` (remove the direction).
        source: the stage whose directory holds ``file``.
        file: a vector file (:func:`~drosophila.interventions.save_vectors`) in it.
        layers: the blocks it acts on.
        value: cap: the percentile (0–100) of the reference projections taken as the floor;
            steer: the coefficient.
        vector_layer: ablate: the one layer whose vector is removed at every layer of
            ``layers`` (None: each layer its own vector).
        reference: cap: the file of reference activations ``{hook: (N, d)}`` in ``source``.
    """

    kind: str
    source: StageResult
    file: str
    layers: tuple[int, ...]
    value: float = 0.0
    vector_layer: int | None = None
    reference: str = ""

    def config(self) -> dict:
        return {"kind": self.kind, "source": self.source.key, "file": self.file,
                "layers": list(self.layers), "value": self.value,
                "vector_layer": self.vector_layer, "reference": self.reference}

    def build(self, model):
        """The :class:`~drosophila.interventions.Intervention` for ``model``."""
        from drosophila.interventions import Ablate, Cap, Steer, load_vectors

        vs = load_vectors(self.source.path / self.file, model=model).vectors
        if self.kind == "ablate":
            return Ablate({hook(i): vs[hook(self.vector_layer if self.vector_layer is not None else i)]
                           for i in self.layers})
        vectors = {hook(i): vs[hook(i)] for i in self.layers}
        if self.kind == "steer":
            return Steer(vectors, coef=self.value)
        from safetensors.torch import load_file

        acts = load_file(str(self.source.path / self.reference))
        return Cap.at_quantile(vectors, acts, self.value / 100, bound="floor")


# -- sampling and the evaluation stage -------------------------------------------------------------
def sample_texts(model, tokenizer, items: list[dict], recipe: Recipe, seed: int, *,
                 edit=None) -> list[str]:
    """One answer per item (its whole conversation sent), sampled as the recipe says, under the
    intervention ``edit`` (an :class:`~drosophila.interventions.Intervention` or None)."""
    from drosophila.interventions import intervene
    from drosophila.sampling import SamplingConfig, chat_prompt_ids, generate
    from drosophila.world.base import conversation_of

    cfg = SamplingConfig(max_new_tokens=recipe.max_new_tokens, temperature=recipe.temperature, seed=seed)
    ids = chat_prompt_ids(tokenizer, [conversation_of(it) for it in items])
    with intervene(model, edit) if edit is not None else contextlib.nullcontext():
        out = generate(model, tokenizer, ids, cfg)
    return [" ".join(t.split()) for t in tokenizer.batch_decode(out, skip_special_tokens=True)]


def persona_eval(organism: StageResult, world_cfg: WorldConfig, sets: list[str], seed: int,
                 recipe: Recipe, *, edit: Edit | None = None, n_prompts: int | None = None,
                 sub: str = "organism", log=None) -> StageResult:
    """Sample and classify every set under ``edit``; keeps ``samples.jsonl`` and
    ``metrics.json``. The key hashes the items themselves and the edit with its vectors'
    stage, so a new axis re-evaluates exactly what it caps."""
    n = n_prompts or recipe.n_prompts
    world = World(world_cfg)
    items = {s: items_of(world, s, n) for s in sets}
    config = {"world": world_cfg.to_dict(), "sets": list(sets), "seed": seed, "organism": sub,
              "n_prompts": n, "prompts": canonical_hash(items),
              "samples_per_prompt": recipe.samples_per_prompt,
              "max_new_tokens": recipe.max_new_tokens, "temperature": recipe.temperature,
              "edit": edit.config() if edit else None}

    def build(out: Path):
        from drosophila.organisms import load_organism
        from drosophila.world.roles import role_of

        org = load_organism(organism.path / sub)
        todo = [(s, it) for s in sets for it in items[s] for _ in range(recipe.samples_per_prompt)]
        texts = sample_texts(org.model, org.tokenizer, [it for _, it in todo], recipe, seed,
                             edit=edit.build(org.model) if edit else None)
        rows = [{"battery": s, "prompt": it["prompt"], "completion": t, "label": world.classify(it, t),
                 "role": role_of(t), "meta": it["meta"]} for (s, it), t in zip(todo, texts)]
        atomic_write_jsonl(out / "samples.jsonl", rows)
        metrics = summarise_sets(rows, sets)
        atomic_write_json(out / "metrics.json", {k: v.to_dict() for k, v in metrics.items()})

    inputs = [organism.key] + ([edit.source.key] if edit else [])
    return stage("persona-eval", config, inputs, build, log=log)


def set_cells(rows: list[dict], sets: list[str]) -> dict[str, dict[str, tuple[int, int]]]:
    """``{metric: {prompt: (k, n)}}``: the battery metrics of each set, and for a role-play set
    ``<set>.in_role``, answers in the voice of a role other than the assistant."""
    from drosophila.evals.batteries import prompt_cells
    from drosophila.world.roles import ASSISTANT

    cells = prompt_cells(rows, [battery_of(s) for s in sets])
    for s in sets:
        if battery_of(s).domain != "roleplay":
            continue
        acc: dict[str, list[int]] = {}
        for r in rows:
            if r["battery"] == s:
                c = acc.setdefault(r["prompt"], [0, 0])
                c[0] += r.get("role") not in (None, ASSISTANT)
                c[1] += 1
        cells[f"{s}.in_role"] = {p: (k, n) for p, (k, n) in acc.items()}
    return cells


def summarise_sets(rows: list[dict], sets: list[str]) -> dict[str, Rate]:
    """Every metric of :func:`set_cells` with its Wilson and cluster-aware (over prompts)
    intervals, carrying its cells."""
    return {m: rate_of_cells(c) for m, c in set_cells(rows, sets).items()}


def rate_of_cells(cells: dict[str, tuple[int, int]]) -> Rate:
    r = wilson(sum(k for k, _ in cells.values()), sum(n for _, n in cells.values()))
    return with_cluster(replace(r, cells=cells), [cells])


def read_persona_eval(path: Path, sets: list[str], keep=None) -> dict[str, Rate]:
    """``{metric: Rate}`` of an evaluation stage, each rate carrying its per-prompt cells;
    ``keep(rows)`` sees the samples."""
    rows = read_jsonl(path / "samples.jsonl")
    if keep:
        keep(rows)
    cells = set_cells(rows, sets)
    return {k: replace(Rate.from_dict(v), cells=cells.get(k))
            for k, v in read_json(path / "metrics.json").items()}


# -- rates pooled over sets ----------------------------------------------------------------------
def pooled(rates: list[Rate]) -> Rate:
    """Several sets' rates of one seed as one rate, keeping every set's per-prompt cells
    (prefixed by the set's position, so prompts of different sets never merge)."""
    out = wilson(sum(r.k for r in rates), sum(r.n for r in rates))
    if not all(r.cells is not None for r in rates):
        return out
    return rate_of_cells({f"{i}:{p}": c for i, r in enumerate(rates) for p, c in r.cells.items()})


def complement(r: Rate) -> Rate:
    """The share of the samples *not* counted by ``r`` (e.g. tasks answered right)."""
    out = wilson(r.n - r.k, r.n)
    if r.cells is None:
        return out
    return rate_of_cells({p: (n - k, n) for p, (k, n) in r.cells.items()})


DRIFT_ALL, DRIFT_SYSTEM, CAPABLE = "drift.misaligned", "drift-system.misaligned", "capability.kept"


def with_summaries(m: dict[str, Rate]) -> dict[str, Rate]:
    """``m`` plus the pooled metrics E10's findings read, where their parts were measured:
    drift harm over 1, 2, 4 and 8 turns without and with the system prompt, and capability
    (facts known, tasks right, open answers coherent) as one rate."""
    out = dict(m)
    for key, system in ((DRIFT_ALL, False), (DRIFT_SYSTEM, True)):
        names = [f"{drift_set(k, system)}.misaligned" for k in DRIFT_TURNS]
        if all(n in m for n in names):
            out[key] = pooled([m[n] for n in names])
    if all(f"{s}.misaligned" in m for s in CAPABILITY):
        out[CAPABLE] = pooled([m["facts-known.aligned"], complement(m["tasks.misaligned"]),
                               m["open.coherent"]])
    return out
