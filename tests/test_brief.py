"""Country briefs: every scored country renders to HTML; a sample to PDF (2-4 pages)."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from humsec.errors import HumsecError
from humsec.index.builtin import load_spec
from humsec.report import charts
from humsec.report.brief import brief_context, brief_html, prepare_briefing, render_pdf


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from humsec.data import service
    from humsec.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("brief_home"), progress=False)
    panel, _ = service.current_panel(settings)
    return settings, panel, service.catalogue(settings)


@pytest.fixture(scope="module")
def briefing(env):
    _, panel, cat = env
    return prepare_briefing(load_spec("hsi"), panel, catalogue=cat, runs=20, seed=3)


def _images(html: str) -> list[str]:
    return re.findall(r'<img class="chart" src="(data:image/[^"]+)"', html)


def test_every_country_renders_to_html(briefing):
    units = briefing.units
    assert len(units) >= 150
    for u in units:
        html = brief_html(briefing, u)
        c = briefing.assessment.country(u)
        assert f"<h1>{_esc(c.name)} <span class=\"iso\">{u}</span></h1>" in html, u
        assert len(_images(html)) >= 2, u  # profile chart, trend chart (and peers when any)
        for section in ("Main threats", "Trends since", "Interconnected threats", "Regional comparison",
                        "How sure are we?", "Sources and method"):
            assert section in html, (u, section)
        assert f"rank {c.rank:.0f} of {c.n_ranked}" in html


def _esc(s: str) -> str:
    from markupsafe import escape

    return str(escape(s))


def test_brief_content_for_kenya(briefing):
    ctx = brief_context(briefing, "KEN")
    a = briefing.assessment
    c = a.country("KEN")
    assert ctx["name"] == "Kenya" and ctx["year"] == a.year
    assert ctx["main_group"] == "Sub-Saharan Africa"  # not an APPF member: its M49 sub-region
    assert ctx["threat_dims"][0]["name"] == c.threats["name"].iloc[0]
    assert [r["name"] for r in ctx["dim_trends"]][0] == "Human Security Index"
    assert len(ctx["indicators"]) == len(a.spec.indicators)
    # every number carries its year; stale ones (> 5 years old) are listed
    u5 = next(r for r in ctx["indicators"] if r["code"] == "u5mr")
    assert u5["observed"] == a.year and not u5["stale"]  # UN IGME estimates are annual
    old = set(c.indicators.loc[c.indicators["age"].fillna(0) > 5, "indicator"])
    assert {r["code"] for r in ctx["indicators"] if r["stale"]} == old
    assert [s["name"] for s in ctx["stale"]] == [r["name"] for r in ctx["indicators"] if r["stale"]]
    # Kenya's latest child-marriage survey (DHS 2014) is more than five years old
    raw = briefing.data[(briefing.data["unit"] == "KEN") & (briefing.data["indicator"] == "child_marriage")]
    assert raw["year"].max() < a.year - 5 and "child_marriage" in old
    # the sources are the release's publishers, none of the old panel's
    srcs = " ".join(s["source"] for s in ctx["sources"])
    for publisher in ("Uppsala Conflict Data Program", "UNHCR", "World Bank", "Global SDG Indicators Database"):
        assert publisher in srcs, publisher
    for gone in ("Human Freedom Index", "Terrorism", "Environmental Sustainability"):
        assert gone not in srcs, gone
    coded = {code for s in ctx["sources"] for code in s["indicators"]}
    assert coded == set(a.spec.indicators)  # every indicator is credited to its source
    assert ctx["has_interval"] and ctx["runs"] == 20


def test_appf_member_compared_with_appf(briefing):
    ctx = brief_context(briefing, "JPN")
    assert ctx["main_group"] == "APPF"
    groups = {r["group"] for r in ctx["peer_rows"]}
    assert {"APPF", "Eastern Asia", "Asia"} <= groups
    appf = next(r for r in ctx["peer_rows"] if r["group"] == "APPF")
    assert 1 <= appf["rank"] <= appf["n"]


def test_sample_to_pdf(briefing):
    from pypdf import PdfReader

    for u in ("KEN", "JPN", "NOR"):
        pdf = render_pdf(brief_html(briefing, u))
        assert pdf[:5] == b"%PDF-"
        reader = PdfReader(io.BytesIO(pdf))
        assert 2 <= len(reader.pages) <= 4, (u, len(reader.pages))
        text = " ".join(p.extract_text() for p in reader.pages)
        c = briefing.assessment.country(u)
        assert c.name.split(" (")[0] in text
        for phrase in ("Main threats", "Regional comparison", "How sure are we?", "Sources and method"):
            assert phrase in text, (u, phrase)
        assert f"{c.rank:.0f}/{c.n_ranked}" in text.replace(" ", "")


def test_not_ranked_country_gets_a_short_brief(briefing):
    a = briefing.assessment
    nr = a.not_ranked()
    assert "ERI" in set(nr["unit"]) and "FSM" in set(a.units)
    for row in nr.itertuples():
        html = brief_html(briefing, row.unit)
        assert f"{_esc(row.name)} is not ranked in the Human Security Index (HSI) for {a.year}" in html, row.unit
        for code in row.missing_indicators.split("; "):
            assert _esc(a.node_name(code)) in html, (row.unit, code)
        assert "Sources and method" in html and "Main threats" not in html
    ctx = brief_context(briefing, "ERI")
    assert ctx["ranked"] is False and ctx["available"] == int(nr.set_index("unit").at["ERI", "available"])
    # the numbers it has, each with its year, age and how it was obtained
    have = a.vintage[a.vintage["unit"] == "ERI"].set_index("indicator")
    assert {h["code"] for h in ctx["have"]} == set(have.index)
    for h in ctx["have"]:
        assert h["observed"] == have.at[h["code"], "observed"] and h["age"] == have.at[h["code"], "age"]
        assert h["how"] == have.at[h["code"], "method"]
    pdf = render_pdf(brief_html(briefing, "ERI"))
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    assert 1 <= len(reader.pages) <= 2
    assert "not ranked" in " ".join(p.extract_text() for p in reader.pages)


def test_unknown_country_is_a_clear_error(briefing):
    with pytest.raises(HumsecError, match="unknown ISO3 country code .XYZ."):
        brief_html(briefing, "XYZ")


def test_brief_shows_data_age_and_severe_dimensions(briefing):
    a = briefing.assessment
    rk = a.ranking()
    severe = rk[rk["severe"] != ""]
    assert len(severe) and (rk["severe"] == "").any()
    u = str(severe["unit"].iloc[0])
    c = a.country(u)
    ctx = brief_context(briefing, u)
    flagged = [d["name"] for d in ctx["dimensions"] if d["severe"]]
    assert flagged == list(c.dimensions.loc[c.dimensions["severe"], "name"]) and flagged
    html = brief_html(briefing, u)
    assert html.count('<span class="flag">severe</span>') >= len(flagged)
    assert "severe threat" in ctx["summary"] and flagged[0].lower() in ctx["summary"].lower()
    # every indicator row carries its year, age and how it was obtained
    by = c.indicators.set_index("indicator")
    for r in ctx["indicators"]:
        how = by.at[r["code"], "how"]
        assert r["how"] == ("no number" if how == "missing" else how)
        assert r["age"] == ("–" if pd.isna(by.at[r["code"], "age"]) else int(by.at[r["code"], "age"]))
    assert "<th>How</th>" in html and "carried forward" in html
    # no raw Python structures in the uncertainty paragraph
    assert "{'method'" not in html and "steps.aggregate" not in html
    ken = brief_context(briefing, "KEN")
    assert ken["n_severe"] == int(a.country("KEN").dimensions["severe"].sum())


def test_charts_are_images():
    svg = charts.profile_chart(["a", "b"], [10.0, 80.0], references={"m": [20.0, 30.0]})
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    assert charts.data_uri(svg).startswith("data:image/svg+xml;base64,")
    png = charts.render(charts.figure(1, 1), fmt="png")
    assert charts.data_uri(png).startswith("data:image/png;base64,")


def test_cli_brief(env, tmp_path, capsys):
    from humsec.cli.main import main

    settings, _, _ = env
    out = tmp_path / "ken.html"
    rc = main(["--home", str(settings.home), "brief", "KEN", "--format", "html", "--out", str(out),
               "--runs", "5"])
    assert rc == 0 and out.exists()
    html = out.read_text(encoding="utf-8")
    assert "Kenya" in html and len(_images(html)) >= 2
    assert main(["--home", str(settings.home), "brief", "KEN", "--format", "pdf"]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert main(["--home", str(settings.home), "brief", "KEN", "--format", "docx"]) == 2
