"""UN World Population Prospects 2024, population by sex x 5-year age group (5-year steps).

The file ``population.csv.gz`` of the PyPI package ``bokeh-sampledata``: ``LocID`` (UN
M49), ``Location``, ``Year``, ``Sex`` (Male/Female), ``AgeGrp`` (``0-4`` ... ``100+``),
``Value`` (persons). Locations with M49 codes of 900 and above are WPP aggregates (world,
regions, income groups) and are dropped; Kosovo is not separate in WPP.

Series
------
``population`` (by sex and age) or ``population_total``.
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_csv, require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue

SEX = {"Male": "M", "Female": "F"}


def load(files: SourceFiles) -> dict:
    name = files.names[0]
    file = files.label(name)
    df = read_csv(files, name, dtype={"Sex": str, "AgeGrp": str, "Location": str})
    require_columns(df, ["LocID", "Location", "Year", "Sex", "AgeGrp", "Value"], file)
    bad = ~df["Sex"].isin(list(SEX))
    if bad.any():
        i = int(df.index[bad][0])
        raise ValidationError(ValidationIssue(f"unexpected Sex '{df.at[i, 'Sex']}' (expected Male or Female)",
                                              file=file, row=i + 2, field="Sex"))
    return {"data": df, "file": file}


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df = loaded["data"]
    drop = {str(c): "WPP aggregate (world, region or income group)" for c in df["LocID"].unique() if int(c) >= 900}
    ids = df["LocID"].astype(int).astype(str)
    unit, dropped = codes.map(ids.str.zfill(3).where(~ids.isin(list(drop)), ids), file=loaded["file"],
                              field="LocID", drop=drop, rows=pd.Series(df.index + 2, index=df.index),
                              extra={"412": "XKX"})
    d = pd.DataFrame({"unit": unit, "year": df["Year"], "sex": df["Sex"].map(SEX), "age": df["AgeGrp"],
                      "value": df["Value"].astype("float64")})
    d = d[d["unit"].notna()]
    if series == "population":
        return Extract(tidy(d), dropped)
    if series == "population_total":
        return Extract(tidy(d.groupby(["unit", "year"], as_index=False)["value"].sum()), dropped)
    raise ValidationError(ValidationIssue(f"unknown series '{series}' (population, population_total)",
                                          file=loaded["file"]))
