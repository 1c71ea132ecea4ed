"""Rolling-origin backtests and the accuracy ledger.

For every forecast origin ``T`` (the year whose data are the latest known), a model and
the baselines (:mod:`humsec.forecast.models`) are fitted on the rows whose outcome year
is ``<= T`` (feature years ``<= T - 1``) and forecast the rows of feature year ``T``
(outcome year ``T + 1``). Nothing observed after ``T`` is used: :func:`split` asserts
``max(train outcome year) < min(test outcome year)`` and the same for feature years at
every origin, so the future can never be shuffled into the past. Scores are pooled over
all origins (and reported per origin); the baselines are scored on exactly the same rows
in the same run.

The :class:`Ledger` states per metric the model's score, the baselines' scores, the skill
``1 - S_model / S_baseline`` and whether the model beats each baseline - and
:meth:`Ledger.verdict` says so in words, including when it does not. :func:`write_ledger`
writes the table (CSV and JSON), the per-origin scores, the forecasts and PNG plots
(reliability diagram, score by origin; matplotlib's Agg backend).

References
----------
.. [Tashman00] Tashman, L. J. (2000). Out-of-sample tests of forecasting accuracy: an
   analysis and review. *International Journal of Forecasting* 16(4), 437-450
   (rolling-origin evaluation).
.. [GR07] Gneiting, T., Raftery, A. E. (2007). Strictly proper scoring rules,
   prediction, and estimation. *JASA* 102(477), 359-378.
.. [Hegre19] Hegre, H. et al. (2019). ViEWS: A political violence early-warning system.
   *Journal of Peace Research* 56(2), 155-174.
.. [Hegre22] Hegre, H., Vesco, P., Colaresi, M. (2022). Lessons from an escalation
   prediction competition. *International Interactions* 48(4), 521-554.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.forecast import models as M
from humsec.forecast import scores as S
from humsec.forecast.tasks import Task

__all__ = ["Backtest", "Ledger", "LeakageError", "backtest", "ledger", "origin_splits", "split", "write_ledger"]

BASELINES = ("persistence", "climatology")
#: Event metrics (lower is better except AUC-PR).
EVENT_METRICS = ("brier", "log_score", "auc_pr")
QUANTITY_METRICS = ("crps", "interval_score_90", "mae_median", "coverage_90")
HIGHER_BETTER = {"auc_pr"}
#: Metrics reported but not used for "beats" (coverage is a property, not a score).
NOT_A_SCORE = {"coverage_90"}


class LeakageError(HumsecError):
    """Training data reach into the test period (a bug, never expected)."""


def split(task: Task, origin: int, *, min_train_years: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and test rows of one forecast origin.

    Returns
    -------
    (train, test)
        ``train``: observed outcomes with ``target_year <= origin``; ``test``: observed
        outcomes of feature year ``origin``.

    Raises
    ------
    LeakageError
        If a training row's outcome or feature year is not before the test rows' (cannot
        happen with this construction; the check guards later edits).
    HumsecError
        Too little training data.
    """
    known = task.known
    train = known[known["target_year"] <= origin]
    test = known[known["year"] == origin]
    if train["year"].nunique() < min_train_years:
        raise HumsecError(f"{task.name}: origin {origin} has {train['year'].nunique()} training year(s), "
                          f"need {min_train_years}")
    if len(test) and len(train):
        if train["target_year"].max() >= test["target_year"].min() or train["year"].max() >= test["year"].min():
            raise LeakageError(f"{task.name}: training rows reach into the test period at origin {origin}")
    return train, test


@dataclass(frozen=True)
class Backtest:
    """Out-of-sample forecasts of a rolling-origin backtest.

    Attributes
    ----------
    task : str
    kind : {"event", "quantity"}
    model : str
    forecasts : pandas.DataFrame
        One row per (origin, unit): ``origin, unit, year, target_year, y, current`` and
        per forecaster (model, persistence, climatology) ``p_<f>`` (events) or
        ``q<level>_<f>`` (quantities).
    origins : tuple of int
    seed : int
    train_sizes : dict
        Origin -> training rows.
    """

    task: str
    kind: str
    model: str
    forecasts: pd.DataFrame
    origins: tuple[int, ...]
    seed: int
    description: str = ""
    train_sizes: dict[int, int] = field(default_factory=dict)
    levels: tuple[float, ...] = M.LEVELS

    @property
    def forecasters(self) -> tuple[str, ...]:
        return (self.model, *BASELINES)

    def quantiles(self, who: str) -> np.ndarray:
        return self.forecasts[[_qcol(t, who) for t in self.levels]].to_numpy(dtype=float)



