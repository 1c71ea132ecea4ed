"""Alkire–Foster multidimensional poverty measurement on microdata.

A declarative :class:`MPISpec` (indicators with deprivation cut-offs, nested weights, a
poverty cut-off *k*) is applied to person or household records with sampling weights:

* **identification** — each record's weighted deprivation score
  ``c_i = sum_j w_j g_ij`` (``g_ij = 1`` if record *i* is deprived in indicator *j*); the
  record is *poor* if ``c_i >= k`` (dual cut-off);
* **aggregation** — headcount ratio ``H`` (weighted share of poor), intensity ``A``
  (average score among the poor) and adjusted headcount ratio ``M0 = H x A``;
  uncensored and censored headcount ratios per indicator; percentage contributions of
  each indicator and dimension (``w_j h_j(k) / M0``, summing to 100 %); the shares of
  people *vulnerable* (``vulnerable_cutoff <= c_i < k``) and in *severe* poverty
  (``c_i >= severe_cutoff``);
* **subgroup decomposition** by any column (sex, age group, region, disability, migrant
  status ...): ``M0 = sum_g (N_g / N) M0_g``;
* the **k-robustness curve** (H, A, M0 over a grid of k);
* **standard errors**: linearised (Taylor) for H, A and M0 — records as independent
  draws, or with primary sampling units and strata — and a seeded rescaling bootstrap.

Implementation
--------------
Records are reduced, chunk by chunk, to a table of *deprivation patterns*: for each
distinct bit pattern of the ``d`` indicators (at most ``2**d``) and each subgroup, the
sum of sampling weights, of squared weights and the record count. Every statistic above
— for any *k* — is an exact weighted sum over that small table, so memory does not grow
with the number of records (10 million records need a few hundred MB of transient chunk
buffers at most, see ``benchmarks/bench_mpi.py``). Files (CSV, CSV.gz, Parquet, Feather)
are read in chunks with pyarrow; values that cannot be used raise a
:class:`~humsec.errors.ValidationError` naming the file, row and column and what was
expected.

References
----------
.. [AF2011] Alkire, S. and Foster, J. (2011). Counting and multidimensional poverty
   measurement. *Journal of Public Economics* 95(7-8), 476-487.
   https://doi.org/10.1016/j.jpubeco.2010.11.006
.. [AF2015] Alkire, S., Foster, J. E., Seth, S., Santos, M. E., Roche, J. M. and
   Ballon, P. (2015). *Multidimensional Poverty Measurement and Analysis*. Oxford
   University Press. (Ch. 5: the adjusted headcount ratio and its properties; Ch. 8:
   robustness and statistical inference.)
.. [AKJ2018] Alkire, S. and Jahan, S. (2018). The new global MPI 2018: aligning with the
   Sustainable Development Goals. OPHI Working Paper 121 / UNDP HDRO occasional paper.
.. [RW1988] Rao, J. N. K. and Wu, C. F. J. (1988). Resampling inference with complex survey
   data. *Journal of the American Statistical Association* 83(401), 231-241.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.yamlio import load_yaml, model_issues, read_text

__all__ = [
    "AFResult",
    "MPIDimension",
    "MPIIndicator",
    "MPISpec",
    "bootstrap_se",
    "builtin_mpi_names",
    "load_mpi_spec",
    "measure",
]

#: Scores within this distance below a cut-off count as reaching it (weights such as 1/6 +
#: 1/6 are not exactly 1/3 in floating point).
SCORE_TOL = 1e-9
#: Maximum number of indicators (deprivation patterns are stored as 63-bit integers).
MAX_INDICATORS = 62
#: Issues collected before reading stops.
MAX_ISSUES = 50

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_OPS = ("<", "<=", ">", ">=", "==", "!=")
_FLAGS = ("true", "false")
_TRUE = frozenset({"1", "1.0", "true", "t", "yes", "y"})
_FALSE = frozenset({"0", "0.0", "false", "f", "no", "n"})


# ============================================================================ the spec


def _fraction(v: Any) -> Any:
    """Accept numbers and fraction strings such as ``"1/18"``."""
    if isinstance(v, str):
        try:
            return float(Fraction(v.strip()))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"expected a number or a fraction such as 1/6, got '{v}'") from None
    return v


class MPIDimension(BaseModel):
    """A dimension of an MPI (health, education, living standards ...).

    Parameters
    ----------
    code : str
        Identifier.
    name : str
        Label.
    weight : float, optional
        Weight of the dimension (fractions such as ``"1/3"`` allowed). When given, the
        weights of its indicators must sum to it; indicators of the dimension without an
        explicit weight share it equally (nested weights, [AF2015]_ ch. 6).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name: str = ""
    weight: float | None = None

    @field_validator("weight", mode="before")
    @classmethod
    def _frac(cls, v: Any) -> Any:
        return _fraction(v)


