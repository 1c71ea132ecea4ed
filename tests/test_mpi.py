"""Alkire–Foster multidimensional poverty (humsec.analysis.mpi).

Known answers are computed by hand (the worked example of Alkire & Foster 2011); the
properties are checked on random microdata with Hypothesis against an independent,
record-by-record implementation written here.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from humsec.analysis.mpi import MPISpec, bootstrap_se, builtin_mpi_names, load_mpi_spec, measure
from humsec.cli.main import main
from humsec.errors import HumsecError, ValidationError

# --------------------------------------------------------------------------- helpers

AF_DATA = pd.DataFrame({
    "income": [13.1, 15.2, 12.5, 20.0],
    "school": [14, 7, 10, 11],
    "bmi": [4, 5, 1, 3],
    "health": [1, 0, 0, 1],
    "sex": ["F", "M", "F", "M"],
})
AF_CUTOFFS = [("income", 13), ("school", 12), ("bmi", 3), ("health", 1)]


def af_spec(k: float = 0.5) -> MPISpec:
    return MPISpec.from_dict({
        "name": "af2011", "poverty_cutoff": k,
        "dimensions": [{"code": "all", "weight": 1}],
        "indicators": [{"code": c, "dimension": "all", "deprived_if": "<", "cutoff": z}
                       for c, z in AF_CUTOFFS],
    })


def flag_spec(weights: list[float], k: float) -> MPISpec:
    """One dimension per indicator; 0/1 flag columns g0, g1, ..."""
    return MPISpec.from_dict({
        "name": "random", "poverty_cutoff": k,
        "dimensions": [{"code": f"d{j}"} for j in range(len(weights))],
        "indicators": [{"code": f"g{j}", "dimension": f"d{j}", "weight": w, "deprived_if": "true"}
                       for j, w in enumerate(weights)],
    })


def naive(g: np.ndarray, w: np.ndarray, wts: np.ndarray, k: float) -> dict:
    """Record-by-record Alkire–Foster, written independently of the module."""
    n, d = g.shape
    pop = sum(w)
    c = [sum(wts[j] * g[i, j] for j in range(d)) for i in range(n)]
    poor = [c[i] >= k - 1e-9 for i in range(n)]
    H = sum(w[i] for i in range(n) if poor[i]) / pop
    M0 = sum(w[i] * c[i] for i in range(n) if poor[i]) / pop
    cens = [sum(w[i] for i in range(n) if poor[i] and g[i, j]) / pop for j in range(d)]
    unc = [sum(w[i] for i in range(n) if g[i, j]) / pop for j in range(d)]
    return {"H": H, "M0": M0, "A": M0 / H if H > 0 else math.nan, "cens": cens, "unc": unc,
            "c": c, "poor": poor}


@st.composite
def microdata(draw, max_n: int = 40, max_d: int = 6):
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, max_d))
    g = np.array(draw(st.lists(st.lists(st.booleans(), min_size=d, max_size=d), min_size=n, max_size=n)))
    w = np.array(draw(st.lists(st.floats(0.0, 100.0, allow_nan=False), min_size=n, max_size=n)))
    if w.sum() <= 0:
        w[0] = 1.0
    raw = np.array(draw(st.lists(st.integers(1, 10), min_size=d, max_size=d)), dtype=float)
    wts = raw / raw.sum()
    groups = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    k = draw(st.floats(0.01, 1.0))
    df = pd.DataFrame({f"g{j}": g[:, j].astype(int) for j in range(d)})
    df["w"] = w
    df["grp"] = groups
    return df, g, w, wts, k


# --------------------------------------------------------------------------- known answers


def test_alkire_foster_2011_worked_example():
    # 4 people, 4 dimensions, cut-offs z = (13, 12, 3, 1): deprivation counts c = (0, 2, 4, 1)
    r = measure(AF_DATA, af_spec(k=2 / 4))
    assert (r.H, r.A, r.M0) == pytest.approx((0.5, 0.75, 0.375))  # H = 2/4, A = 6/8, M0 = 6/16
    ind = r.indicators
    assert ind["uncensored"].tolist() == pytest.approx([1 / 4, 3 / 4, 1 / 4, 2 / 4])
    assert ind["censored"].tolist() == pytest.approx([1 / 4, 2 / 4, 1 / 4, 2 / 4])
    # contributions w_j h_j / M0: (1/16, 2/16, 1/16, 2/16) / (6/16)
    assert ind["contribution_pct"].tolist() == pytest.approx([100 / 6, 200 / 6, 100 / 6, 200 / 6])
    # union (k = 1/4) and intersection (k = 1) approaches
    u = r.at_k(0.25)
    assert (u.H, u.A, u.M0) == pytest.approx((3 / 4, 7 / 12, 7 / 16))
    i = r.at_k(1.0)
    assert (i.H, i.A, i.M0) == pytest.approx((1 / 4, 1.0, 1 / 4))
    # the k-curve at every attainable score
    curve = r.robustness()
    assert curve["k"].tolist() == pytest.approx([0.25, 0.5, 1.0])
    assert curve["M0"].tolist() == pytest.approx([7 / 16, 6 / 16, 4 / 16])


def test_subgroups_by_hand():
    r = measure(AF_DATA, af_spec(0.5), by="sex")
    sub = r.subgroups["sex"]
    # F: persons 1 (c=0) and 3 (c=4) -> H 1/2, M0 = 4/4 / 2 = 1/2; M: persons 2 (c=2), 4 (c=1)
    assert sub.loc["F", ["H", "A", "M0", "pop_share"]].tolist() == pytest.approx([0.5, 1.0, 0.5, 0.5])
    assert sub.loc["M", ["H", "A", "M0", "pop_share"]].tolist() == pytest.approx([0.5, 0.5, 0.25, 0.5])
    assert sub["contribution_pct"].tolist() == pytest.approx([200 / 3, 100 / 3])
    assert sub.loc["M", "h_school"] == 0.5 and sub.loc["M", "h_income"] == 0.0


def test_sampling_weights_equal_replication():
    w = np.array([3, 1, 2, 5])
    rep = AF_DATA.loc[AF_DATA.index.repeat(w)].reset_index(drop=True)
    a = measure(AF_DATA.assign(w=w), af_spec(), weight="w")
    b = measure(rep, af_spec())
    assert a.summary[["H", "A", "M0"]].tolist() == pytest.approx(b.summary[["H", "A", "M0"]].tolist())
    assert a.indicators["censored"].tolist() == pytest.approx(b.indicators["censored"].tolist())
    # H = (1 + 2)/11 for the poor persons 2 and 3
    assert a.H == pytest.approx(3 / 11) and a.M0 == pytest.approx((1 * 0.5 + 2 * 1.0) / 11)
    assert a.summary["population"] == 11 and a.summary["records"] == 4


def test_nested_weights_and_fractions_in_spec():
    spec = MPISpec.from_yaml("""
