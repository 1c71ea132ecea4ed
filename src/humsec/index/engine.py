"""Matrix kernels of the index engine: each step a pure function over a float matrix.

The pipeline (:mod:`humsec.index.pipeline`) runs a build on one ``units x indicators``
float matrix and calls, for every step, the matrix kernel registered here under the
same plain string names as the DataFrame kernels of :mod:`humsec.index.methods`
(``MATRIX[family][name]``). Methods without a matrix kernel are run by their DataFrame /
column kernel on the same numbers, so every registered method works; the matrix kernels
only make the common ones cost their arithmetic.

Axes: the last axis is indicators (or children), the one before it units; the
normalisation and aggregation kernels accept any leading axes (e.g. a run axis of an
uncertainty analysis), so a batched evaluation calls the same kernels as a build.

Every kernel here returns the same numbers as its DataFrame counterpart up to float
rounding of sums (tested to 1e-12 in ``tests/test_engine.py``); where a result sits on a
decision threshold (the skewness/kurtosis test of the COINr treatment) or anything is
unusual (constant columns, infinities, zero denominators, too few values), the kernel
raises :class:`Unsupported` and the caller uses the reference kernel, which also words
every error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from humsec.errors import HumsecError
from humsec.index.methods.aggregate import prepare_means, weighted_means

__all__ = ["MATRIX", "Unsupported", "aggregate_means", "coinr_check", "matrix_kernel", "params_key", "rank_min_desc",
           "validated"]


class Unsupported(Exception):
    """The matrix kernel does not handle this input; use the reference kernel."""


#: family -> method name -> matrix kernel
MATRIX: dict[str, dict[str, Callable[..., Any]]] = {f: {} for f in (
    "denominate", "impute", "screen", "treat", "normalise", "weight", "aggregate")}


def matrix_kernel(family: str, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a matrix kernel for method ``name`` of ``family``."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        MATRIX[family][name] = fn
        return fn

    return deco


_VALID: dict[tuple[str, str, Any], dict[str, Any]] = {}


_SCALARS = frozenset({str, int, float, bool, type(None)})


def params_key(params: Mapping[str, Any]) -> Any:
    """A hashable key of ``params``: the (name, type, value) triples of scalar values (the
    type: 1, 1.0 and True stay apart), their JSON for nested ones, None if neither."""
    if all(type(v) in _SCALARS for v in params.values()):
        return tuple(sorted((k, type(v), v) for k, v in params.items()))
    try:
        return json.dumps(dict(params), sort_keys=True)
    except TypeError:
        return None


def validated(method: Any, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``method.validate_params(params)``, memoised on :func:`params_key` (a fresh dict).

    Pydantic validation costs tens of microseconds; a build validates the same few
    parameter sets for dozens of indicators, an uncertainty analysis for thousands of
    runs.
    """
    key = (method.family, method.name, params_key(params or {}))
    if key[2] is None:
        return method.validate_params(params)
    hit = _VALID.get(key)
    if hit is None:
        hit = method.validate_params(params)
        if len(_VALID) > 4096:
            _VALID.clear()
        _VALID[key] = hit
    return {k: (list(v) if isinstance(v, list) else v) for k, v in hit.items()}


# ---------------------------------------------------------------------------- ranks


def rank_min_desc(X: np.ndarray, axis: int = 0) -> np.ndarray:
    """Descending ranks along ``axis`` (highest = 1, ties share the lowest rank, NaN
    stays NaN): pandas ``rank(ascending=False, method="min")`` column by column, as one
    sort of the whole array (any number of other axes)."""
    X = np.asarray(X, dtype=float)
    n = X.shape[axis]
    if n == 0:
        return np.empty(X.shape)
    # rank along a contiguous last axis (sorting across strides is several times slower)
    neg = np.ascontiguousarray(np.moveaxis(-X, axis, -1))
    order = np.argsort(neg, axis=-1)  # NaN last; ties get one rank, so any order of ties will do
    srt = np.take_along_axis(neg, order, axis=-1)
    new = np.ones(neg.shape, dtype=bool)
    new[..., 1:] = srt[..., 1:] != srt[..., :-1]
    start = np.maximum.accumulate(np.where(new, np.arange(n, dtype=np.float64), 0.0), axis=-1)
    out = np.empty(neg.shape)
    np.put_along_axis(out, order, start + 1.0, axis=-1)
    out = np.moveaxis(out, -1, axis)
    out[np.isnan(X)] = np.nan
    return out


# ---------------------------------------------------------------------------- denominate


