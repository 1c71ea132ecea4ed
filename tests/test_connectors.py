"""Live-data connectors, tested offline against hand-recorded answers (respx).

Every connector is exercised on pagination, an error page, an empty result and a
malformed payload in its API's documented format (``tests/fixtures/connectors``). The
``network`` tests hit the live endpoints and run only with ``HUMSEC_NETWORK=1``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pandas as pd
import pytest
import respx

from humsec.data.connectors import (
    Fetcher, MalformedResponseError, SourceRegistry, Request, SourceError, SourceUnreachableError,
    backoff_delays, fetch, plan, resolve_query, safe_filename,
)
from humsec.data.connectors import undp_hdr
from humsec.data.connectors.engine import records_to_panel
from humsec.model.catalogue import Catalogue
from humsec.settings import FetchSettings, Settings

FIX = Path(__file__).parent / "fixtures" / "connectors"
WB = "https://api.worldbank.org/v2/country/all/indicator/SP.DYN.LE00.IN"
SDG = "https://unstats.un.org/sdgs/UNSDGAPIV5/v1/sdg/Series/Data"
WHO = "https://ghoapi.azureedge.net/api/WHOSIS_000001"
UNHCR = "https://api.unhcr.org/population/v1/population/"
UCDP = "https://ucdpapi.pcr.uu.se/api/gedevents/25.1"
UNICEF = "https://sdmx.data.unicef.org/ws/public/sdmxapi/rest/data/UNICEF,CME,1.0/.CME_MRY0T4.."


def fx(name: str) -> bytes:
    return (FIX / name).read_bytes()


class Clock:
    """Injected clock: ``sleep`` advances time and records every wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, s: float) -> None:
        self.sleeps.append(round(s, 6))
        self.now += s

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def registry() -> SourceRegistry:
    return SourceRegistry.default()


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def fetcher(settings, clock):
    with Fetcher(settings.fetch, sleep=clock.sleep, clock=clock) as f:
        yield f


def run(registry, settings, fetcher, source, indicators=(), **kw):
    spec = registry[source]
    q = resolve_query(spec, indicators, **kw)
    return fetch(spec, q, settings=settings, fetcher=fetcher, registry=registry)


def values(panel) -> dict:
    d = panel.data
    return {(r.indicator, r.unit, int(r.year), r.sex): r.value for r in d.itertuples()}


# -- registry ------------------------------------------------------------------------------
def test_registry_lists_every_required_source(registry):
    assert {"worldbank", "unsdg", "who", "hdr", "unhcr", "ucdp", "unicef"} <= set(registry.ids)
    hooks = {s.hook for s in registry}
    assert hooks == {"worldbank", "unsdg", "who_gho", "undp_hdr", "unhcr", "ucdp", "sdmx_source"}
    for spec in registry:
        assert spec.licence and spec.title and spec.indicators


def test_every_mapping_targets_a_catalogue_indicator(registry):
    assert registry.unknown_codes(Catalogue.default()) == []
    # the connectors' own entries never shadow the shipped catalogue
    assert not set(registry.catalogue.codes) & set(Catalogue.default().codes)


def test_registry_rejects_bad_entries():
    from humsec.errors import ValidationError

    text = "sources:\n  Bad Id:\n    title: x\n    hook: nope\n    base_url: u\n    licence: l\n    indicators: {}\n"
    with pytest.raises(ValidationError) as exc:
        SourceRegistry.from_yaml(text, file="s.yaml")
    assert "s.yaml" in str(exc.value) and "sources.Bad Id.id" in str(exc.value)


def test_unknown_source_and_indicator_and_country(registry):
    from humsec.errors import HumsecError

    with pytest.raises(HumsecError, match="did you mean worldbank"):
        registry["worldbnk"]
    with pytest.raises(HumsecError, match="no indicator 'nope'"):
        resolve_query(registry["worldbank"], ["nope"])
    with pytest.raises(HumsecError, match="Atlantis"):
        resolve_query(registry["worldbank"], [], countries=["Atlantis"])


def test_query_accepts_catalogue_codes_and_country_names(registry):
    q = resolve_query(registry["hdr"], ["life_expectancy"], countries=["Kenya", "uga"], since=2000)
    assert q.codes == ("le", "le_f", "le_m")
    assert q.countries == ("KEN", "UGA") and q.since == 2000


