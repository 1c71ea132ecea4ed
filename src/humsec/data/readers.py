"""One guarded entry for every tabular file a user gives humsec (CSV, TSV, Excel, Parquet).

:func:`read_table` returns every cell as text, exactly as written, with the row number a
user sees in the file (the header is row 1). It never hands back a half-read table and
never turns a cell into a missing value: whatever it cannot read is a located
:class:`~humsec.errors.ValidationError` (file, row, column, what was expected).

Guards (:class:`Limits`, all checked before or while reading, never after):

* size on disk, and for Excel/Parquet the *uncompressed* size declared in the zip
  directory / Parquet footer, so a zip bomb is rejected before a byte is inflated;
* rows, columns, cells and characters per cell (a 20 MB "number" is an error, not NULL);
* a time limit while streaming an Excel sheet (openpyxl read-only mode);
* text encoding: UTF-8 (with or without BOM), UTF-16/32 with a BOM, else Windows-1252,
  else the encoding detected by ``charset_normalizer`` (reported in :attr:`Table.encoding`);
* rows with more or fewer fields than the header are errors (a short row would silently
  lose its last cells); trailing empty fields and blank lines are ignored.

Python's csv module is used with its default field size limit untouched (the limit is
process-global); cells are measured here.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import io
import math
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NoReturn
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from humsec.errors import ValidationError, ValidationIssue

__all__ = ["KINDS", "Limits", "Table", "read_table"]

#: File suffix -> reader.
KINDS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".xlsx": "excel", ".xlsm": "excel",
         ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class Limits:
    """Bounds on what one file may hold (defaults sized for country-year panels)."""

    max_bytes: int = 128 * 2**20
    max_uncompressed: int = 256 * 2**20
    #: Inflation (decoded bytes / stored bytes) above which a large part is taken for a
    #: bomb. Sheets written by pandas/openpyxl inflate about 10x, even with one value
    #: repeated in every row (measured 9.7x and 11.0x); Apache POI's ``ZipSecureFile``
    #: rejects 100x. Parquet has no such bound: a legitimately constant column compresses
    #: 300x and more there, so its decoded text is bounded by ``max_uncompressed`` alone.
    max_inflation: float = 25.0
    #: Parts smaller than this when inflated are never taken for a bomb.
    inflation_floor: int = 16 * 2**20
    max_rows: int = 1_000_000
    max_columns: int = 2_000
    max_cells: int = 10_000_000
    max_cell_chars: int = 4_096
    max_seconds: float = 120.0
    max_issues: int = 200


DEFAULT_LIMITS = Limits()


@dataclass
class Table:
    """Every cell of a file as text."""

    file: str
    kind: str
    header: list[str]
    rows: list[list[str]]
    row_numbers: list[int]
    encoding: str | None = None
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """The rows as a string frame (duplicate header names kept as they are)."""
        df = pd.DataFrame(self.rows, columns=range(len(self.header)), dtype=object)
        df.columns = self.header
        return df


class _Issues:
    def __init__(self, file: str, limits: Limits):
        self.file, self.limits = file, limits
        self.items: list[ValidationIssue] = []

    def add(self, msg: str, row: int | None = None, fld: str | None = None) -> None:
        self.items.append(ValidationIssue(msg, file=self.file, row=row, field=fld))
        if len(self.items) >= self.limits.max_issues:
            self.fail()

    def fail(self, msg: str | None = None, row: int | None = None, fld: str | None = None) -> NoReturn:
        if msg is not None:
            self.items.append(ValidationIssue(msg, file=self.file, row=row, field=fld))
        raise ValidationError(self.items)


def read_table(path: str | Path, *, sheet: str | int | None = None, limits: Limits = DEFAULT_LIMITS,
               label: str | None = None) -> Table:
    """Read ``path`` (kind from its suffix) within ``limits``.

    ``label`` names the file in errors (e.g. the client's file name for an upload kept
    in a temporary file); default: the path.
    """
    path = Path(path)
    file = label or str(path)
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise ValidationError(ValidationIssue(
            f"unsupported file type '{path.suffix or '(none)'}': expected one of "
            f"{', '.join(sorted(KINDS))}", file=file))
    issues = _Issues(file, limits)
    try:
        if path.is_dir():
            issues.fail("is a directory: expected a data file")
        size = path.stat().st_size
    except FileNotFoundError:
        issues.fail("file not found")
    except OSError as exc:
        issues.fail(f"cannot read the file ({exc.strerror or exc})")
    if size > limits.max_bytes:
        issues.fail(f"the file is {size:,} bytes: expected at most {limits.max_bytes:,}")
    try:
        if kind in ("csv", "tsv"):
            return _read_text_table(path, kind, file, limits, issues)
        if kind == "excel":
            return _read_excel(path, sheet, file, limits, issues)
        return _read_parquet(path, file, limits, issues)
    except ValidationError:
        raise
    except MemoryError:
        raise ValidationError(ValidationIssue(f"the file is too large to read as {kind}",
                                              file=file)) from None
    except Exception as exc:  # noqa: BLE001 - parser errors of openpyxl/pyarrow/zipfile on a corrupt file
        msg = str(exc).replace(str(path), file)[:300]
        raise ValidationError(ValidationIssue(
            f"cannot read the file as {kind}: {type(exc).__name__}: {msg}", file=file)) from None


# -- shared -----------------------------------------------------------------------------
class _Builder:
    """Collects rows, checking width, cells and cell sizes, locating every problem."""

    def __init__(self, issues: _Issues, limits: Limits, *, pad_short: bool, trim_header: bool = True):
        self.issues, self.limits, self.pad_short = issues, limits, pad_short
        self.trim_header = trim_header
        self.header: list[str] | None = None
        self.rows: list[list[str]] = []
        self.numbers: list[int] = []
        self.cells = 0

    def _check_cells(self, cells: list[str], rownum: int) -> None:
        lim = self.limits.max_cell_chars
        for j, c in enumerate(cells):
            if len(c) > lim:
                col = (self.header[j] if self.header is not None and j < len(self.header)
                       else f"#{j + 1}")
                self.issues.add(f"cell of {len(c):,} characters: expected at most {lim:,} "
                                "(a number, code or name)", rownum, col[:80])

    def add(self, cells: list[str], rownum: int) -> None:
        if self.header is None:
            while self.trim_header and cells and cells[-1].strip() == "":
                cells.pop()  # trailing empty header cells (spreadsheets, trailing commas)
            if not cells and self.trim_header:
                return  # leading blank lines
            if len(cells) > self.limits.max_columns:
                self.issues.fail(f"{len(cells):,} columns: expected at most "
                                 f"{self.limits.max_columns:,}", rownum)
            self._check_cells(cells, rownum)
            self.header = [c.strip() for c in cells]
            return
        if not any(c.strip() for c in cells):
            return  # blank row: no value in it
        width = len(self.header)
        if len(cells) > width:
            extra = cells[width:]
            if any(c.strip() for c in extra):
                self.issues.add(f"{len(cells)} fields: expected {width} as in the header "
                                f"(row 1); the extra cells hold {extra[0][:40]!r}…", rownum,
                                f"#{width + 1}")
                return
            cells = cells[:width]
        elif len(cells) < width:
            if not self.pad_short:
                self.issues.add(f"{len(cells)} field(s): expected {width} as in the header "
                                f"(row 1); column(s) {', '.join(self.header[len(cells):][:3])}"
                                " missing", rownum, self.header[len(cells)][:80])
                return
            cells = cells + [""] * (width - len(cells))
        self._check_cells(cells, rownum)
        self.cells += width
        if len(self.rows) >= self.limits.max_rows:
            self.issues.fail(f"more than {self.limits.max_rows:,} data rows: expected at most "
                             f"{self.limits.max_rows:,}", rownum)
        if self.cells > self.limits.max_cells:
            self.issues.fail(f"more than {self.limits.max_cells:,} cells: expected at most "
                             f"{self.limits.max_cells:,}", rownum)
        self.rows.append(cells)
        self.numbers.append(rownum)

    def table(self, file: str, kind: str, **kw) -> Table:
        if self.issues.items:
            self.issues.fail()
        if self.header is None:
            self.issues.fail("the file is empty: expected a header row (unit, year, indicator, "
                             "value or one column per indicator)")
        return Table(file=file, kind=kind, header=self.header, rows=self.rows,
                     row_numbers=self.numbers, **kw)


def _cell_text(v: object) -> str:
    """A typed cell (Excel, Parquet) as the text a user would have typed."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        if v.is_integer() and abs(v) < 2**53:
            return str(int(v))
        return repr(v)
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            return repr(v)
    return str(v)


