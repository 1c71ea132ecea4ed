"""Uncertainty and sensitivity analysis of composite indices.

An :class:`UncertaintySpec` declares the uncertain inputs of an index, each addressed by
a dotted path into the :class:`~humsec.index.spec.IndexSpec` (see
:meth:`IndexSpec.with_changes`):

* ``choice`` — one of a list of alternatives (a parameter value, a method name, or a
  whole step as ``{method, params}``), e.g. ``steps.treat.params.winmax`` in 1..5;
* ``uniform`` — a continuous parameter drawn uniformly from ``[low, high]``;
* ``weights`` — one of ``n_sets`` noisy weight sets, each weight at the given levels
  multiplied by ``1 + U(-f, f)`` with noise factor ``f`` per level (COINr's
  ``get_noisy_weights``);
* ``exclude`` — none or one of the listed indicators is left out (weight 0).

Every input is driven by one number ``u`` in ``[0, 1)`` (a discrete input takes
alternative ``floor(u * n)``), so the same machinery serves Monte Carlo uncertainty
analysis (:func:`uncertainty_analysis`, ``u`` drawn from an explicit seed) and
variance-based sensitivity analysis (:func:`sensitivity_analysis`, ``u`` from SALib's
Saltelli/Sobol' design). Every run is recorded as a row of concrete values, so
:func:`replay` reproduces given runs exactly — runs sampled here or by another tool.

Speed: runs are grouped by their structural inputs (everything but weights and
exclusions); each group's pipeline up to normalisation runs once, and the aggregation of
all of the group's weight variants is vectorised over runs and units, in chunks that
bound memory. Runs whose aggregation the batch path cannot express (methods other than
the arithmetic, geometric and harmonic means, or with extra parameters) are built one by
one. Both paths give the same numbers as a plain :func:`~humsec.index.pipeline.build`
of the changed spec (tested to 1e-9).

References
----------
.. [SA08] Saltelli, A. et al. (2008). *Global Sensitivity Analysis: The Primer*. Wiley.
.. [Saltelli10] Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M.,
   Tarantola, S. (2010). Variance based sensitivity analysis of model output. Design and
   estimator for the total sensitivity index. *Computer Physics Communications* 181(2),
   259-270. https://doi.org/10.1016/j.cpc.2009.09.018
.. [SALib] Herman, J., Usher, W. (2017). SALib: An open-source Python library for
   sensitivity analysis. *JOSS* 2(9), 97. https://doi.org/10.21105/joss.00097
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 7.
.. [COINr] Becker, W. et al. (2022). COINr. *JOSS* 7(78), 4567 (``get_sensitivity``,
   ``get_noisy_weights``).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.index.pipeline import IndexResult, StepCache, build, resolve_method
from humsec.index.scale import Executor, executor_for
from humsec.index.spec import IndexSpec
from humsec.yamlio import load_yaml, read_text

__all__ = [
    "ChoiceInput", "ExcludeInput", "SensitivityResult", "UncertaintyResult", "UncertaintySpec",
    "UniformInput", "WeightsInput", "replay", "sensitivity_analysis", "sensitivity_from_runs",
    "sobol_indices", "uncertainty_analysis",
]

UNCERTAINTY_VERSION = 1
#: Aggregation methods the batch path vectorises over runs (with default parameters).
BATCH_METHODS = ("arithmetic", "geometric", "harmonic")
#: Aggregation parameters the batch path applies (besides ``floor`` of the geometric mean).
BATCH_PARAMS = frozenset({"min_children", "min_share"})
#: Cells (runs x units x children) of one batch chunk: bounds memory (~8 bytes each).
CHUNK_CELLS = 4_000_000


# ---------------------------------------------------------------------------- the spec


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")

    @property
    def n_levels(self) -> int | None:
        return None


class ChoiceInput(_Input):
    """One of several alternatives at ``path`` (dict alternatives set several keys)."""

    type: Literal["choice"] = "choice"
    path: str = Field(min_length=1)
    values: tuple[Any, ...] = Field(min_length=1)
    labels: tuple[str, ...] | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: tuple[str, ...] | None, info: Any) -> tuple[str, ...] | None:
        vals = info.data.get("values")
        if v is not None and vals is not None and len(v) != len(vals):
            raise ValueError(f"expected {len(vals)} labels (one per value), got {len(v)}")
        if v is not None and len(set(v)) != len(v):
            raise ValueError("labels must be unique")
        return v

    def label(self, i: int) -> Any:
        if self.labels is not None:
            return self.labels[i]
        v = self.values[i]
        if isinstance(v, Mapping):
            return v.get("label") or v.get("method") or json.dumps(v, sort_keys=True)
        return v

    @property
    def n_levels(self) -> int:
        return len(self.values)

    def changes(self, i: int) -> dict[str, Any]:
        v = self.values[i]
        if isinstance(v, Mapping):
            return {f"{self.path}.{k}": vv for k, vv in v.items() if k != "label"}
        return {self.path: v}


class UniformInput(_Input):
    """A continuous parameter at ``path`` drawn uniformly from ``[low, high]``."""

    type: Literal["uniform"] = "uniform"
    path: str = Field(min_length=1)
    low: float
    high: float

    @field_validator("high")
    @classmethod
    def _order(cls, v: float, info: Any) -> float:
        lo = info.data.get("low")
        if lo is not None and not v > lo:
            raise ValueError(f"expected high > low ({lo})")
        return v


class WeightsInput(_Input):
    """``n_sets`` noisy weight sets; ``noise`` maps tree level -> noise factor."""

    type: Literal["weights"] = "weights"
    noise: dict[int, float] = Field(min_length=1)
    n_sets: int = Field(default=100, ge=1, le=100_000)

    @field_validator("noise")
    @classmethod
    def _noise(cls, v: dict[int, float]) -> dict[int, float]:
        for lv, f in v.items():
            if not 0 <= f < 1:
                raise ValueError(f"noise factor of level {lv} must be in [0, 1), got {f}")
        return v

    @property
    def n_levels(self) -> int:
        return self.n_sets


class ExcludeInput(_Input):
    """Leave out none or one of ``candidates`` (its weight set to 0)."""

    type: Literal["exclude"] = "exclude"
    candidates: tuple[str, ...] = Field(min_length=1)

    @property
    def n_levels(self) -> int:
        return len(self.candidates) + 1

    def label(self, i: int) -> str:
        return "none" if i == 0 else self.candidates[i - 1]


Input = Annotated[ChoiceInput | UniformInput | WeightsInput | ExcludeInput, Field(discriminator="type")]


class Output(BaseModel):
    """The scalar a sensitivity analysis explains, per run.

    ``mean_abs_rank_shift`` (default): mean over units of |rank - nominal rank| of
    ``node``; ``rank`` / ``score``: the rank / score of ``unit`` on ``node``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    stat: Literal["mean_abs_rank_shift", "rank", "score"] = "mean_abs_rank_shift"
    node: str | None = None
    unit: str | None = None


