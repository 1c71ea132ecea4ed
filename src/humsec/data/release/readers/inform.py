"""INFORM Risk Index national trends (``CountryName, Iso3, GNAYear, IndicatorId, IndicatorScore``).

``IndicatorId``: ``INFORM`` (risk), ``HA`` (hazard & exposure), ``VU`` (vulnerability),
``CC`` (lack of coping capacity), each 0-10 (10 = highest risk). ``GNAYear`` is the INFORM
edition year.
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_csv, require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue

FILE = "inform_risk_index_trends.csv"


def load(files: SourceFiles) -> dict:
    file = files.label(FILE)
    df = read_csv(files, FILE, dtype={"Iso3": str, "IndicatorId": str})
    require_columns(df, ["Iso3", "GNAYear", "IndicatorId", "IndicatorScore"], file)
    return {"data": df, "file": file}


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df = loaded["data"]
    d = df[df["IndicatorId"] == series]
    if d.empty:
        raise ValidationError(ValidationIssue(f"IndicatorId '{series}' not found", file=loaded["file"],
                                              field="IndicatorId"))
    unit, dropped = codes.map(d["Iso3"], file=loaded["file"], field="Iso3",
                              rows=pd.Series(d.index + 2, index=d.index))
    out = pd.DataFrame({"unit": unit, "year": d["GNAYear"], "value": pd.to_numeric(d["IndicatorScore"], errors="coerce")})
    return Extract(tidy(out[out["unit"].notna() & out["value"].notna()]), dropped)
