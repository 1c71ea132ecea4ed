"""Routes of the dashboard: three pages (map, country, comparison), the world geometry
and the static assets. Pages are small templates; everything shown is fetched from the
REST API by ``static/app.js``."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from typing import Any
import contextlib
import difflib
import threading

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from humsec import __version__
from humsec.errors import HumsecError

ISO3 = re.compile(r"^[A-Za-z]{3}$")
#: Pages load nothing but this server's own scripts, styles and data.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                               "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _env() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("humsec.web", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def data_credits(obs: Any) -> dict[str, Any] | None:
    """Where the served numbers come from, for the footer: the data releases and the
    publishers of the current data (from the panel's provenance, most indicators first);
    None while the data cannot be read."""
    from humsec.report.brief import source_credits

    try:
        return obs.memo(("credits",), lambda: source_credits(obs.inputs().panel.provenance))
    except HumsecError:
        return None


#: Most countries a "Which country?" page lists.
MAX_CHOICES = 30


def name_candidates(reg: Any, text: str) -> list[dict[str, Any]]:
    """Countries a typed name may mean, for the "Go to a country" search.

    Every word of ``text`` (normalised as the registry compares names: case, accents,
    punctuation and "the"/"of"/"and" ignored) must be a word of the country's name or
    formal name, so "Korea" finds both Koreas, "Congo" both Congos and "Guinea" Guinea,
    Guinea-Bissau, Equatorial Guinea and Papua New Guinea, while "Niger" does not find
    Nigeria. When no name holds the words as typed, words that begin them count
    ("keny" -> Kenya).

    Returns
    -------
    list of dict
        ``iso3``, ``name``, ``region`` and ``exact`` (the name is the query), exact
        names first, then by name; at most :data:`MAX_CHOICES`.
    """
    from humsec.data.countries import normalise

    words = normalise(text).split()
    if not words:
        return []
    names = {c: (reg.info(c).name, [normalise(reg.info(c).name).split(), normalise(reg.info(c).official_name).split()])
             for c in reg.codes}

    def hits(test: Any) -> list[str]:
        return [c for c, (_, keys) in names.items() if any(all(test(w, k) for w in words) for k in keys)]

    found = hits(lambda w, k: w in k) or hits(lambda w, k: any(x.startswith(w) for x in k))
    key = " ".join(words)
    rows = [{"iso3": c, "name": names[c][0], "region": reg.region(c),
             "exact": " ".join(names[c][1][0]) == key} for c in found]
    rows.sort(key=lambda r: (not r["exact"], r["name"]))
    return rows[:MAX_CHOICES]


def close_names(reg: Any, text: str, n: int = 5) -> list[dict[str, Any]]:
    """Countries whose name is spelt like ``text`` ("kenia" -> Kenya), closest first
    (:func:`difflib.get_close_matches` on the normalised names); for a "did you mean"."""
    from humsec.data.countries import normalise

    by_key = {normalise(reg.info(c).name): c for c in sorted(reg.codes)}
    keys = difflib.get_close_matches(normalise(text), list(by_key), n=n, cutoff=0.7)
    return [{"iso3": by_key[k], "name": reg.name(by_key[k]), "region": reg.region(by_key[k]), "exact": False}
            for k in keys]


def dashboard_views(obs: Any) -> list[str]:
    """The dashboard's pages and assets the start-up warms (:func:`humsec.api.cache.warm`):
    the map and comparison pages, the world geometry, the static assets and every
    country's page."""
    from humsec.api.cache import countries_served

    return (["/", "/compare", "/web/world.geojson", "/static/app.js", "/static/style.css"]
            + [f"/country/{c}" for c in countries_served(obs)])


def warm_up_at_start(app: Any, env: Any = None) -> None:
    """Add the dashboard's pages to the views the API warms at start-up with
    ``config.preload`` (``humsec serve``: :func:`humsec.api.cache.warm`, before the server
    accepts requests; it also computes what every country page shares,
    :func:`humsec.api.routers.countries.warm_country_pages`), and compile the templates
    then. ``/web/warm-up`` says when it is done and how long it took."""
    app.state.dashboard_warm = threading.Event()
    app.state.response_views.append(dashboard_views)
    inner = app.router.lifespan_context
    obs = app.state.observatory

    @contextlib.asynccontextmanager
    async def lifespan(a: Any):
        async with inner(a) as state:
            if obs.config.preload:
                app.state.dashboard_warm_started = True
                for name in (env.list_templates() if env is not None else ()):
                    env.get_template(name)  # compiled once, before the first visitor

                def finish(report: dict | None) -> None:
                    app.state.dashboard_warm_failed = report is None
                    app.state.dashboard_warm_seconds = None if report is None else report.get("seconds")
                    app.state.dashboard_warm.set()

                task = getattr(app.state, "warm_task", None)
                if task is not None and not task.done():  # warming in the background (first start)
                    task.add_done_callback(lambda t: finish(
                        None if t.cancelled() or t.exception() is not None else app.state.warm_report))
                else:
                    finish(getattr(app.state, "warm_report", None))
            yield state

    app.router.lifespan_context = lifespan


def mount(app: Any) -> None:
    """Add ``/``, ``/country/{iso3}``, ``/compare``, ``/web/world.geojson`` and ``/static``."""
    from humsec.analysis.assess import SEVERE
    from humsec.api.http import Body, cached
    from humsec.web.geometry import world_geojson

    env = _env()
    static_dir = resources.files("humsec.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    warm_up_at_start(app, env)

    def page(template: str, request: Request, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = env.get_template(template).render(version=__version__, api="/api/v1",
                                                 credits=data_credits(request.app.state.observatory), **ctx)
        # a strong ETag of the page: revalidation is a 304, and the response cache keeps it
        tag = f'"{hashlib.sha256(html.encode("utf-8")).hexdigest()[:40]}"'
        return HTMLResponse(html, status_code=status,
                            headers={"Cache-Control": "no-cache", "ETag": tag, **SECURITY_HEADERS})

    @app.get("/", include_in_schema=False)
    def map_page(request: Request) -> HTMLResponse:
        return page("map.html.j2", request, page_id="map", title="World map", severe_below=SEVERE)

    @app.get("/compare", include_in_schema=False)
    def compare_page(request: Request) -> HTMLResponse:
        return page("compare.html.j2", request, page_id="compare", title="Compare countries")

    @app.get("/country", include_in_schema=False)
    def find_country(request: Request, q: str = "") -> Response:
        """The "Go to a country" search (works without JavaScript): an ISO3 code or a name
        that means one country -> its page; a name several countries share ("Korea") ->
        a page to choose among them; a misspelling the registry recognises -> its page."""
        reg = request.app.state.observatory.registry()
        text = q.strip()[:80]
        if not text:
            return page("notfound.html.j2", request, status=404, page_id="notfound", title="Not found",
                        message="Type a country's name or its ISO3 code.")
        if reg.is_iso3(text.upper()):
            return RedirectResponse(f"/country/{text.upper()}", status_code=303)
        matches = name_candidates(reg, text)
        if not matches:
            code = reg.match(text)
            if code:
                return RedirectResponse(f"/country/{code}", status_code=303)
            close = close_names(reg, text)
            if close:
                return page("choose.html.j2", request, status=404, page_id="choose", title="Which country?",
                            query=text, matches=close, misspelt=True)
            return page("notfound.html.j2", request, status=404, page_id="notfound", title="Not found",
                        message=f"No country matches “{text}”.")
        if len(matches) == 1:
            return RedirectResponse(f"/country/{matches[0]['iso3']}", status_code=303)
        return page("choose.html.j2", request, page_id="choose", title="Which country?", query=text,
                    matches=matches)

    @app.get("/country/{iso3}", include_in_schema=False)
    def country_page(request: Request, iso3: str) -> HTMLResponse:
        obs = request.app.state.observatory
        code = iso3.upper()
        if not ISO3.fullmatch(iso3) or not obs.registry().is_iso3(code):
            return page("notfound.html.j2", request, status=404, page_id="notfound", title="Not found",
                        message=f"There is no country with the code '{iso3[:12]}'.")
        return page("country.html.j2", request, page_id="country", title=obs.registry().name(code), iso3=code,
                    name=obs.registry().name(code), severe_below=SEVERE)

    @app.get("/web/warm-up", include_in_schema=False)
    def warm_up_status(request: Request) -> Response:
        """Whether the dashboard's start-up warm-up (:func:`warm_up_at_start`) is done."""
        st = request.app.state
        done = st.dashboard_warm.is_set()
        return JSONResponse({"started": getattr(st, "dashboard_warm_started", False), "done": done,
                             "seconds": getattr(st, "dashboard_warm_seconds", None),
                             "failed": getattr(st, "dashboard_warm_failed", False),
                             "responses": getattr(st, "warm_report", None)},
                            headers={"Cache-Control": "no-store"})

    @app.get("/web/world.geojson", include_in_schema=False)
    def world(request: Request) -> Response:
        obs = request.app.state.observatory
        return cached(request, obs, lambda _f: Body(json=obs.cache.get_or_compute(("geometry",), world_geojson)))