class UncertaintySpec(BaseModel):
    """The uncertain inputs of an index and the output a sensitivity analysis explains."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    uncertainty_version: Literal[1] = UNCERTAINTY_VERSION
    inputs: tuple[Input, ...] = Field(min_length=1)
    output: Output = Field(default_factory=Output)

    @property
    def names(self) -> list[str]:
        return [i.name for i in self.inputs]

    # -- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_dict(cls, raw: object, *, file: str = "<uncertainty>", spec: IndexSpec | None = None
                  ) -> UncertaintySpec:
        if not isinstance(raw, dict):
            raise ValidationError(ValidationIssue("expected a mapping with 'inputs'", file=file))
        try:
            u = cls.model_validate(raw)
        except PydanticValidationError as exc:
            issues = [ValidationIssue(e["msg"], file=file,
                                      field=".".join(str(p) for p in e["loc"]) or None)
                      for e in exc.errors()]
            raise ValidationError(issues) from None
        if spec is not None:
            problems = u.check(spec, file=file)
            if problems:
                raise ValidationError(problems)
        return u

    @classmethod
    def from_yaml(cls, text: str, *, file: str = "<uncertainty>", spec: IndexSpec | None = None
                  ) -> UncertaintySpec:
        raw = load_yaml(text, file)
        if isinstance(raw, dict) and "uncertainty" in raw and "inputs" not in raw:
            raw = raw["uncertainty"]  # an index spec file with an uncertainty section
        return cls.from_dict(raw, file=file, spec=spec)

    @classmethod
    def from_file(cls, path: str | Path, *, spec: IndexSpec | None = None) -> UncertaintySpec:
        return cls.from_yaml(read_text(path, "uncertainty spec"), file=str(Path(path)), spec=spec)

    # -- validation against an index spec ----------------------------------------------
    def check(self, spec: IndexSpec, *, file: str = "<uncertainty>") -> list[ValidationIssue]:
        """Every problem of this spec against ``spec``, each located (``inputs[2].path``)."""
        issues: list[ValidationIssue] = []
        seen: set[str] = set()
        levels = {spec.level(c) for c in spec.nodes}
        for i, inp in enumerate(self.inputs):
            where = f"inputs[{i}] ({inp.name})"
            if inp.name in seen:
                issues.append(ValidationIssue(f"duplicate input name '{inp.name}'", file=file, field=where))
            seen.add(inp.name)
            if isinstance(inp, ChoiceInput):
                for j in range(len(inp.values)):
                    try:
                        spec.with_changes(inp.changes(j))
                    except HumsecError as exc:
                        issues.append(ValidationIssue(f"value {j} ({inp.label(j)!r}): {_first_line(exc)}",
                                                      file=file, field=f"{where}.values[{j}]"))
            elif isinstance(inp, UniformInput):
                for v in (inp.low, inp.high):
                    try:
                        spec.with_changes({inp.path: v})
                    except HumsecError as exc:
                        issues.append(ValidationIssue(f"{v}: {_first_line(exc)}", file=file, field=f"{where}.path"))
                        break
            elif isinstance(inp, WeightsInput):
                for lv in inp.noise:
                    if lv not in levels or lv == max(levels):
                        issues.append(ValidationIssue(
                            f"level {lv} has no weights to perturb; the tree has levels "
                            f"{sorted(levels)} (the root, level {max(levels)}, has no weight)",
                            file=file, field=f"{where}.noise"))
            elif isinstance(inp, ExcludeInput):
                for c in inp.candidates:
                    if c not in spec.nodes:
                        issues.append(ValidationIssue(f"'{c}' is not a node of the index", file=file,
                                                      field=f"{where}.candidates"))
                    elif c == spec.root:
                        issues.append(ValidationIssue("the root cannot be excluded", file=file,
                                                      field=f"{where}.candidates"))
        if sum(isinstance(i, WeightsInput) for i in self.inputs) > 1:
            issues.append(ValidationIssue("at most one 'weights' input", file=file, field="inputs"))
        o = self.output
        if o.node is not None and o.node not in spec.nodes:
            issues.append(ValidationIssue(f"'{o.node}' is not a node of the index", file=file, field="output.node"))
        if o.stat in ("rank", "score") and not o.unit:
            issues.append(ValidationIssue(f"output '{o.stat}' needs a unit", file=file, field="output.unit"))
        return issues


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[-1].strip(" -")


# ---------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class _Design:
    """Concrete values of every run: levels of discrete inputs, values of uniform ones."""

    spec: IndexSpec
    uspec: UncertaintySpec
    nominal: IndexResult
    weight_sets: np.ndarray | None  # (n_sets, n_nodes) raw node weights
    nodes: list[str]
    table: pd.DataFrame  # one row per run; columns per input (+ weight columns)
    data: pd.DataFrame | None = None  # the frame every run is built from (StepCache-bound)

    @property
    def source(self) -> pd.DataFrame:
        return self.nominal.data if self.data is None else self.data

    def subset(self, idx: Sequence[int]) -> _Design:
        """The same design with only the runs at positions ``idx`` (renumbered 0..)."""
        return replace(self, table=self.table.iloc[list(idx)].reset_index(drop=True))


def _nominal_weights(nominal: IndexResult, nodes: list[str]) -> np.ndarray:
    """Node weights as the nominal build used them (sibling-normalised); root = 1."""
    w = np.ones(len(nodes))
    pos = {c: i for i, c in enumerate(nodes)}
    spec_nodes = nominal.spec.nodes
    for i, c in enumerate(nodes):
        if spec_nodes[c].parent is not None:
            w[i] = 0.0
    arrays = getattr(nominal.weights, "arrays", None)  # the engine's weights: no Series
    for parent in nominal.weights:
        if arrays is not None:
            vals, kids = arrays(parent)
        else:
            s = nominal.weights[parent]
            vals, kids = s.to_numpy(dtype=float), s.index
        for c, v in zip(kids, vals):
            if c in pos and spec_nodes[c].parent == parent:
                w[pos[c]] = float(v)
    return w


def noisy_weights(base: np.ndarray, levels: np.ndarray, noise: Mapping[int, float], n_sets: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``n_sets`` weight sets: each weight at a level in ``noise`` multiplied by
    ``1 + U(-f, f)`` (COINr ``get_noisy_weights``); other weights unchanged.

    Parameters
    ----------
    base : (n_nodes,) array
    levels : (n_nodes,) int array
        Tree level of each node.
    noise : mapping level -> factor in [0, 1)
    n_sets : int
    rng : numpy.random.Generator

    Returns
    -------
    (n_sets, n_nodes) array
    """
    out = np.tile(base, (n_sets, 1))
    for lv, f in sorted(noise.items()):
        cols = np.flatnonzero(levels == lv)
        out[:, cols] = base[cols] * (1.0 + rng.uniform(-f, f, size=(n_sets, cols.size)))
    return out


