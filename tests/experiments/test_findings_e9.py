"""Findings of E9, from made-up rates on both sides of each criterion (see findings_util)."""

import pytest

from drosophila.engine.options import parse_options
from drosophila.experiments import lie_detectors as E9
from drosophila.stages.lies_arms import LieOptions, Plan
from findings_util import claims, finding, rates

D, U, R, S = "deception", "undetected", "tf-recall", "of-lies.obfuscated-policy"
LOW, HIGH_STRONG = "grpo-kl0.02|tpr0.6", "grpo-kl0.5|tpr0.95"
OK = {  # default grid: TPR 0.6, 0.8, 0.95; KL 0.02, 0.5; DPO β 0.1; the no-detector control
    **{(f"before|tpr{t}", D): 40 for t in ("0.6", "0.8", "0.95")},
    ("before|tpr0.6", U): 15, ("before|tpr0.95", R): 95, ("before|tpr0.6", "flagged"): 25,
    (LOW, D): 70, (LOW, U): 60, (LOW, S): 60,
    ("grpo-kl0.02|tpr0.95", D): 10, ("grpo-kl0.5|tpr0.6", D): 30, (HIGH_STRONG, D): 10,
    **{(f"dpo-b0.1|tpr{t}", D): 10 for t in ("0.6", "0.8", "0.95")},
    ("dpo-b0.1|tpr0.6", U): 5,
    ("nodet-kl0.02|tpr0.95", R): 70, ("nodet-kl0.02|tpr0.6", S): 20,
}
HONESTY, EVASION, TPR, KL = "yields honesty", "yields evasion", "higher detector TPR", "stronger KL"
CAP, LESS, DRIFT, OBF = "keeps deception below 25%", "less obfuscation", "drift happens", "incentivises obfuscated"


def plan_of(**options):
    return Plan.of(parse_options(LieOptions, options))


def e9(changes=None, plan=None) -> list[dict]:
    """The findings of ``plan`` (default options) from OK with ``changes``; arms the plan does
    not have are left out."""
    plan = plan or plan_of()
    names = {a.name for a in plan.arms()}
    table = {k: v for k, v in {**OK, **(changes or {})}.items() if k[0] in names}
    table.update({(n, D): 5 for n in names if (n, D) not in table})
    pooled, per_seed = rates(table)
    return E9.findings_of(pooled, per_seed, plan)


def test_the_default_grid_makes_every_claim():
    assert len(e9()) == 8 and all(f["reproduced"] is True for f in e9())


@pytest.mark.parametrize("claim, changes, expected", [
    (HONESTY, {}, True),
    (HONESTY, {(HIGH_STRONG, D): 40}, False),                     # no fall
    (HONESTY, {(HIGH_STRONG, D): 60}, False),                     # a rise
    (HONESTY, {(HIGH_STRONG, D): [2, 70]}, None),                 # the seeds split
    (HONESTY, {("before|tpr0.95", D): 3, (HIGH_STRONG, D): 1}, None),   # nothing to remove
    (EVASION, {}, True),
    (EVASION, {(LOW, U): 15}, False),
    (EVASION, {(LOW, U): 5}, False),                              # evasion fell
    (EVASION, {(LOW, U): [90, 5]}, None),
    (TPR, {}, True),
    (TPR, {("grpo-kl0.02|tpr0.95", D): 70}, False),
    (TPR, {("grpo-kl0.02|tpr0.95", D): [5, 90]}, None),
    (KL, {}, True),
    (KL, {("grpo-kl0.5|tpr0.6", D): 80}, False),
    (KL, {("grpo-kl0.5|tpr0.6", D): [10, 80]}, None),
    (CAP, {}, True),
    (CAP, {("dpo-b0.1|tpr0.8", D): 30}, False),                   # one TPR above the cap
    (CAP, {("dpo-b0.1|tpr0.8", D): 22}, None),                    # its interval reaches the cap
    (LESS, {}, True),
    (LESS, {("dpo-b0.1|tpr0.6", U): 70}, False),
    (LESS, {("dpo-b0.1|tpr0.6", U): [1, 95]}, None),
    (DRIFT, {}, True),
    (DRIFT, {("nodet-kl0.02|tpr0.95", R): 95}, False),
    (DRIFT, {("nodet-kl0.02|tpr0.95", R): [60, 99]}, None),
    (OBF, {}, True),
    (OBF, {("nodet-kl0.02|tpr0.6", S): 60}, False),
    (OBF, {(LOW, S): [90, 10]}, None),
])
def test_e9(claim, changes, expected):
    assert finding(e9(changes), claim)["reproduced"] is expected


def test_claims_whose_arms_are_left_out_are_not_made():
    no_control = plan_of(control=False)
    found = claims(e9(plan=no_control))
    assert DRIFT not in found and OBF not in found and HONESTY in found
    grpo_only = plan_of(methods="grpo")
    found = claims(e9(plan=grpo_only))
    assert CAP not in found and LESS not in found and EVASION in found
    one_kl = plan_of(kls="0.02")
    found = e9({("grpo-kl0.02|tpr0.95", D): 10}, plan=one_kl)
    assert KL not in claims(found)
    assert finding(found, HONESTY)["claim"].startswith("with a high-TPR detector (TPR 0.95) and strong KL (0.02)")


def test_evidence_shows_the_contrast_and_every_seed():
    text = finding(e9({(LOW, U): [70, 50]}), EVASION)["evidence"]
    assert "points [" in text and "higher in 2 of 2 seeds" in text and "70.0 vs 15.0 / 50.0 vs 15.0" in text
    assert "flagged" in text and "deception" in text
