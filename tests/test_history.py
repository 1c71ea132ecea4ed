"""assess.history: the one-build path over stacked unit-year rows gives the same numbers
as building every year as its own cross-section, and is used only when no step of the
spec looks across units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from humsec.analysis import assess as A
from humsec.index.builtin import load_spec

YEARS = list(range(1995, 2026))


@pytest.fixture(scope="module")
def hsi_data(default_env):
    _, panel, _ = default_env
    spec = load_spec("hsi")
    return spec, A.index_data(panel, spec)


def _years(data, years=YEARS):
    have = {int(y) for y in data["year"].unique()}
    return [y for y in years if y in have]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert a.index.equals(b.index)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-12)


def test_default_hsi_stacked_equals_yearly(hsi_data):
    spec, data = hsi_data
    nodes = [n.code for n in spec.tree]
    ys = _years(data)
    stacked = A._stacked_history(spec, data, ys, nodes)
    assert stacked is not None, "the default HSI has no cross-sectional step: it must take the stacked path"
    yearly = A._yearly_history(spec, data, ys, nodes)
    assert len(yearly) > 1000
    _same(stacked, yearly)
    # the public function (default nodes: root and dimensions) gives the same
    h = A.history(spec, data, range(1995, 2026))
    _same(h, yearly[[spec.root, *spec.children[spec.root]]])


def test_hsi_variants_without_cross_sectional_steps(hsi_data):
    spec, data = hsi_data
    ys = _years(data, range(2008, 2026))
    for changes in ({"steps.impute.params.max_gap": 2},
                    {"steps.aggregate.method": "arithmetic", "steps.aggregate.overrides": {}},
                    {"steps.screen.params.min_availability": 0.9}):
        v = spec.with_changes(changes)
        nodes = [n.code for n in v.tree]
        stacked = A._stacked_history(v, data, ys, nodes)
        assert stacked is not None, changes
        _same(stacked, A._yearly_history(v, data, ys, nodes))


@pytest.mark.parametrize("changes", [
    {"steps.normalise.method": "minmax", "steps.normalise.params": {"lo": 1, "hi": 100}},  # min/max of the year
    {"steps.impute.method": "mean", "steps.impute.params": {}, "steps.impute.overrides": {}, "uncertainty": None},  # cross-section mean
    {"steps.impute.params.backfill": True},  # looks at later years
])
def test_cross_sectional_steps_fall_back_to_yearly_builds(hsi_data, changes):
    spec, data = hsi_data
    v = spec.with_changes(changes)
    ys = _years(data, range(2012, 2026))
    nodes = [v.root, *v.children[v.root]]
    assert A._stacked_history(v, data, ys, nodes) is None
    h = A.history(v, data, ys)
    _same(h, A._yearly_history(v, data, ys, nodes))
    assert len(h) > 100


TOY = """
spec_version: 1
name: toy
tree:
  - {code: idx}
  - {code: a, parent: idx, goalposts: [0, 10]}
  - {code: b, parent: idx, goalposts: [0, 10]}
steps:
  - {step: impute, method: locf, params: {max_gap: 2}}
  - {step: screen, method: availability, params: {min_availability: 0.5}}
  - {step: normalise, method: goalposts, params: {scale: 100}}
  - {step: aggregate, method: arithmetic}
"""

MIXED = """
spec_version: 1
name: mixed
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


def test_small_panel_by_hand():
    """Two indicators, LOCF with a 2-year limit, goalposts 0-10, arithmetic mean."""
    spec = A.IndexSpec.from_yaml(TOY)
    rows = [("X", 2000, "a", 2.0), ("X", 2000, "b", 4.0), ("X", 2001, "a", 6.0),
            ("X", 2004, "a", 8.0), ("Y", 2001, "b", 10.0), ("Y", 2003, "a", np.nan)]
    data = pd.DataFrame(rows, columns=["unit", "year", "indicator", "value"])
    nodes = ["idx", "a", "b"]
    stacked = A._stacked_history(spec, data, [2000, 2001, 2003, 2004], nodes)
    assert stacked is not None
    _same(stacked, A._yearly_history(spec, data, [2000, 2001, 2003, 2004], nodes))
    got = stacked["idx"].to_dict()
    # X 2001: a = 6 observed, b = 4 carried one year -> (60 + 40) / 2
    assert got[("X", 2001)] == pytest.approx(50.0)
    assert got[("X", 2000)] == pytest.approx(30.0)
    # X 2004: a observed, b too old (4 years) -> a alone passes the 50 % screen
    assert got[("X", 2004)] == pytest.approx(80.0)
    # Y 2003: its only row is a NaN observation; b (2001) is carried two years
    assert got[("Y", 2003)] == pytest.approx(100.0)
    assert ("Y", 2000) not in got and ("X", 2003) not in got  # no row in those years


def test_random_panel_with_overrides_and_window_means():
    """LOCF with per-indicator limits and a replacing window mean, on a random panel
    with gaps: stacked == yearly for every year."""
    spec = A.IndexSpec.from_yaml(MIXED)
    rng = np.random.default_rng(7)
    rows = [(u, y, i, float(rng.uniform(0.5, 10)))
            for u in [f"U{j:02d}" for j in range(30)] for y in range(2000, 2024)
            for i in ("annual", "survey", "hazard") if rng.random() < 0.45]
    data = pd.DataFrame(rows, columns=["unit", "year", "indicator", "value"])
    ys = list(range(2000, 2024))
    nodes = ["top", "annual", "survey", "hazard"]
    stacked = A._stacked_history(spec, data, ys, nodes)
    assert stacked is not None
    yearly = A._yearly_history(spec, data, ys, nodes)
    assert len(yearly) > 300
    _same(stacked, yearly)
