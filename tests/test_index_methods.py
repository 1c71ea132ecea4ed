"""Method kernels of the index engine (humsec.index.methods): every registered method on
small hand-computed cases, the COINr treatment rule, type-2 skew/kurtosis, and the ASEM
winsorise-vs-log decisions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from humsec.errors import HumsecError
from humsec.index.methods import (AGGREGATE, DENOMINATE, IMPUTE, NORMALISE, SCREEN, panel_methods,
                                  TREAT, WEIGHT, TreatResult, coverage, kurt, rank_desc, skew)
from humsec.index.methods.treat import log_ct

# Methods registered by humsec.index.extra_methods (and humsec.index.methods_coinr, #24)
# into the shared registries.
EXTRA = {"normalise": {"identity", "n_scaled", "n_dist2ref", "n_dist2max"},
         "aggregate": {"ratio", "hdr_geometric", "hdr_gii", "hdr_ihdi"},
         "treat": {"log_CT_plus", "log_CT_orig", "log_GII", "coinr_f2"},
         "impute": {"impute_panel"}}

EXPECTED = {
    DENOMINATE: {"ratio"},
    SCREEN: {"availability"},
    IMPUTE: {"none", "mean", "median", "group_mean", "group_median", "em", "regression", "locf", "window_mean"},
    TREAT: {"coinr", "winsorise", "log", "log_ct", "boxcox", "none"},
    NORMALISE: {"minmax", "goalposts", "zscore", "rank", "percentile", "prank", "borda", "fracmax",
                "distance_to_target", "sdr", "none"},
    WEIGHT: {"explicit", "equal", "pca", "optimised"},
    AGGREGATE: {"arithmetic", "geometric", "harmonic", "generalised", "mazziotta_pareto", "copeland"},
}


def call(reg, name, *args, ctx=None, **params):
    """Validate ``params`` like the pipeline, then call with the context keywords ``ctx``."""
    m = reg.get(name)
    p = m.validate_params(params)
    return m.fn(*args, **(ctx or {}), **p)


# ----------------------------------------------------------------------------- registries


@pytest.mark.parametrize("reg", list(EXPECTED), ids=lambda r: r.family)
def test_registries_hold_the_documented_methods(reg):
    assert set(reg.names()) - EXTRA.get(reg.family, set()) == EXPECTED[reg]
    for name in EXPECTED[reg]:
        m = reg.get(name)
        assert m.summary, f"{reg.family}.{name} has no docstring summary"
        assert m.params.model_config.get("extra") == "forbid"
        with pytest.raises(HumsecError):
            m.validate_params({"surely_not_a_param": 1})


def test_unknown_method_suggests():
    with pytest.raises(HumsecError, match="minmax"):
        NORMALISE.get("minmaxx")


def test_param_validation_ranges():
    for reg, name, bad in [
        (TREAT, "coinr", {"winmax": -1}),
        (TREAT, "coinr", {"winmax": None, "force_win": True}),
        (NORMALISE, "minmax", {"lo": 5, "hi": 1}),
        (NORMALISE, "zscore", {"sd": 0}),
        (NORMALISE, "goalposts", {"lo": 10, "hi": 1}),
        (NORMALISE, "sdr", {"lower_percentile": 60}),
        (SCREEN, "availability", {"min_availability": 1.5}),
        (SCREEN, "availability", {"force_include": ["A"], "force_exclude": ["A"]}),
        (AGGREGATE, "mazziotta_pareto", {"penalty": 2}),
        (AGGREGATE, "arithmetic", {"min_share": 0}),
        (IMPUTE, "locf", {"max_gap": 0}),
        (WEIGHT, "optimised", {"target": [-1, 2]}),
        (DENOMINATE, "ratio", {"scale": 0}),
    ]:
        with pytest.raises(HumsecError):
            reg.get(name).validate_params(bad)
    # group is required by the group imputations
    with pytest.raises(HumsecError, match="group"):
        IMPUTE.get("group_mean").validate_params({})


# ----------------------------------------------------------------------------- denominate


def test_ratio():
    x = pd.Series([10.0, 20.0, np.nan], index=["A", "B", "C"])
    d = pd.Series([2.0, 4.0, 5.0], index=["A", "B", "C"])
    out = call(DENOMINATE, "ratio", x, d, scale=100)
    assert out.tolist()[:2] == [500.0, 500.0] and math.isnan(out["C"])  # NaN propagates
    d0 = pd.Series([2.0, 0.0, 5.0], index=["A", "B", "C"], name="Population")
    with pytest.raises(HumsecError, match=r"Population.*B"):
        DENOMINATE.get("ratio").fn(x, d0, code="Goods")


# ----------------------------------------------------------------------------- screen


def test_availability_threshold_is_inclusive():
    f = pd.DataFrame({"a": [1, 1, 1, np.nan], "b": [1, 1, np.nan, np.nan],
                      "c": [1, 1, 1, np.nan], "d": [1, np.nan, np.nan, 1]},
                     index=["A", "B", "C", "D"], dtype=float)
    # shares: A 1.0, B 0.75, C 0.5, D 0.25
    keep = call(SCREEN, "availability", f, min_availability=0.75)
    assert keep.tolist() == [True, True, False, False]  # 0.75 >= 0.75 is kept (COINr: < drops)
    keep = call(SCREEN, "availability", f, min_availability=0.5, force_include=["D"], force_exclude=["A"])
    assert keep.to_dict() == {"A": False, "B": True, "C": True, "D": True}
    assert call(SCREEN, "availability", f).tolist() == [True, True, False, False]  # default 0.66
    with pytest.raises(HumsecError, match="ZZZ"):
        call(SCREEN, "availability", f, force_include=["ZZZ"])
    cov = coverage(f, 0.66)
    assert cov["n_available"].tolist() == [4, 3, 2, 1]
    assert cov["share"].tolist() == [1.0, 0.75, 0.5, 0.25]
    assert cov["flag"].tolist() == [False, False, True, True]


def test_availability_byzeros():
    f = pd.DataFrame({"a": [0.0, 1.0], "b": [0.0, 0.0], "c": [0.0, 2.0]}, index=["A", "B"])
    keep = call(SCREEN, "availability", f, unit_screen="byzeros", min_nonzero=0.5)
    assert keep.tolist() == [False, True]  # A: 0 % non-zero; B: 2/3


# ----------------------------------------------------------------------------- impute


@pytest.fixture()
def gframe():
    f = pd.DataFrame({"x": [1.0, 3.0, np.nan, 10.0, np.nan, np.nan, np.nan],
                      "y": [2.0, np.nan, 4.0, 5.0, 7.0, np.nan, 1.0]},
                     index=list("ABCDEFG"))
    groups = pd.Series({"A": "g1", "B": "g1", "C": "g1", "D": "g2", "E": "g2", "F": "g3", "G": None})
    return f, groups


def test_simple_imputations(gframe):
    f, _ = gframe
    m = call(IMPUTE, "mean", f)
    assert m.loc["C", "x"] == pytest.approx((1 + 3 + 10) / 3)
    assert m.loc["B", "y"] == pytest.approx((2 + 4 + 5 + 7 + 1) / 5)
    md = call(IMPUTE, "median", f)
    assert md.loc["C", "x"] == 3.0 and md.loc["B", "y"] == 4.0
    assert call(IMPUTE, "none", f).equals(f)
    # observed values never change
    assert (m[f.notna()] == f[f.notna()]).sum().sum() == f.notna().sum().sum()


def test_group_mean_and_median(gframe):
    f, g = gframe
    out = call(IMPUTE, "group_mean", f, ctx={"groups": g}, group="grp")
    assert out.loc["C", "x"] == 2.0  # mean of g1's x: (1 + 3) / 2
    assert out.loc["E", "x"] == 10.0  # g2: D only
    assert out.loc["B", "y"] == 3.0  # g1's y: (2 + 4) / 2
    assert math.isnan(out.loc["F", "x"]) and math.isnan(out.loc["F", "y"])  # g3 all missing: stays NaN (COINr)
    assert math.isnan(out.loc["G", "x"])  # unit without a group label is skipped (skip_f_na)
    med = call(IMPUTE, "group_median", f.assign(x=[1.0, 3.0, np.nan, 10.0, np.nan, np.nan, 8.0]), ctx={"groups": g}, group="grp")
    assert med.loc["C", "x"] == 2.0
    with pytest.raises(HumsecError, match="groups"):
        IMPUTE.get("group_mean").fn(f, groups=None, group="grp")


@pytest.mark.parametrize("name", ["em", "regression"])
def test_em_regression_recovers_linear_relation(name):
    x = np.arange(10.0)
    f = pd.DataFrame({"x": x, "y": 2 * x + 1, "z": -x + 3 + np.array([0, 1, 0, -1, 0, 1, 0, -1, 0, 1.0])})
    f.loc[4, "y"] = np.nan  # y = 2x + 1 exactly -> 9
    f.loc[7, "y"] = np.nan  # -> 15
    out = call(IMPUTE, name, f, tol=1e-12, max_iter=500)
    assert out.loc[4, "y"] == pytest.approx(9.0, abs=1e-8)
    assert out.loc[7, "y"] == pytest.approx(15.0, abs=1e-8)
    assert out.notna().all().all()
    with pytest.raises(HumsecError, match="w"):
        call(IMPUTE, name, f.assign(w=np.nan))


def test_locf_panel():
    idx = pd.MultiIndex.from_tuples([("A", 2000), ("A", 2001), ("A", 2003), ("A", 2006),
                                     ("B", 2000), ("B", 2001), ("B", 2002)], names=["unit", "year"])
    p = pd.DataFrame({"v": [1.0, np.nan, np.nan, np.nan, np.nan, 5.0, np.nan]}, index=idx)
    assert "locf" in panel_methods()
    out = call(IMPUTE, "locf", p)
    assert out["v"].tolist()[:4] == [1.0, 1.0, 1.0, 1.0]
    assert math.isnan(out.loc[("B", 2000), "v"]) and out.loc[("B", 2002), "v"] == 5.0  # no leak across units
    out = call(IMPUTE, "locf", p, max_gap=3)
    assert out.loc[("A", 2003), "v"] == 1.0 and math.isnan(out.loc[("A", 2006), "v"])  # 6 years > 3
    out = call(IMPUTE, "locf", p, backfill=True)
    assert out.loc[("B", 2000), "v"] == 5.0
    with pytest.raises(HumsecError, match="unit, year"):
        call(IMPUTE, "locf", p.reset_index(level=1))


def test_locf_age_scale_scales_the_maximum_age():
    idx = pd.MultiIndex.from_tuples([("A", 2000), ("A", 2004), ("A", 2005), ("A", 2008)], names=["unit", "year"])
    p = pd.DataFrame({"v": [1.0, np.nan, np.nan, np.nan]}, index=idx)
    out = call(IMPUTE, "locf", p, max_gap=5)
    assert out["v"].tolist()[:3] == [1.0, 1.0, 1.0] and math.isnan(out.loc[("A", 2008), "v"])
    out = call(IMPUTE, "locf", p, max_gap=5, age_scale=0.8)  # 4 years
    assert out.loc[("A", 2004), "v"] == 1.0 and math.isnan(out.loc[("A", 2005), "v"])
    out = call(IMPUTE, "locf", p, max_gap=5, age_scale=1.5)  # round(7.5) = 8 years
    assert out.loc[("A", 2008), "v"] == 1.0


def test_window_mean_panel_hand_computed():
    idx = pd.MultiIndex.from_tuples([("A", 2000), ("A", 2001), ("A", 2003), ("A", 2010),
                                     ("B", 2001), ("B", 2002)], names=["unit", "year"])
    f = pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0, 10.0, 20.0], "y": [1.0, 3.0, 5.0, 7.0, np.nan, 2.0]}, index=idx)
    assert "window_mean" in panel_methods()
    out = call(IMPUTE, "window_mean", f, years=3)
    assert out["x"].tolist() == [1.0, 1.5, 2.0, 4.0, 10.0, 15.0]  # 2003: mean of 2001..2003 = 2
    y = out["y"].tolist()
    assert y[:4] == [1.0, 2.0, 4.0, 7.0] and math.isnan(y[4]) and y[5] == 2.0
    # observed values are replaced too: 2001 of A becomes (1 + 2) / 2
    out = call(IMPUTE, "window_mean", f, years=3, exclude_years=[2001])
    assert out.loc[("A", 2001), "x"] == 1.0 and math.isnan(out.loc[("A", 2003), "x"])
    assert out.loc[("B", 2002), "x"] == 20.0
    out = call(IMPUTE, "window_mean", f, years=3, min_obs=2)
    assert math.isnan(out.loc[("A", 2000), "x"]) and out.loc[("A", 2001), "x"] == 1.5
    with pytest.raises(HumsecError, match="unit, year"):
        call(IMPUTE, "window_mean", f.reset_index(level=1), years=3)
    with pytest.raises(HumsecError):
        IMPUTE.get("window_mean").validate_params({})  # years is required


def test_geometric_floor():
    v = np.array([[0.0, 100.0, 100.0], [50.0, 50.0, np.nan]])
    out = call(AGGREGATE, "geometric", v, np.ones(3), floor=1)
    assert out[0] == pytest.approx(100 ** (2 / 3)) and out[1] == pytest.approx(50.0)
    with pytest.raises(HumsecError, match="> 0"):
        call(AGGREGATE, "geometric", v, np.ones(3))
    out = call(AGGREGATE, "geometric", v, np.ones(3), floor=1, min_children=3)
    assert math.isnan(out[1])


# ----------------------------------------------------------------------------- skew / kurtosis


def test_skew_kurt_excel_values():
    # Excel documentation examples: SKEW(3,4,5,2,3,4,5,6,4,7) = 0.359543071,
    # KURT(3,4,5,2,3,4,5,6,4,7) = -0.151799637
    x = [3, 4, 5, 2, 3, 4, 5, 6, 4, 7]
    assert skew(x) == pytest.approx(0.359543071, abs=1e-9)
    assert kurt(x) == pytest.approx(-0.151799637, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_skew_kurt_match_scipy_unbiased(seed):
    x = np.random.default_rng(seed).lognormal(size=30)
    assert skew(x) == pytest.approx(stats.skew(x, bias=False), rel=1e-12)
    assert kurt(x) == pytest.approx(stats.kurtosis(x, fisher=True, bias=False), rel=1e-12)


def test_skew_kurt_na_handling():
    x = [1.0, 2.0, 4.0, 8.0, np.nan]
    assert skew(x) == pytest.approx(skew([1, 2, 4, 8]))
    assert math.isnan(skew(x, na_rm=False)) and math.isnan(kurt(x, na_rm=False))  # COINr NA
    with pytest.raises(HumsecError, match="3"):
        skew([1.0, 2.0])
    with pytest.raises(HumsecError, match="4"):
        kurt([1.0, 2.0, 3.0])
    assert math.isnan(skew([2.0, 2.0, 2.0]))  # 0/0


# ----------------------------------------------------------------------------- treatment


def test_coinr_passes_untouched():
    x = pd.Series(np.arange(1.0, 13.0))
    r = call(TREAT, "coinr", x)
    assert isinstance(r, TreatResult) and not r.treated and r.method == "none"
    assert r.values.equals(x)


def test_coinr_ties_winsorised_together():
    # 1..20 plus two tied outliers 100, 100: skew 2.82, kurt 7.13 -> fails; skew > 0 so both
    # maxima (tied) are replaced by the next highest value, 20, in one step -> passes.
    x = pd.Series(list(range(1, 21)) + [100, 100], dtype=float, index=[f"u{i}" for i in range(22)])
    assert skew(x) == pytest.approx(2.817, abs=1e-3) and kurt(x) == pytest.approx(7.134, abs=1e-3)
    r = call(TREAT, "coinr", x)
    assert r.method == "winsorised" and r.n_winsorised == 2
    assert r.winsorised_units == ("u20", "u21")
    assert r.values.tolist() == list(range(1, 21)) + [20, 20]
    assert abs(r.skew_after) < 2 or r.kurt_after < 3.5


def test_coinr_winmax_reached_reverts_to_log_ct_of_original():
    # 40 ones and 50, 60, ..., 100: with winmax 5 four steps make it pass; with winmax 1 the
    # single Winsorised point does not, so log_CT is applied to the ORIGINAL values:
    # log(x - min + 0.01 (max - min)) = log(x - 1 + 0.99) = log(x - 0.01).
    x = pd.Series([1.0] * 40 + [50, 60, 70, 80, 90, 100])
    r5 = call(TREAT, "coinr", x)
    assert r5.method == "winsorised" and r5.n_winsorised == 4
    # 100 -> 90 (1 point); the two 90s -> 80 (2); three 80s -> 70 (3); four 70s -> 60 (4): passes
    assert r5.values.tolist()[-6:] == [50.0] + [60.0] * 5
    r1 = call(TREAT, "coinr", x, winmax=1)
    assert r1.method == "log_CT" and r1.n_winsorised == 0 and r1.n_winsorised_tried == 1
    np.testing.assert_allclose(r1.values, np.log(x - 0.01), rtol=1e-15)
    # combine_treat: log_CT of the Winsorised values instead
    rc = call(TREAT, "coinr", x, winmax=1, combine_treat=True)
    w = x.copy()
    w.iloc[-1] = 90.0
    np.testing.assert_allclose(rc.values, log_ct(w.to_numpy()), rtol=1e-15)


def test_coinr_negative_skew_winsorises_low_end_and_keeps_nan():
    x = pd.Series([-100.0] + list(np.arange(1.0, 21.0)) + [np.nan])
    r = call(TREAT, "coinr", x)
    assert r.method == "winsorised" and r.values.iloc[0] == 1.0 and math.isnan(r.values.iloc[-1])
    with pytest.raises(HumsecError, match="Tiny"):
        TREAT.get("coinr").fn(pd.Series([1.0, 2.0, np.nan]), code="Tiny")


def _plain_coinr(x, winmax):
    """Independent plain-Python COINr Treat (check_SkewKurt + winsorise + log_CT)."""

    def st(v):
        v = [a for a in v if not math.isnan(a)]
        n = len(v)
        m = sum(v) / n
        d = [a - m for a in v]
        s2 = sum(a * a for a in d)
        g1 = math.sqrt(n) * sum(a**3 for a in d) / s2**1.5 * math.sqrt(n * (n - 1)) / (n - 2)
        r = n * sum(a**4 for a in d) / s2**2
        g2 = ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))
        return g1, g2

    def ok(v):
        g1, g2 = st(v)
        return abs(g1) < 2 or g2 < 3.5

    if ok(x):
        return list(x), "none"
    v = list(x)
    imax, imin, nwin = [], [], 0
    while not ok(v) and nwin < winmax:
        obs = [a for a in v if not math.isnan(a)]
        if st(v)[0] >= 0:
            mx = max(obs)
            imax = [i for i, a in enumerate(v) if a == mx]
            nxt = max(a for i, a in enumerate(v) if i not in imax and not math.isnan(a))
            for i in imax:
                v[i] = nxt
        else:
            mn = min(obs)
            imin = [i for i, a in enumerate(v) if a == mn]
            nxt = min(a for i, a in enumerate(v) if i not in imin and not math.isnan(a))
            for i in imin:
                v[i] = nxt
        nwin = len(imax) + len(imin)
    if ok(v):
        return v, "winsorised"
    obs = [a for a in x if not math.isnan(a)]
    lo, hi = min(obs), max(obs)
    return [math.log(a - lo + 0.01 * (hi - lo)) for a in x], "log_CT"


@pytest.fixture(scope="module")
def asem_raw(published_data):
    d = published_data / "coinr_asem"
    if not (d / "iData.csv").is_file():
        pytest.skip(f"COINr ASEM example not found under {d}")
    idata = pd.read_csv(d / "iData.csv").set_index("uCode")
    imeta = pd.read_csv(d / "iMeta.csv")
    return idata, list(imeta.loc[imeta["Type"] == "Indicator", "iCode"])


@pytest.mark.shared
@pytest.mark.parametrize("winmax", [5, 1])
def test_coinr_rule_on_raw_asem(asem_raw, winmax):
    idata, codes = asem_raw
    decisions = {}
    for c in codes:
        r = TREAT.get("coinr").fn(idata[c], winmax=winmax, code=c)
        exp_vals, exp_method = _plain_coinr(idata[c].tolist(), winmax)
        assert r.method == exp_method, c
        np.testing.assert_allclose(r.values.to_numpy(), exp_vals, rtol=1e-12, equal_nan=True, err_msg=c)
        if r.treated:
            decisions[c] = (r.method, r.n_winsorised)
    if winmax == 5:
        # raw (not denominated) ASEM data under COINr's default rule: 18 indicators
        # Winsorised, none log-transformed
        assert not any(m == "log_CT" for m, _ in decisions.values())
        assert decisions == {
            "Flights": ("winsorised", 1), "Bord": ("winsorised", 1), "Elec": ("winsorised", 1),
            "Gas": ("winsorised", 1), "Goods": ("winsorised", 2), "FDI": ("winsorised", 1),
            "CostImpEx": ("winsorised", 1), "Tariff": ("winsorised", 3), "StMob": ("winsorised", 2),
            "Research": ("winsorised", 2), "Pat": ("winsorised", 1), "CultServ": ("winsorised", 3),
            "CultGood": ("winsorised", 1), "Tourist": ("winsorised", 2), "Forest": ("winsorised", 2),
            "Poverty": ("winsorised", 3), "NGOs": ("winsorised", 2), "FemLab": ("winsorised", 1),
        }


def test_plain_winsorise_quantiles_and_iterative():
    x = pd.Series(np.arange(0.0, 101.0))
    r = call(TREAT, "winsorise", x, lower=0.05, upper=0.95)
    assert r.values.min() == 5.0 and r.values.max() == 95.0 and r.n_winsorised == 10
    y = pd.Series([1.0] * 40 + [50, 60, 70, 80, 90, 100])
    r = call(TREAT, "winsorise", y, winmax=1)  # no log fall-back: kept although still failing
    assert r.method == "winsorised" and r.values.max() == 90.0 and r.n_winsorised == 1


def test_log_log_ct_boxcox_none():
    x = pd.Series([1.0, math.e, math.e**2, np.nan], index=list("ABCD"))
    r = call(TREAT, "log", x)
    np.testing.assert_allclose(r.values.iloc[:3], [0.0, 1.0, 2.0])
    assert math.isnan(r.values["D"])
    with pytest.raises(HumsecError, match="A"):
        call(TREAT, "log", x - 1)
    np.testing.assert_allclose(call(TREAT, "log", x - 1, shift=1).values.iloc[:3], [0.0, 1.0, 2.0])
    z = pd.Series([1.0, 11.0, 101.0])
    # log_CT: min 1, range 100 -> log(x - 1 + 1) = log(x)... precisely log(x - 1 + 1.0)
    np.testing.assert_allclose(call(TREAT, "log_ct", z).values, np.log([1.0, 11.0, 101.0]))
    b = call(TREAT, "boxcox", pd.Series([1.0, 2.0, 3.0]), lmbda=2)
    np.testing.assert_allclose(b.values, [0.0, 1.5, 4.0])  # (x^2 - 1) / 2
    b0 = call(TREAT, "boxcox", pd.Series([1.0, 2.0, 3.0]), lmbda=0)
    np.testing.assert_allclose(b0.values, np.log([1.0, 2.0, 3.0]))
    mle = call(TREAT, "boxcox", pd.Series(np.random.default_rng(1).lognormal(size=50)))
    assert mle.method == "boxcox" and abs(mle.skew_after) < abs(mle.skew_before)
    with pytest.raises(HumsecError, match="positive"):
        call(TREAT, "boxcox", pd.Series([-1.0, 2.0, 3.0]), lmbda=1)
    n = call(TREAT, "none", z)
    assert not n.treated and n.values.equals(z)


# ----------------------------------------------------------------------------- normalise


def test_minmax():
    x = np.array([0.0, 5.0, 10.0, np.nan])
    out = call(NORMALISE, "minmax", x)
    np.testing.assert_allclose(out, [0, 50, 100, np.nan])
    s = pd.Series([1.0, 2.0, 3.0], index=list("abc"), name="v")
    out = NORMALISE.get("minmax").fn(s, direction=-1, lo=1, hi=10)
    assert isinstance(out, pd.Series) and out.tolist() == [10.0, 5.5, 1.0] and list(out.index) == list("abc")
    with pytest.raises(HumsecError, match="Flat"):
        NORMALISE.get("minmax").fn(np.array([2.0, 2.0]), code="Flat")


def test_goalposts_hdr():
    # HDR life expectancy 72.5 with goalposts 20-85: (72.5 - 20) / 65 = 0.8077
    out = call(NORMALISE, "goalposts", np.array([72.5, 90.0, 15.0]), lo=20, hi=85)
    np.testing.assert_allclose(out, [52.5 / 65, 1.0, -5 / 65])  # capped at 1, not floored
    out = call(NORMALISE, "goalposts", np.array([72.5, 90.0, 15.0]), lo=20, hi=85, floor=True, scale=100)
    np.testing.assert_allclose(out, [100 * 52.5 / 65, 100.0, 0.0])
    # log (income): (ln 10000 - ln 100) / (ln 75000 - ln 100)
    out = call(NORMALISE, "goalposts", np.array([10000.0]), lo=100, hi=75000, log=True)
    assert out[0] == pytest.approx(math.log(100) / math.log(750))
    # direction -1: (hi - x) / (hi - lo)
    out = NORMALISE.get("goalposts").fn(np.array([2.0, 8.0]), direction=-1, lo=0.0, hi=10.0)
    np.testing.assert_allclose(out, [0.8, 0.2])
    with pytest.raises(HumsecError, match="goalposts"):
        NORMALISE.get("goalposts").fn(np.array([1.0]), code="le")


def test_zscore():
    np.testing.assert_allclose(call(NORMALISE, "zscore", np.array([1.0, 2.0, 3.0])), [-1, 0, 1])  # sd (n-1) = 1
    np.testing.assert_allclose(call(NORMALISE, "zscore", np.array([1.0, 2.0, 3.0]), mean=10, sd=2), [8, 10, 12])
    with pytest.raises(HumsecError, match="standard deviation"):
        call(NORMALISE, "zscore", np.array([1.0, 1.0, 1.0]))


def test_rank_family():
    x = np.array([10.0, 20.0, 20.0, 40.0, np.nan])
    np.testing.assert_allclose(call(NORMALISE, "rank", x), [1, 2, 2, 4, np.nan])  # ties "min"
    np.testing.assert_allclose(call(NORMALISE, "borda", x), [0, 1, 1, 3, np.nan])
    np.testing.assert_allclose(call(NORMALISE, "prank", x), [0, 1 / 3, 1 / 3, 1, np.nan])
    np.testing.assert_allclose(call(NORMALISE, "percentile", x), [0, 100 / 3, 100 / 3, 100, np.nan])
    np.testing.assert_allclose(NORMALISE.get("rank").fn(x, direction=-1), [4, 2, 2, 1, np.nan])
    np.testing.assert_allclose(call(NORMALISE, "fracmax", np.array([1.0, 2.0, 4.0])), [0.25, 0.5, 1.0])
    with pytest.raises(HumsecError):
        NORMALISE.get("fracmax").fn(np.array([1.0, 2.0]), direction=-1)


def test_distance_to_target():
    x = np.array([0.0, 5.0, 10.0])
    f = NORMALISE.get("distance_to_target").fn
    np.testing.assert_allclose(f(x, target=8.0), [0, 0.625, 1.25])  # 1 - (8 - x) / (8 - 0)
    np.testing.assert_allclose(f(x, target=8.0, cap_max=True, scale=100), [0, 62.5, 100])
    # direction -1 (lower is better), target 2: (max - x) / (max - t) = (10 - x) / 8
    np.testing.assert_allclose(f(x, direction=-1, target=2.0), [1.25, 0.625, 0.0])
    with pytest.raises(HumsecError, match="target"):
        f(x, code="co2")


def test_sdr():
    x = np.arange(0.0, 101.0)  # 2.5th percentile = 2.5
    f = NORMALISE.get("sdr").fn
    out = f(x, target=90.0)
    np.testing.assert_allclose(out, np.clip((x - 2.5) / 87.5 * 100, 0, 100))
    assert out.min() == 0 and out.max() == 100
    # direction -1: lower bound = 97.5th percentile of raw values, optimum 10
    out = f(x, direction=-1, target=10.0)
    np.testing.assert_allclose(out, np.clip((97.5 - x) / 87.5 * 100, 0, 100))
    np.testing.assert_allclose(f(x, upper=50.0, lower=0.0), np.clip(x * 2, 0, 100))
    with pytest.raises(HumsecError, match="upper bound"):
        f(x)


def test_none_normaliser_applies_direction():
    np.testing.assert_allclose(NORMALISE.get("none").fn(np.array([1.0, -2.0]), direction=-1), [-1.0, 2.0])


# ----------------------------------------------------------------------------- weights


def test_explicit_and_equal_weights():
    f = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 2.0]})
    w = pd.Series({"a": 1.0, "b": 3.0})
    assert call(WEIGHT, "explicit", f, ctx={"weights": w}).tolist() == [0.25, 0.75]
    assert call(WEIGHT, "equal", f, ctx={"weights": w}).tolist() == [0.5, 0.5]
    with pytest.raises(HumsecError, match="b"):
        call(WEIGHT, "explicit", f, ctx={"weights": pd.Series({"a": 1.0})})


def test_pca_weights():
    rng = np.random.default_rng(0)
    z = rng.normal(size=200)
    f = pd.DataFrame({"a": z + 0.1 * rng.normal(size=200), "b": z + 0.1 * rng.normal(size=200),
                      "c": rng.normal(size=200)})
    w = call(WEIGHT, "pca", f, ctx={"weights": pd.Series(1.0, index=f.columns)})
    assert w.sum() == pytest.approx(1.0)
    assert w["a"] > 0.4 and w["b"] > 0.4 and w["c"] < 0.05  # the first component is a + b
    # two children: the first eigenvector of a 2x2 correlation matrix is (1, 1)/sqrt 2
    w2 = call(WEIGHT, "pca", f[["a", "c"]], ctx={"weights": pd.Series(1.0, index=["a", "c"])}, loadings="abs")
    np.testing.assert_allclose(w2, [0.5, 0.5])


def test_optimised_weights_balance_correlations():
    rng = np.random.default_rng(3)
    z = rng.normal(size=300)
    f = pd.DataFrame({"a": z + 0.3 * rng.normal(size=300), "b": z + 0.3 * rng.normal(size=300),
                      "c": 0.5 * z + rng.normal(size=300)})
    w = call(WEIGHT, "optimised", f, ctx={"weights": pd.Series(1.0, index=f.columns)})
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
    parent = (f * w).sum(axis=1)
    r = f.corrwith(parent)
    assert r.max() - r.min() < 0.02  # equal correlation with the parent (target "equal")
    assert w["c"] > w["a"]  # the weakly correlated child needs more weight
    assert call(WEIGHT, "optimised", f, ctx={"weights": pd.Series(1.0, index=f.columns)}).equals(w)  # deterministic
    wi = call(WEIGHT, "optimised", f, ctx={"weights": pd.Series(1.0, index=f.columns)}, optype="infomax")
    assert wi.sum() == pytest.approx(1.0)
    with pytest.raises(HumsecError, match="target"):
        call(WEIGHT, "optimised", f, ctx={"weights": pd.Series(1.0, index=f.columns)}, target=[1, 1])


# ----------------------------------------------------------------------------- aggregate


def test_arithmetic_with_missing_children():
    v = np.array([[1.0, 3.0], [np.nan, 4.0], [np.nan, np.nan]])
    out = call(AGGREGATE, "arithmetic", v, np.array([1.0, 3.0]))
    # (1*1 + 3*3) / 4 = 2.5 ; only b -> 4 ; nothing -> NaN
    np.testing.assert_allclose(out, [2.5, 4.0, np.nan])
    out = call(AGGREGATE, "arithmetic", v, np.array([1.0, 3.0]), min_children=2)
    np.testing.assert_allclose(out, [2.5, np.nan, np.nan])
    out = call(AGGREGATE, "arithmetic", v, np.array([1.0, 3.0]), min_share=0.5)
    np.testing.assert_allclose(out, [2.5, 4.0, np.nan])


def test_geometric_harmonic_generalised():
    v = np.array([[1.0, 4.0], [2.0, np.nan]])
    w = np.array([1.0, 1.0])
    np.testing.assert_allclose(call(AGGREGATE, "geometric", v, w), [2.0, 2.0])  # sqrt(1*4)
    np.testing.assert_allclose(call(AGGREGATE, "harmonic", v, w), [1.6, 2.0])  # 2 / (1 + 1/4)
    np.testing.assert_allclose(call(AGGREGATE, "generalised", np.array([[1.0, 7.0]]), w, p=2), [5.0])  # sqrt(25)
    np.testing.assert_allclose(call(AGGREGATE, "generalised", v, w, p=0), [2.0, 2.0])
    np.testing.assert_allclose(call(AGGREGATE, "generalised", v, w, p=-1), [1.6, 2.0])
    bad = np.array([[1.0, 0.0], [2.0, 3.0]])
    for name in ("geometric", "harmonic"):
        with pytest.raises(HumsecError) as e:
            AGGREGATE.get(name).fn(bad, w, columns=["a", "b"], code="P1")
        msg = str(e.value)
        assert "b" in msg and "P1" in msg and "lo: 1, hi: 100" in msg


def test_mazziotta_pareto():
    v = np.array([[110.0, 90.0], [100.0, 100.0]])
    w = np.array([1.0, 1.0])
    # M = 100, S = 10, cv = 0.1 -> MPI- = 100 - 10 * 0.1 = 99, MPI+ = 101
    np.testing.assert_allclose(call(AGGREGATE, "mazziotta_pareto", v, w), [99.0, 100.0])
    np.testing.assert_allclose(call(AGGREGATE, "mazziotta_pareto", v, w, penalty=1), [101.0, 100.0])
    # standardise: columns (1, 3) and (3, 1) -> z = 100 -+ 10/sqrt 2 ... both rows unbalanced alike
    out = call(AGGREGATE, "mazziotta_pareto", np.array([[1.0, 3.0], [3.0, 1.0]]), w, standardise=True)
    s = 10 / math.sqrt(2)
    assert out[0] == pytest.approx(out[1]) and out[0] == pytest.approx(100 - s * s / 100)


def test_copeland():
    # A=(3,3), B=(2,2), C=(1,4): A beats B on both (+1), A-C and B-C split 1:1 (0)
    v = np.array([[3.0, 3.0], [2.0, 2.0], [1.0, 4.0], [np.nan, np.nan]])
    out = call(AGGREGATE, "copeland", v, np.array([1.0, 1.0]))
    np.testing.assert_allclose(out, [1.0, -1.0, 0.0, np.nan])
    # weights decide: with w = (3, 1) A and B beat C
    out = call(AGGREGATE, "copeland", v[:3], np.array([3.0, 1.0]))
    np.testing.assert_allclose(out, [2.0, 0.0, -2.0])


def test_copeland_in_blocks(monkeypatch):
    from humsec.index.methods import aggregate as agg

    v = np.random.default_rng(0).normal(size=(57, 4))
    w = np.array([1.0, 2.0, 1.0, 0.5])
    full = agg.copeland(v, w)
    monkeypatch.setattr(agg, "COPELAND_BLOCK_CELLS", 50)
    np.testing.assert_array_equal(agg.copeland(v, w), full)


def test_rank_desc():
    np.testing.assert_array_equal(rank_desc(np.array([3.0, 1.0, 3.0, np.nan, 2.0])), [1, 4, 1, np.nan, 3])


def test_aggregate_weight_errors():
    with pytest.raises(HumsecError, match="weights"):
        call(AGGREGATE, "arithmetic", np.ones((2, 2)), np.array([1.0, -1.0]))
    with pytest.raises(HumsecError, match="2 children"):
        call(AGGREGATE, "arithmetic", np.ones((2, 2)), np.array([1.0]))


def test_mazziotta_pareto_zero_weight_children_give_nan_not_error():
    from humsec.index.methods.aggregate import mazziotta_pareto

    v = np.array([[110.0, 95.0], [np.nan, 101.0], [105.0, 100.0]])
    out = mazziotta_pareto(v, np.array([1.0, 0.0]), units=["A", "B", "C"])
    # B's only available child has weight 0: no value (as the arithmetic mean gives)
    assert np.isnan(out[1]) and out[0] == pytest.approx(110.0) and out[2] == pytest.approx(105.0)
    with pytest.raises(HumsecError, match=r"units B"):
        mazziotta_pareto(np.array([[1.0, 2.0], [-5.0, 1.0]]), np.array([1.0, 1.0]), units=["A", "B"])


def test_panel_methods_are_those_registered_as_taking_a_panel():
    import humsec.index.methods_coinr  # noqa: F401  (registers COINr's impute_panel)
    from humsec.analysis import assess

    assert {"locf", "window_mean", "impute_panel"} <= panel_methods()
    assert not {"mean", "group_mean", "none"} & panel_methods()
    assert all(IMPUTE.get(n).panel for n in panel_methods())
    assert assess.panel_methods() == panel_methods()  # read from the registry, never a stale copy
