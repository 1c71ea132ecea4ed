"""SDMX exports for international partners: SDMX-ML 2.1 and SDMX-CSV 1.0.

A tidy frame becomes the observations of one *dataflow* ``AGENCY:ID(VERSION)`` whose data
structure (DSD) has the given dimension columns, ``TIME_PERIOD`` and the primary measure
``OBS_VALUE``. SDMX-ML is written with ``sdmx1`` as a *structure-specific data* message
(SDMX 2.1), optionally with a *structure* message holding the DSD and dataflow (partners
load both; ``sdmx.read_sdmx(data, structure=dsd)`` reads it back). SDMX-CSV 1.0 has the
columns ``DATAFLOW`` (``AGENCY:ID(VERSION)``), the dimensions, ``TIME_PERIOD`` and
``OBS_VALUE``. Missing values are not written (SDMX omits absent observations).
"""

from __future__ import annotations

import datetime as _dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from humsec.data.export import atomic_write, write_csv
from humsec.errors import HumsecError

__all__ = ["Dataflow", "panel_frame", "read_sdmx_ml", "to_sdmx_csv", "to_sdmx_ml",
           "write_sdmx_csv", "write_sdmx_ml"]

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CODE = re.compile(r"[^A-Za-z0-9_@$\-]")


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

    @property
    def ref(self) -> str:
        return f"{self.agency}:{self.id}({self.version})"

    @property
    def dsd_id(self) -> str:
        return "DSD_" + (self.id[3:] if self.id.startswith("DF_") else self.id)


def sdmx_id(text: str, prefix: str = "DF_") -> str:
    """An SDMX id from free text (``"hsi 2024"`` -> ``"DF_HSI_2024"``)."""
    core = re.sub(r"[^A-Za-z0-9_]+", "_", str(text)).strip("_").upper() or "DATA"
    return (prefix + core)[:50]


def panel_frame(panel) -> pd.DataFrame:
    """A :class:`~humsec.model.panel.Panel` as the frame of the default panel dataflow
    (``REF_AREA, INDICATOR, SEX, AGE, GROUP`` + ``year``, ``value``)."""
    return panel.data


PANEL_DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("REF_AREA", "unit"), ("INDICATOR", "indicator"), ("SEX", "sex"), ("AGE", "age"),
    ("GROUP", "group"))


def _code(v: object) -> str:
    """A value usable as an SDMX code (IDType: letters, digits, _ @ $ -)."""
    s = _CODE.sub("_", str(v))
    return s or "_Z"


def _time(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def _observations(frame: pd.DataFrame, flow: Dataflow) -> pd.DataFrame:
    cols = [c for _, c in flow.dimensions]
    missing = [c for c in (*cols, flow.time_column, flow.value_column) if c not in frame.columns]
    if missing:
        raise HumsecError(f"cannot export as SDMX: the data lack column(s) {', '.join(missing)}")
    obs = frame[[*cols, flow.time_column, flow.value_column]].copy()
    obs = obs[pd.to_numeric(obs[flow.value_column], errors="coerce").notna()]
    return obs


def to_sdmx_ml(frame: pd.DataFrame, flow: Dataflow, *, structure: bool = False,
               prepared: _dt.datetime | None = None) -> bytes:
    """SDMX-ML 2.1 structure-specific data message (or, with ``structure=True``, the
    structure message with the DSD and dataflow)."""
    import sdmx
    from sdmx.message import DataMessage, Header, StructureMessage
    from sdmx.model import common
    from sdmx.model import v21 as m

    agency = common.Agency(id=flow.agency)
    dsd = m.DataStructureDefinition(id=flow.dsd_id, version=flow.version, maintainer=agency,
                                    is_final=True)
    dims = {}
    for order, (dim_id, _) in enumerate(flow.dimensions):
        dims[dim_id] = m.Dimension(id=dim_id, order=order)
        dsd.dimensions.append(dims[dim_id])
    dsd.dimensions.append(m.TimeDimension(id="TIME_PERIOD", order=len(flow.dimensions)))
    measure = m.PrimaryMeasure(id="OBS_VALUE")
    dsd.measures.append(measure)
    dfd = m.DataflowDefinition(id=flow.id, version=flow.version, maintainer=agency,
                               structure=dsd, is_final=True,
                               name=common.InternationalString(en=flow.name or flow.id))
    prepared = prepared or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0, tzinfo=None)
    header = Header(id=f"HUMSEC{prepared:%Y%m%d%H%M%S}", prepared=prepared, sender=agency,
                    test=False)
    if structure:
        msg = StructureMessage(header=header)
        msg.add(dsd)
        msg.add(dfd)
        return sdmx.to_xml(msg, pretty_print=True)
    obs_frame = _observations(frame, flow)
    ds = m.StructureSpecificDataSet(structured_by=dsd, described_by=dfd)
    observations = []
    dim_cols = [(d, c) for d, c in flow.dimensions]
    for row in obs_frame.itertuples(index=False):
        values = dict(zip([c for _, c in dim_cols] + [flow.time_column, flow.value_column], row))
        key_values = {d: _code(values[c]) for d, c in dim_cols}
        key_values["TIME_PERIOD"] = _time(values[flow.time_column])
        key = dsd.make_key(m.Key, key_values)
        observations.append(m.Observation(dimension=key, value=float(values[flow.value_column]),
                                          value_for=measure))
    ds.add_obs(observations)
    msg = DataMessage(header=header, data=[ds], dataflow=dfd)
    return sdmx.to_xml(msg, pretty_print=True)