def test_dry_run_plan_lists_requests_without_sending(registry, settings):
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        spec = registry["worldbank"]
        reqs = plan(spec, resolve_query(spec, ["u5mr"], countries=["KEN"], since=2010), settings)
        assert not route.called
    assert len(reqs) == 1
    text = reqs[0].display()
    assert text.startswith("GET https://api.worldbank.org/v2/country/KEN/indicator/SH.DYN.MORT?")
    assert "date=2010:" in text and "per_page=1000" in text


def test_token_is_sent_but_never_displayed(registry):
    s = Settings(home=Path("/nonexistent"), progress=False,
                 fetch=FetchSettings(tokens=(("ucdp", "s3cret"),)))
    spec = registry["ucdp"]
    (req,) = plan(spec, resolve_query(spec), s)
    assert ("x-ucdp-access-token", "s3cret") in req.headers
    assert "s3cret" not in req.display() and "***" in req.display()
    (bare,) = plan(spec, resolve_query(spec), Settings(home=Path("/x"), progress=False))
    assert "HUMSEC_TOKEN_UCDP" in bare.display()


def test_safe_filename_never_escapes():
    assert safe_filename("https://x.org/a/../../etc/passwd") == "passwd"
    assert safe_filename("https://x.org/files/..%2F..%2Fevil.csv") == "evil.csv"
    assert safe_filename("https://x.org/") == "download"
    assert "/" not in safe_filename("https://x.org/a%2Fb c.csv")


# -- retries, back-off, rate limits, unreachable ------------------------------------------
def test_backoff_doubles_and_is_capped():
    assert backoff_delays(FetchSettings(retries=5, backoff=1, max_backoff=5)) == [1, 2, 4, 5, 5]


def test_retry_on_5xx_with_exponential_backoff(fetcher, clock):
    req = Request("https://api.example.org/x")
    with respx.mock:
        route = respx.get("https://api.example.org/x").mock(side_effect=[
            httpx.Response(503), httpx.Response(502), httpx.Response(200, content=b"ok")])
        assert fetcher.get(req) == b"ok"
    assert route.call_count == 3
    assert clock.sleeps == [1.0, 2.0]


def test_retry_after_header_is_honoured(fetcher, clock):
    req = Request("https://api.example.org/x")
    with respx.mock:
        respx.get("https://api.example.org/x").mock(side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, content=b"ok")])
        fetcher.get(req)
    assert clock.sleeps == [7.0]


def test_gives_up_after_retries(fetcher, clock):
    with respx.mock:
        respx.get("https://api.example.org/x").mock(return_value=httpx.Response(500, text="boom"))
        with pytest.raises(SourceError, match="HTTP 500.*boom"):
            fetcher.get(Request("https://api.example.org/x"))
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_client_error_is_not_retried(fetcher, clock):
    with respx.mock:
        route = respx.get("https://api.example.org/x").mock(return_value=httpx.Response(404))
        with pytest.raises(SourceError, match="HTTP 404"):
            fetcher.get(Request("https://api.example.org/x"))
    assert route.call_count == 1 and clock.sleeps == []


def test_timeout_is_retried(fetcher, clock):
    with respx.mock:
        respx.get("https://api.example.org/x").mock(side_effect=[
            httpx.ReadTimeout("slow"), httpx.Response(200, content=b"ok")])
        assert fetcher.get(Request("https://api.example.org/x")) == b"ok"
    assert clock.sleeps == [1.0]


def test_rate_limit_spaces_requests(fetcher, clock):
    with respx.mock:
        respx.get("https://api.example.org/x").mock(return_value=httpx.Response(200))
        for _ in range(3):
            fetcher.get(Request("https://api.example.org/x"), rate=2.0)
    assert clock.sleeps == [0.5, 0.5]


def test_no_network_is_reported_plainly_without_retry(fetcher, clock):
    with respx.mock:
        respx.get(WB).mock(side_effect=httpx.ConnectError("[Errno -2] Name or service not known"))
        with pytest.raises(SourceUnreachableError) as exc:
            fetcher.get(Request(WB))
    assert str(exc.value).startswith("cannot reach api.worldbank.org: no network connection")
    assert clock.sleeps == []


