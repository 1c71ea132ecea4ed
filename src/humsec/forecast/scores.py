"""Proper scoring rules and calibration for probabilistic forecasts.

Events (probabilities ``p`` of a binary outcome ``y``):

* Brier score ``mean((p - y)^2)`` (lower is better; 0.25 for ``p = 0.5`` always);
* logarithmic score, reported as the mean negative log-likelihood
  ``-mean(y log p + (1 - y) log(1 - p))`` (lower is better), with ``p`` clipped to
  ``[eps, 1 - eps]`` so one confident miss is very costly but finite;
* AUC-PR (average precision), the ViEWS choice for rare events;
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
.. [Brier50] Brier, G. W. (1950). Verification of forecasts expressed in terms of
   probability. *Monthly Weather Review* 78(1), 1-3.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "EPS", "auc_pr", "brier", "coverage", "crps_gaussian", "crps_quantiles", "interval_score", "log_score",
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
    >>> brier([0.8, 0.3], [1, 0])
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
    from sklearn.metrics import average_precision_score

    y = _arr(y)
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, _arr(p)))


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
