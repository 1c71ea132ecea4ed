"""The matrix engine (humsec.index.engine + the pipeline's matrix builder) against the
DataFrame builder it replaces: same data sets, ranks, weights and step details to 1e-12
on COINr's ASEM example and on synthetic data, across methods, parameters, overrides and
the edge cases the matrix kernels hand back to the reference kernels."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from humsec.errors import HumsecError
from humsec.index import engine
from humsec.index.coinr import import_coinr
from humsec.index.pipeline import _Builder, _Frames, _MatrixBuilder, _tidy, build
from humsec.index.spec import IndexSpec

TOL = 1e-12


@pytest.fixture(scope="module")
def asem(published_data):
    d = published_data / "coinr_asem"
    if not (d / "iData.csv").is_file():
        pytest.skip(f"COINr ASEM example not found under {d}")
    return import_coinr(d / "iData.csv", d / "iMeta.csv", name="asem")


def legacy(spec, data, year=None):
    tidy = _tidy(data)
    if year is None and "year" in tidy.columns:
        year = int(tidy["year"].dropna().iloc[0])
    return _Builder(spec, tidy, year).run()


def matrix(spec, data, year=None):
    tidy = _tidy(data)
    if year is None and "year" in tidy.columns:
        year = int(tidy["year"].dropna().iloc[0])
    return _MatrixBuilder(_Builder(spec, tidy, year)).run()


def _close(a, b, what):
    if isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=TOL, abs=TOL), what
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for k in a:
            _close(a[k], b[k], f"{what}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{what}[{i}]")
    else:
        assert a == b, what


def assert_same(new, old):
    assert isinstance(new.datasets, _Frames)
    assert list(new.datasets) == list(old.datasets)
    for k in old.datasets:
        pd.testing.assert_frame_equal(new.datasets[k], old.datasets[k], check_exact=False, rtol=TOL, atol=TOL,
                                      check_index_type=False)
    pd.testing.assert_frame_equal(new.ranks, old.ranks, check_exact=True, check_index_type=False)
    assert list(new.weights) == list(old.weights)
    for k in old.weights:
        pd.testing.assert_series_equal(new.weights[k], old.weights[k], check_exact=True)
    assert len(new.log) == len(old.log)
    for a, b in zip(new.log, old.log):
        assert (a.step, a.method, dict(a.params), a.dataset) == (b.step, b.method, dict(b.params), b.dataset)
        _close(dict(a.details), dict(b.details), f"{a.step} details")
    assert new.spec == old.spec


VARIANTS = [
    {},
    {"steps.treat.params.winmax": 1},
    {"steps.treat.params.winmax": 3},
    {"steps.treat.params.winmax": None},
    {"steps.treat.params.combine_treat": True},
    {"steps.treat.params.skew_thresh": 1.0, "steps.treat.params.kurt_thresh": 1.0},
    {"steps.normalise.method": "zscore", "steps.normalise.params": {"mean": 10, "sd": 2}},
    {"steps.normalise.params": {"lo": 1, "hi": 100}, "steps.aggregate.method": "geometric"},
    {"steps.normalise.params": {"lo": 1, "hi": 100}, "steps.aggregate.method": "harmonic"},
    {"steps.normalise.method": "rank", "steps.normalise.params": {}},
    {"steps.impute.method": "mean", "steps.impute.params": {}},
    {"steps.impute.method": "median", "steps.impute.params": {}},
    {"steps.impute.method": "none", "steps.impute.params": {}},
    {"steps.impute.method": "group_median"},
    {"steps.treat.method": "none", "steps.treat.params": {}},
    {"steps.screen.params.min_availability": 0.95},
    {"tree.Conn.weight": 0.0},
]


@pytest.mark.parametrize("changes", VARIANTS, ids=[str(i) for i in range(len(VARIANTS))])
def test_asem_variants_equal_the_dataframe_builder(asem, changes):
    spec, data = asem
    spec = spec.with_changes(changes) if changes else spec
    try:
        old = legacy(spec, data)
    except HumsecError as exc:
        with pytest.raises(HumsecError, match=str(exc)[:30].replace("(", ".").replace(")", ".")):
            build(spec, data)
        return
    assert_same(matrix(spec, data), old)
    assert_same(build(spec, data), old)


def test_winsorised_columns_actually_go_through_the_matrix_path(asem):
    spec, data = asem
    res = build(spec, data)
    rows = res.details("treat")["treatment"]
    outcomes = {r["outcome"] for r in rows}
    assert {"none", "winsorised"} <= outcomes  # the matrix kernel decided both kinds
    tidy = _tidy(data)
    X = res.datasets["Screened"].to_numpy()
    r = engine.coinr_treat(X, winmax=5)
    assert r["sure"].sum() >= X.shape[1] - 2
    assert (r["outcome"] == "winsorised").sum() >= 1
    assert tidy is not None


def random_data(n=300, k=6, seed=0, miss=0.1):
    rng = np.random.default_rng(seed)
    X = rng.lognormal(0, 1.2, size=(n, k))
    X[rng.random((n, k)) < miss] = np.nan
    X[:3, 0] = 80.0  # tied outliers
    units = [f"u{i:04d}" for i in range(n)]
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(k)])
    df["unit"] = units
    tidy = df.melt(id_vars="unit", var_name="indicator", value_name="value")
    return tidy, units


SPEC = """
name: t
groups: {}
tree:
  - {code: I}
  - {code: A, parent: I}
  - {code: B, parent: I, weight: 2}
  - {code: x0, parent: A}
  - {code: x1, parent: A, direction: -1}
  - {code: x2, parent: A}
  - {code: x3, parent: B}
  - {code: x4, parent: B, direction: -1}
  - {code: x5, parent: B, goalposts: [0, 10]}
