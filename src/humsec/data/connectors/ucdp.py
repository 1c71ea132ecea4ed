"""Uppsala Conflict Data Program (UCDP) API: Georeferenced Event Dataset (GED).

Documented at https://ucdp.uu.se/apidocs/. ``/api/gedevents/{version}?pagesize=N&page=P``
(page numbers start at 0; filters ``StartDate``, ``EndDate``, ``Country`` in
Gleditsch-Ward numbers) answers ``{"TotalCount", "TotalPages", "PreviousPageUrl",
"NextPageUrl", "Result"}``; each event has ``id``, ``year``, ``type_of_violence`` (1
state-based, 2 non-state, 3 one-sided), ``country`` (name), ``country_id`` (G-W number),
``best``/``low``/``high`` (fatality estimates) and many more. Since 2025 the API asks for
an access token in the ``x-ucdp-access-token`` header (set ``HUMSEC_TOKEN_UCDP``).

Events are summed per country and year into deaths (``aggregate: sum`` in the registry);
country names are matched to ISO3 by the country registry (e.g. "Yemen (North Yemen)").
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from humsec.data.connectors.base import MalformedResponseError, Page, Query, Request, SourceSpec, load_json


def plan(spec: SourceSpec, query: Query) -> list[Request]:
    version = spec.options.get("version", spec.edition)
    params: list[tuple[str, str]] = [("pagesize", str(spec.page_size)), ("page", "0")]
    if query.since is not None:
        params.append(("StartDate", f"{int(query.since)}-01-01"))
    if query.until is not None:
        params.append(("EndDate", f"{int(query.until)}-12-31"))
    return [Request(f"{spec.base_url}/gedevents/{version}", tuple(params),
                    note="further pages follow NextPageUrl", context={"codes": list(query.codes)})]


def parse(spec: SourceSpec, content: bytes, request: Request) -> Page:
    data = load_json(content, spec)
    if not isinstance(data, dict) or not isinstance(data.get("Result"), list):
        raise MalformedResponseError(
            f"{spec.host} answered {request.full_url} without the documented 'Result' list")
    codes = request.context.get("codes") or list(spec.indicators)
    records = []
    for n, ev in enumerate(data["Result"]):
        for code in codes:
            try:
                records.append({"code": code, "area": ev["country"], "year": ev["year"],
                                "value": ev[code],
                                "type_of_violence": str(ev.get("type_of_violence", ""))})
            except (KeyError, TypeError):
                raise MalformedResponseError(
                    f"{spec.host}: event {n + 1} lacks the documented fields country, year, "
                    f"{code}") from None
    nxt = None
    link = data.get("NextPageUrl")
    if link:
        parts = urlsplit(str(link))
        if parts.hostname != request.host:
            raise MalformedResponseError(f"{spec.host}: NextPageUrl points to another host: {link}")
        nxt = request.replace(url=f"{parts.scheme}://{parts.netloc}{parts.path}",
                              params=tuple(parse_qsl(parts.query)))
    try:
        pages = int(data.get("TotalPages") or 0) or None
    except (TypeError, ValueError):
        pages = None
    return Page(records, next=nxt, pages=pages)
