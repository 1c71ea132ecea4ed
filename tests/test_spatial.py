"""Connection graphs, spatial statistics, spill-overs and peers (humsec.spatial)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from humsec.data.countries import CountryRegistry
from humsec.errors import HumsecError
from humsec.spatial.graph import ConnectionGraph, great_circle_km
from humsec.spatial.peers import positive_deviants, profile_distance, similar_peers
from humsec.spatial.spill import (
    displacement,
    flow_change,
    flow_exposure,
    joint_action,
    neighbour_exposure,
    spillover_component,
    top_flows,
)
from humsec.spatial.stats import hotspots, local_moran, moran, regional_aggregate

esda = pytest.importorskip("esda")


@pytest.fixture(scope="module")
def reg():
    return CountryRegistry.default()


@pytest.fixture(scope="module")
def borders(reg):
    return ConnectionGraph.from_borders(reg)


@pytest.fixture(scope="module")
def coords(reg):
    return ConnectionGraph.registry_coordinates(reg)


def chain(n: int = 6) -> ConnectionGraph:
    """A-B-C-... path graph."""
    units = [chr(65 + i) for i in range(n)]
    edges = [(units[i], units[i + 1], 1.0) for i in range(n - 1)]
    edges += [(b, a, w) for a, b, w in edges]
    return ConnectionGraph.from_edges(edges, units, kind="chain")


# ---------------------------------------------------------------- graphs


def test_graph_is_immutable_and_modify_returns_new(borders):
    with pytest.raises(dataclasses.FrozenInstanceError):
        borders.kind = "x"  # type: ignore[misc]
    r = borders.row_standardise()
    assert r is not borders and borders.transform == "O" and r.transform == "R"
    a = r.adjacency
    sums = a.groupby("focal")["weight"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    assert set(borders.neighbours("KEN").index) == {"ETH", "SOM", "SSD", "TZA", "UGA"}
    # islands have no land neighbours
    assert "JPN" in borders.isolates and "NZL" in borders.isolates and "FJI" in borders.isolates


def test_knn_connects_island_states(borders, coords):
    k3 = ConnectionGraph.knn(coords, 3)
    assert k3.isolates == []
    # points inside each country's largest part (Natural Earth): Viti Levu's nearest are Tonga,
    # Wallis and Futuna and Tuvalu; Vanuatu's point is on Espiritu Santo, 1,200 km away
    assert set(k3.neighbours("FJI").index) == {"TON", "TUV", "WLF"}
    # New Zealand's point is inside the South Island, Australia's in the centre of the continent
    assert set(k3.neighbours("NZL").index) == {"NCL", "NFK", "TON"}
    combined = borders.union(k3)
    assert combined.kind == "borders+knn:3"
    assert "JPN" not in combined.isolates and "FJI" not in combined.isolates
    # union keeps every land border
    b = set(zip(borders.adjacency["focal"], borders.adjacency["neighbor"]))
    c = set(zip(combined.adjacency["focal"], combined.adjacency["neighbor"]))
    assert b <= c
    with pytest.raises(HumsecError, match="expected 1 <= k"):
        ConnectionGraph.knn(coords, 0)


def test_great_circle_and_distance_band_by_hand():
    # London - Paris ~ 344 km, London - New York ~ 5,570 km
    assert great_circle_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343.6, abs=1.5)
    assert great_circle_km(51.5074, -0.1278, 40.7128, -74.0060) == pytest.approx(5570, abs=15)
    pts = {"LON": (51.5074, -0.1278), "PAR": (48.8566, 2.3522), "NYC": (40.7128, -74.0060)}
    g = ConnectionGraph.distance_band(pts, 500)
    assert set(g.neighbours("LON").index) == {"PAR"} and g.isolates == ["NYC"]
    g2 = ConnectionGraph.distance_band(pts, 6000, binary=False)
    w = g2.neighbours("LON")
    assert w["PAR"] == pytest.approx(1 / great_circle_km(*pts["LON"], *pts["PAR"]), rel=1e-6)
    with pytest.raises(HumsecError, match="km > 0"):
        ConnectionGraph.distance_band(pts, 0)
    with pytest.raises(HumsecError, match="expected lat"):
        ConnectionGraph.knn({"A": (95.0, 0.0), "B": (0.0, 0.0)}, 1)


def test_lag_by_hand_and_never_zero_for_isolates():
    g = ConnectionGraph.from_edges([("A", "B", 1), ("B", "A", 1), ("B", "C", 3), ("C", "B", 1)], ["A", "B", "C", "D"],
                                   kind="hand")
    y = pd.Series({"A": 1.0, "B": 2.0, "C": 5.0, "D": 9.0})
    lag = g.lag(y)
    assert lag["A"] == 2.0 and lag["B"] == 1 * 1 + 3 * 5 and lag["C"] == 2.0 and np.isnan(lag["D"])
    r = g.row_standardise().lag(y)
    assert r["B"] == pytest.approx((1 * 1 + 3 * 5) / 4) and np.isnan(r["D"])
    # a neighbour without a value is left out and the rest re-weighted
    r2 = g.row_standardise().lag(y.drop("C"))
    assert r2["B"] == pytest.approx(1.0)


@pytest.mark.shared
def test_border_graph_agrees_with_geodatasource(reg, borders, shared_data):
    df = pd.read_csv(shared_data / "country_borders" / "GEODATASOURCE-COUNTRY-BORDERS.CSV",
                     keep_default_na=False, dtype=str)
    known = set()
    theirs = set()
    for a, b in zip(df["country_code"], df["country_border_code"]):
        try:
            ia = reg.to_iso3(a)
        except HumsecError:
            continue
        known.add(ia)
        if b:
            try:
                theirs.add(frozenset((ia, reg.to_iso3(b))))
            except HumsecError:
                continue
    adj = borders.adjacency
    ours = {frozenset((a, b)) for a, b in zip(adj["focal"], adj["neighbor"]) if a in known and b in known}
    agree = len(ours & theirs) / len(ours | theirs)
    diff = sorted(tuple(sorted(e)) for e in ours ^ theirs)
    assert agree >= 0.95, f"agreement {agree:.3f}; differing pairs: {diff}"


def test_flow_graph_drops_pseudo_origins_and_keeps_year():
    f = pd.DataFrame({"year": [2019, 2019, 2019, 2020, 2019],
                      "coo_iso": ["SYR", "UNK", "SYR", "SYR", "SYR"],
                      "coa_iso": ["TUR", "TUR", "LBN", "TUR", "TUR"],
                      "refugees": [10, 99, 5, 7, 1]})
    g = ConnectionGraph.from_flows(f, source="coo_iso", target="coa_iso", weight="refugees", year=2019,
                                   units=["SYR", "TUR", "LBN"])
    assert g.year == 2019 and g.kind == "flows:refugees"
    assert g.neighbours("SYR").to_dict() == {"LBN": 5.0, "TUR": 11.0}
    assert g.incoming("TUR").to_dict() == {"SYR": 11.0}
    with pytest.raises(HumsecError, match="missing column"):
        ConnectionGraph.from_flows(f, source="origin", target="coa_iso", weight="refugees")


# ---------------------------------------------------------------- statistics


def test_moran_by_hand_on_a_chain():
    g = chain(4)
    y = pd.Series({"A": 1.0, "B": 2.0, "C": 3.0, "D": 4.0})
    # row-standardised path: z = (-1.5,-.5,.5,1.5); Wz = (-.5, .5, 0(-.5/2+... ) ...)
    z = y - y.mean()
    W = np.array([[0, 1, 0, 0], [.5, 0, .5, 0], [0, .5, 0, .5], [0, 0, 1, 0]])
    expected = (4 / W.sum()) * (z.to_numpy() @ W @ z.to_numpy()) / (z @ z)
    m = moran(y, g, permutations=0)
    assert m.I == pytest.approx(expected) and m.expected == pytest.approx(-1 / 3)


def test_moran_and_lisa_agree_with_esda_directly(borders, coords):
    from esda.moran import Moran, Moran_Local

    y = pd.Series(dict(zip(coords["unit"], coords["lat"].abs())))
    m = moran(y, borders, permutations=199, seed=7)
    assert m.dropped["isolate"] and "JPN" in m.dropped["isolate"]
    sub = borders.restrict([u for u in borders.units if u not in set(m.dropped["isolate"]) | set(m.dropped["missing"])])
    w = sub.row_standardise().graph.to_W()
    yy = y.reindex(sub.units).to_numpy()
    ref = Moran(yy, w, permutations=0)
    assert m.I == pytest.approx(ref.I, rel=1e-12) and m.z_norm == pytest.approx(ref.z_norm, rel=1e-12)
    assert m.p_norm == pytest.approx(ref.p_norm, rel=1e-9) and m.n == len(yy)
    assert 0 < m.p_sim <= 0.01  # latitude is strongly clustered
    again = moran(y, borders, permutations=199, seed=7)
    assert again.p_sim == m.p_sim and again.z_sim == m.z_sim
    lisa = local_moran(y, borders, permutations=199, seed=11)
    ref_l = Moran_Local(yy, w, permutations=199, seed=11, keep_simulations=False, n_jobs=1)
    got = lisa[lisa["cluster"].isin(["HH", "LL", "HL", "LH", "ns"])].set_index("unit").reindex(sub.units)
    np.testing.assert_allclose(got["Ii"].to_numpy(), ref_l.Is, rtol=1e-12)
    np.testing.assert_allclose(got["p_sim"].to_numpy(), ref_l.p_sim, rtol=1e-12)
    assert set(lisa.loc[lisa["unit"] == "JPN", "cluster"]) == {"isolate"}
    with pytest.raises(HumsecError, match="explicit"):
        moran(y, borders, permutations=9)


def test_hotspots_find_a_planted_cluster():
    # a 7 x 7 grid (rook contiguity) with a block of high insecurity in one corner
    units = [f"G{i}{j}" for i in range(7) for j in range(7)]
    edges = []
    for i in range(7):
        for j in range(7):
            for di, dj in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                a, b = i + di, j + dj
                if 0 <= a < 7 and 0 <= b < 7:
                    edges.append((f"G{i}{j}", f"G{a}{b}", 1.0))
    g = ConnectionGraph.from_edges(edges, units, kind="grid")
    rng = np.random.default_rng(0)
    v = pd.Series(rng.normal(0, 1, len(units)), index=units)
    hot = [f"G{i}{j}" for i in range(3) for j in range(3)]
    v[hot] += 6
    threats = pd.DataFrame({"conflict": v, "noise": rng.normal(0, 1, len(units))}, index=units)
    h = hotspots(threats, g, seed=1, permutations=499)
    found = set(h.loc[h["threat"] == "conflict", "unit"])
    assert {"G00", "G01", "G10", "G11"} <= found and found <= set(hot) | {"G02", "G20", "G12", "G21", "G22",
                                                                          "G03", "G30", "G13", "G31"}


def test_regional_aggregate_population_weighted(reg):
    v = pd.Series({"A": 10.0, "B": 20.0, "C": np.nan})
    pop = pd.Series({"A": 1.0, "B": 3.0, "C": 4.0})
    out = regional_aggregate(v, pop, {"g": ["A", "B", "C"]}).iloc[0]
    assert out["value"] == pytest.approx(17.5) and out["coverage"] == pytest.approx(0.5)
    assert out["n_units"] == 3 and out["n_with_data"] == 2
    groups = {g: reg.members(g) for g in ("APPF", "ASEAN")}
    assert len(groups["APPF"]) == 27


# ---------------------------------------------------------------- flows and spill-overs


@pytest.fixture(scope="module")
def disp(reg, shared_data):
    p = shared_data / "unhcr_refugees" / "flows.parquet"
    if not p.is_file():
        pytest.skip(f"UNHCR flows not found at {p}")
    return displacement(pd.read_parquet(p), known=reg.codes)


@pytest.mark.shared
@pytest.mark.parametrize("origin, year, hosts, n", [
    ("SYR", 2013, ["LBN", "JOR", "TUR"], 5),
    ("VEN", 2018, ["COL", "PER"], 10),
    ("UKR", 2022, ["POL"], 3),
    ("UKR", 2022, ["MDA"], 25),
])
def test_real_refugee_spillovers_are_among_the_top_flows(disp, origin, year, hosts, n):
    top = top_flows(disp, year, n)
    pairs = set(zip(top["source"], top["target"]))
    for h in hosts:
        assert (origin, h) in pairs, f"{origin} -> {h} not among the top {n} flows of {year}:\n{top}"


@pytest.mark.shared
def test_flow_exposure_and_joint_action_evidence(disp, borders, reg):
    fe = flow_exposure(disp, 2013, neighbours=borders).set_index("unit")
    assert fe.loc["LBN", "top_origin"] == "SYR"
    assert fe.loc["LBN", "inflow_from_neighbours"] / fe.loc["LBN", "inflow"] > 0.9
    ch = flow_change(disp, ["SYR"], ["TUR", "LBN", "JOR"], 2011, 2013)
    tot = ch[ch["source"] == "*"].iloc[0]
    assert tot["after"] > 100 * tot["before"] > 0
    # security scores falling in Syria and its neighbours 2011 -> 2013
    hist = pd.DataFrame([
        (u, y, "personal", s) for u, (s0, s1) in {"SYR": (60, 20), "LBN": (55, 45), "JOR": (70, 69),
                                                   "TUR": (65, 66), "IRQ": (40, 30), "ISR": (70, 71)}.items()
        for y, s in ((2011, s0), (2013, s1))], columns=["unit", "year", "node", "score"])
    out = joint_action(["SYR"], hist, borders, base_year=2011, year=2013, disp=disp,
                       names={c: reg.name(c) for c in reg.codes})
    shared = out["shared"]
    assert set(shared["neighbour"]) == {"LBN", "JOR", "IRQ"} and set(shared["threat"]) == {"personal"}
    text = " ".join(out["evidence"])
    assert "Displacement from Syria" in text and "grown" in text and "since 2011" in text


def test_joint_action_words_stocks_as_stocks():
    g = chain(3)
    hist = pd.DataFrame([("B", y, "personal", v) for y, v in ((2019, 60.0), (2024, 40.0))]
                        + [("C", y, "personal", v) for y, v in ((2019, 70.0), (2024, 65.0))],
                        columns=["unit", "year", "node", "score"])
    disp = pd.DataFrame({"year": [2019, 2024, 2024], "source": ["B", "B", "C"], "target": ["C", "C", "B"],
                         "persons": [100.0, 250.0, 3.0]})
    out = joint_action(["B"], hist, g, base_year=2019, year=2024, disp=disp, measure="stock",
                       names={"B": "Bland", "C": "Cland"})
    text = " ".join(out["evidence"])
    assert ("Refugees and asylum seekers from Bland living in Cland have more than doubled since 2019 "
            "(100 → 250 persons at the end of the year") in text
    assert "Displacement from" not in text and "a year" not in text
    flows = joint_action(["B"], hist, g, base_year=2019, year=2024, disp=disp, names={"B": "Bland", "C": "Cland"})
    assert "Displacement from Bland into Cland has more than doubled since 2019 (100 → 250 persons a year" in \
        " ".join(flows["evidence"])
    with pytest.raises(HumsecError, match="expected 'flow' or 'stock'"):
        joint_action(["B"], hist, g, base_year=2019, year=2024, disp=disp, measure="stocks")


@pytest.mark.shared
def test_release_stocks_are_the_unhcr_stocks(reg, shared_data):
    """The release's displacement matrix (stocks) holds UNHCR's end-year refugees, asylum
    seekers and OIP of population.parquet, pair by pair, to the release's last year."""
    from humsec.spatial.crossborder import release_displacement

    p = shared_data / "unhcr_refugees" / "population.parquet"
    if not p.is_file():
        pytest.skip(f"UNHCR population not found at {p}")
    rel = release_displacement(known=sorted(reg.codes))
    last = int(rel["year"].max())
    assert last >= 2024
    src = displacement(pd.read_parquet(p), columns=("refugees", "asylum_seekers", "oip"), known=reg.codes)
    src = src[src["year"].between(int(rel["year"].min()), last)]
    m = rel.merge(src, on=["year", "source", "target"], how="outer", suffixes=("_release", "_unhcr"))
    assert m[["persons_release", "persons_unhcr"]].notna().all().all()
    np.testing.assert_allclose(m["persons_release"], m["persons_unhcr"])
    top = top_flows(rel, last, 3, source="UKR")
    assert set(top["target"]) <= {"RUS", "DEU", "POL", "CZE"}