def _design(spec: IndexSpec, data: pd.DataFrame, uspec: UncertaintySpec, U: np.ndarray,
            rng: np.random.Generator, year: int | None, cache: StepCache | None = None) -> _Design:
    """Concrete run table from unit-cube samples ``U`` (runs x inputs)."""
    nominal = build(spec, data, year=year, cache=cache)
    nodes = [n.code for n in spec.tree]
    levels = np.array([spec.level(c) for c in nodes])
    base = _nominal_weights(nominal, nodes)
    cols: dict[str, Any] = {}
    wsets = None
    for j, inp in enumerate(uspec.inputs):
        u = U[:, j]
        if isinstance(inp, UniformInput):
            cols[inp.name] = inp.low + u * (inp.high - inp.low)
            continue
        k = np.minimum((u * inp.n_levels).astype(int), inp.n_levels - 1)
        if isinstance(inp, ChoiceInput):
            cols[inp.name] = [inp.label(i) for i in k]
        elif isinstance(inp, ExcludeInput):
            cols[inp.name] = [inp.label(i) for i in k]
        elif isinstance(inp, WeightsInput):
            wsets = noisy_weights(base, levels, inp.noise, inp.n_sets, rng)
            cols[inp.name] = k
    table = pd.DataFrame(cols)
    table.insert(0, "run", np.arange(len(table)))
    if wsets is not None:
        winp = next(i for i in uspec.inputs if isinstance(i, WeightsInput))
        W = wsets[table[winp.name].to_numpy()]
        for i, c in enumerate(nodes):
            if c != spec.root:
                table[f"w:{c}"] = W[:, i]
    return _Design(spec, uspec, nominal, wsets, nodes, table, data)


