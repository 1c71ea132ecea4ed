"""The release recipe: which source series become which indicators (YAML <-> pydantic).

A recipe (``recipe.yaml`` beside this module) is the whole declarative description of a
data release, in the spirit of OWID's ETL steps and the World Bank's WDI metadata:

* ``sources`` - one entry per publisher's file set (folder under ``--from DIR``, the files
  it must hold, publisher, dataset, edition, access date, licence decision, attribution);
* ``licences`` - every licence the recipe names, with whether it is *open* (may ship);
* ``indicators`` - catalogue fields (code, name, unit, dimension, direction, SDG, valid
  range, notes) plus ``from``: the source, the series and the reader options that select
  and convert it.

Nothing here reads data; :mod:`humsec.data.release.build` does.
"""

from __future__ import annotations

import datetime as _dt
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError as PydanticValidationError, model_validator

from humsec.errors import ValidationError
from humsec.model.catalogue import Catalogue, Indicator
from humsec.yamlio import load_yaml, model_issues, read_text

__all__ = ["GeographyRecipe", "IndicatorRecipe", "LicenceDecision", "LicenceTerms", "Recipe", "Selector", "SourceRecipe",
           "load_recipe"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LicenceTerms(_Frozen):
    """A licence the recipe names.

    Parameters
    ----------
    name : str
        Full name ("Creative Commons Attribution 4.0 International").
    open : bool
        Whether data under it may ship in a release (attribution-only or share-alike
        licences, public domain, the publisher's free-reuse-with-attribution terms).
        Non-commercial (NC), no-derivatives (ND) and no-redistribution terms are not open.
    url : str
    """

    name: str
    open: bool
    url: str = ""


class LicenceDecision(_Frozen):
    """The licence of one series and the evidence for it (where it is stated)."""

    licence: str
    evidence: str


class SourceRecipe(_Frozen):
    """One publisher's file set under the release's source directory."""

    id: str
    reader: str
    folder: str
    files: tuple[str, ...]
    publisher: str
    dataset: str
    edition: str
    accessed: _dt.date
    url: str = ""
    via: str = ""
    licence: LicenceDecision
    custodians: dict[str, LicenceDecision] = Field(default_factory=dict)
    attribution: str


class Selector(_Frozen):
    """How one indicator is read from its source (reader-specific keys in ``options``).

    Parameters
    ----------
    source : str
        Source id.
    series : str
        The source's series / variable / column name.
    custodian : str, optional
        Custodian agency (SDG database): selects the licence decision.
    options : dict
        Reader options (filters on extra dimensions, sex columns, censored codes ...).
    scale : float
        Factor applied to the values (e.g. 10 for "per cent" -> "per 1,000").
    per_capita : dict, optional
        ``{denominator: <indicator code>, per: 100000}``: divide by another indicator of
        the release (same unit and year) - counts become rates. ``shared: {ISR: [ISR,
        PSE]}``: the publisher codes one location's counts to its first unit; every
        listed unit gets the rate of the whole location (count / combined population).
    until : int, optional
        Last year kept (drops projections and partial-year figures).
    """

    source: str
    series: str
    custodian: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    scale: float = 1.0
    per_capita: dict[str, Any] | None = None
    until: int | None = None


class IndicatorRecipe(_Frozen):
    """One indicator of the release: its catalogue entry and where it comes from."""

    code: str
    name: str
    unit: str
    dimension: str
    direction: Literal[1, -1]
    sdg: str | None = None
    notes: str = ""
    tags: tuple[str, ...] = ()
    valid_min: float | None = None
    valid_max: float | None = None
    source: Selector = Field(alias="from")
    licence: LicenceDecision | None = None
    ship: bool = True
    why_not_shipped: str = ""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check(self) -> "IndicatorRecipe":
        # Catalogue rules (code pattern, dimension, SDG format) are the catalogue's own.
        Indicator(code=self.code, name=self.name, unit=self.unit, dimension=self.dimension,
                  direction=self.direction, sdg=self.sdg, source="-", licence="-")
        if not self.ship and not self.why_not_shipped:
            raise ValueError("a test-only indicator (ship: false) needs why_not_shipped")
        return self


class DisplacementRecipe(_Frozen):
    """Where the bilateral origin x asylum displacement matrix comes from."""

    source: str
    until: int | None = None


class GeographyRecipe(_Frozen):
    """Where the country outlines, land borders and representative points come from
    (:mod:`humsec.data.release.outlines`) and how the outlines are simplified."""

    source: str
    file: str
    notice: str | None = None
    tolerance: float = Field(0.15, gt=0)
    relative: float = Field(0.05, gt=0)
    min_part: float = Field(0.05, ge=0)
    digits: int = Field(3, ge=1, le=6)


class Recipe(_Frozen):
    """A whole release recipe."""

    release: str
    released: _dt.date
    title: str
    first_year: int = 1990
    licences: dict[str, LicenceTerms]
    sources: tuple[SourceRecipe, ...]
    indicators: tuple[IndicatorRecipe, ...]
    displacement: DisplacementRecipe | None = None
    geography: GeographyRecipe | None = None

    @model_validator(mode="after")
    def _check(self) -> "Recipe":
        ids = [s.id for s in self.sources]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate source ids: {', '.join(dup)}")
        codes = [i.code for i in self.indicators]
        dup = sorted({c for c in codes if codes.count(c) > 1})
        if dup:
            raise ValueError(f"duplicate indicator codes: {', '.join(dup)}")
        known = set(ids)
        for ind in self.indicators:
            if ind.source.source not in known:
                raise ValueError(f"indicator {ind.code}: unknown source '{ind.source.source}'")
            den = (ind.source.per_capita or {}).get("denominator")
            if den is not None and den not in codes:
                raise ValueError(f"indicator {ind.code}: per_capita denominator '{den}' is not an indicator")
        if self.geography is not None:
            if self.geography.source not in known:
                raise ValueError(f"geography: unknown source '{self.geography.source}'")
            files = self.source(self.geography.source).files
            for f in (self.geography.file, self.geography.notice):
                if f is not None and f not in files:
                    raise ValueError(f"geography: '{f}' is not among the files of source '{self.geography.source}'")
        named = {s.licence.licence for s in self.sources}
        named |= {d.licence for s in self.sources for d in s.custodians.values()}
        named |= {i.licence.licence for i in self.indicators if i.licence}
        missing = sorted(named - set(self.licences))
        if missing:
            raise ValueError(f"licences used but not declared under 'licences': {', '.join(missing)}")
        return self

    def source(self, sid: str) -> SourceRecipe:
        return next(s for s in self.sources if s.id == sid)

    def decision(self, ind: IndicatorRecipe) -> LicenceDecision:
        """The licence decision of one indicator: its own, else its custodian's, else its
        source's."""
        if ind.licence is not None:
            return ind.licence
        src = self.source(ind.source.source)
        if ind.source.custodian and ind.source.custodian in src.custodians:
            return src.custodians[ind.source.custodian]
        return src.licence

    def is_open(self, ind: IndicatorRecipe) -> bool:
        return self.licences[self.decision(ind).licence].open

    def catalogue(self, codes: list[str] | None = None) -> Catalogue:
        """Catalogue entries of the recipe's indicators (all, or ``codes`` in order)."""
        keep = None if codes is None else set(codes)
        out = []
        for ind in self.indicators:
            if keep is not None and ind.code not in keep:
                continue
            src = self.source(ind.source.source)
            dec = self.decision(ind)
            out.append(Indicator(
                code=ind.code, name=ind.name, unit=ind.unit, dimension=ind.dimension,
                direction=ind.direction, sdg=ind.sdg,
                source=f"{src.publisher}, {src.dataset}, {src.edition} (series {ind.source.series})",
                licence=dec.licence, notes=ind.notes, tags=ind.tags,
                valid_min=ind.valid_min, valid_max=ind.valid_max))
        return Catalogue(out, version=self.release)


def load_recipe(path: str | Path | None = None) -> Recipe:
    """Read a recipe file (default: the shipped ``recipe.yaml``) with located errors."""
    if path is None:
        res = resources.files("humsec.data.release").joinpath("recipe.yaml")
        text, file = res.read_text(encoding="utf-8"), "humsec/data/release/recipe.yaml"
    else:
        text, file = read_text(path, "release recipe"), str(path)
    raw = load_yaml(text, file)
    try:
        return Recipe.model_validate(raw)
    except PydanticValidationError as exc:
        raise ValidationError(model_issues(exc, raw, file)) from None
