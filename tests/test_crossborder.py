"""Cross-border reports and the ``spill`` / ``peers`` CLI on the embedded default panel."""

from __future__ import annotations

import json

import pytest

from humsec.cli.main import main
from humsec.data.countries import CountryRegistry
from humsec.errors import HumsecError
from humsec.index.builtin import load_spec
from humsec.report.crossborder import peer_report, read_flows, resolve_target, spill_report


@pytest.fixture(scope="module")
def reg():
    return CountryRegistry.default()


def test_resolve_target(reg):
    assert resolve_target(reg, "ken") == ("KEN", ["KEN"], False)
    label, members, region = resolve_target(reg, "asean")
    assert label == "ASEAN" and region and len(members) == 10 + ("TLS" in members)
    assert resolve_target(reg, "South-eastern Asia")[1] == sorted(
        c for c in reg.codes if reg.info(c).subregion == "South-eastern Asia")
    assert resolve_target(reg, "Viet Nam")[1] == ["VNM"]
    with pytest.raises(HumsecError, match="expected an ISO3 code"):
        resolve_target(reg, "Atlantis")


def test_region_report_is_population_weighted(default_env, reg):
    import numpy as np

    _, panel, _ = default_env
    r = spill_report("ASEAN", panel=panel, spec=load_spec("hsi"), registry=reg, permutations=99)
    assert r.is_region and r.regional is not None and r.exposure["unit"].nunique() >= 9
    # recompute the region's economic score by hand: members' own scores weighted by
    # their latest UN WPP population up to the year
    own = r.exposure[r.exposure["threat"] == "economic"].set_index("unit")["own"].dropna()
    pop = panel.filter(indicators=["pop_total"], totals_only=True).data
    pop = pop[pop["year"] <= r.year].sort_values("year").groupby("unit")["value"].last()
    expected = np.average(own, weights=pop.reindex(own.index))
    got = r.regional.set_index("node").loc["economic"]
    assert got["value"] == pytest.approx(expected) and got["n_with_data"] == len(own)


@pytest.mark.shared
def test_syria_spillovers_with_real_flows(default_env, reg, shared_data, tmp_path):
    _, panel, _ = default_env
    disp = read_flows(shared_data / "unhcr_refugees" / "flows.parquet", known=sorted(reg.codes))
    r = spill_report("SYR", panel=panel, spec=load_spec("hsi"), registry=reg, disp=disp, permutations=99)
    assert r.year == 2016 and r.base_year == 2011
    assert {"TUR", "LBN", "JOR", "IRQ", "ISR"} <= set(r.exposure["worst_neighbour"].dropna()) | set(
        r.shared["neighbour"])
    assert set(r.shared["threat"]) >= {"personal"}
    text = " ".join(r.evidence)
    assert "Displacement from Syrian Arab Republic into Türkiye" in text
    d = r.displacement.iloc[0]
    assert d["unit"] == "SYR" and d["outflow"] > 500_000 and d["top_destination"] == "TUR"
    bad = tmp_path / "flows.csv"
    bad.write_text("year,origin,asylum,refugees\n2016,SYR,TUR,5\n")
    with pytest.raises(HumsecError, match=r"flows.csv: flows: missing column\(s\) coa_iso, coo_iso"):
        read_flows(bad)


def test_peers_and_positive_deviants(default_env, reg):
    _, panel, _ = default_env
    spec = load_spec("hsi")
    r = peer_report("KEN", panel=panel, spec=spec, registry=reg, same="region")
    assert len(r.similar) == 5 and all(reg.region(u) == "Africa" for u in r.similar["unit"])
    assert r.threat in spec.children["hsi"] and r.base_year < r.year
    assert (r.deviants["change"].diff().dropna() <= 0).all()  # sorted by improvement
    assert set(r.changes["unit"]) <= set(r.deviants["unit"])
    with pytest.raises(HumsecError, match="--dimension 'wealth'"):
        peer_report("KEN", panel=panel, spec=spec, registry=reg, dimension="wealth")


def test_cli_spill_and_peers(default_env, capsys):
    settings, _, _ = default_env
    home = ["--home", str(settings.home), "-q"]
    assert main([*home, "spill", "KEN", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["focus"] == ["KEN"] and {e["threat"] for e in doc["exposure"]} == set(load_spec("hsi").children["hsi"])
    assert main([*home, "peers", "JPN", "--dimension", "food", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("unit,distance,n_shared") and "positive_deviant" in out
    assert main([*home, "spill", "Atlantis"]) == 2
    assert "expected an ISO3 code" in capsys.readouterr().err
    assert main([*home, "spill", "KEN", "--graph", "rivers"]) == 2
    assert "expected one of borders" in capsys.readouterr().err


def test_brief_has_the_spill_over_component(default_env):
    from humsec.report.brief import brief_html, prepare_briefing

    _, panel, cat = default_env
    b = prepare_briefing(load_spec("hsi"), panel, catalogue=cat, runs=0)
    ex = b.spill[b.spill["unit"] == "SYR"].set_index("threat")
    assert ex.loc["personal", "n_neighbours"] >= 5
    html = brief_html(b, "SYR")
    assert "Across borders" in html and "Least secure neighbour" in html
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "&#34;" not in style and "&quot;" not in style  # the stylesheet is not HTML-escaped
    worst = ex.loc["personal", "worst_neighbour"]
    from humsec.data.countries import CountryRegistry

    assert CountryRegistry.default().name(worst) in html


def test_regional_table_of_every_grouping(default_env, reg, capsys):
    from humsec.report.crossborder import regional_table

    settings, panel, _ = default_env
    spec = load_spec("hsi")
    t = regional_table(panel=panel, spec=spec, registry=reg)
    groups = set(t["group"])
    assert {"APPF", "ASEAN", "APEC", "EU", "OECD", "Africa", "Asia", "Europe"} <= groups
    appf = t[(t["group"] == "APPF") & (t["node"] == "hsi")].iloc[0]
    assert appf["n_units"] == 27 and appf["kind"] == "grouping" and 0 < appf["value"] < 100
    # the same numbers as the single-region report
    r = spill_report("ASEAN", panel=panel, spec=spec, registry=reg, permutations=19)
    mine = t[t["group"] == "ASEAN"].set_index("node")["value"]
    theirs = r.regional.set_index("node")["value"]
    assert mine.reindex(theirs.index).to_numpy() == pytest.approx(theirs.to_numpy())
    assert main(["--home", str(settings.home), "-q", "regions", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("year,kind,group,node,value") and ",APPF,hsi," in out
