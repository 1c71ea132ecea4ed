"""Armed-conflict onset and incidence forecasts from structural covariates (Prevention 2.0).

Data: the data release only (or any panel with the same indicators - the store's current
panel); nothing is read from a path.

* **Outcome.** A country is *in conflict* in year ``s`` when UCDP counts at least
  :data:`BATTLE_DEATHS` battle-related deaths in state-based armed conflict on its
  territory that year (``state_based_deaths``, the release's rate per 100,000, times
  ``pop_total`` / 100,000 recovers the count). The event of horizon ``h`` for the
  features of year ``t`` is *conflict in at least one of the years t+1 ... t+h*
  (observed only when all ``h`` years are). *Onset* rows are those with no conflict in
  ``t``; *fresh onsets* those with at least 2 or 10 conflict-free years up to ``t``
  (counted from 1990, the first UCDP year of the release: the count is a lower bound,
  so a row with ten counted peace years really had ten).
* **Features** of year ``t`` (values of years ``<= t`` only: the last observation is
  carried forward, never interpolated; five-yearly WPP age structures likewise):
  conflict history (as the history-only model), deaths in state-based, non-state and
  one-sided violence, neighbours in conflict (land borders), income (GDP per capita and
  growth), population, child mortality relative to the year's world median (PITF's
  infant-mortality term, with the under-5 rate, which the release has for every year),
  regime type (V-Dem electoral and liberal democracy), an anocracy term, regime change
  over three years (Fearon-Laitin's instability), political exclusion (V-Dem egalitarian
  democracy: equal protection and equal access to power), WGI political stability, recent
  displacement (new refugees and stocks per 1,000, IDPs) and the youth share (ages 15-24
  among adults, Urdal's youth bulge) and median age.
* **Models.** ``onset``: chosen at every forecast origin *inside its training window*
  (the last :data:`VAL_YEARS` feature years of the window are a validation block, the
  rest the inner training set) among an L2 logit at two penalties, histogram gradient
  boosting recalibrated by Platt scaling on the validation block, and their average; the
  winner has the lowest validation log score on onset rows and is refitted on the whole
  window. Baselines, fitted on the same window in the same run: *persistence*
  (``P(event | state in t)``), *climatology* (base rate), *history* (the logit on
  conflict history and neighbours only - the previous humsec model) and *fearon_laitin*
  (a logit on prior conflict, log GDP per capita, log population, democracy, anocracy
  and instability - the covariates of Fearon & Laitin 2003 that the release holds;
  terrain, oil, new-state and fractionalisation terms are not in it).

References
----------
.. [FL03] Fearon, J. D., Laitin, D. D. (2003). Ethnicity, insurgency, and civil war.
   *American Political Science Review* 97(1), 75-90.
.. [Goldstone10] Goldstone, J. A. et al. (2010). A global model for forecasting political
   instability. *American Journal of Political Science* 54(1), 190-208.
.. [Hegre13] Hegre, H., Karlsen, J., Nygård, H. M., Strand, H., Urdal, H. (2013).
   Predicting armed conflict, 2010-2050. *International Studies Quarterly* 57(2), 250-270.
.. [Urdal06] Urdal, H. (2006). A clash of generations? Youth bulges and political
   violence. *International Studies Quarterly* 50(3), 607-629.
.. [Hegre19] Hegre, H. et al. (2019). ViEWS: A political violence early-warning system.
   *Journal of Peace Research* 56(2), 155-174.
.. [Platt99] Platt, J. (1999). Probabilistic outputs for support vector machines and
   comparisons to regularized likelihood methods. *Advances in Large Margin Classifiers*.
.. [Davies25] Davies, S., Pettersson, T., Öberg, M. (2025). Organized violence 1989-2024.
   *Journal of Peace Research* 62(4) (UCDP).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from humsec.data.countries import CountryRegistry
from humsec.errors import HumsecError
from humsec.forecast import models as M
from humsec.forecast import scores as S
from humsec.forecast.backtest import LeakageError, origin_splits
from humsec.forecast.models import single_thread
from humsec.forecast.series import neighbour_mean
from humsec.forecast.tasks import Task, displacement_task

__all__ = [
    "BATTLE_DEATHS", "BASELINES", "FEATURES", "FORECASTERS", "HORIZONS", "OnsetBacktest", "RELATIVE_RISK",
    "SelectedModel", "TARGETS", "WAR_DEATHS", "backtest_onset", "displacement_backtest", "surge_subsets", "drivers", "fit_selected", "onset_task",
    "skill_table", "structural_panel", "target_check", "watch_list",
]

BATTLE_DEATHS = 25
WAR_DEATHS = 1000
HORIZONS = (1, 3, 5)
#: Feature years at the end of each training window held out to choose the model.
VAL_YEARS = 4
#: First forecast origin of the backtests (ten feature years of training before it).
FIRST_ORIGIN = 2000
#: A forecast is a *warning* when its probability is at least this multiple of the
#: training window's base rate among rows in the same state (onset rows: peace in t);
#: fixed a priori, never tuned on the backtest.
RELATIVE_RISK = 3.0
#: Peace-spell lengths of the "fresh onset" subsets.
FRESH = (2, 10)
#: Targets of issue #20 (metric, subset, horizon, comparison, value).
TARGETS: tuple[tuple[str, str, int, str, float], ...] = (
    ("auc_roc", "incidence", 1, ">=", 0.95),
    ("auc_roc", "onset", 1, ">=", 0.88),
    ("auc_roc", "fresh onset (>= 10 peace years)", 1, ">=", 0.85),
    ("bss_vs_every_baseline", "onset", 1, ">", 0.0),
)

_TOTAL = dict(sex="_T", age="_T", group="_T")
_INDICATORS = ("state_based_deaths", "non_state_deaths", "one_sided_deaths", "pop_total", "gdp_pc", "gdp_growth",
               "u5mr", "electoral_democracy", "liberal_democracy", "egalitarian_democracy", "political_stability",
               "new_refugees_origin", "refugees_origin", "idps", "median_age")

HISTORY = ("conflict", "war", "log_peace", "share5", "share10", "nb_conflict", "nb_war")
FEARON_LAITIN = ("conflict", "log_gdp_pc", "log_pop", "democracy", "anocracy", "instability")
FULL = (*HISTORY, "log_bd", "log_ns", "log_os", "nb_n_conflict", "log_gdp_pc", "gdp_growth", "log_pop",
        "log_u5mr_rel", "democracy", "liberal", "anocracy", "instability", "d_demo3", "egalitarian",
        "pol_stability", "log_new_ref", "log_ref_stock", "log_idps", "youth_share", "median_age")
#: Feature set of each model.
FEATURES: Mapping[str, tuple[str, ...]] = {"onset": FULL, "history": HISTORY, "fearon_laitin": FEARON_LAITIN}
BASELINES = ("history", "fearon_laitin", "persistence", "climatology")
FORECASTERS = ("onset", *BASELINES)

#: Driver groups: label -> features (for the words of :func:`drivers`).
GROUPS: Mapping[str, tuple[str, ...]] = {
    "conflict history": ("conflict", "war", "log_peace", "share5", "share10", "log_bd"),
    "other organised violence": ("log_ns", "log_os"),
    "conflict next door": ("nb_conflict", "nb_war", "nb_n_conflict"),
    "income": ("log_gdp_pc", "gdp_growth"),
    "population size": ("log_pop",),
    "child mortality": ("log_u5mr_rel",),
    "regime type and change": ("democracy", "liberal", "anocracy", "instability", "d_demo3"),
    "political exclusion": ("egalitarian",),
    "political stability": ("pol_stability",),
    "recent displacement": ("log_new_ref", "log_ref_stock", "log_idps"),
    "youth bulge": ("youth_share", "median_age"),
}


# ---------------------------------------------------------------------------- panel


def _wide(panel: Any) -> pd.DataFrame:
    d = panel.data
    d = d[d["indicator"].isin(_INDICATORS)]
    d = d[(d["sex"] == "_T") & (d["age"] == "_T") & (d["group"] == "_T")].dropna(subset=["value"])
    return d.pivot_table(index=["unit", "year"], columns="indicator", values="value", aggfunc="mean")


def _youth(panel: Any) -> pd.DataFrame:
    d = panel.data
    d = d[(d["indicator"] == "pop") & d["sex"].isin(["F", "M"])].dropna(subset=["value"])
    if d.empty:
        return pd.DataFrame(columns=["unit", "year", "youth_share"])
    ages = d["age"].astype(str)
    start = {a: float(a.split("-")[0].rstrip("+")) if a[:1].isdigit() else np.nan for a in ages.unique()}
    lo = ages.map(start).astype(float)
    adults = d[lo >= 15]
    young = d[(lo >= 15) & (lo < 25)]
    a = adults.groupby(["unit", "year"])["value"].sum()
    y = young.groupby(["unit", "year"])["value"].sum()
    return (y / a).rename("youth_share").reset_index()


def _years_since_peace(conflict: np.ndarray, first: int, years: np.ndarray) -> np.ndarray:
    """Consecutive conflict-free years up to and including each row (0 in conflict);
    before the first conflict, the years since ``first - 1`` (a lower bound)."""
    out = np.empty(len(conflict))
    last = None
    for i, (c, y) in enumerate(zip(conflict, years)):
        if c:
            last = y
        out[i] = 0.0 if c else (y - last if last is not None else y - first + 1)
    return out


def structural_panel(panel: Any, *, registry: Any = None) -> pd.DataFrame:
    """Country-year conflict state and structural covariates from a panel.

    Parameters
    ----------
    panel : humsec.model.panel.Panel
        The data release (or a panel with the same indicator codes).
    registry : CountryRegistry, optional
        Land borders (default registry).

    Returns
    -------
    pandas.DataFrame
        ``unit, year, battle_deaths, conflict, war, peace_years`` and the columns of
        :data:`FULL`, for every country-year with a UCDP observation.

    Raises
    ------
    HumsecError
        The panel lacks ``state_based_deaths`` or ``pop_total``.
    """
    reg = registry or CountryRegistry.default()
    w = _wide(panel)
    for need in ("state_based_deaths", "pop_total"):
        if need not in w.columns:
            raise HumsecError(f"the panel holds no '{need}' (needed for conflict forecasts: UCDP state-based "
                              "battle deaths per 100,000 and the population give the death count)")
    for c in _INDICATORS:
        if c not in w.columns:
            w[c] = np.nan
    obs = w["state_based_deaths"].notna() & w["pop_total"].notna()
    units = sorted(set(w.index[obs].get_level_values("unit")))
    y0, y1 = int(w.index[obs].get_level_values("year").min()), int(w.index[obs].get_level_values("year").max())
    grid = pd.MultiIndex.from_product([units, range(y0, y1 + 1)], names=["unit", "year"])
    f = w.reindex(grid)
    yt = _youth(panel).set_index(["unit", "year"])["youth_share"]
    f["youth_share"] = yt.reindex(grid)
    f = f.reset_index()
    have = pd.Series(obs.reindex(grid).fillna(False).to_numpy(dtype=bool), index=f.index)
    # the death count uses the same year's population (no carrying forward of outcomes)
    f["battle_deaths"] = f["state_based_deaths"] * f["pop_total"] / 1e5
    g = f.groupby("unit", sort=False)
    locf = ["pop_total", "gdp_pc", "gdp_growth", "u5mr", "electoral_democracy", "liberal_democracy",
            "egalitarian_democracy", "political_stability", "refugees_origin", "idps", "median_age", "youth_share"]
    f[locf] = g[locf].ffill()  # past values only
    f = f[have.to_numpy()].reset_index(drop=True)
    f["conflict"] = (f["battle_deaths"] >= BATTLE_DEATHS - 1e-6).astype(int)
    f["war"] = (f["battle_deaths"] >= WAR_DEATHS - 1e-6).astype(int)
    f = f.sort_values(["unit", "year"]).reset_index(drop=True)
    g = f.groupby("unit", sort=False)
    f["peace_years"] = np.concatenate([_years_since_peace(grp["conflict"].to_numpy(), y0, grp["year"].to_numpy())
                                       for _, grp in g])
    f["log_peace"] = np.log1p(f["peace_years"].clip(0, 60))
    for k in (5, 10):  # rows are sorted by unit and year
        f[f"share{k}"] = g["conflict"].rolling(k, min_periods=1).mean().to_numpy()
    borders = reg.border_graph()
    f["nb_conflict"] = neighbour_mean(f, "conflict", borders).fillna(0.0)
    f["nb_war"] = neighbour_mean(f, "war", borders).fillna(0.0)
    n_nb = f["unit"].map(lambda u: len(borders.get(u, ()))).astype(float)
    f["nb_n_conflict"] = f["nb_conflict"] * n_nb
    f["log_bd"] = np.log1p(f["battle_deaths"])
    f["log_ns"] = np.log1p(f["non_state_deaths"].fillna(0.0))
    f["log_os"] = np.log1p(f["one_sided_deaths"].fillna(0.0))
    f["log_gdp_pc"] = np.log(f["gdp_pc"].where(f["gdp_pc"] > 0))
    f["log_pop"] = np.log(f["pop_total"].where(f["pop_total"] > 0))
    med = f.groupby("year")["u5mr"].transform("median")
    f["log_u5mr_rel"] = np.log((f["u5mr"] / med).where(f["u5mr"] > 0))
    f["democracy"] = f["electoral_democracy"]
    f["liberal"] = f["liberal_democracy"]
    f["anocracy"] = 4 * f["democracy"] * (1 - f["democracy"])
    lag3 = f[["unit", "year", "democracy"]].assign(year=f["year"] + 3).rename(columns={"democracy": "_d3"})
    f = f.merge(lag3, on=["unit", "year"], how="left")
    f["d_demo3"] = f["democracy"] - f["_d3"]
    f["instability"] = f["d_demo3"].abs()
    f["egalitarian"] = f["egalitarian_democracy"]
    f["pol_stability"] = f["political_stability"]
    f["log_new_ref"] = np.log1p(f["new_refugees_origin"].fillna(0.0))
    f["log_ref_stock"] = np.log1p(f["refugees_origin"].fillna(0.0))
    f["log_idps"] = np.log1p(f["idps"].fillna(0.0))
    keep = list(dict.fromkeys(["unit", "year", "battle_deaths", "conflict", "war", "peace_years", "gdp_pc", "u5mr",
                               *FULL]))
    return f[keep].sort_values(["year", "unit"]).reset_index(drop=True)


def onset_task(sp: pd.DataFrame, horizon: int = 1) -> Task:
    """The conflict task of horizon ``horizon``: conflict in any of ``t+1 ... t+h``.

    ``target_year`` is ``t + h`` (the last outcome year), so :func:`~humsec.forecast.backtest.split`
    trains only on rows whose whole outcome window ends by the origin. The frame also
    holds ``peace_years`` (for the fresh-onset subsets).
    """
    h = int(horizon)
    if h < 1:
        raise HumsecError(f"horizon {horizon}: expected a positive number of years")
    f = sp.sort_values(["unit", "year"]).reset_index(drop=True)
    c = f.set_index(["unit", "year"])["conflict"]
    ahead = []
    for k in range(1, h + 1):
        idx = pd.MultiIndex.from_arrays([f["unit"], f["year"] + k])
        ahead.append(c.reindex(idx).to_numpy(dtype=float))
    A = np.column_stack(ahead)
    y = np.where(np.isnan(A).any(axis=1), np.nan, np.nanmax(np.where(np.isnan(A), 0, A), axis=1))
    f["y"] = y
    f["current"] = f["conflict"].astype(float)
    f["target_year"] = f["year"] + h
    f = f.sort_values(["year", "unit"]).reset_index(drop=True)
    frame = f[list(dict.fromkeys(["unit", "year", "target_year", "y", "current", "peace_years", *FULL]))]
    return Task(f"conflict_h{h}", "event", frame, FULL,
                f"armed conflict (>= {BATTLE_DEATHS} battle-related deaths in state-based conflict on the territory, "
                f"UCDP) in at least one of the next {h} year(s)")


# ---------------------------------------------------------------------------- models


def _logit(C: float, seed: int) -> Any:
    return make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                         StandardScaler(), LogisticRegression(C=C, max_iter=5000, random_state=seed))


def _gbm(seed: int) -> Any:
    return HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=8, min_samples_leaf=40,
                                          l2_regularization=1.0, early_stopping=False, random_state=seed)


def _lo(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class _Fit:
    kind: str  # "logit_c0.1", "logit_c1", "gbm", "const"
    features: tuple[str, ...]
    est: Any = None
    platt: tuple[float, float] | None = None
    const: float | None = None

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.const is not None:
            return np.full(len(X), self.const)
        p = self.est.predict_proba(X[list(self.features)].to_numpy(dtype=float))[:, 1]
        if self.platt is not None:
            a, b = self.platt
            p = 1 / (1 + np.exp(-(a + b * _lo(p))))
        return p


def _fit(kind: str, X: pd.DataFrame, y: np.ndarray, feats: Sequence[str], seed: int) -> _Fit:
    feats = tuple(feats)
    if len(np.unique(y)) < 2:
        return _Fit("const", feats, const=float((y.sum() + 1) / (len(y) + 2)))
    if kind == "gbm":  # a feature without two distinct values in the window carries no information
        feats = tuple(c for c in feats if X[c].nunique(dropna=True) >= 2)
    Z = X[list(feats)].to_numpy(dtype=float)
    if kind == "gbm":
        est = _gbm(seed)
    else:
        est = _logit(float(kind.split("_c")[1]), seed)
    est.fit(Z, y)
    return _Fit(kind, feats, est)


def _platt(p: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Platt scaling ``logit P = a + b logit p`` fitted on held-out rows (None if one class)."""
    if len(np.unique(y)) < 2:
        return None

    m = LogisticRegression(C=1e4, max_iter=1000).fit(_lo(p)[:, None], y)
    return float(m.intercept_[0]), float(m.coef_[0, 0])


