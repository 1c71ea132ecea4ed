"""Cross-border reports and the ``spill`` / ``peers`` CLI on the embedded default panel."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from humsec.cli.main import main
from humsec.data.countries import CountryRegistry
from humsec.errors import HumsecError
from humsec.index.builtin import load_spec
from humsec.spatial.crossborder import build_graph, peer_report, read_flows, resolve_target, spill_report


@pytest.fixture(scope="module")
def reg():
    return CountryRegistry.default()


def test_resolve_target(reg):
    assert resolve_target(reg, "ken") == ("KEN", ["KEN"], False)
    label, members, region = resolve_target(reg, "asean")
    assert label == "ASEAN" and region and len(members) == 10 + ("TLS" in members)
    assert resolve_target(reg, "South-eastern Asia")[1] == sorted(
        c for c in reg.codes if reg.info(c).subregion == "South-eastern Asia")
    assert resolve_target(reg, "Viet Nam")[1] == ["VNM"]
    with pytest.raises(HumsecError, match="expected an ISO3 code"):
        resolve_target(reg, "Atlantis")


def test_region_report_is_population_weighted(default_env, reg):
    import numpy as np

    _, panel, _ = default_env
    r = spill_report("ASEAN", panel=panel, spec=load_spec("hsi"), registry=reg, permutations=99)
    assert r.is_region and r.regional is not None and r.exposure["unit"].nunique() >= 9
    # recompute the region's economic score by hand: members' own scores weighted by
    # their latest UN WPP population up to the year
    own = r.exposure[r.exposure["threat"] == "economic"].set_index("unit")["own"].dropna()
    pop = panel.filter(indicators=["pop_total"], totals_only=True).data
    pop = pop[pop["year"] <= r.year].sort_values("year").groupby("unit")["value"].last()
    expected = np.average(own, weights=pop.reindex(own.index))
    got = r.regional.set_index("node").loc["economic"]
    assert got["value"] == pytest.approx(expected) and got["n_with_data"] == len(own)


def _latest_year(panel, spec) -> int:
    """The spec's default year (its rule is tested by hand in tests/test_hsi.py)."""
    from humsec.analysis.assess import default_year, index_data

    return default_year(spec, index_data(panel, spec))


def _stocks(origin=None, asylum=None):
    """UNHCR end-year stocks of refugees, asylum seekers and OIP from the release matrix."""
    from humsec.data.release.load import load_release

    m = load_release().displacement
    m = m[(m["measure"] == "stock") & m["population_type"].isin(["refugees", "asylum_seekers", "oip"])
          & (m["origin"] != m["asylum"])]
    if origin is not None:
        m = m[m["origin"] == origin]
    if asylum is not None:
        m = m[m["asylum"] == asylum]
    return m


@pytest.mark.shared
def test_syria_spillovers_with_real_flows(default_env, reg, shared_data, tmp_path):
    _, panel, _ = default_env
    spec = load_spec("hsi")
    disp = read_flows(shared_data / "unhcr_refugees" / "flows.parquet", known=sorted(reg.codes))
    # the exodus of 2011-2013 (UNHCR flows: new arrivals and asylum applications)
    r = spill_report("SYR", panel=panel, spec=spec, registry=reg, disp=disp, year=2013, base_year=2011,
                     permutations=99)
    assert (r.year, r.base_year, r.displacement_measure) == (2013, 2011, "flow")
    nbrs = set(reg.border_graph()["SYR"])
    assert {"TUR", "LBN", "JOR", "IRQ", "ISR"} <= nbrs
    assert set(r.exposure["worst_neighbour"].dropna()) <= set(build_graph(reg).neighbours("SYR").index)
    # a shared rising threat: both security scores fell between the two years
    assert len(r.shared) and (r.shared["unit_change"] < 0).all() and (r.shared["neighbour_change"] < 0).all()
    text = " ".join(r.evidence)
    assert "Displacement from Syrian Arab Republic into Lebanon" in text and "-fold since 2011" in text
    d = r.displacement.iloc[0]
    assert d["unit"] == "SYR" and d["year"] == 2013 and d["outflow"] > 1_000_000
    assert d["top_destination"] == "LBN"   # 2013: most new Syrian refugees went to Lebanon
    bad = tmp_path / "flows.csv"
    bad.write_text("year,origin,asylum,refugees\n2016,SYR,TUR,5\n")
    with pytest.raises(HumsecError, match=r"flows.csv: flows: missing column\(s\) coa_iso, coo_iso"):
        read_flows(bad)


