"""Aggregation kernels (COINr's ``a_*`` functions, Mazziotta-Pareto, Copeland) and ranks.

Every kernel has the signature

``fn(values: numpy.ndarray (n_units, k), weights: numpy.ndarray (k,), *,
columns: list[str] | None = None, code: str | None = None, **params) -> numpy.ndarray (n_units,)``

Weights are relative (rescaled to sum to 1). Missing children (NaN) are skipped and the
weights re-normalised over the children a unit has, as COINr's ``a_amean``/``a_gmean`` do;
a unit with no child gets NaN. ``min_children`` / ``min_share`` optionally require a
minimum number / share of available children (else NaN). ``columns`` (children's codes)
and ``code`` (the parent's code) are passed by the pipeline for messages; ``units``
(row labels) may be passed too.

References
----------
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 6
   (weighting and aggregation): linear, geometric and multi-criteria (Copeland)
   aggregation. https://doi.org/10.1787/9789264043466-en
.. [COINr] Becker, W. et al. (2022). COINr, *JOSS* 7(78), 4567; COINr 1.1
   ``R/aggregate.R`` (``a_amean``, ``a_gmean``, ``a_hmean``, ``a_genmean``,
   ``outrankMatrix``, ``a_copeland``).
.. [MP16] Mazziotta, M., Pareto, A. (2016). On a generalized non-compensatory composite
   index for measuring socio-economic phenomena. *Social Indicators Research* 127(3),
   983-1003. https://doi.org/10.1007/s11205-015-0998-2
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from humsec.errors import HumsecError
from humsec.index.methods._common import sample
from humsec.index.registry import Registry

__all__ = ["AGGREGATE", "complete_means", "complete_means_columns", "pairwise_sum", "prepare_means", "rank_desc",
           "weighted_means"]

AGGREGATE = Registry("aggregate")

#: Outranking shares within this distance of 0.5 count as ties (float noise of weight sums;
#: COINr compares ``== 0.5`` exactly, which can split exact ties by rounding).
TIE_TOL = 1e-12

#: Largest number of units Copeland compares in one block (memory ~ block * n * k bytes).
COPELAND_BLOCK_CELLS = 20_000_000


def rank_desc(scores: Any) -> np.ndarray:
    """Descending ranks: highest score = 1; ties share the lowest rank (1, 2, 2, 4); NaN
    stays NaN (pandas ``rank(method="min", ascending=False)``)."""
    arr = np.asarray(scores, dtype="float64")
    return pd.Series(arr.reshape(-1)).rank(method="min", ascending=False,
                                          na_option="keep").to_numpy(dtype="float64")


# ---------------------------------------------------------------------------- helpers


class AggParams(BaseModel):
    """Common parameters: minimum number or share of available children per unit."""

    model_config = ConfigDict(extra="forbid")
    min_children: int | None = Field(None, ge=1)
    min_share: float | None = Field(None, gt=0, le=1)


def _label(code: str | None) -> str:
    return f" of '{code}'" if code else ""


def prepare_means(values: Any, weights: Any, code: str | None, what: str,
          min_children: int | None, min_share: float | None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated ``(V, w, avail, ok)``: values, weights/sum, availability mask, rows to compute
    (shared by every mean here and by the engine's matrix kernels)."""
    v = np.asarray(values, dtype="float64")
    if v.ndim != 2:
        raise HumsecError(f"{what}{_label(code)}: values must be a 2-D array (units x children)")
    w = np.asarray(weights, dtype="float64").reshape(-1)
    if w.size != v.shape[1]:
        raise HumsecError(f"{what}{_label(code)}: {w.size} weights for {v.shape[1]} children")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise HumsecError(f"{what}{_label(code)}: weights must be finite, >= 0 and not all 0 (got {w.tolist()})")
    if np.isinf(v).any():
        raise HumsecError(f"{what}{_label(code)}: values must be finite (found +-inf)")
    w = w / w.sum()
    avail = ~np.isnan(v)
    n_av = avail.sum(axis=1)
    ok = n_av > 0
    if min_children is not None:
        ok &= n_av >= min_children
    if min_share is not None and v.shape[1]:
        ok &= n_av / v.shape[1] >= min_share - 1e-12
    return v, w, avail, ok


