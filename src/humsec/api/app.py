"""The app factory of the observatory service: REST API under ``/api/v1`` (OpenAPI at
``/api/v1/openapi.json``, docs at ``/api/v1/docs``) and the web dashboard at ``/``.

A thin shell over the library: routers validate input, call library functions and
render their results; :class:`~humsec.api.state.Observatory` caches the expensive ones.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import hashlib
import logging
import re
from http import HTTPStatus

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from humsec import __version__
from humsec.api import auth, cache, schemas
from humsec.api.cache import ResponseCache
from humsec.api.config import ServiceConfig
from humsec.api.deps import BadParameter
from humsec.api.schemas import Problem  # noqa: F401 (the error model, importable from here)
from humsec.api.routers import alerts, commitments, countries, data, index_analysis, indices
from humsec.api.http import jsonable
from humsec.api.state import Observatory
from humsec.data.store import StoreBusyError
from humsec.errors import HumsecError, MissingExtra, NotFoundError
from humsec.index.builtin import builtin_names
from humsec.oversight.transaction import ConflictError, OversightBusyError
from humsec.settings import Settings
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles

API_PREFIX = "/api/v1"
log = logging.getLogger("humsec.api")


PROBLEM = "application/problem+json"


def _error(status: int, message: str, **extra) -> JSONResponse:
    """An RFC 9457 problem document: ``type, title, status, detail`` (+ ``extra`` members,
    e.g. the not-ranked reason or the validation errors)."""
    body = {"type": "about:blank", "title": _phrase(status), "status": status, "detail": message, **extra}
    return JSONResponse(status_code=status, content=body, media_type=PROBLEM)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


#: Answers every operation may give (each route declares its own errors: :mod:`humsec.api.schemas`).
ERROR_RESPONSES = schemas.COMMON_RESPONSES

#: Headers on every response that does not set its own (API JSON, CSV, files, docs).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: Content-Security-Policy of API responses: data never runs; HTML answers (briefs)
#: may use their inline styles and data-URI images, nothing else.
CSP_DATA = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
CSP_HTML = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` and a Content-Security-Policy to
    every HTTP response that has not set them (the dashboard's pages set their own).

    ``csp_for`` maps a path prefix to its policy (e.g. the API docs page, whose inline
    script is allowed by its hash)."""

    def __init__(self, app, csp_for: dict[str, str] | None = None):
        self.app = app
        self.csp_for = dict(csp_for or {})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                for k, v in SECURITY_HEADERS.items():
                    if k.lower().encode() not in have:
                        headers.append((k.lower().encode(), v.encode()))
                if b"content-security-policy" not in have:
                    ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                    csp = next((p for prefix, p in self.csp_for.items() if path == prefix), None)
                    csp = csp or (CSP_HTML if ctype.startswith(b"text/html") else CSP_DATA)
                    headers.append((b"content-security-policy", csp.encode()))
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def _location(loc: tuple) -> str:
    where = {"query": "query parameter", "path": "path parameter", "body": "body", "header": "header"}
    if not loc:
        return "request"
    head = where.get(str(loc[0]), str(loc[0]))
    rest = ".".join(str(p) for p in loc[1:])
    return f"{head} '{rest}'" if rest else head


def _auth_error(exc: Exception) -> JSONResponse:
    """401 (with the Bearer challenge) for a missing or unknown token, 403 for a role too low."""
    if isinstance(exc, auth.PermissionDenied):
        return _error(403, str(exc))
    resp = _error(401, str(exc))
    resp.headers["WWW-Authenticate"] = 'Bearer realm="humsec"'
    return resp


