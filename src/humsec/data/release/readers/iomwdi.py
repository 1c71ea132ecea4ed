"""World Bank WDI subset of the IOM R package gdidata (``wdi.parquet``: ``geo, var, t, v``).

``geo`` is ISO3 (plus World Bank aggregate codes, dropped), ``var`` the package's short
variable name (``unem`` = SL.UEM.TOTL.ZS, ILO modelled unemployment).
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_parquet,
                                               require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue

FILE = "wdi.parquet"
#: World Bank aggregate and pseudo codes in WDI (regions, income groups, demographic groups).
AGGREGATES = {"AFE", "AFW", "ARB", "CEB", "CSS", "EAP", "EAR", "EAS", "ECA", "ECS", "EMU", "EUU", "FCS",
              "HIC", "HPC", "IBD", "IBT", "IDA", "IDB", "IDX", "INX", "LAC", "LCN", "LDC", "LIC", "LMC",
              "LMY", "LTE", "MEA", "MIC", "MNA", "NAC", "OED", "OSS", "PRE", "PSS", "PST", "SAS", "SSA",
              "SSF", "SST", "TEA", "TEC", "TLA", "TMN", "TSA", "TSS", "UMC", "WLD", "CHI", "EAR"}


def load(files: SourceFiles) -> dict:
    file = files.label(FILE)
    df = read_parquet(files, FILE)
    require_columns(df, ["geo", "var", "t", "v"], file)
    return {"data": df, "file": file}


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df = loaded["data"]
    d = df[df["var"] == series]
    if d.empty:
        raise ValidationError(ValidationIssue(f"variable '{series}' not found", file=loaded["file"], field="var"))
    drop = {c: "World Bank aggregate" for c in AGGREGATES}
    drop["CHI"] = "Channel Islands (no ISO 3166-1 code)"
    unit, dropped = codes.map(d["geo"].astype(str), file=loaded["file"], field="geo", drop=drop)
    out = pd.DataFrame({"unit": unit, "year": d["t"], "value": pd.to_numeric(d["v"], errors="coerce")})
    return Extract(tidy(out[out["unit"].notna() & out["value"].notna()]), dropped)
