"""The Human Security Index spec, country assessments, variants and the ``assess`` CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from humsec.analysis import assess as A
from humsec.errors import HumsecError
from humsec.index.builtin import builtin_names, load_spec
from humsec.index.spec import IndexSpec
from humsec.model.catalogue import Catalogue
from humsec.model.panel import DIMENSIONS, Panel, Provenance

RUNS = 40


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The default panel built once into a temporary home (a few seconds)."""
    from humsec.data import service
    from humsec.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("hsi_home"), progress=False)
    panel, _ = service.current_panel(settings)
    return settings, panel, service.catalogue(settings)


@pytest.fixture(scope="module")
def assessment(env):
    _, panel, cat = env
    return A.assess(load_spec("hsi"), panel, catalogue=cat, runs=RUNS, seed=7)


# ---------------------------------------------------------------- helpers (independent of the engine)


def _raw(panel, spec) -> pd.DataFrame:
    """The panel's country totals of the spec's indicators, straight from the panel."""
    d = panel.filter(indicators=spec.indicators, totals_only=True).data
    return d.dropna(subset=["value"])[["unit", "year", "indicator", "value"]]


# ---------------------------------------------------------------- the spec

#: Indicators of the release that the HSI leaves out because a spec indicator already
#: counts the same thing (parts of it, another vintage, or its sex breakdown).
SAME_THING = {
    "u5mr": {"infant_mortality", "neonatal_mortality", "u5mr_sex"},
    "mmr": {"gii"},  # the GII contains the maternal mortality ratio and adolescent births
    "adolescent_births": {"gii"},
    "poverty_300": {"working_poverty"},
    "life_expectancy": {"life_expectancy_sex"},
    "conflict_deaths": {"state_based_deaths", "non_state_deaths"},
    "gdp_pc": {"gni_pc_ppp"},
}

#: Indicators the HSI files under another dimension than the catalogue (with the reason
#: in their rationale).
MOVED = {"political_stability": "political"}

#: What the issue asks each dimension to measure (at least these indicators).
MEANT = {
    "food": {"undernourishment", "food_insecurity", "stunting", "wasting"},
    "health": {"life_expectancy", "u5mr", "mmr", "dtp3"},
    "personal": {"homicide_rate", "conflict_deaths", "one_sided_deaths"},
    "community": {"refugees_origin", "idps", "child_marriage"},
    "political": {"voice_accountability", "electoral_democracy", "political_stability", "rule_of_law"},
    "economic": {"poverty_300", "unemployment", "social_protection", "gdp_pc"},
    "environmental": {"disaster_deaths", "disaster_affected", "water_basic", "sanitation_basic"},
}


def test_hsi_is_builtin_with_seven_dimensions_from_the_catalogue():
    assert "hsi" in builtin_names()
    spec = load_spec("hsi")
    cat = Catalogue.default()
    assert spec.root == "hsi"
    assert spec.children["hsi"] == list(DIMENSIONS)
    for code in spec.indicators:
        ind = cat[code]  # every indicator is a catalogue indicator ...
        assert spec.nodes[code].parent == MOVED.get(code, ind.dimension)  # ... in its own dimension
        assert spec.nodes[code].direction == ind.direction
        assert spec.nodes[code].goalposts is not None
        r = spec.nodes[code].rationale  # a written rationale per indicator: threat, source, goalposts
        assert len(r) > 80 and ("percentile" in r or "Optimum" in r or "optimum" in r), code
    for d in DIMENSIONS:
        assert len(spec.children[d]) >= 3, d  # no dimension rests on one or two numbers
        assert MEANT[d] <= set(spec.children[d]), d
        assert spec.nodes[d].rationale
    assert len(set(spec.indicators)) == len(spec.indicators)  # no indicator counted twice
    # the counts the description states are the spec's
    n = len(spec.indicators)
    need = int(np.ceil(0.6 * n))
    assert f"with {n} indicators" in spec.description
    assert f"({need} of {n}, step 'screen')" in spec.description
    for code, same in SAME_THING.items():
        assert code in spec.indicators and not same & set(spec.indicators), code
    # the two measures of political voice share one weight
    assert spec.nodes["voice_accountability"].weight == spec.nodes["electoral_democracy"].weight == 0.5
    # test-only (non-commercial) series never enter the shipped index
    assert not {"uhc_index", "pm25", "homicide_rate_modelled"} & set(spec.indicators)
    assert spec.uncertainty is not None
    text = " ".join((spec.description + " " + spec.source).split())
    for phrase in ("SDR", "HDR", "INFORM", "2.5th percentile", "geometric", "maximum data age"):
        assert phrase in text, phrase


