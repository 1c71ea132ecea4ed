"""Reading and writing index data: tidy ``unit, [year,] indicator, value`` or wide files.

Unlike :func:`humsec.data.importer.read_observations` (which checks country codes and the
indicator catalogue for the store), index data may hold any unit codes (regions,
synthetic units, COINr examples) and any indicator codes: the spec says what is needed.
Every problem is reported with file, row and column.

CSV and TSV files are read by a columnar reader (pyarrow): every cell is read as text and
checked by vectorised kernels (trim, missing markers, the number pattern, finiteness,
duplicate keys) — no Python code runs per cell, so a 2.65 million-row tidy file reads in
about a second with every bad cell still located (file, row, column). Files the columnar
reader cannot parse (ragged rows, unusual quoting), spreadsheets and Parquet files take
the general reader of :mod:`humsec.data.importer`, with the same checks and messages.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from humsec.data.importer import NUMBER, MISSING_MARKERS
from humsec.errors import ValidationError, ValidationIssue

__all__ = ["csv_bytes", "read_index_data", "read_text_table", "take_text", "write_csv_fast"]

_MAX = 200


# ---------------------------------------------------------------------------- columnar text


class _Columns:
    """A table of text columns, as pyarrow string arrays (fast path) or pandas Series."""

    def __init__(self, columns: list[str], get, n: int, arrow: bool):
        self.columns = columns
        self._get = get
        self.n = n
        self.arrow = arrow

    def __len__(self) -> int:
        return self.n

    def raw(self, col: str):
        return self._get(col)


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


def read_text_table(path: str | Path) -> _Columns:
    """Every cell of a CSV/TSV/XLSX/Parquet file as text (column names stripped).

    CSV/TSV go through pyarrow's multithreaded reader; anything it rejects, and other
    formats, through :func:`humsec.data.importer._read_raw` (same errors as before).
    """
    path = Path(path)
    kind = _TEXT_KINDS.get(path.suffix.lower())
    if kind in ("csv", "tsv") and path.is_file():
        sniffed = _sniff(path, kind)
        if sniffed is not None:
            import pyarrow as pa
            import pyarrow.csv as pcsv

            delim, names = sniffed
            try:
                table = pcsv.read_csv(
                    path,
                    parse_options=pcsv.ParseOptions(delimiter=delim, newlines_in_values=True),
                    convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                        strings_can_be_null=False,
                                                        quoted_strings_can_be_null=False))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError):
                table = None
            if table is not None and table.column_names == names:
                stripped = [str(c).strip() for c in names]
                cols = {s: table.column(n) for s, n in zip(stripped, names)}
                return _Columns(stripped, cols.__getitem__, table.num_rows, True)
    from humsec.data import importer

    df = importer._read_raw(path, None)[0]
    df.columns = [str(c).strip() for c in df.columns]
    return _Columns(list(df.columns), df.__getitem__, len(df), False)


def _strip(t: _Columns, col: str):
    """Trimmed text of a column (arrow array on the fast path, else a Series)."""
    if t.arrow:
        import pyarrow.compute as pc

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
    import pyarrow as pa
    import pyarrow.compute as pc

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
    import pyarrow as pa

    d = vs.dictionary_encode().combine_chunks() if isinstance(vs, pa.ChunkedArray) else vs.dictionary_encode()
    return (np.asarray(d.indices.to_numpy(zero_copy_only=False), dtype=np.int64),
            np.asarray(d.dictionary.to_pylist(), dtype=object))


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
    import pyarrow as pa

    return pa.array(values, type=pa.string()).take(pa.array(idx)).to_pandas()


# ---------------------------------------------------------------------------- reader


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
        missing); rows with missing values are kept as NaN.

    Raises
    ------
    ValidationError
        Missing columns, empty unit/indicator, non-numeric or infinite values, invalid
        years, duplicate keys — all at once, each located (file, row, column).
    """
    path = Path(path)
    file = str(path)
    raw = read_text_table(path)
    cols = {c.lower(): c for c in raw.columns}
    if "unit" not in cols and "iso3" in cols:
        cols["unit"] = cols["iso3"]
    if "unit" in cols and "indicator" not in cols and "value" not in cols and len(raw.columns) > 1:
        return _read_wide(raw, cols, file)
    missing = [c for c in ("unit", "indicator", "value") if c not in cols]
    if missing:
        raise ValidationError(ValidationIssue(
            f"missing column(s) {', '.join(missing)}: expected a tidy table with columns "
            f"unit, [year,] indicator, value (found: {', '.join(raw.columns)})", file=file, row=1))
    if len(raw) == 0:
        raise ValidationError(ValidationIssue("the file has no data rows", file=file))
    issues: list[ValidationIssue] = []
    rows = np.arange(len(raw)) + 2  # header is row 1

    def add(msg: str, mask: np.ndarray, col: str) -> None:
        for r in rows[mask][: max(0, _MAX - len(issues))]:
            issues.append(ValidationIssue(msg, file=file, row=int(r), field=col))

    unit = _strip(raw, cols["unit"])
    ind = _strip(raw, cols["indicator"])
    ucode, uniq_u = _codes(unit)
    icode, uniq_i = _codes(ind)
    add("empty unit code: expected a unit identifier (e.g. an ISO3 code)", (uniq_u == "")[ucode], cols["unit"])
    add("empty indicator code", (uniq_i == "")[icode], cols["indicator"])
    out = {"unit": _strings(unit), "indicator": _strings(ind)}
    year = None
    if "year" in cols:
        ys = _strip(raw, cols["year"])
        ycode, uniq_y = _codes(ys)
        ok_u = np.array([bool(_YEAR.fullmatch(y)) or y == "" for y in uniq_y], dtype=bool)
        add("invalid year: expected a whole number such as 2020 (or empty)", ~ok_u[ycode], cols["year"])
        yv = pd.to_numeric(pd.Series(np.where(ok_u & (uniq_y != ""), uniq_y, None), dtype=object),
                           errors="coerce").astype("Int64")
        year = yv.take(ycode).reset_index(drop=True)
        out["year"] = year
    vs = _strip(raw, cols["value"])
    miss, num, values = _numbers(vs)
    bad = ~miss & ~num
    for r, v in zip(rows[bad][:_MAX], _text(vs, bad, _MAX)):
        issues.append(ValidationIssue(
            f"non-numeric value '{v}': expected a number with '.' as decimal point, or empty/NA",
            file=file, row=int(r), field=cols["value"]))
    values = np.where(num, values, np.nan)
    add("value is not finite", num & ~np.isfinite(values), cols["value"])
    out["value"] = pd.Series(values, dtype=float)
    # duplicate keys on integer codes (no hashing of strings)
    key = ucode * len(uniq_i) + icode
    if year is not None:
        ycodes = pd.factorize(year)[0].astype(np.int64) + 1  # NA -> 0
        key = key * (int(ycodes.max()) + 1) + ycodes
    dup = pd.Series(key).duplicated(keep="first").to_numpy()
    if dup.any():
        frame = pd.DataFrame(out)
        for r, i in zip(rows[dup][:50], np.flatnonzero(dup)[:50]):
            row = frame.iloc[i]
            issues.append(ValidationIssue(
                f"duplicate key (unit {row['unit']}, indicator {row['indicator']}"
                + (f", year {row['year']}" if "year" in row else "") + "): expected one value per key",
                file=file, row=int(r), field=cols["indicator"]))
    if issues:
        raise ValidationError(issues)
    order = ["unit", *(["year"] if year is not None else []), "indicator", "value"]
    return pd.DataFrame({k: out[k] for k in order})


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
        vs = _strip(raw, c)
        miss, num, values = _numbers(vs)
        bad = ~miss & ~num
        lim = max(0, _MAX - len(issues))
        for r, v in zip(rows[bad][:lim], _text(vs, bad, lim)):
            issues.append(ValidationIssue(
                f"non-numeric value '{v}': expected a number with '.' as decimal point, or empty/NA",
                file=file, row=int(r), field=c))
        out[str(c).strip()] = pd.Series(np.where(num, values, np.nan), dtype=float)
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


