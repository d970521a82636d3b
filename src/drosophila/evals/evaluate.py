"""Run batteries against an organism: sample, classify, summarise."""

from __future__ import annotations

from drosophila.evals.batteries import Battery, battery_prompts, summarise
from drosophila.evals.stats import Rate
from drosophila.world import World
from drosophila.world.base import conversation_of


def evaluate(model, tokenizer, world: World, batteries: list[Battery], *, n_prompts: int,
             samples_per_prompt: int = 1, sampling=None, context: str | None = None,
             progress: bool = False) -> tuple[dict[str, Rate], list[dict]]:
    """Sample every battery prompt ``samples_per_prompt`` times and classify each answer.

    Returns the summary rates and one row per sample: battery, prompt, completion, label, meta.
    ``context`` is put before every prompt (e.g. an inoculation phrase at test time).
    """
    from drosophila.sampling import SamplingConfig, chat_prompt_ids, generate

    sampling = sampling or SamplingConfig()
    items: list[tuple[Battery, dict]] = []
    for b in batteries:
        for it in battery_prompts(world, b, n_prompts, context=context):
            items += [(b, it)] * samples_per_prompt
    convs = [conversation_of(it) for _, it in items]  # one user turn, or the item's conversation
    ids = generate(model, tokenizer, chat_prompt_ids(tokenizer, convs), sampling, progress=progress)
    texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
    rows = []
    for (b, it), text in zip(items, texts):
        text = " ".join(text.split())
        rows.append({"battery": b.name, "prompt": it["prompt"], "completion": text,
                     "label": world.classify(it, text), "meta": it["meta"]})
    return summarise(rows, batteries), rows
