"""The response contract of the REST API: a pydantic model for every JSON answer, the
errors (RFC 9457 problem documents) each operation can give, and the other media types
(CSV, HTML, PDF) an operation can answer.

The routes render their answers themselves (cached bytes with ETags: see
:mod:`humsec.api.http`), so these models are declarations for the OpenAPI document -
``responses={200: {"model": ...}}`` - not a second serialisation. They describe what the
routes return: ``tests/test_api_contract.py`` validates real answers against the OpenAPI
document, and ``tests/test_api_fuzz.py`` runs schemathesis' response-schema checks over
every operation.

Table rows whose columns depend on the index (one column per dimension in a ranking,
for example) are declared with typed extra members (``__pydantic_extra__``).

References
----------
RFC 9457, Problem Details for HTTP APIs (2023). https://www.rfc-editor.org/rfc/rfc9457
RFC 9110, HTTP Semantics, sections 15.4.5 (304) and 15.5 (4xx). https://www.rfc-editor.org/rfc/rfc9110
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from humsec.index.spec import IndexSpec
from humsec.model.catalogue import Indicator
from humsec.model.panel import Provenance
from humsec.oversight.models import Commitment, Instrument, Versioned
from humsec.oversight.status import TargetStatus as _TargetStatus

PROBLEM = "application/problem+json"
CSV = "text/csv"
HTML = "text/html"
PDF = "application/pdf"

Number = float | None
"""A number that may be missing (``null``: NaN and missing values are sent as null)."""


class _Fixed(BaseModel):
    """A JSON object with exactly these members."""

    model_config = ConfigDict(extra="forbid")


class _Row(BaseModel):
    """A table row: these members, and for tables whose columns depend on the index,
    more numeric members (declared by subclasses through ``__pydantic_extra__``)."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """An error (RFC 9457 problem details); some errors add members, e.g. ``errors``
    (the invalid fields of a request) or ``not_ranked`` (why a country has no score)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", description="Problem type (always about:blank: see status and title).")
    title: str = Field(description="The HTTP status phrase.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, in words: the field, the value and what was expected.")


#: What each error status means for this service (the descriptions in the OpenAPI document).
ERROR_TEXT: dict[int, str] = {
    401: "No valid API token (send 'Authorization: Bearer <token>').",
    403: "The token's role may not do this.",
    404: "No such country, index, indicator, record or data for the request (the reason in detail).",
    409: "A conflicting edit: someone changed the record since the version given.",
    413: "The upload is too large.",
    415: "The uploaded file is of a type the importer does not read.",
    422: "Invalid input: the field and what was expected.",
    501: "A feature of an optional extra that this installation lacks (e.g. PDF needs humsec[pdf]).",
    503: "The store or oversight database is busy with a write; retry after Retry-After seconds.",
}

#: ``Retry-After`` of a 503 answer.
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries of problem+json errors ``codes`` (RFC 9457)."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": Problem, "description": ERROR_TEXT[code],
                                 "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        if code == 503:
            entry["headers"] = RETRY_AFTER
        if code == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "The Bearer challenge.",
                                                     "schema": {"type": "string"}}}
        out[code] = entry
    return out


#: Answers every operation can give before any route runs: a Host header the service does
#: not answer (Starlette's trusted-host check answers in plain text).
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "A Host header the service does not answer (plain text), or a request body that "
                         "cannot be parsed (a problem document).",
          "content": {"text/plain": {"schema": {"type": "string"}},
                      PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}},
}

#: Headers of a cached read (:func:`humsec.api.http.cached`).
CACHE_HEADERS = {
    "ETag": {"description": "Version of the answer (send it back in If-None-Match).", "required": True,
             "schema": {"type": "string"}},
    "Cache-Control": {"description": "How long the answer may be reused.", "required": True,
                      "schema": {"type": "string"}},
}


#: Headers of a page of observations (``/panel``).
PAGE_HEADERS = {
    "X-Total-Count": {"description": "Observations matching the filters.", "required": True,
                      "schema": {"type": "integer"}},
    "Link": {"description": "Relative links to the next and previous pages (RFC 8288).",
             "schema": {"type": "string"}},
}


