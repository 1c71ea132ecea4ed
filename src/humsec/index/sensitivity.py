"""Variance-based sensitivity analysis of composite indices: Sobol' indices from an
A/B/AB design, by a choice of estimators, with bootstrap intervals.

A design of ``N (k + 2)`` runs holds two independent base samples ``A`` and ``B``
(``N`` rows each) of the ``k`` inputs and, for every input ``i``, the matrix ``AB_i``: ``A``
with column ``i`` taken from ``B`` [Saltelli10]_. Each run is labelled by its matrix
(``A``, ``B`` or ``AB:<input>``) and its base row ``j``, so indices can be computed from
any design whose runs were replayed (:func:`humsec.index.uncertainty.replay`), including
one sampled by another tool: the labels come from the run table's ``sobol_matrix`` and
``sobol_row`` columns, or from a known layout (:func:`design_labels`: SALib's
interleaved rows, or COINr's ``SA_sample`` blocks).

Estimators (``y_A``, ``y_B``, ``y_ABi`` the outputs of the runs):

``saltelli``
    SALib's [SALib]_ (Saltelli et al. 2010, their Table 2 (b) and (f)): ``Y`` standardised
    first, ``S_i = mean(y_B (y_ABi - y_A)) / V``, ``ST_i = mean((y_A - y_ABi)^2) / (2 V)``,
    ``V`` the population variance of ``y_A`` and ``y_B``; bootstrap over base rows,
    ``S1_conf`` = z times the bootstrap standard deviation.
``coinr``
    COINr's ``SA_estimate`` [COINr]_: the same formulas on the *unstandardised* output
    with ``V = var(c(y_A, y_B))`` (``n - 1`` denominator). The first-order estimator is
    not invariant to a shift of ``Y``, so it differs from SALib's on the same runs (by a
    factor of two and more when the mean of ``Y`` is large against its spread).
    COINr's bootstrap: each input's terms resampled independently, ``V`` held fixed;
    the intervals are the 5th and 95th percentiles (R type 7).
``jansen``
    Jansen's estimators [Jansen99]_: ``S_i = (V - mean((y_B - y_ABi)^2) / 2) / V``,
    ``ST_i = mean((y_A - y_ABi)^2) / (2 V)``; bootstrap as ``saltelli``.

Every estimator reports ``S1, S1_conf, ST, ST_conf`` (half-width of the
``conf_level`` interval) and ``S1_q05, S1_q95, ST_q05, ST_q95`` (percentiles of the
bootstrap replicates, R type 7).

References
----------
.. [Saltelli10] Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M.,
   Tarantola, S. (2010). Variance based sensitivity analysis of model output. Design and
   estimator for the total sensitivity index. *Computer Physics Communications* 181(2),
   259-270. https://doi.org/10.1016/j.cpc.2009.09.018
.. [Jansen99] Jansen, M. J. W. (1999). Analysis of variance designs for model output.
   *Computer Physics Communications* 117, 35-43.
.. [SA08] Saltelli, A. et al. (2008). *Global Sensitivity Analysis: The Primer*. Wiley.
.. [SALib] Herman, J., Usher, W. (2017). SALib: An open-source Python library for
   sensitivity analysis. *JOSS* 2(9), 97. https://doi.org/10.21105/joss.00097
.. [COINr] Becker, W. et al. (2022). COINr. *JOSS* 7(78), 4567; COINr 1.1.14
   ``R/sensitivity.R`` (``SA_sample``, ``SA_estimate``, ``get_sensitivity``).
.. [Efron79] Efron, B. (1979). Bootstrap methods: another look at the jackknife.
   *Annals of Statistics* 7(1), 1-26.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.index.pipeline import StepCache
from humsec.index.scale import executor_for
from humsec.index.spec import IndexSpec
from humsec.index.uncertainty_design import make_design
from humsec.index.uncertainty_evaluate import UncertaintyResult, evaluate, finish
from humsec.index.uncertainty_spec import Output, UncertaintySpec, validate_against

__all__ = ["ESTIMATORS", "LAYOUTS", "SensitivityResult", "design_labels", "sensitivity_analysis",
           "sensitivity_from_runs", "sobol_from_design", "sobol_indices"]

ESTIMATORS = ("saltelli", "coinr", "jansen")
LAYOUTS = ("salib", "coinr")
COLUMNS = ["S1", "S1_conf", "ST", "ST_conf", "S1_q05", "S1_q95", "ST_q05", "ST_q95"]


# ---------------------------------------------------------------------------- design


def design_labels(n: int, names: Sequence[str], layout: Literal["salib", "coinr"] = "salib"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Matrix label (``A``, ``B``, ``AB:<name>``) and base row of each run of a design.

    ``salib``: SALib's ``sobol.sample(calc_second_order=False)`` order, ``k + 2`` rows
    per base row ``j``: ``A_j, AB_1j, ..., AB_kj, B_j``. ``coinr``: COINr's ``SA_sample``
    order, blocks of ``n`` rows: ``A``, ``B``, ``AB_1``, ..., ``AB_k``.
    """
    if layout not in LAYOUTS:
        raise HumsecError(f"Sobol' design layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    labels = ["A", *[f"AB:{c}" for c in names], "B"]
    k = len(names)
    if layout == "salib":
        matrix = np.tile(np.array(labels, dtype=object), n)
        row = np.repeat(np.arange(n), k + 2)
    else:
        order = ["A", "B", *labels[1:-1]]
        matrix = np.repeat(np.array(order, dtype=object), n)
        row = np.tile(np.arange(n), k + 2)
    return matrix, row


def _split(y: np.ndarray, matrix_labels: Sequence[str] | np.ndarray, rows: Sequence[int] | np.ndarray,
           names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y_A, y_B, y_AB) with y_AB of shape (N, k), rows aligned by base row."""
    y = np.asarray(y, dtype=float)
    matrix = np.asarray(matrix_labels, dtype=object)
    row = np.asarray(rows)
    if not (len(y) == len(matrix) == len(row)):
        raise HumsecError("Sobol' design: outputs, matrix labels and rows differ in length")
    k = len(names)
    want = ["A", "B", *[f"AB:{c}" for c in names]]
    bad = sorted(set(map(str, matrix)) - set(want))
    if bad:
        raise HumsecError(f"Sobol' design: unknown matrix label(s) {', '.join(bad[:5])}; expected "
                          f"A, B or AB:<input> with inputs {', '.join(names)}")
    rows = np.unique(row)
    n = len(rows)
    pos = {r: i for i, r in enumerate(rows)}
    out = {m: np.full(n, np.nan) for m in want}
    seen = {m: np.zeros(n, dtype=int) for m in want}
    for v, m, r in zip(y, matrix, row):
        i = pos[r]
        out[m][i] = v
        seen[m][i] += 1
    for m in want:
        if (seen[m] != 1).any():
            j = int(np.flatnonzero(seen[m] != 1)[0])
            raise HumsecError(f"Sobol' design: base row {rows[j]} has {seen[m][j]} run(s) of matrix {m}; "
                              f"a complete A/B/AB design has exactly one of each ({k + 2} runs per row)")
    if any(np.isnan(out[m]).any() for m in want):
        bad_n = int(sum(np.isnan(out[m]).sum() for m in want))
        raise HumsecError(f"{bad_n} of {len(y)} runs gave no output; Sobol' estimators need every run "
                          "(see the failures of the runs)")
    AB = np.column_stack([out[f"AB:{c}"] for c in names]) if k else np.empty((n, 0))
    return out["A"], out["B"], AB


# ---------------------------------------------------------------------------- estimators


def _est(yA: np.ndarray, yB: np.ndarray, AB: np.ndarray, estimator: str,
         var: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    ys = np.r_[yA, yB]
    if var is None:
        var = float(np.var(ys, ddof=1 if estimator == "coinr" else 0))
    if not var > 0:
        return np.zeros(AB.shape[1]), np.zeros(AB.shape[1])
    d = AB - yA[:, None]
    if estimator == "jansen":
        s1 = (var - 0.5 * np.mean((yB[:, None] - AB) ** 2, axis=0)) / var
    else:
        s1 = np.mean(yB[:, None] * d, axis=0) / var
    st = 0.5 * np.mean(d**2, axis=0) / var
    return s1, st


def _q(a: np.ndarray, q: float) -> np.ndarray:
    return np.quantile(a, q, axis=0, method="linear")  # R type 7


def sobol_from_design(y: np.ndarray, matrix: Sequence[str] | np.ndarray, row: Sequence[int] | np.ndarray,
                      names: Sequence[str], *,
                      estimator: Literal["saltelli", "coinr", "jansen"] = "saltelli",
                      num_resamples: int = 1000, conf_level: float = 0.95,
                      seed: int | None = 0) -> pd.DataFrame:
    """First-order and total Sobol' indices from the outputs of an A/B/AB design.

    Parameters
    ----------
    y : array
        One output per run.
    matrix, row : sequences
        Each run's matrix (``A``, ``B``, ``AB:<name>``) and base row (see
        :func:`design_labels`); any order of runs.
    names : input names (the ``k`` columns)
    estimator : {"saltelli", "coinr", "jansen"}
        See the module docstring.
    num_resamples : int
        Bootstrap replicates (0 = no intervals: NaN).
    conf_level : float
    seed : int, optional
        Seeds the bootstrap.

    Returns
    -------
    pandas.DataFrame
        Index = input names; columns ``S1, S1_conf, ST, ST_conf, S1_q05, S1_q95, ST_q05,
        ST_q95``.
    """
    if estimator not in ESTIMATORS:
        raise HumsecError(f"Sobol' estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    if not 0 < conf_level < 1:
        raise HumsecError(f"conf_level must be in (0, 1), got {conf_level}")
    if num_resamples < 0:
        raise HumsecError(f"the number of bootstrap samples must be >= 0, got {num_resamples}")
    yA, yB, AB = _split(y, matrix, row, names)
    n, k = AB.shape
    if estimator == "saltelli":
        from SALib.analyze import sobol as sobol_analyze

        # SALib's own analysis on its row order: the estimates are SALib's exactly
        Y = np.column_stack([yA, AB, yB]).reshape(-1)
        problem = {"num_vars": k, "names": list(names), "bounds": [[0.0, 1.0]] * k}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Si = sobol_analyze.analyze(problem, Y, calc_second_order=False,
                                       num_resamples=max(num_resamples, 1), conf_level=conf_level,
                                       seed=seed, keep_resamples=True)
        out = {"S1": Si["S1"], "S1_conf": Si["S1_conf"], "ST": Si["ST"], "ST_conf": Si["ST_conf"],
               "S1_q05": _q(Si["S1_conf_all"], 0.05), "S1_q95": _q(Si["S1_conf_all"], 0.95),
               "ST_q05": _q(Si["ST_conf_all"], 0.05), "ST_q95": _q(Si["ST_conf_all"], 0.95)}
        if num_resamples == 0:
            for c in COLUMNS[4:] + ["S1_conf", "ST_conf"]:
                out[c] = np.full(k, np.nan)
        return pd.DataFrame(out, index=pd.Index(list(names), name="input"))[COLUMNS]
    from scipy.stats import norm

    s1, st = _est(yA, yB, AB, estimator)
    boots1 = np.full((num_resamples, k), np.nan)
    bootst = np.full((num_resamples, k), np.nan)
    rng = np.random.default_rng(seed)
    if estimator == "coinr":
        # COINr's SA_estimate: each input's terms resampled on their own, V fixed
        var = float(np.var(np.r_[yA, yB], ddof=1))
        t1 = yB[:, None] * (AB - yA[:, None])
        tt = (yA[:, None] - AB) ** 2
        for b in range(num_resamples):
            i1 = rng.integers(0, n, size=(n, k))
            it = rng.integers(0, n, size=(n, k))
            boots1[b] = np.take_along_axis(t1, i1, axis=0).mean(axis=0) / var
            bootst[b] = np.take_along_axis(tt, it, axis=0).sum(axis=0) / (2 * n * var)
    else:
        for b in range(num_resamples):
            r = rng.integers(0, n, size=n)
            boots1[b], bootst[b] = _est(yA[r], yB[r], AB[r], estimator)
    z = float(norm.ppf(0.5 + conf_level / 2))
    have = num_resamples > 1
    out = {"S1": s1, "S1_conf": z * boots1.std(axis=0, ddof=1) if have else np.full(k, np.nan),
           "ST": st, "ST_conf": z * bootst.std(axis=0, ddof=1) if have else np.full(k, np.nan),
           "S1_q05": _q(boots1, 0.05) if num_resamples else np.full(k, np.nan),
           "S1_q95": _q(boots1, 0.95) if num_resamples else np.full(k, np.nan),
           "ST_q05": _q(bootst, 0.05) if num_resamples else np.full(k, np.nan),
           "ST_q95": _q(bootst, 0.95) if num_resamples else np.full(k, np.nan)}
    return pd.DataFrame(out, index=pd.Index(list(names), name="input"))[COLUMNS]


def sobol_indices(func: Callable[[np.ndarray], np.ndarray], names: Sequence[str],
                  bounds: Sequence[tuple[float, float]], n: int, seed: int,
                  *, num_resamples: int = 1000, conf_level: float = 0.95,
                  second_order: bool = False,
                  estimator: Literal["saltelli", "coinr", "jansen"] = "saltelli") -> pd.DataFrame:
    """First-order and total Sobol' indices of ``func`` with bootstrap confidence
    intervals, on SALib's Saltelli/Sobol' design [Saltelli10]_ [SALib]_.

    Parameters
    ----------
    func : callable
        Maps a sample matrix (rows = runs) to one output per run.
    names, bounds : input names and ``(low, high)`` ranges
    n : int
        Base sample size; ``n * (k + 2)`` evaluations (a power of 2 is best).
    seed : int
        Seeds both the Sobol' sequence scrambling and the bootstrap.
    estimator : {"saltelli", "coinr", "jansen"}
        See :func:`sobol_from_design`.

    Returns
    -------
    pandas.DataFrame
        Index = input names; columns ``S1, S1_conf, ST, ST_conf`` and the bootstrap
        percentiles ``S1_q05, S1_q95, ST_q05, ST_q95``.
    """
    from SALib.sample import sobol as sobol_sample

    if second_order:
        raise HumsecError("second-order Sobol' indices are not supported")
    problem = {"num_vars": len(names), "names": list(names), "bounds": [list(b) for b in bounds]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib warns when n is not a power of 2
        X = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    Y = np.asarray(func(X), dtype=float)
    if np.isnan(Y).any():
        raise HumsecError(f"{int(np.isnan(Y).sum())} of {len(Y)} evaluations gave no output; "
                          "Sobol' estimators need every run (see the failures of the runs)")
    matrix, row = design_labels(len(Y) // (len(names) + 2), names, "salib")
    return sobol_from_design(Y, matrix, row, names, estimator=estimator, num_resamples=num_resamples,
                             conf_level=conf_level, seed=seed)


# ---------------------------------------------------------------------------- index SA


@dataclass(frozen=True)
class SensitivityResult:
    """Sobol' indices per input and the runs behind them."""

    indices: pd.DataFrame
    output: Output
    runs: UncertaintyResult
    values: np.ndarray


