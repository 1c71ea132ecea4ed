"""Generic SDMX 2.1 REST source through ``sdmx1`` (import name ``sdmx``).

Any data provider known to sdmx1 (``sdmx.list_sources()``: ECB, ESTAT, ILO, IMF, OECD,
UNICEF, UNSD, WB_WDI, ...) or any SDMX REST endpoint can be declared in ``sources.yaml``
with ``hook: sdmx_source`` and ``options``:

``sdmx_source``
    sdmx1 source id (used to build the URL and the ``Accept`` header), or omit it and
    give ``base_url`` as the REST root (``.../rest``).
``dataflow``
    Dataflow reference, e.g. ``UNICEF,CME,1.0``.
``area_dimension``, ``time_dimension``, ``sex_dimension``
    Dimension ids holding the country, the period and the sex (defaults ``REF_AREA``,
    ``TIME_PERIOD``, ``SEX``).

Each indicator gives its series ``key`` (``.CME_MRY0T4._T`` style, empty positions are
wildcards). The request URL is built by sdmx1 without sending anything
(``Client.get(..., dry_run=True)``); the answer is fetched by humsec's
:class:`~humsec.data.connectors.fetcher.Fetcher` (retries, rate limit) and parsed by
:func:`sdmx.read_sdmx`, so SDMX-ML (generic or structure-specific), SDMX-JSON and
SDMX-CSV answers all work. Structure-specific data need the DSD: give
``options.structure_url`` or ask for the generic format (the default ``Accept``).
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

from lxml import etree

from humsec.data.connectors.base import MalformedResponseError, Page, Query, Request, SourceError, SourceSpec

GENERIC = "application/vnd.sdmx.genericdata+xml;version=2.1"


def _request_for(spec: SourceSpec, key: str, params: dict[str, str]) -> tuple[str, dict[str, str]]:
    opts = spec.options
    flow = opts["dataflow"]
    src = opts.get("sdmx_source")
    if src:
        # local: sdmx1 costs 0.65 s at import; a plan for a plain REST root does not need it
        import sdmx

        client = sdmx.Client(src)
        prep = client.get("data", resource_id=flow, key=key or None, params=params,
                          dry_run=True)
        return str(prep.url), {"Accept": opts.get("accept", GENERIC)}
    url = f"{spec.base_url.rstrip('/')}/data/{flow}/{key or 'all'}"
    if params:
        url += "?" + urlencode(params)
    return url, {"Accept": opts.get("accept", GENERIC)}


def plan(spec: SourceSpec, query: Query) -> list[Request]:
    out = []
    for code in query.codes:
        m = spec.indicators[code]
        params: dict[str, str] = {}
        if query.since is not None:
            params["startPeriod"] = str(query.since)
        if query.until is not None:
            params["endPeriod"] = str(query.until)
        url, headers = _request_for(spec, m.key or "", params)
        out.append(Request(url, (), tuple(headers.items()), note="SDMX data message",
                           accept_status=(404,), context={"code": code}))
    return out


def _error_message(content: bytes) -> tuple[str, str] | None:
    """(code, text) of an SDMX-ML 2.1 error message, or None for anything else."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(content.lstrip(), parser=parser)
    except etree.XMLSyntaxError:
        return None
    if not str(root.tag).endswith("}Error"):
        return None
    msgs = [el for el in root.iter() if str(el.tag).endswith("}ErrorMessage")]
    code = msgs[0].get("code", "") if msgs else ""
    text = "; ".join(" ".join(t.text.split()) for t in root.iter()
                     if str(t.tag).endswith("}Text") and t.text)
    return code, text


def parse(spec: SourceSpec, content: bytes, request: Request) -> Page:
    import sdmx  # local: 0.65 s at import, see _request_for

    opts = spec.options
    err = _error_message(content)
    if err is not None:
        code, text = err
        if code == "100":  # SDMX "No Results Found": an empty result, not a failure
            return Page([])
        raise SourceError(f"{spec.host} answered with SDMX error {code}: {text or 'no details'}"
                          f" ({request.full_url})")
    try:
        msg = sdmx.read_sdmx(io.BytesIO(content))
    except Exception as exc:  # sdmx1 raises several types for unreadable input
        snippet = content[:80].decode("utf-8", "replace").strip()
        raise MalformedResponseError(
            f"{spec.host} did not answer with an SDMX message ({exc.__class__.__name__}: "
            f"{str(exc)[:120]}); the answer starts with {snippet!r}") from None
    if not hasattr(msg, "data"):
        raise MalformedResponseError(f"{spec.host} answered with a {type(msg).__name__}, "
                                     "not an SDMX data message")
    area_dim = opts.get("area_dimension", "REF_AREA")
    time_dim = opts.get("time_dimension", "TIME_PERIOD")
    sex_dim = opts.get("sex_dimension", "SEX")
    code = request.context["code"]
    records = []
    for ds in msg.data:
        for obs in ds.obs:
            values = {k: str(v.value if hasattr(v, "value") else v)
                      for k, v in (obs.key.values.items() if obs.key is not None else ())}
            if area_dim not in values or time_dim not in values:
                raise MalformedResponseError(
                    f"{spec.host}: observations lack the dimensions {area_dim} and {time_dim} "
                    f"(have {', '.join(values)})")
            period = values[time_dim]
            value = obs.value.value if hasattr(obs.value, "value") else obs.value
            rec = {"code": code, "area": values[area_dim], "year": period[:4] if
                   len(period) == 4 else period, "value": value, "sex": values.get(sex_dim)}
            for k, v in values.items():
                if k not in (area_dim, time_dim, sex_dim):
                    rec[k] = v
            records.append(rec)
    edition = ""
    header = getattr(msg, "header", None)
    if header is not None and getattr(header, "prepared", None) is not None:
        edition = str(header.prepared)[:10]
    return Page(records, edition=edition)
