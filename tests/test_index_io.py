"""The columnar index-data reader/writer and unit groups kept beside a spec (#21)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from humsec.errors import ValidationError
from humsec.index.io import csv_bytes, read_index_data, write_csv_fast
from humsec.index.spec import IndexSpec, read_groups

SPEC = """
name: g
tree:
  - {code: a, parent: top}
  - {code: b, parent: top}
  - {code: top}
groups:
  region: {X1: north, X2: south, X3: north}
  size: {X1: big}
steps:
  - {step: impute, method: group_mean, params: {group: region}}
  - {step: normalise, method: minmax}
  - {step: aggregate, method: arithmetic}
"""


def test_tidy_csv_every_bad_cell_located(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("unit,year,indicator,value\n"
                 "X1,2020,a,1.5\n"
                 "X1,2020,b,abc\n"
                 " ,2020,a,2\n"
                 "X2,20x0,a,3\n"
                 "X2,2020,a,1e999\n"
                 "X1,2020,a,7\n"
                 "X3,2020,,NA\n")
    with pytest.raises(ValidationError) as e:
        read_index_data(f)
    text = str(e.value)
    assert f"{f}, row 3, column 'value': non-numeric value 'abc'" in text
    assert "row 4, column 'unit': empty unit code" in text
    assert "row 5, column 'year': invalid year" in text
    assert "row 6, column 'value': value is not finite" in text
    assert "row 7, column 'indicator': duplicate key (unit X1, indicator a, year 2020)" in text
    assert "row 8, column 'indicator': empty indicator code" in text


def test_tidy_csv_reads_same_frame_as_pandas(tmp_path):
    rng = np.random.default_rng(3)
    n = 500
    df = pd.DataFrame({"unit": [f"U{i % 50}" for i in range(n)],
                       "year": [2000 + i // 50 for i in range(n)],
                       "indicator": "x", "value": rng.normal(size=n) * 10.0 ** rng.integers(-8, 8, n)})
    df.loc[::7, "value"] = np.nan
    f = tmp_path / "t.csv"
    df.to_csv(f, index=False, float_format="%.17g")
    got = read_index_data(f)
    assert list(got.columns) == ["unit", "year", "indicator", "value"]
    assert str(got["year"].dtype) == "Int64"
    np.testing.assert_array_equal(got["value"].to_numpy(), df["value"].to_numpy())
    assert got["unit"].tolist() == df["unit"].tolist()
    # semicolon-separated files are sniffed as before
    g = tmp_path / "s.csv"
    g.write_text("unit;indicator;value\nX1;a;1\nX2;a;NA\n")
    got = read_index_data(g)
    assert got["value"].tolist()[0] == 1.0 and np.isnan(got["value"].iloc[1])


def test_csv_writer_round_trips_and_matches_pandas_text(tmp_path):
    df = pd.DataFrame({"unit": ["A", "=B", "c,d", None], "year": pd.array([2018, None, 1, 2], dtype="Int64"),
                       "score": [1.0, np.nan, 0.1 + 0.2, -0.0], "rank": pd.array([1, 2, None, 4], dtype="Int64")})
    from humsec.data.export import safe_frame

    assert csv_bytes(df).decode() == safe_frame(df).to_csv(index=False)
    x = np.random.default_rng(1).normal(size=1000) * 1e5
    p = write_csv_fast(pd.DataFrame({"unit": [f"u{i}" for i in range(1000)], "v": x}), tmp_path / "x.csv")
    assert p.read_bytes().count(b"\r\n") == 1001
    np.testing.assert_array_equal(pd.read_csv(p)["v"].to_numpy(), x)


def test_groups_beside_the_spec(tmp_path):
    spec = IndexSpec.from_yaml(SPEC)
    path = tmp_path / "spec.yaml"
    spec.write(path, groups_file="groups.csv")
    text = path.read_text()
    assert "groups: groups.csv" in text and "X1" not in text
    assert read_groups(tmp_path / "groups.csv") == {"region": {"X1": "north", "X2": "south", "X3": "north"},
                                                     "size": {"X1": "big"}}
    assert IndexSpec.from_file(path) == spec
    # old specs with inline groups stay readable, and the default YAML still lists them
    assert IndexSpec.from_yaml(spec.to_yaml()) == spec
    (tmp_path / "groups.csv").unlink()
    with pytest.raises(ValidationError, match="groups file 'groups.csv' not found"):
        IndexSpec.from_file(path)
    (tmp_path / "groups.csv").write_text("unit,region\nX1,north\nX1,south\n")
    with pytest.raises(ValidationError, match="row 3, column 'unit': duplicate unit 'X1'"):
        IndexSpec.from_file(path)


def test_import_coinr_writes_groups_beside_and_locates_bad_cells(tmp_path):
    from humsec.index.coinr import import_coinr, write_coinr_import

    meta = tmp_path / "iMeta.csv"
    meta.write_text("Level,iCode,iName,Direction,Weight,Type,Parent\n"
                    "1,a,A,1,1,Indicator,top\n1,b,B,1,1,Indicator,top\n2,top,Top,1,1,Aggregate,\n"
                    ",grp,Group,,,Group,\n")
    dat = tmp_path / "iData.csv"
    dat.write_text("uCode,uName,grp,a,b\nX1,One,g1,1,2\nX2,Two,g1,NA,x5\nX3,Three,,3, inf\n")
    with pytest.raises(ValidationError) as e:
        import_coinr(dat, meta)
    text = str(e.value)
    assert "row 3, column 'b': non-numeric value 'x5'" in text and "row 4, column 'b'" in text
    dat.write_text("uCode,uName,grp,a,b\nX1,One,g1,1,2\nX2,Two,g1,NA,5\nX3,Three,,3,0.1\n")
    spec, data = import_coinr(dat, meta)
    assert data.columns.tolist() == ["unit", "indicator", "value"]
    assert data["unit"].tolist() == ["X1", "X2", "X3"] * 2
    assert np.isnan(data["value"].iloc[1]) and data["value"].iloc[5] == 0.1
    assert spec.groups == {"grp": {"X1": "g1", "X2": "g1"}}
    sp, dp = write_coinr_import(dat, meta, tmp_path / "out")
    assert (tmp_path / "out" / "groups.csv").is_file() and "X1" not in sp.read_text()
    assert IndexSpec.from_file(sp) == spec
    pd.testing.assert_frame_equal(read_index_data(dp), data.assign(value=data["value"].astype(float)),
                                  check_dtype=False)
