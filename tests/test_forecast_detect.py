"""Deterioration detection and YAML alert rules on hand-made series with known breaks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from humsec.errors import ValidationError
from humsec.forecast.alerts import default_rules, evaluate, parse_rules
from humsec.forecast.detect import change_points, change_z, deterioration_table, peer_z, robust_z


# ---------------------------------------------------------------------------- robust change


def test_robust_z_by_hand():
    # median 0, MAD 1 -> scale 1.4826
    assert robust_z(5.0, [0.0, 1.0, -1.0, 2.0, -2.0]) == pytest.approx(5.0 / 1.4826)
    assert np.isnan(robust_z(np.nan, [1.0, 2.0]))
    assert np.isnan(robust_z(1.0, []))


def test_change_z_flags_the_break_and_uses_only_the_past():
    years = np.arange(2000, 2013)
    rng = np.random.default_rng(1)
    vals = 50 + np.cumsum(rng.normal(0, 0.5, len(years)))
    vals[years >= 2010] -= 10.0  # a 10-point fall in 2010
    s = pd.Series(vals, index=years)
    t = change_z(s, min_history=4).set_index("year")
    assert t.loc[2010, "own_z"] < -5
    assert (t.loc[:2009, "own_z"].dropna().abs() < 5).all()
    assert t.loc[:2004, "own_z"].isna().all()  # fewer than 4 earlier changes
    # no look-ahead: changing the future does not change earlier scores
    s2 = s.copy()
    s2.loc[2011:] += 100
    t2 = change_z(s2, min_history=4).set_index("year")
    pd.testing.assert_series_equal(t.loc[:2010, "own_z"], t2.loc[:2010, "own_z"])
    # direction -1 (lower is better): the same fall is an improvement
    assert change_z(s, direction=-1, min_history=4).set_index("year").loc[2010, "own_z"] > 5


def test_change_z_gap_breaks_the_change():
    s = pd.Series([1.0, 2.0, 3.0, 10.0], index=[2000, 2001, 2002, 2005])
    t = change_z(s, min_history=1).set_index("year")
    assert np.isnan(t.loc[2005, "change"])


def test_peer_z_singles_out_the_country_that_falls_alone():
    units = [f"U{i}" for i in range(8)]
    ch = pd.DataFrame({"unit": units, "year": 2020, "change": [0.1, -0.2, 0.0, 0.3, -0.1, 0.2, 0.05, -8.0]})
    z = peer_z(ch, {u: "R" for u in units}, min_peers=5)
    assert z.iloc[-1] < -10
    assert (z.iloc[:-1].abs() < 5).all()
    # a shared fall is not an anomaly against peers
    ch2 = ch.assign(change=ch["change"] - 8.0)
    z2 = peer_z(ch2.iloc[:-1], {u: "R" for u in units}, min_peers=5)
    assert (z2.abs() < 5).all()


def test_deterioration_table_floors_flat_histories():
    idx = pd.MultiIndex.from_product([["A", "B", "C"], range(2000, 2010)], names=["unit", "year"])
    v = pd.DataFrame({"x": 0.0}, index=idx)
    v.loc["B", "x"] = np.arange(10) % 2 * 2.0  # B moves +-2 every year
    v.loc[("A", 2009), "x"] = -1.0  # A never moved, then falls by 1
    t = deterioration_table(v, ["x"]).set_index(["unit", "year"])
    z_floor = t.loc[("A", 2009), "own_z"]
    assert np.isfinite(z_floor) and z_floor < -0.5
    t0 = deterioration_table(v, ["x"], pooled_floor=0).set_index(["unit", "year"])
    assert t0.loc[("A", 2009), "own_z"] == -50.0  # capped, without the pooled floor


# ---------------------------------------------------------------------------- change points


def _steps(seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    y = np.r_[np.full(10, 60.0), np.full(10, 45.0), np.full(10, 52.0)] + rng.normal(0, 1.0, 30)
    return pd.Series(y, index=np.arange(1990, 2020))


@pytest.mark.parametrize("method", ["pelt", "binseg"])
def test_change_points_find_known_breaks(method):
    cps = change_points(_steps(), method=method)
    assert [c.index for c in cps] == [10, 20]
    assert [c.year for c in cps] == [2000, 2010]
    assert cps[0].shift == pytest.approx(-15, abs=1.5)
    assert cps[1].shift == pytest.approx(7, abs=1.5)


def test_change_points_none_in_noise_and_fixed_number():
    rng = np.random.default_rng(7)
    assert change_points(50 + rng.normal(0, 1, 40)) == []
    cps = change_points(_steps(), method="binseg", n_bkps=1)
    assert [c.year for c in cps] == [2000]


# ---------------------------------------------------------------------------- rules


def test_default_rules_are_valid():
    rules = default_rules()
    ids = {r.id for r in rules}
    assert {"political_fall", "refugee_outflow_doubles", "hsi_fall"} <= ids


BAD = """rules_version: 1
rules:
  - id: ok_rule
    series: political
    measure: change
    below: -5
  - id: bad_measure
    series: political
    measure: slope
    below: -5
  - id: ok_rule
    series: economic
    measure: change
    below: {medium: -10, high: -5}
  - id: no_threshold
    series: food
    measure: change
    severity: extreme
