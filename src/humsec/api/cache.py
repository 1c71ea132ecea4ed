"""The response cache of the observatory service: every read answer computed once per
store version, kept as encoded bytes (identity and gzip) with its strong ETag, served
without running the route again, warmed at start-up and kept on disk between starts.

A read answer of the service depends only on the store's content (the fingerprint of
its snapshots, :attr:`humsec.api.state.Inputs.fingerprint`) and on the request: method,
path, query and negotiated format. :class:`ResponseCache` is a pure ASGI middleware that
keys answers by exactly these (:func:`cache_key`), stores the ``200`` answers the app
marks as cacheable - an ``ETag`` (read endpoints get theirs from
:func:`humsec.api.http.cached`) and no ``Cache-Control: no-store``/``private`` - in a
:class:`humsec.api.state.ResultCache`, and answers later requests from it: the stored
bytes, gzip-encoded for clients that accept gzip (``Vary: Accept-Encoding`` always),
``304 Not Modified`` when ``If-None-Match`` names the ETag. Requests for a view not yet
cached while it is being computed wait for that one computation (no thundering herd).

:func:`save` and :func:`load` keep the cache in one file under the store's directory,
keyed by store fingerprint, humsec version and service configuration, written
atomically and checked on reading (magic, SHA-256 of the whole file, the three keys): a
corrupt, truncated or foreign file is ignored, never served. :func:`warm` fills the
cache at start-up (from that file when it matches, else by computing every view of
:func:`read_views`) before the server accepts requests.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import struct
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from humsec import __version__
from humsec.api.state import Observatory, ResultCache
from humsec.data.writing import atomic_write

__all__ = ["CachedResponse", "ResponseCache", "cache_key", "cache_path", "load", "read_views", "save", "warm"]

log = logging.getLogger("humsec.api.cache")

#: Paths never cached (liveness, the warm-up status, the interactive docs).
UNCACHED = frozenset({"/api/v1/health", "/web/warm-up"})
#: Largest answer kept (bytes, identity).
MAX_BODY = 16 * 2**20
#: Headers not stored: they are set per answer (length, encoding, Vary) or outside.
_DROP = frozenset({b"content-length", b"content-encoding", b"vary", b"date", b"server"})
#: Media types never gzip-compressed (already compressed).
_NO_GZIP = (b"image/", b"application/pdf", b"application/zip", b"application/gzip", b"font/woff")

_MAGIC = b"HUMSEC-RESPONSES 1\n"


class _NotCacheable(Exception):
    """Raised into the app by the capturing ``send`` when the answer is not cacheable."""


@dataclass(frozen=True)
class CachedResponse:
    """One stored answer: status, headers (without length, encoding and Vary), the
    identity body, its gzip encoding (None for small or compressed media) and the ETag."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    gzipped: bytes | None
    etag: bytes

    @classmethod
    def build(cls, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes, *,
              gzipped: bytes | None = None, min_gzip: int = 1024) -> "CachedResponse":
        kept = tuple((k.lower(), v) for k, v in headers if k.lower() not in _DROP)
        etag = next((v for k, v in kept if k == b"etag"), b"")
        ctype = next((v for k, v in kept if k == b"content-type"), b"")
        if gzipped is None and len(body) >= min_gzip and not ctype.startswith(_NO_GZIP):
            gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        return cls(int(status), kept, bytes(body), gzipped, etag)

    def start(self, *, gzip_ok: bool, not_modified: bool) -> tuple[dict[str, Any], bytes]:
        """The ``http.response.start`` message and body of this answer for one client."""
        headers = list(self.headers)
        # the answer varies by format (Accept) and, when it has a gzip encoding, by
        # Accept-Encoding - whichever encoding this client gets
        headers.append((b"vary", b"Accept, Accept-Encoding" if self.gzipped is not None else b"Accept"))
        if not_modified:
            keep = {b"etag", b"cache-control", b"content-location", b"expires", b"vary",
                    b"content-security-policy", b"x-content-type-options", b"referrer-policy"}
            return {"type": "http.response.start", "status": 304,
                    "headers": [(k, v) for k, v in headers if k in keep]}, b""
        body = self.body
        if gzip_ok and self.gzipped is not None:
            body = self.gzipped
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        return {"type": "http.response.start", "status": self.status, "headers": headers}, body


