"""Reading and writing index data: tidy ``unit, [year,] indicator, value`` or wide files.

Unlike :func:`humsec.data.importer.read_observations` (which checks country codes and the
indicator catalogue for the store), index data may hold any unit codes (regions,
synthetic units, COINr examples) and any indicator codes: the spec says what is needed.
Every problem is reported with file, row and column.

CSV and TSV files are read by a columnar reader (pyarrow) and checked by vectorised
kernels — no Python code runs per cell. Code columns (unit, indicator, year) are
dictionary-encoded once, so trimming and checking them costs one pass over their distinct
values; number columns are first parsed as floats by Arrow (the missing markers as nulls),
which accepts a subset of what the text rules accept and gives the same value for it.
Only when that parse fails, or meets a non-finite number, is the column read again as
text and every cell checked (trim, missing markers, the number pattern, finiteness), so
that every bad cell is located (file, row, column) with the same message as before. Files
the columnar reader cannot parse (ragged rows, unusual quoting, other encodings),
spreadsheets and Parquet files take the general reader of :mod:`humsec.data.importer`,
with the same checks and messages.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from humsec.data.importer import NUMBER, MISSING_MARKERS
from humsec.errors import ValidationError, ValidationIssue
from humsec.data import importer
from humsec.data.writing import atomic_write, neutralise_formula
from humsec.index.labels import compressed, release_arrow_memory, text_array

__all__ = ["csv_bytes", "csv_parts", "read_index_data", "read_text_table", "take_text", "write_csv_fast",
           "write_csv_parts"]

_MAX = 200

_FLOAT = pa.float64()


# ---------------------------------------------------------------------------- columnar text


class _Columns:
    """The columns of a table: text (pyarrow string arrays on the fast path, pandas Series
    otherwise) or, for columns read as numbers, float arrays.

    ``raw(col)`` is always the cell text (a number column is read again as text, which
    only the paths that report a bad cell need); ``codes(col)`` and ``numbers(col)`` are
    the vectorised views the checks use.
    """

    def __init__(self, columns: list[str], get: Callable, n: int, arrow: bool, *,
                 floats: Any = None, reread: Callable | None = None,
                 markers: Collection[str] = MISSING_MARKERS, typed: Callable | None = None,
                 forget: Callable | None = None, integers: Callable | None = None):
        self.columns = columns
        self._int = integers
        self._forget = forget  # drops a column read into memory (its cells are no longer needed)
        self._get = get
        self._typed = typed  # a column as stored (Parquet's types), for codes without text per cell
        self.n = n
        self.arrow = arrow
        self._floats = floats or {}
        self._reread = reread
        self.markers = markers

    def __len__(self) -> int:
        return self.n

    def done(self, *cols: str) -> None:
        """Free the cells of ``cols`` (read into memory by Arrow) once their codes or values
        are taken: at 49 million rows a text column is most of a gigabyte, and Arrow's
        allocator keeps freed memory unless asked to return it."""
        if self._forget is None:
            return
        for c in cols:
            self._forget(c)
            self._floats.pop(c, None)
        pa.default_memory_pool().release_unused()

    def raw(self, col: str):
        if col in self._floats:
            assert self._reread is not None
            return self._reread(col)
        return self._get(col)

    def codes(self, col: str) -> tuple[np.ndarray, Any]:
        """(integer codes, distinct trimmed values) of a text column (on the fast path the
        trim runs over the distinct values, not the cells; a stored dictionary is used as
        it is, and of a column in a periodic or run-length layout only the rows that
        determine it are encoded: :func:`humsec.index.labels.compressed`)."""
        if self.arrow and col not in self._floats:
            if self._typed is not None:
                d = _one_dictionary(self._typed(col))
                if d is not None:
                    return _dictionary_codes(d)
            v = self._get(col)  # text without nulls
            sub, expand = compressed(v)
            d = sub.dictionary_encode()
            d = d.combine_chunks() if isinstance(d, pa.ChunkedArray) else d
            codes, uniq = _dictionary_codes(d)
            return expand(codes), uniq
        return _codes(_strip(self, col))

    def integers(self, col: str) -> np.ndarray | None:
        """A column stored as integers without nulls (a Parquet year) as int64 (an own
        array, read a row group at a time), else None."""
        if self._int is None:
            return None
        return self._int(col)

    def numbers(self, col: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, object]:
        """(missing, numeric, float values, trimmed text or None) of a column; the text is
        None when every cell is missing or a finite number (nothing to report)."""
        if col in self._floats:
            filled = getattr(self._floats, "filled", None)
            if filled is not None:  # straight into one float array, a piece at a time
                values, nulls = filled(col)
                bad = ~np.isfinite(values)
                if int(np.count_nonzero(bad)) == nulls:
                    return bad, ~bad, values, None
            x = self._floats[col]
            null = _mask(x.is_null())
            values = x.to_numpy(zero_copy_only=False).astype(float, copy=False)
            # nulls read as NaN: every non-finite value a null means nothing to report
            if int(np.count_nonzero(~np.isfinite(values))) == int(np.count_nonzero(null)):
                return null, ~null, values, None
        vs = _strip(self, col)
        miss, num, values = _numbers(vs, self.markers)
        return miss, num, values, vs


_TEXT_KINDS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv"}


def _sniff(path: Path, kind: str) -> tuple[str, list[str]] | None:
    """(delimiter, header names) as pandas' python engine would find them, or None."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError):
        return None
    if not first.strip():
        return None
    if kind == "tsv":
        delim = "\t"
    else:  # pandas' sep=None: csv.Sniffer on the first line
        try:
            delim = csv.Sniffer().sniff(first).delimiter
        except csv.Error:
            delim = ","
    names = next(csv.reader([first], delimiter=delim))
    if len(set(names)) != len(names) or any(n == "" for n in names):
        return None  # pandas renames duplicates / unnamed columns: leave it to pandas
    return delim, names


