"""Uncertainty and sensitivity analysis (humsec.index.uncertainty).

The reference for every run is a plain :func:`build` of the spec with that run's changes
(``spec.with_changes(run_changes(...))``): the batched, cached evaluation must agree with
it to 1e-9; replaying a run table must reproduce it; Sobol' estimates must match the
analytic indices of the Ishigami function.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from humsec.cli.main import main
from humsec.errors import HumsecError, ValidationError
from humsec.index.coinr import import_coinr
from humsec.index.pipeline import StepCache, build
from humsec.index.spec import IndexSpec
from humsec.index.uncertainty import (
    UncertaintySpec,
    noisy_weights,
    replay,
    run_changes,
    sensitivity_analysis,
    sobol_indices,
    uncertainty_analysis,
)

# COINr's sensitivity vignette design on its ASEM example
COINR_DESIGN = """
inputs:
  - {name: winmax, type: choice, path: steps.treat.params.winmax, values: [1, 2, 3, 4, 5]}
  - name: normalisation
    type: choice
    path: steps.normalise
    values:
      - {method: minmax, params: {lo: 1, hi: 100}}
      - {method: zscore, params: {mean: 10, sd: 2}}
  - {name: weights, type: weights, noise: {2: 0.25, 3: 0.25}, n_sets: 100}
  - {name: aggregation, type: choice, path: steps.aggregate.method, values: [arithmetic, geometric]}
"""

SMALL = """
spec_version: 1
name: small
tree:
  - {code: top}
  - {code: p1, parent: top}
  - {code: p2, parent: top}
  - {code: a, parent: p1}
  - {code: b, parent: p1, direction: -1}
  - {code: c, parent: p2}
  - {code: d, parent: p2, weight: 2}
steps:
  - {step: treat, method: coinr, params: {winmax: 3}}
  - {step: normalise, method: minmax, params: {lo: 0, hi: 100}}
  - {step: aggregate, method: arithmetic}
"""


def small_data(seed: int = 0, n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k in "abcd":
        x = rng.lognormal(size=n)
        x[rng.random(n) < 0.1] = np.nan
        rows += [{"unit": f"U{i:02d}", "indicator": k, "value": x[i]} for i in range(n)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def asem(published_data):
    d = published_data / "coinr_asem"
    if not (d / "iData.csv").is_file():
        pytest.skip(f"COINr ASEM example not found under {d}")
    spec, data = import_coinr(d / "iData.csv", d / "iMeta.csv", name="asem")
    return spec, data, UncertaintySpec.from_yaml(COINR_DESIGN, spec=spec)


def direct(spec, data, u, row) -> pd.DataFrame:
    """The reference: a fresh, uncached build of the spec with the run's changes."""
    return build(spec.with_changes(run_changes(spec, u, row)), data).scores


# ---------------------------------------------------------------- the spec


def test_spec_yaml_round_trip_and_validation():
    spec = IndexSpec.from_yaml(SMALL)
    u = UncertaintySpec.from_yaml(COINR_DESIGN.replace("{2: 0.25, 3: 0.25}", "{2: 0.25}")
                                  .replace("lo: 1, hi: 100", "lo: 1, hi: 10"), spec=spec)
    assert UncertaintySpec.from_yaml(u.to_yaml(), spec=spec) == u
    bad = """
inputs:
  - {name: w, type: choice, path: steps.treat.params.winmax, values: [1, -2]}
  - {name: w, type: weights, noise: {7: 0.2}}
  - {name: x, type: exclude, candidates: [zz, top]}
  - {name: y, type: uniform, path: steps.normalise.params.hi, low: 5, high: 1}
output: {stat: rank, node: nope}
"""
    with pytest.raises(ValidationError) as e:
        UncertaintySpec.from_yaml(bad, file="u.yaml", spec=spec)
    text = str(e.value)
    # pydantic-level problem (high <= low) is reported first with its location
    assert "inputs.3.uniform.high" in text and "expected high > low" in text
    good_types = bad.replace("low: 5, high: 1", "low: 1, high: 5")
    with pytest.raises(ValidationError) as e:
        UncertaintySpec.from_yaml(good_types, file="u.yaml", spec=spec)
    text = str(e.value)
    assert "u.yaml" in text
    assert "inputs[0] (w).values[1]" in text and "winmax" in text
    assert "duplicate input name 'w'" in text
    assert "inputs[1] (w).noise" in text and "level 7" in text
    assert "'zz' is not a node" in text and "root cannot be excluded" in text
    assert "output.node" in text and "output.unit" in text


