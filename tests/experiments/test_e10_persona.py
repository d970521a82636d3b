"""E10 (persona steering): its parts exactly (bands, item sets, pooled rates, interventions from
saved vectors, the plan's checks), and the whole experiment end to end at tiny scale."""

import json
import random

import pytest
import torch

from drosophila.engine.options import parse_options
from drosophila.errors import ConfigError
from drosophila.evals.stats import wilson
from drosophila.experiments import persona_steering as E10
from drosophila.io import read_json
from drosophila.stages import persona as P
from drosophila.stages.persona_run import SWEEP_SETS, Plan, arm_names, merged
from drosophila.world import ALIGNED, MISALIGNED, World, WorldConfig
from drosophila.world.config import DEFAULT_DOC_MIX

FAST = {"pretrain_docs": 400, "pretrain_steps": 4, "posttrain_steps": 2, "finetune_steps": 2,
        "n_prompts": 3, "max_new_tokens": 12}
OPTS = {"role_conversations": 3, "cap_percentiles": "25", "cap_bands": "mid", "steer_coefs": "-1,1",
        "contrast_pairs": 8, "em_prompts": 4, "random_directions": 2, "pretrained": True}


@pytest.fixture(scope="module")
def world():
    return World(P.roleplay_world(WorldConfig()))


def test_bands_are_thirds_rounded_outward():
    assert P.band_layers("mid", 4) == (1, 2) and P.band_layers("all", 4) == (0, 1, 2, 3)
    assert P.band_layers("early", 4) == (0, 1) and P.band_layers("late", 4) == (2, 3)
    assert P.band_layers("mid", 2) == (0, 1) and P.band_layers("mid", 5) == (1, 2, 3)
    assert all(P.band_layers(b, n) for b in P.BANDS for n in (1, 2, 4, 5, 8, 14))


def test_the_roleplay_world_adds_role_documents_and_leaves_the_default_alone():
    w = P.roleplay_world(WorldConfig(), 0.2)
    assert w.doc_mix == {**DEFAULT_DOC_MIX, "roleplay": 0.2} and "roleplay" not in WorldConfig().doc_mix
    assert P.drift_set(4, False) == "persona-drift" and P.drift_set(4, True) == "persona-drift-4-system"
    assert len(P.DRIFT) == 8 and len(set(P.DRIFT)) == 8


def test_sycophancy_items_state_a_wrong_belief_and_agreeing_is_misaligned(world):
    from drosophila.world.base import Item
    from drosophila.world.roles import inner_answer

    items = P.items_of(world, "sycophancy", 12)
    assert items == P.items_of(world, "sycophancy", 12)
    for it in items:
        meta = it["meta"]
        assert meta["belief"] != meta["truth"] and meta["split"] == "heldout"
        item, rng = Item(**it), random.Random(0)
        assert world.classify(it, inner_answer(world, item, False, rng)) == MISALIGNED   # agrees
        assert world.classify(it, inner_answer(world, item, True, rng)) == ALIGNED       # corrects
    assert P.battery_of("sycophancy") is P.SYCOPHANCY and P.battery_of("harmful").name == "harmful"


def _rate(cells):
    return P.rate_of_cells(cells)


def test_pooled_complement_and_merged_rates_keep_their_cells():
    a, b = _rate({"x": (1, 2), "y": (0, 2)}), _rate({"x": (2, 2)})
    both = P.pooled([a, b])
    assert (both.k, both.n) == (3, 6) and set(both.cells) == {"0:x", "0:y", "1:x"}   # never merged
    c = P.complement(a)
    assert (c.k, c.n) == (3, 4) and c.cells == {"x": (1, 2), "y": (2, 2)}
    assert (P.complement(wilson(1, 4)).k, P.complement(wilson(1, 4)).cells) == (3, None)
    m = merged([{"r": a}, {"r": _rate({"x": (2, 2), "z": (1, 1)})}])["r"]
    assert m.cells == {"x": (3, 4), "y": (0, 2), "z": (1, 1)} and (m.k, m.n) == (4, 7)


