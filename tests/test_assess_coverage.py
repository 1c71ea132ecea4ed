"""``Assessment.coverage()`` on a panel small enough to count by hand: an indicator that
no country has a number for in the assessment year counts 0 countries (not NaN), and its
ages and years are missing (there are none)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from humsec.analysis import assess as A
from humsec.index.spec import IndexSpec
from humsec.model.panel import Panel

SPEC = """
spec_version: 1
name: tiny
tree:
  - {code: top}
  - {code: x, parent: top, goalposts: [0, 10]}
  - {code: y, parent: top, goalposts: [0, 10], direction: -1}
  - {code: z, parent: top, goalposts: [0, 10]}
steps:
  - {step: impute, method: locf, params: {max_gap: 5}}
  - {step: normalise, method: goalposts, params: {scale: 100, cap: true, floor: true}}
  - {step: aggregate, method: arithmetic}
"""


@pytest.fixture(scope="module")
def coverage():
    # x: KEN, NOR and USA observed in 2020 (age 0); y: KEN in 2018 (age 2, carried forward:
    # locf up to 5 years) and NOR in 2020;
    # z: a number for KEN in 2021 only, after the assessment year: none counts in 2020
    rows = [{"unit": u, "year": 2020, "indicator": "x", "value": v} for u, v in (("KEN", 5), ("NOR", 9), ("USA", 7))]
    rows += [{"unit": "KEN", "year": 2018, "indicator": "y", "value": 5},
             {"unit": "NOR", "year": 2020, "indicator": "y", "value": 1},
             {"unit": "KEN", "year": 2021, "indicator": "z", "value": 4}]
    a = A.assess(IndexSpec.from_yaml(SPEC), Panel(pd.DataFrame(rows)), year=2020, runs=0)
    return a.coverage().set_index("indicator")


def test_countries_with_a_number_are_counted_and_none_is_zero(coverage):
    assert list(coverage.index) == ["x", "y", "z"]
    assert coverage["countries"].tolist() == [3, 2, 0]
    assert coverage["countries"].dtype.kind == "i"


def test_ages_and_years_by_hand(coverage):
    assert coverage.at["x", "median_age"] == 0 and coverage.at["y", "median_age"] == 1.0  # ages 2 and 0
    assert coverage.at["y", "max_age_used"] == 2
    assert coverage.at["y", "oldest"] == 2018 and coverage.at["y", "newest"] == 2020
    assert np.isnan(coverage.at["z", "median_age"])
    assert pd.isna(coverage.at["z", "max_age_used"]) and pd.isna(coverage.at["z", "oldest"])
