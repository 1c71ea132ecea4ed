"""Named forecasting models: data, task, estimator and default origins in one place.

A model name is ``<task>`` or ``<task>-<estimator>`` (e.g. ``conflict``, ``conflict-gbm``,
``hsi-qlinear``); :data:`MODELS` lists the tasks. ``conflict``, ``war`` and
``displacement`` use UCDP and UNHCR as carried by the data release (the panel given, else
the shipped release; never a directory);
``hsi`` and ``conflict_deaths`` run on a panel - the data release (the default panel, or
any :class:`~humsec.model.panel.Panel` passed in, e.g. with the user's imports).
``conflict_deaths`` needs only the panel and reads the shipped release when none is given.

Forecast origins follow the data where a model gives no fixed range (``hsi``: the last
:data:`RECENT_ORIGINS` feature years whose outcome is observed, i.e. ending the year
before the index's latest year).

:func:`run_backtest` runs the rolling-origin backtest(s) of a model and scores them
(:mod:`humsec.forecast.backtest`); :func:`forecast_unit` fits the model on every
observed year and forecasts one country's next year, beside the baselines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from humsec.analysis.assess import default_year, history, index_data
from humsec.data.countries import CountryRegistry
from humsec.data.default import default_release
from humsec.data.release.load import load_release
from humsec.errors import HumsecError
from humsec.forecast import models as M
from humsec.forecast import series as SE
from humsec.forecast import tasks as T
from humsec.forecast.backtest import backtest, ledger
from humsec.forecast.onset import structural_panel
from humsec.forecast.tasks import Task

if TYPE_CHECKING:  # the backtest module imports scipy.stats (0.5 s): only run_backtest needs it
    from humsec.forecast.backtest import Backtest, Ledger

__all__ = ["CONFLICT_DEATHS_THRESHOLD", "DEFAULT_SEED", "MODELS", "RECENT_ORIGINS", "TaskInfo", "default_origins",
           "forecast_unit", "make_tasks", "parse_model", "run_backtest"]

DEFAULT_SEED = 20240101
#: Threshold of the ``conflict_deaths`` event: deaths in organised violence (UCDP, state-based,
#: non-state and one-sided, where they occurred) per 100,000 people in a year. About one
#: country-year in nine of 1990-2024 is above it (10-26 countries a year since 2000).
CONFLICT_DEATHS_THRESHOLD = 1.0
#: Origins of a model without a fixed range: this many latest feature years with an observed outcome.
RECENT_ORIGINS = 5


@dataclass(frozen=True)
class TaskInfo:
    """A named task: where its data come from, its default estimator and origins."""

    name: str
    kind: str
    source: str  # "shared" (shared-data directory) or "release" (a panel: the data release)
    estimator: str
    #: first and last forecast origin; None (or a None end) = follow the data (see :func:`default_origins`)
    origins: tuple[int | None, int | None] | None
    min_train_years: int
    description: str


MODELS: dict[str, TaskInfo] = {
    "conflict": TaskInfo("conflict", "event", "shared", "logit", (2000, 2023), 10,
                         "armed conflict in t+1 (UCDP/PRIO ACD), country-year"),
    "war": TaskInfo("war", "event", "shared", "logit", (2000, 2023), 10,
                    "war (>= 1,000 battle deaths) in t+1 (UCDP/PRIO ACD)"),
    "displacement": TaskInfo("displacement", "event", "shared", "gbm", (2006, 2023), 5,
                             "displacement surge in t+1 (UNHCR flows; conflict features from UCDP)"),
    "hsi": TaskInfo("hsi", "quantity", "release", "qgbm", None, 3,
                    "next-year HSI and dimension scores (data release)"),
    "conflict_deaths": TaskInfo("conflict_deaths", "event", "release", "logit", (2000, None), 10,
                                f"deaths in organised violence > {CONFLICT_DEATHS_THRESHOLD:g} per 100,000 in t+1 "
                                "(UCDP country-year v25.1, data release)"),
}


def default_origins(info: TaskInfo, tasks: Sequence[Task]) -> list[int]:
    """Forecast origins of a model: its fixed range, with a missing end (or no range at all)
    taken from the data - the latest feature year whose outcome is observed, and
    :data:`RECENT_ORIGINS` years back from it when there is no start either."""
    last = max(int(t.known["year"].max()) for t in tasks if len(t.known))
    lo, hi = info.origins if info.origins is not None else (None, None)
    hi = last if hi is None else int(hi)
    lo = hi - RECENT_ORIGINS + 1 if lo is None else int(lo)
    return list(range(lo, hi + 1))


def parse_model(name: str) -> tuple[TaskInfo, str]:
    """``conflict`` / ``conflict-gbm`` -> (task info, estimator)."""
    task, _, est = str(name).strip().lower().partition("-")
    if task not in MODELS:
        raise HumsecError(f"unknown model '{name}': expected one of "
                          + ", ".join(f"{k}[-{'|'.join(M.EVENT_MODELS if v.kind == 'event' else M.QUANTITY_MODELS)}]"
                                      for k, v in MODELS.items()))
    info = MODELS[task]
    est = est or info.estimator
    allowed = M.EVENT_MODELS if info.kind == "event" else M.QUANTITY_MODELS
    if est not in allowed:
        raise HumsecError(f"model '{name}': '{est}' is not a{'n event' if info.kind == 'event' else ' quantity'} "
                          f"estimator ({', '.join(allowed)})")
    return info, est


def make_tasks(info: TaskInfo, *, data_dir: str | Path | None = None, panel: Any = None, spec: Any = None,
               registry: Any = None, nodes: Sequence[str] | None = None) -> list[Task]:
    """Build the task(s) of a named model from its data.

    Parameters
    ----------
    data_dir : path, optional
        Shared-data directory (resolved by :func:`~humsec.forecast.series.resolve_data_dir`).
    panel, spec : optional
        Panel and index spec of the release tasks: ``hsi`` needs both; ``conflict_deaths``
        only the panel (default: the shipped data release).
    nodes : sequence of str, optional
        ``hsi`` only: the nodes to forecast (default: the index and every dimension).
    """
    reg = registry or CountryRegistry.default()
    borders = reg.border_graph()
    if info.source == "shared":  # UCDP and UNHCR as carried by the data release (no data directory)

        if panel is None:
            panel = load_release().panel
        sp = structural_panel(panel, registry=reg)
        cp = sp[["unit", "year", "conflict", "war"]].assign(n_conflicts=sp["conflict"])
        if info.name == "displacement":
            dp = SE.release_displacement_panel(default_release().displacement, known=sorted(reg.codes))
            return [T.displacement_task(dp, cpanel=cp, borders=borders)]

        t = T.conflict_task(cp, borders, target=info.name, first_year=int(cp["year"].min()))
        return [dataclasses.replace(t, description=(
            f"{'armed conflict (>= 25' if info.name == 'conflict' else 'war (>= 1,000'} battle-related deaths in "
            "state-based conflict on the territory) in t+1, UCDP via the data release"))]
    if info.name == "conflict_deaths":
        if panel is None:
            panel = load_release().panel
        tidy = panel.filter(indicators=["conflict_deaths"], totals_only=True).data.dropna(subset=["value"])
        if tidy.empty:
            raise HumsecError("model 'conflict_deaths': the panel holds no observations of conflict_deaths "
                              "(UCDP deaths in organised violence per 100,000)")
        return [T.indicator_event_task(tidy, "conflict_deaths", CONFLICT_DEATHS_THRESHOLD, borders=borders,
                                       name="conflict_deaths")]
    if panel is None or spec is None:
        raise HumsecError(f"model '{info.name}' needs the panel and index spec")

    data = index_data(panel, spec)
    last = default_year(spec, data)
    years = sorted(int(y) for y in data["year"].unique())
    hist = history(spec, data, [y for y in years if last - 12 <= y <= last])
    regions = {u: reg.region(u) for u in hist.index.get_level_values("unit").unique() if reg.is_iso3(u)}
    nodes = list(nodes) if nodes is not None else list(hist.columns)
    return [T.hsi_task(hist, n, regions=regions, borders=borders, last_year=last) for n in nodes]


def run_backtest(name: str, *, data_dir: str | Path | None = None, panel: Any = None, spec: Any = None,
                 origins: Sequence[int] | None = None, seed: int = DEFAULT_SEED, nodes: Sequence[str] | None = None,
                 tasks: Sequence[Task] | None = None) -> list[tuple[Backtest, Ledger]]:
    """Backtest a named model (every task of it) and score it against the baselines.

    Parameters
    ----------
    name : str
        ``<task>[-<estimator>]`` (see :data:`MODELS`).
    origins : sequence of int, optional
        Forecast origins (default: the model's range, following the data where it has
        none - :func:`default_origins`).
    seed : int
    tasks : sequence of Task, optional
        Pre-built tasks (skip :func:`make_tasks`).
    """
    info, est = parse_model(name)
    tasks = list(tasks) if tasks is not None else make_tasks(info, data_dir=data_dir, panel=panel, spec=spec,
                                                              nodes=nodes)
    origins = list(origins) if origins is not None else default_origins(info, tasks)
    out = []
    for t in tasks:
        bt = backtest(t, est, origins, seed=seed, min_train_years=info.min_train_years)
        out.append((bt, ledger(bt)))
    return out


def forecast_unit(name: str, unit: str, *, data_dir: str | Path | None = None, panel: Any = None, spec: Any = None,
                  seed: int = DEFAULT_SEED, registry: Any = None) -> pd.DataFrame:
    """Forecast one country's next year with a model fitted on every observed year.

    Returns
    -------
    pandas.DataFrame
        Events: ``target, unit, year, target_year, current, model, probability,
        persistence, climatology``; quantities: ``target, unit, year, target_year,
        current, model, q05 ... q95`` (median ``q50`` interpolated), one row per node, with
        the baselines' 90 % intervals.
    """
    reg = registry or CountryRegistry.default()
    code = str(unit).strip().upper()
    if not reg.is_iso3(code):
        reg.info(code)
    info, est = parse_model(name)
    tasks = make_tasks(info, data_dir=data_dir, panel=panel, spec=spec, registry=reg)
    rows = []
    with M.single_thread():
        for t in tasks:
            f = t.frame
            mine = f[f["unit"] == code]
            if mine.empty:
                raise HumsecError(f"{code} ({reg.name(code)}) has no data for '{t.name}'")
            last = int(mine["year"].max())
            row = mine[mine["year"] == last]
            train = t.known[t.known["target_year"] <= last]
            feats = list(t.features)
            base = {"target": t.name, "unit": code, "year": last, "target_year": last + 1,
                    "current": float(row["current"].iloc[0]), "model": est}
            if t.kind == "event":
                fit = M.fit_event(est, train[feats], train["y"].astype(int), seed=seed)
                base["probability"] = float(fit.predict(row[feats])[0])
                base["persistence"] = float(M.persistence_event(train["current"], train["y"], row["current"])[0])
                base["climatology"] = float(M.climatology_event(train["y"], 1)[0])
            else:
                fit_q = M.fit_quantity(est, train[feats], train["y"], train["current"], seed=seed)
                q = t.clip(fit_q.predict(row[feats], row["current"]))[0]
                for tau, v in zip(M.LEVELS, q):
                    base[f"q{int(round(tau * 100)):02d}"] = float(v)
                base["q50"] = float(np.interp(0.5, M.LEVELS, q))
                pq = t.clip(M.persistence_quantiles(train["current"], train["y"], row["current"]))[0]
                cq = t.clip(M.climatology_quantiles(train["y"], 1))[0]
                base["persistence_90"] = f"{pq[0]:.1f}-{pq[-1]:.1f}"
                base["climatology_90"] = f"{cq[0]:.1f}-{cq[-1]:.1f}"
            rows.append(base)
    return pd.DataFrame(rows)
