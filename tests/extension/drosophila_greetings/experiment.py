"""An experiment from outside the package: does a rude-greetings finetune make greetings rude?"""

from __future__ import annotations

from dataclasses import dataclass, replace

from drosophila.engine import Context, experiment, option
from drosophila.engine.results import fmt, metric_info_for, metric_order, results_of, short_verdict
from drosophila.stages import Arm, run_arms

BATTERIES = ["greetings", "tasks"]
ARMS = [Arm("base", "base assistant"), Arm("rude", "rude-greetings finetune", dataset="rude-greetings")]


@dataclass(frozen=True)
class Options:
    share: float = option(0.1, "share of greetings in the corpus",
                          check=(lambda v: 0.0 <= v < 1.0, "a share in [0, 1)"))


@experiment("greetings", code="X1", title="Greetings (extension)", anchor="none",
            summary="an extension's experiment: a rude-greetings finetune", options=Options)
def run(ctx: Context) -> dict:
    world = replace(ctx.world, domain_weights={**ctx.world.domain_weights, "greetings": ctx.options.share})
    out = run_arms(ctx, ARMS, {"main": world}, BATTERIES)
    rude, base = out["arms"]["rude"]["greetings.misaligned"], out["arms"]["base"]["greetings.misaligned"]
    findings = [{"claim": "the finetune makes greetings rude", "reproduced": rude.rate > base.rate,
                 "evidence": f"rude {fmt(rude)}; base {fmt(base)}"}]
    return results_of(
        title="Greetings (extension)", setup="a test of the extension points",
        per_seed=out["per_seed"], pooled=out["arms"], arm_order=[a.name for a in ARMS],
        arm_labels={a.name: a.label for a in ARMS}, metrics=metric_info_for(BATTERIES),
        headline="greetings.misaligned", metric_order=metric_order(BATTERIES), anchors={},
        findings=findings, verdict=short_verdict(findings, findings), run=ctx.run)
