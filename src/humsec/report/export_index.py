"""Exports of a built index with every pipeline step, as INFORM publishes its model.

The Excel workbook has one sheet per data set of the build (``Raw``, ``Denominated``,
``Imputed``, ``Screened``, ``Treated``, ``Normalised``, ``Aggregated`` — those the spec
ran), then ``Ranks``, ``Weights`` (each aggregate's children and their weights),
``EffectiveWeights`` (weight of every node in the root score), ``StepLog`` (the
append-only log: step, method, resolved parameters, overrides, exclusions, details) and
``About`` (spec, year, humsec version, input). A build over several years stacks the
years in each sheet (column ``year``).

Other formats: ``csv``/``parquet`` write one long table ``dataset, year, unit, node,
value`` (every data set plus the ranks); ``json`` writes everything; ``sdmx-csv`` and
``sdmx-ml`` write a dataflow ``HUMSEC:DF_<SPEC>`` with dimensions ``REF_AREA``,
``MEASURE`` (node) and ``STAGE`` (data set, or ``RANK``) — SDMX-CSV 2.0 and SDMX-ML 2.1,
each with its SDMX-ML structure message ``<stem>.structure.xml``.

Every format also writes a Frictionless ``<file>.datapackage.json`` beside the export
(spec, years, input, software; see :mod:`humsec.data.datapackage`); Parquet carries the
same provenance as key-value metadata.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from humsec import __version__
from humsec.data import sdmx_io
from humsec.data.datapackage import ExportProvenance, table_schema, write_datapackage
from humsec.data.export import (
    export_frame,
    export_sdmx,
    frame_records,
    write_json,
    write_workbook,
)
from humsec.errors import HumsecError

__all__ = ["INDEX_FORMATS", "export_index", "index_long", "index_sheets"]

INDEX_FORMATS = ("xlsx", "csv", "parquet", "json", "sdmx-csv", "sdmx-ml")


def _results(results) -> list:
    """IndexResult, PanelResult or mapping/list of IndexResult -> list of IndexResult."""
    if hasattr(results, "datasets"):
        return [results]
    if hasattr(results, "results"):
        results = results.results
    if isinstance(results, Mapping):
        return list(results.values())
    return list(results)


def _with_year(frame: pd.DataFrame, year, many: bool) -> pd.DataFrame:
    out = frame.copy()
    out.index = out.index.rename("unit")
    out = out.reset_index()
    if many:
        out.insert(0, "year", year)
    return out


def _jsonable(v):
    return json.loads(json.dumps(v, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _log_frame(result) -> pd.DataFrame:
    rows = []
    for n, rec in enumerate(result.log, 1):
        rows.append({"n": n, "step": rec.step, "method": rec.method, "dataset": rec.dataset or "",
                     "params": json.dumps(_jsonable(dict(rec.params)), sort_keys=True),
                     "overrides": json.dumps(_jsonable({k: dict(v) for k, v in rec.overrides.items()}),
                                             sort_keys=True),
                     "exclude": ", ".join(rec.exclude),
                     "details": json.dumps(_jsonable(dict(rec.details)), sort_keys=True)})
    return pd.DataFrame(rows, columns=["n", "step", "method", "dataset", "params", "overrides",
                                       "exclude", "details"])


def _weights_frame(result) -> pd.DataFrame:
    rows = [{"aggregate": agg, "child": child, "weight": float(w)}
            for agg, ws in result.weights.items() for child, w in ws.items()]
    return pd.DataFrame(rows, columns=["aggregate", "child", "weight"])


def index_sheets(results, *, source: str = "") -> dict[str, pd.DataFrame]:
    """The workbook's sheets (name -> frame), in order."""
    res = _results(results)
    if not res:
        raise HumsecError("nothing to export: the build produced no result")
    many = len(res) > 1
    names: list[str] = []
    for r in res:
        names += [n for n in r.datasets if n not in names]
    sheets: dict[str, pd.DataFrame] = {}
    for name in names:
        sheets[name] = pd.concat([_with_year(r.datasets[name], r.year, many)
                                  for r in res if name in r.datasets], ignore_index=True)
    sheets["Ranks"] = pd.concat([_with_year(r.ranks, r.year, many) for r in res], ignore_index=True)

    def stack(fn, label="year"):
        frames = []
        for r in res:
            f = fn(r)
            if many:
                f.insert(0, label, r.year)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    sheets["Weights"] = stack(_weights_frame)
    sheets["EffectiveWeights"] = stack(
        lambda r: r.effective_weights().rename_axis("node").reset_index())
    sheets["StepLog"] = stack(_log_frame)
    spec = res[0].spec
    about = [("spec", spec.name), ("title", getattr(spec, "title", "") or ""),
             ("spec version", str(getattr(spec, "version", "") or "")),
             ("years", ", ".join(str(r.year) for r in res)), ("input", source),
             ("exported", _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()),
             ("software", f"humsec {__version__}"),
             ("sheets", ", ".join(list(sheets)))]
    sheets["About"] = pd.DataFrame(about, columns=["field", "value"])
    return sheets


