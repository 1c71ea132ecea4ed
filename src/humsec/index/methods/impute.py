"""Imputation kernels (COINr's ``Impute`` / ``i_*`` functions, EM-style regression, LOCF).

Cross-sectional kernels:

``fn(frame: pandas.DataFrame (rows units, columns indicators), *,
groups: pandas.Series | None = None, **params) -> pandas.DataFrame``

Panel kernels (registered with ``panel=True``; :func:`panel_methods` lists them):

``fn(panel: pandas.DataFrame indexed by (unit, year), **params) -> pandas.DataFrame``

Only missing values (NaN) are ever replaced; observed values are returned unchanged -
except by the methods in :data:`REPLACING_METHODS` (``window_mean``: the mean of a
window of years stands for the year, for episodic hazards whose single year is noise).
A step can give indicators their own method or parameters through ``overrides`` (e.g. a
per-indicator maximum data age).

References
----------
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 2
   (imputation of missing data): single imputation by unconditional mean/median, by
   regression, and the expectation-maximisation (EM) algorithm.
   https://doi.org/10.1787/9789264043466-en
.. [COINr] Becker, W. et al. (2022). COINr, *JOSS* 7(78), 4567; COINr 1.1 ``R/impute.R``
   (``i_mean``, ``i_median``, ``i_mean_grp``, ``i_median_grp``).
.. [DLR77] Dempster, A. P., Laird, N. M., Rubin, D. B. (1977). Maximum likelihood from
   incomplete data via the EM algorithm. *JRSS B* 39(1), 1-38.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from humsec.errors import HumsecError
from humsec.index.registry import NoParams, Registry

__all__ = ["IMPUTE", "REPLACING_METHODS", "panel_methods"]

IMPUTE = Registry("impute")


def panel_methods() -> frozenset[str]:
    """Imputations that take a (unit, year) panel instead of one cross-section: every
    method registered with ``panel=True`` (including those registered later, e.g. COINr's
    ``impute_panel`` by :mod:`humsec.index.methods_coinr`)."""
    return IMPUTE.panel_names()

#: Panel methods whose value replaces the year's observation too (not only gaps).
REPLACING_METHODS = frozenset({"window_mean"})


def _numeric(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise HumsecError(f"{what}: expected a DataFrame (units x indicators)")
    try:
        out = frame.astype(float)
    except (TypeError, ValueError):
        raise HumsecError(f"{what}: every indicator column must be numeric") from None
    if np.isinf(out.to_numpy()).any():
        cols = [c for c in out.columns if np.isinf(out[c].to_numpy()).any()]
        raise HumsecError(f"{what}: infinite values in {', '.join(map(str, cols))}")
    return out


@IMPUTE.register("none", NoParams)
def impute_none(frame: pd.DataFrame, *, groups: pd.Series | None = None) -> pd.DataFrame:
    """No imputation: missing values stay missing."""
    return _numeric(frame, "imputation").copy()


@IMPUTE.register("mean", NoParams)
def impute_mean(frame: pd.DataFrame, *, groups: pd.Series | None = None) -> pd.DataFrame:
    """Fill each indicator's missing values with its mean (COINr ``i_mean``).

    An indicator with no observed value stays missing (as ``mean(x, na.rm = TRUE)`` is
    NaN in R).
    """
    f = _numeric(frame, "mean imputation")
    return f.fillna(f.mean())


@IMPUTE.register("median", NoParams)
def impute_median(frame: pd.DataFrame, *, groups: pd.Series | None = None) -> pd.DataFrame:
    """Fill each indicator's missing values with its median (COINr ``i_median``)."""
    f = _numeric(frame, "median imputation")
    return f.fillna(f.median())


class GroupParams(BaseModel):
    """``group``: name of the spec's grouping (``groups:``) whose labels define the groups."""

    model_config = ConfigDict(extra="forbid")
    group: str | None = Field(..., description="Name of a grouping defined under the spec's 'groups'.")


