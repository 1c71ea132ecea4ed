"""Analyses of any built index (COINr's ``get_corr``, ``get_pvals``, ``get_denom_corr``,
``get_data_avail``, ``compare_coins``, ``get_unit_summary``, ``get_str_weak`` and
``get_opt_weights``).

Every function takes an :class:`~humsec.index.pipeline.IndexResult` and returns plain
pandas tables (or a frozen dataclass of them); nothing changes the result.

References
----------
.. [COINr] Becker, W., Caperna, G., Del Sorbo, M., Norlén, H., Papadimitriou, E.,
   Saisana, M. (2022). COINr: An R package for developing composite indicators. *Journal
   of Open Source Software* 7(78), 4567. https://doi.org/10.21105/joss.04567; COINr 1.1.14
   ``R/correlations.R``, ``R/results.R``, ``R/compare.R``, ``R/weights.R``.
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 4
   (multivariate analysis) and Step 6 (weighting). https://doi.org/10.1787/9789264043466-en
.. [BPS17] Becker, W., Paruolo, P., Saisana, M., Saltelli, A. (2017). Weights and
   importance in composite indicators: closing the gap. *Ecological Indicators* 80, 12-22.
.. [Kendall38] Kendall, M. G. (1938). A new measure of rank correlation. *Biometrika*
   30, 81-93.
.. [Spearman04] Spearman, C. (1904). The proof and measurement of association between two
   things. *American Journal of Psychology* 15, 72-101.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.index.pipeline import IndexResult, StepCache, build, is_wide, rank_desc

__all__ = ["CORR_METHODS", "OptWeightsResult", "compare_coins", "data_availability", "get_corr",
           "get_denom_corr", "get_opt_weights", "get_pvals", "get_str_weak", "get_unit_summary"]

CORR_METHODS = ("pearson", "spearman", "kendall")


# ---------------------------------------------------------------------------- selection


def _frame(result: IndexResult, dset: str) -> pd.DataFrame:
    return result.dataset(dset)


def _codes(result: IndexResult, frame: pd.DataFrame, codes: Sequence[str] | None,
           level: int | None, what: str) -> list[str]:
    spec = result.spec
    if codes is not None:
        bad = [c for c in codes if c not in frame.columns]
        if bad:
            raise HumsecError(f"{what}: {', '.join(bad)} not in the data set (columns: "
                              f"{', '.join(map(str, frame.columns[:12]))}{' ...' if frame.shape[1] > 12 else ''})")
        out = list(codes)
    else:
        out = [c for c in frame.columns if c in spec.nodes]
    if level is not None:
        levels = sorted({spec.level(c) for c in spec.nodes})
        if level not in levels:
            raise HumsecError(f"{what}: level {level} does not exist; levels are {levels}")
        out = [c for c in out if spec.level(c) == level]
        if not out:
            raise HumsecError(f"{what}: no column of level {level} in this data set (use the "
                              "Aggregated data set for aggregate levels)")
    return out


def _check_method(method: str) -> None:
    if method not in CORR_METHODS:
        raise HumsecError(f"correlation method must be one of {', '.join(CORR_METHODS)}, got {method!r}")


# ---------------------------------------------------------------------------- correlations


def get_corr(result: IndexResult, *, dset: str = "Aggregated", codes: Sequence[str] | None = None,
             level: int | None = None, codes2: Sequence[str] | None = None, level2: int | None = None,
             method: Literal["pearson", "spearman", "kendall"] = "pearson") -> pd.DataFrame:
    """Correlation matrix of columns of a data set (COINr ``get_corr``) [COINr]_.

    Pearson, Spearman [Spearman04]_ or Kendall's tau-b [Kendall38]_ correlation of each
    pair of columns over the units observed on both (pairwise-complete, as COINr's
    ``use = "pairwise.complete.obs"``).

    Parameters
    ----------
    result : IndexResult
    dset : str
        Data set (``Raw`` ... ``Aggregated``).
    codes, level : optional
        Row columns: these codes and/or the nodes of this level (1 = indicators).
    codes2, level2 : optional
        Column columns (default: the same as the rows), e.g. indicators (level 1) against
        pillars (level 2) as ``get_corr(..., Levels = c(1, 2))``.
    method : {"pearson", "spearman", "kendall"}

    Returns
    -------
    pandas.DataFrame
        Rows ``codes``, columns ``codes2``; NaN where fewer than 2 common units or a
        constant column.
    """
    _check_method(method)
    f = _frame(result, dset)
    rows = _codes(result, f, codes, level, "get_corr")
    cols = rows if codes2 is None and level2 is None else _codes(result, f, codes2, level2, "get_corr")
    both = list(dict.fromkeys(rows + cols))
    c = f[both].corr(method=method, min_periods=2)
    return c.loc[rows, cols]


def _pval(a: np.ndarray, b: np.ndarray, method: str) -> float:
    from scipy import stats

    m = ~(np.isnan(a) | np.isnan(b))
    a, b = a[m], b[m]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    if method == "pearson":
        return float(stats.pearsonr(a, b).pvalue)
    if method == "spearman":
        return float(stats.spearmanr(a, b).pvalue)
    return float(stats.kendalltau(a, b).pvalue)


def get_pvals(result: IndexResult, *, dset: str = "Aggregated", codes: Sequence[str] | None = None,
              level: int | None = None, codes2: Sequence[str] | None = None,
              level2: int | None = None,
              method: Literal["pearson", "spearman", "kendall"] = "pearson") -> pd.DataFrame:
    """Two-sided p-values of the correlations of :func:`get_corr` (COINr ``get_pvals``).

    Null hypothesis: no association. Pearson: the t test with ``n - 2`` degrees of freedom
    (:func:`scipy.stats.pearsonr`, as R's ``cor.test``); Spearman: the t approximation of
    :func:`scipy.stats.spearmanr`; Kendall: :func:`scipy.stats.kendalltau` (exact for
    small samples without ties, else the normal approximation). R's ``cor.test`` uses exact
    Spearman p-values for ``n < 1290`` without ties, so Spearman p-values differ slightly
    from COINr's on small samples. Pairwise-complete units; NaN with fewer than 3.
    """
    _check_method(method)
    f = _frame(result, dset)
    rows = _codes(result, f, codes, level, "get_pvals")
    cols = rows if codes2 is None and level2 is None else _codes(result, f, codes2, level2, "get_pvals")
    X = {c: f[c].to_numpy(dtype=float) for c in dict.fromkeys(rows + cols)}
    out = np.full((len(rows), len(cols)), np.nan)
    for i, a in enumerate(rows):
        for j, b in enumerate(cols):
            out[i, j] = 0.0 if a == b else _pval(X[a], X[b], method)
    return pd.DataFrame(out, index=rows, columns=cols)


def _denominators(result: IndexResult) -> pd.DataFrame:
    names = result.spec.denominators
    data = result.data
    units = result.dataset("Raw").index if "Raw" in result.datasets else result.scores.index
    if not names:
        return pd.DataFrame(index=units)
    if is_wide(data):
        d = data.assign(unit=data["unit"].astype(str)).set_index("unit")
        return d.reindex(units)[[n for n in names if n in d.columns]].apply(pd.to_numeric, errors="coerce")
    sel = data[data["indicator"].isin(names)]
    if "year" in sel.columns and result.year is not None:
        sel = sel[sel["year"] == result.year]
    wide = sel.assign(unit=sel["unit"].astype(str)).pivot_table(index="unit", columns="indicator",
                                                                values="value", aggfunc="first")
    return wide.reindex(units)


def get_denom_corr(result: IndexResult, *, dset: str = "Raw", cor_thresh: float = 0.6,
                   method: Literal["pearson", "spearman", "kendall"] = "pearson") -> pd.DataFrame:
    """Correlations of indicators with the spec's denominators (COINr ``get_denom_corr``).

    High correlations with, e.g., population or GDP suggest an indicator measures size
    and may need denominating [OECD08]_ [COINr]_.

    Returns
    -------
    pandas.DataFrame
        ``indicator, denominator, r`` for every pair with ``|r| > cor_thresh``, sorted by
        ``|r|`` (largest first). Empty if the spec has no denominators.
    """
    _check_method(method)
    f = _frame(result, dset)
    dens = _denominators(result)
    rows = []
    for d in dens.columns:
        for c in result.spec.indicators:
            if c not in f.columns:
                continue
            r = pd.concat([f[c], dens[d].reindex(f.index)], axis=1).corr(method=method, min_periods=2).iloc[0, 1]
            if np.isfinite(r) and abs(r) > cor_thresh:
                rows.append({"indicator": c, "denominator": d, "r": float(r)})
    out = pd.DataFrame(rows, columns=["indicator", "denominator", "r"])
    return out.reindex(out["r"].abs().sort_values(ascending=False, kind="stable").index).reset_index(drop=True)


# ---------------------------------------------------------------------------- availability


@dataclass(frozen=True)
class Availability:
    """Data availability per unit, per unit and framework group, and per unit group."""

    summary: pd.DataFrame
    by_group: pd.DataFrame
    by_unit_group: pd.DataFrame


def data_availability(result: IndexResult, *, dset: str = "Raw", level: int = 2,
                      unit_group: str | None = None) -> Availability:
    """Data availability by unit and by group (COINr ``get_data_avail``) [COINr]_.

    Parameters
    ----------
    dset : str
        Data set of indicators (default ``Raw``).
    level : int
        Framework level whose groups ``by_group`` reports (2 = the indicators' parents):
        for each unit, the share of each group's indicators that are observed.
    unit_group : str, optional
        A group of the spec (``groups``); ``by_unit_group`` then gives, per group of units,
        the mean availability and the number of units below 2/3 availability.

    Returns
    -------
    Availability
        ``summary``: ``unit, n_missing, n_zero, n_miss_or_zero, availability
        (= 1 - n_missing / n), non_zero`` (share of the observed values that are not 0),
        COINr's ``Summary`` columns; ``by_group``: units x groups.
    """
    spec = result.spec
    f = _frame(result, dset)
    inds = [c for c in spec.indicators if c in f.columns]
    if not inds:
        raise HumsecError(f"data availability: data set '{dset}' has no indicators")
    X = f[inds]
    n = len(inds)
    miss = X.isna().sum(axis=1)
    zero = (X == 0).sum(axis=1)
    avail = n - miss
    with np.errstate(invalid="ignore", divide="ignore"):
        non_zero = np.where(avail > 0, 1 - zero / avail.where(avail > 0, 1), np.nan)
    summary = pd.DataFrame({"unit": X.index, "n_missing": miss.to_numpy(), "n_zero": zero.to_numpy(),
                            "n_miss_or_zero": (miss + zero).to_numpy(),
                            "availability": (1 - miss / n).to_numpy(), "non_zero": non_zero})
    levels = sorted({spec.level(c) for c in spec.nodes})
    if level not in levels or level < 2:
        raise HumsecError(f"data availability: level must be an aggregate level, one of {levels[1:]}")
    groups = {}
    for g in spec.nodes:
        if spec.level(g) != level:
            continue
        leaves = [c for c in inds if g in spec.path(c)]
        if leaves:
            groups[g] = X[leaves].notna().mean(axis=1)
    by_group = pd.DataFrame(groups).rename_axis("unit").reset_index()
    by_unit_group = pd.DataFrame()
    if unit_group is not None:
        if unit_group not in spec.groups:
            raise HumsecError(f"data availability: no unit group '{unit_group}'; the spec has "
                              f"{', '.join(spec.groups) or 'none'}")
        lab = pd.Series(spec.groups[unit_group], dtype=object).reindex(X.index).fillna("(none)")
        s = summary.assign(group=lab.to_numpy())
        by_unit_group = (s.groupby("group", sort=True)
                         .agg(n_units=("unit", "size"), mean_availability=("availability", "mean"),
                              min_availability=("availability", "min"),
                              n_low=("availability", lambda a: int((a < 2 / 3).sum())))
                         .reset_index())
    return Availability(summary, by_group, by_unit_group)


# ---------------------------------------------------------------------------- results


def compare_coins(result1: IndexResult, result2: IndexResult, *, code: str | None = None,
                  dset: str = "Aggregated", compare_by: Literal["ranks", "scores"] = "ranks",
                  ) -> pd.DataFrame:
    """Compare one column of two builds unit by unit (COINr ``compare_coins``) [COINr]_.

    Parameters
    ----------
    result1, result2 : IndexResult
        E.g. an index and a variant (another normalisation, weights, a later vintage).
    code : str, optional
        Column to compare (default: the root of ``result1``).
    compare_by : {"ranks", "scores"}
        Ranks are each build's own (1 = best, ties share the lowest rank, the node's
        direction respected); scores are the data set's values.

    Returns
    -------
    pandas.DataFrame
        ``unit, result_1, result_2, diff (= result_1 - result_2), abs_diff`` over the union
        of units (NaN where a unit is absent from one build), sorted by ``result_1``.
    """
    if compare_by not in ("ranks", "scores"):
        raise HumsecError(f"compare_by must be 'ranks' or 'scores', got {compare_by!r}")
    code = code or result1.spec.root
    cols = []
    for r in (result1, result2):
        f = _frame(r, dset)
        if code not in f.columns:
            raise HumsecError(f"compare_coins: '{code}' is not in the {dset} data set of '{r.spec.name}'")
        if compare_by == "scores":
            cols.append(f[code])
        elif dset == "Aggregated":
            cols.append(r.ranks[code])
        else:
            node = r.spec.nodes.get(code)
            cols.append(rank_desc(f[code] * (node.direction if node is not None else 1)))
    a, b = cols
    units = a.index.union(b.index)
    a, b = a.reindex(units), b.reindex(units)
    out = pd.DataFrame({"unit": units, "result_1": a.to_numpy(), "result_2": b.to_numpy()})
    out["diff"] = out["result_1"] - out["result_2"]
    out["abs_diff"] = out["diff"].abs()
    return out.sort_values(["result_1", "unit"], kind="stable").reset_index(drop=True)


def get_unit_summary(result: IndexResult, unit: str, *, levels: Sequence[int] | None = None) -> pd.DataFrame:
    """Scores and ranks of one unit at the chosen levels (COINr ``get_unit_summary``).

    Highest level first (the index on top); default: every aggregate level.

    Returns
    -------
    pandas.DataFrame
        ``code, name, level, score, rank``.
    """
    spec = result.spec
    if unit not in result.scores.index:
        raise HumsecError(f"unit '{unit}' is not in the index (it may have been screened out)")
    all_levels = sorted({spec.level(c) for c in spec.nodes})
    levels = list(levels) if levels is not None else [lv for lv in all_levels if lv > 1]
    bad = [lv for lv in levels if lv not in all_levels]
    if bad:
        raise HumsecError(f"levels {bad} do not exist; levels are {all_levels}")
    codes = sorted((c for c in spec.nodes if spec.level(c) in levels),
                   key=lambda c: (-spec.level(c), [n.code for n in spec.tree].index(c)))
    return pd.DataFrame({"code": codes, "name": [spec.nodes[c].name or c for c in codes],
                         "level": [spec.level(c) for c in codes],
                         "score": [float(result.scores.at[unit, c]) for c in codes],
                         "rank": [float(result.ranks.at[unit, c]) for c in codes]})


@dataclass(frozen=True)
class StrengthsWeaknesses:
    strengths: pd.DataFrame
    weaknesses: pd.DataFrame


def get_str_weak(result: IndexResult, unit: str, *, dset: str = "Raw", top_n: int = 5,
                 bottom_n: int = 5, unq_discard: float | None = None, min_discard: bool = True,
                 report_level: int = 2, adjust_direction: bool | None = None,
                 unit_group: str | None = None) -> StrengthsWeaknesses:
    """A unit's strongest and weakest indicators by its rank in each (COINr ``get_str_weak``).

    As COINr [COINr]_: values are multiplied by the indicator directions (default: only
    for ``Raw``, whose values are not yet direction-adjusted), ranked across units (1 =
    best, ties share the lowest rank; within the unit's group of ``unit_group`` if
    given); indicators where the unit is missing are skipped; with ``unq_discard`` those
    whose share of distinct values (``n_unique / n`` over all units, missing counted as a
    value as R's ``unique``) is not above it are dropped; with ``min_discard`` those
    where the unit has the worst rank. The ``top_n`` best ranks are strengths, the
    ``bottom_n`` worst weaknesses (ties kept in framework order).

    Returns
    -------
    StrengthsWeaknesses
        Two tables ``code, name, <level-name>, rank, value``.
    """
    spec = result.spec
    f = _frame(result, dset)
    if unit not in f.index:
        raise HumsecError(f"unit '{unit}' is not in the {dset} data set")
    inds = [c for c in spec.indicators if c in f.columns]
    if not (1 <= top_n <= len(inds)) or not (1 <= bottom_n <= len(inds)):
        raise HumsecError(f"top_n and bottom_n must be between 1 and {len(inds)}")
    levels = sorted({spec.level(c) for c in spec.nodes})
    if report_level not in levels[1:]:
        raise HumsecError(f"report_level must be one of {levels[1:]}")
    adjust = (dset == "Raw") if adjust_direction is None else adjust_direction
    X = f[inds]
    signed = X * np.array([spec.nodes[c].direction for c in inds], dtype=float) if adjust else X
    if unit_group is not None:
        if unit_group not in spec.groups:
            raise HumsecError(f"no unit group '{unit_group}'")
        lab = pd.Series(spec.groups[unit_group], dtype=object).reindex(X.index)
        peers = lab.index[lab == lab.get(unit)] if pd.notna(lab.get(unit)) else pd.Index([unit])
        ranks = rank_desc(signed.loc[peers])
    else:
        ranks = rank_desc(signed)
    keep = inds
    if unq_discard is not None:
        frc = {c: X[c].nunique(dropna=False) / len(X) for c in inds}
        keep = [c for c in keep if frc[c] > unq_discard]
    r_unit = ranks.loc[unit, keep]
    r_unit = r_unit[r_unit.notna()]
    if min_discard:
        worst = ranks[r_unit.index].max()
        r_unit = r_unit[r_unit != worst]
    r_unit = r_unit.sort_values(kind="stable")

    def parent_at(c: str) -> str | None:
        for p in spec.path(c):
            if spec.level(p) == report_level:
                return p
        return None

    def table(codes: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"code": codes, "name": [spec.nodes[c].name or c for c in codes],
                             f"level_{report_level}": [parent_at(c) for c in codes],
                             "rank": [float(r_unit[c]) for c in codes],
                             "value": [float(X.at[unit, c]) for c in codes]})

    codes = list(r_unit.index)
    return StrengthsWeaknesses(table(codes[:top_n]), table(codes[max(0, len(codes) - bottom_n):]))


# ---------------------------------------------------------------------------- weights


@dataclass(frozen=True)
class OptWeightsResult:
    """Outcome of :func:`get_opt_weights`.

    Attributes
    ----------
    weights : pandas.Series
        Optimised weights of the nodes of the level (summing to 1 within each parent).
    correlations : pandas.DataFrame
        ``code, desired, obtained, weight``: target shares and the correlations (as shares
        of their sum, for ``balance``; raw for ``infomax``) of each node with the root.
    converged : bool
        The optimiser's success flag.
    n_iter, n_eval : int
    objective : float
        Final value of the objective.
    message : str
    result : IndexResult
        The index rebuilt with the optimised weights.
    """

    weights: pd.Series
    correlations: pd.DataFrame
    converged: bool
    n_iter: int
    n_eval: int
    objective: float
    message: str
    result: IndexResult


def get_opt_weights(result: IndexResult, *, level: int | None = None,
                    target: Sequence[float] | None = None,
                    optype: Literal["balance", "infomax"] = "balance",
                    method: Literal["pearson", "spearman", "kendall"] = "pearson",
                    tol: float = 1e-6, maxiter: int = 500) -> OptWeightsResult:
    """Optimise the weights of one level so its nodes' correlations with the index meet a
    target (COINr ``get_opt_weights``) [BPS17]_ [COINr]_.

    Each candidate weight vector is written into the spec (``tree.<code>.weight``) and
    the index rebuilt (earlier steps reused from a cache), so the correlations are those
    of the full pipeline, whatever the aggregation. The objective is the one of the
    ``optimised`` weight kernel (:func:`humsec.index.methods.weights.optimised`):
    ``balance``: ``log(mean((t - r / sum(r))^2))`` with ``t`` the target shares (default
    equal); ``infomax``: ``-sum(r)``. Minimised by Nelder-Mead over ``|p| / sum|p|`` from
    the target (balance) or the current weights (infomax), so weights stay >= 0. COINr's
    ``optim`` works on ``w / sum(w)`` without that constraint and may return a negative
    weight when a target is out of reach with non-negative ones (its own test with
    ``itarg = c(1, 2)`` on ASEM does); here the closest non-negative weights are returned
    (a weight at 0), and ``correlations`` shows how far the target remains.

    Parameters
    ----------
    level : int, optional
        Level whose nodes are weighted (default: the root's children).
    target : sequence of float, optional
        Desired relative correlations, one per node of the level, in framework order.
    tol, maxiter : float, int
        Nelder-Mead tolerances (``xatol = fatol = tol``) and iteration limit.

    Returns
    -------
    OptWeightsResult
        With the optimiser's convergence (``converged``, ``n_iter``, ``n_eval``,
        ``message``).
    """
    from scipy.optimize import minimize

    _check_method(method)
    if optype not in ("balance", "infomax"):
        raise HumsecError(f"optype must be 'balance' or 'infomax', got {optype!r}")
    spec = result.spec
    root = spec.root
    level = spec.level(root) - 1 if level is None else level
    codes = [n.code for n in spec.tree if n.code != root and spec.level(n.code) == level]
    if len(codes) < 2:
        raise HumsecError(f"get_opt_weights: level {level} has {len(codes)} node(s); need at least 2")
    k = len(codes)
    if target is not None and len(target) != k:
        raise HumsecError(f"get_opt_weights: target has {len(target)} entries for the {k} nodes of "
                          f"level {level} ({', '.join(codes)})")
    if target is not None and (min(target) < 0 or sum(target) <= 0):
        raise HumsecError("get_opt_weights: target entries must be >= 0 and not all 0")
    t = np.ones(k) / k if target is None else np.asarray(target, float) / float(np.sum(target))
    base = spec.model_copy(update={"steps": tuple(r.as_step() for r in result.log)})
    cache = StepCache()

    def wts(p: np.ndarray) -> np.ndarray:
        a = np.abs(p)
        s = a.sum()
        return a / s if s > 0 else np.ones(k) / k

    def run(p: np.ndarray) -> tuple[IndexResult, np.ndarray]:
        w = wts(p)
        s = base.with_changes({f"tree.{c}.weight": float(v) for c, v in zip(codes, w)})
        res = build(s, result.data, year=result.year, cache=cache)
        sc = res.scores
        r = np.array([sc[[c, root]].corr(method=method, min_periods=2).iloc[0, 1] for c in codes])
        return res, r

    def objective(p: np.ndarray) -> float:
        _, r = run(p)
        if not np.isfinite(r).all():
            return 1e6
        if optype == "infomax":
            return -float(r.sum())
        rs = r.sum()
        if rs == 0:
            return 1e6
        return float(np.log(np.mean((t - r / rs) ** 2) + 1e-300))

    if optype == "balance":
        start = t.copy()
    else:
        w0 = np.array([spec.nodes[c].weight for c in codes], dtype=float)
        start = w0 / w0.sum() if w0.sum() > 0 else np.ones(k) / k
    opt = minimize(objective, start, method="Nelder-Mead",
                   options={"xatol": tol, "fatol": tol, "maxiter": maxiter, "maxfev": maxiter * 4})
    w = wts(opt.x)
    res, r = run(opt.x)
    obtained = r / r.sum() if optype == "balance" else r
    weights = pd.Series(w, index=codes, name="weight")
    # within-parent shares, as the spec stores them
    corr = pd.DataFrame({"code": codes, "desired": t if optype == "balance" else np.nan,
                         "obtained": obtained, "r": r, "weight": w})
    return OptWeightsResult(weights=weights, correlations=corr, converged=bool(opt.success),
                            n_iter=int(opt.nit), n_eval=int(opt.nfev), objective=float(opt.fun),
                            message=str(opt.message), result=res)
