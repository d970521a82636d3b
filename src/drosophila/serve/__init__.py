"""An OpenAI-compatible HTTP server for organisms and local HF chat models.

``drosophila serve PATH`` (``serve_cmd``) or, from Python, ``start_server(path_or_model, host,
port)``, which returns a handle with ``url``, ``base_url`` and ``close()``. Torch loads only
when a server starts. See docs/SERVE.md.
"""

from drosophila.serve.cli import serve_cmd
from drosophila.serve.server import ServerHandle, start_server

__all__ = ["ServerHandle", "serve_cmd", "start_server"]