def test_neighbour_exposure_and_component():
    g = chain(4)
    scores = pd.DataFrame({"health": [80.0, 40.0, 60.0, np.nan]}, index=list("ABCD"))
    ex = neighbour_exposure(scores, g).set_index("unit")
    assert ex.loc["A", "neighbours"] == 40.0 and ex.loc["A", "gap"] == 40.0
    assert ex.loc["B", "neighbours"] == 70.0 and ex.loc["B", "worst_neighbour"] == "C"
    assert ex.loc["D", "neighbours"] == 60.0 and np.isnan(ex.loc["D", "gap"])
    comp = spillover_component("B", scores, g)
    assert comp["neighbours"] == ["A", "C"] and comp["exposure"].iloc[0]["worst_score"] == 60.0
    with pytest.raises(HumsecError):
        spillover_component("Z", scores, g)


# ---------------------------------------------------------------- peers


def test_profile_distance_by_hand():
    p = pd.DataFrame({"x": [0.0, 1.0, 2.0, 10.0], "y": [0.0, 1.0, np.nan, 1.0]}, index=list("ABCD"))
    d = profile_distance(p, "A").set_index("unit")
    z = (p - p.mean()) / p.std(ddof=0)
    expect_b = np.sqrt(((z.loc["B"] - z.loc["A"]) ** 2).mean())
    assert d.loc["B", "distance"] == pytest.approx(expect_b)
    assert d.loc["C", "n_shared"] == 1  # y missing: distance over x only
    # C is closest: over the one feature it shares with A it is nearly equal
    assert d.index[0] == "C" and d.loc["C", "distance"] == pytest.approx(abs(z.loc["C", "x"] - z.loc["A", "x"]))
    same = similar_peers(p, "A", k=2, same=lambda u: u in "ABD")
    assert list(same["unit"]) == ["B", "D"]
    with pytest.raises(HumsecError, match="no profile"):
        profile_distance(p, "Z")