def install_error_handlers(app: FastAPI) -> None:
    """Every error is an RFC 9457 problem document (``application/problem+json``) with the
    status :mod:`humsec.api.schemas` declares: 401/403 for tokens, 404 for what does not
    exist, 409 for a conflicting edit, 422 for invalid input, 501 for a missing extra,
    503 (with ``Retry-After``) for a busy store. Nothing a client sends may cause a 5xx
    other than these (an unexpected exception is a bug and surfaces as one)."""
    @app.exception_handler(RequestValidationError)
    async def validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        msgs = [f"{_location(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in errs]
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errs]
        return _error(422, "; ".join(msgs) or "invalid request", errors=details)

    @app.exception_handler(auth.AuthError)
    @app.exception_handler(auth.PermissionDenied)
    async def auth_failed(_request: Request, exc: Exception) -> JSONResponse:
        return _auth_error(exc)

    @app.exception_handler(NotFoundError)
    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        return _error(404, str(exc), **jsonable(getattr(exc, "extra", {})))

    @app.exception_handler(BadParameter)
    async def bad_parameter(_request: Request, exc: Exception) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(HumsecError)
    async def user_error(request: Request, exc: HumsecError) -> JSONResponse:
        if isinstance(exc, ConflictError):
            return _error(409, str(exc))
        if isinstance(exc, MissingExtra):  # an optional extra of this installation is absent
            return _error(501, str(exc))
        if isinstance(exc, (OversightBusyError, StoreBusyError)):
            resp = _error(503, str(exc))
            resp.headers["Retry-After"] = "5"
            return resp
        # A well-formed read the data cannot answer (a year without data, an index whose
        # indicators are not in the store, a dimension the index lacks) asks for a
        # resource that does not exist: 404 (RFC 9110 15.5.5). 422 is for request
        # content the server cannot process: bodies of writes, and malformed parameters
        # (FastAPI's validation, above, and BadParameter).
        if request.method in ("GET", "HEAD"):
            return _error(404, str(exc))
        return _error(422, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        resp = _error(exc.status_code, str(exc.detail))
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp


def create_app(settings: Settings, config: ServiceConfig | None = None) -> FastAPI:
    """The observatory service for ``settings`` (database home) and ``config``.

    Nothing is read or computed here: the panel is loaded on the first request (or in
    the background at start-up with ``config.preload``).
    """
    config = config or ServiceConfig()
    app = FastAPI(title="humsec — Human Security Observatory API", version=__version__,
                  description="Indicators, panel data, the Human Security Index with uncertainty, "
                              "country assessments, trends, groups, spill-overs, peers, alerts, "
                              "commitments and briefs. Read endpoints send ETags (304 on If-None-Match); "
                              "write endpoints need a token with the editor role "
                              "(`Authorization: Bearer <token>`).",
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
                  lifespan=_lifespan(config), responses=ERROR_RESPONSES)
    app.state.observatory = Observatory(settings, config)
    app.state.authenticator = auth.authenticator_for(settings, config.token_file)
    install_error_handlers(app)
    app.state.response_views = []  # more read views to warm (the dashboard adds its pages)
    names = builtin_names()
    app.include_router(data.router(config), prefix=API_PREFIX)
    app.include_router(indices.router(config, names), prefix=API_PREFIX)
    app.include_router(index_analysis.router(config, names), prefix=API_PREFIX)
    app.include_router(countries.router(config, names), prefix=API_PREFIX)
    app.include_router(alerts.router(config, names), prefix=API_PREFIX)
    app.include_router(commitments.router(config), prefix=API_PREFIX)
    _declare_formats(app)
    docs_csp = _mount_docs(app)
    app.add_middleware(UploadGuard, config=config)
    # large answers (ranking CSV, panel pages, world geometry, HTML) gzip-compressed for
    # clients that accept it; inside SecurityHeaders, so compressed answers carry them too
    app.add_middleware(GZipMiddleware, minimum_size=config.gzip_min_bytes)
    # read answers computed once per store version, kept encoded (identity and gzip)
    app.add_middleware(ResponseCache, observatory=app.state.observatory, min_gzip=config.gzip_min_bytes)
    # outermost first: unknown Host headers are refused before anything else runs
    app.add_middleware(SecurityHeaders, csp_for={f"{API_PREFIX}/docs": docs_csp})
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=config.trusted_hosts(), www_redirect=False)
    return app


#: Write endpoints whose request body is a file: authenticated before the body is read.
UPLOAD_PATHS = (f"{API_PREFIX}/datasets",)


class UploadGuard:
    """Pure ASGI middleware checking the token and the declared size of an upload
    *before* its body is parsed: FastAPI reads (and spools to disk) a multipart body
    before any dependency runs, so without this an anonymous client could make the
    server store a large file only to be told 401."""

    def __init__(self, app, config: ServiceConfig):
        self.app = app
        self.config = config

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope.get("method") != "POST"
                or scope.get("path", "").rstrip("/") not in UPLOAD_PATHS):
            return await self.app(scope, receive, send)
        request = Request(scope)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.config.max_upload_bytes + 64 * 1024:
            return await _error(413, f"the file is larger than {self.config.max_upload_bytes} bytes")(
                scope, receive, send)
        try:
            await run_in_threadpool(auth.identity, request, "editor", "import data")
        except (auth.AuthError, auth.PermissionDenied) as exc:
            return await _auth_error(exc)(scope, receive, send)
        return await self.app(scope, receive, send)


#: Media type of each value of a ``format`` query parameter.
FORMAT_MEDIA = {"json": "application/json", "csv": "text/csv", "html": "text/html", "pdf": "application/pdf"}


