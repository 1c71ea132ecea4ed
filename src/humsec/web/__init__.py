"""The web dashboard: static assets and templates served by the API process
(:func:`create_site` = the REST API of :func:`humsec.api.create_app` plus the pages).
Pages hold no logic: they fetch ``/api/v1`` and draw plain SVG. The dashboard sits on
top of the API (it imports it, never the reverse)."""

from __future__ import annotations

from typing import Any
from humsec.api import create_app

__all__ = ["create_site", "mount"]


def create_site(settings: Any, config: Any = None) -> Any:
    """The observatory site: REST API (``/api/v1``) and dashboard (``/``)."""
    app = create_app(settings, config)
    mount(app)
    return app


def mount(app: Any) -> None:
    """Add the dashboard's pages and assets to a FastAPI app (see :mod:`humsec.web.pages`)."""
    from humsec.web.pages import mount as _mount

    _mount(app)
