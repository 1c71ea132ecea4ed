"""Weighting kernels: the weights of an aggregate's children.

Every kernel has the signature

``fn(frame: pandas.DataFrame (units x children, normalised values), *,
weights: pandas.Series (current weights from the spec), code: str | None = None,
**params) -> pandas.Series`` (indexed by the children, summing to 1)

References
----------
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 6.1
   (weights based on principal components / factor analysis) and Box 19.
   https://doi.org/10.1787/9789264043466-en
.. [COINr] Becker, W. et al. (2022). COINr, *JOSS* 7(78), 4567; COINr 1.1
   ``get_opt_weights`` (``optype = "balance"`` / ``"infomax"``).
.. [BPS17] Becker, W., Paruolo, P., Saisana, M., Saltelli, A. (2017). Weights and
   importance in composite indicators: closing the circle. *Ecological Indicators* 80,
   12-22. https://doi.org/10.1016/j.ecolind.2017.03.056
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from humsec.errors import HumsecError
from humsec.index.registry import NoParams, Registry

__all__ = ["WEIGHT"]

WEIGHT = Registry("weight")


def _label(code: str | None) -> str:
    return f" of '{code}'" if code else ""


def _normalised(w: pd.Series, code: str | None, what: str) -> pd.Series:
    w = w.astype(float)
    if not np.isfinite(w.to_numpy()).all() or (w < 0).any() or w.sum() <= 0:
        raise HumsecError(f"{what}{_label(code)}: weights must be finite, >= 0 and not all 0 "
                          f"(got {w.to_dict()})")
    return w / w.sum()


@WEIGHT.register("explicit", NoParams)
def explicit(frame: pd.DataFrame, *, weights: pd.Series, code: str | None = None) -> pd.Series:
    """The weights given in the spec, re-scaled to sum to 1.

    Raises
    ------
    HumsecError
        A child without a weight, or invalid weights.
    """
    missing = [c for c in frame.columns if c not in weights.index]
    if missing:
        raise HumsecError(f"explicit weights{_label(code)}: no weight for {', '.join(map(str, missing))}")
    return _normalised(weights.reindex(frame.columns), code, "explicit weights")


@WEIGHT.register("equal", NoParams)
def equal(frame: pd.DataFrame, *, weights: pd.Series | None = None, code: str | None = None) -> pd.Series:
    """Equal weights ``1/k`` for the ``k`` children."""
    k = frame.shape[1]
    if k == 0:
        raise HumsecError(f"equal weights{_label(code)}: no children")
    return pd.Series(1.0 / k, index=frame.columns, dtype=float)


class PCAParams(BaseModel):
    """``loadings``: ``squared`` (default) or ``abs`` values of the first component."""

    model_config = ConfigDict(extra="forbid")
    loadings: Literal["squared", "abs"] = "squared"


@WEIGHT.register("pca", PCAParams)
def pca(frame: pd.DataFrame, *, weights: pd.Series | None = None, loadings: str = "squared",
        code: str | None = None) -> pd.Series:
    """Weights from the first principal component of the children's correlation matrix.

    PCA on standardised children (units with all children present). Following the
    OECD/JRC Handbook's PCA/FA weighting [OECD08]_ (squared loadings, scaled to unit sum,
    measure the share of the component's variance explained by each indicator), the
    weights are the squared entries of the first eigenvector — which already sum to 1 —
    (``loadings = "squared"``), or the absolute entries scaled to sum to 1 (``"abs"``).
    The Handbook's full procedure (rotated factors, several components weighted by their
    explained variance) reduces to this when one component is retained. Note that PCA
    weights reward correlated (redundant) indicators and say nothing about importance
    [BPS17]_.

    Raises
    ------
    HumsecError
        Fewer than two children, fewer than three complete units, or a constant child.
    """
    x = frame.dropna()
    k = frame.shape[1]
    if k < 2:
        raise HumsecError(f"PCA weights{_label(code)} need at least 2 children, got {k}")
    if len(x) < 3:
        raise HumsecError(f"PCA weights{_label(code)} need at least 3 units with every child present, got {len(x)}")
    sd = x.std(ddof=1)
    flat = list(sd.index[~(sd > 0)])
    if flat:
        raise HumsecError(f"PCA weights{_label(code)}: constant child(ren) {', '.join(map(str, flat))}")
    corr = np.corrcoef(x.to_numpy(dtype=float), rowvar=False)
    vals, vecs = np.linalg.eigh(corr)
    v1 = vecs[:, int(np.argmax(vals))]
    w = v1**2 if loadings == "squared" else np.abs(v1)
    return pd.Series(w / w.sum(), index=frame.columns, dtype=float)


class OptParams(BaseModel):
    """Target shares of correlation (``None`` = equal), objective, tolerance, iterations."""

    model_config = ConfigDict(extra="forbid")
    target: list[float] | None = None
    optype: Literal["balance", "infomax"] = "balance"
    tol: float = Field(1e-8, gt=0)
    maxiter: int = Field(2000, ge=1)

    @field_validator("target")
    @classmethod
    def _pos(cls, v):
        if v is not None and (any(t < 0 for t in v) or sum(v) <= 0):
            raise ValueError("target correlations must be >= 0 and not all 0")
        return v


def _corr_with_mean(x: np.ndarray, avail: np.ndarray, w: np.ndarray) -> np.ndarray:
    W = np.where(avail, w[None, :], 0.0)
    tot = W.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.sum(np.where(avail, x, 0.0) * W, axis=1) / tot
    out = np.empty(x.shape[1])
    for j in range(x.shape[1]):
        m = avail[:, j] & np.isfinite(y)
        a, b = x[m, j], y[m]
        a, b = a - a.mean(), b - b.mean()
        den = np.sqrt((a * a).sum() * (b * b).sum())
        out[j] = (a * b).sum() / den if den > 0 else 0.0
    return out


@WEIGHT.register("optimised", OptParams)
def optimised(frame: pd.DataFrame, *, weights: pd.Series | None = None, target: list[float] | None = None,
              optype: str = "balance", tol: float = 1e-8, maxiter: int = 2000,
              code: str | None = None) -> pd.Series:
    """Weights optimised so the children's correlations with the parent meet a target.

    COINr's ``get_opt_weights`` [COINr]_ [BPS17]_, applied locally: the parent is the
    weighted arithmetic mean of the children (missing children skipped), and the
    Pearson correlation ``r_i`` of each child with it is computed. With
    ``optype = "balance"`` the objective is COINr's ``log(mean((t - r / sum(r))^2))``
    where ``t`` is the target (default equal: every child equally correlated) scaled to sum
    to 1; with ``"infomax"`` it is ``-sum(r)``. Minimised with Nelder-Mead
    (:func:`scipy.optimize.minimize`, deterministic) from the target (balance) or the
    current weights (infomax), over weights ``|p| / sum|p|`` so they stay non-negative.
    COINr uses R's ``optim`` with a loose ``reltol = 0.1``; here ``tol`` defaults to 1e-8.

    Raises
    ------
    HumsecError
        Fewer than two children or three units, a target of the wrong length, or a
        constant child.
    """
    from scipy.optimize import minimize

    k = frame.shape[1]
    if k < 2:
        raise HumsecError(f"optimised weights{_label(code)} need at least 2 children, got {k}")
    x = frame.to_numpy(dtype=float)
    avail = ~np.isnan(x)
    if avail.any(axis=1).sum() < 3:
        raise HumsecError(f"optimised weights{_label(code)} need at least 3 units with data")
    sd = frame.std(ddof=1)
    flat = list(sd.index[~(sd > 0)])
    if flat:
        raise HumsecError(f"optimised weights{_label(code)}: constant child(ren) {', '.join(map(str, flat))}")
    if target is not None and len(target) != k:
        raise HumsecError(f"optimised weights{_label(code)}: target has {len(target)} entries for {k} children "
                          f"({', '.join(map(str, frame.columns))})")
    t = np.ones(k) / k if target is None else np.asarray(target, float) / float(np.sum(target))

    def wts(p: np.ndarray) -> np.ndarray:
        a = np.abs(p)
        s = a.sum()
        return a / s if s > 0 else np.ones(k) / k

    def objective(p: np.ndarray) -> float:
        r = _corr_with_mean(x, avail, wts(p))
        if optype == "infomax":
            return -float(r.sum())
        rs = r.sum()
        if rs == 0:
            return 1e6
        return float(np.log(np.mean((t - r / rs) ** 2) + 1e-300))

    if optype == "balance":
        start = t.copy()
    else:
        w0 = weights.reindex(frame.columns).astype(float).to_numpy() if weights is not None else np.ones(k)
        start = w0 / w0.sum() if np.isfinite(w0).all() and w0.sum() > 0 else np.ones(k) / k
    res = minimize(objective, start, method="Nelder-Mead",
                   options={"xatol": tol, "fatol": tol, "maxiter": maxiter, "maxfev": maxiter * 4})
    return pd.Series(wts(res.x), index=frame.columns, dtype=float)
