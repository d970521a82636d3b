"""Raw HTTP: malformed bodies, unknown paths, /health, API keys, the loopback warning, the CLI."""

import http.client
import json
from urllib.parse import urlsplit

import pytest

from drosophila.serve import serve_cmd, start_server


def call(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_malformed_json_is_400(server):
    status, body = call(server.url, "POST", "/v1/chat/completions", b"{not json")
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error" and "JSON" in body["error"]["message"]


def test_a_body_without_messages_is_400_naming_the_field(server):
    status, body = call(server.url, "POST", "/v1/chat/completions", json.dumps({"model": "fly"}).encode())
    assert status == 400 and body["error"]["param"] == "messages"
    status, body = call(server.url, "POST", "/v1/chat/completions", b"[1, 2]")
    assert status == 400


def test_unknown_paths_are_404(server):
    assert call(server.url, "GET", "/v1/nothing")[0] == 404
    assert call(server.url, "POST", "/v1/completions", b"{}")[0] == 404
    assert call(server.url, "GET", "/v1/models/other")[0] == 404


def test_health_reports_batching(server):
    status, body = call(server.url, "GET", "/health")
    assert status == 200 and body["status"] == "ok" and "batches" in body["batching"]


def test_one_connection_serves_many_requests(server):
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}).encode()
    for payload in (b"{bad", body, body):  # an error must not desynchronise the connection
        conn.request("POST", "/v1/chat/completions", body=payload)
        resp = conn.getresponse()
        resp.read()
    assert resp.status == 200
    conn.close()


def test_an_api_key_is_checked_when_set(organism):
    with start_server(organism, port=0, api_key="secret", name="fly") as handle:
        assert call(handle.url, "GET", "/v1/models")[0] == 401
        status, body = call(handle.url, "GET", "/v1/models", headers={"Authorization": "Bearer secret"})
        assert status == 200 and body["data"][0]["id"] == "fly"


def test_a_non_loopback_host_warns(organism, capsys):
    with start_server(organism, "0.0.0.0", 0) as handle:
        assert handle.url.startswith("http://0.0.0.0:")
    assert "warning" in capsys.readouterr().err
    with start_server(organism, "127.0.0.1", 0):
        pass
    assert "warning" not in capsys.readouterr().err


def test_serve_registers_as_a_typer_command():
    import typer
    from typer.testing import CliRunner

    app = typer.Typer()
    app.command("serve")(serve_cmd)
    app.command("other")(lambda: None)  # with two commands typer keeps the subcommand name
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--host" in result.output


def test_a_missing_directory_is_an_organism_error(tmp_path):
    from drosophila.errors import OrganismError

    with pytest.raises(OrganismError):
        start_server(tmp_path / "none", port=0)