def test_refused_connection_is_retried_then_unreachable(fetcher, clock):
    with respx.mock:
        route = respx.get(WB).mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
        with pytest.raises(SourceUnreachableError, match="cannot reach api.worldbank.org"):
            fetcher.get(Request(WB))
    assert route.call_count == 4 and clock.sleeps == [1.0, 2.0, 4.0]


# -- World Bank ----------------------------------------------------------------------------
def test_worldbank_pagination_and_mapping(registry, settings, fetcher):
    with respx.mock:
        p1 = respx.get(WB, params={"page": "1"}).mock(return_value=httpx.Response(200, content=fx("wb_le_p1.json")))
        p2 = respx.get(WB, params={"page": "2"}).mock(return_value=httpx.Response(200, content=fx("wb_le_p2.json")))
        res = run(registry, settings, fetcher, "worldbank", ["SP.DYN.LE00.IN"])
    assert p1.call_count == 1 and p2.call_count == 1
    assert values(res.panel) == {("life_expectancy", "KEN", 2022, "_T"): 62.068,
                                 ("life_expectancy", "KEN", 2021, "_T"): 61.427,
                                 ("life_expectancy", "UGA", 2022, "_T"): 62.851}
    assert res.report.aggregates == ("AFE",)
    prov = res.panel.provenance["life_expectancy"]
    assert prov.edition == "2024-12-16" and prov.licence == "CC-BY-4.0"
    assert prov.url.startswith(WB) and prov.content_hash
    assert len(res.urls) == 2 and len(res.payload_sha256) == 64


def test_worldbank_in_band_error(registry, settings, fetcher):
    with respx.mock:
        respx.get(WB).mock(return_value=httpx.Response(200, content=fx("wb_error.json")))
        with pytest.raises(SourceError, match="Invalid value: The provided parameter value is not valid"):
            run(registry, settings, fetcher, "worldbank", ["SP.DYN.LE00.IN"])


def test_worldbank_empty(registry, settings, fetcher):
    with respx.mock:
        respx.get(WB).mock(return_value=httpx.Response(200, content=fx("wb_empty.json")))
        res = run(registry, settings, fetcher, "worldbank", ["SP.DYN.LE00.IN"])
    assert len(res.panel) == 0


def test_worldbank_malformed(registry, settings, fetcher):
    with respx.mock:
        respx.get(WB).mock(return_value=httpx.Response(200, content=fx("wb_malformed.json")))
        with pytest.raises(MalformedResponseError, match="did not answer with JSON"):
            run(registry, settings, fetcher, "worldbank", ["SP.DYN.LE00.IN"])


# -- UN SDG --------------------------------------------------------------------------------
def test_unsdg_pagination_sex_and_m49(registry, settings, fetcher):
    with respx.mock:
        respx.get(SDG, params={"page": "1"}).mock(return_value=httpx.Response(200, content=fx("sdg_u5mr_p1.json")))
        respx.get(SDG, params={"page": "2"}).mock(return_value=httpx.Response(200, content=fx("sdg_u5mr_p2.json")))
        res = run(registry, settings, fetcher, "unsdg", ["u5mr"])
    assert values(res.panel) == {("u5mr", "KEN", 2021, "_T"): 39.4, ("u5mr", "KEN", 2021, "F"): 35.9}
    assert res.report.aggregates == ("1",)       # World (M49 001)
    assert res.report.non_numeric == 1           # "<40" for Uganda


def test_unsdg_error_page_after_retries(registry, settings, fetcher, clock):
    with respx.mock:
        route = respx.get(SDG).mock(return_value=httpx.Response(
            503, content=fx("sdg_error.html"), headers={"Content-Type": "text/html"}))
        with pytest.raises(SourceError, match="HTTP 503.*temporarily unable"):
            run(registry, settings, fetcher, "unsdg", ["u5mr"])
    assert route.call_count == 4 and clock.sleeps == [1.0, 2.0, 4.0]


