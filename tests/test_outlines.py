"""Country outlines, land borders and points from Natural Earth (humsec.data.release.outlines):
the shipped artefacts, the TopoJSON decoder and simplification by hand, and the map route."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import MultiPolygon, Point, shape

from humsec.data.countries import CountryRegistry
from humsec.data.release import load_release, shipped_release_dir
from humsec.data.release.outlines import (
    GEOGRAPHY_FILE,
    OUTLINES_FILE,
    UNNAMED,
    build_geography,
    decode_arcs,
    dumps,
    load_geography,
    load_outlines,
    sha256,
)
from humsec.errors import HumsecError, ValidationError

EXTRACT = Path(__file__).parent / "data" / "release_sources" / "natural_earth_10m_topojson"


@pytest.fixture(scope="module")
def outlines():
    return load_outlines()


@pytest.fixture(scope="module")
def shapes(outlines):
    return {f["id"]: shape(f["geometry"]) for f in outlines["features"]}


@pytest.fixture(scope="module")
def reg():
    return CountryRegistry.default()


# ---------------------------------------------------------------- the shipped artefacts
def test_every_un_member_has_a_polygon_outline(shapes, reg):
    un = reg.un_members
    assert len(un) == 193 and not un - set(shapes), sorted(un - set(shapes))
    for code in sorted(un) + ["XKX", "PSE", "TWN", "HKG", "MAC"]:
        g = shapes[code]
        assert isinstance(g, MultiPolygon) and g.geom_type == "MultiPolygon", code
        assert g.area > 0 and not g.is_empty, code
        minx, miny, maxx, maxy = g.bounds
        assert maxx > minx and maxy > miny, code        # not a dot, not a line
    # the countries the old map drew as dots are polygons with several vertices
    for code in ("HUN", "SRB", "MMR", "SGP", "VAT", "MCO", "TUV", "NRU", "SMR", "LIE"):
        ring = shapes[code].geoms[0].exterior.coords
        assert len(ring) >= 4, code
    assert shapes["VAT"].area < shapes["MCO"].area < shapes["SGP"].area < shapes["HUN"].area


def test_outlines_are_in_place_and_plausible(shapes):
    """Known places fall inside the right outline; no outline spans the antimeridian."""
    for code, (lon, lat) in {"KEN": (36.82, -1.29), "HUN": (19.04, 47.50), "SGP": (103.82, 1.35),
                             "FJI": (178.44, -18.14), "RUS": (37.62, 55.76), "XKX": (21.17, 42.67),
                             "SOM": (45.03, 9.56), "CYP": (33.36, 35.17),     # Hargeisa, Nicosia
                             "UKR": (34.10, 44.95)}.items():                    # Simferopol (Crimea)
        assert shapes[code].buffer(0.05).contains(Point(lon, lat)), code
    assert not shapes["RUS"].contains(Point(34.10, 44.95)) and len(shapes["UKR"].geoms) == 1
    for code, g in shapes.items():
        for part in g.geoms:
            assert -180 <= part.bounds[0] and part.bounds[2] <= 180, code
            if code != "ATA":
                assert part.bounds[2] - part.bounds[0] < 180, code
    assert abs(shapes["FRA"].area / shapes["DEU"].area - 1.9) < 0.4  # France with French Guiana


def test_manifest_records_hashes_source_and_licence():
    manifest = load_release().manifest
    geo = manifest["geography"]
    root = shipped_release_dir()
    for name in (OUTLINES_FILE, GEOGRAPHY_FILE):
        data = (root / name).read_bytes()
        assert geo["files"][name] == {**geo["files"][name], "content_hash": sha256(data), "bytes": len(data)}
    assert geo["files"][OUTLINES_FILE]["bytes"] < 500_000
    assert geo["licence"] == "public-domain" and "Natural Earth" in geo["source"] and "4.1.0" in geo["edition"]
    assert "Permission to use, copy, modify" in geo["notice"] and "Bostock" in geo["notice"]
    assert "natural_earth_10m_topojson/countries-10m.json" in manifest["source_files"]
    assert {u["unit"] for u in geo["units"]} >= {"Kosovo", "Somaliland", "Ashmore and Cartier Is.", "Crimea"}
    assert geo["drawn_as_grid_cells"] == ["VAT"]
    meta = load_outlines()["source"]
    assert meta["licence"] == "public-domain" and "Permission to use" in meta["notice"]


def test_a_damaged_geography_file_is_refused(tmp_path):
    import shutil

    out = tmp_path / "rel"
    shutil.copytree(shipped_release_dir(), out)
    g = json.loads((out / GEOGRAPHY_FILE).read_text())
    g["borders"].append(["AUS", "NZL"])
    (out / GEOGRAPHY_FILE).write_bytes(dumps(g))
    with pytest.raises(HumsecError, match="geography.json does not match the release manifest"):
        load_release(out)
    (out / OUTLINES_FILE).unlink()
    with pytest.raises(HumsecError, match="missing outlines.json"):
        load_release(out)
    with pytest.raises(HumsecError, match="cannot read the release's outlines.json"):
        load_outlines(out)


def test_geography_borders_are_the_registry_borders(reg):
    geo = load_geography()
    pairs = {tuple(p) for p in geo["borders"]}
    assert all(a < b for a, b in pairs) and len(pairs) == len(geo["borders"]) >= 300
    ours = {tuple(sorted((a, b))) for a, ns in reg.border_graph().items() for b in ns}
    assert ours == pairs
    assert set(geo["points"]) == {f["id"] for f in load_outlines()["features"]}


# ---------------------------------------------------------------- the builder, by hand
def _topology(arcs, geometries, transform=None):
    t = {"type": "Topology", "objects": {"countries": {"type": "GeometryCollection", "geometries": geometries}},
         "arcs": arcs}
    if transform:
        t["transform"] = transform
    return t


def test_arc_decoder_by_hand():
    t = _topology([[[10, 20], [1, 0], [0, 2]], [[0, 0], [5, 5]]], [],
                  {"scale": [0.5, 0.25], "translate": [-180, -90]})
    a, b = decode_arcs(t)
    np.testing.assert_allclose(a, [[-175, -85], [-174.5, -85], [-174.5, -84.5]])
    np.testing.assert_allclose(b, [[-180, -90], [-177.5, -88.75]])
    np.testing.assert_allclose(decode_arcs(_topology([[[1.5, 2.5], [3, 4]]], []))[0], [[1.5, 2.5], [3, 4]])


def test_shared_arcs_make_borders_and_merged_units_dissolve(tmp_path):
    """Two squares share arc 0 (A-B border); C touches B only at a corner (no border); the
    unnamed 'Somaliland' is dissolved into B (its arc with B becomes interior)."""
    arcs = [[[1, 0], [1, 1]],                       # 0: x=1, shared A|B
            [[1, 1], [0, 1], [0, 0], [1, 0]],       # 1: rest of A
            [[1, 0], [2, 0], [2, 1], [1, 1]],       # 2: rest of B (ccw from bottom)
            [[2, 1], [3, 1], [3, 2], [2, 2], [2, 1]],   # 3: C, touching B at (2, 1)
            [[2, 0], [2, -1], [1, -1], [1, 0]],     # 4: Somaliland below B: shares B's bottom via arc 5
            [[1, 0], [2, 0]]]                       # 5 (unused by B: B uses arc 2)
    geoms = [{"type": "Polygon", "id": "001", "arcs": [[0, 1]], "properties": {"name": "A"}},
             {"type": "Polygon", "id": "002", "arcs": [[2, ~0]], "properties": {"name": "B"}},
             {"type": "Polygon", "id": "003", "arcs": [[3]], "properties": {"name": "C"}},
             {"type": "Polygon", "arcs": [[4, 5]], "properties": {"name": "Somaliland"}}]
    p = tmp_path / "t.json"
    p.write_text(json.dumps(_topology(arcs, geoms)))
    codes = {"001": "AAA", "002": "SOM", "003": "CCC"}
    g = build_geography(p, codes.get, tolerance=0.01, min_part=0)
    assert g.geography["borders"] == [["AAA", "SOM"]]          # corner touch is no border
    feats = {f["id"]: shape(f["geometry"]) for f in g.outlines["features"]}
    assert feats["SOM"].area == pytest.approx(2.0) and len(feats["SOM"].geoms) == 1   # dissolved
    assert feats["AAA"].area == pytest.approx(1.0)
    lat, lon = g.geography["points"]["AAA"]
    assert (lat, lon) == pytest.approx((0.5, 0.5), abs=0.01)
    assert UNNAMED["Somaliland"] == "SOM"
    # an unknown code, or a unit without id and without a rule, is refused by name
    with pytest.raises(ValidationError, match="unknown ISO 3166-1 numeric code '003'"):
        build_geography(p, {"001": "AAA", "002": "SOM"}.get)
    geoms[3]["properties"]["name"] = "Atlantis"
    p.write_text(json.dumps(_topology(arcs, geoms)))
    with pytest.raises(ValidationError, match="'Atlantis' has no ISO 3166-1 code and no rule"):
        build_geography(p, codes.get)


def test_simplification_keeps_shared_borders_identical(tmp_path):
    """A wiggly shared border is simplified once: both neighbours get the same line, and a
    tiny country keeps its shape (its tolerance shrinks with its size)."""
    xs = np.linspace(0, 10, 201)
    border = [[5 + 0.02 * np.sin(0.7 * np.pi * y), y] for y in xs]   # x ~ 5, wiggles of 0.02 deg
    border[0], border[-1] = [5.0, 0.0], [5.0, 10.0]
    arcs = [border, [[5, 10], [0, 10], [0, 0], [5, 0]], [[5, 0], [10, 0], [10, 10], [5, 10]],
            [[20, 0], [20.001, 0], [20.001, 0.001], [20, 0.001], [20, 0]]]
    geoms = [{"type": "Polygon", "id": "001", "arcs": [[0, 1]], "properties": {"name": "W"}},
             {"type": "Polygon", "id": "002", "arcs": [[2, ~0]], "properties": {"name": "E"}},
             {"type": "Polygon", "id": "003", "arcs": [[3]], "properties": {"name": "Tiny"}}]
    p = tmp_path / "t.json"
    p.write_text(json.dumps(_topology([[list(map(float, q)) for q in a] for a in arcs], geoms)))
    g = build_geography(p, {"001": "WWW", "002": "EEE", "003": "TNY"}.get, tolerance=0.1, digits=4)
    f = {x["id"]: shape(x["geometry"]) for x in g.outlines["features"]}
    def border_vertices(code):
        return {tuple(c) for c in f[code].geoms[0].exterior.coords if 4.5 < c[0] < 5.5}

    assert border_vertices("WWW") == border_vertices("EEE") and len(border_vertices("WWW")) >= 2
    assert f["WWW"].intersection(f["EEE"]).area == 0 and f["WWW"].union(f["EEE"]).area == pytest.approx(100)
    assert len(f["WWW"].geoms[0].exterior.coords) < 20            # 201 wiggle points simplified away
    assert f["TNY"].area == pytest.approx(1e-6, rel=0.01)          # 0.001 deg square kept whole
    assert g.geography["borders"] == [["EEE", "WWW"]]


# ---------------------------------------------------------------- the map route
def test_map_route_serves_the_shipped_outlines(default_env):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from humsec.api.config import ServiceConfig
    from humsec.web import create_site

    settings, _, _ = default_env
    with TestClient(create_site(settings, ServiceConfig(runs=5, trend_runs=2, max_runs=10, trend_years=2))) as c:
        r = c.get("/web/world.geojson")
    assert r.status_code == 200
    geo = r.json()
    assert geo["features"] == load_outlines()["features"]
    assert "Natural Earth" in geo["source"] and "public-domain" in geo["source"]
    ids = {f["id"] for f in geo["features"]}
    assert CountryRegistry.default().un_members <= ids and {"XKX", "PSE", "TWN"} <= ids