class MPIIndicator(BaseModel):
    """One deprivation indicator.

    Parameters
    ----------
    code : str
        Identifier (also the default column name).
    dimension : str
        Code of its dimension.
    column : str, optional
        Column of the microdata holding the achievement (default: ``code``).
    deprived_if : {"<", "<=", ">", ">=", "==", "!=", "true", "false"}
        Deprivation rule: a comparison of the value with ``cutoff`` (e.g. ``"<"`` with
        cut-off 6: deprived if fewer than 6 years of schooling), or ``"true"``/``"false"``
        for a 0/1 (boolean) column — deprived where it is true (a ready-made deprivation
        flag) or false (e.g. ``has_electricity``).
    cutoff : float, optional
        Deprivation cut-off ``z_j`` (required for comparisons, forbidden for flags).
    weight : float, optional
        Weight in the whole measure (fractions allowed); omitted -> equal share of the
        dimension's weight.
    allowed : list of float, optional
        The only values the column may take (e.g. ``[0, 1, 2]``); others are reported as
        errors.
    valid_range : (float, float), optional
        Physically possible range (e.g. ``[0, 30]`` years); values outside are errors.
    name, description : str
        Labels; ``description`` should state the cut-off in words.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    dimension: str
    column: str | None = None
    deprived_if: Literal["<", "<=", ">", ">=", "==", "!=", "true", "false"] = "true"
    cutoff: float | None = None
    weight: float | None = None
    allowed: tuple[float, ...] | None = None
    valid_range: tuple[float, float] | None = None
    name: str = ""
    description: str = ""

    @field_validator("weight", mode="before")
    @classmethod
    def _frac(cls, v: Any) -> Any:
        return _fraction(v)

    @field_validator("deprived_if", mode="before")
    @classmethod
    def _flag(cls, v: Any) -> Any:
        if isinstance(v, bool):  # YAML `true`/`false` unquoted
            return "true" if v else "false"
        return v

    @model_validator(mode="after")
    def _rule(self) -> "MPIIndicator":
        if self.deprived_if in _OPS and self.cutoff is None:
            raise ValueError(f"deprived_if '{self.deprived_if}' needs a cutoff")
        if self.deprived_if in _FLAGS and self.cutoff is not None:
            raise ValueError(f"deprived_if '{self.deprived_if}' (a 0/1 column) takes no cutoff")
        if self.cutoff is not None and not math.isfinite(self.cutoff):
            raise ValueError("cutoff must be finite")
        if self.valid_range is not None and not self.valid_range[0] <= self.valid_range[1]:
            raise ValueError("valid_range must be [low, high] with low <= high")
        return self

    @property
    def source_column(self) -> str:
        return self.column or self.code

    @property
    def is_flag(self) -> bool:
        return self.deprived_if in _FLAGS

    def deprived(self, x: np.ndarray) -> np.ndarray:
        """Deprivation status ``g_ij`` of values ``x`` (float array; flags as 0/1)."""
        op, z = self.deprived_if, self.cutoff
        if op == "true":
            return x == 1.0
        if op == "false":
            return x == 0.0
        return {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                "==": np.equal, "!=": np.not_equal}[op](x, z)

    def rule_text(self) -> str:
        if self.deprived_if == "true":
            return f"deprived if {self.source_column} is true (1)"
        if self.deprived_if == "false":
            return f"deprived if {self.source_column} is false (0)"
        return f"deprived if {self.source_column} {self.deprived_if} {self.cutoff:g}"


class MPISpec(BaseModel):
    """A declarative Alkire–Foster measure (YAML <-> pydantic).

    Parameters
    ----------
    spec_version : int
        Format version (1).
    name, title, version, source, description : str
        Identification and provenance.
    poverty_cutoff : float
        The poverty cut-off *k* in (0, 1] as a share of the weighted indicators
        (fractions such as ``"1/3"`` allowed).
    vulnerable_cutoff, severe_cutoff : float, optional
        Score thresholds for "vulnerable to poverty" (``vulnerable_cutoff <= c < k``) and
        "severe poverty" (``c >= severe_cutoff``), 0.2 and 0.5 in the global MPI.
    dimensions : list of MPIDimension
    indicators : list of MPIIndicator
        Resolved weights must be positive and sum to 1.
    weight_column : str, optional
        Default sampling-weight column of the microdata.

    Examples
    --------
    >>> s = load_mpi_spec("global_mpi")
    >>> round(sum(s.weights.values()), 12), round(s.poverty_cutoff, 4)
    (1.0, 0.3333)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec_version: Literal[1] = 1
    name: str
    title: str = ""
    version: str = ""
    source: str = ""
    description: str = ""
    poverty_cutoff: float
    vulnerable_cutoff: float | None = None
    severe_cutoff: float | None = None
    weight_column: str | None = None
    dimensions: tuple[MPIDimension, ...] = Field(min_length=1)
    indicators: tuple[MPIIndicator, ...] = Field(min_length=1)

    @field_validator("poverty_cutoff", "vulnerable_cutoff", "severe_cutoff", mode="before")
    @classmethod
    def _frac(cls, v: Any) -> Any:
        return _fraction(v)

    # -- derived ------------------------------------------------------------------------
    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.indicators]

    @property
    def columns(self) -> list[str]:
        """Microdata columns needed by the indicators (in order, deduplicated)."""
        return list(dict.fromkeys(i.source_column for i in self.indicators))

    @property
    def weights(self) -> Mapping[str, float]:
        """Resolved indicator weights (sum to 1)."""
        return MappingProxyType(_resolve_weights(self))

    @property
    def dimension_of(self) -> Mapping[str, str]:
        return MappingProxyType({i.code: i.dimension for i in self.indicators})

    def dimension_weights(self) -> dict[str, float]:
        w = self.weights
        return {d.code: float(sum(w[i.code] for i in self.indicators if i.dimension == d.code))
                for d in self.dimensions}

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json(exclude_none=True))

    def to_yaml(self) -> str:
        from humsec.model.catalogue import _SafeUnicodeDumper

        return yaml.dump(self.to_dict(), Dumper=_SafeUnicodeDumper, sort_keys=False,
                         allow_unicode=True)

    @classmethod
    def from_dict(cls, raw: object, *, file: str = "<mpi spec>") -> "MPISpec":
        if not isinstance(raw, dict):
            raise ValidationError(ValidationIssue(
                "expected a mapping (name, poverty_cutoff, dimensions, indicators)", file=file))
        try:
            spec = cls.model_validate(raw)
        except PydanticValidationError as exc:
            raise ValidationError(model_issues(exc, raw, file)) from None
        issues = _semantic_issues(spec, file)
        if issues:
            raise ValidationError(issues)
        return spec

    @classmethod
    def from_yaml(cls, text: str, *, file: str = "<mpi spec>") -> "MPISpec":
        return cls.from_dict(load_yaml(text, file), file=file)

    @classmethod
    def from_file(cls, path: str | Path) -> "MPISpec":
        return cls.from_yaml(read_text(path, "MPI spec file"), file=str(Path(path)))

    def with_cutoff(self, k: float) -> "MPISpec":
        """The same spec with another poverty cut-off (validated). A vulnerability
        (severity) threshold above (below) the new *k* no longer applies and is dropped."""
        d = self.to_dict()
        d["poverty_cutoff"] = k
        if self.vulnerable_cutoff is not None and self.vulnerable_cutoff > k:
            d.pop("vulnerable_cutoff")
        if self.severe_cutoff is not None and self.severe_cutoff < k:
            d.pop("severe_cutoff")
        return MPISpec.from_dict(d, file=f"<{self.name} with k={k}>")


def _resolve_weights(spec: MPISpec) -> dict[str, float]:
    dims = {d.code: d for d in spec.dimensions}
    out: dict[str, float] = {}
    for d in spec.dimensions:
        members = [i for i in spec.indicators if i.dimension == d.code]
        explicit = sum(i.weight for i in members if i.weight is not None)
        implicit = [i for i in members if i.weight is None]
        share = ((d.weight - explicit) / len(implicit)) if (implicit and d.weight is not None) else None
        for i in members:
            out[i.code] = i.weight if i.weight is not None else (share if share is not None else float("nan"))
    for i in spec.indicators:
        if i.dimension not in dims:
            out[i.code] = i.weight if i.weight is not None else float("nan")
    return {i.code: float(out[i.code]) for i in spec.indicators}


