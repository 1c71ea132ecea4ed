"""SDMX exports for international partners: SDMX-ML 2.1 and SDMX-CSV 2.0.

A tidy frame becomes the observations of one *dataflow* ``AGENCY:ID(VERSION)`` whose data
structure (DSD) has the given dimension columns, ``TIME_PERIOD`` and the primary measure
``OBS_VALUE``.

* The SDMX-ML *structure* message holds a codelist per dimension (the codes the data
  use), a concept scheme, the DSD and the dataflow.
* The SDMX-ML *data* message is a **generic** time-series data message
  (``dimensionAtObservation="TIME_PERIOD"``): one ``Series`` per key, one ``Obs`` per
  period. Both messages are valid against the official SDMX 2.1 schemas as published
  (``sdmx.validate_xml``); a generic message needs no schema generated from the DSD.
  They are written as text in one vectorised pass and streamed to disk (the ``current``
  panel, ~1 M observations, takes seconds), and read back with ``sdmx1``
  (:func:`read_sdmx_ml`).
* SDMX-CSV 2.0 has the columns ``STRUCTURE`` (``dataflow``), ``STRUCTURE_ID``
  (``AGENCY:ID(VERSION)``), ``ACTION`` (``I``), the dimensions, ``TIME_PERIOD`` and
  ``OBS_VALUE`` — the table ``sdmx.to_csv`` writes — and is read back with ``sdmx1``
  given the structure (:func:`read_sdmx_csv`).

Missing (and infinite) values are not written: SDMX omits absent observations.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd

from humsec.data.writing import atomic_write, write_csv
from humsec.errors import HumsecError

__all__ = ["PANEL_DIMENSIONS", "Dataflow", "panel_frame", "read_sdmx_csv", "read_sdmx_ml",
           "sdmx_id", "to_sdmx_csv", "to_sdmx_ml", "write_sdmx_csv", "write_sdmx_ml"]

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CODE = r"[^A-Za-z0-9_@$\-]"

_V21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1"
_NS = (f'xmlns:mes="{_V21}/message" xmlns:str="{_V21}/structure" '
       f'xmlns:com="{_V21}/common"')
_GEN_NS = f'xmlns:mes="{_V21}/message" xmlns:gen="{_V21}/data/generic" xmlns:com="{_V21}/common"'

#: English names of the concepts humsec exports (others are named by their id).
CONCEPT_NAMES: Mapping[str, str] = {
    "REF_AREA": "Reference area", "INDICATOR": "Indicator", "SEX": "Sex", "AGE": "Age",
    "GROUP": "Population group", "MEASURE": "Measure (index node)",
    "STAGE": "Stage of the index pipeline", "TIME_PERIOD": "Time period",
    "OBS_VALUE": "Observation value"}


@dataclass(frozen=True)
class Dataflow:
    """Identity and dimensions of an exported dataflow.

    Parameters
    ----------
    id : str
        Dataflow id (``DF_HUMSEC_HSI``); letters, digits, ``_``.
    dimensions : tuple of (str, str)
        (SDMX dimension id, frame column) in key order, without the time dimension.
    agency : str
        Maintenance agency id.
    version : str
        Dataflow and DSD version.
    time_column : str
        Frame column holding the period (year).
    value_column : str
        Frame column holding the observation value.
    name : str
        Human-readable name.
    """

    id: str
    dimensions: tuple[tuple[str, str], ...]
    agency: str = "HUMSEC"
    version: str = "1.0"
    time_column: str = "year"
    value_column: str = "value"
    name: str = ""

    def __post_init__(self) -> None:
        for ident in (self.id, self.agency, *(d for d, _ in self.dimensions)):
            if not _ID.fullmatch(ident):
                raise HumsecError(f"invalid SDMX id '{ident}': use letters, digits and '_' "
                                  "(starting with a letter)")
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", self.version):
            raise HumsecError(f"invalid SDMX version '{self.version}': use e.g. 1.0")

    @property
    def ref(self) -> str:
        """``AGENCY:ID(VERSION)``."""
        return f"{self.agency}:{self.id}({self.version})"

    @property
    def core(self) -> str:
        return self.id.removeprefix("DF_")

    @property
    def dsd_id(self) -> str:
        return "DSD_" + self.core

    @property
    def structure_id(self) -> str:
        """The ``structureID`` a data message's header and data set refer to."""
        return f"{self.agency}_{self.dsd_id}_{self.version.replace('.', '_')}"

    def codelist_id(self, dim: str) -> str:
        return f"CL_{self.core}_{dim}"[:100]

    @property
    def scheme_id(self) -> str:
        return "CS_" + self.core