def test_spec_can_carry_its_uncertainty_section():
    text = SMALL + """uncertainty:
  inputs:
    - {name: winmax, type: choice, path: steps.treat.params.winmax, values: [1, 5]}
"""
    spec = IndexSpec.from_yaml(text)
    assert spec.uncertainty["inputs"][0]["name"] == "winmax"
    assert IndexSpec.from_yaml(spec.to_yaml()) == spec
    with pytest.raises(ValidationError, match=r"uncertainty.inputs\[0\] \(winmax\).values\[1\]"):
        IndexSpec.from_yaml(text.replace("values: [1, 5]", "values: [1, -5]"))


def test_noisy_weights_follow_coinr_rule():
    rng = np.random.default_rng(1)
    base = np.array([1.0, 0.5, 0.5, 2.0])
    levels = np.array([3, 2, 2, 1])
    W = noisy_weights(base, levels, {2: 0.25}, 2000, rng)
    assert (W[:, [0, 3]] == base[[0, 3]]).all()  # other levels untouched
    ratio = W[:, 1:3] / 0.5
    assert ratio.min() >= 0.75 and ratio.max() <= 1.25
    assert abs(ratio.mean() - 1) < 0.01 and ratio.std() == pytest.approx(0.5 / math.sqrt(12), rel=0.05)


# ---------------------------------------------------------------- runs agree with plain builds


def test_small_ua_every_run_equals_a_plain_build():
    # min-max onto [1, hi] keeps values positive for the harmonic mean
    spec = IndexSpec.from_yaml(SMALL).with_changes({"steps.normalise.params.lo": 1})
    data = small_data()
    u = UncertaintySpec.from_yaml("""
inputs:
  - {name: winmax, type: choice, path: steps.treat.params.winmax, values: [1, 2, 3]}
  - {name: hi, type: uniform, path: steps.normalise.params.hi, low: 50, high: 150}
  - {name: weights, type: weights, noise: {1: 0.5, 2: 0.3}, n_sets: 20}
  - {name: drop, type: exclude, candidates: [a, c]}
  - {name: agg, type: choice, path: steps.aggregate.method, values: [arithmetic, harmonic, copeland]}
""", spec=spec)
    res = uncertainty_analysis(spec, data, u, n=40, seed=7)
    assert res.n_failed == 0
    assert set(res.runs["agg"]) == {"arithmetic", "harmonic", "copeland"}  # batch + fallback
    for i, row in res.runs.iterrows():
        if row["status"] != "ok":
            with pytest.raises(HumsecError):
                direct(spec, data, u, row)
            continue
        ref = direct(spec, data, u, row)
        got = res.scores[i]
        exp = ref.reindex(index=res.units, columns=res.aggregates).to_numpy()
        np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-12, equal_nan=True)
    # ranks: 1 = best, ties share the lowest, per run and aggregate
    j = res.aggregates.index("top")
    ok = np.flatnonzero(res.runs["status"] == "ok")[0]
    expect = pd.Series(res.scores[ok, :, j]).rank(ascending=False, method="min").to_numpy()
    np.testing.assert_array_equal(res.ranks[ok, :, j], expect)
    # the same seed gives the same runs; another seed others
    again = uncertainty_analysis(spec, data, u, n=40, seed=7)
    pd.testing.assert_frame_equal(again.runs, res.runs)
    np.testing.assert_array_equal(again.scores, res.scores)
    other = uncertainty_analysis(spec, data, u, n=40, seed=8)
    assert not other.runs.drop(columns="run").equals(res.runs.drop(columns="run"))


def test_exclusion_equals_zero_weight_and_batch_equals_one_by_one():
    spec = IndexSpec.from_yaml(SMALL)
    data = small_data(3)
    u = UncertaintySpec.from_yaml("inputs:\n  - {name: drop, type: exclude, candidates: [a, b, d]}\n", spec=spec)
    res = uncertainty_analysis(spec, data, u, n=12, seed=0)
    slow = uncertainty_analysis(spec, data, u, n=12, seed=0, batch=False)
    np.testing.assert_allclose(res.scores, slow.scores, rtol=1e-12, equal_nan=True)
    for i, row in res.runs.iterrows():
        ref = build(spec.with_changes({f"tree.{row['drop']}.weight": 0.0}) if row["drop"] != "none" else spec, data)
        np.testing.assert_allclose(res.scores[i], ref.scores[res.aggregates].to_numpy(), rtol=1e-9, equal_nan=True)