def _header(scope: dict, name: bytes) -> str:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return v.decode("latin-1")
    return ""


def negotiated(scope: dict) -> str:
    """The format :func:`humsec.api.http.negotiate` picks from the ``Accept`` header
    alone (``?format=`` is part of the query, hence of the key)."""
    accept = _header(scope, b"accept")
    return "csv" if "text/csv" in accept and "application/json" not in accept else "json"


def normal_query(query: bytes | str) -> str:
    """The query string with its parameters sorted (``?b=1&a=2`` = ``?a=2&b=1``)."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    return urlencode(sorted(parse_qsl(text, keep_blank_values=True)))


def cache_key(scope: dict, fingerprint: str) -> tuple[str, str, str, str, str]:
    """(fingerprint, method, path, sorted query, negotiated format) of a request."""
    return (fingerprint, scope.get("method", "GET"), scope.get("path", ""),
            normal_query(scope.get("query_string", b"")), negotiated(scope))


def _matches(header: str, tag: bytes) -> bool:
    if not header or not tag:
        return False
    want = tag.decode("latin-1")
    return any(t.strip() == "*" or t.strip().removeprefix("W/") == want for t in header.split(","))


def _cacheable(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    if status != 200:
        return False
    have = {k.lower(): v for k, v in headers}
    if b"etag" not in have or b"set-cookie" in have:
        return False
    cc = have.get(b"cache-control", b"").lower()
    return b"no-store" not in cc and b"private" not in cc


class ResponseCache:
    """Pure ASGI middleware answering read requests from :class:`CachedResponse` values
    (see the module doc). Sits inside the security-header middleware (cached answers get
    the same headers) and outside the gzip middleware.

    Parameters
    ----------
    app : ASGI app
    observatory : Observatory
        Whose store fingerprint keys the answers; ``observatory.responses`` holds them.
    min_gzip : int
        Answers at least this large get a gzip encoding.
    """

    def __init__(self, app: Any, observatory: Observatory, min_gzip: int = 1024):
        self.app = app
        self.obs = observatory
        self.min_gzip = int(min_gzip)
        self._inflight: dict[tuple, asyncio.Future] = {}
        self.computed = 0
        self.root: Any = None
        #: Called (as a task) when the store's fingerprint changes while serving: the
        #: app's lifespan sets it to warm the new version in the background.
        self.on_new_data: Callable[[], Awaitable[Any]] | None = None
        self._seen: str | None = None
        self._rewarm: asyncio.Task | None = None
        observatory.response_cache = self  # Starlette builds middleware lazily: the warm-up finds it here

    @property
    def store(self) -> ResultCache:
        return self.obs.responses

    async def fingerprint(self) -> str | None:
        """The store fingerprint; checked again (off the event loop) when
        ``refresh_seconds`` have passed since the last check; None while unreadable."""
        fp = self.obs.known_fingerprint()
        if fp is not None:
            return fp
        from starlette.concurrency import run_in_threadpool

        try:
            return (await run_in_threadpool(self.obs.inputs)).fingerprint
        except Exception:  # the route reports it (a located error), uncached
            return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self.root is None and "app" in scope:
            self.root = scope["app"]  # the application (routes read ``request.app``): for :meth:`fill`
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path", "") in UNCACHED:
            return await self.app(scope, receive, send)
        fp = await self.fingerprint()
        if fp is None:
            return await self.app(scope, receive, send)
        if fp != self._seen:
            if self._seen is not None and self.on_new_data is not None and (
                    self._rewarm is None or self._rewarm.done()):
                self._rewarm = asyncio.ensure_future(self.on_new_data())
            self._seen = fp
        key = cache_key(scope, fp)
        hit = self.store.get(key)
        if hit is None:
            hit = await self.compute(key, scope, receive)
            if hit is None:  # not cacheable (an error, a stream, no-store): the app answers
                return await self.app(scope, receive, send)
        await self.respond(hit, scope, send)

    async def respond(self, entry: CachedResponse, scope: dict, send: Any) -> None:
        start, body = entry.start(gzip_ok="gzip" in _header(scope, b"accept-encoding"),
                                  not_modified=_matches(_header(scope, b"if-none-match"), entry.etag))
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def compute(self, key: tuple, scope: dict, receive: Any = None) -> CachedResponse | None:
        """The answer of ``key``, computed by the app once even when many requests ask at
        the same time; None if the answer is not cacheable."""
        running = self._inflight.get(key)
        if running is not None:
            await asyncio.shield(running)
            return self.store.get(key)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            entry = await self._capture(scope, receive)
            if entry is not None:
                self.store.put(key, entry)
                self.computed += 1
            return entry
        finally:
            self._inflight.pop(key, None)
            fut.set_result(None)

    async def _capture(self, scope: dict, receive: Any) -> CachedResponse | None:
        # the full identity answer (no conditional request, no encoding): the stored bytes
        # and their gzip encoding are the same whichever client asked first
        drop = (b"if-none-match", b"if-modified-since", b"accept-encoding")
        inner = {**scope, "headers": [(k, v) for k, v in scope.get("headers", ()) if k.lower() not in drop]}
        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        size = 0
        ok = True

        sent = False

        async def no_body() -> dict[str, Any]:
            # the (empty) request body once; then nothing until the app stops listening
            # (a listener for the client's disconnect is cancelled when the answer is done)
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()
            return {"type": "http.disconnect"}  # pragma: no cover - never reached

        async def capture(message: dict[str, Any]) -> None:
            nonlocal size, ok
            if message["type"] == "http.response.start":
                start.update(message)
                ok = _cacheable(message["status"], list(message.get("headers", [])))
                if not ok:
                    raise _NotCacheable  # stop here: the client's own request gets the answer
            elif message["type"] == "http.response.body" and ok:
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BODY:
                    ok = False
                    chunks.clear()
                else:
                    chunks.append(chunk)

        try:
            await self.app(inner, no_body, capture)
        except _NotCacheable:
            return None
        except Exception:  # the app raised: the pass-through request shows the error
            log.debug("computing %s raised", scope.get("path"), exc_info=True)
            return None
        if not ok or not start:
            return None
        headers = list(start.get("headers", []))
        body = b"".join(chunks)
        if any(k.lower() == b"content-encoding" for k, _ in headers):
            return None  # encoded by the route itself: not ours to re-encode
        return CachedResponse.build(start["status"], headers, body, min_gzip=self.min_gzip)

    async def fill(self, path: str, fingerprint: str) -> bool:
        """Compute ``GET path`` (a JSON client) into the cache; whether it is cached."""
        p, _, q = path.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": p, "raw_path": p.encode(), "query_string": q.encode(),
                 "root_path": "", "headers": [(b"host", b"127.0.0.1"), (b"accept", b"*/*"),
                                              (b"accept-encoding", b"identity")],
                 "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 80), "state": {}, "app": self.root}
        key = cache_key(scope, fingerprint)
        if self.store.get(key) is not None:
            return True
        return await self.compute(key, scope) is not None


# -- the views the start-up warms ----------------------------------------------------
#: Functions giving read paths to warm (``fn(observatory) -> paths``); the API's own
#: views are :func:`api_views`, the dashboard adds its pages (:mod:`humsec.web.pages`).
ViewList = Callable[[Observatory], list[str]]


def countries_served(obs: Observatory) -> list[str]:
    """ISO3 codes of the registry with data in the panel (the per-country views)."""
    reg = obs.registry()
    units = set(obs.inputs().panel.units)
    return sorted(c for c in reg.codes if c in units)


def api_views(obs: Observatory) -> list[str]:
    """The read views of the API the dashboard and typical clients ask for: the
    ranking, regions, coverage, years, alerts, watch list, catalogue, every indicator,
    countries, groupings, indices, snapshots and version, and per country its
    assessment, trends, groups, peers, spill-overs and alerts."""
    out = ["/api/v1/version", "/api/v1/indices", "/api/v1/indices/hsi", "/api/v1/indices/hsi/years",
           "/api/v1/indices/hsi/ranking", "/api/v1/indices/hsi/regions", "/api/v1/indices/hsi/coverage",
           "/api/v1/alerts", "/api/v1/watchlist", "/api/v1/catalogue", "/api/v1/countries", "/api/v1/groupings",
           "/api/v1/snapshots"]
    try:
        out += [f"/api/v1/indicators/{c}" for c in obs.inputs().panel.indicators]
    except Exception:  # pragma: no cover - a panel without indicators: nothing to list
        pass
    for c in countries_served(obs):
        out += [f"/api/v1/countries/{c}/{v}" for v in ("assessment", "trends", "groups", "peers", "alerts")]
        out.append(f"/api/v1/spill/{c}")
    return out


def read_views(obs: Observatory, extra: Iterable[ViewList] = ()) -> list[str]:
    """Every path :func:`warm` computes: :func:`api_views` and those of ``extra``."""
    paths = api_views(obs)
    for fn in extra:
        paths += fn(obs)
    return list(dict.fromkeys(paths))


# -- on disk -------------------------------------------------------------------------
def cache_path(obs: Observatory) -> Path:
    """The cache file of the current store version, humsec version and configuration
    (under the store's directory: ``<home>/cache/responses-...``)."""
    name = f"responses-{obs.fingerprint[:20]}-{__version__}-{obs.config_tag}.bin"
    return Path(obs.settings.home) / "cache" / name


def _meta(obs: Observatory) -> dict[str, str]:
    return {"fingerprint": obs.fingerprint, "version": __version__, "config": obs.config_tag}


def save(obs: Observatory, entries: Iterable[tuple[tuple, CachedResponse]], path: Path | None = None,
         skipped: Iterable[str] = ()) -> Path:
    """Write the answers of the current fingerprint to :func:`cache_path` atomically (one
    file: magic, header JSON, bodies, SHA-256 of all before it), with the warmed paths
    whose answer is not cacheable (``skipped``: a country without a score answers 404);
    other versions' files in the directory are removed. Returns the path."""
    meta = _meta(obs)
    path = path or cache_path(obs)
    items, blobs = [], []
    for key, e in entries:
        if key[0] != meta["fingerprint"]:
            continue
        items.append({"key": list(key[1:]), "status": e.status,
                      "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in e.headers],
                      "n": len(e.body), "g": -1 if e.gzipped is None else len(e.gzipped)})
        blobs += [e.body, e.gzipped or b""]
    head = json.dumps({**meta, "entries": items, "skipped": sorted(set(skipped))}, separators=(",", ":")).encode()
    payload = b"".join([_MAGIC, struct.pack(">Q", len(head)), head, *blobs])
    data = payload + hashlib.sha256(payload).digest()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: p.write_bytes(data))
    for old in path.parent.glob("responses-*.bin"):
        if old != path:
            old.unlink(missing_ok=True)
    return path