def sdmx_id(text: str, prefix: str = "DF_") -> str:
    """An SDMX id from free text (``"hsi 2024"`` -> ``"DF_HSI_2024"``)."""
    core = re.sub(r"[^A-Za-z0-9_]+", "_", str(text)).strip("_").upper() or "DATA"
    if not core[0].isalpha() and not prefix:
        core = "X" + core
    return (prefix + core)[:50]


def panel_frame(panel) -> pd.DataFrame:
    """A :class:`~humsec.model.panel.Panel` as the frame of the default panel dataflow
    (``REF_AREA, INDICATOR, SEX, AGE, GROUP`` + ``year``, ``value``)."""
    return panel.data


PANEL_DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("REF_AREA", "unit"), ("INDICATOR", "indicator"), ("SEX", "sex"), ("AGE", "age"),
    ("GROUP", "group"))


def _codes(col: pd.Series) -> pd.Series:
    """Values as SDMX codes (IDType: letters, digits, ``_ @ $ -``; empty -> ``_Z``; a
    leading ``-`` or ``@`` gets a ``_`` before it),
    computed once per distinct value."""
    uniq = pd.unique(col.astype(str))
    clean = pd.Series(uniq).str.replace(_CODE, "_", regex=True).replace("", "_Z")
    # a code never starts like a spreadsheet formula, so SDMX-CSV keeps it verbatim
    clean = clean.str.replace(r"^(?=[-@])", "_", regex=True)
    return col.astype(str).map(dict(zip(uniq, clean)))


def _times(col: pd.Series) -> pd.Series:
    num = pd.to_numeric(col, errors="coerce")
    if num.notna().all() and (num == num.round()).all():
        return num.astype("int64").astype(str)
    return col.astype(str)


@dataclass(frozen=True)
class _Obs:
    """The observations to write: codes per dimension, periods and values, sorted by
    series key then period."""

    codes: pd.DataFrame
    time: np.ndarray
    value: np.ndarray


def _observations(frame: pd.DataFrame, flow: Dataflow) -> _Obs:
    cols = [c for _, c in flow.dimensions]
    missing = [c for c in (*cols, flow.time_column, flow.value_column) if c not in frame.columns]
    if missing:
        raise HumsecError(f"cannot export as SDMX: the data lack column(s) {', '.join(missing)}")
    value = pd.to_numeric(frame[flow.value_column], errors="coerce").astype(float)
    keep = np.isfinite(value.to_numpy())
    sub = frame.loc[keep]
    codes = pd.DataFrame({d: _codes(sub[c]) for d, c in flow.dimensions}, index=sub.index)
    codes["TIME_PERIOD"] = _times(sub[flow.time_column])
    codes["OBS_VALUE"] = value[keep]
    codes = codes.sort_values([*(d for d, _ in flow.dimensions), "TIME_PERIOD"], kind="stable")
    return _Obs(codes=codes[[d for d, _ in flow.dimensions]].reset_index(drop=True),
                time=codes["TIME_PERIOD"].to_numpy(dtype=object),
                value=codes["OBS_VALUE"].to_numpy(dtype=float))