def test_unsdg_empty_and_malformed(registry, settings, fetcher):
    with respx.mock:
        respx.get(SDG).mock(return_value=httpx.Response(200, content=fx("sdg_empty.json")))
        assert len(run(registry, settings, fetcher, "unsdg", ["u5mr"]).panel) == 0
    with respx.mock:
        respx.get(SDG).mock(return_value=httpx.Response(200, content=fx("sdg_malformed.json")))
        with pytest.raises(MalformedResponseError, match="geoAreaCode"):
            run(registry, settings, fetcher, "unsdg", ["u5mr"])


# -- WHO GHO -------------------------------------------------------------------------------
def test_who_follows_next_link_and_skips_regions(registry, settings, fetcher):
    with respx.mock:
        respx.get(WHO, params={"$skiptoken": "3"}).mock(
            return_value=httpx.Response(200, content=fx("who_le_p2.json")))
        respx.get(WHO).mock(return_value=httpx.Response(200, content=fx("who_le_p1.json")))
        res = run(registry, settings, fetcher, "who", ["WHOSIS_000001"])
    assert values(res.panel) == {("life_expectancy", "KEN", 2019, "_T"): 64.98,
                                 ("life_expectancy", "KEN", 2019, "F"): 67.59,
                                 ("life_expectancy", "UGA", 2019, "M"): 62.97}
    assert res.edition == "2024-09-12"   # latest 'Date' in the answers
    assert len(res.urls) == 2


def test_who_odata_error_empty_malformed(registry, settings, fetcher):
    with respx.mock:
        respx.get(WHO).mock(return_value=httpx.Response(400, content=fx("who_error.json")))
        with pytest.raises(SourceError, match="HTTP 400.*not valid"):
            run(registry, settings, fetcher, "who", ["WHOSIS_000001"])
    with respx.mock:
        respx.get(WHO).mock(return_value=httpx.Response(200, content=fx("who_error.json")))
        with pytest.raises(SourceError, match="OData error"):
            run(registry, settings, fetcher, "who", ["WHOSIS_000001"])
    with respx.mock:
        respx.get(WHO).mock(return_value=httpx.Response(200, content=fx("who_empty.json")))
        assert len(run(registry, settings, fetcher, "who", ["WHOSIS_000001"]).panel) == 0
    with respx.mock:
        respx.get(WHO).mock(return_value=httpx.Response(200, content=fx("who_malformed.json")))
        with pytest.raises(MalformedResponseError, match="SpatialDim"):
            run(registry, settings, fetcher, "who", ["WHOSIS_000001"])


# -- UNDP HDR (download) --------------------------------------------------------------------
def test_hdr_download_and_mapping(registry, settings, fetcher):
    spec = registry["hdr"]
    with respx.mock:
        respx.get(spec.base_url).mock(return_value=httpx.Response(200, content=fx("hdr_small.csv")))
        res = run(registry, settings, fetcher, "hdr", ["hdi", "life_expectancy", "pop_total"])
    v = values(res.panel)
    assert v[("hdi", "KEN", 2022, "_T")] == 0.601 and v[("hdi", "NOR", 2021, "_T")] == 0.964
    assert v[("life_expectancy", "KEN", 2022, "F")] == 64.6
    assert ("life_expectancy", "UGA", 2022, "M") not in v          # empty cell
    assert v[("pop_total", "KEN", 2022, "_T")] == pytest.approx(54_027_487)
    assert res.report.aggregates == ("ZZK.WORLD",)
    assert res.edition == "2023/2024"
    assert res.panel.provenance["hdi"].edition == "2023/2024"
    assert [i.code for i in res.catalogue] == []                    # hdi is in the shipped catalogue
    # the download landed under the downloads folder with a safe name, no partial file left
    files = sorted(p.name for p in (settings.downloads_dir / "hdr").iterdir())
    assert files == ["HDR23-24_Composite_indices_complete_time_series.csv"]


def test_hdr_error_empty_malformed(registry, settings, fetcher):
    url = registry["hdr"].base_url
    with respx.mock:
        respx.get(url).mock(return_value=httpx.Response(404, content=fx("hdr_error.html")))
        with pytest.raises(SourceError, match="HTTP 404.*Page not found"):
            run(registry, settings, fetcher, "hdr", ["hdi"])
    with respx.mock:
        respx.get(url).mock(return_value=httpx.Response(200, content=fx("hdr_empty.csv")))
        assert len(run(registry, settings, fetcher, "hdr", ["hdi"]).panel) == 0
    with respx.mock:
        respx.get(url).mock(return_value=httpx.Response(200, content=fx("hdr_malformed.csv")))
        with pytest.raises(MalformedResponseError, match="iso3"):
            run(registry, settings, fetcher, "hdr", ["hdi"])