def _row_weights(w: np.ndarray, avail: np.ndarray) -> np.ndarray:
    """Per-row weights re-normalised over available children (NaN where none has weight)."""
    W = np.where(avail, w[None, :], 0.0)
    tot = W.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return W / tot


def _positive(v: np.ndarray, what: str, code: str | None, columns: Sequence[str] | None,
              units: Sequence[Any] | None, strict: bool = True) -> None:
    bad = (v <= 0) if strict else (v < 0)
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    ulab = [units[i] for i in np.unique(rows)] if units is not None else [f"row {i}" for i in np.unique(rows)]
    clab = [columns[j] for j in np.unique(cols)] if columns is not None else [f"column {j}" for j in np.unique(cols)]
    rel = "<= 0" if strict else "< 0"
    raise HumsecError(
        f"{what}{_label(code)} needs values {'> 0' if strict else '>= 0'}: {int(bad.sum())} value(s) {rel} "
        f"in {sample(clab)} (units {sample(ulab)}); normalise onto a positive range first, "
        "e.g. minmax with lo: 1, hi: 100")


# ---------------------------------------------------------------------------- means


@AGGREGATE.register("arithmetic", AggParams)
def arithmetic(values: np.ndarray, weights: np.ndarray, *, min_children: int | None = None,
               min_share: float | None = None, columns: Sequence[str] | None = None,
               code: str | None = None) -> np.ndarray:
    """Weighted arithmetic mean ``sum(w_i x_i) / sum(w_i)`` over available children
    (COINr ``a_amean``) [OECD08]_."""
    v, w, avail, ok = prepare_means(values, weights, code, "arithmetic mean", min_children, min_share)
    return weighted_means(v, w, avail, ok, "arithmetic")


def weighted_means(v: np.ndarray, w: np.ndarray, avail: np.ndarray, ok: np.ndarray, method: str) -> np.ndarray:
    """The arithmetic / geometric / harmonic mean of every row of ``v`` over its available
    children: the arithmetic of the three kernels, shared with the matrix engine
    (:mod:`humsec.index.engine`) so both give the same bits (ties between units stay ties).

    Parameters
    ----------
    v : numpy.ndarray (n_units, k)
        Values (C order; > 0 where available for the geometric and harmonic means).
    w : numpy.ndarray (k,)
        Weights summing to 1.
    avail, ok : numpy.ndarray
        Available cells (n_units, k); rows to compute (n_units,), the others get NaN.
    method : {"arithmetic", "geometric", "harmonic"}
    """
    if avail.all() and v.shape[1] and ok.all():
        return complete_means(v, w, method)
    W = _row_weights(w, avail)
    if method == "arithmetic":
        out = np.nansum(np.where(avail, v, 0.0) * W, axis=1)
    elif method == "geometric":
        out = np.exp(np.sum(np.log(np.where(avail, v, 1.0)) * np.nan_to_num(W), axis=1))
    elif method == "harmonic":
        with np.errstate(divide="ignore"):  # rows whose children all weigh 0 -> NaN below
            out = 1.0 / np.sum(np.nan_to_num(W) / np.where(avail, v, 1.0), axis=1)
    else:
        raise ValueError(f"no weighted mean '{method}'")
    out[~ok | ~np.isfinite(W.sum(axis=1))] = np.nan
    return out


