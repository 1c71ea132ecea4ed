"""World Bank Indicators API v2 (World Development Indicators and other databases).

Documented at https://datahelpdesk.worldbank.org/knowledgebase/topics/125589. A request
``/v2/country/{codes}/indicator/{id}?format=json&per_page=N&page=P&date=Y1:Y2`` answers
with a two-element JSON array: page metadata (``page``, ``pages``, ``per_page``, ``total``,
``sourceid``, ``lastupdated``) and the observations (``indicator``, ``country``,
``countryiso3code``, ``date``, ``value``, ``unit``, ``obs_status``, ``decimal``). An empty
result has ``pages: 0`` and ``null`` observations. Errors come *in-band* with status 200:
``[{"message": [{"id": "120", "key": "Invalid value", "value": "..."}]}]``.
"""

from __future__ import annotations

import datetime as _dt

from humsec.data.connectors.base import (
    MalformedResponseError, Page, Query, Request, SourceError, SourceSpec, load_json,
)


def plan(spec: SourceSpec, query: Query) -> list[Request]:
    """One request per indicator (further pages follow from the answers)."""
    countries = ";".join(query.countries) if query.countries else "all"
    out = []
    for code in query.codes:
        params: list[tuple[str, str]] = [("format", "json"), ("per_page", str(spec.page_size)),
                                         ("page", "1")]
        if query.since is not None or query.until is not None:
            lo = query.since if query.since is not None else 1960
            hi = query.until if query.until is not None else _dt.date.today().year
            params.append(("date", f"{lo}:{hi}"))
        source = spec.options.get("source_id")
        if source:
            params.append(("source", str(source)))
        out.append(Request(f"{spec.base_url}/country/{countries}/indicator/{code}",
                           tuple(params), note="further pages as the API reports",
                           context={"code": code}))
    return out


def parse(spec: SourceSpec, content: bytes, request: Request) -> Page:
    data = load_json(content, spec)
    if isinstance(data, list) and data and isinstance(data[0], dict) and "message" in data[0]:
        msgs = data[0]["message"] or [{}]
        text = "; ".join(f"{m.get('key', '')}: {m.get('value', '')}".strip(": ") for m in msgs)
        raise SourceError(f"{spec.host} reported an error for {request.full_url}: {text}")
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], dict)):
        raise MalformedResponseError(
            f"{spec.host} answered {request.full_url} with JSON that is not the documented "
            "[metadata, observations] pair")
    meta, rows = data
    try:
        page, pages = int(meta.get("page") or 0), int(meta.get("pages") or 0)
    except (TypeError, ValueError):
        raise MalformedResponseError(f"{spec.host}: page metadata {meta!r} is not numeric") from None
    if rows is None:
        rows = []
    if not isinstance(rows, list):
        raise MalformedResponseError(f"{spec.host}: observations are not a list")
    records = []
    for n, row in enumerate(rows):
        try:
            records.append({
                "code": row["indicator"]["id"],
                "area": row.get("countryiso3code") or "",
                "area_name": row["country"]["value"],
                "year": row["date"],
                "value": row["value"],
            })
        except (KeyError, TypeError):
            raise MalformedResponseError(
                f"{spec.host}: observation {n + 1} of page {page} lacks the documented fields "
                "indicator.id, country.value, countryiso3code, date, value") from None
    nxt = request.with_params(page=page + 1) if 0 < page < pages else None
    return Page(records, next=nxt, pages=pages or None, edition=str(meta.get("lastupdated") or ""))
