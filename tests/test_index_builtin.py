"""Built-in specs (hdi, gdi, gii, ihdi, inform) run through the generic engine reproduce
published values: HDR 2023/24 (every HDI 1990-2022; GDI, GII, IHDI 2022) and INFORM Risk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from humsec.cli.main import main
from humsec.index.builtin import builtin_names, load_spec
from humsec.index.pipeline import build, build_panel
from humsec.index.spec import IndexSpec

TOL = 0.0005 + 1e-9
HDR_FILE = "HDR23-24_Composite_indices_complete_time_series.csv"


@pytest.fixture(scope="module")
def hdr_wide(shared_data) -> pd.DataFrame:
    path = shared_data / "undp_hdr" / HDR_FILE
    if not path.exists():
        pytest.skip(f"{path} absent")
    df = pd.read_csv(path, encoding="utf-8-sig").set_index("iso3")
    return df[~df.index.str.startswith("ZZ")]  # countries only (no regional aggregates)


def tidy(wide: pd.DataFrame, codes: list[str], years) -> pd.DataFrame:
    frames = []
    for y in years:
        for c in codes:
            col = f"{c}_{y}"
            frames.append(pd.DataFrame({"unit": wide.index, "year": y, "indicator": c,
                                        "value": pd.to_numeric(wide[col], errors="coerce").to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def published(wide: pd.DataFrame, code: str, years) -> pd.Series:
    s = {(u, y): wide.at[u, f"{code}_{y}"] for y in years for u in wide.index}
    return pd.Series(s, dtype=float)


def test_builtin_names_and_round_trip():
    names = builtin_names()
    assert {"hdi", "gdi", "gii", "ihdi", "inform"} <= set(names)
    for n in names:
        s = load_spec(n)
        assert IndexSpec.from_yaml(s.to_yaml()) == s


def test_hdi_engine_every_country_year(hdr_wide):
    years = range(1990, 2023)
    spec = load_spec("hdi")
    data = tidy(hdr_wide, ["le", "eys", "mys", "gnipc"], years)
    data = data.dropna(subset=["value"])
    panel = build_panel(spec, data)
    got = pd.concat({y: r.scores["hdi"] for y, r in panel.results.items()}).swaplevel()
    pub = published(hdr_wide, "hdi", years)
    both = got.reindex(pub.index).notna() & pub.notna()
    diff = (got.reindex(pub.index) - pub).abs()[both]
    assert both.sum() == 5808, both.sum()  # every published country HDI 1990-2022
    assert (diff <= TOL).all(), diff[diff > TOL].head(20).to_dict()
    # published values that the engine could not compute: none
    assert not (pub.notna() & got.reindex(pub.index).isna()).any()


def test_hdi_ranks_2022(hdr_wide):
    """HDR ranks are on the 3-dp rounded HDI; ours are on the unrounded value, so they can
    differ only among countries tied at 3 decimals."""
    spec = load_spec("hdi")
    r = build(spec, tidy(hdr_wide, ["le", "eys", "mys", "gnipc"], [2022]), year=2022)
    rounded = r.scores["hdi"].round(3)
    ours = rounded.rank(ascending=False, method="min")
    pub = hdr_wide["hdi_rank_2022"].reindex(ours.index)
    m = pub.notna() & ours.notna()
    assert m.sum() >= 190
    assert (ours[m] == pub[m]).mean() > 0.98, (ours[m] != pub[m]).sum()
    assert r.ranks["hdi"].min() == 1 and r.ranks["hdi"].idxmin() == "CHE"


def test_gdi_engine_2022(hdr_wide):
    codes = ["le_f", "eys_f", "mys_f", "gni_pc_f", "le_m", "eys_m", "mys_m", "gni_pc_m"]
    r = build(load_spec("gdi"), tidy(hdr_wide, codes, [2022]), year=2022)
    pub = hdr_wide["gdi_2022"]
    both = r.scores["gdi"].notna() & pub.reindex(r.units).notna()
    # every GDI the HDR published for 2022 (182 countries) is computed
    assert both.sum() == pub.notna().sum() == 182
    diff = (r.scores["gdi"] - pub.reindex(r.units)).abs()[both]
    assert (diff <= TOL).all(), diff[diff > TOL].to_dict()
    for s in ("f", "m"):
        d = (r.scores[f"hdi_{s}"] - hdr_wide[f"hdi_{s}_2022"].reindex(r.units)).abs().dropna()
        assert (d <= TOL).all()
    assert r.scores.loc["JPN", "health_f"] == 1.0  # capped: female LE 87.8 > 87.5


def test_gii_engine_2022(hdr_wide):
    codes = ["mmr", "abr", "se_f", "se_m", "pr_f", "pr_m", "lfpr_f", "lfpr_m"]
    r = build(load_spec("gii"), tidy(hdr_wide, codes, [2022]), year=2022)
    pub = hdr_wide["gii_2022"].reindex(r.units)
    both = r.scores["gii"].notna() & pub.notna()
    assert both.sum() >= 165
    diff = (r.scores["gii"] - pub).abs()[both]
    assert (diff <= TOL).all(), diff[diff > TOL].to_dict()
    # lower GII is better: rank 1 is the lowest GII
    assert r.ranks["gii"][r.scores["gii"].idxmin()] == 1


def test_ihdi_engine_2022(hdr_wide):
    codes = ["le", "eys", "mys", "gnipc", "ineq_le", "ineq_edu", "ineq_inc"]
    r = build(load_spec("ihdi"), tidy(hdr_wide, codes, [2022]), year=2022)
    pub = hdr_wide["ihdi_2022"].reindex(r.units)
    both = r.scores["ihdi"].notna() & pub.notna()
    assert both.sum() >= 160
    diff = (r.scores["ihdi"] - pub).abs()[both]
    assert (diff <= TOL).all(), diff[diff > TOL].to_dict()


@pytest.fixture(scope="module")
def inform(published_data) -> pd.DataFrame:
    p = published_data / "published_reference" / "inform_risk" / "inform_risk_trends_sample.csv"
    if not p.exists():
        pytest.skip(f"{p} absent")
    return pd.read_csv(p)


def test_inform_top_level(inform):
    comp = ["hazard_exposure", "vulnerability", "lack_of_coping_capacity"]
    data = inform.melt(id_vars=["iso3", "inform_year"], value_vars=comp,
                       var_name="indicator", value_name="value").rename(
        columns={"iso3": "unit", "inform_year": "year"})
    panel = build_panel(load_spec("inform"), data)
    n = 0
    for y, r in panel.results.items():
        pub = inform[inform["inform_year"] == y].set_index("iso3")["inform_risk"]
        got = r.scores["inform_risk"].reindex(pub.index)
        assert (got.round(1) - pub).abs().max() < 1e-9, (y, (got.round(1) - pub).abs().idxmax())
        n += len(pub)
        # rank 1 = highest risk
        assert r.ranks["inform_risk"][got.idxmax()] == 1
    assert n == 114


def test_cli_builtin_hdi_csv(hdr_wide, tmp_path, capsys):
    data = tidy(hdr_wide, ["le", "eys", "mys", "gnipc"], [2021, 2022]).dropna(subset=["value"])
    f = tmp_path / "hdi.csv"
    data.to_csv(f, index=False)
    capsys.readouterr()
    assert main(["index", "build", "hdi", "--data", str(f), "--year", "2022", "--format", "csv"]) == 0
    rows = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    top = rows[rows["node"] == "hdi"].set_index("unit")
    assert abs(top.loc["NOR", "score"] - hdr_wide.at["NOR", "hdi_2022"]) <= TOL
    assert set(rows["year"]) == {2022}
    # no --year: every year in the file
    assert main(["index", "build", "hdi", "--data", str(f), "--format", "csv"]) == 0
    rows = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert set(rows["year"]) == {2021, 2022}


def test_hsi_on_the_release_is_reproducible_with_index_build(default_env, tmp_path, capsys):
    """The assessment of the built-in HSI equals the generic ``humsec index build hsi`` on
    an export of the release's observations (the claim of humsec.analysis.assess)."""
    from humsec.analysis.assess import assess, index_data

    _, panel, cat = default_env
    spec = load_spec("hsi")
    data = index_data(panel, spec)
    a = assess(spec, panel, catalogue=cat, runs=0, data=data)
    f = tmp_path / "hsi_data.csv"
    data.to_csv(f, index=False)
    capsys.readouterr()
    assert main(["index", "build", "hsi", "--data", str(f), "--year", str(a.year), "--format", "csv"]) == 0
    rows = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    top = rows[rows["node"] == "hsi"].dropna(subset=["score"]).set_index("unit")["score"]
    want = a.result.scores["hsi"].dropna()
    assert set(top.index) == set(want.index) and len(want) >= 185
    np.testing.assert_allclose(top.reindex(want.index).to_numpy(), want.to_numpy(), rtol=1e-9, atol=1e-9)
