"""The data release: build from the publishers' files, licence gate, located errors,
atomic writing, reproducibility, and the shipped release that is the embedded default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from humsec.data.release import (LicenceRefusedError, build_release, indicator_status, load_recipe,
                                 load_release, release_targets, shipped_release_dir, write_release)
from humsec.errors import HumsecError, ValidationError
from humsec.model.panel import DIMENSIONS

EXTRACT = Path(__file__).parent / "data" / "release_sources"


@pytest.fixture(scope="module")
def built():
    """The release built from the small licence-clean extract in tests/data (clean checkout)."""
    return build_release(EXTRACT)


@pytest.fixture(scope="module")
def shipped():
    return load_release()


def _value(panel, code, unit, year, sex="_T", group="_T"):
    d = panel.data
    r = d[(d.indicator == code) & (d.unit == unit) & (d.year == year) & (d.sex == sex) & (d.group == group)
          & (d.age == "_T")]
    assert len(r) == 1, (code, unit, year, sex, group)
    return float(r["value"].iloc[0])


# ---------------------------------------------------------------- numbers as published
def test_values_match_the_publishers_files(built):
    p = built.panel
    wgi = pd.read_csv(EXTRACT / "wgi_2024" / "wgi_2024_long.csv")
    row = wgi[(wgi.code == "KEN") & (wgi.indicator == "va") & (wgi.year == 2023)]
    assert _value(p, "voice_accountability", "KEN", 2023) == pytest.approx(float(row.estimate.iloc[0]))

    # UCDP deaths per 100,000 = deaths / (female + male population) * 1e5, computed here from the files
    ucdp = pd.read_csv(EXTRACT / "ucdp_organized_violence" / "organizedviolencecy_v25_1.csv")
    deaths = ucdp[(ucdp.country_id_cy == 625) & (ucdp.year_cy == 2023)]["cumulative_total_deaths_in_orgvio_best_cy"].iloc[0]
    g = pd.read_parquet(EXTRACT / "gapminder_systema_globalis" / "sg_long.parquet")
    pop = g[(g.geo == "sdn") & (g.time == 2023) & g.indicator.isin(
        ["female_population_with_projections", "male_population_with_projections"])]["value"].sum()
    assert _value(p, "conflict_deaths", "SDN", 2023) == pytest.approx(deaths / pop * 1e5, rel=1e-12)
    assert _value(p, "pop_total", "SDN", 2023) == pop

    # UNHCR: refugees + asylum seekers + others in need of protection from Syria, all asylum countries
    un = pd.read_parquet(EXTRACT / "unhcr_refugees" / "population.parquet")
    syr = un[(un.coo_iso == "SYR") & (un.year == 2024)][["refugees", "asylum_seekers", "oip"]]
    total = float(syr.apply(pd.to_numeric).fillna(0).to_numpy().sum())
    spop = g[(g.geo == "syr") & (g.time == 2024) & g.indicator.isin(
        ["female_population_with_projections", "male_population_with_projections"])]["value"].sum()
    assert _value(p, "refugees_origin", "SYR", 2024) == pytest.approx(total / spop * 1000, rel=1e-12)
    # the bilateral matrix holds the corridors (stocks, end-2024): Syria -> Türkiye and Lebanon
    m = built.displacement
    st = m[(m.measure == "stock") & (m.population_type == "refugees") & (m.year == 2024) & (m.origin == "SYR")]
    tur = un[(un.coo_iso == "SYR") & (un.coa_iso == "TUR") & (un.year == 2024)]["refugees"].astype(float).sum()
    assert st.set_index("asylum").loc["TUR", "value"] == tur > 1_000_000


def test_disaggregations_and_censored_values(built):
    p = built.panel.data
    le = p[(p.indicator == "life_expectancy_sex") & (p.unit == "KEN") & (p.year == 2024)]
    assert set(le.sex) == {"F", "M"} and (le.set_index("sex").value["F"] > le.set_index("sex").value["M"])
    pop = p[(p.indicator == "pop") & (p.unit == "JOR") & (p.year == 2020)]
    assert set(pop.sex) == {"F", "M"} and len(pop) == 2 * 21
    assert set(p[p.indicator == "water_basic"].group) == {"_T", "urban", "rural"}
    # FAO's '<2.5' floor is stored as 2.5 (disclosed in the catalogue notes), never dropped
    sdg = pd.read_parquet(EXTRACT / "un_sdg_global_database" / "sdg_long.parquet")
    floor = sdg[(sdg.series == "sn_itk_defc") & (sdg.value_raw.astype(str) == "<2.5") & sdg.iso3.notna()]
    assert len(floor)
    r = floor.iloc[0]
    assert _value(built.panel, "undernourishment", r.iso3, int(r.year)) == 2.5


def test_provenance_and_licence_decisions(built):
    recipe = load_recipe()
    m = built.manifest
    assert m["release"] == recipe.release and m["shippable"] is True
    assert set(m["licence_decisions"]) == {i.code for i in recipe.indicators}
    for code, prov in built.panel.provenance.items():
        assert prov.publisher and prov.edition and prov.file and prov.licence and prov.citation, code
        assert recipe.licences[prov.licence].open, code
        assert m["indicators"][code]["content_hash"] == "sha256:" + prov.content_hash
    # test-only (non-commercial) series are recorded, with their evidence, and not shipped
    held = {c for c, d in m["licence_decisions"].items() if d["decision"].startswith("test-only")}
    assert {"uhc_index", "pm25", "homicide_rate_modelled"} <= held
    assert not held & set(built.panel.indicators)
    assert "non-commercial" in m["licence_decisions"]["uhc_index"]["reason"]
    # every source file the build read is hashed
    assert m["source_files"]["wgi_2024/wgi_2024_long.csv"]["sha256"]


def test_licence_gate_refuses_a_non_commercial_series_by_name():
    recipe = load_recipe()
    inds = tuple(i.model_copy(update={"ship": True}) if i.code == "uhc_index" else i for i in recipe.indicators)
    with pytest.raises(LicenceRefusedError) as exc:
        build_release(EXTRACT, recipe.model_copy(update={"indicators": inds}))
    msg = str(exc.value)
    assert "uhc_index" in msg and "CC-BY-NC-SA-3.0-IGO" in msg and "universal-health-coverage-index" in msg
    # a series of a non-commercial custodian of the SDG database is refused the same way
    ipv = recipe.indicators[0].model_copy(update={
        "code": "ipv", "source": recipe.indicators[0].source.model_copy(update={
            "source": "unsdg", "series": "vc_vaw_marr", "custodian": "WHO", "options": {}})})
    with pytest.raises(LicenceRefusedError, match=r"ipv \(unsdg series vc_vaw_marr\)"):
        build_release(EXTRACT, recipe.model_copy(update={"indicators": (*recipe.indicators, ipv)}))


# ---------------------------------------------------------------- reproducible, atomic
def test_rebuild_is_bit_identical(built, tmp_path):
    a = write_release(built, tmp_path / "a")
    b = write_release(build_release(EXTRACT), tmp_path / "b")
    for name in ("observations.parquet", "displacement.parquet", "catalogue.yaml", "provenance.json",
                 "manifest.json", "outlines.json", "geography.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # the extract's 16 countries get outlines, their land borders and points (Natural Earth)
    geo = json.loads((a / "geography.json").read_text())
    assert len(geo["points"]) == 16 and ["KEN", "UGA"] in geo["borders"] and ["SYR", "TUR"] in geo["borders"]
    assert built.manifest["geography"]["files"]["outlines.json"]["countries"] == 16
    again = load_release(a)
    assert again.content_hash == built.manifest["content_hash"]
    assert again.panel == built.panel


def test_a_failed_write_leaves_the_previous_release_intact(built, tmp_path, monkeypatch):
    out = write_release(built, tmp_path / "rel")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    from humsec.data.release import build as build_mod

    calls = {"n": 0}
    real = build_mod._write_parquet

    def crash(df, path):
        calls["n"] += 1
        if calls["n"] == 2:            # after the observations, before the displacement matrix
            raise OSError("disk full")
        real(df, path)

    monkeypatch.setattr(build_mod, "_write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        write_release(built, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["rel"]          # no half-built directory left


def test_a_damaged_release_is_refused(built, tmp_path):
    out = write_release(built, tmp_path / "rel")
    obs = pd.read_parquet(out / "observations.parquet")
    obs.loc[0, "value"] = obs.loc[0, "value"] + 1
    obs.to_parquet(out / "observations.parquet", index=False)
    with pytest.raises(HumsecError, match="do not match the release manifest"):
        load_release(out)
    (out / "manifest.json").unlink()
    with pytest.raises(HumsecError, match="incomplete data release, missing manifest.json"):
        load_release(out)


# ---------------------------------------------------------------- bad input: located errors
def _copy_extract(tmp_path) -> Path:
    dst = tmp_path / "src"
    shutil.copytree(EXTRACT, dst)
    return dst


def test_missing_files_are_all_named(tmp_path):
    src = _copy_extract(tmp_path)
    (src / "wgi_2024" / "wgi_2024_long.csv").unlink()
    shutil.rmtree(src / "unhcr_refugees")
    with pytest.raises(ValidationError) as exc:
        build_release(src)
    msg = str(exc.value)
    assert "wgi_2024/wgi_2024_long.csv" in msg and "unhcr_refugees/population.parquet" in msg
    assert "unhcr_refugees/flows.parquet" in msg and "missing file of source 'wgi'" in msg
    with pytest.raises(HumsecError, match="source directory not found"):
        build_release(tmp_path / "nowhere")


def test_unknown_country_code_is_located(tmp_path):
    src = _copy_extract(tmp_path)
    f = src / "wgi_2024" / "wgi_2024_long.csv"
    lines = f.read_text().splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines) if line.split(",")[1] == "KEN")
    lines[n] = lines[n].replace("KEN", "QQQ", 2)
    f.write_text("".join(lines))
    with pytest.raises(ValidationError) as exc:
        build_release(src)
    issue = exc.value.issues[0]
    assert issue.file.endswith("wgi_2024/wgi_2024_long.csv") and issue.row == n + 1 and issue.field == "code"
    assert "unknown country code 'QQQ'" in issue.message


def test_changed_column_layout_and_malformed_file(tmp_path):
    src = _copy_extract(tmp_path)
    f = src / "inform_risk_hdx" / "inform_risk_index_trends.csv"
    f.write_bytes(f.read_bytes().replace(b"IndicatorScore", b"Score", 1))
    with pytest.raises(ValidationError, match=r"inform_risk_index_trends.csv, row 1: expected column\(s\) IndicatorScore"):
        build_release(src)
    src2 = _copy_extract(tmp_path / "b")
    (src2 / "democracy_data" / "vdem_simple.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(ValidationError, match=r"vdem_simple.parquet: not a readable Parquet file"):
        build_release(src2)


def test_value_outside_the_valid_range_is_located(tmp_path):
    src = _copy_extract(tmp_path)
    f = src / "undp_hdr" / "HDR23-24_Composite_indices_complete_time_series.csv"
    df_text = f.read_bytes()
    header = df_text.split(b"\r\n", 1)[0].decode("utf-8-sig").split(",")
    col = header.index("pr_f_2022")
    rows = df_text.split(b"\r\n")
    i = next(k for k, r in enumerate(rows) if r.startswith(b"KEN,"))
    cells = rows[i].split(b",")
    cells[col] = b"140.0"
    rows[i] = b",".join(cells)
    f.write_bytes(b"\r\n".join(rows))
    with pytest.raises(ValidationError, match=r"KEN 2022: 140.0 is outside the valid range of women_parliament"):
        build_release(src)


def test_recipe_errors_are_located(tmp_path):
    bad = tmp_path / "recipe.yaml"
    text = (Path(load_recipe.__code__.co_filename).parent / "recipe.yaml").read_text()
    bad.write_text(text.replace("direction: -1", "direction: down", 1))
    with pytest.raises(ValidationError, match=r"recipe.yaml, indicators\[\d+\] \(\w+\)\.direction"):
        load_recipe(bad)


# ---------------------------------------------------------------- the shipped release
def test_shipped_release_is_the_default_and_intact(shipped):
    from humsec.model.catalogue import Catalogue

    assert shipped.manifest["shippable"] is True
    assert shipped.version == load_recipe().release
    assert list(Catalogue.default().codes) == list(shipped.catalogue.codes)
    size = sum(p.stat().st_size for p in shipped_release_dir().iterdir())
    assert size < 20e6                                   # fits the wheel budget many times over
    assert not any(c.startswith(("hfi_", "esi_")) or c == "terror_deaths" for c in shipped.panel.indicators)


def test_shipped_release_covers_every_country(shipped):
    from humsec.data.countries import CountryRegistry

    units = set(shipped.panel.units)
    un = CountryRegistry.default().un_members
    assert len(un) == 193 and un <= units
    assert {"PSE", "XKX", "TWN", "HKG", "MAC"} <= units
    # publishers' legacy codes of present-day states are not mistaken for former countries
    # (ISO 3166-3 lists ZAR and TMP; the World Bank uses them for DR Congo and Timor-Leste)
    d0 = shipped.panel.data
    wgi = d0[(d0.indicator == "rule_of_law") & (d0.year == 2023)]
    assert {"COD", "TLS", "ROU", "XKX", "PSE", "AND"} <= set(wgi.unit)
    # countries the 2016 panel could not score now have current data in every dimension
    d = shipped.panel.data
    cat = shipped.catalogue
    for iso in ("AFG", "SOM", "SSD", "PRK", "ERI", "PSE", "MHL", "FSM"):
        have = {cat[c].dimension for c in d.loc[(d.unit == iso) & (d.year >= 2020), "indicator"].unique()}
        assert have >= set(DIMENSIONS) - {"food"} or have >= set(DIMENSIONS), (iso, sorted(have))


def test_shipped_release_is_current(shipped):
    from humsec.data.countries import CountryRegistry
    import datetime as dt

    st = indicator_status(shipped.panel, shipped.catalogue, un_members=CountryRegistry.default().un_members,
                          as_of=dt.date.fromisoformat(shipped.manifest["released"]))
    t = {x.name: x for x in release_targets(st)}
    assert t["indicators over the seven dimensions"].met and t["indicators per dimension (fewest)"].met
    assert t["median data age"].met
    latest = st.set_index("code")["latest_year"]
    for code in ("u5mr", "conflict_deaths", "refugees_origin", "electoral_democracy", "gdp_pc"):
        assert latest[code] >= 2024, code
    # Ukraine 2024 and Sudan 2023 are among the deadliest places (UCDP, by location)
    d = shipped.panel.data
    cd = d[(d.indicator == "conflict_deaths") & (d.year == 2024)].set_index("unit")["value"]
    assert cd.rank(ascending=False)["UKR"] <= 3 and cd["SWE"] == 0


def test_shipped_release_reproduces_from_the_shared_files(shared_data, shipped, tmp_path):
    """Rebuilding from the same source files gives the same content hashes (real data)."""
    rebuilt = build_release(shared_data)
    assert rebuilt.manifest["content_hash"] == shipped.manifest["content_hash"]
    assert rebuilt.manifest["source_files"] == shipped.manifest["source_files"]
    assert rebuilt.manifest["geography"] == shipped.manifest["geography"]
    out = write_release(rebuilt, tmp_path / "rel")
    for name in ("observations.parquet", "outlines.json", "geography.json", "manifest.json"):
        assert (out / name).read_bytes() == (shipped_release_dir() / name).read_bytes(), name


def test_test_only_build_cannot_become_the_default(shared_data, settings, tmp_path):
    from humsec.data import service

    b = build_release(shared_data, include_test_only=True)
    assert b.manifest["shippable"] is False and "uhc_index" in b.panel.indicators
    out = write_release(b, tmp_path / "rel")
    with pytest.raises(HumsecError, match="cannot be installed as the default"):
        service.install_release(settings, load_release(out))


def test_store_installs_the_shipped_release_once(settings):
    from humsec.data import service

    s1 = service.ensure_default(settings)
    s2 = service.ensure_default(settings)
    assert s1.ref == s2.ref == "default@1"
    assert s1.meta["release"] == load_recipe().release
    assert s1.content_hash == load_release().panel.content_hash()


def test_cli_release_build_status_and_show(tmp_path, monkeypatch, capsys):
    import io

    from humsec.cli.main import main

    def run(*args):
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    monkeypatch.setenv("HUMSEC_HOME", str(tmp_path / "home"))
    code, out, err = run("data", "release", "build", "--from", str(EXTRACT), "--out", str(tmp_path / "r"))
    assert code == 0, err
    assert "release 2026.1" in out and "test-only series left out: " in out
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["shippable"] is True
    code, out, err = run("data", "status", "--format", "csv")
    assert code == 0, err
    st = pd.read_csv(io.StringIO(out))
    assert {"code", "latest_year", "age", "UN members", "licence", "stale"} <= set(st.columns)
    row = st.set_index("code").loc["conflict_deaths"]
    assert row["latest_year"] == 2024 and row["UN members"] >= 190
    assert set(st.loc[st["stale"], "code"]) == set(st.loc[st["age"] > 3, "code"])
    code, out, _ = run("data", "release", "show", "--licences", "--format", "csv")
    assert code == 0 and "uhc_index,test-only" in out
    code, out, err = run("data", "release", "build", "--from", str(tmp_path / "none"))
    assert code == 2 and "source directory not found" in err and "Traceback" not in err


def test_cli_update_offline_and_diff_against_the_release(tmp_path, monkeypatch, capsys):
    import httpx
    import respx

    from humsec.cli.main import main

    monkeypatch.setenv("HUMSEC_HOME", str(tmp_path / "home"))
    fix = Path(__file__).parent / "fixtures" / "connectors"
    wb = "https://api.worldbank.org/v2/country/all/indicator/SP.DYN.LE00.IN"
    with respx.mock(assert_all_called=False) as router:
        router.route(host="api.worldbank.org").mock(side_effect=httpx.ConnectError("no network"))
        code = main(["data", "update", "worldbank"])
    err = capsys.readouterr().err
    assert code == 2 and "no source could be updated (offline?)" in err and "Traceback" not in err
    with respx.mock(assert_all_called=False) as router:
        for page in ("1", "2"):
            router.get(wb, params={"page": page}).mock(return_value=httpx.Response(
                200, content=(fix / f"wb_le_p{page}.json").read_bytes()))
        code = main(["data", "fetch", "worldbank", "SP.DYN.LE00.IN"])
    capsys.readouterr()
    assert code == 0
    code = main(["data", "diff", "worldbank-life_expectancy", "--against", "default", "--format", "csv"])
    out = capsys.readouterr().out
    assert code == 0
    diff = pd.read_csv(__import__("io").StringIO(out))
    assert set(diff["indicator"]) == {"life_expectancy"} and len(diff)
    # KEN 2022 from the World Bank fixture against the release's value for the same year
    row = diff[(diff.unit == "KEN") & (diff.year == 2022)].iloc[0]
    assert row["new"] == 62.068 and row["old"] == _value(load_release().panel, "life_expectancy", "KEN", 2022)


def test_malformed_cells_and_files_are_located(tmp_path):
    src = _copy_extract(tmp_path)
    f = src / "ucdp_organized_violence" / "organizedviolencecy_v25_1.csv"
    lines = f.read_text().splitlines()
    col = lines[0].split(",").index("year_cy")
    cells = lines[3].split(",")
    cells[col] = "20x3"
    lines[3] = ",".join(cells)
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValidationError) as exc:
        build_release(src)
    msg = str(exc.value)
    assert "organizedviolencecy_v25_1.csv" in msg and "year '20x3'" in msg and "source row 4" in msg
    src2 = _copy_extract(tmp_path / "b")
    w = src2 / "wgi_2024" / "wgi_2024_long.csv"
    w.write_bytes(b"\xff\xfe\x00garbage" + w.read_bytes()[:100])
    with pytest.raises(ValidationError, match=r"wgi_2024_long.csv: not a readable CSV file"):
        build_release(src2)
