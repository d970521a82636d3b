from drosophila.engine.results import fmt
from drosophila.evals.stats import wilson


def test_fmt_states_rate_interval_and_count():
    assert fmt(wilson(31, 100)).startswith("31.0% [")
    assert fmt(wilson(31, 100)).endswith("n=100")


def test_fmt_of_an_empty_rate_says_there_were_no_answers():
    # e.g. misaligned over coherent answers when no answer was coherent: no "nan%"
    text = fmt(wilson(0, 0))
    assert "nan" not in text and "n=0" in text
