"""WHO Global Health Observatory OData API (``https://ghoapi.azureedge.net/api``).

Documented at https://www.who.int/data/gho/info/gho-odata-api. ``/api/{IndicatorCode}``
with an OData ``$filter`` answers ``{"@odata.context": ..., "value": [...]}``; each value
has ``IndicatorCode``, ``SpatialDimType`` (``COUNTRY``, ``REGION``, ``WORLDBANKINCOMEGROUP``
...), ``SpatialDim`` (ISO3 for countries), ``TimeDimType``, ``TimeDim`` (year),
``Dim1Type``/``Dim1`` (e.g. ``SEX``/``SEX_BTSX``), ``Value`` (display text),
``NumericValue``, ``Low``, ``High`` and ``Date`` (last update). Server-driven paging adds
``@odata.nextLink``. Errors follow OData: ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from humsec.data.connectors.base import (
    MalformedResponseError, Page, Query, Request, SourceError, SourceSpec, load_json,
)


def _filter(query: Query) -> str:
    parts = ["SpatialDimType eq 'COUNTRY'"]
    if query.countries:
        ors = " or ".join(f"SpatialDim eq '{c}'" for c in query.countries)
        parts.append(f"({ors})")
    if query.since is not None:
        parts.append(f"TimeDim ge {int(query.since)}")
    if query.until is not None:
        parts.append(f"TimeDim le {int(query.until)}")
    return " and ".join(parts)


def plan(spec: SourceSpec, query: Query) -> list[Request]:
    return [Request(f"{spec.base_url}/{code}", (("$filter", _filter(query)),),
                    note="follows @odata.nextLink if the server pages", context={"code": code})
            for code in query.codes]


def parse(spec: SourceSpec, content: bytes, request: Request) -> Page:
    data = load_json(content, spec)
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        raise SourceError(f"{spec.host} reported an OData error for {request.full_url}: "
                          f"{err.get('code', '')} {err.get('message', '')}".rstrip())
    if not isinstance(data, dict) or not isinstance(data.get("value"), list):
        raise MalformedResponseError(
            f"{spec.host} answered {request.full_url} without the documented 'value' list")
    records = []
    editions = []
    for n, row in enumerate(data["value"]):
        try:
            if row.get("SpatialDimType") != "COUNTRY":
                continue
            rec = {
                "code": row["IndicatorCode"],
                "area": row["SpatialDim"],
                "year": row["TimeDim"],
                "value": row["NumericValue"],
                "sex": row.get("Dim1") if row.get("Dim1Type") == "SEX" else None,
            }
        except (KeyError, TypeError, AttributeError):
            raise MalformedResponseError(
                f"{spec.host}: value {n + 1} lacks the documented fields IndicatorCode, "
                "SpatialDim, TimeDim, NumericValue") from None
        for i in (1, 2, 3):
            t = row.get(f"Dim{i}Type")
            if t and t != "SEX":
                rec[t] = row.get(f"Dim{i}")
        if row.get("Date"):
            editions.append(str(row["Date"])[:10])
        records.append(rec)
    nxt = None
    link = data.get("@odata.nextLink")
    if link:
        link = urljoin(request.url, str(link))
        if urlsplit(link).hostname != urlsplit(request.url).hostname:
            raise MalformedResponseError(f"{spec.host}: next link points to another host: {link}")
        nxt = request.replace(url=link, params=())
    return Page(records, next=nxt, edition=max(editions) if editions else "")
