"""Country outlines, land borders and representative points from Natural Earth (TopoJSON).

The release builds two small artefacts from Natural Earth's admin-0 countries at 1:10m
(public domain), as redistributed by the npm package ``world-atlas`` (TopoJSON, ISC
packaging):

* ``outlines.json`` - a GeoJSON FeatureCollection, one MultiPolygon per country keyed by
  ISO 3166-1 alpha-3 (``XKX`` for Kosovo), for the dashboard's world map. The TopoJSON's
  *arcs* (the boundary lines that neighbouring countries share) are simplified once each
  (Douglas-Peucker with shapely, end points kept), so neighbours keep one common,
  gap-free border; coordinates are rounded to ``digits`` decimals. The tolerance of an
  arc shrinks with the smallest country that uses it, so that micro-states (Vatican,
  Monaco, Nauru, Tuvalu) stay polygons, never dots.
* ``geography.json`` - the land-border pairs and one representative point per country.
  Two countries share a land border when their outlines share a TopoJSON arc (a boundary
  line of positive length; a quadripoint or a mere corner is not a border). The point is
  the pole of inaccessibility (shapely ``polylabel``) of the country's largest part.

Natural Earth keeps some areas as units of their own. Here they follow ISO 3166-1:
Kosovo has no ISO code in the file and becomes ``XKX``; Somaliland, Northern Cyprus and
the Cyprus U.N. buffer zone are dissolved into Somalia and Cyprus; leased territory into
the lessor (Baikonur into Kazakhstan, the Guantánamo naval base into Cuba); the others
without an ISO code (the UK's Sovereign Base Areas on Cyprus, the Siachen glacier, the
Indian Ocean Territories, Coral Sea, Spratly, Clipperton, Bajo Nuevo, Serranilla and
Scarborough) and Ashmore and Cartier Islands (which repeats Australia's code 036) are
left out. Natural Earth's de-facto drawing of Crimea as part of Russia is undone: Crimea is
drawn as Ukraine (:data:`REASSIGNED`). See :data:`UNNAMED` and :data:`DROPPED`.

Nothing here is read at run time except the two written files (:func:`load_outlines`,
:func:`load_geography`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from humsec.data.release.load import shipped_release_dir
from humsec.errors import HumsecError, ValidationError, ValidationIssue

__all__ = ["DROPPED", "GEOGRAPHY_FILE", "OUTLINES_FILE", "REASSIGNED", "UNNAMED", "Geography", "build_geography",
           "decode_arcs", "load_geography", "load_outlines"]

OUTLINES_FILE = "outlines.json"
GEOGRAPHY_FILE = "geography.json"

#: Natural Earth units without an ISO 3166-1 numeric ``id``, and the ISO3 code they are drawn as.
UNNAMED: dict[str, str] = {
    "Kosovo": "XKX",
    "Somaliland": "SOM",
    "N. Cyprus": "CYP",
    "Cyprus U.N. Buffer Zone": "CYP",
    "Baikonur": "KAZ",
    "USNB Guantanamo Bay": "CUB",
}
#: Natural Earth units left out (no ISO 3166-1 code of their own, or a duplicate code).
DROPPED: frozenset[str] = frozenset({
    "Dhekelia", "Akrotiri", "Siachen Glacier", "Indian Ocean Ter.", "Coral Sea Is.", "Spratly Is.",
    "Clipperton I.", "Bajo Nuevo Bank", "Serranilla Bank", "Scarborough Reef", "Ashmore and Cartier Is.",
})


#: Parts of a unit drawn as another country: (from, to, lon/lat box holding the whole part).
#: Natural Earth 4.1.0 draws Crimea (with Sevastopol) as part of Russia (de facto); UN General
#: Assembly resolution 68/262 affirms Ukraine's territorial integrity, and ISO 3166-1 codes
#: Crimea to Ukraine - so the map and the land borders treat it as Ukraine.
REASSIGNED: dict[str, tuple[str, str, tuple[float, float, float, float]]] = {
    "Crimea": ("RUS", "UKR", (32.0, 44.0, 36.8, 46.3)),
}


def decode_arcs(topology: dict) -> list[np.ndarray]:
    """Absolute lon/lat coordinates of every arc of a quantized TopoJSON topology."""
    tr = topology.get("transform")
    out = []
    for arc in topology["arcs"]:
        a = np.asarray(arc, dtype=np.float64)[:, :2]
        if tr:
            a = np.cumsum(a, axis=0) * np.asarray(tr["scale"], dtype=np.float64) \
                + np.asarray(tr["translate"], dtype=np.float64)
        out.append(a)
    return out


def _polygons(geom: dict) -> list[list[list[int]]]:
    """Polygons (lists of rings, each a list of arc indices) of a TopoJSON geometry."""
    if geom["type"] == "Polygon":
        return [geom["arcs"]]
    if geom["type"] == "MultiPolygon":
        return list(geom["arcs"])
    return []


def _ring_arcs(ring: list[int]) -> Iterable[int]:
    return (i if i >= 0 else ~i for i in ring)


def _ring_coords(ring: list[int], arcs: list[np.ndarray]) -> np.ndarray:
    parts = []
    for k, i in enumerate(ring):
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        parts.append(a if k == 0 else a[1:])
    return np.concatenate(parts)


@dataclass(frozen=True)
class Geography:
    """What :func:`build_geography` made: the two artefacts and a report."""

    outlines: dict
    geography: dict
    report: dict


def _units(topology: dict, to_iso3: Callable[[str], str | None]) -> tuple[dict[str, list], dict, list]:
    """ISO3 -> TopoJSON geometries, ISO3 -> Natural Earth names, and what was done with each
    unit without a usable code."""
    by_code: dict[str, list] = {}
    names: dict[str, list[str]] = {}
    decisions = []
    issues = []
    for g in topology["objects"]["countries"]["geometries"]:
        name = (g.get("properties") or {}).get("name", "")
        if name in DROPPED:
            decisions.append({"unit": name, "id": g.get("id"), "decision": "left out"})
            continue
        gid = g.get("id")
        if gid is None:
            code = UNNAMED.get(name)
            if code is None:
                issues.append(ValidationIssue(f"unit '{name}' has no ISO 3166-1 code and no rule "
                                              "(add it to UNNAMED or DROPPED)", field="id"))
                continue
            decisions.append({"unit": name, "id": None, "decision": f"drawn as {code}"})
        else:
            code = to_iso3(str(gid))
            if code is None:
                issues.append(ValidationIssue(f"unit '{name}': unknown ISO 3166-1 numeric code {gid!r}", field="id"))
                continue
        by_code.setdefault(code, []).append(g)
        names.setdefault(code, []).append(name)
    if issues:
        raise ValidationError(issues)
    return by_code, names, decisions


def _borders(by_code: dict[str, list]) -> list[tuple[str, str]]:
    """Pairs of countries whose outlines share an arc."""
    users: dict[int, set[str]] = {}
    for code, geoms in by_code.items():
        for g in geoms:
            for poly in _polygons(g):
                for ring in poly:
                    for i in _ring_arcs(ring):
                        users.setdefault(i, set()).add(code)
    pairs = set()
    for codes in users.values():
        cs = sorted(codes)
        pairs |= {(a, b) for k, a in enumerate(cs) for b in cs[k + 1:]}
    return sorted(pairs)


def _cells(geoms: list, arcs: list[np.ndarray], topology: dict):
    """The box of a unit's vertices grown by half a quantization step on every side: where
    the true outline lies when the quantized file leaves it no area."""
    # local (shapely here and below, scikit-learn in coast_nearest): only building a release
    # needs them, and this module is also loaded to read the shipped outlines (dashboard)
    from shapely.geometry import box

    pts = np.concatenate([arcs[i] for g in geoms for poly in _polygons(g) for ring in poly
                          for i in _ring_arcs(ring)])
    sx, sy = (np.asarray((topology.get("transform") or {}).get("scale", (0.0, 0.0)), dtype=np.float64) / 2)
    return box(pts[:, 0].min() - sx, pts[:, 1].min() - sy, pts[:, 0].max() + sx, pts[:, 1].max() + sy)


def _unwrap(ring: np.ndarray) -> np.ndarray:
    """A ring that crosses the antimeridian (world-atlas keeps such rings whole, for spherical
    rendering: Fiji, Russia's Chukotka) with continuous longitudes beyond ±180. A ring around
    a pole (Antarctica), which closes only through the jump, is left as it is."""
    d = np.diff(ring[:, 0])
    if not (np.abs(d) > 180).any():
        return ring
    shift = np.concatenate([[0.0], np.cumsum(np.where(d > 180, -360.0, np.where(d < -180, 360.0, 0.0)))])
    if shift[-1] != 0:
        return ring
    out = ring.copy()
    out[:, 0] += shift
    return out


def _split_antimeridian(poly):
    """Pieces of a polygon within [-180, 180], those beyond the antimeridian moved back by 360°."""
    from shapely import affinity  # local: see _cells
    from shapely.geometry import box

    minx, _, maxx, _ = poly.bounds
    if minx >= -180 and maxx <= 180:
        return [poly]
    return [affinity.translate(poly.intersection(box(lo, -90, lo + 360, 90)), xoff=-lo - 180)
            for lo in (-540.0, -180.0, 180.0) if poly.intersects(box(lo, -90, lo + 360, 90))]


def _valid_parts(polys: list) -> list:
    """Polygons of positive area: each made valid, then all dissolved into one another (merged
    units such as Somaliland lose their inner boundary; overlaps left by rounding vanish)."""
    import shapely  # local: see _cells
    from shapely.geometry import Polygon

    def parts_of(g) -> list:
        if isinstance(g, Polygon):
            return [g] if g.area > 0 else []
        return [x for h in getattr(g, "geoms", []) for x in parts_of(h)]

    valid = [x for q in polys for x in parts_of(q if q.is_valid else shapely.make_valid(q))]
    valid = [x for q in valid for y in _split_antimeridian(q) for x in parts_of(y)]
    if not valid:
        return []
    return parts_of(shapely.union_all(valid)) if len(valid) > 1 else valid


def _round_ring(coords: np.ndarray, digits: int) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y in coords:
        p = [round(float(x), digits), round(float(y), digits)]
        if not out or out[-1] != p:
            out.append(p)
    return out


def build_geography(path: str | Path, to_iso3: Callable[[str], str | None], *, tolerance: float = 0.05,
                    relative: float = 0.05, min_part: float = 0.002, digits: int = 3,
                    source: dict | None = None) -> Geography:
    """Outlines, land borders and points from a world-atlas ``countries-10m.json``.

    Parameters
    ----------
    path : path
        The TopoJSON topology (object ``countries``, ids = ISO 3166-1 numeric).
    to_iso3 : callable
        ISO numeric code (``"004"``) -> ISO3, or None when unknown.
    tolerance : float
        Largest Douglas-Peucker tolerance in degrees.
    relative : float
        An arc's tolerance is at most ``relative`` x the square root of the area (deg²)
        of the smallest country using it.
    min_part : float
        Parts (islands) smaller than this many square degrees, or than 1/50 of the
        country's area if that is less, are left out of a country's outline - except its
        largest part (small island states keep their main islands).
    digits : int
        Decimals kept in the coordinates.
    source : dict, optional
        Provenance recorded in both artefacts.
    """
    from shapely.geometry import LineString, MultiPolygon, Polygon  # local: see _cells
    from shapely.ops import polylabel

    p = Path(path)
    try:
        topology = json.loads(p.read_text(encoding="utf-8"))
        arcs = decode_arcs(topology)
        topology["objects"]["countries"]["geometries"]
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ValidationError(ValidationIssue(f"not a readable TopoJSON topology with object 'countries' "
                                              f"({type(exc).__name__}: {exc})", file=str(p))) from None
    by_code, names, decisions = _units(topology, to_iso3)
    for label, (frm, to, (x0, y0, x1, y1)) in REASSIGNED.items():
        moved: list[Any] = []
        for g in by_code.get(frm, []):
            keep: list[Any] = []
            for poly in _polygons(g):
                r = _ring_coords(poly[0], arcs)
                inside = x0 <= r[:, 0].min() and r[:, 0].max() <= x1 and y0 <= r[:, 1].min() and r[:, 1].max() <= y1
                (moved if inside else keep).append(poly)
            g["type"], g["arcs"] = "MultiPolygon", keep
        if moved and to in by_code:
            by_code[to].append({"type": "MultiPolygon", "arcs": moved})
            decisions.append({"unit": label, "id": None, "decision": f"{len(moved)} part(s) of {frm} drawn as {to}"})

    # full-resolution area of every country: the scale of its own tolerance
    def polys_of(geoms: list, arc_coords: list[np.ndarray]) -> list:
        out = []
        for g in geoms:
            for poly in _polygons(g):
                rings = [_unwrap(_ring_coords(r, arc_coords)) for r in poly]
                rings = [r for r in rings if len(r) >= 4]
                if rings:
                    holes = [h + 360.0 * round((rings[0][0, 0] - h[0, 0]) / 360.0) for h in rings[1:]]
                    out.append(Polygon(rings[0], holes))
        return out

    area = {c: float(sum(q.area for q in polys_of(gs, arcs))) for c, gs in by_code.items()}
    arc_tol = np.full(len(arcs), float(tolerance))
    for code, geoms in by_code.items():
        t = min(tolerance, relative * float(np.sqrt(area[code])))
        for g in geoms:
            for poly in _polygons(g):
                for ring in poly:
                    for i in _ring_arcs(ring):
                        arc_tol[i] = min(arc_tol[i], t)
    simple: list[np.ndarray] = []
    for a, t in zip(arcs, arc_tol):
        if len(a) > 2:
            s = np.asarray(LineString(a).simplify(float(t), preserve_topology=True).coords)
            while np.array_equal(a[0], a[-1]) and len(s) < 4 and t > 1e-6:  # a closed arc (island) stays a ring
                t /= 4
                s = np.asarray(LineString(a).simplify(float(t), preserve_topology=True).coords)
        else:
            s = a
        q = 10.0 ** (digits if t < 2 * 10.0 ** (1 - digits) else digits - 1)  # coarse arcs need fewer decimals
        simple.append(np.round(s * q) / q)

    features: list[dict[str, Any]] = []
    points = {}
    dropped_parts = 0
    degenerate: list[str] = []
    for code in sorted(by_code):
        parts = _valid_parts(polys_of(by_code[code], simple))
        if not parts:  # simplification and rounding collapsed it: keep the full outline
            parts = _valid_parts(polys_of(by_code[code], arcs))
        if not parts:  # the quantized file draws it as a line (Vatican): the grid cells of its vertices
            parts = [_cells(by_code[code], arcs, topology)]
            degenerate.append(code)
        parts.sort(key=lambda g: (-g.area, g.bounds))
        total = sum(g.area for g in parts)
        keep = [g for k, g in enumerate(parts) if k == 0 or g.area >= min(min_part, total / 50)]
        dropped_parts += len(parts) - len(keep)
        mp = MultiPolygon(keep)
        coords = []
        for poly in mp.geoms:
            rings = [_round_ring(np.asarray(poly.exterior.coords), digits)]
            rings += [_round_ring(np.asarray(r.coords), digits) for r in poly.interiors]
            rings = [r for r in rings if len(r) >= 4]
            if rings and len(rings[0]) >= 4:
                coords.append(rings)
        pt = polylabel(keep[0], tolerance=10.0 ** -digits)
        points[code] = [round(pt.y, digits), round(pt.x, digits)]
        features.append({"type": "Feature", "id": code,
                         "properties": {"name": " / ".join(sorted(set(names[code]), key=names[code].index))},
                         "geometry": {"type": "MultiPolygon", "coordinates": coords}})
    nearest = coast_nearest({f["id"]: f["geometry"]["coordinates"] for f in features})
    meta = dict(source or {})
    outlines = {"type": "FeatureCollection", **({"source": meta} if meta else {}), "features": features}
    borders = _borders(by_code)
    geography = {**({"source": meta} if meta else {}),
                 "note": "land borders: countries whose Natural Earth 1:10m outlines share a boundary arc; "
                         "points: pole of inaccessibility of each country's largest part (lat, lon); "
                         f"nearest: the {NEAREST} nearest units by great-circle distance between their "
                         "outlines (coast to coast, km; for island states' sea neighbours)",
                 "borders": [list(b) for b in borders], "points": points, "nearest": nearest}
    report = {"countries": len(features), "borders": len(borders), "units": decisions,
              "parts_left_out": dropped_parts, "drawn_as_grid_cells": degenerate}
    return Geography(outlines, geography, report)


#: Nearest units kept per unit in ``geography.json`` (filtered to independent countries
#: when a graph is built, so territories in between do not crowd them out).
NEAREST = 16
EARTH_KM = 6371.0088


def coast_nearest(outlines: dict[str, list], k: int = NEAREST) -> dict[str, list[list]]:
    """The ``k`` nearest other units of every unit by the great-circle distance between
    their outlines (the closest pair of outline vertices, i.e. coast to coast for islands),
    in whole km: ``{unit: [[other, km], ...]}`` nearest first, ties by code.

    Distances between the vertices of the simplified outlines (within about 0.15 deg of
    the coast), by the haversine formula on a sphere of radius 6,371 km, found with a
    ball tree per unit (scikit-learn). Malta's nearest are Italy, Tunisia and Libya; New
    Zealand's Australia's Norfolk Island before Australia itself.

    References
    ----------
    .. [Sinnott84] Sinnott, R. W. (1984). Virtues of the haversine. *Sky and Telescope*
       68(2), 159.
    """
    from sklearn.neighbors import BallTree  # local: 0.9 s at import, see _cells

    codes = sorted(outlines)
    verts, owner = [], []
    for i, c in enumerate(codes):
        pts = np.array([pt for poly in outlines[c] for ring in poly[:1] for pt in ring], dtype=float)
        verts.append(np.radians(pts[:, ::-1]))  # (lat, lon) in radians
        owner.append(np.full(len(pts), i))
    allv, allo = np.concatenate(verts), np.concatenate(owner)
    dist = np.full((len(codes), len(codes)), np.inf)
    for j, v in enumerate(verts):
        d, _ = BallTree(v, metric="haversine").query(allv, k=1)
        dist[:, j] = np.minimum.reduceat(d[:, 0], np.r_[0, np.flatnonzero(np.diff(allo)) + 1])
    km = np.round(dist * EARTH_KM)
    out = {}
    for i, c in enumerate(codes):
        order = sorted((j for j in range(len(codes)) if j != i), key=lambda j: (km[i, j], codes[j]))[:k]
        out[c] = [[codes[j], int(km[i, j])] for j in order]
    return out


def dumps(obj: Any) -> bytes:
    """The bytes an artefact is written as (compact, key order kept, UTF-8, final newline)."""
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _read(root: Path | None, name: str) -> dict:
    path = (root or shipped_release_dir()) / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HumsecError(f"{path}: cannot read the release's {name} ({exc}); rebuild the release") from None


def load_outlines(root: str | Path | None = None) -> dict:
    """The release's country outlines (GeoJSON FeatureCollection; default: the shipped release)."""
    return _read(Path(root) if root is not None else None, OUTLINES_FILE)


def load_geography(root: str | Path | None = None) -> dict:
    """The release's land borders and representative points (default: the shipped release)."""
    return _read(Path(root) if root is not None else None, GEOGRAPHY_FILE)