name: nested
poverty_cutoff: 1/3
dimensions:
  - {code: h, weight: 1/2}
  - {code: e, weight: 1/2}
indicators:
  - {code: a, dimension: h}
  - {code: b, dimension: h}
  - {code: c, dimension: e, deprived_if: "<", cutoff: 6}
""")
    assert dict(spec.weights) == pytest.approx({"a": 0.25, "b": 0.25, "c": 0.5})
    assert spec.poverty_cutoff == pytest.approx(1 / 3)
    df = pd.DataFrame({"a": [1, 1, 0, 0], "b": [1, 0, 0, 0], "c": [9, 9, 3, 9]})
    r = measure(df, spec)
    # scores 0.5, 0.25, 0.5, 0 -> poor: persons 1 and 3; H = 1/2, A = 1/2
    assert (r.H, r.A, r.M0) == pytest.approx((0.5, 0.5, 0.25))
    assert r.dimensions["contribution_pct"].tolist() == pytest.approx([50.0, 50.0])
    assert MPISpec.from_yaml(spec.to_yaml()) == spec


def test_vulnerable_and_severe():
    spec = load_mpi_spec("global_mpi")
    base = {c: 0 for c in ["d_nutrition", "child_deaths_5y", "d_attendance", "d_cooking_fuel",
                           "d_sanitation", "d_water", "d_housing", "d_assets"]}
    rows = [
        {**base, "max_years_schooling": 9, "has_electricity": 1},                   # score 0
        {**base, "d_nutrition": 1, "d_water": 1, "max_years_schooling": 9,
         "has_electricity": 1},                                                      # 1/6+1/18 = 0.222 vulnerable
        {**base, "d_nutrition": 1, "d_attendance": 1, "max_years_schooling": 9,
         "has_electricity": 1},                                                      # exactly 1/3: poor
        {**base, "d_nutrition": 1, "child_deaths_5y": 2, "max_years_schooling": 3,
         "has_electricity": 0},                                                      # 1/2 + 1/18: severe
    ]
    r = measure(pd.DataFrame(rows), spec)
    assert r.H == pytest.approx(0.5)
    assert r.summary["vulnerable"] == pytest.approx(0.25)
    assert r.summary["severe"] == pytest.approx(0.25)
    assert r.A == pytest.approx((1 / 3 + 1 / 2 + 1 / 18) / 2)
    assert r.indicators.loc["electricity", "censored"] == pytest.approx(0.25)


# --------------------------------------------------------------------------- the built-in spec


def test_global_mpi_structure():
    assert "global_mpi" in builtin_mpi_names()
    s = load_mpi_spec("global_mpi")
    assert len(s.indicators) == 10 and len(s.dimensions) == 3
    assert s.dimension_weights() == pytest.approx({"health": 1 / 3, "education": 1 / 3,
                                                    "living_standards": 1 / 3})
    assert s.poverty_cutoff == pytest.approx(1 / 3)
    assert (s.vulnerable_cutoff, s.severe_cutoff) == pytest.approx((0.2, 0.5))
    assert all(i.description for i in s.indicators)
    assert MPISpec.from_yaml(s.to_yaml()) == s


def test_global_mpi_matches_published_method_constants(published_data):
    p = published_data / "published_reference" / "method_constants" / "constants.csv"
    if not p.exists():
        pytest.skip(f"{p} absent")
    c = pd.read_csv(p)
    mpi = c[c["system"] == "MPI"].set_index("parameter")["value"]
    assert float(Fraction(mpi["poverty_cutoff_k"])) == pytest.approx(load_mpi_spec("global_mpi").poverty_cutoff)
    s = load_mpi_spec("global_mpi")
    names = {i.name.lower(): s.weights[i.code] for i in s.indicators}
    # "health 1/6 each (nutrition, child mortality); education 1/6 each (...); living standards 1/18 each (...)"
    found = 0
    for dim, frac, members in re.findall(r"(\w[\w ]*?) (\d+/\d+) each \(([^)]*)\)", mpi["indicator_weights"]):
        for m in members.split(","):
            hits = [v for n, v in names.items() if m.strip().lower() in n]  # "attendance"
            assert len(hits) == 1 and hits[0] == pytest.approx(float(Fraction(frac))), m
            found += 1
    assert found == 10
    assert float(mpi["severe_cutoff"].lstrip(">=")) / 100 == pytest.approx(s.severe_cutoff)
    assert float(mpi["vulnerable_band"].split("-")[0]) / 100 == pytest.approx(s.vulnerable_cutoff)


def test_published_mpi_tables_consistent_with_spec(published_data):
    """The published figures only carry H, A, M0 (no microdata), so they cannot be
    recomputed; check that the published intensities respect the spec's k (A >= k) and
    that the measure's identity M0 = H x A holds for them as for ours."""
    p = published_data / "published_reference" / "mpi" / "ophi_global_mpi_sample.csv"
    if not p.exists():
        pytest.skip(f"{p} absent")
    o = pd.read_csv(p)
    k = load_mpi_spec("global_mpi").poverty_cutoff
    m = o["intensity_pct"].notna()
    assert (o.loc[m, "intensity_pct"] / 100 >= k - 5e-5).all()
    assert ((o["headcount_ratio_pct"] * o["intensity_pct"] / 1e4 - o["mpi"]).abs() <= 5e-5 + 1e-9)[m].all()


