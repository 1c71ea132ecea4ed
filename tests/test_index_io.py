"""The columnar index-data reader/writer and unit groups kept beside a spec (#21)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from humsec.data.importer import NUMBER
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
    # the file's groups go in as read (not validated twice) but the spec's own checks still
    # see them: a step's grouping the file lacks, a grouping with no labels
    (tmp_path / "groups.csv").write_text("unit,size\nX1,big\n")
    with pytest.raises(ValidationError, match="group 'region' is not defined under 'groups'"):
        IndexSpec.from_file(path)
    (tmp_path / "groups.csv").write_text("unit,region,size\nX1,north,\nX2,south,\n")
    with pytest.raises(ValidationError, match="groups.size.*empty group"):
        IndexSpec.from_file(path)
    (tmp_path / "groups.csv").write_text("unit,region\nX1,north\nX2,south\nX3,north\n")
    got = IndexSpec.from_file(path)
    assert got.groups == {"region": {"X1": "north", "X2": "south", "X3": "north"}}
    assert got == spec.model_copy(update={"groups": got.groups}) and got.to_yaml() == IndexSpec.from_yaml(got.to_yaml()).to_yaml()


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
    pd.testing.assert_frame_equal(read_index_data(dp).astype({"unit": "str", "indicator": "str"}),
                                  data.assign(value=data["value"].astype(float)), check_dtype=False)


def test_number_column_fast_path_and_text_path_agree(tmp_path):
    """Arrow's float parse (the fast path) and the text rules give the same values: signs,
    exponents, white space, quoted numbers and every spelling of the missing markers."""
    cells = ["1", "+2.5", "-.5", "1e3", "1.5E-7", " 4 ", '"7"', "NA", "na", "N/A", "NaN", "null", "None",
             "..", "-", "", "00012", "1.", "5e-324"]
    want = [1.0, 2.5, -0.5, 1000.0, 1.5e-7, 4.0, 7.0] + [np.nan] * 9 + [12.0, 1.0, 5e-324]
    body = "".join(f"U{i},x,{c}\n" for i, c in enumerate(cells))
    f = tmp_path / "n.csv"
    f.write_text("unit,indicator,value\n" + body)
    got = read_index_data(f)["value"].to_numpy()
    np.testing.assert_array_equal(got, np.array(want))
    # one bad cell anywhere sends the column to the text path: the same numbers, and the
    # bad cell located
    f.write_text("unit,indicator,value\n" + body + "Z,x,1;5\n")
    with pytest.raises(ValidationError, match=rf"row {len(cells) + 2}, column 'value': non-numeric value '1;5'"):
        read_index_data(f)


@pytest.mark.parametrize("cell, message", [("inf", "non-numeric value 'inf'"), ("-Infinity", "non-numeric value"),
                                           ("1e999", "value is not finite"), ("-nan", "non-numeric value '-nan'")])
def test_non_finite_numbers_arrow_accepts_are_still_errors(tmp_path, cell, message):
    n = 300_000  # several of Arrow's blocks: the row number must still be the file's
    f = tmp_path / "big.csv"
    lines = [f"U{i},x,{i * 0.5}" for i in range(n)]
    lines[n - 7] = f"U{n - 7},x,{cell}"
    f.write_text("unit,indicator,value\n" + "\n".join(lines) + "\n")
    with pytest.raises(ValidationError) as e:
        read_index_data(f)
    assert f"row {n - 7 + 2}, column 'value': {message}" in str(e.value)


def test_codes_trimmed_once_per_distinct_value(tmp_path):
    f = tmp_path / "k.csv"
    f.write_text("unit,year,indicator,value\n X1 ,2020,a,1\nX1,2020.0,a ,2\nX2,,a,3\n")
    with pytest.raises(ValidationError) as e:
        read_index_data(f)
    assert "row 3, column 'indicator': duplicate key (unit X1, indicator a, year 2020)" in str(e.value)
    f.write_text("unit,year,indicator,value\n X1 ,2020,a,1\nX2,2020.0,a ,2\nX3,,a,3\n")
    got = read_index_data(f)
    assert got["unit"].tolist() == ["X1", "X2", "X3"] and got["indicator"].tolist() == ["a"] * 3
    assert got["year"].tolist()[:2] == [2020, 2020] and got["year"].isna().tolist() == [False, False, True]


def test_wide_file_non_finite_and_bad_cells_located(tmp_path):
    f = tmp_path / "w.csv"
    f.write_text("unit,a,b\nX1,1,2\nX2,1e999,NA\nX3,3,abc\n")
    with pytest.raises(ValidationError) as e:
        read_index_data(f)
    text = str(e.value)
    assert "row 3, column 'a': value is not finite" in text
    assert "row 4, column 'b': non-numeric value 'abc'" in text
    f.write_text("unit,a,b\nX1,1,2\nX2, 1.5 ,NA\n")
    got = read_index_data(f)
    assert got["a"].tolist() == [1.0, 1.5] and np.isnan(got["b"].iloc[1])


def test_csv_writer_whole_numbers_stay_numbers(tmp_path):
    # whole floats keep ".0" as pandas writes them, except where the shortest form has an
    # exponent (1e+10): "1e+10.0" would not be a number
    x = np.array([1.0, 100.0, 1e9, 1e10, 2.5e13, 123456789012.0, 1e15, 1e16, -0.0, 0.5, np.nan])
    text = csv_bytes(pd.DataFrame({"v": x})).decode()
    cells = text.splitlines()[1:]
    assert cells[:3] == ["1.0", "100.0", "1000000000.0"] and cells[3] == "1e+10" and cells[-1] == ""
    assert cells[8] == "-0.0"
    back = pd.read_csv(pd.io.common.StringIO(text), skip_blank_lines=False)["v"].to_numpy()
    np.testing.assert_array_equal(back, x)
    assert all(NUMBER.fullmatch(c) for c in cells[:-1])


def test_csv_writer_slices_join_to_the_same_text(monkeypatch):
    from humsec.index import io as index_io

    rng = np.random.default_rng(4)
    n = 1003
    df = pd.DataFrame({"unit": rng.choice(["A", "=B", "c,d", "e\"f"], n), "v": rng.normal(size=n),
                       "r": pd.array(rng.integers(0, 9, n), dtype="Int64"), "w": rng.integers(0, 3, n) == 1})
    df.loc[::5, "v"] = np.nan
    df.loc[::7, "r"] = pd.NA
    whole = csv_bytes(df)
    plain = csv_bytes(df[["v", "r", "w"]])
    monkeypatch.setattr(index_io, "_SLICE", 100)  # eleven slices on the thread pool
    assert csv_bytes(df) == whole and csv_bytes(df[["v", "r", "w"]]) == plain
    from humsec.data.export import safe_frame

    assert whole.decode() == safe_frame(df).to_csv(index=False)
    # CRLF only when a cell holds a carriage return (crlf=None, the CLI's choice)
    assert b"\r\n" not in csv_bytes(df, crlf=None)
    assert csv_bytes(pd.DataFrame({"u": ["a\rb", "c"]}), crlf=None) == b'u\r\n"a\rb"\r\nc\r\n'


def test_parquet_index_data_is_read_as_stored_and_equals_the_csv(tmp_path):
    """Parquet goes through Arrow as stored: the same frame as the CSV of the same table
    (tidy and wide, categorical units), bad cells located, a file that is not Parquet a
    clear error."""
    df = pd.DataFrame({"unit": ["AAA", "BBB", "CCC"] * 2, "year": [2020] * 6,
                       "indicator": ["x"] * 3 + ["y"] * 3, "value": [1.0, np.nan, 3, 4, 5, 6]})
    wide = df.pivot(index="unit", columns="indicator", values="value").reset_index()
    for name, frame in (("tidy", df), ("wide", wide), ("cat", df.astype({"unit": "category"}))):
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        pd.testing.assert_frame_equal(read_index_data(tmp_path / f"{name}.parquet"),
                                      read_index_data(tmp_path / f"{name}.csv"))
    bad = df.astype({"value": str})
    bad.loc[2, "value"] = "abc"
    bad.loc[3, "unit"] = None
    bad.to_parquet(tmp_path / "bad.parquet", index=False)
    with pytest.raises(ValidationError) as e:
        read_index_data(tmp_path / "bad.parquet")
    text = str(e.value)
    assert "row 4, column 'value': non-numeric value 'abc'" in text
    assert "row 5, column 'unit': empty unit code" in text
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(ValidationError, match="junk.parquet: not a readable Parquet file"):
        read_index_data(tmp_path / "junk.parquet")


@pytest.mark.parametrize("layout", ["indicator_major", "unit_major", "shuffled"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_labels_are_categoricals_of_the_cells_and_build_as_text(tmp_path, layout, fmt):
    """Unit and indicator columns come back as categoricals of their trimmed text (no
    string per cell): per row the same labels as the file, in any row order (periodic,
    run-length or no layout), and a build from them equals the build from text labels."""
    from humsec.index.labels import PERIODIC_MIN_ROWS
    from humsec.index.pipeline import build

    rng = np.random.default_rng(5)
    n = PERIODIC_MIN_ROWS // 2 + 3
    units = np.array([f"U{i:05d}" for i in range(n)], dtype=object)[rng.permutation(n)]
    if layout == "unit_major":
        u, ind = np.repeat(units, 2), np.tile(np.array(["a", "b"], dtype=object), n)
    else:
        u, ind = np.tile(units, 2), np.repeat(np.array(["a", "b"], dtype=object), n)
    df = pd.DataFrame({"unit": u, "year": 2024, "indicator": ind, "value": rng.normal(size=2 * n)})
    if layout == "shuffled":
        df = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    written = df.assign(unit=df["unit"].where(df.index != 7, " " + df["unit"][7] + " "))  # padded cell
    f = tmp_path / f"d.{fmt}"
    written.to_csv(f, index=False) if fmt == "csv" else written.to_parquet(f, index=False)
    got = read_index_data(f)
    for c in ("unit", "indicator"):
        assert isinstance(got[c].dtype, pd.CategoricalDtype)
        assert got[c].cat.categories.is_unique and got[c].cat.categories.dtype == "str"
        assert got[c].astype(object).tolist() == df[c].tolist()
    spec = IndexSpec.from_yaml("name: t\ntree:\n  - {code: I}\n  - {code: a, parent: I}\n  - {code: b, parent: I}\n"
                               "steps:\n  - {step: normalise, method: minmax}\n"
                               "  - {step: aggregate, method: arithmetic}\n")
    text = got.astype({"unit": "str", "indicator": "str"})
    a, b = build(spec, got), build(spec, text)
    assert a.equals(b)
    pd.testing.assert_frame_equal(a.dataset("Aggregated"), b.dataset("Aggregated"), check_exact=True)
    assert a.scores.index.dtype == "str"


def test_parquet_integer_years_checked_without_text(tmp_path):
    """Years stored as integers are read as they are: several years keyed apart (the same
    unit and indicator in two years is no duplicate), a repeat within a year located, an
    impossible year reported."""
    df = pd.DataFrame({"unit": ["A", "A", "B", "B"], "year": [2020, 2021, 2020, 2021],
                       "indicator": ["x"] * 4, "value": [1.0, 2, 3, 4]})
    df.to_parquet(tmp_path / "ok.parquet", index=False)
    got = read_index_data(tmp_path / "ok.parquet")
    assert got["year"].dtype == "Int64" and got["year"].tolist() == [2020, 2021, 2020, 2021]
    bad = df.assign(year=[2020, 2020, -5, 2021])
    bad.to_parquet(tmp_path / "bad.parquet", index=False)
    with pytest.raises(ValidationError) as e:
        read_index_data(tmp_path / "bad.parquet")
    text = str(e.value)
    assert "row 3, column 'indicator': duplicate key (unit A, indicator x, year 2020)" in text
    assert "row 4, column 'year': invalid year" in text


def test_duplicate_keys_are_located_when_the_cells_are_too_many_to_mark(tmp_path):
    """Sparse keys (every row its own unit and indicator: far more possible cells than
    rows) are checked by sorting instead of marking cells; a repeat is located all the
    same, and a table without one reads."""
    n = 200
    df = pd.DataFrame({"unit": [f"U{i}" for i in range(n)], "indicator": [f"i{i}" for i in range(n)],
                       "value": np.arange(n, dtype=float)})
    df.to_csv(tmp_path / "ok.csv", index=False)
    assert len(read_index_data(tmp_path / "ok.csv")) == n
    pd.concat([df, df.iloc[[150]]]).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(ValidationError, match=r"row 202, column 'indicator': duplicate key \(unit U150, indicator i150\)"):
        read_index_data(tmp_path / "dup.csv")
