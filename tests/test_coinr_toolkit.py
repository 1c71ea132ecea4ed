"""Issue #24, part 1: COINr's further kernels (treatment, normalisation, panel imputation)
and the statistics / treatment tables, against hand-computed values, COINr's own tests and
COINr's ASEM example (../shared/data/coinr_asem)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from humsec.errors import HumsecError
from humsec.index.audit import indicator_stats, treatment_log
from humsec.index.coinr import import_coinr
from humsec.index.families import registry_for
from humsec.index.methods_coinr import impute_panel_frame, log_ct_plus
from humsec.index.pipeline import build, regenerate
from humsec.index.spec import IndexSpec


def treat(name, x, **p):
    m = registry_for("treat").get(name)
    return m.fn(pd.Series(x, dtype=float), **m.validate_params(p))


def norm(name, x, **p):
    m = registry_for("normalise").get(name)
    direction = p.pop("direction", 1)
    return m.fn(x, direction=direction, **m.validate_params(p))


@pytest.fixture(scope="module")
def asem(published_data):
    d = published_data / "coinr_asem"
    if not (d / "iData.csv").is_file():
        pytest.skip(f"COINr ASEM example not found under {d}")
    spec, data = import_coinr(d / "iData.csv", d / "iMeta.csv", name="asem")
    return spec, data, build(spec, data)


# ---------------------------------------------------------------- treatment kernels


def test_log_ct_plus_follows_the_skew_by_hand():
    pos = np.array([1.0, 2.0, 3.0, 10.0])  # skew > 0: log(x - min + a), a = 0.09
    r = treat("log_CT_plus", pos)
    np.testing.assert_allclose(r.values, np.log(pos - 1 + 0.09))
    assert r.method == "log_CT"
    neg = np.array([1.0, 8.0, 9.0, 10.0])  # skew < 0: -log(max + a - x)
    r = treat("log_CT_plus", neg)
    np.testing.assert_allclose(r.values, -np.log(10 + 0.09 - neg))
    assert r.method == "log_CT_neg"
    # order kept in both branches; the mirrored transform reduces |skew|
    assert np.all(np.diff(r.values.to_numpy()) > 0)
    assert abs(r.skew_after) < abs(r.skew_before)
    assert np.isnan(log_ct_plus([np.nan, 1.0, 2.0, 3.0, 10.0])[0][0])  # missing stays missing


def test_log_ct_orig_and_gii_by_hand():
    x = np.array([1.0, 2.0, 4.0, 10.0, np.nan])
    np.testing.assert_allclose(treat("log_CT_orig", x).values, np.log(x - 1 + 1), equal_nan=True)
    # GII log with min = 1: log((max-1)(x-1)/(max-1) + 1) = log(x)
    np.testing.assert_allclose(treat("log_GII", x).values, np.log(x), equal_nan=True)
    y = np.array([2.0, 3.0, 6.0])  # log(5 (y-2)/4 + 1)
    np.testing.assert_allclose(treat("log_GII", y).values, np.log(5 * (y - 2) / 4 + 1))
    with pytest.raises(HumsecError, match="max > 0"):
        treat("log_GII", [-3.0, -2.0, -1.0])
    with pytest.raises(HumsecError, match="two distinct"):
        treat("log_CT_plus", [2.0, 2.0, 2.0, 2.0])


def _failing():
    # a heavy upper tail that one Winsorised point cannot fix
    return np.r_[np.arange(20.0), [100.0, 200.0, 400.0, 800.0, 1600.0]]


def test_coinr_f2_keeps_points_tried_and_matches_coinr_rule():
    x = _failing()
    base = treat("coinr", x, winmax=1)
    r = treat("coinr_f2", x, winmax=1)
    assert r.method == base.method == "log_CT"
    np.testing.assert_array_equal(r.values, base.values)
    np.testing.assert_allclose(r.values, np.log(x - 0 + 0.01 * 1600))
    assert r.n_winsorised == 0 and r.n_winsorised_tried == 1
    for f2, expect in (("log_CT_orig", np.log(x + 1)), ("log_GII", np.log(1599 * x / 1600 + 1))):
        got = treat("coinr_f2", x, winmax=1, f2=f2)
        assert got.method == f2 and got.n_winsorised_tried == 1
        np.testing.assert_allclose(got.values, expect)
    kept = treat("coinr_f2", x, winmax=1, f2="none")
    assert kept.method == "winsorised" and kept.values.max() == 800.0


def test_coinr_f2_equals_coinr_on_asem(asem):
    res = asem[2]
    alt = regenerate(res, {"steps.treat.method": "coinr_f2"})
    pd.testing.assert_frame_equal(alt.dataset("Treated"), res.dataset("Treated"))
    assert alt.equals(res)


def test_treatment_log_keeps_points_tried(asem):
    # hand case: what Winsorisation tried before it fell back to log_CT is kept
    spec = IndexSpec.from_dict({
        "name": "t", "tree": [{"code": "a", "parent": "I"}, {"code": "b", "parent": "I"}, {"code": "I"}],
        "steps": [{"step": "treat", "method": "coinr", "params": {"winmax": 1}},
                  {"step": "normalise", "method": "minmax"}, {"step": "aggregate", "method": "arithmetic"}]})
    x = _failing()
    data = pd.DataFrame({"unit": [f"u{i:02d}" for i in range(len(x))] * 2,
                         "indicator": ["a"] * len(x) + ["b"] * len(x),
                         "value": np.r_[x, np.arange(len(x), dtype=float)]})
    res = build(spec, data)
    log = treatment_log(res).set_index("indicator")
    assert log.at["a", "outcome"] == "log_CT"
    assert log.at["a", "n_winsorised"] == 0 and log.at["a", "n_winsorised_tried"] == 1
    assert log.at["b", "outcome"] == "none" and log.at["b", "n_winsorised_tried"] == 0
    # ... and the build's own step log keeps it too (matrix engine and column kernels alike)
    steps = {row["indicator"]: row for row in res.details("treat")["treatment"]}
    assert steps["a"]["n_winsorised_tried"] == 1 and steps["b"]["n_winsorised_tried"] == 0
    # on ASEM: identical outcomes and counts to the build's own log
    _, _, r = asem
    t = treatment_log(r).set_index("indicator")
    for row in r.details("treat")["treatment"]:
        assert t.at[row["indicator"], "outcome"] == row["outcome"]
        assert t.at[row["indicator"], "n_winsorised"] == row["n_winsorised"]
        assert t.at[row["indicator"], "n_winsorised_tried"] == row["n_winsorised_tried"]
    # ASEM with the default rule (the build is checked against an independent re-implementation
    # of COINr's Treat in test_index_coinr): 15 indicators Winsorised, none falls back to log_CT
    assert int(t["treated"].sum()) == 15 and set(t["outcome"]) == {"none", "winsorised"}


# ---------------------------------------------------------------- normalisation kernels


def test_n_scaled_dist2ref_dist2max_by_hand():
    x = pd.Series([1.0, 2.0, 3.0, 5.0, np.nan], index=list("abcde"))
    np.testing.assert_allclose(norm("n_scaled", x, lo=1, hi=11), (x - 1) / 10 * 100)
    # COINr: n_scaled is not min-max: fixed l, u
    np.testing.assert_allclose(norm("n_scaled", x), x)
    np.testing.assert_allclose(norm("n_dist2ref", x, ref_unit="c"), [0, 0.5, 1, 2, np.nan])
    np.testing.assert_allclose(norm("n_dist2ref", x, iref=3, cap_max=True), [0, 0.5, 1, 1, np.nan])
    np.testing.assert_allclose(norm("n_dist2max", x), [0, 0.25, 0.5, 1, np.nan])
    # direction -1: values negated first (best = lowest raw value)
    np.testing.assert_allclose(norm("n_dist2max", x, direction=-1), [1, 0.75, 0.5, 0, np.nan])
    with pytest.raises(HumsecError, match="not among the units"):
        norm("n_dist2ref", x, ref_unit="zz")
    with pytest.raises(HumsecError, match="missing"):
        norm("n_dist2ref", x, ref_unit="e")
    with pytest.raises(HumsecError, match="exactly one"):
        registry_for("normalise").get("n_dist2ref").validate_params({})


def test_n_dist2max_on_asem_is_minmax_over_100(asem):
    _, _, res = asem
    alt = regenerate(res, {"steps.normalise.method": "n_dist2max", "steps.normalise.params": {}})
    np.testing.assert_allclose(alt.dataset("Normalised").to_numpy(),
                               res.dataset("Normalised").to_numpy() / 100, rtol=1e-12, atol=1e-15,
                               equal_nan=True)
    # distance to a reference unit (COINr n_dist2ref): the reference scores 1 everywhere
    ref = regenerate(res, {"steps.normalise.method": "n_dist2ref",
                           "steps.normalise.params": {"ref_unit": "DEU"}})
    n = ref.dataset("Normalised").loc["DEU"]
    assert (n[res.spec.indicators] == 1).all()


# ---------------------------------------------------------------- panel imputation


def _coinr_panel():
    # COINr tests/testthat/test-impute_panel.R, "linear_imp_works"
    return pd.DataFrame({"i1": [1, 2, 3], "i2": [3, np.nan, 5], "i3": [np.nan, 5, 6],
                         "i4": [7, 8, np.nan]}, dtype=float,
                        index=pd.MultiIndex.from_product([["A"], [2020, 2021, 2022]], names=["unit", "year"]))


def test_impute_panel_matches_coinr_tests():
    lin = impute_panel_frame(_coinr_panel(), imp_type="linear")
    assert lin["i1"].tolist() == [1, 2, 3]
    assert lin["i2"].tolist() == [3, 4, 5]
    assert lin["i3"].tolist() == [5, 5, 6]  # rule = 2: nearest point outside the range
    assert lin["i4"].tolist() == [7, 8, 8]
    const = impute_panel_frame(_coinr_panel(), imp_type="constant")
    assert const["i2"].tolist() == [3, 3, 5]  # f = 0: the left point
    assert const["i3"].tolist() == [5, 5, 6]
    latest = impute_panel_frame(_coinr_panel(), imp_type="latest")
    assert math.isnan(latest["i3"].iloc[0]) and latest["i4"].iloc[2] == 8


def test_impute_panel_linear_needs_two_points():
    p = pd.DataFrame({"x": [np.nan, 4.0, np.nan, np.nan]},
                     index=pd.MultiIndex.from_product([["A"], [1, 2, 3, 5]], names=["unit", "year"]))
    with pytest.raises(HumsecError, match="linear-constant"):
        impute_panel_frame(p, imp_type="linear")
    assert impute_panel_frame(p, imp_type="linear-constant")["x"].tolist() == [4, 4, 4, 4]
    # unequal spacing: the line uses the years as numbers
    q = pd.DataFrame({"x": [0.0, np.nan, np.nan, 8.0]},
                     index=pd.MultiIndex.from_product([["A"], [1, 2, 3, 5]], names=["unit", "year"]))
    assert impute_panel_frame(q, imp_type="linear")["x"].tolist() == [0, 2, 4, 8]


def test_impute_panel_step_in_a_build():
    spec = IndexSpec.from_dict({
        "name": "p", "tree": [{"code": "a", "parent": "I"}, {"code": "b", "parent": "I"}, {"code": "I"}],
        "steps": [{"step": "impute", "method": "impute_panel", "params": {"imp_type": "linear"}},
                  {"step": "normalise", "method": "minmax"}, {"step": "aggregate", "method": "arithmetic"}]})
    rows = []
    for u, vals in {"X": [1, 2, None], "Y": [4, 6, 8], "Z": [0, 5, 10]}.items():
        for y, v in zip((2020, 2021, 2022), vals):
            rows += [{"unit": u, "year": y, "indicator": "a", "value": v},
                     {"unit": u, "year": y, "indicator": "b", "value": (v or 0) + 1}]
    data = pd.DataFrame(rows)
    res = build(spec, data, year=2022)
    # X's 2022 'a' gap: the panel holds 2020-2022, so rule 2 extends the last point (2)
    assert res.dataset("Imputed").at["X", "a"] == 2.0
    assert res.details("impute")["n_imputed"] == 1


# ---------------------------------------------------------------- statistics table


def test_stats_new_columns_by_hand():
    f = pd.DataFrame({"x": [0.0, 0.0, 1.0, 2.0, 2.0, 2.0, np.nan]})
    r = indicator_stats(f).iloc[0]
    assert r["median"] == 1.5
    assert r["n_nonzero"] == 4 and r["n_unique"] == 3 and r["n_same"] == 3


def test_stats_match_coinr_get_stats_on_asem(asem):
    _, _, res = asem
    st = indicator_stats(res.dataset("Raw")).set_index("indicator")
    raw = res.dataset("Raw")
    for code in ("LPI", "Ship", "Bord", "Elec"):
        x = raw[code].dropna()
        assert st.at[code, "median"] == pytest.approx(float(np.median(x)))
        assert st.at[code, "n_nonzero"] == int((x != 0).sum())
        assert st.at[code, "n_unique"] == len(set(x))
    # Ship: 9 zeros (COINr get_stats: N.Same = max(table(x)))
    assert st.at["Ship", "n_same"] == int((raw["Ship"] == 0).sum()) == 9


def test_cli_impute_panel_interpolates_between_years(tmp_path, capsys):
    from humsec.cli.main import main

    rows = [{"unit": u, "year": y, "indicator": "a", "value": v}
            for u, vals in {"X": [1, None, 3], "Y": [4, 6, None]}.items()
            for y, v in zip((2020, 2021, 2022), vals)]
    src = tmp_path / "p.csv"
    pd.DataFrame(rows).to_csv(src, index=False)
    out = tmp_path / "o.csv"
    assert main(["index", "impute-panel", str(src), "--out", str(out), "--type", "linear"]) == 0
    got = pd.read_csv(out).set_index(["unit", "year"])
    assert got.at[("X", 2021), "value"] == 2.0 and bool(got.at[("X", 2021), "imputed"])
    assert got.at[("Y", 2022), "value"] == 6.0
    assert not bool(got.at[("X", 2020), "imputed"])
    assert main(["index", "impute-panel", str(src), "--out", str(out), "--type", "spline"]) != 0
