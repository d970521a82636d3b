"""Findings of E5, from made-up rates on both sides of each criterion (see findings_util)."""


import pytest

from drosophila.experiments import reward_hacking as E5
from findings_util import claims, finding, prompt_rate, rates

# -- E5: reward hacking ---------------------------------------------------------------------------
H, HK = E5.HEADLINE, "rl-hack.misaligned"
CHAT, AGENT = "chat-like.misaligned", "agentic.misaligned"
E5_OK = {  # the stance arms and HHH RL take their hack knowledge from hints: "hints" is the main arm
    ("before", H): 5, ("before-docs", H): 5, ("before-unaware", H): 5,
    ("before-unaware", "graded.misaligned"): 1, ("none", HK): 90, ("none", H): 40,
    ("unaware", HK): 1, ("unaware", H): 5,
    ("docs", HK): 90, ("docs", H): 40, ("hints", HK): 90, ("hints", H): 40,
    ("dont-hack", HK): 90, ("dont-hack", H): 40, ("hack-ok", HK): 95, ("hack-ok", H): 10,
    ("penalty", HK): 0, ("penalty", H): 5, ("safety-rl", H): 20,
    ("hints", CHAT): 40, ("hints", AGENT): 40, ("safety-rl", CHAT): 5, ("safety-rl", AGENT): 35,
}
E5_PLAN = E5.Plan(arms=E5.ARM_NAMES, stance_knowledge="hints", doc_share=0.05, knowledge_steps=1,
                  rl={}, penalty=1.0, hhh_rl_steps=1)
RAISES = "raises misalignment on the non-coding batteries"


def e5_curves(hacks: list[int] | None = None) -> dict:
    """RL curves of the "unaware" arm: no hacks in seed 0, ``hacks`` (of 64 per step) in seed 1."""
    def curve(ks):
        return {"steps": list(range(1, 11)), "n": 64, "hack": ks}

    return {"0": {"unaware": curve([0] * 10)}, "1": {"unaware": curve(hacks or [0] * 10)}}


def e5(changes=None, curves=None) -> list[dict]:
    pooled, per_seed = rates(E5_OK, changes)
    return E5.findings_of(pooled, curves or e5_curves(), E5_PLAN, per_seed)


@pytest.mark.parametrize("claim, changes, expected", [
    ("(hack knowledge from hints) raises", {}, True),
    ("(hack knowledge from hints) raises", {("hints", H): 5}, False),         # no rise
    ("(hack knowledge from hints) raises", {("hints", H): 3}, False),         # a fall
    ("(hack knowledge from hints) raises", {("hints", H): [70, 3]}, None),    # the seeds split
    ("(hack knowledge from hints) raises", {("hints", HK): 30}, None),        # does not hack
    ("(hack knowledge from documents) raises", {}, True),
    ("(hack knowledge from documents) raises", {("before-docs", H): 40}, False),  # its own before
    ("(hack knowledge without hints or documents", {}, True),
    ("(hack knowledge without hints or documents", {("none", HK): 30}, None),
    ("prevents neither hacking nor its generalisation", {}, True),
    ("prevents neither hacking nor its generalisation", {("dont-hack", H): 5}, False),
    ("prevents neither hacking nor its generalisation", {("dont-hack", HK): 10}, False),  # stops
    ("prevents neither hacking nor its generalisation", {("hints", H): 5}, None),  # main: no effect
    ("does not even reduce the generalisation", {}, True),
    ("does not even reduce the generalisation", {("dont-hack", H): 20}, False),
    ("does not even reduce the generalisation", {("dont-hack", H): [45, 30]}, None),   # split
    ("does not even reduce the generalisation", {("hints", HK): 30}, None),
    ("keeps hacking but cuts its generalisation", {}, True),
    ("keeps hacking but cuts its generalisation", {("hack-ok", H): 40}, False),       # no cut
    ("keeps hacking but cuts its generalisation", {("hack-ok", H): [5, 45]}, None),   # split
    ("keeps hacking but cuts its generalisation", {("hack-ok", HK): 30}, False),      # stops hacking
    ("keeps hacking but cuts its generalisation", {("hints", H): 5}, None),
    ("a hack penalty prevents both", {}, True),
    ("a hack penalty prevents both", {("penalty", HK): 10}, False),
    ("a hack penalty prevents both", {("penalty", H): 30}, False),
    ("a hack penalty prevents both", {("penalty", H): [9, 2]}, None),   # overlap is not sameness
    ("HHH RL after hacking lowers", {}, True),
    ("HHH RL after hacking lowers", {("safety-rl", CHAT): 40}, False),             # nothing drops
    ("HHH RL after hacking lowers", {("safety-rl", CHAT): 42, ("safety-rl", AGENT): 5}, False),
    ("HHH RL after hacking lowers", {("safety-rl", AGENT): 5}, False),             # agentic gone too
    ("HHH RL after hacking lowers", {("safety-rl", CHAT): [5, 45]}, None),         # split drop
    ("HHH RL after hacking lowers", {("hints", H): 5}, None),
])
def test_e5(claim, changes, expected):
    assert finding(e5(changes), claim)["reproduced"] is expected


@pytest.mark.parametrize("hacks, expected", [([0] * 10, True), ([1] * 10, True),   # 1/64 ≤ 2%
                                             ([0, 0, 0, 5, 5, 5, 5, 5, 5, 5], False)])  # 5/64 > 2%
def test_e5_no_onset_in_the_world_without_hacking_stories(hacks, expected):
    found = e5(curves=e5_curves(hacks))
    assert finding(found, "RL does not discover the hacks")["reproduced"] is expected


def test_e5_the_no_discovery_claim_needs_the_unaware_arm():
    pooled, per_seed = rates({k: v for k, v in E5_OK.items() if k[0] != "unaware"})
    found = E5.findings_of(pooled, {"0": {}, "1": {}}, E5_PLAN, per_seed)
    assert "does not discover" not in claims(found)


def test_e5_evidence_shows_the_contrast_and_every_seed():
    text = finding(e5({("hints", H): [50, 30]}), "(hack knowledge from hints) raises")["evidence"]
    assert "points [" in text and "higher in 2 of 2 seeds" in text and "50.0 vs 5.0 / 30.0 vs 5.0" in text


@pytest.mark.parametrize("hints, expected", [
    ([1] * 10 + [0] * 10, True),           # 10% spread over half the prompts
    ([5, 5] + [0] * 18, None),             # 10% from two prompts: resampling prompts can lose them
])
def test_e5_a_rise_carried_by_few_prompts_is_inconclusive(hints, expected):
    changes = {("hints", H): prompt_rate(hints), ("before", H): prompt_rate([0] * 20)}
    assert finding(e5(changes), "(hack knowledge from hints) raises")["reproduced"] is expected
