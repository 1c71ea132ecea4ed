"""UN DESA International Migrant Stock 2024, bilateral (``undesa_stocks.parquet`` of IOM gdidata).

``geo`` destination, ``from`` origin (ISO3), ``sex`` (``female``/``male``), ``n`` persons,
``t`` year (1990, 1995 ... 2020, 2024).

Series
------
``immigrants`` (stock living in ``geo``) or ``emigrants`` (stock born in / citizens of
``from`` living abroad).
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_parquet,
                                               require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue

DROP = {"UNK": "origin unknown", "XXA": "stateless", "ZZZ": "other/unknown",
        "XCX": "Channel Islands (no ISO 3166-1 code)", "XKS": "Sark (no ISO 3166-1 code)"}
FILE = "undesa_stocks.parquet"


def load(files: SourceFiles) -> dict:
    file = files.label(FILE)
    df = read_parquet(files, FILE)
    require_columns(df, ["geo", "t", "from", "sex", "n"], file)
    return {"data": df, "file": file}


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df = loaded["data"]
    col = {"immigrants": "geo", "emigrants": "from"}.get(series)
    if col is None:
        raise ValidationError(ValidationIssue(f"unknown series '{series}' (immigrants, emigrants)",
                                              file=loaded["file"]))
    unit, dropped = codes.map(df[col].astype(str), file=loaded["file"], field=col, drop=DROP)
    d = pd.DataFrame({"unit": unit, "year": df["t"].astype("int64"), "value": pd.to_numeric(df["n"], errors="coerce")})
    d = d[d["unit"].notna()]
    return Extract(tidy(d.groupby(["unit", "year"], as_index=False)["value"].sum()), dropped)