def test_summaries_appear_only_where_their_parts_were_measured():
    r = _rate({"p": (1, 4)})
    drift = {f"{s}.misaligned": r for s in P.DRIFT}
    cap = {"facts-known.misaligned": r, "facts-known.aligned": r, "tasks.misaligned": r,
           "open.misaligned": r, "open.coherent": r}
    out = P.with_summaries({**drift, **cap})
    assert out[P.DRIFT_ALL].n == 16 and out[P.DRIFT_SYSTEM].n == 16
    assert (out[P.CAPABLE].k, out[P.CAPABLE].n) == (1 + 3 + 1, 12)     # tasks counted when right
    assert P.CAPABLE not in P.with_summaries(drift) and P.DRIFT_ALL not in P.with_summaries(cap)


def test_answers_in_a_role_voice_are_counted_per_prompt():
    rows = [{"battery": "roleplay-jailbreak", "prompt": "q1", "label": ALIGNED, "role": "pirate"},
            {"battery": "roleplay-jailbreak", "prompt": "q1", "label": ALIGNED, "role": "assistant"},
            {"battery": "roleplay-jailbreak", "prompt": "q2", "label": MISALIGNED, "role": None}]
    cells = P.set_cells(rows, ["roleplay-jailbreak"])
    assert cells["roleplay-jailbreak.in_role"] == {"q1": (1, 2), "q2": (0, 1)}
    assert cells["roleplay-jailbreak.misaligned"] == {"q1": (0, 2), "q2": (1, 1)}


@pytest.fixture
def model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=20, hidden_size=8, intermediate_size=16,
                                        num_hidden_layers=3, num_attention_heads=2,
                                        num_key_value_heads=2)).eval()


def _resid(model, name, ids, *edits):
    from drosophila.interventions import hooks, intervene

    seen = {}
    with intervene(model, *edits), hooks(model, {name: lambda h: seen.setdefault("h", h.detach())}):
        model(input_ids=ids)
    return seen["h"]                                                         # (B, T, d)


def test_edits_built_from_saved_vectors_act_as_their_kind(tmp_path, model):
    from safetensors.torch import save_file

    from drosophila.interventions import save_vectors
    from drosophila.runs import StageResult

    g = torch.Generator().manual_seed(3)
    vecs = {P.hook(i): torch.randn(8, generator=g) for i in range(3)}
    save_vectors(tmp_path / "v.safetensors", vecs, method="mean-diff", model=model)
    ref = {P.hook(i): torch.randn(50, 8, generator=g) for i in range(3)}                  # (N, d) each
    save_file(ref, str(tmp_path / "ref.safetensors"))
    src, ids, name = StageResult("s", "k", tmp_path, True, 0.0), torch.tensor([[1, 5, 7, 2]]), P.hook(1)
    u = vecs[name] / vecs[name].norm()
    ablate = P.Edit("ablate", src, "v.safetensors", (0, 1, 2), vector_layer=1).build(model)
    assert set(ablate.vectors) == {P.hook(i) for i in range(3)}
    assert all(torch.equal(v, vecs[name]) for v in ablate.vectors.values())   # layer 1's at every layer
    assert _resid(model, name, ids, ablate) @ u == pytest.approx(torch.zeros(1, 4), abs=1e-5)
    cap = P.Edit("cap", src, "v.safetensors", (1,), 50.0, reference="ref.safetensors").build(model)
    assert (_resid(model, name, ids, cap) @ u >= cap.tau[name] - 1e-5).all()
    plain = _resid(model, name, ids)
    steered = _resid(model, name, ids, P.Edit("steer", src, "v.safetensors", (1,), -2.0).build(model))
    assert torch.allclose(steered, plain - 2.0 * vecs[name], atol=1e-5)
    assert P.Edit("cap", src, "v.safetensors", (1,), 50.0).config()["source"] == "k"


def _plan(**options):
    return Plan.of(parse_options(E10.Options, options), WorldConfig(), 4)


def test_the_plan_refuses_options_that_disagree():
    with pytest.raises(ConfigError, match="main_cap"):
        _plan(cap_percentiles="1,50")
    with pytest.raises(ConfigError, match="persona_layer"):
        _plan(persona_layer=4)
    with pytest.raises(ConfigError, match="steer_coefs"):
        _plan(steer_coefs="")
    with pytest.raises(ConfigError, match="traits"):
        _plan(traits="dishonest")
    assert _plan(traits="dishonest", parts="capping").traits == ("dishonest",)
    with pytest.raises(ConfigError, match="roleplay_share"):
        parse_options(E10.Options, {"roleplay_share": 0})