def write_sdmx_ml(frame: pd.DataFrame, flow: Dataflow, path: str | Path, *,
                  with_structure: bool = True) -> list[Path]:
    """Write the data message to ``path`` and (by default) the structure message to
    ``<stem>.structure.xml`` beside it, atomically. Returns the files written."""
    path = Path(path)
    data = to_sdmx_ml(frame, flow)
    out = [atomic_write(path, lambda p: p.write_bytes(data))]
    if with_structure:
        struct = to_sdmx_ml(frame, flow, structure=True)
        spath = path.with_name(path.stem + ".structure.xml")
        out.append(atomic_write(spath, lambda p: p.write_bytes(struct)))
    return out


def read_sdmx_ml(data: bytes | str | Path, structure: bytes | str | Path | None = None) -> pd.DataFrame:
    """Read an SDMX-ML data message with ``sdmx1`` into a tidy frame (dimension columns,
    ``TIME_PERIOD``, ``value``); ``structure`` is the structure message (needed for
    structure-specific data)."""
    import sdmx

    def _src(x):
        return io.BytesIO(x) if isinstance(x, bytes) else Path(x)

    dsd = None
    if structure is not None:
        smsg = sdmx.read_sdmx(_src(structure))
        dsd = next(iter(smsg.structure.values()))
    msg = sdmx.read_sdmx(_src(data), structure=dsd) if dsd is not None else sdmx.read_sdmx(_src(data))
    series = sdmx.to_pandas(msg.data[0])
    return series.rename("value").reset_index()


def to_sdmx_csv(frame: pd.DataFrame, flow: Dataflow) -> pd.DataFrame:
    """The SDMX-CSV 1.0 table: ``DATAFLOW``, dimensions, ``TIME_PERIOD``, ``OBS_VALUE``."""
    obs = _observations(frame, flow)
    out = pd.DataFrame({"DATAFLOW": flow.ref}, index=obs.index)
    for dim_id, col in flow.dimensions:
        out[dim_id] = obs[col].map(_code)
    out["TIME_PERIOD"] = obs[flow.time_column].map(_time)
    out["OBS_VALUE"] = pd.to_numeric(obs[flow.value_column]).astype(float)
    return out.reset_index(drop=True)


def write_sdmx_csv(frame: pd.DataFrame, flow: Dataflow, path: str | Path) -> Path:
    """Write SDMX-CSV 1.0 (formula-safe text cells), atomically."""
    table = to_sdmx_csv(frame, flow)
    return atomic_write(Path(path), lambda p: write_csv(table, p))