def test_download_resumes_with_range_and_if_range(settings, fetcher, tmp_path):
    body = fx("hdr_small.csv")
    dest = tmp_path / "f.csv"
    (tmp_path / "f.csv.part").write_bytes(body[:100])
    (tmp_path / "f.csv.part.json").write_text(json.dumps({"etag": '"v1"'}))
    seen = {}

    def answer(request):
        seen.update(request.headers)
        return httpx.Response(206, content=body[100:], headers={
            "Content-Range": f"bytes 100-{len(body) - 1}/{len(body)}", "ETag": '"v1"'})

    with respx.mock:
        respx.get("https://files.example.org/f.csv").mock(side_effect=answer)
        fetcher.download(Request("https://files.example.org/f.csv"), dest)
    assert seen["range"] == "bytes=100-" and seen["if-range"] == '"v1"'
    assert dest.read_bytes() == body
    assert not (tmp_path / "f.csv.part").exists()


def test_download_restarts_when_file_changed_on_server(settings, fetcher, tmp_path):
    body = fx("hdr_small.csv")
    dest = tmp_path / "f.csv"
    (tmp_path / "f.csv.part").write_bytes(b"stale bytes of an older edition")
    (tmp_path / "f.csv.part.json").write_text(json.dumps({"etag": '"old"'}))
    with respx.mock:  # If-Range does not match: the server sends the whole new file (200)
        respx.get("https://files.example.org/f.csv").mock(
            return_value=httpx.Response(200, content=body, headers={"ETag": '"new"'}))
        fetcher.download(Request("https://files.example.org/f.csv"), dest)
    assert dest.read_bytes() == body


class _Broken(httpx.SyncByteStream):
    def __init__(self, data: bytes):
        self.data = data

    def __iter__(self):
        yield self.data
        raise httpx.ReadError("connection reset by peer")


def test_download_broken_connection_resumes_from_where_it_stopped(settings, clock, tmp_path):
    body = fx("hdr_small.csv")
    calls = []

    def answer(request):
        calls.append(request.headers.get("range"))
        if len(calls) == 1:
            return httpx.Response(200, stream=_Broken(body[:150]), headers={
                "Content-Length": str(len(body)), "ETag": '"e"'})
        return httpx.Response(206, content=body[150:], headers={
            "Content-Range": f"bytes 150-{len(body) - 1}/{len(body)}", "ETag": '"e"'})

    # respx reads mocked bodies eagerly, so a plain MockTransport breaks the stream midway
    client = httpx.Client(transport=httpx.MockTransport(answer))
    with Fetcher(settings.fetch, client=client, sleep=clock.sleep, clock=clock) as f:
        f.download(Request("https://files.example.org/f.csv"), tmp_path / "f.csv")
    assert calls == [None, "bytes=150-"]
    assert clock.sleeps == [1.0]
    assert (tmp_path / "f.csv").read_bytes() == body


def test_hdr_parser_reproduces_the_shared_file(shared_data, registry):
    """The real HDR 2023/24 file through the connector's parser equals the file."""
    path = shared_data / "undp_hdr" / "HDR23-24_Composite_indices_complete_time_series.csv"
    spec = registry["hdr"]
    content = path.read_bytes()
    query = resolve_query(spec)
    page = undp_hdr.parse(spec, content, plan(spec, query, Settings(home=path.parent))[0])
    panel, report = records_to_panel(
        spec, pd.DataFrame(page.records), query, catalogue=Catalogue([*Catalogue.default(), *registry.catalogue]),
        accessed=pd.Timestamp("2024-01-01").date(), edition=page.edition)
    raw = pd.read_csv(path, encoding="utf-8-sig")
    assert report.aggregates == tuple(sorted(a for a in raw["iso3"] if a.startswith("ZZ")))
    raw = raw[~raw["iso3"].str.startswith("ZZ")].set_index("iso3")
    got = panel.data.set_index(["indicator", "unit", "year", "sex"])["value"]
    checked = 0
    for series, m in spec.indicators.items():
        sex = m.sex or "_T"
        for col in [c for c in raw.columns if c.rsplit("_", 1)[0] == series and c[-4:].isdigit()]:
            expected = raw[col].dropna() * m.scale
            mine = got.xs((m.code, int(col[-4:]), sex), level=("indicator", "year", "sex"))
            pd.testing.assert_series_equal(mine.sort_index(), expected.sort_index(),
                                           check_names=False, check_index_type=False)
            checked += len(expected)
    assert checked > 50_000
    assert page.edition == "2023/2024"


