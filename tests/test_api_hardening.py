"""Service hardening (#22): trusted Host headers, security headers on every response,
RFC 9457 problem documents declared in the OpenAPI, relative pagination links, a
header-read deadline (slow loris) and token checks that do not reopen the database."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402


@pytest.fixture(scope="module")
def client(default_env, tmp_path_factory):
    from humsec.api.config import ServiceConfig
    from humsec.web import create_site

    settings = default_env[0]
    return TestClient(create_site(settings, ServiceConfig(runs=0, trend_runs=0, trend_years=2)))


def test_unknown_host_is_refused_and_loopback_names_are_answered(client):
    assert client.get("/api/v1/health", headers={"Host": "evil.example"}).status_code == 400
    for host in ("127.0.0.1:8000", "localhost", "testserver"):
        assert client.get("/api/v1/health", headers={"Host": host}).status_code == 200, host


def test_trusted_hosts_from_the_config():
    from humsec.api.config import ServiceConfig

    assert "example.org" in ServiceConfig(host="example.org").trusted_hosts()
    assert "0.0.0.0" not in ServiceConfig(host="0.0.0.0").trusted_hosts()
    assert ServiceConfig(allowed_hosts=("obs.parliament.example",)).trusted_hosts() == ["obs.parliament.example"]


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/indicators", "/api/v1/indicators?format=csv",
                                  "/api/v1/countries/XXX/assessment", "/api/v1/indices/hsi/ranking?year=abc",
                                  "/api/v1/openapi.json", "/api/v1/docs", "/", "/static/app.js",
                                  "/api/v1/countries/KEN/brief?format=html&runs=0"])
def test_every_response_carries_security_headers(client, path):
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff", path
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp, (path, csp)
    if r.headers["content-type"].startswith(("application/json", "application/problem+json", "text/csv")):
        assert csp.startswith("default-src 'none'"), (path, csp)  # data never runs
    if "brief" in path and r.status_code == 200:
        assert "script-src" not in csp and "style-src 'unsafe-inline'" in csp  # a brief styles, never scripts


@pytest.mark.parametrize("path", ["/api/v1/catalogue", "/api/v1/catalogue?format=csv", "/api/v1/openapi.json", "/"])
def test_large_answers_are_gzipped_and_keep_their_security_headers(client, path):
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    raw = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip", path
    assert raw.num_bytes_downloaded < len(plain.content) / 2  # bytes on the wire
    assert raw.content == plain.content  # httpx decodes; the same answer
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert raw.headers["content-security-policy"] == plain.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/api/v1/catalogue", "/api/v1/catalogue?format=csv", "/"])
def test_compressible_answers_vary_by_accept_encoding_for_every_client(client, path):
    """A shared cache must not hand a gzip body to a client that cannot decode it, nor
    the identity body to every client: every answer that has a gzip encoding says
    ``Vary: Accept-Encoding``, whichever encoding this client got (and its 304 too)."""
    for enc in ("identity", "gzip", "gzip, deflate, br"):
        r = client.get(path, headers={"Accept-Encoding": enc})
        assert r.status_code == 200
        assert "accept-encoding" in r.headers["vary"].lower(), (path, enc, r.headers.get("vary"))
    r = client.get(path, headers={"If-None-Match": r.headers["etag"]})
    assert r.status_code == 304 and "accept-encoding" in r.headers["vary"].lower()


def test_docs_page_allows_only_its_own_inline_script(client):
    import base64
    import hashlib
    import re

    r = client.get("/api/v1/docs")  # swagger-ui-bundle-v2 is a required dependency: the page is always there
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    inline = re.findall(r"<script>(.*?)</script>", r.text, flags=re.S)
    assert inline and "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]
    for s in inline:
        digest = base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_errors_are_problem_documents_declared_in_the_openapi(client):
    r = client.get("/api/v1/countries/XXX/assessment")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "about:blank" and body["title"] == "Not Found" and body["status"] == 404
    assert "XXX" in body["detail"]
    r = client.get("/api/v1/indices/hsi/ranking", params={"year": "abc"})
    assert r.status_code == 422 and r.json()["title"] == "Unprocessable Content" or r.json()["status"] == 422
    assert r.json()["errors"][0]["loc"] == ["query", "year"]
    doc = client.get("/api/v1/openapi.json").json()
    assert set(doc["components"]["schemas"]["Problem"]["required"]) >= {"title", "status", "detail"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            # each operation declares the errors it can give (tests/test_api_contract.py)
            for code, resp in op["responses"].items():
                if code[0] in "45":
                    assert "application/problem+json" in resp["content"], (method, path, code)


def test_pagination_links_are_relative_never_the_host_header(client):
    r = client.get("/api/v1/panel", params={"indicator": "u5mr", "limit": 5},
                   headers={"Host": "localhost"})
    assert r.status_code == 200
    link = r.headers["link"]
    assert link.startswith("</api/v1/panel?") and "localhost" not in link and 'rel="next"' in link


def _serve(app, header_timeout: float):
    from humsec.api.server import config
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(config(app, host="127.0.0.1", port=port, header_timeout=header_timeout,
                                   log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    return server, thread, port


def test_slow_headers_are_cut_off_but_normal_requests_are_served():
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    server, thread, port = _serve(app, header_timeout=0.5)
    try:
        # a slow loris: headers started, never finished
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            t0 = time.monotonic()
            time.sleep(0.2)
            c.sendall(b"X-Slow: 1\r\n")
            data = c.recv(1024)
            waited = time.monotonic() - t0
            assert data.startswith(b"HTTP/1.1 408"), data
            assert c.recv(1024) == b""  # closed
            assert waited < 3
        # a normal client, two requests on one connection, the second after a pause
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            for _ in range(2):
                c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                got = b""
                while not got.endswith(b"ok"):
                    chunk = c.recv(1024)
                    assert chunk, got
                    got += chunk
                assert got.startswith(b"HTTP/1.1 200")
                time.sleep(0.3)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_token_checks_are_remembered_until_the_database_changes(default_env, tmp_path):
    from humsec.api.auth import OversightTokens
    from humsec.errors import HumsecError
    from humsec.oversight.db import OversightDB

    settings = default_env[0].model_copy(update={"home": tmp_path})
    shutil.rmtree(tmp_path / "x", ignore_errors=True)
    db = OversightDB.open(settings)
    admin = db.init("admin")
    db.add_user(admin, "ed", role="editor")
    tok = db.create_token(admin, "ed")
    tokens = OversightTokens(settings)
    calls = []
    real = tokens.db().authenticate
    tokens.db().authenticate = lambda t: calls.append(t) or real(t)
    ident = tokens.authenticate(tok)
    assert tokens.authenticate(tok) == ident and len(calls) == 1  # remembered
    with pytest.raises(HumsecError):
        tokens.authenticate(tok + "x")
    with pytest.raises(HumsecError):
        tokens.authenticate(tok + "x")
    assert len(calls) == 3  # rejected tokens are checked every time
    # revoked in another process's connection: the next check sees it
    OversightDB.open(settings).revoke_token(admin, ident.token_id)
    with pytest.raises(HumsecError, match="revoked"):
        tokens.authenticate(tok)
