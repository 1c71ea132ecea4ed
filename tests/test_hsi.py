"""The Human Security Index spec, country assessments, variants and the ``assess`` CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from humsec.analysis import assess as A
from humsec.errors import HumsecError
from humsec.index.builtin import builtin_names, load_spec
from humsec.index.spec import IndexSpec
from humsec.model.catalogue import Catalogue
from humsec.model.panel import DIMENSIONS, Panel, Provenance

RUNS = 40


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The default panel built once into a temporary home (a few seconds)."""
    from humsec.data import service
    from humsec.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("hsi_home"), progress=False)
    panel, _ = service.current_panel(settings)
    return settings, panel, service.catalogue(settings)


@pytest.fixture(scope="module")
def assessment(env):
    _, panel, cat = env
    return A.assess(load_spec("hsi"), panel, catalogue=cat, runs=RUNS, seed=7)


# ---------------------------------------------------------------- the spec


def test_hsi_is_builtin_with_seven_dimensions_from_the_catalogue():
    assert "hsi" in builtin_names()
    spec = load_spec("hsi")
    cat = Catalogue.default()
    assert spec.root == "hsi"
    assert spec.children["hsi"] == list(DIMENSIONS)
    for code in spec.indicators:
        ind = cat[code]  # every indicator is a catalogue indicator ...
        assert spec.nodes[code].parent == ind.dimension  # ... in its own dimension
        assert spec.nodes[code].direction == ind.direction
        assert spec.nodes[code].goalposts is not None
        assert code in spec.description  # rationale per indicator
    # every dimensional catalogue indicator with country totals is used
    assert {i.code for i in cat if i.dimension in DIMENSIONS} - set(spec.indicators) == {"life_expectancy_sex"}
    assert spec.uncertainty is not None
    for phrase in ("SDR", "HDR", "INFORM", "2.5th percentile"):
        assert phrase in spec.description or phrase in spec.source


def test_spec_yaml_round_trip_and_variant():
    spec = load_spec("hsi")
    again = IndexSpec.from_yaml(spec.to_yaml())
    assert again == spec
    variant = spec.with_changes({"tree.political.weight": 3.0, "name": "hsi_national"})
    assert variant != spec
    assert variant.nodes["political"].weight == 3.0
    assert IndexSpec.from_yaml(variant.to_yaml()) == variant
    ch = A.weight_changes(spec, variant)
    assert ch.to_dict("records") == [{"node": "political", "change": "weight: 1.0 -> 3.0"}]


def test_goalposts_are_the_documented_percentiles(env):
    """Lower bounds (worst side) are the 2.5th percentile of pooled observations since 1990."""
    _, panel, _ = env
    spec = load_spec("hsi")
    d = A.index_data(panel, spec)
    d = d[d["year"] >= 1990]
    for code in ("hfi_rule_of_law", "hfi_women_security", "esi_disaster", "life_expectancy"):
        lo = spec.nodes[code].goalposts[0]
        assert lo == pytest.approx(np.percentile(d.loc[d["indicator"] == code, "value"], 2.5), abs=0.06)
    for code in ("co2_pc", "u5mr", "terror_deaths", "infant_mortality"):
        hi = spec.nodes[code].goalposts[1]  # direction -1: the worst side is the upper goalpost
        assert hi == pytest.approx(np.percentile(d.loc[d["indicator"] == code, "value"], 97.5), rel=0.02)


# ---------------------------------------------------------------- assessment


def test_assessment_of_every_country(assessment):
    a = assessment
    assert a.year == 2016  # the latest year with data for half the indicators
    rk = a.ranking()
    assert len(rk) >= 150
    assert rk["rank"].tolist() == sorted(rk["rank"].tolist())
    assert rk["score"].between(0, 100).all()
    assert (rk["rank_q05"] <= rk["rank"] + 1e-9).all() and (rk["rank"] <= rk["rank_q95"] + 1e-9).all()
    assert (rk["rank_q95"] > rk["rank_q05"]).any()  # the uncertainty analysis moved something
    # sanity of the content: Nordic countries near the top, countries at war near the bottom
    top = set(rk.head(15)["unit"])
    bottom = set(rk.tail(25)["unit"])
    assert {"SWE", "NOR", "FIN"} <= top
    assert {"YEM", "SYR", "IRQ"} & bottom
    for u in a.units:
        c = a.country(u)
        assert c.unit == u and c.n_ranked == len(rk)
        assert len(c.dimensions) == 7 and len(c.threats) == 3
        assert c.threats["score"].is_monotonic_increasing
        assert c.threats["score"].iloc[0] == pytest.approx(c.dimensions["score"].min())
        assert 0.5 <= c.coverage <= 1