# -- UNHCR ----------------------------------------------------------------------------------
def test_unhcr_pagination_and_pseudo_codes(registry, settings, fetcher):
    with respx.mock:
        r1 = respx.get(UNHCR, params={"page": "1"}).mock(return_value=httpx.Response(200, content=fx("unhcr_p1.json")))
        respx.get(UNHCR, params={"page": "2"}).mock(return_value=httpx.Response(200, content=fx("unhcr_p2.json")))
        res = run(registry, settings, fetcher, "unhcr", since=2022)
    sent = r1.calls[0].request.url.params
    assert sent["cf_type"] == "ISO" and sent["coo_all"] == "true" and sent["yearFrom"] == "2022"
    v = values(res.panel)
    assert v == {("refugees_origin_count", "AFG", 2022, "_T"): 5661717, ("idps_count", "AFG", 2022, "_T"): 3250000,
                 ("refugees_origin_count", "SYR", 2022, "_T"): 6547818, ("idps_count", "SYR", 2022, "_T"): 6865000,
                 ("refugees_origin_count", "SSD", 2022, "_T"): 2295048}
    assert res.report.aggregates == ("XXA",)     # stateless pseudo-origin


def test_unhcr_error_empty_malformed(registry, settings, fetcher):
    with respx.mock:
        respx.get(UNHCR).mock(return_value=httpx.Response(400, content=fx("unhcr_error.json")))
        with pytest.raises(SourceError, match="HTTP 400.*yearFrom"):
            run(registry, settings, fetcher, "unhcr")
    with respx.mock:
        respx.get(UNHCR).mock(return_value=httpx.Response(200, content=fx("unhcr_empty.json")))
        assert len(run(registry, settings, fetcher, "unhcr").panel) == 0
    with respx.mock:
        respx.get(UNHCR).mock(return_value=httpx.Response(200, content=fx("unhcr_malformed.json")))
        with pytest.raises(MalformedResponseError, match="coo_iso"):
            run(registry, settings, fetcher, "unhcr")


# -- UCDP -----------------------------------------------------------------------------------
def test_ucdp_pagination_sum_and_name_matching(registry, settings, clock):
    s = settings.model_copy(update={"fetch": FetchSettings(tokens=(("ucdp", "tok"),))})
    with respx.mock, Fetcher(s.fetch, sleep=clock.sleep, clock=clock) as f:
        p1 = respx.get(UCDP, params={"page": "0"}).mock(return_value=httpx.Response(200, content=fx("ucdp_p1.json")))
        respx.get(UCDP, params={"page": "1"}).mock(return_value=httpx.Response(200, content=fx("ucdp_p2.json")))
        res = run(registry, s, f, "ucdp", since=2021)
    assert p1.calls[0].request.headers["x-ucdp-access-token"] == "tok"
    assert values(res.panel) == {("conflict_deaths_count", "SYR", 2021, "_T"): 12.0,
                                 ("conflict_deaths_count", "YEM", 2021, "_T"): 35.0}
    assert res.report.unmatched == ()


def test_ucdp_error_empty_malformed(registry, settings, fetcher):
    with respx.mock:
        respx.get(UCDP).mock(return_value=httpx.Response(401, content=fx("ucdp_error.txt")))
        with pytest.raises(SourceError, match="HTTP 401.*access-token"):
            run(registry, settings, fetcher, "ucdp")
    with respx.mock:
        respx.get(UCDP).mock(return_value=httpx.Response(200, content=fx("ucdp_empty.json")))
        assert len(run(registry, settings, fetcher, "ucdp").panel) == 0
    with respx.mock:
        respx.get(UCDP).mock(return_value=httpx.Response(200, content=fx("ucdp_malformed.json")))
        with pytest.raises(MalformedResponseError, match="country"):
            run(registry, settings, fetcher, "ucdp")