def read(model: Any, *codes: int, csv: bool = False, media: tuple[str, ...] = (),
         headers: dict[str, Any] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses`` of a cached read: 200 with ``model`` (JSON; also CSV with ``csv``, or
    only the raw ``media`` types when ``model`` is None), 304 for a current
    ``If-None-Match``, and the errors ``codes``; ``headers`` are more headers of the 200."""
    ok: dict[str, Any] = {"description": "The answer.", "headers": {**CACHE_HEADERS, **(headers or {})}}
    if model is not None:
        ok["model"] = model
    content: dict[str, Any] = {}
    if csv:
        content[CSV] = {"schema": {"type": "string", "description": "The table as CSV (RFC 4180, UTF-8)."}}
    for m in media:
        content[m] = {"schema": {"type": "string", "format": "binary"} if m == PDF else {"type": "string"}}
    if content:
        ok["content"] = content
    return {200: ok, 304: {"description": "Not modified: the client's copy (If-None-Match) is current.",
                           "headers": CACHE_HEADERS}, **errors(*codes)}


# ----------------------------------------------------------------------------- data


class Health(_Fixed):
    status: str = Field(description="Always ok.")


class Version(_Fixed):
    humsec: str = Field(description="Version of the service.")
    data_fingerprint: str = Field(description="Hash of the snapshots the answers rest on.")
    snapshots: list[str] = Field(description="The snapshots in use (dataset@version).")


class CatalogueEntry(_Row):
    code: str
    name: str
    unit: str
    dimension: str
    direction: int
    sdg: str | None
    source: str
    licence: str
    countries: int = Field(description="Countries with at least one observation.")
    first_year: int | None
    last_year: int | None
    observations: int
    snapshot: str | None = Field(description="The snapshot the indicator's numbers come from.")


class CatalogueResponse(_Fixed):
    version: str = Field(description="Version of the catalogue.")
    indicators: list[CatalogueEntry]


class IndicatorStatus(_Row):
    code: str
    name: str
    dimension: str
    latest_year: int | None
    age: int | None = Field(description="Years since the latest observation.")
    un_members_latest: int = Field(description="UN members with data in the latest year.")
    units_latest: int
    units: int
    edition: str | None
    licence: str | None
    source: str | None
    stale: bool
    snapshot: str | None


class DataStatus(_Fixed):
    as_of: _dt.date
    stale_after: int
    stale: int = Field(description="Indicators older than stale_after years.")
    indicators: list[IndicatorStatus]


class Coverage(_Fixed):
    indicator: str
    countries: int
    first_year: int
    last_year: int
    observations: int


class IndicatorDetail(Indicator):
    """A catalogue entry with its provenance and coverage."""

    provenance: Provenance | None
    snapshot: str | None
    coverage: Coverage | None


class Observation(_Row):
    unit: str
    year: int
    indicator: str
    sex: str
    age: str
    group: str
    value: Number


class PanelPage(_Fixed):
    total: int = Field(description="Observations matching the filters.")
    offset: int
    limit: int
    count: int = Field(description="Observations on this page.")
    items: list[Observation]
    provenance: dict[str, Provenance] = Field(description="Provenance of each indicator on the page.")


class Snapshot(_Fixed):
    snapshot: str
    dataset: str
    version: int
    kind: str
    created: str
    observations: int
    origin: str | None
    sha256: str


class Country(_Row):
    iso3: str
    iso2: str | None
    name: str
    region: str | None
    subregion: str | None
    intermediate_region: str | None
    income_group: str | None
    groupings: str = Field(description="The groupings it belongs to, separated by ';'.")
    lat: Number
    lon: Number


class ImportResult(_Fixed):
    snapshot: str
    created: bool = Field(description="False when the same content was already stored (200).")
    observations: int
    indicators: list[str]
    units: int
    by: str = Field(description="The user who imported it.")


# ----------------------------------------------------------------------------- indices


class IndexSummary(_Fixed):
    name: str
    title: str | None
    version: str | None
    root: str
    dimensions: list[str]
    indicators: int
    uncertainty: bool


class YearCoverage(_Row):
    year: int
    ranked: int
    fresh_share: Number


class IndexYears(_Fixed):
    index: str
    years: list[int]
    default_year: int | None
    ranked_years: list[int]
    latest_year: int | None
    coverage: list[YearCoverage]


class NamedNode(_Fixed):
    code: str
    name: str


class RankingRow(_Row):
    """A ranked country; one more member per dimension of the index (its score)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Number]

    rank: int
    unit: str
    name: str
    score: Number
    rank_q05: Number
    rank_q95: Number
    score_q05: Number
    score_q95: Number
    severe: str = Field(description="Dimensions in severe insecurity, separated by ';'.")