def origin_splits(task: Task, origins: Sequence[int], *, min_train_years: int = 1
                  ) -> Iterator[tuple[int, pd.DataFrame, pd.DataFrame]]:
    """``(origin, train, test)`` for every rolling origin, in year order, skipping origins
    with fewer than ``min_train_years`` years of known outcomes or no test rows (the
    leakage guard of :func:`split` applies to each)."""
    for T in sorted({int(o) for o in origins}):
        known = task.known
        if known[known["target_year"] <= T]["year"].nunique() < min_train_years:
            continue
        train, test = split(task, T, min_train_years=min_train_years)
        if test.empty:
            continue
        yield T, train, test

def _qcol(tau: float, who: str) -> str:
    return f"q{int(round(tau * 100)):02d}_{who}"


def backtest(task: Task, model: str, origins: Sequence[int], *, seed: int, min_train_years: int = 5) -> Backtest:
    """Rolling-origin backtest of ``model`` on ``task`` with persistence and climatology.

    Parameters
    ----------
    task : Task
    model : str
        A key of :data:`~humsec.forecast.models.EVENT_MODELS` (event tasks) or
        :data:`~humsec.forecast.models.QUANTITY_MODELS` (quantity tasks).
    origins : sequence of int
        Forecast origins (feature years); origins without test rows are skipped.
    seed : int
        Seed of the model (the same at every origin).
    min_train_years : int
        Origins with fewer training years are skipped.

    Raises
    ------
    HumsecError
        Wrong model for the task's kind, or no origin could be evaluated.
    """
    kind = task.kind
    if kind == "event" and model not in M.EVENT_MODELS:
        raise HumsecError(f"'{model}' is not an event model ({', '.join(M.EVENT_MODELS)}) for task '{task.name}'")
    if kind == "quantity" and model not in M.QUANTITY_MODELS:
        raise HumsecError(f"'{model}' is not a quantity model ({', '.join(M.QUANTITY_MODELS)}) for task '{task.name}'")
    with M.single_thread():  # small data: OpenMP threads only contend on shared cores
        return _backtest(task, model, origins, seed=seed, min_train_years=min_train_years)


def _backtest(task: Task, model: str, origins: Sequence[int], *, seed: int, min_train_years: int) -> Backtest:
    kind = task.kind
    feats = list(task.features)
    parts, used, sizes = [], [], {}
    for T, train, test in origin_splits(task, origins, min_train_years=min_train_years):
        out = test[["unit", "year", "target_year", "y", "current"]].copy()
        out.insert(0, "origin", T)
        if kind == "event":
            fitted = M.fit_event(model, train[feats], train["y"].astype(int), seed=seed)
            out[f"p_{model}"] = fitted.predict(test[feats])
            out["p_persistence"] = M.persistence_event(train["current"], train["y"], test["current"])
            out["p_climatology"] = M.climatology_event(train["y"], len(test))
        else:
            fitted_q = M.fit_quantity(model, train[feats], train["y"], train["current"], seed=seed)
            qs = {model: fitted_q.predict(test[feats], test["current"]),
                  "persistence": M.persistence_quantiles(train["current"], train["y"], test["current"]),
                  "climatology": M.climatology_quantiles(train["y"], len(test))}
            qs = {who: task.clip(q) for who, q in qs.items()}  # the same treatment for all
            for who, q in qs.items():
                for j, tau in enumerate(M.LEVELS):
                    out[_qcol(tau, who)] = q[:, j]
        parts.append(out)
        used.append(T)
        sizes[T] = len(train)
    if not parts:
        raise HumsecError(f"{task.name}: no forecast origin among {list(origins)[:3]}... has test rows and "
                          f"{min_train_years} training years (data years {task.years[0]}-{task.years[-1]})")
    return Backtest(task.name, kind, model, pd.concat(parts, ignore_index=True), tuple(used), seed,
                    task.description, sizes)