steps:
  - {step: impute, method: mean}
  - {step: treat, method: coinr, params: {winmax: 4}, overrides: {x2: {method: none}}}
  - step: normalise
    method: minmax
    params: {lo: 1, hi: 100}
    overrides: {x5: {method: goalposts, params: {scale: 100, floor: true}}, x3: {params: {lo: 5}}}
  - {step: aggregate, method: geometric, params: {floor: 0.5}, overrides: {I: {method: arithmetic}}}
"""


@pytest.mark.parametrize("seed", range(6))
def test_random_data_with_overrides(seed):
    tidy, units = random_data(seed=seed)
    spec = IndexSpec.from_yaml(SPEC)
    groups = {"g": dict(zip(units, np.random.default_rng(seed).choice(["a", "b", "c"], size=len(units))))}
    spec = spec.model_copy(update={"groups": groups})
    for sp in (spec, spec.with_changes({"steps.impute.method": "group_mean", "steps.impute.params": {"group": "g"}})):
        assert_same(matrix(sp, tidy), legacy(sp, tidy))


def test_errors_are_worded_by_the_reference_kernels():
    tidy, _ = random_data()
    tidy.loc[tidy["indicator"] == "x3", "value"] = 2.0  # constant column: min-max cannot apply
    spec = IndexSpec.from_yaml(SPEC).with_changes({"steps.treat.method": "none", "steps.treat.params": {}})
    with pytest.raises((engine.Unsupported, HumsecError)):
        matrix(spec, tidy)
    with pytest.raises(HumsecError, match="all values are equal"):
        build(spec, tidy)


def test_rank_min_desc_equals_pandas():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 5, size=(200, 7)).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    np.testing.assert_array_equal(engine.rank_min_desc(X),
                                  pd.DataFrame(X).rank(ascending=False, method="min").to_numpy())


def test_leading_run_axis_gives_each_run_its_own_result():
    rng = np.random.default_rng(5)
    V = rng.uniform(1, 100, size=(4, 30, 5))
    V[rng.random(V.shape) < 0.1] = np.nan
    w = rng.uniform(0.1, 1, size=(4, 5))
    from humsec.index.methods.aggregate import arithmetic, geometric

    for method, ref in (("arithmetic", arithmetic), ("geometric", geometric)):
        out, nonpos = engine.aggregate_means(V, w, method)
        assert not nonpos.any()
        for r in range(4):
            np.testing.assert_allclose(out[r], ref(V[r], w[r]), rtol=TOL, atol=TOL)
    d = np.ones(5)
    mm = engine.minmax(V, direction=d, lo=1, hi=100)
    for r in range(4):
        np.testing.assert_array_equal(mm[r], engine.minmax(V[r], direction=d, lo=1, hi=100))


def test_batched_means_without_gaps_take_the_matrix_product_path():
    rng = np.random.default_rng(6)
    V = rng.uniform(1, 100, size=(3, 40, 4))
    w = rng.uniform(0.1, 1, size=(3, 4))
    from humsec.index.methods.aggregate import arithmetic, geometric, harmonic

    for method, ref in (("arithmetic", arithmetic), ("geometric", geometric), ("harmonic", harmonic)):
        out, nonpos = engine.aggregate_means(V, w, method)
        assert not nonpos.any()
        for r in range(3):
            np.testing.assert_allclose(out[r], ref(V[r], w[r]), rtol=TOL, atol=TOL)
    V[1, 5, 2] = -1.0
    _, nonpos = engine.aggregate_means(V, w, "geometric")
    assert nonpos.tolist() == [False, True, False]


def test_long_table_order_equals_sorting_the_stacked_frame():
    tidy, _ = random_data(n=120, seed=4, miss=0.3)
    spec = IndexSpec.from_yaml(SPEC).with_changes({"steps.impute.method": "none", "steps.impute.params": {},
                                                   "steps.aggregate.params.min_share": 0.9})
    res = build(spec, tidy)
    assert res.ranks.isna().any().any()  # NaN ranks present (units without a score)
    got = res.long()
    nodes = [*reversed(spec.aggregates), *spec.indicators]
    parts = []
    for node in nodes:
        df = pd.DataFrame({"unit": res.scores.index.astype(object), "node": node,
                           "score": res.scores[node].to_numpy(), "rank": res.ranks[node].to_numpy()})
        parts.append(df.sort_values(["rank", "unit"], kind="stable", na_position="last"))
    want = pd.concat(parts, ignore_index=True)
    assert got["unit"].astype(object).tolist() == want["unit"].tolist()
    assert got["node"].astype(object).tolist() == want["node"].tolist()
    np.testing.assert_array_equal(got["score"].to_numpy(), want["score"].to_numpy())


def test_column_statistics_by_blocks_equal_one_pass(monkeypatch):
    rng = np.random.default_rng(8)
    X = rng.lognormal(size=(500, 9))
    X[rng.random(X.shape) < 0.1] = np.nan
    whole = engine.skew_kurt(X)
    monkeypatch.setattr(engine, "BLOCK_CELLS", 1000)
    blocks = engine.skew_kurt(X)
    for a, b in zip(whole, blocks):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_shared_deviation_statistics_equal_the_reference():
    from humsec.index.methods.treat import kurt, skew

    rng = np.random.default_rng(9)
    for n in (4, 7, 51, 1000):
        x = rng.lognormal(size=n)
        assert engine._skew_kurt_1d(x) == pytest.approx((skew(x), kurt(x)), rel=1e-12)


@pytest.mark.parametrize("winmax", [1, 2, 5, 10])
def test_winsorisation_rounds_at_once_equal_round_by_round(winmax):
    # every round's statistics in one pass (columns whose skewness keeps its sign) and
    # the columns whose skewness turns (right and left tails) redone round by round:
    # the same bounds, decisions and edge cases as one round at a time
    rng = np.random.default_rng(12)
    redone = kept = 0
    for _ in range(60):
        n = int(rng.integers(10, 60))
        cols = [np.r_[rng.normal(size=n), rng.uniform(5, 30, 3), -rng.uniform(3, 15, 3)] for _ in range(4)]
        cols += [rng.lognormal(0, 2, n + 6), -rng.lognormal(0, 2, n + 6), np.round(rng.lognormal(0, 1.2, n + 6), 1)]
        X = np.column_stack(cols)
        X[rng.random(X.shape) < 0.05] = np.nan
        passing, sure, sk, _ = engine.coinr_check(X)
        f = np.flatnonzero(sure & ~passing)
        if not f.size:
            continue
        redo = engine._winsorise_rounds_at_once(X[:, f], sk[f], winmax, 2.0, 3.5)[4]
        redone, kept = redone + int(redo.sum()), kept + int((~redo).sum())
        got = engine.winsorise_columns(X[:, f], sk[f], winmax, 2.0, 3.5)
        want = engine._winsorise_by_round(X[:, f], sk[f], winmax, 2.0, 3.5)
        np.testing.assert_array_equal(got[3], want[3])  # sure
        for g, w in zip(got[:3], want[:3]):
            np.testing.assert_array_equal(g[want[3]], w[want[3]])
    assert kept and (redone or winmax == 1)  # both paths taken (one round: no turn)


@pytest.mark.parametrize("combine", [False, True], ids=["log_CT", "winsorised+log_CT"])
@pytest.mark.parametrize("batched", [True, False], ids=["all-columns", "by-column"])
@pytest.mark.parametrize("winmax", [1, 5, 20, None])
def test_coinr_treatment_of_large_columns_equals_the_reference_kernel(winmax, batched, combine, monkeypatch):
    from humsec.index.methods.treat import treat_coinr

    # both Winsorisation paths: every failing column at once, or one by one (partitioned)
    monkeypatch.setattr(engine, "BATCH_CELLS", 10**9 if batched else 0)
    rng = np.random.default_rng(11)
    n = 3000
    cols = [rng.lognormal(0, s, size=n) for s in (0.3, 1.0, 1.5, 2.5)]
    cols.append(np.r_[rng.normal(size=n - 30), np.full(30, 50.0)])  # a tied block of outliers
    cols.append(-rng.lognormal(0, 1.5, size=n))  # skewed to the left
    cols.append(np.round(rng.lognormal(0, 1.2, size=n), 1))  # many ties everywhere
    # a mass of zeros under a right tail, a capped maximum over a left tail: one value
    # fills that end of the partition
    cols.append(np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(0, 1.5, size=n)))
    cols.append(np.where(rng.random(n) < 0.4, 100.0, 100.0 - rng.lognormal(0, 1.5, size=n)))
    X = np.column_stack(cols)
    X[rng.random(X.shape) < 0.05] = np.nan
    r = engine.coinr_treat(X, winmax=winmax, combine_treat=combine)
    assert r["sure"].sum() >= X.shape[1] - 1
    assert set(r["outcome"]) >= {"none", "winsorised"}
    for j in np.flatnonzero(r["sure"]):
        ref = treat_coinr(pd.Series(X[:, j]), winmax=winmax, combine_treat=combine)
        np.testing.assert_array_equal(r["values"][:, j], ref.values.to_numpy())
        assert r["outcome"][j] == ref.method
        assert int(r["n_winsorised"][j]) == ref.n_winsorised
        assert np.flatnonzero(r["winsorised"][:, j]).tolist() == list(ref.winsorised_units)
        assert r["skew_after"][j] == pytest.approx(ref.skew_after, rel=1e-12)


# ---------------------------------------------------------------------------- spec changes, input codes


def _with_changes_in_full(spec, changes):
    """The reference path of IndexSpec.with_changes: the whole spec re-validated."""
    from humsec.index.spec import _set_path

    d = spec.to_dict()
    for path, value in changes.items():
        _set_path(d, path, value)
    return IndexSpec.from_dict(d)


RUN_CHANGES = [*VARIANTS[1:],
               {"tree.Conn.weight": 2, "tree.LPI.weight": 0.5, "steps.aggregate.method": "geometric",
                "steps.normalise.params": {"lo": 1, "hi": 100}},
               {"steps.treat.params.winmax": 2, "tree.Flights.weight": np.float64(0.25)}]


@pytest.mark.parametrize("changes", RUN_CHANGES, ids=[str(i) for i in range(len(RUN_CHANGES))])
def test_run_changes_resolved_directly_equal_the_full_validation(asem, changes):
    from humsec.index.spec import _changed_directly

    spec, _ = asem
    assert _changed_directly(spec, changes) is not None  # the direct path is taken
    new, ref = spec.with_changes(changes), _with_changes_in_full(spec, changes)
    assert new == ref
    assert (new.nodes, new.children, new.levels, new.aggregates) == (ref.nodes, ref.children, ref.levels,
                                                                      ref.aggregates)


@pytest.mark.parametrize("changes, match", [
    ({"tree.Conn.weight": -1.0}, "weight"),
    ({"tree.Conn.weight": "heavy"}, "weight"),
    ({"steps.treat.params.winmax": "many"}, "winmax"),
    ({"steps.aggregate.method": "no_such_mean"}, "no_such_mean"),
    ({"steps.impute.params.group": "no_such_grouping"}, "no_such_grouping"),
])
def test_bad_run_changes_are_located_errors(asem, changes, match):
    spec, _ = asem
    with pytest.raises(HumsecError, match=match):
        spec.with_changes(changes)


def test_unit_codes_and_positions_equal_pandas():
    from humsec.index.pipeline import _positions, _unit_codes

    rng = np.random.default_rng(3)
    labels = np.array([f"u{i:03d}" for i in rng.integers(0, 300, size=5000)], dtype=object)
    keep = rng.random(5000) < 0.7
    for dtype in ("str", object, "string[pyarrow]"):
        col = pd.Series(labels, dtype=dtype)
        for k in (None, keep):
            codes, uniq = _unit_codes(col, k)
            ref_codes, ref_uniq = pd.factorize(col if k is None else col[k], sort=True)
            np.testing.assert_array_equal(codes, ref_codes)
            assert list(uniq) == list(ref_uniq)
        want = ["u005", "u100", "nope", "u299"]
        ref = pd.Index(want).get_indexer(col)
        np.testing.assert_array_equal(_positions(col, want), ref)


@pytest.mark.parametrize("layout", ["periodic", "runs", "shuffled", "periodic_broken"])
def test_unit_codes_of_large_layouts_equal_pandas(layout):
    from humsec.index.pipeline import PERIODIC_MIN_ROWS, _unit_codes

    rng = np.random.default_rng(4)
    units = np.array([f"z{i:05d}" for i in rng.permutation(3000)], dtype=object)
    reps = PERIODIC_MIN_ROWS // 3000 + 2
    if layout in ("periodic", "periodic_broken"):
        labels = np.tile(units, reps)
        if layout == "periodic_broken":
            labels[-5] = "zz"  # one cell breaks the period: the general path
    elif layout == "runs":
        labels = np.repeat(units, reps)
    else:
        labels = rng.permutation(np.tile(units, reps))
    col = pd.Series(labels, dtype="str")
    keep = rng.random(len(labels)) < 0.9
    for k in (None, keep):
        codes, uniq = _unit_codes(col, k)
        ref_codes, ref_uniq = pd.factorize(col if k is None else col[k], sort=True)
        np.testing.assert_array_equal(codes, ref_codes)
        assert list(uniq) == list(ref_uniq)


@pytest.mark.parametrize("method", ["arithmetic", "geometric", "harmonic"])
@pytest.mark.parametrize("k", [1, 3, 8, 9, 49, 130])
def test_means_without_gaps_are_the_same_bits_as_the_general_path(method, k):
    from humsec.index.methods.aggregate import _row_weights, weighted_means

    rng = np.random.default_rng(k)
    v = np.ascontiguousarray(rng.lognormal(size=(400, k)))
    v[:5] = v[5]  # tied rows stay tied
    w = rng.random(k)
    w = w / w.sum()
    avail = np.ones(v.shape, dtype=bool)
    ok = np.ones(len(v), dtype=bool)
    W = _row_weights(w, avail)  # the general path, as written before the shortcut
    if method == "arithmetic":
        ref = np.nansum(np.where(avail, v, 0.0) * W, axis=1)
    elif method == "geometric":
        ref = np.exp(np.sum(np.log(np.where(avail, v, 1.0)) * np.nan_to_num(W), axis=1))
    else:
        ref = 1.0 / np.sum(np.nan_to_num(W) / np.where(avail, v, 1.0), axis=1)
    got = weighted_means(v, w, avail, ok, method)
    np.testing.assert_array_equal(got, ref)
    assert len(set(got[:6].tolist())) == 1


@pytest.mark.parametrize("by_column", [False, True], ids=["blocks", "columns"])
@pytest.mark.parametrize("how", ["mean", "median"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_group_imputation_fills_each_gap_with_its_groups_statistic(how, order, by_column, monkeypatch):
    monkeypatch.setattr(engine, "GROUP_COLUMNS_ROWS", 0 if by_column else 10**9)
    rng = np.random.default_rng(12)
    X = rng.lognormal(size=(2000, 7))
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:40, 2] = np.nan  # a group may lack a column entirely
    codes = rng.integers(-1, 4, 2000)
    codes[:40] = 0
    codes[codes == 2] = 3  # an empty group number
    X = np.asarray(X, order=order)
    got = engine._by_group(X, codes, how)
    want = X.copy()
    for g in range(4):
        rows = np.flatnonzero(codes == g)
        block = X[rows]
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ok = ~np.isnan(block)
            fill = (np.where(ok, block, 0.0).sum(axis=0) / ok.sum(axis=0) if how == "mean"
                    else np.nanmedian(block, axis=0))
        want[rows] = np.where(np.isnan(block), fill[None, :], block)
    if by_column and how == "mean":  # sums by bincount: the same to rounding
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
        assert (np.isnan(got) == np.isnan(want)).all()
    else:
        np.testing.assert_array_equal(got, want)  # the same bits; unlabelled rows keep their gaps
    assert np.isnan(got[codes == -1]).sum() == np.isnan(X[codes == -1]).sum()


def test_group_codes_of_many_units_equal_the_dict_lookup():
    from humsec.index.pipeline import PERIODIC_MIN_ROWS, _group_codes

    rng = np.random.default_rng(5)
    n = PERIODIC_MIN_ROWS + 500
    units = np.array([f"U{i:06d}" for i in range(n)], dtype=object)
    labels = rng.choice(["north", "south", "east"], size=n).tolist()
    mapping = {u: g for u, g, drop in zip(units.tolist(), labels, rng.random(n) < 0.1) if not drop}
    mapping["not-a-unit"] = "west"
    shuffled = units[rng.permutation(n)]
    expect = pd.factorize(np.array([mapping.get(u) for u in shuffled.tolist()], dtype=object))[0]
    got = _group_codes(mapping, shuffled)
    np.testing.assert_array_equal(got, expect)
    assert (got == -1).sum() == n - len(mapping) + 1  # the unlabelled units, and only those
    np.testing.assert_array_equal(_group_codes(mapping, shuffled[:50]), expect[:50])
    # a grouping that lists every unit in the units' order (read from a table sorted by unit)
    in_order = dict(zip(units.tolist(), labels))
    expect = pd.factorize(np.array(labels, dtype=object))[0]
    np.testing.assert_array_equal(_group_codes(in_order, units), expect)
    swapped = dict(zip(units[[1, 0, *range(2, n)]].tolist(), labels))  # same keys, one pair out of order
    np.testing.assert_array_equal(_group_codes(swapped, units),
                                  pd.factorize(np.array([swapped[u] for u in units.tolist()], dtype=object))[0])


@pytest.mark.parametrize("method", ["arithmetic", "geometric", "harmonic"])
def test_means_by_column_are_the_same_bits_as_by_row(method):
    from humsec.index.methods.aggregate import complete_means, complete_means_columns

    rng = np.random.default_rng(3)
    for k in [*range(1, 40), 127, 128, 129, 300]:  # every branch of numpy's pairwise summation
        V = rng.lognormal(size=(257, k))
        w = rng.random(k)
        w /= w.sum()
        F = np.asfortranarray(V)
        got = complete_means_columns([F[:, j] for j in range(k)], w, method)
        np.testing.assert_array_equal(got, complete_means(V, w, method), err_msg=f"k={k}")
        assert np.array_equal(F, V)  # the matrix itself is left alone


@pytest.mark.parametrize("changes", [{}, VARIANTS[7], VARIANTS[8], {"steps.aggregate.params": {"min_children": 2}}],
                         ids=["arithmetic", "geometric", "harmonic", "min_children"])
def test_large_build_path_of_the_aggregation_equals_the_small_one(asem, changes, monkeypatch):
    from humsec.index import pipeline

    spec, data = asem
    spec = spec.with_changes(changes) if changes else spec
    small = build(spec, data)
    monkeypatch.setattr(pipeline, "COLUMN_MEANS_ROWS", 1)
    large = build(spec, data)
    pd.testing.assert_frame_equal(large.datasets["Aggregated"], small.datasets["Aggregated"], check_exact=True)
    pd.testing.assert_frame_equal(large.ranks, small.ranks, check_exact=True)


@pytest.mark.parametrize("wide", [False, True], ids=["tidy", "wide"])
def test_large_builds_keep_the_scores_and_make_the_other_data_sets_on_access(asem, wide, monkeypatch):
    import pickle

    from humsec.index import pipeline

    spec, data = asem
    if wide:
        data = data.pivot(index="unit", columns="indicator", values="value").reset_index()
        data.columns.name = None
    eager = build(spec, data)
    monkeypatch.setattr(pipeline, "LAZY_CELLS", 1)
    lazy = build(spec, data)
    assert list(lazy.datasets) == list(eager.datasets)
    assert lazy.datasets.lazy == [n for n in eager.datasets if n != "Aggregated"]  # only the scores are held
    seen = []
    lazy.visit_datasets(lambda name, frame: seen.append((name, frame.copy())))
    assert [n for n, _ in seen] == list(eager.datasets)
    for name, frame in seen:
        pd.testing.assert_frame_equal(frame, eager.datasets[name], check_exact=True)
    assert lazy.datasets.lazy  # visiting held nothing
    again = pickle.loads(pickle.dumps(lazy.datasets))  # e.g. sent to a worker: still able to make them
    for name in eager.datasets:  # made on access, from the step log
        pd.testing.assert_frame_equal(lazy.datasets[name], eager.datasets[name], check_exact=True)
        pd.testing.assert_frame_equal(again[name], eager.datasets[name], check_exact=True)
    assert lazy.equals(eager) and not lazy.datasets.lazy
    with pytest.raises(KeyError):
        lazy.datasets["Nope"]


@pytest.mark.parametrize("layout", ["indicator_major", "unit_major", "shuffled_units", "extra_indicator",
                                    "reader_years", "repeated_unit", "other_year", "broken_run", "absent"])
@pytest.mark.parametrize("labels", ["str", "category"])
def test_product_layouts_read_as_the_general_scatter(layout, labels, monkeypatch):
    """A complete units x indicators table in melt (indicator-major) or unit-major order
    takes the block-copy path; its matrix equals the general per-row scatter's, and tables
    that only look like a product fall back (duplicates are then reported as before).
    Categorical labels (the reader's) give the matrix of text labels on either path."""
    from humsec.index import pipeline
    from humsec.index.pipeline import PERIODIC_MIN_ROWS, _dense_matrix, _wide_matrix

    rng = np.random.default_rng(11)
    n_units = PERIODIC_MIN_ROWS // 3 + 7
    units = np.array([f"r{i:05d}" for i in range(n_units)], dtype=object)
    if layout != "indicator_major":
        units = units[rng.permutation(n_units)]  # writers need not sort units
    codes = ["a", "b", "c", "d"]
    have = codes + (["zz"] if layout == "extra_indicator" else [])
    if layout == "absent":
        have = codes[:3]
    if layout == "unit_major":
        unit_col, ind_col = np.repeat(units, len(have)), np.tile(np.array(have, dtype=object), n_units)
    else:
        ind_col, unit_col = np.repeat(np.array(have, dtype=object), n_units), np.tile(units, len(have))
    values = rng.normal(size=len(unit_col))
    values[rng.random(len(values)) < 0.1] = np.nan
    years = np.full(len(values), 2020, dtype=np.int64)
    if layout == "repeated_unit":
        unit_col[3] = unit_col[4]
    if layout == "other_year":
        years[-1] = 2019
    if layout == "broken_run":  # two rows swapped: the same data, not in either order
        for col in (ind_col, unit_col, values):
            col[[2, n_units + 2]] = col[[n_units + 2, 2]]
    tidy = pd.DataFrame({"unit": pd.array(unit_col, dtype="str"),
                         "year": pd.array(years, dtype="Int64") if layout == "reader_years" else years,
                         "indicator": pd.array(ind_col, dtype="str"), "value": values})
    text = tidy
    if labels == "category":  # categories in another order than the units' (as a reader's)
        tidy = tidy.astype({"unit": pd.CategoricalDtype(pd.Index(units[::-1], dtype="str")), "indicator": "category"})
    spec = IndexSpec.from_yaml("name: t\ntree:\n  - {code: I}\n"
                               + "".join(f"  - {{code: {c}, parent: I}}\n" for c in codes)
                               + "steps:\n  - {step: aggregate, method: arithmetic}\n")
    dense = layout in ("indicator_major", "unit_major", "shuffled_units", "extra_indicator", "reader_years")
    if layout == "absent":
        with pytest.raises(HumsecError, match="absent from the data: d"):
            _dense_matrix(dict(tidy.items()), len(tidy), codes, 2020, spec)
        return
    got = _dense_matrix(dict(tidy.items()), len(tidy), codes, 2020, spec)
    assert (got is not None) == dense
    monkeypatch.setattr(pipeline, "_dense_matrix", lambda *a: None)
    if layout == "repeated_unit":
        with pytest.raises(HumsecError, match="duplicate observations"):
            _wide_matrix(tidy, codes, 2020, spec)
        return
    ref_M, ref_units = _wide_matrix(text, codes, 2020, spec)
    scatter_M, scatter_units = _wide_matrix(tidy, codes, 2020, spec)
    assert list(scatter_units) == list(ref_units) and scatter_units.dtype == ref_units.dtype
    np.testing.assert_array_equal(scatter_M, ref_M)
    if got is not None:
        M, got_units = got
        assert list(got_units) == list(ref_units) and got_units.name == "unit"
        assert M.flags.f_contiguous
        np.testing.assert_array_equal(M, ref_M)


@pytest.mark.parametrize("seed", range(8))
def test_clipped_moments_equal_the_statistics_of_the_clipped_column(seed):
    """Each Winsorisation round's skewness and kurtosis from the column's power sums and
    its clipped values agree with those of the clipped column far inside the margin the
    decisions keep from the thresholds; where cancellation would eat that margin the
    corrected moments decline (None) and the caller clips the column."""
    rng = np.random.default_rng(seed)
    n = 20_000
    obs = [rng.lognormal(0, 0.5 + seed / 3, size=n), np.where(rng.random(n) < 0.3, 0.0, rng.pareto(1.5, size=n)),
           1e6 + rng.lognormal(0, 1, size=n)][seed % 3]
    u, cnt = np.unique(obs, return_counts=True)
    mom = engine._ClippedMoments(obs, u.tolist(), cnt.tolist())
    for lo, hi in [(0, len(u) - 1), (0, len(u) - 2), (0, len(u) - 6), (3, len(u) - 1), (2, len(u) - 40)]:
        got = mom.skew_kurt(lo, hi)
        want = engine._skew_kurt_1d(np.clip(obs, u[lo], u[hi]))
        if got is None:
            continue
        assert got[0] == pytest.approx(want[0], rel=1e-10, abs=1e-10)
        assert got[1] == pytest.approx(want[1], rel=1e-10, abs=1e-10)
    assert mom.skew_kurt(0, len(u) - 2) is not None or seed % 3 == 1  # the usual case is corrected, not redone

    spike = np.r_[rng.normal(size=n - 1), 1e12]  # one point carries every sum
    u, cnt = np.unique(spike, return_counts=True)
    assert engine._ClippedMoments(spike, u.tolist(), cnt.tolist()).skew_kurt(0, len(u) - 2) is None


@pytest.mark.parametrize("changes", [*VARIANTS, {"steps.normalise.params": {"lo": 1, "hi": 100},
                                                 "tree.Flights.direction": -1}],
                         ids=[str(i) for i in range(len(VARIANTS) + 1)])
@pytest.mark.parametrize("wide", [False, True], ids=["tidy", "wide"])
def test_lean_builds_that_write_in_place_equal_full_builds(asem, changes, wide, monkeypatch):
    """A build keeping only some data sets lets each step write into the matrix no one
    holds: every kept data set, the scores, ranks and step log are those of the full
    build, and the caller's data are not touched."""
    spec, data = asem
    spec = spec.with_changes(changes)
    if wide:
        data = data.pivot(index="unit", columns="indicator", values="value").reset_index()
    before = data.copy(deep=True)
    full = build(spec, data)
    # keeping only the scores, the aggregates are written beside the leaves in the input matrix
    for keep in (["Treated"] if "Treated" in full.datasets else ["Normalised"], ["Aggregated"]):
        lean = build(spec, data, keep=keep)
        pd.testing.assert_frame_equal(data, before)  # the input as it was
        for k in lean.datasets.keys() & set(lean.datasets._parts):
            pd.testing.assert_frame_equal(lean.datasets[k], full.datasets[k], check_exact=True)
        pd.testing.assert_frame_equal(lean.ranks, full.ranks, check_exact=True)
        pd.testing.assert_frame_equal(lean.scores, full.scores, check_exact=True)
        assert [(r.step, dict(r.details)) for r in lean.log] == [(r.step, dict(r.details)) for r in full.log]


@pytest.mark.parametrize("layout", ["dense", "scatter", "wide"])
def test_aggregates_are_written_beside_the_leaves_only_when_the_build_owns_them(asem, layout, monkeypatch):
    """The aggregated matrix extends the input matrix (no copy of the leaves) in a lean
    build of a leaves-first tree, in either input layout; a build that keeps the
    normalised data, or a tree listing an aggregate before a leaf, copies as before."""
    from humsec.index import pipeline
    from humsec.index.labels import PERIODIC_MIN_ROWS

    spec, data = asem
    if layout == "dense":  # enough rows for the block-copy path: the units repeated under new names
        reps = PERIODIC_MIN_ROWS // len(data) + 1
        wide = data.pivot(index="unit", columns="indicator", values="value")
        wide = pd.concat([wide.rename(index=lambda u, r=r: f"{u}_{r}") for r in range(reps)])
        data = wide.rename_axis("unit").reset_index().melt(id_vars="unit", var_name="indicator")
        tidy = pipeline._tidy(data)
        assert pipeline._dense_matrix(dict(tidy.items()), len(tidy), list(spec.indicators), None, spec) is not None
        spec = spec.model_copy(update={"groups": {g: {f"{u}_{r}": v for u, v in m.items() for r in range(reps)}
                                                  for g, m in spec.groups.items()}})
    if layout == "wide":
        data = data.pivot(index="unit", columns="indicator", values="value").reset_index()
    taken = []
    real = pipeline._MatrixBuilder._room_for_aggregates

    def spy(self, X):
        r = real(self, X)
        taken.append(r is not None)
        return r
    monkeypatch.setattr(pipeline._MatrixBuilder, "_room_for_aggregates", spy)
    lean, full = build(spec, data, keep=["Aggregated"]), build(spec, data, keep=["Normalised"])
    pd.testing.assert_frame_equal(lean.scores, full.scores, check_exact=True)
    pd.testing.assert_frame_equal(lean.datasets["Aggregated"], full.datasets["Aggregated"], check_exact=True)
    tree = list(spec.tree)
    mixed = spec.model_copy(update={"tree": (tree[-1], *tree[:-1])})  # an aggregate listed first
    build(mixed, data, keep=["Aggregated"])
    assert taken == [True, False, False]


def test_steps_write_into_the_matrix_only_when_the_build_owns_it(asem, monkeypatch):
    from humsec.index import pipeline

    spec, data = asem
    seen = []
    real = engine.coinr_treat

    def spy(X, *, overwrite=False, **k):
        seen.append((overwrite, X.copy()))
        r = real(X, overwrite=overwrite, **k)
        assert (r["values"] is X) == overwrite
        return r
    monkeypatch.setattr(pipeline, "coinr_treat", spy)
    build(spec, data)  # every data set kept: nothing is written into
    build(spec, data, keep=["Normalised"])  # the screened matrix is the build's own
    assert [s[0] for s in seen] == [False, True]
    np.testing.assert_array_equal(seen[0][1], seen[1][1])  # the same input either way


def test_a_kernel_that_declines_leaves_an_owned_matrix_intact(asem):
    """minmax declines a constant column (Unsupported) before it writes: the reference
    kernel then normalises the untouched matrix, lean or not."""
    spec, data = asem
    data = data.copy()
    data.loc[data["indicator"] == "Flights", "value"] = 3.0
    spec = spec.with_changes({"steps.treat.method": "none", "steps.treat.params": {}})
    full = build(spec, data)
    lean = build(spec, data, keep=["Normalised"])
    pd.testing.assert_frame_equal(lean.datasets["Normalised"], full.datasets["Normalised"], check_exact=True)
    pd.testing.assert_frame_equal(lean.scores, full.scores, check_exact=True)


def test_validated_memo_keeps_types_and_nested_values_apart():
    from humsec.index.families import registry_for

    key = engine.params_key
    assert key({"a": 1}) != key({"a": 1.0}) != key({"a": True})
    assert key({"a": 1, "b": "x"}) == key({"b": "x", "a": 1})
    assert isinstance(key({"a": [1, 2]}), str) and key({"a": [1, 2]}) != key({"a": [1, 3]})
    assert key({"a": object()}) is None
    m = registry_for("treat").get("coinr")
    first = engine.validated(m, {"winmax": 3})
    first["winmax"] = 99  # a fresh dict each time: the memo is not changed through it
    assert engine.validated(m, {"winmax": 3})["winmax"] == 3
    assert engine.validated(m, {"winmax": 4})["winmax"] == 4
