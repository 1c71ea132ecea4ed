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


def test_deterioration_table_restricted_to_years_equals_the_full_table():
    """``years=``: the rows of those years carry exactly the full table's z-scores (own
    history with pooled floors, peers), the other rows NaN."""
    rng = np.random.default_rng(11)
    units = [f"U{i:02d}" for i in range(24)]
    idx = pd.MultiIndex.from_product([units, range(2000, 2014)], names=["unit", "year"])
    a = rng.normal(0, 1, len(idx)).cumsum()
    a[rng.random(len(idx)) < 0.1] = np.nan  # gaps
    b = np.round(rng.normal(50, 2, len(idx)))  # ties, flat stretches
    panel = pd.DataFrame({"a": a, "b": b}, index=idx)
    groups = {u: "G1" if i < 12 else "G2" for i, u in enumerate(units)}
    full = deterioration_table(panel, groups=groups, directions={"b": -1})
    for ys in ([2013], [2004, 2010], [2000]):
        part = deterioration_table(panel, groups=groups, directions={"b": -1}, years=ys)
        assert part[["unit", "year", "series"]].equals(full[["unit", "year", "series"]])
        sel = full["year"].isin(ys).to_numpy()
        for c in ("own_z", "peer_z"):
            np.testing.assert_array_equal(part[c].to_numpy()[sel], full[c].to_numpy()[sel])
            assert part[c].to_numpy()[~sel].tolist() == [] or np.isnan(part[c].to_numpy()[~sel]).all()
    assert np.isfinite(full.loc[full["year"] == 2013, ["own_z", "peer_z"]].to_numpy()).any()


def test_own_pelt_equals_ruptures_pelt():
    """The ruptures-free PELT (l2 cost) gives ruptures' breakpoints: random, tied and
    trending series, several penalties and minimum segment lengths."""
    rpt = pytest.importorskip("ruptures")
    from humsec.forecast.detect import _pelt_l2

    rng = np.random.default_rng(20)
    checked = 0
    for it in range(600):
        n = int(rng.integers(2, 30))
        y = rng.normal(0, 1, n)
        if it % 3 == 1:
            y = np.round(y)
        elif it % 3 == 2:
            y = np.cumsum(y)
        sig = y.reshape(-1, 1)
        for ms in (1, 2, 3):
            if n < 2 * ms:
                continue
            pen = float(rng.choice([0.01, 0.5, 2.0, 10.0]))
            assert _pelt_l2(sig, pen, ms) == rpt.Pelt(model="l2", min_size=ms, jump=1).fit(sig).predict(pen=pen)
            checked += 1
    assert checked > 1000
    # and through change_points with the default penalty, as the alert rules call it
    s = pd.Series(_steps().to_numpy()[:13], index=range(2000, 2013))
    for i in range(3, 13):
        part = s.iloc[: i + 1]
        sig = part.to_numpy(dtype=float).reshape(-1, 1)
        from humsec.forecast.detect import _robust_sigma
        yv = sig[:, 0]
        pen = max(2.0 * _robust_sigma(yv) ** 2 * np.log(len(yv)), 1e-6 * float(np.var(yv)), 1e-12)
        want = rpt.Pelt(model="l2", min_size=1, jump=1).fit(sig).predict(pen=pen)
        assert [c.index for c in change_points(part, min_size=1)] == want[:-1]


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