def test_missing_data_policy_is_explicit_per_indicator():
    spec = load_spec("hsi")
    pol = A.data_policy(spec).set_index("indicator")
    assert set(pol.index) == set(spec.indicators)
    assert pol["max_age"].notna().all()  # no value of unlimited age stands in for the present
    assert pol["max_age"].max() <= 10
    survey = {"poverty_300", "social_protection", "wasting", "child_marriage", "homicide_rate"}
    assert (pol.loc[sorted(survey), "max_age"] == 10).all()
    annual = [c for c in spec.indicators if c not in survey and not c.startswith("disaster")]
    assert (pol.loc[annual, "max_age"] == 5).all()
    for c in ("disaster_deaths", "disaster_affected"):
        assert pol.at[c, "method"] == "window_mean" and pol.at[c, "window"] == 10
        assert pol.at[c, "exclude_years"] == (2020, 2021)
    # the uncertainty analysis makes the whole policy stricter or looser, never removes it
    u = spec.uncertainty["inputs"]
    ages = next(i for i in u if i["name"] == "max_age")
    assert ages["path"] == "steps.impute.params.age_scale" and 1.0 in ages["values"]
    stricter = A.data_policy(spec.with_changes({"steps.impute.params.age_scale": min(ages["values"])}))
    assert (stricter.set_index("indicator").loc[annual, "max_age"] >= 4).all()  # MMR (2020) survives


def test_aggregation_does_not_let_a_catastrophe_vanish():
    """The description's worked examples, recomputed with the registry's kernels."""
    from humsec.index.methods.aggregate import arithmetic, geometric

    spec = load_spec("hsi")
    agg = spec.steps[spec.step_index("aggregate")]
    assert agg.method == "arithmetic"  # within dimensions ...
    assert agg.overrides["hsi"].method == "geometric"  # ... geometric across them
    assert agg.overrides["hsi"].params == {"floor": 1, "min_children": 7}
    assert agg.overrides["personal"].method == "geometric"  # distinct ways of being killed
    assert set(agg.overrides) == {"hsi", "personal"}
    text = " ".join(spec.description.split())
    personal = np.array([[0.0, 100.0, 100.0]])
    g = geometric(personal, np.ones(3), floor=1)[0]
    m = arithmetic(personal, np.ones(3))[0]
    assert f"personal security is {g:.1f} by the geometric mean and {m:.1f}" in text
    seven = np.array([[10.0] + [90.0] * 6])
    g7, m7 = geometric(seven, np.ones(7), floor=1)[0], arithmetic(seven, np.ones(7))[0]
    assert f"score of {g7:.1f} instead of {m7:.1f}" in text
    assert g < m and g7 < m7
    # the alternative is kept as an uncertainty input
    alt = next(i for i in spec.uncertainty["inputs"] if i["name"] == "aggregation")
    assert [v["method"] for v in alt["values"]] == ["arithmetic", "arithmetic", "geometric"]
    assert alt["values"][0]["overrides"] == {k: v.model_dump() for k, v in agg.overrides.items()}
    assert alt["values"][1]["overrides"] == {"hsi": {"params": {"min_children": 7}}}  # no geometric left
    # the reason the other dimensions average arithmetically: one indicator at its bound
    one_zero = np.array([[0.0, 100.0, 100.0, 100.0, 100.0]])
    assert geometric(one_zero, np.ones(5), floor=1)[0] == pytest.approx(100 * 0.01 ** 0.2)  # -60 %
    assert "cut a whole dimension by 60 %" in text


