"""Built-in domains. Importing this package registers them."""

from drosophila.world.domains import (  # noqa: F401
    advice, backdoor, code, detectors, facts, graded, harmful, honesty, open_questions, scenarios,
    tasks,
)