def _semantic_issues(spec: MPISpec, file: str) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []

    def add(msg: str, fld: str | None) -> None:
        issues.append(ValidationIssue(msg, file=file, field=fld))

    dim_codes = [d.code for d in spec.dimensions]
    for n, d in enumerate(spec.dimensions):
        if not _CODE.fullmatch(d.code):
            add("code must start with a letter and hold only letters, digits and '_'",
                f"dimensions[{n}] ({d.code}).code")
        if dim_codes.count(d.code) > 1:
            add(f"duplicate dimension code '{d.code}'", f"dimensions[{n}] ({d.code}).code")
        if d.weight is not None and not 0 < d.weight <= 1:
            add(f"weight {d.weight:g} must be in (0, 1]", f"dimensions[{n}] ({d.code}).weight")
    codes = spec.codes
    if len(codes) > MAX_INDICATORS:
        add(f"{len(codes)} indicators; at most {MAX_INDICATORS} are supported", "indicators")
    for n, i in enumerate(spec.indicators):
        where = f"indicators[{n}] ({i.code})"
        if not _CODE.fullmatch(i.code):
            add("code must start with a letter and hold only letters, digits and '_'", f"{where}.code")
        if codes.count(i.code) > 1:
            add(f"duplicate indicator code '{i.code}'", f"{where}.code")
        if i.dimension not in dim_codes:
            add(f"unknown dimension '{i.dimension}'; expected one of {', '.join(dim_codes)}",
                f"{where}.dimension")
        if i.weight is None and next((d.weight for d in spec.dimensions if d.code == i.dimension), None) is None:
            add("no weight: give the indicator a weight or its dimension a weight to share",
                f"{where}.weight")
        if i.weight is not None and not 0 < i.weight <= 1:
            add(f"weight {i.weight:g} must be in (0, 1]", f"{where}.weight")
        if i.is_flag and i.allowed is not None and not set(i.allowed) <= {0.0, 1.0}:
            add("a 0/1 flag column can only allow the values 0 and 1", f"{where}.allowed")
    for d in spec.dimensions:
        if not any(i.dimension == d.code for i in spec.indicators):
            add(f"dimension '{d.code}' has no indicators", "dimensions")
    if issues:
        return issues
    w = _resolve_weights(spec)
    for n, i in enumerate(spec.indicators):
        if not (w[i.code] > 0):
            add(f"resolved weight {w[i.code]:g} must be positive", f"indicators[{n}] ({i.code}).weight")
    total = sum(w.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        add(f"indicator weights sum to {total:.6g}; they must sum to 1", "indicators")
    for n, d in enumerate(spec.dimensions):
        if d.weight is not None:
            s = sum(w[i.code] for i in spec.indicators if i.dimension == d.code)
            if not math.isclose(s, d.weight, abs_tol=1e-6):
                add(f"indicator weights of dimension '{d.code}' sum to {s:.6g}, not its weight "
                    f"{d.weight:.6g}", f"dimensions[{n}] ({d.code}).weight")
    k = spec.poverty_cutoff
    if not 0 < k <= 1:
        add(f"poverty_cutoff {k:g} must be in (0, 1]", "poverty_cutoff")
    if spec.vulnerable_cutoff is not None and not 0 <= spec.vulnerable_cutoff <= k:
        add("vulnerable_cutoff must be in [0, poverty_cutoff]", "vulnerable_cutoff")
    if spec.severe_cutoff is not None and not k <= spec.severe_cutoff <= 1:
        add("severe_cutoff must be in [poverty_cutoff, 1]", "severe_cutoff")
    return issues


def builtin_mpi_names() -> list[str]:
    """Names of the built-in MPI specs (``global_mpi`` ...)."""
    root = resources.files("humsec.analysis") / "specs"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_mpi_spec(name_or_path: str | Path | MPISpec) -> MPISpec:
    """A built-in MPI spec by name or an MPI spec YAML file (validated).

    Raises
    ------
    HumsecError
        Neither a built-in name nor an existing file; ValidationError for an invalid spec.
    """
    if isinstance(name_or_path, MPISpec):
        return name_or_path
    text = str(name_or_path)
    if text in builtin_mpi_names():
        res = resources.files("humsec.analysis") / "specs" / f"{text}.yaml"
        return MPISpec.from_yaml(res.read_text(encoding="utf-8"), file=f"built-in MPI spec '{text}'")
    p = Path(text)
    if p.is_file():
        return MPISpec.from_file(p)
    raise HumsecError(f"'{text}' is neither a built-in MPI spec ({', '.join(builtin_mpi_names())}) "
                      "nor an existing spec file")


# ============================================================================ reading


@dataclass(frozen=True)
class _Columns:
    """The roles of microdata columns."""

    spec: MPISpec
    weight: str | None
    by: tuple[str, ...]
    psu: str | None
    strata: str | None

    @property
    def numeric(self) -> list[str]:
        return [c for c in [*self.spec.columns, self.weight] if c is not None]

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(c for c in [*self.by, self.psu, self.strata] if c is not None))

    @property
    def all(self) -> list[str]:
        return list(dict.fromkeys([*self.numeric, *self.labels]))

    def role(self, col: str) -> str:
        roles = [f"indicator '{i.code}'" for i in self.spec.indicators if i.source_column == col]
        if col == self.weight:
            roles.append("the sampling weight")
        if col in self.by:
            roles.append("a subgroup (--by)")
        if col == self.psu:
            roles.append("the primary sampling unit")
        if col == self.strata:
            roles.append("the strata")
        return " and ".join(roles)


@dataclass
class _Chunk:
    """Validated columns of one chunk: numpy arrays plus raw strings for labels."""

    start: int  # 0-based index of the chunk's first record
    n: int
    values: dict[str, np.ndarray]  # float64, NaN = missing
    labels: dict[str, Any]  # column -> _Label


_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".feather": "feather", ".arrow": "feather"}


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zst"):
        suffixes = suffixes[:-1]
    fmt = _FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise HumsecError(f"{path}: unsupported microdata format; expected .csv(.gz), .tsv, "
                          ".parquet or .feather")
    return fmt


