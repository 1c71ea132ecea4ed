"""The REST API (issue 11): real values equal to the library's, ETags and 304, formats,
pagination, validation errors, authentication of writes, dashboard routes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from humsec.api import create_app  # noqa: E402
from humsec.api.config import ServiceConfig  # noqa: E402

RUNS = 20
CONFIG = dict(runs=RUNS, trend_runs=3, max_runs=50, trend_years=4)


@pytest.fixture(scope="module")
def env(default_env):
    from humsec.web import create_site

    settings, panel, cat = default_env
    app = create_site(settings, ServiceConfig(**CONFIG))
    with TestClient(app) as client:
        yield client, settings, panel, cat, app


@pytest.fixture(scope="module")
def hsi(env):
    """The library's own assessment with the service's runs and seed."""
    from humsec.analysis.assess import assess, index_data
    from humsec.index.builtin import load_spec

    _, _, panel, cat, app = env
    spec = load_spec("hsi")
    return assess(spec, panel, catalogue=cat, runs=RUNS, seed=app.state.observatory.config.seed,
                  data=index_data(panel, spec))


def records(df):
    return json.loads(df.to_json(orient="records"))


# ------------------------------------------------------------------------------ values


def test_ranking_equals_library(env, hsi):
    client = env[0]
    r = client.get("/api/v1/indices/hsi/ranking")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["year"] == hsi.year and body["runs"] == RUNS
    assert body["countries"] == records(hsi.ranking())
    assert [d["code"] for d in body["dimensions"]] == hsi.dimensions
    # rank intervals are there (uncertainty analysis ran) and bracket the ranks
    c = body["countries"][0]
    assert c["rank_q05"] is not None and c["rank_q05"] <= c["rank_q95"]


def test_country_assessment_equals_library(env, hsi):
    client = env[0]
    r = client.get("/api/v1/countries/ken/assessment")
    assert r.status_code == 200, r.text
    assert r.json() == json.loads(json.dumps(hsi.country("KEN").to_dict()))


def test_ranking_lists_every_un_member_ranked_or_not_ranked(env, hsi):
    from humsec.data.countries import CountryRegistry

    client = env[0]
    body = client.get("/api/v1/indices/hsi/ranking").json()
    want = hsi.not_ranked()
    assert "ERI" in set(want["unit"]) and "FSM" in set(hsi.units)
    got = body["not_ranked"]
    assert [r["unit"] for r in got] == list(want["unit"])
    for r, w in zip(got, records(want)):
        assert {k: r[k] for k in w} == w  # the library's records, plus the indicators' names
        assert len(r["missing_indicator_names"].split("; ")) == len(w["missing_indicators"].split("; "))
    ranked = {c["unit"] for c in body["countries"]}
    assert set(CountryRegistry.default().un_members) <= ranked | {r["unit"] for r in got}
    assert not ranked & {r["unit"] for r in got}
    # with a unit filter, only the requested countries that are not ranked
    one = client.get("/api/v1/indices/hsi/ranking", params=[("unit", "ERI"), ("unit", "KEN")]).json()
    assert [c["unit"] for c in one["countries"]] == ["KEN"] and [r["unit"] for r in one["not_ranked"]] == ["ERI"]


def test_not_ranked_country_is_a_404_naming_what_it_lacks(env, hsi):
    client = env[0]
    want = hsi.not_ranked(["ERI"]).iloc[0]
    for path in ("assessment", "trends"):
        r = client.get(f"/api/v1/countries/ERI/{path}")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", r.text
        body = r.json()
        assert body["status"] == 404 and body["year"] == hsi.year and body["index"] == "hsi"
        assert body["not_ranked"]["missing_indicators"] == want["missing_indicators"]
        assert body["not_ranked"]["reason"] == want["reason"]
        detail = body["detail"]
        assert detail.startswith(f"Eritrea (ERI) is not ranked in the Human Security Index (HSI) for {hsi.year}")
        assert want["reason"] in detail and "--year" not in detail
        for code in want["missing_indicators"].split("; "):
            assert hsi.node_name(code) in detail
    assert client.get("/api/v1/countries/FSM/assessment").status_code == 200
    # the brief of a country that is not ranked says so (it does not fail)
    html = client.get("/api/v1/countries/ERI/brief", params={"format": "html"})
    assert html.status_code == 200 and "Eritrea is not ranked" in html.text


def test_uncertainty_table_and_csv(env, hsi):
    client = env[0]
    r = client.get("/api/v1/indices/hsi/uncertainty", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == len(hsi.intervals)
    ken = next(x for x in rows if x["unit"] == "KEN" and x["node"] == "hsi")
    want = hsi.intervals[(hsi.intervals["unit"] == "KEN") & (hsi.intervals["node"] == "hsi")].iloc[0]
    assert float(ken["rank_q05"]) == pytest.approx(want["rank_q05"])


def test_ranking_csv_by_accept_header_and_unit_filter(env, hsi):
    client = env[0]
    r = client.get("/api/v1/indices/hsi/ranking", params=[("unit", "KEN"), ("unit", "nzl")],
                   headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["unit"] for x in rows] == [u for u in hsi.ranking()["unit"] if u in ("KEN", "NZL")]
    want = hsi.ranking().set_index("unit")
    assert float(rows[0]["score"]) == pytest.approx(want.at[rows[0]["unit"], "score"])


def test_trends_groups_peers_spill_equal_library(env, hsi):
    from humsec.analysis import trends as TR
    from humsec.analysis.assess import history, index_data
    from humsec.data.countries import CountryRegistry
    from humsec.spatial.crossborder import peer_report, spill_report

    client, _, panel, cat, app = env
    data = index_data(panel, hsi.spec)
    t = client.get("/api/v1/countries/KEN/trends").json()
    h = history(hsi.spec, data, range(hsi.year - CONFIG["trend_years"], hsi.year + 1))
    want = records(TR.dimension_trends(h, "KEN", year=hsi.year))
    assert [{k: v for k, v in d.items() if k != "name"} for d in t["dimension_trends"]] == want
    got = {(p["year"], p["node"]): p for p in t["series"]}
    assert got[(hsi.year, "hsi")]["score"] == pytest.approx(hsi.result.scores.at["KEN", "hsi"])
    lo, hi = got[(hsi.year, "hsi")]["score_q05"], got[(hsi.year, "hsi")]["score_q95"]
    assert lo is not None and lo <= hi  # uncertainty band of the year

    reg = CountryRegistry.default()
    p = client.get("/api/v1/countries/KEN/peers").json()
    rep = peer_report("KEN", panel=panel, spec=hsi.spec, registry=reg, catalogue=cat, data=data)
    assert [x["unit"] for x in p["similar"]] == list(rep.similar["unit"])
    assert p["threat"] == rep.threat

    s = client.get("/api/v1/spill/KEN").json()
    srep = spill_report("KEN", panel=panel, spec=hsi.spec, registry=reg, seed=app.state.observatory.config.seed,
                        data=data).to_dict()
    assert s["exposure"] == json.loads(json.dumps(srep["exposure"]))
    assert s["evidence"] == srep["evidence"]

    g = client.get("/api/v1/countries/KEN/groups")
    assert g.status_code == 200 and g.json()["demography"]["unit"] == "KEN"
    from humsec.analysis.groups import left_behind

    lb = left_behind(panel.data, "KEN", catalogue=cat).to_dict()
    assert g.json()["left_behind"] == json.loads(json.dumps(lb))
    assert {r["behind"] for r in lb["rows"] if r["indicator"] == "homicide_rate"} == {"men"}


def test_catalogue_indicator_panel_pagination(env):
    client, _, panel, cat, _ = env
    c = client.get("/api/v1/catalogue").json()
    assert [i["code"] for i in c["indicators"]] == cat.codes
    ind = client.get("/api/v1/indicators/u5mr").json()
    assert ind["provenance"]["content_hash"] == panel.provenance["u5mr"].content_hash

    # data status: the same table as `humsec data status`, from the library
    import datetime as dt

    from humsec.data.countries import CountryRegistry
    from humsec.data.release.status import indicator_status

    st = client.get("/api/v1/data/status").json()
    lib = indicator_status(panel, cat, un_members=CountryRegistry.default().un_members, as_of=dt.date.today())
    got = {r["code"]: (r["latest_year"], r["un_members_latest"], r["stale"]) for r in st["indicators"]}
    assert got == {r.code: (r.latest_year, r.un_members_latest, bool(r.stale)) for r in lib.itertuples()}
    assert st["stale"] == int(lib["stale"].sum()) and got["conflict_deaths"][0] >= 2024
    as_csv = client.get("/api/v1/data/status", params={"format": "csv", "stale_after": 1})
    assert as_csv.status_code == 200 and as_csv.text.splitlines()[0].startswith("code,name,dimension,latest_year,age")
    assert client.get("/api/v1/data/status", params={"stale_after": -1}).status_code == 422

    sub = panel.filter(indicators=["pop_total"], units=["KEN", "UGA"], years=range(1960, 2001)).data
    q = {"indicator": "pop_total", "unit": ["KEN", "uga"], "year_from": 1960, "year_to": 2000, "limit": 5}
    r1 = client.get("/api/v1/panel", params=q)
    b1 = r1.json()
    assert b1["total"] == len(sub) == int(r1.headers["x-total-count"]) and b1["count"] == 5
    assert 'rel="next"' in r1.headers["link"]
    b2 = client.get("/api/v1/panel", params={**q, "offset": 5}).json()
    assert b1["items"] + b2["items"] == records(sub.iloc[:10].reset_index(drop=True))
    assert b1["provenance"]["pop_total"]["source"] == panel.provenance["pop_total"].source
    r3 = client.get("/api/v1/panel", params={**q, "format": "csv", "limit": 10000})
    assert len(list(csv.DictReader(io.StringIO(r3.text)))) == len(sub)


def test_csv_is_formula_safe():
    import pandas as pd

    from humsec.api.http import csv_bytes

    text = csv_bytes(pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "+1", "ok"], "v": [-1.0, 2.0, 3.0]})).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["name"].startswith("'=") and rows[1]["name"] == "'+1" and rows[0]["v"] == "-1.0"


# ------------------------------------------------------------------------------ caching


def test_etag_304_and_cache_control(env):
    client = env[0]
    r = client.get("/api/v1/countries/KEN/assessment")
    tag = r.headers["etag"]
    assert r.headers["cache-control"].startswith("public, max-age=")
    again = client.get("/api/v1/countries/KEN/assessment", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    assert client.get("/api/v1/countries/KEN/assessment", headers={"If-None-Match": f'W/{tag}, "x"'}).status_code == 304
    assert client.get("/api/v1/countries/KEN/assessment", headers={"If-None-Match": '"other"'}).status_code == 200
    # other parameters, other representation -> other ETag
    assert client.get("/api/v1/countries/UGA/assessment").headers["etag"] != tag
    assert client.get("/api/v1/countries/KEN/assessment?format=csv").headers["etag"] != tag


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("url, status, words", [
    ("/api/v1/countries/KE/assessment", 422, "path parameter 'iso3'"),
    ("/api/v1/countries/K3N/assessment", 422, "pattern"),
    ("/api/v1/countries/XXX/assessment", 404, "unknown country code 'XXX'"),
    ("/api/v1/countries/KEN/assessment?year=1700", 422, "query parameter 'year'"),
    ("/api/v1/countries/KEN/assessment?year=abc", 422, "valid integer"),
    ("/api/v1/countries/KEN/assessment?year=1901", 404, "no observations in 1901"),
    ("/api/v1/countries/KEN/assessment?index=nope", 422, "query parameter 'index'"),
    ("/api/v1/indices/hsi/ranking?runs=51", 422, "less than or equal to 50"),
    ("/api/v1/indices/hsi/ranking?format=xml", 422, "query parameter 'format'"),
    ("/api/v1/indices/hsi/ranking?unit=K1", 422, "query parameter 'unit.0'"),
    ("/api/v1/indices/nope/ranking", 422, "path parameter 'name'"),
    ("/api/v1/indices/hdi/ranking", 404, "none of the indicators of spec 'hdi'"),
    ("/api/v1/indicators/nope", 404, "unknown indicator 'nope'"),
    ("/api/v1/indicators/Bad-Code", 422, "pattern"),
    ("/api/v1/panel?year_from=2000&year_to=1990", 404, "year_from (2000) is after year_to (1990)"),
    ("/api/v1/panel?limit=0", 422, "query parameter 'limit'"),
    ("/api/v1/panel?indicator=nope", 404, "unknown indicator 'nope'"),
    ("/api/v1/spill/Atlantis", 404, "expected an ISO3 code, a country name, a grouping"),
    ("/api/v1/spill/KEN?graph=ring", 422, "query parameter 'graph'"),
    ("/api/v1/countries/KEN/peers?same=planet", 422, "query parameter 'same'"),
    ("/api/v1/countries/KEN/peers?dimension=cosmic", 404, "dimension 'cosmic'"),
    ("/api/v1/countries/KEN/brief?format=docx", 422, "query parameter 'format'"),
])
def test_bad_input_is_a_clear_4xx(env, url, status, words):
    r = env[0].get(url)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert words in r.json()["detail"]
    # 422: a malformed parameter (schema); 404: a well-formed read the data cannot answer


# ------------------------------------------------------------------------------ writes


@pytest.fixture()
def writable(env, tmp_path):
    """An app on a copy of the default store, with a token file of three tokens."""
    settings = env[1]
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(settings.db_path, home / settings.db_path.name)
    tokens = {"editor": "editor-token-0123456789abcdef", "viewer": "viewer-token-0123456789abcdef"}
    lines = [f"{role} {hashlib.sha256(tok.encode()).hexdigest()} {role}-robot" for role, tok in tokens.items()]
    (tmp_path / "tokens.txt").write_text("# role sha256 name\n" + "\n".join(lines) + "\n")
    app = create_app(settings.model_copy(update={"home": home}),
                     ServiceConfig(**CONFIG, token_file=tmp_path / "tokens.txt"))
    with TestClient(app) as client:
        yield client, tokens


def _upload(client, token=None, name="my_data.csv", text="unit,year,indicator,value\nKEN,2016,u5mr,41.0\n"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/datasets", files={"file": (name, text.encode(), "text/csv")}, headers=headers)


def test_writes_need_the_editor_role(writable):
    client, tokens = writable
    r = _upload(client)
    assert r.status_code == 401 and "needs an API token" in r.json()["detail"]
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert _upload(client, "wrong-token-0123456789").status_code == 401
    r = client.post("/api/v1/datasets", headers={"Authorization": "Basic abc"},
                    files={"file": ("a.csv", b"x", "text/csv")})
    assert r.status_code == 401 and "Bearer" in r.json()["detail"]
    r = _upload(client, tokens["viewer"])
    assert r.status_code == 403 and "needs the editor role" in r.json()["detail"]


def test_uploads_are_authenticated_before_their_body_is_read(writable):
    """An anonymous or under-privileged upload is refused before the body is parsed: a
    broken multipart body gets 401/403, not a parsing error."""
    client, tokens = writable
    garbage = {"Content-Type": "multipart/form-data; boundary=xyz"}
    r = client.post("/api/v1/datasets", content=b"--not really multipart", headers=garbage)
    assert r.status_code == 401 and "needs an API token" in r.json()["detail"]
    r = client.post("/api/v1/datasets", content=b"--not really multipart",
                    headers={**garbage, "Authorization": f"Bearer {tokens['viewer']}"})
    assert r.status_code == 403
    big = {**garbage, "Authorization": f"Bearer {tokens['editor']}", "Content-Length": str(10**12)}
    r = client.post("/api/v1/datasets", content=b"x", headers=big)
    assert r.status_code == 413


def test_editor_import_creates_a_snapshot_and_changes_etags(writable):
    client, tokens = writable
    before = client.get("/api/v1/panel", params={"indicator": "u5mr", "unit": "KEN"})
    tag = before.headers["etag"]
    # an untrusted file name: never used as a path, dataset name sanitised
    r = _upload(client, tokens["editor"], name="../../etc/evil name.csv")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["snapshot"] == "evil_name@1" and body["observations"] == 1 and body["by"] == "editor-robot"
    after = client.get("/api/v1/panel", params={"indicator": "u5mr", "unit": "KEN"}, headers={"If-None-Match": tag})
    assert after.status_code == 200 and after.headers["etag"] != tag
    assert after.json()["items"] == [{"unit": "KEN", "year": 2016, "indicator": "u5mr", "sex": "_T", "age": "_T",
                                      "group": "_T", "value": 41.0}]
    assert "evil_name@1" in [s["snapshot"] for s in client.get("/api/v1/snapshots").json()]
    # invalid content: the importer's located message, 4xx
    bad = _upload(client, tokens["editor"], text="unit,year,indicator,value\nKEN,20x6,u5mr,abc\n")
    assert bad.status_code == 422 and "row" in bad.json()["detail"]
    # a file type the importer does not read: 415 Unsupported Media Type, naming the types it reads
    exe = _upload(client, tokens["editor"], name="data.exe")
    assert exe.status_code == 415 and ".parquet" in exe.json()["detail"]


def test_upload_errors_name_the_clients_file_never_the_servers_temp_path(writable):
    """A 422 of an upload names the client's (sanitised) file name; the temporary path
    the server read it from is not in the body (#22)."""
    import tempfile

    client, tokens = writable
    bad = _upload(client, tokens["editor"], name="C:\\Users\\me\\my survey.csv",
                  text="unit,year,indicator,value\nKEN,20x6,u5mr,abc\n")
    assert bad.status_code == 422, bad.text
    text = bad.text
    assert "my survey.csv" in text
    for leak in ("humsec-upload-", "upload.csv", tempfile.gettempdir(), "Users"):
        assert leak not in text, leak
    # a short row (importer crash family) is located in the client's file too
    short = _upload(client, tokens["editor"], name="short.tsv", text="unit\tyear\tindicator\tvalue\nKEN\t2016\n")
    assert short.status_code == 422 and "short.tsv" in short.text and "humsec-upload-" not in short.text


def test_upload_labels_are_display_names_only():
    from humsec.data.service import upload_label

    assert upload_label("../../etc/x.csv") == "x.csv"
    assert upload_label("C:\\a\\b.xlsx") == "b.xlsx"
    assert upload_label("a\x00b\u202e\n.csv") == "ab.csv"  # control and bidi characters dropped
    assert upload_label(None) == upload_label("..") == upload_label("dir/") == "upload.csv"
    long = upload_label("x" * 300 + ".csv")
    assert len(long) == 100 and long.endswith(".csv")


def test_commitments_use_oversight_tokens(env, tmp_path):
    pytest.importorskip("humsec.oversight.db")
    from humsec.oversight.db import OversightDB

    settings = env[1].model_copy(update={"home": tmp_path / "home"})
    (tmp_path / "home").mkdir()
    shutil.copy(env[1].db_path, tmp_path / "home" / env[1].db_path.name)
    db = OversightDB.open(settings)
    admin = db.init("alice")
    db.add_user(admin, "bob", role="viewer")
    db.add_user(admin, "carol", role="editor")
    viewer, editor = db.create_token(admin, "bob"), db.create_token(admin, "carol")
    app = create_app(settings, ServiceConfig(**CONFIG))
    client = TestClient(app)
    inst = {"id": "res-2021", "kind": "resolution", "title": "APPF resolution on human security"}
    com = {"id": "c1", "instrument": "res-2021", "title": "Cut child mortality",
           "targets": [{"key": "t1", "indicator": "u5mr", "unit": "KEN", "baseline_year": 2000,
                        "target_value": 25, "deadline": 2030}]}
    assert client.get("/api/v1/commitments").status_code == 401
    assert client.post("/api/v1/instruments", json=inst,
                       headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    assert client.post("/api/v1/instruments", json=inst, headers={"Authorization": f"Bearer {editor}"}).status_code == 201
    r = client.post("/api/v1/commitments", json=com, headers={"Authorization": f"Bearer {editor}"})
    assert r.status_code == 201, r.text
    listed = client.get("/api/v1/commitments?unit=KEN", headers={"Authorization": f"Bearer {viewer}"})
    assert listed.status_code == 200 and listed.headers["cache-control"] == "private, no-store"
    (c,) = listed.json()
    assert c["id"] == "c1" and c["status"][0]["indicator"] == "u5mr" and c["status"][0]["status"]
    assert client.get("/api/v1/commitments?unit=UGA", headers={"Authorization": f"Bearer {viewer}"}).json() == []
    r = client.patch("/api/v1/commitments/c1", json={"title": "Halve child mortality"},
                     headers={"Authorization": f"Bearer {editor}"})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert client.delete("/api/v1/commitments/c1", headers={"Authorization": f"Bearer {viewer}"}).status_code == 403


# ------------------------------------------------------------------------------ briefs, docs, web


def test_brief_pdf_and_html(env):
    client = env[0]
    html = client.get("/api/v1/countries/KEN/brief?format=html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Kenya" in html.text
    pdf = client.get("/api/v1/countries/KEN/brief")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and 'filename="humsec_brief_KEN_' in pdf.headers["content-disposition"]


def test_openapi_and_dashboard_routes(env):
    client = env[0]
    spec = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/indices/{name}/ranking", "/api/v1/countries/{iso3}/assessment", "/api/v1/panel",
                 "/api/v1/countries/{iso3}/trends", "/api/v1/spill/{target}", "/api/v1/datasets"):
        assert path in spec["paths"]
    assert client.get("/").status_code == 200 and 'id="map"' in client.get("/").text
    # the footer credits the publishers of the served data (the release's provenance), not the old panel's
    footer = client.get("/").text.split("<footer>")[1].split("</footer>")[0]
    _, _, panel, _, _ = env
    publishers = {p.publisher for p in panel.provenance.values() if p.publisher}
    assert len(publishers) >= 8 and all(p in footer for p in publishers), footer
    from humsec.data.release.load import shipped_release_dir

    release = json.loads((shipped_release_dir() / "manifest.json").read_text(encoding="utf-8"))["release"]
    assert f"humsec data release {release}" in footer
    for gone in ("Human Freedom Index", "SOWC", "GTD", "ESI"):
        assert gone not in footer
    page = client.get("/country/ken")
    assert page.status_code == 200 and 'data-iso3="KEN"' in page.text and "Kenya" in page.text
    assert client.get("/country/ZZZ").status_code == 404
    assert client.get("/country?q=Kenya", follow_redirects=False).headers["location"] == "/country/KEN"
    geo = client.get("/web/world.geojson").json()
    ids = {f["id"] for f in geo["features"]}
    assert len(ids) > 150 and {"KEN", "BRA", "NZL"} <= ids
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "equalEarth" in js.text
    assert "http" not in client.get("/").text.split("<body")[0]  # nothing loaded from the network
    docs = client.get("/api/v1/docs")  # Swagger UI from the swagger-ui-bundle-v2 package, not a CDN
    assert docs.status_code == 200
    assert "http://" not in docs.text and "https://" not in docs.text
    assert client.get("/api/v1/docs/assets/swagger-ui-bundle.js").status_code == 200


def test_regions_endpoint_equals_the_library(env):
    import numpy as np
    import pandas as pd

    from humsec.data.countries import CountryRegistry
    from humsec.index.builtin import load_spec
    from humsec.spatial.crossborder import regional_table

    client, _, panel, _, _ = env
    r = client.get("/api/v1/indices/hsi/regions")
    assert r.status_code == 200 and "etag" in r.headers
    body = r.json()
    lib = regional_table(panel=panel, spec=load_spec("hsi"), registry=CountryRegistry.default(), year=body["year"])
    got = pd.DataFrame(body["regions"])
    assert len(got) == len(lib) and list(got["group"]) == list(lib["group"])
    np.testing.assert_allclose(got["value"].to_numpy(dtype=float), lib["value"].to_numpy(dtype=float))
    csv = client.get("/api/v1/indices/hsi/regions", params={"format": "csv"})
    assert csv.status_code == 200 and csv.text.startswith("year,kind,group,node,value")
    assert client.get("/api/v1/indices/hsi/regions", params={"year": 1700}).status_code == 422


def test_watchlist_equals_the_library(env):
    """``/watchlist``: the ranking of :func:`watch_list` (what ``humsec warn`` shows), next
    year and a past year (fitted on the years before it only), JSON and CSV."""
    import numpy as np

    from humsec.forecast import onset as O

    client, _, panel, _, _ = env
    r = client.get("/api/v1/watchlist")
    assert r.status_code == 200 and "etag" in r.headers
    body = r.json()
    sp = O.structural_panel(panel)
    lib = O.watch_list(panel, sp=sp, horizons=(1,))
    last = int(sp["year"].max())
    assert body["data_year"] == last and body["year"] == last + 1 and body["window"] == str(last + 1)
    got = body["countries"]
    assert [c["unit"] for c in got] == list(lib["unit"]) and [c["rank"] for c in got] == list(lib["rank"])
    np.testing.assert_array_equal([c["probability"] for c in got], lib["probability"].to_numpy())
    assert [c["drivers"] for c in got] == [d.split("; ") if d else [] for d in lib["drivers"]]
    assert body["n_warnings"] == int(lib["warning"].sum())
    assert got[0]["drivers"] and "the risk" in got[0]["drivers"][0]
    csv_r = client.get("/api/v1/watchlist?format=csv")
    assert csv_r.status_code == 200 and csv_r.text.splitlines()[1].split(",")[1] == got[0]["unit"]
    y = last - 3
    past = client.get(f"/api/v1/watchlist?year={y}").json()
    lib_past = O.watch_list(panel, sp=sp[sp["year"] <= y - 1].reset_index(drop=True), horizons=(1,))
    assert past["data_year"] == y - 1 and [c["unit"] for c in past["countries"]] == list(lib_past["unit"])
    np.testing.assert_array_equal([c["probability"] for c in past["countries"]], lib_past["probability"].to_numpy())
    bad = client.get(f"/api/v1/watchlist?year={last + 5}")
    assert bad.status_code == 404 and "no watch list" in bad.json()["detail"]
    assert "/api/v1/watchlist" in client.get("/api/v1/openapi.json").json()["paths"]
    page = client.get("/").text  # the dashboard's panel (filled by app.js from this route)
    assert 'id="watchlist"' in page and "/api/v1/watchlist?format=csv" in page
    assert 'api("/watchlist")' in client.get("/static/app.js").text


def test_alerts_route_equals_the_library(env):
    from humsec.data.countries import CountryRegistry
    from humsec.forecast.warn import current_alerts
    from humsec.index.builtin import load_spec

    client, _, panel, _, _ = env
    body = client.get("/api/v1/alerts").json()
    lib = current_alerts(panel, load_spec("hsi"), year=body["year"], registry=CountryRegistry.default())
    assert [(a["unit"], a["rule"], a["series"], a["reason"]) for a in body["alerts"]] == [
        (a.unit, a.rule, a.series, a.reason) for a in lib.alerts]
