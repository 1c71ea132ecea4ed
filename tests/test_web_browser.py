"""The dashboard in a real browser (issue 11): Playwright drives the system's headless
Chromium against ``humsec serve`` started on 127.0.0.1; screenshots go to the pytest
tmp dir. Skips with a reason when Playwright or Chromium is missing."""

from __future__ import annotations

import csv
import io
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright (Python) is not installed")

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(default_env, tmp_path_factory, chromium):
    """``humsec serve`` on a copy of the default store, stopped after the tests."""
    settings = default_env[0]
    home = tmp_path_factory.mktemp("serve_home")
    shutil.copy(settings.db_path, home / settings.db_path.name)
    port = free_port()
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "humsec.cli.main", "serve", "--home", str(home), "--host",
                             "127.0.0.1", "--port", str(port), "--runs", "10", "--log-level", "warning",
                             "--no-preload"],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"humsec serve exited with {proc.returncode}: "
                                   f"{(home / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("humsec serve did not answer within 90 s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium):
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    ctx = browser.new_context(viewport={"width": 1366, "height": 860}, accept_downloads=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    pg.on("request", lambda r: errors.append(f"off-host request: {r.url}")
          if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    pg.errors = errors
    yield pg
    ctx.close()


def test_map_page(server, page, tmp_path, default_env):
    ranking = httpx.get(f"{server}/api/v1/indices/hsi/ranking", timeout=120).json()
    page.goto(f"{server}/")
    page.wait_for_selector("#map a[data-unit]", timeout=60_000)
    scored = page.locator("#map a[data-unit]")
    assert scored.count() == len(ranking["countries"]) >= 180
    # the footer names the publishers of the served release
    footer = page.locator("footer").inner_text()
    publishers = {p.publisher for p in default_env[1].provenance.values() if p.publisher}
    assert publishers and all(p in footer for p in publishers), footer
    assert "Human Freedom Index" not in footer
    assert page.locator("#ranking-table tbody tr").count() == len(ranking["countries"])
    best = ranking["countries"][0]
    assert best["name"] in page.locator("#map-summary").inner_text()
    fill = page.locator(f'#map a[data-unit="{best["unit"]}"] path, #map a[data-unit="{best["unit"]}"] circle')
    assert fill.first.get_attribute("fill") == "#0c2c84"  # darkest class = most secure
    # every scored country is a labelled link; the label carries the number shown
    label = page.locator('#map a[data-unit="KEN"]').get_attribute("aria-label")
    ken = next(c for c in ranking["countries"] if c["unit"] == "KEN")
    assert label.startswith("Kenya: ") and f"{ken['score']:.1f}" in label
    # the conflict watch list panel: the API's ranking, most likely first
    watch = httpx.get(f"{server}/api/v1/watchlist", timeout=120).json()
    page.wait_for_selector("#watchlist tbody tr", timeout=60_000)
    assert page.locator("#watchlist tbody tr").count() == min(20, len(watch["countries"]))
    assert watch["countries"][0]["name"] in page.locator("#watchlist tbody tr").first.inner_text()
    page.screenshot(path=str(tmp_path / "map.png"))
    # another dimension re-colours the map and relabels the legend
    page.select_option("#measure", "health")
    assert "Health" in page.locator("#legend").inner_text()
    page.screenshot(path=str(tmp_path / "map_health.png"))
    # keyboard: a focused country opens with Enter
    page.focus('#map a[data-unit="KEN"]')
    assert page.locator("#tooltip").inner_text().startswith("Kenya")
    page.keyboard.press("Enter")
    page.wait_for_url("**/country/KEN")
    assert not page.errors, page.errors
    assert (tmp_path / "map.png").stat().st_size > 10_000


def test_country_page(server, page, tmp_path):
    a = httpx.get(f"{server}/api/v1/countries/KEN/assessment", timeout=120).json()
    page.goto(f"{server}/country/KEN")
    _wait_for_text(page, "#headline", "rank")
    assert f"rank {a['rank']:.0f} of {a['n_ranked']}" in page.locator("#headline").inner_text()
    for sec in ("profile", "trends", "threats", "groups", "spill", "peers", "indicators"):
        page.wait_for_selector(f"#{sec} table", state="attached", timeout=90_000)
    # charts are labelled images with the same numbers in a table behind them
    for sec in ("profile", "trends", "spill"):
        svg = page.locator(f"#{sec} svg.chart")
        assert svg.get_attribute("role") == "img" and svg.get_attribute("aria-label")
        assert page.locator(f"#{sec} details table").count() == 1
    assert page.locator("#indicators tbody tr").count() == len(a["indicators"])
    weakest = a["threats"][0]["name"]
    assert weakest in page.locator("#threats").inner_text()
    assert page.locator("#commitments").inner_text()  # token form or the list
    page.screenshot(path=str(tmp_path / "country.png"), full_page=True)
    assert not [e for e in page.errors if "off-host" in e or "pageerror" in e], page.errors


def test_not_ranked_countries_on_the_map_page(server, page, tmp_path):
    ranking = httpx.get(f"{server}/api/v1/indices/hsi/ranking", timeout=120).json()
    nr = ranking["not_ranked"]
    assert "ERI" in {r["unit"] for r in nr} and "FSM" in {c["unit"] for c in ranking["countries"]}
    page.goto(f"{server}/")
    page.wait_for_selector("#not-ranked-table tbody tr", timeout=60_000)
    rows = page.locator("#not-ranked-table tbody tr")
    assert rows.count() == len(nr)
    eri = next(r for r in nr if r["unit"] == "ERI")
    text = page.locator("#not-ranked").inner_text()
    assert "Eritrea" in text and eri["missing_indicator_names"].split("; ")[0] in text
    assert "{" not in text and "_" not in text  # plain words: no codes, no raw structures
    assert f"{len(nr)} UN member states are not ranked" in page.locator("#map-summary").inner_text()
    # a not-ranked country on the map is a link to its page, apart from the scored ones
    if page.locator('#map a[data-not-ranked="ERI"]').count():
        assert "not ranked" in page.locator('#map a[data-not-ranked="ERI"]').get_attribute("aria-label")
    page.locator("#not-ranked").screenshot(path=str(tmp_path / "not_ranked.png"))
    assert not page.errors, page.errors


def test_not_ranked_and_severe_on_the_country_page(server, page, tmp_path):
    ranking = httpx.get(f"{server}/api/v1/indices/hsi/ranking", timeout=120).json()
    eri = next(r for r in ranking["not_ranked"] if r["unit"] == "ERI")
    page.goto(f"{server}/country/ERI")
    _wait_for_text(page, "#headline", "not ranked")
    assert page.locator("#headline").inner_text().startswith(f"Eritrea is not ranked in the Human Security Index "
                                                             f"for {ranking['year']}")
    missing = page.locator("#indicators li")
    assert missing.count() == len(eri["missing_indicator_names"].split("; "))
    assert "not ranked" in page.locator("#trends").inner_text()
    assert page.locator("#dl-csv").count() == 0 and page.locator("#dl-html").count() == 1
    for sec in ("groups", "alerts"):  # still shown (and finished before the page is left)
        page.wait_for_selector(f"#{sec} table, #{sec} ul, #{sec} p.note, #{sec} p.error", timeout=90_000)
    page.screenshot(path=str(tmp_path / "country_not_ranked.png"), full_page=True)
    # a ranked country with a severe dimension: marked in the headline and the profile
    severe = next(c for c in ranking["countries"] if c["severe"])
    a = httpx.get(f"{server}/api/v1/countries/{severe['unit']}/assessment", timeout=120).json()
    page.goto(f"{server}/country/{severe['unit']}")
    _wait_for_text(page, "#headline", "rank")
    assert "Severe threat" in page.locator("#headline").inner_text()
    page.wait_for_selector("#profile svg.chart", timeout=60_000)
    assert "(severe)" in page.locator("#profile svg.chart").inner_html()
    # every indicator shows the year observed, its age and how it was obtained
    page.wait_for_selector("#indicators table", timeout=60_000)
    heads = page.locator("#indicators thead").inner_text()
    assert "Year observed" in heads and "Age (years)" in heads and "How" in heads
    assert page.locator("#indicators tbody tr").count() == len(a["indicators"])
    first = a["indicators"][0]
    row = page.locator("#indicators tbody tr").first.inner_text()
    assert (first["how"] if first["how"] != "missing" else "no number") in row
    assert not page.errors, page.errors


def test_downloads(server, page, tmp_path):
    page.goto(f"{server}/country/KEN")
    _wait_for_text(page, "#headline", "rank")
    with page.expect_download() as info:
        page.click("#dl-csv")
    path = Path(info.value.path())
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert info.value.suggested_filename.startswith("hsi_KEN_") and len(rows) > 10
    assert {"indicator", "value", "observed", "source"} <= set(rows[0])
    assert all(not str(v).startswith(("=", "+", "@")) for r in rows for v in r.values())
    with page.expect_download(timeout=120_000) as info:
        page.click("#dl-pdf")
    pdf = Path(info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and info.value.suggested_filename.endswith(".pdf")
    # comparison view and its download
    page.goto(f"{server}/compare?units=KEN,UGA,NZL")
    page.wait_for_selector("#compare-figure svg.chart", timeout=60_000)
    assert page.locator("#compare-table tbody tr").count() == 3
    page.screenshot(path=str(tmp_path / "compare.png"))
    with page.expect_download() as info:
        page.click("#dl-compare")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert sorted(r["unit"] for r in rows) == ["KEN", "NZL", "UGA"]


def _wait_for_text(page, selector: str, text: str, timeout: float = 60_000) -> None:
    """Wait until ``selector`` shows ``text`` — with a locator, not a JavaScript string
    predicate: the pages' Content Security Policy (script-src 'self') forbids the eval
    that string predicates may need."""
    page.locator(selector).filter(has_text=text).first.wait_for(state="visible", timeout=timeout)


def test_year_selector_lists_years_that_rank_and_latest_data(server, page, tmp_path):
    years = httpx.get(f"{server}/api/v1/indices/hsi/years", timeout=120).json()
    page.goto(f"{server}/")
    page.wait_for_selector("#map a[data-unit]", timeout=60_000)
    _wait_for_text(page, "#data-age", "median indicator age")
    values = page.locator("#year option").evaluate_all("(os) => os.map((o) => o.value)")
    assert values == ["latest", *[str(y) for y in reversed(years["ranked_years"])]]
    assert page.locator("#year").input_value() == str(years["default_year"])
    labels = page.locator("#year option").all_inner_texts()
    assert labels[0].startswith(f"Latest data: {years['latest_year']} (")
    assert "ago)" in labels[0] or "this year)" in labels[0]
    age = page.locator("#data-age").inner_text()
    assert "2026.1" in age and "missing-data policy" in age and f"{years['default_year']} index" in age
    assert "{" not in age and "_" not in age
    # latest data: the most recent year that ranks, said how old it is; the address keeps it
    page.select_option("#year", "latest")
    _wait_for_text(page, "#data-age", "Latest data:")
    assert f"Latest data: {years['latest_year']} is the most recent year" in page.locator("#data-age").inner_text()
    assert "year=latest" in page.url
    assert f", {years['latest_year']}:" in page.locator("#map-summary").inner_text()
    page.screenshot(path=str(tmp_path / "map_latest.png"))
    # an older year that ranks: the map, the summary and the data-age line follow it
    older = [y for y in years["ranked_years"] if y < years["default_year"]][-1]
    page.select_option("#year", str(older))
    _wait_for_text(page, "#map-summary", f", {older}:")
    _wait_for_text(page, "#data-age", f"{older} index")
    page.goto(f"{server}/?year={older}")
    page.wait_for_selector("#map a[data-unit]", timeout=60_000)
    assert page.locator("#year").input_value() == str(older)
    assert not page.errors, page.errors


def test_country_search_by_name(server, page, tmp_path):
    page.goto(f"{server}/compare")
    page.wait_for_selector("#country-list option", state="attached", timeout=60_000)
    page.fill("#goto", "kenya")
    page.click("#goto-form button[type=submit]")
    page.wait_for_url("**/country/KEN")
    # a choice from the list goes straight to the page
    page.fill("#goto", "Fiji (FJI)")
    page.click("#goto-form button[type=submit]")
    page.wait_for_url("**/country/FJI")
    # a name several countries share: a page to choose among them
    page.fill("#goto", "Korea")
    page.click("#goto-form button[type=submit]")
    page.wait_for_url("**/country?q=Korea")
    links = page.locator("#choices a")
    assert sorted(links.all_inner_texts()) == ["Democratic People's Republic of Korea", "Republic of Korea"]
    page.screenshot(path=str(tmp_path / "choose_korea.png"))
    page.click("#choices a:text-is('Republic of Korea')")
    page.wait_for_url("**/country/KOR")
    page.goto(f"{server}/country?q=Congo")
    assert page.locator("#choices a").count() == 2
    assert not [e for e in page.errors if "pageerror" in e or "off-host" in e], page.errors


def test_not_ranked_country_peers_and_spill_in_plain_words(server, page, tmp_path):
    for path in ("/api/v1/countries/MCO/peers", "/api/v1/spill/MCO"):
        r = httpx.get(f"{server}{path}", timeout=120)
        assert r.status_code == 404 and r.json()["not_ranked"]["unit"] == "MCO"
    page.goto(f"{server}/country/MCO")
    _wait_for_text(page, "#headline", "not ranked")
    for sec, words in (("spill", "neighbours"), ("peers", "peers")):
        text = page.locator(f"#{sec} .body").inner_text()
        assert text.startswith("Monaco is not ranked in") and words in text, text
        assert "{" not in text and "humsec " not in text and "422" not in text
    page.wait_for_selector("#groups table, #groups p.note", timeout=90_000)
    page.screenshot(path=str(tmp_path / "country_mco.png"), full_page=True)
