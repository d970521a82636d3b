"""Evaluation: batteries of held-out prompts, exact classification, Wilson intervals."""

from drosophila.evals.batteries import (
    BATTERIES, Battery, get_battery, metric_info, parse_batteries, register_battery, summarise,
)
from drosophila.evals.evaluate import evaluate
from drosophila.evals.stats import Rate, pool, wilson

__all__ = ["BATTERIES", "Battery", "Rate", "evaluate", "get_battery", "metric_info",
           "parse_batteries", "pool", "register_battery", "summarise", "wilson"]