def _header(path: Path) -> tuple[str, list[str], list[str]] | None:
    """(delimiter, header names, stripped names) of a CSV/TSV file the columnar reader
    takes, or None (other formats, unusual headers)."""
    kind = _TEXT_KINDS.get(path.suffix.lower())
    if kind is None or not path.is_file():
        return None
    sniffed = _sniff(path, kind)
    if sniffed is None:
        return None
    delim, names = sniffed
    stripped = [str(c).strip() for c in names]
    if len(set(stripped)) != len(stripped):
        return None
    return delim, names, stripped


def _null_values(markers: Iterable[str]) -> list[str]:
    """Every spelling of the missing markers that Arrow should read as null (Arrow
    compares exactly; the markers are case-insensitive)."""
    out: set[str] = set()
    for m in markers:
        out.update("".join(p) for p in itertools.product(
            *[(c.lower(), c.upper()) if c.lower() != c.upper() else (c,) for c in m.lower()]))
    return sorted(out)


def _arrow_csv(path: Path, delim: str, types: dict[str, pa.DataType], nulls: list[str],
               include: list[str] | None):
    """One pyarrow read of ``path`` with these column types, or None if Arrow rejects it."""
    try:
        table = pcsv.read_csv(
            path,
            parse_options=pcsv.ParseOptions(delimiter=delim, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(column_types=types, null_values=nulls, include_columns=include,
                                                strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError):
        return None
    if table.column_names != (include if include is not None else list(types)):
        return None
    return table


def read_text_table(path: str | Path, *, numeric: Collection[str] = (), columns: Collection[str] | None = None,
                    markers: Collection[str] = MISSING_MARKERS, labels: Collection[str] = ()) -> _Columns:
    """The cells of a CSV/TSV/XLSX/Parquet file as text columns (column names stripped).

    CSV/TSV go through pyarrow's multithreaded reader; anything it rejects, and other
    formats, through :func:`humsec.data.importer._read_raw` (same errors as before).

    Parameters
    ----------
    path : str or Path
    numeric : collection of str, optional
        Columns holding numbers: parsed as floats by Arrow (``markers`` as missing) when
        every cell parses, else read as text (see :meth:`_Columns.numbers`).
    columns : collection of str, optional
        Read only these columns (of a CSV/TSV file; other formats give every column).
    markers : collection of str
        The missing-value markers of :meth:`_Columns.numbers`.
    labels : collection of str, optional
        Text columns of few distinct values (of a Parquet file: read as dictionaries).
    """
    path = Path(path)
    head = _header(path)
    if head is not None:
        delim, names, stripped = head
        orig = dict(zip(stripped, names))
        want = [c for c in stripped if columns is None or c in columns]
        include = None if columns is None else [orig[c] for c in want]
        floats = [c for c in want if c in numeric]
        for as_float in ([True, False] if floats else [False]):
            types = {orig[c]: _FLOAT if as_float and c in floats else pa.string() for c in want}
            table = _arrow_csv(path, delim, types, _null_values(markers) if as_float else [], include)
            if table is None:
                continue
            cols = {c: table.column(orig[c]) for c in want}

            def reread(col: str, _d=delim, _o=orig):
                t = _arrow_csv(path, _d, {_o[col]: pa.string()}, [], [_o[col]])
                if t is None:  # the file parsed a moment ago: it changed while being read
                    raise ValidationError(ValidationIssue("the file changed while it was read", file=str(path)))
                return t.column(0)

            return _Columns(want, cols.__getitem__, table.num_rows, True,
                            floats={c: cols[c] for c in floats} if as_float else None, reread=reread,
                            markers=markers, forget=lambda c, _c=cols: _c.pop(c, None))
    if path.suffix.lower() == ".parquet" and path.is_file():
        return _parquet_columns(path, numeric, columns, markers, labels)
    df = importer._read_raw(path, None)[0]
    df.columns = [str(c).strip() for c in df.columns]
    return _Columns(list(df.columns), df.__getitem__, len(df), False, markers=markers)


def _parquet_file(path: Path, read_dictionary: list[str] | None = None) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path, read_dictionary=read_dictionary)
    except (pa.ArrowException, OSError) as e:
        raise ValidationError(ValidationIssue(f"not a readable Parquet file ({e})", file=str(path))) from None


def _parquet_names(path: Path) -> list[str] | None:
    """The stripped column names of a Parquet file (None: not one, or repeated names)."""
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return None
    names = [str(c).strip() for c in _parquet_file(path).schema_arrow.names]
    return names if len(set(names)) == len(names) else None


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _parquet_columns(path: Path, numeric: Collection[str], columns: Collection[str] | None,
                     markers: Collection[str], labels: Collection[str] = ()) -> _Columns:
    """The columns of a Parquet file, read by Arrow as stored: numeric columns named in
    ``numeric`` as floats, the others as text made only where asked for (a column's codes
    come from its distinct values; a number column's text only to report a bad cell).
    Text columns named in ``labels`` (few distinct values: indicator codes) are read as
    Arrow dictionaries, no string per cell. Nulls are empty cells."""
    schema = _parquet_file(path).schema_arrow
    names = schema.names
    stripped = [str(c).strip() for c in names]
    orig = dict(zip(stripped, names))
    want = [c for c in stripped if columns is None or c in columns]
    as_dict = [orig[c] for c in want if c in labels and _is_text(schema.field(orig[c]).type)]
    pf = _parquet_file(path, as_dict or None)
    stored = _ParquetStore(pf, orig, path)
    floats = _FloatView(stored, [c for c in want if c in numeric and _is_number(schema.field(orig[c]).type)])

    def text(col: str):
        v = stored[col]
        if pa.types.is_dictionary(v.type):
            v = pc.cast(v, v.type.value_type)
        if not _is_text(v.type):
            v = pc.cast(v, pa.string())
        return v.fill_null("")

    return _Columns(want, text, pf.metadata.num_rows, True, floats=floats, reread=text, markers=markers,
                    typed=stored.__getitem__, forget=stored.pop, integers=stored.integers)


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t)