def test_spec_errors_are_located():
    good = af_spec().to_dict()
    bad = dict(good, indicators=[dict(good["indicators"][0], weight=0.5, dimension="nope"),
                                 *good["indicators"][1:]])
    with pytest.raises(ValidationError) as e:
        MPISpec.from_dict(bad, file="x.yaml")
    assert "x.yaml, indicators[0] (income).dimension: unknown dimension 'nope'" in str(e.value)
    bad = dict(good, indicators=[dict(i, weight=0.3) for i in good["indicators"]])
    bad["dimensions"] = [{"code": "all"}]
    with pytest.raises(ValidationError, match="sum to 1.2"):
        MPISpec.from_dict(bad)
    bad = dict(good, indicators=[{"code": "a", "dimension": "all", "deprived_if": "<"}])
    with pytest.raises(ValidationError, match="needs a cutoff"):
        MPISpec.from_dict(bad)
    with pytest.raises(ValidationError, match="poverty_cutoff"):
        MPISpec.from_dict(dict(good, poverty_cutoff=1.5))
    with pytest.raises(ValidationError, match="not valid YAML"):
        MPISpec.from_yaml("name: [x", file="y.yaml")
    with pytest.raises(HumsecError, match="neither a built-in"):
        load_mpi_spec("no_such_spec")


