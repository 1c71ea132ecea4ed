"""Deterioration detection on any country-year series.

Three complementary detectors, all pure functions of the data passed in:

* **Robust change against the country's own past** (:func:`change_z`): the year-on-year
  change ``d_t = y_t - y_{t-1}`` is compared with the changes the same country showed
  *before* ``t`` (never after: the score is what an analyst could have computed in year
  ``t``), by a median/MAD z-score ``(d_t - median(d_past)) / (1.4826 MAD(d_past))``. The
  MAD is a robust scale: one earlier shock does not mask the next.
* **Robust change against peers** (:func:`peer_z`): the same z-score of a country's change
  against the changes of its peers (same region, by default) in the same year, excluding
  the country itself — a fall that everybody shares (a global recession) scores low, a
  fall of one country alone scores high.
* **Change points** (:func:`change_points`): shifts in the mean level of a series, by
  PELT (pruned exact linear time; Killick et al. 2012) or binary segmentation, through
  ``ruptures`` (Truong et al. 2020), with a BIC-type penalty ``2 sigma^2 log n`` where
  ``sigma`` is estimated robustly from first differences (so that the penalty is on the
  scale of the series).

:func:`deterioration_table` applies the first two to every column of a ``(unit, year)``
panel. Scores are signed by ``direction``: negative = deterioration when higher values
are better (HSI scores), so rules can say "z below -3" for any series.

References
----------
.. [Killick12] Killick, R., Fearnhead, P., Eckley, I. A. (2012). Optimal detection of
   changepoints with a linear computational cost. *Journal of the American Statistical
   Association* 107(500), 1590-1598. https://doi.org/10.1080/01621459.2012.737745
.. [Truong20] Truong, C., Oudre, L., Vayatis, N. (2020). Selective review of offline
   change point detection methods. *Signal Processing* 167, 107299.
   https://doi.org/10.1016/j.sigpro.2019.107299
.. [Rousseeuw93] Rousseeuw, P. J., Croux, C. (1993). Alternatives to the median absolute
   deviation. *Journal of the American Statistical Association* 88(424), 1273-1283.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError

__all__ = [
    "ChangePoint", "MAD_SCALE", "POOLED_FLOOR_SHARE", "Z_CAP", "change_points", "change_z", "deterioration_table", "peer_z", "pooled_scale_floor",
    "robust_z",
]

#: Consistency constant of the MAD for the normal distribution.
MAD_SCALE = 1.4826
#: |z| is capped here (a change in a series that never moved before has an unbounded z).
Z_CAP = 50.0
#: Floor of the own-history scale, as a share of the pooled spread of earlier changes.
POOLED_FLOOR_SHARE = 0.5


def robust_z(x: float, reference: Sequence[float] | np.ndarray, *, min_scale: float = 1e-9) -> float:
    """Median/MAD z-score of ``x`` against ``reference``.

    Parameters
    ----------
    x : float
    reference : array-like
        Reference values (missing values ignored).
    min_scale : float
        Smallest scale used (guards against a zero MAD of a flat reference).

    Returns
    -------
    float
        ``(x - median) / max(1.4826 * MAD, min_scale)``, capped at +-:data:`Z_CAP`; NaN
        if ``x`` is missing or the reference is empty.

    Examples
    --------
    >>> robust_z(5.0, [0.0, 1.0, -1.0, 2.0, -2.0])
    3.372...
    """
    ref = np.asarray(reference, dtype=float)
    ref = ref[np.isfinite(ref)]
    if not np.isfinite(x) or ref.size == 0:
        return float("nan")
    med = float(np.median(ref))
    mad = float(np.median(np.abs(ref - med)))
    scale = max(MAD_SCALE * mad, min_scale)
    return float(np.clip((x - med) / scale, -Z_CAP, Z_CAP))


def _annual_change(s: pd.Series) -> pd.Series:
    """``y_t - y_{t-1}`` for consecutive years only (NaN after a gap)."""
    s = s.dropna().sort_index()
    if s.empty:
        return s.astype(float)
    years = s.index.to_numpy(dtype=int)
    d = s.diff()
    gap = np.r_[np.inf, np.diff(years)] != 1
    d[gap] = np.nan
    return d


def change_z(values: pd.Series, *, direction: int = 1, min_history: int = 4,
             min_scale: float | Mapping[int, float] = 1e-9) -> pd.DataFrame:
    """Robust z of each year-on-year change against the same series' *earlier* changes.

    Parameters
    ----------
    values : pandas.Series
        Indexed by year.
    direction : {1, -1}
        +1 when higher values are better; the z is multiplied by it, so negative always
        means deterioration.
    min_history : int
        Earlier changes needed before a z is given (NaN before).
    min_scale : float or mapping
        See :func:`robust_z`; a mapping gives the floor per year (see
        :func:`deterioration_table`).

    Returns
    -------
    pandas.DataFrame
        ``year, value, change, own_z``.
    """
    if direction not in (1, -1):
        raise HumsecError(f"direction must be 1 or -1, got {direction!r}")
    s = pd.Series(values, dtype=float)
    s.index = s.index.astype(int)
    s = s[~s.index.duplicated(keep="last")].dropna().sort_index()
    d = _annual_change(s)
    dv = d.to_numpy()
    z = np.full(len(dv), np.nan)
    for i in range(len(dv)):
        past = dv[:i]
        past = past[np.isfinite(past)]
        if np.isfinite(dv[i]) and past.size >= min_history:
            floor = min_scale.get(int(s.index[i]), 1e-9) if isinstance(min_scale, Mapping) else min_scale
            z[i] = direction * robust_z(dv[i], past, min_scale=max(float(floor), 1e-9))
    return pd.DataFrame({"year": s.index.to_numpy(dtype=int), "value": s.to_numpy(), "change": dv,
                         "own_z": z})


def peer_z(changes: pd.DataFrame, groups: Mapping[str, Any], *, direction: int = 1, min_peers: int = 5,
           min_scale: float = 1e-9) -> pd.Series:
    """Robust z of each country's change against its peers' changes in the same year.

    Parameters
    ----------
    changes : pandas.DataFrame
        ``unit, year, change``.
    groups : mapping
        Unit -> peer group (e.g. M49 region); units without a group get NaN.
    direction : {1, -1}
    min_peers : int
        Peers with a change that year needed (the unit itself excluded).

    Returns
    -------
    pandas.Series
        Aligned with ``changes``' index.
    """
    out = pd.Series(np.nan, index=changes.index, dtype=float)
    g = changes["unit"].map(lambda u: groups.get(u))
    frame = changes.assign(_g=g)
    frame = frame[frame["_g"].notna() & frame["change"].notna()]
    for _, block in frame.groupby(["_g", "year"], sort=False):
        if len(block) < min_peers + 1:
            continue
        vals = block["change"].to_numpy(dtype=float)
        for pos, idx in enumerate(block.index):
            ref = np.delete(vals, pos)
            out.at[idx] = direction * robust_z(vals[pos], ref, min_scale=min_scale)
    return out


def pooled_scale_floor(panel: pd.DataFrame, column: str, *, share: float = POOLED_FLOOR_SHARE) -> dict[int, float]:
    """Year -> ``share`` x the robust spread (1.4826 MAD) of the year-on-year changes of
    all units in the years *before* it (nothing from the year itself or later)."""
    ch = []
    for _, s in panel[column].groupby(level="unit"):
        d = _annual_change(s.droplevel("unit"))
        ch.append(d.dropna())
    if not ch:
        return {}
    allc = pd.concat(ch)
    out: dict[int, float] = {}
    for y in sorted(panel.index.get_level_values("year").unique()):
        past = allc[allc.index < y].to_numpy()
        if past.size:
            out[int(y)] = share * MAD_SCALE * float(np.median(np.abs(past - np.median(past))))
    return out


def deterioration_table(panel: pd.DataFrame, columns: Sequence[str] | None = None, *,
                        directions: Mapping[str, int] | None = None, groups: Mapping[str, Any] | None = None,
                        min_history: int = 4, min_peers: int = 5, min_scale: float = 1e-9,
                        pooled_floor: float = POOLED_FLOOR_SHARE) -> pd.DataFrame:
    """Own-history and peer z-scores of the year-on-year change of every series.

    A country whose series hardly moved in the past would otherwise be judged against a
    spread of (almost) zero, so that any small change scores an extreme z. The scale of
    the own-history z is therefore floored at ``pooled_floor`` times the robust spread of
    all countries' changes of the series in earlier years (:func:`pooled_scale_floor`;
    0 switches the floor off).

    Parameters
    ----------
    panel : pandas.DataFrame
        Index ``(unit, year)``, one column per series.
    columns : sequence of str, optional
        Series to score (default: all numeric columns).
    directions : mapping, optional
        Series -> +1/-1 (default +1: higher is better).
    groups : mapping, optional
        Unit -> peer group; without it ``peer_z`` is NaN.

    Returns
    -------
    pandas.DataFrame
        ``unit, year, series, value, change, own_z, peer_z``.
    """
    if list(panel.index.names) != ["unit", "year"]:
        raise HumsecError("deterioration_table expects a frame indexed by (unit, year)")
    cols = list(columns) if columns is not None else [c for c in panel.columns
                                                      if pd.api.types.is_numeric_dtype(panel[c])]
    directions = directions or {}
    frames = []
    for col in cols:
        d = directions.get(col, 1)
        floors = pooled_scale_floor(panel, col, share=pooled_floor) if pooled_floor > 0 else {}
        for unit, s in panel[col].groupby(level="unit", sort=True):
            s = s.droplevel("unit").dropna()
            if s.empty:
                continue
            t = change_z(s, direction=d, min_history=min_history,
                         min_scale={y: max(v, min_scale) for y, v in floors.items()} if floors else min_scale)
            t.insert(0, "unit", unit)
            t.insert(2, "series", col)
            frames.append(t)
    if not frames:
        return pd.DataFrame(columns=["unit", "year", "series", "value", "change", "own_z", "peer_z"])
    out = pd.concat(frames, ignore_index=True)
    out["peer_z"] = np.nan
    if groups:
        for col in cols:
            m = out["series"] == col
            out.loc[m, "peer_z"] = peer_z(out.loc[m, ["unit", "year", "change"]], groups,
                                          direction=directions.get(col, 1), min_peers=min_peers,
                                          min_scale=min_scale)
    return out


# ---------------------------------------------------------------------------- change points


@dataclass(frozen=True)
class ChangePoint:
    """A shift in the mean level of a series.

    Attributes
    ----------
    index : int
        Position of the first value of the new segment.
    year : int or None
        Its year (when the series is indexed by year).
    before, after : float
        Means of the segments on either side.
    shift : float
        ``after - before`` (signed by nothing: compare with the series' direction).
    """

    index: int
    year: int | None
    before: float
    after: float
    shift: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _robust_sigma(y: np.ndarray) -> float:
    """Noise scale from first differences: MAD(diff) * 1.4826 / sqrt(2)."""
    d = np.diff(y)
    if d.size == 0:
        return 0.0
    return float(MAD_SCALE * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def change_points(values: Sequence[float] | pd.Series, *, method: str = "pelt", penalty: float | None = None,
                  n_bkps: int | None = None, min_size: int = 2, model: str = "l2") -> list[ChangePoint]:
    """Change points in the mean of a series (PELT or binary segmentation).

    Parameters
    ----------
    values : array-like or pandas.Series
        The series in time order (a Series indexed by year gives the years of the breaks);
        missing values are dropped.
    method : {"pelt", "binseg"}
        PELT (Killick et al. 2012) finds the exact optimum of the penalised cost; binary
        segmentation is the greedy approximation.
    penalty : float, optional
        Cost of one more change point. Default: ``2 sigma^2 log n`` (BIC-type) with
        ``sigma`` the robust noise scale from first differences; a floor of
        ``1e-6 * var(y)`` keeps it positive for noise-free series.
    n_bkps : int, optional
        Exact number of breaks instead of a penalty (binary segmentation only).
    min_size : int
        Shortest segment.
    model : str
        ``ruptures`` cost (``l2``: shifts in the mean; ``l1``: robust to outliers;
        ``normal``: mean and variance).

    Returns
    -------
    list of ChangePoint

    Raises
    ------
    HumsecError
        Unknown method, or ``ruptures`` missing.
    """
    try:
        import ruptures as rpt
    except ModuleNotFoundError as exc:  # pragma: no cover - dependency
        raise HumsecError("change-point detection needs the 'ruptures' package (pip install ruptures)") from exc
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=float))
    s = pd.Series(s, dtype=float).dropna()
    years = s.index.to_numpy() if isinstance(values, pd.Series) else None
    y = s.to_numpy(dtype=float)
    n = len(y)
    if n < 2 * min_size:
        return []
    if method not in ("pelt", "binseg"):
        raise HumsecError(f"change-point method '{method}': expected 'pelt' or 'binseg'")
    if penalty is None and n_bkps is None:
        sigma = _robust_sigma(y)
        penalty = max(2.0 * sigma ** 2 * np.log(n), 1e-6 * float(np.var(y)), 1e-12)
    signal = y.reshape(-1, 1)
    if method == "pelt":
        if n_bkps is not None:
            raise HumsecError("PELT takes a penalty, not a number of breaks; use method='binseg'")
        algo = rpt.Pelt(model=model, min_size=min_size, jump=1).fit(signal)
        bkps = algo.predict(pen=penalty)
    else:
        algo = rpt.Binseg(model=model, min_size=min_size, jump=1).fit(signal)
        bkps = algo.predict(n_bkps=n_bkps) if n_bkps is not None else algo.predict(pen=penalty)
    bounds = [0, *bkps]
    out = []
    for k in range(1, len(bounds) - 1):
        a, b, c = bounds[k - 1], bounds[k], bounds[k + 1]
        before, after = float(np.mean(y[a:b])), float(np.mean(y[b:c]))
        yr = int(years[b]) if years is not None else None
        out.append(ChangePoint(index=int(b), year=yr, before=before, after=after, shift=after - before))
    return out
