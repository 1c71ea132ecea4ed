"""The tidy panel of observations and its provenance.

A :class:`Panel` is an immutable table with one row per observation::

    unit  year  indicator  sex  age  group  value

``unit`` is an ISO 3166-1 alpha-3 code for countries (other codes are allowed for
subnational units), ``year`` an integer, ``indicator`` a catalogue code, and the
disaggregation keys ``sex``, ``age``, ``group`` hold ``"_T"`` (SDMX's code for *total*)
when the observation is not disaggregated. Every indicator carries a
:class:`Provenance` record with a content hash of its observations.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

DIMENSIONS: tuple[str, ...] = (
    "economic",
    "food",
    "health",
    "environmental",
    "personal",
    "community",
    "political",
)
TOTAL = "_T"
DISAGG_KEYS: tuple[str, ...] = ("sex", "age", "group")
KEY_COLUMNS: tuple[str, ...] = ("unit", "year", "indicator", *DISAGG_KEYS)
COLUMNS: tuple[str, ...] = (*KEY_COLUMNS, "value")


class Provenance(BaseModel):
    """Where an indicator's numbers come from.

    Parameters
    ----------
    source : str
        Publisher and dataset (e.g. "UN DESA, World Population Prospects").
    edition : str
        Edition or vintage (e.g. "2024").
    accessed : datetime.date
        When the data were obtained (for package-shipped data: when humsec built them).
    licence : str
        Licence of the data (SPDX id or plain name).
    citation : str
        How to cite the source.
    via : str
        How the data reached humsec (e.g. "PyPI package bokeh-sampledata 2026.1").
    url : str
        Canonical address of the source.
    content_hash : str
        SHA-256 over the indicator's observations (see :func:`content_hash`).
    publisher : str
        The organisation that publishes the data (data releases).
    file, series : str
        The publisher's file (relative to the release's source directory) and the series
        in it (data releases).
    """

    model_config = ConfigDict(frozen=True)

    source: str
    edition: str = ""
    accessed: _dt.date
    licence: str = ""
    citation: str = ""
    via: str = ""
    url: str = ""
    content_hash: str = ""
    publisher: str = ""
    file: str = ""
    series: str = ""


def _normalise_frame(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for key in DISAGG_KEYS:
        if key not in df.columns:
            df[key] = TOTAL
        df[key] = df[key].fillna(TOTAL).astype(str)
    df["unit"] = df["unit"].astype(str)
    df["indicator"] = df["indicator"].astype(str)
    df["year"] = pd.to_numeric(df["year"]).astype("int64")
    df["value"] = pd.to_numeric(df["value"]).astype("float64")
    df = df[list(COLUMNS)].sort_values(list(KEY_COLUMNS), kind="mergesort")
    return df.reset_index(drop=True)


def _lines(df: pd.DataFrame) -> np.ndarray:
    """One ``k1\x1fk2...\x1evalue\n`` string per row of a normalised frame (object array).

    Keys are joined in Arrow (vectorised); values use Python's ``repr(float)`` (computed
    once per distinct value)."""
    if df.empty:
        return np.empty(0, dtype=object)
    keys = [pc.cast(pa.array(df[c]), pa.string()) for c in KEY_COLUMNS]
    uniq, inverse = np.unique(df["value"].to_numpy(dtype="float64"), return_inverse=True)
    texts = pa.array(["nan" if v != v else repr(v) for v in uniq.tolist()], type=pa.string())
    vals = texts.take(pa.array(inverse.ravel()))
    line = pc.binary_join_element_wise(pc.binary_join_element_wise(*keys, "\x1f"), vals, "\x1e")
    return np.asarray(line.to_numpy(zero_copy_only=False), dtype=object) + "\n"


def content_hash(df: pd.DataFrame) -> str:
    """SHA-256 of observations, independent of row order and of the DataFrame's dtypes.

    Values are hashed with ``repr(float)`` (shortest round-trip form), so two panels
    have the same hash iff they hold the same numbers for the same keys.
    """
    return _normalised_hash(_normalise_frame(df))


def _normalised_hash(df: pd.DataFrame, lines: np.ndarray | None = None) -> str:
    # the byte stream is built column-wise and hashed whole (SHA-256 is streaming, so
    # this equals hashing it row by row)
    lines = _lines(df) if lines is None else lines
    return hashlib.sha256("".join(lines.tolist()).encode()).hexdigest()


def _hashes_by_indicator(df: pd.DataFrame, lines: np.ndarray | None = None) -> dict[str, str]:
    """:func:`content_hash` of every indicator's rows of an already normalised, key-sorted
    frame, in one pass (the rows of one indicator keep the key order)."""
    if df.empty:
        return {}
    lines = _lines(df) if lines is None else lines
    codes, uniques = pd.factorize(df["indicator"], sort=True)
    order = np.argsort(codes, kind="stable")
    lines = lines[order]
    counts = np.bincount(codes, minlength=len(uniques))
    ends = np.cumsum(counts)
    starts = ends - counts
    return {str(uniques[i]): hashlib.sha256("".join(lines[a:b].tolist()).encode()).hexdigest()
            for i, (a, b) in enumerate(zip(starts, ends)) if b > a}


def _freeze(df: pd.DataFrame) -> None:
    """Make the numpy-backed columns of ``df`` read-only. Arrow-backed columns (``str``)
    are immutable already; converting them to numpy (a copy) would only cost time."""
    for col in df.columns:
        if isinstance(df[col].dtype, np.dtype):
            arr = df[col].to_numpy()
            if isinstance(arr, np.ndarray):
                arr.flags.writeable = False


class Panel:
    """An immutable tidy panel with per-indicator provenance.

    Parameters
    ----------
    data : pandas.DataFrame
        Columns ``unit, year, indicator, value`` and optionally ``sex, age, group``.
    provenance : Mapping[str, Provenance], optional
        Provenance per indicator code. Content hashes are (re)computed here.

    Notes
    -----
    "Modify" operations (:meth:`filter`, :meth:`concat`) return new panels. The
    underlying frame is copied and its arrays are set read-only.
    """

    __slots__ = ("_data", "_provenance", "_hash")

    def __init__(self, data: pd.DataFrame, provenance: Mapping[str, Provenance] | None = None):
        missing = {"unit", "year", "indicator", "value"} - set(data.columns)
        if missing:
            raise ValueError(f"panel data lack column(s): {', '.join(sorted(missing))}")
        df = _normalise_frame(data)
        dup = df.duplicated(list(KEY_COLUMNS), keep=False)
        if dup.any():
            first = df.loc[dup, list(KEY_COLUMNS)].iloc[0].to_dict()
            raise ValueError(f"duplicate observation key in panel: {first}")
        _freeze(df)
        prov = dict(provenance or {})
        fixed = {}
        whole = None
        if prov and set(df["indicator"].unique()) <= set(prov):  # one pass gives both hashes
            lines = _lines(df)
            hashes = _hashes_by_indicator(df, lines)
            whole = _normalised_hash(df, lines)
        else:
            hashes = _hashes_by_indicator(df[df["indicator"].isin(list(prov))]) if prov else {}
        for code, h in hashes.items():
            fixed[code] = prov[code].model_copy(update={"content_hash": h})
        self._data = df
        self._provenance = MappingProxyType(fixed)
        self._hash: str | None = whole

    # -- read access ---------------------------------------------------------------
    @property
    def data(self) -> pd.DataFrame:
        """A copy of the observations (safe to modify)."""
        return self._data.copy()

    @property
    def provenance(self) -> Mapping[str, Provenance]:
        return self._provenance

    @property
    def indicators(self) -> list[str]:
        return sorted(self._data["indicator"].unique().tolist())

    @property
    def units(self) -> list[str]:
        return sorted(self._data["unit"].unique().tolist())

    @property
    def years(self) -> list[int]:
        return sorted(int(y) for y in self._data["year"].unique())

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return (
            f"Panel({len(self)} observations, {len(self.indicators)} indicators, "
            f"{len(self.units)} units, years {self.years[:1]}..{self.years[-1:]})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Panel):
            return NotImplemented
        return self.content_hash() == other.content_hash() and dict(self._provenance) == dict(
            other._provenance
        )

    def __hash__(self) -> int:
        return hash(self.content_hash())

    def content_hash(self) -> str:
        if self._hash is None:  # the frame is immutable (read-only arrays): compute once
            self._hash = _normalised_hash(self._data)
        return self._hash

    # -- derived panels ------------------------------------------------------------
    def select(
        self,
        *,
        indicators: Iterable[str] | None = None,
        units: Iterable[str] | None = None,
        years: Iterable[int] | None = None,
        totals_only: bool = False,
    ) -> pd.DataFrame:
        """The observations of :meth:`filter` as a frame (a copy, safe to modify), without
        making a panel of them (no content hashes)."""
        return self._data[self._mask(indicators, units, years, totals_only)].reset_index(drop=True)

    def _mask(self, indicators, units, years, totals_only) -> np.ndarray:
        df = self._data
        mask = np.ones(len(df), dtype=bool)
        if indicators is not None:
            mask &= df["indicator"].isin(list(indicators)).to_numpy()
        if units is not None:
            mask &= df["unit"].isin(list(units)).to_numpy()
        if years is not None:
            mask &= df["year"].isin([int(y) for y in years]).to_numpy()
        if totals_only:
            for key in DISAGG_KEYS:
                mask &= (df[key] == TOTAL).to_numpy()
        return mask

    def filter(
        self,
        *,
        indicators: Iterable[str] | None = None,
        units: Iterable[str] | None = None,
        years: Iterable[int] | None = None,
        totals_only: bool = False,
    ) -> "Panel":
        """The panel of the selected observations (provenance of the indicators kept).

        A subset of a validated, key-sorted panel is itself valid and key-sorted, so it is
        not validated again; the content hashes of indicators that lost rows are computed
        anew (those that kept all their rows keep theirs)."""
        mask = self._mask(indicators, units, years, totals_only)
        sub = self._data[mask].reset_index(drop=True)
        kept = set(sub["indicator"].unique())
        prov = {k: v for k, v in self._provenance.items() if k in kept}
        if prov and not mask.all():
            # indicators with a row dropped: their hash changes
            dropped = self._data["indicator"].to_numpy()[~mask]
            touched = set(pd.unique(dropped)) & set(prov)
            if touched:
                part = sub[sub["indicator"].isin(list(touched))]
                for code, h in _hashes_by_indicator(part).items():
                    prov[code] = prov[code].model_copy(update={"content_hash": h})
        return Panel._trusted(sub, prov)

    @classmethod
    def union_of(cls, parts: Mapping[str, "Panel"]) -> "Panel":
        """Whole indicators taken from several panels (``indicator -> source panel``).

        Every indicator keeps all of its rows, so its provenance and content hash carry
        over unchanged: nothing is re-validated or re-hashed (the store assembles the
        current panel this way on every command).
        """
        owners = {id(p) for p in parts.values()}
        if len(owners) == 1:  # every indicator from one panel: that panel, if it holds no others
            only = next(iter(parts.values()))
            if set(parts) == set(only.indicators):
                return only
        frames, prov = [], {}
        for code, panel in parts.items():
            df = panel._data
            frames.append(df[df["indicator"] == code])
            if code in panel._provenance:
                prov[code] = panel._provenance[code]
        if not frames:
            return cls(pd.DataFrame(columns=list(COLUMNS)))
        data = pd.concat(frames, ignore_index=True).sort_values(list(KEY_COLUMNS), kind="mergesort")
        return cls._trusted(data.reset_index(drop=True), prov)

    @classmethod
    def _trusted(cls, df: pd.DataFrame, provenance: Mapping[str, Provenance]) -> "Panel":
        """A panel of a normalised, key-sorted, validated frame whose provenance already
        carries its content hashes: made read-only, nothing re-validated or re-hashed."""
        _freeze(df)
        out = cls.__new__(cls)
        out._data = df
        out._provenance = MappingProxyType(dict(provenance))
        out._hash = None
        return out

    @classmethod
    def _stored(cls, data: pd.DataFrame, provenance: Mapping[str, Provenance]) -> "Panel":
        """A panel read back from the store: rows already validated, key-sorted and hashed
        when they were saved (the provenance records carry the content hashes), so they are
        neither re-validated nor re-hashed here."""
        df = data[list(COLUMNS)].reset_index(drop=True)
        for key in ("unit", "indicator", *DISAGG_KEYS):
            df[key] = df[key].astype(str)
        df["year"] = df["year"].astype("int64")
        df["value"] = df["value"].astype("float64")
        return cls._trusted(df, provenance)

    def concat(self, other: "Panel") -> "Panel":
        """Union of two panels; overlapping keys are an error (never silently overwritten)."""
        prov = dict(self._provenance)
        prov.update(other.provenance)
        return Panel(pd.concat([self._data, other._data], ignore_index=True), prov)

    def wide(self, year: int | None = None, *, latest: bool = False) -> pd.DataFrame:
        """Unit × indicator table of totals.

        Parameters
        ----------
        year : int, optional
            Take that year's observations.
        latest : bool
            With ``year``, take for each unit and indicator the most recent observation
            at or before ``year``; without ``year``, the most recent overall.
        """
        df = self._data
        for key in DISAGG_KEYS:
            df = df[df[key] == TOTAL]
        df = df.dropna(subset=["value"])
        if year is not None and not latest:
            df = df[df["year"] == int(year)]
        elif latest:
            if year is not None:
                df = df[df["year"] <= int(year)]
            df = df.sort_values("year").groupby(["unit", "indicator"], as_index=False).last()
        elif df["year"].nunique() > 1:
            raise ValueError("panel has several years: pass year= or latest=True")
        return df.pivot(index="unit", columns="indicator", values="value").sort_index()