def test_spec_yaml_round_trip_and_variant():
    spec = load_spec("hsi")
    again = IndexSpec.from_yaml(spec.to_yaml())
    assert again == spec
    variant = spec.with_changes({"tree.political.weight": 3.0, "name": "hsi_national"})
    assert variant != spec
    assert variant.nodes["political"].weight == 3.0
    assert IndexSpec.from_yaml(variant.to_yaml()) == variant
    ch = A.weight_changes(spec, variant)
    assert ch.to_dict("records") == [{"node": "political", "change": "weight: 1.0 -> 3.0"}]


#: Bounds that are documented optima (SDG targets, HDR goalposts, ends of a harm), not
#: percentiles: (code, side) -> value. Side 0 = lower goalpost, 1 = upper.
DOCUMENTED = {
    ("gdp_pc", 0): 100, ("life_expectancy", 1): 85, ("u5mr", 0): 25, ("mmr", 0): 70,
    ("inflation", 0): 2, ("water_stress", 0): 25, ("water_basic", 1): 100, ("sanitation_basic", 1): 100,
    ("poverty_300", 0): 0, ("tb_incidence", 0): 0, ("homicide_rate", 0): 0,
    ("conflict_deaths", 0): 0, ("one_sided_deaths", 0): 0, ("refugees_origin", 0): 0, ("idps", 0): 0,
    ("child_marriage", 0): 0, ("social_protection", 1): 100, ("food_supply", 1): 3000,
    ("disaster_deaths", 0): 0, ("disaster_affected", 0): 0,
}


def test_goalposts_are_the_documented_percentiles(env):
    """Every bound is the 2.5th (worst side) or 97.5th (best side) percentile of the pooled
    observations since 1990 (for the disaster means: of the 10-year means since 2014), or
    one of the optima the description names."""
    _, panel, _ = env
    spec = load_spec("hsi")
    d = _raw(panel, spec)
    d = d[d["year"] >= 1990]
    for code in spec.indicators:
        node = spec.nodes[code]
        v = d.loc[d["indicator"] == code, "value"]
        if code.startswith("disaster"):
            # 10-year means without 2020-2021, computed here by hand
            x = d[(d["indicator"] == code) & ~d["year"].isin([2020, 2021])]
            means = [x[(x["unit"] == u) & (x["year"] > y - 10) & (x["year"] <= y)]["value"].mean()
                     for u in x["unit"].unique() for y in range(2014, 2025)]
            v = pd.Series(means).dropna()
        assert len(v) > 100, code
        for side, q in ((0, 2.5), (1, 97.5)):
            got = node.goalposts[side]
            if (code, side) in DOCUMENTED:
                assert got == DOCUMENTED[(code, side)], (code, side)
                continue
            assert got == pytest.approx(np.percentile(v, q), rel=0.01, abs=0.05), (code, side)
    # the documented optima are where the percentile rule would be wrong or is no better
    infl = d.loc[d["indicator"] == "inflation", "value"]
    assert np.percentile(infl, 2.5) < 0  # the percentile rule would make deflation the optimum
    le = d.loc[d["indicator"] == "life_expectancy", "value"]
    assert np.percentile(le, 97.5) < 85 < le.max()
    kcal = d.loc[d["indicator"] == "food_supply", "value"]
    assert np.percentile(kcal, 97.5) > 3500  # the percentile would reward overconsumption
    for code in ("poverty_300", "homicide_rate", "conflict_deaths", "idps", "refugees_origin"):
        assert np.percentile(d.loc[d["indicator"] == code, "value"], 2.5) == 0, code


