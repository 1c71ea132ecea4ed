"""Engine features behind HSI 2.0: per-indicator imputation policy in a spec, the batched
uncertainty path with a geometric floor and a coverage rule, vectorised quantiles, and
the release's shared-location rates."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from humsec.errors import HumsecError, ValidationError
from humsec.index.builtin import load_spec
from humsec.index.pipeline import build
from humsec.index.spec import IndexSpec
from humsec.index.uncertainty import UncertaintySpec, uncertainty_analysis
from humsec.index.uncertainty_evaluate import nanquantile

PANEL_SPEC = """
spec_version: 1
name: policy
tree:
  - {code: top}
  - {code: annual, parent: top, goalposts: [0, 10]}
  - {code: survey, parent: top, goalposts: [0, 10]}
  - {code: hazard, parent: top, goalposts: [0, 10], direction: -1}
steps:
  - step: impute
    method: locf
    params: {max_gap: 2}
    overrides:
      survey: {params: {max_gap: 6}}
      hazard: {method: window_mean, params: {years: 4, exclude_years: [2019]}}
  - {step: normalise, method: goalposts, params: {scale: 100, cap: true, floor: true}}
  - {step: aggregate, method: geometric, params: {floor: 1}}
"""


def _tidy(rows):
    return pd.DataFrame(rows, columns=["unit", "year", "indicator", "value"])


def test_per_indicator_overrides_of_a_panel_imputation():
    spec = IndexSpec.from_yaml(PANEL_SPEC)
    data = _tidy([
        ("A", 2016, "annual", 4.0), ("A", 2016, "survey", 6.0),  # 4 years old at 2020
        ("A", 2017, "hazard", 1.0), ("A", 2018, "hazard", 3.0), ("A", 2019, "hazard", 9.0),
        ("A", 2020, "hazard", 5.0),
        ("B", 2019, "annual", 8.0), ("B", 2013, "survey", 2.0),  # 7 years old: too old
        ("B", 2020, "hazard", 2.0),
    ])
    r = build(spec, data, year=2020)
    imp = r.datasets["Imputed"]
    assert np.isnan(imp.at["A", "annual"])  # 4 > 2 years
    assert imp.at["A", "survey"] == 6.0  # 4 <= 6 years
    assert imp.at["A", "hazard"] == pytest.approx((1 + 3 + 5) / 3)  # 2017-2020 without 2019
    assert imp.at["B", "annual"] == 8.0 and np.isnan(imp.at["B", "survey"]) and imp.at["B", "hazard"] == 2.0
    rec = next(x for x in r.log if x.step == "impute")
    assert rec.details["replaced"] == {"hazard": "window_mean"}
    # the scale makes the whole policy stricter or looser
    loose = build(spec.with_changes({"steps.impute.params.age_scale": 2.0}), data, year=2020)
    assert loose.datasets["Imputed"].at["A", "annual"] == 4.0
    # round trip of a spec with overrides
    assert IndexSpec.from_yaml(spec.to_yaml()) == spec


def test_a_cross_section_method_in_a_panel_imputation_is_a_clear_error():
    spec = IndexSpec.from_yaml(PANEL_SPEC.replace("{method: window_mean, params: {years: 4, exclude_years: [2019]}}",
                                                  "{method: mean}"))
    data = _tidy([("A", 2020, "annual", 1.0), ("A", 2020, "survey", 1.0), ("A", 2020, "hazard", 1.0)])
    with pytest.raises(HumsecError, match="override of 'hazard' uses 'mean'"):
        build(spec, data, year=2020)


@pytest.fixture(scope="module")
def hsi_data():
    from humsec.analysis.assess import index_data
    from humsec.data.default import default_release

    spec = load_spec("hsi")
    return spec, index_data(default_release().panel, spec)


def test_batched_runs_with_floor_and_coverage_rule_equal_one_by_one(hsi_data):
    """The HSI's uncertainty analysis (geometric floor, min_children at the root, choices of
    aggregation, normalisation and age policy) gives the same numbers batched and built
    one run at a time."""
    spec, data = hsi_data
    u = UncertaintySpec.from_dict(spec.uncertainty, spec=spec)
    fast = uncertainty_analysis(spec, data, u, n=10, seed=3, year=2024)
    slow = uncertainty_analysis(spec, data, u, n=10, seed=3, year=2024, batch=False)
    assert fast.n_failed == slow.n_failed == 0
    pd.testing.assert_frame_equal(fast.runs, slow.runs)
    np.testing.assert_allclose(fast.scores, slow.scores, rtol=1e-10, atol=1e-10, equal_nan=True)
    # the coverage rule holds in every run: a unit without a dimension has no index
    j = fast.aggregates.index("hsi")
    nominal = fast.nominal.scores["hsi"].reindex(fast.units)
    assert np.isnan(fast.scores[:, :, j][:, nominal.isna().to_numpy()]).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 25), st.integers(1, 6), st.floats(0, 1), st.integers(0, 2**31 - 1))
def test_vectorised_quantiles_equal_numpy(n_runs, n_units, q, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 30, size=(n_runs, n_units, 2)).astype(float)
    a[rng.random(a.shape) < 0.3] = np.nan
    for method in ("linear", "inverted_cdf"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = np.nanquantile(a, q, axis=0, method=method)
        np.testing.assert_allclose(nanquantile(a, q, method), ref, equal_nan=True)


def test_shared_location_rates():
    """UCDP codes deaths in Gaza and the West Bank to Israel: both get the rate of the
    whole location (count / combined population)."""
    from humsec.data.release.build import _shared_locations

    df = pd.DataFrame({"unit": ["ISR", "ISR", "KEN"], "year": [2023, 2024, 2024], "value": [100.0, 300.0, 5.0],
                       "sex": "_T", "age": "_T", "group": "_T"})
    den = pd.Series([9.0, 10.0, 5.0, 6.0, 50.0],
                    index=pd.MultiIndex.from_tuples([("ISR", 2023), ("ISR", 2024), ("PSE", 2023), ("PSE", 2024),
                                                     ("KEN", 2024)], names=["unit", "year"]))
    out, d = _shared_locations(df, den, {"ISR": ["ISR", "PSE"]}, "conflict_deaths", "ucdp")
    got = out.assign(den=d.reindex(pd.MultiIndex.from_frame(out[["unit", "year"]])).to_numpy())
    rate = (got["value"] / got["den"]).round(6)
    r = dict(zip(zip(got["unit"], got["year"]), rate))
    assert r[("ISR", 2024)] == r[("PSE", 2024)] == round(300 / 16, 6)
    assert r[("ISR", 2023)] == r[("PSE", 2023)] == round(100 / 14, 6)
    assert r[("KEN", 2024)] == 0.1
    # a publisher value of its own for a sharing unit is an error, not an overwrite
    clash = pd.concat([df, df.assign(unit="PSE").head(1)], ignore_index=True)
    with pytest.raises(ValidationError, match="values of its own for PSE"):
        _shared_locations(clash, den, {"ISR": ["ISR", "PSE"]}, "conflict_deaths", "ucdp")
    with pytest.raises(ValidationError, match="must list ISR itself"):
        _shared_locations(df, den, {"ISR": ["PSE"]}, "conflict_deaths", "ucdp")


def test_panel_imputation_from_categorical_labels_equals_text_labels(tmp_path):
    """The reader's categorical unit and indicator columns go through panel imputation
    (the DataFrame builder's path) to the same result as text labels."""
    from humsec.index.io import read_index_data

    spec = IndexSpec.from_yaml(PANEL_SPEC)
    data = _tidy([
        ("A", 2016, "annual", 4.0), ("A", 2016, "survey", 6.0), ("A", 2017, "hazard", 1.0),
        ("A", 2018, "hazard", 3.0), ("A", 2020, "hazard", 5.0), ("B", 2019, "annual", 8.0),
        ("B", 2013, "survey", 2.0), ("B", 2020, "hazard", 2.0), ("C", 2020, "annual", 1.0),
    ])
    data.to_parquet(tmp_path / "p.parquet", index=False)
    got = read_index_data(tmp_path / "p.parquet")
    assert isinstance(got["unit"].dtype, pd.CategoricalDtype)
    a, b = build(spec, got, year=2020), build(spec, data, year=2020)
    assert a.equals(b)
    pd.testing.assert_frame_equal(a.datasets["Imputed"], b.datasets["Imputed"], check_exact=True)