class _ParquetStore:
    """The columns of a Parquet file, each read when first asked for and held until
    ``pop``: one column in memory at a time rather than the whole table (a text column
    of 49 million cells is most of a gigabyte)."""

    def __init__(self, pf: pq.ParquetFile, orig: dict[str, str], path: Path):
        self._pf, self._orig, self._path = pf, orig, path
        self._held: dict[str, pa.ChunkedArray] = {}

    def __getitem__(self, col: str) -> pa.ChunkedArray:
        if col not in self._held:
            try:
                self._held[col] = self._pf.read(columns=[self._orig[col]]).column(0)
            except (pa.ArrowException, OSError) as e:
                raise ValidationError(ValidationIssue(f"not a readable Parquet file ({e})",
                                                      file=str(self._path), field=col)) from None
        return self._held[col]

    def pop(self, col: str) -> None:
        self._held.pop(col, None)

    def integers(self, col: str) -> np.ndarray | None:
        """An integer column without nulls as one own int64 array, else None."""
        name = self._orig[col]
        if not pa.types.is_integer(self._pf.schema_arrow.field(name).type):
            return None
        out, nulls = self.filled(col, pa.int64(), np.int64, stop_at_null=True)
        return out if not nulls else None

    def filled(self, col: str, typ: pa.DataType, dtype: Any, stop_at_null: bool = False
                ) -> tuple[np.ndarray | None, int]:
        """(the column as one numpy array of ``dtype``, nulls as NaN; the number of nulls),
        read a row group at a time: no Arrow copy of the whole column beside it."""
        meta = self._pf.metadata
        out = np.empty(meta.num_rows, dtype=dtype)
        nulls, lo = 0, 0
        try:
            for g in range(meta.num_row_groups):
                v = self._pf.read_row_group(g, columns=[self._orig[col]]).column(0)
                for chunk in (v if v.type == typ else pc.cast(v, typ)).chunks:
                    if stop_at_null and chunk.null_count:
                        return None, chunk.null_count
                    hi = lo + len(chunk)
                    out[lo:hi] = chunk.to_numpy(zero_copy_only=False)
                    nulls += chunk.null_count
                    lo = hi
        except (pa.ArrowException, OSError) as e:
            raise ValidationError(ValidationIssue(f"not a readable Parquet file ({e})", file=str(self._path),
                                                  field=col)) from None
        if lo != len(out):
            raise ValidationError(ValidationIssue("the file changed while it was read", file=str(self._path)))
        return out, nulls


class _FloatView:
    """The numeric columns of a :class:`_ParquetStore` as float64, cast when asked for
    (``_Columns``' mapping of number columns)."""

    def __init__(self, store: _ParquetStore, names: list[str]):
        self._store, self._names = store, set(names)

    def __contains__(self, col: object) -> bool:
        return col in self._names

    def __getitem__(self, col: str) -> pa.ChunkedArray:
        v = self._store[col]
        return v if v.type == _FLOAT else pc.cast(v, _FLOAT)

    def filled(self, col: str) -> tuple[np.ndarray, int]:
        """(float64 values, NaN for nulls; the number of nulls) of a number column, read
        row group by row group into one array (not the column in Arrow and then a copy)."""
        out, nulls = self._store.filled(col, _FLOAT, np.float64)
        assert out is not None  # (None only when stopping at a null)
        return out, nulls

    def pop(self, col: str, default: None = None) -> None:
        self._names.discard(col)  # the column is done with: neither a number column nor held
        self._store.pop(col)

    def __bool__(self) -> bool:
        return bool(self._names)


