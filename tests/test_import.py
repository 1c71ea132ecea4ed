"""Import of user data: layouts, formats and located errors for bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from humsec.data.importer import read_observations
from humsec.errors import ValidationError
from humsec.model.catalogue import Catalogue, Indicator

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
    _, msg = issues_of(bad)
    assert "UTF-8" in msg
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
