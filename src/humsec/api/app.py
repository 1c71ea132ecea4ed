"""The app factory of the observatory service: REST API under ``/api/v1`` (OpenAPI at
``/api/v1/openapi.json``, docs at ``/api/v1/docs``) and the web dashboard at ``/``.

A thin shell over the library: routers validate input, call library functions and
render their results; :class:`~humsec.api.state.Observatory` caches the expensive ones.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from humsec import __version__
from humsec.api import auth
from humsec.api.config import ServiceConfig
from humsec.api.deps import NotFound
from humsec.api.routers import alerts, commitments, countries, data, indices
from humsec.api.state import Observatory
from humsec.errors import HumsecError
from humsec.index.builtin import builtin_names
from humsec.settings import Settings

API_PREFIX = "/api/v1"
log = logging.getLogger("humsec.api")


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": message, "status": status, **extra})


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
    """User errors are 4xx JSON ``{"detail": message, "status": code}``; nothing a client
    sends may cause a 5xx (an unexpected exception is a bug and surfaces as one)."""

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

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        from humsec.api.http import jsonable

        return _error(404, str(exc), **jsonable(getattr(exc, "extra", {})))

    @app.exception_handler(HumsecError)
    async def user_error(_request: Request, exc: HumsecError) -> JSONResponse:
        name = type(exc).__name__
        if name == "ConflictError":
            return _error(409, str(exc))
        if name in ("StoreBusyError", "OversightBusyError"):
            resp = _error(503, str(exc))
            resp.headers["Retry-After"] = "5"
            return resp
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
                  lifespan=_lifespan(config))
    app.state.observatory = Observatory(settings, config)
    app.state.authenticator = auth.authenticator_for(settings, config.token_file)
    install_error_handlers(app)
    _guard_uploads(app, config)
    names = builtin_names()
    app.include_router(data.router(config), prefix=API_PREFIX)
    app.include_router(indices.router(config, names), prefix=API_PREFIX)
    app.include_router(countries.router(config, names), prefix=API_PREFIX)
    app.include_router(alerts.router(config, names), prefix=API_PREFIX)
    app.include_router(commitments.router(config), prefix=API_PREFIX)
    _mount_docs(app)
    return app


#: Write endpoints whose request body is a file: authenticated before the body is read.
UPLOAD_PATHS = (f"{API_PREFIX}/datasets",)


def _guard_uploads(app: FastAPI, config: ServiceConfig) -> None:
    """Check the token and the declared size of an upload *before* its body is parsed:
    FastAPI reads (and spools to disk) a multipart body before any dependency runs, so
    without this an anonymous client could make the server store a large file only to
    be told 401."""
    from starlette.concurrency import run_in_threadpool

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.method == "POST" and request.url.path.rstrip("/") in UPLOAD_PATHS:
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > config.max_upload_bytes + 64 * 1024:
                return _error(413, f"the file is larger than {config.max_upload_bytes} bytes")
            try:
                await run_in_threadpool(auth.identity, request, "editor", "import data")
            except (auth.AuthError, auth.PermissionDenied) as exc:
                return _auth_error(exc)
        return await call_next(request)


def _mount_docs(app: FastAPI) -> None:
    """Interactive API docs at ``/api/v1/docs`` from Swagger UI files shipped in the
    ``swagger-ui-bundle-v2`` package (FastAPI's default page loads them from a CDN, which
    an offline observatory cannot reach). Without the package there is no docs page; the
    OpenAPI document is always served."""
    try:
        import swagger_ui_bundle
    except ImportError:
        return
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    app.mount(f"{API_PREFIX}/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
              name="swagger-ui")

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url=f"{API_PREFIX}/openapi.json", title=f"{app.title} — docs",
                                   swagger_js_url=f"{API_PREFIX}/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url=f"{API_PREFIX}/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="data:,")


def _lifespan(config: ServiceConfig):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if config.preload:
            def run() -> None:
                try:
                    app.state.observatory.warm()
                except Exception:  # a broken default must not stop the server; requests report it
                    log.exception("preloading the default assessment failed")
            threading.Thread(target=run, name="humsec-preload", daemon=True).start()
        yield
    return lifespan