@pytest.mark.parametrize("dim", ["political", "personal"])
def test_alert_explains_which_indicators_drove_the_fall(dim):
    from humsec.index.builtin import load_spec
    from humsec.index.pipeline import resolve_method

    spec = load_spec("hsi")
    kids = list(spec.children[dim])  # whatever the spec holds: read at run time
    assert len(kids) >= 2
    method = resolve_method(spec.steps[spec.step_index("aggregate")], dim, spec.level(dim))[0]
    assert method == ("geometric" if dim == "personal" else "arithmetic")
    w = {k: float(spec.nodes[k].weight) for k in kids}
    main, other = kids[0], kids[1]
    idx = pd.MultiIndex.from_product([["AAA"], [2022, 2023]], names=["unit", "year"])
    p = pd.DataFrame({k: [60.0, 60.0] for k in kids}, index=idx)
    p.loc[("AAA", 2023), main] = 20.0   # -40 points
    p.loc[("AAA", 2023), other] = 50.0  # -10 points
    if len(kids) > 2:
        p.loc[("AAA", 2023), kids[2:]] = 61.0  # small rises are no drivers
    total = sum(w.values())
    if method == "geometric":  # weighted geometric mean, by hand
        p[dim] = np.exp(sum(np.log(p[k]) * w[k] for k in kids) / total)
    else:  # weighted arithmetic mean, by hand
        p[dim] = sum(p[k] * w[k] for k in kids) / total
    fall = float(p.loc[("AAA", 2023), dim] - 60.0)
    assert fall < 0
    rules = parse_rules(f"rules:\n  - {{id: pf, series: {dim}, measure: change, below: {fall / 2}}}\n")
    (a,) = evaluate(rules, p, spec=spec)
    assert a.value == pytest.approx(fall)
    # contribution of a child: w_i * change_i / sum(w) (arithmetic), or its log-mean
    # Divisia share L(A1, A0) w_i ln(s1 / s0) / sum(w) (geometric); both add up to the
    # fall exactly; the most negative comes first
    new = p.loc[("AAA", 2023)]
    if method == "geometric":
        a1, a0 = float(new[dim]), 60.0
        lm = (a1 - a0) / (np.log(a1) - np.log(a0))
        share = {k: lm * w[k] * np.log(new[k] / 60.0) / total for k in kids}
    else:
        share = {k: w[k] * (new[k] - 60.0) / total for k in kids}
    assert sum(share.values()) == pytest.approx(fall)
    expected = sorted([(main, share[main]), (other, share[other])], key=lambda x: x[1])
    assert [d["code"] for d in a.drivers] == [c for c, _ in expected]
    by = {d["code"]: d for d in a.drivers}
    assert by[main]["contribution"] == pytest.approx(share[main], abs=0.006)
    assert by[other]["change"] == pytest.approx(-10.0)
    assert (spec.nodes[main].name or main) in a.reason and "2023" in a.reason


def test_change_point_alert_is_explained_by_the_change_into_the_new_level():
    from humsec.index.builtin import load_spec

    spec = load_spec("hsi")
    dims = list(spec.children[spec.root])
    years = range(2012, 2023)
    idx = pd.MultiIndex.from_product([["AAA"], years], names=["unit", "year"])
    rng = np.random.default_rng(4)
    p = pd.DataFrame({d: 60.0 + rng.normal(0, 0.3, len(years)) for d in dims}, index=idx)
    p.loc[("AAA", 2022), dims] = p.loc[("AAA", 2021), dims] + 0.1   # 2022: every dimension rises a little
    hit = dims[-1]
    p.loc[p.index.get_level_values("year") >= 2021, hit] -= 35.0   # the break: 2021
    w = {d: float(spec.nodes[d].weight) for d in dims}
    p[spec.root] = sum(p[d] * w[d] for d in dims) / sum(w.values())
    rules = parse_rules(f"rules:\n  - {{id: s, series: {spec.root}, measure: change_point, below: -1, window: 2}}\n")
    (a,) = evaluate(rules, p, spec=spec, year=2022)
    assert a.year == 2022 and a.value < -1
    # in 2022 every dimension rose by 0.1; the shift came with the fall of 2021
    fall = p.loc[("AAA", 2021), hit] - p.loc[("AAA", 2020), hit]
    assert a.drivers and a.drivers[0]["code"] == hit and a.drivers[0]["change"] == pytest.approx(fall, abs=0.006)
    assert "the shift came in 2021" in a.reason


def _hsi_inputs(default_env):
    from humsec.analysis.assess import index_data
    from humsec.index.builtin import load_spec

    _, panel, _ = default_env
    spec = load_spec("hsi")
    return panel, spec, index_data(panel, spec)


def test_current_alerts_on_the_release(default_env):
    from humsec.analysis.assess import history
    from humsec.forecast.alerts import parse_rules as pr
    from humsec.forecast.warn import current_alerts

    panel, spec, data = _hsi_inputs(default_env)
    rules = pr("rules:\n  - {id: hf, series: index, measure: change, below: -4, severity: high}\n"
               "  - {id: da, series: dimensions, measure: own_z, below: -3}\n")
    # 2012: Syria's uprising became a civil war (UCDP: 236 deaths per 100,000 in organised
    # violence, from 19 in 2011); the index must fall by more than 4 points
    r = current_alerts(panel, spec, unit="SYR", year=2012, rules=rules)
    assert r.year == 2012 and r.units == ("SYR",)
    hf = [a for a in r.alerts if a.rule == "hf"]
    assert hf and hf[0].value < -4 and hf[0].drivers
    h = history(spec, data, [2011, 2012]).loc["SYR", spec.root]
    assert hf[0].value == pytest.approx(h.loc[2012] - h.loc[2011])
    # the explanation adds up: contributions of the dimensions sum to the index change
    # when every dimension has a score in both years (arithmetic mean of the dimensions)
    assert sum(d["contribution"] for d in hf[0].drivers) >= hf[0].value - 1e-6
    assert all(d["code"] in spec.children[spec.root] for d in hf[0].drivers)