# ---------------------------------------------------------------------------- scoring


def _scores(bt: Backtest, rows: pd.DataFrame) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    y = rows["y"].to_numpy(dtype=float)
    for who in bt.forecasters:
        if bt.kind == "event":
            p = rows[f"p_{who}"].to_numpy(dtype=float)
            out[who] = {"brier": S.brier(p, y), "log_score": S.log_score(p, y), "auc_pr": S.auc_pr(p, y)}
        else:
            q = rows[[_qcol(t, who) for t in bt.levels]].to_numpy(dtype=float)
            med = q[:, len(bt.levels) // 2 - 1: len(bt.levels) // 2 + 1].mean(axis=1)
            out[who] = {"crps": S.crps_quantiles(bt.levels, q, y),
                        "interval_score_90": S.interval_score(q[:, 0], q[:, -1], y, M.ALPHA),
                        "mae_median": float(np.mean(np.abs(med - y))),
                        "coverage_90": S.coverage(q[:, 0], q[:, -1], y)}
    return out


def _subsets(bt: Backtest) -> dict[str, pd.DataFrame]:
    f = bt.forecasts
    subsets = {"all": f}
    if bt.kind == "event":
        subsets["onset (no event in t)"] = f[f["current"] == 0]
        subsets["continuation (event in t)"] = f[f["current"] == 1]
    return {k: v for k, v in subsets.items() if len(v)}


@dataclass(frozen=True)
class Ledger:
    """The accuracy ledger of one backtest.

    Attributes
    ----------
    table : pandas.DataFrame
        ``task, model, subset, metric, n, events, model_score, persistence, climatology,
        skill_vs_persistence, skill_vs_climatology, beats_persistence,
        beats_climatology`` (skill = ``1 - S/S_ref``; for AUC-PR, higher is better and
        skill is ``S/S_ref - 1``).
    by_origin : pandas.DataFrame
        The main metric per origin and forecaster.
    """

    task: str
    model: str
    kind: str
    table: pd.DataFrame
    by_origin: pd.DataFrame
    origins: tuple[int, ...]
    description: str = ""

    @property
    def main_metrics(self) -> tuple[str, ...]:
        return ("brier", "log_score") if self.kind == "event" else ("crps", "interval_score_90")

    def beats(self, baseline: str) -> bool:
        """True when the model is better than ``baseline`` on every main proper score (all rows)."""
        t = self.table[(self.table["subset"] == "all") & self.table["metric"].isin(self.main_metrics)]
        return bool(t[f"beats_{baseline}"].all())

    def verdict(self) -> list[str]:
        """Plain statements, one per baseline, of whether the model beats it."""
        t = self.table[self.table["subset"] == "all"].set_index("metric")
        lines = []
        for b in BASELINES:
            parts = []
            for m in self.main_metrics:
                sk = t.at[m, f"skill_vs_{b}"]
                parts.append(f"{m} {t.at[m, 'model_score']:.4g} vs {t.at[m, b]:.4g} (skill {sk:+.3f})")
            tie = all(np.isclose(t.at[m, "model_score"], t.at[m, b], rtol=1e-9, atol=1e-12)
                      for m in self.main_metrics)
            word = "BEATS" if self.beats(b) else ("TIES with (does not beat)" if tie else "does NOT beat")
            lines.append(f"{self.model} {word} {b} on {self.task} "
                         f"(origins {self.origins[0]}-{self.origins[-1]}, n={int(t.iloc[0]['n'])}): "
                         + "; ".join(parts))
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "model": self.model, "kind": self.kind, "description": self.description,
                "origins": list(self.origins), "beats_persistence": self.beats("persistence"),
                "beats_climatology": self.beats("climatology"), "verdict": self.verdict(),
                "table": json.loads(self.table.to_json(orient="records"))}


