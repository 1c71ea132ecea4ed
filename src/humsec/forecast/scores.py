"""Proper scoring rules and calibration for probabilistic forecasts.

Events (probabilities ``p`` of a binary outcome ``y``):

* Brier score ``mean((p - y)^2)`` (lower is better; 0.25 for ``p = 0.5`` always);
* logarithmic score, reported as the mean negative log-likelihood
  ``-mean(y log p + (1 - y) log(1 - p))`` (lower is better), with ``p`` clipped to
  ``[eps, 1 - eps]`` so one confident miss is very costly but finite;
* AUC-PR (average precision), the ViEWS choice for rare events, to be read against the
  base rate (the AUC-PR of a random forecast);
* AUC-ROC (the probability that a random event row is ranked above a random non-event
  row, ties counting one half);
* calibration in the large and in slope (a logistic recalibration
  ``logit P(y=1) = a + b logit p``: ``b = 1, a = 0`` for a calibrated forecast) and the
  expected calibration error over equal-width bins;
* the watch-list size at a given recall: how many country-years must be flagged, going
  down the ranking, to catch that share of the events;
* reliability bins (the calibration curve): mean forecast vs observed frequency.

Quantities (predictive quantiles ``q_tau`` of an outcome ``y``):

* pinball (quantile) loss ``(1{y < q} - tau)(q - y)``;
* CRPS from quantiles: ``2 x`` the mean pinball loss over a grid of levels, which
  approximates the CRPS ``integral of (F(x) - 1{x >= y})^2 dx = 2 integral_0^1 QS_tau dtau``
  (Gneiting & Raftery 2007, eq. 17; the ViEWS evaluation uses the same identity);
* the exact CRPS of a Gaussian forecast (for checks);
* the interval score of a central ``(1 - alpha)`` interval
  ``(u - l) + 2/alpha (l - y) 1{y < l} + 2/alpha (y - u) 1{y > u}``.

All scores are negatively oriented (lower = better); :func:`skill` turns a score and a
reference score into a skill score ``1 - S / S_ref`` (> 0: better than the reference).

References
----------
.. [GR07] Gneiting, T., Raftery, A. E. (2007). Strictly proper scoring rules,
   prediction, and estimation. *JASA* 102(477), 359-378.
   https://doi.org/10.1198/016214506000001437
.. [Hegre22] Hegre, H., Vesco, P., Colaresi, M. (2022). Lessons from an escalation
   prediction competition. *International Interactions* 48(4), 521-554 (CRPS, proper
   scores and baselines for conflict forecasts).
.. [Cox58] Cox, D. R. (1958). Two further applications of a model for binary regression.
   *Biometrika* 45(3/4), 562-565 (calibration slope and intercept).
.. [Fawcett06] Fawcett, T. (2006). An introduction to ROC analysis. *Pattern Recognition
   Letters* 27(8), 861-874.
.. [Brier50] Brier, G. W. (1950). Verification of forecasts expressed in terms of
   probability. *Monthly Weather Review* 78(1), 1-3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

__all__ = [
    "EPS", "auc_pr", "auc_roc", "brier", "calibration", "watchlist_at_recall", "coverage", "crps_gaussian", "crps_quantiles", "interval_score", "log_score",
    "pinball", "reliability", "skill",
]

#: Probabilities are clipped to [EPS, 1 - EPS] in the log score.
EPS = 1e-3


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def brier(p, y) -> float:
    """Mean Brier score of probabilities ``p`` for binary outcomes ``y``.

    Examples
    --------
    >>> round(brier([0.8, 0.3], [1, 0]), 12)  # (0.2^2 + 0.3^2) / 2 in binary floating point
    0.065
    """
    p, y = _arr(p), _arr(y)
    return float(np.mean((p - y) ** 2))


def log_score(p, y, *, eps: float = EPS) -> float:
    """Mean negative log-likelihood (natural log) of ``p`` for outcomes ``y``."""
    p, y = np.clip(_arr(p), eps, 1 - eps), _arr(y)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def auc_pr(p, y) -> float:
    """Area under the precision-recall curve (average precision); NaN without events."""
    y = _arr(y)
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, _arr(p)))


def auc_roc(p, y) -> float:
    """Area under the ROC curve (Mann-Whitney form, ties count one half); NaN unless both
    classes occur.

    Examples
    --------
    >>> auc_roc([0.9, 0.4, 0.4, 0.1], [1, 1, 0, 0])   # pairs: (0.9>0.4) (0.9>0.1) (0.4=0.4) (0.4>0.1)
    0.875
    """
    p, y = _arr(p), _arr(y)
    n1 = int((y == 1).sum())
    n0 = int((y == 0).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(p)
    return float((r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def watchlist_at_recall(p, y, *, recall: float = 0.8) -> dict[str, float]:
    """The shortest top-of-the-ranking watch list that holds ``recall`` of the events.

    Rows are flagged in order of decreasing ``p``; the threshold is the largest ``t`` with
    ``sum(y[p >= t]) >= recall * sum(y)`` (every row tied at ``t`` is flagged).

    Returns
    -------
    dict
        ``threshold``, ``flagged`` (rows with ``p >= threshold``), ``share`` (of all rows),
        ``recall`` (achieved), ``false_alarm_rate`` (flagged non-events / non-events) and
        ``precision``; NaN without events.

    Examples
    --------
    >>> w = watchlist_at_recall([0.9, 0.8, 0.5, 0.3, 0.2], [1, 0, 1, 0, 0], recall=0.8)
    >>> w["threshold"], w["flagged"], w["false_alarm_rate"]
    (0.5, 3, 0.3333333333333333)
    """
    p, y = _arr(p), _arr(y)
    nan = {k: float("nan") for k in ("threshold", "flagged", "share", "recall", "false_alarm_rate", "precision")}
    n_ev = y.sum()
    if n_ev == 0 or len(p) == 0:
        return nan
    order = np.argsort(-p, kind="stable")
    caught = np.cumsum(y[order])
    k = int(np.searchsorted(caught, recall * n_ev - 1e-9))  # first position reaching the recall
    t = float(p[order][k])
    flag = p >= t
    neg = (y == 0).sum()
    return {"threshold": t, "flagged": int(flag.sum()), "share": float(flag.mean()),
            "recall": float(y[flag].sum() / n_ev),
            "false_alarm_rate": float((flag & (y == 0)).sum() / neg) if neg else float("nan"),
            "precision": float(y[flag].mean())}


def calibration(p, y, *, n_bins: int = 10, eps: float = EPS) -> dict[str, float]:
    """Calibration summaries of probabilities ``p``.

    Returns
    -------
    dict
        ``mean_forecast``, ``observed`` (calibration in the large), ``slope`` and
        ``intercept`` of the logistic recalibration ``logit P(y=1) = a + b logit p``
        (Cox 1958; maximum likelihood, NaN with a single class) and
        ``ece``: the expected calibration error ``sum_b n_b/n |mean p_b - mean y_b|`` over
        equal-width bins.
    """
    p, y = np.clip(_arr(p), eps, 1 - eps), _arr(y)
    rel = reliability(p, y, n_bins=n_bins)
    ece = float((rel["n"] * (rel["mean_forecast"] - rel["observed"]).abs()).sum() / max(len(p), 1))
    slope = intercept = float("nan")
    if 0 < y.sum() < len(y):
        x = np.log(p / (1 - p))[:, None]
        m = LogisticRegression(C=1e8, max_iter=10_000, tol=1e-10).fit(x, y.astype(int))  # ~ unpenalised ML
        intercept, slope = float(m.intercept_[0]), float(m.coef_[0, 0])
    return {"mean_forecast": float(p.mean()) if len(p) else float("nan"),
            "observed": float(y.mean()) if len(y) else float("nan"), "slope": slope, "intercept": intercept,
            "ece": ece}


def reliability(p, y, *, n_bins: int = 10) -> pd.DataFrame:
    """Calibration curve: equal-width bins of the forecast probability.

    Returns
    -------
    pandas.DataFrame
        ``bin_low, bin_high, n, mean_forecast, observed`` for non-empty bins.
    """
    p, y = _arr(p), _arr(y)
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        m = idx == b
        if m.any():
            rows.append({"bin_low": edges[b], "bin_high": edges[b + 1], "n": int(m.sum()),
                         "mean_forecast": float(p[m].mean()), "observed": float(y[m].mean())})
    return pd.DataFrame(rows, columns=["bin_low", "bin_high", "n", "mean_forecast", "observed"])


def pinball(q, y, tau: float) -> np.ndarray:
    """Pinball (quantile) loss of quantile forecasts ``q`` at level ``tau``."""
    q, y = _arr(q), _arr(y)
    return ((y < q).astype(float) - tau) * (q - y)


def crps_quantiles(levels: Sequence[float], quantiles, y) -> float:
    """Mean CRPS approximated from predictive quantiles: ``2 x`` mean pinball loss.

    Parameters
    ----------
    levels : sequence of float
        Quantile levels in (0, 1), ideally an even grid (e.g. 0.05, 0.15, ..., 0.95).
    quantiles : array-like, shape (n, len(levels))
    y : array-like, shape (n,)
    """
    q = np.atleast_2d(_arr(quantiles))
    y = _arr(y)
    losses = np.column_stack([pinball(q[:, j], y, t) for j, t in enumerate(levels)])
    return float(2.0 * losses.mean())


def crps_gaussian(mu, sigma, y) -> float:
    """Mean exact CRPS of Gaussian forecasts ``N(mu, sigma^2)`` (Gneiting & Raftery 2007)::

        sigma * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)),  z = (y - mu) / sigma

    Examples
    --------
    >>> round(crps_gaussian(0.0, 1.0, 0.0), 6)
    0.233695
    """
    mu, sigma, y = _arr(mu), _arr(sigma), _arr(y)
    z = (y - mu) / sigma
    return float(np.mean(sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))))


def interval_score(lower, upper, y, alpha: float) -> float:
    """Mean interval score of central ``(1 - alpha)`` prediction intervals (lower is better).

    Examples
    --------
    >>> interval_score([0.0], [10.0], [12.0], 0.1)   # width 10 + 2/0.1 * 2
    50.0
    """
    lo, up, y = _arr(lower), _arr(upper), _arr(y)
    return float(np.mean((up - lo) + 2 / alpha * (lo - y) * (y < lo) + 2 / alpha * (y - up) * (y > up)))


def coverage(lower, upper, y) -> float:
    """Share of outcomes inside their interval."""
    lo, up, y = _arr(lower), _arr(upper), _arr(y)
    return float(np.mean((y >= lo) & (y <= up)))


def skill(score: float, reference: float) -> float:
    """Skill score ``1 - score / reference`` (negatively oriented scores); NaN if undefined."""
    if not (np.isfinite(score) and np.isfinite(reference)) or reference == 0:
        return float("nan")
    return float(1.0 - score / reference)
