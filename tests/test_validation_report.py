"""The HSI validation report (``humsec assess --validate``): coverage, data age, statistical
audit and external validity on the shipped default data, checked against numbers
recomputed here from the assessment and the panel."""

from __future__ import annotations

import csv
import dataclasses
import re
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from humsec.analysis import assess as A
from humsec.data.countries import CountryRegistry
from humsec.index.audit import cronbach_alpha, pca
from humsec.index.builtin import load_spec
from humsec.report.validation import GPI_FILE, WGI, Validation, validate
from humsec.settings import ENV_SHARED


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The default panel built once into a temporary home (a few seconds)."""
    from humsec.data import service
    from humsec.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("validation_home"), progress=False)
    panel, _ = service.current_panel(settings)
    return settings, panel, service.catalogue(settings)


@pytest.fixture(scope="module")
def assessment(env):
    _, panel, cat = env
    return A.assess(load_spec("hsi"), panel, catalogue=cat, runs=0)


@pytest.fixture(scope="module")
def v(env, assessment, tmp_path_factory) -> Validation:
    """The validation without reference data (the GPI part skipped)."""
    return validate(assessment, env[1], references=tmp_path_factory.mktemp("no_references"))


def _ref_values(panel, indicators, year) -> tuple[int, pd.Series]:
    """Latest year <= ``year`` of the indicators in the panel, and the per-unit mean there."""
    d = panel.filter(indicators=list(indicators), totals_only=True).data.dropna(subset=["value"])
    d = d[d["year"] <= year]
    y = int(d["year"].max())
    w = d[d["year"] == y].pivot_table(index="unit", columns="indicator", values="value")
    return y, w.reindex(columns=list(indicators)).dropna().mean(axis=1)


def _row(ext: pd.DataFrame, ref: str, node: str) -> pd.Series:
    r = ext[(ext["reference"] == ref) & (ext["node"] == node)]
    assert len(r) == 1, (ref, node)
    return r.iloc[0]


# ---------------------------------------------------------------- 1-2 coverage and data age


def test_coverage_counts_and_not_ranked(v, assessment):
    a = assessment
    un = CountryRegistry.default().un_members
    ranked = set(a.units)
    cs = v.tables["coverage_summary"].set_index("measure")["value"]
    assert cs["UN member states"] == 193
    assert cs["UN member states ranked"] == len(ranked & un)
    assert cs["UN member states not ranked"] == len(un - ranked)
    assert cs["other territories ranked"] == len(ranked - un)
    assert cs["assessment year"] == a.year
    if hasattr(a, "not_ranked"):
        nr = v.tables["not_ranked"]
        assert set(nr["unit"]) == un - ranked
        assert {"unit", "name", "reason", "missing_indicators", "missing_dimensions"} <= set(nr.columns)
    else:
        assert "not_ranked" not in v.tables
    first = v.findings[0]
    assert f"{len(ranked & un)} of the 193 UN member states are ranked in {a.year}" in first
    for u in sorted(un - ranked):
        assert CountryRegistry.default().name(u) in first


def test_coverage_per_indicator_from_the_vintage(v, assessment):
    a = assessment
    cov = v.tables["coverage"].set_index("indicator")
    assert list(cov.index) == list(a.spec.indicators)
    vin = a.vintage[a.vintage["unit"].isin(a.units)]
    for ind in (a.spec.indicators[0], "child_marriage" if "child_marriage" in cov.index else a.spec.indicators[-1]):
        x = vin[vin["indicator"] == ind]
        assert cov.at[ind, "countries"] == x["unit"].nunique()
        assert cov.at[ind, "median_age"] == pytest.approx(x["age"].median())
        assert cov.at[ind, "max_age"] == x["age"].max()
        assert cov.at[ind, "oldest"] == x["observed"].min()
        assert cov.at[ind, "share_ranked"] == pytest.approx(x["unit"].nunique() / len(a.units))
    assert (cov["countries"] <= len(a.units)).all()


def test_data_age_distribution(v, assessment):
    a = assessment
    age = v.tables["data_age"]
    vin = a.vintage[a.vintage["unit"].isin(a.units)]
    tot = age[age["indicator"] == "all"].iloc[0]
    assert tot["numbers"] == len(vin)
    assert tot["median_age"] == pytest.approx(vin["age"].median())
    assert tot["age_0"] == pytest.approx((vin["age"] == 0).mean())
    bands = ["age_0", "age_1_2", "age_3_5", "age_6_10", "age_over_10"]
    assert np.allclose(age[bands].sum(axis=1), 1.0)
    assert f"{a.year} index is {vin['age'].median():.0f} year" in " ".join(v.findings)


# ---------------------------------------------------------------- 3 audit


def test_within_dimension_correlations_recomputed(v, assessment):
    a = assessment
    sc = a.result.scores
    corr = v.tables["correlations"]
    within = corr[corr["level"] == "indicators within dimension"]
    n_pairs = sum(len(a.spec.children[d]) * (len(a.spec.children[d]) - 1) // 2 for d in a.dimensions)
    assert len(within) == n_pairs
    r = within[(within["parent"] == "health")].iloc[0]
    j = sc[[r["a"], r["b"]]].dropna()
    assert r["n"] == len(j)
    assert r["pearson"] == pytest.approx(stats.pearsonr(j[r["a"]], j[r["b"]])[0], abs=1e-9)
    assert r["spearman"] == pytest.approx(stats.spearmanr(j[r["a"]], j[r["b"]])[0], abs=1e-9)
    # flags: exactly the pairs beyond the COINr thresholds
    col = within[(within["pearson"] > 0.9) | (within["spearman"] > 0.9)]
    assert set(col.index) == set(within[within["flag"].str.contains("collinear")].index)
    neg = within[(within["pearson"] < -0.4) | (within["spearman"] < -0.4)]
    assert set(neg.index) == set(within[within["flag"].str.contains("negative")].index)
    text = " ".join(v.findings)
    for p in col.itertuples():
        assert f"Pearson {p.pearson:.2f}, Spearman {p.spearman:.2f}" in text


def test_dimensions_with_each_other_and_the_index(v, assessment):
    a = assessment
    nodes = [a.root, *a.dimensions]
    sc = a.result.scores[nodes]
    mat = v.tables["dimension_matrix"].set_index("node")
    d1, d2 = a.dimensions[0], a.dimensions[3]
    j = sc[[d1, d2]].dropna()
    # Spearman below the diagonal, Pearson above
    assert mat.at[d2, d1] == pytest.approx(stats.spearmanr(j[d1], j[d2])[0], abs=1e-9)
    assert mat.at[d1, d2] == pytest.approx(stats.pearsonr(j[d1], j[d2])[0], abs=1e-9)
    assert (np.diag(mat[nodes].to_numpy()) == 1).all()
    corr = v.tables["correlations"]
    dvi = corr[corr["level"] == "dimension vs index"].set_index("a")
    assert set(dvi.index) == set(a.dimensions)
    jj = sc[["personal", a.root]].dropna()
    assert dvi.at["personal", "spearman"] == pytest.approx(jj.corr(method="spearman").iloc[0, 1])


def test_alpha_and_pca_per_dimension(v, assessment):
    a = assessment
    sc = a.result.scores
    cons = v.tables["consistency"].set_index("aggregate")
    assert set(cons.index) == {a.root, *a.dimensions}
    kids = a.spec.children["health"]
    assert cons.at["health", "cronbach_alpha"] == pytest.approx(cronbach_alpha(sc[kids]))
    p = pca(sc[kids])
    assert cons.at["health", "pc1_variance"] == pytest.approx(p.explained[0])
    assert cons.at["health", "pca_n"] == p.n
    loads = v.tables["pca_loadings"]
    h = loads[loads["aggregate"] == "health"].set_index("node")["loading"]
    assert np.allclose(h.reindex(p.loadings.index), p.loadings)
    dims = cons.loc[a.dimensions]
    lo = dims["cronbach_alpha"].idxmin()
    assert f"Cronbach's alpha ranges from {dims['cronbach_alpha'].min():.2f} ({lo})" in " ".join(v.findings)


# ---------------------------------------------------------------- 4 external validity


def test_hdi_correlation_recomputed(env, v, assessment):
    a, panel = assessment, env[1]
    y, hdi = _ref_values(panel, ["hdi"], a.year)
    hsi = a.result.scores.loc[a.units, a.root]
    j = pd.concat([hsi.rename("hsi"), hdi.rename("hdi")], axis=1, join="inner").dropna()
    rho = stats.spearmanr(j["hsi"], j["hdi"])[0]
    r = _row(v.tables["external"], "HDI", a.root)
    assert r["reference_year"] == y <= a.year
    assert r["n"] == len(j)
    assert r["spearman"] == pytest.approx(rho, abs=1e-9)
    assert r["pearson"] == pytest.approx(stats.pearsonr(j["hsi"], j["hdi"])[0], abs=1e-9)
    assert r["spearman_lo"] < rho < r["spearman_hi"]
    assert rho > 0.5  # human development and human security go together
    hit = [f for f in v.findings if f.startswith(f"Spearman {rho:.2f}") and "Human Development Index" in f]
    assert hit and f"n = {len(j)}" in hit[0]


def test_inform_sign_and_wgi_mean(env, v, assessment):
    a, panel = assessment, env[1]
    ext = v.tables["external"]
    inf = _row(ext, "INFORM Risk", a.root)
    assert inf["spearman"] < 0 and inf["agreement"] == pytest.approx(-inf["spearman"])
    assert any("INFORM Risk" in f and "negative when the two agree" in f for f in v.findings)
    y, wgi = _ref_values(panel, WGI, a.year)
    hsi = a.result.scores.loc[a.units, "political"]
    j = pd.concat([hsi.rename("x"), wgi.rename("w")], axis=1, join="inner").dropna()
    w = _row(ext, "WGI", "political")
    assert w["reference_year"] == y and w["n"] == len(j)
    assert w["spearman"] == pytest.approx(stats.spearmanr(j["x"], j["w"])[0], abs=1e-9)
    assert set(ext["node"]) == {a.root, *a.dimensions}


def test_rank_differences(env, v, assessment):
    a, panel = assessment, env[1]
    d = v.tables["rank_differences"]
    hdi = d[d["reference"] == "HDI"]
    assert len(hdi) == 5
    assert list(hdi["difference"].abs()) == sorted(hdi["difference"].abs(), reverse=True)
    _, ref = _ref_values(panel, ["hdi"], a.year)
    hsi = a.result.scores.loc[a.units, a.root]
    common = sorted(set(hsi.index) & set(ref.index))
    hr = hsi[common].rank(ascending=False, method="min")
    rr = ref[common].rank(ascending=False, method="min")
    top = (hr - rr).abs().sort_values(ascending=False)
    assert hdi["difference"].abs().iloc[0] == top.iloc[0]
    x = hdi.iloc[0]
    assert x["hsi_rank"] == hr[x["unit"]] and x["reference_rank"] == rr[x["unit"]]
    assert f"{x['name']} (HSI rank {x['hsi_rank']}, HDI rank {x['reference_rank']}" in " ".join(v.findings)


def test_gpi_skipped_cleanly_without_references(env, assessment, monkeypatch):
    monkeypatch.delenv(ENV_SHARED, raising=False)
    v = validate(assessment, env[1])
    refs = v.tables["references"].set_index("reference")
    assert refs.at["GPI", "status"] == "skipped" and ENV_SHARED in refs.at["GPI", "note"]
    assert "GPI" not in set(v.tables["external"]["reference"])
    assert {"HDI", "INFORM Risk", "WGI"} <= set(v.tables["external"]["reference"])
    assert any(f.startswith("The comparison with the Global Peace Index was skipped") for f in v.findings)
    assert "The comparison with the Global Peace Index was skipped" in v.to_html()


def test_gpi_compared_when_the_shared_data_exist(env, assessment, shared_data, monkeypatch):
    if not (shared_data / GPI_FILE).is_file():
        pytest.skip(f"{shared_data / GPI_FILE} is absent")
    a = assessment
    monkeypatch.setenv(ENV_SHARED, str(shared_data))
    v = validate(a, env[1])  # the default: $HUMSEC_SHARED_DATA
    g = pd.read_csv(shared_data / GPI_FILE)
    reg = CountryRegistry.default()
    gpi = pd.Series(g["2022"].to_numpy(), index=[reg.to_iso3(c) for c in g["iso3c"]])
    hsi = a.result.scores.loc[a.units, a.root]
    j = pd.concat([hsi.rename("h"), gpi.rename("g")], axis=1, join="inner").dropna()
    r = _row(v.tables["external"], "GPI", a.root)
    assert r["reference_year"] == 2022 and r["n"] == len(j)
    assert r["spearman"] == pytest.approx(stats.spearmanr(j["h"], j["g"])[0], abs=1e-9)
    assert r["spearman"] < 0  # lower GPI = more peaceful
    text = " ".join(v.findings)
    assert f"Spearman {r['spearman']:.2f}" in text
    if a.year != 2022:
        assert f"GPI 2022 against the HSI of {a.year}" in text
    assert v.tables["references"].set_index("reference").at["GPI", "status"] == "used"
    assert len(v.tables["rank_differences"].query("reference == 'GPI'")) == 5


# ---------------------------------------------------------------- HTML, files, CLI


def test_html_is_self_contained_and_escaped(v):
    html = v.to_html()
    assert html.startswith("<!DOCTYPE html>")
    for s in ("1. Coverage", "2. Data age", "3. Statistical audit", "4. External validity"):
        assert s in html
    assert "<script" not in html and "<link" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert 'src="data:image/svg+xml;base64,' in html
    cov = v.tables["coverage"].copy()
    cov.loc[0, "name"] = "<script>alert(1)</script> & co"
    bad = dataclasses.replace(v, tables=MappingProxyType({**v.tables, "coverage": cov}),
                              findings=[*v.findings])
    out = bad.to_html()
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in out


def test_write_is_formula_safe_and_atomic(v, tmp_path):
    cov = v.tables["coverage"].copy()
    cov.loc[0, "name"] = "=HYPERLINK(\"http://x\",\"y\")"
    cov.loc[1, "name"] = "@SUM(A1)"
    bad = dataclasses.replace(v, tables=MappingProxyType({**v.tables, "coverage": cov}))
    files = bad.write(tmp_path)
    assert files[0].name == f"hsi_validation_{v.year}.html"
    assert {f.name for f in files[1:]} == {f"hsi_validation_{v.year}_{k}.csv" for k in v.tables}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with open(tmp_path / f"hsi_validation_{v.year}_coverage.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["name"].startswith("'=") and rows[1]["name"].startswith("'@")
    ext = pd.read_csv(tmp_path / f"hsi_validation_{v.year}_external.csv")
    assert pd.api.types.is_float_dtype(ext["spearman"]) and (ext["spearman"] < 0).any()  # numbers stay numbers


def test_cli_writes_html_and_csvs(env, assessment, tmp_path, capsys, monkeypatch):
    from humsec.cli.main import main

    monkeypatch.delenv(ENV_SHARED, raising=False)
    settings = env[0]
    out = tmp_path / "report"
    assert main(["--home", str(settings.home), "assess", "--validate", "--out", str(out), "--runs", "0"]) == 0
    err = capsys.readouterr().err
    html = out / f"hsi_validation_{assessment.year}.html"
    assert html.is_file() and f"wrote {html}" in err
    csvs = sorted(out.glob(f"hsi_validation_{assessment.year}_*.csv"))
    assert len(csvs) >= 10
    assert err.count("wrote ") == len(csvs) + 1
    assert "Spearman" in html.read_text(encoding="utf-8")
    assert main(["--home", str(settings.home), "assess", "KEN", "--validate"]) == 2
    assert "--validate" in capsys.readouterr().err
