"""Forecasting tasks: one row per country-year ``t`` with features known at the end of
``t`` and the outcome in ``t + 1``.

A :class:`Task` holds ``unit, year`` (the feature year ``t``), ``target_year`` (``t +
1``), ``y`` (the outcome; NaN when not yet observed: those rows are forecast, never
scored), ``current`` (the outcome variable in year ``t``, used by persistence) and the
feature columns. Every feature of a row is computed from data of years ``<= t`` only
(lags, past windows, neighbours' values in ``t``), which the builders assert.

Builders:

* :func:`conflict_task` — armed conflict (or war) in ``t + 1`` from conflict history,
  neighbours' conflicts (land borders) and, where given, displacement;
* :func:`hsi_task` — next-year score of an HSI dimension (or the index) from the index
  history (:func:`humsec.analysis.assess.history`), regional and neighbours' means;
* :func:`displacement_task` — a surge of new cross-border displacement in ``t + 1``
  (outflow more than doubles and grows by at least :data:`SURGE_MIN` persons);
* :func:`indicator_event_task` — an indicator crossing a threshold in ``t + 1`` (e.g.
  UCDP deaths in organised violence per 100,000, ``conflict_deaths`` of the data release).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.forecast.series import _years_since, neighbour_mean

__all__ = ["SURGE_MIN", "Task", "conflict_task", "displacement_task", "hsi_task", "indicator_event_task"]

#: A displacement surge needs at least this many more persons than the year before.
SURGE_MIN = 10_000


@dataclass(frozen=True)
class Task:
    """A one-year-ahead forecasting problem.

    Attributes
    ----------
    name : str
    kind : {"event", "quantity"}
    frame : pandas.DataFrame
        ``unit, year, target_year, y, current`` and the features.
    features : tuple of str
    description : str
    bounds : (float or None, float or None)
        Range of a quantity outcome (e.g. 0-100 for index scores): every forecaster's
        quantiles are clipped into it, so none is scored on impossible values.
    """

    name: str
    kind: str
    frame: pd.DataFrame
    features: tuple[str, ...]
    description: str
    bounds: tuple[float | None, float | None] = (None, None)

    def clip(self, q: np.ndarray) -> np.ndarray:
        """Quantile forecasts clipped into :attr:`bounds`."""
        lo, hi = self.bounds
        if lo is None and hi is None:
            return q
        return np.clip(q, -np.inf if lo is None else lo, np.inf if hi is None else hi)

    @property
    def known(self) -> pd.DataFrame:
        """Rows whose outcome is observed (usable for training and scoring)."""
        return self.frame[self.frame["y"].notna()]

    @property
    def years(self) -> list[int]:
        return sorted(int(v) for v in self.frame["year"].unique())


def _next(frame: pd.DataFrame, col: str) -> pd.Series:
    """Value of ``col`` in ``year + 1`` for the same unit (NaN if that row is absent)."""
    nxt = frame[["unit", "year", col]].copy()
    nxt["year"] = nxt["year"] - 1
    m = frame[["unit", "year"]].merge(nxt, on=["unit", "year"], how="left")
    return pd.Series(m[col].to_numpy(), index=frame.index)


def _lag(frame: pd.DataFrame, col: str, k: int = 1) -> pd.Series:
    prev = frame[["unit", "year", col]].copy()
    prev["year"] = prev["year"] + k
    m = frame[["unit", "year"]].merge(prev, on=["unit", "year"], how="left")
    return pd.Series(m[col].to_numpy(), index=frame.index)


def _finish(name: str, kind: str, frame: pd.DataFrame, features: Sequence[str], description: str,
            bounds: tuple[float | None, float | None] = (None, None)) -> Task:
    frame = frame.sort_values(["year", "unit"]).reset_index(drop=True)
    frame["target_year"] = frame["year"] + 1
    cols = ["unit", "year", "target_year", "y", "current", *features]
    return Task(name, kind, frame[cols], tuple(features), description, bounds)


# ---------------------------------------------------------------------------- conflict


def conflict_task(cpanel: pd.DataFrame, borders: Mapping[str, Iterable[str]], *, target: str = "conflict",
                  displacement: pd.DataFrame | None = None, first_year: int = 1950) -> Task:
    """Armed conflict (``target="conflict"``) or war (``"war"``) in ``t + 1``.

    Features of year ``t``: conflict, war and number of conflicts in ``t``; years since
    the last conflict year (log, 0 when in conflict, 60 before any); share of conflict
    years in ``t-4..t`` and ``t-9..t``; share of land neighbours in conflict and at war
    in ``t``; with ``displacement``: log new outflow and log displaced stock of ``t``.

    Parameters
    ----------
    cpanel : pandas.DataFrame
        :func:`humsec.forecast.series.conflict_panel`.
    borders : mapping
        Unit -> land neighbours.
    """
    if target not in ("conflict", "war"):
        raise HumsecError(f"conflict target '{target}': expected 'conflict' or 'war'")
    f = cpanel.sort_values(["unit", "year"]).reset_index(drop=True).copy()
    g = f.groupby("unit", sort=False)
    ys = np.concatenate([_years_since(grp["conflict"].to_numpy()) for _, grp in g])
    f["log_years_since"] = np.log1p(np.nan_to_num(ys, nan=60.0).clip(0, 60))
    f["share5"] = g["conflict"].transform(lambda s: s.rolling(5, min_periods=1).mean())
    f["share10"] = g["conflict"].transform(lambda s: s.rolling(10, min_periods=1).mean())
    f["nb_conflict"] = neighbour_mean(f, "conflict", borders).fillna(0.0)
    f["nb_war"] = neighbour_mean(f, "war", borders).fillna(0.0)
    feats = ["conflict", "war", "n_conflicts", "log_years_since", "share5", "share10", "nb_conflict", "nb_war"]
    if displacement is not None:
        d = displacement[["unit", "year", "outflow", "stock"]]
        f = f.merge(d, on=["unit", "year"], how="left")
        f["log_outflow"] = np.log1p(f["outflow"])
        f["log_stock"] = np.log1p(f["stock"])
        feats += ["log_outflow", "log_stock"]
    f["y"] = _next(f, target)
    f["current"] = f[target]
    f = f[f["year"] >= first_year]
    desc = (f"{'armed conflict (>= 25 battle deaths)' if target == 'conflict' else 'war (>= 1,000 battle deaths)'} "
            "in t+1, UCDP/PRIO ACD v25.1, country = government a primary party")
    return _finish(target, "event", f, feats, desc)


# ---------------------------------------------------------------------------- HSI


def hsi_task(history: pd.DataFrame, node: str, *, regions: Mapping[str, Any] | None = None,
             borders: Mapping[str, Iterable[str]] | None = None, last_year: int | None = None) -> Task:
    """Next-year score of ``node`` (an HSI dimension or the index) as a quantity.

    Features of year ``t``: every column of ``history`` in ``t`` (index and dimensions),
    the change of ``node`` from ``t-1`` to ``t``, the regional mean and the land
    neighbours' mean of ``node`` in ``t``.

    Parameters
    ----------
    history : pandas.DataFrame
        Index ``(unit, year)``, columns the index and its dimensions
        (:func:`humsec.analysis.assess.history`).
    node : str
    last_year : int, optional
        Ignore years after it (e.g. the spec's default year: later years only carry old
        observations forward).
    """
    if node not in history.columns:
        raise HumsecError(f"'{node}' is not in the index history (columns: {', '.join(history.columns)})")
    f = history.reset_index()
    if last_year is not None:
        f = f[f["year"] <= last_year]
    cols = [c for c in history.columns]
    f = f.copy()
    f["d_node"] = f[node] - _lag(f, node)
    feats = [*cols, "d_node"]
    if regions:
        f["_r"] = f["unit"].map(lambda u: regions.get(u))
        f["region_mean"] = f.groupby(["_r", "year"])[node].transform("mean")
        feats.append("region_mean")
    if borders:
        f["nb_mean"] = neighbour_mean(f, node, borders)
        feats.append("nb_mean")
    f["y"] = _next(f, node)
    f["current"] = f[node]
    return _finish(f"hsi:{node}", "quantity", f, feats, f"score of '{node}' (0-100) in t+1", bounds=(0.0, 100.0))


# ---------------------------------------------------------------------------- displacement


def displacement_task(dpanel: pd.DataFrame, *, cpanel: pd.DataFrame | None = None,
                      borders: Mapping[str, Iterable[str]] | None = None, surge_min: float = SURGE_MIN) -> Task:
    """A surge of new cross-border displacement out of a country in ``t + 1``.

    A surge in year ``s``: ``outflow_s > 2 * outflow_(s-1)`` and ``outflow_s -
    outflow_(s-1) >= surge_min`` (a "refugee outflow more than doubles" rule that ignores
    tiny numbers). Features of ``t``: log outflow, its log growth from ``t-1``, log stock
    of refugees and asylum seekers, log IDPs, a surge in ``t``; with ``cpanel``, conflict
    and war in ``t`` and neighbours' conflict; with ``borders``, neighbours' log outflow.
    """
    f = dpanel.sort_values(["unit", "year"]).reset_index(drop=True).copy()
    prev = _lag(f, "outflow")
    f["surge"] = ((f["outflow"] > 2 * prev) & (f["outflow"] - prev >= surge_min)).astype(float)
    f.loc[prev.isna(), "surge"] = np.nan
    f["log_outflow"] = np.log1p(f["outflow"])
    f["growth"] = f["log_outflow"] - np.log1p(prev)
    f["log_stock"] = np.log1p(f["stock"])
    f["log_idps"] = np.log1p(f["idps"])
    feats = ["log_outflow", "growth", "log_stock", "log_idps", "surge"]
    if cpanel is not None:
        c = cpanel[["unit", "year", "conflict", "war"]]
        f = f.merge(c, on=["unit", "year"], how="left")
        feats += ["conflict", "war"]
        if borders:
            cc = cpanel[["unit", "year", "conflict"]].copy()
            cc["nb_conflict"] = neighbour_mean(cc, "conflict", borders).fillna(0.0)
            f = f.merge(cc[["unit", "year", "nb_conflict"]], on=["unit", "year"], how="left")
            feats.append("nb_conflict")
    if borders:
        f["nb_log_outflow"] = neighbour_mean(f, "log_outflow", borders)
        feats.append("nb_log_outflow")
    f["y"] = _next(f, "surge")
    f["current"] = f["surge"]
    f = f[f["current"].notna()]
    return _finish("displacement", "event", f, feats,
                   f"displacement surge in t+1: new outflow more than doubles and rises by >= {surge_min:,.0f} persons "
                   "(UNHCR flows)")


# ---------------------------------------------------------------------------- indicators


def indicator_event_task(tidy: pd.DataFrame, indicator: str, threshold: float, *, above: bool = True,
                         borders: Mapping[str, Iterable[str]] | None = None, name: str | None = None) -> Task:
    """``indicator`` beyond ``threshold`` in ``t + 1`` (consecutive annual observations).

    Features of ``t``: the value in ``t`` and ``t-1``, the mean of ``t-4..t``, whether the
    threshold is crossed in ``t``, and the neighbours' mean value in ``t``.
    """
    d = tidy[tidy["indicator"] == indicator][["unit", "year", "value"]]
    if d.empty:
        raise HumsecError(f"no observations of indicator '{indicator}'")
    f = d.groupby(["unit", "year"], as_index=False)["value"].mean().sort_values(["unit", "year"])
    f = f.reset_index(drop=True)
    f["event"] = ((f["value"] > threshold) if above else (f["value"] < threshold)).astype(float)
    f["lag1"] = _lag(f, "value")
    f["mean5"] = f.groupby("unit")["value"].transform(lambda s: s.rolling(5, min_periods=1).mean())
    feats = ["value", "lag1", "mean5", "event"]
    if borders:
        f["nb_value"] = neighbour_mean(f, "value", borders)
        feats.append("nb_value")
    f["y"] = _next(f, "event")
    f["current"] = f["event"]
    op = ">" if above else "<"
    return _finish(name or f"{indicator}{op}{threshold:g}", "event", f, feats,
                   f"{indicator} {op} {threshold:g} in t+1")
