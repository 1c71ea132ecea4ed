"""Hypothesis properties of the index method kernels: bounds, monotonicity, invariances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from humsec.index.methods import AGGREGATE, NORMALISE, rank_desc

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(0.01, 1e4, allow_nan=False, allow_infinity=False)
vectors = arrays(np.float64, st.integers(3, 30), elements=finite)
pos_vectors = arrays(np.float64, st.integers(3, 30), elements=positive)


def _spread(x: np.ndarray) -> bool:
    return np.unique(x).size >= 2 and (x.max() - x.min()) > 1e-6 * (1 + np.abs(x).max())


def _norm(name: str, x: np.ndarray, direction: int) -> np.ndarray:
    m = NORMALISE.get(name)
    ctx = {"direction": direction}
    params: dict = {}
    if name in ("distance_to_target", "sdr"):
        ctx["target"] = float(x.max() + 1) if direction == 1 else float(x.min() - 1)
    if name == "goalposts":
        params = {"lo": float(x.min() - 1), "hi": float(x.max() + 1)}
    return np.asarray(m.fn(x, **ctx, **m.validate_params(params)))


@settings(max_examples=60, deadline=None)
@given(vectors, st.floats(-100, 100), st.floats(0.1, 100))
def test_minmax_bounded(x, lo, width):
    assume(_spread(x))
    hi = lo + width
    out = _norm_params("minmax", x, lo=lo, hi=hi)
    tol = 1e-9 * (1 + abs(lo) + abs(hi))
    assert out.min() >= lo - tol and out.max() <= hi + tol


def _norm_params(name, x, direction=1, **params):
    m = NORMALISE.get(name)
    return np.asarray(m.fn(x, direction=direction, **m.validate_params(params)))


@settings(max_examples=60, deadline=None)
@given(vectors, st.sampled_from([1, -1]))
def test_percentile_bounded(x, d):
    assume(_spread(x))
    out = _norm("percentile", x, d)
    # ties take the minimum rank (COINr n_prank), so a tied best may stay below 100
    assert out.min() == 0 and out.max() <= 100


@settings(max_examples=60, deadline=None)
@given(vectors, st.sampled_from([1, -1]), st.floats(0, 49))
def test_sdr_bounded(x, d, pct):
    assume(_spread(x))
    m = NORMALISE.get("sdr")
    target = float(x.max() + 1) if d == 1 else float(x.min() - 1)
    out = m.fn(x, direction=d, target=target, **m.validate_params({"lower_percentile": pct}))
    assert out.min() >= 0 and out.max() <= 100


MONOTONE = ["minmax", "zscore", "rank", "borda", "prank", "percentile", "goalposts",
            "distance_to_target", "sdr", "none"]


@settings(max_examples=40, deadline=None)
@given(vectors, st.sampled_from(MONOTONE), st.sampled_from([1, -1]))
def test_normalisers_monotone_with_direction(x, name, d):
    assume(_spread(x))
    xs = np.sort(x)
    out = _norm(name, xs, d)
    diffs = np.diff(out) * d
    scale = 1e-9 * (1 + np.abs(out).max())
    assert (diffs >= -scale).all(), (name, d, xs, out)


@settings(max_examples=40, deadline=None)
@given(pos_vectors)
def test_fracmax_monotone(x):
    out = _norm("fracmax", np.sort(x), 1)
    assert (np.diff(out) >= -1e-12).all() and out.max() == pytest.approx(1.0)


matrices = st.integers(2, 12).flatmap(
    lambda n: st.integers(1, 5).flatmap(
        lambda k: st.tuples(arrays(np.float64, (n, k), elements=positive),
                            arrays(np.float64, (k,), elements=st.floats(0.01, 10)))))


@settings(max_examples=60, deadline=None)
@given(matrices, st.floats(0.01, 100))
def test_arithmetic_invariant_to_weight_scaling(vw, c):
    v, w = vw
    a = AGGREGATE.get("arithmetic").fn(v, w)
    b = AGGREGATE.get("arithmetic").fn(v, w * c)
    np.testing.assert_allclose(a, b, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 10), positive,
       st.sampled_from(["arithmetic", "geometric", "harmonic", "generalised", "mazziotta_pareto"]),
       st.floats(0.01, 10))
def test_equal_rows_aggregate_to_their_value(k, n, value, name, wscale):
    v = np.full((n, k), value)
    w = np.linspace(1, 2, k) * wscale
    m = AGGREGATE.get(name)
    params = {"p": 3.0} if name == "generalised" else {}
    out = m.fn(v, w, **m.validate_params(params))
    np.testing.assert_allclose(out, value, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 40), elements=st.one_of(finite, st.just(np.nan))), st.randoms())
def test_ranks_invariant_to_permutation(x, rnd):
    perm = list(range(x.size))
    rnd.shuffle(perm)
    r = rank_desc(x)
    rp = rank_desc(x[perm])
    np.testing.assert_array_equal(rp, r[perm])


@settings(max_examples=30, deadline=None)
@given(matrices, st.randoms())
def test_copeland_permutation_equivariant(vw, rnd):
    v, w = vw
    perm = list(range(v.shape[0]))
    rnd.shuffle(perm)
    a = AGGREGATE.get("copeland").fn(v, w)
    b = AGGREGATE.get("copeland").fn(v[perm], w)
    np.testing.assert_array_equal(b, a[perm])
