"""Exports of panels and tables: CSV and Excel (formula-injection safe), Parquet, JSON,
multi-sheet workbooks, and SDMX-CSV / SDMX-ML (see :mod:`humsec.data.sdmx_io`).

Every text cell written to CSV or Excel passes through :func:`neutralise_formula` (one
implementation for the whole code base); every file is written atomically
(:func:`atomic_write`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from humsec.errors import HumsecError

FORMATS = ("csv", "parquet", "xlsx", "json")
# OWASP CSV injection: = + - @ tab CR; also their full-width forms (U+FF1D, U+FF0B,
# U+FF0D, U+FF20), which some spreadsheet programs accept as formula starts.
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# leading characters a spreadsheet may skip before looking for a formula
_SKIPPED = " \n\u00a0\u3000"


def neutralise_formula(cell: object) -> object:
    """Make a text cell safe to open in a spreadsheet (OWASP CSV-injection advice).

    Text starting with ``= + - @``, tab or carriage return (or their full-width forms,
    also after leading spaces or line feeds) is prefixed with a single quote so
    spreadsheet programs show it as text instead of evaluating it. Numbers are left
    alone (a negative *number* is not text).
    """
    if isinstance(cell, str) and cell.lstrip(_SKIPPED).startswith(_DANGEROUS):
        return "'" + cell
    return cell


def is_formula_safe(cell: object) -> bool:
    """Whether a cell would be shown as text (not run) by a spreadsheet."""
    return not (isinstance(cell, str) and cell.lstrip(_SKIPPED).startswith(_DANGEROUS))


def _excel_text(cell: object) -> object:
    """Remove characters that cannot be stored in an .xlsx cell (XML control characters)."""
    if isinstance(cell, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", cell)
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


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Formula-safe CSV with RFC 4180 line ends (CRLF), so that a cell holding a lone
    CR or LF is quoted and reads back intact."""
    safe_frame(df).to_csv(path, index=False, lineterminator="\r\n")


def excel_frame(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`safe_frame` plus removal of characters an .xlsx file cannot hold."""
    out = safe_frame(df)
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_excel_text)
    out.columns = [_excel_text(c) for c in out.columns]
    return out


def sheet_name(name: str, taken: set[str] | None = None) -> str:
    """A valid, unique Excel sheet name (<= 31 characters, none of ``[]:*?/\\``)."""
    import re

    base = re.sub(r"[\[\]:*?/\\]", "_", str(name)).strip("'") or "Sheet"
    base = base[:31]
    out, n = base, 1
    while taken is not None and out.lower() in {t.lower() for t in taken}:
        n += 1
        suffix = f" ({n})"
        out = base[:31 - len(suffix)] + suffix
    if taken is not None:
        taken.add(out)
    return out


def write_workbook(sheets: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write several frames as the sheets of one .xlsx workbook (atomically, formula-safe).

    Parameters
    ----------
    sheets : dict[str, pandas.DataFrame]
        Sheet name -> frame, in order (the index is not written: reset it first).
    """

    def write(p: Path) -> None:
        taken: set[str] = set()
        with pd.ExcelWriter(p, engine="openpyxl") as xw:
            for name, frame in sheets.items():
                excel_frame(frame).to_excel(xw, sheet_name=sheet_name(name, taken), index=False)

    return atomic_write(Path(path), write)


def _json_default(obj: object) -> object:
    import datetime as _dt

    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, (_dt.date, _dt.datetime, pd.Timestamp)):
        return obj.isoformat()
    return str(obj)


def write_json(obj: object, path: str | Path) -> Path:
    """Write ``obj`` as UTF-8 JSON (NaN -> null), atomically."""
    import json
    import math

    def clean(o):
        if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
            return None
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    text = json.dumps(clean(obj), ensure_ascii=False, indent=1, default=_json_default)
    return atomic_write(Path(path), lambda p: p.write_text(text + "\n", encoding="utf-8"))


def frame_records(df: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (NaN -> None, numpy scalars -> Python)."""
    import json

    return json.loads(df.to_json(orient="records", force_ascii=False, date_format="iso"))


def export_frame(df: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``df`` to ``path`` as csv, parquet, xlsx or json (atomically)."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise HumsecError(f"unknown export format '{fmt}': expected one of {', '.join(FORMATS)}")
    if fmt == "csv":
        return atomic_write(path, lambda p: write_csv(df, p))
    if fmt == "parquet":
        return atomic_write(path, lambda p: df.to_parquet(p, index=False))
    if fmt == "json":
        return write_json(frame_records(df), path)
    return atomic_write(path, lambda p: excel_frame(df).to_excel(p, index=False, engine="openpyxl"))


DATA_FORMATS = ("csv", "parquet", "xlsx", "json", "sdmx-csv", "sdmx-ml")


def panel_table(panel) -> pd.DataFrame:
    """Tidy observations of a panel with each indicator's provenance as columns."""
    df = panel.data
    prov = pd.DataFrame([
        {"indicator": k, "source": v.source, "edition": v.edition, "licence": v.licence,
         "accessed": str(v.accessed), "url": v.url, "content_hash": v.content_hash}
        for k, v in panel.provenance.items()])
    if not prov.empty:
        df = df.merge(prov, on="indicator", how="left")
    return df


def export_panel(panel, path: str | Path, fmt: str | None = None, *,
                 name: str = "data") -> list[Path]:
    """Export a :class:`~humsec.model.panel.Panel` as csv, parquet, xlsx, json, sdmx-csv or
    sdmx-ml (SDMX-ML also writes ``<stem>.structure.xml``). Returns the files written."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in DATA_FORMATS:
        raise HumsecError(f"unknown export format '{fmt}': expected one of {', '.join(DATA_FORMATS)}")
    if fmt in ("sdmx-csv", "sdmx-ml"):
        from humsec.data import sdmx_io

        flow = sdmx_io.Dataflow(id=sdmx_io.sdmx_id(name), dimensions=sdmx_io.PANEL_DIMENSIONS,
                                name=f"humsec dataset {name}")
        if fmt == "sdmx-csv":
            return [sdmx_io.write_sdmx_csv(panel.data, flow, path)]
        return sdmx_io.write_sdmx_ml(panel.data, flow, path)
    if fmt == "json":
        doc = {"dataset": name,
               "provenance": {k: v.model_dump(mode="json") for k, v in panel.provenance.items()},
               "observations": frame_records(panel.data)}
        return [write_json(doc, path)]
    return [export_frame(panel_table(panel), path, fmt)]