# --------------------------------------------------------------------------- files and errors


def _global_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({c: (rng.random(n) < p).astype(int) for c, p in [
        ("d_nutrition", .3), ("d_attendance", .2), ("d_cooking_fuel", .6), ("d_sanitation", .5),
        ("d_water", .3), ("d_housing", .4), ("d_assets", .4)]})
    df["has_electricity"] = (rng.random(n) < 0.6).astype(int)
    df["child_deaths_5y"] = rng.poisson(0.2, n)
    df["max_years_schooling"] = rng.integers(0, 14, n)
    df["weight"] = rng.gamma(2.0, 1.0, n)
    df["region"] = rng.choice(["north", "south", "east"], n)
    df["psu"] = rng.integers(0, 40, n)
    df["stratum"] = np.where(df["psu"] < 20, "urban", "rural")
    return df


def test_files_and_chunks_agree(tmp_path):
    df = _global_rows(3000, seed=3)
    ref = measure(df, "global_mpi", weight="weight", by="region")
    df.to_csv(tmp_path / "m.csv", index=False)
    df.to_csv(tmp_path / "m.csv.gz", index=False)
    df.to_parquet(tmp_path / "m.parquet")
    df.to_feather(tmp_path / "m.feather")
    for name in ("m.csv", "m.csv.gz", "m.parquet", "m.feather"):
        for chunk in (1000, 7):
            r = measure(tmp_path / name, "global_mpi", weight="weight", by="region", chunk_rows=chunk)
            assert r.summary.drop("records").to_numpy() == pytest.approx(
                ref.summary.drop("records").to_numpy(), nan_ok=True), (name, chunk)
            pd.testing.assert_frame_equal(r.subgroups["region"].sort_index(),
                                          ref.subgroups["region"].sort_index(), rtol=1e-9)


BAD_CASES = [
    # (name, mutate(df) -> df, expected located message)
    ("missing column", lambda d: d.drop(columns="d_water"),
     r"bad\.csv, d_water: missing column 'd_water' \(needed for indicator 'drinking_water'\)"),
    ("non-numeric", lambda d: d.assign(max_years_schooling=d["max_years_schooling"].astype(object)
                                       .where(d.index != 2, "six")),
     r"bad\.csv, row 4, column 'max_years_schooling': non-numeric value 'six': expected a number"),
    ("negative weight", lambda d: d.assign(weight=d["weight"].where(d.index != 0, -2.5)),
     r"bad\.csv, row 2, column 'weight': negative weight -2\.5: sampling weights must be >= 0"),
    ("flag outside set", lambda d: d.assign(d_assets=d["d_assets"].where(d.index != 5, 3)),
     r"bad\.csv, row 7, column 'd_assets': value 3 is outside the allowed set \{0, 1\} \(indicator 'assets'\)"),
    ("bad boolean text", lambda d: d.assign(has_electricity=d["has_electricity"].astype(object)
                                            .where(d.index != 1, "maybe")),
     r"bad\.csv, row 3, column 'has_electricity': value 'maybe' is outside the allowed set \{0, 1, true, false\}"),
    ("missing value", lambda d: d.assign(child_deaths_5y=d["child_deaths_5y"].astype(float)
                                         .where(d.index != 3, np.nan)),
     r"bad\.csv, row 5, column 'child_deaths_5y': missing value: expected a value for indicator 'child_mortality'"),
    ("out of range", lambda d: d.assign(max_years_schooling=d["max_years_schooling"].where(d.index != 4, 99)),
     r"bad\.csv, row 6, column 'max_years_schooling': value 99 is outside the valid range \[0, 30\]"),
    ("missing weight", lambda d: d.assign(weight=d["weight"].where(d.index != 8, np.nan)),
     r"bad\.csv, row 10, column 'weight': missing value: expected a non-negative sampling weight"),
    ("missing group label", lambda d: d.assign(region=d["region"].where(d.index != 9, None)),
     r"bad\.csv, row 11, column 'region': missing value: expected a label for a subgroup"),
]