def run_changes(spec: IndexSpec, uspec: UncertaintySpec, row: Mapping[str, Any],
                *, structural_only: bool = False) -> dict[str, Any]:
    """Dotted spec changes of one run-table row (see :meth:`IndexSpec.with_changes`)."""
    ch: dict[str, Any] = {}
    for inp in uspec.inputs:
        if not isinstance(inp, (ChoiceInput, UniformInput)):
            continue
        v = row[inp.name]
        if isinstance(inp, ChoiceInput):
            ch.update(inp.changes(_choice_index(inp, v)))
        elif isinstance(inp, UniformInput):
            ch[inp.path] = float(v)
    if structural_only:
        return ch
    wcols = [c for c in row.keys() if isinstance(c, str) and c.startswith("w:")]
    weights = {c[2:]: float(row[c]) for c in wcols}
    for inp in uspec.inputs:
        if isinstance(inp, ExcludeInput) and row[inp.name] != "none":
            weights[str(row[inp.name])] = 0.0
    if weights:
        for code, w in weights.items():
            ch[f"tree.{code}.weight"] = w
        if spec.step_index("weight") is not None:
            ch["steps.weight.method"] = "explicit"
            ch["steps.weight.params"] = {}
            ch["steps.weight.overrides"] = {}
    return ch