def test_spill_defaults_follow_the_data_with_release_stocks(default_env, reg):
    from humsec.spatial.crossborder import release_displacement

    _, panel, _ = default_env
    spec = load_spec("hsi")
    latest = _latest_year(panel, spec)
    assert latest >= 2022
    disp = release_displacement(known=sorted(reg.codes))
    r = spill_report("SYR", panel=panel, spec=spec, registry=reg, disp=disp, disp_measure="stock",
                     permutations=99)
    assert r.year == latest and r.base_year == latest - 5 and r.displacement_measure == "stock"
    d = r.displacement.iloc[0]
    m = _stocks(origin="SYR")
    m = m[m["asylum"].isin(reg.codes)]
    fy = max(y for y in m["year"].unique() if y <= latest)
    assert d["year"] == fy
    assert d["outflow"] == pytest.approx(m.loc[m["year"] == fy, "value"].sum())
    assert d["outflow"] > 5_000_000 and d["top_destination"] == "TUR"  # Türkiye hosts most Syrian refugees
    assert any(e.startswith("Refugees and asylum seekers from Syrian Arab Republic living in") for e in r.evidence)
    with pytest.raises(HumsecError, match="expected 'flow' or 'stock'"):
        spill_report("SYR", panel=panel, spec=spec, registry=reg, disp=disp, disp_measure="stocks")


def test_peers_and_positive_deviants(default_env, reg):
    _, panel, _ = default_env
    spec = load_spec("hsi")
    r = peer_report("KEN", panel=panel, spec=spec, registry=reg, same="region")
    assert len(r.similar) == 5 and all(reg.region(u) == "Africa" for u in r.similar["unit"])
    assert r.threat in spec.children["hsi"] and r.base_year < r.year
    assert (r.deviants["change"].diff().dropna() <= 0).all()  # sorted by improvement
    assert set(r.changes["unit"]) <= set(r.deviants["unit"])
    with pytest.raises(HumsecError, match="dimension 'wealth'"):
        peer_report("KEN", panel=panel, spec=spec, registry=reg, dimension="wealth")