def test_country_scores_are_means_of_normalised_goalposts(assessment):
    """Recompute Kenya's HSI by hand from the raw numbers, goalposts and weights."""
    a = assessment
    spec = a.spec
    c = a.country("ken")
    assert c.unit == "KEN" and c.name == "Kenya"
    ind = c.indicators.set_index("indicator")
    dims = {}
    for d in spec.children["hsi"]:
        num = den = 0.0
        for code in spec.children[d]:
            v = ind.at[code, "value"]
            if np.isnan(v):
                continue
            node = spec.nodes[code]
            lo, hi = node.goalposts
            x, lo_, hi_ = (np.log(v), np.log(lo), np.log(hi)) if node.log else (v, lo, hi)
            s = (x - lo_) / (hi_ - lo_) if node.direction == 1 else (hi_ - x) / (hi_ - lo_)
            s = 100 * min(max(s, 0.0), 1.0)
            assert ind.at[code, "score"] == pytest.approx(s)
            num += node.weight * s
            den += node.weight
        dims[d] = num / den
    got = c.dimensions.set_index("dimension")["score"]
    for d, v in dims.items():
        assert got[d] == pytest.approx(v)
    assert c.score == pytest.approx(np.mean(list(dims.values())))


def test_vintage_and_provenance_of_every_number(assessment):
    a = assessment
    c = a.country("KEN")
    have = c.indicators.dropna(subset=["value"])
    assert (have["observed"] <= a.year).all()
    assert (have["age"] == a.year - have["observed"]).all()
    assert (have["age"] <= 20).all()  # the spec's LOCF window
    assert (have["source"] != "").all() and (have["licence"] != "").all()
    row = have.set_index("indicator").loc["u5mr"]
    assert row["observed"] == 2000  # SOWC has 1990, 2000, 2018: 2000 is the latest <= 2016
    panel_prov = a.provenance["u5mr"]
    assert isinstance(panel_prov, Provenance) and panel_prov.content_hash
    cov = a.coverage()
    assert set(cov["indicator"]) == set(a.spec.indicators)
    assert cov.set_index("indicator").at["hfi_rule_of_law", "newest"] == 2016


def test_unscored_and_unknown_countries_are_clear_errors(assessment):
    with pytest.raises(HumsecError, match="no HSI score for 2016"):
        assessment.country("TUV")
    with pytest.raises(HumsecError, match="unknown"):
        assessment.country("XQZ")


def test_assessment_is_reproducible_with_its_seed(env, assessment):
    _, panel, cat = env
    again = A.assess(load_spec("hsi"), panel, catalogue=cat, runs=RUNS, seed=7)
    pd.testing.assert_frame_equal(again.intervals, assessment.intervals)
    other = A.assess(load_spec("hsi"), panel, catalogue=cat, runs=RUNS, seed=8)
    assert not other.intervals["rank_q95"].equals(assessment.intervals["rank_q95"])


def test_history_uses_fixed_goalposts(env, assessment):
    _, panel, _ = env
    spec = load_spec("hsi")
    h = A.history(spec, A.index_data(panel, spec), [2010, 2016])
    now = h.xs(2016, level=1)["hsi"]
    pd.testing.assert_series_equal(now.sort_index(), assessment.result.scores["hsi"].dropna().sort_index(),
                                   check_names=False)
    assert set(h.index.get_level_values(1)) == {2010, 2016}


