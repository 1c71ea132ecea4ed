"""Statistical audit of a built index (COINr's ``get_stats``, ``get_corr``,
``get_cronbach``, ``get_PCA`` and ``remove_elements``).

* per indicator: availability, mean, sd, min, max, skew and kurtosis (sample, type 2),
  and flags — low availability (< 0.66), outliers (|skew| >= 2 and kurtosis >= 3.5);
* correlations of each indicator/aggregate with its parent, and between siblings, with
  flags for collinearity (> 0.9) and negative correlation (< -0.4);
* Cronbach's alpha and a principal component analysis of the children of every
  aggregate (share of variance explained, first-component loadings);
* leave-one-out: how the root ranks move when each aggregate below the root is removed
  (its weight set to zero and the index rebuilt from the step log).

References
----------
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 4
   (multivariate analysis) and Step 7 (uncertainty and sensitivity analysis).
.. [Cronbach51] Cronbach, L. J. (1951). Coefficient alpha and the internal structure of
   tests. *Psychometrika* 16, 297-334.
.. [COINr] Becker, W. et al. (2022). COINr. *JOSS* 7(78), 4567.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.index.pipeline import IndexResult, regenerate, resolve_method
from humsec.index.families import registry_for
from humsec.index.methods.treat import kurt, skew

__all__ = ["AuditReport", "audit", "cronbach_alpha", "indicator_stats", "pca", "treatment_log"]

COLLINEAR = 0.9
NEGATIVE = -0.4
MIN_AVAILABILITY = 0.66


@dataclass(frozen=True)
class PCAResult:
    """Principal components of standardised columns (complete cases)."""

    explained: np.ndarray
    loadings: pd.Series
    n: int


def indicator_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """Descriptive statistics and flags per column (COINr's ``get_stats``).

    Skewness and kurtosis are the bias-corrected sample (type 2, Excel ``SKEW``/``KURT``)
    statistics used by COINr's outlier rule. As COINr's table: ``median``, ``n_nonzero``
    (non-missing values different from 0), ``n_unique`` (distinct non-missing values) and
    ``n_same`` (the largest number of units sharing one value, COINr's
    ``max(table(x))``; 0 for an empty column).
    """
    rows = []
    n = len(frame)
    for c in frame.columns:
        x = frame[c]
        xs = x.dropna()
        sk = float(skew(xs)) if len(xs) >= 3 else np.nan
        ku = float(kurt(xs)) if len(xs) >= 4 else np.nan
        avail = len(xs) / n if n else np.nan
        rows.append({
            "indicator": c, "n": len(xs), "availability": avail,
            "mean": xs.mean(), "median": xs.median(), "sd": xs.std(ddof=1), "min": xs.min(),
            "max": xs.max(), "skew": sk, "kurtosis": ku,
            "n_nonzero": int((xs != 0).sum()), "n_unique": int(xs.nunique()),
            "n_same": int(xs.value_counts().max()) if len(xs) else 0,
            "flag_availability": bool(avail < MIN_AVAILABILITY),
            "flag_outliers": bool(abs(sk) >= 2 and ku >= 3.5) if np.isfinite(sk) and np.isfinite(ku) else False,
        })
    return pd.DataFrame(rows)


def cronbach_alpha(frame: pd.DataFrame, use: str = "pairwise") -> float:
    """Cronbach's alpha of the columns of ``frame`` [Cronbach51]_.

    ``alpha = k^2 * mean(off-diagonal covariances) / sum(all covariances)``, which equals
    ``k/(k-1) * (1 - sum(var_i) / var(sum_i))`` when no value is missing.

    Parameters
    ----------
    frame : pandas.DataFrame
        One column per item (indicator), one row per unit.
    use : {"pairwise", "complete"}
        ``"pairwise"`` (default, as COINr's ``get_cronbach``) estimates each covariance
        from the units observed on both columns; ``"complete"`` drops every unit with a
        missing value first.

    Returns
    -------
    float
        NaN with fewer than 2 columns or 2 usable rows, or zero total covariance.
    """
    if use not in ("pairwise", "complete"):
        raise HumsecError(f"cronbach_alpha: use must be 'pairwise' or 'complete', got {use!r}")
    x = frame.dropna() if use == "complete" else frame
    k = x.shape[1]
    if k < 2 or x.dropna(how="all").shape[0] < 2:
        return float("nan")
    cov = x.cov(min_periods=2).to_numpy(dtype=float)  # pandas: pairwise-complete
    total = np.nansum(cov)
    if total == 0:
        return float("nan")
    off_mean = (total - np.nansum(np.diag(cov))) / (k * (k - 1))
    return float(k * k * off_mean / total)


def pca(frame: pd.DataFrame) -> PCAResult:
    """PCA of the correlation matrix (standardised columns, complete cases).

    Returns the share of variance explained by each component and the loadings
    (eigenvector entries, sign chosen so that the sum is positive) of the first.
    """
    x = frame.dropna()
    sd = x.std(ddof=1)
    x = x.loc[:, sd > 0]
    if x.shape[1] < 2 or len(x) < 3:
        return PCAResult(np.array([1.0] if x.shape[1] else []), pd.Series(1.0, index=x.columns), len(x))
    corr = np.corrcoef(x.to_numpy(dtype=float), rowvar=False)
    vals, vecs = np.linalg.eigh(corr)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    v1 = vecs[:, 0] * (1 if vecs[:, 0].sum() >= 0 else -1)
    return PCAResult(vals / vals.sum(), pd.Series(v1, index=x.columns), len(x))


@dataclass(frozen=True)
class AuditReport:
    """Tables of an audit (all pandas DataFrames) and the alpha/PCA per aggregate."""

    indicators: pd.DataFrame
    parent_correlations: pd.DataFrame
    sibling_correlations: pd.DataFrame
    aggregates: pd.DataFrame
    leave_one_out: pd.DataFrame
    flags: pd.DataFrame
    treatment: pd.DataFrame = field(default_factory=pd.DataFrame)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"indicators": self.indicators, "parent_correlations": self.parent_correlations,
                "sibling_correlations": self.sibling_correlations, "aggregates": self.aggregates,
                "leave_one_out": self.leave_one_out, "flags": self.flags,
                "treatment": self.treatment}


def audit(result: IndexResult, *, leave_one_out: bool = True) -> AuditReport:
    """Audit a built index.

    Parameters
    ----------
    result : IndexResult
    leave_one_out : bool
        Also rebuild the index without each aggregate below the root (one rebuild each).

    Returns
    -------
    AuditReport
    """
    spec = result.spec
    raw = result.dataset("Raw")
    scores = result.scores
    stats = indicator_stats(raw)
    flags: list[dict] = []
    for r in stats.itertuples():
        if r.flag_availability:
            flags.append({"node": r.indicator, "flag": "low availability",
                          "value": r.availability, "detail": f"< {MIN_AVAILABILITY}"})
        if r.flag_outliers:
            flags.append({"node": r.indicator, "flag": "skew/kurtosis", "value": r.skew,
                          "detail": f"skew {r.skew:.2f}, kurtosis {r.kurtosis:.2f}"})
    par_rows, sib_rows, agg_rows = [], [], []
    for code, node in spec.nodes.items():
        if node.parent is None:
            continue
        c = scores[[code, node.parent]].dropna().corr().iloc[0, 1]
        par_rows.append({"node": code, "parent": node.parent, "level": spec.level(code), "r": c})
        # correlation with the root too (COINr's indicator-index correlation)
        if node.parent != spec.root:
            par_rows[-1]["r_root"] = scores[[code, spec.root]].dropna().corr().iloc[0, 1]
    for parent in spec.aggregates:
        kids = spec.children[parent]
        frame = scores[kids]
        if len(kids) >= 2:
            corr = frame.corr()
            for i, a in enumerate(kids):
                for b in kids[i + 1:]:
                    r = corr.loc[a, b]
                    sib_rows.append({"parent": parent, "a": a, "b": b, "r": r})
                    if r > COLLINEAR:
                        flags.append({"node": f"{a}/{b}", "flag": "collinear", "value": r,
                                      "detail": f"r > {COLLINEAR} within {parent}"})
                    if r < NEGATIVE:
                        flags.append({"node": f"{a}/{b}", "flag": "negative correlation", "value": r,
                                      "detail": f"r < {NEGATIVE} within {parent}"})
        p = pca(frame)
        agg_rows.append({"aggregate": parent, "level": spec.level(parent), "n_children": len(kids),
                         "cronbach_alpha": cronbach_alpha(frame),
                         "pc1_variance": float(p.explained[0]) if len(p.explained) else np.nan,
                         "pc1_loadings": ", ".join(f"{k}:{v:.2f}" for k, v in p.loadings.items())})
    loo_rows: list[dict[str, object]] = []
    if leave_one_out:
        base = result.ranks[spec.root]
        for code in spec.aggregates:
            if code == spec.root:
                continue
            siblings = spec.children[spec.nodes[code].parent]  # type: ignore[index]
            if len(siblings) < 2:
                continue
            try:
                alt = regenerate(result, {f"tree.{code}.weight": 0.0})
            except HumsecError as exc:
                loo_rows.append({"removed": code, "error": str(exc)})
                continue
            shift = (alt.ranks[spec.root] - base).abs()
            loo_rows.append({"removed": code, "level": spec.level(code),
                             "mean_abs_rank_shift": float(shift.mean()),
                             "max_abs_rank_shift": float(shift.max()),
                             "units_moved": int((shift > 0).sum())})
    return AuditReport(
        indicators=stats, parent_correlations=pd.DataFrame(par_rows),
        sibling_correlations=pd.DataFrame(sib_rows), aggregates=pd.DataFrame(agg_rows),
        leave_one_out=pd.DataFrame(loo_rows),
        flags=pd.DataFrame(flags, columns=["node", "flag", "value", "detail"]),
        treatment=(treatment_log(result) if any(r.step == "treat" for r in result.log)
                   and "Treated" in result.datasets else pd.DataFrame()))


def treatment_log(result: IndexResult) -> pd.DataFrame:
    """The treatment of every indicator, with the points Winsorisation tried.

    The build's step log records, per indicator, the outcome and the number of points
    Winsorised in the returned values; when COINr's rule abandons Winsorisation for the
    second function (``log_CT``) that number is 0. This table re-applies the logged
    treatment kernels (same method and parameters, same input data set) and adds
    ``n_winsorised_tried``: the points Winsorisation touched before it was abandoned
    (``n_winsorised`` otherwise), as COINr's ``Treat`` details report ``Nwin``.

    Returns
    -------
    pandas.DataFrame
        One row per treated indicator: ``indicator, method, outcome, treated,
        n_winsorised, n_winsorised_tried, skew_before, kurt_before, skew_after,
        kurt_after, winsorised_units``; empty if the build has no ``treat`` step.
    """
    names = list(result.datasets)
    rows: list[dict] = []
    for rec in result.log:
        if rec.step != "treat":
            continue
        # the data set before the treatment: the one preceding 'Treated'
        i = names.index("Treated") if "Treated" in names else -1
        if i <= 0:
            raise HumsecError("treatment_log needs the data set before the treatment; build with keep=None")
        before = result.datasets[names[i - 1]]
        step = rec.as_step()
        for code in result.spec.indicators:
            if code in step.exclude or code not in before.columns:
                continue
            method_name, params = resolve_method(step, code, 1)
            m = registry_for("treat").get(method_name)
            res = m.fn(before[code], code=code, **m.validate_params(params))
            rows.append({"indicator": code, "method": method_name, "outcome": res.method,
                         "treated": res.treated, "n_winsorised": res.n_winsorised,
                         "n_winsorised_tried": getattr(res, "n_winsorised_tried", res.n_winsorised),
                         "skew_before": res.skew_before, "kurt_before": res.kurt_before,
                         "skew_after": res.skew_after, "kurt_after": res.kurt_after,
                         "winsorised_units": ", ".join(map(str, res.winsorised_units))})
    return pd.DataFrame(rows, columns=["indicator", "method", "outcome", "treated", "n_winsorised",
                                       "n_winsorised_tried", "skew_before", "kurt_before",
                                       "skew_after", "kurt_after", "winsorised_units"])