class NotRankedRow(_Row):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Any]


class Ranking(_Fixed):
    index: str
    title: str | None
    year: int
    runs: int
    seed: int
    n_failed: int
    dimensions: list[NamedNode]
    countries: list[RankingRow]
    not_ranked: list[NotRankedRow] = Field(description="Countries with data but no score, and why.")


class RegionRow(_Row):
    year: int
    kind: str
    group: str
    node: str
    value: Number
    n_units: int
    n_with_data: int
    population: Number
    coverage: Number


class Regions(_Fixed):
    index: str
    year: int
    regions: list[RegionRow]


class IntervalRow(_Row):
    unit: str
    node: str
    nominal_score: Number
    nominal_rank: Number
    mean_rank: Number
    median_rank: Number
    rank_q05: Number
    rank_q95: Number
    mean_score: Number
    score_q05: Number
    score_q95: Number
    n_runs: int
    n_score_runs: int


class Uncertainty(_Fixed):
    index: str
    year: int
    runs: int
    seed: int
    n_failed: int
    intervals: list[IntervalRow]


class IndicatorCoverage(_Row):
    indicator: str
    countries: int = Field(description="Countries with data (0 when none has data in the window).")
    median_age: Number
    max_age_used: int | None
    oldest: int | None
    newest: int | None
    policy: str
    max_age_allowed: int | None


class IndexCoverage(_Fixed):
    index: str
    year: int
    indicators: list[IndicatorCoverage]


class CorrelationPair(_Row):
    a: str
    b: str
    r: Number
    p: Number


class Correlations(_Fixed):
    index: str
    year: int
    method: str
    level: int
    level2: int | None
    rows: list[str]
    columns: list[str]
    pairs: list[CorrelationPair]


class AvailabilityRow(_Row):
    """Availability of one country; one more member per group of the level (its share)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Number]

    unit: str
    n_missing: int
    n_zero: int
    n_miss_or_zero: int
    availability: Number
    non_zero: Number


class Availability(_Fixed):
    index: str
    year: int
    countries: list[AvailabilityRow]


class UnitSummaryRow(_Row):
    code: str
    name: str
    level: int
    score: Number
    rank: Number


class StrengthRow(_Row):
    """An indicator among a country's strongest or weakest; ``level_N`` members name its
    parents."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, str | None]

    code: str
    name: str
    rank: Number
    value: Number


class UnitProfile(_Fixed):
    index: str
    year: int
    unit: str
    summary: list[UnitSummaryRow]
    strengths: list[StrengthRow]
    weaknesses: list[StrengthRow]


# ----------------------------------------------------------------------------- countries


class DimensionScore(_Row):
    dimension: str
    name: str
    score: Number
    rank: Number
    rank_q05: Number
    rank_q95: Number
    indicators: int
    available: int
    coverage: Number
    severe: bool


class Threat(_Row):
    dimension: str
    name: str
    score: Number
    rank: Number


class ThreatIndicator(_Row):
    indicator: str
    name: str
    dimension: str
    value: Number
    unit: str | None
    observed: int | None
    score: Number


class AssessedIndicator(_Row):
    indicator: str
    name: str
    dimension: str
    value: Number
    unit: str | None
    observed: int | None = Field(description="Year of the observation used.")
    age: int | None
    how: str = Field(description="How the value was obtained (observed, carried forward, ...).")
    score: Number
    rank: Number
    source: str | None
    edition: str | None
    licence: str | None


class CountryAssessment(_Fixed):
    unit: str
    name: str
    year: int
    index: str
    score: Number
    rank: Number
    n_ranked: int
    rank_interval: list[Number] = Field(description="5th and 95th percentile rank.")
    score_interval: list[Number] = Field(description="5th and 95th percentile score.")
    coverage: Number
    dimensions: list[DimensionScore]
    threats: list[Threat]
    threat_indicators: list[ThreatIndicator]
    indicators: list[AssessedIndicator]
    peers: dict[str, list[str]] = Field(description="Countries of the same region, subregion, income group.")