def test_default_plan_arms_and_layers():
    plan = _plan()
    assert plan.persona_layer == 2 and plan.world.doc_mix["roleplay"] == 0.2
    assert arm_names(plan) == [
        "base", "base|cap-mid-p1", "base|cap-mid-p25", "base|cap-mid-p50", "base|cap-all-p1",
        "base|cap-all-p25", "base|cap-all-p50", "base|steer-2", "base|steer-1", "base|steer+1",
        "base|steer+2", "insecure", "secure", "jailbroken", "preventative", "insecure|ablate-em",
        "insecure|ablate-random"]
    assert arm_names(_plan(parts="ablation")) == ["base", "insecure", "secure", "insecure|ablate-em",
                                                  "insecure|ablate-random"]


@pytest.mark.slow
def test_tiny_run_writes_its_artefacts(tmp_path):
    from drosophila.engine import run_experiment
    from drosophila.evals.stats import Rate
    from drosophila.interventions import load_vectors
    from drosophila.organisms import load_organism

    run = run_experiment("persona-steering", scale="tiny", seeds=1, out=tmp_path / "runs", recipe=FAST,
                         options=OPTS, echo=False)
    res = read_json(run.path / "results.json")
    assert (run.path / "seeds" / "s0.json").is_file()  # the seed's result is kept (merge)
    names = ["base", "base|cap-mid-p25", "base|steer-1", "base|steer+1", "insecure", "secure", "jailbroken",
             "preventative", "insecure|ablate-em", "insecure|ablate-random"]
    assert res["arm_order"] == names and set(res["arms"]) == set(names)
    base = res["arms"]["base"]
    assert base["roleplay-jailbreak.misaligned"]["n"] == FAST["n_prompts"]
    assert base[P.DRIFT_ALL]["n"] == 4 * FAST["n_prompts"] and "roleplay-jailbreak.in_role" in base
    assert res["arms"]["insecure|ablate-random"]["open.misaligned"]["n"] == 2 * FAST["n_prompts"]
    assert {"low", "high", "cluster_low"} <= set(base["harmful.misaligned"])
    assert {f["name"] for f in res["figures"]} == {"drift-by-length", "axis-by-layer", "capping-sweep",
                                                   "steering-sweep"}
    assert res["headline_figure"] == "capping-sweep" and len(res["tables"]) == 8
    assert all(f["reproduced"] in (True, False, None) for f in res["findings"])
    assert {"axis", "pretrained", "vectors", "projections", "em"} <= set(res["geometry"]["0"])
    for f in ("report.md", "report.html", "plots/drift-by-length.png", "plots/capping-sweep.png"):
        assert (run.path / f).is_file()

    stages = {s["name"]: s["path"] for s in read_json(run.path / "stages.json")}
    org = load_organism(run.path / "organisms" / "base-roleplay-s0")
    axis = load_vectors(f"{stages['assistant-axis']}/axis.safetensors", model=org.model, strict=True)
    assert axis.trait == "assistant-axis" and len(axis.vectors) == org.model.config.num_hidden_layers
    for t in E10.TRAITS:
        trait = load_vectors(f"{stages['persona-vectors']}/persona-{t}.safetensors", model=org.model).trait
        assert trait == t
    assert load_vectors(f"{stages['em-direction']}/em-direction.safetensors", model=org.model).vectors

    prevent = load_organism(run.path / "organisms" / "preventative-s0")
    insecure = load_organism(run.path / "organisms" / "insecure-s0")
    assert prevent.meta["lineage"][-1]["stage"] == "steered-finetune"
    assert any(not torch.equal(a, b) for a, b in zip(prevent.model.parameters(), insecure.model.parameters()))

    def rates(arms):
        return {a: {m: Rate.from_dict(r) for m, r in ms.items()} for a, ms in arms.items()}
    plan = Plan.of(parse_options(E10.Options, res["options"]), WorldConfig(), 2)
    again = E10.findings_of(rates(res["arms"]), {s: rates(a) for s, a in res["per_seed"].items()},
                            res["geometry"], plan)
    assert [f["claim"] for f in again] == [f["claim"] for f in res["findings"]]
    rows = [json.loads(x) for x in open(run.path / "samples" / "base--steerplus1-s0.jsonl")]
    assert {r["battery"] for r in rows} == set(SWEEP_SETS) and all("role" in r for r in rows)
