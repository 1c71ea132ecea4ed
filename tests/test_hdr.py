"""HDR composite indices (humsec.index.hdr) against the published UNDP HDR 2023/24 values.

Real-data tests recompute every published HDI (1990-2022), GDI, GII and IHDI from the
published components of the HDR 2023/24 complete time-series file and compare at
3 decimals: ``|computed - published| <= 0.0005`` (+1e-9 for float noise), i.e. the
unrounded result rounds to the published value. Known exceptions are listed explicitly
below with their reason; the tolerance is never loosened.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from humsec.errors import HumsecError
from humsec.index import hdr
from humsec.index.hdr import GOALPOSTS, atkinson, dimension_index, gdi, gii, hdi, ihdi

TOL = 0.0005 + 1e-9
HDR_FILE = "HDR23-24_Composite_indices_complete_time_series.csv"

GDI_COLS = ["le_f", "eys_f", "mys_f", "gni_pc_f", "le_m", "eys_m", "mys_m", "gni_pc_m"]
GII_COLS = ["mmr", "abr", "se_f", "se_m", "pr_f", "pr_m", "lfpr_f", "lfpr_m"]
IHDI_COLS = ["le", "eys", "mys", "gnipc", "ineq_le", "ineq_edu", "ineq_inc"]

# --- Known exceptions (each checked, with its reason) ------------------------------------
# HDI: Rwanda 1990-1993 has all four components in the file but no published HDI (the HDR
# leaves the series blank before 1995; 1994 itself has life expectancy 14.1 < 20, below the
# goalpost, so no HDI can exist). These are *extra* computed values, not value mismatches.
HDI_UNPUBLISHED_WITH_COMPONENTS = {("RWA", y) for y in range(1990, 1994)}

# GII time series (not 2022): country-years with NO women in parliament. The file codes
# them as pr_f = 0.01 / pr_m = 99.99 and the published GII was computed with 0.01 %, not
# the 0.1 % floor stated in the Technical Notes (our default). All 51 reproduce exactly
# with gii(..., parliament_floor_pct=0.01); asserted below.
GII_ZERO_PARLIAMENT = {
    (iso, y)
    for iso, years in {
        "KWT": range(1995, 2005),
        "ARE": range(1995, 2006),
        "SAU": range(2003, 2013),
        "QAT": range(2006, 2017),
        "KGZ": (2005, 2006),
        "HTI": (2016,),
        "PNG": range(2017, 2022),
        "TON": (2021,),
    }.items()
    for y in years
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def wide(shared_data) -> pd.DataFrame:
    path = shared_data / "undp_hdr" / HDR_FILE
    if not path.exists():
        pytest.skip(f"{path} absent")
    return pd.read_csv(path, encoding="utf-8-sig").set_index("iso3")


def long_panel(wide: pd.DataFrame, prefixes: list[str], target: str,
               years=range(1990, 2023)) -> pd.DataFrame:
    """Country-year panel (MultiIndex iso3, year) of the given column families."""
    frames = []
    for y in years:
        cols = {f"{p}_{y}": p for p in [*prefixes, target]}
        missing = [c for c in cols if c not in wide.columns]
        assert not missing, f"columns missing from the HDR file: {missing}"
        f = wide[list(cols)].rename(columns=cols)
        f.index = pd.MultiIndex.from_arrays([f.index, [y] * len(f)], names=["iso3", "year"])
        frames.append(f)
    return pd.concat(frames)


def compare(computed: pd.Series, published: pd.Series, *, known: set = frozenset()):
    """Return (n_compared, mismatches not in `known`, known ones that did mismatch)."""
    both = computed.notna() & published.notna()
    diff = (computed - published).abs()
    bad = diff[both & (diff > TOL)]
    bad_keys = set(bad.index)
    unexpected = {k: (round(float(computed[k]), 5), float(published[k])) for k in bad_keys - known}
    return int(both.sum()), unexpected, bad_keys & known


def fmt(d: dict, n: int = 30) -> str:
    items = sorted(d.items())[:n]
    return "; ".join(f"{k}: computed {v[0]} vs published {v[1]}" for k, v in items) + (
        f" ... (+{len(d) - n})" if len(d) > n else "")


# --------------------------------------------------------------------------- real data


def test_hdi_every_country_year_1990_2022(wide):
    p = long_panel(wide, ["le", "eys", "mys", "gnipc"], "hdi")
    r = hdi(p["le"], p["eys"], p["mys"], p["gnipc"])
    n, bad, _ = compare(r["hdi"], p["hdi"])
    assert not bad, f"{len(bad)} HDI country-years differ: {fmt(bad)}"
    countries = ~p.index.get_level_values("iso3").str.startswith("ZZ")
    n_countries = int((r["hdi"].notna() & p["hdi"].notna() & countries).sum())
    assert n == 6171 and n_countries == 5808, (n, n_countries)  # incl. 11 aggregates
    # no published value is left uncomputed; computed-but-unpublished only the listed ones
    pub_only = set(p.index[p["hdi"].notna() & r["hdi"].isna()])
    calc_only = set(p.index[p["hdi"].isna() & r["hdi"].notna()])
    assert not pub_only, f"published HDI not computable: {sorted(pub_only)}"
    assert calc_only == HDI_UNPUBLISHED_WITH_COMPONENTS, sorted(calc_only)
    # RWA 1994: LE below the 20-year goalpost -> negative health index -> no HDI
    assert np.isnan(r["hdi"].loc[("RWA", 1994)]) and r["health_index"].loc[("RWA", 1994)] < 0


def test_hdi_group_2022(wide):
    g = hdr.hdi_group(wide["hdi_2022"])
    pub = wide["hdicode"]
    m = pub.notna() & wide["hdi_2022"].notna()
    assert (g[m] == pub[m]).all(), wide.index[m & (g != pub)].tolist()
    assert m.sum() >= 190


def test_gdi_2022_and_time_series(wide):
    p = long_panel(wide, GDI_COLS + ["hdi_f", "hdi_m"], "gdi")
    r = gdi(*[p[c] for c in GDI_COLS])
    n, bad, _ = compare(r["gdi"], p["gdi"])
    assert not bad, f"{len(bad)} GDI country-years differ: {fmt(bad)}"
    for s in ("f", "m"):
        _, bad_s, _ = compare(r[f"hdi_{s}"], p[f"hdi_{s}"])
        assert not bad_s, f"hdi_{s}: {fmt(bad_s)}"
    y22 = p.index.get_level_values("year") == 2022
    n22 = int((r["gdi"].notna() & p["gdi"].notna() & y22).sum())
    assert n22 == 193 and n == 5014, (n22, n)
    assert not (p["gdi"].notna() & r["gdi"].isna()).any()
    # the cap at 1 is needed: Japanese female LE 87.8 > 87.5
    assert wide.loc["JPN", "le_f_2022"] > 87.5
    assert r.loc[("JPN", 2022), "health_index_f"] == 1.0
    # GDI groups from the published GDI
    grp = hdr.gdi_group(wide["gdi_2022"])
    m = wide["gdi_group_2022"].notna()
    assert (grp[m].astype(float) == wide.loc[m, "gdi_group_2022"]).all()


def test_gii_2022(wide):
    p = long_panel(wide, GII_COLS, "gii", years=[2022])
    r = gii(*[p[c] for c in GII_COLS])
    n, bad, _ = compare(r["gii"], p["gii"])
    assert not bad, f"{len(bad)} GII 2022 values differ: {fmt(bad)}"
    assert n == 177
    assert not (p["gii"].notna() & r["gii"].isna()).any()
    # the MMR clamp matters in 2022: many countries are below 10 (e.g. AUS 2.9)
    assert (p["mmr"] < 10).sum() > 20


def test_gii_time_series_with_listed_exceptions(wide):
    p = long_panel(wide, GII_COLS, "gii")
    r = gii(*[p[c] for c in GII_COLS])
    n, bad, known_bad = compare(r["gii"], p["gii"], known=GII_ZERO_PARLIAMENT)
    assert not bad, f"{len(bad)} unlisted GII mismatches: {fmt(bad)}"
    assert known_bad == GII_ZERO_PARLIAMENT, sorted(GII_ZERO_PARLIAMENT - known_bad)
    assert n == 4711
    # reason: zero female seats coded 0.01 % and used as such by the HDRO
    keys = sorted(GII_ZERO_PARLIAMENT)
    assert (p.loc[keys, "pr_f"] == 0.01).all()
    r2 = gii(*[p.loc[keys, c] for c in GII_COLS], parliament_floor_pct=0.01)
    _, bad2, _ = compare(r2["gii"], p.loc[keys, "gii"])
    assert not bad2, fmt(bad2)


def test_ihdi_2022_and_time_series(wide):
    p = long_panel(wide, IHDI_COLS + ["coef_ineq", "loss", "hdi"], "ihdi", years=range(2010, 2023))
    r = ihdi(*[p[c] for c in IHDI_COLS])
    n, bad, _ = compare(r["ihdi"], p["ihdi"])
    assert not bad, f"{len(bad)} IHDI country-years differ: {fmt(bad)}"
    y22 = p.index.get_level_values("year") == 2022
    n22 = int((r["ihdi"].notna() & p["ihdi"].notna() & y22).sum())
    assert n22 == 176 and n == 2106, (n22, n)
    assert not (p["ihdi"].notna() & r["ihdi"].isna()).any()
    m = p["coef_ineq"].notna()
    assert np.allclose(r.loc[m, "coef_ineq"] * 100, p.loc[m, "coef_ineq"], atol=1e-6)
    # published loss is computed from the *rounded* HDI and IHDI
    m = p["loss"].notna()
    loss_pub_rule = (1 - p.loc[m, "ihdi"] / p.loc[m, "hdi"]) * 100
    assert np.allclose(loss_pub_rule, p.loc[m, "loss"], atol=1e-6)
    # using the rounded HDI instead of the unrounded one would NOT reproduce (documented)
    a = (1 - p["ineq_le"] / 100) * (1 - p["ineq_edu"] / 100) * (1 - p["ineq_inc"] / 100)
    rounded_way = p["hdi"] * np.cbrt(a)
    assert ((rounded_way - p["ihdi"]).abs() > TOL).sum() > 0


def test_published_reference_extracts(published_data):
    ref = published_data / "published_reference" / "hdr_2023_24"
    wide = pd.read_csv(published_data / "undp_hdr" / HDR_FILE, encoding="utf-8-sig").set_index("iso3")
    h = pd.read_csv(ref / "hdi_and_components_2022.csv").set_index("iso3")
    r = hdi(h["life_expectancy"], h["expected_years_schooling"], h["mean_years_schooling"],
            h["gni_pc_2017ppp"])
    assert ((r["hdi"] - h["hdi"]).abs() <= TOL).all()
    assert r.loc["LIE", "income_index"] == 1.0  # GNI above the 75,000 cap
    g = pd.read_csv(ref / "gdi_2022.csv").set_index("iso3")
    rg = gdi(*[g[c] for c in GDI_COLS])
    assert ((rg["gdi"] - g["gdi"]).abs() <= TOL).all()
    assert np.allclose(rg["hdi_f"], g["hdi_f"], atol=1e-6)
    assert np.allclose(rg["hdi_m"], g["hdi_m"], atol=1e-6)
    gi = pd.read_csv(ref / "gii_2022.csv").set_index("iso3")
    rgi = gii(*[gi[c] for c in GII_COLS])
    assert ((rgi["gii"] - gi["gii"]).abs() <= TOL).all()
    ih = pd.read_csv(ref / "ihdi_2022.csv").set_index("iso3")
    ri = ihdi(ih["life_expectancy"], ih["expected_years_schooling"], ih["mean_years_schooling"],
              ih["gni_pc_2017ppp"], ih["ineq_le_pct"], ih["ineq_edu_pct"], ih["ineq_inc_pct"])
    assert ((ri["ihdi"] - ih["ihdi"]).abs() <= TOL).all()
    ts = pd.read_csv(ref / "hdi_timeseries_sample.csv").set_index("iso3")
    years = [c for c in ts.columns if re.fullmatch(r"\d{4}", c)]
    for y in years:
        ry = hdi(wide[f"le_{y}"], wide[f"eys_{y}"], wide[f"mys_{y}"], wide[f"gnipc_{y}"])
        pub = ts[y].dropna()
        d = (ry["hdi"].reindex(pub.index) - pub).abs()
        assert (d <= TOL).all(), (y, d[d > TOL].to_dict())


# --------------------------------------------------------------------------- hand cases


def test_goalposts_constants():
    assert (GOALPOSTS["life_expectancy"].lo, GOALPOSTS["life_expectancy"].hi) == (20, 85)
    assert (GOALPOSTS["life_expectancy_female"].lo, GOALPOSTS["life_expectancy_female"].hi) == (22.5, 87.5)
    assert (GOALPOSTS["life_expectancy_male"].lo, GOALPOSTS["life_expectancy_male"].hi) == (17.5, 82.5)
    assert GOALPOSTS["expected_years_schooling"].hi == 18 and GOALPOSTS["mean_years_schooling"].hi == 15
    gp = GOALPOSTS["gni_pc"]
    assert (gp.lo, gp.hi, gp.log) == (100, 75_000, True)
    assert hdr.GII_CONSTANTS["mmr_min"] == 10 and hdr.GII_CONSTANTS["mmr_max"] == 1000
    assert hdr.GII_CONSTANTS["abr_min"] == 0.1 and hdr.GII_CONSTANTS["parliament_floor_pct"] == 0.1
    with pytest.raises(TypeError):
        GOALPOSTS["x"] = None  # read-only


def test_dimension_index_hand():
    assert dimension_index(7.5, 0, 15) == 0.5
    assert dimension_index(20, 20, 85) == 0.0 and dimension_index(85, 20, 85) == 1.0
    assert dimension_index(90, 20, 85) == 1.0  # capped
    assert dimension_index(90, 20, 85, cap=False) == pytest.approx(70 / 65)
    assert dimension_index(10, 20, 85) < 0  # below minimum: not clipped
    assert dimension_index(np.sqrt(100 * 75_000), 100, 75_000, log=True) == pytest.approx(0.5)
    assert dimension_index(150_000, 100, 75_000, log=True) == 1.0
    s = pd.Series([0.0, np.nan, 18.0, 24.0], index=list("abcd"), name="eys")
    out = dimension_index(s, 0, 18)
    assert isinstance(out, pd.Series) and list(out.index) == list("abcd")
    assert out.iloc[0] == 0 and np.isnan(out.iloc[1]) and out.iloc[2] == 1 and out.iloc[3] == 1
    with pytest.raises(HumsecError, match="positive"):
        dimension_index([1000, 0], 100, 75_000, log=True)
    with pytest.raises(HumsecError, match="positive"):
        dimension_index([-5.0], 100, 75_000, log=True)
    with pytest.raises(HumsecError, match="lo < hi"):
        dimension_index(1, 5, 5)


def test_hdi_hand_cases():
    r = hdi([85, 20, 90], [18, 0, 25], [15, 0, 16], [75_000, 100, 200_000])
    assert r["hdi"].tolist() == pytest.approx([1.0, 0.0, 1.0])
    assert r.loc[2, ["health_index", "eys_index", "mys_index", "income_index"]].tolist() == [1, 1, 1, 1]
    # arithmetic mean for education, geometric mean overall
    r = hdi(52.5, 9, 7.5, np.sqrt(100 * 75_000))
    assert r["education_index"].iloc[0] == pytest.approx(0.5)
    assert r["hdi"].iloc[0] == pytest.approx(0.5)
    r = hdi(85, 18, 15, 100 * (750 ** 0.125))  # income index 1/8 -> HDI = 0.5
    assert r["hdi"].iloc[0] == pytest.approx(0.5)


def test_hdi_nan_propagation_and_alignment():
    le = pd.Series({"AAA": 70.0, "BBB": 60.0, "CCC": np.nan})
    eys = pd.Series({"CCC": 12.0, "BBB": 11.0, "AAA": 14.0})  # other order
    mys = pd.Series({"AAA": 10.0, "BBB": 8.0, "CCC": 7.0})
    gni = pd.Series({"AAA": 20_000.0, "BBB": 5_000.0})  # CCC missing altogether
    r = hdi(le, eys, mys, gni)
    assert set(r.index) == {"AAA", "BBB", "CCC"}
    assert np.isnan(r.loc["CCC", "hdi"]) and np.isnan(r.loc["CCC", "health_index"])
    ref = hdi([70.0, 60.0], [14.0, 11.0], [10.0, 8.0], [20_000.0, 5_000.0])
    assert r.loc[["AAA", "BBB"], "hdi"].to_numpy() == pytest.approx(ref["hdi"].to_numpy())
    # scalar broadcast
    assert len(hdi(le, 12.0, 8.0, 10_000.0)) == 3
    # pandas nullable dtype: <NA> is missing, propagated
    na = hdi(pd.Series([70, pd.NA], dtype="Float64", index=["A", "B"]), 12, 8, 1000)
    assert np.isfinite(na.loc["A", "hdi"]) and np.isnan(na.loc["B", "hdi"])


def test_hdi_rejects_impossible_inputs():
    with pytest.raises(HumsecError, match="gnipc"):
        hdi(70, 12, 8, 0)
    with pytest.raises(HumsecError, match="gnipc"):
        hdi(70, 12, 8, -100)
    with pytest.raises(HumsecError, match="eys"):
        hdi(70, -1, 8, 1000)
    with pytest.raises(HumsecError, match="numeric"):
        hdi(["a"], [1], [1], [1000])
    with pytest.raises(HumsecError, match="shape"):
        hdi([70, 60], [12, 11, 10], 8, 1000)
    with pytest.raises(HumsecError, match="duplicate"):
        hdi(pd.Series([70, 60], index=["A", "A"]), 12, 8, 1000)


def test_gdi_hand_cases():
    # female LE exactly 5 years above male and equal everything else -> parity
    r = gdi(80, 14, 10, 20_000, 75, 14, 10, 20_000)
    assert r["gdi"].iloc[0] == pytest.approx(1.0)
    # goalposts: female 87.5 and male 82.5 -> health index 1
    r = gdi(87.5, 18, 15, 75_000, 82.5, 18, 15, 75_000)
    assert r[["hdi_f", "hdi_m", "gdi"]].iloc[0].tolist() == pytest.approx([1, 1, 1])
    r = gdi(90, 18, 15, 75_000, 17.5, 18, 15, 75_000)
    assert r["health_index_f"].iloc[0] == 1.0 and r["hdi_m"].iloc[0] == 0.0
    assert np.isnan(r["gdi"].iloc[0])  # undefined with HDI_m = 0
    r = gdi(np.nan, 14, 10, 20_000, 75, 14, 10, 20_000)
    assert np.isnan(r["gdi"].iloc[0]) and not np.isnan(r["hdi_m"].iloc[0])
    assert hdr.gdi_group([0.975, 0.974, 1.05, 1.051, 0.899, np.nan]).tolist() == [1, 2, 2, 3, 5, pd.NA]


def test_sex_gni_pc():
    r = hdr.sex_gni_pc(10_000, 1.0, 0.5, 0.5)
    assert r[["gni_pc_f", "gni_pc_m"]].iloc[0].tolist() == pytest.approx([10_000, 10_000])
    r = hdr.sex_gni_pc([10_000, 30_000], [0.8, 0.6], [0.4, 0.3], [0.51, 0.49])
    pf = np.array([0.51, 0.49])
    total = pf * r["gni_pc_f"] + (1 - pf) * r["gni_pc_m"]
    assert total.to_numpy() == pytest.approx([10_000, 30_000])
    s_f = 0.8 * 0.4 / (0.8 * 0.4 + 0.6)
    assert r["wage_bill_share_f"].iloc[0] == pytest.approx(s_f)
    with pytest.raises(HumsecError):
        hdr.sex_gni_pc(10_000, 1.0, 1.5, 0.5)


def test_gii_hand_cases():
    # health term 1 (MMR 10, ABR 1), equal sexes -> no inequality
    r = gii(10, 1, 60, 60, 50, 50, 70, 70)
    assert r["gii"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    # MMR truncation: 2 and 10 identical, 5000 and 1000 identical
    a = gii([2, 10, 5000, 1000], 20, 60, 70, 30, 70, 50, 70)["gii"].to_numpy()
    assert a[0] == a[1] and a[2] == a[3] and a[2] > a[0]
    # ABR floor 0.1
    a = gii(50, [0.0, 0.05, 0.1], 60, 70, 30, 70, 50, 70)["gii"].to_numpy()
    assert a[0] == a[1] == a[2]
    # zero women in parliament -> 0.1 % (or 0.01 % on request)
    a = gii(50, 20, 60, 70, [0.0, 0.1], 100.0, 50, 70)["gii"].to_numpy()
    assert a[0] == a[1] and np.isfinite(a[0])
    b = gii(50, 20, 60, 70, 0.0, 100.0, 50, 70, parliament_floor_pct=0.01)["gii"].iloc[0]
    assert b > a[0]
    # formula by hand
    mmr, abr, sef, sem, prf, prm, lff, lfm = 100, 40, 0.5, 0.6, 0.2, 0.8, 0.4, 0.8
    hf = np.sqrt(10 / mmr * 1 / abr)
    gf = (hf * np.sqrt(prf * sef) * lff) ** (1 / 3)
    gm = (np.sqrt(prm * sem) * lfm) ** (1 / 3)
    harm = 2 / (1 / gf + 1 / gm)
    gfm = (((hf + 1) / 2) * ((np.sqrt(prf * sef) + np.sqrt(prm * sem)) / 2) * ((lff + lfm) / 2)) ** (1 / 3)
    r = gii(mmr, abr, 50, 60, 20, 80, 40, 80)
    assert r["gii"].iloc[0] == pytest.approx(1 - harm / gfm)
    assert r["g_fm"].iloc[0] == pytest.approx(gfm)
    assert np.isnan(gii(np.nan, 20, 60, 70, 30, 70, 50, 70)["gii"].iloc[0])
    # zero secondary education (not floored by the HDR): women only -> 1; both -> undefined
    z = gii(50, 20, 0, [10, 0], 30, 70, 50, 70)["gii"].tolist()
    assert z[0] == 1.0 and np.isnan(z[1])
    with pytest.raises(HumsecError, match="se_f"):
        gii(50, 20, 120, 70, 30, 70, 50, 70)
    with pytest.raises(HumsecError, match="mmr"):
        gii(-1, 20, 60, 70, 30, 70, 50, 70)


def test_atkinson_hand_cases():
    assert atkinson([1.0, 4.0]) == pytest.approx(0.2)  # 1 - 2 / 2.5
    assert atkinson([1.0, 4.0], epsilon=2.0) == pytest.approx(1 - 1.6 / 2.5)
    assert atkinson([1.0, 4.0], epsilon=0.5) == pytest.approx(1 - 2.25 / 2.5)
    assert atkinson([1.0, 4.0], epsilon=0.0) == 0.0
    # integer weights = replication
    assert atkinson([1.0, 4.0], weights=[3, 1]) == pytest.approx(atkinson([1.0, 1.0, 1.0, 4.0]))
    # vectorised over units
    m = np.array([[1.0, 4.0], [2.0, 2.0], [np.nan, 1.0]])
    out = atkinson(m)
    assert out[0] == pytest.approx(0.2) and out[1] == 0.0 and np.isnan(out[2])
    # zeros: HDR shifts schooling by one year; otherwise raise or take the limit
    with pytest.raises(HumsecError, match="zero"):
        atkinson([0.0, 5.0])
    assert atkinson([0.0, 5.0], zeros="limit") == 1.0
    assert atkinson([0.0, 5.0], shift=1.0) == pytest.approx(1 - np.sqrt(6) / 3.5)
    assert atkinson([0.0, 5.0], epsilon=0.5) < 1.0
    assert np.isnan(atkinson([0.0, 0.0], zeros="limit"))
    with pytest.raises(HumsecError):
        atkinson([-1.0, 2.0])
    with pytest.raises(HumsecError):
        atkinson([1.0, 2.0], epsilon=-1)
    with pytest.raises(HumsecError):
        atkinson([1.0, 2.0], weights=[0, 0])


def test_ihdi_hand_cases():
    comp = (70.0, 13.0, 9.0, 15_000.0)
    h = hdi(*comp)["hdi"].iloc[0]
    r = ihdi(*comp, 0, 0, 0)
    assert r["ihdi"].iloc[0] == pytest.approx(h) and r["loss"].iloc[0] == pytest.approx(0)
    r = ihdi(*comp, 10, 20, 30)
    assert r["ihdi"].iloc[0] == pytest.approx(h * (0.9 * 0.8 * 0.7) ** (1 / 3))
    assert r["coef_ineq"].iloc[0] == pytest.approx(0.2)
    r2 = ihdi(*comp, 0.1, 0.2, 0.3, percent=False)
    assert r2["ihdi"].iloc[0] == pytest.approx(r["ihdi"].iloc[0])
    with pytest.raises(HumsecError, match="ineq_edu"):
        ihdi(*comp, 10, 120, 30)
    assert np.isnan(ihdi(*comp, 10, np.nan, 30)["ihdi"].iloc[0])


# --------------------------------------------------------------------------- properties

le_s = st.floats(20, 95)
eys_s = st.floats(0, 25)
mys_s = st.floats(0, 20)
gni_s = st.floats(100, 300_000)


@hsettings(max_examples=150, deadline=None)
@given(le_s, eys_s, mys_s, gni_s)
def test_prop_hdi_in_unit_interval(le, eys, mys, gni):
    v = hdi(le, eys, mys, gni)["hdi"].iloc[0]
    assert 0.0 <= v <= 1.0 + 1e-12


@hsettings(max_examples=150, deadline=None)
@given(le_s, eys_s, mys_s, gni_s, st.integers(0, 3), st.floats(0.0, 50.0))
def test_prop_hdi_monotone(le, eys, mys, gni, which, bump):
    base = [le, eys, mys, gni]
    up = list(base)
    up[which] = base[which] + (bump * 1000 if which == 3 else bump)
    assert hdi(*up)["hdi"].iloc[0] >= hdi(*base)["hdi"].iloc[0] - 1e-12


@hsettings(max_examples=150, deadline=None)
@given(st.floats(1, 2000), st.floats(0, 250), st.floats(0.1, 100), st.floats(0.1, 100),
       st.floats(0, 100), st.floats(0.1, 100), st.floats(0.1, 100))
def test_prop_gii_in_unit_interval(mmr, abr, se_f, se_m, pr_f, lf_f, lf_m):
    v = gii(mmr, abr, se_f, se_m, pr_f, 100 - pr_f, lf_f, lf_m)["gii"].iloc[0]
    assert -1e-12 <= v <= 1.0


pos = st.floats(0.01, 1e6)


@hsettings(max_examples=150, deadline=None)
@given(st.lists(pos, min_size=1, max_size=30), st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]))
def test_prop_atkinson_bounds(xs, eps):
    a = atkinson(xs, epsilon=eps)
    assert 0.0 <= a < 1.0
    # scale invariance
    assert atkinson(np.array(xs) * 7.0, epsilon=eps) == pytest.approx(a, abs=1e-9)


@hsettings(max_examples=100, deadline=None)
@given(pos, st.integers(1, 40), st.sampled_from([0.0, 0.5, 1.0, 2.0]))
def test_prop_atkinson_zero_for_equal(x, n, eps):
    assert atkinson([x] * n, epsilon=eps) == pytest.approx(0.0, abs=1e-12)


@hsettings(max_examples=100, deadline=None)
@given(st.lists(pos, min_size=2, max_size=20))
def test_prop_atkinson_increasing_in_epsilon(xs):
    a = [atkinson(xs, epsilon=e) for e in (0.5, 1.0, 2.0)]
    assert a[0] <= a[1] + 1e-9 <= a[2] + 2e-9
