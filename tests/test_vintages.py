"""Vintages: every fetch is an immutable snapshot; `humsec data diff` lists revisions."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pandas as pd
import pytest
import respx

from humsec.data import vintages
from humsec.data.connectors import Fetcher, SourceRegistry
from humsec.data.store import Store
from humsec.model.panel import Panel

FIX = Path(__file__).parent / "fixtures" / "connectors"
WB = "https://api.worldbank.org/v2/country/all/indicator/SP.DYN.LE00.IN"


def _mock_wb(router, suffix: str = "") -> None:
    for page in ("1", "2"):
        router.get(WB, params={"page": page}).mock(return_value=httpx.Response(
            200, content=(FIX / f"wb_le_p{page}{suffix}.json").read_bytes()))


@pytest.fixture()
def fetcher(settings):
    with Fetcher(settings.fetch, sleep=lambda s: None, clock=lambda: 0.0) as f:
        yield f


def _fetch(settings, fetcher, suffix=""):
    with respx.mock as router:
        _mock_wb(router, suffix)
        return vintages.fetch_to_store(settings, "worldbank", ["SP.DYN.LE00.IN"], fetcher=fetcher,
                                       registry=SourceRegistry.default())


def test_two_fetches_two_vintages_and_exact_revisions(settings, fetcher):
    s1, created1, r1 = _fetch(settings, fetcher)
    s2, created2, r2 = _fetch(settings, fetcher, "_rev")
    assert created1 and created2
    assert (s1.ref, s2.ref) == ("worldbank-life_expectancy@1", "worldbank-life_expectancy@2")
    assert s1.kind == s2.kind == "fetch"
    assert s2.meta["edition"] == "2025-07-01" and s1.meta["edition"] == "2024-12-16"
    assert s2.meta["payload_sha256"] != s1.meta["payload_sha256"]
    assert len(s2.meta["urls"]) == 2 and s2.meta["licence"] == "CC-BY-4.0"

    store = Store.open(settings)
    # the old vintage is untouched
    old = store.load_panel("worldbank-life_expectancy@1")
    assert old == r1.panel
    prov = old.provenance["life_expectancy"]
    assert prov.edition == "2024-12-16" and prov.source.startswith("World Bank")
    assert prov.url.startswith(WB) and prov.accessed == r1.accessed and prov.content_hash

    rev = vintages.diff_snapshots(store, "worldbank-life_expectancy")
    assert (rev.old_ref, rev.new_ref) == ("worldbank-life_expectancy@1", "worldbank-life_expectancy@2")
    rows = {(r.change, r.unit, r.year): (r.old, r.new, r.revision) for r in rev.table.itertuples()}
    assert set(rows) == {("changed", "KEN", 2022), ("removed", "UGA", 2022),
                         ("added", "UGA", 2021), ("added", "UGA", 2023)}
    old_v, new_v, size = rows[("changed", "KEN", 2022)]
    assert (old_v, new_v) == (62.068, 62.5) and size == pytest.approx(0.432)
    assert rows[("removed", "UGA", 2022)][0] == 62.851 and math.isnan(rows[("removed", "UGA", 2022)][1])
    assert rows[("added", "UGA", 2021)][1] == 62.3
    assert rev.unchanged == 1                       # KEN 2021 is the same
    summ = rev.summary().set_index("indicator").loc["life_expectancy"]
    assert (summ["added"], summ["removed"], summ["changed"]) == (2, 1, 1)


def test_identical_refetch_creates_no_new_vintage(settings, fetcher):
    _fetch(settings, fetcher)
    snap, created, _ = _fetch(settings, fetcher)
    assert not created and snap.version == 1


def test_diff_needs_two_versions(settings, fetcher):
    from humsec.errors import HumsecError

    _fetch(settings, fetcher)
    with pytest.raises(HumsecError, match="nothing to compare"):
        vintages.diff_snapshots(Store.open(settings), "worldbank-life_expectancy")
    with pytest.raises(HumsecError, match="no dataset named 'nope'"):
        vintages.diff_snapshots(Store.open(settings), "nope")


def test_diff_panels_tolerance_and_missing_values():
    a = Panel(pd.DataFrame({"unit": ["A", "B", "C"], "year": 2000, "indicator": "x",
                            "value": [1.0, float("nan"), 3.0]}))
    b = Panel(pd.DataFrame({"unit": ["A", "B", "C"], "year": 2000, "indicator": "x",
                            "value": [1.0000001, float("nan"), 4.0]}))
    exact = vintages.diff_panels(a, b)
    assert list(exact.table["unit"]) == ["A", "C"] and exact.unchanged == 1
    loose = vintages.diff_panels(a, b, tolerance=1e-3)
    assert list(loose.table["unit"]) == ["C"] and loose.table["relative"].iloc[0] == pytest.approx(1 / 3)


def test_fetched_indicators_join_the_catalogue(settings, fetcher):
    from humsec.data import service

    with respx.mock as router:
        router.get(SourceRegistry.default()["hdr"].base_url).mock(
            return_value=httpx.Response(200, content=(FIX / "hdr_small.csv").read_bytes()))
        snap, _, _ = vintages.fetch_to_store(settings, "hdr", ["hdi"], fetcher=fetcher)
    cat = service.catalogue(settings)
    assert "hdi" in cat and cat["hdi"].name == "Human Development Index"
    assert snap.ref == "hdr-hdi@1"


# -- CLI ------------------------------------------------------------------------------------
def _cli(args, settings, capsys):
    from humsec.cli.main import main

    code = main(["--home", str(settings.home), "-q", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_fetch_twice_then_diff(settings, capsys):
    with respx.mock as router:
        _mock_wb(router)
        code, out, err = _cli(["data", "fetch", "worldbank", "SP.DYN.LE00.IN"], settings, capsys)
    assert code == 0, err
    assert "vintage worldbank-life_expectancy@1" in out and "AFE" in err   # aggregate reported
    with respx.mock as router:
        _mock_wb(router, "_rev")
        code, out, err = _cli(["data", "fetch", "worldbank", "life_expectancy"], settings, capsys)
    assert code == 0 and "@2" in out
    code, out, err = _cli(["data", "diff", "worldbank-life_expectancy", "--format", "csv"],
                          settings, capsys)
    assert code == 0, err
    df = pd.read_csv(__import__("io").StringIO(out))
    assert sorted(zip(df["change"], df["unit"], df["year"])) == [
        ("added", "UGA", 2021), ("added", "UGA", 2023), ("changed", "KEN", 2022), ("removed", "UGA", 2022)]
    code, out, _ = _cli(["data", "diff", "worldbank-life_expectancy", "--from", "1", "--to", "2",
                         "--summary", "--format", "json"], settings, capsys)
    assert code == 0 and '"changed":1' in out
    code, out, _ = _cli(["data", "snapshots", "--format", "csv"], settings, capsys)
    assert "worldbank-life_expectancy@2,fetch" in out


def test_cli_unreachable_source_plain_message_exit_2(settings, capsys):
    with respx.mock as router:
        router.get(url__startswith="https://api.worldbank.org/").mock(
            side_effect=httpx.ConnectError("[Errno -3] Temporary failure in name resolution"))
        code, out, err = _cli(["data", "fetch", "worldbank", "u5mr"], settings, capsys)
    assert code == 2
    assert "cannot reach api.worldbank.org: no network connection" in err
    assert "Traceback" not in err + out


def test_cli_dry_run_sends_nothing(settings, capsys):
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        code, out, err = _cli(["data", "fetch", "who", "life_expectancy", "--countries", "Kenya",
                               "--since", "2015", "--dry-run"], settings, capsys)
    assert code == 0, err
    assert not route.called
    assert "GET https://ghoapi.azureedge.net/api/WHOSIS_000001?$filter=" in out
    assert "SpatialDim%20eq%20'KEN'" in out and "TimeDim%20ge%202015" in out


def test_cli_sources_lists_registry(settings, capsys):
    code, out, _ = _cli(["data", "sources", "--format", "csv"], settings, capsys)
    assert code == 0
    for sid in ("worldbank", "unsdg", "who", "hdr", "unhcr", "ucdp", "unicef"):
        assert f"\n{sid}," in out
    code, out, _ = _cli(["data", "sources", "hdr", "--format", "csv"], settings, capsys)
    assert "le_f,life_expectancy,F" in out
