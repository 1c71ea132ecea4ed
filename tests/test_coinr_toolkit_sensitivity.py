"""Issue #24, part 3: Sobol' estimators (SALib's, COINr's, Jansen's) from any A/B/AB
design with bootstrap intervals, replayed designs (--sa with --replay), the rank-interval
quantile rule, and the CLI's bootstrap count."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from humsec.errors import HumsecError
from humsec.index import uncertainty as unc
from humsec.index.uncertainty_evaluate import rank_quantile
from humsec.index.sensitivity import (
    design_labels,
    sensitivity_analysis,
    sensitivity_from_runs,
    sobol_from_design,
    sobol_indices,
)
from humsec.index.spec import IndexSpec
from humsec.index.uncertainty import UncertaintySpec, replay

NAMES = ["x1", "x2", "x3"]


def coinr_sample(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """COINr's SA_sample: [A; B; AB_1; ...; AB_d] in blocks of n rows (independent code)."""
    base = rng.random((n, 2 * d))
    A, B = base[:, :d], base[:, d:]
    blocks = [A, B]
    for i in range(d):
        ab = A.copy()
        ab[:, i] = B[:, i]
        blocks.append(ab)
    return np.vstack(blocks)


def coinr_estimate(yy: np.ndarray, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """COINr's SA_estimate point estimates, written as its R code (independent code)."""
    yA, yB = yy[:n], yy[n:2 * n]
    var = np.var(np.r_[yA, yB], ddof=1)  # R var()
    si, sti = [], []
    for i in range(d):
        x = yy[(2 + i) * n:(3 + i) * n]
        si.append(np.mean(yB * (x - yA)) / var)
        sti.append(np.sum((yA - x) ** 2) / (2 * n * var))
    return np.array(si), np.array(sti)


def linear(X):  # COINr's SA_estimate example: x1 + 2 x2 + 3 x3 on U(0, 1)
    return X[:, 0] + 2 * X[:, 1] + 3 * X[:, 2]


def test_coinr_estimator_reproduces_sa_estimate():
    rng = np.random.default_rng(5)
    n = 2000
    X = coinr_sample(n, 3, rng)
    y = linear(X)
    matrix, row = design_labels(n, NAMES, "coinr")
    idx = sobol_from_design(y, matrix, row, NAMES, estimator="coinr", num_resamples=200, seed=1)
    si, sti = coinr_estimate(y, n, 3)
    np.testing.assert_allclose(idx["S1"], si, rtol=1e-12)
    np.testing.assert_allclose(idx["ST"], sti, rtol=1e-12)
    # analytic: additive, S1 = ST = (1, 4, 9) / 14
    np.testing.assert_allclose(idx["ST"], np.array([1, 4, 9]) / 14, atol=0.03)
    assert (idx["S1_q05"] < idx["S1"]).all() and (idx["S1"] < idx["S1_q95"]).all()


def test_saltelli_is_salib_and_the_factor_two_against_coinr():
    from SALib.analyze import sobol as sa

    rng = np.random.default_rng(2)
    n = 512
    X = coinr_sample(n, 3, rng)
    y = linear(X) + 20.0  # a large mean against the spread
    m, r = design_labels(n, NAMES, "coinr")
    salt = sobol_from_design(y, m, r, NAMES, estimator="saltelli", num_resamples=50, seed=3)
    # SALib on the same runs, in its own interleaved order
    yA, yB = y[:n], y[n:2 * n]
    AB = np.column_stack([y[(2 + i) * n:(3 + i) * n] for i in range(3)])
    Y = np.column_stack([yA, AB, yB]).reshape(-1)
    ref = sa.analyze({"num_vars": 3, "names": NAMES, "bounds": [[0, 1]] * 3}, Y, calc_second_order=False,
                     num_resamples=50, seed=3)
    np.testing.assert_allclose(salt["S1"], ref["S1"], rtol=1e-12)
    np.testing.assert_allclose(salt["ST"], ref["ST"], rtol=1e-12)
    np.testing.assert_allclose(salt["S1_conf"], ref["S1_conf"], rtol=1e-12)
    # the same estimator on standardised Y, by hand (Saltelli 2010 Table 2 b, f)
    z = (y - y.mean()) / y.std()
    zA, zB, zAB = z[:n], z[n:2 * n], np.column_stack([z[(2 + i) * n:(3 + i) * n] for i in range(3)])
    v = np.var(np.r_[zA, zB])
    np.testing.assert_allclose(salt["S1"], np.mean(zB[:, None] * (zAB - zA[:, None]), axis=0) / v, rtol=1e-10)
    # COINr's S1 is not shift invariant: on the same runs it differs from SALib's
    co = sobol_from_design(y, m, r, NAMES, estimator="coinr", num_resamples=0)
    ratio = co["S1"] / salt["S1"]
    assert (np.abs(ratio - 1) > 0.3).any()
    # ST agrees but for the n-1 variance
    np.testing.assert_allclose(co["ST"] * (2 * n) / (2 * n - 1), salt["ST"], rtol=1e-10)
    assert co["S1_conf"].isna().all()  # no bootstrap asked


def test_estimators_shift_invariance_and_run_order():
    rng = np.random.default_rng(9)
    n = 256
    y = linear(coinr_sample(n, 3, rng))
    m, r = design_labels(n, NAMES, "coinr")
    for est in ("saltelli", "jansen"):
        a = sobol_from_design(y, m, r, NAMES, estimator=est, num_resamples=0)
        b = sobol_from_design(y + 1e3, m, r, NAMES, estimator=est, num_resamples=0)
        np.testing.assert_allclose(a[["S1", "ST"]], b[["S1", "ST"]], rtol=1e-6, atol=1e-9)
    # labelled runs may come in any order
    perm = rng.permutation(len(y))
    a = sobol_from_design(y, m, r, NAMES, estimator="jansen", num_resamples=0)
    b = sobol_from_design(y[perm], m[perm], r[perm], NAMES, estimator="jansen", num_resamples=0)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(HumsecError, match="exactly one"):
        sobol_from_design(y[1:], m[1:], r[1:], NAMES)
    with pytest.raises(HumsecError, match="estimator"):
        sobol_from_design(y, m, r, NAMES, estimator="martinez")


def test_jansen_ishigami_known_answer():
    a, b = 7.0, 0.1
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13

    def ishigami(X):
        return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])

    idx = sobol_indices(ishigami, NAMES, [(-math.pi, math.pi)] * 3, 2**13, seed=42, num_resamples=100,
                        estimator="jansen")
    np.testing.assert_allclose(idx["S1"], np.array([v1, v2, 0.0]) / var, atol=0.03)
    np.testing.assert_allclose(idx["ST"], np.array([v1 + v13, v2, v13]) / var, atol=0.03)
    assert (idx["ST_conf"] > 0).all()


