"""The observatory service: REST API (FastAPI) over the library; see :func:`create_app`.

Nothing runs at import time.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(settings: Any, config: Any = None) -> Any:
    """See :func:`humsec.api.app.create_app`."""
    from humsec.api.app import create_app as _create

    return _create(settings, config)