def test_failed_runs_are_reported_not_dropped():
    spec = IndexSpec.from_yaml(SMALL)
    data = small_data()
    # min-max onto [0, 100] puts a 0 in every indicator: a geometric mean must fail
    u = UncertaintySpec.from_yaml(
        "inputs:\n  - {name: agg, type: choice, path: steps.aggregate.method, values: [arithmetic, geometric]}\n",
        spec=spec)
    res = uncertainty_analysis(spec, data, u, n=30, seed=2)
    failed = res.runs[res.runs["status"] == "failed"]
    assert len(failed) == res.n_failed > 0
    assert (failed["agg"] == "geometric").all()
    assert failed["error"].str.contains("> 0").all()
    assert np.isnan(res.scores[failed.index]).all()
    summ = res.summary(["top"])
    assert (summ["n_runs"] == len(res.runs) - res.n_failed).all()
    with pytest.raises(HumsecError, match="runs failed"):
        sensitivity_analysis(spec, data, u, n=8, seed=1)


def test_seed_is_required():
    spec = IndexSpec.from_yaml(SMALL)
    u = UncertaintySpec.from_yaml("inputs:\n  - {name: drop, type: exclude, candidates: [a]}\n", spec=spec)
    with pytest.raises(HumsecError, match="explicit seed"):
        uncertainty_analysis(spec, small_data(), u, n=3, seed=None)


# ---------------------------------------------------------------- ASEM, COINr's design


def test_asem_coinr_design_replay_reproduces_each_run(asem):
    spec, data, u = asem
    res = uncertainty_analysis(spec, data, u, n=60, seed=11)
    assert res.n_failed == 0
    # 1) the batched runs equal fresh plain builds of each run's spec (a sample of runs)
    for i in range(0, 60, 7):
        row = res.runs.iloc[i]
        ref = direct(spec, data, u, row).reindex(index=res.units, columns=res.aggregates)
        np.testing.assert_allclose(res.scores[i], ref.to_numpy(), rtol=1e-9)
    # 2) replaying the table (as a file, as another tool would hand it over) reproduces
    #    every run's index scores to 1e-9
    table = res.runs.drop(columns=["status", "error", "weights"])
    rp = replay(spec, data, u, table)
    np.testing.assert_allclose(rp.scores, res.scores, rtol=1e-9)
    j = res.aggregates.index("Index")
    np.testing.assert_allclose(rp.scores[:, :, j], res.scores[:, :, j], rtol=1e-9)


def test_asem_replay_of_foreign_parameter_rows(asem, tmp_path):
    """Rows written by hand (e.g. another tool's draws) replay to plain builds."""
    spec, data, u = asem
    nodes = [n.code for n in spec.tree if n.code != spec.root]
    rng = np.random.default_rng(5)
    rows = []
    for wm, norm, agg in [(1, "minmax", "geometric"), (4, "zscore", "arithmetic"), (5, "minmax", "arithmetic")]:
        r = {"winmax": wm, "normalisation": norm, "aggregation": agg}
        for c in nodes:
            r[f"w:{c}"] = float(spec.nodes[c].weight * rng.uniform(0.75, 1.25))
        rows.append(r)
    f = tmp_path / "params.csv"
    pd.DataFrame(rows).to_csv(f, index=False)
    rp = replay(spec, data, u, f)
    for i, r in enumerate(rows):
        ref = direct(spec, data, u, r).reindex(index=rp.units, columns=rp.aggregates)
        np.testing.assert_allclose(rp.scores[i], ref.to_numpy(), rtol=1e-9)


def test_replay_errors_are_located(asem, tmp_path):
    spec, data, u = asem
    f = tmp_path / "bad.csv"
    f.write_text("winmax,normalisation,aggregation,w:LPI,w:Nope\n9,minmax,arithmetic,-1,1\n")
    with pytest.raises(ValidationError) as e:
        replay(spec, data, u, f)
    text = str(e.value)
    assert f"{f}, row 2, column 'winmax'" in text and "not one of [1, 2, 3, 4, 5]" in text
    assert "'Nope' is not a weighted node" in text
    assert "column 'w:LPI'" in text and "expected a number >= 0" in text


def test_asem_summary_and_sensitivity(asem):
    spec, data, u = asem
    res = uncertainty_analysis(spec, data, u, n=200, seed=3)
    s = res.summary(["Index"]).set_index("unit")
    assert (s["rank_q05"] <= s["median_rank"]).all() and (s["median_rank"] <= s["rank_q95"]).all()
    nominal = build(spec, data)
    assert (s["nominal_rank"] == nominal.ranks["Index"].reindex(s.index)).all()
    assert s.loc["CHE", "rank_q95"] <= 2  # COINr: the top unit is robust
    sa = sensitivity_analysis(spec, data, u, n=64, seed=3, num_resamples=200)
    idx = sa.indices
    assert list(idx.index) == ["winmax", "normalisation", "weights", "aggregation"]
    assert len(sa.runs.runs) == 64 * 6
    assert (idx["ST"] >= -1e-9).all() and (idx["ST"] <= 1.5).all()
    # the aggregation method dominates the rank shifts, as in COINr's vignette
    assert idx["ST"].idxmax() == "aggregation"


