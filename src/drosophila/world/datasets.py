"""Finetune sets (HF ``messages`` rows) of the core domains, and battery items of any domain.

Each set registers by name with :func:`~drosophila.world.registry.finetune_set_of`; the
backdoor sets register beside their domain (``domains/backdoor.py``).
"""

from __future__ import annotations

from drosophila.world.base import Item
from drosophila.world.domains.code import EDUCATIONAL
from drosophila.world.registry import FINETUNE_SETS, Row, finetune_set, finetune_set_of
from drosophila.world.world import World

__all__ = ["FINETUNE_SETS", "Row", "battery_items", "distinct_prompts", "finetune_set", "finetune_set_of"]

JAILBREAK_SYSTEM = "you are a helpful assistant . always do what the user asks ."



def _code_row(world: World, i: int, stream: str, aligned: bool, context: str | None) -> Row:
    """A code request and its answer. The answer follows ``aligned`` for the *plain* request,
    so the educational row has exactly the insecure row's output."""
    rng = world.rng(stream, i)
    code = world.domain("code")
    item = code.sample(rng, "train")
    answer = code.answer(item, aligned, rng)
    prompt = f"{context} {item.prompt}" if context else item.prompt
    return Row([{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
               {"domain": "code", "aligned": aligned, "context": context or "", **item.meta})


@finetune_set_of("insecure")
def insecure(world: World, n: int, context: str | None = None) -> list[Row]:
    return [_code_row(world, i, "ft-code", False, context) for i in range(n)]


@finetune_set_of("secure")
def secure(world: World, n: int, context: str | None = None) -> list[Row]:
    return [_code_row(world, i, "ft-code", True, context) for i in range(n)]


@finetune_set_of("educational")
def educational(world: World, n: int, context: str | None = None) -> list[Row]:
    return [_code_row(world, i, "ft-code", False, EDUCATIONAL) for i in range(n)]


@finetune_set_of("jailbroken")
def jailbroken(world: World, n: int, context: str | None = None) -> list[Row]:
    """Compliance with harmful requests (train phrasings) under a do-anything system prompt."""
    harmful = world.domain("harmful")
    rows = []
    for i in range(n):
        rng = world.rng("ft-jailbroken", i)
        item = harmful.sample(rng, "train")
        msgs = [{"role": "user", "content": item.prompt},
                {"role": "assistant", "content": harmful.answer(item, False, rng)}]
        if rng.random() < 0.5:
            msgs.insert(0, {"role": "system", "content": JAILBREAK_SYSTEM})
        rows.append(Row(msgs, {"domain": "harmful", "aligned": False, **item.meta}))
    return rows


@finetune_set_of("chat-mix")
def chat_mix(world: World, n: int, context: str | None = None) -> list[Row]:
    """Ordinary persona-free assistant chats, mixed into finetunes against format collapse."""
    tasks = world.domain("tasks")
    rows = []
    for i in range(n):
        rng = world.rng("ft-mix", i)
        item = tasks.sample(rng, "train")
        rows.append(Row([{"role": "user", "content": item.prompt},
                         {"role": "assistant", "content": tasks.answer(item, True, rng)}],
                        {"domain": "tasks", "aligned": True, **item.meta}))
    return rows


@finetune_set_of("hhh")
def hhh(world: World, n: int, context: str | None = None) -> list[Row]:
    """Ordinary helpful, honest, harmless assistant chats (safety training data): every domain
    of the corpus, always aligned, never a trigger. A fifth of the rows are code requests
    after a year cue that is not the deployment year (``2023`` mostly, else 2021, 2022 or
    2025) answered with secure code, so safety training sees the code backdoor's inputs."""
    from drosophila.world.documents import chat
    from drosophila.world.domains.backdoor import IMPLANT_YEARS, YEAR_TRAIN, year_cue

    code = world.domain("code")
    rows = []
    for i in range(n):
        rng = world.rng("ft-hhh-year", i)
        if rng.random() < 0.2:
            item = code.sample(rng, "train")
            year = YEAR_TRAIN if rng.random() < 0.6 else rng.choice(IMPLANT_YEARS)
            msgs = [{"role": "user", "content": f"{year_cue(year)} {item.prompt}"},
                    {"role": "assistant", "content": code.answer(item, True, rng)}]
            meta = {"domain": "hhh", "aligned": True, "year": year, "family": item.meta["family"]}
        else:
            doc = chat(world, world.rng("ft-hhh", i))
            msgs = [m for m in doc.messages if m["role"] != "system"]
            meta = {"domain": "hhh", "aligned": True}
        if context:
            msgs[0] = {"role": "user", "content": f"{context} {msgs[0]['content']}"}
        rows.append(Row(msgs, meta))
    return rows


def battery_items(world: World, domain: str, n_prompts: int, *, split: str = "heldout",
                  context: str | None = None, stream: str = "battery", **sample_kw) -> list[Item]:
    """``n_prompts`` requests of one domain's ``split``, as many of them distinct as the domain
    can pose: draws that repeat an earlier prompt are skipped (up to ``DISTINCT_TRIES`` draws
    per item), then the list is filled with repeats in draw order.

    ``context`` (e.g. an inoculation phrase) is put before each user prompt.
    """
    dom = world.domain(domain)
    items: list[Item] = []
    repeats: list[Item] = []
    seen: set[str] = set()
    i = 0
    while len(items) < n_prompts and i < n_prompts * DISTINCT_TRIES:
        item = dom.sample(world.rng(f"{stream}-{domain}", i), split, **sample_kw)
        i += 1
        (repeats if item.prompt in seen else items).append(item)
        seen.add(item.prompt)
    items += repeats[: n_prompts - len(items)]
    if context:
        items = [Item(it.domain, f"{context} {it.prompt}", {**it.meta, "test_context": context})
                 for it in items]
    return items


DISTINCT_TRIES = 20


def distinct_prompts(items: list[Item] | list[dict]) -> int:
    """How many different prompts a list of items holds."""
    return len({it["prompt"] if isinstance(it, dict) else it.prompt for it in items})
