"""The HTTP side: ``http.server.ThreadingHTTPServer`` routes, and ``start_server``.

Routes: ``POST /v1/chat/completions``, ``GET /v1/models`` (and ``/v1/models/<id>``),
``GET /health``; anything else is a 404 in OpenAI's error shape. Each connection gets a
thread that parses and checks its request and waits for the batching loop's reply.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from drosophila.errors import ConfigError
from drosophila.serve.batcher import Batcher
from drosophila.serve.protocol import APIError, bad_request, models_body, parse_chat_request

MAX_BODY_BYTES = 32 * 2**20
CHAT_PATH, MODELS_PATH = "/v1/chat/completions", "/v1/models"


@dataclass
class _App:
    """What every handler thread shares."""

    name: str
    batcher: Batcher
    context_length: int | None  # reported as max_model_len, as vLLM does
    api_key: str | None
    verbose: bool
    created: int


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every reply carries a Content-Length
    server_version = "drosophila-serve"

    @property
    def app(self) -> _App:
        return self.server.app  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._post)

    def _get(self) -> tuple[int, dict]:
        path = self._path()
        if path == "/health":
            return 200, {"status": "ok", "model": self.app.name, "batching": self.app.batcher.stats.as_dict()}
        self._authorize()
        listing = models_body(self.app.name, self.app.created, self.app.context_length)
        if path == MODELS_PATH:
            return 200, listing
        if path == f"{MODELS_PATH}/{self.app.name}":
            return 200, listing["data"][0]
        raise _not_found(path)

    def _post(self) -> tuple[int, dict]:
        path = self._path()
        body = self._body()  # read before anything can fail, so keep-alive stays in step
        if path != CHAT_PATH:
            raise _not_found(path)
        self._authorize()
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise bad_request(f"the body is not valid JSON: {exc}") from exc
        request = parse_chat_request(data)
        return 200, self.app.batcher.submit(request).result()

    def _answer(self, route) -> None:
        try:
            status, payload = route()
        except APIError as exc:
            status, payload = exc.status, exc.body()
        except Exception as exc:  # noqa: BLE001 - never drop a connection without a reply
            status, payload = 500, APIError(500, f"{type(exc).__name__}: {exc}", kind="server_error").body()
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _path(self) -> str:
        path = self.path.split("?", 1)[0]
        return path.rstrip("/") or "/"

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise bad_request("a request body with a Content-Length header is required")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise APIError(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        return self.rfile.read(int(length))

    def _authorize(self) -> None:
        key = self.app.api_key
        if key and self.headers.get("Authorization", "") != f"Bearer {key}":
            raise APIError(401, "a valid API key is required (Authorization: Bearer ...)",
                           kind="invalid_request_error", code="invalid_api_key")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.app.verbose:
            super().log_message(format, *args)


class _ThreadingHTTPServer6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _not_found(path: str) -> APIError:
    return APIError(404, f"no route {path}; this server has POST {CHAT_PATH}, GET {MODELS_PATH} and GET /health",
                    code="not_found")


class ServerHandle:
    """A running server: ``url`` (``http://host:port``), ``base_url`` (``url + "/v1"``, what
    OpenAI clients and Inspect's ``<SERVICE>_BASE_URL`` want), ``model`` and ``close()``."""

    def __init__(self, httpd: ThreadingHTTPServer, batcher: Batcher, model: Any) -> None:
        self._httpd, self._batcher, self.model = httpd, batcher, model
        host, port = httpd.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        self.url = f"http://{host}:{port}"
        self.base_url = f"{self.url}/v1"
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.1,),  # 0.1 s: quick close()
                                        name="drosophila-serve-http", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> dict[str, int]:
        """Decode calls so far and the requests and rows they held."""
        return self._batcher.stats.as_dict()

    def wait(self) -> None:
        """Block until ``close`` (from another thread) or Ctrl-C."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        """Stop accepting, finish queued requests, release the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._batcher.close()
        self._thread.join()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_server(
    path_or_model: str | os.PathLike | Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    name: str | None = None,
    normalize: bool | None = None,
    default_max_tokens: int = 256,
    max_batch: int = 64,
    batch_window_ms: float = 5.0,
    seed: int = 0,
    api_key: str | None = None,
    verbose: bool = False,
) -> ServerHandle:
    """Serve a model on ``host:port`` from background threads; returns at once.

    Args:
        path_or_model: An organism directory, a local HF causal-LM directory with a chat
            template, an ``Organism``, or a ``ServedModel``.
        host: Interface to listen on; anything but loopback prints a warning.
        port: 0 picks a free port (read it from ``handle.url``).
        name: The model id (default: the directory's name, or ``organism``).
        normalize: Lower-case and re-space incoming text; default: for organisms' tokenizers.
        default_max_tokens: Completion budget of requests without ``max_tokens``.
        max_batch: Most rows (choices) one decode batch holds.
        batch_window_ms: How long the batching loop waits for more requests after the first.
        seed: Seeds the sampling of requests that bring no ``seed``.
        api_key: If set, requests must send ``Authorization: Bearer <api_key>``.
        verbose: Log every request to stderr.

    Raises:
        OrganismError: The directory does not load.
        ConfigError: The port cannot be bound.
    """
    model = _served_model(path_or_model, name=name, normalize=normalize, default_max_tokens=default_max_tokens,
                          batch_size=max_batch, seed=seed)
    if not _is_loopback(host):
        print(f"warning: serving on {host}, which other machines can reach; the server runs no "
              "authentication unless --api-key is set", file=sys.stderr)
    batcher = Batcher(model, window_s=batch_window_ms / 1000)
    try:
        httpd = (_ThreadingHTTPServer6 if ":" in host else ThreadingHTTPServer)((host, port), _Handler)
    except OSError as exc:
        batcher.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    httpd.daemon_threads = True
    app = _App(name=model.name, batcher=batcher, context_length=model.context_length, api_key=api_key,
               verbose=verbose, created=int(time.time()))
    httpd.app = app  # type: ignore[attr-defined]
    return ServerHandle(httpd, batcher, model)


def _served_model(source: Any, *, name: str | None, **kwargs: Any) -> Any:
    from drosophila.serve.engine import ServedModel

    if isinstance(source, ServedModel):
        return source
    if isinstance(source, (str, os.PathLike)):
        return ServedModel.load(source, name=name, **kwargs)
    if hasattr(source, "model") and hasattr(source, "tokenizer"):  # an Organism
        return ServedModel(source.model, source.tokenizer, name=name or "organism", **kwargs)
    raise ConfigError(f"cannot serve a {type(source).__name__}: give a directory, an Organism or a ServedModel")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