def _by_group(frame: pd.DataFrame, groups: pd.Series | None, group: str | None, how: str) -> pd.DataFrame:
    what = f"group-{how} imputation"
    f = _numeric(frame, what)
    if groups is None:
        raise HumsecError(f"{what} needs unit groups (params.group = {group!r} must name a grouping "
                          "defined under the spec's 'groups')")
    g = pd.Series(groups).reindex(f.index)
    if g.isna().all():
        raise HumsecError(f"{what}: no unit has a group label in grouping {group!r}")
    fill = f.groupby(g, dropna=True, sort=False).transform(how)
    # units without a group label keep their missing values (COINr i_mean_grp skip_f_na)
    return f.fillna(fill)


@IMPUTE.register("group_mean", GroupParams)
def group_mean(frame: pd.DataFrame, *, groups: pd.Series | None = None, group: str | None = None) -> pd.DataFrame:
    """Fill a unit's missing value with the mean of its group for that indicator
    (COINr ``i_mean_grp``).

    If every unit of the group misses the indicator the value stays missing (R's
    ``mean(numeric(0))`` is NaN). Units without a group label are left as they are
    (COINr's ``skip_f_na = TRUE``).

    Parameters
    ----------
    frame : pandas.DataFrame
        Units x indicators.
    groups : pandas.Series
        Unit -> group label (passed by the pipeline from ``spec.groups[group]``).
    group : str
        Name of the grouping (spec parameter; only used in messages here).

    Raises
    ------
    HumsecError
        No groups given, or no unit with a label.
    """
    return _by_group(frame, groups, group, "mean")


@IMPUTE.register("group_median", GroupParams)
def group_median(frame: pd.DataFrame, *, groups: pd.Series | None = None, group: str | None = None) -> pd.DataFrame:
    """Fill a unit's missing value with the median of its group (COINr ``i_median_grp``);
    same rules as :func:`group_mean`."""
    return _by_group(frame, groups, group, "median")


class EMParams(BaseModel):
    """Convergence tolerance (relative to each column's sd) and iteration limit."""

    model_config = ConfigDict(extra="forbid")
    max_iter: int = Field(100, ge=1, le=100_000)
    tol: float = Field(1e-6, gt=0)