CANDIDATES = ("logit_c0.1", "logit_c1", "gbm", "mean")


@dataclass
class SelectedModel:
    """The ``onset`` model of one training window: the chosen candidate and its fits."""

    chosen: str
    fits: tuple[_Fit, ...]
    validation: dict[str, float] = field(default_factory=dict)
    features: tuple[str, ...] = FULL

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.mean([f.predict(X) for f in self.fits], axis=0)


def fit_selected(train: pd.DataFrame, *, horizon: int, seed: int, features: Sequence[str] = FULL,
                 val_years: int = VAL_YEARS) -> SelectedModel:
    """Choose and fit the ``onset`` model on one training window (no row outside it is seen).

    The validation block is the window's last ``val_years`` feature years; the inner
    training rows are those whose outcome window ends before the block starts
    (``target_year <= V`` with ``V`` the block's first feature year, whose outcomes
    start in ``V + 1``), so the choice is a
    small rolling-origin backtest inside the window. Candidates: :data:`CANDIDATES`; the
    criterion is the validation log score on onset rows (no conflict in ``t``), or on all
    rows when the block has no onset event.
    """
    y = train["y"].to_numpy(dtype=int)
    last = int(train["year"].max())
    V = last - val_years + 1
    inner = train[train["target_year"] <= V]  # outcomes known at inner origin V; features of years <= V - h
    val = train[train["year"] >= V]
    if inner["year"].nunique() < 3 or val.empty or len(np.unique(inner["y"])) < 2:
        fit = _fit("logit_c1", train, y, features, seed)
        return SelectedModel("logit_c1", (fit,), {}, tuple(features))
    yi, yv = inner["y"].to_numpy(dtype=int), val["y"].to_numpy(dtype=int)
    fits = {k: _fit(k, inner, yi, features, seed) for k in ("logit_c0.1", "logit_c1", "gbm")}
    pv = {k: f.predict(val) for k, f in fits.items()}
    platt = _platt(pv["gbm"], yv)
    if platt is not None:
        a, b = platt
        pv["gbm"] = 1 / (1 + np.exp(-(a + b * _lo(pv["gbm"]))))
    pv["mean"] = (pv["logit_c1"] + pv["gbm"]) / 2
    on = (val["current"] == 0).to_numpy()
    m = on if yv[on].sum() > 0 else np.ones(len(val), bool)
    score = {k: S.log_score(p[m], yv[m]) for k, p in pv.items()}
    chosen = min(CANDIDATES, key=lambda k: (score[k], CANDIDATES.index(k)))
    parts = ("logit_c1", "gbm") if chosen == "mean" else (chosen,)
    out = []
    for k in parts:
        f = _fit(k, train, y, features, seed)
        if k == "gbm" and f.const is None:
            f.platt = platt
        out.append(f)
    return SelectedModel(chosen, tuple(out), score, tuple(features))


