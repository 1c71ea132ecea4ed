"""The statistical audit (humsec.index.audit) by hand and against COINr's published output.

Published figures are those printed in COINr's "Statistical analysis" vignette
(bluefoxr/COINr, docs/articles/analysis.html) for its ASEM example — the same data as
``../shared/data/coinr_asem``: ``get_stats(dset = "Raw")``, ``get_cronbach(dset = "Raw",
iCodes = "P2P", Level = 1)``, ``get_PCA(dset = "Raw", iCodes = "Sust")`` and
``get_corr_flags(dset = "Normalised", grouplev = 2)``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from humsec.cli.main import main
from humsec.errors import HumsecError
from humsec.index.audit import audit, cronbach_alpha, indicator_stats, pca
from humsec.index.coinr import import_coinr
from humsec.index.pipeline import build, regenerate
from humsec.index.spec import IndexSpec

# ---------------------------------------------------------------- by hand


def test_cronbach_alpha_by_hand():
    # three items, four respondents; item variances 1.6667, 0.9167, 1.6667 (ddof=1);
    # totals 5, 9, 9, 12 -> variance 8.25; alpha = 3/2 * (1 - 4.25/8.25) = 0.727272...
    f = pd.DataFrame({"a": [1, 3, 2, 4], "b": [2, 3, 4, 4], "c": [2, 3, 3, 4]}, dtype=float)
    item = f.var(ddof=1).sum()
    total = f.sum(axis=1).var(ddof=1)
    expected = 3 / 2 * (1 - item / total)
    assert cronbach_alpha(f) == pytest.approx(expected, rel=1e-12)
    assert cronbach_alpha(f, use="complete") == pytest.approx(expected, rel=1e-12)
    # identical items are perfectly consistent
    g = pd.DataFrame({"a": [1.0, 2, 5], "b": [1.0, 2, 5]})
    assert cronbach_alpha(g) == pytest.approx(1.0)
    # one column: undefined
    assert math.isnan(cronbach_alpha(g[["a"]]))
    with pytest.raises(HumsecError, match="pairwise"):
        cronbach_alpha(g, use="bogus")


def test_cronbach_pairwise_differs_from_complete_with_gaps():
    f = pd.DataFrame({"a": [1, 3, 2, 4, 5.0], "b": [2, 3, np.nan, 4, 6.0], "c": [2, 1, 3, 4, np.nan]})
    assert cronbach_alpha(f) != pytest.approx(cronbach_alpha(f, use="complete"))
    # complete-case alpha is the textbook formula on the complete rows
    x = f.dropna()
    textbook = 3 / 2 * (1 - x.var(ddof=1).sum() / x.sum(axis=1).var(ddof=1))
    assert cronbach_alpha(f, use="complete") == pytest.approx(textbook, rel=1e-12)


def test_pca_by_hand():
    # two perfectly correlated columns and one independent column: PC1 explains 2/3
    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    f = pd.DataFrame({"a": a, "b": 3 * a + 1, "c": rng.normal(size=200)})
    f["c"] -= np.polyval(np.polyfit(a, f["c"], 1), a)  # make c exactly uncorrelated with a
    p = pca(f)
    assert p.explained[0] == pytest.approx(2 / 3, abs=1e-9)
    assert p.explained.sum() == pytest.approx(1.0)
    assert abs(p.loadings["a"]) == pytest.approx(1 / math.sqrt(2), abs=1e-9)
    assert abs(p.loadings["c"]) == pytest.approx(0.0, abs=1e-9)
    assert p.n == 200


def test_indicator_stats_flags():
    x = [1.0] * 20 + [100.0]  # one huge outlier: skew and kurtosis far above COINr's limits
    f = pd.DataFrame({"out": x, "gap": [np.nan] * 10 + list(range(11)), "ok": list(range(21))})
    st = indicator_stats(f).set_index("indicator")
    assert bool(st.at["out", "flag_outliers"]) and not bool(st.at["ok", "flag_outliers"])
    assert bool(st.at["gap", "flag_availability"])  # 11/21 < 0.66
    assert st.at["gap", "n"] == 11 and st.at["ok", "availability"] == 1.0


SMALL = """
spec_version: 1
name: small
tree:
  - {code: top}
  - {code: p1, parent: top}
  - {code: p2, parent: top}
  - {code: a, parent: p1}
  - {code: b, parent: p1}
  - {code: c, parent: p2}
  - {code: d, parent: p2}
