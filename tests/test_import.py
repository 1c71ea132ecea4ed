"""Import of user data: layouts, formats and located errors for bad input."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from humsec.data.importer import read_observations
from humsec.errors import ValidationError
from humsec.model.catalogue import Catalogue, Indicator

REPO = Path(__file__).resolve().parents[1]

CAT = Catalogue([
    Indicator(code="u5mr", name="Under-5 mortality", unit="per 1,000", dimension="health",
              direction=-1, source="t", licence="CC0", valid_min=0, valid_max=1000),
    Indicator(code="gdp_pc", name="GDP per capita", unit="USD", dimension="economic",
              direction=1, source="t", licence="CC0", valid_min=0),
    Indicator(code="homicide", name="Homicide rate", unit="per 100,000", dimension="personal",
              direction=-1, source="t", licence="CC0"),
])


def write(tmp_path, text, name="data.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def issues_of(path, **kw):
    with pytest.raises(ValidationError) as ei:
        read_observations(path, CAT, **kw)
    return ei.value.issues, str(ei.value)


def test_tidy_csv(tmp_path):
    p = write(tmp_path, "unit,year,indicator,value\nKEN,2020,u5mr,41.2\nken,2021,u5mr,NA\nFRA,2020,gdp_pc,39000\n")
    r = read_observations(p, CAT)
    assert r.layout == "tidy" and r.missing_dropped == 1
    df = r.panel.data
    assert set(df["unit"]) == {"KEN", "FRA"}
    assert df.loc[df["unit"] == "KEN", "value"].item() == 41.2


def test_wide_indicator_columns_and_wide_years(tmp_path):
    p = write(tmp_path, "iso3,year,u5mr,gdp_pc\nKEN,2020,41.2,2000\nFRA,2020,3.9,\n")
    r = read_observations(p, CAT)
    assert r.layout == "wide" and len(r.panel) == 3
    p2 = write(tmp_path, "unit,indicator,2019,2020\nKEN,u5mr,43,41.2\n", "wy.csv")
    r2 = read_observations(p2, CAT)
    assert r2.layout == "wide-years" and r2.panel.years == [2019, 2020]


def test_excel_and_parquet(tmp_path):
    df = pd.DataFrame({"unit": ["KEN", "FRA"], "year": [2020, 2020], "indicator": ["u5mr", "u5mr"],
                       "value": [41.2, 3.9]})
    df.to_excel(tmp_path / "d.xlsx", index=False, sheet_name="data")
    df.to_parquet(tmp_path / "d.parquet")
    a = read_observations(tmp_path / "d.xlsx", CAT, sheet="data").panel
    b = read_observations(tmp_path / "d.parquet", CAT).panel
    assert a.content_hash() == b.content_hash() and len(a) == 2
    issues, msg = issues_of(tmp_path / "d.xlsx", sheet="nope")
    assert "no sheet named 'nope'" in msg and "data" in msg


def test_subnational_units_allowed(tmp_path):
    p = write(tmp_path, "unit,year,indicator,value\nKEN-01,2020,u5mr,50\nKEN-02,2020,u5mr,30\n")
    assert read_observations(p, CAT).panel.units == ["KEN-01", "KEN-02"]


BAD_CASES = [
    # (id, file text, expected row, expected field, message fragment)
    ("unknown_country", "unit,year,indicator,value\nKEN,2020,u5mr,1\nXYZ,2020,u5mr,2\n",
     3, "unit", "unknown country code 'XYZ'"),
    ("empty_country", "unit,year,indicator,value\n,2020,u5mr,1\n", 2, "unit", "empty unit code"),
    ("non_numeric", "unit,year,indicator,value\nKEN,2020,u5mr,abc\n", 2, "value", "non-numeric value 'abc'"),
    ("thousands_sep", 'unit,year,indicator,value\nKEN,2020,gdp_pc,"1,234"\n', 2, "value", "no thousands separators"),
    ("duplicate_key", "unit,year,indicator,value\nKEN,2020,u5mr,1\nKEN,2020,u5mr,2\n", 3, "indicator", "duplicate observation"),
    ("unknown_indicator", "unit,year,indicator,value\nKEN,2020,u5mrr,1\n", 2, "indicator", "unknown indicator 'u5mrr'"),
    ("year_out_of_range", "unit,year,indicator,value\nKEN,1700,u5mr,1\n", 2, "year", "year 1700 out of range"),
    ("year_not_integer", "unit,year,indicator,value\nKEN,20x0,u5mr,1\n", 2, "year", "invalid year '20x0'"),
    ("value_out_of_bounds", "unit,year,indicator,value\nKEN,2020,u5mr,-5\n", 2, "value", "outside the possible range"),
    ("infinite", "unit,year,indicator,value\nKEN,2020,u5mr,1e999\n", 2, "value", "not finite"),
    ("bad_sex", "unit,year,indicator,sex,value\nKEN,2020,u5mr,X,1\n", 2, "sex", "invalid sex 'X'"),
    ("missing_unit_col", "place,year,indicator,value\nKEN,2020,u5mr,1\n", 1, None, "missing the unit column"),
    ("missing_value_col", "unit,year,indicator\nKEN,2020,u5mr\n", 1, None, "missing column(s) value"),
    ("only_keys", "unit,year\nKEN,2020\n", 1, None, "no indicator columns"),
    ("wide_unknown_col", "unit,year,u5mr,foo\nKEN,2020,1,2\n", 1, "foo", "unknown indicator 'foo'"),
    ("missing_year", "unit,indicator,value\nKEN,u5mr,1\n", 1, None, "missing the 'year' column"),
]


@pytest.mark.parametrize("case", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_input_located_error(tmp_path, case):
    _, text, row, fld, fragment = case
    p = write(tmp_path, text)
    issues, msg = issues_of(p)
    match = [i for i in issues if fragment in i.message]
    assert match, msg
    assert match[0].file == str(p)
    assert match[0].row == row
    if fld is not None:
        assert match[0].field == fld
    assert str(p) in msg and f"row {row}" in msg


def test_all_problems_reported_at_once(tmp_path):
    p = write(tmp_path, "unit,year,indicator,value\nXYZ,2020,u5mr,1\nKEN,2020,nope,2\nKEN,2021,u5mr,abc\n")
    issues, _ = issues_of(p)
    assert {i.row for i in issues} == {2, 3, 4}


def test_file_level_errors(tmp_path):
    _, msg = issues_of(write(tmp_path, "x", "data.json"))
    assert "unsupported file type '.json'" in msg
    _, msg = issues_of(tmp_path / "missing.csv")
    assert "file not found" in msg
    _, msg = issues_of(write(tmp_path, "unit,year,indicator,value\n"))
    assert "no data rows" in msg
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("unit,year,indicator,value\nKEN,2020,u5mr,1\nCIV,2020,u5mr,\xe9\n".encode("latin-1"))
    issues, msg = issues_of(bad)  # not UTF-8: read as Windows-1252, the cell is located
    assert [(i.row, i.field) for i in issues] == [(3, "value")] and "non-numeric value 'é'" in msg
    names = tmp_path / "names.csv"
    names.write_bytes("country,year,u5mr\nCôte d'Ivoire,2020,58\nRéunion,2020,5\n".encode("cp1252"))
    r = read_observations(names, CAT)
    assert r.encoding == "cp1252" and set(r.panel.units) == {"CIV", "REU"}
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("unit,year,indicator,value\nKEN,2020,u5mr,41\n".encode("utf-16"))
    assert read_observations(utf16, CAT).encoding.startswith("utf-16")
    bom_bad = tmp_path / "bombad.csv"
    bom_bad.write_bytes(b"\xef\xbb\xbfunit,year,indicator,value\nKEN,2020,u5mr,\xff\n")
    _, msg = issues_of(bom_bad)
    assert "bombad.csv, row 2: cannot decode the file: byte 0xff on line 2" in msg
    _, msg = issues_of(write(tmp_path, "not excel", "fake.xlsx"))
    assert "cannot read the file as excel" in msg


def test_country_registry_keeps_the_csv_field_limit_local():
    """Building the registry imports hdx -> frictionless, which raised csv.field_size_limit
    for the whole process (a 20 MB cell was then read everywhere)."""
    import csv

    from humsec.data.countries import CountryRegistry, _hdx

    before = csv.field_size_limit()
    _hdx()
    CountryRegistry.default()
    assert csv.field_size_limit() == before


# -- #22: the crash families and silent losses found by mutating valid files -------------
CRASH_CASES = [
    # (id, file text, row, column, fragment of the message)
    ("short-row", "unit,year,indicator,value\nKEN,2020,u5mr,41\nFRA,2020\n", 3, "indicator",
     "2 field(s): expected 4"),
    ("long-row", "unit,year,indicator,value\nKEN,2020,u5mr,41,7\n", 2, "#5", "5 fields: expected 4"),
    ("wide-value-column", "unit,year,u5mr,value\nKEN,2020,41,3\n", 1, "value", "unknown indicator 'value'"),
    ("wide-forced-on-tidy", "unit,year,indicator,value\nKEN,2020,u5mr,41\n", 1, "indicator",
     "unknown indicator 'indicator'"),
    ("reserved-name", "unit,year,indicator,value,_row\nKEN,2020,u5mr,41,x\n", 1, "_row", "reserved"),
    ("dup-value-column", "unit,year,indicator,value,value\nKEN,2020,u5mr,41,43\n", 1, "value",
     "more than once"),
    ("dup-case-insensitive", "unit,year,indicator,Value,value\nKEN,2020,u5mr,41,43\n", 1, "value",
     "more than once"),
    ("huge-cell", "unit,year,indicator,value\nKEN,2020,u5mr," + "9" * 5000 + "\n", 2, "value",
     "cell of 5,000 characters"),
    # the csv module's field limit or, when an imported library (frictionless) raised that
    # process-wide limit, the reader's own cell limit: a located error either way
    ("20MB-cell", "unit,year,indicator,value\nKEN,2020,u5mr," + "1" * (20 * 2**20) + "\n", 2, None,
     "characters: expected"),
    ("digits-beyond-float", "unit,year,indicator,value\nKEN,2020,homicide," + "9" * 400 + "\n", 2,
     "value", "not finite"),
    ("arabic-decimal-separator", "unit,year,indicator,value\nKEN,2020,u5mr,٤١٫٢\n", 2, "value",
     "non-numeric value"),
    ("superscript-year", "unit,year,indicator,value\nKEN,²⁰²⁰,u5mr,41\n", 2, "year", "invalid year"),
    ("wide-years-forced-no-years", "unit,indicator,x\nKEN,u5mr,1\n", 1, "x", "unexpected column"),
]


@pytest.mark.parametrize("case", CRASH_CASES, ids=[c[0] for c in CRASH_CASES])
def test_crash_families_are_located_errors(tmp_path, case):
    cid, text, row, fld, fragment = case
    p = write(tmp_path, text)
    kw = {"layout": "wide"} if cid == "wide-forced-on-tidy" else {}
    if cid == "wide-years-forced-no-years":
        kw = {"layout": "wide-years"}
    issues, msg = issues_of(p, **kw)
    hit = [i for i in issues if fragment in i.message]
    assert hit, msg
    assert hit[0].file == str(p) and hit[0].row == row and (fld is None or hit[0].field == fld), msg


def test_unicode_digits_are_read_as_numbers_not_null(tmp_path):
    # Arabic-Indic and full-width digits: before #22 the year crashed and the value became NULL
    p = write(tmp_path, "unit,year,indicator,value\nKEN,٢٠٢٠,u5mr,٤١\nFRA,２０２０,u5mr,３.９\n")
    df = read_observations(p, CAT).panel.data.set_index("unit")
    assert df.loc["KEN", "year"] == 2020 and df.loc["KEN", "value"] == 41.0
    assert df.loc["FRA", "year"] == 2020 and df.loc["FRA", "value"] == 3.9


def test_nan_like_indicator_names_get_a_hint_not_a_crash(tmp_path):
    # parquet None/NaN indicator names were NaN in the close-match hint
    df = pd.DataFrame({"unit": ["KEN", "KEN"], "year": [2020, 2021], "indicator": [None, "u5mrr"],
                       "value": [1.0, 2.0]})
    df.to_parquet(tmp_path / "n.parquet")
    _, msg = issues_of(tmp_path / "n.parquet")
    assert "unknown indicator ''" in msg and "did you mean u5mr" in msg


def test_parquet_duplicate_index_and_nan_values(tmp_path):
    df = pd.DataFrame({"unit": ["KEN", "FRA"], "year": [2020, 2020], "indicator": ["u5mr", "u5mr"],
                       "value": [41.0, float("nan")]}, index=[7, 7])   # duplicate index
    df.to_parquet(tmp_path / "d.parquet")
    r = read_observations(tmp_path / "d.parquet", CAT)
    assert len(r.panel) == 1 and r.missing_dropped == 1


def test_no_value_becomes_null_without_an_error(tmp_path):
    """Every non-missing cell is stored as its number or reported."""
    rng = __import__("numpy").random.default_rng(22)
    vals = [f"{v:.6g}" for v in rng.normal(50, 20, 300)] + ["1e-300", "-0", "+7", ".5", "5."]
    rows = "".join(f"KEN,{1700 + i},homicide,{v}\n" for i, v in enumerate(vals))
    p = write(tmp_path, "unit,year,indicator,value\n" + rows)
    r = read_observations(p, CAT, year_range=(1700, 2100))
    got = r.panel.data.sort_values("year")["value"].tolist()
    assert got == [float(v) for v in vals]


def test_reader_limits_are_located(tmp_path):
    from humsec.data.readers import Limits

    p = write(tmp_path, "unit,year,indicator,value\n" + "KEN,2020,u5mr,1\n" * 20)
    issues, msg = issues_of(p, limits=Limits(max_rows=10))
    assert "more than 10 data rows" in msg and issues[-1].row == 12
    issues, msg = issues_of(p, limits=Limits(max_bytes=100))
    assert "expected at most 100" in msg
    wide = write(tmp_path, ",".join(["unit", *[f"c{i}" for i in range(30)]]) + "\n", "w.csv")
    _, msg = issues_of(wide, limits=Limits(max_columns=20))
    assert "31 columns: expected at most 20" in msg


def test_label_names_the_file_in_errors(tmp_path):
    p = write(tmp_path, "unit,year,indicator,value\nXXX,2020,u5mr,1\n")
    issues, _ = issues_of(p, label="my upload.csv")
    assert issues[0].file == "my upload.csv"


def _bombs():
    """The bomb builders of ``benchmarks/bench_bombs.py`` (one copy for the tests and the
    benchmark)."""
    spec = importlib.util.spec_from_file_location("bench_bombs", REPO / "benchmarks" / "bench_bombs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def xlsx_bomb(path, inflated=300 * 2**20):
    return _bombs().xlsx_bomb(path, inflated, 1)


def test_xlsx_zip_bomb_is_rejected_from_the_zip_directory(tmp_path):
    """(How fast: ``benchmarks/bench_bombs.py``.)"""
    bomb = xlsx_bomb(tmp_path / "bomb.xlsx")
    issues, msg = issues_of(bomb)
    assert "inflates to" in msg and "zip bomb" in msg and issues[0].file == str(bomb)


def test_xlsx_inflation_ratio_rejects_a_bomb_under_the_size_cap_not_a_real_sheet(tmp_path):
    """A sheet deflated 70:1 is a bomb even under ``max_uncompressed`` (it took 43 s and
    450 MB to read); a pandas workbook (~10:1) over the same floor is read."""
    from humsec.data.readers import Limits, read_table

    limits = Limits(inflation_floor=2**20)
    bomb = xlsx_bomb(tmp_path / "bomb.xlsx", inflated=4 * 2**20)
    with pytest.raises(ValidationError) as e:
        read_table(bomb, limits=limits)
    msg = str(e.value)
    assert "xl/worksheets/sheet1.xml inflates" in msg and "expected at most 25-fold" in msg
    assert e.value.issues[0].file == str(bomb)
    n = 30_000
    real = tmp_path / "real.xlsx"
    pd.DataFrame({"unit": ["KEN", "FRA", "IND"] * (n // 3), "year": 2020, "indicator": "u5mr",
                  "value": 1.0}).to_excel(real, index=False)
    assert len(read_table(real, limits=limits).rows) == n
    # the same sheet passes under the default floor however compressible
    assert len(read_table(bomb).rows) > 0


def _dictionary_parquet(path, rows, text):
    return _bombs().parquet_dictionary(path, rows, text)


def test_parquet_dictionary_bomb_is_rejected_before_decoding(tmp_path):
    """190 kB of dictionary-encoded Parquet that decodes to 1.6 GB of text (it took 7 s and
    1.7 GB to read): rejected from the encoded columns."""
    bomb = _dictionary_parquet(tmp_path / "bomb.parquet", 100_000, "A" * 4_000)
    assert bomb.stat().st_size < 400_000
    issues, msg = issues_of(bomb)
    assert "decodes to 1,600,000,000 bytes of text" in msg and "bomb" in msg
    assert issues[0].file == str(bomb)


def test_parquet_overlong_cell_names_its_column(tmp_path):
    from humsec.data.readers import read_table

    path = _dictionary_parquet(tmp_path / "long.parquet", 3, "B" * 5_000)
    with pytest.raises(ValidationError) as e:
        read_table(path)
    assert "column 'unit' holds a cell of 5,000 characters: expected at most 4,096" in str(e.value)
    ok = _dictionary_parquet(tmp_path / "ok.parquet", 1_000, "KEN")
    assert len(read_table(ok).rows) == 1_000


def test_xlsx_streaming_caps_and_declared_dimension(tmp_path):
    import openpyxl

    from humsec.data.readers import Limits

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["unit", "year", "indicator", "value"])
    for y in range(2000, 2030):
        ws.append(["KEN", y, "u5mr", 40.5])
    ws["Z1000"].number_format = "0.00"  # a formatted empty cell far away: no data there
    wb.save(tmp_path / "w.xlsx")
    r = read_observations(tmp_path / "w.xlsx", CAT)
    assert len(r.panel) == 30 and r.panel.data["value"].eq(40.5).all()
    issues, msg = issues_of(tmp_path / "w.xlsx", limits=Limits(max_rows=10))
    assert "more than 10 data rows" in msg and issues[-1].row == 12
    ws["AB5"] = 7  # a value beyond the header
    wb.save(tmp_path / "w2.xlsx")
    issues, msg = issues_of(tmp_path / "w2.xlsx")
    assert (issues[0].row, issues[0].field) == (5, "#5") and "28 fields: expected 4" in msg
