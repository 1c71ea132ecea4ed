"""The ground floor every export stands on: atomic writes that honour the umask, and
formula-safe text cells for CSV and Excel.

:func:`atomic_write` writes through a temporary file in the target's folder and renames
it into place, so a crash never leaves a half-written file under the final name; the
file gets the mode a plain ``open(path, "w")`` would give it (the existing file's mode,
or ``0o666`` less the process umask), not the ``0o600`` of :func:`tempfile.mkstemp`.
:func:`neutralise_formula` is the one implementation of the OWASP CSV-injection advice.
This module imports nothing else of :mod:`humsec.data`, so every writer (tables, SDMX,
data packages) can use it without an import circle.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

__all__ = ["atomic_write", "current_umask", "excel_frame", "excel_text", "is_formula_safe",
           "neutralise_formula", "safe_frame", "write_csv"]

# OWASP CSV injection: = + - @ tab CR; also their full-width forms (U+FF1D, U+FF0B,
# U+FF0D, U+FF20), which some spreadsheet programs accept as formula starts.
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# leading characters a spreadsheet may skip before looking for a formula
_SKIPPED = " \n\u00a0\u3000"
# characters an .xlsx cell cannot hold (openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE)
_ILLEGAL_XLSX = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def neutralise_formula(cell: object) -> object:
    """Make a text cell safe to open in a spreadsheet (OWASP CSV-injection advice).

    Text starting with ``= + - @``, tab or carriage return (or their full-width forms,
    also after leading spaces or line feeds) is prefixed with a single quote so
    spreadsheet programs show it as text instead of evaluating it. Numbers are left
    alone (a negative *number* is not text).

    Parameters
    ----------
    cell : object
        Any cell value.

    Returns
    -------
    object
        ``cell``, or ``"'" + cell`` for dangerous text.
    """
    if isinstance(cell, str) and cell.lstrip(_SKIPPED).startswith(_DANGEROUS):
        return "'" + cell
    return cell


def is_formula_safe(cell: object) -> bool:
    """Whether a cell would be shown as text (not run) by a spreadsheet."""
    return not (isinstance(cell, str) and cell.lstrip(_SKIPPED).startswith(_DANGEROUS))


def excel_text(cell: object) -> object:
    """Replace characters that cannot be stored in an .xlsx cell (XML control characters)."""
    if isinstance(cell, str):
        return _ILLEGAL_XLSX.sub("\ufffd", cell)
    return cell


def _is_text(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s)


def _safe_column(s: pd.Series) -> pd.Series:
    """:func:`neutralise_formula` over a column, computed once per distinct value."""
    try:
        uniq = pd.unique(s)
    except TypeError:  # unhashable cells (lists, dicts): cell by cell
        return s.map(neutralise_formula)
    changed = {v: neutralise_formula(v) for v in uniq if not is_formula_safe(v)}
    if not changed:
        return s
    return s.map(lambda v: changed.get(v, v) if isinstance(v, str) else v)


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell (and column name) passed through :func:`neutralise_formula`."""
    out = df.copy()
    for col in out.columns:
        if _is_text(out[col]):
            out[col] = _safe_column(out[col])
    out.columns = [neutralise_formula(str(c)) for c in out.columns]
    return out


def excel_frame(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`safe_frame` plus removal of characters an .xlsx file cannot hold."""
    out = safe_frame(df)
    for col in out.columns:
        if _is_text(out[col]):
            out[col] = out[col].map(excel_text)
    out.columns = [excel_text(c) for c in out.columns]
    return out


def current_umask() -> int:
    """The process umask, read without changing it where the system allows
    (``/proc/self/status`` on Linux; elsewhere set and restored at once)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` through a temporary file in the same folder, renamed into place.

    Parameters
    ----------
    path : str or Path
        The final file (its folder is created).
    write : callable
        ``write(tmp_path)`` writes the content to the temporary file.

    Returns
    -------
    Path
        ``path``. The file has the existing file's permissions, or for a new file
        ``0o666`` less the umask. On any error the temporary file is removed and an
        existing ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Formula-safe UTF-8 CSV with RFC 4180 line ends (CRLF), so that a cell holding a
    lone CR or LF is quoted and reads back intact (not atomic: pass it to
    :func:`atomic_write`)."""
    safe_frame(df).to_csv(path, index=False, lineterminator="\r\n")