def _rates(train: pd.DataFrame) -> tuple[float, dict[int, float]]:
    y = train["y"].to_numpy(dtype=float)
    c = train["current"].to_numpy(dtype=int)
    clim = (y.sum() + 1) / (len(y) + 2)
    pers = {s: (y[c == s].sum() + 1) / ((c == s).sum() + 2) for s in (0, 1)}
    return float(clim), pers


# ---------------------------------------------------------------------------- backtest


@dataclass(frozen=True)
class OnsetBacktest:
    """Out-of-sample forecasts of one horizon.

    Attributes
    ----------
    forecasts : pandas.DataFrame
        ``origin, unit, year, target_year, y, current, peace_years``, ``p_<forecaster>``
        for :data:`FORECASTERS`, ``chosen`` (the onset model picked in that window) and
        ``warn_threshold`` (:data:`RELATIVE_RISK` x the window's onset base rate for rows
        at peace, x its continuation rate for rows in conflict).
    """

    horizon: int
    forecasts: pd.DataFrame
    origins: tuple[int, ...]
    seed: int
    description: str = ""


def backtest_onset(task: Task, origins: Sequence[int], *, seed: int, min_train_years: int = 8) -> OnsetBacktest:
    """Rolling-origin backtest of the onset model and its four baselines on one task.

    At origin ``T`` every forecaster is fitted on the rows with ``target_year <= T``
    (:func:`~humsec.forecast.backtest.split`, which raises
    :class:`~humsec.forecast.backtest.LeakageError` if a training row reaches the test
    period) and forecasts the rows of feature year ``T``.
    """
    h = int(task.name.rsplit("_h", 1)[1]) if "_h" in task.name else 1
    parts, used = [], []
    with single_thread():
        for T, train, test in origin_splits(task, origins, min_train_years=min_train_years):
            if train["year"].max() > T - h or train["target_year"].max() > T:
                raise LeakageError(f"{task.name}: training rows reach past origin {T}")
            out = test[["unit", "year", "target_year", "y", "current", "peace_years"]].copy()
            out.insert(0, "origin", T)
            sel = fit_selected(train, horizon=h, seed=seed)
            out["p_onset"] = sel.predict(test)
            y = train["y"].to_numpy(dtype=int)
            for b in ("history", "fearon_laitin"):
                out[f"p_{b}"] = _fit("logit_c1" if b == "history" else "logit_c10000", train, y, FEATURES[b],
                                     seed).predict(test)
            clim, pers = _rates(train)
            out["p_persistence"] = np.where(test["current"].to_numpy() == 1, pers[1], pers[0])
            out["p_climatology"] = clim
            out["chosen"] = sel.chosen
            out["warn_threshold"] = RELATIVE_RISK * np.where(test["current"].to_numpy() == 1, pers[1], pers[0])
            parts.append(out)
            used.append(T)
    if not parts:
        raise HumsecError(f"{task.name}: no forecast origin among {list(origins)[:3]}... has test rows and "
                          f"{min_train_years} training years")
    return OnsetBacktest(h, pd.concat(parts, ignore_index=True), tuple(used), seed, task.description)


