"""Vulnerable groups (humsec.analysis.groups) and the ``humsec groups`` command.

Gender indices are checked against the published HDR 2023/24 values at 3 decimals;
demography against sums computed here directly from the WPP 2024 file of bokeh-sampledata
in the shared data (the release's source of population by sex and age); gaps, scores and the furthest-behind ranking against hand-built panels.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from humsec.analysis import groups as G
from humsec.cli.main import main
from humsec.errors import HumsecError
from humsec.index import hdr

TOL = 0.0005 + 1e-9
HDR_FILE = "HDR23-24_Composite_indices_complete_time_series.csv"
GDI_COLS = ["le_f", "eys_f", "mys_f", "gni_pc_f", "le_m", "eys_m", "mys_m", "gni_pc_m"]
GII_COLS = ["mmr", "abr", "se_f", "se_m", "pr_f", "pr_m", "lfpr_f", "lfpr_m"]
IHDI_COLS = ["le", "eys", "mys", "gnipc", "ineq_le", "ineq_edu", "ineq_inc"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def hdr_wide(shared_data) -> pd.DataFrame:
    path = shared_data / "undp_hdr" / HDR_FILE
    if not path.exists():
        pytest.skip(f"{path} absent")
    df = pd.read_csv(path, encoding="utf-8-sig").set_index("iso3")
    return df[~df.index.str.startswith("ZZ")]


def tidy(wide: pd.DataFrame, codes, year: int) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"unit": wide.index, "year": year, "indicator": c,
                                    "value": pd.to_numeric(wide[f"{c}_{year}"], errors="coerce").to_numpy()})
                      for c in codes], ignore_index=True)


@pytest.fixture(scope="module")
def _store(tmp_path_factory):
    """A data directory holding the default panel (built once for the module)."""
    from humsec.data.service import current_panel
    from humsec.settings import Settings

    h = tmp_path_factory.mktemp("groups") / "home"
    return h, current_panel(Settings(home=h, progress=False))[0]


@pytest.fixture(scope="module")
def home(_store):
    return _store[0]


@pytest.fixture(scope="module")
def panel(_store):
    return _store[1]


# --------------------------------------------------------------------------- gender indices


def test_gender_indices_2022_reproduce_hdr(hdr_wide):
    r = G.gender_indices(tidy(hdr_wide, GDI_COLS + GII_COLS + IHDI_COLS, 2022), 2022)
    counts = {}
    for c in ("gdi", "gii", "ihdi"):
        pub = hdr_wide[f"{c}_2022"].reindex(r.index)
        both = pub.notna() & r[c].notna()
        diff = (r[c] - pub).abs()[both]
        assert (diff <= TOL).all(), (c, diff[diff > TOL].to_dict())
        assert not (pub.notna() & r[c].isna()).any(), c  # every published value computed
        counts[c] = int(both.sum())
    assert counts == {"gdi": 182, "gii": 166, "ihdi": 165}, counts
    grp = hdr_wide["gdi_group_2022"].reindex(r.index)
    m = grp.notna()
    assert (r.loc[m, "gdi_group"].astype(float) == grp[m]).all()


def test_gender_indices_from_sex_disaggregated_panel(published_data):
    ref = published_data / "published_reference" / "hdr_2023_24"
    g = pd.read_csv(ref / "gdi_2022.csv").set_index("iso3")
    # a panel in the disaggregated form: indicator le / eys / mys / gni_pc with sex F or M
    rows = []
    for base in ("le", "eys", "mys", "gni_pc"):
        for sex in ("f", "m"):
            rows.append(pd.DataFrame({"unit": g.index, "year": 2022, "indicator": base,
                                      "sex": sex.upper(), "value": g[f"{base}_{sex}"].to_numpy()}))
    gi = pd.read_csv(ref / "gii_2022.csv").set_index("iso3")
    for c in GII_COLS:
        base, sex = (c[:-2], c[-1].upper()) if c.endswith(("_f", "_m")) else (c, "_T")
        rows.append(pd.DataFrame({"unit": gi.index, "year": 2022, "indicator": base, "sex": sex,
                                  "value": gi[c].to_numpy()}))
    ih = pd.read_csv(ref / "ihdi_2022.csv").set_index("iso3")
    for c, src in zip(IHDI_COLS, ["life_expectancy", "expected_years_schooling", "mean_years_schooling",
                                  "gni_pc_2017ppp", "ineq_le_pct", "ineq_edu_pct", "ineq_inc_pct"]):
        rows.append(pd.DataFrame({"unit": ih.index, "year": 2022, "indicator": c, "value": ih[src].to_numpy()}))
    r = G.gender_indices(pd.concat(rows, ignore_index=True), 2022)
    for code, pub in (("gdi", g["gdi"]), ("gii", gi["gii"]), ("ihdi", ih["ihdi"])):
        d = (r[code].reindex(pub.index) - pub).abs()
        assert d.notna().all() and (d <= TOL).all(), (code, d[d > TOL].to_dict())
    assert r.loc[g.index, "hdi_f"].to_numpy() == pytest.approx(g["hdi_f"].to_numpy(), abs=1e-6)


def test_gender_indices_missing_inputs():
    d = pd.DataFrame({"unit": ["AAA"], "year": [2022], "indicator": ["le_f"], "value": [70.0]})
    r = G.gender_indices(d, 2022)
    assert r[["gdi", "gii", "ihdi"]].isna().all().all()
    with pytest.raises(HumsecError, match="no observations for year 2021"):
        G.gender_indices(d, 2021)


# --------------------------------------------------------------------------- Atkinson


def test_atkinson_is_the_engine_kernel_and_known_answers():
    assert G.atkinson is hdr.atkinson  # reused, not duplicated
    assert G.atkinson([5.0, 5.0, 5.0]) == pytest.approx(0.0, abs=1e-12)
    x = np.array([1.0, 2.0, 9.0])
    geo, ari = np.exp(np.log(x).mean()), x.mean()
    assert G.atkinson(x, epsilon=1.0) == pytest.approx(1 - geo / ari)
    w = np.array([1.0, 3.0, 2.0])
    geo_w = np.exp((w * np.log(x)).sum() / w.sum())
    assert G.atkinson(x, weights=w) == pytest.approx(1 - geo_w / ((w * x).sum() / w.sum()))
    # general epsilon: 1 - (mean x^(1-e))^(1/(1-e)) / mean
    e = 2.0
    assert G.atkinson(x, epsilon=e) == pytest.approx(1 - (np.mean(x ** (1 - e))) ** (1 / (1 - e)) / ari)


@hsettings(max_examples=60, deadline=None)
@given(st.floats(0.01, 1e4), st.integers(1, 30), st.sampled_from([0.5, 1.0, 2.0]))
def test_prop_atkinson_equal_is_zero(v, n, eps):
    assert G.atkinson([v] * n, epsilon=eps) == pytest.approx(0.0, abs=1e-12)


def test_inequality_adjusted_and_between_groups():
    assert G.inequality_adjusted(0.8, 0.25) == pytest.approx(0.6)
    s = G.inequality_adjusted(pd.Series({"A": 0.5, "B": 0.9}), pd.Series({"A": 10.0, "B": 0.0}), percent=True)
    assert s.to_dict() == pytest.approx({"A": 0.45, "B": 0.9})
    with pytest.raises(HumsecError):
        G.inequality_adjusted(0.5, 1.2)
    # women 80 years (weight 60), men 70 (weight 40): 1 - 80^.6 70^.4 / 76
    a = G.between_group_atkinson({"F": 80.0, "M": 70.0}, {"F": 60.0, "M": 40.0})
    assert a == pytest.approx(1 - 80 ** 0.6 * 70 ** 0.4 / 76)
    assert G.between_group_atkinson({"F": 7.0, "M": 7.0}, {"F": 1, "M": 3}) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(HumsecError, match="population missing"):
        G.between_group_atkinson({"F": 1.0, "X": 2.0}, {"F": 1.0})


# --------------------------------------------------------------------------- demography


def test_demography_against_wpp_file(panel, shared_data):
    path = shared_data / "pypi_embedded" / "bokeh_sampledata" / "population.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} absent")
    raw = pd.read_csv(path)
    out = G.demography(panel, units=["JPN", "NER", "ARM"], years=[2025, 2020, 1990])
    assert len(out) == 9
    for iso, loc in (("JPN", 392), ("NER", 562), ("ARM", 51)):
        for year in (2025, 2020, 1990):
            r = raw[(raw["LocID"] == loc) & (raw["Year"] == year)]
            by_age = r.groupby("AgeGrp")["Value"].sum()
            kids = by_age[["0-4", "5-9", "10-14"]].sum()
            work = by_age[["15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
                           "55-59", "60-64"]].sum()
            old = by_age[["65-69", "70-74", "75-79", "80-84", "85-89", "90-94", "95-99", "100+"]].sum()
            youth = by_age[["15-19", "20-24"]].sum()
            tot = r["Value"].sum()
            males = r.loc[r["Sex"] == "Male", "Value"].sum()
            old_f = r[(r["Sex"] == "Female") & r["AgeGrp"].isin(["65-69", "70-74", "75-79", "80-84", "85-89",
                                                                 "90-94", "95-99", "100+"])]["Value"].sum()
            got = out[(out["unit"] == iso) & (out["year"] == year)].iloc[0]
            assert got["population"] == pytest.approx(tot)
            assert got["elderly_share"] == pytest.approx(old / tot * 100)
            assert got["child_share"] == pytest.approx(kids / tot * 100)
            assert got["youth_share"] == pytest.approx(youth / tot * 100)
            assert got["old_age_dependency"] == pytest.approx(old / work * 100)
            assert got["child_dependency"] == pytest.approx(kids / work * 100)
            assert got["total_dependency"] == pytest.approx((kids + old) / work * 100)
            assert got["sex_ratio"] == pytest.approx(males / (tot - males) * 100)
            assert got["female_share_65plus"] == pytest.approx(old_f / old * 100)
    # orders of magnitude that anyone can check: Japan old, Niger young
    jpn = out[(out["unit"] == "JPN") & (out["year"] == 2020)].iloc[0]
    ner = out[(out["unit"] == "NER") & (out["year"] == 2020)].iloc[0]
    assert jpn["elderly_share"] > 25 and ner["child_share"] > 45
    assert jpn["old_age_dependency"] > ner["old_age_dependency"] * 5


def test_demography_age_groups_must_nest():
    d = pd.DataFrame({"unit": "AAA", "year": 2020, "indicator": "pop", "sex": ["F", "M", "F"],
                      "age": ["0-4", "0-4", "60-69"], "value": [10.0, 11.0, 5.0]})
    with pytest.raises(HumsecError, match="straddles"):
        G.demography(d)
    ok = d.iloc[:2]
    r = G.demography(ok).iloc[0]
    assert r["child_share"] == 100 and r["sex_ratio_0_4"] == pytest.approx(110)
    assert np.isnan(r["old_age_dependency"])  # no working-age population


# --------------------------------------------------------------------------- gaps and scores


def hand_panel() -> pd.DataFrame:
    rows = [
        # unit, year, indicator, sex, age, group, value
        ("AAA", 2020, "u5mr", "F", "_T", "_T", 50.0), ("AAA", 2020, "u5mr", "M", "_T", "_T", 40.0),
        ("AAA", 2020, "u5mr", "_T", "_T", "_T", 45.0),
        ("AAA", 2020, "life_expectancy", "_T", "65+", "_T", 60.0),
        ("AAA", 2020, "life_expectancy", "_T", "15-64", "_T", 70.0),
        ("AAA", 2020, "life_expectancy", "_T", "_T", "rural", 62.0),
        ("AAA", 2020, "life_expectancy", "_T", "_T", "urban", 72.0),
        ("AAA", 2020, "life_expectancy", "_T", "_T", "_T", 68.0),
        ("AAA", 2015, "life_expectancy", "_T", "_T", "rural", 50.0),
        ("AAA", 2015, "life_expectancy", "_T", "_T", "urban", 70.0),
        ("BBB", 2020, "u5mr", "F", "_T", "_T", 10.0), ("BBB", 2020, "u5mr", "M", "_T", "_T", 20.0),
        ("BBB", 2020, "life_expectancy", "_T", "_T", "disability", 58.0),
        ("BBB", 2020, "life_expectancy", "_T", "_T", "no_disability", 80.0),
        ("BBB", 2020, "pop", "F", "0-4", "_T", 100.0), ("BBB", 2020, "pop", "M", "0-4", "_T", 200.0),
    ]
    return pd.DataFrame(rows, columns=["unit", "year", "indicator", "sex", "age", "group", "value"])


def test_gaps_direction_aware():
    g = G.gaps(hand_panel(), year=2020).set_index(["unit", "comparison", "indicator"])
    r = g.loc[("AAA", "female/male", "u5mr")]
    # mortality: lower is better, women 50 vs men 40 -> parity 40/50 = 0.8, women behind by 20 %
    assert (r["ratio"], r["difference"], r["direction"]) == (1.25, 10.0, -1)
    assert r["achievement_ratio"] == pytest.approx(0.8) and r["shortfall_pct"] == pytest.approx(20.0)
    assert bool(r["focal_behind"])
    b = g.loc[("BBB", "female/male", "u5mr")]
    assert b["achievement_ratio"] == pytest.approx(2.0) and not bool(b["focal_behind"])
    e = g.loc[("AAA", "elderly/working-age", "life_expectancy")]
    assert e["achievement_ratio"] == pytest.approx(60 / 70) and bool(e["focal_behind"])
    assert g.loc[("AAA", "rural/urban", "life_expectancy"), "achievement_ratio"] == pytest.approx(62 / 72)
    assert g.loc[("BBB", "disability/no disability", "life_expectancy"), "achievement_ratio"] == pytest.approx(58 / 80)
    assert not any(i == "pop" for i in g.index.get_level_values("indicator"))  # context excluded
    # latest: 2015 rural/urban replaced by 2020; only year 2015 -> the old gap
    old = G.gaps(hand_panel(), units=["AAA"], year=2017, latest=True)
    assert old["comparison"].tolist() == ["rural/urban"] and old["achievement_ratio"].iloc[0] == pytest.approx(50 / 70)


def test_group_scores_share_goalposts_and_dimension_scores():
    sc = G.group_scores(hand_panel())
    le = sc[sc["indicator"] == "life_expectancy"]
    assert (le["lo"] == 50).all() and (le["hi"] == 80).all()  # over all groups, units, years
    rural = le[(le["group"] == "rural") & (le["year"] == 2020)].iloc[0]
    assert rural["score"] == pytest.approx((62 - 50) / 30) and rural["axis"] == "area"
    u = sc[(sc["indicator"] == "u5mr") & (sc["unit"] == "AAA") & (sc["sex"] == "F")].iloc[0]
    assert u["score"] == pytest.approx((50 - 50) / 40)  # lower is better: (hi - x)/(hi - lo)
    fixed = G.group_scores(hand_panel(), goalposts={"life_expectancy": (20, 70)})
    assert fixed.loc[fixed["indicator"] == "life_expectancy", "score"].max() == 1.0  # capped
    d = G.dimension_scores(hand_panel(), units=["AAA"], year=2020)
    row = d[(d["population_group"] == "group=rural")].iloc[0]
    assert row["dimension"] == "health" and row["score"] == pytest.approx(12 / 30)
    assert row["total_score"] == pytest.approx(18 / 30) and row["gap"] == pytest.approx(6 / 30)


def test_furthest_behind_ranking():
    fb = G.furthest_behind(hand_panel(), "AAA", year=2020)
    # shortfalls from the best group of the same axis, on 0-1 scores:
    # elderly (60 vs 70)/30 = 1/3; rural (62 vs 72)/30 = 1/3; women u5mr (50 vs 40)/40 = 1/4
    assert fb["population_group"].tolist()[:3] == ["age=65+", "group=rural", "sex=F"]
    assert fb["mean_shortfall"].tolist()[:3] == pytest.approx([1 / 3, 1 / 3, 1 / 4])
    assert fb["rank"].tolist() == list(range(1, len(fb) + 1))
    best = fb[fb["mean_shortfall"] == 0]["population_group"].tolist()
    assert set(best) == {"age=15-64", "group=urban", "sex=M"}
    f = fb.set_index("population_group").loc["sex=F"]
    assert f["worst_indicator"] == "u5mr" and f["worst_value"] == 50 and f["best_group_value"] == 40
    assert f["gap_vs_total"] == pytest.approx(5 / 40)  # total 45 vs women 50
    b = G.furthest_behind(hand_panel(), "BBB")
    assert b.iloc[0]["population_group"] == "group=disability"
    assert G.furthest_behind(hand_panel(), "ZZZ").empty


def test_default_panel_gaps(panel):
    g = G.gaps(panel, units=["IND"], year=2018)
    # under-5 mortality by sex is the release's u5mr_sex (IGME 2022 round); u5mr has totals only
    assert not (g["indicator"] == "u5mr").any()
    r = g[g["indicator"] == "u5mr_sex"].iloc[0]
    raw = panel.filter(units=["IND"], indicators=["u5mr_sex"], years=[2018]).data.set_index("sex")["value"]
    assert r["comparison"] == "female/male"
    assert r["focal_value"] == raw["F"] and r["reference_value"] == raw["M"]
    assert r["achievement_ratio"] == pytest.approx(raw["M"] / raw["F"])
    # rural/urban from the JMP water series (groups of water_basic)
    w = g[(g["indicator"] == "water_basic") & (g["comparison"] == "rural/urban")].iloc[0]
    raw = panel.filter(units=["IND"], indicators=["water_basic"], years=[2018]).data.set_index("group")["value"]
    assert w["focal_value"] == raw["rural"] and w["reference_value"] == raw["urban"]


# --------------------------------------------------------------------------- CLI


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_groups_formats(home, panel, capsys):
    code, out, err = run(capsys, "--home", str(home), "groups", "ind", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["unit"] == "IND" and data["furthest_behind"]
    demo = data["demography"]
    ref = G.demography(panel, units=["IND"], years=[2025]).iloc[0]
    assert demo["year"] == 2025 and demo["elderly_share"] == pytest.approx(ref["elderly_share"])
    u5 = [g for g in data["gaps"] if g["indicator"] == "u5mr_sex"][0]
    latest = panel.filter(units=["IND"], indicators=["u5mr_sex"]).data
    assert u5["comparison"] == "female/male" and u5["year"] == latest["year"].max() == 2021  # IGME 2022 round
    code, out, _ = run(capsys, "--home", str(home), "groups", "IND", "--year", "2012", "--format", "csv")
    assert code == 0
    rows = pd.read_csv(pd.io.common.StringIO(out))
    assert set(rows["section"]) == {"gaps", "furthest_behind", "demography", "left_behind"}
    assert rows[(rows["section"] == "demography") & (rows["measure"] == "year")]["value"].astype(float).iloc[0] == 2010
    code, out, _ = run(capsys, "--home", str(home), "groups", "IND")
    assert code == 0 and "furthest behind" in out and "old_age_dependency" in out


def test_cli_groups_errors(home, capsys):
    code, _, err = run(capsys, "--home", str(home), "groups", "INX")
    assert code == 2 and "'INX': no data" in err and "IND" in err
    code, _, err = run(capsys, "--home", str(home), "groups", "IND", "--format", "xml")
    assert code == 2 and "--format 'xml'" in err


# --------------------------------------------------------------------------- who is left behind


def lb_panel() -> pd.DataFrame:
    rows = [
        ("AAA", 2024, "homicide_rate", "F", "_T", "_T", 2.0), ("AAA", 2024, "homicide_rate", "M", "_T", "_T", 6.0),
        ("AAA", 2024, "lfpr", "F", "_T", "_T", 50.0), ("AAA", 2024, "lfpr", "M", "_T", "_T", 70.0),
        ("AAA", 2023, "life_expectancy_sex", "F", "_T", "_T", 70.0),
        ("AAA", 2023, "life_expectancy_sex", "M", "_T", "_T", 69.0),
        ("AAA", 2022, "women_parliament", "_T", "_T", "_T", 20.0),
        ("AAA", 2010, "child_marriage", "_T", "_T", "_T", 30.0),   # older than its 10-year limit
        ("AAA", 2015, "hdi_sex", "F", "_T", "_T", 0.5), ("AAA", 2015, "hdi_sex", "M", "_T", "_T", 0.6),  # > 5 years
        ("AAA", 2024, "conflict_deaths", "_T", "_T", "_T", 10.0),
        ("AAA", 2024, "refugees_hosted", "_T", "_T", "_T", 5.0),
        ("AAA", 2024, "pop_total", "_T", "_T", "_T", 1_000_000.0),
        ("AAA", 2025, "lfpr", "F", "_T", "_T", 99.0), ("AAA", 2025, "lfpr", "M", "_T", "_T", 1.0),  # after the year
        ("AAA", 2023, "unemployment_disability", "_T", "_T", "disability", 12.0),
        ("AAA", 2023, "unemployment_disability", "_T", "_T", "no_disability", 6.0),
    ]
    return pd.DataFrame(rows, columns=["unit", "year", "indicator", "sex", "age", "group", "value"])


def test_left_behind_direction_parity_and_age():
    lb = G.left_behind(lb_panel(), "AAA", year=2024)
    r = lb.rows.set_index("indicator")
    # homicide: lower is better; women 2 vs men 6 -> parity F/M 1/3, the men are behind
    h = r.loc["homicide_rate"]
    assert h["parity"] == pytest.approx(1 / 3) and h["behind"] == "men" and h["year"] == 2024 and h["age"] == 0
    assert np.isnan(h["ratio"]) and "parity F/M 0.33: men behind" in h["statement"]
    # labour force: higher is better; 50 vs 70 -> women behind; the 2025 numbers are after the year
    assert r.loc["lfpr", "parity"] == pytest.approx(50 / 70) and r.loc["lfpr", "behind"] == "women"
    # life expectancy 70 vs 69: parity 1.014 inside the 0.97-1.03 band -> neither
    le = r.loc["life_expectancy_sex"]
    assert le["parity"] == pytest.approx(70 / 69) and le["behind"] == "neither" and le["age"] == 1
    # seats: 20 % women -> parity 20/80
    assert r.loc["women_parliament", "parity"] == pytest.approx(0.25) and r.loc["women_parliament", "behind"] == "women"
    # disability: unemployment is lower-is-better; 12 vs 6 -> ratio 2, those with a disability behind
    d = r.loc["unemployment_disability"]
    assert d["ratio"] == pytest.approx(2.0) and d["behind"] == "with disability" and np.isnan(d["parity"])
    # per 1,000 and per 100,000 turned into people and deaths with the population of the year
    assert "about 5,000 people" in r.loc["refugees_hosted", "statement"]
    c = r.loc["conflict_deaths"]
    assert c["behind"] == "exposed" and "about 100 deaths" in c["statement"]
    # too old or absent -> listed with the reason, never shown
    m = lb.missing.set_index("indicator")
    assert "child_marriage" not in r.index and m.loc["child_marriage", "reason"] == \
        "latest 2010, older than the 10-year limit before 2024"
    assert "hdi_sex" not in r.index and "latest for women and men 2015, older than the 5-year limit" in \
        m.loc["hdi_sex", "reason"]
    assert "no data" in m.loc["idps", "reason"]
    assert any(s.startswith("Older people: no current data") for s in lb.summary)
    # furthest behind: goalposts from the current data (this unit only): disability 1;
    # men: lfpr 0, homicide 1, life expectancy 1 -> 2/3; women: 1, 0, 0 -> 1/3
    fb = lb.furthest
    assert fb["label"].tolist()[:3] == ["people with disabilities", "men and boys", "women and girls"]
    assert fb["mean_shortfall"].tolist()[:3] == pytest.approx([1.0, 2 / 3, 1 / 3])
    assert lb.summary[0].startswith("Furthest behind in AAA on data of 2024") and "people with disabilities" in lb.summary[0]
    json.dumps(lb.to_dict())  # JSON-ready
    with pytest.raises(HumsecError, match="'ZZZ': no data"):
        G.left_behind(lb_panel(), "ZZZ", year=2024)


def test_left_behind_release_ken(panel):
    """KEN on the release, against the raw observations."""
    lb = G.left_behind(panel, "KEN", year=2024)
    raw = panel.data[panel.data["unit"] == "KEN"]
    r = lb.rows.set_index(["indicator", "comparison"], drop=False)
    for code in ("homicide_rate", "lfpr", "life_expectancy_sex"):
        x = raw[(raw["indicator"] == code) & raw["sex"].isin(["F", "M"]) & (raw["year"] <= 2024)]
        y = int(x.groupby("year")["sex"].nunique().loc[lambda s: s == 2].index.max())
        v = x[x["year"] == y].set_index("sex")["value"]
        row = r.loc[(code, "women/men")]
        assert row["year"] == y and row["parity"] == pytest.approx(v["F"] / v["M"])
    # homicide of men is higher -> men behind; women's labour force participation lower -> women behind
    assert r.loc[("homicide_rate", "women/men"), "behind"] == "men"
    assert r.loc[("lfpr", "women/men"), "behind"] == "women"
    assert (lb.rows["age"] <= 10).all() and (lb.rows["year"] <= 2024).all()
    refugees = raw[(raw["indicator"] == "refugees_hosted") & (raw["year"] == 2024)]["value"].iloc[0]
    assert lb.rows.set_index("indicator").loc["refugees_hosted", "value"] == refugees
    assert {"women", "older", "disability", "displaced", "conflict"} <= set(lb.rows["section"])
