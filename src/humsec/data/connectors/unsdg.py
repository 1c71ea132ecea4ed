"""UN SDG Global Database API (UN Statistics Division), ``/v1/sdg/Series/Data``.

Documented (Swagger) at https://unstats.un.org/sdgs/UNSDGAPIV5/swagger/. A request
``/v1/sdg/Series/Data?seriesCode=SH_DYN_MORT&areaCode=4&timePeriodStart=2000&page=1&pageSize=N``
answers with ``size``, ``totalElements``, ``totalPages``, ``pageNumber``, ``attributes``,
``dimensions`` and ``data``: one object per observation with ``series``, ``geoAreaCode``
(UN M49), ``geoAreaName``, ``timePeriodStart``, ``value`` (text), ``attributes``
(``Nature``, ``Units``) and ``dimensions`` (``Sex``, ``Age``, ``Location``, ...).
"""

from __future__ import annotations

from humsec.data.connectors.base import MalformedResponseError, Page, Query, Request, SourceSpec, load_json
from humsec.data.countries import CountryRegistry


def plan(spec: SourceSpec, query: Query) -> list[Request]:
    out = []
    for code in query.codes:
        params: list[tuple[str, str]] = [("seriesCode", code)]
        if query.countries:
            reg = CountryRegistry.default()
            for iso3 in query.countries:
                num = reg.info(iso3).numeric
                if num:
                    params.append(("areaCode", str(int(num))))
        if query.since is not None:
            params.append(("timePeriodStart", str(query.since)))
        if query.until is not None:
            params.append(("timePeriodEnd", str(query.until)))
        params += [("page", "1"), ("pageSize", str(spec.page_size))]
        out.append(Request(f"{spec.base_url}/v1/sdg/Series/Data", tuple(params),
                           note="further pages as the API reports", context={"code": code}))
    return out


def parse(spec: SourceSpec, content: bytes, request: Request) -> Page:
    data = load_json(content, spec)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise MalformedResponseError(
            f"{spec.host} answered {request.full_url} without the documented 'data' list")
    try:
        page = int(data.get("pageNumber") or 1)
        pages = int(data.get("totalPages") or 0)
    except (TypeError, ValueError):
        raise MalformedResponseError(f"{spec.host}: page numbers are not numeric") from None
    records = []
    for n, row in enumerate(data["data"]):
        try:
            dims = row.get("dimensions") or {}
            rec = {
                "code": row["series"],
                "area": str(row["geoAreaCode"]),
                "area_name": row.get("geoAreaName", ""),
                "year": row["timePeriodStart"],
                "value": row["value"],
                "sex": dims.get("Sex"),
            }
        except (KeyError, TypeError, AttributeError):
            raise MalformedResponseError(
                f"{spec.host}: record {n + 1} of page {page} lacks the documented fields "
                "series, geoAreaCode, timePeriodStart, value") from None
        for k, v in dims.items():
            if k != "Sex":
                rec[k] = v
        records.append(rec)
    nxt = request.with_params(page=page + 1) if page < pages else None
    return Page(records, next=nxt, pages=pages or None)