@pytest.mark.parametrize("name,mutate,expected", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_microdata_located(tmp_path, name, mutate, expected):
    df = mutate(_global_rows(20, seed=1))
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ValidationError) as e:
        measure(path, "global_mpi", weight="weight", by="region")
    assert re.search(expected, str(e.value)), str(e.value)
    assert len(e.value.issues) == 1


def test_every_problem_reported_and_parquet_rows(tmp_path):
    df = _global_rows(30, seed=2)
    df.loc[3, "weight"] = -1
    df.loc[17, "d_housing"] = 2
    df.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValidationError) as e:
        measure(tmp_path / "bad.parquet", "global_mpi", weight="weight", chunk_rows=10)
    msgs = [str(i) for i in e.value.issues]
    assert any("row 4, column 'weight': negative weight" in m for m in msgs)  # record 4 (no header)
    assert any("row 18, column 'd_housing': value 2" in m for m in msgs)
    with pytest.raises(HumsecError, match="not found"):
        measure(tmp_path / "absent.csv", "global_mpi")
    (tmp_path / "x.xls").write_text("x")
    with pytest.raises(HumsecError, match="unsupported"):
        measure(tmp_path / "x.xls", "global_mpi")


def test_missing_drop():
    df = _global_rows(50, seed=4)
    df.loc[[1, 2], "d_water"] = np.nan
    with pytest.raises(ValidationError):
        measure(df, "global_mpi", weight="weight")
    r = measure(df, "global_mpi", weight="weight", missing="drop")
    ref = measure(df.drop(index=[1, 2]), "global_mpi", weight="weight")
    assert r.M0 == pytest.approx(ref.M0) and r.summary["dropped_records"] == 2
    assert r.summary["dropped_weight_share"] == pytest.approx(df.loc[[1, 2], "weight"].sum() / df["weight"].sum())


def test_zero_weights_and_no_population():
    df = AF_DATA.assign(w=[0.0, 1.0, 1.0, 0.0])
    r = measure(df, af_spec(), weight="w")
    assert r.H == pytest.approx(1.0) and r.M0 == pytest.approx(0.75)
    with pytest.raises(HumsecError, match="positive weight"):
        measure(AF_DATA.assign(w=0.0), af_spec(), weight="w")


# --------------------------------------------------------------------------- standard errors


def test_linearised_se_by_hand_and_design():
    df = _global_rows(400, seed=5)
    r = measure(df, "global_mpi", weight="weight")
    spec = load_mpi_spec("global_mpi")
    g = np.column_stack([spec.indicators[j].deprived(df[spec.indicators[j].source_column].to_numpy(float))
                         for j in range(10)])
    c = g @ np.array([spec.weights[x] for x in spec.codes])
    poor = c >= 1 / 3 - 1e-9
    w = df["weight"].to_numpy()
    n, W = len(w), w.sum()
    H = (w * poor).sum() / W
    M0 = (w * c * poor).sum() / W
    se_h = math.sqrt(n / (n - 1) * ((w * (poor - H)) ** 2).sum() / W**2)
    se_m = math.sqrt(n / (n - 1) * ((w * (c * poor - M0)) ** 2).sum() / W**2)
    assert r.summary["se_H"] == pytest.approx(se_h) and r.summary["se_M0"] == pytest.approx(se_m)
    # every record its own PSU in one stratum = the independent-draws formula
    d = measure(df.assign(rec=np.arange(n)), "global_mpi", weight="weight", psu="rec")
    assert d.summary[["se_H", "se_A", "se_M0"]].to_numpy() == pytest.approx(
        r.summary[["se_H", "se_A", "se_M0"]].to_numpy())
    # clustered design: PSU totals z_c = sum_{i in c} w_i (y_i - R) / W, within strata
    dd = measure(df, "global_mpi", weight="weight", psu="psu", strata="stratum")
    z = pd.Series(w * (poor - H) / W).groupby([df["stratum"], df["psu"]]).sum()
    var = 0.0
    for _, zh in z.groupby(level=0):
        var += len(zh) / (len(zh) - 1) * ((zh - zh.mean()) ** 2).sum()
    assert dd.summary["se_H"] == pytest.approx(math.sqrt(var))
    assert dd.M0 == pytest.approx(r.M0)


