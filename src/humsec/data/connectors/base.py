"""Values shared by the connectors: the source registry model, queries, requests, pages.

Everything here is an immutable value; nothing touches the network. A *source* is
declared in ``sources.yaml`` (:class:`SourceSpec`); its behaviour lives in a small *hook*
module (``humsec.data.connectors.<hook>``) exposing two pure functions::

    plan(spec: SourceSpec, query: Query) -> list[Request]
        The first request for each piece of the query (what ``--dry-run`` prints).
    parse(spec: SourceSpec, content: bytes, request: Request) -> Page
        Records of one answer and, for paginated APIs, the request for the next page.

Sources that publish one large file set ``download: true`` in the registry; their hook's
``parse`` receives the whole downloaded file.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from humsec.errors import HumsecError

__all__ = [
    "IndicatorMap", "MalformedResponseError", "Page", "Query", "RECORD_COLUMNS", "Request",
    "SourceError", "SourceSpec", "SourceUnreachableError", "load_json",
]

RECORD_COLUMNS: tuple[str, ...] = ("code", "area", "year", "value", "sex", "age", "group")
"""Columns of the records a hook's ``parse`` returns (``sex``/``age``/``group`` optional).

``code`` is the *source's* series code, ``area`` the source's area identifier (its kind is
:attr:`SourceSpec.area_kind`), ``value`` may be text (converted and checked later).
"""

_SOURCE_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class SourceError(HumsecError):
    """A source answered, but with an error (HTTP error status or an in-band error page)."""


class SourceUnreachableError(HumsecError):
    """A source could not be reached at all (no network, DNS failure, host down)."""


class MalformedResponseError(SourceError):
    """A source answered with something that is not in its documented format."""


class IndicatorMap(BaseModel):
    """How one source series becomes a catalogue indicator.

    Parameters
    ----------
    code : str
        Catalogue indicator code (``humsec/data/catalogue.yaml`` or the connectors'
        ``indicators.yaml``).
    scale : float
        Factor applied to the source's values (e.g. 1e6 for "millions of persons").
    sex : str, optional
        Fixed sex code for series that are one sex only (``"F"``, ``"M"``).
    where : dict[str, str]
        Keep only records whose extra dimensions have these values (hook-specific keys).
    aggregate : {"none", "sum"}
        ``"sum"`` adds up several records per country, year and disaggregation (events).
    key : str, optional
        SDMX series key (generic SDMX sources).
    description : str
        What the source series is, in the source's words.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    scale: float = 1.0
    sex: str | None = None
    where: dict[str, str] = Field(default_factory=dict)
    aggregate: str = "none"
    key: str | None = None
    description: str = ""

    @field_validator("aggregate")
    @classmethod
    def _agg(cls, v: str) -> str:
        if v not in ("none", "sum"):
            raise ValueError("expected 'none' or 'sum'")
        return v