def test_cli_spill_and_peers(default_env, capsys, tmp_path):
    settings, panel, _ = default_env
    home = ["--home", str(settings.home), "-q"]
    assert main([*home, "spill", "KEN", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["focus"] == ["KEN"] and {e["threat"] for e in doc["exposure"]} == set(load_spec("hsi").children["hsi"])
    # without --flows: the refugees Kenya hosts, from the release's UNHCR stocks
    assert doc["year"] == _latest_year(panel, load_spec("hsi")) and doc["displacement_measure"] == "stock"
    (d,) = doc["displacement"]
    hosted = _stocks(asylum="KEN")
    hosted = hosted[hosted["year"] == d["year"]]
    assert d["unit"] == "KEN" and d["inflow"] == pytest.approx(hosted["value"].sum())
    assert d["top_origin"] == hosted.groupby("origin")["value"].sum().idxmax() and d["inflow"] > 100_000
    # --flows keeps reading a UNHCR-layout flows table
    f = tmp_path / "flows.csv"
    f.write_text(f"year,coo_iso,coa_iso,refugees,asylum_seekers\n{doc['year']},SOM,KEN,500,20\n"
                 f"{doc['year']},KEN,UGA,7,0\n")
    assert main([*home, "spill", "KEN", "--flows", str(f), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (d,) = doc["displacement"]
    assert doc["displacement_measure"] == "flow" and (d["inflow"], d["outflow"], d["top_origin"]) == (520, 7, "SOM")
    assert main([*home, "peers", "JPN", "--dimension", "food", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("unit,distance,n_shared") and "positive_deviant" in out
    assert main([*home, "spill", "Atlantis"]) == 2
    assert "expected an ISO3 code" in capsys.readouterr().err
    assert main([*home, "spill", "KEN", "--graph", "rivers"]) == 2
    assert "expected one of borders" in capsys.readouterr().err


def test_brief_has_the_spill_over_component(default_env):
    from humsec.report.brief import brief_html, prepare_briefing

    _, panel, cat = default_env
    b = prepare_briefing(load_spec("hsi"), panel, catalogue=cat, runs=0)
    ex = b.spill[b.spill["unit"] == "SYR"].set_index("threat")
    assert ex.loc["personal", "n_neighbours"] >= 5
    html = brief_html(b, "SYR")
    assert "Across borders" in html and "Least secure neighbour" in html
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "&#34;" not in style and "&quot;" not in style  # the stylesheet is not HTML-escaped
    worst = ex.loc["personal", "worst_neighbour"]
    from humsec.data.countries import CountryRegistry

    assert CountryRegistry.default().name(worst) in html


def test_regional_table_of_every_grouping(default_env, reg, capsys):
    from humsec.spatial.crossborder import regional_table

    settings, panel, _ = default_env
    spec = load_spec("hsi")
    t = regional_table(panel=panel, spec=spec, registry=reg)
    groups = set(t["group"])
    assert {"APPF", "ASEAN", "APEC", "EU", "OECD", "Africa", "Asia", "Europe"} <= groups
    appf = t[(t["group"] == "APPF") & (t["node"] == "hsi")].iloc[0]
    assert appf["n_units"] == 27 and appf["kind"] == "grouping" and 0 < appf["value"] < 100
    # the same numbers as the single-region report
    r = spill_report("ASEAN", panel=panel, spec=spec, registry=reg, permutations=19)
    mine = t[t["group"] == "ASEAN"].set_index("node")["value"]
    theirs = r.regional.set_index("node")["value"]
    assert mine.reindex(theirs.index).to_numpy() == pytest.approx(theirs.to_numpy())
    assert main(["--home", str(settings.home), "-q", "regions", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("year,kind,group,node,value") and ",APPF,hsi," in out


def test_default_graph_land_borders_and_island_neighbours():
    """Land borders for countries that have them (Syria: exactly its five land neighbours,
    not Cyprus); island states get their three nearest independent countries by the
    distance between outlines (coast to coast), so no Pacific state is an isolate; every
    link says which rule made it."""
    import json
    from importlib import resources

    from humsec.data.countries import CountryRegistry
    from humsec.spatial.crossborder import build_graph, neighbour_links

    reg = CountryRegistry.default()
    g = build_graph(reg)
    assert set(g.neighbours("SYR").index) == {"TUR", "IRQ", "JOR", "LBN", "ISR"}
    # the island's own (directed) neighbours: its three nearest coasts (Türkiye 71 km, Syria, Lebanon)
    assert set(g.neighbours("CYP").index) == {"TUR", "SYR", "LBN"} and "CYP" not in set(g.neighbours("LBN").index)
    assert set(g.neighbours("MLT").index) == {"ITA", "TUN", "LBY"}
    assert "AUS" in set(g.neighbours("NZL").index)  # no territory (Norfolk Island) crowds Australia out
    pacific = [u for u in reg.members("SIDS") if reg.region(u) == "Oceania" and u in reg.un_members]
    assert len(pacific) >= 10 and not set(pacific) & set(g.isolates)
    links = neighbour_links(reg, g, ["SYR", "FJI"]).set_index(["unit", "neighbour"])
    assert (links.loc["SYR", "rule"] == "land border").all()
    fji = links.loc["FJI"]
    assert len(fji) == 3 and (fji["rule"] == "nearest (island state)").all()
    # the three nearest independent countries, by brute force over the shipped outlines' vertices
    out = json.loads(resources.files("humsec.data").joinpath("shipped", "outlines.json").read_text())
    verts = {f["id"]: np.radians(np.array([p[::-1] for poly in f["geometry"]["coordinates"] for p in poly[0]]))
             for f in out["features"]}

    def km(a, b):
        la1, lo1, la2, lo2 = a[:, None, 0], a[:, None, 1], b[None, :, 0], b[None, :, 1]
        h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
        return float(2 * 6371.0088 * np.arcsin(np.sqrt(h)).min())

    dist = {u: km(verts["FJI"], verts[u]) for u in verts
            if u != "FJI" and u in set(reg.codes) and reg.info(u).independent}
    assert set(fji.index) == set(sorted(dist, key=dist.get)[:3])
    assert (abs(fji["km"] - pd.Series({u: dist[u] for u in fji.index})) <= 1).all()
    assert reg.name("NRU") == "Nauru"


def _frames_equal(a, b) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def _reports_equal(a, b) -> None:
    """Two reports are the same: every table and every value."""
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, pd.DataFrame):
            _frames_equal(x, y)
        else:
            assert x == y, name


@pytest.mark.parametrize("target, base_year", [("KEN", None), ("ASEAN", None), ("SYR", 2012)])
def test_spill_report_from_shared_scores_is_the_same(default_env, reg, target, base_year):
    """The service computes :func:`spill_scores` once and passes it to every target's
    report: the report must not change (the shared part is not a copy that can drift)."""
    from humsec.analysis.assess import index_data
    from humsec.spatial.crossborder import spill_scores

    _, panel, _ = default_env
    spec = load_spec("hsi")
    data = index_data(panel, spec)
    year = _latest_year(panel, spec)
    kw = dict(panel=panel, spec=spec, registry=reg, year=year, base_year=base_year, permutations=99, data=data)
    shared = spill_scores(spec, data, reg, year=year, base_year=base_year, permutations=99)
    _reports_equal(spill_report(target, **kw), spill_report(target, shared=shared, **kw))
    other = spill_scores(spec, data, reg, year=year, base_year=year - 3, permutations=99)
    with pytest.raises(ValueError, match="shared scores"):
        spill_report(target, shared=other, **kw)
    with pytest.raises(HumsecError, match="must be before"):
        spill_scores(spec, data, reg, year=year, base_year=year)


@pytest.mark.parametrize("unit, kw", [("KEN", {}), ("UGA", {"same": "region"}), ("FJI", {"dimension": "health"}),
                                      ("SYR", {"base_year": 2012})])
def test_peer_report_from_shared_scores_is_the_same(default_env, reg, unit, kw):
    from humsec.analysis.assess import index_data
    from humsec.spatial.crossborder import score_history

    _, panel, _ = default_env
    spec = load_spec("hsi")
    data = index_data(panel, spec)
    year = _latest_year(panel, spec)
    # a longer history than needed: the report takes the years it uses
    scores = score_history(spec, data, list(range(2005, year + 1)))
    args = dict(panel=panel, spec=spec, registry=reg, year=year, data=data, **kw)
    _reports_equal(peer_report(unit, **args), peer_report(unit, scores=scores, **args))