def _quote(cell: str) -> str:
    """A cell as pandas' ``to_csv`` writes it (QUOTE_MINIMAL)."""
    return '"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTE.search(cell) else cell


def csv_bytes(df: pd.DataFrame, *, crlf: bool = False, safe: bool = True) -> bytes:
    """``df`` (no index) as CSV bytes, every column formatted by vectorised kernels.

    Numbers are written in their shortest round-trip form (reading the file back gives the
    same floats bit for bit), NaN/NA as an empty cell; text cells are neutralised against
    spreadsheet formulas (``safe``, as :func:`humsec.data.export.safe_frame`) and quoted
    as pandas' ``to_csv`` does, once per distinct value (unit codes repeat).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from humsec.data.export import neutralise_formula

    fix = neutralise_formula if safe else (lambda v: v)
    end = "\r\n" if crlf else "\n"
    header = ",".join(_quote(fix(str(c))) for c in df.columns) + end
    n = len(df)
    if n == 0:
        return header.encode("utf-8")
    cols = []
    quoted = False
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_bool_dtype(s.dtype) and not pd.api.types.is_extension_array_dtype(s.dtype):
            cols.append(pa.array(np.where(s.to_numpy(), "True", "False"), type=pa.string()))
        elif pd.api.types.is_float_dtype(s.dtype) and not pd.api.types.is_extension_array_dtype(s.dtype):
            x = s.to_numpy()
            text = pc.cast(pa.array(x, from_pandas=True), pa.string())
            # pandas writes whole floats as 1.0: keep the ".0" so the text stays a float
            with np.errstate(invalid="ignore"):
                whole = np.isfinite(x) & (x == np.round(x)) & (np.abs(x) < 1e15)
            if whole.any():
                text = pc.if_else(pa.array(whole), pc.binary_join_element_wise(text, ".0", ""), text)
            cols.append(pc.fill_null(text, ""))
        elif pd.api.types.is_numeric_dtype(s.dtype):
            cols.append(pc.fill_null(pc.cast(pa.array(s, from_pandas=True), pa.string()), ""))
        else:
            try:
                arr = pa.array(s, type=pa.string(), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arr = pa.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                                for v in s], type=pa.string())
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks()
            enc = arr.dictionary_encode()
            safe_cells = [_quote(fix(u)) for u in enc.dictionary.to_pylist()]
            quoted = quoted or any(c[:1] == '"' for c in safe_cells)
            cells = pa.array(safe_cells, type=pa.string())
            cols.append(pc.fill_null(pc.take(cells, enc.indices), ""))
    if not quoted and not any(h[:1] == '"' for h in header.split(",")):
        # nothing to quote: Arrow's writer joins the cells (no string concatenation here)
        import pyarrow.csv as pcsv

        table = pa.Table.from_arrays(cols, names=[f"c{i}" for i in range(len(cols))])
        buf = pa.BufferOutputStream()
        pcsv.write_csv(table, buf, write_options=pcsv.WriteOptions(
            include_header=False, quoting_style="none", eol=end))
        return header.encode("utf-8") + buf.getvalue().to_pybytes()
    lines = pc.binary_join_element_wise(*cols, pa.scalar(","))
    lines = pc.binary_join_element_wise(lines, pa.scalar(""), pa.scalar(end))
    lines = lines.cast(pa.large_string()) if not isinstance(lines, pa.ChunkedArray) else lines
    body = b"".join(_string_data(ch) for ch in (lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]))
    return header.encode("utf-8") + body


def _string_data(arr) -> bytes:
    """The concatenated bytes of a null-free (large) string array."""
    import pyarrow as pa

    arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    return data.to_pybytes()[int(offsets[0]): int(offsets[-1])] if data is not None else b""


def write_csv_fast(df: pd.DataFrame, path: str | Path, *, crlf: bool = True, safe: bool = True) -> Path:
    """Write ``df`` (no index) as CSV, atomically, with :func:`csv_bytes` (formula-safe
    and with CRLF line ends by default, as :func:`humsec.data.export.export_frame`)."""
    from humsec.data.export import atomic_write

    data = csv_bytes(df, crlf=crlf, safe=safe)
    return atomic_write(Path(path), lambda p: p.write_bytes(data))