def test_default_year_of_the_alerts_is_recent_and_ukraine_2022_is_flagged(default_env):
    from humsec.forecast.warn import current_alerts

    panel, spec, data = _hsi_inputs(default_env)
    # the latest year in which at least half of the index's indicators are observed
    per_year = data[data["indicator"].isin(spec.indicators)].groupby("year")["indicator"].nunique()
    latest = int(per_year[per_year >= len(spec.indicators) / 2].index.max())
    assert latest >= 2022  # the release runs to 2022-2025 depending on the indicator
    r = current_alerts(panel, spec, unit="UKR", year=2022)
    assert r.year == 2022
    # the full-scale invasion: a dimension falls sharply (high) and the reason names the
    # indicators that drove it
    falls = [a for a in r.alerts if a.rule == "dimension_fall" and a.severity == "high"]
    assert falls, [a.reason for a in r.alerts]
    worst = min(falls, key=lambda a: a.value)
    assert worst.value < -10 and worst.drivers and "driven by" in worst.reason
    assert all(d["code"] in spec.children[worst.series] for d in worst.drivers)
    assert worst.current < worst.previous


def _measure_reference(panel, col, rule, year=None):
    """The measures as the pandas code computed them before they moved to arrays (sort,
    group, shift; change points per unit on the series up to each year)."""
    s = panel[col].dropna()
    frame = s.rename("current").reset_index().sort_values(["unit", "year"])
    prev = frame.groupby("unit")["current"].shift(1)
    gap = frame["year"] - frame.groupby("unit")["year"].shift(1)
    frame["previous"] = prev.where(gap == 1)
    if rule.measure == "change":
        frame["value"] = frame["current"] - frame["previous"]
    elif rule.measure == "ratio":
        frame["value"] = frame["current"] / frame["previous"].where(frame["previous"] > 0)
    elif rule.measure == "change_point":
        out = []
        for _, g in frame.groupby("unit", sort=False):
            ser = pd.Series(g["current"].to_numpy(), index=g["year"].to_numpy())
            for i, y in enumerate(ser.index):
                if year is not None and y != year:
                    out.append(np.nan)
                    continue
                cps = change_points(ser.iloc[: i + 1], method="pelt", min_size=1) if i >= 3 else []
                recent = [c for c in cps if c.year is not None and y - rule.window < c.year <= y]
                out.append(recent[-1].shift if recent else np.nan)
        frame["value"] = out
    return frame[["unit", "year", "current", "previous", "value"]].reset_index(drop=True)


@pytest.mark.parametrize("measure", ["change", "ratio", "change_point"])
def test_rule_measures_on_arrays_equal_the_pandas_computation(measure):
    """Rows in random order, gaps of years and missing values: the array version of the
    measures gives the same rows and numbers."""
    from humsec.forecast.alerts import _measure_frame

    rng = np.random.default_rng(3)
    rows = [(f"U{u}", y, float(rng.normal(50, 5)) if rng.random() > 0.15 else np.nan)
            for u in range(12) for y in range(2000, 2016) if rng.random() > 0.2]
    rows = [rows[i] for i in rng.permutation(len(rows))]
    panel = pd.DataFrame(rows, columns=["unit", "year", "s"]).set_index(["unit", "year"])
    rule = parse_rules(f"rules:\n  - {{id: r, series: [s], measure: {measure}, above: {{low: 2}}}}\n")[0]
    for year in (None, 2012):
        if measure == "change_point" and year is None:
            continue  # every row: many PELT runs, the year case covers the code path
        got = _measure_frame(panel, "s", rule, None, {}, year=year)
        got = got[["unit", "year", "current", "previous", "value"]].reset_index(drop=True)
        want = _measure_reference(panel, "s", rule, year)
        assert list(got["unit"]) == list(want["unit"]) and list(got["year"]) == list(want["year"])
        for c in ("current", "previous", "value"):
            np.testing.assert_array_equal(got[c].to_numpy(dtype=float), want[c].to_numpy(dtype=float))