def test_bootstrap_reproducible_and_close_to_linearised():
    df = _global_rows(1500, seed=6)
    a = bootstrap_se(df, "global_mpi", weight="weight", reps=150, seed=42)
    b = bootstrap_se(df, "global_mpi", weight="weight", reps=150, seed=np.random.default_rng(42))
    pd.testing.assert_frame_equal(a, b)
    c = bootstrap_se(df, "global_mpi", weight="weight", reps=150, seed=43)
    assert not np.allclose(a["se"], c["se"])
    lin = measure(df, "global_mpi", weight="weight").summary
    for s in ("H", "M0", "A"):
        assert a.loc[s, "estimate"] == pytest.approx(lin[s])
        assert 0.7 < a.loc[s, "se"] / lin[f"se_{s}"] < 1.3, (s, a.loc[s, "se"], lin[f"se_{s}"])
        assert a.loc[s, "ci_low"] < lin[s] < a.loc[s, "ci_high"]
    cl = bootstrap_se(df, "global_mpi", weight="weight", psu="psu", strata="stratum", reps=100, seed=1)
    assert cl.loc["M0", "estimate"] == pytest.approx(lin["M0"]) and cl.loc["M0", "se"] > 0
    with pytest.raises(HumsecError, match="seed"):
        bootstrap_se(df, "global_mpi")


# --------------------------------------------------------------------------- properties


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(microdata())
def test_prop_matches_naive_and_identities(case):
    df, g, w, wts, k = case
    spec = flag_spec(list(wts), k)
    r = measure(df, spec, weight="w", by="grp")
    ref = naive(g, w, wts, k)
    assert r.H == pytest.approx(ref["H"], abs=1e-12)
    assert r.M0 == pytest.approx(ref["M0"], abs=1e-12)
    assert r.indicators["censored"].to_numpy() == pytest.approx(ref["cens"], abs=1e-12)
    assert r.indicators["uncensored"].to_numpy() == pytest.approx(ref["unc"], abs=1e-12)
    # M0 = H x A
    if r.H > 0:
        assert r.M0 == pytest.approx(r.H * r.A, abs=1e-12)
        # contributions sum to 100 %, by indicator and by dimension
        assert r.indicators["contribution_pct"].sum() == pytest.approx(100.0)
        assert r.dimensions["contribution_pct"].sum() == pytest.approx(100.0)
        assert r.subgroups["grp"]["contribution_pct"].sum() == pytest.approx(100.0)
    else:
        assert r.M0 == 0.0 and np.isnan(r.A)
    # subgroup decomposition: population-weighted sum of subgroup M0 (and H) = national
    sub = r.subgroups["grp"]
    assert (sub["pop_share"] * sub["M0"].fillna(0)).sum() == pytest.approx(r.M0, abs=1e-12)
    assert (sub["pop_share"] * sub["H"].fillna(0)).sum() == pytest.approx(r.H, abs=1e-12)
    assert sub["records"].sum() == len(df)


@hsettings(max_examples=80, deadline=None)
@given(microdata(), st.integers(1, 9))
def test_prop_chunking_invariant(case, chunk):
    df, g, w, wts, k = case
    spec = flag_spec(list(wts), k)
    a = measure(df, spec, weight="w", by="grp")
    b = measure(df, spec, weight="w", by="grp", chunk_rows=chunk)
    assert b.summary.to_numpy() == pytest.approx(a.summary.to_numpy(), nan_ok=True, abs=1e-12)


