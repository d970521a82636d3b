"""Built-in domains. Importing this package registers them."""

from drosophila.world.domains import advice, backdoor, code, facts, harmful, open_questions, tasks  # noqa: F401