"""


def test_rule_errors_are_located():
    with pytest.raises(ValidationError) as e:
        parse_rules(BAD, file="my_rules.yaml")
    msgs = [str(i) for i in e.value.issues]
    text = "\n".join(msgs)
    assert "my_rules.yaml, line 9" in text and "rules[1].measure" in text and "slope" in text
    assert "my_rules.yaml, line 11, rules[2].id: duplicate id 'ok_rule'" in text
    assert "rules[2].below" in text and "more extreme" in text
    assert "rules[3]" in text and "exactly one of 'below' or 'above'" in text


def test_yaml_syntax_error_is_located():
    with pytest.raises(ValidationError) as e:
        parse_rules("rules:\n  - id: a\n    series: [x\n", file="f.yaml")
    assert "f.yaml, line" in str(e.value)


def _panel() -> pd.DataFrame:
    years = range(2005, 2013)
    rows = []
    for u in ("AAA", "BBB"):
        for y in years:
            pol = 70.0 if (u == "AAA" and y >= 2011) else 80.0 + 0.1 * (y - 2005)
            out = 1000.0 * (30 if (u == "BBB" and y == 2012) else 1)
            rows.append({"unit": u, "year": y, "political": pol, "refugee_outflow": out})
    return pd.DataFrame(rows).set_index(["unit", "year"])


def test_rules_fire_on_known_breaks_with_severity():
    rules = parse_rules("""
rules:
  - id: political_fall
    title: political falls
    series: political
    measure: change
    below: {medium: -4, high: -8}
  - id: outflow
    series: refugee_outflow
    measure: ratio
    above: 2
    severity: high
    min_level: 10000
  - id: shift
    series: political
    measure: change_point
    below: -3
""")
    alerts = evaluate(rules, _panel())
    got = {(a.unit, a.year, a.rule, a.severity) for a in alerts}
    assert ("AAA", 2011, "political_fall", "high") in got  # 80.5 -> 70: -10.5
    assert ("BBB", 2012, "outflow", "high") in got  # 1,000 -> 30,000
    assert ("AAA", 2011, "shift", "medium") in got
    assert not any(a.unit == "AAA" and a.rule == "outflow" for a in alerts)
    assert not any(a.year != 2011 and a.rule == "political_fall" for a in alerts)
    a = next(a for a in alerts if a.rule == "political_fall")
    assert a.value == pytest.approx(70.0 - 80.5) and a.threshold == -8
    assert "political" in a.reason.lower() and "2011" in a.reason
    # min_level guards tiny numbers: 10 -> 300 persons is no surge
    small = _panel().assign(refugee_outflow=lambda d: d["refugee_outflow"] / 100)
    assert not [a for a in evaluate(rules, small) if a.rule == "outflow"]


def test_alert_explains_which_indicators_drove_the_fall():
    from humsec.index.builtin import load_spec

    spec = load_spec("hsi")
    kids = spec.children["political"]
    idx = pd.MultiIndex.from_product([["AAA"], [2015, 2016]], names=["unit", "year"])
    p = pd.DataFrame({k: [60.0, 60.0] for k in kids}, index=idx)
    p.loc[("AAA", 2016), "hfi_expression"] = 20.0  # -40 points on one of four equal weights
    p["political"] = p[kids].mean(axis=1)
    rules = parse_rules("rules:\n  - {id: pf, series: political, measure: change, below: -4}\n")
    (a,) = evaluate(rules, p, spec=spec)
    assert a.value == pytest.approx(-10.0)
    assert a.drivers[0]["code"] == "hfi_expression"
    assert a.drivers[0]["contribution"] == pytest.approx(-10.0)
    assert "Freedom of expression" in a.reason


def test_current_alerts_on_embedded_panel(default_env):
    from humsec.forecast.alerts import parse_rules as pr
    from humsec.forecast.warn import current_alerts
    from humsec.index.builtin import load_spec

    _, panel, _ = default_env
    rules = pr("rules:\n  - {id: hf, series: index, measure: change, below: -4, severity: high}\n"
               "  - {id: da, series: dimensions, measure: own_z, below: -3}\n")
    r = current_alerts(panel, load_spec("hsi"), unit="SYR", year=2012, rules=rules)
    hf = [a for a in r.alerts if a.rule == "hf"]
    assert hf and hf[0].value < -4 and hf[0].drivers
    # the explanation adds up: contributions of the dimensions sum to the index change
    # when every dimension has a score in both years (arithmetic mean of 7 dimensions)
    assert sum(d["contribution"] for d in hf[0].drivers) >= hf[0].value - 1e-6
