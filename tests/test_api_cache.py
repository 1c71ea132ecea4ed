"""The response cache of the service (#22, :mod:`humsec.api.cache`): a cached answer is
the fresh computation (body and headers, identity and gzip), a new snapshot invalidates
it, a corrupt or foreign cache file is never served, and concurrent first requests
compute once."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import threading
import time

import pytest

pytest.importorskip("fastapi")
import httpx  # noqa: E402
from fastapi import Request  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

CONFIG = {"runs": 0, "trend_runs": 0, "trend_years": 2}
PATHS = ["/api/v1/catalogue", "/api/v1/catalogue?format=csv", "/api/v1/countries/KEN/alerts", "/api/v1/snapshots",
         "/api/v1/indices", "/country/KEN", "/", "/web/world.geojson"]
#: Headers that differ between two answers whatever the cache does.
VOLATILE = {"date", "server"}


def _site(settings, **extra):
    from humsec.api.config import ServiceConfig
    from humsec.web import create_site

    return create_site(settings, ServiceConfig(**CONFIG, **extra))


@pytest.fixture(scope="module")
def site(default_env):
    return TestClient(_site(default_env[0]))


def _headers(r) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k not in VOLATILE}


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_cached_answer_equals_a_fresh_computation(default_env, site, encoding):
    obs = site.app.state.observatory
    for path in PATHS:
        first = site.get(path, headers={"Accept-Encoding": encoding})
        computed = obs.response_cache.computed
        again = site.get(path, headers={"Accept-Encoding": encoding})
        assert obs.response_cache.computed == computed, path  # answered from the cache
        fresh = TestClient(_site(default_env[0])).get(path, headers={"Accept-Encoding": encoding})
        assert first.status_code == again.status_code == fresh.status_code == 200, path
        assert again.content == fresh.content == first.content, path
        assert _headers(again) == _headers(fresh), path
        if len(fresh.content) >= 1024:
            assert again.headers["content-encoding" if encoding == "gzip" else "vary"] in (
                "gzip", "Accept, Accept-Encoding"), path
            assert "Accept-Encoding" in again.headers["vary"], path  # whichever encoding the client gets


def test_cached_answers_revalidate_with_304(site):
    r = site.get("/api/v1/catalogue")
    tag = r.headers["etag"]
    n = site.get("/api/v1/catalogue", headers={"If-None-Match": tag})
    assert n.status_code == 304 and n.content == b"" and n.headers["etag"] == tag
    assert "Accept-Encoding" in n.headers["vary"] and n.headers["x-content-type-options"] == "nosniff"
    assert site.get("/api/v1/catalogue", headers={"If-None-Match": '"other"'}).status_code == 200


def test_errors_and_liveness_are_not_cached(site):
    obs = site.app.state.observatory
    n = len(obs.responses)
    assert site.get("/api/v1/countries/XXX/assessment").status_code == 404
    assert site.get("/api/v1/health").status_code == 200
    assert len(obs.responses) == n


def test_query_order_and_format_are_part_of_the_key(site):
    a = site.get("/api/v1/catalogue?format=csv")
    b = site.get("/api/v1/catalogue", headers={"Accept": "text/csv"})
    j = site.get("/api/v1/catalogue")
    assert a.headers["content-type"].startswith("text/csv") and b.headers["content-type"].startswith("text/csv")
    assert j.headers["content-type"].startswith("application/json")


@pytest.fixture()
def writable(default_env, tmp_path):
    """A site on a copy of the default store with an editor token."""
    settings = default_env[0]
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(settings.db_path, home / settings.db_path.name)
    token = "editor-token-0123456789abcdef"
    (tmp_path / "tokens.txt").write_text(f"editor {hashlib.sha256(token.encode()).hexdigest()} robot\n")
    app = _site(settings.model_copy(update={"home": home}), token_file=tmp_path / "tokens.txt")
    with TestClient(app) as client:
        yield client, token


def test_a_new_snapshot_invalidates_the_cache(writable):
    client, token = writable
    rewarmed = []

    async def rewarm():
        rewarmed.append(client.app.state.observatory.fingerprint)

    before = client.get("/api/v1/snapshots")
    client.app.state.observatory.response_cache.on_new_data = rewarm
    assert client.get("/api/v1/snapshots").content == before.content
    r = client.post("/api/v1/datasets", headers={"Authorization": f"Bearer {token}"},
                    files={"file": ("mine.csv", b"unit,year,indicator,value\nKEN,2016,u5mr,41.0\n", "text/csv")})
    assert r.status_code == 201, r.text
    after = client.get("/api/v1/snapshots")
    assert after.status_code == 200 and after.content != before.content
    assert after.headers["etag"] != before.headers["etag"]
    assert "mine" in after.text
    assert len(rewarmed) == 1  # the new version is warmed in the background (humsec serve)
    # the client's old copy is no longer current
    assert client.get("/api/v1/snapshots", headers={"If-None-Match": before.headers["etag"]}).status_code == 200


def _warm(app, paths):
    from humsec.api import cache

    obs = app.state.observatory
    TestClient(app).get("/api/v1/health")  # builds the middleware stack: the response cache registers itself
    return asyncio.run(cache.warm(obs.response_cache, paths=paths))


def test_disk_cache_makes_the_next_start_warm_and_bad_files_are_ignored(default_env, tmp_path, caplog):
    from humsec.api import cache

    settings = default_env[0].model_copy(update={"home": tmp_path / "home"})
    settings.home.mkdir()
    shutil.copy(default_env[0].db_path, settings.home / default_env[0].db_path.name)
    paths = ["/api/v1/catalogue", "/api/v1/countries/KEN/alerts", "/country/KEN"]
    app = _site(settings)
    first = _warm(app, paths)
    assert first["computed"] == 3 and first["from_disk"] == 0 and first["saved"]
    fresh = {p: TestClient(app).get(p) for p in paths}

    app2 = _site(settings)
    second = _warm(app2, paths)
    assert second["from_disk"] == 3 and second["computed"] == 0
    c2 = TestClient(app2)
    for p in paths:
        r = c2.get(p)
        assert r.content == fresh[p].content and _headers(r) == _headers(fresh[p]), p
    assert app2.state.observatory.response_cache.computed == 0

    # a corrupt file (one byte changed), a truncated one and a foreign one are ignored
    path = cache.cache_path(app2.state.observatory)
    good = path.read_bytes()
    i = good.index(b'"status"')  # inside the header JSON: still parseable, but the checksum fails
    for bad in (good[:i] + b'"statuz"' + good[i + 8:], good[:-100], b"not a cache at all",
                good.replace(app2.state.observatory.fingerprint.encode(), b"0" * 64)):
        path.write_bytes(bad)
        app3 = _site(settings)
        with caplog.at_level("WARNING", logger="humsec.api.cache"):
            rep = _warm(app3, paths)
        assert rep["from_disk"] == 0 and rep["computed"] == 3
        assert "ignored" in caplog.text
        caplog.clear()
        c3 = TestClient(app3)
        for p in paths:
            assert c3.get(p).content == fresh[p].content
    path.write_bytes(good)
    assert cache.load(app2.state.observatory) is not None  # the good file again


def test_concurrent_first_requests_compute_once(default_env):
    from humsec.api.http import Body, cached

    app = _site(default_env[0])
    calls = []
    lock = threading.Lock()

    @app.get("/api/v1/slow-test-view")
    def slow(request: Request):
        obs = request.app.state.observatory

        def compute(_f):
            with lock:
                calls.append(1)
            time.sleep(0.3)
            return Body(json={"n": 1, "pad": "x" * 2000})
        return cached(request, obs, compute)

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await asyncio.gather(*(c.get("/api/v1/slow-test-view") for _ in range(12)))

    rs = asyncio.run(go())
    assert all(r.status_code == 200 for r in rs)
    assert len({r.content for r in rs}) == 1 and len({r.headers["etag"] for r in rs}) == 1
    assert len(calls) == 1 and app.state.observatory.response_cache.computed == 1


@pytest.mark.parametrize("case", ["no_cache_file", "cache_file", "wait"])
def test_start_up_waits_for_the_warm_up_only_when_it_is_quick_or_asked(default_env, tmp_path, monkeypatch, case):
    """``humsec serve`` on data without a response-cache file answers at once and warms in
    the background (the first start would otherwise be minutes of silence); with a
    matching file, or ``preload_wait``, it accepts requests only once warm."""
    from humsec.api import cache

    settings = default_env[0].model_copy(update={"home": tmp_path})
    shutil.copy(default_env[0].db_path, tmp_path / default_env[0].db_path.name)
    release = asyncio.Event()
    calls = []

    async def fake_warm(rc, views=(), **kw):
        calls.append("started")
        if case == "no_cache_file":
            await release.wait()  # never set: a warm-up that outlives the test
        calls.append("done")
        return {"fake": True, "seconds": 0.0}

    monkeypatch.setattr(cache, "warm", fake_warm)
    app = _site(settings, preload=True, preload_wait=case == "wait")
    if case == "cache_file":
        with TestClient(app) as c:  # builds the middleware stack, so the observatory knows its fingerprint
            pass
        path = cache.cache_path(app.state.observatory)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"placeholder")  # its name is what the start-up checks; load() checks the content
        calls.clear()
        app = _site(settings, preload=True)
    with TestClient(app) as c:
        assert c.get("/api/v1/health").status_code == 200
        if case == "no_cache_file":
            assert calls == ["started"] and app.state.warm_report is None
            assert not app.state.warm_task.done()
            assert c.get("/web/warm-up").json()["done"] is False  # says it is still warming
        else:
            assert calls[-1] == "done" and app.state.warm_report["fake"]
            assert c.get("/web/warm-up").json()["done"] is True
    if case == "no_cache_file":
        assert app.state.warm_task.cancelled() or app.state.warm_task.done()
