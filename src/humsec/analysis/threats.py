"""Cross-cutting threats: how the dimensions of human security move together over time.

Human security threats are interconnected (UNDP 1994; UN GA resolution 66/290): a
health shock can cost livelihoods, a political crisis can bring violence. With an index
history (dimension scores per country and year, see
:func:`humsec.analysis.assess.history`) this module measures that from the data:

* :func:`changes` — year-on-year changes of every dimension score per country (annualised
  over gaps);
* :func:`co_movement` — Pearson correlations of the changes of every pair of dimensions,
  pooled over countries and years, at lag 0 (moving in the same year) and lag 1 (a change
  in one dimension followed a year later by a change in another). By default the changes
  are centred on each year's cross-country mean first, so global shocks common to all
  countries (or a shared data revision) do not create spurious co-movement - the
  two-way fixed-effects logic of panel correlation;
* :func:`joint_declines` — the years in which two dimensions of one country fell together;
* :func:`threat_statements` — plain-language sentences for a brief, each backed by a
  significant pooled correlation and, when they exist, the country's own joint declines.

Correlation is not causation: the statements say "coincided with" / "tended to be
followed by", never "caused".

References
----------
.. [HDR94] UNDP (1994). *Human Development Report 1994*, ch. 2 (threats crossing borders
   and dimensions).
.. [UNTFHS16] UN Trust Fund for Human Security (2016). *Human Security Handbook*, p. 7-8
   (interconnected threats, comprehensive responses).
.. [Wooldridge10] Wooldridge, J. M. (2010). *Econometric Analysis of Cross Section and
   Panel Data*, 2nd ed., MIT Press, ch. 10 (first differences, time effects).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["changes", "co_movement", "joint_declines", "threat_statements"]

#: A change smaller than this (score points a year) is not a decline.
DECLINE_TOL = 0.5


def changes(history: pd.DataFrame, nodes: Sequence[str] | None = None) -> pd.DataFrame:
    """Year-on-year changes of each column per unit, annualised over gaps.

    Parameters
    ----------
    history : pandas.DataFrame
        Indexed by ``(unit, year)``.
    nodes : sequence of str, optional
        Columns to use (default: all).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(unit, year)`` (the later year of each pair); each value is
        ``(x_t - x_s) / (t - s)`` for consecutive observed years ``s < t`` of the unit.
    """
    nodes = list(nodes) if nodes is not None else list(history.columns)
    h = history[nodes].sort_index()
    years = pd.Series(h.index.get_level_values(1), index=h.index, dtype=float)
    units = h.index.get_level_values(0)
    dx = h.groupby(units, sort=False).diff()
    dt = years.groupby(units, sort=False).diff()
    out = dx.div(dt, axis=0)
    return out[dt.notna()]


def _pearson(x: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    # local: scipy.stats costs 0.8 s at import, and this module is loaded by every
    # assessment (CLI start-up of humsec assess/brief/--help)
    from scipy import stats

    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 3 or np.nanstd(x[ok]) == 0 or np.nanstd(y[ok]) == 0:
        return float("nan"), float("nan"), n
    r, p = stats.pearsonr(x[ok], y[ok])
    return float(r), float(p), n


def co_movement(history: pd.DataFrame, nodes: Sequence[str] | None = None, *,
                lags: Sequence[int] = (0, 1), demean_years: bool = True) -> pd.DataFrame:
    """Correlations of year-on-year changes between dimensions, pooled over countries.

    Parameters
    ----------
    history : pandas.DataFrame
        Scores indexed by ``(unit, year)``.
    nodes : sequence of str, optional
        Dimensions (default: every column).
    lags : sequence of int
        0: same-year co-movement (each unordered pair once); k > 0: change of ``a`` in
        year t against change of ``b`` in year t + k (each ordered pair).
    demean_years : bool
        Centre each year's changes on their cross-country mean first (removes common
        shocks).

    Returns
    -------
    pandas.DataFrame
        ``a, b, lag, r, p, n`` sorted by lag and decreasing r; ``p`` is the two-sided
        p-value of Pearson's r (t test; country-years are treated as independent, so
        read it as indicative).
    """
    nodes = list(nodes) if nodes is not None else list(history.columns)
    ch = changes(history, nodes)
    if demean_years and len(ch):
        ch = ch - ch.groupby(level=1).transform("mean")
    rows = []
    for lag in lags:
        if lag == 0:
            for i, a in enumerate(nodes):
                for b in nodes[i + 1:]:
                    r, p, n = _pearson(ch[a].to_numpy(float), ch[b].to_numpy(float))
                    rows.append({"a": a, "b": b, "lag": 0, "r": r, "p": p, "n": n})
            continue
        nxt = ch.copy()
        idx = nxt.index
        nxt.index = pd.MultiIndex.from_arrays([idx.get_level_values(0), idx.get_level_values(1) - lag],
                                              names=idx.names)
        joined = ch.join(nxt.add_suffix("__next"), how="inner")
        for a in nodes:
            for b in nodes:
                if a == b:
                    continue
                r, p, n = _pearson(joined[a].to_numpy(float), joined[f"{b}__next"].to_numpy(float))
                rows.append({"a": a, "b": b, "lag": int(lag), "r": r, "p": p, "n": n})
    out = pd.DataFrame(rows, columns=["a", "b", "lag", "r", "p", "n"])
    return out.sort_values(["lag", "r"], ascending=[True, False], kind="stable").reset_index(drop=True)


def joint_declines(history: pd.DataFrame, unit: str, a: str, b: str, *, lag: int = 0,
                   tol: float = DECLINE_TOL) -> list[int]:
    """Years in which ``a`` fell and ``b`` fell in the same year (``lag`` 0) or ``lag``
    years later (the year of ``a``'s fall is returned); falls smaller than ``tol`` points
    a year do not count."""
    if unit not in history.index.get_level_values(0):
        return []
    ch = changes(history.xs(unit, level=0, drop_level=False), [a, b])
    if ch.empty:
        return []
    ch = ch.xs(unit, level=0)
    fa = ch[a] < -tol
    fb = (ch[b] < -tol).copy()
    fb.index = fb.index - lag
    both = fa & fb.reindex(fa.index, fill_value=False)
    return [int(y) for y in both.index[both.to_numpy()]]


def threat_statements(co: pd.DataFrame, history: pd.DataFrame, unit: str,
                      names: Mapping[str, str] | None = None, *, alpha: float = 0.05,
                      min_r: float = 0.1, limit: int = 4) -> list[str]:
    """Sentences on interconnected threats for one country's brief.

    Parameters
    ----------
    co : pandas.DataFrame
        :func:`co_movement` output.
    history : pandas.DataFrame
        The index history the correlations came from.
    unit : str
    names : mapping, optional
        Display names of the dimensions (e.g. ``{"health": "Health security"}``).
    alpha, min_r : float
        A pair is reported when ``p < alpha`` and ``r >= min_r`` (positive co-movement:
        losses in one dimension coinciding with losses in the other).
    limit : int
        At most this many sentences (the country's own joint declines first, then the
        strongest correlations).

    Returns
    -------
    list of str
    """
    names = dict(names or {})

    def nm(c: str) -> str:
        return names.get(c, c).lower()

    sig = co[(co["p"] < alpha) & (co["r"] >= min_r)].copy()
    own, general = [], []
    for row in sig.itertuples():
        years = joint_declines(history, unit, row.a, row.b, lag=row.lag)
        stat = f"r = {row.r:.2f} over {row.n:,} country-years"
        if row.lag == 0:
            base = f"changes in {nm(row.a)} and {nm(row.b)} have moved together ({stat})"
            if years:
                own.append((row.r, f"Losses in {nm(row.a)} coincided with losses in {nm(row.b)} in "
                                   f"{_years(years)}; across countries, {base}."))
            else:
                general.append((row.r, f"Across countries, {base}: a loss in one has tended to "
                                       "coincide with a loss in the other."))
        else:
            base = (f"declines in {nm(row.a)} have tended to be followed {row.lag} year"
                    f"{'s' if row.lag > 1 else ''} later by declines in {nm(row.b)} ({stat})")
            if years:
                own.append((row.r, f"A fall in {nm(row.a)} in {_years(years)} was followed by a fall "
                                   f"in {nm(row.b)}; across countries, {base}."))
            else:
                general.append((row.r, f"Across countries, {base}."))
    own.sort(key=lambda t: -t[0])
    general.sort(key=lambda t: -t[0])
    return [s for _, s in (own + general)[:limit]]


def _years(years: list[int]) -> str:
    ys = [str(y) for y in years]
    return ys[0] if len(ys) == 1 else ", ".join(ys[:-1]) + " and " + ys[-1]