def _output_values(res: UncertaintyResult, out: Output) -> np.ndarray:
    node = out.node or res.spec.root
    j = res.aggregates.index(node)
    if out.stat == "mean_abs_rank_shift":
        nominal = res.nominal.ranks[node].reindex(res.units).to_numpy(dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(np.abs(res.ranks[:, :, j] - nominal[None, :]), axis=1)
    if out.unit not in res.units:
        raise HumsecError(f"output unit '{out.unit}' is not among the index's units")
    u = res.units.index(out.unit)
    return (res.ranks if out.stat == "rank" else res.scores)[:, u, j]


def sensitivity_analysis(spec: IndexSpec, data: pd.DataFrame, uncertainty: UncertaintySpec, *,
                         n: int, seed: int, year: int | None = None,
                         num_resamples: int = 1000, conf_level: float = 0.95,
                         progress: Callable[[int], None] | None = None,
                         batch: bool = True, scheduler: Any = None,
                         estimator: Literal["saltelli", "coinr", "jansen"] = "saltelli",
                         ) -> SensitivityResult:
    """Variance-based sensitivity analysis of the spec's output (first-order and total
    Sobol' indices with bootstrap confidence intervals), ``n * (k + 2)`` runs.

    Each input is one dimension of the unit hypercube (see
    :mod:`humsec.index.uncertainty`); the output is ``uncertainty.output`` (default: mean
    absolute rank shift of the root). ``scheduler`` runs the runs on a Dask cluster, as
    in :func:`~humsec.index.uncertainty.uncertainty_analysis`. The run table gains
    ``sobol_matrix`` and ``sobol_row`` columns, so a replay of it
    (:func:`sensitivity_from_runs`) gives the same indices.
    """
    validate_against(uncertainty, spec)
    rng = np.random.default_rng(seed)
    holder: dict[str, Any] = {}
    names = list(uncertainty.names)

    def func(X: np.ndarray) -> np.ndarray:
        cache = StepCache()
        design = make_design(spec, data, uncertainty, X, rng, year, cache)
        with executor_for(scheduler) as ex:
            runs = evaluate(design, progress=progress, batch=batch, cache=cache, executor=ex)
        res = finish(design, runs, seed, {"kind": "sensitivity", "n": n})
        matrix, row = design_labels(len(X) // (len(names) + 2), names, "salib")
        table = res.runs.copy()
        table["sobol_matrix"] = matrix
        table["sobol_row"] = row
        res = replace(res, runs=table)
        holder["res"] = res
        if res.n_failed:
            raise HumsecError(
                f"{res.n_failed} of {len(res.runs)} runs failed (first: run "
                f"{int(res.failures['run'].iloc[0])}: {res.failures['error'].iloc[0]}); "
                "Sobol' indices need every run — change the inputs (e.g. a positive "
                "normalisation range for a geometric mean)")
        return _output_values(res, uncertainty.output)

    k = len(names)
    idx = sobol_indices(func, names, [(0.0, 1.0)] * k, n, seed, num_resamples=num_resamples,
                        conf_level=conf_level, estimator=estimator)
    res = holder["res"]
    return SensitivityResult(idx, uncertainty.output, res, _output_values(res, uncertainty.output))


def sensitivity_from_runs(res: UncertaintyResult, *, layout: Literal["salib", "coinr"] | None = None,
                          estimator: Literal["saltelli", "coinr", "jansen"] = "saltelli",
                          num_resamples: int = 1000, conf_level: float = 0.95,
                          seed: int | None = 0) -> SensitivityResult:
    """Sobol' indices of replayed runs (:func:`humsec.index.uncertainty.replay`).

    The run table's ``sobol_matrix`` / ``sobol_row`` columns say which run belongs to
    which matrix and base row (as written by :func:`sensitivity_analysis`); without them
    give the ``layout`` of the table (``salib`` or ``coinr``, rows in that order).

    Raises
    ------
    HumsecError
        No labels and no layout, an incomplete design, or failed runs.
    """
    names = list(res.uncertainty.names)
    table = res.runs
    if "sobol_matrix" in table.columns and "sobol_row" in table.columns and layout is None:
        matrix = table["sobol_matrix"].astype(str).to_numpy()
        row = pd.to_numeric(table["sobol_row"], errors="raise").to_numpy()
    else:
        if layout is None:
            raise HumsecError("the run table has no sobol_matrix/sobol_row columns; give the design's "
                              f"layout ({' or '.join(LAYOUTS)}) to compute Sobol' indices")
        k = len(names)
        if len(table) % (k + 2):
            raise HumsecError(f"{len(table)} runs are not a multiple of k + 2 = {k + 2} "
                              f"(an A/B/AB design of {k} inputs)")
        matrix, row = design_labels(len(table) // (k + 2), names, layout)
    if res.n_failed:
        raise HumsecError(f"{res.n_failed} of {len(table)} runs failed (first: {res.failures['error'].iloc[0]}); "
                          "Sobol' indices need every run")
    y = _output_values(res, res.uncertainty.output)
    idx = sobol_from_design(y, matrix, row, names, estimator=estimator, num_resamples=num_resamples,
                            conf_level=conf_level, seed=seed)
    return SensitivityResult(idx, res.uncertainty.output, res, y)
