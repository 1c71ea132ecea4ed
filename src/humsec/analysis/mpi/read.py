"""Chunked reading of MPI microdata with located validation errors.

CSV (also compressed), TSV, Parquet and Feather files — or a data frame — are read in
chunks of ``chunk_rows`` records with pyarrow, and only the columns a measure needs; every
value that cannot be used is a :class:`~humsec.errors.ValidationIssue` naming the file,
row and column and what was expected (at most :data:`MAX_ISSUES` are kept).

The project's guarded reader :func:`humsec.data.readers.read_table` is not used: it reads
a whole file as text into memory (bounded at a million rows), while survey microdata run
to tens of millions of records and are read as typed columns, chunk by chunk, in bounded
memory (``benchmarks/bench_mpi.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pyarrow import ipc

from humsec.analysis.mpi.spec import MPISpec
from humsec.errors import HumsecError, ValidationError, ValidationIssue

__all__ = ["MAX_ISSUES", "Chunk", "Columns", "Label", "MicrodataReader"]

#: Issues collected before reading stops.
MAX_ISSUES = 50

_TRUE = frozenset({"1", "1.0", "true", "t", "yes", "y"})
_FALSE = frozenset({"0", "0.0", "false", "f", "no", "n"})


@dataclass(frozen=True)
class Columns:
    """The roles of microdata columns.

    Attributes
    ----------
    spec : MPISpec
        The measure (its indicators name the achievement columns).
    weight : str or None
        Sampling-weight column (None: equal weights).
    by : tuple of str
        Subgroup columns.
    psu, strata : str or None
        Primary sampling unit and stratum columns.
    """

    spec: MPISpec
    weight: str | None
    by: tuple[str, ...]
    psu: str | None
    strata: str | None

    @classmethod
    def for_spec(cls, spec: MPISpec, weight: str | None, by: str | Sequence[str] | None,
                 psu: str | None, strata: str | None) -> Columns:
        """The columns of ``spec`` (weight default: the spec's ``weight_column``; ``by``
        deduplicated)."""
        by_t = (by,) if isinstance(by, str) else tuple(by or ())
        return cls(spec=spec, weight=weight if weight is not None else spec.weight_column,
                   by=tuple(dict.fromkeys(by_t)), psu=psu, strata=strata)

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


@dataclass(frozen=True)
class Chunk:
    """Validated columns of one chunk: numpy arrays plus dictionary-encoded labels."""

    start: int  # 0-based index of the chunk's first record
    n: int
    values: dict[str, np.ndarray]  # float64, NaN = missing
    labels: dict[str, Label]


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


class MicrodataReader:
    """Chunked reading of microdata with located validation errors.

    Parameters
    ----------
    source : pandas.DataFrame or path
        A frame or a ``.csv`` (``.csv.gz`` ...), ``.tsv``, ``.parquet`` or ``.feather`` file.
    cols : Columns
        The columns to read and their roles (named in errors).
    chunk_rows : int
        Records per chunk.
    missing : {"error", "drop"}
        Whether a missing indicator value is an error (weights and labels always are).

    Raises
    ------
    HumsecError
        The file does not exist or has an unsupported suffix.
    """

    def __init__(self, source: pd.DataFrame | str | Path, cols: Columns, chunk_rows: int,
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
        """Record a problem (kept up to :data:`MAX_ISSUES`, all counted)."""
        self.n_issues += 1
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(ValidationIssue(message, file=self.file or "<data frame>",
                                               row=row, field=col))

    def full(self) -> bool:
        """Whether :data:`MAX_ISSUES` problems are recorded (reading stops)."""
        return len(self.issues) >= MAX_ISSUES

    def raise_if_issues(self) -> None:
        """Raise a :class:`~humsec.errors.ValidationError` of the recorded problems, if any."""
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
        try:
            if self.fmt == "csv":
                with pacsv.open_csv(pa.input_stream(str(self.path), compression="detect"),
                                    read_options=pacsv.ReadOptions(block_size=1 << 16),
                                    parse_options=self._parse_options()) as r:
                    return list(r.schema.names)
            if self.fmt == "parquet":
                return list(pq.ParquetFile(str(self.path)).schema_arrow.names)
            return list(ipc.open_file(str(self.path)).schema.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise HumsecError(f"{self.path}: cannot read {self.fmt} file ({exc})") from None

    def _parse_options(self) -> pacsv.ParseOptions:
        delim = "\t" if self.path is not None and ".tsv" in [s.lower() for s in self.path.suffixes] else ","
        return pacsv.ParseOptions(delimiter=delim)

    def check_columns(self) -> None:
        """Raise a located error for every needed column the source lacks."""
        names = self._names()
        for col in self.cols.all:
            if col not in names:
                shown = ", ".join(names[:15]) + (" ..." if len(names) > 15 else "")
                self.add(f"missing column '{col}' (needed for {self.cols.role(col)}); the file has "
                         f"columns: {shown}", row=None, col=col)
        self.raise_if_issues()

    # -- chunks ----------------------------------------------------------------------------
    def chunks(self) -> Iterator[Chunk]:
        """The validated chunks; problems are raised together after the last one."""
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

    def _frame_chunks(self) -> Iterator[Chunk]:
        df = self.frame
        assert df is not None
        for start in range(0, max(len(df), 1), self.chunk_rows):
            part = df.iloc[start:start + self.chunk_rows]
            if len(part) == 0:
                break
            yield from self._convert(start, len(part), {c: part[c] for c in self.cols.all})
            if self.full():
                return

    def _arrow_batches(self, batches: Iterable[Any]) -> Iterator[Chunk]:
        start = 0
        for batch in batches:
            n = batch.num_rows
            if n == 0:
                continue
            yield from self._convert(start, n, {c: batch.column(c) for c in self.cols.all})
            start += n
            if self.full():
                return

    def _parquet_chunks(self) -> Iterator[Chunk]:
        pf = pq.ParquetFile(str(self.path))
        yield from self._arrow_batches(pf.iter_batches(batch_size=self.chunk_rows, columns=self.cols.all))

    def _feather_chunks(self) -> Iterator[Chunk]:
        reader = ipc.open_file(str(self.path))

        def batches() -> Iterator[Any]:
            for i in range(reader.num_record_batches):
                b = reader.get_batch(i).select(self.cols.all)
                yield from pa.Table.from_batches([b]).to_batches(max_chunksize=self.chunk_rows)

        yield from self._arrow_batches(batches())

    def _csv_chunks(self) -> Iterator[Chunk]:
        # typed fast path; on a conversion error re-read as text to locate every problem
        types: dict[str, Any] = {c: pa.float64() for c in self.cols.numeric}
        types.update({c: pa.string() for c in self.cols.labels})
        try:
            yield from self._csv_read(types)
            return
        except pa.ArrowInvalid:
            pass
        yield from self._csv_read({c: pa.string() for c in self.cols.all})

    def _csv_read(self, types: dict[str, Any]) -> Iterator[Chunk]:
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
    def _convert(self, start: int, n: int, raw: Mapping[str, Any]) -> Iterator[Chunk]:
        values: dict[str, np.ndarray] = {}
        labels: dict[str, Label] = {}
        flags = {i.source_column for i in self.cols.spec.indicators if i.is_flag}
        for col in self.cols.numeric:
            values[col] = self._numeric(col, raw[col], start, flag=col in flags)
        for col in self.cols.labels:
            labels[col] = self._label(col, raw[col], start)
        yield Chunk(start=start, n=n, values=values, labels=labels)

    def _row(self, start: int, pos: np.ndarray | int) -> Any:
        return start + pos + self.row_base

    def _strings(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """(object array of stripped strings, null mask) from an arrow or pandas column."""
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

    def _label(self, col: str, data: Any, start: int) -> Label:
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
        return Label(idx, np.array(enc.dictionary.to_pylist(), dtype=object))


@dataclass(frozen=True)
class Label:
    """A label column of a chunk: dictionary indices (-1 = missing) and the dictionary."""

    indices: np.ndarray
    dictionary: np.ndarray

    def __getitem__(self, mask: np.ndarray) -> Label:
        return Label(self.indices[mask], self.dictionary)

    def __len__(self) -> int:
        return len(self.indices)

    @staticmethod
    def constant(n: int) -> Label:
        """``n`` records of one (empty) label."""
        return Label(np.zeros(n, dtype=np.int64), np.array([""], dtype=object))
