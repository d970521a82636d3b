"""What Inspect finds through the ``inspect_ai`` entry point: the ``drosophila`` model API and
one ``drosophila/<battery>`` task per battery.

    [project.entry-points.inspect_ai]
    drosophila = "drosophila.inspect_ext._registry"
"""

from __future__ import annotations

from inspect_ai.model import ModelAPI, modelapi

from drosophila.inspect_ext._tasks import register_battery_tasks


@modelapi(name="drosophila")
def drosophila() -> type[ModelAPI]:
    """``--model drosophila/<organism or local HF directory>``; torch loads only when used."""
    from drosophila.inspect_ext._provider import DrosophilaAPI

    return DrosophilaAPI


BATTERY_TASKS = register_battery_tasks()
