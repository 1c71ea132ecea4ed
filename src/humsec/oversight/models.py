"""Immutable values of the oversight tracker (pydantic, frozen).

An *instrument* (a resolution, law, policy or plan) holds *commitments*; a commitment
holds one or more measurable *targets*, each linked to a catalogue indicator for one
country: baseline year (and optionally baseline value - otherwise read from the data),
target value and deadline. "Modifying" a value returns a new object
(:meth:`pydantic.BaseModel.model_copy`); the database stores each change as a new
version.

:func:`validate_commitment` checks a commitment against the catalogue, the country
registry and the calendar and reports every problem with its location.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError
from rapidfuzz import process

from humsec.data.countries import CountryRegistry
from humsec.errors import ValidationError, ValidationIssue
from humsec.model.catalogue import Catalogue
from humsec.model.panel import DIMENSIONS

__all__ = [
    "INSTRUMENT_KINDS", "BudgetLine", "Commitment", "Instrument", "Note", "Tag", "Target", "Versioned",
    "parse_deadline", "pydantic_issues", "validate_commitment", "validate_instrument",
]

INSTRUMENT_KINDS = ("resolution", "law", "policy", "plan", "budget", "other")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SDG_TARGET = re.compile(r"^\d{1,2}\.[0-9a-z]{1,2}$")
#: Earliest baseline year accepted (the data rarely go further back).
MIN_YEAR = 1950


#: The id rule in the JSON schema (the validators below give the readable message).
_ID_SCHEMA: dict[str, Any] = {"pattern": _ID.pattern}


def _check_id(v: str) -> str:
    if not _ID.fullmatch(v):
        raise ValueError("expected 1-64 letters, digits, '_', '-' or '.' (starting with a letter or digit)")
    return v


def parse_deadline(v: Any) -> _dt.date:
    """A deadline from a date, ``YYYY-MM-DD`` or a year (``2030`` -> 31 December 2030)."""
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        if not 1 <= v <= 9999:
            raise ValueError(f"expected a year or a date YYYY-MM-DD, got {v}")
        return _dt.date(v, 12, 31)
    s = str(v).strip()
    if re.fullmatch(r"\d{4}", s):
        return _dt.date(int(s), 12, 31)
    try:
        return _dt.date.fromisoformat(s)
    except ValueError:
        raise ValueError(f"expected a year or a date YYYY-MM-DD, got {s!r}") from None


class Note(BaseModel):
    """A dated note on a commitment (who wrote it is the version's author)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1, max_length=4000)
    date: _dt.date


class Target(BaseModel):
    """A measurable target of a commitment.

    Parameters
    ----------
    key : str
        Identifier within the commitment (``t1``, ``u5mr`` ...).
    indicator : str
        Catalogue code of the indicator that measures it.
    unit : str
        ISO3 code of the country.
    baseline_year : int
        Start of the period over which progress is measured.
    baseline_value : float, optional
        Value in the baseline year; when omitted it is read from the data (the first
        observation at or after the baseline year).
    target_value : float, optional
        Value to reach by the deadline. Without one, progress is judged by the Open SDG
        fixed growth cut-offs (at least 1.5 % a year in the good direction is on track).
    deadline : datetime.date
        Date by which the target should be met (a bare year means 31 December).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(json_schema_extra=_ID_SCHEMA)
    indicator: str
    unit: str
    baseline_year: int
    baseline_value: float | None = None
    target_value: float | None = None
    deadline: _dt.date

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return _check_id(v)

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        return str(v).strip().upper()

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline(cls, v: Any) -> _dt.date:
        return parse_deadline(v)


class Instrument(BaseModel):
    """A resolution, law, policy or plan that holds commitments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(json_schema_extra=_ID_SCHEMA)
    kind: Literal["resolution", "law", "policy", "plan", "budget", "other"]
    title: str = Field(min_length=1, max_length=500)
    body: str = ""
    adopted: _dt.date | None = None
    reference: str = ""
    url: str = ""
    notes: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return _check_id(v)


class Commitment(BaseModel):
    """What was promised, with its measurable targets.

    Parameters
    ----------
    id : str
        Stable identifier (versions share it).
    instrument : str
        Id of the :class:`Instrument` it belongs to.
    title, text : str
        Short title and the commitment's wording.
    paraphrase : bool
        True when ``text`` paraphrases the instrument rather than quoting it.
    responsible : str
        Ministry or body responsible for delivery.
    targets : tuple of Target
    notes : tuple of Note
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(json_schema_extra=_ID_SCHEMA)
    instrument: str = Field(json_schema_extra=_ID_SCHEMA)
    title: str = Field(min_length=1, max_length=300)
    text: str = ""
    paraphrase: bool = False
    responsible: str = ""
    targets: tuple[Target, ...] = ()
    notes: tuple[Note, ...] = ()

    @field_validator("id", "instrument")
    @classmethod
    def _ids(cls, v: str) -> str:
        return _check_id(v)

    def with_note(self, text: str, date: _dt.date) -> "Commitment":
        """A new commitment with one more note."""
        return self.model_copy(update={"notes": (*self.notes, Note(text=text, date=date))})


@dataclass(frozen=True)
class Versioned:
    """One stored version of an instrument or commitment (the record type of
    :mod:`humsec.oversight.repositories.commitments`).

    Attributes
    ----------
    kind, id : str
    version : int
    deleted : bool
        True for a tombstone (the value is the last one before deletion).
    at : datetime.datetime
        When it was written (UTC).
    actor : str
        User id of the author.
    value : Instrument or Commitment
    """

    kind: str
    id: str
    version: int
    deleted: bool
    at: _dt.datetime
    actor: str
    value: Any


class BudgetLine(BaseModel):
    """One line of a budget (validated; amounts in ``currency``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    row: int
    programme: str
    ministry: str
    amount: float
    year: int
    description: str = ""
    currency: str = ""
    country: str


class Tag(BaseModel):
    """SDG targets and human-security dimensions of a budget line.

    ``source`` says where the tag comes from: ``rule`` (keyword rules, with the matched
    keywords in ``evidence``), ``classifier`` (a suggestion with ``confidence``) or
    ``review`` (confirmed or corrected by a reviewer).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    sdg_targets: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    source: Literal["rule", "classifier", "review", "none"]
    confidence: float | None = None
    evidence: tuple[str, ...] = ()

    @field_validator("dimensions")
    @classmethod
    def _dims(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in v if d not in DIMENSIONS]
        if bad:
            raise ValueError(f"unknown dimension(s) {', '.join(bad)}; expected {', '.join(DIMENSIONS)}")
        return tuple(dict.fromkeys(v))

    @field_validator("sdg_targets")
    @classmethod
    def _sdgs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in v if not _SDG_TARGET.fullmatch(t)]
        if bad:
            raise ValueError(f"not SDG targets: {', '.join(bad)} (expected e.g. '3.2')")
        return tuple(dict.fromkeys(v))


# ---------------------------------------------------------------------------- validation


def pydantic_issues(exc: PydanticValidationError, *, file: str | None, prefix: str = "",
                    row: int | None = None) -> list[ValidationIssue]:
    """Located :class:`ValidationIssue` s from a pydantic error."""
    out = []
    for err in exc.errors():
        path = ""
        for p in err["loc"]:
            path += f"[{p}]" if isinstance(p, int) else (f".{p}" if path else str(p))
        msg = err["msg"].removeprefix("Value error, ")
        out.append(ValidationIssue(msg, file=file, row=row, field=f"{prefix}{path}" if path else prefix or None))
    return out


def validate_instrument(raw: Any, *, file: str | None = None, where: str = "") -> Instrument:
    """An :class:`Instrument` from a mapping, or a located :class:`ValidationError`."""
    try:
        return Instrument.model_validate(raw)
    except PydanticValidationError as exc:
        raise ValidationError(pydantic_issues(exc, file=file, prefix=where)) from None


def validate_commitment(raw: Any, *, catalogue: Catalogue, today: _dt.date,
                        known_units: frozenset[str] | None = None, file: str | None = None,
                        where: str = "") -> Commitment:
    """Check a commitment (or its raw mapping) and return it.

    Parameters
    ----------
    raw : Commitment or mapping
    catalogue : Catalogue
        Targets must name a catalogue indicator of a human-security dimension.
    today : datetime.date
        Deadlines must lie after it; baseline years must not.
    known_units : frozenset of str, optional
        Accepted ISO3 codes (default: every country of the registry).
    file, where : str
        Location prefix of the reported problems (file name and path in it).

    Raises
    ------
    ValidationError
        Every problem at once, each located (``targets[0].indicator`` ...).
    """
    if known_units is None:
        known_units = CountryRegistry.default().codes
    try:
        c = raw if isinstance(raw, Commitment) else Commitment.model_validate(raw)
    except PydanticValidationError as exc:
        raise ValidationError(pydantic_issues(exc, file=file, prefix=where)) from None
    issues: list[ValidationIssue] = []
    if not c.targets:
        issues.append(ValidationIssue("a commitment needs at least one measurable target", file=file,
                                      field=f"{where}targets"))
    keys: set[str] = set()
    for n, t in enumerate(c.targets):
        loc = f"{where}targets[{n}]."
        if t.key in keys:
            issues.append(ValidationIssue(f"duplicate target key '{t.key}'", file=file, field=loc + "key"))
        keys.add(t.key)
        ind = catalogue.get(t.indicator)
        if ind is None:
            best = process.extractOne(t.indicator, catalogue.codes)
            hint = f" (did you mean '{best[0]}'?)" if best and best[1] >= 70 else ""
            issues.append(ValidationIssue(f"unknown indicator '{t.indicator}'{hint}", file=file,
                                          field=loc + "indicator"))
        elif ind.dimension == "context":
            issues.append(ValidationIssue(f"'{t.indicator}' is a context indicator, not an outcome",
                                          file=file, field=loc + "indicator"))
        if t.unit not in known_units:
            issues.append(ValidationIssue(f"unknown unit '{t.unit}': expected an ISO 3166-1 alpha-3 code",
                                          file=file, field=loc + "unit"))
        if t.deadline <= today:
            issues.append(ValidationIssue(f"deadline {t.deadline} is in the past (today is {today})",
                                          file=file, field=loc + "deadline"))
        if not MIN_YEAR <= t.baseline_year <= today.year:
            issues.append(ValidationIssue(f"baseline year {t.baseline_year} must lie between {MIN_YEAR} "
                                          f"and {today.year}", file=file, field=loc + "baseline_year"))
        elif t.baseline_year >= t.deadline.year:
            issues.append(ValidationIssue("baseline year must be before the deadline", file=file,
                                          field=loc + "baseline_year"))
        if ind is not None:
            for name, v in (("target_value", t.target_value), ("baseline_value", t.baseline_value)):
                if v is None:
                    continue
                if ind.valid_min is not None and v < ind.valid_min or ind.valid_max is not None and v > ind.valid_max:
                    issues.append(ValidationIssue(
                        f"{v} is outside the possible range of '{ind.code}' "
                        f"[{ind.valid_min}, {ind.valid_max}] ({ind.unit})", file=file, field=loc + name))
    if issues:
        raise ValidationError(issues)
    return c
