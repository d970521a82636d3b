"""``drosophila serve PATH``: the typer command (registered by ``drosophila.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def serve_cmd(
    path: Path = typer.Argument(..., help="an organism directory, or a local HF causal-LM directory "
                                "whose tokenizer has a chat template"),
    host: str = typer.Option("127.0.0.1", help="interface to listen on (anything but loopback warns)"),
    port: int = typer.Option(8000, min=0, max=65535, help="0 picks a free port"),
    name: Optional[str] = typer.Option(None, help="model id to report (default: the directory's name)"),
    max_tokens: int = typer.Option(256, min=1, help="completion budget of requests without max_tokens"),
    max_batch: int = typer.Option(64, min=1, help="most rows (choices) in one decode batch"),
    batch_window_ms: float = typer.Option(5.0, min=0.0, help="wait this long for more requests to batch"),
    seed: int = typer.Option(0, help="seeds requests that bring no seed"),
    api_key: Optional[str] = typer.Option(None, envvar="DROSOPHILA_SERVE_API_KEY",
                                          help="require 'Authorization: Bearer KEY'"),
    threads: Optional[int] = typer.Option(None, min=1, help="torch threads (default: DROSOPHILA_THREADS or 1)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log every request"),
) -> None:
    """Serve a model over an OpenAI-compatible API (POST /v1/chat/completions, GET /v1/models)."""
    from drosophila.seeding import configure_torch
    from drosophila.serve.server import start_server

    configure_torch(threads)
    handle = start_server(path, host, port, name=name, default_max_tokens=max_tokens, max_batch=max_batch,
                          batch_window_ms=batch_window_ms, seed=seed, api_key=api_key, verbose=verbose)
    model = handle.model
    typer.echo(f"serving {model.name} (context {model.context_length} tokens) at {handle.base_url}")
    typer.echo(f"  DROSOPHILA_BASE_URL={handle.base_url} DROSOPHILA_API_KEY={api_key or 'x'} "
               f"inspect eval ... --model openai-api/drosophila/{model.name}")
    typer.echo("Ctrl-C stops")
    try:
        handle.wait()
    except KeyboardInterrupt:
        typer.echo("stopping")
    finally:
        handle.close()