def test_compare_variant_with_global(env, assessment):
    _, panel, cat = env
    variant_spec = assessment.spec.with_changes({"tree.political.weight": 3.0, "name": "hsi_pol3"})
    v = A.assess(variant_spec, panel, catalogue=cat, runs=0)
    table = A.compare(assessment, v)
    assert {"score_hsi", "rank_hsi", "score_hsi_pol3", "rank_hsi_pol3", "rank_change"} <= set(table.columns)
    assert len(table) == len(assessment.units)
    ken = table.set_index("unit").loc["KEN"]
    c = v.country("KEN")
    w = np.array([1, 1, 1, 1, 1, 1, 3.0])
    assert ken["score_hsi_pol3"] == pytest.approx(np.dot(c.dimensions["score"], w) / w.sum())
    assert (table["rank_change"] != 0).any()
    assert (table["rank_change"] == table["rank_hsi"] - table["rank_hsi_pol3"]).all()


def test_assess_on_a_small_custom_panel():
    """The assessment works on any panel, not only the default one."""
    spec = IndexSpec.from_yaml("""
spec_version: 1
name: tiny
tree:
  - {code: top}
  - {code: x, parent: top, goalposts: [0, 10]}
  - {code: y, parent: top, goalposts: [0, 10], direction: -1}
steps:
  - {step: normalise, method: goalposts, params: {scale: 100, cap: true, floor: true}}
  - {step: aggregate, method: arithmetic}
""")
    rows = [{"unit": u, "year": 2020, "indicator": k, "value": v}
            for u, (x, y) in {"KEN": (5, 5), "NOR": (9, 1), "USA": (7, 8)}.items()
            for k, v in (("x", x), ("y", y))]
    panel = Panel(pd.DataFrame(rows))
    a = A.assess(spec, panel, runs=0)
    assert a.units == ["NOR", "KEN", "USA"]
    assert a.country("NOR").score == pytest.approx(90.0)
    assert np.isnan(a.country("NOR").rank_interval[0])
    with pytest.raises(HumsecError, match="no observations in 2019"):
        A.assess(spec, panel, year=2019, runs=0)


# ---------------------------------------------------------------- CLI


def _run(settings, *args):
    from humsec.cli.main import main

    return main(["--home", str(settings.home), *args])


def test_cli_ranking_country_and_errors(env, capsys):
    settings, _, _ = env
    assert _run(settings, "assess", "--format", "csv", "--runs", "10") == 0
    out = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert {"rank", "unit", "score", "rank_q05", "rank_q95", "economic", "political"} <= set(out.columns)
    assert out["rank"].iloc[0] == 1 and len(out) >= 150
    assert _run(settings, "assess", "KEN", "--format", "json", "--runs", "10") == 0
    d = json.loads(capsys.readouterr().out)
    assert d["unit"] == "KEN" and len(d["dimensions"]) == 7 and len(d["threats"]) == 3
    assert d["rank_interval"][0] <= d["rank"] <= d["rank_interval"][1]
    assert _run(settings, "assess", "KEN", "--runs", "0") == 0
    text = capsys.readouterr().out
    assert "Kenya" in text and "main threats" in text
    assert _run(settings, "assess", "TUV") == 2
    assert "no HSI score" in capsys.readouterr().err
    assert _run(settings, "assess", "--format", "xml") == 2
    assert "--format 'xml'" in capsys.readouterr().err


def test_cli_export_edit_compare(env, tmp_path, capsys):
    settings, _, _ = env
    f = tmp_path / "my_hsi.yaml"
    assert _run(settings, "assess", "--export-spec", str(f)) == 0
    assert IndexSpec.from_file(f) == load_spec("hsi")
    d = yaml.safe_load(f.read_text())
    for n in d["tree"]:
        if n["code"] == "health":
            n["weight"] = 2.5
    d["name"] = "national"
    f.write_text(yaml.safe_dump(d, sort_keys=False))
    capsys.readouterr()
    assert _run(settings, "assess", "--spec", str(f), "--compare", "--format", "json") == 0
    d = json.loads(capsys.readouterr().out)
    assert d["base"] == "hsi" and d["variant"] == "national"
    assert d["changes"] == [{"node": "health", "change": "weight: 1.0 -> 2.5"}]
    row = next(r for r in d["countries"] if r["unit"] == "KEN")
    assert row["score_hsi"] != row["score_national"]
    assert _run(settings, "assess", "--compare") == 2  # no variant given
    assert "needs a variant" in capsys.readouterr().err
