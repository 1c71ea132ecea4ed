"""The pipeline: run an :class:`~humsec.index.spec.IndexSpec` on data, keep every step.

:func:`build` applies the spec's steps in order (denominate -> impute -> screen -> treat ->
normalise -> [weight] -> aggregate), calling the pure kernels of the registries in
:mod:`humsec.index.methods`. It returns an immutable :class:`IndexResult` holding every
intermediate data set under COINr's names (``Raw``, ``Denominated``, ``Imputed``,
``Screened``, ``Treated``, ``Normalised``, ``Aggregated``), the ranks, the effective
weights and an append-only step log. :func:`regenerate` replays the log with changed
parameters (COINr's ``Regen``); replaying it unchanged reproduces the result exactly.

A build runs on one units x indicators float matrix (``_MatrixBuilder``): methods are
resolved and their parameters validated once per parameter set, each step calls the
matrix kernel of :mod:`humsec.index.engine` registered under the method's name (or the
method's column/frame kernel from :mod:`humsec.index.methods` on the same numbers), and
pandas frames are made only when a result's data sets or ranks are read. The DataFrame
builder (``_Builder``) runs panel imputation and words every error (it re-runs a build
the matrix path stopped on, so messages name units, indicators and values as before).

References
----------
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators: Methodology
   and User Guide*. Paris: OECD Publishing. https://doi.org/10.1787/9789264043466-en
.. [COINr] Becker, W., Caperna, G., Del Sorbo, M., Norlén, H., Papadimitriou, E.,
   Saisana, M. (2022). COINr: An R package for developing composite indicators. *Journal
   of Open Source Software* 7(78), 4567. https://doi.org/10.21105/joss.04567
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
import json as _json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

from humsec.errors import HumsecError
from humsec.index.families import registry_for as _registry_for
from humsec.index.labels import (MEMO_MAX_ROWS, PERIODIC_MIN_ROWS, STR, arrow_strings, categorical, compressed,
                                  encode_sorted, in_runs, memoised, periodic, read_only, release_arrow_memory,
                                  sorted_positions, text_array)
from humsec.index.engine import MATRIX, Unsupported, coinr_treat, params_key, rank_min_desc, validated
from humsec.index.longform import default_nodes, long_table
from humsec.index.spec import DATASET_OF, IndexSpec, Override, Step
from humsec.index.methods import impute as _impute_methods
from humsec.index.methods.aggregate import complete_means, complete_means_columns
from humsec.index.scale import executor_for

__all__ = ["IndexResult", "PanelResult", "StepCache", "StepRecord", "build", "build_panel", "is_wide", "rank_desc",
           "resolve_method",
           "regenerate"]


#: Fields of a treatment result copied into the step log (``method`` as ``outcome``).
_TREATMENT_FIELDS = ("treated", "method", "n_winsorised", "n_winsorised_tried", "skew_before", "kurt_before",
                     "skew_after", "kurt_after")


def _treatment_row(code: str, method_name: str, res: Any) -> dict[str, Any]:
    """The step-log row of one indicator's treatment (both builders)."""
    row: dict[str, Any] = {"indicator": code, "method": method_name}
    for f in _TREATMENT_FIELDS:
        if hasattr(res, f):
            row["outcome" if f == "method" else f] = getattr(res, f)
    if hasattr(res, "winsorised_units"):
        row["winsorised_units"] = list(res.winsorised_units)
    return row


def _node_normalise_params(node: Any, m: Any, params: dict[str, Any]) -> None:
    """Fill a normalisation's parameters from its node (goalposts as ``lo``/``hi`` or
    ``goalposts``, ``log``) where the method takes them and the step did not set them."""
    if node.goalposts is not None:
        for k in ("lo", "hi"):
            if k not in params and k in m.params.model_fields:
                params[k] = node.goalposts[0 if k == "lo" else 1]
        if "goalposts" in m.params.model_fields and "goalposts" not in params:
            params["goalposts"] = list(node.goalposts)
    if node.log and "log" in m.params.model_fields and "log" not in params:
        params["log"] = True


#: The registry of a step family (the registries are module-level objects; a build asks
#: for them dozens of times).
registry_for = functools.lru_cache(maxsize=None)(_registry_for)