class SourceSpec(BaseModel):
    """One source of the connector registry (``sources.yaml``).

    Parameters
    ----------
    id : str
        Short name used on the command line (``humsec data fetch worldbank``).
    title : str
        Publisher and dataset, recorded as the provenance ``source``.
    hook : str
        Module under :mod:`humsec.data.connectors` implementing ``plan`` and ``parse``.
    base_url : str
        Root address of the API (or the file, for downloads).
    licence, citation, homepage : str
        Recorded in every provenance record.
    area_kind : {"iso3", "iso2", "m49", "name"}
        What the source's area identifiers are.
    drop_areas : list of str
        Area identifiers that are known aggregates (dropped, reported as aggregates).
    sex_codes : dict[str, str]
        Source sex codes -> ``_T``/``F``/``M``.
    page_size : int
        Records asked for per page.
    rate_limit : float
        Most requests per second sent to this source.
    download : bool
        The source is one large file, downloaded resumably and parsed whole.
    edition : str
        Default edition/vintage label when the answers do not carry one.
    options : dict
        Hook-specific settings (e.g. the SDMX agency and dataflow).
    indicators : dict[str, IndicatorMap]
        Source series code -> catalogue mapping.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str
    hook: str
    base_url: str
    licence: str
    citation: str = ""
    homepage: str = ""
    area_kind: str = "iso3"
    drop_areas: tuple[str, ...] = ()
    sex_codes: dict[str, str] = Field(default_factory=dict)
    page_size: int = Field(default=1000, ge=1, le=100_000)
    rate_limit: float = Field(default=2.0, gt=0)
    download: bool = False
    edition: str = ""
    options: dict[str, Any] = Field(default_factory=dict)
    indicators: dict[str, IndicatorMap]

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _SOURCE_ID.fullmatch(v):
            raise ValueError("expected lower-case letters, digits, '-' or '_' (at most 32)")
        return v

    @field_validator("area_kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in ("iso3", "iso2", "m49", "name"):
            raise ValueError("expected one of iso3, iso2, m49, name")
        return v

    @property
    def host(self) -> str:
        """Host name of the source (for messages)."""
        return urlsplit(self.base_url).hostname or self.base_url

    def codes_for(self, catalogue_codes: list[str] | tuple[str, ...]) -> list[str]:
        """Source series codes mapped to any of ``catalogue_codes``."""
        return [k for k, m in self.indicators.items() if m.code in catalogue_codes]


@dataclass(frozen=True)
class Query:
    """What to fetch.

    Parameters
    ----------
    codes : tuple of str
        Source series codes (keys of :attr:`SourceSpec.indicators`).
    countries : tuple of str, optional
        ISO3 codes to restrict to (None: every country).
    since, until : int, optional
        First and last year.
    """

    codes: tuple[str, ...]
    countries: tuple[str, ...] | None = None
    since: int | None = None
    until: int | None = None

    def year_ok(self, year: int) -> bool:
        return (self.since is None or year >= self.since) and (
            self.until is None or year <= self.until)


@dataclass(frozen=True)
class Request:
    """One HTTP GET a connector will make.

    ``params`` is an ordered tuple of (name, value) pairs. ``headers`` never hold secrets
    in :meth:`display` (values of ``secret_headers`` are masked). Answers with an HTTP
    error status in ``accept_status`` are handed to the hook's ``parse`` instead of
    failing (SDMX answers "no results" with 404 and an error message).
    """

    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    secret_headers: tuple[str, ...] = ()
    note: str = ""
    accept_status: tuple[int, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def full_url(self) -> str:
        if not self.params:
            return self.url
        sep = "&" if "?" in self.url else "?"
        return self.url + sep + urlencode(self.params, safe=":;,$'()", quote_via=quote)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or self.url

    def display(self) -> str:
        """``GET url`` plus masked headers and the note, for ``--dry-run``."""
        out = f"GET {self.full_url}"
        shown = [f"{k}: {'***' if k in self.secret_headers else v}" for k, v in self.headers]
        if shown:
            out += "  [" + "; ".join(shown) + "]"
        if self.note:
            out += f"  ({self.note})"
        return out

    def with_params(self, **changes: object) -> "Request":
        """A copy with some query parameters replaced (or added)."""
        params = dict(self.params)
        params.update({k: str(v) for k, v in changes.items()})
        return self.replace(params=tuple(params.items()))

    def replace(self, **changes: Any) -> "Request":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Page:
    """What one answer held.

    Attributes
    ----------
    records : list of dict
        Rows with :data:`RECORD_COLUMNS` keys (plus hook-specific dimension keys used by
        :attr:`IndicatorMap.where`).
    next : Request, optional
        The next page to fetch.
    pages : int, optional
        Total number of pages, when the API says (for the progress bar).
    edition : str
        Edition/vintage stated by the source in this answer ("" if none).
    """

    records: list[dict[str, Any]]
    next: Request | None = None
    pages: int | None = None
    edition: str = ""


def load_json(content: bytes, spec: SourceSpec) -> Any:
    """Parse a JSON answer or raise :class:`MalformedResponseError` naming the source."""
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        snippet = content[:80].decode("utf-8", "replace").strip()
        raise MalformedResponseError(
            f"{spec.host} did not answer with JSON as documented ({exc.__class__.__name__}: "
            f"{exc}); the answer starts with {snippet!r}") from None


def today() -> _dt.date:
    """Today's date (UTC), the ``accessed`` date of a fetch."""
    return _dt.datetime.now(_dt.timezone.utc).date()
