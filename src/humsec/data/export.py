"""Exports of panels and tables: CSV and Excel (formula-injection safe), Parquet, JSON,
multi-sheet workbooks, and SDMX-CSV 2.0 / SDMX-ML 2.1 (see :mod:`humsec.data.sdmx_io`).

Every text cell written to CSV or Excel passes through :func:`neutralise_formula` (one
implementation for the whole code base); every file is written atomically and honours
the umask (:func:`atomic_write`); both live in :mod:`humsec.data.writing`, re-exported
here. Every export of :func:`export_panel` and :func:`export_table` also writes a
Frictionless ``<file>.datapackage.json`` (:mod:`humsec.data.datapackage`) beside the
data; Parquet files carry the provenance as key-value metadata (``humsec.provenance``);
xlsx exports are workbooks with *data*, *sources* and *README* sheets, a frozen header
and filters.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from humsec.data import sdmx_io, service
from humsec.data.datapackage import ExportProvenance, table_schema, write_datapackage
from humsec.data.writing import (
    atomic_write,
    excel_frame,
    is_formula_safe,
    neutralise_formula,
    safe_frame,
    write_csv,
)
from humsec.errors import HumsecError

__all__ = ["DATA_FORMATS", "FORMATS", "PROVENANCE_KEY", "ExportProvenance", "atomic_write",
           "excel_frame", "export_dataset", "export_frame", "export_panel", "export_sdmx", "export_table", "frame_records",
           "is_formula_safe", "neutralise_formula", "panel_table", "parquet_provenance",
           "safe_frame", "sheet_name", "write_csv", "write_json", "write_parquet",
           "write_workbook"]

FORMATS = ("csv", "parquet", "xlsx", "json")
DATA_FORMATS = ("csv", "parquet", "xlsx", "json", "sdmx-csv", "sdmx-ml")
#: Parquet key-value metadata key holding the provenance (JSON).
PROVENANCE_KEY = "humsec.provenance"
_MAX_WIDTH = 60


def sheet_name(name: str, taken: set[str] | None = None) -> str:
    """A valid, unique Excel sheet name (<= 31 characters, none of ``[]:*?/\\``)."""
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


def _widths(frame: pd.DataFrame) -> list[float]:
    out: list[float] = []
    for col in frame.columns:
        sample = frame[col].head(200).astype(str).str.len()
        width = max(len(str(col)), int(sample.max()) if len(sample) else 0) + 2
        out.append(min(width, _MAX_WIDTH))
    return out


def _cells(frame: pd.DataFrame):
    """Rows of Python values for openpyxl (missing -> empty cell)."""
    obj = frame.astype(object)
    obj = obj.where(frame.notna(), None)
    return obj.itertuples(index=False, name=None)


def write_workbook(sheets: Mapping[str, pd.DataFrame], path: str | Path, *,
                   filters: Mapping[str, bool] | None = None) -> Path:
    """Write several frames as the sheets of one formatted .xlsx workbook (atomically,
    formula-safe, streamed with openpyxl's write-only mode): bold frozen header row,
    autofilter, column widths.

    Parameters
    ----------
    sheets : dict[str, pandas.DataFrame]
        Sheet name -> frame, in order (the index is not written: reset it first).
    path : str or Path
        Target file.
    filters : dict[str, bool], optional
        Sheet name -> whether to add an autofilter (default: every sheet).
    """
    # local: openpyxl costs 0.12 s at import, and this module is loaded at CLI start-up
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    filters = filters or {}

    def write(p: Path) -> None:
        taken: set[str] = set()
        wb = Workbook(write_only=True)
        bold = Font(bold=True)
        for name, frame in sheets.items():
            ws = wb.create_sheet(sheet_name(name, taken))
            safe = excel_frame(frame)
            for i, width in enumerate(_widths(safe), 1):
                ws.column_dimensions[get_column_letter(i)].width = width
            ws.freeze_panes = "A2"
            if filters.get(name, True) and len(safe.columns):
                ws.auto_filter.ref = f"A1:{get_column_letter(len(safe.columns))}{len(safe) + 1}"
            header = []
            for col in safe.columns:
                cell = WriteOnlyCell(ws, value=col)
                cell.font = bold
                header.append(cell)
            ws.append(header)
            for row in _cells(safe):
                ws.append(row)
        wb.save(p)

    return atomic_write(Path(path), write)


def _json_default(obj: object) -> object:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if np.isnan(obj) else float(obj)
    if isinstance(obj, (_dt.date, _dt.datetime, pd.Timestamp)):
        return obj.isoformat()
    return str(obj)


def write_json(obj: object, path: str | Path) -> Path:
    """Write ``obj`` as UTF-8 JSON (NaN -> null), atomically."""

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
    return json.loads(df.to_json(orient="records", force_ascii=False, date_format="iso"))


def write_parquet(df: pd.DataFrame, path: str | Path,
                  provenance: ExportProvenance | None = None) -> Path:
    """Write Parquet (no index), atomically, with the provenance as the schema's
    key-value metadata ``humsec.provenance`` (JSON; see :func:`parquet_provenance`)."""
    import pyarrow.parquet as pq  # local: 40 ms at import; this module is loaded at CLI start-up

    table = pa.Table.from_pandas(df, preserve_index=False)
    if provenance is not None:
        meta = dict(table.schema.metadata or {})
        meta[PROVENANCE_KEY.encode()] = json.dumps(provenance.to_dict(), ensure_ascii=False,
                                                   default=str).encode("utf-8")
        table = table.replace_schema_metadata(meta)
    return atomic_write(Path(path), lambda p: pq.write_table(table, p))


def parquet_provenance(path: str | Path) -> dict | None:
    """The provenance stored in a Parquet file's metadata by :func:`write_parquet`."""
    import pyarrow.parquet as pq  # local: 40 ms at import, see write_parquet

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(PROVENANCE_KEY.encode())
    return json.loads(raw) if raw is not None else None


def export_frame(df: pd.DataFrame, path: str | Path, fmt: str | None = None, *,
                 provenance: ExportProvenance | None = None) -> Path:
    """Write ``df`` alone to ``path`` as csv, parquet, xlsx or json (atomically; no data
    package: see :func:`export_table`). Parquet carries ``provenance`` as metadata."""
    path = Path(path)
    fmt = _format(path, fmt, FORMATS)
    if fmt == "csv":
        return atomic_write(path, lambda p: write_csv(df, p))
    if fmt == "parquet":
        return write_parquet(df, path, provenance)
    if fmt == "json":
        return write_json(frame_records(df), path)
    return write_workbook({"data": df}, path)


def _format(path: Path, fmt: str | None, allowed: tuple[str, ...]) -> str:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in allowed:
        raise HumsecError(f"unknown export format '{fmt}': expected one of {', '.join(allowed)}")
    return fmt


def readme_frame(provenance: ExportProvenance, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The README sheet: what the export is, then one line per data column."""
    rows = list(provenance.readme())
    rows.append(("sources", ("one row per indicator on the 'sources' sheet; the data package "
                             "descriptor beside this file lists every file with its hash")))
    for col, text in (columns or {}).items():
        rows.append((f"column {col}", text))
    return pd.DataFrame(rows, columns=["field", "value"])


def export_table(df: pd.DataFrame, path: str | Path, fmt: str | None = None, *,
                 provenance: ExportProvenance, columns: Mapping[str, str] | None = None,
                 sheets: Mapping[str, pd.DataFrame] | None = None) -> list[Path]:
    """Write ``df`` as csv, parquet, xlsx or json plus ``<file>.datapackage.json``.

    Parameters
    ----------
    df : pandas.DataFrame
        The table (the index is not written).
    path : str or Path
        Target file.
    fmt : str, optional
        Format (default: from the suffix).
    provenance : ExportProvenance
        Sources, licences, release and content hash (descriptor, Parquet metadata,
        workbook sheets).
    columns : mapping, optional
        Column -> description (README sheet).
    sheets : mapping, optional
        Extra workbook sheets (xlsx only), after *data* and before *sources*.

    Returns
    -------
    list of Path
        The data file and the descriptor.
    """
    path = Path(path)
    fmt = _format(path, fmt, FORMATS)
    if fmt == "xlsx":
        book = {"data": df, **(sheets or {}), "sources": provenance.sources_frame(),
                "README": readme_frame(provenance, columns)}
        data = write_workbook(book, path, filters={"README": False})
    else:
        data = export_frame(df, path, fmt, provenance=provenance)
    schemas = {data.name: table_schema(df)} if fmt == "csv" else {}
    return [data, write_datapackage([data], provenance, schemas=schemas)]


_PROVENANCE_COLUMNS = ("source", "edition", "licence", "accessed", "url", "content_hash")


def panel_table(panel) -> pd.DataFrame:
    """Tidy observations of a panel with each indicator's provenance as columns."""
    df = panel.data
    prov = pd.DataFrame([
        {"indicator": k, "source": v.source, "edition": v.edition, "licence": v.licence,
         "accessed": str(v.accessed), "url": v.url, "content_hash": v.content_hash}
        for k, v in panel.provenance.items()], columns=["indicator", *_PROVENANCE_COLUMNS])
    if not prov.empty:
        df = df.merge(prov, on="indicator", how="left")
    return df


PANEL_COLUMNS: Mapping[str, str] = {
    "unit": "ISO 3166-1 alpha-3 code (or group code) of the country or area",
    "year": "year of the observation", "indicator": "humsec catalogue code",
    "sex": "sex (_T: total)", "age": "age group (_T: total)", "group": "population group (_T: total)",
    "value": "the observation"}


def export_panel(panel, path: str | Path, fmt: str | None = None, *, name: str = "data",
                 release: str = "", origin: Mapping[str, str] | None = None,
                 title: str = "", labels: Mapping[str, Mapping[str, str]] | None = None) -> list[Path]:
    """Export a :class:`~humsec.model.panel.Panel` with its provenance.

    Parameters
    ----------
    panel : Panel
        The observations and each indicator's provenance.
    path : str or Path
        Target file.
    fmt : str, optional
        csv, parquet, xlsx, json, sdmx-csv or sdmx-ml (default: from the suffix).
        csv and parquet hold the provenance as columns of every row, xlsx on a *sources*
        sheet; SDMX-ML also writes ``<stem>.structure.xml``.
    name : str
        Dataset name (SDMX dataflow ``DF_<NAME>``).
    release : str
        The release or vintage exported (``NAME@VERSION``, ``current``; default ``name``).
    origin : mapping, optional
        Indicator -> snapshot that supplied it.
    title : str
        Human-readable title.
    labels : mapping, optional
        SDMX dimension id -> code -> name (the structure message's code names).

    Returns
    -------
    list of Path
        The files written, the ``<file>.datapackage.json`` descriptor last.
    """
    path = Path(path)
    fmt = _format(path, fmt, DATA_FORMATS)
    prov = ExportProvenance.from_panel(panel, dataset=name, release=release, title=title,
                                       origin=origin)
    if fmt in ("sdmx-csv", "sdmx-ml"):
        flow = sdmx_io.Dataflow(id=sdmx_io.sdmx_id(name), dimensions=sdmx_io.PANEL_DIMENSIONS,
                                name=title or f"humsec dataset {name}")
        return export_sdmx(panel.data, flow, path, fmt, provenance=prov, labels=labels)
    if fmt == "json":
        doc = {"dataset": name, "release": prov.release, "content_hash": prov.content_hash,
               "provenance": {k: v.model_dump(mode="json") for k, v in panel.provenance.items()},
               "observations": frame_records(panel.data)}
        data = write_json(doc, path)
        return [data, write_datapackage([data], prov)]
    if fmt == "xlsx":
        return export_table(panel.data, path, fmt, provenance=prov, columns=PANEL_COLUMNS)
    return export_table(panel_table(panel), path, fmt, provenance=prov, columns=PANEL_COLUMNS)


def export_sdmx(frame: pd.DataFrame, flow: sdmx_io.Dataflow, path: str | Path, fmt: str, *,
                provenance: ExportProvenance,
                labels: Mapping[str, Mapping[str, str]] | None = None) -> list[Path]:
    """SDMX-CSV 2.0 or SDMX-ML 2.1 (data + structure) of ``frame`` plus the data package.

    SDMX-CSV is written with the SDMX-ML structure message beside it
    (``<stem>.structure.xml``), which partners (and ``sdmx1``) need to read it.
    """
    path = Path(path)
    if fmt == "sdmx-csv":
        table = sdmx_io.to_sdmx_csv(frame, flow)
        data = atomic_write(path, lambda p: write_csv(table, p))
        files = [data, _write_structure(frame, flow, path, labels)]
        schemas = {data.name: table_schema(table)}
    elif fmt == "sdmx-ml":
        files = sdmx_io.write_sdmx_ml(frame, flow, path, labels=labels)
        schemas = {}
    else:
        raise HumsecError(f"unknown SDMX format '{fmt}': expected sdmx-csv or sdmx-ml")
    desc = {files[0].name: f"SDMX {'CSV 2.0' if fmt == 'sdmx-csv' else 'ML 2.1 generic data'} "
                           f"of dataflow {flow.ref}",
            files[-1].name: f"SDMX-ML 2.1 structure message (codelists, concepts, DSD, dataflow "
                            f"{flow.ref})"}
    return [*files, write_datapackage(files, provenance, schemas=schemas, descriptions=desc)]


def _write_structure(frame: pd.DataFrame, flow: sdmx_io.Dataflow, path: Path,
                     labels: Mapping[str, Mapping[str, str]] | None) -> Path:
    text = sdmx_io.structure_xml(frame, flow, labels=labels)
    spath = path.with_name(path.stem + ".structure.xml")
    return atomic_write(spath, lambda p: p.write_text(text, encoding="utf-8"))


def export_dataset(settings, dataset: str, path: str | Path, fmt: str | None = None, *,
                   indicators: list[str] | None = None) -> list[Path]:
    """Export a stored dataset with its provenance (the one function behind
    ``humsec export data`` and ``humsec data export``).

    Parameters
    ----------
    settings : Settings
        Where the store is.
    dataset : str
        ``NAME``, ``NAME@VERSION`` or ``current`` (the latest version of every dataset,
        layered).
    path : str or Path
        Target file.
    fmt : str, optional
        One of :data:`DATA_FORMATS` (default: from the suffix).
    indicators : list of str, optional
        Only these indicators.

    Returns
    -------
    list of Path
        The files written (data, SDMX structure, data package descriptor).
    """
    path = Path(path)
    fmt = _format(path, fmt, DATA_FORMATS)
    store = service.open_store(settings)
    if dataset == "current":
        panel, origin = service.current_panel(settings, store)
        release = "current: " + ", ".join(sorted(set(origin.values())))
    else:
        panel = service.panel_for(settings, dataset, store)
        release = store.resolve(dataset).ref
        origin = dict.fromkeys(panel.indicators, release)
    if indicators:
        unknown = sorted(set(indicators) - set(panel.indicators))
        if unknown:
            raise HumsecError(f"dataset '{dataset}' has no indicator {', '.join(unknown)} "
                              f"(has {', '.join(panel.indicators)})")
        panel = panel.filter(indicators=indicators)
        origin = {k: v for k, v in origin.items() if k in set(indicators)}
    cat = service.catalogue(settings, store)
    names = {code: cat[code].name for code in panel.indicators if code in cat}
    name = service.dataset_name_for(dataset.replace("@", "_v") + ".x")
    return export_panel(panel, path, fmt, name=name, release=release, origin=origin,
                        title=f"humsec dataset {dataset}", labels={"INDICATOR": names})
