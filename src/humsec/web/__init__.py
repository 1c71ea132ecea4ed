"""The web dashboard: static assets and templates served by the API process
(:func:`mount`). Pages hold no logic: they fetch ``/api/v1`` and draw plain SVG."""

from __future__ import annotations

from typing import Any

__all__ = ["mount"]


def mount(app: Any) -> None:
    """Add the dashboard's pages and assets to a FastAPI app (see :mod:`humsec.web.pages`)."""
    from humsec.web.pages import mount as _mount

    _mount(app)
