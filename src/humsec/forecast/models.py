"""Probabilistic forecasting models and the baselines they must beat.

Two kinds of targets, both one year ahead (features of year ``t`` predict the outcome in
``t + 1``):

* **events** (armed conflict, a displacement surge): a probability. Models:
  ``logit`` — standardised logistic regression (well calibrated by construction, the
  ViEWS benchmark family); ``gbm`` — histogram gradient boosting whose probabilities are
  recalibrated (sigmoid / Platt) by cross-validation *inside the training window*.
* **quantities** (next-year HSI dimension scores): predictive quantiles at
  :data:`LEVELS`. Models: ``qgbm`` — gradient boosting with the quantile (pinball) loss,
  one model per level, on the change ``y_(t+1) - y_t``; ``qlinear`` — linear quantile
  regression on the same change. Quantiles are sorted per row (no crossing).

Baselines, fitted on the same training window in the same run:

* *persistence* — events: next year's state is this year's, with probability
  ``P(y_(t+1) = 1 | y_t)`` as observed in the training window (Laplace-smoothed);
  quantities: ``y_t`` plus the empirical quantiles of the training changes
  (a random walk with an empirical error distribution);
* *climatology* — events: the training base rate; quantities: the empirical
  quantiles of the target over the training window (all countries pooled).

Every function that draws random numbers takes a ``seed``.

References
----------
.. [Hegre19] Hegre, H. et al. (2019). ViEWS: A political violence early-warning system.
   *Journal of Peace Research* 56(2), 155-174.
.. [Hegre22] Hegre, H., Vesco, P., Colaresi, M. (2022). Lessons from an escalation
   prediction competition. *International Interactions* 48(4), 521-554.
.. [Platt99] Platt, J. (1999). Probabilistic outputs for support vector machines and
   comparisons to regularized likelihood methods. *Advances in Large Margin Classifiers*.
.. [Koenker78] Koenker, R., Bassett, G. (1978). Regression quantiles. *Econometrica* 46(1), 33-50.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, QuantileRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from humsec.errors import HumsecError

__all__ = [
    "single_thread", "EVENT_MODELS", "LEVELS", "QGBM_PARAMS", "QUANTITY_MODELS", "climatology_event", "climatology_quantiles", "fit_event",
    "fit_quantity", "persistence_event", "persistence_quantiles",
]

#: Quantile levels of quantity forecasts: an even grid (CRPS approximation) whose ends
#: give the central 90 % interval.
LEVELS: tuple[float, ...] = (0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95)
#: Central interval reported and scored (from the first and last level).
ALPHA = 0.10


def single_thread() -> Any:
    """A context in which the BLAS and OpenMP pools (scikit-learn's gradient boosting) use
    one thread: on small data extra threads only contend for shared cores (a quantile
    boosting fit took 72 s instead of 1.3 s on a loaded 2-core machine).

    The estimator modules are imported first: :func:`threadpoolctl.threadpool_limits`
    only limits the libraries loaded when it is entered, and scikit-learn loads its OpenMP
    runtime on first import.
    """
    return threadpool_limits(limits=1)


# ---------------------------------------------------------------------------- events


def _logit(seed: int) -> Any:
    return make_pipeline(SimpleImputer(strategy="median", add_indicator=False), StandardScaler(),
                         LogisticRegression(C=1.0, max_iter=2000, random_state=seed))


def _gbm(seed: int) -> Any:
    base = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40,
                                          l2_regularization=1.0, early_stopping=False,
                                          random_state=seed)
    return CalibratedClassifierCV(base, method="sigmoid", cv=3)


#: Event models: name -> (factory(seed), description).
EVENT_MODELS: Mapping[str, tuple[Callable[[int], Any], str]] = {
    "logit": (_logit, "logistic regression (standardised features, L2, C=1)"),
    "gbm": (_gbm, "histogram gradient boosting, sigmoid-calibrated by 3-fold CV in the training window"),
}


@dataclass(frozen=True)
class FittedEvent:
    """A fitted event model: :meth:`predict` gives probabilities."""

    name: str
    estimator: Any
    features: tuple[str, ...]
    constant: float | None = None

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.constant is not None:
            return np.full(len(X), self.constant)
        return self.estimator.predict_proba(X[list(self.features)].to_numpy(dtype=float))[:, 1]


def fit_event(name: str, X: pd.DataFrame, y: Sequence[int], *, seed: int) -> FittedEvent:
    """Fit event model ``name`` (a key of :data:`EVENT_MODELS`).

    A training window with a single class gives a constant forecast (the smoothed base
    rate) rather than an error.
    """
    if name not in EVENT_MODELS:
        raise HumsecError(f"unknown event model '{name}': expected one of {', '.join(EVENT_MODELS)}")
    labels = np.asarray(y, dtype=int)
    feats = tuple(X.columns)
    if len(np.unique(labels)) < 2:
        return FittedEvent(name, None, feats, constant=float((labels.sum() + 1) / (len(labels) + 2)))
    est = EVENT_MODELS[name][0](seed)
    est.fit(X.to_numpy(dtype=float), labels)
    return FittedEvent(name, est, feats)


def climatology_event(y_train: Sequence[int], n: int) -> np.ndarray:
    """Training base rate (Laplace-smoothed) for ``n`` forecasts."""
    y = np.asarray(y_train, dtype=float)
    return np.full(n, (y.sum() + 1) / (len(y) + 2))


def persistence_event(current_train: Sequence[int], y_train: Sequence[int], current_test: Sequence[int]) -> np.ndarray:
    """``P(y_(t+1) = 1 | y_t)`` from the training window (Laplace-smoothed), applied to
    this year's state of the test rows."""
    c, y = np.asarray(current_train, dtype=int), np.asarray(y_train, dtype=float)
    rates = {}
    for s in (0, 1):
        m = c == s
        rates[s] = (y[m].sum() + 1) / (m.sum() + 2)
    ct = np.asarray(current_test, dtype=int)
    return np.where(ct == 1, rates[1], rates[0])


# ---------------------------------------------------------------------------- quantities


#: Settings of ``qgbm``: 20 trees of at most 4 leaves at learning rate 0.3 on 63 bins per
#: feature. They replaced 80 trees of 15 leaves at 0.1 on 255 bins (about 7 x the CPU
#: time: fitting is dominated by per-tree and per-leaf overhead - the quantile loss
#: recomputes every leaf's value as a percentile - not by the data) after the
#: rolling-origin backtest of every ``hsi`` node (:func:`humsec.forecast.pipelines.run_backtest`,
#: seed 20240101, release 2026.1) showed equal or better skill; mean over the eight nodes,
#: the former settings in brackets: origins 2019-2023 (the default) CRPS 1.142 (1.147),
#: 90 % interval score 13.98 (14.08), coverage 0.878 (0.847), beats persistence on 7 (5)
#: nodes; held-out origins 2015-2018 CRPS 1.155 (1.168), interval score 14.07 (14.62),
#: coverage 0.853 (0.817), 7 (7) nodes. No node's CRPS is more than 1 % above the former
#: settings'. 30 trees of 5 leaves at 0.2 scored the same at 1.5 x the time. One
#: country's ``hsi`` forecast (80 fits) went from ~11 s to ~1.7 s CPU
#: (``benchmarks/bench_forecast.py --legacy`` times both).
QGBM_PARAMS: Mapping[str, Any] = {"max_iter": 20, "learning_rate": 0.3, "max_leaf_nodes": 4,
                                  "min_samples_leaf": 30, "max_bins": 63}


def _qgbm(tau: float, seed: int) -> Any:
    return HistGradientBoostingRegressor(loss="quantile", quantile=tau, early_stopping=False, random_state=seed,
                                         **QGBM_PARAMS)


def _qlinear(tau: float, seed: int) -> Any:
    del seed  # deterministic (linear programme)
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         QuantileRegressor(quantile=tau, alpha=1e-3, solver="highs"))