def test_description_numbers_hold_on_the_release(env):
    _, panel, _ = env
    spec = load_spec("hsi")
    d = _raw(panel, spec)
    w = d[d["year"] == 2023].pivot_table(index="unit", columns="indicator", values="value")
    r = w["voice_accountability"].corr(w["electoral_democracy"])
    assert round(r, 2) == 0.95  # "r = 0.95"
    assert "74,900" in spec.description and spec.nodes["gdp_pc"].goalposts[1] == 74900
    # why 2020-2021 are left out of the disaster means: the Sendai series jumps with COVID-19
    dd = panel.filter(indicators=["disaster_deaths"], totals_only=True).data
    med = dd.groupby("year")["value"].median()
    assert med.loc[[2020, 2021]].min() > 3 * med.loc[2015:2019].max()
    # Israel and Palestine share UCDP's location: the same rate, from the combined population
    cd = panel.filter(indicators=["conflict_deaths"], units=["ISR", "PSE"], years=[2024],
                      totals_only=True).data.set_index("unit")["value"]
    assert cd["ISR"] == pytest.approx(cd["PSE"]) and cd["PSE"] > 100


# ---------------------------------------------------------------- assessment

#: Countries at war in 2024 (UCDP: at least 1,000 deaths in organised violence).
AT_WAR = ["UKR", "SDN", "MMR", "COD", "BFA", "PSE", "SOM", "SYR", "MLI", "NGA", "ETH", "SSD"]
#: Countries with an inter-agency humanitarian (needs and) response plan in OCHA's Global
#: Humanitarian Overview 2025.
HRP = ["AFG", "BFA", "CMR", "CAF", "TCD", "COL", "COD", "SLV", "ETH", "GTM", "HTI", "HND", "MLI", "MOZ",
       "MMR", "NER", "NGA", "PSE", "SOM", "SSD", "SDN", "SYR", "UKR", "VEN", "YEM"]
#: Maximum data age of the policy, stated here independently of the engine.
SURVEY = {"poverty_300": 10, "social_protection": 10, "wasting": 10, "child_marriage": 10, "homicide_rate": 10}


def _available_by_hand(panel, spec, year):
    """units x indicators: True where the documented policy gives a number."""
    d = _raw(panel, spec)
    out = {}
    for code in spec.indicators:
        x = d[d["indicator"] == code]
        if code.startswith("disaster"):
            x = x[(x["year"] > year - 10) & (x["year"] <= year) & ~x["year"].isin([2020, 2021])]
        else:
            x = x[(x["year"] <= year) & (x["year"] >= year - SURVEY.get(code, 5))]
        out[code] = pd.Series(True, index=sorted(x["unit"].unique()))
    return pd.DataFrame(out).fillna(False).astype(bool)


def test_assessment_of_every_country(env, assessment):
    from humsec.data.countries import CountryRegistry

    _, panel, _ = env
    a = assessment
    # the default year: the latest with enough data, computed by the documented rule
    cov = A.coverage_by_year(a.spec, A.index_data(panel, a.spec))
    ok = cov[(cov["ranked"] >= 0.95 * cov["ranked"].max()) & (cov["fresh_share"] >= 0.5)]
    assert a.year == ok["year"].max() >= 2023
    assert cov.set_index("year").at[a.year, "ranked"] == len(a.units)
    later = A.coverage_by_year(a.spec, A.index_data(panel, a.spec), [a.year + 1])
    assert later["fresh_share"].iloc[0] < 0.5  # the next year would be carried forward
    rk = a.ranking()
    reg = CountryRegistry.default()
    assert len(set(rk["unit"]) & reg.un_members) >= 185  # the target
    assert set(reg.members("APPF")) <= set(rk["unit"])  # all 27 APPF members
    assert len(reg.members("APPF")) == 27
    assert set(HRP) <= set(rk["unit"]), sorted(set(HRP) - set(rk["unit"]))
    assert rk["rank"].tolist() == sorted(rk["rank"].tolist())
    assert rk["score"].between(0, 100).all()
    assert (rk["rank_q05"] <= rk["rank_q95"]).all()
    # the intervals are over method alternatives, so the nominal rank may lie outside one,
    # but for most countries it is inside
    inside = (rk["rank_q05"] <= rk["rank"] + 1e-9) & (rk["rank"] <= rk["rank_q95"] + 1e-9)
    assert inside.mean() > 0.8
    assert (rk["rank_q95"] > rk["rank_q05"]).any()  # the uncertainty analysis moved something
    # sanity of the content: Nordic countries near the top, countries at war near the bottom
    top = set(rk.head(15)["unit"])
    bottom = set(rk.tail(20)["unit"])
    assert {"NOR", "DNK", "ISL"} <= top
    assert len(set(AT_WAR) & bottom) >= 6
    assert set(rk.tail(5)["unit"]) <= {"CAF", "SSD", "SOM", "COD", "SDN", "HTI", "BFA", "AFG", "YEM", "SYR"}
    # a dimension below 25 is flagged whatever the mean says
    sev = rk.set_index("unit")["severe"]
    assert "personal" in sev["UKR"] and sev["NOR"] == ""
    for u in a.units[::10]:
        c = a.country(u)
        assert c.unit == u and c.n_ranked == len(rk)
        assert len(c.dimensions) == 7 and len(c.threats) == 3
        assert c.threats["score"].is_monotonic_increasing
        assert c.threats["score"].iloc[0] == pytest.approx(c.dimensions["score"].min())
        assert (c.dimensions["severe"] == (c.dimensions["score"] < 25)).all()
        assert 0.6 - 1e-9 <= c.coverage <= 1