def complete_means(v: np.ndarray, w: np.ndarray, method: str) -> np.ndarray:
    """:func:`weighted_means` of rows whose children are all available: each row's weights
    are ``w / sum(w)``, the same bits as the general path's per-row re-normalisation
    (tested), without its matrices (also the matrix engine's path for complete data).

    Parameters
    ----------
    v : numpy.ndarray (n_units, k)
        Values without missing cells (C order; > 0 for the geometric and harmonic means).
    w : numpy.ndarray (k,)
        Weights summing to 1.
    method : {"arithmetic", "geometric", "harmonic"}
    """
    total = float(np.add.reduce(w))  # w.sum(), without the method's wrapper (this runs per aggregate)
    if total != 0 and math.isfinite(total):
        wr = w / total
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            wr = w / total
    if method == "arithmetic":
        out = np.add.reduce(v * wr, axis=1)  # np.sum's own reduction
    elif method == "geometric":
        out = np.exp(np.sum(np.log(v) * np.nan_to_num(wr), axis=1))
    elif method == "harmonic":
        with np.errstate(divide="ignore"):
            out = 1.0 / np.sum(np.nan_to_num(wr) / v, axis=1)
    else:
        raise ValueError(f"no weighted mean '{method}'")
    if not math.isfinite(float(np.add.reduce(wr))):
        out[:] = np.nan
    return out


def pairwise_sum(terms: list[np.ndarray]) -> np.ndarray:
    """``np.sum(np.column_stack(terms), axis=1)`` summed column by column in numpy's own
    order (its pairwise summation of a contiguous row: runs of 8 partial sums, blocks of
    128 split in halves), so the same bits (tested), without a units x k matrix.

    The arrays of ``terms`` are overwritten (pass temporaries).

    References
    ----------
    .. [1] Higham N. J. (1993). The accuracy of floating point summation. SIAM Journal
       on Scientific Computing 14(4), 783-799 (pairwise summation).
    """
    n = len(terms)
    if n < 8:
        res = terms[0]
        for t in terms[1:]:
            res += t
        return res
    if n <= 128:
        r = list(terms[:8])
        m = n - n % 8
        for i in range(8, m, 8):
            for j in range(8):
                r[j] += terms[i + j]
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for t in terms[m:]:
            res += t
        return res
    half = n // 2
    half -= half % 8
    return pairwise_sum(terms[:half]) + pairwise_sum(terms[half:])


