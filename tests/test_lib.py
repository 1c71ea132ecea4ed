"""The library's front door, ``import humsec as hs``: each function is the core
function it wraps (same numbers), returns pandas objects, and its docstring examples run."""

from __future__ import annotations

import doctest
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import humsec as hs
from humsec.errors import HumsecError


@pytest.fixture(scope="module")
def s(default_env):
    return default_env[0]


def test_import_is_light_and_lazy():
    # importing humsec loads neither pandas nor the store; the functions appear on first use
    code = "import sys, humsec; assert 'pandas' not in sys.modules; humsec.specs; assert 'pandas' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert set(hs.__all__) >= {"panel", "assess", "build", "uncertainty", "fetch", "country", "indicators"}
    with pytest.raises(AttributeError):
        hs.no_such_function  # noqa: B018


def test_docstring_examples_run(s, tmp_path):
    import humsec.lib as lib

    globs = {"hs": hs, "pd": pd, "s": s, "tmp_home": s.home}
    res = doctest.testmod(lib, extraglobs=globs, optionflags=doctest.NORMALIZE_WHITESPACE, report=True)
    assert res.attempted >= 8 and res.failed == 0, res


def test_panel_is_the_store_panel_with_provenance(default_env):
    settings, panel, _ = default_env
    obs = hs.panel(indicators=["life_expectancy", "homicide_rate"], units=["KEN", "PHL"], settings=settings)
    want = panel.filter(indicators=["life_expectancy", "homicide_rate"], units=["KEN", "PHL"]).data
    pd.testing.assert_frame_equal(obs, want.reset_index(drop=True), check_like=False)
    assert set(obs.attrs["provenance"]) == {"life_expectancy", "homicide_rate"}
    assert obs.attrs["provenance"]["homicide_rate"]["content_hash"]
    with pytest.raises(HumsecError, match="no indicator nope"):
        hs.panel(indicators=["nope"], settings=settings)


def test_assess_equals_the_core_assessment(default_env):
    from humsec.analysis.assess import assess
    from humsec.index.builtin import load_spec

    settings, panel, cat = default_env
    r = hs.assess(runs=0, settings=settings)
    a = assess(load_spec("hsi"), panel, catalogue=cat, runs=0)
    pd.testing.assert_frame_equal(r, a.ranking())
    assert r.attrs["year"] == a.year and r.attrs["index"] == "hsi"
    assert {x["unit"] for x in r.attrs["not_ranked"]} == set(a.not_ranked()["unit"])
    ken = hs.country("KEN", runs=0, settings=settings)
    assert ken.score == pytest.approx(float(r.loc[r["unit"] == "KEN", "score"].iloc[0]))
    assert {"value", "observed", "age", "source"} <= set(ken.indicators.columns)


def test_build_equals_the_pipeline(default_env):
    from humsec.analysis.assess import index_data
    from humsec.index.builtin import load_spec
    from humsec.index.pipeline import build

    settings, panel, _ = default_env
    got = hs.build("hsi", panel, year=2022)
    spec = load_spec("hsi")
    want = build(spec, index_data(panel, spec), year=2022)
    pd.testing.assert_frame_equal(got, want.scores)
    assert got.attrs["index"] == "hsi" and got.attrs["year"] == 2022
    assert got.attrs["ranks"]["hsi"]["NOR"] == want.ranks.at["NOR", "hsi"]
    # the store's data by default
    pd.testing.assert_frame_equal(hs.build("hsi", year=2022, settings=settings), got)
    with pytest.raises(HumsecError, match="DataFrame or a Panel"):
        hs.build("hdi", [1, 2, 3])


def test_uncertainty_is_seeded(default_env):
    settings, panel, _ = default_env
    a = hs.uncertainty("hsi", panel, n=8, seed=3, year=2022)
    b = hs.uncertainty("hsi", panel, n=8, seed=3, year=2022)
    pd.testing.assert_frame_equal(a, b)
    row = a[(a["unit"] == "KEN") & (a["node"] == "hsi")].iloc[0]
    assert row["rank_q05"] <= row["nominal_rank"] + 1e-9 or row["rank_q95"] >= row["nominal_rank"] - 1e-9
    assert np.isfinite(row["score_q05"]) and row["score_q05"] <= row["score_q95"]
    with pytest.raises(HumsecError, match="at least 1"):
        hs.uncertainty("hsi", panel, n=0)


def test_fetch_stores_a_vintage(tmp_path):
    """Through the connector registry against the recorded World Bank answers (no network)."""
    from pathlib import Path

    import httpx
    respx = pytest.importorskip("respx")

    from humsec.settings import Settings

    fx = Path(__file__).parent / "fixtures" / "connectors"
    wb = "https://api.worldbank.org/v2/country/all/indicator/SP.DYN.LE00.IN"
    settings = Settings(home=tmp_path / "home", progress=False)
    with respx.mock:
        respx.get(wb, params={"page": "1"}).mock(return_value=httpx.Response(200, content=(fx / "wb_le_p1.json").read_bytes()))
        respx.get(wb, params={"page": "2"}).mock(return_value=httpx.Response(200, content=(fx / "wb_le_p2.json").read_bytes()))
        out = hs.fetch("worldbank", ["SP.DYN.LE00.IN"], settings=settings)
    assert out.attrs["created"] and out.attrs["vintage"].startswith("worldbank")
    assert sorted(out["value"].tolist()) == [61.427, 62.068, 62.851]
    assert out.attrs["provenance"]["life_expectancy"]["licence"] == "CC-BY-4.0"
    # stored: the current panel now layers the fetched vintage
    stored = hs.panel(indicators=["life_expectancy"], units=["KEN"], dataset=out.attrs["vintage"], settings=settings)
    assert sorted(stored["value"].tolist()) == [61.427, 62.068]
