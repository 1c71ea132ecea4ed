"""The evaluation of uncertainty runs: runs grouped by their structural inputs, each
group's pipeline built once and its weight variants aggregated with a leading run axis
by the engine's kernel (in chunks that bound memory), the runs the batch path cannot
express built one by one; scores and ranks of every run (:class:`UncertaintyResult`).
Both paths give the numbers of a plain :func:`~humsec.index.pipeline.build` of the
changed spec (tested to 1e-9).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.index.engine import aggregate_means, rank_min_desc
from humsec.index.pipeline import IndexResult, StepCache, build, resolve_method
from humsec.index.scale import Executor
from humsec.index.spec import IndexSpec
from humsec.index.uncertainty_design import Design, _nominal_weights
from humsec.index.uncertainty_spec import ExcludeInput, UncertaintySpec, first_line, run_changes, structural_names

#: Aggregation methods the batch path vectorises over runs (with default parameters).
BATCH_METHODS = ("arithmetic", "geometric", "harmonic")


#: Aggregation parameters the batch path applies (besides ``floor`` of the geometric mean).
BATCH_PARAMS = frozenset({"min_children", "min_share"})


#: Cells (runs x units x children) of one batch chunk: bounds memory (~8 bytes each).
CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class _Runs:
    units: list[str]
    aggregates: list[str]
    scores: np.ndarray  # (runs, units, aggregates)
    errors: dict[int, str]
    ranks: np.ndarray | None = None  # made where the runs ran (a cluster), else by finish


def evaluate(design: Design, *, progress: Callable[[int], None] | None = None,
             batch: bool = True, cache: StepCache | None = None,
             executor: Executor | None = None) -> _Runs:
    """Every run of ``design``: runs are grouped by their structural inputs and each group
    is one task (run here, or on a Dask cluster through ``executor``); the numbers do
    not depend on where a group runs."""
    spec, uspec, table = design.spec, design.uspec, design.table
    units = list(design.nominal.units)
    aggs = list(spec.aggregates)
    R = len(table)
    scores = np.full((R, len(units), len(aggs)), np.nan)
    errors: dict[int, str] = {}
    # only the structural columns decide a group (the weight columns are many)
    srows = table[structural_names(uspec)].to_dict("records")
    keys: dict[str, str] = {}
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(srows):
        raw = repr(sorted(r.items()))
        key = keys.get(raw)
        if key is None:
            key = keys[raw] = json.dumps(run_changes(spec, uspec, r, structural_only=True),
                                         sort_keys=True, default=str)
        groups.setdefault(key, []).append(i)

    def collect(idx: list[int], block: np.ndarray, errs: dict[int, str]) -> None:
        scores[idx] = block
        for r, msg in errs.items():
            errors[idx[r]] = msg

    if executor is None or executor.serial:
        cache = cache if cache is not None else StepCache()
        for key, idx in groups.items():
            block, errs = _evaluate_group(design, key, batch=batch, cache=cache, progress=progress, idx=idx)
            collect(idx, block, errs)
        return _Runs(units, aggs, scores, errors)
    # distributed: the design without its run table is shared once, with an empty prefix
    # cache that each worker fills and its tasks share; each task gets its rows and ranks
    # its own runs (a run's ranks need only its scores), so no serial ranking remains here
    shared = executor.share(replace(design.subset([]), cache=StepCache()))
    items = [(key, idx, table.iloc[idx].reset_index(drop=True)) for key, idx in groups.items()]
    ranks = np.full(scores.shape, np.nan)
    for i, (block, errs, rblock) in executor.map_unordered(_remote_group, items, shared=shared, batch=batch):
        idx = items[i][1]
        collect(idx, block, errs)
        ranks[idx] = rblock
        if progress:
            progress(len(idx))
    return _Runs(units, aggs, scores, errors, ranks)


def _remote_group(item: tuple[str, list[int], pd.DataFrame], *, shared: Design, batch: bool
                  ) -> tuple[np.ndarray, dict[int, str], np.ndarray]:
    """One group's scores, errors and ranks, on a worker. Ranks travel as float32 (every
    whole number below 2**24 is exact in it) and are widened exactly on arrival."""
    key, _, table = item
    cache = shared.cache if shared.cache is not None else StepCache()
    block, errs = _evaluate_group(replace(shared, table=table), key, batch=batch, cache=cache)
    ranks = _ranks(block, _signs(shared.spec, list(shared.spec.aggregates)))
    if block.shape[1] < 2**24:
        ranks = ranks.astype(np.float32)
    return block, errs, ranks


def _evaluate_group(design: Design, key: str, *, batch: bool, cache: StepCache,
                    progress: Callable[[int], None] | None = None,
                    idx: Sequence[int] | None = None) -> tuple[np.ndarray, dict[int, str]]:
    """The runs of one structural group - rows ``idx`` of ``design.table`` (default: all
    of them): scores ``(runs, units, aggregates)`` and errors by position in ``idx``."""
    spec, uspec = design.spec, design.uspec
    units = list(design.nominal.units)
    aggs = list(spec.aggregates)
    rows_at = list(range(len(design.table))) if idx is None else list(idx)
    n = len(rows_at)
    scores = np.full((n, len(units), len(aggs)), np.nan)
    errors: dict[int, str] = {}
    changes = json.loads(key)
    try:
        gspec = spec.with_changes(changes) if changes else spec
        base = build(gspec, design.source, year=design.nominal.year, cache=cache)
    except HumsecError as exc:
        msg = first_line(exc)
        if progress:
            progress(n)
        return scores, dict.fromkeys(range(n), msg)
    if batch and _batchable(base):
        try:
            _batch_aggregate(base, design, rows_at, units, aggs, scores, errors, progress)
            return scores, errors
        except _NotBatchable:
            pass
    rows = design.table.iloc[rows_at].to_dict("records")
    for i in range(n):
        try:
            res = build(spec.with_changes(run_changes(spec, uspec, rows[i])),
                        design.source, year=design.nominal.year, cache=cache)
            scores[i] = res.scores.reindex(index=units, columns=aggs).to_numpy(dtype=float)
        except HumsecError as exc:
            errors[i] = first_line(exc)
        if progress:
            progress(1)
    return scores, errors


class _NotBatchable(Exception):
    pass


def _batchable(res: IndexResult) -> bool:
    rec = next((r for r in res.log if r.step == "aggregate"), None)
    if rec is None:
        return False
    methods = rec.details.get("methods", {})
    if any(m not in BATCH_METHODS for m in methods.values()):
        return False
    # the coverage rules (min_children / min_share) and the geometric floor are vectorised
    def ok(method: str, params: Mapping[str, Any]) -> bool:
        allowed = BATCH_PARAMS | ({"floor"} if method == "geometric" else set())
        return all(v is None or k in allowed for k, v in params.items())

    if not ok(rec.method, rec.params):
        return False
    for ov in rec.overrides.values():
        if ov.get("params") and not ok(ov.get("method") or rec.method, ov["params"]):
            return False
    return True


def _unit_positions(units: list[str], base: IndexResult) -> np.ndarray:
    index = base.scores.index if not hasattr(base.datasets, "matrix") else base.ranks.index
    if len(index) == len(units) and all(a == b for a, b in zip(index, units)):
        return np.arange(len(units))
    return pd.Index(units).get_indexer(index)


def _batch_aggregate(base: IndexResult, design: Design, rows_at: list[int],
                     units: list[str], aggs: list[str], scores: np.ndarray, errors: dict[int, str],
                     progress: Callable[[int], None] | None) -> None:
    """Aggregation of every run of a group at once: the group's build gives the
    normalised indicators; each run differs only in weights (noisy sets, exclusions), so
    the tree is aggregated with a leading run axis by the engine's kernel
    (:func:`humsec.index.engine.aggregate_means`, the numbers of the build's kernels)."""
    spec = base.spec
    nodes = design.nodes
    col = {c: i for i, c in enumerate(nodes)}
    agg_rec = next(r for r in base.log if r.step == "aggregate")
    methods = agg_rec.details["methods"]
    agg_step = agg_rec.as_step()
    leaves = spec.indicators
    ds = base.datasets
    matrix, columns = getattr(ds, "matrix", None), getattr(ds, "columns", None)
    if matrix is not None and columns is not None:  # the engine's data sets: no frame needed
        at = {c: j for j, c in enumerate(columns("Aggregated"))}
        X = matrix("Aggregated")[:, [at[c] for c in leaves]]
    else:
        X = base.scores[leaves].to_numpy(dtype=float)  # normalised indicators (U_g, I)
    U_g = X.shape[0]
    unit_pos = _unit_positions(units, base)
    table = design.table
    # weights of every run: nominal, overwritten by noisy sets, zeroed by exclusions
    W_all = np.tile(_nominal_weights(base, nodes), (len(rows_at), 1))
    wcols, wmat = design.weight_matrix
    if wcols:
        W_all[:, [col[c[2:]] for c in wcols]] = wmat[rows_at]
    for inp in design.uspec.inputs:
        if isinstance(inp, ExcludeInput):
            labs = table[inp.name].to_numpy(dtype=object)[rows_at]
            for r, lab in enumerate(labs):
                if lab != "none":
                    W_all[r, col[lab]] = 0.0
    plan = []
    for parent in spec.aggregates:
        kids = spec.children[parent]
        _, prm = resolve_method(agg_step, parent, spec.level(parent))
        plan.append((parent, kids, [col[k] for k in kids], methods[parent], prm))
    max_k = max(len(spec.children[a]) for a in spec.aggregates)
    chunk = max(1, CHUNK_CELLS // max(1, U_g * max_k))
    for start in range(0, len(rows_at), chunk):
        Wc = W_all[start:start + chunk]
        n = len(Wc)
        vals: dict[str, np.ndarray] = {c: np.broadcast_to(X[:, j], (n, U_g)) for j, c in enumerate(leaves)}
        failed = np.zeros(n, dtype=bool)
        msg = [""] * n
        for parent, kids, kcols, method, prm in plan:
            V = np.stack([vals[k] for k in kids], axis=-1)  # (n, U, K)
            w = Wc[:, kcols]  # (n, K)
            tot = w.sum(axis=1)
            bad_w = ~(tot > 0)
            for r in np.flatnonzero(bad_w & ~failed).tolist():
                failed[r] = True
                msg[r] = f"weights of the children of '{parent}' sum to {tot[r]:g}; expected > 0"
            w = np.where(bad_w[:, None], 1.0, w)
            out, nonpos = aggregate_means(V, w, method, floor=prm.get("floor") if method == "geometric" else None,
                                          min_children=prm.get("min_children"), min_share=prm.get("min_share"))
            for r in np.flatnonzero(nonpos & ~failed).tolist():
                failed[r] = True
                msg[r] = (f"aggregating '{parent}' ({method}): {method} mean needs values > 0; "
                          "normalise onto a positive range first")
            vals[parent] = out
        block = np.stack([vals[a] for a in aggs], axis=-1)  # (n, U_g, A)
        for r in range(n):
            i = start + r
            if failed[r]:
                errors[i] = msg[r]
            else:
                scores[i][unit_pos] = block[r]
        if progress:
            progress(n)


#: Quantile rules of rank intervals: ``observed`` (R type 1, inverse of the empirical CDF:
#: an interval reads as whole ranks) or ``type7`` (R's default, linear interpolation, as
#: COINr's ``get_sensitivity`` rank statistics).
QUANTILE_RULES = {"observed": "inverted_cdf", "type7": "linear"}


def rank_quantile(ranks: np.ndarray, q: float, rule: str = "observed") -> np.ndarray:
    """Percentile of ranks over runs (axis 0): by default as an observed rank (inverse of
    the empirical CDF), so a rank interval reads as whole ranks, not 5.95; ``rule =
    "type7"`` interpolates as R's ``quantile`` default (COINr)."""
    if rule not in QUANTILE_RULES:
        raise HumsecError(f"quantile rule must be one of {', '.join(QUANTILE_RULES)}, got {rule!r}")
    if ranks.shape[0] == 0:
        return np.full(ranks.shape[1:], np.nan)
    return nanquantile(ranks, q, QUANTILE_RULES[rule])


def nanquantile(a: np.ndarray, q: float, method: str = "linear") -> np.ndarray:
    """``numpy.nanquantile(a, q, axis=0, method=method)`` for ``linear`` (R type 7) and
    ``inverted_cdf`` (R type 1), vectorised over the other axes: numpy loops over every
    column with NaN in Python, which costs a second for an assessment's summary."""
    srt = np.sort(a, axis=0)  # NaN last
    n = (~np.isnan(a)).sum(axis=0)
    last = np.maximum(n - 1, 0)
    if method == "inverted_cdf":
        k = np.clip(np.ceil(q * n).astype(int) - 1, 0, last)
        out = np.take_along_axis(srt, k[None, ...], axis=0)[0]
    elif method == "linear":
        h = last * q
        lo = np.floor(h).astype(int)
        hi = np.minimum(lo + 1, last)
        a_lo = np.take_along_axis(srt, lo[None, ...], axis=0)[0]
        a_hi = np.take_along_axis(srt, hi[None, ...], axis=0)[0]
        out = a_lo + (h - lo) * (a_hi - a_lo)
    else:  # pragma: no cover - internal
        raise ValueError(method)
    return np.where(n > 0, out, np.nan)


def _signs(spec: IndexSpec, aggregates: Sequence[str]) -> np.ndarray:
    """+1/-1 per aggregate: its direction (ranks put the best first)."""
    return np.array([spec.nodes[a].direction for a in aggregates], dtype=float)


def _ranks(scores: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Ranks over units (axis 1) for every run and aggregate: 1 = best, ties share the
    lowest rank, NaN stays NaN."""

    # one aggregate at a time: the sort's temporaries are several times the scores
    out = np.empty(scores.shape)
    for j in range(scores.shape[2]):
        out[:, :, j] = rank_min_desc(scores[:, :, j] * signs[j], axis=1)
    return out


@dataclass(frozen=True)
class UncertaintyResult:
    """Result of an uncertainty analysis (or a replay).

    Attributes
    ----------
    spec, uncertainty : the index and uncertainty specs
    seed : int or None
    runs : pandas.DataFrame
        One row per run: the concrete value of every input (``w:<node>`` columns for the
        weights), ``status`` (``ok``/``failed``) and ``error``. Feed it to :func:`replay`.
    scores, ranks : numpy.ndarray
        (runs, units, aggregates); NaN for failed runs.
    units, aggregates : list of str
    nominal : IndexResult
    """

    spec: IndexSpec
    uncertainty: UncertaintySpec
    seed: int | None
    runs: pd.DataFrame
    scores: np.ndarray
    ranks: np.ndarray
    units: list[str]
    aggregates: list[str]
    nominal: IndexResult
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_failed(self) -> int:
        return int((self.runs["status"] != "ok").sum())

    @property
    def failures(self) -> pd.DataFrame:
        return self.runs.loc[self.runs["status"] != "ok", ["run", "error"]]

    def summary(self, nodes: Sequence[str] | None = None, *, quantile: str = "observed") -> pd.DataFrame:
        """Per unit and aggregate: nominal score/rank, mean and median rank, 5th-95th
        percentile rank interval, mean score and 5th-95th percentile score interval.

        ``quantile`` is the rule of the rank interval: ``observed`` (R type 1: observed
        ranks) or ``type7`` (R's default linear interpolation, COINr's ``Q5``/``Q95``)."""
        nodes = list(nodes) if nodes is not None else list(reversed(self.aggregates))
        ok = (self.runs["status"] == "ok").to_numpy()
        frames = []
        for node in nodes:
            j = self.aggregates.index(node)
            S = self.scores[ok, :, j]
            Rk = self.ranks[ok, :, j]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                df = pd.DataFrame({
                    "unit": self.units, "node": node,
                    "nominal_score": self.nominal.scores[node].reindex(self.units).to_numpy(),
                    "nominal_rank": self.nominal.ranks[node].reindex(self.units).to_numpy(),
                    "mean_rank": np.nanmean(Rk, axis=0), "median_rank": nanquantile(Rk, 0.5),
                    "rank_q05": rank_quantile(Rk, 0.05, quantile), "rank_q95": rank_quantile(Rk, 0.95, quantile),
                    "mean_score": np.nanmean(S, axis=0),
                    "score_q05": nanquantile(S, 0.05), "score_q95": nanquantile(S, 0.95),
                    "n_runs": (~np.isnan(S)).sum(axis=0),
                })
            frames.append(df.sort_values(["nominal_rank", "unit"], kind="stable"))
        return pd.concat(frames, ignore_index=True)

    def run_scores(self, node: str | None = None) -> pd.DataFrame:
        """Scores of ``node`` (default: the root), one row per run, one column per unit."""
        node = node or self.spec.root
        j = self.aggregates.index(node)
        return pd.DataFrame(self.scores[:, :, j], columns=self.units, index=self.runs["run"])


def finish(design: Design, runs: _Runs, seed: int | None, meta: dict[str, Any]) -> UncertaintyResult:
    """The result of evaluated ``runs``: scores, ranks, and the run table with each
    run's status and error."""
    spec = design.spec
    ranks = runs.ranks if runs.ranks is not None else _ranks(runs.scores, _signs(spec, runs.aggregates))
    table = design.table.copy()
    table["status"] = ["failed" if i in runs.errors else "ok" for i in range(len(table))]
    table["error"] = [runs.errors.get(i, "") for i in range(len(table))]
    return UncertaintyResult(spec=spec, uncertainty=design.uspec, seed=seed, runs=table,
                             scores=runs.scores, ranks=ranks, units=runs.units,
                             aggregates=runs.aggregates, nominal=design.nominal, meta=meta)

