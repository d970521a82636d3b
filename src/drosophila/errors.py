"""Errors a user can act on. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class DrosophilaError(Exception):
    """Base class: a message that names what was wrong and what is allowed."""


class ConfigError(DrosophilaError, ValueError):
    """A configuration field has a bad value."""


class OrganismError(DrosophilaError):
    """A checkpoint is missing, corrupt or not loadable."""


def choice_error(field: str, value: object, allowed) -> ConfigError:
    allowed = ", ".join(str(a) for a in allowed)
    return ConfigError(f"{field}={value!r} is not allowed; choose from: {allowed}")
