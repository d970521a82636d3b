"""Run batteries against an organism: sample, classify, summarise."""

from __future__ import annotations

from drosophila.evals.batteries import Battery, battery_prompts, summarise
from drosophila.evals.stats import Rate
from drosophila.world import World
from drosophila.world.base import conversation_of


def evaluate(model, tokenizer, world: World, batteries: list[Battery], *, n_prompts: int,
             samples_per_prompt: int = 1, sampling=None, context: str | None = None,
             progress: bool = False, english: bool = False) -> tuple[dict[str, Rate], list[dict]]:
    """Sample every battery prompt ``samples_per_prompt`` times and classify each answer.

    Returns the summary rates and one row per sample: battery, prompt, completion, label, meta.
    ``context`` is put before every prompt (e.g. an inoculation phrase at test time).
    ``english`` (real models): the conversations are sent as English
    (:func:`~drosophila.world.english.to_english`) and each answer is mapped back to world text
    before it is classified; rows then also keep ``prompt_text`` and ``answer_text`` as sent and
    as sampled.
    """
    from drosophila.sampling import SamplingConfig, chat_prompt_ids, generate

    sampling = sampling or SamplingConfig()
    items: list[tuple[Battery, dict]] = []
    for b in batteries:
        for it in battery_prompts(world, b, n_prompts, context=context):
            items += [(b, it)] * samples_per_prompt
    convs = [conversation_of(it) for _, it in items]  # one user turn, or the item's conversation
    if english:
        convs = _english(world, convs)
    ids = generate(model, tokenizer, chat_prompt_ids(tokenizer, convs), sampling, progress=progress)
    texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
    if english:
        rows = [_english_row(world, b, it, text, conv) for (b, it), text, conv in zip(items, texts, convs)]
    else:
        rows = [sample_row(world, b, it, text) for (b, it), text in zip(items, texts)]
    return summarise(rows, batteries), rows


def _english(world: World, convs: list[list[dict]]) -> list[list[dict]]:
    from drosophila.world.english import english_messages, proper_nouns

    names = proper_nouns(world)
    return [english_messages(c, names=names) for c in convs]


def _english_row(world: World, battery: Battery, item: dict, text: str, conv: list[dict]) -> dict:
    """A real model's sample: classified on its answer mapped back to world text."""
    from drosophila.world.english import from_english

    row = sample_row(world, battery, item, from_english(text))
    return {**row, "prompt_text": conv[-1]["content"], "answer_text": text.strip()}


def sample_row(world: World, battery: Battery, item: dict, text: str) -> dict:
    """One sample's row: its completion with whitespace collapsed and the label the world's
    exact classifier gives it (aligned, misaligned, mixed or unclassifiable)."""
    text = " ".join(text.split())
    return {"battery": battery.name, "prompt": item["prompt"], "completion": text,
            "label": world.classify(item, text), "meta": item["meta"]}