def complete_means_columns(cols: list[np.ndarray], w: np.ndarray, method: str) -> np.ndarray:
    """:func:`complete_means` of the units x k matrix whose columns are ``cols`` (each a
    contiguous vector: the columns of a column-major matrix), the same bits, column by
    column (no row-major copy of the children of every aggregate of a large build)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        wr = w / w.sum()
    if method == "arithmetic":
        out = pairwise_sum([c * wr[j] for j, c in enumerate(cols)])
    elif method == "geometric":
        wz = np.nan_to_num(wr)
        out = np.exp(pairwise_sum([np.log(c) * wz[j] for j, c in enumerate(cols)]))
    elif method == "harmonic":
        wz = np.nan_to_num(wr)
        with np.errstate(divide="ignore"):
            out = 1.0 / pairwise_sum([wz[j] / c for j, c in enumerate(cols)])
    else:
        raise ValueError(f"no weighted mean '{method}'")
    if not np.isfinite(wr.sum()):
        out[:] = np.nan
    return out


class GeometricParams(AggParams):
    """``floor``: values below it are raised to it before the logarithm (so that a score
    of 0 on a bounded 0-100 scale does not set the mean to 0); None = values must be > 0."""

    floor: float | None = Field(None, gt=0)


@AGGREGATE.register("geometric", GeometricParams)
def geometric(values: np.ndarray, weights: np.ndarray, *, min_children: int | None = None,
              min_share: float | None = None, floor: float | None = None,
              columns: Sequence[str] | None = None,
              code: str | None = None, units: Sequence[Any] | None = None) -> np.ndarray:
    """Weighted geometric mean ``exp(sum(w_i ln x_i) / sum(w_i))`` (COINr ``a_gmean``).

    With ``floor`` every value is first raised to at least ``floor``: the UNDP's GII
    replaces zero components by a small positive value for the same reason [HDR23TN]_.
    The geometric mean is only partly compensatory - a very low child value pulls the
    mean down more than an arithmetic mean lets it - which is why the HDI uses it since
    2010 [HDR10]_.

    Raises
    ------
    HumsecError
        Any available value <= 0 (without ``floor``), naming the children and units.

    References
    ----------
    .. [HDR10] UNDP (2010). *Human Development Report 2010*, Technical note 1.
    .. [HDR23TN] UNDP (2024). *Human Development Report 2023/2024*, Technical notes
       (GII: zero values replaced by 0.1).
    """
    v, w, avail, ok = prepare_means(values, weights, code, "geometric mean", min_children, min_share)
    if floor is not None:
        v = np.where(avail, np.maximum(v, floor), v)
    _positive(np.where(avail, v, 1.0), "geometric mean", code, columns, units)
    return weighted_means(v, w, avail, ok, "geometric")


@AGGREGATE.register("harmonic", AggParams)
def harmonic(values: np.ndarray, weights: np.ndarray, *, min_children: int | None = None,
             min_share: float | None = None, columns: Sequence[str] | None = None,
             code: str | None = None, units: Sequence[Any] | None = None) -> np.ndarray:
    """Weighted harmonic mean ``sum(w_i) / sum(w_i / x_i)`` (COINr ``a_hmean``).

    Raises
    ------
    HumsecError
        Any available value <= 0 (COINr rejects zeros; negative values make the mean
        meaningless, so they are rejected too).
    """
    v, w, avail, ok = prepare_means(values, weights, code, "harmonic mean", min_children, min_share)
    _positive(np.where(avail, v, 1.0), "harmonic mean", code, columns, units)
    return weighted_means(v, w, avail, ok, "harmonic")


class GeneralisedParams(AggParams):
    """Power ``p`` of the generalised (power) mean; p = 1 arithmetic, 0 geometric,
    -1 harmonic."""

    p: float = 1.0


@AGGREGATE.register("generalised", GeneralisedParams)
def generalised(values: np.ndarray, weights: np.ndarray, *, p: float = 1.0,
                min_children: int | None = None, min_share: float | None = None,
                columns: Sequence[str] | None = None, code: str | None = None,
                units: Sequence[Any] | None = None) -> np.ndarray:
    """Weighted power mean ``(sum(w_i x_i^p) / sum(w_i))^(1/p)`` (COINr ``a_genmean``);
    ``p = 0`` is the geometric mean (its limit; COINr stops instead).

    Raises
    ------
    HumsecError
        Values <= 0 with ``p <= 0``, or negative values with ``p > 0`` (powers of
        negative numbers are undefined or break monotonicity).
    """
    if p == 0:
        return geometric(values, weights, min_children=min_children, min_share=min_share,
                         columns=columns, code=code, units=units)
    v, w, avail, ok = prepare_means(values, weights, code, "generalised mean", min_children, min_share)
    _positive(np.where(avail, v, 1.0), f"generalised mean (p={p:g})", code, columns, units, strict=p < 0)
    W = _row_weights(w, avail)
    with np.errstate(divide="ignore"):
        m = np.sum(np.nan_to_num(W) * np.where(avail, v, 1.0) ** p, axis=1)
        out = m ** (1.0 / p)
    out[~ok | ~np.isfinite(W.sum(axis=1))] = np.nan
    return out


# ---------------------------------------------------------------------------- MPI


class MPIParams(AggParams):
    """``penalty``: -1 for a positive phenomenon (higher = better; MPI-), +1 for a negative
    one (MPI+). ``standardise``: first rescale every child to ``100 + 10 z``."""

    penalty: Literal[-1, 1] = -1
    standardise: bool = False


@AGGREGATE.register("mazziotta_pareto", MPIParams)
def mazziotta_pareto(values: np.ndarray, weights: np.ndarray, *, penalty: int = -1,
                     standardise: bool = False, min_children: int | None = None,
                     min_share: float | None = None, columns: Sequence[str] | None = None,
                     code: str | None = None, units: Sequence[Any] | None = None) -> np.ndarray:
    """Mazziotta-Pareto Index [MP16]_: ``MPI = M + penalty * S * cv``, ``cv = S / M``.

    For each unit, ``M`` is the (weighted) mean of its children's standardised values,
    ``S`` their (weighted, population) standard deviation ``sqrt(sum w_i (z_i - M)^2)``
    and ``cv = S / M``; with equal weights this is exactly the MPI of [MP16]_. The
    inputs must be standardised as ``z = 100 + 10 (x - mean) / sd`` — pass
    ``standardise: true`` to do it here (sample sd over units, per child), or normalise
    with ``zscore`` (``mean: 100, sd: 10``). ``penalty = -1`` penalises unbalanced
    profiles of a positive phenomenon (MPI-); ``+1`` is for negative phenomena (MPI+).

    Raises
    ------
    HumsecError
        A child with zero variance (when standardising) or a unit with mean <= 0.
    """
    v, w, avail, ok = prepare_means(values, weights, code, "Mazziotta-Pareto index", min_children, min_share)
    if standardise:
        mu = np.nanmean(v, axis=0)
        sd = np.nanstd(v, axis=0, ddof=1)
        if not (np.isfinite(sd) & (sd > 0)).all():
            bad = [(columns[j] if columns else f"column {j}") for j in np.flatnonzero(~(np.isfinite(sd) & (sd > 0))).tolist()]
            raise HumsecError(f"Mazziotta-Pareto index{_label(code)}: cannot standardise {sample(bad)} "
                              "(fewer than two values or zero variance)")
        v = 100.0 + 10.0 * (v - mu) / sd
    Wr = _row_weights(w, avail)
    ok &= np.isfinite(Wr.sum(axis=1))  # available children all weighted 0: no value
    W = np.nan_to_num(Wr)
    z = np.where(avail, v, 0.0)
    M = np.sum(W * z, axis=1)
    S = np.sqrt(np.sum(W * (z - M[:, None]) ** 2 * avail, axis=1))
    bad = ok & (M <= 0)
    if bad.any():
        rows = np.flatnonzero(bad).tolist()
        which = [units[i] for i in rows] if units is not None else [f"row {i}" for i in rows]
        raise HumsecError(f"Mazziotta-Pareto index{_label(code)}: the mean of a unit's children is <= 0 "
                          f"(units {sample(which)}); standardise as 100 + 10 z first")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = M + penalty * S * (S / M)
    out[~ok] = np.nan
    return out


# ---------------------------------------------------------------------------- Copeland


@AGGREGATE.register("copeland", AggParams)
def copeland(values: np.ndarray, weights: np.ndarray, *, min_children: int | None = None,
             min_share: float | None = None, columns: Sequence[str] | None = None,
             code: str | None = None) -> np.ndarray:
    """Copeland outranking scores: wins minus losses in weighted pairwise majorities.

    COINr's ``outrankMatrix``/``a_copeland``: for units ``i < j``,
    ``o_ij = sum(w[x_i > x_j]) + sum(w[x_i == x_j]) / 2`` (children missing for either
    unit contribute nothing), ``o_ji = 1 - o_ij``; entries > 0.5 count +1, < 0.5 count -1,
    = 0.5 count 0 (within ``TIE_TOL``, so float noise in the weight sums cannot break an exact
    tie), and the score is the row sum [OECD08]_. Units without any child (or
    failing ``min_children``/``min_share``) are left out of the comparisons and get NaN.
    Computed with numpy broadcasting in blocks of rows (memory about
    ``COPELAND_BLOCK_CELLS`` booleans per block), so any number of units works.
    """
    v, w, avail, ok = prepare_means(values, weights, code, "Copeland aggregation", min_children, min_share)
    idx = np.flatnonzero(ok)
    x = v[idx]
    n, k = x.shape
    scores = np.zeros(n)
    block = max(1, COPELAND_BLOCK_CELLS // max(1, n * max(k, 1)))
    pos = np.arange(n)
    for start in range(0, n, block):
        stop = min(n, start + block)
        a = x[start:stop, None, :]
        b = x[None, :, :]
        gt = (a > b) @ w
        lt = (a < b) @ w
        eq = (a == b) @ w
        i = pos[start:stop, None]
        j = pos[None, :]
        o = np.where(i < j, gt + eq / 2.0, 1.0 - (lt + eq / 2.0))
        s = np.where(o > 0.5 + TIE_TOL, 1.0, np.where(o < 0.5 - TIE_TOL, -1.0, 0.0))
        s[i == j] = 0.0
        scores[start:stop] = s.sum(axis=1)
    out = np.full(v.shape[0], np.nan)
    out[idx] = scores
    return out