# -- generic SDMX (UNICEF) -------------------------------------------------------------------
def test_sdmx_generic_data_message(registry, settings, fetcher):
    with respx.mock:
        route = respx.get(UNICEF).mock(return_value=httpx.Response(200, content=fx("sdmx_cme.xml")))
        res = run(registry, settings, fetcher, "unicef", ["CME_MRY0T4"], since=2021)
    assert route.calls[0].request.url.params["startPeriod"] == "2021"
    assert "genericdata" in route.calls[0].request.headers["accept"]
    assert values(res.panel) == {("u5mr", "KEN", 2021, "_T"): 39.4, ("u5mr", "KEN", 2022, "_T"): 37.2,
                                 ("u5mr", "KEN", 2022, "F"): 33.9}   # wealth quintile Q1 filtered out
    assert res.report.aggregates == ("UNICEF_ESAR",)
    assert res.edition == "2025-03-20"


def test_sdmx_no_results_error_malformed(registry, settings, fetcher):
    with respx.mock:
        respx.get(UNICEF).mock(return_value=httpx.Response(404, content=fx("sdmx_no_results.xml")))
        assert len(run(registry, settings, fetcher, "unicef", ["CME_MRY0T4"]).panel) == 0
    with respx.mock:
        respx.get(UNICEF).mock(return_value=httpx.Response(404, content=fx("sdmx_error.xml")))
        with pytest.raises(SourceError, match="SDMX error 150.*not found"):
            run(registry, settings, fetcher, "unicef", ["CME_MRY0T4"])
    with respx.mock:
        respx.get(UNICEF).mock(return_value=httpx.Response(200, content=fx("sdmx_malformed.xml")))
        with pytest.raises(MalformedResponseError, match="SDMX"):
            run(registry, settings, fetcher, "unicef", ["CME_MRY0T4"])


def test_duplicate_observations_are_an_error_not_a_guess(registry, settings, fetcher):
    doubled = json.loads(fx("wb_le_p1.json"))
    doubled[0]["pages"] = 1
    doubled[1].append(doubled[1][1])
    with respx.mock:
        respx.get(WB).mock(return_value=httpx.Response(200, json=doubled))
        with pytest.raises(MalformedResponseError, match="several values"):
            run(registry, settings, fetcher, "worldbank", ["SP.DYN.LE00.IN"])


def test_out_of_range_values_are_reported_and_skipped(registry, settings, fetcher):
    bad = json.loads(fx("wb_le_p1.json"))
    bad[0]["pages"] = 1
    bad[1][1]["value"] = -5
    with respx.mock:
        respx.get(WB).mock(return_value=httpx.Response(200, json=bad))
        res = run(registry, settings, fetcher, "worldbank", ["SP.DYN.LE00.IN"])
    assert res.report.out_of_range == ("life_expectancy KEN 2022 -5",)
    assert ("life_expectancy", "KEN", 2022, "_T") not in values(res.panel)


# -- live endpoints (skipped unless HUMSEC_NETWORK=1) -----------------------------------------
LIVE = [("worldbank", ["SP.DYN.LE00.IN"]), ("unsdg", ["SH_DYN_MORT"]), ("who", ["WHOSIS_000001"]),
        ("unhcr", ["refugees"]), ("ucdp", ["best"]), ("unicef", ["CME_MRY0T4"]), ("hdr", ["hdi"])]


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("HUMSEC_NETWORK") != "1", reason="needs the internet (HUMSEC_NETWORK=1)")
@pytest.mark.parametrize(("source", "indicators"), LIVE)
def test_live_endpoint(registry, settings, source, indicators):
    spec = registry[source]
    query = resolve_query(spec, indicators, countries=["KEN", "UGA"], since=2015)
    res = fetch(spec, query, settings=Settings.from_env(home=settings.home, progress=False),
                registry=registry)
    assert len(res.panel) > 0
    assert set(res.panel.units) <= {"KEN", "UGA"}