@hsettings(max_examples=80, deadline=None)
@given(microdata(), st.lists(st.floats(0.01, 1.0), min_size=2, max_size=6))
def test_prop_monotone_in_k(case, ks):
    df, g, w, wts, k = case
    r = measure(df, flag_spec(list(wts), k), weight="w")
    curve = r.robustness(sorted(ks))
    assert (np.diff(curve["H"]) <= 1e-12).all()
    assert (np.diff(curve["M0"]) <= 1e-12).all()
    a = curve["A"].dropna().to_numpy()
    assert (np.diff(a) >= -1e-12).all()  # intensity among the (fewer) poor cannot fall
    # every point equals a fresh computation at that k
    for kk, m0 in zip(curve["k"], curve["M0"]):
        assert m0 == pytest.approx(naive(g, w, wts, kk)["M0"], abs=1e-12)


# --------------------------------------------------------------------------- CLI


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_mpi_outputs(tmp_path, capsys):
    df = _global_rows(300, seed=8)
    f = tmp_path / "survey.csv"
    df.to_csv(f, index=False)
    ref = measure(df, "global_mpi", weight="weight", by="region")
    code, out, err = run(capsys, "--home", str(tmp_path / "h"), "mpi", str(f), "--spec", "global_mpi",
                         "--weight", "weight", "--by", "region", "--curve", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    summ = {r["statistic"]: r["value"] for r in data["summary"]}
    assert summ["M0"] == pytest.approx(ref.M0) and summ["H"] == pytest.approx(ref.H)
    assert {r["region"] for r in data["by_region"]} == {"north", "south", "east"}
    assert sum(r["contribution_pct"] for r in data["indicators"]) == pytest.approx(100)
    assert [r["k"] for r in data["curve"]] == sorted(r["k"] for r in data["curve"])
    # --k and a spec file, CSV output
    spec_file = tmp_path / "my.yaml"
    spec_file.write_text(load_mpi_spec("global_mpi").to_yaml())
    code, out, _ = run(capsys, "mpi", str(f), "--spec", str(spec_file), "--k", "0.5", "--format", "csv")
    assert code == 0
    rows = pd.read_csv(io.StringIO(out))
    m0 = rows[(rows["section"] == "summary") & (rows["key"] == "M0")]["value"].astype(float).iloc[0]
    assert m0 == pytest.approx(measure(df, "global_mpi", k=0.5).M0)
    code, out, _ = run(capsys, "mpi", str(f), "--spec", "global_mpi", "--bootstrap", "20", "--seed", "1")
    assert code == 0 and "Bootstrap (20 replicates, seed 1)" in out and "contribution_pct" in out


def test_cli_mpi_bad_microdata_exit_2(tmp_path, capsys):
    seen = set()
    for name, mutate, expected in BAD_CASES:
        df = mutate(_global_rows(20, seed=1))
        f = tmp_path / "bad.csv"
        df.to_csv(f, index=False)
        code, out, err = run(capsys, "mpi", str(f), "--spec", "global_mpi", "--weight", "weight",
                             "--by", "region")
        assert code == 2, (name, err)
        assert re.search(expected, err), (name, err)
        assert "Traceback" not in err and out == ""
        seen.add(name)
    assert len(seen) >= 5
    for args, msg in ((["--k", "0"], "poverty_cutoff 0 must be in (0, 1]"),
                      (["--bootstrap", "5"], "--seed is required"),
                      (["--format", "xml"], "--format 'xml'")):
        code, _, err = run(capsys, "mpi", str(tmp_path / "bad.csv"), "--spec", "global_mpi", *args)
        assert code == 2 and msg in err, err
    code, _, err = run(capsys, "mpi", str(tmp_path / "nope.csv"), "--spec", "global_mpi")
    assert code == 2 and "microdata file not found" in err
    code, _, err = run(capsys, "mpi", str(tmp_path / "bad.csv"), "--spec", "nope")
    assert code == 2 and "neither a built-in MPI spec" in err


def test_cli_mpi_no_traceback_subprocess(tmp_path):
    f = tmp_path / "bad.csv"
    _global_rows(10, seed=1).assign(weight=-1.0).to_csv(f, index=False)
    proc = subprocess.run([sys.executable, "-m", "humsec.cli.main", "mpi", str(f), "--spec", "global_mpi",
                           "--weight", "weight"], capture_output=True, text=True,
                          env=dict(os.environ, HUMSEC_HOME=str(tmp_path / "h")))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "row 2, column 'weight': negative weight -1" in proc.stderr