def _em(frame: pd.DataFrame, *, max_iter: int = 100, tol: float = 1e-6) -> pd.DataFrame:
    """Iterative regression imputation (EM-style, deterministic).

    1. Initialise missing values with column means.
    2. For each column with missing values, regress it (ordinary least squares with an
       intercept, :func:`numpy.linalg.lstsq`) on every other column (current values) over
       the units where it is observed, and replace its missing values by the predictions.
    3. Repeat until the largest change of an imputed value, relative to its column's
       standard deviation, is below ``tol``, or ``max_iter`` sweeps.

    This is the conditional-mean (regression) step of the EM algorithm for a multivariate
    normal model [DLR77]_ [OECD08]_ without the residual-covariance correction.
    """
    f = _numeric(frame, "regression imputation")
    x = f.to_numpy(dtype=float).copy()
    miss = np.isnan(x)
    if not miss.any():
        return f.copy()
    empty = [str(c) for c, e in zip(f.columns, miss.all(axis=0)) if e]
    if empty:
        raise HumsecError(f"regression imputation: no observed value for {', '.join(empty)}; "
                          "exclude the indicator(s) or impute them otherwise")
    if x.shape[1] < 2:
        raise HumsecError("regression imputation needs at least 2 indicators (regressors); use mean imputation")
    means = np.nanmean(x, axis=0)
    x[miss] = np.take(means, np.nonzero(miss)[1])
    scale = np.nanstd(np.where(miss, np.nan, x), axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    targets = np.flatnonzero(miss.any(axis=0))
    n = x.shape[0]
    for _ in range(max_iter):
        delta = 0.0
        for j in targets:
            obs = ~miss[:, j]
            A = np.column_stack([np.ones(n), np.delete(x, j, axis=1)])
            coef, *_ = np.linalg.lstsq(A[obs], x[obs, j], rcond=None)
            pred = A[~obs] @ coef
            delta = max(delta, float(np.max(np.abs(pred - x[~obs, j])) / scale[j]))
            x[~obs, j] = pred
        if delta < tol:
            break
    return pd.DataFrame(x, index=f.index, columns=f.columns)


@IMPUTE.register("em", EMParams)
def impute_em(frame: pd.DataFrame, *, groups: pd.Series | None = None, max_iter: int = 100,
              tol: float = 1e-6) -> pd.DataFrame:
    """EM-style iterative regression imputation (see ``_em``): start from column means,
    regress each incomplete indicator on the others by OLS, iterate to convergence.

    Raises
    ------
    HumsecError
        An indicator with no observed value, or fewer than two indicators.
    """
    return _em(frame, max_iter=max_iter, tol=tol)


@IMPUTE.register("regression", EMParams)
def impute_regression(frame: pd.DataFrame, *, groups: pd.Series | None = None, max_iter: int = 100,
                      tol: float = 1e-6) -> pd.DataFrame:
    """Iterative regression imputation (alias of ``em``)."""
    return _em(frame, max_iter=max_iter, tol=tol)


def _panel(panel: pd.DataFrame, what: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The numeric panel sorted by (unit, year) and its years as floats, or a clear error."""
    if not isinstance(panel.index, pd.MultiIndex) or panel.index.nlevels != 2:
        raise HumsecError(f"{what} needs panel data indexed by (unit, year)")
    f = _numeric(panel, what).sort_index(level=[0, 1])
    try:
        years = f.index.get_level_values(1).to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise HumsecError(f"{what}: the year level of the index must be numeric") from None
    if f.index.duplicated().any():
        raise HumsecError(f"{what}: duplicate (unit, year) rows")
    return f, years


class LOCFParams(BaseModel):
    """``max_gap``: carry a value at most this many years (None = no limit);
    ``backfill``: then fill leading gaps with the next observation."""

    model_config = ConfigDict(extra="forbid")
    max_gap: int | None = Field(None, ge=1)
    backfill: bool = False
    age_scale: float = Field(1.0, gt=0, le=10)


@IMPUTE.register("locf", LOCFParams, panel=True)
def locf(panel: pd.DataFrame, *, max_gap: int | None = None, backfill: bool = False,
         age_scale: float = 1.0) -> pd.DataFrame:
    """Last observation carried forward, per unit in year order (panel data).

    A missing value of unit ``u`` in year ``t`` takes ``u``'s latest earlier observation,
    if it is at most ``max_gap`` years older (years are compared as numbers, so missing
    rows for years in between count too). With ``backfill``, values still missing take
    the next later observation under the same rule (next observation carried backward).

    Parameters
    ----------
    panel : pandas.DataFrame
        Indexed by a (unit, year) MultiIndex; columns indicators.
    max_gap : int, optional
    backfill : bool, default False
    age_scale : float, default 1
        Multiplies ``max_gap`` (rounded to whole years, at least 1): one parameter that
        makes a whole per-indicator age policy stricter or looser, e.g. in an
        uncertainty analysis of the imputation.

    Returns
    -------
    pandas.DataFrame
        Same index (sorted by unit, year) and columns.

    Raises
    ------
    HumsecError
        If the index is not a (unit, year) MultiIndex with numeric years.
    """
    f, years = _panel(panel, "LOCF imputation")
    if max_gap is not None:
        max_gap = max(1, int(round(max_gap * age_scale)))
    obs = f.notna()
    yr = pd.DataFrame(np.repeat(years[:, None], f.shape[1], axis=1), index=f.index, columns=f.columns)
    units = f.index.get_level_values(0)
    seen_year = yr.where(obs)
    fwd = f.groupby(units, sort=False).ffill()
    fwd_year = seen_year.groupby(units, sort=False).ffill()
    if max_gap is not None:
        fwd = fwd.where((yr - fwd_year) <= max_gap)
    out = f.where(obs, fwd)
    if backfill:
        bwd = f.groupby(units, sort=False).bfill()
        bwd_year = seen_year.groupby(units, sort=False).bfill()
        if max_gap is not None:
            bwd = bwd.where((bwd_year - yr) <= max_gap)
        out = out.where(out.notna(), bwd)
    return out


class WindowParams(BaseModel):
    """``years``: window length (the year and ``years - 1`` before it); ``exclude_years``:
    years whose observations are not used; ``min_obs``: fewest observations for a mean."""

    model_config = ConfigDict(extra="forbid")
    years: int = Field(ge=1, le=100)
    exclude_years: list[int] = Field(default_factory=list)
    min_obs: int = Field(1, ge=1)


@IMPUTE.register("window_mean", WindowParams, panel=True)
def window_mean(panel: pd.DataFrame, *, years: int, exclude_years: list[int] | None = None,
                min_obs: int = 1) -> pd.DataFrame:
    """Mean of each unit's observations in a window of years ending at the year.

    For episodic hazards (disaster deaths, people affected by disasters) one year's value
    is mostly the luck of that year; a multi-year average is the expected annual loss,
    as in risk indices that score hazards on their history (INFORM [INFORM17]_). The
    value of unit ``u`` in year ``t`` is the mean of ``u``'s observations in years
    ``t - years + 1 .. t`` (years in ``exclude_years`` left out), or NaN with fewer than
    ``min_obs`` of them. Unlike the other kernels this replaces observed values too
    (:data:`REPLACING_METHODS`).

    Parameters
    ----------
    panel : pandas.DataFrame
        Indexed by a (unit, year) MultiIndex with numeric years; columns indicators.
    years : int
    exclude_years : list of int, optional
    min_obs : int, default 1

    Returns
    -------
    pandas.DataFrame
        Same index (sorted by unit, year) and columns.

    References
    ----------
    .. [INFORM17] De Groeve, T., Poljansek, K., Vernaccini, L. (2017). *INFORM Index for
       Risk Management: Concept and Methodology*, version 2017. JRC, EUR 28655 EN
       (hazard components from historical averages of events and people affected).
    """
    f, yrs = _panel(panel, "window mean imputation")
    # one (unit, year, indicator) cube over the full range of years: window sums are
    # differences of cumulative sums along the year axis
    units, yv = f.index.get_level_values(0), yrs.astype(int)
    ucodes, upos = np.unique(units.to_numpy(dtype=object).astype(str), return_inverse=True)
    y0 = int(yv.min()) if len(yv) else 0
    ny = int(yv.max()) - y0 + 1 if len(yv) else 0
    cube = np.full((len(ucodes), ny, f.shape[1]), np.nan)
    cube[upos, yv - y0, :] = f.to_numpy(dtype=float)
    if exclude_years:
        drop = [y - y0 for y in exclude_years if 0 <= y - y0 < ny]
        cube[:, drop, :] = np.nan
    obs = ~np.isnan(cube)
    zero = np.zeros((len(ucodes), 1, f.shape[1]))
    csum = np.concatenate([zero, np.cumsum(np.where(obs, cube, 0.0), axis=1)], axis=1)
    ccnt = np.concatenate([zero, np.cumsum(obs, axis=1)], axis=1)
    hi = np.arange(1, ny + 1)
    lo = np.maximum(hi - years, 0)
    n = ccnt[:, hi, :] - ccnt[:, lo, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        m = (csum[:, hi, :] - csum[:, lo, :]) / n
    m[n < min_obs] = np.nan
    out = m[upos, yv - y0, :]
    return pd.DataFrame(out, index=f.index, columns=f.columns)
