"""World Bank Worldwide Governance Indicators, long layout of the 2024 revision.

Columns ``code, countryname, year, indicator (va pv ge rq rl cc), estimate, stddev,
nsource, pctrank ...``. ``code`` is the World Bank economy code: ISO3 except the legacy
codes ``ADO ZAR KSV ROM TMP WBG`` (mapped by the country registry) and ``ANT`` (the former
Netherlands Antilles, dropped).

Options
-------
column : str, default ``estimate``
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_csv, require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue

DROP = {"ANT": "Netherlands Antilles (dissolved 2010)"}
FILE = "wgi_2024_long.csv"


def load(files: SourceFiles) -> dict:
    file = files.label(FILE)
    df = read_csv(files, FILE, dtype={"code": str, "indicator": str}, keep_default_na=False,
                     na_values=[""])
    require_columns(df, ["code", "countryname", "year", "indicator", "estimate"], file)
    return {"data": df, "file": file}


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df = loaded["data"]
    col = options.get("column", "estimate")
    if col not in df.columns:
        raise ValidationError(ValidationIssue(f"no column '{col}'", file=loaded["file"], row=1, field=col))
    d = df[df["indicator"] == series]
    if d.empty:
        raise ValidationError(ValidationIssue(f"indicator '{series}' not found", file=loaded["file"],
                                              field="indicator"))
    unit, dropped = codes.map(d["code"], file=loaded["file"], field="code", drop=DROP,
                              rows=pd.Series(d.index + 2, index=d.index))
    out = pd.DataFrame({"unit": unit, "year": d["year"], "value": pd.to_numeric(d[col], errors="coerce")})
    return Extract(tidy(out[out["unit"].notna() & out["value"].notna()]), dropped)
