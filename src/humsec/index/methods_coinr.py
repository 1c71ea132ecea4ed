"""COINr kernels the engine's own method modules do not have, registered into the common
registries (imported by :mod:`humsec.index.extra_methods`).

Treatment (``treat``)
    ``log_CT_plus``, ``log_CT_orig``, ``log_GII`` (unconditional transforms, as COINr's
    functions of those names) and ``coinr_f2``: COINr's ``Treat`` rule (skew/kurtosis check,
    Winsorise, else a second function) with the second function selectable.
Normalisation (``normalise``)
    ``n_scaled``, ``n_dist2ref``, ``n_dist2max``.
Imputation (``impute``, panel)
    ``impute_panel`` with ``imp_type`` ``latest``, ``constant``, ``linear`` or
    ``linear-constant`` (COINr's ``impute_panel``); see :func:`impute_panel_frame` for the
    function on a whole panel (past *and* later years).

References
----------
.. [COINr] Becker, W., Caperna, G., Del Sorbo, M., Norlén, H., Papadimitriou, E.,
   Saisana, M. (2022). COINr: An R package for developing composite indicators. *Journal
   of Open Source Software* 7(78), 4567. https://doi.org/10.21105/joss.04567; COINr 1.1.14
   ``R/treat.R`` (``log_CT_plus``, ``log_CT_orig``, ``log_GII``, ``Treat.numeric``),
   ``R/normalise.R`` (``n_scaled``, ``n_dist2ref``, ``n_dist2max``), ``R/impute.R``
   (``impute_panel``).
.. [GII20] Dutta, S., Lanvin, B., Rivera León, L., Wunsch-Vincent, S. (eds.) (2020).
   *Global Innovation Index 2020*, Appendix IV (the "GII log" transform of skewed
   indicators).
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Steps 2, 3
   and 5. https://doi.org/10.1787/9789264043466-en
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from humsec.errors import HumsecError
from humsec.index.methods import impute as _impute_mod
from humsec.index.methods._common import like, where
from humsec.index.methods.impute import IMPUTE
from humsec.index.methods.normalise import NORMALISE, _observed, _signed
from humsec.index.methods.treat import (
    TREAT,
    coinr_two_stage,
    TreatResult,
    _need,
    _result,
    _series,
    log_ct,
    skew,
)

__all__ = ["IMP_TYPES", "impute_panel_frame", "log_ct_orig", "log_ct_plus", "log_gii"]


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------- transforms


def log_ct_plus(x: Any) -> tuple[np.ndarray, str]:
    """COINr's ``log_CT_plus``: a log transform that follows the sign of the skew.

    With ``a = 0.01 (max - min)``: if the type-2 skewness is > 0, ``log(x - min + a)``
    (COINr's ``log_CT``); else ``-log(max + a - x)``, the mirror image, which reduces a
    negative skew while keeping the order of the values [COINr]_.

    Returns
    -------
    (values, label)
        ``label`` is ``"log_CT"`` or ``"log_CT_neg"`` (COINr's ``treated`` entry).
    """
    arr = np.asarray(x, dtype="float64")
    mx, mn = np.nanmax(arr), np.nanmin(arr)
    a = 0.01 * (mx - mn)
    with np.errstate(divide="ignore"):
        if skew(arr, na_rm=True) > 0:
            return np.log(arr - mn + a), "log_CT"
        return -np.log(mx + a - arr), "log_CT_neg"


def log_ct_orig(x: Any) -> np.ndarray:
    """COINr's ``log_CT_orig``, the original COIN Tool log: ``log(x - min(x) + 1)``."""
    arr = np.asarray(x, dtype="float64")
    return np.log(arr - np.nanmin(arr) + 1.0)


def log_gii(x: Any) -> np.ndarray:
    """The GII log of COINr's ``log_GII`` [GII20]_:
    ``log((max - 1) (x - min) / (max - min) + 1)``.

    It maps the minimum to 0 and the maximum to ``log(max)``; when ``max < 1`` it reverses
    the order of the values (COINr warns against it for that reason). COINr 1.1.14's
    ``log_GII`` computes this but returns its input unchanged (``list(x = x, ...)`` instead
    of ``x1``); humsec returns the documented transform.
    """
    arr = np.asarray(x, dtype="float64")
    mx, mn = np.nanmax(arr), np.nanmin(arr)
    return np.log((mx - 1.0) * (arr - mn) / (mx - mn) + 1.0)


def _distinct(arr: np.ndarray, what: str, code: str | None) -> None:
    obs = arr[~np.isnan(arr)]
    if obs.size < 2 or obs.min() == obs.max():
        raise HumsecError(f"{what}{where(code)} needs at least two distinct values")


if "log_CT_plus" not in TREAT:

    @TREAT.register("log_CT_plus", _NoParams)
    def treat_log_ct_plus(x: pd.Series, *, code: str | None = None) -> TreatResult:
        """COINr's ``log_CT_plus`` applied unconditionally (log_CT, mirrored for negative skew).

        See :func:`log_ct_plus`. The outcome is ``log_CT`` or ``log_CT_neg``.

        Raises
        ------
        HumsecError
            Fewer than 3 values (the skewness decides the branch) or a constant column.
        """
        s, arr = _series(x, code)
        _need(arr, 3, "log_CT_plus", code)
        _distinct(arr, "log_CT_plus", code)
        y, label = log_ct_plus(arr)
        return _result(s, arr, y, label)

    @TREAT.register("log_CT_orig", _NoParams)
    def treat_log_ct_orig(x: pd.Series, *, code: str | None = None) -> TreatResult:
        """COINr's ``log_CT_orig`` applied unconditionally: ``log(x - min + 1)``."""
        s, arr = _series(x, code)
        if np.isnan(arr).all():
            raise HumsecError(f"log_CT_orig{where(code)}: no non-missing values")
        return _result(s, arr, log_ct_orig(arr), "log_CT_orig")

    @TREAT.register("log_GII", _NoParams)
    def treat_log_gii(x: pd.Series, *, code: str | None = None) -> TreatResult:
        """The GII log ``log((max - 1)(x - min)/(max - min) + 1)`` (COINr ``log_GII``).

        Raises
        ------
        HumsecError
            A constant column, or ``max <= 0`` (the argument of the log would reach
            ``<= 0``, COINr gives NaN/-Inf).
        """
        s, arr = _series(x, code)
        _distinct(arr, "log_GII", code)
        if np.nanmax(arr) <= 0:
            raise HumsecError(f"log_GII{where(code)}: the maximum is {np.nanmax(arr):g}; "
                              "the GII log needs max > 0")
        return _result(s, arr, log_gii(arr), "log_GII")


F2 = {"log_CT": log_ct, "log_CT_plus": lambda v: log_ct_plus(v)[0], "log_CT_orig": log_ct_orig,
      "log_GII": log_gii}


class CoinrF2Params(BaseModel):
    """COINr ``Treat`` with ``f2`` selectable (``f1 = winsorise``, ``f_pass = check_SkewKurt``)."""

    model_config = ConfigDict(extra="forbid")
    f2: Literal["log_CT", "log_CT_plus", "log_CT_orig", "log_GII", "none"] = "log_CT"
    winmax: int | None = Field(5, ge=0)
    skew_thresh: float = Field(2.0, gt=0)
    kurt_thresh: float = 3.5
    force_win: bool = False
    combine_treat: bool = False

    @model_validator(mode="after")
    def _force_needs_limit(self):
        if self.force_win and self.winmax is None:
            raise ValueError("force_win needs a finite winmax")
        return self


if "coinr_f2" not in TREAT:

    @TREAT.register("coinr_f2", CoinrF2Params)
    def treat_coinr_f2(x: pd.Series, *, f2: str = "log_CT", winmax: int | None = 5,
                       skew_thresh: float = 2.0, kurt_thresh: float = 3.5, force_win: bool = False,
                       combine_treat: bool = False, code: str | None = None) -> TreatResult:
        """COINr's ``Treat``: check skew/kurtosis, Winsorise, else apply ``f2`` [COINr]_.

        As the ``coinr`` treatment (``f2 = "log_CT"`` gives identical results), with the
        second-stage function one of ``log_CT``, ``log_CT_plus``, ``log_CT_orig``,
        ``log_GII`` or ``none`` (keep the Winsorised values even if they fail). When
        Winsorisation fails, ``n_winsorised_tried`` keeps the number of points it touched.
        """
        return coinr_two_stage(x, f2, None if f2 == "none" else F2[f2], winmax=winmax, skew_thresh=skew_thresh,
                               kurt_thresh=kurt_thresh, force_win=force_win, combine_treat=combine_treat,
                               code=code)


# ---------------------------------------------------------------------------- normalisation


class ScaledParams(BaseModel):
    """``lo``, ``hi``: COINr's ``npara = c(l, u)``; ``(x - lo) / (hi - lo) * 100``."""

    model_config = ConfigDict(extra="forbid")
    lo: float = 0.0
    hi: float = 100.0

    @model_validator(mode="after")
    def _distinct(self):
        if self.hi == self.lo:
            raise ValueError(f"hi ({self.hi}) must differ from lo ({self.lo})")
        return self


if "n_scaled" not in NORMALISE:

    @NORMALISE.register("n_scaled", ScaledParams)
    def n_scaled(x: Any, *, direction: int = 1, lo: float = 0.0, hi: float = 100.0,
                 code: str | None = None) -> Any:
        """Linear scaling ``(x - lo) / (hi - lo) * 100`` (COINr ``n_scaled``, GII 2020).

        Not min-max: ``lo`` and ``hi`` are fixed numbers, not the observed range, so values
        outside them fall outside 0-100. As in COINr's ``Normalise.numeric`` the values are
        multiplied by ``direction`` first (so for direction -1 give ``lo``/``hi`` on the
        negated scale) [COINr]_.
        """
        arr = _signed(x, direction, code, "scaled normalisation")
        return like(x, (arr - lo) / (hi - lo) * 100.0)


class Dist2RefParams(BaseModel):
    """Reference: ``ref_unit`` (a unit code) or ``iref`` (1-based position in the units,
    sorted by code); ``cap_max``: scores above 1 set to 1."""

    model_config = ConfigDict(extra="forbid")
    ref_unit: str | None = None
    iref: int | None = Field(None, ge=1)
    cap_max: bool = False

    @model_validator(mode="after")
    def _one(self):
        if (self.ref_unit is None) == (self.iref is None):
            raise ValueError("give exactly one of ref_unit (a unit code) or iref (a 1-based position)")
        return self


if "n_dist2ref" not in NORMALISE:

    @NORMALISE.register("n_dist2ref", Dist2RefParams)
    def n_dist2ref(x: Any, *, direction: int = 1, ref_unit: str | None = None,
                   iref: int | None = None, cap_max: bool = False, code: str | None = None) -> Any:
        """Distance to a reference unit: ``1 - (x_ref - x) / (x_ref - min(x))``
        (COINr ``n_dist2ref``).

        The reference unit scores 1, the worst unit 0; units better than the reference score
        above 1 (1 with ``cap_max``). Values are multiplied by ``direction`` first [COINr]_.

        Raises
        ------
        HumsecError
            Unknown reference unit or position, a missing reference value (COINr returns
            all-NA with a warning), or a reference equal to the minimum.
        """
        arr = _signed(x, direction, code, "distance-to-reference normalisation")
        if ref_unit is not None:
            if not isinstance(x, pd.Series) or ref_unit not in x.index:
                raise HumsecError(f"distance-to-reference normalisation{where(code)}: reference unit "
                                  f"'{ref_unit}' is not among the units")
            i = int(x.index.get_loc(ref_unit))
        else:
            if iref > arr.size:  # type: ignore[operator]
                raise HumsecError(f"distance-to-reference normalisation{where(code)}: iref {iref} "
                                  f"exceeds the {arr.size} units")
            i = int(iref) - 1  # type: ignore[arg-type]
        xref = arr[i]
        if np.isnan(xref):
            raise HumsecError(f"distance-to-reference normalisation{where(code)}: the reference "
                              f"unit's value is missing")
        mn = _observed(arr, code, "distance-to-reference normalisation").min()
        if xref == mn:
            raise HumsecError(f"distance-to-reference normalisation{where(code)}: the reference "
                              "value equals the minimum; scores are undefined")
        y = 1.0 - (xref - arr) / (xref - mn)
        if cap_max:
            y = np.where(y > 1.0, 1.0, y)
        return like(x, y)

    @NORMALISE.register("n_dist2max", _NoParams)
    def n_dist2max(x: Any, *, direction: int = 1, code: str | None = None) -> Any:
        """Distance to the maximum: ``1 - (max - x) / (max - min)`` (COINr ``n_dist2max``),
        in [0, 1]; values are multiplied by ``direction`` first [COINr]_.

        Raises
        ------
        HumsecError
            A constant column (COINr returns NaN with a warning).
        """
        arr = _signed(x, direction, code, "distance-to-maximum normalisation")
        obs = _observed(arr, code, "distance-to-maximum normalisation")
        mn, mx = obs.min(), obs.max()
        if mn == mx:
            raise HumsecError(f"distance-to-maximum normalisation{where(code)}: all values are "
                              "equal; the range is 0")
        return like(x, 1.0 - (mx - arr) / (mx - mn))


# ---------------------------------------------------------------------------- panel imputation

IMP_TYPES = ("latest", "constant", "linear", "linear-constant")


def _approx(t: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """R ``stats::approx(t, y, xout = t, method, rule = 2)`` on the non-missing points
    (``f = 0`` for ``constant``: the left point's value between two points)."""
    ok = ~np.isnan(y)
    if ok.sum() == 0:
        return y.copy()
    tt, yy = t[ok], y[ok]
    if method == "linear":
        return np.interp(t, tt, yy)  # constant beyond the ends = rule 2
    idx = np.searchsorted(tt, t, side="right") - 1
    return yy[np.clip(idx, 0, len(tt) - 1)]


def impute_panel_frame(panel: pd.DataFrame, *, imp_type: str = "latest",
                       max_time: int | None = None) -> pd.DataFrame:
    """COINr's ``impute_panel`` on a (unit, year)-indexed panel [COINr]_.

    Parameters
    ----------
    panel : pandas.DataFrame
        Indexed by a (unit, year) MultiIndex, one column per indicator.
    imp_type : {"latest", "constant", "linear", "linear-constant"}
        ``latest``: a gap takes the unit's latest earlier observation, at most
        ``max_time`` years older (None = no limit). ``constant`` / ``linear``: each unit's
        series is interpolated by ``stats::approx(method = "constant" | "linear",
        rule = 2)``: between two observations the left one (constant) or the straight
        line (linear); before the first and after the last observation the nearest
        observation. ``linear`` needs at least two observations in every series that has
        a gap (COINr stops); ``linear-constant`` falls back to ``constant`` for series
        with a single observation.
    max_time : int, optional
        For ``latest`` only.

    Returns
    -------
    pandas.DataFrame
        Same index (sorted by unit, year) and columns; observed values unchanged.

    Raises
    ------
    HumsecError
        Bad index, unknown ``imp_type``, or ``linear`` meeting a one-point series.
    """
    if imp_type not in IMP_TYPES:
        raise HumsecError(f"impute_panel: imp_type must be one of {', '.join(IMP_TYPES)}, got {imp_type!r}")
    f, years = _impute_mod._panel(panel, "panel imputation")
    if imp_type == "latest":
        return _impute_mod.locf(f, max_gap=max_time)
    out = f.copy()
    units = f.index.get_level_values(0)
    starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]])
    bounds = list(zip(starts, np.r_[starts[1:], len(units)]))
    vals = f.to_numpy(dtype=float, copy=True)
    for j, col in enumerate(f.columns):
        for a, b in bounds:
            y = vals[a:b, j]
            miss = np.isnan(y)
            if not miss.any() or miss.all():
                continue
            method = "linear" if imp_type.startswith("linear") else "constant"
            if method == "linear" and (~miss).sum() < 2:
                if imp_type == "linear":
                    raise HumsecError(
                        f"impute_panel (linear), indicator '{col}', unit {units[a]}: only one observed "
                        "year, linear interpolation needs two; use imp_type 'linear-constant'")
                method = "constant"
            vals[a:b, j] = _approx(years[a:b], y, method)
    out.loc[:, :] = vals
    return out


class ImputePanelParams(BaseModel):
    """``imp_type``: latest | constant | linear | linear-constant; ``max_time`` for latest."""

    model_config = ConfigDict(extra="forbid")
    imp_type: Literal["latest", "constant", "linear", "linear-constant"] = "latest"
    max_time: int | None = Field(None, ge=1)


if "impute_panel" not in IMPUTE:

    @IMPUTE.register("impute_panel", ImputePanelParams, panel=True)
    def impute_panel(panel: pd.DataFrame, *, imp_type: str = "latest",
                     max_time: int | None = None) -> pd.DataFrame:
        """COINr's ``impute_panel`` (latest / constant / linear interpolation) on panel data.

        In an index build the panel holds the built year and the years before it, so the
        built year's gaps are filled from earlier years only (``linear`` then extends the
        last observation, ``rule = 2``). To interpolate between earlier *and* later years as
        COINr does on a whole panel, impute the data first with
        :func:`impute_panel_frame` (``humsec index impute-panel``). See
        :func:`impute_panel_frame` for the methods.
        """
        return impute_panel_frame(panel, imp_type=imp_type, max_time=max_time)

