"""Exports of panels and tables: CSV (formula-injection safe), Parquet, Excel."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from humsec.errors import HumsecError

FORMATS = ("csv", "parquet", "xlsx")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(cell: object) -> object:
    """Make a text cell safe to open in a spreadsheet (OWASP CSV-injection advice).

    Text starting with ``= + - @``, tab or carriage return is prefixed with a single
    quote so spreadsheet programs show it as text instead of evaluating it. Numbers are
    left alone (a negative *number* is not text).
    """
    if isinstance(cell, str) and cell.startswith(_DANGEROUS):
        return "'" + cell
    return cell


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell (and column name) passed through :func:`neutralise_formula`."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise_formula)
    out.columns = [neutralise_formula(str(c)) for c in out.columns]
    return out


def atomic_write(path: Path, write) -> Path:
    """Write through a temporary file in the same folder and rename it into place,
    so a crash never leaves a half-written file under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def export_frame(df: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``df`` to ``path`` as csv, parquet or xlsx (atomically)."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise HumsecError(f"unknown export format '{fmt}': expected one of {', '.join(FORMATS)}")
    if fmt == "csv":
        return atomic_write(path, lambda p: safe_frame(df).to_csv(p, index=False))
    if fmt == "parquet":
        return atomic_write(path, lambda p: df.to_parquet(p, index=False))
    return atomic_write(path, lambda p: safe_frame(df).to_excel(p, index=False, engine="openpyxl"))
