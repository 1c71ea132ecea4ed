"""UNHCR Refugee Data Finder, population statistics API (``/population/v1/population/``).

Documented at https://api.unhcr.org/docs/refugee-statistics.html. Parameters ``limit``,
``page``, ``yearFrom``, ``yearTo``, ``coo``/``coa`` (countries of origin / asylum),
``coo_all``/``coa_all`` (break down by every origin / asylum country) and ``cf_type``
(``ISO`` for ISO3 codes). The answer is ``{"page", "maxPages", "total", "items"}``; each
item has ``year``, ``coo_name``, ``coo`` (UNHCR code), ``coo_iso``, ``coa_name``, ``coa``,
``coa_iso`` and the population types ``refugees``, ``asylum_seekers``,
``returned_refugees``, ``idps``, ``returned_idps``, ``stateless``, ``ooc``, ``oip``,
``hst``; a type that does not apply is ``"-"``.

The registry maps a population type by country of *origin* (``options.by: coo``,
default) or of *asylum* (``by: coa``) with the indicator's ``where: {by: coa}``.
"""

from __future__ import annotations

from humsec.data.connectors.base import MalformedResponseError, Page, Query, Request, SourceSpec, load_json

TYPES = ("refugees", "asylum_seekers", "returned_refugees", "idps", "returned_idps",
         "stateless", "ooc", "oip", "hst")


def plan(spec: SourceSpec, query: Query) -> list[Request]:
    by_values = sorted({spec.indicators[c].where.get("by", "coo") for c in query.codes})
    out = []
    for by in by_values:
        codes = [c for c in query.codes if spec.indicators[c].where.get("by", "coo") == by]
        params: list[tuple[str, str]] = [("limit", str(spec.page_size)), ("page", "1"),
                                         (f"{by}_all", "true"), ("cf_type", "ISO")]
        if query.since is not None:
            params.append(("yearFrom", str(query.since)))
        if query.until is not None:
            params.append(("yearTo", str(query.until)))
        if query.countries:
            params.append((by, ",".join(query.countries)))
        out.append(Request(f"{spec.base_url}/population/v1/population/", tuple(params),
                           note=f"by country of {'origin' if by == 'coo' else 'asylum'}; "
                                "further pages as the API reports",
                           context={"codes": codes, "by": by}))
    return out


def parse(spec: SourceSpec, content: bytes, request: Request) -> Page:
    data = load_json(content, spec)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise MalformedResponseError(
            f"{spec.host} answered {request.full_url} without the documented 'items' list")
    try:
        page, pages = int(data.get("page") or 1), int(data.get("maxPages") or 0)
    except (TypeError, ValueError):
        raise MalformedResponseError(f"{spec.host}: page numbers are not numeric") from None
    by = request.context.get("by", "coo")
    codes = request.context.get("codes") or list(spec.indicators)
    records = []
    for n, item in enumerate(data["items"]):
        try:
            area = item[f"{by}_iso"]
            year = item["year"]
            values = {c: item[c] for c in codes}
        except (KeyError, TypeError):
            raise MalformedResponseError(
                f"{spec.host}: item {n + 1} of page {page} lacks the documented fields "
                f"year, {by}_iso, {', '.join(codes)}") from None
        for c, v in values.items():
            if v in ("-", None, ""):
                continue
            records.append({"code": c, "area": area, "area_name": item.get(f"{by}_name", ""),
                            "year": year, "value": v, "by": by})
    nxt = request.with_params(page=page + 1) if page < pages else None
    return Page(records, next=nxt, pages=pages or None)
