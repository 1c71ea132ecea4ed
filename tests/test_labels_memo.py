"""The label encodings kept per Arrow array (humsec.index.labels.memoised): reused while
the array lives, never for changed data, forgotten with the array."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from humsec.errors import HumsecError
from humsec.index import labels, pipeline
from humsec.index.pipeline import build
from humsec.index.spec import IndexSpec

SPEC = IndexSpec.from_yaml("""
name: t
tree:
  - {code: I}
  - {code: a, parent: I}
  - {code: b, parent: I}
steps:
  - {step: normalise, method: minmax}
  - {step: aggregate, method: arithmetic}
""")


def _tidy(units, years=(2020,)):
    rows = [(u, y, i, float(k + 3 * j + y - 2020)) for y in years for k, u in enumerate(units)
            for j, i in enumerate(("a", "b"))]
    return pd.DataFrame(rows, columns=["unit", "year", "indicator", "value"]).astype(
        {"unit": "str", "indicator": "str"})


def test_memoised_computes_once_per_array_and_forgets_it():
    calls = []
    ch = pa.chunked_array([pa.array(["x", "y"])])
    for _ in range(3):
        assert labels.memoised(ch, "k", lambda: calls.append(1) or "v") == "v"
    assert len(calls) == 1
    assert labels.memoised(ch, "other key", lambda: calls.append(1) or "w") == "w"
    assert len(calls) == 2
    at = (id(ch), "k")
    assert at in labels._MEMO
    del ch
    gc.collect()
    assert at not in labels._MEMO


def test_an_equal_but_new_array_is_encoded_again():
    calls = []
    one = pa.chunked_array([pa.array(["x", "y"])])
    labels.memoised(one, "k", lambda: calls.append(1))
    two = pa.chunked_array([pa.array(["x", "y"])])
    labels.memoised(two, "k", lambda: calls.append(1))
    assert len(calls) == 2


def test_a_changed_unit_label_is_seen_by_the_next_build():
    data = _tidy(["AAA", "BBB", "CCC"])
    first = build(SPEC, data)
    assert first.datasets["Aggregated"].index.tolist() == ["AAA", "BBB", "CCC"]
    data.loc[data["unit"] == "BBB", "unit"] = "ZZZ"  # pandas swaps the column's Arrow array
    second = build(SPEC, data)
    assert second.datasets["Aggregated"].index.tolist() == ["AAA", "CCC", "ZZZ"]
    assert second.datasets["Raw"].loc["ZZZ"].tolist() == first.datasets["Raw"].loc["BBB"].tolist()
    data.loc[data["indicator"] == "b", "indicator"] = "c"
    with pytest.raises(HumsecError, match="absent from the data: b"):  # not read from the memo
        build(SPEC, data)


def test_shared_codes_are_read_only_and_survive_a_build():
    data = _tidy(["AAA", "BBB"])
    r1 = build(SPEC, data)
    codes, _ = pipeline._unit_codes(data["unit"], None)
    assert not codes.flags.writeable
    with pytest.raises(ValueError):
        codes[0] = 5
    r2 = build(SPEC, data)
    np.testing.assert_array_equal(r1.datasets["Aggregated"].to_numpy(), r2.datasets["Aggregated"].to_numpy())


def test_units_of_the_year_built_are_those_of_its_rows_only():
    # a unit with data in 2021 only: absent from the 2020 build, though the memo encodes
    # the whole column
    data = pd.concat([_tidy(["AAA", "BBB"], (2020, 2021)), _tidy(["CCC"], (2021,))], ignore_index=True)
    data = data.astype({"unit": "str", "indicator": "str"})
    for year, want in ((2020, ["AAA", "BBB"]), (2021, ["AAA", "BBB", "CCC"]), (2020, ["AAA", "BBB"])):
        r = build(SPEC, data, year=year)
        assert r.datasets["Aggregated"].index.tolist() == want
        ref = data[data["year"] == year].pivot(index="unit", columns="indicator", values="value")
        np.testing.assert_array_equal(r.datasets["Raw"][["a", "b"]].to_numpy(), ref[["a", "b"]].to_numpy())