Loaded = tuple[list[tuple[tuple, CachedResponse]], list[str]]


def load(obs: Observatory, path: Path | None = None) -> Loaded | None:
    """(answers, skipped paths) of the cache file of the current store version (see
    :func:`save`), or None (with a warning naming the file and why) when it is missing,
    corrupt or made for another store version, humsec version or configuration."""
    path = path or cache_path(obs)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("response cache %s not read: %s", path, exc.strerror)
        return None

    def bad(why: str) -> Loaded | None:
        log.warning("response cache %s ignored: %s", path, why)
        return None

    if len(data) < len(_MAGIC) + 8 + 32 or not data.startswith(_MAGIC):
        return bad("not a humsec response cache")
    payload, digest = data[:-32], data[-32:]
    if hashlib.sha256(payload).digest() != digest:
        return bad("checksum mismatch (truncated or corrupt)")
    (n,) = struct.unpack(">Q", payload[len(_MAGIC):len(_MAGIC) + 8])
    start = len(_MAGIC) + 8
    try:
        head = json.loads(payload[start:start + n])
        meta = _meta(obs)
        if any(head.get(k) != v for k, v in meta.items()):
            return bad("made for another store version, humsec version or configuration")
        pos = start + n
        out = []
        for it in head["entries"]:
            body = payload[pos:pos + int(it["n"])]
            pos += int(it["n"])
            g = int(it["g"])
            gz = payload[pos:pos + g] if g >= 0 else None
            pos += max(g, 0)
            headers = tuple((str(k).encode("latin-1"), str(v).encode("latin-1")) for k, v in it["headers"])
            etag = next((v for k, v in headers if k == b"etag"), b"")
            key = (meta["fingerprint"], *[str(x) for x in it["key"]])
            if len(key) != 5 or len(body) != int(it["n"]):
                return bad("malformed entry")
            out.append((key, CachedResponse(int(it["status"]), headers, body, gz, etag)))
        if pos != len(payload):
            return bad("length mismatch")
        skipped = [str(p) for p in head.get("skipped", [])]
    except (ValueError, KeyError, TypeError) as exc:
        return bad(f"malformed header ({exc})")
    return out, skipped


