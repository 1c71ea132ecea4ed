"""Budget alignment: where the money goes against where people are least secure.

Spending per dimension
    Each tagged budget line counts toward its human-security dimensions; a line with
    several dimensions is split equally between them (no line is counted twice). The tag
    used is the reviewer's, else the rule tag, else a classifier suggestion at or above
    its confidence threshold; lines without a dimension are reported as *untagged*.
    Per-capita spending divides by the UN WPP total population (``pop_total``,
    interpolated linearly between observed years).

Year mapping
    Each budget year is set against the HSI *of its own year*: budget year ``y`` -> the
    HSI of ``y`` or, when the index does not rank the country in ``y`` (a year after the
    latest HSI year, or too little data that year), of the latest year before ``y`` that
    does (:func:`hsi_year_for`). A budget year before the country's first ranked HSI year
    is not aligned (a note says so): a later index would judge old spending by later
    needs. The mapping is reported per budget year (``hsi_year`` in the summary,
    :attr:`Alignment.year_map`).

Threat severity and trend
    *Insecurity* of a dimension is ``100 - score`` of the Human Security Index dimension
    (0-100, higher = more secure) in the budget year's HSI year; its trend is the Open
    SDG progress status and SDR arrow of the dimension score over the preceding
    :data:`TREND_YEARS` years (:func:`humsec.analysis.trends.dimension_trends`).

Alignment measure
    * ``rho``: Spearman rank correlation, across the dimensions, between the spending
      share and the insecurity. +1: the more insecure a dimension, the larger its share of
      the money; 0: no relation; -1: money goes where people are most secure. With seven
      dimensions it is a descriptive measure, not a test.
    * ``gap`` of a dimension: its share of total insecurity minus its share of the tagged
      spending, in percentage points. A large positive gap marks high insecurity and a
      low spending share; a negative gap, a spending share above the insecurity share.
      The *largest gaps* are the :data:`N_GAPS` dimensions with the largest gaps.

Shares compare the spending of one country and year; amounts in different currencies
are never added up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from humsec.analysis import assess
from humsec.analysis.trends import PROGRESS_LABELS, TREND_ARROWS, dimension_trends
from humsec.errors import HumsecError
from humsec.index.builtin import load_spec
from humsec.model.panel import DIMENSIONS, Panel

__all__ = ["Alignment", "align", "hsi_history", "hsi_year_for", "population", "spending_by_dimension"]

#: Number of largest gaps reported.
N_GAPS = 5
#: Years of HSI history before a budget year used for the dimension trends.
TREND_YEARS = 10


def effective_dimensions(lines: pd.DataFrame, *, min_confidence: float = 0.5) -> pd.Series:
    """The dimensions each line counts toward (see the module notes)."""
    out = []
    for r in lines.itertuples():
        dims = tuple(r.dimensions) if isinstance(r.dimensions, tuple) else ()
        if r.source == "classifier" and r.review not in ("confirmed", "corrected"):
            conf = r.confidence if r.confidence is not None and np.isfinite(r.confidence) else 0.0
            if conf < min_confidence:
                dims = ()
        out.append(dims)
    return pd.Series(out, index=lines.index, dtype=object)


def spending_by_dimension(lines: pd.DataFrame, *, min_confidence: float = 0.5) -> pd.DataFrame:
    """Amount per ``(country, year, currency)`` and dimension, plus ``untagged``.

    Returns
    -------
    pandas.DataFrame
        Columns ``country, year, currency, dimension, amount, lines``; ``dimension`` is
        one of :data:`humsec.model.DIMENSIONS` or ``"untagged"``.
    """
    dims = effective_dimensions(lines, min_confidence=min_confidence)
    rows = []
    for r, ds in zip(lines.itertuples(), dims):
        if not ds:
            rows.append((r.country, int(r.year), r.currency, "untagged", float(r.amount), 1.0))
            continue
        for d in ds:
            rows.append((r.country, int(r.year), r.currency, d, float(r.amount) / len(ds), 1.0 / len(ds)))
    df = pd.DataFrame(rows, columns=["country", "year", "currency", "dimension", "amount", "lines"])
    return df.groupby(["country", "year", "currency", "dimension"], as_index=False)[["amount", "lines"]].sum()


def population(panel: Panel, unit: str, years: list[int]) -> pd.Series:
    """Total population (UN WPP ``pop_total``) of ``unit`` in ``years``, linearly
    interpolated between observed years (NaN outside the observed range)."""
    sub = panel.filter(indicators=["pop_total"], units=[unit], totals_only=True).data.dropna(subset=["value"])
    if sub.empty:
        return pd.Series(np.nan, index=years, dtype=float)
    s = sub.groupby("year")["value"].last().sort_index()
    x = s.index.to_numpy(dtype=float)
    vals = np.interp(np.asarray(years, dtype=float), x, s.to_numpy(dtype=float), left=np.nan, right=np.nan)
    return pd.Series(vals, index=years, dtype=float)


def hsi_year_for(budget_year: int, hsi_years: Iterable[int]) -> int | None:
    """The HSI year a budget year is aligned with: the latest of ``hsi_years`` (the years
    the index ranks the country) at or before ``budget_year``; None when there is none.

    Examples
    --------
    >>> hsi_year_for(2025, [2013, 2023, 2024]), hsi_year_for(2020, [2013, 2023]), hsi_year_for(2012, [2013])
    (2024, 2013, None)
    """
    at = [int(t) for t in hsi_years if int(t) <= int(budget_year)]
    return max(at) if at else None


def hsi_history(panel: Panel, spec: Any | None = None, *, years: Iterable[int] | None = None,
                last: int | None = None, trend_years: int = TREND_YEARS,
                units: Iterable[str] | None = None) -> pd.DataFrame:
    """HSI root and dimension scores by ``(unit, year)`` for the alignment of budget years.

    For every budget year ``y`` the HSI of ``min(y, last)`` is built; when it does not
    rank one of ``units``, the years before it are tried, latest first (at most
    ``trend_years`` back), until it does - so :func:`align` finds, per country, the HSI of
    the budget year or of the latest year before it that ranks the country
    (:func:`hsi_year_for`). Besides those years only the earliest year within
    ``trend_years`` before each that the index can score is built - the two end points
    the trend rules read - so the result equals the full history for :func:`align` at a
    fraction of the cost. Goalposts are fixed, so years are comparable (see
    :func:`humsec.analysis.assess.history`).

    Parameters
    ----------
    panel : Panel
    spec : IndexSpec, optional
        Default: the built-in ``hsi``.
    years : iterable of int, optional
        Budget years (default: just ``last``).
    last : int, optional
        Latest HSI year (default: the spec's default year on the panel).
    trend_years : int
        Length of the trend period, and how far back a year that ranks is looked for.
    units : iterable of str, optional
        Countries that must be ranked in the year used (default: any country).
    """
    spec = spec if spec is not None else load_spec("hsi")
    data = assess.index_data(panel, spec)
    last = assess.default_year(spec, data) if last is None else int(last)
    wanted = {str(u).strip().upper() for u in units} if units is not None else None
    built: dict[int, pd.DataFrame] = {}

    def at(y: int) -> pd.DataFrame:
        if y not in built:
            built[y] = assess.history(spec, data, [y])
        return built[y]

    mapped: set[int] = set()
    for top in sorted({min(int(y), last) for y in years} if years is not None else {last}):
        need = set(wanted) if wanted is not None else None
        for hy in range(top, top - trend_years - 1, -1):
            h = at(hy)
            if not len(h):
                continue
            have = set(h.index.get_level_values(0))
            if need is None or need & have:
                mapped.add(hy)
            if need is None:
                break
            need -= have
            if not need:
                break
    for hy in sorted(mapped):
        for y in range(hy - trend_years, hy):
            if len(at(y)):
                break
    frames = [h for h in built.values() if len(h)]
    if not frames:
        return assess.history(spec, data, [])
    out = pd.concat(frames)
    return out[~out.index.duplicated(keep="first")].sort_index()


@dataclass(frozen=True)
class Alignment:
    """Spending against insecurity for one country.

    Attributes
    ----------
    unit : str
    table : pandas.DataFrame
        One row per budget year and dimension: ``year, dimension, amount, share,
        per_capita, score, insecurity, insecurity_share, gap, progress, progress_label,
        arrow, hsi_year``.
    summary : pandas.DataFrame
        One row per budget year: ``year, currency, total, tagged, untagged, population,
        per_capita, rho, hsi_year, n_dimensions``.
    gaps : pandas.DataFrame
        The :data:`N_GAPS` dimensions with the largest gaps in the latest budget year,
        largest first (rows of ``table``).
    notes : tuple of str
    year_map : dict of int to int
        Budget year -> the HSI year its threat severity comes from (:func:`hsi_year_for`).
    """

    unit: str
    table: pd.DataFrame
    summary: pd.DataFrame
    gaps: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)
    year_map: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def recs(df: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(df.to_json(orient="records"))

        return {"unit": self.unit, "summary": recs(self.summary), "table": recs(self.table),
                "largest_gaps": recs(self.gaps), "notes": list(self.notes),
                "hsi_year_of_budget_year": {str(k): v for k, v in self.year_map.items()}}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    # local: scipy.stats costs 0.8 s at import; this module is loaded by humsec's
    # oversight shell (CLI start-up)
    from scipy.stats import (
        spearmanr,  # scipy.stats takes ~0.6 s to import: only when aligning
    )

    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(spearmanr(a[ok], b[ok]).statistic)


def align(lines: pd.DataFrame, unit: str, *, history: pd.DataFrame, panel: Panel | None = None,
          min_confidence: float = 0.5, n_gaps: int = N_GAPS) -> Alignment:
    """Spending per dimension against the HSI's insecurity and trend, per budget year.

    Parameters
    ----------
    lines : pandas.DataFrame
        Budget lines with their current tags (:meth:`OversightDB.budget_lines`).
    unit : str
        ISO3 code of the country.
    history : pandas.DataFrame
        HSI root and dimension scores by ``(unit, year)`` (:func:`hsi_history`).
    panel : Panel, optional
        For the population (per-capita spending); without it per-capita values are NaN.
    min_confidence : float
        Classifier suggestions below it count as untagged.
    n_gaps : int
        How many largest gaps to report.

    Raises
    ------
    HumsecError
        No budget lines for ``unit``, mixed currencies within a year, no HSI scores for
        the country, or none at or before any budget year.
    """
    unit = unit.strip().upper()
    own = lines[lines["country"] == unit]
    if own.empty:
        have = ", ".join(sorted(lines["country"].unique())) or "none"
        raise HumsecError(f"no budget lines for {unit} (countries with budget lines: {have})")
    sp = spending_by_dimension(own, min_confidence=min_confidence)
    cur = sp.groupby("year")["currency"].nunique()
    if (cur > 1).any():
        raise HumsecError(f"budget lines of {unit} in {', '.join(map(str, cur[cur > 1].index))} use several "
                          "currencies; shares cannot add them up")
    if unit not in history.index.get_level_values(0):
        raise HumsecError(f"the Human Security Index has no scores for {unit}")
    h_unit = history.xs(unit, level=0)
    hsi_years = sorted(int(y) for y in h_unit.index)
    dims = [d for d in DIMENSIONS if d in history.columns]
    notes: list[str] = []
    year_map: dict[int, int] = {}
    for y in sorted(int(y) for y in sp["year"].unique()):
        hy = hsi_year_for(y, hsi_years)
        if hy is None:
            notes.append(f"{y}: not aligned - the HSI ranks {unit} from {hsi_years[0]} only")
            continue
        year_map[y] = hy
        if hy != y:
            notes.append(f"{y}: threat severity from the HSI of {hy}, the latest available")
    if not year_map:
        raise HumsecError(f"no HSI score of {unit} at or before the budget year(s) "
                          f"{', '.join(map(str, sorted(sp['year'].unique())))} (first HSI year: {hsi_years[0]})")
    years = sorted(year_map)
    pop = population(panel, unit, years) if panel is not None else pd.Series(np.nan, index=years)
    rows, summ = [], []
    for y in years:
        hy = year_map[y]
        scores = h_unit.loc[hy, dims].astype(float)
        tr = dimension_trends(history, unit, base_year=hy - TREND_YEARS, year=hy).set_index("node")
        spy = sp[sp["year"] == y].set_index("dimension")
        total = float(spy["amount"].sum())
        untagged = float(spy["amount"].get("untagged", 0.0))
        tagged = total - untagged
        insec = (100.0 - scores).clip(lower=0.0)
        insec_share = insec / insec.sum() if insec.sum() > 0 else insec * np.nan
        for d in dims:
            amt = float(spy["amount"].get(d, 0.0))
            share = amt / tagged if tagged > 0 else float("nan")
            t = tr.loc[d] if d in tr.index else None
            rows.append({
                "year": y, "dimension": d, "amount": amt, "share": share,
                "per_capita": amt / pop.get(y, np.nan) if np.isfinite(pop.get(y, np.nan)) else float("nan"),
                "score": float(scores[d]), "insecurity": float(insec[d]),
                "insecurity_share": float(insec_share[d]),
                "gap": 100.0 * (float(insec_share[d]) - share) if np.isfinite(share) else float("nan"),
                "progress": t["progress"] if t is not None else "insufficient_data",
                "progress_label": PROGRESS_LABELS[t["progress"]] if t is not None else PROGRESS_LABELS["insufficient_data"],
                "arrow": TREND_ARROWS[t["trend"]] if t is not None else TREND_ARROWS["insufficient_data"],
                "hsi_year": hy})
        yr = pd.DataFrame(rows[-len(dims):])
        rho = _spearman(yr["share"].to_numpy(float), yr["insecurity"].to_numpy(float))
        summ.append({"year": y, "currency": spy["currency"].iloc[0] if len(spy) else "", "total": total,
                     "tagged": tagged, "untagged": untagged, "population": float(pop.get(y, np.nan)),
                     "per_capita": total / pop.get(y, np.nan) if np.isfinite(pop.get(y, np.nan)) else float("nan"),
                     "rho": rho, "hsi_year": hy, "n_dimensions": int(yr["score"].notna().sum())})
        if untagged > 0:
            notes.append(f"{y}: {untagged / total:.0%} of the budget has no dimension (untagged or below the "
                         "classifier's confidence threshold); review it")
    table = pd.DataFrame(rows)
    summary = pd.DataFrame(summ)
    latest = table[table["year"] == years[-1]]
    gaps = (latest.dropna(subset=["gap"]).sort_values(["gap", "dimension"], ascending=[False, True], kind="stable")
            .head(n_gaps).reset_index(drop=True))
    if np.isnan(summary["population"]).any() and panel is not None:
        notes.append("population (UN WPP) missing for some years: per-capita spending not computed there")
    return Alignment(unit=unit, table=table, summary=summary, gaps=gaps, notes=tuple(dict.fromkeys(notes)),
                     year_map=year_map)