class SeriesPoint(_Row):
    year: int
    node: str
    score: Number
    score_q05: Number
    score_q95: Number


class DimensionTrend(_Row):
    node: str
    base_year: int | None
    base_value: Number
    latest_year: int | None
    latest_value: Number
    cagr: Number
    progress: str
    progress_label: str
    arrow: str
    trend: str
    name: str


class IndicatorTrend(_Row):
    indicator: str
    dimension: str
    direction: int
    target: Number
    base_year: int | None
    base_value: Number
    latest_year: int | None
    latest_value: Number
    cagr: Number
    progress: str
    progress_label: str
    arrow: str
    trend: str
    name: str


class CountryTrends(_Fixed):
    unit: str
    index: str
    year: int
    first_year: int
    band_runs: int
    series: list[SeriesPoint]
    node_names: dict[str, str]
    dimension_trends: list[DimensionTrend]
    indicator_trends: list[IndicatorTrend]


class TableRow(_Row):
    """A row of an analysis table (members named by its columns)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Any]


class LeftBehind(_Fixed):
    unit: str
    year: int | None
    summary: list[str]
    rows: list[TableRow]
    missing: list[TableRow]
    furthest_behind: list[TableRow]


class CountryGroups(_Fixed):
    unit: str
    year: int | None
    gaps: list[TableRow] = Field(description="Gaps between groups (sex, age, area ...) per indicator.")
    furthest_behind: list[TableRow]
    demography: dict[str, Any] | None
    left_behind: LeftBehind


class SimilarPeer(_Row):
    unit: str
    distance: Number
    n_shared: int
    name: str


class PositiveDeviant(_Row):
    unit: str
    distance: Number
    n_shared: int
    before: Number
    after: Number
    change: Number
    noise: Number
    better_than_unit: bool
    name: str


class IndicatorChange(_Row):
    unit: str
    indicator: str
    before: Number
    after: Number
    change: Number
    improved: bool | None


class CountryPeers(_Fixed):
    unit: str
    year: int
    base_year: int
    similar: list[SimilarPeer]
    threat: str = Field(description="The dimension learnt about.")
    threat_name: str
    unit_change: Number
    positive_deviants: list[PositiveDeviant]
    what_changed: list[IndicatorChange]
    left_out_as_noise: int


class Exposure(_Row):
    unit: str
    threat: str
    own: Number
    neighbours: Number
    worst_neighbour: str | None
    worst_score: Number
    n_neighbours: int
    gap: Number


class SharedThreat(_Row):
    unit: str
    neighbour: str
    threat: str
    unit_change: Number
    neighbour_change: Number


class Hotspot(_Row):
    unit: str
    threat: str
    score: Number
    neighbours: Number
    p_sim: Number
    n_threats: int


class RegionalScore(_Row):
    group: str
    node: str
    value: Number
    n_units: int
    n_with_data: int
    population: Number
    coverage: Number


class NeighbourLink(_Row):
    unit: str
    neighbour: str
    name: str
    rule: str
    km: int | None


class Spill(_Fixed):
    target: str
    focus: list[str]
    is_region: bool
    year: int
    base_year: int
    graph: str
    exposure: list[Exposure]
    shared_rising_threats: list[SharedThreat]
    evidence: list[str]
    hotspots: list[Hotspot]
    regional: list[RegionalScore] | None
    displacement: list[TableRow] | None
    displacement_measure: str | None
    links: list[NeighbourLink]
    notes: list[str]
    names: dict[str, str]
    node_names: dict[str, str]


# ----------------------------------------------------------------------------- alerts


class Driver(_Fixed):
    code: str
    name: str
    change: Number
    contribution: Number
    via: str | None = None


class Alert(_Fixed):
    unit: str
    name: str
    year: int
    rule: str
    title: str
    series: str
    measure: str
    value: Number
    threshold: Number
    severity: str
    reason: str
    previous: Number
    current: Number
    drivers: list[Driver]


class Alerts(_Fixed):
    index: str
    year: int
    unit: str | None
    n_alerts: int
    alerts: list[Alert]
    rules: list[str]
    skipped: list[str] = Field(description="Rules not run, and why.")


class WatchedCountry(_Fixed):
    rank: int
    unit: str
    name: str
    probability: float
    relative_risk: float
    warning: bool
    status: str
    model: str
    drivers: list[str]


class WatchList(_Fixed):
    year: int = Field(description="The forecast year.")
    data_year: int
    horizon: int
    window: str
    n_countries: int
    n_warnings: int
    countries: list[WatchedCountry]


# ----------------------------------------------------------------------------- commitments


def _json_annotation(annotation: Any) -> Any:
    """The JSON type of a dataclass field's type: floats (and optional floats) are
    :data:`Number`, since NaN is sent as null; other types as they are."""
    if annotation is float:
        return Number
    if isinstance(annotation, types.UnionType) and float in typing.get_args(annotation):
        return Number
    return annotation


def model_from_dataclass(cls: type, name: str, *, overrides: dict[str, Any] | None = None,
                         extra: dict[str, Any] | None = None) -> type[BaseModel]:
    """A response model with a required member for every field of the dataclass ``cls``.

    Parameters
    ----------
    cls : type
        A dataclass (its fields, in order, with their resolved types).
    name : str
        Name of the model (of its schema in the OpenAPI document).
    overrides : dict, optional
        ``field -> annotation`` or ``field -> (annotation, FieldInfo)``: the JSON form of
        fields whose Python type is not their JSON type (e.g. tuples sent as lists).
    extra : dict, optional
        More members, as ``create_model`` takes them (e.g. properties that ``to_dict`` adds).

    Returns
    -------
    type of pydantic.BaseModel
        A model with no other member (``extra="forbid"``), so a field added to the
        dataclass appears in the API schema without a second declaration.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    given = overrides or {}
    unknown = sorted(set(given) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    members: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        spec = given.get(f.name, _json_annotation(hints[f.name]))
        members[f.name] = spec if isinstance(spec, tuple) else (spec, ...)
    members.update(extra or {})
    return create_model(name, __config__=ConfigDict(extra="forbid"),
                        __doc__=f":class:`{cls.__module__}.{cls.__qualname__}` as JSON.", **members)


def list_of(model: type[BaseModel]) -> types.GenericAlias:
    """``list[model]`` for a model made at run time (mypy takes no variable as a type)."""
    return types.GenericAlias(list, (model,))


#: :class:`humsec.oversight.status.TargetStatus` as JSON (``to_dict``: NaN as null, the
#: evidence as lists, and the status label).
TargetStatus = model_from_dataclass(
    _TargetStatus, "TargetStatus",
    overrides={"evidence": (list[list[float]], Field(description="The observations used, as [year, value]."))},
    extra={"label": (str, Field(description="The status in words."))})


def _patch_model(model: type[BaseModel], name: str) -> type[BaseModel]:
    """A request body of some of ``model``'s fields (each optional, with its constraints;
    no other member)."""
    fields: dict[str, Any] = {}
    for fname, info in model.model_fields.items():
        optional = FieldInfo.merge_field_infos(info, default=None)
        fields[fname] = (info.annotation, optional)
    return create_model(name, __config__=ConfigDict(extra="forbid"),
                        __doc__=f"Fields of a {model.__name__} to replace (the others are kept).", **fields)


#: The body of ``PATCH /commitments/{id}``: the fields to replace.
CommitmentChange = _patch_model(Commitment, "CommitmentChange")


#: Stored versions (:class:`humsec.oversight.models.Versioned`) of each kind of record.
VersionedCommitment = model_from_dataclass(
    Versioned, "VersionedCommitment", overrides={"value": Commitment},
    extra={"status": (list_of(TargetStatus) | None,
                      Field(None, description="Status of its targets (absent when deleted)."))})
VersionedInstrument = model_from_dataclass(Versioned, "VersionedInstrument", overrides={"value": Instrument})
CommitmentVersion = model_from_dataclass(Versioned, "CommitmentVersion", overrides={"value": Commitment})


#: The spec of an index, as stored (:meth:`humsec.index.spec.IndexSpec.to_dict`).
IndexSpecDocument = IndexSpec
#: Countries per grouping.
Groupings = dict[str, list[str]]