def _declare_formats(app: FastAPI) -> None:
    """Declare in the OpenAPI document every media type an operation answers: an
    operation with a ``format`` query parameter gets one ``200`` content entry per value
    (CSV as text, PDF as binary), so that clients and schema checkers know a CSV answer
    is documented."""
    base = app.openapi

    def enum_values(schema: dict, doc: dict) -> list[str]:
        if "$ref" in schema:
            return enum_values(doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], doc)
        out = list(schema.get("enum", []))
        for alt in schema.get("anyOf", []):
            out += enum_values(alt, doc)
        return out

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = base()
        for ops in doc.get("paths", {}).values():
            for op in ops.values():
                # errors are problem documents only (FastAPI adds the route's media type to any model)
                problem = {"$ref": "#/components/schemas/Problem"}
                for code, resp in op.get("responses", {}).items():
                    content = resp.get("content", {})
                    if code[:1] in "45" and PROBLEM in content:
                        resp["content"] = {m: c for m, c in content.items() if m == PROBLEM or c.get("schema") != problem}
                fmt = next((p for p in op.get("parameters", []) if p.get("name") == "format" and p.get("in") == "query"),
                           None)
                if fmt is None or "200" not in op.get("responses", {}):
                    continue
                content = op["responses"]["200"].setdefault("content", {})
                for value in enum_values(fmt["schema"], doc):
                    media = FORMAT_MEDIA.get(value)
                    if media is None or media in content and content[media]:
                        continue
                    content[media] = ({"schema": {"type": "string", "format": "binary"}} if media == "application/pdf"
                                      else {"schema": {"type": "string"}} if media != "application/json"
                                      else content.get(media) or {"schema": {}})
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _mount_docs(app: FastAPI) -> str:
    """Interactive API docs at ``/api/v1/docs`` from Swagger UI files shipped in the
    ``swagger-ui-bundle-v2`` package, a required dependency (FastAPI's default page loads
    them from a CDN, which an offline observatory cannot reach). Returns the page's
    Content-Security-Policy (its one inline script allowed by its SHA-256)."""
    app.mount(f"{API_PREFIX}/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="swagger-ui")

    def page():
        return get_swagger_ui_html(openapi_url=f"{API_PREFIX}/openapi.json", title=f"{app.title} — docs",
                                   swagger_js_url=f"{API_PREFIX}/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url=f"{API_PREFIX}/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="data:,")

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs():
        return page()

    html = page().body.decode("utf-8")
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in re.findall(r"<script>(.*?)</script>", html, flags=re.S))
    return (f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _lifespan(config: ServiceConfig):
    """With ``config.preload`` (``humsec serve``): warm the response cache
    (:func:`humsec.api.cache.warm`) *before* the server accepts requests - uvicorn
    listens only once the start-up is done - so a fresh server answers every read view
    from the cache from its first request. A failed warm-up is logged; the server then
    starts and computes views on demand."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.warm_report = None
        if config.preload:
            obs = app.state.observatory
            async def run() -> dict | None:
                try:  # (the middleware stack, with the response cache, is built before the lifespan runs)
                    report = await cache.warm(obs.response_cache, app.state.response_views,
                                              shared=lambda: _shared_warm(obs), persist=config.persist_cache)
                    log.info("response cache warm: %s", report)
                    return report
                except Exception:  # a broken default must not stop the server; requests report it
                    log.exception("warming the response cache failed")
                    return None

            def settle() -> None:
                # what the warm-up built lives as long as the server: out of the collector's
                # scans, so that no full collection pauses an answer (CPython gc.freeze)
                gc.collect()
                gc.freeze()

            if obs.response_cache is not None:  # new data while serving: warmed again, in the background
                obs.response_cache.on_new_data = run
            if config.preload_wait or await run_in_threadpool(_disk_cache_matches, obs):
                app.state.warm_report = await run()
                settle()
            else:
                # the first start on this data: answer at once (each view computed on first
                # use) while every view is computed in the background
                async def background() -> None:
                    app.state.warm_report = await run()
                    settle()

                app.state.warm_task = asyncio.create_task(background())
                log.warning("no response cache for this data yet: answering now and warming every view in "
                            "the background (minutes, once per data version)")
        yield
        task = getattr(app.state, "warm_task", None)
        if task is not None and not task.done():
            task.cancel()
    return lifespan


def _disk_cache_matches(obs: Observatory) -> bool:
    """Whether a response-cache file was written for this store version, humsec version
    and configuration (its name says so; its content is checked when it is loaded)."""
    try:
        return cache.cache_path(obs).is_file()
    except Exception:  # an unreadable store: the warm-up (and each request) reports it
        return False


def _shared_warm(obs: Observatory) -> None:
    """What the read views share, computed once before them: the default assessment and
    ranking, alerts and watch list (:meth:`Observatory.warm`), and what every country
    page shares (:func:`humsec.api.routers.countries.warm_country_pages`)."""
    obs.warm()
    try:
        countries.warm_country_pages(obs)
    except HumsecError:  # data without the HSI's series: each view says why when asked
        pass