def _deterioration_reference(panel, col, groups, *, min_history=4, min_peers=5, min_scale=1e-9, direction=1):
    """Own and peer z-scores by the per-row loops (robust_z on each reference), as
    deterioration_table computed them before they moved to arrays."""
    from humsec.forecast.detect import _floors, _series_changes, robust_z

    units, yrs, values, change = _series_changes(panel, col)
    all_years = sorted(panel.index.get_level_values("year").unique())
    floors = _floors(yrs, change, all_years, 0.5)
    floors_on = bool(np.any(np.isfinite(change) & (yrs < all_years[-1])))
    own = np.full(values.size, np.nan)
    for u in dict.fromkeys(units):
        past = []
        for i in np.flatnonzero(units == u):
            c = change[i]
            if np.isfinite(c):
                if len(past) >= min_history:
                    y = int(yrs[i])
                    floor = (max(floors[y], min_scale) if y in floors else 1e-9) if floors_on else min_scale
                    own[i] = direction * robust_z(c, np.asarray(past), min_scale=max(float(floor), 1e-9))
                past.append(c)
    peer = np.full(values.size, np.nan)
    g = np.array([groups.get(u) for u in units], dtype=object)
    for key in {(a, b) for a, b in zip(g, yrs) if a is not None}:
        rows = [i for i in range(values.size) if g[i] == key[0] and yrs[i] == key[1] and np.isfinite(change[i])]
        if len(rows) < min_peers + 1:
            continue
        vals = change[rows]
        for p, r in enumerate(rows):
            peer[r] = direction * robust_z(vals[p], np.delete(vals, p), min_scale=min_scale)
    return own, peer


def test_deterioration_table_on_arrays_equals_the_per_row_loops():
    """Ties, flat stretches, gaps, units without a group and groups too small: the array
    z-scores are the per-row robust_z numbers, bit for bit, with and without years=."""
    rng = np.random.default_rng(5)
    units = [f"U{i:02d}" for i in range(30)]
    idx = pd.MultiIndex.from_product([units, range(2000, 2014)], names=["unit", "year"])
    a = rng.normal(0, 1, len(idx)).cumsum()
    a[rng.random(len(idx)) < 0.12] = np.nan
    b = np.round(rng.normal(50, 1, len(idx)))
    b[:14] = 50.0  # a flat unit
    panel = pd.DataFrame({"a": a, "b": b}, index=idx)
    groups = {u: ("G1" if i < 12 else "G2" if i < 26 else "G3") for i, u in enumerate(units) if i != 5}
    for col, direction in (("a", 1), ("b", -1)):
        own, peer = _deterioration_reference(panel, col, groups, direction=direction)
        full = deterioration_table(panel, [col], groups=groups, directions={col: direction})
        np.testing.assert_array_equal(full["own_z"].to_numpy(), own)
        np.testing.assert_array_equal(full["peer_z"].to_numpy(), peer)
        assert np.isfinite(own).sum() > 100 and np.isfinite(peer).sum() > 100
        part = deterioration_table(panel, [col], groups=groups, directions={col: direction}, years=[2012])
        sel = part["year"].to_numpy() == 2012
        np.testing.assert_array_equal(part["own_z"].to_numpy()[sel], own[sel])
        np.testing.assert_array_equal(part["peer_z"].to_numpy()[sel], peer[sel])


def test_pelt_many_equals_change_points_and_the_cost_table_equals_l2_cost():
    from humsec.forecast.detect import _l2_cost, _l2_cost_table, pelt_many

    rng = np.random.default_rng(8)
    for it in range(40):
        n = int(rng.integers(1, 40))
        y = rng.normal(rng.normal(0, 100), rng.uniform(0.01, 20), n)
        if it % 2:
            y = np.round(np.cumsum(y), 1)
        tab, sums = _l2_cost_table(y, n)
        for k in range(1, n + 1):
            for i in range(n - k + 1):
                assert tab[k][i] == _l2_cost(y[i:i + k].reshape(-1, 1))
                assert sums[k][i] / k == np.mean(y[i:i + k])
    series = []
    for it in range(200):
        n = int(rng.integers(2, 20))
        y = np.round(rng.normal(50, 3, n), int(rng.integers(0, 3)))
        if it % 2:
            y[n // 2:] -= 6
        series.append((y, np.arange(2000, 2000 + n)))
    # flat series, one step in a flat series, zeros of both signs: zero robust sigma
    for y in ([5.0] * 9, [5.0] * 6 + [7.0] * 7, [0.0, -0.0, 0.0, -0.0, 1.0, 1.0], [3.0, 3.0]):
        series.append((np.array(y), np.arange(2000, 2000 + len(y))))
    series.append((np.array([1.0, 2.0, 4.0, 3.0, 5.0]), None))
    for ms in (1, 2):
        assert pelt_many(series, min_size=ms) == [
            change_points(pd.Series(v, index=yr) if yr is not None else v, min_size=ms) for v, yr in series]