def test_war_is_a_threat_to_personal_security(env, assessment):
    """Countries at war score in the bottom quarter of personal security; those where
    organised violence killed at least 10 in 100,000 people that year (UCDP, computed here
    from the raw panel) in the bottom tenth."""
    _, panel, _ = env
    a = assessment
    p = a.result.scores["personal"].dropna()
    assert set(AT_WAR) <= set(p.index)
    assert (p[AT_WAR] < p.quantile(0.25)).all(), p[AT_WAR].to_dict()
    deaths = panel.filter(indicators=["conflict_deaths"], years=[a.year], totals_only=True).data
    wars = sorted(set(deaths.loc[deaths["value"] >= 10, "unit"]) & set(p.index))
    assert len(wars) >= 5 and "PSE" in wars  # Gaza counts for Palestine too
    assert (p[wars] <= p.quantile(0.10)).all(), p[wars].to_dict()
    # extreme homicide does not vanish in an average (the 2016 HSI gave El Salvador 75)
    hom = a.result.scores["homicide_rate"]
    assert hom["JAM"] < 30 and p["JAM"] < p.quantile(0.10)
    # ... and peaceful Nordic countries are well above the median
    assert (p[["NOR", "FIN", "DNK", "ISL"]] > p.median()).all()


def test_who_is_scored_follows_the_coverage_rule(env, assessment):
    """Ranked iff numbers for at least 60 % of the indicators under the documented maximum
    ages and at least one in every dimension; every other UN member is listed as not
    ranked, with what it lacks."""
    from humsec.data.countries import CountryRegistry

    _, panel, _ = env
    a = assessment
    spec = a.spec
    av = _available_by_hand(panel, spec, a.year)
    n_ok = av.sum(axis=1) >= np.ceil(0.6 * len(spec.indicators))
    dims_ok = pd.concat([av[spec.children[d]].any(axis=1) for d in spec.children["hsi"]], axis=1).all(axis=1)
    assert set(a.units) == set(av.index[n_ok & dims_ok])
    reg = CountryRegistry.default()
    nr = a.not_ranked()
    assert set(nr["unit"]) == reg.un_members - set(a.units)
    assert set(nr["unit"]) | (set(a.units) & reg.un_members) == reg.un_members
    row = nr.set_index("unit").loc["ERI"]
    lacks = [c for c in spec.indicators if not av.at["ERI", c]]
    assert row["missing_indicators"] == "; ".join(lacks) and row["available"] == len(spec.indicators) - len(lacks)
    assert f"{row['available']} of {len(spec.indicators)} indicators" in row["reason"]
    plw = nr.set_index("unit").loc["PLW"]  # enough numbers, but none on food
    assert plw["missing_dimensions"] == "food" and "food security" in plw["reason"]
    assert {"AFG", "SOM", "SSD", "PRK", "PSE", "FSM", "MHL", "TUV"} <= set(a.units)