# -- CSV / TSV --------------------------------------------------------------------------
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))


def _decode(data: bytes, issues: _Issues) -> tuple[str, str]:
    bom, enc = next(((b, e) for b, e in _BOMS if data.startswith(b)), (b"", None))
    try:
        if enc is not None:
            data = data[len(bom):]
            return data.decode(enc), f"{enc} (BOM)"
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        bad = exc
    if enc is None:
        # Not UTF-8. Windows-1252 first: what Excel writes for "CSV" on Western systems,
        # a superset of Latin-1's printable characters; detection on a few accented
        # names is unreliable (charset_normalizer reads "Réunion" as mac_iceland), and
        # codes and numbers are ASCII in every candidate, so a wrong guess can only
        # garble a name, which is then reported as unknown, never lost silently.
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
        from charset_normalizer import from_bytes

        lo = max(0, bad.start - 32_768)
        guess = from_bytes(data[lo:bad.start + 32_768]).best()
        cand = guess.encoding if guess is not None else None
        if cand and not cand.replace("_", "-").lower().startswith(("utf-8", "ascii")):
            try:
                return data.decode(cand), cand
            except (UnicodeDecodeError, LookupError):
                pass
    line = data[: bad.start].count(b"\n") + 1
    issues.fail(f"cannot decode the file: byte 0x{data[bad.start]:02x} on line {line} is not "
                f"{enc or 'UTF-8'} and no other text encoding fits; expected UTF-8 text", line)
    raise AssertionError  # unreachable