def subsets(f: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Incidence (all rows), onset (no conflict in t) and fresh onsets (>= 2, >= 10 peace years)."""
    out = {"incidence": f, "onset": f[f["current"] == 0]}
    for k in FRESH:
        out[f"fresh onset (>= {k} peace years)"] = f[(f["current"] == 0) & (f["peace_years"] >= k)]
    return out


def skill_table(bt: OnsetBacktest, *, recall: float = 0.8, forecasters: Sequence[str] = FORECASTERS,
                baselines: Sequence[str] = BASELINES, by: Any = None) -> pd.DataFrame:
    """Scores of every forecaster on every subset of one backtest.

    Columns: ``horizon, subset, forecaster, n, events, base_rate, brier, bss_vs_<b>`` (Brier
    skill ``1 - B/B_b`` against each baseline ``b``), ``auc_roc, auc_pr, auc_pr_lift``
    (AUC-PR / base rate; 1 = no better than chance), ``ece, cal_slope, cal_intercept``,
    ``watch80_per_year`` (country-years flagged per origin to catch ``recall`` of the
    events), ``watch80_share`` and ``watch80_false_alarm_rate``. ``forecasters``,
    ``baselines`` and ``by`` (a function frame -> named subsets; default :func:`subsets`)
    let other event backtests (displacement surges) be scored the same way.
    """
    rows = []
    for name, sub in (by or subsets)(bt.forecasts).items():
        if sub.empty:
            continue
        y = sub["y"].to_numpy(dtype=float)
        n_orig = sub["origin"].nunique()
        briers = {w: S.brier(sub[f"p_{w}"], y) for w in forecasters}
        for w in forecasters:
            p = sub[f"p_{w}"].to_numpy(dtype=float)
            cal = S.calibration(p, y)
            wl = S.watchlist_at_recall(p, y, recall=recall)
            base = float(y.mean())
            ap = S.auc_pr(p, y)
            r = {"horizon": bt.horizon, "subset": name, "forecaster": w, "n": len(sub), "events": int(y.sum()),
                 "base_rate": base, "brier": briers[w]}
            for b in baselines:
                r[f"bss_vs_{b}"] = S.skill(briers[w], briers[b]) if b != w else float("nan")
            r.update(auc_roc=S.auc_roc(p, y), auc_pr=ap, auc_pr_lift=ap / base if base > 0 else float("nan"),
                     ece=cal["ece"], cal_slope=cal["slope"], cal_intercept=cal["intercept"],
                     watch80_per_year=wl["flagged"] / n_orig if np.isfinite(wl["flagged"]) else float("nan"),
                     watch80_share=wl["share"], watch80_false_alarm_rate=wl["false_alarm_rate"])
            rows.append(r)
    return pd.DataFrame(rows)


def target_check(table: pd.DataFrame) -> pd.DataFrame:
    """The issue's targets (:data:`TARGETS`) against a :func:`skill_table` of the onset model."""
    rows = []
    t = table[table["forecaster"] == "onset"]
    for metric, subset, h, op, v in TARGETS:
        r = t[(t["subset"] == subset) & (t["horizon"] == h)]
        if r.empty:
            rows.append({"target": f"{metric} {subset} h={h} {op} {v:g}", "value": float("nan"), "met": None})
            continue
        if metric == "bss_vs_every_baseline":
            vals = {b: float(r[f"bss_vs_{b}"].iloc[0]) for b in BASELINES}
            val = min(vals.values())
            detail = ", ".join(f"{b} {x:+.3f}" for b, x in vals.items())
        else:
            val, detail = float(r[metric].iloc[0]), ""
        met = bool(val > v) if op == ">" else bool(val >= v)
        rows.append({"target": f"{metric} on {subset}, {h}-year horizon {op} {v:g}", "value": val, "met": met,
                     "detail": detail})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- displacement


SURGE_FORECASTERS = ("surge", "persistence", "climatology")


def displacement_backtest(dpanel: pd.DataFrame, sp: pd.DataFrame, origins: Sequence[int], *, seed: int,
                          registry: Any = None, min_train_years: int = 5) -> OnsetBacktest:
    """Rolling-origin backtest of displacement-surge forecasts (``surge``: gradient
    boosting, sigmoid-calibrated by cross-validation inside the training window) beside
    persistence and climatology, with the same warning rule as conflict
    (:data:`RELATIVE_RISK` x the window's rate for rows in the same state).

    Parameters
    ----------
    dpanel : pandas.DataFrame
        :func:`humsec.forecast.series.release_displacement_panel`.
    sp : pandas.DataFrame
        :func:`structural_panel` (conflict features).
    """
    reg = registry or CountryRegistry.default()
    cp = sp[["unit", "year", "conflict", "war"]]
    task = displacement_task(dpanel, cpanel=cp, borders=reg.border_graph())
    feats = list(task.features)
    parts, used = [], []
    with M.single_thread():
        for T, train, test in origin_splits(task, origins, min_train_years=min_train_years):
            out = test[["unit", "year", "target_year", "y", "current"]].copy()
            out.insert(0, "origin", T)
            fit = M.fit_event("gbm", train[feats], train["y"].astype(int), seed=seed)
            out["p_surge"] = fit.predict(test[feats])
            clim, pers = _rates(train)
            cur = test["current"].to_numpy(dtype=int)
            out["p_persistence"] = np.where(cur == 1, pers[1], pers[0])
            out["p_climatology"] = clim
            out["warn_threshold"] = RELATIVE_RISK * np.where(cur == 1, pers[1], pers[0])
            parts.append(out)
            used.append(T)
    if not parts:
        raise HumsecError("displacement: no forecast origin has test rows")
    return OnsetBacktest(1, pd.concat(parts, ignore_index=True), tuple(used), seed, task.description)


def surge_subsets(f: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """All rows and new surges (no surge in t)."""
    return {"all": f, "new surge (none in t)": f[f["current"] == 0]}


# ---------------------------------------------------------------------------- current forecasts


def _describe(group: str, row: pd.Series) -> str:
    def v(c):
        x = row.get(c)
        return None if x is None or not np.isfinite(x) else float(x)

    if group == "conflict history":
        if row["conflict"]:
            return f"in armed conflict now ({row.get('battle_deaths', float('nan')):,.0f} battle deaths)"
        return f"{int(row['peace_years'])} year(s) without armed conflict; {v('share10') or 0:.0%} of the last 10 in conflict"
    if group == "other organised violence":
        return f"non-state and one-sided violence {np.expm1(v('log_ns') or 0) + np.expm1(v('log_os') or 0):.2f} deaths per 100,000"
    if group == "conflict next door":
        return f"{int(round(v('nb_n_conflict') or 0))} land neighbour(s) in armed conflict"
    if group == "income":
        g = v("gdp_growth")
        gdp = row.get("gdp_pc")
        s = f"GDP per capita {gdp:,.0f}" if gdp is not None and np.isfinite(gdp) else "GDP per capita unknown"
        return s + (f", growth {g:+.1f} %" if g is not None else "")
    if group == "population size":
        return f"population {np.exp(v('log_pop') or 0) / 1e6:,.1f} million"
    if group == "child mortality":
        r = v("log_u5mr_rel")
        return "child mortality unknown" if r is None else f"under-5 mortality {np.exp(r):.1f} x the world median"
    if group == "regime type and change":
        d, c = v("democracy"), v("d_demo3")
        if d is None:
            return "regime type unknown"
        return f"electoral democracy {d:.2f}" + (f" ({c:+.2f} in 3 years)" if c is not None else "")
    if group == "political exclusion":
        e = v("egalitarian")
        return "unknown" if e is None else f"egalitarian democracy {e:.2f} (low = unequal access to power)"
    if group == "political stability":
        s = v("pol_stability")
        return "unknown" if s is None else f"WGI political stability {s:+.2f}"
    if group == "recent displacement":
        return f"{np.expm1(v('log_new_ref') or 0):.1f} newly displaced abroad and {np.expm1(v('log_idps') or 0):.1f} IDPs per 1,000"
    if group == "youth bulge":
        y = v("youth_share")
        return "unknown" if y is None else f"ages 15-24 are {y:.0%} of adults"
    return group


def drivers(model: SelectedModel, rows: pd.DataFrame, reference: pd.Series, *, top: int = 3) -> list[list[dict[str, Any]]]:
    """The groups of features that move each row's probability most, in words.

    For every group of :data:`GROUPS`, the group's features are set to ``reference`` (the
    training window's medians among rows at peace) and the row is predicted again; the
    difference ``p - p_without`` is the group's contribution (an occlusion explanation,
    valid for any model; contributions need not add up to the total).

    Returns
    -------
    list of list of dict
        Per row, the ``top`` groups by absolute contribution: ``group, effect`` (in
        probability points), ``direction`` ("raises"/"lowers") and ``text``.
    """
    base = model.predict(rows)
    out: list[list[tuple[str, float]]] = [[] for _ in range(len(rows))]
    for g, feats in GROUPS.items():
        alt = rows.copy()
        for c in feats:
            alt[c] = reference.get(c, np.nan)
        d = base - model.predict(alt)
        for i in range(len(rows)):
            out[i].append((g, float(d[i])))
    res = []
    for i, (_, row) in enumerate(rows.iterrows()):
        ranked = sorted(out[i], key=lambda t: -abs(t[1]))[:top]
        res.append([{"group": g, "effect": e, "direction": "raises" if e > 0 else "lowers",
                     "text": f"{g} {'raises' if e > 0 else 'lowers'} the risk ({_describe(g, row)})"}
                    for g, e in ranked if abs(e) > 1e-4])
    return res


def watch_list(panel: Any, *, horizons: Sequence[int] = (1,), seed: int = 20240101, registry: Any = None,
               units: Sequence[str] | None = None, sp: pd.DataFrame | None = None, with_drivers: bool = True
               ) -> pd.DataFrame:
    """Forecasts for the year(s) after the latest data year, every country ranked.

    The onset model (:func:`fit_selected`) is fitted on every row whose outcome is
    observed and applied to the latest feature year.

    Returns
    -------
    pandas.DataFrame
        ``rank, unit, name, year, horizon, window, probability, relative_risk`` (to the
        base rate of countries in the same state), ``warning`` (relative risk >=
        :data:`RELATIVE_RISK`), ``status``, ``drivers`` (words, ``; ``-separated),
        sorted by horizon and decreasing probability.
    """
    reg = registry or CountryRegistry.default()
    sp = structural_panel(panel, registry=reg) if sp is None else sp
    last = int(sp["year"].max())
    frames = []
    with single_thread():
        for h in horizons:
            t = onset_task(sp, h)
            train = t.known[t.known["target_year"] <= last]
            now = t.frame[t.frame["year"] == last]
            if units is not None:
                now = now[now["unit"].isin(list(units))]
            if now.empty:
                continue
            sel = fit_selected(train, horizon=h, seed=seed)
            p = sel.predict(now)
            _, pers = _rates(train)
            cur = now["current"].to_numpy(dtype=int)
            rr = p / np.where(cur == 1, pers[1], pers[0])
            extra = sp[sp["year"] == last].set_index("unit")[["battle_deaths", "gdp_pc"]]
            rows = now.join(extra, on="unit")
            d = {"unit": now["unit"].to_numpy(), "year": last, "horizon": h,
                 "window": f"{last + 1}" if h == 1 else f"{last + 1}-{last + h}",
                 "probability": p, "relative_risk": rr, "warning": rr >= RELATIVE_RISK,
                 "status": [f"in conflict in {last}" if c else f"{int(py)} year(s) of peace to {last}"
                            for c, py in zip(cur, now["peace_years"])],
                 "model": sel.chosen}
            if with_drivers:
                ref = train[train["current"] == 0][list(FULL)].median(numeric_only=True)
                dr = drivers(sel, rows.reset_index(drop=True), ref)
                d["drivers"] = ["; ".join(x["text"] for x in r) for r in dr]
            fr = pd.DataFrame(d).sort_values("probability", ascending=False)
            fr.insert(0, "rank", np.arange(1, len(fr) + 1))
            frames.append(fr)
    if not frames:
        raise HumsecError("no country has data for a forecast in the latest year")
    out = pd.concat(frames, ignore_index=True)
    out.insert(2, "name", [reg.name(u) if reg.is_iso3(u) else u for u in out["unit"]])
    return out