def _gmean(scores, weights, floor=1.0):
    s = np.maximum(np.asarray(scores, float), floor)
    w = np.asarray(weights, float)
    return float(np.exp(np.sum(w * np.log(s)) / w.sum()))


def test_country_scores_are_means_of_normalised_goalposts(assessment):
    """Recompute Kenya's HSI by hand from the raw numbers, goalposts and weights."""
    a = assessment
    spec = a.spec
    c = a.country("ken")
    assert c.unit == "KEN" and c.name == "Kenya"
    ind = c.indicators.set_index("indicator")
    dims = {}
    for d in spec.children["hsi"]:
        sc, wt = [], []
        for code in spec.children[d]:
            v = ind.at[code, "value"]
            if np.isnan(v):
                continue
            node = spec.nodes[code]
            lo, hi = node.goalposts
            x, lo_, hi_ = (np.log(v), np.log(lo), np.log(hi)) if node.log else (v, lo, hi)
            s = (x - lo_) / (hi_ - lo_) if node.direction == 1 else (hi_ - x) / (hi_ - lo_)
            s = 100 * min(max(s, 0.0), 1.0)
            assert ind.at[code, "score"] == pytest.approx(s)
            sc.append(s)
            wt.append(node.weight)
        # arithmetic within dimensions, geometric within personal security
        dims[d] = _gmean(sc, wt) if d == "personal" else float(np.dot(sc, wt) / np.sum(wt))
    got = c.dimensions.set_index("dimension")["score"]
    for d, v in dims.items():
        assert got[d] == pytest.approx(v)
    assert c.score == pytest.approx(_gmean(list(dims.values()), np.ones(7)))


def test_vintage_and_provenance_of_every_number(env, assessment):
    _, panel, _ = env
    a = assessment
    c = a.country("KEN")
    have = c.indicators.dropna(subset=["value"])
    assert (have["observed"] <= a.year).all()
    assert (have["age"] == a.year - have["observed"]).all()
    limit = have["indicator"].map(lambda k: SURVEY.get(k, 9 if k.startswith("disaster") else 5))
    assert (have["age"] <= limit).all()  # the policy's maximum ages
    assert set(have["how"]) <= {"observed", "carried forward", "one year in the window"} | {f"mean of {n} years" for n in range(2, 11)}
    assert (have["source"] != "").all() and (have["licence"] != "").all()
    raw = panel.filter(indicators=["u5mr"], units=["KEN"], totals_only=True).data
    assert raw["year"].max() == 2024
    row = have.set_index("indicator").loc["u5mr"]
    assert row["observed"] == a.year and row["how"] == "observed"
    assert row["value"] == raw.set_index("year").at[a.year, "value"]
    # disasters: the mean of the 10-year window without 2020-2021, recomputed here
    dd = panel.filter(indicators=["disaster_deaths"], units=["KEN"], totals_only=True).data
    dd = dd[(dd["year"] > a.year - 10) & (dd["year"] <= a.year) & ~dd["year"].isin([2020, 2021])]
    drow = have.set_index("indicator").loc["disaster_deaths"]
    assert drow["value"] == pytest.approx(dd["value"].mean())
    assert drow["how"] == f"mean of {len(dd)} years" and drow["observed"] == dd["year"].max()
    panel_prov = a.provenance["u5mr"]
    assert isinstance(panel_prov, Provenance) and panel_prov.content_hash
    assert "UN IGME" in Catalogue.default()["u5mr"].notes
    cov = a.coverage().set_index("indicator")
    assert set(cov.index) == set(a.spec.indicators)
    assert cov.at["rule_of_law", "newest"] == 2023  # WGI 2024 revision: data to 2023
    assert cov.at["mmr", "newest"] == 2020  # MMEIG 2023 release: data to 2020
    assert (cov["max_age_used"] <= cov["max_age_allowed"]).all()