def ledger(bt: Backtest) -> Ledger:
    """Score a backtest: model and baselines on the same rows, overall and per subset."""
    metrics = EVENT_METRICS if bt.kind == "event" else QUANTITY_METRICS
    rows = []
    for name, sub in _subsets(bt).items():
        sc = _scores(bt, sub)
        for m in metrics:
            r: dict[str, Any] = {"task": bt.task, "model": bt.model, "subset": name, "metric": m, "n": len(sub),
                 "events": int(sub["y"].sum()) if bt.kind == "event" else None,
                 "model_score": sc[bt.model][m]}
            for b in BASELINES:
                r[b] = sc[b][m]
                if m in NOT_A_SCORE:
                    r[f"skill_vs_{b}"] = float("nan")
                    r[f"beats_{b}"] = None
                    continue
                if m in HIGHER_BETTER:
                    ok = np.isfinite(r[b]) and r[b] > 0
                    r[f"skill_vs_{b}"] = float(r["model_score"] / r[b] - 1) if ok else float("nan")
                    r[f"beats_{b}"] = bool(r["model_score"] > r[b]) if ok else None
                else:
                    r[f"skill_vs_{b}"] = S.skill(r["model_score"], r[b])
                    r[f"beats_{b}"] = bool(r["model_score"] < r[b])
            rows.append(r)
    table = pd.DataFrame(rows)
    main = "brier" if bt.kind == "event" else "crps"
    per = []
    for T, sub in bt.forecasts.groupby("origin"):
        sc = _scores(bt, sub)
        per.append({"origin": int(T), "target_year": int(T) + 1, "n": len(sub), "metric": main,
                    **{who: sc[who][main] for who in bt.forecasters}})
    return Ledger(bt.task, bt.model, bt.kind, table, pd.DataFrame(per), bt.origins, bt.description)


# ---------------------------------------------------------------------------- output


def write_ledger(led: Ledger, bt: Backtest, out: str | Path) -> list[Path]:
    """Write ``ledger_<task>_<model>.csv/.json``, per-origin scores, forecasts and plots.

    Returns
    -------
    list of Path
        The files written.
    """
    # local: Matplotlib (0.1 s+) only for this plot; the backtest itself runs without it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{led.task.replace(':', '_')}_{led.model}"
    files = []
    p = out / f"ledger_{stem}.csv"
    led.table.to_csv(p, index=False)
    files.append(p)
    p = out / f"ledger_{stem}.json"
    p.write_text(json.dumps(led.to_dict(), indent=2, default=str), encoding="utf-8")
    files.append(p)
    p = out / f"by_origin_{stem}.csv"
    led.by_origin.to_csv(p, index=False)
    files.append(p)
    p = out / f"forecasts_{stem}.csv"
    bt.forecasts.to_csv(p, index=False)
    files.append(p)

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for who in bt.forecasters:
        ax.plot(led.by_origin["target_year"], led.by_origin[who], marker="o", label=who)
    ax.set_xlabel("outcome year")
    ax.set_ylabel(led.by_origin["metric"].iloc[0] + " (lower is better)")
    ax.set_title(f"{led.task}: {led.model} vs baselines, rolling origin")
    ax.legend()
    fig.tight_layout()
    p = out / f"scores_by_origin_{stem}.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    files.append(p)

    fig, ax = plt.subplots(figsize=(5, 5))
    if bt.kind == "event":
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for who in bt.forecasters:
            rel = S.reliability(bt.forecasts[f"p_{who}"], bt.forecasts["y"])
            ax.plot(rel["mean_forecast"], rel["observed"], marker="o", label=who)
        ax.set_xlabel("forecast probability")
        ax.set_ylabel("observed frequency")
        ax.set_title(f"Reliability: {led.task}")
    else:
        levels = np.asarray(bt.levels)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for who in bt.forecasters:
            q = bt.quantiles(who)
            cov = (bt.forecasts["y"].to_numpy()[:, None] <= q).mean(axis=0)
            ax.plot(levels, cov, marker="o", label=who)
        ax.set_xlabel("quantile level")
        ax.set_ylabel("share of outcomes at or below the quantile")
        ax.set_title(f"Quantile calibration: {led.task}")
    ax.legend()
    fig.tight_layout()
    p = out / f"calibration_{stem}.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    files.append(p)
    return files