steps:
  - {step: normalise, method: minmax, params: {lo: 0, hi: 100}}
  - {step: aggregate, method: arithmetic}
"""


def small_data() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    units = [f"U{i:02d}" for i in range(12)]
    a = rng.normal(size=12)
    vals = {"a": a, "b": a * 2 + 0.01 * rng.normal(size=12),  # collinear with a
            "c": rng.normal(size=12), "d": rng.normal(size=12)}
    vals["d"] = -vals["c"] + 0.3 * rng.normal(size=12)  # negatively correlated with c
    return pd.DataFrame([{"unit": u, "indicator": k, "value": float(v[i])}
                         for k, v in vals.items() for i, u in enumerate(units)])


def test_audit_flags_and_leave_one_out_by_hand():
    spec = IndexSpec.from_yaml(SMALL)
    res = build(spec, small_data())
    rep = audit(res)
    flags = rep.flags
    assert ((flags["flag"] == "collinear") & (flags["node"] == "a/b")).any()
    assert ((flags["flag"] == "negative correlation") & (flags["node"] == "c/d")).any()
    loo = rep.leave_one_out.set_index("removed")
    assert set(loo.index) == {"p1", "p2"}
    # removing p1 leaves the index equal to p2 (a single pillar): ranks follow p2's
    base = res.ranks["top"]
    shift = (res.ranks["p2"] - base).abs()
    assert loo.at["p1", "mean_abs_rank_shift"] == pytest.approx(shift.mean())
    assert loo.at["p1", "max_abs_rank_shift"] == shift.max()
    assert loo.at["p1", "units_moved"] == int((shift > 0).sum())
    # each parent's correlation row is the Pearson r of node vs parent scores
    pc = rep.parent_correlations.set_index("node")
    assert pc.at["a", "r"] == pytest.approx(np.corrcoef(res.scores["a"], res.scores["p1"])[0, 1])
    agg = rep.aggregates.set_index("aggregate")
    assert agg.at["p1", "cronbach_alpha"] == pytest.approx(cronbach_alpha(res.scores[["a", "b"]]))
    # the audit never changes the result it audits
    assert regenerate(res).equals(res)


# ---------------------------------------------------------------- COINr published output


@pytest.fixture(scope="module")
def asem_result(published_data):
    d = published_data / "coinr_asem"
    if not (d / "iData.csv").is_file():
        pytest.skip(f"COINr ASEM example not found under {d}")
    spec, data = import_coinr(d / "iData.csv", d / "iMeta.csv", name="asem")
    return build(spec, data)


def test_cronbach_matches_coinr_published(asem_result):
    raw = asem_result.dataset("Raw")
    kids = asem_result.spec.children["P2P"]
    # get_cronbach(coin, dset = "Raw", iCodes = "P2P", Level = 1)  #> [1] 0.05126659
    assert cronbach_alpha(raw[kids]) == pytest.approx(0.05126659, abs=5e-9)


def test_pca_matches_coinr_published(asem_result):
    raw = asem_result.dataset("Raw")
    p = pca(raw[asem_result.spec.children["Social"]])
    # summary(l_pca$PCAresults$Social$PCAres): proportion of variance
    published = [0.5398, 0.1408, 0.1065, 0.06905, 0.06614, 0.03589, 0.02003, 0.01445, 0.00737]
    np.testing.assert_allclose(p.explained, published, atol=6e-5)
    assert p.n == 51 - 14  # "Removing 14 rows with missing values"
    # wts (first-component loadings; sign is arbitrary): CPI FemLab FreePress NGOs Palma
    pub_w = {"CPI": 0.417, "FemLab": 0.324, "FreePress": 0.401, "NGOs": 0.191, "Palma": 0.302}
    for code, w in pub_w.items():
        assert abs(p.loadings[code]) == pytest.approx(w, abs=6e-4), code


def test_stats_match_coinr_published(asem_result):
    st = indicator_stats(asem_result.dataset("Raw")).set_index("indicator")
    # get_stats(coin, dset = "Raw"): Min Max Mean Std Skew Kurt (3 significant digits)
    pub = {
        "LPI": (2.07, 4.23, 3.41, 0.538, -0.304, -0.657, False),
        "Flights": (0.99, 211.0, 38.6, 46.7, 2.10, 4.51, True),
        "Ship": (0.0, 21.2, 12.0, 6.84, -0.576, -0.681, False),
        "Bord": (0.0, 122.0, 23.6, 24.8, 2.15, 5.79, True),
        "Elec": (0.0, 110.0, 16.2, 22.7, 2.23, 5.79, True),
    }
    for code, (mn, mx, mean, sd, sk, ku, out) in pub.items():
        row = st.loc[code]
        got = [row["min"], row["max"], row["mean"], row["sd"], row["skew"], row["kurtosis"]]
        for g, e in zip(got, (mn, mx, mean, sd, sk, ku)):
            assert float(f"{g:.3g}") == pytest.approx(e, abs=1e-9), (code, g, e)
        assert bool(row["flag_outliers"]) is out, code  # Flag.SkewKurt "OUT"


def test_correlation_flags_match_coinr_published(asem_result):
    sib = audit(asem_result, leave_one_out=False).sibling_correlations
    pair = {frozenset((r.a, r.b)): r.r for r in sib.itertuples() if r.parent in ("Social", "Instit")}
    # get_corr_flags(dset = "Normalised", cor_thresh = 0.75, thresh_type = "high", grouplev = 2)
    high = {frozenset(k) for k, v in pair.items() if v > 0.75}
    assert high == {frozenset(("CPI", "FreePress")), frozenset(("CPI", "NGOs"))}
    assert round(pair[frozenset(("CPI", "FreePress"))], 3) == 0.761
    assert round(pair[frozenset(("CPI", "NGOs"))], 3) == 0.768
    # ... cor_thresh = -0.5, thresh_type = "low"
    low = {k: round(v, 3) for k, v in pair.items() if v < -0.5}
    assert low == {frozenset(("CostImpEx", "TBTs")): -0.697, frozenset(("RTAs", "TBTs")): -0.752,
                   frozenset(("TBTs", "TIRcon")): -0.623}


def test_cli_audit_json_and_table(asem_result, published_data, tmp_path, capsys):
    d = published_data / "coinr_asem"
    out = tmp_path / "asem"
    assert main(["index", "import-coinr", str(d / "iData.csv"), str(d / "iMeta.csv"), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["index", "audit", str(out / "spec.yaml"), "--data", str(out / "data.csv"),
                 "--format", "json", "--no-loo"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"indicators", "aggregates", "flags", "sibling_correlations"}
    p2p = next(r for r in doc["aggregates"] if r["aggregate"] == "P2P")
    # the audit's alpha is on the normalised scores the index aggregates (not Raw)
    assert p2p["cronbach_alpha"] == pytest.approx(
        cronbach_alpha(asem_result.scores[asem_result.spec.children["P2P"]]))
    assert main(["index", "audit", str(out / "spec.yaml"), "--data", str(out / "data.csv"),
                 "--table", "nope"]) == 2
    assert "expected one of" in capsys.readouterr().err