def _prepared(prepared: _dt.datetime | None) -> str:
    prepared = prepared or _dt.datetime.now(_dt.UTC)
    if prepared.tzinfo is None:
        prepared = prepared.replace(tzinfo=_dt.UTC)
    return prepared.astimezone(_dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _header(flow: Dataflow, prepared: str, structure: str = "") -> str:
    ident = "HUMSEC" + re.sub(r"\D", "", prepared)
    return (f"<mes:Header><mes:ID>{ident}</mes:ID><mes:Test>false</mes:Test>"
            f"<mes:Prepared>{prepared}</mes:Prepared><mes:Sender id={quoteattr(flow.agency)}/>"
            f"{structure}</mes:Header>")


def _name(text: str) -> str:
    return f'<com:Name xml:lang="en">{escape(text)}</com:Name>'


def _maint(flow: Dataflow, ident: str) -> str:
    return (f'id="{ident}" agencyID="{flow.agency}" version="{flow.version}" isFinal="true" '
            'isExternalReference="false"')


def _concept_ref(flow: Dataflow, concept: str) -> str:
    return (f'<str:ConceptIdentity><Ref id="{concept}" maintainableParentID="{flow.scheme_id}" '
            f'maintainableParentVersion="{flow.version}" agencyID="{flow.agency}" '
            'package="conceptscheme" class="Concept"/></str:ConceptIdentity>')


def structure_xml(frame: pd.DataFrame, flow: Dataflow, *, prepared: _dt.datetime | None = None,
                  labels: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The SDMX-ML 2.1 structure message: codelists, concept scheme, DSD and dataflow.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data (each dimension's codelist holds the codes they use).
    flow : Dataflow
        The dataflow.
    prepared : datetime, optional
        The header's preparation time (default: now).
    labels : mapping, optional
        Dimension id -> code -> English name (default: the code).
    """
    obs = _observations(frame, flow)
    labels = labels or {}
    dims = [d for d, _ in flow.dimensions]
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<mes:Structure {_NS}>',
             _header(flow, _prepared(prepared)), "<mes:Structures>"]
    title = flow.name or flow.id
    parts.append(f"<str:Dataflows><str:Dataflow {_maint(flow, flow.id)}>{_name(title)}"
                 f'<str:Structure><Ref id="{flow.dsd_id}" version="{flow.version}" '
                 f'agencyID="{flow.agency}" package="datastructure" class="DataStructure"/>'
                 "</str:Structure></str:Dataflow></str:Dataflows>")
    parts.append("<str:Codelists>")
    for d in dims:
        names = labels.get(d, {})
        parts.append(f"<str:Codelist {_maint(flow, flow.codelist_id(d))}>"
                     f"{_name(CONCEPT_NAMES.get(d, d) + ' (' + title + ')')}")
        for code in sorted(pd.unique(obs.codes[d])):
            parts.append(f'<str:Code id="{code}">{_name(str(names.get(code, code)))}</str:Code>')
        parts.append("</str:Codelist>")
    parts.append("</str:Codelists>")
    parts.append(f"<str:Concepts><str:ConceptScheme {_maint(flow, flow.scheme_id)}>"
                 f"{_name('Concepts of ' + title)}")
    for c in (*dims, "TIME_PERIOD", "OBS_VALUE"):
        parts.append(f'<str:Concept id="{c}">{_name(CONCEPT_NAMES.get(c, c))}</str:Concept>')
    parts.append("</str:ConceptScheme></str:Concepts>")
    parts.append(f"<str:DataStructures><str:DataStructure {_maint(flow, flow.dsd_id)}>"
                 f"{_name('Data structure of ' + title)}<str:DataStructureComponents>"
                 '<str:DimensionList id="DimensionDescriptor">')
    for pos, d in enumerate(dims, 1):
        parts.append(f'<str:Dimension id="{d}" position="{pos}">{_concept_ref(flow, d)}'
                     f'<str:LocalRepresentation><str:Enumeration><Ref id="{flow.codelist_id(d)}" '
                     f'version="{flow.version}" agencyID="{flow.agency}" package="codelist" '
                     'class="Codelist"/></str:Enumeration></str:LocalRepresentation></str:Dimension>')
    parts.append(f'<str:TimeDimension id="TIME_PERIOD" position="{len(dims) + 1}">'
                 f"{_concept_ref(flow, 'TIME_PERIOD')}<str:LocalRepresentation>"
                 '<str:TextFormat textType="ObservationalTimePeriod"/></str:LocalRepresentation>'
                 "</str:TimeDimension></str:DimensionList>")
    parts.append('<str:MeasureList id="MeasureDescriptor"><str:PrimaryMeasure id="OBS_VALUE">'
                 f"{_concept_ref(flow, 'OBS_VALUE')}<str:LocalRepresentation>"
                 '<str:TextFormat textType="Double"/></str:LocalRepresentation>'
                 "</str:PrimaryMeasure></str:MeasureList>")
    parts.append("</str:DataStructureComponents></str:DataStructure></str:DataStructures>"
                 "</mes:Structures></mes:Structure>\n")
    return "".join(parts)


def _data_chunks(frame: pd.DataFrame, flow: Dataflow, prepared: _dt.datetime | None,
                 chunk: int = 20_000) -> Iterator[str]:
    """The generic data message as text pieces (a few thousand series each)."""
    obs = _observations(frame, flow)
    sid = flow.structure_id
    structure = (f'<mes:Structure structureID="{sid}" dimensionAtObservation="TIME_PERIOD">'
                 f'<com:Structure><Ref agencyID="{flow.agency}" id="{flow.dsd_id}" '
                 f'version="{flow.version}"/></com:Structure></mes:Structure>')
    yield (f'<?xml version="1.0" encoding="UTF-8"?>\n<mes:GenericData {_GEN_NS}>'
           + _header(flow, _prepared(prepared), structure)
           + f'<mes:DataSet structureRef="{sid}">\n')
    n = len(obs.value)
    if n:
        codes = obs.codes
        dims = list(codes.columns)
        start = np.ones(n, dtype=bool)
        if dims:
            start[1:] = (codes.iloc[1:].to_numpy() != codes.iloc[:-1].to_numpy()).any(axis=1)
        else:
            start[1:] = False
        bounds = [*np.flatnonzero(start).tolist(), n]
        keys = codes.iloc[bounds[:-1]]
        key_xml = pd.Series("<gen:Series><gen:SeriesKey>", index=keys.index, dtype=object)
        for d in dims:
            key_xml = key_xml + f'<gen:Value id="{d}" value="' + keys[d] + '"/>'
        key_xml = (key_xml + "</gen:SeriesKey>").tolist()
        obs_xml = ['<gen:Obs><gen:ObsDimension value="' + t + '"/><gen:ObsValue value="'
                   + repr(v) + '"/></gen:Obs>' for t, v in zip(obs.time.tolist(), obs.value.tolist())]
        buf: list[str] = []
        for i, key in enumerate(key_xml):
            buf.append(key)
            buf.extend(obs_xml[bounds[i]:bounds[i + 1]])
            buf.append("</gen:Series>\n")
            if len(buf) >= chunk:
                yield "".join(buf)
                buf = []
        if buf:
            yield "".join(buf)
    yield "</mes:DataSet></mes:GenericData>\n"


def to_sdmx_ml(frame: pd.DataFrame, flow: Dataflow, *, structure: bool = False,
               prepared: _dt.datetime | None = None,
               labels: Mapping[str, Mapping[str, str]] | None = None) -> bytes:
    """SDMX-ML 2.1 generic time-series data message (or, with ``structure=True``, the
    structure message with codelists, concepts, DSD and dataflow) as UTF-8 bytes."""
    if structure:
        return structure_xml(frame, flow, prepared=prepared, labels=labels).encode("utf-8")
    return "".join(_data_chunks(frame, flow, prepared)).encode("utf-8")


def write_sdmx_ml(frame: pd.DataFrame, flow: Dataflow, path: str | Path, *,
                  with_structure: bool = True, prepared: _dt.datetime | None = None,
                  labels: Mapping[str, Mapping[str, str]] | None = None) -> list[Path]:
    """Write the data message to ``path`` (streamed) and (by default) the structure
    message to ``<stem>.structure.xml`` beside it, atomically. Returns the files written."""
    path = Path(path)

    def write(p: Path) -> None:
        with p.open("w", encoding="utf-8", newline="\n") as fh:
            for piece in _data_chunks(frame, flow, prepared):
                fh.write(piece)

    out = [atomic_write(path, write)]
    if with_structure:
        text = structure_xml(frame, flow, prepared=prepared, labels=labels)
        spath = path.with_name(path.stem + ".structure.xml")
        out.append(atomic_write(spath, lambda p: p.write_text(text, encoding="utf-8")))
    return out


def _src(x: bytes | str | Path):
    return io.BytesIO(x) if isinstance(x, bytes) else Path(x)


def _dsd(structure: bytes | str | Path):
    # local (here and below): sdmx1 costs 0.65 s at import, and this module is loaded at
    # CLI start-up through humsec.data.export; only the readers need it
    import sdmx
    from sdmx.message import StructureMessage

    smsg = sdmx.read_sdmx(_src(structure))
    if not isinstance(smsg, StructureMessage):
        raise HumsecError("not an SDMX-ML structure message")
    return next(iter(smsg.structure.values())), next(iter(smsg.dataflow.values()), None)


def _datasets(msg) -> list:
    from sdmx.message import DataMessage  # local: 0.65 s, see _dsd

    if not isinstance(msg, DataMessage) or not msg.data:
        raise HumsecError("not an SDMX data message with a data set")
    return list(msg.data)


def read_sdmx_ml(data: bytes | str | Path, structure: bytes | str | Path | None = None) -> pd.DataFrame:
    """Read an SDMX-ML data message with ``sdmx1`` into a tidy frame (dimension columns,
    ``TIME_PERIOD``, ``value``); ``structure`` is the structure message (optional for
    generic data, needed for structure-specific data)."""
    import sdmx  # local: 0.65 s, see _dsd

    if structure is not None:
        dsd, _ = _dsd(structure)
        msg = sdmx.read_sdmx(_src(data), structure=dsd)
    else:
        msg = sdmx.read_sdmx(_src(data))
    series = sdmx.to_pandas(_datasets(msg)[0])
    return series.rename("value").reset_index()


def read_sdmx_csv(data: bytes | str | Path, structure: bytes | str | Path) -> pd.DataFrame:
    """Read SDMX-CSV 2.0 with ``sdmx1`` (given the SDMX-ML structure message) into a tidy
    frame (dimension columns, ``TIME_PERIOD``, ``value``)."""
    import sdmx  # local: 0.65 s, see _dsd

    dsd, dfd = _dsd(structure)
    src = _src(data)
    raw = src if isinstance(src, io.BytesIO) else io.BytesIO(Path(src).read_bytes())
    msg = sdmx.read_sdmx(raw, format="csv", structure=dfd if dfd is not None else dsd)
    series = sdmx.to_pandas(_datasets(msg)[0])
    return series.rename("value").reset_index()


def to_sdmx_csv(frame: pd.DataFrame, flow: Dataflow) -> pd.DataFrame:
    """The SDMX-CSV 2.0 table: ``STRUCTURE``, ``STRUCTURE_ID``, ``ACTION``, the
    dimensions, ``TIME_PERIOD``, ``OBS_VALUE`` (sorted by series key and period)."""
    obs = _observations(frame, flow)
    out = pd.DataFrame({"STRUCTURE": "dataflow", "STRUCTURE_ID": flow.ref, "ACTION": "I"},
                       index=obs.codes.index)
    for dim_id, _ in flow.dimensions:
        out[dim_id] = obs.codes[dim_id]
    out["TIME_PERIOD"] = obs.time
    out["OBS_VALUE"] = obs.value
    return out


def write_sdmx_csv(frame: pd.DataFrame, flow: Dataflow, path: str | Path) -> Path:
    """Write SDMX-CSV 2.0 (formula-safe text cells), atomically."""
    table = to_sdmx_csv(frame, flow)
    return atomic_write(Path(path), lambda p: write_csv(table, p))
