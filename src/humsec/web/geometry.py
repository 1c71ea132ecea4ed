"""Country outlines for the dashboard's world map, from the data release.

The release ships ``outlines.json`` (:mod:`humsec.data.release.outlines`): Natural Earth's
admin-0 countries at 1:10m (public domain, via world-atlas), one simplified MultiPolygon
per country keyed by ISO 3166-1 alpha-3, every UN member and the other units the HSI
ranks (Kosovo ``XKX``, Palestine, Taiwan, Hong Kong ...), micro-states as polygons.
Projection is left to the browser.
"""

from __future__ import annotations

from typing import Any

from humsec.data.release.outlines import load_outlines

__all__ = ["SOURCE", "world_geojson"]

SOURCE = "Natural Earth admin-0 countries 1:10m (public domain), via world-atlas 2.0.2; humsec data release"


def world_geojson() -> dict[str, Any]:
    """A GeoJSON FeatureCollection of country outlines (``id`` = ISO3, ``properties.name``)
    from the shipped data release; ``source`` names where the outlines come from.

    Raises
    ------
    HumsecError
        If the shipped release has no readable ``outlines.json``.
    """
    data = load_outlines()
    meta = data.get("source") or {}
    source = (f"{meta['source']}, {meta['edition']} ({meta['licence']})" if meta.get("source") else SOURCE)
    return {"type": "FeatureCollection", "source": source, "attribution": meta.get("attribution", ""),
            "features": data["features"]}