def test_positive_deviants_pick_the_peers_that_improved_most():
    rows = []
    base = {"A": (30, 50), "B": (32, 51), "C": (31, 49), "D": (29, 52), "E": (90, 90), "F": (30, 50.5)}
    gain = {"A": 1, "B": 15, "C": 5, "D": -2, "E": 30, "F": 12}
    for u, (health, econ) in base.items():
        for t in range(2010, 2021):
            h = health + gain[u] * (t - 2010) / 10
            if u == "F" and 2010 < t < 2020:  # a big end-to-end change that is mostly noise
                h += 10 if t % 2 else -10
            rows += [(u, t, "health", h), (u, t, "economic", econ)]
    hist = pd.DataFrame(rows, columns=["unit", "year", "node", "score"])
    ind = pd.DataFrame([("B", 2010, "u5mr", 80.0), ("B", 2020, "u5mr", 40.0), ("C", 2010, "u5mr", 70.0),
                        ("C", 2019, "u5mr", 75.0)], columns=["unit", "year", "indicator", "value"])
    out = positive_deviants(hist, "A", base_year=2010, year=2020, pool=4, k=3, indicators=ind,
                            threat_indicators={"health": ["u5mr"]}, directions={"u5mr": -1})
    assert out["threat"] == "health" and out["unit_change"] == pytest.approx(1)
    dev = out["deviants"]
    # E improved most but is not similar to A at the start: not in the pool; F's +12 is
    # within twice its noise (scores zigzag by 10 around the trend), D did not improve
    assert list(dev["unit"]) == ["B", "C"] and dev["better_than_unit"].all()
    assert out["n_noise"] == 1
    f = hist[(hist.unit == "F") & (hist.node == "health")]
    resid = f["score"] - np.polyval(np.polyfit(f["year"], f["score"], 1), f["year"])
    sigma = np.sqrt((resid ** 2).sum() / (len(f) - 2)) * np.sqrt(2)
    assert 12 < 2 * sigma  # by hand: F's change is noise
    assert (dev["noise"] < 1e-9).all()  # B and C move on a straight line
    ch = out["changes"].set_index("unit")
    assert ch.loc["B", "improved"] and not ch.loc["C", "improved"]
    with pytest.raises(HumsecError, match="at least 3 years"):
        positive_deviants(hist, "A", base_year=2018, year=2020)


@pytest.mark.shared
def test_time_varying_migrant_stock_graph(reg, shared_data):
    """UN DESA bilateral migrant stocks (origin -> destination, both sexes summed) as a
    flow-weighted graph for two years: the largest corridors are the known ones."""
    p = shared_data / "iom_gdidata" / "undesa_stocks.parquet"
    if not p.is_file():
        pytest.skip(f"UN DESA migrant stocks not found at {p}")
    stocks = pd.read_parquet(p)
    graphs = {y: ConnectionGraph.from_flows(stocks, source="from", target="geo", weight="n", year=y,
                                            year_column="t", units=sorted(reg.codes)) for y in (1990, 2020)}
    mex = graphs[2020].neighbours("MEX").sort_values(ascending=False)
    assert mex.index[0] == "USA" and mex.iloc[0] > 10_000_000  # ~10.9 million in 2020
    syr_1990 = graphs[1990].neighbours("SYR").get("TUR", 0.0)
    syr_2020 = graphs[2020].neighbours("SYR").get("TUR", 0.0)
    assert syr_2020 > 20 * max(syr_1990, 1.0)  # the Syrian displacement into Türkiye
    r = graphs[2020].row_standardise()
    assert r.neighbours("IND").sum() == pytest.approx(1.0)
