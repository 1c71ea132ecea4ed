"""Shared parameters and dependencies of the routers (validation lives here, once)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Path, Query, Request

from humsec.api.state import Observatory
from humsec.errors import HumsecError, NotFoundError

ISO3_PATTERN = r"^[A-Za-z]{3}$"
MIN_YEAR, MAX_YEAR = 1800, 2100


class NotFound(NotFoundError):
    """A resource that does not exist (404)."""


class BadParameter(HumsecError):
    """A malformed request parameter that FastAPI's own validation does not catch (422)."""


class NotRanked(NotFound):
    """A country without an index score in the year asked (404); ``extra`` goes into the
    error body beside ``detail`` (what the country lacks)."""

    def __init__(self, message: str, **extra: object):
        super().__init__(message)
        self.extra = extra


def observatory(request: Request) -> Observatory:
    return request.app.state.observatory


ISO3 = Annotated[str, Path(pattern=ISO3_PATTERN, description="ISO 3166-1 alpha-3 country code, e.g. KEN.",
                           examples=["KEN"])]
Year = Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR,
                                   description="Assessment year (default: the latest year with data for "
                                               "at least half of the index's indicators).")]
BaseYear = Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR, description="Start of the trend period.")]


def country_code(obs: Observatory, iso3: str) -> str:
    """Upper-cased ISO3 code known to the country registry, else 404."""
    code = iso3.upper()
    reg = obs.registry()
    if not reg.is_iso3(code):
        raise NotFound(f"unknown country code '{code}': expected an ISO 3166-1 alpha-3 code such as KEN")
    return code


def choice(values: Sequence[str], *, where: str = "query", description: str = "") -> Any:
    """A path (``where="path"``) or query parameter that is one of ``values``: a string,
    listed in the OpenAPI document (``enum``) and checked against them (a pattern of the
    values: anything else is a 422)."""
    rule = "^(" + "|".join(re.escape(v) for v in values) + ")$"
    make = Path if where == "path" else Query
    return make(pattern=rule, description=description or None, json_schema_extra={"enum": list(values)})


def index_name(names: Sequence[str], *, where: str = "path", description: str = "A built-in index spec.") -> Any:
    """The parameter naming one of the built-in index specs ``names`` (:func:`choice`)."""
    return choice(names, where=where, description=description)