def _sniff(text: str) -> str:
    first = text.split("\n", 1)[0][:65_536]
    try:
        return csv.Sniffer().sniff(first, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_text_table(path: Path, kind: str, file: str, limits: Limits, issues: _Issues) -> Table:
    text, encoding = _decode(path.read_bytes(), issues)
    text = text.removeprefix("\ufeff")
    sep = "\t" if kind == "tsv" else _sniff(text)
    b = _Builder(issues, limits, pad_short=False)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            msg = str(exc)
            if "field larger than field limit" in msg:
                msg = (f"a cell is larger than {csv.field_size_limit():,} characters: expected "
                       "a number, code or name")
            issues.fail(f"not valid {kind.upper()}: {msg}", reader.line_num or start)
        b.add(cells, start)
        start = reader.line_num + 1
    return b.table(file, kind, encoding=encoding)


# -- Excel ------------------------------------------------------------------------------
def _check_zip(path: Path, limits: Limits, issues: _Issues) -> None:
    """Reject a zip bomb from the central directory alone (nothing inflated)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile:
        issues.fail("cannot read the file as excel: not a zip archive, expected an .xlsx "
                    "workbook saved by Excel, LibreOffice or pandas")
    if len(infos) > 10_000:
        issues.fail(f"the workbook holds {len(infos):,} parts: expected at most 10,000")
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed:
        big = max(infos, key=lambda i: i.file_size)
        issues.fail(f"the workbook inflates to {total:,} bytes ({big.filename}: "
                    f"{big.file_size:,}) from {path.stat().st_size:,}: expected at most "
                    f"{limits.max_uncompressed:,} (a zip bomb?)")
    for i in infos:
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size > limits.inflation_floor and ratio > limits.max_inflation:
            issues.fail(f"the workbook part {i.filename} inflates {ratio:,.0f}-fold, from "
                        f"{i.compress_size:,} to {i.file_size:,} bytes: expected at most "
                        f"{limits.max_inflation:g}-fold for a part over "
                        f"{limits.inflation_floor:,} bytes (a zip bomb?)")


def _read_excel(path: Path, sheet: str | int | None, file: str, limits: Limits, issues: _Issues) -> Table:
    _check_zip(path, limits, issues)
    import openpyxl

    deadline = time.monotonic() + limits.max_seconds
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    try:
        names = list(wb.sheetnames)
        if not names:
            issues.fail("the workbook has no sheets")
        if isinstance(sheet, int) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                issues.fail(f"no sheet number {sheet} (the workbook has {len(names)}, from 0)")
            sheet = names[sheet]
        if sheet is not None and sheet not in names:
            issues.fail(f"no sheet named '{sheet}' (sheets: {', '.join(names)})")
        ws = wb[sheet or names[0]]
        if not hasattr(ws, "iter_rows"):
            issues.fail(f"sheet '{ws.title}' is a chart, not a table")
        ws.reset_dimensions()  # do not trust the declared used range (A1:XFD1048576)
        b = _Builder(issues, limits, pad_short=True)  # empty trailing cells are just absent
        for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
            if n % 1024 == 0 and time.monotonic() > deadline:
                issues.fail(f"reading the sheet took more than {limits.max_seconds:g} s "
                            f"(stopped at row {n:,})", n)
            if len(row) > limits.max_columns:
                if any(v is not None and v != "" for v in row[limits.max_columns:]):
                    issues.fail(f"a cell beyond column {limits.max_columns:,}: expected at most "
                                f"{limits.max_columns:,} columns", n)
                row = row[: limits.max_columns]
            b.add([_cell_text(v) for v in row], n)
        return b.table(file, "excel", sheet=ws.title)
    finally:
        wb.close()


# -- Parquet ----------------------------------------------------------------------------
def _read_parquet(path: Path, file: str, limits: Limits, issues: _Issues) -> Table:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as pf:
        md = pf.metadata
        if md.num_columns > limits.max_columns:
            issues.fail(f"{md.num_columns:,} columns: expected at most {limits.max_columns:,}")
        if md.num_rows > limits.max_rows:
            issues.fail(f"{md.num_rows:,} rows: expected at most {limits.max_rows:,}")
        if md.num_rows * max(md.num_columns, 1) > limits.max_cells:
            issues.fail(f"{md.num_rows * md.num_columns:,} cells: expected at most "
                        f"{limits.max_cells:,}")
        inflated = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
        if inflated > limits.max_uncompressed:
            issues.fail(f"the file inflates to {inflated:,} bytes: expected at most "
                        f"{limits.max_uncompressed:,}")
        # keep strings dictionary-encoded until their decoded size is known: a column of
        # one long string repeated a million times is a few kB on disk
        texts = [f.name for f in pf.schema_arrow if pa.types.is_string(f.type)
                 or pa.types.is_large_string(f.type) or pa.types.is_binary(f.type)]
    with pq.ParquetFile(path, read_dictionary=texts) as pf:
        table = pf.read()
    _check_decoded(table, path, limits, issues)
    names = [str(n) for n in table.schema.names]
    if not names:
        issues.fail("the file has no columns")
    cols = [_texts(table.column(i).to_pylist()) for i in range(table.num_columns)]
    b = _Builder(issues, limits, pad_short=True, trim_header=False)
    b.add(list(names), 1)
    for i, cells in enumerate(zip(*cols)):
        b.add(list(cells), i + 2)
    return b.table(file, "parquet")


def _check_decoded(table: pa.Table, path: Path, limits: Limits, issues: _Issues) -> None:
    """Reject, before any cell becomes a Python object, a Parquet table whose text
    decodes to more than ``max_uncompressed`` bytes or that holds a cell longer than
    ``max_cell_chars`` (a few kB of dictionary-encoded Parquet can hold gigabytes)."""
    total = 0
    for name, col in zip(table.schema.names, table.columns):
        for chunk in col.chunks:
            if pa.types.is_dictionary(chunk.type):
                lengths = pc.binary_length(chunk.dictionary).fill_null(0)
                valid = chunk.indices.drop_null()
                counts = np.bincount(valid.to_numpy(zero_copy_only=False), minlength=len(lengths))
                size = int(np.dot(counts, lengths.to_numpy(zero_copy_only=False)))
                longest = int(lengths.to_numpy(zero_copy_only=False)[counts > 0].max(initial=0))
            elif (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)
                  or pa.types.is_binary(chunk.type)):
                lengths = pc.binary_length(chunk)
                longest = pc.max(lengths).as_py() or 0
                size = int(pc.sum(lengths).as_py() or 0)
            else:
                longest, size = 0, 8 * len(chunk)  # about the text of a number such as 41.25
            if longest > limits.max_cell_chars:
                issues.fail(f"column '{name}' holds a cell of {longest:,} characters: expected "
                            f"at most {limits.max_cell_chars:,}")
            total += size
    if total > limits.max_uncompressed:
        issues.fail(f"the file decodes to {total:,} bytes of text from {path.stat().st_size:,}: "
                    f"expected at most {limits.max_uncompressed:,} (a decompression bomb?)")


def _texts(values: Iterable[object]) -> Iterator[str]:
    return [_cell_text(v) for v in values]  # type: ignore[return-value]
