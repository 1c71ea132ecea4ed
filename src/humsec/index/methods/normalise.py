"""Normalisation kernels (COINr's ``Normalise`` / ``n_*`` functions, HDR goalposts, SDR).

Every kernel has the signature

``fn(x: numpy.ndarray | pandas.Series, *, direction: int = 1, code: str | None = None,
[target: float | None = None,] **params) -> same type as x``

As in COINr's ``Normalise.numeric``, values are first multiplied by ``direction`` (1 or
-1), so that higher always means better afterwards; the normaliser is then applied to the
signed values. ``code`` (the indicator code) and ``target`` (the indicator's target from the
spec) are passed by the pipeline and are not parameters of the spec. Missing values (NaN)
stay missing; statistics (min, max, mean, sd, quantiles, ranks) use the non-missing values.

References
----------
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 5
   (normalisation), Table 3. https://doi.org/10.1787/9789264043466-en
.. [COINr] Becker, W. et al. (2022). COINr, *JOSS* 7(78), 4567; COINr 1.1 ``R/normalise.R``
   (``n_minmax``, ``n_zscore``, ``n_rank``, ``n_prank``, ``n_borda``, ``n_fracmax``,
   ``n_goalposts``, ``n_dist2targ``).
.. [HDR2324] UNDP (2024). *Human Development Report 2023/2024: Technical Notes*, note 1
   (dimension indices from goalposts).
.. [SDR] Sachs, J. D., Lafortune, G., Fuller, G., Drumm, E. (2023). *Sustainable
   Development Report 2023*, Methodology: rescaling 0-100 between the 2.5th percentile
   (lower bound) and the optimum (upper bound), values outside censored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from humsec.errors import HumsecError
from humsec.index.methods._common import as_float_array, like, where
from humsec.index.registry import Registry

__all__ = ["NORMALISE"]

NORMALISE = Registry("normalise")


def _signed(x: Any, direction: int, code: str | None, what: str) -> np.ndarray:
    if direction not in (1, -1):
        raise HumsecError(f"{what}{where(code)}: direction must be 1 or -1, got {direction!r}")
    arr = as_float_array(x, what, code)
    return arr * direction


def _observed(arr: np.ndarray, code: str | None, what: str, need: int = 1) -> np.ndarray:
    obs = arr[~np.isnan(arr)]
    if obs.size < need:
        raise HumsecError(f"{what}{where(code)} needs at least {need} non-missing value(s), got {obs.size}")
    return obs


def _rank_min(arr: np.ndarray) -> np.ndarray:
    """R ``rank(x, ties.method = "min", na.last = "keep")``."""
    return pd.Series(arr).rank(method="min", na_option="keep").to_numpy(dtype="float64")


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------- min-max


class MinMaxParams(_Base):
    """``lo``/``hi``: the interval the observed range is mapped onto (default 0-100)."""

    lo: float = 0.0
    hi: float = 100.0

    @model_validator(mode="after")
    def _order(self):
        if not self.hi > self.lo:
            raise ValueError(f"hi ({self.hi}) must be greater than lo ({self.lo})")
        return self


@NORMALISE.register("minmax", MinMaxParams)
def minmax(x: Any, *, direction: int = 1, lo: float = 0.0, hi: float = 100.0,
           code: str | None = None) -> Any:
    """Min-max: ``(x - min) / (max - min) * (hi - lo) + lo`` (COINr ``n_minmax``).

    Raises
    ------
    HumsecError
        A constant (or entirely missing) indicator: COINr returns NaN with a warning; here
        it is an error naming the indicator.
    """
    arr = _signed(x, direction, code, "min-max normalisation")
    obs = _observed(arr, code, "min-max normalisation")
    mn, mx = obs.min(), obs.max()
    if mn == mx:
        raise HumsecError(f"min-max normalisation{where(code)}: all values are equal ({mn * direction:g}); "
                          "the range is 0 (exclude the indicator or use another method)")
    return like(x, (arr - mn) / (mx - mn) * (hi - lo) + lo)


# ---------------------------------------------------------------------------- goalposts


class GoalpostParams(_Base):
    """Goalposts ``lo < hi`` (in the indicator's raw units), output scale, log, capping."""

    lo: float | None = None
    hi: float | None = None
    scale: float = Field(1.0, gt=0)
    log: bool = False
    cap: bool = True
    floor: bool = False

    @model_validator(mode="after")
    def _order(self):
        if self.lo is not None and self.hi is not None and not self.hi > self.lo:
            raise ValueError(f"goalposts need lo < hi (got lo={self.lo}, hi={self.hi})")
        if self.log and self.lo is not None and self.lo <= 0:
            raise ValueError(f"log goalposts must be positive (got lo={self.lo})")
        return self


@NORMALISE.register("goalposts", GoalpostParams)
def goalposts(x: Any, *, direction: int = 1, lo: float | None = None, hi: float | None = None,
              scale: float = 1.0, log: bool = False, cap: bool = True, floor: bool = False,
              code: str | None = None) -> Any:
    """Goalposts: ``(x - lo) / (hi - lo) * scale``; ``(hi - x) / (hi - lo)`` for direction -1.

    The HDR dimension index [HDR2324]_ (``log=True`` uses ``ln x``, ``ln lo``, ``ln hi``,
    as for GNI per capita) and COINr's ``n_goalposts`` (whose goalposts are flipped for
    direction -1 the same way). ``cap`` limits the index at 1 (values beyond the "best"
    goalpost); ``floor`` at 0. The HDR caps only, so that a value below the minimum gives a
    negative index (no published HDI); COINr's ``trunc2posts`` is ``cap`` and ``floor``.

    Raises
    ------
    HumsecError
        Goalposts not given (spec ``goalposts`` or params ``lo``/``hi``), or a value <= 0
        under ``log``.
    """
    if lo is None or hi is None:
        raise HumsecError(f"goalpost normalisation{where(code)} needs goalposts: set the node's "
                          "'goalposts: [lo, hi]' or params lo and hi")
    if direction not in (1, -1):
        raise HumsecError(f"goalpost normalisation{where(code)}: direction must be 1 or -1")
    arr = as_float_array(x, "goalpost normalisation", code)
    if log:
        bad = ~np.isnan(arr) & (arr <= 0)
        if bad.any():
            raise HumsecError(f"goalpost normalisation{where(code)} with log: {int(bad.sum())} "
                              "value(s) <= 0; the log needs positive values")
        a, l, h = np.log(np.where(bad, np.nan, arr)), np.log(lo), np.log(hi)
    else:
        a, l, h = arr, lo, hi
    y = (a - l) / (h - l) if direction == 1 else (h - a) / (h - l)
    if cap:
        y = np.where(y > 1.0, 1.0, y)
    if floor:
        y = np.where(y < 0.0, 0.0, y)
    return like(x, y * scale)


# ---------------------------------------------------------------------------- z-score


class ZScoreParams(_Base):
    """Target mean and standard deviation (COINr ``m_sd = c(mean, sd)``)."""

    mean: float = 0.0
    sd: float = Field(1.0, gt=0)


@NORMALISE.register("zscore", ZScoreParams)
def zscore(x: Any, *, direction: int = 1, mean: float = 0.0, sd: float = 1.0,
           code: str | None = None) -> Any:
    """Z-score: ``(x - mean(x)) / sd(x) * sd + mean`` with the sample sd (n-1), as R's
    ``sd`` in COINr ``n_zscore``.

    Raises
    ------
    HumsecError
        Fewer than two values or zero standard deviation.
    """
    arr = _signed(x, direction, code, "z-score normalisation")
    obs = _observed(arr, code, "z-score normalisation", 2)
    s = obs.std(ddof=1)
    if s == 0:
        raise HumsecError(f"z-score normalisation{where(code)}: standard deviation is 0 (all values equal)")
    return like(x, (arr - obs.mean()) / s * sd + mean)


# ---------------------------------------------------------------------------- ranks


@NORMALISE.register("rank", None)
def rank(x: Any, *, direction: int = 1, code: str | None = None) -> Any:
    """Ranks, higher value = higher rank, ties take the minimum (COINr ``n_rank``:
    ``rank(x, ties.method = "min")``); 1 = lowest."""
    arr = _signed(x, direction, code, "rank normalisation")
    return like(x, _rank_min(arr))


@NORMALISE.register("borda", None)
def borda(x: Any, *, direction: int = 1, code: str | None = None) -> Any:
    """Borda scores ``rank(x, ties = "min") - 1`` (COINr ``n_borda``)."""
    arr = _signed(x, direction, code, "Borda normalisation")
    return like(x, _rank_min(arr) - 1.0)


def _prank(x: Any, direction: int, code: str | None, what: str) -> np.ndarray:
    arr = _signed(x, direction, code, what)
    if np.isnan(arr).all():  # no unit has a value: nothing to rank, missing for all (as goalposts give)
        return arr.copy()
    obs = _observed(arr, code, what, 2)
    return (_rank_min(arr) - 1.0) / (obs.size - 1)


@NORMALISE.register("prank", None)
def prank(x: Any, *, direction: int = 1, code: str | None = None) -> Any:
    """Percentile ranks in [0, 1]: ``(rank_min(x) - 1) / (n - 1)`` (COINr ``n_prank``).
    An indicator that no unit has stays missing for all (an uncertainty run that swaps in
    percentile ranks in a year without, say, social-protection data must not fail).

    Raises
    ------
    HumsecError
        Exactly one non-missing value (a rank among one is undefined).
    """
    return like(x, _prank(x, direction, code, "percentile-rank normalisation"))


@NORMALISE.register("percentile", None)
def percentile(x: Any, *, direction: int = 1, code: str | None = None) -> Any:
    """Percentile ranks in [0, 100]: ``100 * (rank_min(x) - 1) / (n - 1)`` (COINr
    ``n_prank`` times 100)."""
    return like(x, 100.0 * _prank(x, direction, code, "percentile normalisation"))


@NORMALISE.register("fracmax", None)
def fracmax(x: Any, *, direction: int = 1, code: str | None = None) -> Any:
    """Fraction of the maximum ``x / max(x)`` (COINr ``n_fracmax``).

    Raises
    ------
    HumsecError
        If the maximum (after applying the direction) is not positive — the ratio would
        reverse or be undefined (use a direction of 1 with positive data).
    """
    arr = _signed(x, direction, code, "fraction-of-max normalisation")
    mx = _observed(arr, code, "fraction-of-max normalisation").max()
    if mx <= 0:
        raise HumsecError(f"fraction-of-max normalisation{where(code)}: the maximum (after direction "
                          f"{direction}) is {mx:g}; expected > 0")
    return like(x, arr / mx)


# ---------------------------------------------------------------------------- distance to target


class Dist2TargParams(_Base):
    """``cap_max``: scores above 1 (beyond the target) set to 1; ``scale``: 1 or 100."""

    cap_max: bool = False
    scale: float = Field(1.0, gt=0)


@NORMALISE.register("distance_to_target", Dist2TargParams)
def distance_to_target(x: Any, *, direction: int = 1, target: float | None = None,
                       cap_max: bool = False, scale: float = 1.0, code: str | None = None) -> Any:
    """Distance to target: ``(1 - (t - x) / (t - min(x))) * scale`` (COINr ``n_dist2targ``).

    ``x`` and the target ``t`` (raw units, from the indicator's ``target``) are both
    multiplied by ``direction`` first, so for direction -1 this is
    ``(max(x) - x) / (max(x) - t)``. The worst value scores 0 and the target 1.

    Raises
    ------
    HumsecError
        No target, or a target equal to the worst observed value.
    """
    if target is None or not np.isfinite(target):
        raise HumsecError(f"distance-to-target normalisation{where(code)} needs a target "
                          "(set the indicator's 'target')")
    arr = _signed(x, direction, code, "distance-to-target normalisation")
    t = float(target) * direction
    mn = _observed(arr, code, "distance-to-target normalisation").min()
    if t == mn:
        raise HumsecError(f"distance-to-target normalisation{where(code)}: the target {target:g} equals "
                          "the worst observed value; scores are undefined")
    y = 1.0 - (t - arr) / (t - mn)
    if cap_max:
        y = np.where(y > 1.0, 1.0, y)
    return like(x, y * scale)


# ---------------------------------------------------------------------------- SDR


class SdrParams(_Base):
    """SDR bounds: lower = ``lower_percentile`` of observed values (or fixed ``lower``),
    upper = ``upper`` or else the indicator's target (both in raw units)."""

    lower_percentile: float = Field(2.5, ge=0, lt=50)
    lower: float | None = None
    upper: float | None = None


@NORMALISE.register("sdr", SdrParams)
def sdr(x: Any, *, direction: int = 1, target: float | None = None, lower_percentile: float = 2.5,
        lower: float | None = None, upper: float | None = None, code: str | None = None) -> Any:
    """SDSN Sustainable Development Report rescaling to 0-100 [SDR]_.

    ``100 * (x - lb) / (ub - lb)`` censored to [0, 100], computed on direction-signed
    values. The upper bound ``ub`` is the optimum (``upper`` or the indicator's ``target``);
    the lower bound ``lb`` is ``lower`` if given, else the ``lower_percentile`` (default
    2.5) of the observed values *on the worst side* (for direction -1 the 97.5th
    percentile of the raw values), with linear interpolation (Excel ``PERCENTILE.INC``).

    Raises
    ------
    HumsecError
        No upper bound, or bounds that do not satisfy worst < best.
    """
    ub_raw = upper if upper is not None else target
    if ub_raw is None or not np.isfinite(ub_raw):
        raise HumsecError(f"SDR normalisation{where(code)} needs an upper bound: set the indicator's "
                          "'target' or params.upper")
    arr = _signed(x, direction, code, "SDR normalisation")
    ub = float(ub_raw) * direction
    if lower is not None:
        lb = float(lower) * direction
    else:
        lb = float(np.percentile(_observed(arr, code, "SDR normalisation"), lower_percentile))
    if not ub > lb:
        raise HumsecError(f"SDR normalisation{where(code)}: the optimum {ub_raw:g} is not better than "
                          f"the lower bound {lb * direction:g} for direction {direction}")
    y = 100.0 * (arr - lb) / (ub - lb)
    return like(x, np.clip(y, 0.0, 100.0))


# ---------------------------------------------------------------------------- none


@NORMALISE.register("none", None)
def none(x: Any, *, direction: int = 1, code: str | None = None) -> Any:
    """No normalisation except the direction: ``x * direction`` (COINr ``f_n = "none"``)."""
    return like(x, _signed(x, direction, code, "normalisation"))

