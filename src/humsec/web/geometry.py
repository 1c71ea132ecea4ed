"""Country outlines for the dashboard's world map, from the ``countryinfo`` package
(MIT; Natural Earth-derived GeoJSON per country, keyed by ISO 3166-1 alpha-3).

Coordinates are rounded to 0.01° (about 1 km, far below a screen pixel of a world map)
and repeated points dropped, which shrinks the file to a few hundred kB; projection is
left to the browser.
"""

from __future__ import annotations

from typing import Any

from humsec.errors import HumsecError

SOURCE = "countryinfo (PyPI, MIT licence): Natural Earth-derived country outlines"


def _ring(ring: list[Any], digits: int) -> list[list[float]]:
    out: list[list[float]] = []
    for pt in ring:
        p = [round(float(pt[0]), digits), round(float(pt[1]), digits)]
        if not out or out[-1] != p:
            out.append(p)
    return out


def _geometry(g: dict[str, Any], digits: int) -> dict[str, Any] | None:
    kind = g.get("type")
    if kind == "Polygon":
        polys = [g["coordinates"]]
    elif kind == "MultiPolygon":
        polys = g["coordinates"]
    else:
        return None
    shapes = []
    for poly in polys:
        rings = [r for r in (_ring(ring, digits) for ring in poly) if len(r) >= 4]
        if rings:
            shapes.append(rings)
    if not shapes:
        return None
    return {"type": "MultiPolygon", "coordinates": shapes}


def world_geojson(digits: int = 2) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of country outlines (``id`` = ISO3, ``properties.name``).

    Raises
    ------
    HumsecError
        If the ``countryinfo`` package is not installed.
    """
    try:
        from countryinfo import CountryInfo
    except ImportError as exc:  # pragma: no cover - countryinfo is a dependency
        raise HumsecError(f"the world map needs the 'countryinfo' package ({exc})") from None
    features = []
    seen: set[str] = set()
    for info in CountryInfo.all().values():
        iso3 = str((info.get("ISO") or {}).get("alpha3") or "").upper()
        gj = info.get("geoJSON") or {}
        if len(iso3) != 3 or iso3 in seen or not gj:
            continue
        parts = []
        for f in gj.get("features", []) if gj.get("type") == "FeatureCollection" else [gj]:
            geom = _geometry(f.get("geometry") or {}, digits)
            if geom is not None:
                parts.extend(geom["coordinates"])
        if not parts:
            continue
        seen.add(iso3)
        features.append({"type": "Feature", "id": iso3, "properties": {"name": info.get("name", iso3)},
                         "geometry": {"type": "MultiPolygon", "coordinates": parts}})
    features.sort(key=lambda f: f["id"])
    return {"type": "FeatureCollection", "source": SOURCE, "features": features}
