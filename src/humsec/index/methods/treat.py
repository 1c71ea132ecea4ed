"""Outlier treatment kernels (COINr's ``Treat``) and the type-2 skewness/kurtosis helpers.

Every kernel takes one indicator column and returns a :class:`TreatResult`:

``fn(x: pandas.Series, *, code: str | None = None, **params) -> TreatResult``

Methods
-------
``coinr``
    COINr's default ``Treat()`` exactly: ``f_pass = check_SkewKurt`` (pass unless
    ``|skew| >= 2`` and ``kurt >= 3.5``), ``f1 = winsorise`` (iterative, ``winmax = 5``) and,
    if Winsorisation does not make the column pass, ``f2 = log_CT`` applied to the
    *original* column.
``winsorise``
    Plain Winsorisation: clip at given quantiles, or COINr's iterative rule without the
    log fall-back.
``log``, ``log_ct``, ``boxcox``
    Transformations applied unconditionally.
``none``
    Values unchanged (statistics still reported).

References
----------
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators: Methodology
   and User Guide*, Step 3 (outliers) and section 1.5. https://doi.org/10.1787/9789264043466-en
.. [COINr] Becker, W. et al. (2022). COINr: An R package for developing composite
   indicators. *JOSS* 7(78), 4567; COINr 1.1 ``R/treat.R`` (``Treat.numeric``,
   ``winsorise``, ``log_CT``, ``check_SkewKurt``, ``skew``, ``kurt``).
.. [JN98] Joanes, D. N., Gill, C. A. (1998). Comparing measures of sample skewness and
   kurtosis. *The Statistician* 47(1), 183-189 (type-2 estimators, as Excel's SKEW/KURT
   and ``e1071::skewness(type = 2)``).
.. [BC64] Box, G. E. P., Cox, D. R. (1964). An analysis of transformations. *Journal of
   the Royal Statistical Society B* 26(2), 211-252.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from humsec.errors import HumsecError
from humsec.index.methods._common import as_float_array, sample, where
from humsec.index.registry import Registry

__all__ = ["TREAT", "TreatResult", "check_skew_kurt", "kurt", "log_ct", "skew", "winsorise_coinr"]

TREAT = Registry("treat")


# ---------------------------------------------------------------------------- statistics


def _prepare(x: Any, na_rm: bool, need: int, what: str) -> np.ndarray | None:
    arr = np.asarray(x, dtype="float64").reshape(-1)
    nan = np.isnan(arr)
    if nan.any():
        if not na_rm:
            return None
        arr = arr[~nan]
    if arr.size < need:
        raise HumsecError(f"{what} needs at least {need} non-missing values, got {arr.size}")
    return arr


def skew(x: Any, na_rm: bool = True) -> float:
    """Sample skewness, type 2 (Excel ``SKEW``; COINr ``skew``; ``e1071`` type 2).

    ``G1 = sqrt(n) * sum(d^3) / sum(d^2)^(3/2) * sqrt(n(n-1)) / (n-2)`` with
    ``d = x - mean(x)`` [JN98]_.

    Parameters
    ----------
    x : array-like
        Values; NaN = missing.
    na_rm : bool, default True
        Drop missing values; if False and any value is missing, return NaN (COINr's
        ``na.rm = FALSE`` returns ``NA``).

    Returns
    -------
    float
        NaN for a constant vector (0/0, as in R).

    Raises
    ------
    HumsecError
        Fewer than 3 non-missing values (COINr stops likewise).
    """
    arr = _prepare(x, na_rm, 3, "skewness")
    if arr is None:
        return float("nan")
    n = arr.size
    d = arr - arr.mean()
    d2 = d * d  # products, not float powers: several times faster on large vectors
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.sqrt(n) * np.dot(d2, d) / np.sum(d2) ** 1.5
        return float(y * np.sqrt(n * (n - 1)) / (n - 2))


def kurt(x: Any, na_rm: bool = True) -> float:
    """Sample excess kurtosis, type 2 (Excel ``KURT``; COINr ``kurt``; ``e1071`` type 2).

    ``G2 = ((n+1)(r-3) + 6)(n-1) / ((n-2)(n-3))`` with ``r = n sum(d^4) / sum(d^2)^2``
    [JN98]_.

    Parameters
    ----------
    x : array-like
    na_rm : bool, default True
        As in :func:`skew`.

    Returns
    -------
    float
        NaN for a constant vector.

    Raises
    ------
    HumsecError
        Fewer than 4 non-missing values.
    """
    arr = _prepare(x, na_rm, 4, "kurtosis")
    if arr is None:
        return float("nan")
    n = arr.size
    d = arr - arr.mean()
    d2 = d * d
    with np.errstate(invalid="ignore", divide="ignore"):
        r = n * np.dot(d2, d2) / np.sum(d2) ** 2
        return float(((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


def check_skew_kurt(x: Any, skew_thresh: float = 2.0, kurt_thresh: float = 3.5) -> tuple[bool | None, float, float]:
    """COINr's ``check_SkewKurt`` (``na.rm = TRUE``): pass if ``|skew| < skew_thresh`` OR
    ``kurt < kurt_thresh``.

    Returns
    -------
    (pass, skew, kurt)
        ``pass`` is None when skewness or kurtosis is undefined (constant vector; COINr's
        ``NA``).
    """
    sk, kt = skew(x), kurt(x)
    if np.isnan(sk) or np.isnan(kt):
        return None, sk, kt
    return bool(abs(sk) < skew_thresh or kt < kurt_thresh), sk, kt


def _stats(x: np.ndarray) -> tuple[float, float]:
    """Skew and kurtosis for reporting (NaN when too few values)."""
    n = int(np.sum(~np.isnan(x)))
    return (skew(x) if n >= 3 else float("nan"), kurt(x) if n >= 4 else float("nan"))


def log_ct(x: Any) -> np.ndarray:
    """COINr's ``log_CT``: ``log(x - min(x) + 0.01 * (max(x) - min(x)))`` (NaN kept).

    The minimum maps to ``log(0.01 * range)``; the order of the values is preserved.
    """
    arr = np.asarray(x, dtype="float64")
    mn, mx = np.nanmin(arr), np.nanmax(arr)
    with np.errstate(divide="ignore"):
        return np.log(arr - mn + 0.01 * (mx - mn))


def winsorise_coinr(x: Any, *, winmax: int | None = 5, skew_thresh: float = 2.0,
                    kurt_thresh: float = 3.5, force_win: bool = False
                    ) -> tuple[np.ndarray, int, np.ndarray, bool]:
    """COINr's ``winsorise()`` (``na.rm = TRUE``), line for line.

    While the vector fails :func:`check_skew_kurt` (or ``force_win``) and fewer than
    ``winmax`` points are Winsorised: if the current skewness is ``>= 0`` every value equal
    to the current maximum is replaced by the largest other value (ties together), else
    every value equal to the minimum by the smallest other value. The count is COINr's
    ``nwin = length(imax) + length(imin)``: the points at the treated extreme(s) in the
    last iteration of each side, which includes all earlier Winsorised points of that side
    (they share the extreme value).

    Returns
    -------
    (values, nwin, positions, ok)
        Winsorised copy, number of Winsorised points, their positions, and False if the
        check became undefined (COINr's ``NA``; the caller then keeps the original).
    """
    x = np.array(x, dtype="float64")
    passing, _, _ = check_skew_kurt(x, skew_thresh, kurt_thresh)
    if passing is None:
        return x, 0, np.array([], dtype=int), False
    nwin = 0
    imax = np.array([], dtype=int)
    imin = np.array([], dtype=int)

    def below() -> bool:
        return True if winmax is None else nwin < winmax

    if not passing or force_win:
        below_winmax = below()
        while (not passing or force_win) and below_winmax:
            if skew(x) >= 0:
                mx = np.nanmax(x)
                imax = np.flatnonzero(x == mx)
                rest = np.delete(x, imax)
                if np.all(np.isnan(rest)):
                    return x, nwin, np.union1d(imax, imin), False
                x[imax] = np.nanmax(rest)
            else:
                mn = np.nanmin(x)
                imin = np.flatnonzero(x == mn)
                rest = np.delete(x, imin)
                if np.all(np.isnan(rest)):
                    return x, nwin, np.union1d(imax, imin), False
                x[imin] = np.nanmin(rest)
            nwin = int(imax.size + imin.size)
            below_winmax = below()
            passing, _, _ = check_skew_kurt(x, skew_thresh, kurt_thresh)
            if passing is None:
                return x, nwin, np.union1d(imax, imin), False
    return x, nwin, np.union1d(imax, imin), True


# ---------------------------------------------------------------------------- result


@dataclass(frozen=True)
class TreatResult:
    """Outcome of treating one indicator.

    Attributes
    ----------
    values : pandas.Series
        Treated values (same index as the input).
    treated : bool
        Whether any value changed.
    method : str
        What was done: ``"none"``, ``"winsorised"``, ``"log_CT"``, ``"log"``,
        ``"boxcox"`` (``"winsorised+log_CT"`` with ``combine_treat``).
    n_winsorised : int
        Points Winsorised in the returned values (0 if the Winsorisation was reverted).
    winsorised_units : tuple
        Index labels of those points.
    skew_before, kurt_before, skew_after, kurt_after : float
        Type-2 skewness/kurtosis of the input and of the returned values (NaN if undefined).
    n_winsorised_tried : int
        Points COINr's Winsorisation touched before it was abandoned for ``log_CT``
        (equals ``n_winsorised`` otherwise).
    """

    values: pd.Series
    treated: bool
    method: str
    n_winsorised: int
    winsorised_units: tuple
    skew_before: float
    kurt_before: float
    skew_after: float
    kurt_after: float
    n_winsorised_tried: int = 0


def _series(x: Any, code: str | None) -> tuple[pd.Series, np.ndarray]:
    s = x if isinstance(x, pd.Series) else pd.Series(np.asarray(x, dtype="float64"))
    arr = as_float_array(s.to_numpy(), "treatment", code)
    return s, arr


def _result(s: pd.Series, orig: np.ndarray, new: np.ndarray, method: str, nwin: int = 0,
            pos: np.ndarray | None = None, tried: int | None = None) -> TreatResult:
    sb, kb = _stats(orig)
    sa, ka = _stats(new)
    changed = not np.array_equal(orig, new, equal_nan=True)
    units = tuple(s.index[pos]) if pos is not None and len(pos) else ()
    return TreatResult(
        values=pd.Series(new, index=s.index, name=s.name), treated=bool(changed),
        method=method if changed else "none", n_winsorised=int(nwin), winsorised_units=units,
        skew_before=sb, kurt_before=kb, skew_after=sa, kurt_after=ka,
        n_winsorised_tried=int(nwin if tried is None else tried))


def _need(arr: np.ndarray, n: int, what: str, code: str | None) -> None:
    have = int(np.sum(~np.isnan(arr)))
    if have < n:
        raise HumsecError(f"{what}{where(code)} needs at least {n} non-missing values "
                          f"(skewness and kurtosis), got {have}")


# ---------------------------------------------------------------------------- kernels


class _Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    winmax: int | None = Field(5, ge=0, description="Maximum number of points to Winsorise (None = no limit).")
    skew_thresh: float = Field(2.0, gt=0, description="Absolute skewness threshold.")
    kurt_thresh: float = Field(3.5, description="Kurtosis threshold (type-2, excess).")
    force_win: bool = Field(False, description="Winsorise up to winmax even once the check passes.")

    @model_validator(mode="after")
    def _force_needs_limit(self):
        if self.force_win and self.winmax is None:
            raise ValueError("force_win needs a finite winmax")
        return self


class CoinrParams(_Thresholds):
    """Parameters of the ``coinr`` treatment (COINr ``Treat`` defaults)."""

    combine_treat: bool = Field(False, description="Apply log_CT to the Winsorised values "
                                "instead of the original ones (COINr combine_treat).")


@TREAT.register("coinr", CoinrParams)
def treat_coinr(x: pd.Series, *, winmax: int | None = 5, skew_thresh: float = 2.0,
                kurt_thresh: float = 3.5, force_win: bool = False, combine_treat: bool = False,
                code: str | None = None) -> TreatResult:
    """COINr's default outlier treatment: skew/kurtosis check, Winsorise, else log_CT.

    Follows ``Treat.numeric`` of COINr 1.1 with ``f1 = "winsorise"``, ``f2 = "log_CT"``,
    ``f_pass = "check_SkewKurt"`` [COINr]_:

    1. If ``|skew| < skew_thresh`` or ``kurt < kurt_thresh`` (type-2 statistics of the
       non-missing values, see :func:`skew`, :func:`kurt`), return ``x`` unchanged.
    2. Else Winsorise iteratively (:func:`winsorise_coinr`): each round replaces all the
       values equal to the maximum (if the current skewness is >= 0) or minimum (else)
       by the next value, until the check passes or the count of Winsorised points
       reaches ``winmax`` (the loop runs while ``nwin < winmax``, so a round may exceed
       ``winmax`` when ties are replaced together).
    3. If the Winsorised vector passes, return it. Otherwise the Winsorisation is
       discarded and ``log_CT`` — ``log(x - min + 0.01 (max - min))`` — is applied to the
       *original* column (to the Winsorised one if ``combine_treat``). The result of the
       second step is returned whether or not it passes.

    If skewness or kurtosis are undefined (all values equal), COINr's check gives ``NA``
    and the column is returned untreated.

    Parameters
    ----------
    x : pandas.Series
        One indicator (NaN = missing, kept).
    winmax, skew_thresh, kurt_thresh, force_win, combine_treat
        As in COINr (defaults 5, 2, 3.5, False, False).
    code : str, optional
        Indicator code, for messages.

    Returns
    -------
    TreatResult

    Raises
    ------
    HumsecError
        Fewer than 4 non-missing values (COINr's ``kurt`` stops), or infinite values.
    """
    return coinr_two_stage(x, "log_CT", log_ct, winmax=winmax, skew_thresh=skew_thresh,
                           kurt_thresh=kurt_thresh, force_win=force_win, combine_treat=combine_treat, code=code)


def coinr_two_stage(x: pd.Series, f2_name: str, f2: Callable[[np.ndarray], np.ndarray] | None, *,
                    winmax: int | None, skew_thresh: float, kurt_thresh: float, force_win: bool,
                    combine_treat: bool, code: str | None) -> TreatResult:
    """COINr's ``Treat`` with the second-stage function ``f2`` (named ``f2_name``) applied
    when Winsorisation fails; ``f2=None`` keeps the Winsorised values even then. Shared by
    the ``coinr`` treatment (``log_CT``) and ``coinr_f2``."""
    s, arr = _series(x, code)
    _need(arr, 4, "COINr treatment", code)
    passing, _, _ = check_skew_kurt(arr, skew_thresh, kurt_thresh)
    if passing is None or passing:
        return _result(s, arr, arr.copy(), "none")
    x1, nwin, pos, ok = winsorise_coinr(arr, winmax=winmax, skew_thresh=skew_thresh,
                                        kurt_thresh=kurt_thresh, force_win=force_win)
    if not ok:
        return _result(s, arr, arr.copy(), "none")
    pass1, _, _ = check_skew_kurt(x1, skew_thresh, kurt_thresh)
    if pass1 is None:
        return _result(s, arr, arr.copy(), "none")
    if pass1 or f2 is None:
        return _result(s, arr, x1, "winsorised", nwin, pos)
    if combine_treat:
        return _result(s, arr, f2(x1), f"winsorised+{f2_name}", nwin, pos)
    return _result(s, arr, f2(arr), f2_name, 0, None, tried=nwin)


class WinsoriseParams(_Thresholds):
    """Parameters of plain Winsorisation.

    With ``lower``/``upper`` (quantiles in [0, 1]) values are clipped at those sample
    quantiles; with neither, COINr's iterative rule is used (no log fall-back).
    """

    lower: float | None = Field(None, ge=0, le=1)
    upper: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _order(self):
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ValueError(f"lower quantile ({self.lower}) must be below upper ({self.upper})")
        return self


@TREAT.register("winsorise", WinsoriseParams)
def treat_winsorise(x: pd.Series, *, lower: float | None = None, upper: float | None = None,
                    winmax: int | None = 5, skew_thresh: float = 2.0, kurt_thresh: float = 3.5,
                    force_win: bool = False, code: str | None = None) -> TreatResult:
    """Winsorise: clip at quantiles, or COINr's iterative rule without log fall-back.

    With ``lower`` and/or ``upper``, values below the ``lower`` sample quantile (linear
    interpolation, numpy's default = R type 7) are raised to it and values above the
    ``upper`` quantile lowered to it [OECD08]_. Without them, :func:`winsorise_coinr` is
    applied and its result kept even if the skew/kurtosis check still fails.

    Parameters
    ----------
    x : pandas.Series
    lower, upper : float, optional
        Quantiles in [0, 1].
    winmax, skew_thresh, kurt_thresh, force_win
        For the iterative rule.
    code : str, optional

    Returns
    -------
    TreatResult
    """
    s, arr = _series(x, code)
    if lower is not None or upper is not None:
        obs = arr[~np.isnan(arr)]
        if obs.size == 0:
            raise HumsecError(f"Winsorisation{where(code)}: no non-missing values")
        lo = np.quantile(obs, lower) if lower is not None else -np.inf
        hi = np.quantile(obs, upper) if upper is not None else np.inf
        new = np.where(np.isnan(arr), np.nan, np.clip(arr, lo, hi))
        pos = np.flatnonzero((arr < lo) | (arr > hi))
        return _result(s, arr, new, "winsorised", pos.size, pos)
    _need(arr, 4, "Winsorisation", code)
    passing, _, _ = check_skew_kurt(arr, skew_thresh, kurt_thresh)
    if (passing is None or passing) and not force_win:
        return _result(s, arr, arr.copy(), "none")
    x1, nwin, pos, ok = winsorise_coinr(arr, winmax=winmax, skew_thresh=skew_thresh,
                                        kurt_thresh=kurt_thresh, force_win=force_win)
    if not ok:
        return _result(s, arr, arr.copy(), "none")
    return _result(s, arr, x1, "winsorised", nwin, pos)


class LogParams(BaseModel):
    """Parameters of the plain log transform."""

    model_config = ConfigDict(extra="forbid")
    shift: float = Field(0.0, description="Added before taking the log: ln(x + shift).")


@TREAT.register("log", LogParams)
def treat_log(x: pd.Series, *, shift: float = 0.0, code: str | None = None) -> TreatResult:
    """Natural log ``ln(x + shift)``; every value must be > 0 after the shift.

    Raises
    ------
    HumsecError
        Naming the units whose shifted value is <= 0.
    """
    s, arr = _series(x, code)
    y = arr + shift
    bad = y <= 0
    if bad.any():
        raise HumsecError(
            f"log transform{where(code)}: {int(bad.sum())} value(s) <= 0 after shift {shift:g} "
            f"(units {sample(list(s.index[bad]))}); set params.shift so that x + shift > 0, "
            "or use log_ct")
    return _result(s, arr, np.log(y), "log")


@TREAT.register("log_ct", None)
def treat_log_ct(x: pd.Series, *, code: str | None = None) -> TreatResult:
    """COINr's ``log_CT`` applied unconditionally: ``log(x - min + 0.01 (max - min))``.

    Raises
    ------
    HumsecError
        A constant column (the transform would give log(0)).
    """
    s, arr = _series(x, code)
    obs = arr[~np.isnan(arr)]
    if obs.size == 0 or obs.min() == obs.max():
        raise HumsecError(f"log_CT{where(code)} needs at least two distinct values")
    return _result(s, arr, log_ct(arr), "log_CT")


class BoxCoxParams(BaseModel):
    """Parameters of the Box-Cox transform."""

    model_config = ConfigDict(extra="forbid")
    lmbda: float | None = Field(None, description="Lambda; None = maximum likelihood (scipy).")
    makepos: bool = Field(False, description="Shift to x - min(x) + 1 first (COINr boxcox makepos).")


@TREAT.register("boxcox", BoxCoxParams)
def treat_boxcox(x: pd.Series, *, lmbda: float | None = None, makepos: bool = False,
                 code: str | None = None) -> TreatResult:
    """Box-Cox transform [BC64]_: ``(x^l - 1) / l`` (``ln x`` for ``l = 0``).

    ``lmbda = None`` estimates lambda by maximum likelihood (:func:`scipy.stats.boxcox`) on
    the non-missing values. Values must be positive (or use ``makepos``).

    Raises
    ------
    HumsecError
        Values <= 0 (naming the units) or too few values to estimate lambda.
    """
    from scipy import stats

    s, arr = _series(x, code)
    obs_mask = ~np.isnan(arr)
    y = arr.copy()
    if makepos:
        y = y - np.nanmin(y) + 1.0
    bad = obs_mask & (y <= 0)
    if bad.any():
        raise HumsecError(f"Box-Cox{where(code)} needs positive values; <= 0 for units "
                          f"{sample(list(s.index[bad]))} (set makepos: true to shift)")
    out = np.full_like(y, np.nan)
    if lmbda is None:
        if obs_mask.sum() < 2 or np.unique(y[obs_mask]).size < 2:
            raise HumsecError(f"Box-Cox{where(code)}: estimating lambda needs at least two distinct values")
        out[obs_mask], _ = stats.boxcox(y[obs_mask])
    else:
        out[obs_mask] = stats.boxcox(y[obs_mask], lmbda=lmbda)
    return _result(s, arr, out, "boxcox")


@TREAT.register("none", None)
def treat_none(x: pd.Series, *, code: str | None = None) -> TreatResult:
    """No treatment (skewness and kurtosis still reported)."""
    s, arr = _series(x, code)
    return _result(s, arr, arr.copy(), "none")