def _choice_index(inp: ChoiceInput, v: Any) -> int:
    labels = [inp.label(i) for i in range(inp.n_levels)]
    for i, lab in enumerate(labels):
        if lab == v or str(lab) == str(v):
            return i
        if isinstance(lab, (int, float)) and not isinstance(lab, bool):
            try:
                if float(v) == float(lab):
                    return i
            except (TypeError, ValueError):
                pass
    raise HumsecError(f"input '{inp.name}': value {v!r} is not one of {labels}")


# ---------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Runs:
    units: list[str]
    aggregates: list[str]
    scores: np.ndarray  # (runs, units, aggregates)
    errors: dict[int, str]


def _structural_names(uspec: UncertaintySpec) -> list[str]:
    return [inp.name for inp in uspec.inputs if isinstance(inp, (ChoiceInput, UniformInput))]


def _evaluate(design: _Design, *, progress: Callable[[int], None] | None = None,
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
    srows = table[_structural_names(uspec)].to_dict("records")
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
    # distributed: the design without its run table is shared once; each task gets its rows
    shared = executor.share(design.subset([]))
    items = [(key, idx, table.iloc[idx].reset_index(drop=True)) for key, idx in groups.items()]
    for i, (block, errs) in executor.map_unordered(_remote_group, items, shared=shared, batch=batch):
        idx = items[i][1]
        collect(idx, block, errs)
        if progress:
            progress(len(idx))
    return _Runs(units, aggs, scores, errors)


def _remote_group(item: tuple[str, list[int], pd.DataFrame], *, shared: _Design, batch: bool
                  ) -> tuple[np.ndarray, dict[int, str]]:
    key, _, table = item
    return _evaluate_group(replace(shared, table=table), key, batch=batch, cache=StepCache())


def _evaluate_group(design: _Design, key: str, *, batch: bool, cache: StepCache,
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
        msg = _first_line(exc)
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
            errors[i] = _first_line(exc)
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


_WEIGHT_TABLES: dict[int, tuple[pd.DataFrame, list[str], np.ndarray]] = {}


def _weight_table(table: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The ``w:<node>`` columns of a run table as one matrix, made once per table (the
    groups of one evaluation share it)."""
    hit = _WEIGHT_TABLES.get(id(table))
    if hit is not None and hit[0] is table:
        return hit[1], hit[2]
    wcols = [c for c in table.columns if isinstance(c, str) and c.startswith("w:")]
    wmat = table[wcols].to_numpy(dtype=float) if wcols else np.empty((len(table), 0))
    _WEIGHT_TABLES.clear()
    _WEIGHT_TABLES[id(table)] = (table, wcols, wmat)
    return wcols, wmat


def _unit_positions(units: list[str], base: IndexResult) -> np.ndarray:
    index = base.scores.index if not hasattr(base.datasets, "matrix") else base.ranks.index
    if len(index) == len(units) and all(a == b for a, b in zip(index, units)):
        return np.arange(len(units))
    return pd.Index(units).get_indexer(index)


def _batch_aggregate(base: IndexResult, design: _Design, rows_at: list[int],
                     units: list[str], aggs: list[str], scores: np.ndarray, errors: dict[int, str],
                     progress: Callable[[int], None] | None) -> None:
    """Aggregation of every run of a group at once: the group's build gives the
    normalised indicators; each run differs only in weights (noisy sets, exclusions), so
    the tree is aggregated with a leading run axis by the engine's kernel
    (:func:`humsec.index.engine.aggregate_means`, the numbers of the build's kernels)."""
    from humsec.index.engine import aggregate_means

    spec = base.spec
    nodes = design.nodes
    col = {c: i for i, c in enumerate(nodes)}
    agg_rec = next(r for r in base.log if r.step == "aggregate")
    methods = agg_rec.details["methods"]
    agg_step = agg_rec.as_step()
    leaves = spec.indicators
    ds = base.datasets
    if hasattr(ds, "matrix"):  # the engine's data sets: no frame needed
        at = {c: j for j, c in enumerate(ds.columns("Aggregated"))}
        X = ds.matrix("Aggregated")[:, [at[c] for c in leaves]]
    else:
        X = base.scores[leaves].to_numpy(dtype=float)  # normalised indicators (U_g, I)
    U_g = X.shape[0]
    unit_pos = _unit_positions(units, base)
    table = design.table
    # weights of every run: nominal, overwritten by noisy sets, zeroed by exclusions
    W_all = np.tile(_nominal_weights(base, nodes), (len(rows_at), 1))
    wcols, wmat = _weight_table(table)
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
            for r in np.flatnonzero(bad_w & ~failed):
                failed[r] = True
                msg[r] = f"weights of the children of '{parent}' sum to {tot[r]:g}; expected > 0"
            w = np.where(bad_w[:, None], 1.0, w)
            out, nonpos = aggregate_means(V, w, method, floor=prm.get("floor") if method == "geometric" else None,
                                          min_children=prm.get("min_children"), min_share=prm.get("min_share"))
            for r in np.flatnonzero(nonpos & ~failed):
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


# ---------------------------------------------------------------------------- results


#: Quantile rules of rank intervals: ``observed`` (R type 1, inverse of the empirical CDF:
#: an interval reads as whole ranks) or ``type7`` (R's default, linear interpolation, as
#: COINr's ``get_sensitivity`` rank statistics).
QUANTILE_RULES = {"observed": "inverted_cdf", "type7": "linear"}


def _rank_q(ranks: np.ndarray, q: float, rule: str = "observed") -> np.ndarray:
    """Percentile of ranks over runs (axis 0): by default as an observed rank (inverse of
    the empirical CDF), so a rank interval reads as whole ranks, not 5.95; ``rule =
    "type7"`` interpolates as R's ``quantile`` default (COINr)."""
    if rule not in QUANTILE_RULES:
        raise HumsecError(f"quantile rule must be one of {', '.join(QUANTILE_RULES)}, got {rule!r}")
    if ranks.shape[0] == 0:
        return np.full(ranks.shape[1:], np.nan)
    return _nanquantile(ranks, q, QUANTILE_RULES[rule])


def _nanquantile(a: np.ndarray, q: float, method: str = "linear") -> np.ndarray:
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


def _ranks(scores: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Ranks over units (axis 1) for every run and aggregate: 1 = best, ties share the
    lowest rank, NaN stays NaN."""
    from humsec.index.engine import rank_min_desc

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
                    "mean_rank": np.nanmean(Rk, axis=0), "median_rank": _nanquantile(Rk, 0.5),
                    "rank_q05": _rank_q(Rk, 0.05, quantile), "rank_q95": _rank_q(Rk, 0.95, quantile),
                    "mean_score": np.nanmean(S, axis=0),
                    "score_q05": _nanquantile(S, 0.05), "score_q95": _nanquantile(S, 0.95),
                    "n_runs": (~np.isnan(S)).sum(axis=0),
                })
            frames.append(df.sort_values(["nominal_rank", "unit"], kind="stable"))
        return pd.concat(frames, ignore_index=True)

    def run_scores(self, node: str | None = None) -> pd.DataFrame:
        """Scores of ``node`` (default: the root), one row per run, one column per unit."""
        node = node or self.spec.root
        j = self.aggregates.index(node)
        return pd.DataFrame(self.scores[:, :, j], columns=self.units, index=self.runs["run"])


def _finish(design: _Design, runs: _Runs, seed: int | None, meta: dict[str, Any]) -> UncertaintyResult:
    spec = design.spec
    signs = np.array([spec.nodes[a].direction for a in runs.aggregates], dtype=float)
    ranks = _ranks(runs.scores, signs)
    table = design.table.copy()
    table["status"] = ["failed" if i in runs.errors else "ok" for i in range(len(table))]
    table["error"] = [runs.errors.get(i, "") for i in range(len(table))]
    return UncertaintyResult(spec=spec, uncertainty=design.uspec, seed=seed, runs=table,
                             scores=runs.scores, ranks=ranks, units=runs.units,
                             aggregates=runs.aggregates, nominal=design.nominal, meta=meta)


def _coerce_rng(seed: int | np.random.Generator | None) -> tuple[np.random.Generator, int | None]:
    if isinstance(seed, np.random.Generator):
        return seed, None
    if seed is None:
        raise HumsecError("an explicit seed (int) or numpy.random.Generator is required")
    return np.random.default_rng(int(seed)), int(seed)


def uncertainty_analysis(spec: IndexSpec, data: pd.DataFrame, uncertainty: UncertaintySpec, *,
                         n: int, seed: int | np.random.Generator, year: int | None = None,
                         progress: Callable[[int], None] | None = None,
                         batch: bool = True, scheduler: Any = None) -> UncertaintyResult:
    """Monte Carlo uncertainty analysis: ``n`` runs, each input drawn independently.

    Parameters
    ----------
    spec : IndexSpec
    data : pandas.DataFrame
        Tidy data (as for :func:`~humsec.index.pipeline.build`).
    uncertainty : UncertaintySpec
    n : int
        Number of runs.
    seed : int or numpy.random.Generator
        Explicit randomness: the same seed gives the same runs.
    year : int, optional
    progress : callable, optional
        Called with the number of runs just finished.
    batch : bool
        Vectorise aggregation over runs (default); False builds every run separately
        (the reference path, for checks and benchmarks).
    scheduler : None, str or distributed.Client, optional
        Run the groups of runs on a Dask cluster: ``"local"``/``"local:N"`` starts one
        here, a string is a scheduler address (see :func:`humsec.index.scale.executor_for`).
        Results are identical to the single-process path for the same seed.

    Returns
    -------
    UncertaintyResult
        Failed runs (e.g. a geometric mean meeting a value <= 0) are kept, with status
        ``failed`` and their error, and left out of the statistics.
    """
    if n < 1:
        raise HumsecError(f"the number of runs must be >= 1, got {n}")
    _validate(uncertainty, spec)
    rng, s = _coerce_rng(seed)
    U = rng.random((n, len(uncertainty.inputs)))
    cache = StepCache()
    design = _design(spec, data, uncertainty, U, rng, year, cache)
    with executor_for(scheduler) as ex:
        runs = _evaluate(design, progress=progress, batch=batch, cache=cache, executor=ex)
    return _finish(design, runs, s, {"kind": "uncertainty", "n": n})


def _validate(uncertainty: UncertaintySpec, spec: IndexSpec) -> None:
    problems = uncertainty.check(spec)
    if problems:
        raise ValidationError(problems)


def replay(spec: IndexSpec, data: pd.DataFrame, uncertainty: UncertaintySpec,
           runs: pd.DataFrame | str | Path, *, year: int | None = None,
           progress: Callable[[int], None] | None = None, batch: bool = True,
           scheduler: Any = None) -> UncertaintyResult:
    """Reproduce given runs exactly from a table of concrete parameter values.

    Parameters
    ----------
    runs : pandas.DataFrame or path to a CSV
        One row per run; one column per input named as in ``uncertainty`` (the label of a
        choice, ``none`` or an indicator code for an exclusion, a number for a uniform
        input); weights as ``w:<node>`` columns (the weight set index alone is not
        enough to replay runs made elsewhere). An optional ``run`` column is kept.

    Returns
    -------
    UncertaintyResult
    """
    _validate(uncertainty, spec)
    if not isinstance(runs, pd.DataFrame):
        p = Path(runs)
        try:
            runs = pd.read_csv(p)
        except FileNotFoundError:
            raise HumsecError(f"{p}: replay table not found") from None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise HumsecError(f"{p}: cannot read the replay table ({exc})") from None
        where = str(p)
    else:
        where = "<replay table>"
    table = runs.copy().reset_index(drop=True)
    issues = []
    for inp in uncertainty.inputs:
        if isinstance(inp, WeightsInput):
            if not any(isinstance(c, str) and c.startswith("w:") for c in table.columns):
                issues.append(ValidationIssue(f"weights input '{inp.name}' needs w:<node> columns",
                                              file=where))
            continue
        if inp.name not in table.columns:
            issues.append(ValidationIssue(f"missing column '{inp.name}'", file=where, row=1))
            continue
        for r, v in enumerate(table[inp.name]):
            try:
                if isinstance(inp, ChoiceInput):
                    _choice_index(inp, v)
                elif isinstance(inp, UniformInput):
                    x = float(v)
                    if not (inp.low <= x <= inp.high) or math.isnan(x):
                        raise HumsecError(f"{v!r} outside [{inp.low}, {inp.high}]")
                elif isinstance(inp, ExcludeInput):
                    if v != "none" and v not in inp.candidates:
                        raise HumsecError(f"{v!r} is not 'none' or one of {list(inp.candidates)}")
            except (HumsecError, TypeError, ValueError) as exc:
                issues.append(ValidationIssue(_first_line(exc), file=where, row=r + 2, field=inp.name))
    nodes = [n.code for n in spec.tree]
    for c in table.columns:
        if isinstance(c, str) and c.startswith("w:"):
            if c[2:] not in spec.nodes or c[2:] == spec.root:
                issues.append(ValidationIssue(f"'{c[2:]}' is not a weighted node of the index",
                                              file=where, row=1, field=c))
                continue
            vals = pd.to_numeric(table[c], errors="coerce")
            for r in np.flatnonzero(~(vals >= 0)):
                issues.append(ValidationIssue(f"weight {table[c].iloc[r]!r}: expected a number >= 0",
                                              file=where, row=int(r) + 2, field=c))
            table[c] = vals
    if issues:
        raise ValidationError(issues)
    if "run" not in table.columns:
        table.insert(0, "run", np.arange(len(table)))
    cache = StepCache()
    nominal = build(spec, data, year=year, cache=cache)
    design = _Design(spec, uncertainty, nominal, None, nodes, table, data)
    with executor_for(scheduler) as ex:
        runs_ = _evaluate(design, progress=progress, batch=batch, cache=cache, executor=ex)
    return _finish(design, runs_, None, {"kind": "replay", "n": len(table)})


# ---------------------------------------------------------------------------- sensitivity

# Sobol' indices and sensitivity analysis live in humsec.index.sensitivity (estimators,
# designs, bootstrap); re-exported here so existing imports keep working.
from humsec.index.sensitivity import (  # noqa: F401  (re-exports)
    SensitivityResult,
    _output_values,
    sensitivity_analysis,
    sensitivity_from_runs,
    sobol_indices,
)