def test_unscored_and_unknown_countries_are_clear_errors(env, assessment):
    nr = assessment.not_ranked().set_index("unit")
    k = len(assessment.spec.indicators)
    with pytest.raises(HumsecError, match=f"no HSI score for {assessment.year}: {nr.at['ERI', 'available']} of {k} "):
        assessment.country("ERI")
    with pytest.raises(HumsecError, match="unknown"):
        assessment.country("XQZ")


def test_assessment_is_reproducible_with_its_seed(env, assessment):
    _, panel, cat = env
    again = A.assess(load_spec("hsi"), panel, catalogue=cat, runs=RUNS, seed=7)
    pd.testing.assert_frame_equal(again.intervals, assessment.intervals)
    other = A.assess(load_spec("hsi"), panel, catalogue=cat, runs=RUNS, seed=8)
    assert not other.intervals["rank_q95"].equals(assessment.intervals["rank_q95"])


def test_history_uses_fixed_goalposts(env, assessment):
    _, panel, _ = env
    spec = load_spec("hsi")
    y = assessment.year
    h = A.history(spec, A.index_data(panel, spec), [2010, y])
    now = h.xs(y, level=1)["hsi"]
    pd.testing.assert_series_equal(now.sort_index(), assessment.result.scores["hsi"].dropna().sort_index(),
                                   check_names=False)
    assert set(h.index.get_level_values(1)) == {2010, y}


def test_compare_variant_with_global(env, assessment):
    _, panel, cat = env
    variant_spec = assessment.spec.with_changes({"tree.political.weight": 3.0, "name": "hsi_pol3"})
    v = A.assess(variant_spec, panel, catalogue=cat, runs=0)
    table = A.compare(assessment, v)
    assert {"score_hsi", "rank_hsi", "score_hsi_pol3", "rank_hsi_pol3", "rank_change"} <= set(table.columns)
    assert len(table) == len(assessment.units)
    ken = table.set_index("unit").loc["KEN"]
    c = v.country("KEN")
    w = np.array([1, 1, 1, 1, 1, 1, 3.0])
    assert ken["score_hsi_pol3"] == pytest.approx(_gmean(c.dimensions["score"], w))
    assert (table["rank_change"] != 0).any()
    assert (table["rank_change"] == table["rank_hsi"] - table["rank_hsi_pol3"]).all()


def test_assess_on_a_small_custom_panel():
    """The assessment works on any panel, not only the default one."""
    spec = IndexSpec.from_yaml("""
spec_version: 1
name: tiny
tree:
  - {code: top}
  - {code: x, parent: top, goalposts: [0, 10]}
  - {code: y, parent: top, goalposts: [0, 10], direction: -1}
steps:
  - {step: normalise, method: goalposts, params: {scale: 100, cap: true, floor: true}}
  - {step: aggregate, method: arithmetic}
""")
    rows = [{"unit": u, "year": 2020, "indicator": k, "value": v}
            for u, (x, y) in {"KEN": (5, 5), "NOR": (9, 1), "USA": (7, 8)}.items()
            for k, v in (("x", x), ("y", y))]
    panel = Panel(pd.DataFrame(rows))
    a = A.assess(spec, panel, runs=0)
    assert a.units == ["NOR", "KEN", "USA"]
    assert a.country("NOR").score == pytest.approx(90.0)
    assert np.isnan(a.country("NOR").rank_interval[0])
    with pytest.raises(HumsecError, match="no observations in 2019"):
        A.assess(spec, panel, year=2019, runs=0)


# ---------------------------------------------------------------- CLI


def _run(settings, *args):
    from humsec.cli.main import main

    return main(["--home", str(settings.home), *args])