@matrix_kernel("denominate", "ratio")
def ratio(X: np.ndarray, D: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
    """``X / D * scale`` element by element (columns of ``D`` are the denominators)."""
    if np.isinf(X).any() or np.isinf(D).any() or (D == 0).any():
        raise Unsupported("infinite values or zero denominators")
    return X / D * scale


# ---------------------------------------------------------------------------- impute


def _finite(X: np.ndarray) -> None:
    if np.isinf(X).any():
        raise Unsupported("infinite values")


# ``overwrite=True`` (the builder's, for an input no one else holds): the result is
# written into ``X`` and ``X`` returned - after every check that can raise, so an
# Unsupported input is left as it was for the reference kernel.


def _target(X: np.ndarray, overwrite: bool) -> np.ndarray:
    return X if overwrite else X.copy(order="K")


@matrix_kernel("impute", "none")
def impute_none(X: np.ndarray, *, group_codes: np.ndarray | None = None, overwrite: bool = False) -> np.ndarray:
    """Missing values stay missing."""
    _finite(X)
    return _target(X, overwrite)


@matrix_kernel("impute", "mean")
def impute_mean(X: np.ndarray, *, group_codes: np.ndarray | None = None, overwrite: bool = False) -> np.ndarray:
    """Column means fill the gaps (an all-missing column stays missing)."""
    _finite(X)
    with np.errstate(invalid="ignore", divide="ignore"):
        miss = np.isnan(X)
        m = np.where(miss, 0.0, X).sum(axis=0) / (X.shape[0] - miss.sum(axis=0))
    out = _target(X, overwrite)
    np.copyto(out, m[None, :], where=miss)
    return out


@matrix_kernel("impute", "median")
def impute_median(X: np.ndarray, *, group_codes: np.ndarray | None = None, overwrite: bool = False) -> np.ndarray:
    """Column medians fill the gaps."""
    _finite(X)
    miss = np.isnan(X)
    if miss.all(axis=0).any():
        raise Unsupported("an all-missing column")
    med = np.nanmedian(X, axis=0)
    out = _target(X, overwrite)
    np.copyto(out, med[None, :], where=miss)
    return out


#: Units from which group means are taken column by column (:func:`_by_group`).
GROUP_COLUMNS_ROWS = 10_000


def _by_group(X: np.ndarray, codes: np.ndarray | None, how: str, overwrite: bool = False) -> np.ndarray:
    """Gaps filled by their group's column mean / median: the rows sorted by group once,
    each group's fills computed from its block (one group's rows in memory at a time),
    and only the missing cells written."""
    _finite(X)
    if codes is None or (codes < 0).all():
        raise Unsupported("no groups")
    miss = np.isnan(X)
    out = _target(X, overwrite)
    if not miss.any():
        return out
    n_groups = int(codes.max()) + 1
    if how == "mean" and X.shape[0] >= GROUP_COLUMNS_ROWS:
        # many units: each column's group sums and counts by one bincount (no block
        # copies), its gaps filled in place
        labelled = codes >= 0
        for j in range(X.shape[1]):
            mj = miss[:, j]
            if not mj.any():
                continue
            okj = ~mj & labelled
            sums = np.bincount(codes[okj], weights=X[okj, j], minlength=n_groups)
            cnt = np.bincount(codes[okj], minlength=n_groups)
            with np.errstate(invalid="ignore", divide="ignore"):
                fill = sums / cnt  # 0/0: a group without values keeps its gaps (NaN)
            at = np.flatnonzero(mj & labelled)
            out[at, j] = fill[codes[at]]
        return out
    order = np.argsort(codes, kind="stable")  # rows of a group in their order
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    fills = np.full((n_groups, X.shape[1]), np.nan)
    for g in range(n_groups):
        rows = order[bounds[g]:bounds[g + 1]]  # one group's block at a time (bounded memory)
        bm = miss[rows]
        if rows.size == 0 or not bm.any():
            continue
        block = X[rows]
        ok = ~bm
        cnt = ok.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            if how == "mean":
                fills[g] = np.where(ok, block, 0.0).sum(axis=0) / cnt
            else:
                have = cnt > 0
                if have.any():
                    fills[g, have] = np.nanmedian(block[:, have], axis=0)
    r, c = np.nonzero(miss)
    gr = codes[r]
    sel = gr >= 0  # rows without a label keep their gaps
    out[r[sel], c[sel]] = fills[gr[sel], c[sel]]
    return out


@matrix_kernel("impute", "group_mean")
def impute_group_mean(X: np.ndarray, *, group_codes: np.ndarray | None = None, group: str | None = None,
                      overwrite: bool = False) -> np.ndarray:
    """Gaps filled by the unit's group mean (``group_codes``: group number per row, -1 =
    no label: the row keeps its gaps)."""
    return _by_group(X, group_codes, "mean", overwrite)


@matrix_kernel("impute", "group_median")
def impute_group_median(X: np.ndarray, *, group_codes: np.ndarray | None = None, group: str | None = None,
                        overwrite: bool = False) -> np.ndarray:
    """Gaps filled by the unit's group median."""
    return _by_group(X, group_codes, "median", overwrite)


# ---------------------------------------------------------------------------- screen


@matrix_kernel("screen", "availability")
def availability(X: np.ndarray, *, units: np.ndarray, min_availability: float = 0.66,
                 min_nonzero: float = 0.05, unit_screen: str = "byNA",
                 force_include: list[str] | None = None, force_exclude: list[str] | None = None) -> np.ndarray:
    """Rows kept by COINr's availability screen (bool vector)."""
    k = X.shape[1]
    nmiss = np.isnan(X).sum(axis=1)
    nzero = (X == 0).sum(axis=1)
    nav = k - nmiss
    share = 1.0 - nmiss / k if k else np.full(X.shape[0], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        nonzero = 1.0 - nzero / nav
    low_data = share < min_availability
    low_nz = np.where(np.isnan(nonzero), 1.0, nonzero) < min_nonzero
    if unit_screen == "byNA":
        keep = ~low_data
    elif unit_screen == "byzeros":
        keep = ~low_nz
    else:
        keep = ~(low_data | low_nz)
    if force_include or force_exclude:
        have = set(units.tolist())
        if any(u not in have for u in [*(force_include or []), *(force_exclude or [])]):
            raise Unsupported("forced unit not in the data")
        keep = keep.copy()
        keep[np.isin(units, list(force_include or []))] = True
        keep[np.isin(units, list(force_exclude or []))] = False
    return keep


# ---------------------------------------------------------------------------- treat


#: Cells per block of the column statistics (bounds their temporaries, ~8 bytes each).
BLOCK_CELLS = 2_000_000


def skew_kurt(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column: non-missing count, type-2 skewness and excess kurtosis (NaN-aware;
    see :func:`humsec.index.methods.treat.skew`). Large matrices go by blocks of
    columns, so the temporaries stay small."""
    if X.ndim == 2 and X.size > BLOCK_CELLS and X.shape[1] > 1:
        step = max(1, BLOCK_CELLS // max(1, X.shape[0]))
        parts = [skew_kurt(X[:, j:j + step]) for j in range(0, X.shape[1], step)]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]
    add = np.add.reduce  # the ufunc itself: the methods' wrappers cost more than a small column
    miss = np.isnan(X)
    gaps = bool(miss.any())
    with np.errstate(invalid="ignore", divide="ignore"):
        if gaps:
            ok = ~miss
            n = add(ok, axis=0, dtype=float)
            mean = add(np.where(ok, X, 0.0), axis=0) / n
        else:
            # one count for every column: its factors are Python floats (the same bits as
            # the vector of counts, fewer passes over a small matrix's statistics)
            n = float(X.shape[0])
            mean = add(X, axis=0) / n
        # one deviation matrix and one square, powers taken in place (the temporaries
        # of a large build are its memory peak)
        d = np.subtract(X, mean, order="K")
        if gaps:
            np.copyto(d, 0.0, where=miss)
        d2 = np.multiply(d, d, order="K")
        m2 = add(d2, axis=0)
        m3 = add(np.multiply(d2, d, out=d), axis=0)
        m4 = add(np.multiply(d2, d2, out=d2), axis=0)
        sk = np.sqrt(n) * m3 / m2 ** 1.5 * np.sqrt(n * (n - 1)) / (n - 2)
        r = n * m4 / m2 ** 2
        kt = ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))
    if not gaps:
        n = np.full(X.shape[1:], n)
    return n, sk, kt


#: Columns whose statistics lie this close to a threshold go to the reference kernel.
THRESHOLD_MARGIN = 1e-7


def col_extremes(X: np.ndarray, ok: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per column (axis 0) the smallest and largest non-missing value (+inf / -inf for a
    column without any); ``ok``: the non-missing cells, if the caller has them. Without
    gaps, plain reductions (a masked one costs several times more)."""
    if ok is None:
        miss = np.isnan(X)
        gaps = bool(miss.any())
    else:
        gaps = not bool(ok.all())
    if not gaps and X.shape[0]:
        return np.minimum.reduce(X, axis=0), np.maximum.reduce(X, axis=0)
    if ok is None:
        ok = ~miss
    return np.min(X, axis=0, initial=np.inf, where=ok), np.max(X, axis=0, initial=-np.inf, where=ok)


def coinr_check(X: np.ndarray, skew_thresh: float = 2.0, kurt_thresh: float = 3.5
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """COINr's ``check_SkewKurt`` for every column at once.

    Returns
    -------
    (passing, sure, skew, kurt)
        ``passing``: the column passes; ``sure``: the decision and the statistics are
        clear of every edge case (enough values, not constant, not within
        :data:`THRESHOLD_MARGIN` of a threshold) — columns that are not sure must go
        through the reference kernel.
    """
    n, sk, kt = skew_kurt(X)
    finite = np.isfinite(sk) & np.isfinite(kt)
    near = (np.abs(np.abs(sk) - skew_thresh) < THRESHOLD_MARGIN) | (np.abs(kt - kurt_thresh) < THRESHOLD_MARGIN)
    # nearly constant columns: the mean's rounding dominates the moments
    mn, mx = col_extremes(X)
    spread = mx - mn
    with np.errstate(invalid="ignore"):
        scale = np.maximum(np.abs(mx), np.abs(mn))  # the largest |value|
        flat = ~(spread > 1e-9 * np.maximum(scale, 1e-300))
    sure = (n >= 4) & finite & ~near & ~flat
    passing = (np.abs(sk) < skew_thresh) | (kt < kurt_thresh)
    return passing & sure, sure, sk, kt


# ---------------------------------------------------------------------------- normalise


def _signed(X: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``X * direction`` as a new matrix in ``X``'s layout (the kernels work in it)."""
    if np.isinf(X).any():
        raise Unsupported("infinite values")
    return np.multiply(X, direction, order="K")


@matrix_kernel("normalise", "minmax")
def minmax(X: np.ndarray, *, direction: np.ndarray, lo: float = 0.0, hi: float = 100.0, overwrite: bool = False,
           **_: Any) -> np.ndarray:
    """Min-max onto ``[lo, hi]`` of every column (leading axes allowed; statistics over
    the units axis, -2)."""
    if np.isinf(X).any():
        raise Unsupported("infinite values")
    ok = ~np.isnan(X)
    if not ok.any(axis=-2).all():
        raise Unsupported("an all-missing column")
    xmn = np.min(X, axis=-2, initial=np.inf, where=ok, keepdims=True)
    xmx = np.max(X, axis=-2, initial=-np.inf, where=ok, keepdims=True)
    if (xmn == xmx).any():
        raise Unsupported("a constant column")
    if np.all(np.abs(direction) == 1):  # the signed column's extremes: -1 swaps and negates them
        down = direction < 0
        mn, mx = np.where(down, -xmx, xmn), np.where(down, -xmn, xmx)
        A = np.multiply(X, direction, out=X) if overwrite else np.multiply(X, direction, order="K")
    else:
        A = np.multiply(X, direction, order="K")
        mn = np.min(A, axis=-2, initial=np.inf, where=ok, keepdims=True)
        mx = np.max(A, axis=-2, initial=-np.inf, where=ok, keepdims=True)
        if (mn == mx).any():
            raise Unsupported("a constant column")
    # (A - mn) / (mx - mn) * (hi - lo) + lo, in place in the signed copy
    np.subtract(A, mn, out=A)
    np.divide(A, mx - mn, out=A)
    np.multiply(A, hi - lo, out=A)
    return np.add(A, lo, out=A)


@matrix_kernel("normalise", "zscore")
def zscore(X: np.ndarray, *, direction: np.ndarray, mean: float = 0.0, sd: float = 1.0, **_: Any
           ) -> np.ndarray:
    """Z-score with the sample sd (n - 1), rescaled to ``mean``/``sd``."""
    A = _signed(X, direction)
    ok = ~np.isnan(A)
    n = ok.sum(axis=-2, keepdims=True)
    if (n < 2).any():
        raise Unsupported("fewer than two values")
    m = np.where(ok, A, 0.0).sum(axis=-2, keepdims=True) / n
    d = np.where(ok, A - m, 0.0)
    s = np.sqrt((d * d).sum(axis=-2, keepdims=True) / (n - 1))
    if (s == 0).any():
        raise Unsupported("zero standard deviation")
    return (A - m) / s * sd + mean


@matrix_kernel("normalise", "goalposts")
def goalposts(X: np.ndarray, *, direction: np.ndarray, lo: float | None = None, hi: float | None = None,
              scale: float = 1.0, log: bool = False, cap: bool = True, floor: bool = False, **_: Any
              ) -> np.ndarray:
    """HDR / COINr goalposts (see :func:`humsec.index.methods.normalise.goalposts`)."""
    if lo is None or hi is None or np.isinf(X).any():
        raise Unsupported("no goalposts or infinite values")
    if log:
        if (~np.isnan(X) & (X <= 0)).any():
            raise Unsupported("values <= 0 under log")
        a, lo_, hi_ = np.log(X), np.log(lo), np.log(hi)
    else:
        a, lo_, hi_ = X, lo, hi
    y = np.where(direction == 1, (a - lo_) / (hi_ - lo_), (hi_ - a) / (hi_ - lo_))
    if cap:
        y = np.where(y > 1.0, 1.0, y)
    if floor:
        y = np.where(y < 0.0, 0.0, y)
    return y * scale


# ---------------------------------------------------------------------------- aggregate


def aggregate_means(V: np.ndarray, w: np.ndarray, method: str, *, floor: float | None = None,
                    min_children: int | None = None, min_share: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted arithmetic / geometric / harmonic means over the last axis, skipping NaN
    children (weights re-normalised over the children a unit has), as the ``arithmetic``,
    ``geometric`` and ``harmonic`` kernels of :mod:`humsec.index.methods.aggregate`.

    Parameters
    ----------
    V : numpy.ndarray (..., units, k)
    w : numpy.ndarray (..., k)
        Non-negative weights (one set per leading index), not necessarily summing to 1.
    method : {"arithmetic", "geometric", "harmonic"}

    Returns
    -------
    (out, nonpositive)
        Means ``(..., units)`` and, per leading index, whether an available value was
        <= 0 under a geometric or harmonic mean (those results are meaningless; the
        caller reports the error).
    """
    w = np.asarray(w, dtype=float)
    tot = w.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = w / tot
    if method == "geometric" and floor is not None:
        V = np.where(np.isnan(V), V, np.maximum(V, floor))
    if V.shape[-1] and not np.isnan(V).any() and np.isfinite(w).all() and min_children is None \
            and min_share is None:
        # every child available: one weighted sum per unit (a matrix product)
        with np.errstate(invalid="ignore", divide="ignore"):
            wn = w / w.sum(axis=-1, keepdims=True)
        wv = wn[..., :, None]
        if method == "arithmetic":
            return (V @ wv)[..., 0], np.zeros(V.shape[:-2], dtype=bool)
        nonpos = np.asarray((V <= 0).any(axis=(-1, -2)))
        Vs = np.where(V > 0, V, 1.0)
        if method == "geometric":
            return np.exp((np.log(Vs) @ wv)[..., 0]), nonpos
        if method == "harmonic":
            with np.errstate(divide="ignore"):
                return 1.0 / ((1.0 / Vs) @ wv)[..., 0], nonpos
        raise ValueError(f"no batched kernel for '{method}'")
    avail = ~np.isnan(V)
    W = np.where(avail, w[..., None, :], 0.0)
    rtot = W.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        W = W / rtot
    nonpos = np.zeros(V.shape[:-2], dtype=bool)
    if method == "arithmetic":
        out = np.nansum(np.where(avail, V, 0.0) * W, axis=-1)
    else:
        nonpos = (avail & (V <= 0)).any(axis=(-1, -2))
        Vs = np.where(avail & (V > 0), V, 1.0)
        if method == "geometric":
            out = np.exp(np.sum(np.log(Vs) * np.nan_to_num(W), axis=-1))
        elif method == "harmonic":
            with np.errstate(divide="ignore"):
                out = 1.0 / np.sum(np.nan_to_num(W) / Vs, axis=-1)
        else:
            raise ValueError(f"no batched kernel for '{method}'")
    n_av = avail.sum(axis=-1)
    bad = (n_av == 0) | ~np.isfinite(W.sum(axis=-1))
    if min_children is not None:
        bad |= n_av < min_children
    if min_share is not None and V.shape[-1]:
        bad |= n_av / V.shape[-1] < min_share - 1e-12
    out = np.where(bad, np.nan, out)
    return out, nonpos


def _means_kernel(method: str) -> Callable[..., np.ndarray]:
    def kernel(V: np.ndarray, w: np.ndarray, *, min_children: int | None = None, min_share: float | None = None,
               floor: float | None = None) -> np.ndarray:
        try:
            V, w, avail, ok = prepare_means(np.ascontiguousarray(V, dtype=float), w, None, f"{method} mean",
                                            min_children, min_share)
        except HumsecError as exc:  # the DataFrame path reports it, located
            raise Unsupported(str(exc)) from None
        if method != "arithmetic":
            if method == "geometric" and floor is not None:
                V = np.where(avail, np.maximum(V, floor), V)
            if (avail & (V <= 0)).any():
                raise Unsupported(f"a value <= 0 under the {method} mean")
        return weighted_means(V, w, avail, ok, method)

    kernel.__name__ = kernel.__qualname__ = f"{method}_means"
    kernel.__doc__ = (f"Weighted {method} mean of the children (columns) of every unit (row), as the "
                      f"``{method}`` kernel of :mod:`humsec.index.methods.aggregate` (the same "
                      ":func:`~humsec.index.methods.aggregate.weighted_means`, so the same bits) "
                      "without its checks' costs; anything that kernel reports as an error "
                      "raises :class:`Unsupported`.")
    return kernel


for _m in ("arithmetic", "geometric", "harmonic"):
    MATRIX["aggregate"][_m] = _means_kernel(_m)


# ---------------------------------------------------------------------------- COINr treatment


def _skew_kurt_1d(arr: np.ndarray) -> tuple[float, float]:
    """:func:`~humsec.index.methods.treat.skew` and :func:`~humsec.index.methods.treat.kurt`
    of a vector without missing values, sharing the deviations. Sums instead of BLAS
    dot products (equal to rounding): a threaded ``dot`` stalls on a busy machine."""
    n = arr.size
    d = arr - arr.mean()
    d2 = d * d
    ss = float(d2.sum())
    if not ss > 0:  # constant: 0/0 (NaN, as the reference)
        return math.nan, math.nan
    y = math.sqrt(n) * float((d2 * d).sum()) / ss ** 1.5
    r = n * float((d2 * d2).sum()) / ss ** 2
    return (y * math.sqrt(n * (n - 1)) / (n - 2),
            ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


def winsorise_sorted(obs: np.ndarray, skew0: float, winmax: int | None, skew_thresh: float,
                     kurt_thresh: float) -> tuple[float, float, bool] | None:
    """COINr's iterative Winsorisation of one failing column (non-missing values ``obs``)
    as bounds on its sorted distinct values.

    Each round replaces every value at the current maximum (skewness >= 0) or minimum by
    the next distinct value - i.e. clips the column one distinct value further in; the
    extremes and their counts come from one sort, not from a search per round. The
    statistics of each round are those of the reference (:func:`~humsec.index.methods.
    treat.skew`, :func:`~humsec.index.methods.treat.kurt` of the clipped values in their
    original order, to rounding; decisions within :data:`THRESHOLD_MARGIN` of a threshold
    go to the reference), so the rounds and the stopping rule are those of
    :func:`humsec.index.methods.treat.winsorise_coinr`.

    Returns
    -------
    (lo, hi, passing) or None
        The clipping bounds and whether the clipped column passes the check; None for
        anything the reference kernel must decide (a statistic within
        :data:`THRESHOLD_MARGIN` of a threshold or of 0, nothing left to Winsorise
        towards, undefined statistics).
    """
    n = obs.size
    if n < 4:
        return None
    # a round Winsorises at least one point, so with winmax set only the few largest
    # and smallest distinct values can be reached: find those by partitioning (O(n)),
    # not by sorting the column; the whole sort only if a round reaches the middle
    m = 4 * winmax + 16 if winmax is not None else 0
    if m and n > 4 * m:
        part = np.partition(obs, (m - 1, n - m))  # both ends in one partition
        top = np.unique(part[n - m:], return_counts=True)
        bot = np.unique(part[:m], return_counts=True)
        # the lowest distinct value of the top part (highest of the bottom part) may be
        # incomplete: only the values beyond it are known with their counts. A part of
        # one value (a column's mass of zeros, a capped maximum) is that extreme with an
        # unknown count (-1): a round that would move it reaches the middle
        if (top[0].size > 1 or bot[0].size > 1) and bot[0][-1] < top[0][0]:
            if bot[0].size > 1:
                bu, bc = bot[0][:-1].tolist(), bot[1][:-1].tolist()
            else:
                bu, bc = [float(bot[0][0])], [-1]
            if top[0].size > 1:
                tu, tc = top[0][1:].tolist(), top[1][1:].tolist()
            else:
                tu, tc = [float(top[0][0])], [-1]
            r = _winsorise_rounds(obs, bu + tu, bc + tc, len(bu), skew0, winmax, skew_thresh, kurt_thresh)
            if r is not _MIDDLE:
                return r  # type: ignore[return-value]
    u, cnt = np.unique(obs, return_counts=True)
    if u.size < 3:
        return None
    r = _winsorise_rounds(obs, u.tolist(), cnt.tolist(), None, skew0, winmax, skew_thresh, kurt_thresh)
    return None if r is _MIDDLE else r  # type: ignore[return-value]


_MIDDLE = object()


def _winsorise_rounds(obs: np.ndarray, uu: list[float], cc: list[int], split: int | None, skew0: float,
                      winmax: int | None, skew_thresh: float, kurt_thresh: float) -> Any:
    """The rounds of :func:`winsorise_sorted` over distinct values ``uu`` (counts ``cc``;
    -1: unknown); with ``split``, ``uu[:split]`` are the smallest and ``uu[split:]`` the
    largest distinct values, the middle unknown (``_MIDDLE`` if a round would reach it).
    Each round's statistics come from the column's power sums and the clipped values
    (:class:`_ClippedMoments`), not from a pass over the clipped column."""
    lo, hi = 0, len(uu) - 1
    sums: _ClippedMoments | None = None
    c_hi, c_lo = cc[hi], cc[lo]  # points at the current maximum / minimum
    n_hi = n_lo = 0  # COINr's length(imax), length(imin) of the last round of each side
    sk = skew0
    passing = False
    while not passing and (winmax is None or n_hi + n_lo < winmax):
        if abs(sk) < THRESHOLD_MARGIN:
            return None
        if sk >= 0:
            if split is not None and hi - 1 < split:
                return _MIDDLE
            if hi - 1 <= lo:
                return None
            hi -= 1
            n_hi = c_hi
            c_hi += cc[hi]
        else:
            if split is not None and lo + 1 > split - 1:
                return _MIDDLE
            if lo + 1 >= hi:
                return None
            lo += 1
            n_lo = c_lo
            c_lo += cc[lo]
        if sums is None:
            sums = _ClippedMoments(obs, uu, cc)
        stats = sums.skew_kurt(lo, hi)
        sk, kt = stats if stats is not None else _skew_kurt_1d(np.clip(obs, uu[lo], uu[hi]))
        if not (math.isfinite(sk) and math.isfinite(kt)):
            return None
        if abs(abs(sk) - skew_thresh) < THRESHOLD_MARGIN or abs(kt - kurt_thresh) < THRESHOLD_MARGIN:
            return None
        passing = abs(sk) < skew_thresh or kt < kurt_thresh
    return uu[lo], uu[hi], passing


class _ClippedMoments:
    """Skewness and kurtosis (as :func:`_skew_kurt_1d`) of a column clipped to one of its
    distinct values at each end, from its power sums about its mean, corrected by the
    few clipped values only: a Winsorisation round costs the clipped points, not a pass
    over the column.

    The sums of :math:`(x - c)^k`, :math:`k = 1..4`, about the unclipped mean :math:`c`
    are taken once; clipping :math:`x` to :math:`b` adds :math:`(b - c)^k - (x - c)^k`
    per point; central moments follow from the shifted sums [1]_. Where those
    corrections cancel most of a sum (a few huge outliers carry it) the error bound is
    no longer far below :data:`THRESHOLD_MARGIN` and :meth:`skew_kurt` returns None:
    the caller takes the statistics of the clipped column directly.

    References
    ----------
    .. [1] Pébay P. (2008). Formulas for robust, one-pass parallel computation of
       covariances and arbitrary-order statistical moments. Sandia Report SAND2008-6212.
    """

    #: Largest ratio of a sum's magnitude (its terms' absolute values) to its value's
    #: natural scale (n * sd^k) for which the corrected moments are used.
    MAX_CANCELLATION = 1e5
    #: Largest shift of the mean by clipping, in standard deviations of the clipped column.
    MAX_SHIFT = 10.0

    def __init__(self, obs: np.ndarray, uu: list[float], cc: list[int]):
        self.n = obs.size
        self.c = float(obs.mean())
        d = obs - self.c
        d2 = d * d
        ad = np.abs(d)
        self.p = np.array([float(d.sum()), float(d2.sum()), float((d2 * d).sum()), float((d2 * d2).sum())])
        self.mag = np.array([float(ad.sum()), self.p[1], float((d2 * ad).sum()), self.p[3]])
        self.u = np.asarray(uu, dtype=float) - self.c
        self.w = np.asarray(cc, dtype=float)

    def skew_kurt(self, lo: int, hi: int) -> tuple[float, float] | None:
        u, w, n = self.u, self.w, self.n
        s, mag = self.p.copy(), self.mag.copy()
        for sel, b in ((slice(hi + 1, None), u[hi]), (slice(None, lo), u[lo])):
            x, k = u[sel], w[sel]
            if not x.size:
                continue
            if (k < 0).any():  # an unknown count: not reached by a round
                return None
            for e in range(4):
                bx, xx = b ** (e + 1), x ** (e + 1)
                s[e] += float((k * (bx - xx)).sum())
                mag[e] += float((k * (np.abs(bx) + np.abs(xx))).sum())
        a1, a2, a3, a4 = s / n
        dm = a1  # the clipped mean, from c
        m2 = a2 - dm * dm
        if not m2 > 0:
            return None
        m3 = a3 - 3 * dm * a2 + 2 * dm ** 3
        m4 = a4 - 4 * dm * a3 + 6 * dm * dm * a2 - 3 * dm ** 4
        sd = math.sqrt(m2)
        scale = np.array([sd, m2, m2 * sd, m2 * m2]) * n
        # the terms in dm^k of the central moments cancel unless the clipped mean stays
        # near c (clipping a few points moves it by a fraction of a standard deviation)
        if not (mag <= self.MAX_CANCELLATION * scale).all() or abs(dm) > self.MAX_SHIFT * sd:
            return None
        y = m3 / m2 ** 1.5
        r = m4 / (m2 * m2)
        return (y * math.sqrt(n * (n - 1)) / (n - 2),
                ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


#: Cells (rows x failing columns) up to which :func:`coinr_treat` Winsorises all failing
#: columns together (:func:`winsorise_columns`); larger ones column by column
#: (:func:`winsorise_sorted`, which partitions instead of scanning each round).
BATCH_CELLS = 200_000


def winsorise_columns(X: np.ndarray, skew0: np.ndarray, winmax: int | None, skew_thresh: float,
                      kurt_thresh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`winsorise_sorted` of every column of ``X`` (NaN = missing) at once.

    Each round moves, in every column still failing, the upper clipping bound to the
    next lower distinct value (skewness >= 0) or the lower bound to the next higher
    one, then takes the statistics of all clipped columns together; the rounds, the
    stopping rule and the edge cases left to the reference kernel are those of
    :func:`winsorise_sorted` (and so of COINr's ``winsorise``, [1]_).

    Parameters
    ----------
    X : numpy.ndarray (units, k)
        The failing columns.
    skew0 : numpy.ndarray (k,)
        Their skewness before treatment.
    winmax, skew_thresh, kurt_thresh
        As :func:`coinr_treat`.

    Returns
    -------
    (lo, hi, passing, sure)
        Per column the clipping bounds, whether the clipped column passes, and whether
        the result is clear (False: the reference kernel decides; bounds undefined).

    References
    ----------
    .. [1] Becker W., Caperna G. et al. (2022). COINr: an R package for developing
       composite indicators. Journal of Open Source Software 7(78), 4567.
    """
    X = np.asarray(X, dtype=float)
    skew0 = np.asarray(skew0, dtype=float)
    if winmax is not None and 0 < winmax and X.size * winmax <= ROUNDS_AT_ONCE_CELLS and X.shape[1]:
        lo, hi, passing, sure, redo = _winsorise_rounds_at_once(X, skew0, winmax, skew_thresh, kurt_thresh)
        if redo.any():  # a column whose skewness changed sign between rounds: round by round
            js = np.flatnonzero(redo)
            lo[js], hi[js], passing[js], sure[js] = _winsorise_by_round(X[:, js], skew0[js], winmax, skew_thresh,
                                                                        kurt_thresh)
        return lo, hi, passing, sure
    return _winsorise_by_round(X, skew0, winmax, skew_thresh, kurt_thresh)


#: Cells (rows x columns x ``winmax``) up to which :func:`winsorise_columns` takes the
#: statistics of every possible round in one pass (a matrix of that many cells).
ROUNDS_AT_ONCE_CELLS = 2_000_000


def _winsorise_rounds_at_once(X: np.ndarray, skew0: np.ndarray, winmax: int, skew_thresh: float,
                              kurt_thresh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`winsorise_columns` with every round's statistics in one pass, for columns
    whose skewness keeps its sign from round to round (the usual case).

    A round Winsorises at least one more point, so with ``winmax`` set a column has at
    most ``winmax`` rounds, and while its skewness keeps its sign each round moves the
    same bound one distinct value further in: all of them are known before any is
    taken. Their statistics come from one pass over the column clipped at each bound
    (mirrored, ``-x``, for left-skewed columns: the same numbers with the sign of the
    skewness changed); then the stopping rule of :func:`_winsorise_by_round` picks,
    per column, the round it stops at.

    Returns
    -------
    (lo, hi, passing, sure, redo)
        As :func:`winsorise_columns`, and ``redo``: the columns whose skewness changed
        sign before they stopped (their results undefined here).
    """
    n, k = X.shape
    up = skew0 >= 0
    Y = np.where(up, X, -X)  # every column Winsorised at its top
    ok = ~np.isnan(Y)
    lo_y, top = col_extremes(Y, ok)
    H = np.empty((winmax + 1, k))  # the upper bound before round r (H[0]: the maximum) ...
    C = np.empty((winmax, k), dtype=np.int64)  # ... and the points at or above it (Winsorised in round r)
    h = H[0] = top
    for r in range(winmax):
        C[r] = np.add.reduce(Y >= h, axis=0)  # NaN compares False
        h = H[r + 1] = np.max(Y, axis=0, initial=-np.inf, where=Y < h)
    _, S, K = skew_kurt(np.clip(Y[:, None, :], lo_y, H[1:]))  # (rounds, columns)
    S = np.where(up, S, -S)  # the skewness of the columns themselves
    with np.errstate(invalid="ignore"):
        stuck = H[1:] <= lo_y  # nothing left to Winsorise towards
        unclear = stuck | ~np.isfinite(S + K) | (np.abs(np.abs(S) - skew_thresh) < THRESHOLD_MARGIN) \
            | (np.abs(K - kurt_thresh) < THRESHOLD_MARGIN)
    passes = (np.abs(S) < skew_thresh) | (K < kurt_thresh)
    # before round r (skewness of round r - 1): too close to 0 (tiny), or of the other sign
    before = np.empty_like(S)
    before[0], before[1:] = skew0, S[:-1]
    tiny = np.abs(before) < THRESHOLD_MARGIN
    turned = (before >= 0) != up
    # a column stops before round r (blocked) or after it (ended)
    blocked = tiny | turned
    ended = unclear | passes | (C >= winmax)
    f_block = np.where(blocked.any(axis=0), np.argmax(blocked, axis=0), winmax)
    f_end = np.argmax(ended, axis=0)  # every column ends by round winmax - 1 (C[r] > r)
    at_block = f_block <= f_end
    last = np.where(at_block, f_block - 1, f_end)  # the last round taken (-1: none)
    cols = np.arange(k)
    pick = np.maximum(last, 0)
    stop = np.minimum(f_block, winmax - 1)
    redo = at_block & turned[stop, cols]
    fuzzy = np.where(at_block, tiny[stop, cols], unclear[pick, cols])
    sure = (np.add.reduce(ok, axis=0) >= 4) & ~redo & ~fuzzy
    passing = ~at_block & passes[pick, cols]
    bound = np.where(last >= 0, H[pick + 1, cols], H[0])
    hi = np.where(up, bound, -lo_y)  # a left-skewed column keeps its maximum
    lo = np.where(up, lo_y, -bound)
    return lo, hi, passing & sure, sure, redo


def _winsorise_by_round(X: np.ndarray, skew0: np.ndarray, winmax: int | None, skew_thresh: float,
                        kurt_thresh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`winsorise_columns` one round at a time (all columns still going together)."""
    k = X.shape[1]
    ok = ~np.isnan(X)
    lo = np.min(X, axis=0, initial=np.inf, where=ok)
    hi = np.max(X, axis=0, initial=-np.inf, where=ok)
    n_hi = np.zeros(k, dtype=np.int64)  # COINr's length(imax) / length(imin) of the
    n_lo = np.zeros(k, dtype=np.int64)  # last round on each side
    sk = np.asarray(skew0, dtype=float).copy()
    passing = np.zeros(k, dtype=bool)
    sure = ok.sum(axis=0) >= 4
    active = sure.copy()
    js_prev = None
    A = X
    nmax = -np.inf
    pmin = np.inf
    while True:
        active &= ~passing
        if winmax is not None:
            active &= (n_hi + n_lo) < winmax
        tiny = active & (np.abs(sk) < THRESHOLD_MARGIN)
        if tiny.any():
            sure &= ~tiny
            active &= ~tiny
        js = np.flatnonzero(active)
        if not js.size:
            break
        if js_prev is None or js.size != js_prev.size:  # the columns still going
            A = X[:, js]
        js_prev = js
        h, lw = hi[js], lo[js]
        up = sk[js] >= 0
        # NaN compares False: missing cells take part in no bound and no count
        if up.all():  # the usual case (right skew): only the upper bounds move
            new_h, new_l = np.max(A, axis=0, initial=nmax, where=A < h), lw
            stuck = new_h <= lw  # nothing left to Winsorise towards
            n_hi[js] = np.add.reduce(A >= h, axis=0)
        else:
            new_h = np.where(up, np.max(A, axis=0, initial=nmax, where=A < h), h)
            new_l = np.where(up, lw, np.min(A, axis=0, initial=pmin, where=A > lw))
            stuck = np.where(up, new_h <= lw, new_l >= h)
            n_hi[js] = np.where(up, np.add.reduce(A >= h, axis=0), n_hi[js])
            n_lo[js] = np.where(up, n_lo[js], np.add.reduce(A <= lw, axis=0))
        hi[js], lo[js] = new_h, new_l
        _, s_new, k_new = skew_kurt(np.clip(A, new_l, new_h))
        with np.errstate(invalid="ignore"):
            unclear = stuck | ~np.isfinite(s_new + k_new) \
                | (np.abs(np.abs(s_new) - skew_thresh) < THRESHOLD_MARGIN) \
                | (np.abs(k_new - kurt_thresh) < THRESHOLD_MARGIN)
        if unclear.any():
            sure[js[unclear]] = False
            active[js[unclear]] = False
        sk[js] = s_new
        passing[js] = (np.abs(s_new) < skew_thresh) | (k_new < kurt_thresh)
    return lo, hi, passing & sure, sure


def coinr_treat(X: np.ndarray, *, winmax: int | None = 5, skew_thresh: float = 2.0, kurt_thresh: float = 3.5,
                combine_treat: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """COINr's default treatment (check, iterative Winsorisation, else ``log_CT``) of all
    columns: the check vectorised over columns, each failing column Winsorised by
    :func:`winsorise_sorted` (see :func:`humsec.index.methods.treat.treat_coinr`).

    Returns
    -------
    dict
        ``values`` (treated matrix), ``outcome`` (per column ``"none"``, ``"winsorised"``,
        ``"log_CT"`` or ``"winsorised+log_CT"``), ``n_winsorised``, ``winsorised``
        (bool matrix of the Winsorised points), statistics ``skew_before`` ...
        ``kurt_after`` and ``sure``: False for the columns this kernel could not decide
        clearly (edge cases, statistics within :data:`THRESHOLD_MARGIN` of a threshold) -
        the caller must treat those with the reference kernel. With ``overwrite``,
        ``values`` is ``X`` itself, treated in place (the columns not ``sure`` as
        they were).
    """
    X = np.asarray(X, dtype=float)
    n_rows, k = X.shape
    passing, sure, sk0, kt0 = coinr_check(X, skew_thresh, kurt_thresh)
    sure = sure.copy()
    out = _target(X, overwrite)  # each treated block is read (F) before it is written
    winsorised = np.zeros((n_rows, k), dtype=bool, order="F")
    nwin = np.zeros(k, dtype=np.int64)
    n_w = np.zeros(k, dtype=np.int64)
    outcome = np.array(["none"] * k, dtype=object)
    changed = np.zeros(k, dtype=bool)
    failing = np.flatnonzero(sure & ~passing)
    lo_b = np.full(failing.size, np.nan)
    hi_b = np.full(failing.size, np.nan)
    pass_b = np.zeros(failing.size, dtype=bool)
    sure_b = np.ones(failing.size, dtype=bool)
    if failing.size and n_rows * failing.size <= BATCH_CELLS:
        # small columns: every failing column's rounds at once (Python costs per round,
        # not per column and round)
        lo_b, hi_b, pass_b, sure_b = winsorise_columns(X[:, failing], sk0[failing], winmax, skew_thresh,
                                                       kurt_thresh)
    else:
        for i, j in enumerate(failing):
            col = X[:, j]
            r = winsorise_sorted(col[~np.isnan(col)], float(sk0[j]), winmax, skew_thresh, kurt_thresh)
            if r is None:
                sure_b[i] = False
            else:
                lo_b[i], hi_b[i], pass_b[i] = r
    sure[failing[~sure_b]] = False
    done = np.flatnonzero(sure_b)
    # the treated columns by blocks (bounded temporaries): clipped where Winsorisation
    # passed, log_CT of the original (or Winsorised) column where it did not
    step = max(1, BLOCK_CELLS // max(1, n_rows))
    for s in range(0, done.size, step):
        ii = done[s:s + step]
        js = failing[ii]
        F = X[:, js]
        okf = ~np.isnan(F)
        lo_v, hi_v, ok_pass = lo_b[ii], hi_b[ii], pass_b[ii]
        hit = (F > hi_v) | (F < lo_v)  # the Winsorised points (NaN compares False)
        nwin[js] = hit.sum(axis=0)
        new = np.clip(F, lo_v, hi_v)  # NaN stays NaN
        logs = ~ok_pass
        if logs.any():
            src = new[:, logs] if combine_treat else F[:, logs]
            ok_s = okf[:, logs]
            lmn = np.min(src, axis=0, initial=np.inf, where=ok_s)
            lmx = np.max(src, axis=0, initial=-np.inf, where=ok_s)
            with np.errstate(divide="ignore", invalid="ignore"):
                new[:, logs] = np.log(src - lmn + 0.01 * (lmx - lmn))
        record = ok_pass | combine_treat
        if record.any():
            winsorised[:, js[record]] = hit[:, record]
            n_w[js[record]] = nwin[js[record]]
        # a treatment that changed nothing reports "none", as the reference kernel
        moved = ~((new == F) | (np.isnan(new) & ~okf)).all(axis=0)
        if moved.any():
            out[:, js[moved]] = new[:, moved]
            kinds = np.where(ok_pass, "winsorised", "winsorised+log_CT" if combine_treat else "log_CT")
            outcome[js[moved]] = kinds[moved]
            changed[js[moved]] = True
    treated = sure & ~passing
    ska, kta = sk0.copy(), kt0.copy()
    at = np.flatnonzero(changed)
    step = max(1, BLOCK_CELLS // max(1, n_rows))
    for s in range(0, at.size, step):  # unchanged columns keep their statistics; by blocks (bounded copies)
        cols = at[s:s + step]
        _, ska[cols], kta[cols] = skew_kurt(out[:, cols])
    return {"values": out, "outcome": outcome, "changed": changed, "n_winsorised": n_w, "winsorised": winsorised,
            "n_winsorised_tried": np.where(treated, nwin, 0),
            "skew_before": sk0, "kurt_before": kt0, "skew_after": ska, "kurt_after": kta, "sure": sure}
