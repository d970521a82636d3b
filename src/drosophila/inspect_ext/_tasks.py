"""One Inspect task per battery: ``inspect eval drosophila/<battery> --model ...``.

A task's samples are the battery's held-out prompts, built as ``evaluate`` builds them
(``battery_prompts``, then ``conversation_of``); its scorer is the world's exact classifier
(:func:`~drosophila.inspect_ext._scorer.exact_label`). The world is the one the model under
evaluation was bred in, when that model is a Drosophila organism, else the default world.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    get_model,
)
from inspect_ai.solver import Generate, Solver, TaskState, solver

from drosophila.evals import BATTERIES, Battery, get_battery
from drosophila.evals.batteries import battery_prompts
from drosophila.inspect_ext._scorer import exact_label, labels, world_of
from drosophila.plugins import load_plugins
from drosophila.world import World
from drosophila.world.base import conversation_of

_MESSAGE = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}


def battery_task(battery: str, *, n: int = 100, world_seed: int | None = None,
                 context: str | None = None) -> Task:
    """The Inspect task of one battery.

    Args:
        battery: A battery name (``drosophila.evals.BATTERIES``).
        n: Held-out prompts (fewer distinct ones if the domain has fewer; see ``battery_items``).
        world_seed: The world's seed. Default: the seed of the organism under evaluation
            (its lineage), else 0. The rest of the world's settings come from the organism.
        context: A phrase put before every prompt (e.g. an inoculation phrase at test time).

    Returns:
        A task whose samples carry the battery item in ``metadata["item"]``, generated with the
        battery's sampling defaults (those of ``drosophila eval``) and scored exactly.
    """
    from drosophila.sampling import SamplingConfig

    b = get_battery(battery)
    config = task_world(b, world_seed)
    items = battery_prompts(world_of(config), b, n, context=context)
    samples = [Sample(id=i + 1, input=_chat(conversation_of(it)), metadata={"item": it})
               for i, it in enumerate(items)]
    sampling = SamplingConfig()
    return Task(
        dataset=MemoryDataset(samples, name=b.name),
        solver=seeded_generate(),
        scorer=exact_label(battery=b.name, world=config),
        config=GenerateConfig(max_tokens=sampling.max_new_tokens, temperature=sampling.temperature,
                              top_p=sampling.top_p),
        epochs=Epochs(1, labels()),
        metadata={"battery": b.name, "label": b.label, "world": config},
    )


def task_world(battery: Battery, world_seed: int | None = None) -> dict:
    """The ``WorldConfig`` (a dict) a battery's prompts are drawn from.

    The organism's world when the active model is a Drosophila organism, else the default
    world; ``world_seed`` replaces its seed. A world without the battery's domain (an optional
    one, e.g. ``honesty``) gets it at weight 0, which changes no other prompt or corpus.
    """
    config = dict(_organism_world())
    if world_seed is not None:
        config["seed"] = world_seed
    world: World = world_of(config)
    if battery.domain not in world.domain_names:
        weights = dict(world.config.domain_weights)
        config = {**world.config.to_dict(), "domain_weights": {**weights, battery.domain: 0.0}}
    return world_of(config).config.to_dict()


def _organism_world() -> dict:
    """``lineage[0]["world"]`` of the model under evaluation, if it is a Drosophila organism."""
    try:
        api = get_model().api
    except Exception:  # noqa: BLE001 - no model (or none that loads): the default world
        return {}
    meta = getattr(api, "organism_meta", None) or {}
    lineage = meta.get("lineage") or [{}]
    return dict(lineage[0].get("world") or {})


@solver
def seeded_generate() -> Solver:
    """``generate()`` with a seed per sample and epoch, derived from ``--seed`` (default 0):
    answers then do not depend on the order in which Inspect schedules samples."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        base = get_model().config.seed or 0
        return await generate(state, seed=sample_seed(base, state.sample_id, state.epoch))

    return solve


def sample_seed(base: int, sample_id: int | str, epoch: int) -> int:
    digest = hashlib.sha256(f"{base}:{sample_id}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # < 2**63


def _chat(messages: list[dict]) -> list[ChatMessage]:
    return [_MESSAGE[m["role"]](content=m["content"]) for m in messages]


def register_battery_tasks() -> list[str]:
    """Register ``drosophila/<battery>`` for every battery known now (built-in and extensions).

    Returns:
        The registered battery names.
    """
    load_plugins("drosophila.domains", "drosophila.batteries")
    for name in sorted(BATTERIES):
        task(name=name)(_factory(name))
    return sorted(BATTERIES)


def _factory(battery: str) -> Callable[..., Task]:
    def factory(n: int = 100, world_seed: int | None = None, context: str | None = None) -> Task:
        return battery_task(battery, n=n, world_seed=world_seed, context=context)

    factory.__name__ = factory.__qualname__ = battery
    factory.__doc__ = f"Battery {battery!r}: {BATTERIES[battery].label} (exact classifier)."
    return factory
