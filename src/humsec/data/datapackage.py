"""Provenance of an export and the Frictionless data package written beside it.

Every export (CSV, Parquet, xlsx, JSON, SDMX) gets ``<file>.datapackage.json`` in the same
folder (``hsi.csv`` -> ``hsi.csv.datapackage.json``; SDMX: named after the data file): a
`Frictionless Data Package <https://datapackage.org>`_ descriptor naming each file
written (path, format, media type, size, ``sha256:`` hash; a table schema for CSV), the
sources and licences of the data, and — under the ``humsec`` property — the release
or vintage exported, the content hash of the observations and each indicator's
provenance. :class:`ExportProvenance` is the one value every writer reads: the Parquet
key-value metadata (``humsec.provenance``), the workbook's *sources* and *README* sheets
and the descriptor all come from it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from humsec import __version__
from humsec.data.writing import atomic_write, neutralise_formula
from humsec.model.panel import Provenance

__all__ = ["ExportProvenance", "datapackage_path", "field_type", "package_descriptor",
           "sha256_file", "table_schema", "write_datapackage"]

#: Media types of the formats humsec writes.
MEDIA_TYPES: Mapping[str, str] = {
    "csv": "text/csv", "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json", "xml": "application/xml"}
#: Licence ids (SPDX) with a canonical address.
LICENCE_URLS: Mapping[str, str] = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-3.0-IGO": "https://creativecommons.org/licenses/by/3.0/igo/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "CC-BY-NC-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "ODbL-1.0": "https://opendatacommons.org/licenses/odbl/1-0/",
    "MIT": "https://opensource.org/licenses/MIT"}
_LICENCE_ID = re.compile(r"^[-a-zA-Z0-9._]+$")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ExportProvenance:
    """Where exported numbers come from (immutable).

    Parameters
    ----------
    dataset : str
        Name of what is exported (a dataset, an index spec).
    release : str
        The release or vintage exported (``NAME@VERSION``, ``current``, a built index).
    title : str
        Human-readable title.
    content_hash : str
        SHA-256 of the exported observations (order-independent; see
        :func:`humsec.model.panel.content_hash`).
    indicators : tuple of (str, Provenance)
        Each indicator's provenance.
    origin : tuple of (str, str)
        Indicator -> the stored snapshot that supplied it.
    notes : tuple of (str, str)
        Further (field, value) lines for the README.
    exported : str
        When the export was made (ISO 8601, UTC).
    """

    dataset: str
    release: str = ""
    title: str = ""
    content_hash: str = ""
    indicators: tuple[tuple[str, Provenance], ...] = ()
    origin: tuple[tuple[str, str], ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    exported: str = field(default_factory=_now)

    @classmethod
    def from_panel(cls, panel, *, dataset: str, release: str = "", title: str = "",
                   origin: Mapping[str, str] | None = None) -> ExportProvenance:
        """The provenance of a :class:`~humsec.model.panel.Panel`."""
        return cls(dataset=dataset, release=release or dataset, title=title,
                   content_hash=panel.content_hash(),
                   indicators=tuple(sorted(panel.provenance.items())),
                   origin=tuple(sorted((origin or {}).items())))

    def sources_frame(self) -> pd.DataFrame:
        """One row per indicator: source, edition, licence, accessed, url, citation,
        publisher, via, snapshot, content hash."""
        origin = dict(self.origin)
        cols = ["indicator", "source", "edition", "licence", "accessed", "url", "citation",
                "publisher", "via", "snapshot", "content_hash"]
        rows = [{"indicator": code, "source": p.source, "edition": p.edition, "licence": p.licence,
                 "accessed": str(p.accessed), "url": p.url, "citation": p.citation,
                 "publisher": p.publisher, "via": p.via, "snapshot": origin.get(code, ""),
                 "content_hash": p.content_hash} for code, p in self.indicators]
        return pd.DataFrame(rows, columns=cols)

    def licences(self) -> list[str]:
        """The distinct licences, in order of first appearance."""
        return list(dict.fromkeys(p.licence for _, p in self.indicators if p.licence))

    def sources(self) -> list[dict]:
        """The distinct sources as Frictionless ``sources`` entries."""
        seen: dict[tuple, dict] = {}
        for _, p in self.indicators:
            key = (p.source, p.edition, p.url)
            if key not in seen:
                entry = {"title": p.source + (f" ({p.edition})" if p.edition else "")}
                if p.url:
                    entry["path"] = p.url
                seen[key] = entry
        return list(seen.values())

    def readme(self) -> list[tuple[str, str]]:
        """(field, value) lines describing the export."""
        lines = [("dataset", self.dataset), ("title", self.title or self.dataset),
                 ("release / vintage", self.release), ("exported", self.exported),
                 ("software", f"humsec {__version__}")]
        if self.content_hash:
            lines.append(("content hash (SHA-256 of the observations)", self.content_hash))
        if self.indicators:
            lines.append(("indicators", str(len(self.indicators))))
            lines.append(("licences", ", ".join(self.licences()) or "not stated"))
        return [*lines, *self.notes]

    def to_dict(self) -> dict:
        """JSON-ready form (the ``humsec`` property of the descriptor, the Parquet
        ``humsec.provenance`` metadata)."""
        origin = dict(self.origin)
        return {"dataset": self.dataset, "title": self.title, "release": self.release,
                "exported": self.exported, "software": f"humsec {__version__}",
                "content_hash": self.content_hash, "notes": dict(self.notes),
                "indicators": {code: {**p.model_dump(mode="json"),
                                      **({"snapshot": origin[code]} if code in origin else {})}
                               for code, p in self.indicators}}


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def field_type(s: pd.Series) -> str:
    """The Table Schema type of a column."""
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_integer_dtype(s):
        return "integer"
    if pd.api.types.is_float_dtype(s):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    return "string"


def table_schema(df: pd.DataFrame) -> dict:
    """A Frictionless table schema for a frame as :func:`humsec.data.writing.write_csv`
    writes it (column names formula-neutralised like the header)."""
    return {"fields": [{"name": str(neutralise_formula(str(c))), "type": field_type(df[c])}
                       for c in df.columns]}


def _resource_name(path: Path, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9._-]+", "-", path.name.lower()).strip("-") or "data"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


def _licence(text: str) -> dict:
    if _LICENCE_ID.fullmatch(text):
        out = {"name": text}
        if text in LICENCE_URLS:
            out["path"] = LICENCE_URLS[text]
        return out
    return {"name": re.sub(r"[^-a-zA-Z0-9._]+", "-", text).strip("-") or "other", "title": text}


def datapackage_path(first: str | Path) -> Path:
    """``<file name>.datapackage.json`` beside the export's (first) file (``p.csv`` ->
    ``p.csv.datapackage.json``), so that exports of one stem in several formats keep
    their own descriptors."""
    first = Path(first)
    return first.with_name(first.name + ".datapackage.json")


def package_descriptor(files: Iterable[str | Path], provenance: ExportProvenance, *,
                       schemas: Mapping[str, Mapping] | None = None,
                       descriptions: Mapping[str, str] | None = None,
                       base: str | Path | None = None) -> dict:
    """The Frictionless descriptor of exported ``files``.

    Parameters
    ----------
    files : iterable of path
        The files written (each becomes a resource; paths relative to ``base``).
    provenance : ExportProvenance
        Sources, licences, release and content hash.
    schemas : mapping, optional
        File name -> table schema (CSV resources).
    descriptions : mapping, optional
        File name -> description.
    base : path, optional
        The descriptor's folder (default: the first file's).
    """
    paths = [Path(f) for f in files]
    folder = Path(base) if base is not None else paths[0].parent
    schemas, descriptions = schemas or {}, descriptions or {}
    taken: set[str] = set()
    resources = []
    for f in paths:
        fmt = f.suffix.lstrip(".").lower()
        res: dict[str, Any] = {"name": _resource_name(f, taken), "path": f.relative_to(folder).as_posix(),
               "format": fmt, "mediatype": MEDIA_TYPES.get(fmt, "application/octet-stream"),
               "bytes": f.stat().st_size, "hash": "sha256:" + sha256_file(f)}
        if fmt in ("csv", "json", "xml"):
            res["encoding"] = "utf-8"
        if f.name in descriptions:
            res["description"] = descriptions[f.name]
        if fmt == "csv" and f.name in schemas:
            res["profile"] = "tabular-data-resource"
            res["schema"] = dict(schemas[f.name])
            res["dialect"] = {"delimiter": ",", "lineTerminator": "\r\n", "header": True}
        resources.append(res)
    name = re.sub(r"[^a-z0-9._-]+", "-", provenance.dataset.lower()).strip("-") or "humsec-export"
    desc: dict[str, Any] = {"name": name, "title": provenance.title or provenance.dataset,
            "description": f"humsec export of {provenance.dataset}"
                           + (f" (release {provenance.release})" if provenance.release else ""),
            "created": provenance.exported, "resources": resources}
    if provenance.licences():
        desc["licenses"] = [_licence(lic) for lic in provenance.licences()]
    if provenance.sources():
        desc["sources"] = provenance.sources()
    desc["humsec"] = provenance.to_dict()
    return desc


def write_datapackage(files: Iterable[str | Path], provenance: ExportProvenance, *,
                      schemas: Mapping[str, Mapping] | None = None,
                      descriptions: Mapping[str, str] | None = None,
                      path: str | Path | None = None) -> Path:
    """Write the descriptor (default ``<file>.datapackage.json`` beside the first file),
    atomically. Returns its path."""
    paths = [Path(f) for f in files]
    target = Path(path) if path is not None else datapackage_path(paths[0])
    desc = package_descriptor(paths, provenance, schemas=schemas, descriptions=descriptions,
                              base=target.parent)
    text = json.dumps(desc, ensure_ascii=False, indent=1, default=str) + "\n"
    return atomic_write(target, lambda p: p.write_text(text, encoding="utf-8"))