#: Quantity models: name -> (factory(tau, seed), description).
QUANTITY_MODELS: Mapping[str, tuple[Callable[[float, int], Any], str]] = {
    "qgbm": (_qgbm, ("gradient boosting with quantile loss on the one-year change, one model per level "
                     "(20 trees of 4 leaves, see QGBM_PARAMS)")),
    "qlinear": (_qlinear, "linear quantile regression (Koenker-Bassett) on the one-year change"),
}


@dataclass(frozen=True)
class FittedQuantity:
    """Fitted quantile models: :meth:`predict` gives quantiles at ``levels`` (n x L)."""

    name: str
    estimators: tuple[Any, ...]
    features: tuple[str, ...]
    levels: tuple[float, ...]

    def predict(self, X: pd.DataFrame, current: Sequence[float]) -> np.ndarray:
        Z = X[list(self.features)].to_numpy(dtype=float)
        d = np.column_stack([e.predict(Z) for e in self.estimators])
        return np.sort(d, axis=1) + np.asarray(current, dtype=float)[:, None]


def fit_quantity(name: str, X: pd.DataFrame, y: Sequence[float], current: Sequence[float], *, seed: int,
                 levels: Sequence[float] = LEVELS) -> FittedQuantity:
    """Fit quantile models of the change ``y - current`` at every level."""
    if name not in QUANTITY_MODELS:
        raise HumsecError(f"unknown quantity model '{name}': expected one of {', '.join(QUANTITY_MODELS)}")
    delta = np.asarray(y, dtype=float) - np.asarray(current, dtype=float)
    Z = X.to_numpy(dtype=float)
    ests = []
    for tau in levels:
        e = QUANTITY_MODELS[name][0](tau, seed)
        e.fit(Z, delta)
        ests.append(e)
    return FittedQuantity(name, tuple(ests), tuple(X.columns), tuple(levels))


def persistence_quantiles(current_train: Sequence[float], y_train: Sequence[float], current_test: Sequence[float],
                          levels: Sequence[float] = LEVELS) -> np.ndarray:
    """``y_t`` + empirical quantiles of the training changes ``y_(t+1) - y_t``."""
    d = np.asarray(y_train, dtype=float) - np.asarray(current_train, dtype=float)
    q = np.quantile(d[np.isfinite(d)], levels)
    return np.asarray(current_test, dtype=float)[:, None] + q[None, :]


def climatology_quantiles(y_train: Sequence[float], n: int, levels: Sequence[float] = LEVELS) -> np.ndarray:
    """Empirical quantiles of the training outcomes, the same for every forecast."""
    y = np.asarray(y_train, dtype=float)
    q = np.quantile(y[np.isfinite(y)], levels)
    return np.tile(q, (n, 1))