# ---------------------------------------------------------------- replayed designs

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
  - {code: d, parent: p2}
steps:
  - {step: treat, method: coinr, params: {winmax: 3}}
  - {step: normalise, method: minmax, params: {lo: 1, hi: 100}}
  - {step: aggregate, method: arithmetic}
"""

U = """
inputs:
  - {name: winmax, type: choice, path: steps.treat.params.winmax, values: [1, 2, 3]}
  - {name: weights, type: weights, noise: {1: 0.5}, n_sets: 20}
  - {name: aggregation, type: choice, path: steps.aggregate.method, values: [arithmetic, geometric]}
"""


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    rows = []
    for k in "abcd":
        x = rng.lognormal(size=25)
        rows += [{"unit": f"U{i:02d}", "indicator": k, "value": x[i]} for i in range(25)]
    spec = IndexSpec.from_yaml(SMALL)
    return spec, pd.DataFrame(rows), UncertaintySpec.from_yaml(U, spec=spec)


def test_sa_replay_gives_the_same_indices(small, tmp_path):
    spec, data, u = small
    sa = sensitivity_analysis(spec, data, u, n=16, seed=7, num_resamples=100)
    assert {"sobol_matrix", "sobol_row"} <= set(sa.runs.runs.columns)
    path = tmp_path / "runs.csv"
    sa.runs.runs.to_csv(path, index=False)
    rep = replay(spec, data, u, path)
    again = sensitivity_from_runs(rep, num_resamples=100, seed=7)
    np.testing.assert_allclose(again.indices[["S1", "ST"]], sa.indices[["S1", "ST"]], rtol=1e-12)
    np.testing.assert_allclose(again.indices["S1_conf"], sa.indices["S1_conf"], rtol=1e-12)
    # an external design without labels: the layout says how its rows are ordered
    bare = pd.read_csv(path).drop(columns=["sobol_matrix", "sobol_row"])
    rep2 = replay(spec, data, u, bare)
    with pytest.raises(HumsecError, match="layout"):
        sensitivity_from_runs(rep2)
    lay = sensitivity_from_runs(rep2, layout="salib", num_resamples=0)
    np.testing.assert_allclose(lay.indices["ST"], sa.indices["ST"], rtol=1e-12)
    co = sensitivity_from_runs(rep, estimator="coinr", num_resamples=50, seed=1)
    assert (co.indices["ST"] >= 0).all()


def test_rank_interval_quantile_rules(small):
    spec, data, u = small
    res = unc.uncertainty_analysis(spec, data, u, n=41, seed=2)
    obs = res.summary(["top"]).set_index("unit")
    t7 = res.summary(["top"], quantile="type7").set_index("unit")
    ok = (res.runs["status"] == "ok").to_numpy()
    j = res.aggregates.index("top")
    for unit in ("U00", "U07"):
        r = res.ranks[ok, res.units.index(unit), j]
        assert t7.at[unit, "rank_q05"] == pytest.approx(np.quantile(r, 0.05))  # R type 7
        assert t7.at[unit, "rank_q95"] == pytest.approx(np.quantile(r, 0.95))
        assert obs.at[unit, "rank_q05"] == np.quantile(r, 0.05, method="inverted_cdf")
        assert obs.at[unit, "rank_q05"] in set(r)  # an observed rank
    with pytest.raises(HumsecError, match="quantile rule"):
        res.summary(quantile="type9")


def test_quantile_rule_by_hand():
    ranks = np.array([[1.0], [2.0], [3.0], [4.0], [10.0]])
    assert rank_quantile(ranks, 0.05, "type7")[0] == pytest.approx(1 + 0.05 * 4 * 1)  # 1.2
    assert rank_quantile(ranks, 0.95, "type7")[0] == pytest.approx(4 + 0.8 * 6)  # 8.8
    assert rank_quantile(ranks, 0.95)[0] == 10.0


def test_cli_sa_with_replay_and_bootstrap(small, tmp_path, capsys):
    from humsec.cli.main import main

    data = small[1]
    sp = tmp_path / "spec.yaml"
    sp.write_text(SMALL, encoding="utf-8")
    up = tmp_path / "u.yaml"
    up.write_text(U, encoding="utf-8")
    dp = tmp_path / "data.csv"
    data.to_csv(dp, index=False)
    out = tmp_path / "sa"
    assert main(["index", "uncertainty", str(sp), "-d", str(dp), "-u", str(up), "--sa", "-n", "8", "-s", "3",
                 "-b", "40", "-q", "-o", str(out), "-f", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["index", "uncertainty", str(sp), "-d", str(dp), "-u", str(up), "--sa", "--replay",
                 str(out / "runs.csv"), "-s", "3", "-b", "40", "-q", "-f", "json"]) == 0
    second = json.loads(capsys.readouterr().out)
    for a, b in zip(first["indices"], second["indices"]):
        assert a["input"] == b["input"]
        assert a["ST"] == pytest.approx(b["ST"], rel=1e-12)
        assert a["S1_conf"] == pytest.approx(b["S1_conf"], rel=1e-12)  # same bootstrap count and seed
    assert main(["index", "uncertainty", str(sp), "-d", str(dp), "-u", str(up), "--sa", "--replay",
                 str(out / "runs.csv"), "-b", "40", "-q"]) != 0  # the bootstrap needs a seed
    assert "--seed is required" in capsys.readouterr().err
    assert main(["index", "uncertainty", str(sp), "-d", str(dp), "-u", str(up), "--sa", "--replay",
                 str(out / "runs.csv"), "-s", "1", "--estimator", "coinr", "-b", "0", "-q", "-f", "json"]) == 0
    co = json.loads(capsys.readouterr().out)["indices"]
    assert all(r["S1_conf"] is None for r in co)
    assert main(["index", "uncertainty", str(sp), "-d", str(dp), "-u", str(up), "-n", "10", "-s", "1",
                 "--quantile", "type7", "-q", "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == 10
