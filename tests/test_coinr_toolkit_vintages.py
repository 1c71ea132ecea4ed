"""Issue #24, beyond COINr: uncertainty that covers data revisions between vintages."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from humsec.errors import HumsecError
from humsec.index.spec import IndexSpec
from humsec.index.uncertainty import UncertaintySpec, replay
from humsec.index.vintage_uncertainty import vintage_uncertainty

SPEC = """
spec_version: 1
name: v
tree:
  - {code: top}
  - {code: p1, parent: top}
  - {code: p2, parent: top}
  - {code: a, parent: p1}
  - {code: b, parent: p1}
  - {code: c, parent: p2}
  - {code: d, parent: p2}
steps:
  - {step: normalise, method: minmax, params: {lo: 1, hi: 100}}
  - {step: aggregate, method: arithmetic}
"""
U = """
inputs:
  - {name: aggregation, type: choice, path: steps.aggregate.method, values: [arithmetic, geometric]}
  - {name: weights, type: weights, noise: {1: 0.4}, n_sets: 10}
"""


def vintages():
    rng = np.random.default_rng(4)
    rows = []
    for k in "abcd":
        x = rng.lognormal(size=20)
        rows += [{"unit": f"U{i:02d}", "indicator": k, "value": x[i]} for i in range(20)]
    old = pd.DataFrame(rows)
    new = old.copy()
    revised = new["indicator"] == "a"
    new.loc[revised, "value"] = new.loc[revised, "value"].to_numpy()[::-1]  # a big revision of 'a'
    new = new[new["unit"] != "U19"]  # and one unit no longer covered
    return {"old": old, "new": new}


@pytest.fixture(scope="module")
def setup():
    spec = IndexSpec.from_yaml(SPEC)
    return spec, vintages(), UncertaintySpec.from_yaml(U, spec=spec)


def test_every_run_is_its_vintage_replayed(setup):
    spec, vint, u = setup
    res = vintage_uncertainty(spec, vint, u, n=30, seed=5)
    assert len(res.runs) == 30 and set(res.runs["vintage"]) == {"old", "new"}
    assert list(res.runs["run"]) == list(range(30))
    assert res.units == sorted(f"U{i:02d}" for i in range(20))
    j = res.aggregates.index("top")
    for lab, data in vint.items():
        rows = res.runs[res.runs["vintage"] == lab]
        rep = replay(spec, data, u, rows.drop(columns=["vintage", "vintage_run"]).reset_index(drop=True))
        cols = [res.units.index(x) for x in rep.units]
        np.testing.assert_allclose(res.scores[rows["run"].to_numpy()][:, cols, j], rep.scores[:, :, j],
                                   rtol=1e-12)
    # U19 is absent from the new vintage: missing in those runs only
    u19 = res.units.index("U19")
    new_runs = (res.runs["vintage"] == "new").to_numpy()
    assert np.isnan(res.scores[new_runs, u19, j]).all() and not np.isnan(res.scores[~new_runs, u19, j]).any()
    # nominal = the reference (last) vintage; same seed, same runs
    assert "U19" not in res.nominal.units
    again = vintage_uncertainty(spec, vint, u, n=30, seed=5)
    np.testing.assert_array_equal(again.scores, res.scores)


def test_revisions_widen_the_intervals(setup):
    spec, vint, u = setup
    both = vintage_uncertainty(spec, vint, u, n=80, seed=1).summary(["top"]).set_index("unit")
    from humsec.index.uncertainty import uncertainty_analysis

    one = uncertainty_analysis(spec, vint["new"], u, n=80, seed=1).summary(["top"]).set_index("unit")
    common = one.index
    width_both = (both.loc[common, "rank_q95"] - both.loc[common, "rank_q05"]).mean()
    width_one = (one["rank_q95"] - one["rank_q05"]).mean()
    assert width_both > width_one
    with pytest.raises(HumsecError, match="at least 2"):
        vintage_uncertainty(spec, {"new": vint["new"]}, u, n=5, seed=1)


def test_cli_vintage_option(setup, tmp_path, capsys):
    from humsec.cli.main import main

    _, vint, _ = setup
    sp, up = tmp_path / "s.yaml", tmp_path / "u.yaml"
    sp.write_text(SPEC, encoding="utf-8")
    up.write_text(U, encoding="utf-8")
    paths = {}
    for lab, d in vint.items():
        paths[lab] = tmp_path / f"{lab}.csv"
        d.to_csv(paths[lab], index=False)
    out = tmp_path / "o"
    capsys.readouterr()
    assert main(["index", "uncertainty", str(sp), "-d", str(paths["new"]), "-u", str(up), "--vintage",
                 str(paths["old"]), "-n", "12", "-s", "2", "-q", "-o", str(out), "-f", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["runs"] == 12
    runs = pd.read_csv(out / "runs.csv")
    assert set(runs["vintage"]) <= {"old", "new"} and len(runs) == 12
    assert main(["index", "uncertainty", str(sp), "-d", str(paths["new"]), "-u", str(up), "--vintage",
                 str(paths["old"]), "--sa", "-n", "4", "-s", "2", "-q"]) != 0
