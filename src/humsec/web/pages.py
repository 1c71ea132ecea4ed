"""Routes of the dashboard: three pages (map, country, comparison), the world geometry
and the static assets. Pages are small templates; everything shown is fetched from the
REST API by ``static/app.js``."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from humsec import __version__

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
    from humsec.errors import HumsecError
    from humsec.report.brief import source_credits

    try:
        return obs.memo(("credits",), lambda: source_credits(obs.inputs().panel.provenance))
    except HumsecError:
        return None


def mount(app: Any) -> None:
    """Add ``/``, ``/country/{iso3}``, ``/compare``, ``/web/world.geojson`` and ``/static``."""
    from humsec.analysis.assess import SEVERE
    from humsec.api.http import Body, cached
    from humsec.web.geometry import world_geojson

    env = _env()
    static_dir = resources.files("humsec.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")

    def page(template: str, request: Request, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = env.get_template(template).render(version=__version__, api="/api/v1",
                                                 credits=data_credits(request.app.state.observatory), **ctx)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})

    @app.get("/", include_in_schema=False)
    def map_page(request: Request) -> HTMLResponse:
        return page("map.html.j2", request, page_id="map", title="World map", severe_below=SEVERE)

    @app.get("/compare", include_in_schema=False)
    def compare_page(request: Request) -> HTMLResponse:
        return page("compare.html.j2", request, page_id="compare", title="Compare countries")

    @app.get("/country", include_in_schema=False)
    def find_country(request: Request, q: str = "") -> Response:
        """The "Go to a country" form without JavaScript: a name or code -> its page."""
        from fastapi.responses import RedirectResponse

        reg = request.app.state.observatory.registry()
        text = q.strip()[:80]
        code = text.upper() if reg.is_iso3(text.upper()) else (reg.match(text) if text else None)
        if code:
            return RedirectResponse(f"/country/{code}", status_code=303)
        return page("notfound.html.j2", request, status=404, page_id="notfound", title="Not found",
                    message=f"No country matches '{text}'.")

    @app.get("/country/{iso3}", include_in_schema=False)
    def country_page(request: Request, iso3: str) -> HTMLResponse:
        obs = request.app.state.observatory
        code = iso3.upper()
        if not ISO3.fullmatch(iso3) or not obs.registry().is_iso3(code):
            return page("notfound.html.j2", request, status=404, page_id="notfound", title="Not found",
                        message=f"There is no country with the code '{iso3[:12]}'.")
        return page("country.html.j2", request, page_id="country", title=obs.registry().name(code), iso3=code,
                    name=obs.registry().name(code), severe_below=SEVERE)

    @app.get("/web/world.geojson", include_in_schema=False)
    def world(request: Request) -> Response:
        obs = request.app.state.observatory
        return cached(request, obs, lambda _f: Body(json=obs.cache.get_or_compute(("geometry",), world_geojson)))