def _strip(t: _Columns, col: str):
    """Trimmed text of a column (arrow array on the fast path, else a Series)."""
    if t.arrow:
        return pc.utf8_trim_whitespace(t.raw(col))
    return t.raw(col).str.strip()


def _mask(x) -> np.ndarray:
    """A boolean numpy mask from an arrow boolean array or a pandas Series."""
    if isinstance(x, pd.Series):
        return x.fillna(False).to_numpy(dtype=bool)
    return np.asarray(x.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _numbers(vs, markers=MISSING_MARKERS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(missing, numeric, float values) of trimmed text cells, all vectorised; a cell is
    missing when its lower-case text is one of ``markers``."""
    markers = sorted({m.lower() for m in markers})
    if isinstance(vs, pd.Series):
        miss = vs.str.lower().isin(markers).to_numpy()
        num = vs.str.fullmatch(NUMBER.pattern).fillna(False).to_numpy(dtype=bool)
        values = pd.to_numeric(vs.where(num), errors="coerce").to_numpy(dtype=float)
        return miss, num, values
    miss = _mask(pc.is_in(pc.utf8_lower(vs), value_set=pa.array(markers, type=pa.string())))
    numm = pc.match_substring_regex(vs, NUMBER.pattern)
    num = _mask(numm)
    values = pc.cast(pc.if_else(numm, vs, pa.scalar(None, pa.string())), pa.float64())
    return miss, num, values.to_numpy(zero_copy_only=False).astype(float, copy=False)


def _text(vs, mask: np.ndarray, limit: int) -> list[str]:
    """The first ``limit`` cells of ``vs`` where ``mask`` holds (for messages)."""
    idx = np.flatnonzero(mask)[:limit]
    if isinstance(vs, pd.Series):
        return [str(v) for v in vs.to_numpy()[idx]]
    return [str(v) for v in vs.take(idx).to_pylist()]


def _codes(vs) -> tuple[np.ndarray, np.ndarray]:
    """(integer codes, uniques) of a text column."""
    if isinstance(vs, pd.Series):
        codes, uniq = pd.factorize(vs)
        return codes.astype(np.int64), np.asarray(uniq, dtype=object)
    d = vs.dictionary_encode().combine_chunks() if isinstance(vs, pa.ChunkedArray) else vs.dictionary_encode()
    return (np.asarray(d.indices.to_numpy(zero_copy_only=False), dtype=np.int64),
            np.asarray(d.dictionary.to_pylist(), dtype=object))


def _dictionary_codes(d) -> tuple[np.ndarray, Any]:
    """(int32 codes, distinct trimmed values) of a dictionary array: the trim and the
    factorisation run over the dictionary, not the cells; null cells are empty text. The
    values stay an Arrow array unless the trim merged some (then numpy, from pandas)."""
    words = d.dictionary
    if not _is_text(words.type):
        words = pc.cast(words, pa.string())  # the distinct values of a typed (Parquet) column as text
    indices = d.indices
    if d.null_count:
        indices = indices.fill_null(len(words))
        words = pa.concat_arrays([words, pa.array([""], type=words.type)])
    idx = indices.to_numpy(zero_copy_only=False)
    trimmed = pc.utf8_trim_whitespace(words.fill_null(""))
    if pc.count_distinct(trimmed).as_py() == len(trimmed):  # the trim merged nothing: kept in Arrow
        return idx.astype(np.int32, copy=False), trimmed
    remap, uniq = pd.factorize(trimmed.to_numpy(zero_copy_only=False))
    return remap.astype(np.int32)[idx], np.asarray(uniq, dtype=object)


def _one_dictionary(v):
    """A stored dictionary column (Parquet) as one dictionary array (chunks' dictionaries
    unified when they differ), else None."""
    if not pa.types.is_dictionary(v.type):
        return None
    if isinstance(v, pa.ChunkedArray):
        if v.num_chunks == 0:
            return None
        first = v.chunk(0).dictionary
        if not all(c.dictionary.equals(first) for c in v.chunks[1:]):
            v = v.unify_dictionaries()
        return v.combine_chunks()
    return v


def _words(uniq) -> pa.Array:
    """Distinct values (an Arrow array, or numpy from pandas' path) as an Arrow large_string
    array: a million distinct units are not made Python strings."""
    if not isinstance(uniq, pa.Array):
        uniq = pa.array(np.asarray(uniq, dtype=object), type=pa.large_string())
    return uniq if uniq.type == pa.large_string() else pc.cast(uniq, pa.large_string())


def _labels(codes: np.ndarray, words: pa.Array) -> pd.Categorical:
    """A label column (unit, indicator) as a categorical of text: its codes and its
    distinct values, no string per cell (at 49 million rows, gigabytes and seconds)."""
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(text_array(words))))


def _strings(vs) -> pd.Series:
    """A text column as a pandas text Series (zero-copy from Arrow)."""
    if isinstance(vs, pd.Series):
        return vs.reset_index(drop=True)
    return vs.to_pandas().reset_index(drop=True)


def take_text(values: np.ndarray, idx: np.ndarray) -> pd.Series:
    """``values[idx]`` as a text column, taken by Arrow (a Python string per cell is not
    made: at 3 million cells that is seconds); object columns for non-text values."""
    if not all(isinstance(v, str) for v in values):
        return pd.Series(values[idx], dtype=object)
    # large_string: the type of pandas' Arrow-backed text, so to_pandas copies nothing
    return pa.array(values, type=pa.large_string()).take(pa.array(idx)).to_pandas()


def _repeated_keys(ucode: np.ndarray, icode: np.ndarray, ykey: np.ndarray | None, n_units: int,
                   n_indicators: int) -> np.ndarray | None:
    """Where a (unit, indicator[, year]) key repeats an earlier row (None when none does;
    no hashing).

    A key is a cell number. When the cells are few enough, each row marks its cell in a
    boolean array, block by block (no key array of the whole table: at 49 million rows
    that is 400 MB; a count per cell would be 8x the marks); otherwise the keys are
    sorted. The keys are hashed only to locate a repeat that is there.
    """
    n = len(ucode)
    if n < 2:
        return None
    years = 1 if ykey is None else int(ykey.max()) + 1
    top = n_units * n_indicators * years
    if top <= 8 * n + 1024:
        seen = np.zeros(top, dtype=bool)
        for lo in range(0, n, _KEY_BLOCK):
            hi = min(n, lo + _KEY_BLOCK)
            seen[_cells(ucode[lo:hi], icode[lo:hi], None if ykey is None else ykey[lo:hi], n_indicators, years)] = True
        if int(np.count_nonzero(seen)) == n:
            return None
        del seen
        key = _cells(ucode, icode, ykey, n_indicators, years)
    else:
        key = _cells(ucode, icode, ykey, n_indicators, years)
        s = np.sort(key)
        if not (s[1:] == s[:-1]).any():
            return None
    return pd.Series(key).duplicated(keep="first").to_numpy()


#: Rows per block of :func:`_repeated_keys`.
_KEY_BLOCK = 1 << 22


def _cells(ucode: np.ndarray, icode: np.ndarray, ykey: np.ndarray | None, n_indicators: int,
           years: int) -> np.ndarray:
    """The cell number of each row's (unit, indicator[, year]) key, int64."""
    key = ucode.astype(np.int64)
    key *= n_indicators
    key += icode
    if ykey is not None:
        key *= years
        key += ykey
    return key


# ---------------------------------------------------------------------------- reader


def _column_map(columns: list[str]) -> dict[str, str]:
    """Lower-case role -> column name (``iso3`` stands for ``unit``)."""
    cols = {c.lower(): c for c in columns}
    if "unit" not in cols and "iso3" in cols:
        cols["unit"] = cols["iso3"]
    return cols


def _wide(cols: dict[str, str], columns: list[str]) -> bool:
    return "unit" in cols and "indicator" not in cols and "value" not in cols and len(columns) > 1


def read_index_data(path: str | Path) -> pd.DataFrame:
    """Read an index data file (CSV/TSV/XLSX/Parquet), tidy or wide.

    A *wide* file has a ``unit`` column and one column per indicator (one cross-section,
    optionally a single-valued ``year`` column): the natural form for very many units
    (grid cells), built without the tidy round trip (see
    :func:`humsec.index.pipeline.build`).

    Parameters
    ----------
    path : str or Path
        File with columns ``unit``, ``indicator``, ``value`` and optionally ``year``
        (case-insensitive; ``iso3`` is accepted for ``unit``).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit``, [``year`` (Int64),] ``indicator``, ``value`` (float, NaN for
        missing); rows with missing values are kept as NaN. ``unit`` and ``indicator``
        are categoricals of their trimmed text (``str`` categories, in order of first
        appearance): a code per row, not a string - a tidy table of a million units x 49
        indicators holds 49 million of each. ``.astype("str")`` gives text columns.

    Raises
    ------
    ValidationError
        Missing columns, empty unit/indicator, non-numeric or infinite values, invalid
        years, duplicate keys — all at once, each located (file, row, column).
    """
    try:
        return _read_index_data(Path(path))
    finally:
        release_arrow_memory()


def _read_index_data(path: Path) -> pd.DataFrame:
    file = str(path)
    head = _header(path)
    names = head[2] if head is not None else _parquet_names(path)
    if names is None:
        raw = read_text_table(path)
    else:
        hc = _column_map(names)
        if _wide(hc, names):
            raw = read_text_table(path, numeric=[c for c in names if c not in (hc["unit"], hc.get("year"))])
        elif all(k in hc for k in ("unit", "indicator", "value")):
            roles = [k for k in ("unit", "year", "indicator", "value") if k in hc]
            raw = read_text_table(path, numeric=[hc["value"]], columns=[hc[k] for k in roles], labels=[hc["indicator"]])
        else:
            raw = read_text_table(path)
    cols = _column_map(raw.columns)
    if _wide(cols, raw.columns):
        return _read_wide(raw, cols, file)
    missing = [c for c in ("unit", "indicator", "value") if c not in cols]
    if missing:
        raise ValidationError(ValidationIssue(
            f"missing column(s) {', '.join(missing)}: expected a tidy table with columns "
            f"unit, [year,] indicator, value (found: {', '.join(raw.columns)})", file=file, row=1))
    if len(raw) == 0:
        raise ValidationError(ValidationIssue("the file has no data rows", file=file))
    issues: list[ValidationIssue] = []

    def rows(mask: np.ndarray, limit: int = _MAX) -> np.ndarray:
        return np.flatnonzero(mask)[:limit] + 2  # header is row 1

    def add(msg: str, mask: np.ndarray, col: str) -> None:
        for r in rows(mask, max(0, _MAX - len(issues))):
            issues.append(ValidationIssue(msg, file=file, row=int(r), field=col))

    ucode, uniq = raw.codes(cols["unit"])
    raw.done(cols["unit"])
    uniq_u = _words(uniq)
    icode, uniq = raw.codes(cols["indicator"])
    raw.done(cols["indicator"])
    uniq_i = _words(uniq)
    for code, words, col, msg in ((ucode, uniq_u, "unit", "empty unit code: expected a unit identifier (e.g. "
                                   "an ISO3 code)"), (icode, uniq_i, "indicator", "empty indicator code")):
        empty = _mask(pc.equal(words, ""))
        if empty.any():
            add(msg, empty[code], cols[col])
    out = {"unit": _labels(ucode, uniq_u), "indicator": _labels(icode, uniq_i)}
    # the categoricals' own codes from here (int8 for few indicators): the wider ones go
    ucode, icode = np.asarray(out["unit"].codes), np.asarray(out["indicator"].codes)
    year = None
    ykey = None  # a code per distinct year (None: one year)
    if "year" in cols:
        yi = raw.integers(cols["year"])
        if yi is not None:  # stored as integers (Parquet): no text per cell
            add("invalid year: expected a whole number such as 2020 (or empty)", (yi < 0) | (yi > 9999),
                cols["year"])
            year = pd.Series(pd.arrays.IntegerArray(yi, np.zeros(len(yi), dtype=bool)), copy=False)
            lo, hi = (int(yi.min()), int(yi.max())) if len(yi) else (0, 0)
            if lo != hi:
                ykey = yi - lo + 1 if hi - lo < 100_000 else pd.factorize(yi)[0].astype(np.int64) + 1
        else:
            ycode, uniq = raw.codes(cols["year"])
            uniq_y = np.asarray(_words(uniq).to_pylist(), dtype=object)  # the few distinct years
            ok_u = np.array([bool(_YEAR.fullmatch(y)) or y == "" for y in uniq_y], dtype=bool)
            add("invalid year: expected a whole number such as 2020 (or empty)", ~ok_u[ycode], cols["year"])
            yv = pd.to_numeric(pd.Series(np.where(ok_u & (uniq_y != ""), uniq_y, np.array(None)), dtype=object),
                               errors="coerce").astype("Int64")
            year = yv.take(ycode).reset_index(drop=True)
            # one code per distinct year value ("2020" and "2020.0" are one year; NA -> 0)
            ycodes = pd.factorize(yv)[0].astype(np.int64) + 1
            if len(np.unique(ycodes)) > 1:
                ykey = ycodes[ycode]
        out["year"] = year
        raw.done(cols["year"])
    miss, num, values, vs = raw.numbers(cols["value"])
    if vs is None:
        raw.done(cols["value"])
    if vs is not None:
        bad = ~miss & ~num
        for r, v in zip(rows(bad), _text(vs, bad, _MAX)):
            issues.append(ValidationIssue(
                f"non-numeric value '{v}': expected a number with '.' as decimal point, or empty/NA",
                file=file, row=int(r), field=cols["value"]))
        values = np.where(num, values, np.nan)
        add("value is not finite", num & ~np.isfinite(values), cols["value"])
    out["value"] = pd.Series(values, dtype=float, copy=False)
    # duplicate keys on integer codes (no hashing of strings)
    dup = _repeated_keys(ucode, icode, ykey, len(uniq_u), len(uniq_i))
    if dup is not None:
        for r, i in zip(rows(dup, 50), np.flatnonzero(dup)[:50]):
            issues.append(ValidationIssue(
                f"duplicate key (unit {uniq_u[int(ucode[i])].as_py()}, indicator {uniq_i[int(icode[i])].as_py()}"
                + (f", year {year.iloc[i]}" if year is not None else "") + "): expected one value per key",
                file=file, row=int(r), field=cols["indicator"]))
    if issues:
        raise ValidationError(issues)
    order = ["unit", *(["year"] if year is not None else []), "indicator", "value"]
    raw.done(*raw.columns)
    return pd.DataFrame({k: out[k] for k in order}, copy=False)


_YEAR = re.compile(r"\d{1,4}(\.0+)?")


def _read_wide(raw: _Columns, cols: dict[str, str], file: str) -> pd.DataFrame:
    """A wide ``unit, <indicator>...`` table, every cell checked and located."""
    if len(raw) == 0:
        raise ValidationError(ValidationIssue("the file has no data rows", file=file))
    issues: list[ValidationIssue] = []
    rows = np.arange(len(raw)) + 2
    ucol = cols["unit"]
    units = _strings(_strip(raw, ucol))
    for r in rows[(units == "").to_numpy()][:_MAX]:
        issues.append(ValidationIssue("empty unit code: expected a unit identifier", file=file, row=int(r), field=ucol))
    dup = (units.duplicated(keep="first") & (units != "")).to_numpy()
    for r, u in zip(rows[dup][:50], units[dup][:50]):
        issues.append(ValidationIssue(f"duplicate unit '{u}': expected one row per unit", file=file, row=int(r),
                                      field=ucol))
    out = {"unit": units}
    ycol = cols.get("year")
    for c in raw.columns:
        if c in (ucol, ycol):
            continue
        miss, num, values, vs = raw.numbers(c)
        if vs is not None:
            bad = ~miss & ~num
            lim = max(0, _MAX - len(issues))
            for r, v in zip(rows[bad][:lim], _text(vs, bad, lim)):
                issues.append(ValidationIssue(
                    f"non-numeric value '{v}': expected a number with '.' as decimal point, or empty/NA",
                    file=file, row=int(r), field=c))
            values = np.where(num, values, np.nan)
            for r in rows[num & ~np.isfinite(values)][: max(0, _MAX - len(issues))]:
                issues.append(ValidationIssue("value is not finite", file=file, row=int(r), field=c))
        out[str(c).strip()] = pd.Series(values, dtype=float)
    if ycol is not None:
        ys = pd.to_numeric(_strings(_strip(raw, ycol)), errors="coerce")
        if ys.dropna().nunique() > 1:
            issues.append(ValidationIssue("a wide file holds one year; found several: use a tidy "
                                          "unit, year, indicator, value file for panels", file=file, field=ycol))
    if issues:
        raise ValidationError(issues)
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------- writer

_NEEDS_QUOTE = re.compile(r'[,"\r\n]')
#: Text that needs Python's attention: quoting (as pandas' QUOTE_MINIMAL) or a formula
#: prefix (:func:`humsec.data.writing.neutralise_formula`: = + - @ tab CR and their
#: full-width forms, after leading spaces/line feeds). Every other cell is written as is.
_SPECIAL = "[,\"\r\n]|^[ \n\u00a0\u3000]*[=+\\-@\t\r\uff1d\uff0b\uff0d\uff20]"  # RE2: the characters themselves
#: Rows formatted per task: large tables are formatted in slices on a thread pool (Arrow
#: releases the GIL), joined in order.
_SLICE = 500_000


def _quote(cell: str) -> str:
    """A cell as pandas' ``to_csv`` writes it (QUOTE_MINIMAL)."""
    return '"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTE.search(cell) else cell


def _float_text(x: np.ndarray) -> pa.Array:
    """Floats as their shortest round-trip text (NaN as null); whole numbers keep a
    ``.0`` (as pandas writes them) unless Arrow wrote them in exponent form."""
    text = pc.cast(pa.array(x, from_pandas=True), pa.string())
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(x) & (x == np.round(x)) & (np.abs(x) < 1e15)
    if whole.any():
        sub = text.filter(pa.array(whole))
        sub = pc.if_else(pc.match_substring(sub, "e"), sub, pc.binary_join_element_wise(sub, ".0", ""))
        text = pc.replace_with_mask(text, pa.array(whole), sub)
    return text


class _TextColumn:
    """One column of a frame, formatted as CSV cell text one slice of rows at a time."""

    def __init__(self, s: pd.Series, fix: Callable):
        self.quoted = False
        self.cr = False
        self._x: np.ndarray | None = None
        self._arr = None
        self._cells = None
        if pd.api.types.is_bool_dtype(s.dtype) and not pd.api.types.is_extension_array_dtype(s.dtype):
            self._arr = pa.array(np.where(s.to_numpy(), "True", "False"), type=pa.string())
        elif pd.api.types.is_float_dtype(s.dtype) and not pd.api.types.is_extension_array_dtype(s.dtype):
            self._x = s.to_numpy()
        elif pd.api.types.is_numeric_dtype(s.dtype):
            self._num = pa.array(s, from_pandas=True)
        else:
            if isinstance(s.dtype, pd.CategoricalDtype) and all(isinstance(v, str) for v in s.cat.categories):
                codes = s.cat.codes.to_numpy()
                uniq = pa.array(list(s.cat.categories), type=pa.string())
                idx = pa.array(codes, mask=codes < 0)
            else:
                try:
                    arr = pa.array(s, type=pa.string(), from_pandas=True)
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    arr = pa.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                                    for v in s], type=pa.string())
                if isinstance(arr, pa.ChunkedArray):
                    arr = arr.combine_chunks()
                enc = arr.dictionary_encode()
                uniq, idx = enc.dictionary, enc.indices
            special = np.flatnonzero(_mask(pc.match_substring_regex(uniq, _SPECIAL)))
            if len(special):
                safe_cells = [_quote(str(fix(u))) for u in uniq.take(pa.array(special)).to_pylist()]
                self.quoted = any(c[:1] == '"' for c in safe_cells)
                self.cr = any("\r" in c for c in safe_cells)
                mask = np.zeros(len(uniq), dtype=bool)
                mask[special] = True
                uniq = pc.replace_with_mask(uniq, pa.array(mask), pa.array(safe_cells, type=pa.string()))
            self._cells = uniq
            self._idx = idx

    def text(self, lo: int, hi: int) -> pa.Array:
        """The cells of rows ``lo:hi`` as text, null-free."""
        if self._x is not None:
            out = _float_text(self._x[lo:hi])
        elif self._cells is not None:
            out = self._cells.take(self._idx.slice(lo, hi - lo))
        elif self._arr is not None:
            return self._arr.slice(lo, hi - lo)
        else:
            out = pc.cast(self._num.slice(lo, hi - lo), pa.string())
        return pc.fill_null(out, "") if out.null_count else out


def csv_parts(df: pd.DataFrame, *, crlf: bool | None = False, safe: bool = True) -> list:
    """``df`` as CSV: the header and the body's buffers, in order, to be written one after
    the other (:func:`write_csv_parts`) without joining them; the text of :func:`csv_bytes`."""
    fix: Callable[[str], object] = neutralise_formula if safe else (lambda v: v)
    heads = [_quote(str(fix(str(c)))) for c in df.columns]
    n = len(df)
    cols = [_TextColumn(df[c], fix) for c in df.columns] if n else []
    if crlf is None:  # CRLF only when a cell (or a column name) holds a carriage return
        crlf = any(c.cr for c in cols) or any("\r" in h for h in heads)
    end = "\r\n" if crlf else "\n"
    header = (",".join(heads) + end).encode("utf-8")
    if n == 0:
        return [header]
    quoted = any(c.quoted for c in cols) or any(h[:1] == '"' for h in heads)

    def body(lo: int, hi: int):
        texts = [c.text(lo, hi) for c in cols]
        if not quoted:
            # nothing to quote: Arrow's writer joins the cells (no string concatenation here)
            table = pa.Table.from_arrays(texts, names=[f"c{i}" for i in range(len(texts))])
            buf = pa.BufferOutputStream()
            pcsv.write_csv(table, buf, write_options=pcsv.WriteOptions(
                include_header=False, quoting_style="none", eol=end))
            return buf.getvalue()
        lines = pc.binary_join_element_wise(*texts, pa.scalar(","))
        return _string_data(pc.binary_join_element_wise(lines, pa.scalar(""), pa.scalar(end)))

    bounds = list(range(0, n, _SLICE)) + [n]
    if len(bounds) <= 2:
        return [header, body(0, n)]
    with ThreadPoolExecutor(max_workers=min(len(bounds) - 1, os.cpu_count() or 1)) as pool:
        return [header, *pool.map(body, bounds[:-1], bounds[1:])]


def csv_bytes(df: pd.DataFrame, *, crlf: bool | None = False, safe: bool = True) -> bytes:
    """``df`` (no index) as CSV bytes, every column formatted by vectorised kernels.

    Numbers are written in their shortest round-trip form (reading the file back gives the
    same floats bit for bit; whole numbers as ``1.0``, as pandas writes them), NaN/NA as an
    empty cell; text cells are neutralised against spreadsheet formulas (``safe``, as
    :func:`humsec.data.export.safe_frame`) and quoted as pandas' ``to_csv`` does, once per
    distinct value (unit codes repeat). ``crlf=None``: CRLF line ends only when a cell
    holds a carriage return (as :func:`humsec.cli.common.emit`), else ``"\n"``.
    """
    return b"".join(csv_parts(df, crlf=crlf, safe=safe))


def _string_data(arr) -> pa.Buffer:
    """The concatenated bytes of a null-free (large) string array."""
    arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    if data is None:
        return pa.py_buffer(b"")
    return data.slice(int(offsets[0]), int(offsets[-1]) - int(offsets[0]))


def write_csv_parts(parts: list, fh) -> None:
    """Write the buffers of :func:`csv_parts` to a binary file object."""
    for part in parts:
        fh.write(part)


def write_csv_fast(df: pd.DataFrame, path: str | Path, *, crlf: bool = True, safe: bool = True) -> Path:
    """Write ``df`` (no index) as CSV, atomically, with :func:`csv_bytes` (formula-safe
    and with CRLF line ends by default, as :func:`humsec.data.export.export_frame`)."""
    parts = csv_parts(df, crlf=crlf, safe=safe)

    def write(p: Path) -> None:
        with open(p, "wb") as fh:
            write_csv_parts(parts, fh)

    return atomic_write(Path(path), write)