def test_cli_ranking_country_and_errors(env, assessment, capsys):
    settings, panel, _ = env
    unscored = "ERI"
    assert unscored in set(assessment.not_ranked()["unit"])
    assert _run(settings, "assess", "--format", "csv", "--runs", "10") == 0
    out = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert {"rank", "unit", "score", "rank_q05", "rank_q95", "economic", "political"} <= set(out.columns)
    assert out["rank"].iloc[0] == 1 and len(out) == len(assessment.units)
    assert _run(settings, "assess", "KEN", "--format", "json", "--runs", "10") == 0
    d = json.loads(capsys.readouterr().out)
    assert d["unit"] == "KEN" and len(d["dimensions"]) == 7 and len(d["threats"]) == 3
    assert d["rank_interval"][0] <= d["rank_interval"][1] and 1 <= d["rank"] <= d["n_ranked"]
    assert _run(settings, "assess", "KEN", "--runs", "0") == 0
    text = capsys.readouterr().out
    assert "Kenya" in text and "main threats" in text
    assert _run(settings, "assess", unscored) == 2
    assert "no HSI score" in capsys.readouterr().err
    assert _run(settings, "assess", "--format", "xml") == 2
    assert "--format 'xml'" in capsys.readouterr().err


def test_cli_export_edit_compare(env, tmp_path, capsys):
    settings, _, _ = env
    f = tmp_path / "my_hsi.yaml"
    assert _run(settings, "assess", "--export-spec", str(f)) == 0
    assert IndexSpec.from_file(f) == load_spec("hsi")
    d = yaml.safe_load(f.read_text())
    for n in d["tree"]:
        if n["code"] == "health":
            n["weight"] = 2.5
    d["name"] = "national"
    f.write_text(yaml.safe_dump(d, sort_keys=False))
    capsys.readouterr()
    assert _run(settings, "assess", "--spec", str(f), "--compare", "--format", "json") == 0
    d = json.loads(capsys.readouterr().out)
    assert d["base"] == "hsi" and d["variant"] == "national"
    assert d["changes"] == [{"node": "health", "change": "weight: 1.0 -> 2.5"}]
    row = next(r for r in d["countries"] if r["unit"] == "KEN")
    assert row["score_hsi"] != row["score_national"]
    assert _run(settings, "assess", "--compare") == 2  # no variant given
    assert "needs a variant" in capsys.readouterr().err


def test_score_bands_stay_on_the_index_scale_and_no_run_fails(env):
    """Rank intervals cover every run; score bands only the runs on the goalpost scale
    (percentile-rank runs give scores on another scale). Before social-protection data
    exist (2010) the percentile runs must not fail on that all-missing indicator."""
    from humsec.index.uncertainty import UncertaintySpec, uncertainty_analysis

    panel, spec = env[1], load_spec("hsi")
    data = A.index_data(panel, spec)
    for year in (2010, 2024):
        a = A.assess(spec, panel, year=year, runs=40, seed=7, data=data)
        assert a.n_failed == 0, year
        u = UncertaintySpec.from_dict(spec.uncertainty, file="hsi")
        ua = uncertainty_analysis(spec, data, u, n=40, seed=7, year=year)
        keep = (ua.runs["normalisation"] == "goalposts").to_numpy()
        assert 0 < keep.sum() < len(keep)
        iv = a.intervals.set_index(["unit", "node"])
        S = ua.run_scores("hsi")
        ken = iv.loc[("KEN", "hsi")]
        assert ken["score_q05"] == pytest.approx(np.nanquantile(S["KEN"].to_numpy()[keep], 0.05))
        assert ken["n_score_runs"] == keep.sum() and ken["n_runs"] == len(keep)
        # the rank interval still reflects all runs, including the percentile ones
        assert ken["rank_q05"] <= ken["nominal_rank"] <= ken["rank_q95"]
        # on one scale the band holds the nominal score for nearly every country
        root = a.intervals[a.intervals["node"] == "hsi"].dropna(subset=["score_q05"])
        inside = (root["score_q05"] <= root["nominal_score"] + 1e-9) & (root["nominal_score"] <= root["score_q95"] + 1e-9)
        assert inside.mean() > 0.9, year