def index_long(results) -> pd.DataFrame:
    """Every data set and the ranks as one long table ``dataset, year, unit, node, value``."""
    frames = []
    for r in _results(results):
        items = list(r.datasets.items()) + [("Ranks", r.ranks)]
        for name, wide in items:
            long = wide.rename_axis(index="unit", columns="node").stack(future_stack=True)
            long = long.rename("value").reset_index()
            long.insert(0, "year", r.year)
            long.insert(0, "dataset", name)
            frames.append(long)
    out = pd.concat(frames, ignore_index=True)
    out["value"] = pd.to_numeric(out["value"]).astype(float)
    return out


def export_index(results, path: str | Path, fmt: str | None = None, *,
                 source: str = "") -> list[Path]:
    """Write a built index to ``path`` in ``fmt`` (see the module docstring).

    Returns
    -------
    list of Path
        The files written (SDMX-ML also writes ``<stem>.structure.xml``).
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in INDEX_FORMATS:
        raise HumsecError(f"unknown index export format '{fmt}': expected one of "
                          f"{', '.join(INDEX_FORMATS)}")
    res = _results(results)
    if not res:
        raise HumsecError("nothing to export: the build produced no result")
    prov = index_provenance(res, source=source)
    if fmt == "xlsx":
        sheets = index_sheets(res, source=source)
        data = write_workbook(sheets, path, filters={"About": False})
        return [data, write_datapackage([data], prov, descriptions={
            data.name: "one sheet per pipeline step: " + ", ".join(sheets)})]
    if fmt in ("csv", "parquet"):
        long = index_long(res)
        data = export_frame(long, path, fmt, provenance=prov)
        schemas = {data.name: table_schema(long)} if fmt == "csv" else {}
        return [data, write_datapackage([data], prov, schemas=schemas)]
    if fmt == "json":
        doc = {"spec": res[0].spec.name, "input": source, "results": []}
        for r in res:
            doc["results"].append({
                "year": r.year,
                "datasets": {n: frame_records(d.rename_axis("unit").reset_index())
                             for n, d in r.datasets.items()},
                "ranks": frame_records(r.ranks.rename_axis("unit").reset_index()),
                "weights": {a: {c: float(w) for c, w in ws.items()} for a, ws in r.weights.items()},
                "effective_weights": {k: float(v) for k, v in r.effective_weights().items()},
                "log": frame_records(_log_frame(r)),
            })
        data = write_json(doc, path)
        return [data, write_datapackage([data], prov)]
    long = index_long(res)
    if long["year"].isna().any():
        raise HumsecError("SDMX needs a time period: build the index for a year (--year) or "
                          "from data with a year column")
    long["stage"] = long["dataset"].str.upper().replace({"RANKS": "RANK"})
    spec = res[0].spec
    flow = sdmx_io.Dataflow(id=sdmx_io.sdmx_id(spec.name), name=getattr(spec, "title", "") or spec.name,
                            dimensions=(("REF_AREA", "unit"), ("MEASURE", "node"), ("STAGE", "stage")))
    return export_sdmx(long, flow, path, fmt, provenance=prov)


def index_provenance(results, *, source: str = "") -> ExportProvenance:
    """What a built index export comes from: spec, years, input file, software."""
    res = _results(results)
    spec = res[0].spec
    years = ", ".join(str(r.year) for r in res)
    notes = [("spec version", str(getattr(spec, "version", "") or "")), ("years", years),
             ("input", source)]
    return ExportProvenance(
        dataset=spec.name, title=getattr(spec, "title", "") or spec.name,
        release=f"index {spec.name} built by humsec {__version__} for {years}"
                + (f" from {source}" if source else ""),
        notes=tuple((k, v) for k, v in notes if v))
