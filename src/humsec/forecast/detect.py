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
  ``ruptures`` (Truong et al. 2020; PELT with the default ``l2`` cost runs ruptures'
  recursion here, :func:`_pelt_l2`, without importing the package), with a BIC-type penalty ``2 sigma^2 log n`` where
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
from numpy.lib.stride_tricks import sliding_window_view

from humsec.errors import HumsecError

__all__ = [
    "ChangePoint", "MAD_SCALE", "POOLED_FLOOR_SHARE", "Z_CAP", "change_points", "change_z", "deterioration_table",
    "peer_z", "pelt_many", "pooled_scale_floor", "robust_z",
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
    med = _median(ref)
    mad = _median(np.abs(ref - med))
    scale = max(MAD_SCALE * mad, min_scale)
    return float(min(max((x - med) / scale, -Z_CAP), Z_CAP))


def _median(a: np.ndarray) -> float:
    """Median of a non-empty finite 1-d array (as :func:`numpy.median`, without its
    overhead on the short arrays of the detectors)."""
    b = np.sort(a)
    n = b.size
    return float(b[n // 2]) if n % 2 else float((b[n // 2 - 1] + b[n // 2]) / 2.0)


def _row_median(b: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """:func:`_median` of every row of ``b``: rows sorted, their first ``counts`` values
    the data (the rest NaN padding) - the same selection and the same ``(a + b) / 2``."""
    r = np.arange(b.shape[0])
    h = counts // 2
    odd = (counts % 2) == 1
    return np.where(odd, b[r, h], (b[r, h - 1] + b[r, h]) / 2.0)


def _robust_z_rows(x: np.ndarray, ref: np.ndarray, counts: np.ndarray, min_scale: np.ndarray | float) -> np.ndarray:
    """:func:`robust_z` of every ``x[i]`` against the first ``counts[i]`` (finite) values
    of row ``i`` of ``ref`` (padded with NaN; ``counts >= 1``), on arrays: the same
    medians, MAD, scale floor and cap, so the same numbers."""
    if not x.size:
        return np.empty(0)
    b = np.sort(ref, axis=1)  # NaN padding sorts last
    med = _row_median(b, counts)
    dev = np.abs(ref - med[:, None])
    dev.sort(axis=1)
    mad = _row_median(dev, counts)
    scale = np.maximum(MAD_SCALE * mad, min_scale)
    return np.clip((x - med) / scale, -Z_CAP, Z_CAP)


def _annual_change(s: pd.Series) -> pd.Series:
    """``y_t - y_{t-1}`` for consecutive years only (NaN after a gap)."""
    s = s.dropna().sort_index()
    if s.empty:
        return s.astype(float)
    years = s.index.to_numpy(dtype=int)
    v = s.to_numpy(dtype=float)
    d = np.full(v.size, np.nan)
    if v.size > 1:
        d[1:] = np.where(np.diff(years) == 1, np.diff(v), np.nan)
    return pd.Series(d, index=s.index, name=s.name)


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
    units = np.asarray(changes["unit"], dtype=object)
    z = _peer_z(units, np.asarray(changes["year"]), np.asarray(changes["change"], dtype=float), groups,
                direction=direction, min_peers=min_peers, min_scale=min_scale)
    return pd.Series(z, index=changes.index, dtype=float)


def _peer_z(units: np.ndarray, years: np.ndarray, change: np.ndarray, groups: Mapping[str, Any], *,
            direction: int, min_peers: int, min_scale: float, only: np.ndarray | None = None) -> np.ndarray:
    out = np.full(change.size, np.nan)
    if only is not None:  # the z of a row depends only on its own group-year: others stay NaN
        only = np.asarray(only, dtype=bool)
    g = np.array([groups.get(u) for u in units], dtype=object)
    ok = np.array([x is not None and not (isinstance(x, float) and np.isnan(x)) for x in g], dtype=bool)
    ok &= np.isfinite(change)
    if only is not None:
        ok &= only
    idx = np.flatnonzero(ok)
    if not idx.size:
        return out
    gcode, _ = pd.factorize(g[idx])
    yi = np.asarray(years[idx], dtype=np.int64)
    _, codes = np.unique(gcode.astype(np.int64) * (int(yi.max() - yi.min()) + 1) + (yi - yi.min()),
                         return_inverse=True)
    codes = codes.ravel()
    # group-years as contiguous blocks (rows in their order within each), every member
    # scored against the others of its block at once (leave-one-out references)
    order = np.argsort(codes, kind="stable")
    rows, codes = idx[order], codes[order]
    size = np.bincount(codes)
    n = size[codes]
    keep = n >= min_peers + 1
    if not keep.any():
        return out
    start = (np.cumsum(size) - size)[codes]
    pos = np.arange(rows.size) - start
    rows, n, start, pos = rows[keep], n[keep], start[keep], pos[keep]
    sorted_change = change[idx[order]]
    j = np.arange(int(n.max()) - 1)[None, :]
    take = start[:, None] + j + (j >= pos[:, None])
    valid = j < (n - 1)[:, None]
    ref = np.where(valid, sorted_change[np.minimum(take, sorted_change.size - 1)], np.nan)
    out[rows] = direction * _robust_z_rows(change[rows], ref, n - 1, min_scale)
    return out


def pooled_scale_floor(panel: pd.DataFrame, column: str, *, share: float = POOLED_FLOOR_SHARE) -> dict[int, float]:
    """Year -> ``share`` x the robust spread (1.4826 MAD) of the year-on-year changes of
    all units in the years *before* it (nothing from the year itself or later)."""
    _, years, _, change = _series_changes(panel, column)
    return _floors(years, change, sorted(panel.index.get_level_values("year").unique()), share)


def _floors(years: np.ndarray, change: np.ndarray, all_years: Sequence[int], share: float) -> dict[int, float]:
    ok = np.isfinite(change)
    cy, cv = years[ok], change[ok]
    out: dict[int, float] = {}
    for y in all_years:
        past = cv[cy < y]
        if past.size:
            out[int(y)] = share * MAD_SCALE * _median(np.abs(past - _median(past)))
    return out


def _series_changes(panel: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(units, years, values, changes)`` of one column of a ``(unit, year)`` panel:
    missing values dropped, one value per unit and year (the last), sorted by unit and
    year; the change is ``y_t - y_(t-1)`` within a unit for consecutive years only."""
    s = panel[column]
    units = np.asarray(s.index.get_level_values("unit"), dtype=object)
    years = s.index.get_level_values("year").to_numpy(dtype=int)
    values = s.to_numpy(dtype=float)
    fin = np.isfinite(values)
    units, years, values = units[fin], years[fin], values[fin]
    if not s.index.is_unique:  # one value per unit and year: the last
        f = pd.DataFrame({"unit": units, "year": years, "value": values}).drop_duplicates(["unit", "year"],
                                                                                          keep="last")
        units, years, values = (f["unit"].to_numpy(dtype=object), f["year"].to_numpy(dtype=int),
                                f["value"].to_numpy(dtype=float))
    codes, _ = pd.factorize(units, sort=True)
    order = np.lexsort((years, codes))
    units, years, values, codes = units[order], years[order], values[order], codes[order]
    change = np.full(values.size, np.nan)
    if values.size > 1:
        same = (codes[1:] == codes[:-1]) & (np.diff(years) == 1)
        change[1:] = np.where(same, np.diff(values), np.nan)
    return units, years, values, change


def _own_z(units: np.ndarray, yrs: np.ndarray, change: np.ndarray, only: np.ndarray | None, min_history: int,
           floors: Mapping[int, float] | None, min_scale: float, d: int) -> np.ndarray:
    """Own-history z of every (wanted) change against the unit's earlier finite changes
    (at least ``min_history``), the scale floored per year (``floors``; None: at
    ``min_scale``) - :func:`robust_z` on arrays (:func:`_robust_z_rows`)."""
    own = np.full(change.size, np.nan)
    fin = np.isfinite(change)
    before = np.r_[0, np.cumsum(fin)]  # finite changes before each row (whole array)
    starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]]) if change.size else np.array([], int)
    first = np.repeat(starts, np.diff(np.r_[starts, change.size]))  # each row's unit start
    k = before[:-1] - before[first]  # finite changes of the unit before the row
    sel = fin & (k >= min_history)
    if only is not None:
        sel &= only
    rows = np.flatnonzero(sel)
    if not rows.size:
        return own
    past = change[fin]
    j = np.arange(int(k[rows].max()))[None, :]
    take = before[first[rows]][:, None] + j
    ref = np.where(j < k[rows][:, None], past[np.minimum(take, past.size - 1)], np.nan)
    if floors is not None:
        floor = np.array([max(floors[int(y)], min_scale) if int(y) in floors else 1e-9 for y in yrs[rows]])
    else:
        floor = np.full(rows.size, min_scale)
    own[rows] = d * _robust_z_rows(change[rows], ref, k[rows], np.maximum(floor.astype(float), 1e-9))
    return own


def _deterioration_arrays(panel: pd.DataFrame, col: str, *, direction: int = 1,
                          groups: Mapping[str, Any] | None = None, min_history: int = 4, min_peers: int = 5,
                          min_scale: float = 1e-9, pooled_floor: float = POOLED_FLOOR_SHARE,
                          years: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """One series of :func:`deterioration_table` as arrays ``unit, year, value, change,
    own_z, peer_z`` (what the alert rules read, without building a frame)."""
    d = direction
    if d not in (1, -1):
        raise HumsecError(f"direction must be 1 or -1, got {d!r}")
    all_years = sorted(panel.index.get_level_values("year").unique())
    wanted = None if years is None else {int(y) for y in years}
    units, yrs, values, change = _series_changes(panel, col)
    out = {"unit": units, "year": yrs, "value": values, "change": change}
    if not values.size:
        return {**out, "own_z": np.empty(0), "peer_z": np.empty(0)}
    only = None if wanted is None else np.isin(yrs, list(wanted))
    floor_years = all_years if wanted is None else [y for y in all_years if y in wanted]
    floors = _floors(yrs, change, floor_years, pooled_floor) if pooled_floor > 0 else {}
    # as if floors were computed for every year: on when any year has earlier changes
    floors_on = pooled_floor > 0 and bool(np.any(np.isfinite(change) & (yrs < all_years[-1])))
    out["own_z"] = _own_z(units, yrs, change, only, min_history, floors if floors_on else None, min_scale, d)
    out["peer_z"] = (_peer_z(units, yrs, change, groups, direction=d, min_peers=min_peers, min_scale=min_scale,
                             only=only)
                     if groups else np.full(values.size, np.nan))
    return out


def deterioration_table(panel: pd.DataFrame, columns: Sequence[str] | None = None, *,
                        directions: Mapping[str, int] | None = None, groups: Mapping[str, Any] | None = None,
                        min_history: int = 4, min_peers: int = 5, min_scale: float = 1e-9,
                        pooled_floor: float = POOLED_FLOOR_SHARE, years: Sequence[int] | None = None
                        ) -> pd.DataFrame:
    """Own-history and peer z-scores of the year-on-year change of every series.

    A country whose series hardly moved in the past would otherwise be judged against a
    spread of (almost) zero, so that any small change scores an extreme z. The scale of
    the own-history z is therefore floored at ``pooled_floor`` times the robust spread of
    all countries' changes of the series in earlier years (:func:`pooled_scale_floor`;
    0 switches the floor off).

    The result equals :func:`change_z` per unit (with those floors) and :func:`peer_z`
    per year, computed on arrays.

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
    years : sequence of int, optional
        Only score the changes of these years (the z-scores of other rows are NaN; the
        scores of these rows are the same as without the restriction, since both
        z-scores use only the same and earlier years).

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
        a = _deterioration_arrays(panel, col, direction=directions.get(col, 1), groups=groups,
                                  min_history=min_history, min_peers=min_peers, min_scale=min_scale,
                                  pooled_floor=pooled_floor, years=years)
        if not a["value"].size:
            continue
        frames.append(pd.DataFrame({"unit": a["unit"], "year": a["year"], "series": col, "value": a["value"],
                                    "change": a["change"], "own_z": a["own_z"], "peer_z": a["peer_z"]}))
    if not frames:
        return pd.DataFrame(columns=["unit", "year", "series", "value", "change", "own_z", "peer_z"])
    return pd.concat(frames, ignore_index=True)


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


def _l2_cost(sub: np.ndarray) -> float:
    """``sub.var(axis=0).sum() * len(sub)`` - numpy's own steps of ``var`` (sum, divide,
    subtract, square, sum, divide) called directly: the same bits at a third of the cost
    of ``ndarray.var``'s Python wrapper (PELT calls it for every segment)."""
    k = sub.shape[0]
    mean = np.add.reduce(sub, axis=0, keepdims=True)
    np.true_divide(mean, k, out=mean)
    x = np.subtract(sub, mean)
    np.square(x, out=x)
    var = np.add.reduce(x, axis=0)
    np.true_divide(var, k, out=var)
    return var.sum() * k


def _pelt_l2(signal: np.ndarray, pen: float, min_size: int) -> list[int]:
    """Breakpoints of PELT with the ``l2`` cost and ``jump=1``: the recursion of
    ``ruptures.Pelt._seg`` (ruptures 1.1) step for step - the same admissible set and
    pruning, the same segment cost ``var * length`` on the same ``(n, 1)`` array and the
    same left-to-right sums - so the breakpoints are identical, without importing
    ``ruptures`` (whose import, through scipy, costs seconds on a cold process).

    ``signal`` has shape ``(n, 1)``; the result ends with ``n`` as ``predict`` does.
    """
    return _pelt_core(signal.shape[0], pen, min_size, lambda t, b: _l2_cost(signal[t:b]))


def _pelt_core(n: int, pen: float, min_size: int, cost: Any) -> list[int]:
    """The PELT recursion of :func:`_pelt_l2` with the segment cost ``cost(start, end)``
    given (computed on demand, or read from a table of every segment)."""
    min_size = max(int(min_size), 1)
    # ruptures keeps every partition as a list of (start, end, cost) and sums the costs
    # left to right; a running total (the same left fold, so the same bits) and a
    # back-pointer to the previous breakpoint give the same choices without the copies
    total: dict[int, float] = {0: 0}
    back: dict[int, int] = {}
    admissible: list[int] = []
    ind = [k for k in range(0, n) if k >= min_size] + [n]
    for bkp in ind:
        admissible.append(bkp - min_size)
        cands: list[int] = []
        sums: list[float] = []
        for t in admissible:
            left = total.get(t)
            if left is None:
                continue
            cands.append(t)
            sums.append(left + (cost(t, bkp) + pen))
        best = min(range(len(sums)), key=sums.__getitem__)
        total[bkp] = sums[best]
        back[bkp] = cands[best]
        # as ruptures: admissible points zipped with the subproblems that exist
        admissible = [t for t, c in zip(admissible, sums) if c <= sums[best] + pen]
    out, end = [], n
    while end != 0:
        out.append(end)
        end = back[end]
    return sorted(out)


def _l2_cost_table(y: np.ndarray, max_len: int) -> tuple[list[list[float]], list[list[float]]]:
    """``costs[k][i]`` = :func:`_l2_cost` of the segment ``y[i:i + k]`` (a 1-d array) and
    ``sums[k][i]`` its sum, for every start ``i`` and length ``k <= max_len``: the same
    numpy steps on rows of equal length (each row summed by the same pairwise
    ``add.reduce`` over ``k`` contiguous values as the ``(k, 1)`` segment, or
    :func:`numpy.mean`'s sum of it), so the same bits - tested - at a few calls per
    length instead of five per segment."""
    costs: list[list[float]] = [[]]
    sums: list[list[float]] = [[]]
    for k in range(1, min(max_len, y.size) + 1):
        w = np.ascontiguousarray(sliding_window_view(y, k))
        total = np.add.reduce(w, axis=1, keepdims=True)
        sums.append(total[:, 0].tolist())
        mean = np.true_divide(total, k)
        x = np.subtract(w, mean)
        np.square(x, out=x)
        var = np.add.reduce(x, axis=1)
        np.true_divide(var, k, out=var)
        costs.append((var * k).tolist())
    return costs, sums


def _pelt_table(n: int, pen: float, min_size: int, costs: list[list[float]], o: int) -> list[int]:
    """:func:`_pelt_core` with the costs read from :func:`_l2_cost_table` (the series at
    offset ``o`` of the tabulated array), the lookups inlined."""
    min_size = max(int(min_size), 1)
    total: list[Any] = [None] * (n + 1)
    total[0] = 0
    back: dict[int, int] = {}
    admissible: list[int] = []
    for bkp in [*range(min_size, n), n]:
        admissible.append(bkp - min_size)
        cands: list[int] = []
        sums: list[float] = []
        for t in admissible:
            left = total[t]
            if left is None:
                continue
            cands.append(t)
            sums.append(left + (costs[bkp - t][o + t] + pen))
        best = min(range(len(sums)), key=sums.__getitem__)
        total[bkp] = sums[best]
        back[bkp] = cands[best]
        lim = sums[best] + pen
        admissible = [t for t, c in zip(admissible, sums) if c <= lim]
    out, end = [], n
    while end != 0:
        out.append(end)
        end = back[end]
    return sorted(out)


def _default_penalty(y: np.ndarray) -> float:
    """``2 sigma^2 log n`` with the robust ``sigma`` (floored; see :func:`change_points`)."""
    sigma = _robust_sigma(y)
    return max(2.0 * sigma ** 2 * np.log(len(y)), 1e-6 * float(np.var(y)), 1e-12)


def _segments(y: np.ndarray, years: np.ndarray | None, bkps: Sequence[int]) -> list[ChangePoint]:
    bounds = [0, *bkps]
    out = []
    for k in range(1, len(bounds) - 1):
        a, b, c = bounds[k - 1], bounds[k], bounds[k + 1]
        before, after = float(np.mean(y[a:b])), float(np.mean(y[b:c]))
        yr = int(years[b]) if years is not None else None
        out.append(ChangePoint(index=int(b), year=yr, before=before, after=after, shift=after - before))
    return out


def _robust_sigmas(ys: Sequence[np.ndarray]) -> list[float | None]:
    """:func:`_robust_sigma` of every series at once (the medians of NaN-padded sorted
    rows, :func:`_row_median`: the values :func:`numpy.median` selects and averages);
    None for a series with fewer than two values or a non-finite value (computed one by
    one by the caller)."""
    out: list[float | None] = [None] * len(ys)
    ok = [i for i, y in enumerate(ys) if y.size >= 2 and np.isfinite(y).all()]
    if not ok:
        return out
    m = max(ys[i].size for i in ok) - 1
    d = np.full((len(ok), m), np.nan)
    for r, i in enumerate(ok):
        d[r, :ys[i].size - 1] = np.diff(ys[i])
    counts = np.array([ys[i].size - 1 for i in ok])
    med = _row_median(np.sort(d, axis=1), counts)
    dev = np.abs(d - med[:, None])
    dev.sort(axis=1)
    sig = MAD_SCALE * _row_median(dev, counts) / np.sqrt(2.0)
    for r, i in enumerate(ok):
        out[i] = float(sig[r])
    return out


def pelt_many(series: Sequence[tuple[np.ndarray, np.ndarray | None]], *, min_size: int = 2) -> list[list[ChangePoint]]:
    """:func:`change_points` (PELT, ``l2`` cost, the default penalty) of many series at
    once: the same change points as one call per series, with the segment costs of all
    series computed together (:func:`_l2_cost_table` on their concatenation).

    Parameters
    ----------
    series : sequence of (values, years)
        Finite values in time order and their years (or None).
    min_size : int
    """
    ys = [np.asarray(v, dtype=float) for v, _ in series]
    if not ys:
        return []
    offsets = np.r_[0, np.cumsum([y.size for y in ys])].astype(int).tolist()
    costs, sums = _l2_cost_table(np.concatenate(ys), max(y.size for y in ys))
    sigmas = _robust_sigmas(ys)
    out: list[list[ChangePoint]] = []
    for y, (_, years), o, sigma in zip(ys, series, offsets, sigmas):
        n = y.size
        if n < 2 * min_size:
            out.append([])
            continue
        if sigma is None:
            pen = _default_penalty(y)
        else:
            pen = max(2.0 * sigma ** 2 * np.log(n), 1e-6 * float(np.var(y)), 1e-12)
        bkps = _pelt_table(n, float(pen), min_size, costs, o)
        bounds = [0, *bkps]
        cps = []
        for k in range(1, len(bounds) - 1):
            a, b, c = bounds[k - 1], bounds[k], bounds[k + 1]
            # numpy.mean of a segment: its pairwise sum (tabulated) / its length
            before = float(np.float64(sums[b - a][o + a]) / (b - a))
            after = float(np.float64(sums[c - b][o + b]) / (c - b))
            cps.append(ChangePoint(index=int(b), year=int(years[b]) if years is not None else None,
                                   before=before, after=after, shift=after - before))
        out.append(cps)
    return out


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
        penalty = _default_penalty(y)
    signal = y.reshape(-1, 1)
    if method == "pelt" and n_bkps is not None:
        raise HumsecError("PELT takes a penalty, not a number of breaks; use method='binseg'")
    if method == "pelt" and model == "l2":
        assert penalty is not None  # set above: PELT refuses n_bkps, so a missing penalty got the default
        bkps = _pelt_l2(signal, float(penalty), min_size)
    else:
        import ruptures as rpt  # local: 0.8 s at import, only for the non-L2 cost models
    if method == "pelt" and model != "l2":
        algo = rpt.Pelt(model=model, min_size=min_size, jump=1).fit(signal)
        bkps = algo.predict(pen=penalty)
    elif method == "binseg":
        algo = rpt.Binseg(model=model, min_size=min_size, jump=1).fit(signal)
        bkps = algo.predict(n_bkps=n_bkps) if n_bkps is not None else algo.predict(pen=penalty)
    return _segments(y, years, bkps)