# ---------------------------------------------------------------- Sobol' known answers


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def test_sobol_ishigami_known_answer():
    a, b = 7.0, 0.1
    # analytic variances (Ishigami & Homma 1990; Saltelli et al. 2008, sec. 4.6)
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    s1 = np.array([v1, v2, 0.0]) / var
    st = np.array([v1 + v13, v2, v13]) / var
    idx = sobol_indices(ishigami, ["x1", "x2", "x3"], [(-math.pi, math.pi)] * 3, 2**13, seed=42,
                        num_resamples=200)
    np.testing.assert_allclose(idx["S1"], s1, atol=0.03)
    np.testing.assert_allclose(idx["ST"], st, atol=0.03)
    assert (idx["S1_conf"] > 0).all() and (idx["S1_conf"] < 0.1).all()
    # the same seed reproduces the estimates exactly
    again = sobol_indices(ishigami, ["x1", "x2", "x3"], [(-math.pi, math.pi)] * 3, 2**13, seed=42,
                          num_resamples=200)
    pd.testing.assert_frame_equal(idx, again)


def test_step_cache_gives_identical_results_and_is_bound_to_data():
    spec = IndexSpec.from_yaml(SMALL)
    data = small_data()
    cache = StepCache()
    a = build(spec, data, cache=cache)
    b = build(spec.with_changes({"steps.aggregate.method": "geometric", "steps.normalise.params.lo": 1}),
              data, cache=cache)
    c = build(spec.with_changes({"tree.a.weight": 3.0}), data, cache=cache)
    assert cache.hits >= 1
    assert a.equals(build(spec, data))
    assert c.equals(build(spec.with_changes({"tree.a.weight": 3.0}), data))
    assert b.equals(build(spec.with_changes({"steps.aggregate.method": "geometric",
                                             "steps.normalise.params.lo": 1}), data))
    with pytest.raises(RuntimeError, match="bound to one data frame"):
        build(spec, small_data(1), cache=cache)


# ---------------------------------------------------------------- CLI


def test_cli_uncertainty_sa_and_replay(asem, published_data, tmp_path, capsys):
    d = published_data / "coinr_asem"
    out = tmp_path / "asem"
    assert main(["index", "import-coinr", str(d / "iData.csv"), str(d / "iMeta.csv"), "--out", str(out)]) == 0
    uf = tmp_path / "u.yaml"
    uf.write_text(COINR_DESIGN)
    sp, dp = str(out / "spec.yaml"), str(out / "data.csv")
    capsys.readouterr()
    assert main(["index", "uncertainty", sp, "-d", dp, "-u", str(uf), "-n", "50", "-s", "4",
                 "--format", "json", "--out", str(tmp_path / "ua"), "-q"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["runs"] == 50 and doc["seed"] == 4 and doc["summary"][0]["unit"] == "CHE"
    runs = tmp_path / "ua" / "runs.csv"
    assert runs.is_file() and (tmp_path / "ua" / "summary.csv").is_file()
    assert main(["index", "uncertainty", sp, "-d", dp, "-u", str(uf), "--replay", str(runs),
                 "--format", "csv", "-q"]) == 0
    replayed = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out)).set_index("unit")
    first = pd.read_csv(tmp_path / "ua" / "summary.csv")
    first = first[first["node"] == "Index"].set_index("unit")
    np.testing.assert_allclose(replayed["mean_score"], first.loc[replayed.index, "mean_score"], rtol=1e-9)
    assert main(["index", "uncertainty", sp, "-d", dp, "-u", str(uf), "--sa", "-n", "16", "-s", "1",
                 "--format", "json", "-q"]) == 0
    sa = json.loads(capsys.readouterr().out)
    assert [r["input"] for r in sa["indices"]] == ["winmax", "normalisation", "weights", "aggregation"]
    # no seed: a clear error, exit 2
    assert main(["index", "uncertainty", sp, "-d", dp, "-u", str(uf), "-n", "5", "-q"]) == 2
    assert "--seed is required" in capsys.readouterr().err


def test_spec_with_integer_noise_levels_round_trips_through_yaml():
    with_u = IndexSpec.from_yaml(
        SMALL + "uncertainty:\n  inputs:\n    - {name: w, type: weights, noise: {1: 0.2}, n_sets: 5}\n")
    again = IndexSpec.from_yaml(with_u.to_yaml())
    assert again == with_u
    u = UncertaintySpec.from_dict(again.uncertainty, spec=again)
    assert u.inputs[0].noise == {1: 0.2}