async def warm(cache: ResponseCache, views: Iterable[ViewList] = (), *, concurrency: int = 2,
               shared: Callable[[], None] | None = None, persist: bool = True,
               paths: list[str] | None = None) -> dict[str, Any]:
    """Fill ``cache`` before the server accepts requests: the answers of the disk file
    when it matches the store, then every path of :func:`read_views` (or ``paths``) not yet cached
    (``shared()`` first, in a thread, when anything is missing: the computations the
    views share), ``concurrency`` at a time; written back to disk when anything new was
    computed. Returns what was done (counts and seconds)."""
    from starlette.concurrency import run_in_threadpool

    obs = cache.obs
    t0 = time.perf_counter()
    fp = (await run_in_threadpool(obs.inputs)).fingerprint
    loaded = await run_in_threadpool(load, obs) if persist else None
    entries, known_skipped = loaded or ([], [])
    for key, entry in entries:
        cache.store.put(key, entry)
    t_load = time.perf_counter() - t0
    if paths is None:
        paths = await run_in_threadpool(read_views, obs, list(views))
    missing = [p for p in paths if p not in set(known_skipped) and not _cached(cache, p, fp)]
    before = cache.computed
    if missing and shared is not None:
        await run_in_threadpool(shared)
    sem = asyncio.Semaphore(max(1, int(concurrency)))
    skipped = [p for p in known_skipped if p in set(paths)]

    async def one(p: str) -> None:
        async with sem:
            if not await cache.fill(p, fp):
                skipped.append(p)

    await asyncio.gather(*(one(p) for p in missing))
    computed = cache.computed - before
    saved = None
    if persist and missing:
        keep = [(k, v) for k, v in cache.store.items() if isinstance(k, tuple) and k[0] == fp]
        saved = str(await run_in_threadpool(save, obs, keep, None, skipped))
    return {"paths": len(paths), "from_disk": len(entries), "computed": computed, "not_cacheable": len(skipped),
            "saved": saved, "load_seconds": round(t_load, 3), "seconds": round(time.perf_counter() - t0, 3)}


def _cached(cache: ResponseCache, path: str, fp: str) -> bool:
    p, _, q = path.partition("?")
    scope = {"method": "GET", "path": p, "query_string": q.encode(), "headers": [(b"accept", b"*/*")]}
    return cache.store.get(cache_key(scope, fp)) is not None
