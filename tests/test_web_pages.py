"""Dashboard pieces of issue 19 without a browser: the years that rank, the name search
and its chooser, not-ranked peers/spill, the country-page fast paths (the same numbers
as the library's reports) and a style for every commitment status."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from humsec.api.config import ServiceConfig

CONFIG = {"runs": 10, "trend_runs": 3, "max_runs": 50, "trend_years": 4}


@pytest.fixture(scope="module")
def site(default_env):
    from humsec.web import create_site

    app = create_site(default_env[0], ServiceConfig(**CONFIG))
    with TestClient(app) as client:
        yield client, app.state.observatory


def jsonish(obj):
    from humsec.api.http import dumps

    return json.loads(dumps(obj))


# ------------------------------------------------------------------------ years


def test_years_lists_only_years_that_rank(site):
    from humsec.analysis.assess import coverage_by_year

    client, obs = site
    body = client.get("/api/v1/indices/hsi/years").json()
    cov = coverage_by_year(obs.spec("hsi"), obs.index_data("hsi"))
    want = sorted(int(y) for y in cov.loc[cov["ranked"] > 0, "year"])
    assert body["ranked_years"] == want and set(want) <= set(body["years"])
    assert body["latest_year"] == max(want) >= body["default_year"] and body["default_year"] in want
    assert [c["year"] for c in body["coverage"]] == want and all(c["ranked"] > 0 for c in body["coverage"])
    # every listed year yields a ranking; the first year with data but none ranked does not
    for y in (want[0], body["latest_year"]):
        r = client.get(f"/api/v1/indices/hsi/ranking?year={y}&runs=0")
        assert r.status_code == 200 and r.json()["countries"], (y, r.text[:200])
    unranked = [y for y in body["years"] if y not in want]
    if unranked:
        r = client.get(f"/api/v1/indices/hsi/ranking?year={unranked[-1]}&runs=0")
        assert r.status_code >= 400 or not r.json()["countries"]


def test_map_page_has_the_data_age_line(site):
    client, _ = site
    html = client.get("/").text
    m = re.search(r'<p id="data-age"[^>]*data-release="([^"]+)"', html)
    assert m and "2026.1" in m.group(1)


# ------------------------------------------------------------------------ search


@pytest.mark.parametrize("query, code", [("kenya", "KEN"), ("Kenya", "KEN"), ("ken", "KEN"), ("keny", "KEN"),
                                         ("ivory coast", "CIV"), ("Niger", "NER"), ("  kenya ", "KEN")])
def test_search_one_country_opens_its_page(site, query, code):
    client = site[0]
    r = client.get("/country", params={"q": query}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/country/{code}"


@pytest.mark.parametrize("query, codes", [("Korea", {"KOR", "PRK"}), ("Congo", {"COG", "COD"}),
                                          ("Guinea", {"GIN", "GNB", "GNQ", "PNG"}), ("Sudan", {"SDN", "SSD"})])
def test_search_ambiguous_name_lets_the_reader_choose(site, query, codes):
    client = site[0]
    r = client.get("/country", params={"q": query}, follow_redirects=False)
    assert r.status_code == 200 and "Which country?" in r.text
    links = set(re.findall(r'<a href="/country/([A-Z]{3})">', r.text))
    assert links == codes, links
    assert f"“{query}”" in r.text


def test_search_exact_name_listed_first_and_misspelling_suggested(site):
    client = site[0]
    r = client.get("/country", params={"q": "Guinea"})
    assert re.findall(r'<a href="/country/([A-Z]{3})">', r.text)[0] == "GIN"
    r = client.get("/country", params={"q": "Kenia"}, follow_redirects=False)
    assert r.status_code == 404 and "Did you mean" in r.text and 'href="/country/KEN"' in r.text
    r = client.get("/country", params={"q": "Atlantis"}, follow_redirects=False)
    assert r.status_code == 404 and "No country matches" in r.text
    assert "{" not in r.text.split("<main")[1].split("</main>")[0]


# ------------------------------------------------------------------------ not ranked


@pytest.mark.parametrize("code", ["AND", "MCO", "LIE", "SMR"])
def test_peers_and_spill_of_a_not_ranked_country_say_why(site, code):
    client = site[0]
    want = client.get(f"/api/v1/countries/{code}/assessment")
    assert want.status_code == 404 and want.json()["not_ranked"]["unit"] == code
    for path in (f"/api/v1/countries/{code}/peers", f"/api/v1/spill/{code}", f"/api/v1/spill/{code.lower()}"):
        r = client.get(path)
        assert r.status_code == 404, (path, r.text[:200])
        assert r.json()["detail"] == want.json()["detail"] and r.json()["not_ranked"] == want.json()["not_ranked"]


# ------------------------------------------------------------------------ fast paths = library


@pytest.mark.parametrize("code", ["KEN", "FJI", "AND", "IND"])
def test_groups_equal_the_library_on_the_whole_panel(site, code):
    from humsec.analysis.groups import furthest_behind, left_behind

    client, obs = site
    body = client.get(f"/api/v1/countries/{code}/groups").json()
    full = obs.inputs().panel.data
    assert body["furthest_behind"] == jsonish(furthest_behind(full, code))
    assert body["left_behind"] == jsonish(left_behind(full, code, catalogue=obs.inputs().catalogue).to_dict())


@pytest.mark.parametrize("code, query", [("KEN", {}), ("TON", {}), ("SYR", {"base_year": 2012}),
                                         ("NZL", {"graph": "knn", "k": 4})])
def test_country_spill_equals_spill_report(site, code, query):
    from humsec.spatial.crossborder import spill_report

    client, obs = site
    body = client.get(f"/api/v1/spill/{code}", params=query).json()
    rep = spill_report(code, panel=obs.inputs().panel, spec=obs.spec("hsi"), registry=obs.registry(),
                       year=obs.resolve_year("hsi", None), base_year=query.get("base_year"),
                       graph=query.get("graph", "borders+islands"), k=query.get("k", 3), seed=obs.config.seed,
                       data=obs.index_data("hsi"))
    assert {k: v for k, v in body.items() if k not in ("names", "node_names")} == jsonish(rep.to_dict())


@pytest.mark.parametrize("code, query", [("KEN", {}), ("FJI", {"dimension": "health", "k": 3}),
                                         ("SYR", {"base_year": 2012}), ("UGA", {"same": "region"})])
def test_country_peers_equal_peer_report(site, code, query):
    from humsec.spatial.crossborder import peer_report

    client, obs = site
    body = client.get(f"/api/v1/countries/{code}/peers", params=query).json()
    rep = peer_report(code, panel=obs.inputs().panel, spec=obs.spec("hsi"), registry=obs.registry(),
                      catalogue=obs.inputs().catalogue, dimension=query.get("dimension"),
                      year=obs.resolve_year("hsi", None), base_year=query.get("base_year"), k=query.get("k", 5),
                      same=query.get("same"), data=obs.index_data("hsi"))
    for key in ("similar", "positive_deviants"):
        for row in body[key]:
            row.pop("name")
    body.pop("threat_name")
    assert body == jsonish(rep.to_dict())


def test_refusals_keep_the_reports_words(site):
    client = site[0]
    r = client.get("/api/v1/countries/KEN/peers", params={"base_year": 2030})
    assert 400 <= r.status_code < 500 and "base" in r.json()["detail"].lower()
    r = client.get("/api/v1/spill/KEN", params={"base_year": 2030})
    assert 400 <= r.status_code < 500


# ------------------------------------------------------------------------ styles


def test_every_commitment_status_has_a_style():
    from humsec.analysis.trends import PROGRESS_LABELS

    css = (resources.files("humsec.web") / "static" / "style.css").read_text(encoding="utf-8")
    missing = [s for s in PROGRESS_LABELS if not re.search(rf"\.st-{re.escape(s)}\s*[{{,]", css)]
    assert not missing, missing
    assert re.search(r"\.st-too_early\s*\{[^}]*color:", css)
