"""Trend and progress classification (open-sdg rule, SDR arrows) and dimension co-movement."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from humsec.analysis import threats as T
from humsec.analysis.trends import PROGRESS_LABELS, cagr, indicator_trends, progress_status, sdr_trend

# ---------------------------------------------------------------- CAGR


def test_cagr_by_hand():
    assert cagr(100, 121, 2015, 2017) == pytest.approx(0.10)
    assert cagr(50, 25, 2010, 2011) == pytest.approx(-0.5)
    assert cagr(5, 0, 2008, 2016) == pytest.approx(-1.0)  # a fall to zero is -100 %
    assert math.isnan(cagr(0, 5, 2008, 2016))
    assert math.isnan(cagr(1, 2, 2016, 2016))
    assert math.isnan(cagr(float("nan"), 2, 2000, 2001))


# ---------------------------------------------------------------- open-sdg, no target


@pytest.mark.parametrize("growth, expected", [
    (0.02, "on_track"),          # >= 1.5 %/year
    (0.0151, "on_track"),
    (0.01, "fair_progress"),     # 0.5-1.5 %
    (0.0051, "fair_progress"),
    (0.0049, "limited_progress"),
    (0.002, "limited_progress"),  # 0-0.5 %
    (0.0, "limited_progress"),
    (-0.001, "deterioration"),
])
def test_no_target_cutoffs(growth, expected):
    years = [2015, 2016, 2017, 2018, 2019, 2020]
    values = [100 * (1 + growth) ** (y - 2015) for y in years]
    r = progress_status(values, years)
    assert r.status == expected
    assert r.cagr_observed == pytest.approx(growth, abs=1e-12)
    # direction -1: the same series is the mirror image
    mirror = {"on_track": "deterioration", "fair_progress": "deterioration",
              "limited_progress": "deterioration" if growth > 0 else "limited_progress",
              "deterioration": "on_track" if -growth >= 0.015 else "limited_progress"}
    assert progress_status(values, years, direction=-1).status == mirror[expected]


def test_no_target_negative_direction_improvement():
    # mortality falling 3 % a year: on track; falling 1 %: fair progress
    assert progress_status([100, 97], [2015, 2016], direction=-1).status == "on_track"
    assert progress_status([100, 99], [2015, 2016], direction=-1).status == "fair_progress"


# ---------------------------------------------------------------- open-sdg, with target


def _series_with_ratio(ratio: float, *, y0=50.0, target=25.0, t0=2015, t1=2020):
    """A series whose observed CAGR is ``ratio`` times the CAGR needed to halve by 2030."""
    req = (target / y0) ** (1 / (2030 - t0)) - 1
    g = ratio * req
    return [y0, y0 * (1 + g) ** (t1 - t0)], [t0, t1]


@pytest.mark.parametrize("ratio, expected", [
    (1.2, "on_track"), (0.951, "on_track"), (0.94, "fair_progress"), (0.601, "fair_progress"),
    (0.59, "limited_progress"), (0.0, "limited_progress"), (-0.3, "deterioration"),
])
def test_target_ratio_thresholds(ratio, expected):
    v, y = _series_with_ratio(ratio)
    r = progress_status(v, y, direction=-1, target=25)
    assert r.status == expected
    assert r.ratio == pytest.approx(ratio, abs=1e-9)


def test_target_by_hand_and_achieved():
    # 50 -> 45 in 5 years; need 50 -> 25 in 15 years
    r = progress_status([50, 47, 45], [2015, 2017, 2020], direction=-1, target=25)
    g = (45 / 50) ** (1 / 5) - 1
    req = (25 / 50) ** (1 / 15) - 1
    assert r.cagr_observed == pytest.approx(g)
    assert r.cagr_required == pytest.approx(req)
    assert r.ratio == pytest.approx(-g / abs(req))
    assert r.status == "limited_progress"  # ratio 0.46
    assert progress_status([50, 24], [2015, 2020], direction=-1, target=25).status == "target_achieved"
    assert progress_status([60, 81], [2015, 2020], direction=1, target=80).status == "target_achieved"
    # base already beyond target, then lost it: deterioration, not "achieved"
    assert progress_status([20, 30], [2015, 2020], direction=-1, target=25).status == "deterioration"


def test_base_year_and_period_selection():
    years = [2005, 2010, 2015, 2018, 2025]
    values = [10, 10, 100, 121, 1]
    r = progress_status(values, years, base_year=2012, year=2020)
    assert (r.base_year, r.latest_year) == (2015, 2018)
    assert r.cagr_observed == pytest.approx(1.21 ** (1 / 3) - 1)
    assert progress_status([1, 2], [2015, 2016], base_year=2016).status == "insufficient_data"
    assert progress_status([np.nan, 2], [2015, 2016]).status == "insufficient_data"
    # a base value of 0 is replaced by 0.001 (Open SDG): growth 2 / 0.001 - 1 = 1999 a year
    r0 = progress_status([0, 2], [2015, 2016])
    assert r0.status == "on_track" and r0.cagr_observed == pytest.approx(1999.0) and "0.001" in r0.note
    assert progress_status([-1, 2], [2015, 2016]).status == "insufficient_data"


# ---------------------------------------------------------------- open-sdg edge cases


def test_target_of_zero_uses_the_0001_substitution():
    # homicides 4 -> 2 over 2015-2020 (lower is better), target 0 by 2030.
    # CAGR = 0.5 ** (1/5) - 1 = -12.94 %; required (0.001 / 4) ** (1/15) - 1 = -42.47 %;
    # R = 0.1294 / 0.4247 = 0.3048: limited progress (before: judged without target, on track)
    r = progress_status([4, 2], [2015, 2020], direction=-1, target=0)
    g, req = 0.5 ** 0.2 - 1, (0.001 / 4) ** (1 / 15) - 1
    assert r.cagr_required == pytest.approx(req) and r.ratio == pytest.approx(-g / abs(req))
    assert r.ratio == pytest.approx(0.3048, abs=1e-4) and r.status == "limited_progress"
    assert r.target == 0 and "target 0 replaced by 0.001" in r.note
    assert r.score == pytest.approx(-5 + 5 * (r.ratio + 0.6) / 1.2)          # -1.230
    # reaching 0 is achieving the target (judged on the value as given)
    assert progress_status([4, 0], [2015, 2020], direction=-1, target=0).status == "target_achieved"


def test_base_of_zero_uses_the_0001_substitution():
    # lower is better, no target: 0 -> 0.00095 over 5 years, base taken as 0.001:
    # CAGR = 0.95 ** 0.2 - 1 = -1.0206 %, d * CAGR = +1.0206 %: fair progress,
    # score = 2.5 * (0.010206 - 0.005) / 0.010 = 1.2765
    r = progress_status([0, 0.00095], [2015, 2020], direction=-1)
    assert r.cagr_observed == pytest.approx(0.95 ** 0.2 - 1)
    assert r.status == "fair_progress" and "base value 0 replaced by 0.001" in r.note
    assert r.score == pytest.approx(2.5 * ((1 - 0.95 ** 0.2) - 0.005) / 0.010)
    assert r.base_value == 0.0


def test_maintaining_achievement():
    # stunting-like (lower better), target 25: the base already met it and the latest still does
    r = progress_status([20, 22], [2015, 2020], direction=-1, target=25)
    assert r.status == "target_achieved" and r.score == 5.0
    assert "maintaining achievement" in r.note and r.cagr_observed == pytest.approx(1.1 ** 0.2 - 1)
    # reached only now: achieved, not "maintaining"
    r2 = progress_status([30, 24], [2015, 2020], direction=-1, target=25)
    assert r2.status == "target_achieved" and "maintaining" not in r2.note
    # a single observation at or beyond the target is achieved (no trend needed) ...
    one = progress_status([24], [2020], direction=-1, target=25)
    assert (one.status, one.latest_year, one.score) == ("target_achieved", 2020, 5.0)
    # ... one that is not cannot be judged
    assert progress_status([26], [2020], direction=-1, target=25).status == "insufficient_data"
    # base exactly at the target, then lost: required growth 0 -> deterioration, score -5
    lost = progress_status([80, 79], [2015, 2020], direction=1, target=80)
    assert (lost.status, lost.score, lost.cagr_required) == ("deterioration", -5.0, 0.0)


@pytest.mark.parametrize("value,with_target,score", [
    (-1.0, True, -5.0), (-0.6, True, -5.0), (0.0, True, -2.5), (0.3, True, -1.25), (0.6, True, 0.0),
    (0.95, True, 2.5), (1.3, True, 5.0), (2.0, True, 5.0),
    (-0.03, False, -5.0), (-0.02, False, -5.0), (-0.01, False, -3.75), (0.0, False, -2.5),
    (0.0025, False, -1.25), (0.005, False, 0.0), (0.01, False, 1.25), (0.015, False, 2.5),
    (0.0175, False, 3.75), (0.03, False, 5.0),
])
def test_progress_score_transformation(value, with_target, score):
    from humsec.analysis.trends import progress_score, status_from_score

    assert progress_score(value, with_target=with_target) == pytest.approx(score)
    assert progress_score(value, with_target=with_target, achieved=True) == 5.0
    # the category cut-offs fall on the score bands
    expected = (("on_track" if value >= 0.95 else "fair_progress" if value >= 0.6 else
                 "limited_progress" if value >= 0 else "deterioration") if with_target else
                ("on_track" if value >= 0.015 else "fair_progress" if value >= 0.005 else
                 "limited_progress" if value >= 0 else "deterioration"))
    assert status_from_score(score) == expected


def test_aggregate_progress_of_several_series():
    from humsec.analysis.trends import aggregate_progress

    # A: R = 1.30 exactly (score +5); B: no target, -1 %/yr (score -3.75); C: target achieved (+5)
    req = 2 ** (1 / 15) - 1                       # 100 -> 200 by 2030: 4.73 % a year
    a = progress_status([100, 100 * (1 + 1.3 * req) ** 5], [2015, 2020], target=200)
    assert a.ratio == pytest.approx(1.3) and a.score == pytest.approx(5.0)
    b = progress_status([100, 99], [2015, 2016])
    assert b.score == pytest.approx(-3.75)
    c = progress_status([20, 22], [2015, 2020], direction=-1, target=25)
    score, status = aggregate_progress([a, b, c])
    assert score == pytest.approx((5 - 3.75 + 5) / 3) and status == "fair_progress"   # 2.083
    assert aggregate_progress([a, b]) == (pytest.approx(0.625), "fair_progress")
    assert aggregate_progress([b, b, a]) == (pytest.approx(-2.5 / 3), "limited_progress")
    # target achieved only when every series achieved its target
    assert aggregate_progress([c, c]) == (5.0, "target_achieved")
    assert aggregate_progress([a, c])[1] == "on_track"
    # unassessed series are left out of the mean; none assessed -> no score
    none = progress_status([1], [2015])
    assert aggregate_progress([none, b])[0] == pytest.approx(-3.75)
    s, st = aggregate_progress([none])
    assert np.isnan(s) and st == "insufficient_data"


# ---------------------------------------------------------------- SDR arrows


def test_sdr_arrows_by_hand():
    # from 40 in 2015 the optimum 100 needs 4 points a year
    assert sdr_trend([40, 52], [2015, 2018], optimum=100).status == "on_track"          # 4/yr
    assert sdr_trend([40, 46], [2015, 2018], optimum=100).status == "moderately_improving"  # 2/yr = 50 %
    assert sdr_trend([40, 45], [2015, 2018], optimum=100).status == "stagnating"        # 1.67/yr
    assert sdr_trend([40, 40], [2015, 2018], optimum=100).status == "stagnating"
    assert sdr_trend([40, 39], [2015, 2018], optimum=100).status == "decreasing"
    t = sdr_trend([100, 100], [2015, 2018], optimum=100)
    assert t.status == "on_track" and t.arrow == "↑"                                     # maintaining
    # direction -1 (a mortality rate, optimum 25): 85 -> 73 in 3 years needs 4/yr: on track
    assert sdr_trend([85, 73], [2015, 2018], optimum=25, direction=-1).status == "on_track"
    assert sdr_trend([85, 90], [2015, 2018], optimum=25, direction=-1).arrow == "↓"
    assert sdr_trend([85], [2015], optimum=25).status == "insufficient_data"
    r = sdr_trend([40, 46], [2015, 2018], optimum=100)
    assert r.rate_observed == pytest.approx(2.0) and r.rate_required == pytest.approx(4.0)
    assert r.ratio == pytest.approx(0.5)


def test_direction_must_be_valid():
    with pytest.raises(ValueError):
        progress_status([1, 2], [2015, 2016], direction=0)


# ---------------------------------------------------------------- real series


def test_u5mr_progress_on_owid_series(shared_data):
    path = shared_data / "owid_grapher_2025" / "child-mortality" / "child-mortality.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    d = pd.read_csv(path)
    col = "Child mortality rate"  # deaths per 100 live births; SDG 3.2 target: 25 per 1000 = 2.5

    def status(code: str) -> str:
        s = d[d["Code"] == code]
        return progress_status(s[col], s["Year"], direction=-1, target=2.5, base_year=2015, year=2023).status

    # hand-computed: KEN 4.74 -> 3.99, ratio 0.51; ETH 6.49 -> 4.65, ratio 0.66;
    # SYR 3.70 -> 2.06 and NOR 0.27 -> 0.24 are below 2.5
    assert status("KEN") == "limited_progress"
    assert status("ETH") == "fair_progress"
    assert status("SYR") == "target_achieved"
    assert status("NOR") == "target_achieved"
    k = d[d["Code"] == "KEN"]
    t = sdr_trend(k[col], k["Year"], optimum=2.5, direction=-1, base_year=2015, year=2023)
    # linear: (4.74 - 3.99) / 8 = 0.094 a year vs (4.74 - 2.5) / 15 = 0.149 needed: 63 %
    assert t.status == "moderately_improving"
    assert t.ratio == pytest.approx(((4.74 - 3.99) / 8) / ((4.74 - 2.5) / 15))


def test_hdi_progress_without_target(published_data):
    path = published_data / "undp_hdr" / "HDR23-24_Composite_indices_complete_time_series.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    h = pd.read_csv(path, encoding="utf-8-sig", usecols=lambda c: c == "iso3" or c.startswith("hdi_2"))
    h = h.set_index("iso3")
    years = list(range(2015, 2023))

    def status(code: str) -> str:
        return progress_status([h.at[code, f"hdi_{y}"] for y in years], years).status

    # CAGR 2015-2022: KEN 0.575 -> 0.601 = +0.63 %/yr; NOR 0.952 -> 0.966 = +0.21 %;
    # UKR 0.764 -> 0.734 and VEN 0.766 -> 0.699 fell
    assert status("KEN") == "fair_progress"
    assert status("NOR") == "limited_progress"
    assert status("UKR") == "deterioration"
    assert status("VEN") == "deterioration"


# ---------------------------------------------------------------- co-movement


def _history(n_units=40, years=range(2008, 2017), seed=0, coupled=0.8):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_units):
        a = b = c = 50.0
        for y in years:
            shock = rng.normal()
            a += shock
            b += coupled * shock + rng.normal() * 0.5
            c += rng.normal()
            rows.append({"unit": f"U{u:02d}", "year": y, "a": a, "b": b, "c": c})
    return pd.DataFrame(rows).set_index(["unit", "year"])


def test_changes_annualised_over_gaps():
    h = pd.DataFrame({"unit": ["X", "X", "X"], "year": [2010, 2011, 2014], "a": [1.0, 3.0, 9.0]})
    ch = T.changes(h.set_index(["unit", "year"]))
    assert ch["a"].tolist() == [2.0, 2.0]
    assert list(ch.index.get_level_values(1)) == [2011, 2014]


def test_co_movement_finds_the_coupled_pair():
    h = _history()
    co = T.co_movement(h)
    same = co[co["lag"] == 0].set_index(["a", "b"])
    assert same.at[("a", "b"), "r"] > 0.6 and same.at[("a", "b"), "p"] < 1e-6
    assert abs(same.at[("a", "c"), "r"]) < 0.2
    assert same.at[("a", "b"), "n"] == 40 * 8
    lagged = co[co["lag"] == 1]
    assert len(lagged) == 6 and lagged["r"].abs().max() < 0.3
    # statements name the pair, never claim causation
    s = T.threat_statements(co, h, "U00", {"a": "Health security", "b": "Economic security"})
    assert s and "health security" in s[0] and "economic security" in s[0]
    assert not any("caus" in x for x in s)


def test_joint_declines():
    h = pd.DataFrame({"unit": ["X"] * 4, "year": [2010, 2011, 2012, 2013],
                      "a": [50, 45, 46, 40], "b": [50, 44, 47, 47]}).set_index(["unit", "year"])
    assert T.joint_declines(h, "X", "a", "b") == [2011]
    assert T.joint_declines(h, "X", "a", "b", lag=1) == []
    assert T.joint_declines(h, "Y", "a", "b") == []
    assert T.joint_declines(h.head(1), "X", "a", "b") == []  # one year: no change at all


# ---------------------------------------------------------------- on the data release


def test_indicator_trends_on_the_release(default_env):
    """Kenya's under-5 mortality in the release (UN IGME, to 2024): the trend of the HSI's
    u5mr is the open-sdg rule applied by hand to the raw panel numbers."""
    from humsec.analysis.assess import index_data
    from humsec.index.builtin import load_spec

    _, panel, _ = default_env
    spec = load_spec("hsi")
    t = indicator_trends(spec, index_data(panel, spec), "KEN", base_year=2015).set_index("indicator")
    raw = panel.filter(indicators=["u5mr"], units=["KEN"], totals_only=True).data.set_index("year")["value"]
    assert raw.index.max() == 2024
    row = t.loc["u5mr"]
    assert (row["base_year"], row["latest_year"]) == (2015, 2024)
    assert (row["base_value"], row["latest_value"]) == (raw[2015], raw[2024])
    target = spec.nodes["u5mr"].target
    assert target == 25 and raw[2024] > target  # not yet achieved
    obs = (raw[2024] / raw[2015]) ** (1 / 9) - 1
    req = (target / raw[2015]) ** (1 / (2030 - 2015)) - 1
    r = -obs / abs(req)  # lower is better
    want = ("on_track" if r >= 0.95 else "fair_progress" if r >= 0.60
            else "limited_progress" if r >= 0 else "deterioration")
    assert row["progress"] == want
    # every HSI indicator gets a row; an indicator without data in the period says so
    assert list(t.index) == spec.indicators
    assert set(t["progress"]) <= set(PROGRESS_LABELS)