def rank_desc(values: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """Descending ranks; ties share the lowest rank (1, 2, 2, 4); NaN stays NaN."""
    return values.rank(ascending=False, method="min")


@dataclass(frozen=True)
class StepRecord:
    """One entry of the step log: exactly what was run and what it did.

    ``params`` are the validated parameters with every default filled in, so replaying the
    record does not depend on later changes of defaults.
    """

    step: str
    method: str
    params: Mapping[str, Any]
    overrides: Mapping[str, Any]
    exclude: tuple[str, ...]
    dataset: str | None
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_step(self) -> Step:
        # the record's fields come from a validated step (its overrides as dumped), so
        # only the overrides are validated again: a build makes one step per record
        return Step.model_construct(step=self.step, method=self.method, params=dict(self.params),
                                    overrides={k: Override.model_validate(dict(v)) for k, v in self.overrides.items()},
                                    exclude=tuple(self.exclude))


@dataclass(frozen=True, init=False)
class IndexResult:
    """Everything a build produced. Treat the frames as read-only (use ``.copy()``).

    Attributes
    ----------
    spec : IndexSpec
        The spec as built (steps carry resolved parameters, see :attr:`log`).
    data : pandas.DataFrame
        The tidy input (``unit``, [``year``,] ``indicator``, ``value``), kept for
        :func:`regenerate`.
    year : int or None
        The year built (None for data without years).
    datasets : Mapping[str, pandas.DataFrame]
        ``Raw`` ... ``Aggregated``; rows are units, columns node codes.
    ranks : pandas.DataFrame
        Ranks of every column of ``Aggregated``.
    weights : Mapping[str, pandas.Series]
        For each aggregate, the weights of its children as used (summing to 1).
    log : tuple of StepRecord
    """

    spec: IndexSpec
    data: pd.DataFrame
    year: int | None
    datasets: Mapping[str, pd.DataFrame]
    weights: Mapping[str, pd.Series]
    log: tuple[StepRecord, ...]
    _ranks: pd.DataFrame | _RankSource

    def __init__(self, spec: IndexSpec, data: pd.DataFrame, year: int | None,
                 datasets: Mapping[str, pd.DataFrame], ranks: pd.DataFrame | _RankSource,
                 weights: Mapping[str, pd.Series], log: tuple[StepRecord, ...]):
        for k, v in (("spec", spec), ("data", data), ("year", year), ("datasets", datasets),
                     ("_ranks", ranks), ("weights", weights), ("log", log)):
            object.__setattr__(self, k, v)

    @property
    def ranks(self) -> pd.DataFrame:
        """Ranks of every column of ``Aggregated`` (1 = best; computed on first access)."""
        r = self._ranks
        if isinstance(r, _RankSource):
            r = r.frame()
            object.__setattr__(self, "_ranks", r)
        return r

    @property
    def scores(self) -> pd.DataFrame:
        """The ``Aggregated`` data set: normalised indicators and every aggregate."""
        return self.datasets["Aggregated"]

    @property
    def units(self) -> list[str]:
        return list(self.scores.index)

    def dataset(self, name: str) -> pd.DataFrame:
        try:
            return self.datasets[name]
        except KeyError:
            raise HumsecError(f"no data set '{name}'; have {', '.join(self.datasets)}") from None

    def visit_datasets(self, fn: Callable[[str, pd.DataFrame], None]) -> None:
        """``fn(name, frame)`` for every data set in build order, holding at most one
        that is not kept at a time (a large build keeps only ``Aggregated``; the others
        come from one rebuild, handed over as they are made). For writers."""
        if isinstance(self.datasets, _Frames):
            self.datasets.visit(fn)
        else:
            for name, frame in self.datasets.items():
                fn(name, frame)

    def effective_weights(self) -> pd.Series:
        """Weight of every node in the root score (product of sibling-normalised weights
        along its path)."""
        out = {}
        for code in self.spec.nodes:
            w = 1.0
            for child, parent in zip(self.spec.path(code)[:-1], self.spec.path(code)[1:]):
                w *= float(self.weights[parent].get(child, 0.0))
            out[code] = w
        return pd.Series(out, name="effective_weight")

    def long(self, nodes: list[str] | None = None) -> pd.DataFrame:
        """Long table ``unit, year, node, score, rank`` (aggregates first, root on top;
        each node's units from the best rank down, ties in unit order)."""
        return long_table(self.scores, self.ranks, nodes or default_nodes(self.spec), self.year)

    def equals(self, other: IndexResult) -> bool:
        """Exact equality of every data set, rank and weight (NaN == NaN)."""
        if set(self.datasets) != set(other.datasets):
            return False
        for k, v in self.datasets.items():
            if not v.equals(other.datasets[k]):
                return False
        if not self.ranks.equals(other.ranks):
            return False
        return all(self.weights[k].equals(other.weights[k]) for k in self.weights)

    def details(self, step: str) -> Mapping[str, Any]:
        for rec in self.log:
            if rec.step == step:
                return rec.details
        raise HumsecError(f"the build has no '{step}' step")


@dataclass(frozen=True)
class _RankSource:
    """What the ranks of a result are computed from, until someone reads them (sorting
    every column of a large build costs as much as the rest of it)."""

    values: np.ndarray
    sign: np.ndarray
    index: pd.Index
    columns: tuple[str, ...]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(rank_min_desc(self.values * self.sign), index=self.index, columns=list(self.columns))


@dataclass(frozen=True)
class PanelResult:
    """One :class:`IndexResult` per year."""

    results: Mapping[int | None, IndexResult]

    def long(self) -> pd.DataFrame:
        return pd.concat([r.long() for r in self.results.values()], ignore_index=True)


# ---------------------------------------------------------------------------- input


def _tidy(data: pd.DataFrame) -> pd.DataFrame:
    return _tidy_columns(data)[0]


def _tidy_columns(data: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """The pipeline's tidy table of ``data`` and its columns (taken once: each access to
    a frame's column costs more than a small build's steps on it)."""
    need = {"unit", "indicator", "value"}
    names = data.columns.tolist()
    missing = need - set(names)
    if missing:
        raise HumsecError(f"index data lacks column(s) {', '.join(sorted(missing))}; "
                          "expected unit, [year,] indicator, value")
    cols = ["unit", "year", "indicator", "value"] if "year" in names else ["unit", "indicator", "value"]
    if names == cols:
        have = dict(data.items())
        dtypes = {c: col.dtype for c, col in have.items()}
        if (dtypes["value"] == np.float64
                and all(isinstance(dtypes[c], pd.StringDtype) or _text_categories(have[c]) for c in ("unit", "indicator"))
                and ("year" not in dtypes or dtypes["year"] in (np.int64, pd.Int64Dtype()))):
            # already tidy (the readers' and import-coinr's output): no copy, no conversion
            return data, have
    out = data[cols].copy()
    for c in ("unit", "indicator"):
        if not _text_categories(out[c]):  # a categorical of text keeps its codes
            out[c] = out[c].astype(str)
    out["value"] = pd.to_numeric(out["value"], errors="raise").astype(float)
    if "year" in out.columns:
        if out["year"].isna().all():
            out = out.drop(columns="year")
        else:
            out["year"] = out["year"].astype("Int64")
    return out, dict(out.items())


def _text_categories(col: pd.Series) -> bool:
    """True for a categorical column of text without missing cells (the readers' labels)."""
    return isinstance(col.dtype, pd.CategoricalDtype) and categorical(col) is not None


def is_wide(data: pd.DataFrame) -> bool:
    """True for a units x indicators table (a ``unit`` column and one column per
    indicator, no ``indicator``/``value`` columns) rather than tidy observations."""
    return "unit" in data.columns and "indicator" not in data.columns and "value" not in data.columns


def _wide_input(data: pd.DataFrame, spec: IndexSpec | None = None) -> pd.DataFrame:
    """A wide input table as the pipeline's units x indicators frame (one cross-section).

    For very large unit sets (subnational units, grid cells) this skips the tidy
    round trip, which at a million units x 49 indicators costs most of a build's time
    and memory.
    """
    if "year" in data.columns:
        years = pd.unique(data["year"].dropna())
        if len(years) > 1:
            raise HumsecError(f"wide index data must hold one year (found {len(years)}); "
                              "pass tidy unit, year, indicator, value data for panels")
        data = data.drop(columns="year")
    units = data["unit"].astype(str)
    dup = units.duplicated()
    if dup.any():
        raise HumsecError(f"duplicate unit '{units[dup].iloc[0]}' in the wide index data; expected one row per unit")
    cols = [c for c in data.columns if c != "unit"]
    if spec is not None:
        # only the spec's columns, in its order (the build then reads the matrix as it is,
        # no reordered copy); absent ones are reported by the builder
        have = set(cols)
        needed = spec.indicators + [d for d in spec.denominators if d not in spec.indicators]
        if all(c in have for c in needed):
            cols = needed
    # one column-major matrix, each indicator's column written once (float columns
    # copied as they are, anything else converted and every bad cell located)
    M = np.empty((len(data), len(cols)), order="F")
    for j, c in enumerate(cols):
        col = data[c]
        if col.dtype == np.float64:
            M[:, j] = col.to_numpy()
            continue
        v = pd.to_numeric(col, errors="coerce")
        bad = v.isna() & col.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise HumsecError(f"wide index data, column '{c}', unit {units.iloc[i]}: "
                              f"{col.iloc[i]!r} is not a number")
        M[:, j] = v.to_numpy(dtype=float)
    index = pd.Index(units.to_numpy(), name="unit")
    if not index.is_monotonic_increasing:
        order = index.argsort(kind="stable")
        index, M = index[order], np.asfortranarray(M[order])
    return pd.DataFrame(M, index=index, columns=[str(c) for c in cols], copy=False)


def _positions(labels: pd.Series, codes: list[str]) -> np.ndarray:
    """Position of each label in ``codes`` (-1 if absent): the few distinct labels are
    looked up, not every row (hashing millions of strings costs seconds)."""
    cat = categorical(labels)
    if cat is not None:
        # a categorical (the readers' output): its categories looked up, its codes taken
        k, words = cat
        at = pc.index_in(words, value_set=pa.array(codes, type=words.type)).fill_null(-1).to_numpy()
        return at.astype(np.int64, copy=False)[k]
    ch = arrow_strings(labels)
    if ch is not None:
        # Arrow strings: a hash lookup per row in Arrow's kernel, of only the rows that
        # determine the others (once per column and codes: see memoised)
        def find() -> np.ndarray:
            sub, expand = compressed(ch)
            pos = pc.index_in(sub, value_set=pa.array(codes, type=ch.type))
            out = expand(pos.fill_null(-1).to_numpy().astype(np.int64, copy=False))
            read_only(out)
            return out
        found: np.ndarray = memoised(ch, ("positions", tuple(codes)), find)
        return found
    fcodes, uniq = pd.factorize(labels)
    lookup = {c: i for i, c in enumerate(codes)}
    at = np.array([lookup.get(u, -1) for u in uniq.tolist()], dtype=np.int64)
    return np.where(fcodes >= 0, at[np.maximum(fcodes, 0)], -1)


def _unit_codes(col: pd.Series, keep: np.ndarray | None) -> tuple[np.ndarray, Any]:
    """``pd.factorize(col[keep], sort=True)``: a code per row and the sorted distinct units.

    A categorical's codes are renumbered by the sorted order of the categories present;
    Arrow strings are encoded by Arrow's kernels and only the distinct units sorted
    (pandas' own path costs more than the rest of a small build), and only the rows
    :func:`~humsec.index.labels.compressed` leaves.
    """
    cat = categorical(col)
    if cat is not None:
        k, words = cat
        if keep is not None:
            k = k[keep]
        seen = np.zeros(len(words), dtype=bool)
        seen[k] = True
        present = np.flatnonzero(seen)  # the categories in use, sorted as encode_sorted sorts
        inv, uniq = sorted_positions(words.take(pa.array(present)))
        rank = np.full(len(words), -1, dtype=np.int64)
        rank[present] = inv
        return rank[k], text_array(uniq)
    ch = arrow_strings(col)
    if ch is None:
        return pd.factorize(col if keep is None else col[keep], sort=True)

    def encode(ch: Any) -> tuple[np.ndarray, Any]:
        sub, expand = compressed(ch)
        codes, uniq = encode_sorted(sub)
        codes = expand(codes)
        read_only(codes)
        return codes, uniq

    if keep is not None and len(ch) > MEMO_MAX_ROWS:
        codes, uniq = encode(ch.filter(pa.array(keep)))
    else:
        codes, uniq = memoised(ch, "sorted codes", lambda: encode(ch))  # once per column (see memoised)
        if keep is not None:
            # the units of the rows kept, renumbered in their sorted order (as encoding
            # only those rows would)
            codes = codes[keep]
            seen = np.zeros(len(uniq), dtype=bool)
            seen[codes] = True
            present = np.flatnonzero(seen)
            if len(present) < len(uniq):
                rank = np.full(len(uniq), -1, dtype=np.int64)
                rank[present] = np.arange(len(present))
                codes, uniq = rank[codes], uniq.take(pa.array(present))
    return codes, ArrowStringArray(pa.chunked_array([uniq], type=uniq.type), dtype=_text_dtype(col))


def _text_dtype(col: pd.Series) -> Any:
    """The text dtype of a unit index made from ``col`` (its own, or ``str`` for a categorical)."""
    return col.dtype if isinstance(col.dtype, pd.StringDtype) else STR


def _label_keys(col: pd.Series) -> tuple[Any, Callable[[Any], Any]] | None:
    """An Arrow array whose rows compare as the labels of ``col`` (its strings, or a
    categorical's codes) and the map of some of its rows to Arrow strings; None for other
    columns."""
    ch = arrow_strings(col)
    if ch is not None:
        return ch, lambda a: a
    cat = categorical(col)
    if cat is None:
        return None
    k, words = cat
    return pa.array(k), words.take


def _wide(tidy: pd.DataFrame, codes: list[str], year: int | None, spec: IndexSpec) -> pd.DataFrame:
    """Units x ``codes`` frame of one year, sorted by unit (see :func:`_wide_matrix`)."""
    M, units = _wide_matrix(tidy, codes, year, spec)
    return pd.DataFrame(M, index=units, columns=codes, copy=False)


def _wide_matrix(tidy: pd.DataFrame, codes: list[str], year: int | None, spec: IndexSpec, spare: int = 0,
                 columns: Mapping[str, pd.Series] | None = None) -> tuple[np.ndarray, pd.Index]:
    """Units x ``codes`` float matrix of one year (column-major: each indicator one
    contiguous column) and its units (sorted, the index ``unit``).

    Integer codes and one scatter instead of ``DataFrame.pivot`` and ``duplicated`` on
    strings: for a million units (49 million tidy rows) this is most of a build's time.
    With ``spare`` > 0 the matrix is the first columns of one with ``spare`` more
    (unwritten, so untouched memory until used: see ``_MatrixBuilder._aggregate``).
    ``columns``: those of ``tidy``, if the caller has them.
    """
    cols = dict(tidy.items()) if columns is None else columns
    dense = _dense_matrix(cols, len(tidy), codes, year, spec, spare)
    if dense is not None:
        return dense
    icode_all = _positions(cols["indicator"], codes)
    absent = [c for c, n in zip(codes, np.bincount(icode_all[icode_all >= 0], minlength=len(codes))) if not n]
    if absent:
        raise HumsecError(
            f"spec '{spec.name}' needs indicator(s) absent from the data: {', '.join(absent)}")
    unit_col, values = cols["unit"], cols["value"].to_numpy(dtype=float)
    keep = icode_all >= 0
    if "year" in cols:
        yc = cols["year"]
        keep &= (yc.to_numpy() if yc.dtype == np.int64 else yc.to_numpy(dtype=float, na_value=np.nan)) == year
    icode = icode_all
    kept = None if keep.all() else keep
    if kept is not None:
        values, icode = values[keep], icode_all[keep]
    if len(icode) == 0:
        raise HumsecError(f"no data for year {year}" if year is not None else "no data")
    ucode, units = _unit_codes(unit_col, kept)
    k = len(codes)
    # scatter into the transposed (indicator-major) layout: the matrix comes out in
    # Fortran order, each indicator's column contiguous for the per-column kernels
    # cell = icode * units + ucode, in place in the (own, int64) code array
    cell = icode if icode.dtype == np.int64 and icode.flags.writeable else icode.astype(np.int64)
    cell *= len(units)
    cell += ucode
    seen = np.zeros(k * len(units), dtype=bool)
    seen[cell] = True
    if int(np.count_nonzero(seen)) != len(cell):  # a cell written twice
        counts = np.bincount(cell, minlength=len(seen))
        j = int(np.flatnonzero(counts > 1)[0])
        where = f" in {year}" if year is not None else ""
        raise HumsecError(f"duplicate observations in the index data, e.g. unit {units[j % len(units)]}, "
                          f"indicator {codes[j // len(units)]}{where}; expected one value per key")
    full = np.empty((len(units), k + spare), order="F")
    flat = full.reshape(-1, order="F")  # a view: cell numbers address it
    flat[:k * len(units)] = np.nan
    flat[cell] = values
    return full[:, :k], pd.Index(units, name="unit")


def _dense_matrix(cols: Mapping[str, pd.Series], n: int, codes: list[str], year: int | None, spec: IndexSpec,
                  spare: int = 0) -> tuple[np.ndarray, pd.Index] | None:
    """:func:`_wide_matrix` of a tidy table that is a complete units x indicators product
    in one of the two orders writers produce - indicator-major (``DataFrame.melt``: each
    indicator a run of every unit, the units in the same order each time) or unit-major
    (each unit a run of every indicator) - and of one year; None for any other table.

    The layout is proven by vectorised comparisons of the whole columns; then only one
    period of units (or of indicators) is encoded and each indicator's column is copied
    as one block, instead of computing, checking and scattering a cell number per row.
    A unit (or indicator) repeated within its period is not a product: None, and the
    general path reports the duplicate.
    """
    if n < PERIODIC_MIN_ROWS:
        return None
    ul, il = _label_keys(cols["unit"]), _label_keys(cols["indicator"])
    if ul is None or il is None:
        return None
    (ua, utext), (ia, itext) = ul, il
    if "year" in cols:
        yv = _year_ints(cols["year"])
        if yv is None:
            return None
        if not (yv.min() == year == yv.max()):
            return None
    values = cols["value"].to_numpy(dtype=float)
    for outer, inner, unit_major in ((ia, ua, False), (ua, ia, True)):
        period = pc.index(inner, inner[0], start=1).as_py()
        if period <= 0 or n % period or not in_runs(outer, period) or not periodic(inner, period):
            continue
        heads = outer.take(pa.array(np.arange(0, n, period)))
        if unit_major:
            ucode, units = encode_sorted(utext(heads))
            icode = _positions(pd.Series(ArrowStringArray(itext(inner.slice(0, period)))), codes)
        else:
            ucode, units = encode_sorted(utext(inner.slice(0, period)))
            icode = _positions(pd.Series(ArrowStringArray(itext(heads))), codes)
        if len(units) != len(ucode) or len(np.unique(icode[icode >= 0])) != np.count_nonzero(icode >= 0):
            return None  # a repeated unit or indicator: not a product
        absent = sorted(set(range(len(codes))) - set(icode.tolist()))
        if absent:
            raise HumsecError(f"spec '{spec.name}' needs indicator(s) absent from the data: "
                              f"{', '.join(codes[i] for i in absent)}")
        blocks = values.reshape(-1, period)  # one row per run of the outer column
        M = np.empty((len(units), len(codes) + spare), order="F")[:, :len(codes)]
        order = np.empty(len(units), dtype=np.int64)
        order[ucode] = np.arange(len(units))  # row of each sorted unit
        ident = bool((order == np.arange(len(units))).all())
        for j, i in enumerate(icode.tolist()):
            if i < 0:
                continue
            col = blocks[:, j] if unit_major else blocks[j]
            M[:, i] = col if ident else col[order]
        units_arr = ArrowStringArray(pa.chunked_array([units], type=units.type), dtype=_text_dtype(cols["unit"]))
        return M, pd.Index(units_arr, name="unit")
    return None


# ---------------------------------------------------------------------------- build


def _resolve(step: Step, code: str | None, level: int | None) -> tuple[str, dict[str, Any]]:
    """Method and raw params for ``code`` (node override > level override > global)."""
    ov = None
    if code is not None and code in step.overrides:
        ov = step.overrides[code]
    elif level is not None and f"level:{level}" in step.overrides:
        ov = step.overrides[f"level:{level}"]
    if ov is None:
        return step.method, dict(step.params)
    if ov.method is None or ov.method == step.method:
        return step.method, {**step.params, **ov.params}
    return ov.method, dict(ov.params)


def resolve_method(step: Step, code: str | None, level: int | None) -> tuple[str, dict[str, Any]]:
    """Method name and raw params a step applies to node ``code`` (at tree ``level``, 1 =
    indicators): the node's override, else the level's, else the step's own."""
    return _resolve(step, code, level)


@functools.lru_cache(maxsize=512)
def _accepted(fn: Callable[..., Any]) -> tuple[bool, frozenset[str]]:
    """(takes **kwargs, parameter names) of a kernel: signatures are costly to inspect."""
    sig = inspect.signature(fn)
    return (any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()), frozenset(sig.parameters))


def _call(method: Any, *args: Any, extra: Mapping[str, Any] | None = None, **params: Any) -> Any:
    """Call a kernel, passing the ``extra`` context keywords it accepts."""
    accepts_var, names = _accepted(method.fn)
    kw = dict(params)
    for k, v in (extra or {}).items():
        if v is None or k in kw:
            continue
        if accepts_var or k in names:
            kw[k] = v
    return method.fn(*args, **kw)


class StepCache:
    """Explicit memo of pipeline prefixes, shared by many builds of variants of one spec on
    the same data (uncertainty analysis, leave-one-out): a step's output is reused when
    the step and everything before it are unchanged.

    A prefix is keyed by the steps up to it and every part of the spec they can read (the
    tree without weights, groups); ``weight`` and ``aggregate`` steps are never cached, so
    variants that differ only in weights or aggregation share all earlier work. Results
    are identical to uncached builds. Bound to one data frame and year: using it with
    other data is an error.

    Safe to share between threads. A cache travels empty: pickled (sent to a Dask worker
    inside a scattered design) it arrives with no entries and binds to the data on the
    worker, so every task on that worker shares one cache, as the runs of one process do.
    """

    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self._store: dict[str, tuple[int, tuple[Any, ...]]] = {}
        self._data_id: int | None = None
        self._panels: dict[tuple[Any, ...], pd.DataFrame] = {}
        self._lock = threading.RLock()
        self.hits = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"max_entries": self.max_entries}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["max_entries"])  # type: ignore[misc]

    def panel(self, key: tuple[Any, ...], make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """The (unit, year) panel a panel imputation reads, made once per key (read-only)."""
        with self._lock:
            if key not in self._panels:
                if len(self._panels) >= 8:
                    self._panels.pop(next(iter(self._panels)))
                self._panels[key] = make()
            return self._panels[key]

    def bind(self, data: pd.DataFrame) -> None:
        with self._lock:
            if self._data_id is None:
                self._data_id = id(data)
            elif self._data_id != id(data):
                # a programming error, not a user's: never let it pass as a failed run
                raise RuntimeError("a StepCache is bound to one data frame; use a new cache for other data")

    def keys(self, spec: IndexSpec, year: int | None, keep: Collection[str] | None = None) -> list[str | None]:
        base = _json.dumps({"tree": [n.model_dump(exclude={"weight", "name"}) for n in spec.tree],
                            "groups": spec.groups, "year": year,
                            "keep": sorted(keep) if keep is not None else None}, sort_keys=True, default=str)
        out: list[str | None] = []
        prefix: list[Any] = []
        cacheable = True
        for s in spec.steps:
            # parameters with their defaults filled in: a step that spells out a default
            # (age_scale: 1.0) is the same step as one that leaves it out
            dumped = s.model_dump()
            try:
                dumped["params"] = registry_for(s.step).get(s.method).validate_params(s.params)
            except HumsecError:
                pass  # invalid parameters fail in the build itself
            prefix.append(dumped)
            if s.step in ("weight", "aggregate"):
                cacheable = False
            out.append(base + _json.dumps(prefix, sort_keys=True, default=str) if cacheable else None)
        return out

    def lookup(self, keys: list[str | None]) -> tuple[int, tuple[Any, ...]] | None:
        with self._lock:
            for k in reversed(keys):
                if k is not None and k in self._store:
                    self.hits += 1
                    return self._store[k]
        return None

    def store(self, key: str, n_steps: int, state: tuple[Any, ...]) -> None:
        with self._lock:
            if len(self._store) >= self.max_entries:
                self._store.pop(next(iter(self._store)))
            self._store[key] = (n_steps, state)


def build(spec: IndexSpec, data: pd.DataFrame, *, year: int | None = None,
          cache: StepCache | None = None, scheduler: Any = None,
          keep: Collection[str] | None = None) -> IndexResult:
    """Build an index for one cross-section.

    Parameters
    ----------
    spec : IndexSpec
        A validated spec.
    data : pandas.DataFrame
        Tidy data with columns ``unit``, ``indicator``, ``value`` and optionally ``year``.
    year : int, optional
        Year to build; required if the data has more than one year.
    cache : StepCache, optional
        Reuse the outputs of unchanged leading steps across builds of spec variants on
        the same ``data`` (results are identical).
    scheduler : None, str or distributed.Client, optional
        Run the per-indicator steps (treatment, normalisation: one task per block of
        indicator columns) and row-wise aggregation (one task per block of units) on a
        Dask cluster — for very large unit sets (subnational units, grid cells).
        ``"local"``/``"local:N"`` starts a local cluster; a string is a scheduler address;
        see :func:`humsec.index.scale.executor_for`. Every number is computed by the same
        kernel on the same inputs as in a single process, so results are identical.
    keep : collection of str, optional
        Intermediate data sets to keep in the result (``Raw``, ``Denominated``,
        ``Imputed``, ``Screened``, ``Treated``, ``Normalised``); ``Aggregated`` is always
        kept. Default: all. Keeping only what is needed bounds the memory of builds over
        very many units (each data set is units x nodes floats); the step log still
        regenerates every data set.

    Returns
    -------
    IndexResult

    Raises
    ------
    HumsecError
        Missing indicators, ambiguous years, or a method that cannot apply (e.g. a
        geometric mean meeting a value <= 0) — with the node and units named.
    """
    if not spec.steps:
        raise HumsecError(f"spec '{spec.name}' has no steps")
    keep = _check_keep(keep)
    if is_wide(data):
        if year is not None:
            raise HumsecError("wide index data hold one cross-section; --year does not apply")
        if cache is not None:
            cache.bind(data)
        return _run_builder(_Builder(spec, None, None, wide=_wide_input(data, spec), source=data, keep=keep),
                            cache, scheduler)
    tidy, columns = _tidy_columns(data)
    if "year" in columns:
        yc = columns["year"]
        yv = _year_ints(yc)
        years = _int_years(yv) if yv is not None else sorted(int(y) for y in yc.dropna().unique())
        if year is None:
            if len(years) > 1:
                raise HumsecError(f"the data has {len(years)} years ({years[0]}-{years[-1]}); "
                                  "choose one (--year) or build a panel")
            year = years[0]
        elif year not in years:
            raise HumsecError(f"no data for year {year}; the data has {', '.join(map(str, years[:10]))}"
                              + (" ..." if len(years) > 10 else ""))
    elif year is not None:
        raise HumsecError("the data has no 'year' column, so --year cannot be used")
    if cache is not None:
        cache.bind(data)
    return _run_builder(_Builder(spec, tidy, year, keep=keep, columns=columns), cache, scheduler)


def _year_ints(yc: pd.Series) -> np.ndarray | None:
    """A year column as int64 (no copy for int64; the readers' Int64 without gaps), else None."""
    if yc.dtype == np.int64:
        return yc.to_numpy()
    if isinstance(yc.dtype, pd.Int64Dtype) and not yc.isna().any():
        arr = yc.array
        # the masked array's own values (no copy: 400 MB at 49 million rows), read only
        data = getattr(arr, "_data", None)
        if isinstance(data, np.ndarray) and data.dtype == np.int64:
            view = data.view()
            view.flags.writeable = False
            return view
        return yc.to_numpy(dtype=np.int64)
    return None


def _int_years(yv: np.ndarray) -> list[int]:
    """The distinct years of an int64 column, sorted (one pass for the usual single year:
    a hash of every row costs over a second at 49 million rows)."""
    if not len(yv):
        return []
    lo, hi = int(yv.min()), int(yv.max())
    if lo == hi:
        return [lo]
    if hi - lo < 100_000:
        return (np.flatnonzero(np.bincount(yv - lo)) + lo).tolist()
    return np.unique(yv).tolist()


def _check_keep(keep: Collection[str] | None) -> frozenset[str] | None:
    if keep is None:
        return None
    names = {"Raw", *DATASET_OF.values()}
    bad = sorted(set(keep) - names)
    if bad:
        raise HumsecError(f"keep: unknown data set(s) {', '.join(bad)}; expected some of {', '.join(sorted(names))}")
    return frozenset(keep) | {"Aggregated"}


def _run_builder(b: _Builder, cache: StepCache | None, scheduler: Any) -> IndexResult:
    if scheduler is None:
        try:
            return _MatrixBuilder(b).run(cache)
        except (_Legacy, Unsupported, HumsecError):
            # the DataFrame builder runs what the matrix engine does not (panel
            # imputation) and words every error (named units, indicators, values)
            b.datasets, b.log = {}, []
            return b.run(cache)
    with executor_for(scheduler) as ex:
        b.executor = ex
        try:
            # the matrix engine builds here: each of its steps costs less than moving the
            # matrix to the workers and back (the DataFrame builder, for what the engine
            # does not run, sends its per-indicator kernels and row-local aggregation)
            return _MatrixBuilder(b).run(cache)
        except (_Legacy, Unsupported, HumsecError):
            b.datasets, b.log = {}, []
            return b.run(cache)


def build_panel(spec: IndexSpec, data: pd.DataFrame, *, years: list[int] | None = None,
                scheduler: Any = None) -> PanelResult:
    """Build every year (or the given ``years``) of a panel, each as its own cross-section
    (``scheduler`` as in :func:`build`; a local cluster is started once for all years)."""
    if is_wide(data):
        return PanelResult({None: build(spec, data, scheduler=scheduler)})
    tidy = _tidy(data)
    with executor_for(scheduler) as ex:
        sch = None if ex.serial else ex
        if "year" not in tidy.columns:
            return PanelResult({None: build(spec, tidy, scheduler=sch)})
        have = sorted(int(y) for y in tidy["year"].dropna().unique())
        years = have if years is None else years
        return PanelResult({y: build(spec, tidy, year=y, scheduler=sch) for y in years})


#: Aggregation methods whose value for a unit depends on that unit's children alone, so
#: blocks of units can be aggregated separately (with weights fixed beforehand).
ROW_LOCAL_AGGREGATES = ("arithmetic", "geometric", "harmonic", "generalised")
#: Weighting methods that do not look at the data (weights fixed before aggregation).
DATA_FREE_WEIGHTS = ("explicit", "equal")
#: Units per aggregation task on a cluster.
UNITS_PER_TASK = 100_000


def _column_calls(item: list[tuple[str, dict[str, Any], pd.Series, dict[str, Any]]], *,
                  family: str) -> list[Any]:
    """Run one block of per-indicator kernel calls (a task; also the serial path)."""
    reg = registry_for(family)
    return [_call(reg.get(name), series, extra=extra, **p) for name, p, series, extra in item]


def _aggregate_rows(item: tuple[np.ndarray, list[str], list[Any]], *,
                    plan: list[tuple[str, list[str], str, dict[str, Any], np.ndarray]]) -> dict[str, np.ndarray]:
    """Aggregate one block of units through the whole tree (a task on a cluster)."""
    block, leaves, units = item
    reg = registry_for("aggregate")
    scores = {c: block[:, j] for j, c in enumerate(leaves)}
    for parent, kids, method_name, p, w in plan:
        X = np.column_stack([scores[k] for k in kids])
        try:
            vals = _call(reg.get(method_name), X, w, extra={"columns": kids, "code": parent, "units": units}, **p)
        except HumsecError as exc:
            raise HumsecError(f"aggregating '{parent}' ({method_name}): {exc}") from None
        scores[parent] = np.asarray(vals, dtype=float)
    return {parent: scores[parent] for parent, *_ in plan}


class _Builder:
    def __init__(self, spec: IndexSpec, tidy: pd.DataFrame | None, year: int | None, executor: Any = None, *,
                 wide: pd.DataFrame | None = None, source: pd.DataFrame | None = None,
                 keep: frozenset[str] | None = None, columns: dict[str, pd.Series] | None = None):
        self.executor = executor
        self.keep = keep
        self.columns = columns  # of ``tidy``, if the caller has them
        self.spec = spec
        self.tidy = tidy
        self.wide_input = wide
        self.source = tidy if source is None else source
        self.year = year
        self.datasets: dict[str, pd.DataFrame] = {}
        self.log: list[StepRecord] = []
        self.resolved_steps: list[Step] = []
        self.cache: StepCache | None = None

    # -- helpers -----------------------------------------------------------------------
    def _record(self, step: Step, dataset: str | None, details: dict[str, Any],
                method_params: dict[str, Any]) -> None:
        self.log.append(StepRecord(
            step=step.step, method=step.method, params=MappingProxyType(method_params),
            overrides=MappingProxyType({k: MappingProxyType(v.model_dump()) for k, v in step.overrides.items()}),
            exclude=tuple(step.exclude), dataset=dataset, details=MappingProxyType(details)))

    def _state(self, cur: pd.DataFrame) -> tuple[Any, ...]:
        return (cur, dict(self.datasets), list(self.log), self.denoms,
                list(self.raw_direction_leaves), self.weight_step)

    def _restore(self, state: tuple[Any, ...]) -> pd.DataFrame:
        cur, datasets, log, self.denoms, leaves, self.weight_step = state
        self.datasets, self.log, self.raw_direction_leaves = dict(datasets), list(log), list(leaves)
        return cur

    def run(self, cache: StepCache | None = None) -> IndexResult:
        self.cache = cache
        spec = self.spec
        leaves = spec.indicators
        needed = leaves + [d for d in spec.denominators if d not in leaves]
        keys = cache.keys(spec, self.year, self.keep) if cache is not None else None
        start = 0
        state = cache.lookup(keys) if cache is not None and keys is not None else None
        if state is not None:
            start, st = state
            cur = self._restore(st)
        else:
            if self.wide_input is not None:
                absent = [c for c in needed if c not in self.wide_input.columns]
                if absent:
                    raise HumsecError(f"spec '{spec.name}' needs indicator(s) absent from the data: "
                                      f"{', '.join(absent)}")
                wide = self.wide_input[needed]
            else:
                wide = _wide(self.tidy, needed, self.year, spec)
            self.denoms = wide[[d for d in spec.denominators]]
            cur = wide[leaves]
            if self.keep is None or "Raw" in self.keep:
                self.datasets["Raw"] = cur
            self.weight_step = None
            self.raw_direction_leaves = list(leaves)
        for i, step in enumerate(spec.steps[start:], start=start):
            reg = registry_for(step.step)
            resolved = reg.get(step.method).validate_params(step.params)
            handler = getattr(self, f"_{step.step}")
            cur, details = handler(step, cur)
            ds = DATASET_OF.get(step.step)
            if ds is not None and (self.keep is None or ds in self.keep):
                self.datasets[ds] = cur
            self._record(step, ds, details, resolved)
            key = keys[i] if keys is not None else None
            if cache is not None and key is not None:
                cache.store(key, i + 1, self._state(cur))
        if "Aggregated" not in self.datasets:
            raise HumsecError(f"spec '{spec.name}' has no aggregate step")
        aggregated = self.datasets["Aggregated"]
        # Rank 1 = best. Aggregates with direction -1 (e.g. the GII: lower is better) and
        # indicators whose normalisation did not apply their direction rank ascending.
        raw_leaves = set(self.raw_direction_leaves)
        sign = pd.Series({c: (self.spec.nodes[c].direction
                              if (c in raw_leaves or self.spec.children[c]) else 1)
                          for c in aggregated.columns})
        ranks = rank_desc(aggregated * sign)
        resolved_spec = spec.model_copy(update={"steps": tuple(r.as_step() for r in self.log)})
        return IndexResult(
            spec=resolved_spec, data=self.source, year=self.year,
            datasets=MappingProxyType(dict(self.datasets)), ranks=ranks,
            weights=MappingProxyType(self.weights), log=tuple(self.log))

    def _distributed(self) -> bool:
        return self.executor is not None and not self.executor.serial

    def _map_columns(self, family: str, calls: list[tuple[str, dict[str, Any], pd.Series, dict[str, Any]]]
                     ) -> list[Any]:
        """Per-indicator kernel calls, here or as blocks of columns on the cluster."""
        if not self._distributed() or len(calls) < 2:
            return _column_calls(calls, family=family)
        n = min(len(calls), 4 * self.executor.n_workers)
        blocks = [calls[i::n] for i in range(n)]
        results = self.executor.map(_column_calls, blocks, family=family)
        out: list[Any] = [None] * len(calls)
        for i, res in enumerate(results):
            out[i::n] = res
        return out

    def _targets(self, step: Step) -> list[str]:
        return [c for c in self.spec.indicators if c not in step.exclude]

    # -- steps -------------------------------------------------------------------------
    def _denominate(self, step: Step, cur: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
        out = cur.copy()
        done = {}
        for code in self._targets(step):
            node = self.spec.nodes[code]
            if node.denominator is None:
                continue
            method_name, params = _resolve(step, code, 1)
            m = registry_for("denominate").get(method_name)
            p = m.validate_params(params)
            out[code] = _call(m, cur[code], self.denoms[node.denominator], extra={"code": code}, **p)
            done[code] = node.denominator
        return out, {"denominated": done}

    def _impute(self, step: Step, cur: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
        reg = registry_for("impute")
        m = reg.get(step.method)
        p = m.validate_params(step.params)
        before = cur.isna()
        replaced: dict[str, str] = {}
        if step.method in _impute_methods.panel_methods():
            tidy = self.tidy
            if tidy is None or "year" not in tidy.columns:
                raise HumsecError(f"imputation '{step.method}' needs panel data with a 'year' column")

            def make() -> pd.DataFrame:
                hist = tidy[(tidy["year"] <= self.year) & tidy["indicator"].isin(cur.columns)]
                hist = hist[hist["value"].notna()]
                hist = hist.astype({c: STR for c in ("unit", "indicator") if _text_categories(hist[c])})
                hist = hist.drop_duplicates(["unit", "year", "indicator"])
                panel = (hist.set_index(["unit", "year", "indicator"])["value"].unstack("indicator")
                         .reindex(columns=list(cur.columns)))
                # every unit gets a row for the year itself, so gaps there are filled too
                now = pd.MultiIndex.from_product([cur.index, [self.year]], names=["unit", "year"])
                return panel.reindex(panel.index.union(now)).sort_index()

            if self.cache is not None:
                panel = self.cache.panel((self.year, tuple(cur.columns), tuple(cur.index)), make)
            else:
                panel = make()
            # per-indicator overrides (e.g. a maximum data age per indicator): one kernel
            # call per distinct (method, params)
            plan: dict[tuple[str, Any], tuple[str, dict[str, Any], list[str]]] = {}
            for code in cur.columns:
                name, raw = _resolve(step, code, 1)
                if name not in _impute_methods.panel_methods():
                    raise HumsecError(f"impute step: override of '{code}' uses '{name}', but a panel "
                                      f"imputation ('{step.method}') can only be combined with panel "
                                      f"methods ({', '.join(sorted(_impute_methods.panel_methods()))})")
                pp = reg.get(name).validate_params(raw)
                key = (name, _key(pp))
                plan.setdefault(key, (name, pp, []))[2].append(code)
            out = cur.copy()
            for name, pp, cols in plan.values():
                filled = _call(reg.get(name), panel[cols], **pp)
                sl = filled.xs(self.year, level="year").reindex(index=cur.index, columns=cols)
                if name in _impute_methods.REPLACING_METHODS:
                    out[cols] = sl
                    replaced.update({c: name for c in cols})
                else:
                    out[cols] = cur[cols].where(cur[cols].notna(), sl)
        else:
            groups = None
            grp = p.get("group")
            if grp is not None:
                groups = pd.Series(self.spec.groups[grp], dtype=object).reindex(cur.index)
            targets = self._targets(step)
            res = _call(m, cur[targets], extra={"groups": groups}, **p)
            out = cur.copy()
            out[targets] = res[targets]
        filled_mask = before & out.notna()
        still = out.isna().sum()
        details: dict[str, Any] = {
            "n_imputed": int(filled_mask.to_numpy().sum()),
            "imputed": {c: list(filled_mask.index[filled_mask[c]]) for c in out.columns if filled_mask[c].any()},
            "still_missing": {c: int(n) for c, n in still.items() if n},
        }
        if replaced:
            details["replaced"] = replaced
        return out, details

    def _screen(self, step: Step, cur: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
        m = registry_for("screen").get(step.method)
        p = m.validate_params(step.params)
        keep = _call(m, cur, **p)
        keep = pd.Series(keep, index=cur.index).astype(bool) if not isinstance(keep, pd.Series) else keep.astype(bool)
        dropped = list(cur.index[~keep.reindex(cur.index).fillna(False).to_numpy()])
        out = cur.loc[~cur.index.isin(dropped)]
        self.denoms = self.denoms.loc[out.index]
        if out.empty:
            raise HumsecError(f"screening ({step.method}, {p}) removed every unit")
        return out, {"removed": dropped, "n_removed": len(dropped)}

    def _treat(self, step: Step, cur: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
        cols = {c: cur[c] for c in cur.columns}
        table = []
        calls, names = [], []
        for code in self._targets(step):
            method_name, params = _resolve(step, code, 1)
            p = registry_for("treat").get(method_name).validate_params(params)
            calls.append((method_name, p, cur[code], {"code": code}))
            names.append(code)
        for code, (method_name, *_), res in zip(names, calls, self._map_columns("treat", calls)):
            cols[code] = res.values.reindex(cur.index)
            table.append(_treatment_row(code, method_name, res))
        return pd.DataFrame(cols, index=cur.index), {"treatment": table}

    def _normalise(self, step: Step, cur: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
        cols = {c: cur[c] for c in cur.columns}
        used = {}
        calls, names = [], []
        for code in self._targets(step):
            node = self.spec.nodes[code]
            method_name, params = _resolve(step, code, 1)
            m = registry_for("normalise").get(method_name)
            _node_normalise_params(node, m, params)
            p = m.validate_params(params)
            extra = {"code": code, "target": node.target, "direction": node.direction}
            calls.append((method_name, p, cur[code], extra))
            names.append(code)
        for code, (method_name, *_), vals in zip(names, calls, self._map_columns("normalise", calls)):
            cols[code] = np.asarray(vals, dtype=float)
            used[code] = method_name
            if method_name != "identity" and code in self.raw_direction_leaves:
                self.raw_direction_leaves.remove(code)
        return pd.DataFrame(cols, index=cur.index), {"methods": used}

    def _weight(self, step: Step, cur: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
        self.weight_step = step
        return cur, {}

    def _weights_for(self, parent: str, frame: Callable[[], pd.DataFrame]) -> pd.Series:
        kids = self.spec.children[parent]
        w = pd.Series([self.spec.nodes[k].weight for k in kids], index=kids, dtype=float)
        if self.weight_step is not None:
            method_name, params = _resolve(self.weight_step, parent, self.spec.level(parent))
            m = registry_for("weight").get(method_name)
            p = m.validate_params(params)
            w = pd.Series(_call(m, frame(), weights=w, extra={"code": parent}, **p), dtype=float)
            w = w.reindex(kids)
        total = w.sum()
        if not np.isfinite(total) or total <= 0:
            raise HumsecError(f"weights of the children of '{parent}' sum to {total:g}; expected > 0")
        return w / total

    def _aggregate(self, step: Step, cur: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
        # numpy columns throughout (one DataFrame at the end): the pipeline is called
        # thousands of times by uncertainty analysis, where pandas overhead dominates
        index = cur.index
        if self._distributed() and len(index) > UNITS_PER_TASK:
            done = self._aggregate_distributed(step, cur)
            if done is not None:
                return done
        scores = {c: cur[c].to_numpy(dtype=float) for c in cur.columns}
        units = index  # indexed only to name units in errors (a list of a million strings is costly)
        self.weights: dict[str, pd.Series] = {}
        methods = {}
        for parent in self.spec.aggregates:
            kids = self.spec.children[parent]
            block = np.column_stack([scores[k] for k in kids]) if kids else np.empty((len(index), 0))
            w = self._weights_for(parent, functools.partial(pd.DataFrame, block, index=index, columns=kids))
            self.weights[parent] = w
            method_name, params = _resolve(step, parent, self.spec.level(parent))
            m = registry_for("aggregate").get(method_name)
            p = m.validate_params(params)
            try:
                vals = _call(m, block, w.to_numpy(dtype=float),
                             extra={"columns": kids, "code": parent, "units": units}, **p)
            except HumsecError as exc:
                raise HumsecError(f"aggregating '{parent}' ({method_name}): {_unit_names(exc, index)}") from None
            scores[parent] = np.asarray(vals, dtype=float)
            methods[parent] = method_name
        order = [n.code for n in self.spec.tree]
        out = pd.DataFrame({c: scores[c] for c in order}, index=index)
        return out, {"methods": methods}


    def _aggregate_distributed(self, step: Step, cur: pd.DataFrame
                               ) -> tuple[pd.DataFrame, dict[str, Any]] | None:
        """Row-block aggregation on the cluster, when every method is row-local and the
        weights do not depend on the data; None otherwise (aggregate here)."""
        if self.weight_step is not None and any(
                _resolve(self.weight_step, a, self.spec.level(a))[0] not in DATA_FREE_WEIGHTS
                for a in self.spec.aggregates):
            return None
        plan = []
        self.weights = {}
        methods = {}
        for parent in self.spec.aggregates:
            method_name, params = _resolve(step, parent, self.spec.level(parent))
            if method_name not in ROW_LOCAL_AGGREGATES:
                return None
            p = registry_for("aggregate").get(method_name).validate_params(params)
            w = self._weights_for(parent, lambda: None)  # data-free: the frame is not read
            self.weights[parent] = w
            methods[parent] = method_name
            plan.append((parent, list(self.spec.children[parent]), method_name, p, w.to_numpy(dtype=float)))
        leaves = list(cur.columns)
        X = cur.to_numpy(dtype=float)
        units = list(cur.index)
        items = [(X[r.start:r.stop], leaves, units[r.start:r.stop]) for r in _row_blocks(len(units))]
        parts = self.executor.map(_aggregate_rows, items, plan=self.executor.share(plan))
        scores = {c: X[:, j] for j, c in enumerate(leaves)}
        for parent, *_ in plan:
            scores[parent] = np.concatenate([part[parent] for part in parts])
        order = [n.code for n in self.spec.tree]
        return pd.DataFrame({c: scores[c] for c in order}, index=cur.index), {"methods": methods}


# ---------------------------------------------------------------------------- matrix engine


class _Legacy(Exception):
    """This build needs the DataFrame builder (e.g. a panel imputation)."""


class _Frames(Mapping):
    """Read-only data sets kept as float matrices; each pandas frame is made on first
    access (most builds are read for their scores alone).

    A large build (:data:`LAZY_CELLS`) keeps only ``Aggregated``: the other data sets
    are listed all the same and made on first access by building again from the step
    log (``regen``: the same numbers); :meth:`visit` hands every data set to a function
    with at most one rebuild and one data set held at a time.
    """

    def __init__(self, parts: dict[str, tuple[np.ndarray, pd.Index, list[str]]], names: list[str] | None = None,
                 regen: Callable[..., dict[str, tuple[np.ndarray, pd.Index, list[str]]]] | None = None):
        self._parts = parts
        self._names = list(parts) if names is None else list(names)
        self._regen = regen
        self._frames: dict[str, pd.DataFrame] = {}

    def _part(self, name: str) -> tuple[np.ndarray, pd.Index, list[str]]:
        got = self._parts.get(name)
        if got is None:
            if name not in self._names or self._regen is None:
                raise KeyError(name)
            got = self._parts[name] = self._regen(frozenset({name}))[name]
        return got

    def __getitem__(self, name: str) -> pd.DataFrame:
        f = self._frames.get(name)
        if f is None:
            X, index, cols = self._part(name)
            f = pd.DataFrame(X, index=index, columns=list(cols), copy=False)
            self._frames[name] = f
        return f

    def matrix(self, name: str) -> np.ndarray:
        """The data set's values (units x columns), without making a frame."""
        return self._part(name)[0]

    def columns(self, name: str) -> list[str]:
        return list(self._part(name)[2])

    @property
    def lazy(self) -> list[str]:
        """The data sets not held in memory (made on access)."""
        return [n for n in self._names if n not in self._parts]

    def visit(self, fn: Callable[[str, pd.DataFrame], None]) -> None:
        """``fn(name, frame)`` for every data set in build order; the ones not held are
        made by one rebuild that hands each to ``fn`` as it is produced (not kept)."""
        if not self.lazy or self._regen is None:
            for name in self._names:
                fn(name, self[name])
            return
        self._regen(frozenset(), sink=fn)

    def __iter__(self):
        return iter(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __len__(self) -> int:
        return len(self._names)

    def __reduce__(self):
        return (_Frames, (self._parts, self._names, self._regen))


class _Weights(Mapping):
    """Read-only aggregate -> children's weights (a pandas Series made on first access)."""

    def __init__(self, parts: dict[str, tuple[np.ndarray, list[str]]]):
        self._parts = parts
        self._series: dict[str, pd.Series] = {}

    def __getitem__(self, name: str) -> pd.Series:
        s = self._series.get(name)
        if s is None:
            w, kids = self._parts[name]
            s = self._series[name] = pd.Series(w, index=list(kids), dtype=float)
        return s

    def arrays(self, name: str) -> tuple[np.ndarray, list[str]]:
        """The weights of ``name``'s children and their codes, without making a Series."""
        return self._parts[name]

    def __iter__(self):
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)

    def __reduce__(self):
        return (_Weights, (self._parts,))


def _key(params: Mapping[str, Any]) -> Any:
    """A hashable key of validated parameters: :func:`~humsec.index.engine.params_key`, or
    their JSON with other values as text where that has none."""
    key = params_key(params)
    return key if key is not None else _json.dumps(params, sort_keys=True, default=str)


#: Cells per call of a matrix denominate kernel (a block of whole columns; at least one).
BLOCK_CELLS = 2_000_000


class _MatrixBuilder:
    """The build on one units x indicators float matrix: methods resolved and validated
    once per parameter set, matrix kernels of :mod:`humsec.index.engine` where a method
    has one (its column/frame kernel otherwise), pandas frames only in the result (made
    lazily). Same data sets, log and details as :class:`_Builder`, which runs whatever
    this one raises :class:`_Legacy`, :class:`~humsec.index.engine.Unsupported` or an
    error for (and words the error)."""

    def __init__(self, b: _Builder, sink: Callable[[str, pd.DataFrame], None] | None = None):
        self.b = b
        self.spec = b.spec
        self.keep = b.keep
        self.sink = sink
        self.lazy = False
        self.order: list[str] = []  # every data set the build makes, kept or not
        self.scratch = False  # steps may write into matrices no one else holds (see _owns)
        self.guards: list[np.ndarray] = []
        self.slab: np.ndarray | None = None  # the input matrix with room for the aggregates

    def _owns(self, X: np.ndarray) -> bool:
        """True if a step may write its result into ``X``: no cache or sink holds the
        build's matrices and ``X`` shares no memory with a kept data set or the input
        the DataFrame builder would fall back to."""
        if not self.scratch or self.keep is None:  # every data set kept: each step's input is one
            return False
        return not any(np.may_share_memory(X, g) for g in (*self.guards, *(p[0] for p in self.parts.values())))

    def _overwrite(self, kern: Callable[..., Any], X: np.ndarray, whole: bool, own: bool | None = None
                   ) -> dict[str, Any]:
        """``{"overwrite": True}`` for a kernel that takes it, given ``X`` itself (``whole``:
        the build must own it; ``own``: :meth:`_owns` of ``X`` if the caller has it) or a
        gathered copy of some of its columns."""
        if "overwrite" not in _accepted(kern)[1] or (whole and not (self._owns(X) if own is None else own)):
            return {}
        return {"overwrite": True}

    def _store(self, name: str, X: np.ndarray, cols: list[str]) -> None:
        self.order.append(name)
        if self.sink is not None:
            self.sink(name, pd.DataFrame(X, index=self.index, columns=list(cols), copy=False))
        if self.keep is None or name in self.keep:
            self.parts[name] = (X, self.index, cols)

    def _record(self, step: Step, dataset: str | None, details: dict[str, Any], params: dict[str, Any]) -> None:
        self.log.append(StepRecord(
            step=step.step, method=step.method, params=MappingProxyType(params),
            overrides=MappingProxyType({k: MappingProxyType(v.model_dump()) for k, v in step.overrides.items()}),
            exclude=tuple(step.exclude), dataset=dataset, details=MappingProxyType(details)))

    def _col(self, X: np.ndarray, j: int, name: str | None = None) -> pd.Series:
        return pd.Series(X[:, j], index=self.index, name=name)

    def run(self, cache: StepCache | None = None) -> IndexResult:
        b, spec = self.b, self.spec
        if any(s.step == "impute" and s.method in _panel_methods() for s in spec.steps):
            raise _Legacy("panel imputation")
        leaves = spec.indicators
        self.leaves = leaves
        self.pos = {c: j for j, c in enumerate(leaves)}
        keys = cache.keys(spec, b.year, self.keep) if cache is not None else None
        if keys is not None:
            keys = [None if k is None else "matrix:" + k for k in keys]
        start = 0
        state = cache.lookup(keys) if cache is not None and keys is not None else None
        self.scratch = cache is None and self.sink is None
        if b.wide_input is not None:
            self.guards = [b.wide_input.to_numpy()]  # the DataFrame builder's input if this one gives up
        if state is not None:
            start, (X, self.D, self.index, self.labels, parts, log, raw, self.weight_step) = state
            self.parts, self.log, self.raw_direction_leaves = dict(parts), list(log), list(raw)
        else:
            needed = leaves + [d for d in spec.denominators if d not in leaves]
            # room for the aggregates after the leaves: the aggregate step writes there
            # instead of copying every leaf into a new matrix (see _aggregate)
            spare = 0
            if self.scratch and [n.code for n in spec.tree][:len(leaves)] == leaves:
                spare = max(0, len(spec.aggregates) - (len(needed) - len(leaves)))
            if b.wide_input is not None:
                absent = [c for c in needed if c not in b.wide_input.columns]
                if absent:
                    raise _Legacy("absent indicators")
                if spare:  # the build's own matrix with room for the aggregates (steps write into it)
                    full = np.empty((len(b.wide_input), len(needed) + spare), order="F")
                    for j, c in enumerate(needed):
                        full[:, j] = b.wide_input[c].to_numpy(dtype=float)
                    M, self.index = full[:, :len(needed)], b.wide_input.index
                else:
                    wide = b.wide_input if list(b.wide_input.columns) == needed else b.wide_input[needed]
                    M, self.index = wide.to_numpy(dtype=float), wide.index
            else:
                M, self.index = _wide_matrix(b.tidy, needed, b.year, spec, spare, b.columns)
            self.slab = M.base if spare and isinstance(M.base, np.ndarray) else None
            self.labels = self.index.to_numpy(dtype=object)
            if len(self.labels) >= MEMO_MAX_ROWS // 10:
                # the label encodings' Arrow temporaries (sorting a large table's unit
                # codes: ~120 MiB at a million units) stay in Arrow's allocator for Arrow's
                # reuse, which the steps (numpy, on the system allocator) cannot use
                release_arrow_memory()
            if self.keep is None and self.sink is None and len(self.index) * len(leaves) >= LAZY_CELLS:
                # a large build keeps the scores; the intermediate data sets are made
                # again on first access (from the step log: the same numbers)
                self.keep = frozenset({"Aggregated"})
                self.lazy = True
            at = {c: j for j, c in enumerate(needed)}
            X = M[:, :len(leaves)]
            self.D = M[:, [at[d] for d in spec.denominators]]
            self.parts, self.log = {}, []
            self._store("Raw", X, leaves)
            self.weight_step = None
            self.raw_direction_leaves = list(leaves)
        for i, step in enumerate(spec.steps[start:], start=start):
            reg = registry_for(step.step)
            resolved = validated(reg.get(step.method), step.params)
            X, details = getattr(self, f"_{step.step}")(step, X)
            ds = DATASET_OF.get(step.step)
            if ds is not None:
                self._store(ds, X, self.agg_cols if step.step == "aggregate" else leaves)
            self._record(step, ds, details, resolved)
            key = keys[i] if keys is not None else None
            if cache is not None and key is not None:
                cache.store(key, i + 1, (X, self.D, self.index, self.labels, dict(self.parts), list(self.log),
                                             list(self.raw_direction_leaves), self.weight_step))
        if "Aggregated" not in self.parts:
            raise _Legacy("no aggregate step")
        A, _, cols = self.parts["Aggregated"]
        raw_leaves = set(self.raw_direction_leaves)
        sign = np.array([(spec.nodes[c].direction if (c in raw_leaves or spec.children[c]) else 1)
                         for c in cols], dtype=float)
        ranks = _RankSource(A, sign, self.index, tuple(cols))
        resolved_spec = spec.model_copy(update={"steps": tuple(r.as_step() for r in self.log)})
        regen = None
        names = None
        if self.lazy:
            names = [n for n in dict.fromkeys(self.order)]
            regen = functools.partial(_regenerate_datasets, resolved_spec, b.source, b.year)
        return IndexResult(spec=resolved_spec, data=b.source, year=b.year,
                           datasets=_Frames(dict(self.parts), names, regen),
                           ranks=ranks, weights=_Weights(self.weights), log=tuple(self.log))

    def _targets(self, step: Step) -> list[str]:
        return [c for c in self.leaves if c not in step.exclude]

    def _plan(self, step: Step, codes: list[str], prepare: Callable[[str, Any, dict[str, Any]], None] | None = None
              ) -> dict[tuple[str, Any], tuple[str, dict[str, Any], list[str]]]:
        """Columns grouped by resolved method and validated parameters."""
        reg = registry_for(step.step)
        plan: dict[tuple[str, Any], tuple[str, dict[str, Any], list[str]]] = {}
        common = None if step.overrides else (step.method, dict(step.params))
        if common is not None and prepare is None:
            # one method and parameter set for every column: validated once
            p = validated(reg.get(common[0]), common[1])
            return {(common[0], _key(p)): (common[0], p, list(codes))}
        base = None
        m0 = reg.get(common[0]) if common is not None else None
        for code in codes:
            if common is None or m0 is None:
                name, params = _resolve(step, code, 1)
                m = reg.get(name)
            else:
                name, params, m = common[0], dict(common[1]), m0
            if prepare is not None:
                prepare(code, m, params)
            if common is not None and params == common[1]:
                # the step's own method and parameters: validated once for all columns
                if base is None:
                    p = validated(m, params)
                    base = plan.setdefault((name, _key(p)), (name, p, []))
                base[2].append(code)
                continue
            p = validated(m, params)
            plan.setdefault((name, _key(p)), (name, p, []))[2].append(code)
        return plan

    # -- steps -------------------------------------------------------------------------
    # Each step returns a new matrix (the previous one may be a kept data set) in the
    # input's layout (column-major from the reader on): a kernel's result over every
    # column is taken as it is, otherwise a copy gets the changed columns.
    def _denominate(self, step: Step, X: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        spec = self.spec
        codes = [c for c in self._targets(step) if spec.nodes[c].denominator is not None]
        if not codes:
            return X, {"denominated": {}}
        out = X if self._owns(X) else X.copy(order="K")  # each column read before it is written
        dpos = {d: j for j, d in enumerate(spec.denominators)}
        reg = registry_for("denominate")
        for name, p, cols in self._plan(step, codes).values():
            js = [self.pos[c] for c in cols]
            ds = [dpos[str(spec.nodes[c].denominator)] for c in cols]
            kern = MATRIX["denominate"].get(name)
            if kern is not None:
                # in blocks of columns: the temporaries stay small (elementwise: the same numbers)
                per = max(1, BLOCK_CELLS // max(1, len(X)))
                for lo in range(0, len(js), per):
                    jb, db = js[lo:lo + per], ds[lo:lo + per]
                    out[:, jb] = kern(X[:, jb], self.D[:, db], **p)
            else:
                for c, j, d in zip(cols, js, ds):
                    den = self._col(self.D, d, spec.nodes[c].denominator)
                    out[:, j] = np.asarray(_call(reg.get(name), self._col(X, j, c), den, extra={"code": c}, **p),
                                           dtype=float)
        return out, {"denominated": {c: spec.nodes[c].denominator for c in codes}}

    def _impute(self, step: Step, X: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        m = registry_for("impute").get(step.method)
        p = validated(m, step.params)
        codes = None
        groups = None
        grp = p.get("group")
        if grp is not None:
            if grp not in self.spec.groups:
                raise _Legacy("unknown grouping")
            mapping = self.spec.groups[grp]
            if MATRIX["impute"].get(step.method) is None:
                labels = [mapping.get(u) for u in self.labels.tolist()]  # None: no label
                groups = pd.Series(labels, index=self.index, dtype=object)
            else:
                codes = _group_codes(mapping, self.labels)
        targets = self._targets(step)
        js = [self.pos[c] for c in targets]
        kern = MATRIX["impute"].get(step.method)
        before = np.isnan(X)
        own = self._owns(X)
        if kern is not None:  # every column passed as it is (written into if the build owns it)
            whole = js == list(range(X.shape[1]))
            res = kern(X if whole else X[:, js], group_codes=codes, **p, **self._overwrite(kern, X, whole, own))
        else:
            frame = pd.DataFrame(X[:, js], index=self.index, columns=targets)
            res = _call(m, frame, extra={"groups": groups}, **p)[targets].to_numpy(dtype=float)
        out = _placed(X, js, res, own)
        after = np.isnan(out)
        filled = before & ~after
        units = self.labels
        any_col = filled.any(axis=0)
        details: dict[str, Any] = {
            "n_imputed": int(filled.sum()),
            "imputed": {c: units[filled[:, j]].tolist() for j, c in enumerate(self.leaves) if any_col[j]},
            "still_missing": {c: int(n) for c, n in zip(self.leaves, after.sum(axis=0)) if n},
        }
        return out, details

    def _screen(self, step: Step, X: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        m = registry_for("screen").get(step.method)
        p = validated(m, step.params)
        kern = MATRIX["screen"].get(step.method)
        if kern is not None:
            keep = kern(X, units=self.labels.astype(str), **p)
        else:
            k = _call(m, pd.DataFrame(X, index=self.index, columns=self.leaves), **p)
            k = pd.Series(k, index=self.index) if not isinstance(k, pd.Series) else k
            keep = k.astype(bool).reindex(self.index).fillna(False).to_numpy(dtype=bool)
        if not keep.any():
            raise _Legacy("every unit removed")
        dropped = self.labels[~keep].tolist()
        if dropped:
            self.index = self.index[keep]
            self.labels = self.labels[keep]
            X = X[keep]
            self.D = self.D[keep]
        return X, {"removed": dropped, "n_removed": len(dropped)}

    def _treat(self, step: Step, X: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        reg = registry_for("treat")
        targets = self._targets(step)
        plan = self._plan(step, targets)
        out = None
        rows: dict[str, dict[str, Any]] = {}
        for name, p, cols in plan.values():
            js = [self.pos[c] for c in cols]
            rest = list(zip(cols, js))
            if name == "coinr" and not p.get("force_win"):
                every = js == list(range(X.shape[1]))  # the kernel leaves its input alone
                r = coinr_treat(X if every else X[:, js], winmax=p["winmax"], skew_thresh=p["skew_thresh"],
                                kurt_thresh=p["kurt_thresh"], combine_treat=p["combine_treat"],
                                **self._overwrite(coinr_treat, X, every))
                if out is None:
                    whole = len(plan) == 1 and r["sure"].all() and every
                    out = r["values"] if whole else X.copy(order="K")
                else:
                    whole = False
                rest = []
                sure = r["sure"].tolist()
                if not whole:
                    at_ = [i for i, ok in enumerate(sure) if ok]
                    out[:, [js[i] for i in at_]] = r["values"][:, at_]
                # the log rows from whole vectors (Python scalars in one conversion each)
                fields = zip(r["changed"].tolist(), r["outcome"].tolist(), r["n_winsorised"].tolist(),
                             r["n_winsorised_tried"].tolist(), r["skew_before"].tolist(),
                             r["kurt_before"].tolist(), r["skew_after"].tolist(), r["kurt_after"].tolist())
                for i, (c, j, f) in enumerate(zip(cols, js, fields)):
                    if not sure[i]:
                        rest.append((c, j))
                        continue
                    rows[c] = {"indicator": c, "method": name, "treated": f[0], "outcome": f[1],
                               "n_winsorised": f[2], "n_winsorised_tried": f[3], "skew_before": f[4],
                               "kurt_before": f[5], "skew_after": f[6], "kurt_after": f[7],
                               "winsorised_units": self.labels[r["winsorised"][:, i]].tolist() if f[2] else []}
            if out is None:
                out = X.copy(order="K")
            for c, j in rest:
                res = _call(reg.get(name), self._col(X, j, c), extra={"code": c}, **p)
                out[:, j] = res.values.reindex(self.index).to_numpy(dtype=float)
                rows[c] = _treatment_row(c, name, res)
        return (X.copy(order="K") if out is None else out), {"treatment": [rows[c] for c in targets]}

    def _normalise(self, step: Step, X: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        spec = self.spec
        reg = registry_for("normalise")

        def prepare(code: str, m: Any, params: dict[str, Any]) -> None:
            _node_normalise_params(spec.nodes[code], m, params)

        targets = self._targets(step)
        # nodes' own goalposts / log filled into their parameters (none: one plan for all)
        own = any(spec.nodes[c].goalposts is not None or spec.nodes[c].log for c in targets)
        plan = self._plan(step, targets, prepare if own else None)
        out = None
        used: dict[str, str] = {}
        for name, p, cols in plan.values():
            js = [self.pos[c] for c in cols]
            whole = len(plan) == 1 and js == list(range(X.shape[1]))
            kern = MATRIX["normalise"].get(name)
            done = False
            if kern is not None:
                dirs = np.array([spec.nodes[c].direction for c in cols], dtype=float)
                try:
                    res = kern(X if whole else X[:, js], direction=dirs, **p, **self._overwrite(kern, X, whole))
                    if whole:
                        out = res
                    else:
                        out = X.copy(order="K") if out is None else out
                        out[:, js] = res
                    done = True
                except Unsupported:
                    pass
            if not done:
                out = X.copy(order="K") if out is None else out
                for c, j in zip(cols, js):
                    node = spec.nodes[c]
                    extra = {"code": c, "target": node.target, "direction": node.direction}
                    out[:, j] = np.asarray(_call(reg.get(name), self._col(X, j, c), extra=extra, **p), dtype=float)
            used.update(dict.fromkeys(cols, name))
            if name != "identity":
                gone = set(cols)
                self.raw_direction_leaves = [c for c in self.raw_direction_leaves if c not in gone]
        return (X.copy(order="K") if out is None else out), {"methods": {c: used[c] for c in targets}}

    def _weight(self, step: Step, X: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        self.weight_step = step
        return X, {}

    def _weights_for(self, parent: str, frame: Callable[[], pd.DataFrame]) -> np.ndarray:
        kids = self.spec.children[parent]
        if self.weight_step is None:
            w = np.array([self.spec.nodes[k].weight for k in kids], dtype=float)
            total = float(np.add.reduce(w)) if w.size else 0.0  # as pandas' sum (0 for no children)
        else:
            ws = pd.Series([self.spec.nodes[k].weight for k in kids], index=kids, dtype=float)
            method_name, params = _resolve(self.weight_step, parent, self.spec.level(parent))
            m = registry_for("weight").get(method_name)
            p = validated(m, params)
            ws = pd.Series(_call(m, frame(), weights=ws, extra={"code": parent}, **p), dtype=float).reindex(kids)
            total = ws.sum()
            w = ws.to_numpy(dtype=float)
        if not math.isfinite(total) or total <= 0:
            raise _Legacy("weights do not sum to > 0")
        return w / total

    def _aggregate(self, step: Step, X: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        spec = self.spec
        index = self.index
        self.agg_cols = [n.code for n in spec.tree]
        # Here even on a Dask cluster: the aggregation is one pass over the matrix, less
        # than moving it (1,000,000 x 49 on this project's 2-core benchmark machine: 0.12 s
        # here against 2.4 s to send the rows to two local workers, and as long to return
        # the scores; see benchmarks/bench_index.py --scheduler)
        # one column-major output matrix: each node a contiguous column, written in place
        at = {c: j for j, c in enumerate(self.agg_cols)}
        by_column = len(index) >= COLUMN_MEANS_ROWS
        A = self._room_for_aggregates(X)  # None unless the leaves are in place (A's first columns are X)
        if A is None:
            A = np.empty((len(index), len(self.agg_cols)), order="F")
            if by_column:  # contiguous column copies (a fancy-indexed assignment gathers by rows)
                for i, c in enumerate(self.leaves):
                    A[:, at[c]] = X[:, i]
            else:
                A[:, [at[c] for c in self.leaves]] = X
        self.weights: dict[str, pd.Series] = {}
        methods = {}
        reg = registry_for("aggregate")
        # columns without missing or infinite values: a plain arithmetic mean of those
        # needs none of the kernel's checks (the same arithmetic, complete_means)
        finite = dict(zip(self.leaves, np.isfinite(X).all(axis=0).tolist()))
        common = None
        if not step.overrides:
            common = (step.method, validated(reg.get(step.method), step.params))
        for parent in spec.aggregates:
            kids = spec.children[parent]
            idx = [at[k] for k in kids]
            block_of = functools.partial(_block, A, idx)
            w = self._weights_for(parent, lambda: pd.DataFrame(block_of(), index=index, columns=kids))
            self.weights[parent] = (w, kids)
            if common is not None:
                method_name, p = common[0], dict(common[1])
            else:
                method_name, params = _resolve(step, parent, spec.level(parent))
                p = validated(reg.get(method_name), params)
            vals = None
            if (method_name in _COMPLETE_MEANS and p.get("min_children") is None and p.get("min_share") is None
                    and all(finite[k] for k in kids) and kids and (w >= 0).all()):
                floor = p.get("floor") if method_name == "geometric" else None
                if by_column:  # the columns as they are (contiguous), the same bits
                    cols = [A[:, j] if floor is None else np.maximum(A[:, j], floor) for j in idx]
                    if method_name == "arithmetic" or min(float(c.min()) for c in cols) > 0:
                        vals = complete_means_columns(cols, w / w.sum(), method_name)
                else:
                    block = block_of() if floor is None else np.maximum(block_of(), floor)
                    if method_name == "arithmetic" or block.min() > 0:  # else the kernel words the error
                        vals = complete_means(block, w / np.add.reduce(w), method_name)
            block = block_of() if vals is None else None
            kern = MATRIX["aggregate"].get(method_name) if vals is None else None
            if kern is not None:
                try:
                    vals = kern(block, w, **p)
                except Unsupported:
                    pass  # the reference kernel decides (and words any error)
            if vals is None:
                vals = _call(reg.get(method_name), block, w, extra={"columns": kids, "code": parent, "units": index},
                             **p)
            A[:, at[parent]] = vals
            finite[parent] = bool(np.isfinite(vals).all())
            methods[parent] = method_name
        return A, {"methods": methods}

    def _room_for_aggregates(self, X: np.ndarray) -> np.ndarray | None:
        """The aggregated matrix as the input matrix extended by its spare columns, when
        the tree lists the leaves first, the steps wrote their results into the input
        matrix (``X`` is still its first columns) and no kept data set holds it; else
        None. Saves a copy of every leaf (400 MB at a million units x 49 indicators)."""
        slab, n_cols = self.slab, len(self.agg_cols)
        if slab is None or slab.ndim != 2 or not slab.flags.f_contiguous or slab.shape[1] < n_cols:
            return None
        if X.shape != (slab.shape[0], len(self.leaves)):
            return None
        if X.strides != slab.strides or X.__array_interface__["data"][0] != slab.__array_interface__["data"][0]:
            return None
        if self.agg_cols[:len(self.leaves)] != self.leaves or not self._owns(X):
            return None
        return slab[:, :n_cols]


def _group_codes(mapping: Mapping[str, Any], units: np.ndarray) -> np.ndarray:
    """Group number of each unit under ``mapping`` (unit -> label; -1: no label).

    Numbers follow the labels' first appearance among the units (the order does not
    matter to the kernels: they group by number). Many units are looked up by Arrow's
    hash kernel (:func:`_positions`), not one dict lookup per unit in Python.
    """
    if len(units) < PERIODIC_MIN_ROWS:
        labels = [mapping.get(u) for u in units.tolist()]
        return pd.factorize(np.array(labels, dtype=object))[0]
    lcodes = pd.factorize(np.array(list(mapping.values()), dtype=object))[0]
    keys = list(mapping.keys())
    if len(keys) == len(units) and keys == units.tolist():
        per_unit = lcodes  # the grouping lists the units in their order (a table sorted by unit)
    else:
        pos = _positions(pd.Series(units, dtype="str"), keys)
        per_unit = np.where(pos >= 0, lcodes[np.maximum(pos, 0)], -1)
    ok = per_unit >= 0
    per_unit[ok] = pd.factorize(per_unit[ok])[0]  # renumbered by first appearance, as the small path
    return per_unit


#: Cells (units x indicators) from which a build keeps only ``Aggregated`` by default and
#: makes the intermediate data sets on first access (each is units x indicators floats:
#: 390 MB at a million units x 49).
LAZY_CELLS = 20_000_000


def _regenerate_datasets(spec: IndexSpec, data: pd.DataFrame, year: int | None, keep: frozenset[str],
                         sink: Callable[[str, pd.DataFrame], None] | None = None
                         ) -> dict[str, tuple[np.ndarray, pd.Index, list[str]]]:
    """The data sets ``keep`` of a build of ``spec`` (resolved: its steps as logged) on
    ``data`` and ``year``, by the matrix engine (``sink``: handed every data set as it
    is made)."""
    if is_wide(data):
        b = _Builder(spec, None, None, wide=_wide_input(data, spec), source=data, keep=keep | {"Aggregated"})
    else:
        b = _Builder(spec, _tidy(data), year, keep=keep | {"Aggregated"})
    mb = _MatrixBuilder(b, sink=sink)
    mb.run()
    return mb.parts


def _block(A: np.ndarray, idx: list[int]) -> np.ndarray:
    """Columns ``idx`` of ``A`` as a row-major matrix (the children of one aggregate)."""
    return np.ascontiguousarray(A[:, idx])


#: Units from which complete means are taken column by column
#: (:func:`~humsec.index.methods.aggregate.complete_means_columns`: the same bits).
COLUMN_MEANS_ROWS = 4096

#: Means that :func:`~humsec.index.methods.aggregate.complete_means` computes for
#: complete, finite children (> 0 for the geometric and harmonic means).
_COMPLETE_MEANS = frozenset({"arithmetic", "geometric", "harmonic"})


def _placed(X: np.ndarray, js: list[int], res: np.ndarray, own: bool = False) -> np.ndarray:
    """``X`` with columns ``js`` replaced by ``res`` (a new matrix, or ``X`` itself if the
    build owns it: ``own``; ``res`` itself when it replaces every column in order)."""
    if len(js) == X.shape[1] and js == list(range(X.shape[1])) and (res is not X or own):
        return np.asarray(res, dtype=float)
    out = X if own else X.copy(order="K")
    out[:, js] = res
    return out


def _panel_methods() -> frozenset[str]:
    return _impute_methods.panel_methods()


def _row_blocks(n: int) -> list[range]:
    return [range(i, min(n, i + UNITS_PER_TASK)) for i in range(0, n, UNITS_PER_TASK)]


def _unit_names(exc: Exception, index: pd.Index) -> str:
    return str(exc)


# ---------------------------------------------------------------------------- regenerate


def regenerate(result: IndexResult, changes: Mapping[str, Any] | None = None, *,
               data: pd.DataFrame | None = None, year: int | None = None) -> IndexResult:
    """Replay a result's step log, optionally with changes (COINr's ``Regen``).

    Parameters
    ----------
    result : IndexResult
    changes : mapping, optional
        Dotted paths into the spec, e.g. ``{"steps.treat.params.winmax": 1,
        "steps.aggregate.method": "geometric", "tree.LPI.weight": 0}`` (see
        :meth:`IndexSpec.with_changes`).
    data : pandas.DataFrame, optional
        Replacement input data (default: the result's own).
    year : int, optional
        Build another year of the same data.

    Returns
    -------
    IndexResult
        A new result; ``regenerate(r).equals(r)`` is True.
    """
    spec = result.spec.model_copy(update={"steps": tuple(r.as_step() for r in result.log)})
    if changes:
        spec = spec.with_changes(changes)
    return build(spec, result.data if data is None else data, year=result.year if year is None else year)