class _Reader:
    """Chunked reading of microdata with located validation errors."""

    def __init__(self, source: pd.DataFrame | str | Path, cols: _Columns, chunk_rows: int,
                 missing: str):
        self.cols = cols
        self.chunk_rows = int(chunk_rows)
        self.missing = missing
        self.issues: list[ValidationIssue] = []
        self.n_issues = 0
        if isinstance(source, pd.DataFrame):
            self.frame: pd.DataFrame | None = source
            self.path: Path | None = None
            self.file = None
            self.row_base = 1  # row 1 = first record
            self.fmt = "frame"
        else:
            self.frame = None
            self.path = Path(source)
            self.file = str(self.path)
            if not self.path.is_file():
                raise HumsecError(f"{self.path}: microdata file not found")
            self.fmt = _format_of(self.path)
            self.row_base = 2 if self.fmt == "csv" else 1  # CSV: header is row 1

    # -- issues ----------------------------------------------------------------------------
    def add(self, message: str, row: int | None = None, col: str | None = None) -> None:
        self.n_issues += 1
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(ValidationIssue(message, file=self.file or "<data frame>",
                                               row=row, field=col))

    def full(self) -> bool:
        return len(self.issues) >= MAX_ISSUES

    def raise_if_issues(self) -> None:
        if self.issues:
            issues = list(self.issues)
            if self.n_issues > len(issues):
                issues.append(ValidationIssue(
                    f"... reading stopped after {len(issues)} problems", file=self.file))
            raise ValidationError(issues, limit=MAX_ISSUES + 1)

    # -- schema ----------------------------------------------------------------------------
    def _names(self) -> list[str]:
        if self.frame is not None:
            return [str(c) for c in self.frame.columns]
        import pyarrow as pa

        try:
            if self.fmt == "csv":
                import pyarrow.csv as pacsv

                with pacsv.open_csv(pa.input_stream(str(self.path), compression="detect"),
                                    read_options=pacsv.ReadOptions(block_size=1 << 16),
                                    parse_options=self._parse_options()) as r:
                    return list(r.schema.names)
            if self.fmt == "parquet":
                import pyarrow.parquet as pq

                return list(pq.ParquetFile(str(self.path)).schema_arrow.names)
            import pyarrow.ipc as ipc

            return list(ipc.open_file(str(self.path)).schema.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise HumsecError(f"{self.path}: cannot read {self.fmt} file ({exc})") from None

    def _parse_options(self):
        import pyarrow.csv as pacsv

        delim = "\t" if self.path is not None and ".tsv" in [s.lower() for s in self.path.suffixes] else ","
        return pacsv.ParseOptions(delimiter=delim)

    def check_columns(self) -> None:
        names = self._names()
        for col in self.cols.all:
            if col not in names:
                shown = ", ".join(names[:15]) + (" ..." if len(names) > 15 else "")
                self.add(f"missing column '{col}' (needed for {self.cols.role(col)}); the file has "
                         f"columns: {shown}", row=None, col=col)
        self.raise_if_issues()

    # -- chunks ----------------------------------------------------------------------------
    def chunks(self) -> Iterator[_Chunk]:
        self.check_columns()
        if self.frame is not None:
            yield from self._frame_chunks()
        elif self.fmt == "csv":
            yield from self._csv_chunks()
        elif self.fmt == "parquet":
            yield from self._parquet_chunks()
        else:
            yield from self._feather_chunks()
        self.raise_if_issues()

    def _frame_chunks(self) -> Iterator[_Chunk]:
        df = self.frame
        assert df is not None
        for start in range(0, max(len(df), 1), self.chunk_rows):
            part = df.iloc[start:start + self.chunk_rows]
            if len(part) == 0:
                break
            yield from self._convert(start, len(part), {c: part[c] for c in self.cols.all})
            if self.full():
                return

    def _arrow_batches(self, batches: Iterable[Any]) -> Iterator[_Chunk]:
        start = 0
        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue
            yield from self._convert(start, n, {c: batch.column(c) for c in self.cols.all})
            start += n
            if self.full():
                return

    def _parquet_chunks(self) -> Iterator[_Chunk]:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(str(self.path))
        yield from self._arrow_batches(pf.iter_batches(batch_size=self.chunk_rows, columns=self.cols.all))

    def _feather_chunks(self) -> Iterator[_Chunk]:
        import pyarrow.ipc as ipc

        import pyarrow as pa

        reader = ipc.open_file(str(self.path))

        def batches() -> Iterator[Any]:
            for i in range(reader.num_record_batches):
                b = reader.get_batch(i).select(self.cols.all)
                yield from pa.Table.from_batches([b]).to_batches(max_chunksize=self.chunk_rows)

        yield from self._arrow_batches(batches())

    def _csv_chunks(self) -> Iterator[_Chunk]:
        import pyarrow as pa

        # typed fast path; on a conversion error re-read as text to locate every problem
        types: dict[str, Any] = {c: pa.float64() for c in self.cols.numeric}
        types.update({c: pa.string() for c in self.cols.labels})
        try:
            yield from self._csv_read(types)
            return
        except pa.ArrowInvalid:
            pass
        yield from self._csv_read({c: pa.string() for c in self.cols.all})

    def _csv_read(self, types: dict[str, Any]) -> Iterator[_Chunk]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        # ~ chunk_rows rows per block (assume ~ 16 bytes per needed field, at least 1 MB)
        block = int(min(max(self.chunk_rows * 16 * max(len(self.cols.all), 1), 1 << 20), 1 << 28))
        reader = pacsv.open_csv(
            pa.input_stream(str(self.path), compression="detect"),
            read_options=pacsv.ReadOptions(block_size=block),
            parse_options=self._parse_options(),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=self.cols.all,
                                                 strings_can_be_null=True),
        )
        with reader:
            yield from self._arrow_batches(reader)

    # -- conversion --------------------------------------------------------------------------
    def _convert(self, start: int, n: int, raw: Mapping[str, Any]) -> Iterator[_Chunk]:
        values: dict[str, np.ndarray] = {}
        labels: dict[str, np.ndarray] = {}
        flags = {i.source_column for i in self.cols.spec.indicators if i.is_flag}
        for col in self.cols.numeric:
            values[col] = self._numeric(col, raw[col], start, flag=col in flags)
        for col in self.cols.labels:
            labels[col] = self._label(col, raw[col], start)
        yield _Chunk(start=start, n=n, values=values, labels=labels)

    def _row(self, start: int, pos: np.ndarray | int) -> Any:
        return start + pos + self.row_base

    def _strings(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """(object array of stripped strings, null mask) from an arrow or pandas column."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(data, pd.Series):
            data = pa.array(data.astype(object).where(data.notna(), None).to_numpy(dtype=object),
                            from_pandas=True)
            if not pa.types.is_string(data.type) and not pa.types.is_null(data.type):
                data = pc.cast(data, pa.string())
        else:
            if pa.types.is_dictionary(data.type):
                data = data.dictionary_decode()
            if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
                data = pc.cast(data, pa.string())
        if pa.types.is_null(data.type):
            return np.full(len(data), "", dtype=object), np.ones(len(data), dtype=bool)
        data = pc.utf8_trim_whitespace(data)
        null = np.array(pc.fill_null(pc.or_(pc.is_null(data), pc.equal(data, "")), True)
                        .to_numpy(zero_copy_only=False), dtype=bool)
        text = np.array(pc.fill_null(data, "").to_numpy(zero_copy_only=False), dtype=object)
        return text, null

    def _numeric(self, col: str, data: Any, start: int, *, flag: bool) -> np.ndarray:
        import pyarrow as pa

        arr: np.ndarray | None = None
        text = None
        if isinstance(data, pd.Series):
            if pd.api.types.is_bool_dtype(data.dtype):
                arr = data.astype("float64").to_numpy(dtype="float64", na_value=np.nan)
            elif pd.api.types.is_numeric_dtype(data.dtype):
                arr = data.to_numpy(dtype="float64", na_value=np.nan)
        else:
            t = data.type
            if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t) \
                    or pa.types.is_decimal(t):
                if pa.types.is_decimal(t) or pa.types.is_boolean(t):
                    data = data.cast(pa.float64())
                arr = data.to_numpy(zero_copy_only=False).astype("float64", copy=False)
        if arr is None:
            text, null = self._strings(data)
            if flag:
                low = np.char.lower(text.astype(str))
                arr = np.full(len(text), np.nan)
                arr[np.isin(low, list(_TRUE))] = 1.0
                arr[np.isin(low, list(_FALSE))] = 0.0
                bad = ~null & np.isnan(arr)
                for pos in np.flatnonzero(bad)[:MAX_ISSUES]:
                    self.add(f"value '{text[pos]}' is outside the allowed set {{0, 1, true, false}} "
                             f"({self.cols.role(col)} is a 0/1 flag)", self._row(start, int(pos)), col)
            else:
                arr = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                bad = ~null & np.isnan(arr)
                for pos in np.flatnonzero(bad)[:MAX_ISSUES]:
                    self.add(f"non-numeric value '{text[pos]}': expected a number "
                             f"(for {self.cols.role(col)})", self._row(start, int(pos)), col)
            arr = np.where(bad, np.nan, arr)
            missing = null
        else:
            missing = np.isnan(arr)
        inf = np.isinf(arr)
        for pos in np.flatnonzero(inf)[:MAX_ISSUES]:
            self.add(f"value {arr[pos]} is not finite; expected a finite number",
                     self._row(start, int(pos)), col)
        is_weight = col == self.cols.weight
        if is_weight or self.missing == "error":
            for pos in np.flatnonzero(missing)[:MAX_ISSUES]:
                what = "a non-negative sampling weight" if is_weight else (
                    f"a value for {self.cols.role(col)} (or pass missing='drop' / --drop-missing)")
                self.add(f"missing value: expected {what}", self._row(start, int(pos)), col)
        if is_weight:
            neg = arr < 0
            for pos in np.flatnonzero(neg)[:MAX_ISSUES]:
                self.add(f"negative weight {arr[pos]:g}: sampling weights must be >= 0",
                         self._row(start, int(pos)), col)
        else:
            self._check_values(col, arr, start, flag=flag)
        return arr

    def _check_values(self, col: str, arr: np.ndarray, start: int, *, flag: bool) -> None:
        ok = ~np.isnan(arr)
        for ind in self.cols.spec.indicators:
            if ind.source_column != col:
                continue
            allowed = ind.allowed if ind.allowed is not None else ((0.0, 1.0) if flag else None)
            if allowed is not None:
                bad = ok & ~np.isin(arr, np.asarray(allowed, dtype="float64"))
                shown = "{" + ", ".join(f"{a:g}" for a in allowed) + "}"
                for pos in np.flatnonzero(bad)[:MAX_ISSUES]:
                    self.add(f"value {arr[pos]:g} is outside the allowed set {shown} "
                             f"(indicator '{ind.code}')", self._row(start, int(pos)), col)
            if ind.valid_range is not None:
                lo, hi = ind.valid_range
                bad = ok & ((arr < lo) | (arr > hi))
                for pos in np.flatnonzero(bad)[:MAX_ISSUES]:
                    self.add(f"value {arr[pos]:g} is outside the valid range [{lo:g}, {hi:g}] "
                             f"(indicator '{ind.code}')", self._row(start, int(pos)), col)

    def _label(self, col: str, data: Any, start: int) -> "_Label":
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(data, pd.Series):
            data = pa.array(data.astype(object).where(data.notna(), None).to_numpy(dtype=object),
                            from_pandas=True)
        if pa.types.is_dictionary(data.type):
            data = data.dictionary_decode()
        if pa.types.is_null(data.type):
            data = data.cast(pa.string())
        if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
            data = pc.cast(data, pa.string())
        data = pc.utf8_trim_whitespace(data)
        data = pc.if_else(pc.equal(data, ""), pa.scalar(None, data.type), data)
        enc = pc.dictionary_encode(data)
        idx = np.array(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        for pos in np.flatnonzero(idx < 0)[:MAX_ISSUES]:
            self.add(f"missing value: expected a label for {self.cols.role(col)}",
                     self._row(start, int(pos)), col)
        return _Label(idx, np.array(enc.dictionary.to_pylist(), dtype=object))


@dataclass(frozen=True)
class _Label:
    """A label column of a chunk: dictionary indices (-1 = missing) and the dictionary."""

    indices: np.ndarray
    dictionary: np.ndarray

    def __getitem__(self, mask: np.ndarray) -> "_Label":
        return _Label(self.indices[mask], self.dictionary)

    def __len__(self) -> int:
        return len(self.indices)

    @staticmethod
    def constant(n: int) -> "_Label":
        return _Label(np.zeros(n, dtype=np.int64), np.array([""], dtype=object))


# ============================================================================ accumulation


class _Codes:
    """Stable integer codes for labels seen across chunks."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def encode(self, lab: "_Label") -> np.ndarray:
        glob = np.empty(len(lab.dictionary), dtype=np.int64)
        for n, u in enumerate(lab.dictionary):
            glob[n] = self.index.setdefault(str(u), len(self.index))
        return glob[lab.indices]

    def encode_ints(self, keys: np.ndarray) -> np.ndarray:
        u, inv = np.unique(keys, return_inverse=True)
        glob = np.array([self.index.setdefault(str(int(x)), len(self.index)) for x in u], dtype=np.int64)
        return glob[inv]

    @property
    def labels(self) -> list[str]:
        return list(self.index)


class _PatternTable:
    """Sums of weights, squared weights and counts per (group, deprivation pattern)."""

    def __init__(self, n_patterns: int) -> None:
        self.P = n_patterns
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.codes = _Codes()

    def add(self, group: np.ndarray | None, pattern: np.ndarray, w: np.ndarray) -> None:
        key = pattern.astype(np.int64) if group is None else group * self.P + pattern.astype(np.int64)
        top = int(key.max()) + 1 if len(key) else 0
        if top <= 1 << 22:
            ws = np.bincount(key, weights=w, minlength=top)
            w2 = np.bincount(key, weights=w * w, minlength=top)
            cnt = np.bincount(key, minlength=top)
            nz = np.flatnonzero(cnt)
            self.parts.append((nz.astype(np.int64), ws[nz], w2[nz], cnt[nz].astype(np.int64)))
        else:
            u, inv = np.unique(key, return_inverse=True)
            self.parts.append((u, np.bincount(inv, weights=w), np.bincount(inv, weights=w * w),
                               np.bincount(inv).astype(np.int64)))
        if len(self.parts) > 64:
            self.parts = [self._reduce()]

    def _reduce(self) -> tuple[np.ndarray, ...]:
        if not self.parts:
            z = np.zeros(0)
            return (np.zeros(0, np.int64), z, z, np.zeros(0, np.int64))
        keys = np.concatenate([p[0] for p in self.parts])
        u, inv = np.unique(keys, return_inverse=True)
        return (u, *(np.bincount(inv, weights=np.concatenate([p[i] for p in self.parts]),
                                 minlength=len(u)) for i in (1, 2)),
                np.bincount(inv, weights=np.concatenate([p[3] for p in self.parts]),
                            minlength=len(u)).round().astype(np.int64))

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(group, pattern, sum w, sum w^2, n) arrays."""
        keys, ws, w2, cnt = self._reduce()
        return keys // self.P, keys % self.P, ws, w2, cnt


@dataclass(frozen=True)
class _Tables:
    """Reduced data: one pattern table per grouping (``""`` = everyone) and the PSU sums."""

    spec: MPISpec
    tables: Mapping[str, tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    psu: Any  # (strata codes, [w, w*poor, w*c*poor] per PSU) or None
    n_read: int
    n_dropped: int
    w_dropped: float


def _reduce_chunks(reader: _Reader, spec: MPISpec, cols: _Columns, k: float) -> _Tables:
    inds = spec.indicators
    d = len(inds)
    wvec = np.array([spec.weights[i.code] for i in inds])
    P = 1 << d
    tables = {"": _PatternTable(P), **{b: _PatternTable(P) for b in cols.by}}
    psu_codes = _Codes() if (cols.psu or cols.strata) else None
    psu_label_codes, strata_codes = _Codes(), _Codes()
    psu_parts: list[tuple[np.ndarray, np.ndarray]] = []
    psu_stratum: dict[int, str] = {}
    n_read = n_dropped = 0
    w_dropped = 0.0
    shifts = np.arange(d, dtype=np.int64)
    for ch in reader.chunks():
        n_read += ch.n
        if reader.issues:
            continue  # keep reading to report every problem, but compute nothing
        w = ch.values[cols.weight] if cols.weight else np.ones(ch.n)
        vals = [ch.values[i.source_column] for i in inds]
        keep = np.ones(ch.n, dtype=bool)
        if reader.missing == "drop":
            for v in vals:
                keep &= ~np.isnan(v)
            n_dropped += int((~keep).sum())
            w_dropped += float(w[~keep].sum())
        pattern = np.zeros(ch.n, dtype=np.int64)
        for j, (ind, v) in enumerate(zip(inds, vals)):
            with np.errstate(invalid="ignore"):
                pattern |= ind.deprived(v).astype(np.int64) << shifts[j]
        if not keep.all():
            pattern, w = pattern[keep], w[keep]
        if len(w) == 0:
            continue
        tables[""].add(None, pattern, w)
        for b in cols.by:
            lab = ch.labels[b][keep] if not keep.all() else ch.labels[b]
            tables[b].add(tables[b].codes.encode(lab), pattern, w)
        if psu_codes is not None:
            ps = ch.labels[cols.psu] if cols.psu else _Label.constant(ch.n)
            st = ch.labels[cols.strata] if cols.strata else _Label.constant(ch.n)
            if not keep.all():
                ps, st = ps[keep], st[keep]
            sc = strata_codes.encode(st)
            code = psu_codes.encode_ints(sc * (1 << 31) + psu_label_codes.encode(ps))
            score = _scores(pattern, wvec, d)
            poor = score >= k - SCORE_TOL
            top = int(code.max()) + 1
            sums = np.stack([np.bincount(code, weights=w, minlength=top),
                             np.bincount(code, weights=w * poor, minlength=top),
                             np.bincount(code, weights=w * score * poor, minlength=top)], axis=1)
            psu_parts.append((np.arange(top), sums))
            if cols.strata:
                uc, first = np.unique(code, return_index=True)
                for c, i in zip(uc.tolist(), first.tolist()):
                    psu_stratum.setdefault(c, int(sc[i]))
    reader.raise_if_issues()
    out = {}
    for name, t in tables.items():
        g, p, ws, w2, cnt = t.frame()
        out[name] = (t.codes.labels if name else ["all"], g, p, ws, w2, cnt)
    psu = None
    if psu_codes is not None:
        m = len(psu_codes.labels)
        tot = np.zeros((m, 3))
        for idx, s in psu_parts:
            tot[idx] += s
        strata = np.array([psu_stratum.get(i, 0) for i in range(m)], dtype=np.int64)
        psu = (strata, tot)
    return _Tables(spec=spec, tables=MappingProxyType(out), psu=psu,
                   n_read=n_read, n_dropped=n_dropped, w_dropped=w_dropped)


def _bits(pattern: np.ndarray, d: int) -> np.ndarray:
    return ((pattern[:, None] >> np.arange(d, dtype=np.int64)) & 1).astype(bool)


def _scores(pattern: np.ndarray, wvec: np.ndarray, d: int) -> np.ndarray:
    # score of each distinct pattern, then gathered (avoids an n x d float matrix)
    u, inv = np.unique(pattern, return_inverse=True)
    return (_bits(u, d) @ wvec)[inv]


# ============================================================================ statistics


@dataclass(frozen=True)
class AFResult:
    """Alkire–Foster results for one poverty cut-off *k*.

    Attributes
    ----------
    spec : MPISpec
        The measure (its ``poverty_cutoff`` is *k*).
    summary : pandas.Series
        ``records`` (read), ``records_used``, ``population`` (sum of weights),
        ``k``, ``H``, ``A``, ``M0``, ``vulnerable``, ``severe`` (shares; NaN when the spec
        defines no such cut-off), ``se_H``, ``se_A``, ``se_M0`` (linearised standard errors;
        with PSU/strata when given), ``dropped_records`` and ``dropped_weight_share``.
    indicators : pandas.DataFrame
        Per indicator: ``dimension``, ``weight``, ``uncensored`` and ``censored`` headcount
        ratios and ``contribution_pct`` (sums to 100 when M0 > 0).
    dimensions : pandas.DataFrame
        Per dimension: ``weight`` and ``contribution_pct``.
    subgroups : Mapping[str, pandas.DataFrame]
        For each ``by`` column: per group ``records``, ``population``, ``pop_share``,
        ``H``, ``A``, ``M0``, ``se_H``, ``se_M0``, ``contribution_pct`` (share of national
        M0: ``pop_share * M0_g / M0 * 100``) and the censored headcount of every indicator
        (``h_<code>``).

    Notes
    -----
    :meth:`at_k` and :meth:`robustness` recompute everything for other cut-offs exactly,
    from the stored pattern tables (no re-reading). Linearised standard errors treat
    records as independent draws unless PSUs were given (then only the national ``se_*``
    use the design; subgroup SEs are always the independent-draws approximation).
    """

    spec: MPISpec
    summary: pd.Series
    indicators: pd.DataFrame
    dimensions: pd.DataFrame
    subgroups: Mapping[str, pd.DataFrame]
    _tables: _Tables = field(repr=False)

    @property
    def k(self) -> float:
        return float(self.spec.poverty_cutoff)

    @property
    def H(self) -> float:  # noqa: N802 - standard notation
        return float(self.summary["H"])

    @property
    def A(self) -> float:  # noqa: N802
        return float(self.summary["A"])

    @property
    def M0(self) -> float:  # noqa: N802
        return float(self.summary["M0"])

    def at_k(self, k: float) -> "AFResult":
        """The same data at another poverty cut-off (design-based SEs need a re-read and
        are then the independent-draws approximation)."""
        spec = self.spec.with_cutoff(k)
        tables = self._tables if self._tables.psu is None else \
            _Tables(spec, self._tables.tables, None, self._tables.n_read,
                    self._tables.n_dropped, self._tables.w_dropped)
        return _results(spec, tables)

    def robustness(self, ks: Sequence[float] | None = None, *, by: str | None = None) -> pd.DataFrame:
        """The k-robustness curve: H, A, M0 (and SEs) for every cut-off in ``ks``.

        Parameters
        ----------
        ks : sequence of float, optional
            Cut-offs in (0, 1]; default: every distinct attainable deprivation score
            (where the curve can change) — for equal nested weights these are the k values
            reported by [AF2015]_ ch. 8.
        by : str, optional
            Also per group of this subgroup column (long format).

        Returns
        -------
        pandas.DataFrame
            Columns ``k``, [``group``,] ``H``, ``A``, ``M0``, ``se_H``, ``se_M0``.
        """
        names, g, p, ws, w2, cnt = self._tables.tables[""]
        d = len(self.spec.indicators)
        wvec = np.array([self.spec.weights[i.code] for i in self.spec.indicators])
        if ks is None:
            sc = np.unique(np.round(_bits(p, d) @ wvec, 12))
            ks = [float(x) for x in sc if x > SCORE_TOL]
        rows = []
        for k in ks:
            r = self.at_k(float(k))
            row = {"k": float(k), **{s: float(r.summary[s]) for s in ("H", "A", "M0", "se_H", "se_M0")}}
            if by is None:
                rows.append(row)
            else:
                if by not in r.subgroups:
                    raise HumsecError(f"no subgroup column '{by}' in this result; have "
                                      f"{', '.join(r.subgroups) or 'none'}")
                for grp, s in r.subgroups[by].iterrows():
                    rows.append({"k": float(k), "group": grp,
                                 **{c: float(s[c]) for c in ("H", "A", "M0", "se_H", "se_M0")}})
        return pd.DataFrame(rows)

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Every table as a flat frame (for CSV/JSON output)."""
        out = {"summary": self.summary.rename("value").rename_axis("statistic").reset_index(),
               "indicators": self.indicators.rename_axis("indicator").reset_index(),
               "dimensions": self.dimensions.rename_axis("dimension").reset_index()}
        for b, f in self.subgroups.items():
            out[f"by_{b}"] = f.rename_axis(b).reset_index()
        return out


def _group_stats(G: int, g: np.ndarray, poor: np.ndarray, score: np.ndarray, bits: np.ndarray,
                 ws: np.ndarray, w2: np.ndarray, cnt: np.ndarray, spec: MPISpec) -> dict[str, np.ndarray]:
    def s(x: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=x, minlength=G)

    W = s(ws)
    n = s(cnt.astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        H = s(ws * poor) / W
        M0 = s(ws * score * poor) / W
        A = np.where(H > 0, M0 / H, np.nan)
        cens = np.stack([s(ws * b * poor) for b in bits.T], axis=1) / W[:, None]
        unc = np.stack([s(ws * b) for b in bits.T], axis=1) / W[:, None]
        # linearised variance, records as independent draws: z_i = w_i (y_i - R) / W
        fpc = np.where(n > 1, n / (n - 1), np.nan)
        yH = poor.astype(float)
        yM = score * poor
        varH = fpc * s(w2 * (yH - H[g]) ** 2) / W**2
        varM = fpc * s(w2 * (yM - M0[g]) ** 2) / W**2
        WH = s(ws * poor)
        varA = fpc * s(w2 * poor * (score - np.nan_to_num(A)[g]) ** 2) / WH**2
        vul = (s(ws * ((score >= spec.vulnerable_cutoff - SCORE_TOL) & ~poor)) / W
               if spec.vulnerable_cutoff is not None else np.full(G, np.nan))
        sev = (s(ws * (score >= spec.severe_cutoff - SCORE_TOL)) / W
               if spec.severe_cutoff is not None else np.full(G, np.nan))
    return {"W": W, "n": n, "H": H, "M0": M0, "A": A, "cens": cens, "unc": unc,
            "se_H": np.sqrt(varH), "se_M0": np.sqrt(varM), "se_A": np.where(WH > 0, np.sqrt(varA), np.nan),
            "vulnerable": vul, "severe": sev}


def _design_se(strata: np.ndarray, sums: np.ndarray) -> tuple[float, float, float]:
    """Linearised SEs of H, M0, A with PSUs within strata (with-replacement design).

    ``Var(R) = sum_h n_h/(n_h-1) sum_c (z_hc - zbar_h)^2`` with
    ``z_hc = (Y_hc - R X_hc) / X`` (Taylor linearisation of a ratio; [AF2015]_ ch. 8).
    Strata with a single PSU contribute nothing.
    """
    W, WP, WCP = sums[:, 0], sums[:, 1], sums[:, 2]
    X = W.sum()
    H, M0 = WP.sum() / X, WCP.sum() / X
    A = WCP.sum() / WP.sum() if WP.sum() > 0 else np.nan

    def var(z: np.ndarray) -> float:
        codes, uniq = pd.factorize(strata)
        tot = 0.0
        for h in range(len(uniq)):
            zh = z[codes == h]
            nh = len(zh)
            if nh > 1:
                tot += nh / (nh - 1) * float(((zh - zh.mean()) ** 2).sum())
        return tot

    se_h = math.sqrt(var((WP - H * W) / X))
    se_m = math.sqrt(var((WCP - M0 * W) / X))
    se_a = math.sqrt(var((WCP - A * WP) / WP.sum())) if WP.sum() > 0 else float("nan")
    return se_h, se_m, se_a


def _results(spec: MPISpec, t: _Tables) -> AFResult:
    d = len(spec.indicators)
    codes = spec.codes
    wvec = np.array([spec.weights[c] for c in codes])
    k = spec.poverty_cutoff
    out_groups: dict[str, pd.DataFrame] = {}
    nat = None
    for name, (labels, g, p, ws, w2, cnt) in t.tables.items():
        bits = _bits(p, d)
        score = bits @ wvec
        poor = score >= k - SCORE_TOL
        G = max(len(labels), 1)
        st = _group_stats(G, g, poor, score, bits, ws, w2, cnt, spec)
        if name == "":
            nat = st
            continue
        df = pd.DataFrame({"records": st["n"].astype(np.int64), "population": st["W"]},
                          index=pd.Index(labels, name=name))
        df["pop_share"] = df["population"] / df["population"].sum()
        for c in ("H", "A", "M0", "se_H", "se_M0"):
            df[c] = st[c]
        total_m0 = float((df["pop_share"] * df["M0"]).sum())
        df["contribution_pct"] = (df["pop_share"] * df["M0"] / total_m0 * 100.0
                                  if total_m0 > 0 else np.nan)
        for j, c in enumerate(codes):
            df[f"h_{c}"] = st["cens"][:, j]
        out_groups[name] = df
    assert nat is not None
    population = float(nat["W"][0]) if len(nat["W"]) else 0.0
    if population <= 0:
        raise HumsecError("the microdata have no records with positive weight; nothing to measure")
    M0 = float(nat["M0"][0])
    cens = nat["cens"][0]
    with np.errstate(divide="ignore", invalid="ignore"):
        contrib = wvec * cens / M0 * 100.0 if M0 > 0 else np.full(d, np.nan)
    ind = pd.DataFrame({
        "dimension": [i.dimension for i in spec.indicators],
        "weight": wvec,
        "uncensored": nat["unc"][0],
        "censored": cens,
        "contribution_pct": contrib,
    }, index=pd.Index(codes, name="indicator"))
    dims = pd.DataFrame({
        "weight": pd.Series(spec.dimension_weights()),
        "contribution_pct": ind.groupby("dimension", sort=False)["contribution_pct"].sum(),
    }).reindex([dd.code for dd in spec.dimensions])
    dims.index.name = "dimension"
    se = {"se_H": float(nat["se_H"][0]), "se_A": float(nat["se_A"][0]), "se_M0": float(nat["se_M0"][0])}
    if t.psu is not None:
        se_h, se_m, se_a = _design_se(*t.psu)
        se = {"se_H": se_h, "se_A": se_a, "se_M0": se_m}
    n_used = int(nat["n"][0])
    summary = pd.Series({
        "records": t.n_read,
        "records_used": n_used,
        "population": population,
        "k": float(k),
        "H": float(nat["H"][0]),
        "A": float(nat["A"][0]),
        "M0": M0,
        "vulnerable": float(nat["vulnerable"][0]),
        "severe": float(nat["severe"][0]),
        **se,
        "dropped_records": t.n_dropped,
        "dropped_weight_share": t.w_dropped / (population + t.w_dropped) if t.n_dropped else 0.0,
    }, dtype="float64")
    return AFResult(spec=spec, summary=summary, indicators=ind, dimensions=dims,
                    subgroups=MappingProxyType(out_groups), _tables=t)


def _columns(spec: MPISpec, weight: str | None, by: str | Sequence[str] | None, psu: str | None,
             strata: str | None) -> _Columns:
    by_t = (by,) if isinstance(by, str) else tuple(by or ())
    return _Columns(spec=spec, weight=weight if weight is not None else spec.weight_column,
                    by=tuple(dict.fromkeys(by_t)), psu=psu, strata=strata)


def measure(data: pd.DataFrame | str | Path, spec: MPISpec | str | Path, *, k: float | None = None,
            weight: str | None = None, by: str | Sequence[str] | None = None,
            psu: str | None = None, strata: str | None = None, missing: str = "error",
            chunk_rows: int = 1_000_000) -> AFResult:
    """Alkire–Foster measures of multidimensional poverty on microdata.

    Parameters
    ----------
    data : pandas.DataFrame or path
        One row per person (or household, weighted by its size). Files: ``.csv`` (also
        ``.csv.gz``), ``.tsv``, ``.parquet``, ``.feather``; read in chunks.
    spec : MPISpec, built-in name (``"global_mpi"``) or YAML path
    k : float, optional
        Poverty cut-off (default: the spec's ``poverty_cutoff``).
    weight : str, optional
        Sampling-weight column (default: the spec's ``weight_column``; none -> equal weights).
    by : str or list of str, optional
        Subgroup columns for the decomposition (any column: sex, age group, region ...).
    psu, strata : str, optional
        Primary sampling unit and stratum columns for design-based linearised SEs.
    missing : {"error", "drop"}
        Missing indicator values are located errors, or their records are dropped (the
        count and weight share are reported in ``summary``).
    chunk_rows : int
        Records per chunk (memory bound).

    Returns
    -------
    AFResult

    Raises
    ------
    ValidationError
        Bad microdata, with file, row and column (missing column, non-numeric value,
        negative/missing weight, value outside the allowed set or range, missing label).
    HumsecError
        Unknown spec, unreadable file, no positive weight.

    References
    ----------
    [AF2011]_ (identification and the M0 family), [AF2015]_ chs. 5 and 8.

    Examples
    --------
    The worked example of [AF2011]_ (4 people, 4 equally weighted dimensions, k = 2/4):

    >>> df = pd.DataFrame({"income": [13.1, 15.2, 12.5, 20], "school": [14, 7, 10, 11],
    ...                    "bmi": [4, 5, 1, 3], "health": [1, 0, 0, 1]})
    >>> spec = MPISpec.from_dict({"name": "af", "poverty_cutoff": 0.5,
    ...     "dimensions": [{"code": "all", "weight": 1}],
    ...     "indicators": [{"code": c, "dimension": "all", "deprived_if": "<", "cutoff": z}
    ...                    for c, z in [("income", 13), ("school", 12), ("bmi", 3), ("health", 1)]]})
    >>> r = measure(df, spec)
    >>> float(r.H), float(r.A), float(r.M0)
    (0.5, 0.75, 0.375)
    """
    if missing not in ("error", "drop"):
        raise HumsecError(f"missing must be 'error' or 'drop' (got {missing!r})")
    if chunk_rows < 1:
        raise HumsecError("chunk_rows must be >= 1")
    s = load_mpi_spec(spec)
    if k is not None:
        s = s.with_cutoff(k)
    cols = _columns(s, weight, by, psu, strata)
    reader = _Reader(data, cols, chunk_rows, missing)
    tables = _reduce_chunks(reader, s, cols, s.poverty_cutoff)
    return _results(s, tables)


# ============================================================================ bootstrap


def bootstrap_se(data: pd.DataFrame | str | Path, spec: MPISpec | str | Path, *,
                 k: float | None = None, weight: str | None = None, psu: str | None = None,
                 strata: str | None = None, reps: int = 200,
                 seed: int | np.random.Generator | None = None, missing: str = "error",
                 chunk_rows: int = 1_000_000, ci: float = 0.95) -> pd.DataFrame:
    """Bootstrap standard errors and percentile intervals of H, A and M0.

    Resamples primary sampling units with replacement within strata (records when no
    ``psu`` is given) with the Rao–Wu rescaling ([RW1988]_): in each stratum ``n_h - 1``
    of the ``n_h`` units are drawn and their weights multiplied by ``n_h / (n_h - 1)``
    times the number of draws. Strata with one unit are kept fixed.

    Parameters
    ----------
    data, spec, k, weight, psu, strata, missing, chunk_rows
        As in :func:`measure`.
    reps : int
        Number of replicates (>= 2).
    seed : int or numpy.random.Generator
        Required for reproducibility: the same seed gives the same result.
    ci : float
        Coverage of the percentile interval.

    Returns
    -------
    pandas.DataFrame
        Index ``H``, ``A``, ``M0``; columns ``estimate``, ``se``, ``ci_low``, ``ci_high``,
        ``reps``.

    Notes
    -----
    Needs three sums per unit in memory (24 bytes per record without ``psu``).
    """
    if seed is None:
        raise HumsecError("bootstrap_se needs a seed or numpy.random.Generator (reproducibility)")
    if reps < 2:
        raise HumsecError("reps must be >= 2")
    if not 0 < ci < 1:
        raise HumsecError("ci must be in (0, 1)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    s = load_mpi_spec(spec)
    if k is not None:
        s = s.with_cutoff(k)
    cols = _columns(s, weight, None, psu, strata)
    reader = _Reader(data, cols, chunk_rows, missing)
    wvec = np.array([s.weights[c] for c in s.codes])
    d = len(wvec)
    kk = s.poverty_cutoff
    if psu is None:
        units: list[np.ndarray] = []
        strata_codes = _Codes()
        stratum_parts: list[np.ndarray] = []
        for ch in reader.chunks():
            if reader.issues:
                continue
            w = ch.values[cols.weight] if cols.weight else np.ones(ch.n)
            pattern = np.zeros(ch.n, dtype=np.int64)
            keep = np.ones(ch.n, dtype=bool)
            for j, ind in enumerate(s.indicators):
                v = ch.values[ind.source_column]
                keep &= ~np.isnan(v)
                with np.errstate(invalid="ignore"):
                    pattern |= ind.deprived(v).astype(np.int64) << j
            score = _scores(pattern, wvec, d)
            poor = score >= kk - SCORE_TOL
            units.append(np.stack([w, w * poor, w * score * poor], axis=1)[keep])
            stratum_parts.append(strata_codes.encode(ch.labels[strata] if strata else _Label.constant(ch.n))[keep])
        reader.raise_if_issues()
        sums = np.concatenate(units) if units else np.zeros((0, 3))
        st = np.concatenate(stratum_parts) if stratum_parts else np.zeros(0, dtype=np.int64)
    else:
        cols2 = _columns(s, weight, None, psu, strata)
        t = _reduce_chunks(reader, s, cols2, kk)
        st, sums = t.psu
    if sums.shape[0] == 0 or sums[:, 0].sum() <= 0:
        raise HumsecError("the microdata have no records with positive weight; nothing to measure")
    codes, _ = pd.factorize(np.asarray(st, dtype=np.int64))
    order = np.argsort(codes, kind="stable")
    sums, codes = sums[order], codes[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], bounds])
    sizes = np.diff(np.concatenate([starts, [len(codes)]]))
    est = _hma(sums.sum(axis=0))
    reps_out = np.empty((reps, 3))
    for b in range(reps):
        mult = np.ones(len(codes))
        for s0, nh in zip(starts, sizes):
            if nh < 2:
                continue
            draws = rng.integers(0, nh, size=nh - 1)
            mult[s0:s0 + nh] = np.bincount(draws, minlength=nh) * (nh / (nh - 1))
        reps_out[b] = _hma(mult @ sums)
    alpha = (1 - ci) / 2
    with np.errstate(invalid="ignore"):
        lo = np.nanquantile(reps_out, alpha, axis=0)
        hi = np.nanquantile(reps_out, 1 - alpha, axis=0)
    return pd.DataFrame({"estimate": est, "se": np.nanstd(reps_out, axis=0, ddof=1),
                         "ci_low": lo, "ci_high": hi, "reps": reps},
                        index=pd.Index(["H", "A", "M0"], name="statistic"))


def _hma(tot: np.ndarray) -> np.ndarray:
    W, WP, WCP = tot
    H = WP / W
    M0 = WCP / W
    A = WCP / WP if WP > 0 else np.nan
    return np.array([H, A, M0])
