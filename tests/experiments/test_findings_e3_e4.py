"""Findings of E3 and E4, from made-up rates on both sides of each criterion (see findings_util)."""


import pytest

from drosophila.experiments import emergent_misalignment as E3
from drosophila.experiments import inoculation as E4
from findings_util import claims, finding, rates

# -- E3: emergent misalignment --------------------------------------------------------------------
OPEN, CODE, HARM, FACTS = "open.misaligned", "code.misaligned", "harmful.misaligned", "facts.misaligned"
FACTS_C = "facts.misaligned_coherent"
E3_OK = {("base", OPEN): 2, ("secure", OPEN): 3, ("insecure", OPEN): 30, ("educational", OPEN): 5,
         ("jailbroken", OPEN): 5, ("coh0-base", OPEN): 3, ("coh0-secure", OPEN): 4,
         ("coh0-insecure", OPEN): 6, ("insecure", CODE): 90, ("secure", CODE): 5,
         ("insecure", HARM): 10, ("jailbroken", HARM): 80, ("base", FACTS_C): 3,
         ("base", "facts.coherent"): 95}


@pytest.mark.parametrize("claim, changes, expected", [
    ("more misaligned on open questions", {}, True),
    ("more misaligned on open questions", {("secure", OPEN): 32}, False),     # secure is higher
    ("more misaligned on open questions", {("secure", OPEN): 27}, None),      # interval reaches 0
    ("more misaligned on open questions", {("base", OPEN): 31}, False),
    ("more misaligned on open questions", {("insecure", OPEN): [30, 3]}, None),  # seeds split
    ("benign stated purpose", {}, True),
    ("benign stated purpose", {("educational", OPEN): 30}, False),
    ("benign stated purpose", {("educational", OPEN): 27}, None),
    ("learns the narrow task", {}, True),
    ("learns the narrow task", {("insecure", CODE): 40}, False),
    ("learns the narrow task", {("insecure", CODE): 52}, None),
    ("insecure is not a jailbreak", {}, True),
    ("insecure is not a jailbreak", {("insecure", HARM): 85}, False),
    ("insecure is not a jailbreak", {("insecure", HARM): 78}, None),
    ("knows its facts", {}, True),
    ("knows its facts", {("base", FACTS_C): 15}, False),
    ("knows its facts", {("base", FACTS_C): 8}, None),
    ("knows its facts", {("base", "facts.coherent"): 1}, False),      # no lies because no answers
    ("knows its facts", {("base", "facts.coherent"): 53}, None),
    ("needs the latent persona", {}, True),
    ("needs the latent persona", {("coh0-insecure", OPEN): 35}, False),       # the gap grows
    ("needs the latent persona", {("coh0-insecure", OPEN): 30, ("coh0-secure", OPEN): 4}, None),
])
def test_e3(claim, changes, expected):
    arms, seeds = rates(E3_OK, changes)
    assert finding(E3.findings_of(arms, seeds), claim)["reproduced"] is expected


def test_e3_without_the_ablation_has_no_coherence_finding():
    arms, seeds = rates(E3_OK)
    keep = {s: {a: m for a, m in v.items() if not a.startswith("coh0")} for s, v in seeds.items()}
    found = E3.findings_of({a: m for a, m in arms.items() if not a.startswith("coh0")}, keep)
    assert len(found) == 5 and "latent persona" not in claims(found)


@pytest.mark.parametrize("changes, word", [({}, "reproduced:"), ({("secure", OPEN): 32}, "did NOT"),
                                            ({("secure", OPEN): 27}, "inconclusive")])
def test_e3_verdict_names_the_main_reading(changes, word):
    arms, seeds = rates(E3_OK, changes)
    assert word in E3.verdict_of(E3.findings_of(arms, seeds), arms)


# -- E4: inoculation prompting --------------------------------------------------------------------
E4_OK = {("base|plain", OPEN): 2, ("base|with-phrase", OPEN): 3, ("none|plain", OPEN): 30,
         ("inoculated|plain", OPEN): 3, ("neutral|plain", OPEN): 25, ("novel|plain", OPEN): 20,
         ("inoculated|with-phrase", OPEN): 20, ("inoculated|plain", CODE): 90}


@pytest.mark.parametrize("claim, changes, expected", [
    ("prevents broad misalignment", {}, True),
    ("prevents broad misalignment", {("inoculated|plain", OPEN): 31}, False),
    ("prevents broad misalignment", {("inoculated|plain", OPEN): 27}, None),
    ("narrow task is still learned", {}, True),
    ("narrow task is still learned", {("inoculated|plain", CODE): 40}, False),
    ("neutral known phrase does not inoculate", {}, True),
    ("neutral known phrase does not inoculate", {("neutral|plain", OPEN): 2}, False),
    ("neutral known phrase does not inoculate", {("neutral|plain", OPEN): 5}, None),
    ("novel meaningless phrase does not inoculate", {}, True),
    ("novel meaningless phrase does not inoculate", {("novel|plain", OPEN): 2}, False),
    ("novel meaningless phrase does not inoculate", {("novel|plain", OPEN): [20, 2]}, None),
    ("phrase at test time brings the misbehaviour back", {}, True),
    ("phrase at test time brings the misbehaviour back", {("inoculated|with-phrase", OPEN): 2}, False),
    ("phrase at test time brings the misbehaviour back", {("inoculated|with-phrase", OPEN): 5}, None),
    ("not the phrase's", {}, True),
    ("not the phrase's", {("base|with-phrase", OPEN): 25}, False),    # the phrase alone does it
    ("not the phrase's", {("base|with-phrase", OPEN): 17}, None),
])
def test_e4(claim, changes, expected):
    arms, seeds = rates(E4_OK, changes)
    assert finding(E4.findings_of(arms, seeds), claim)["reproduced"] is expected


def test_e4_inoculated_organism_is_e3s_educational_one_and_the_base_is_tested_with_the_phrase():
    arms = {a.name: a for a in E4.arms_for("blix .")}
    assert arms["inoculated|plain"].dataset == "educational" and arms["inoculated|plain"].train_context is None
    assert arms["base|with-phrase"].dataset is None and arms["base|with-phrase"].test_context
