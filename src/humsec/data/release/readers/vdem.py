"""V-Dem high-level indices (``vdem_simple.parquet`` of the R package democracyData).

``country_text_id`` is V-Dem's code, ISO3 for present-day states. V-Dem codes some
polities of its own: ``PSG`` (Palestine/Gaza) and ``PSE`` (Palestine/West Bank) - the
release uses the West Bank series for Palestine and drops Gaza -, ``SML`` (Somaliland),
``ZZB`` (Zanzibar), and historical states (``DDR``, ``YMD`` ...), dropped by name.
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_parquet,
                                               require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue

DROP = {"PSG": "V-Dem polity Palestine/Gaza (the West Bank series PSE stands for Palestine)",
        "SML": "Somaliland (not a UN member; part of Somalia in ISO 3166)",
        "ZZB": "Zanzibar (part of Tanzania)", "DDR": "German Democratic Republic (historical)",
        "YMD": "South Yemen (historical)", "BAD": "Baden (historical)", "BAV": "Bavaria (historical)",
        "HAN": "Hanover (historical)", "HES": "Hesse (historical)", "MEC": "Mecklenburg (historical)",
        "NAP": "Two Sicilies (historical)", "PAM": "Papal States (historical)", "SAX": "Saxony (historical)",
        "TUS": "Tuscany (historical)", "WUR": "Württemberg (historical)", "MOD": "Modena (historical)",
        "PAR": "Parma (historical)", "PRU": "Prussia (historical)", "SAP": "Sardinia-Piedmont (historical)",
        "HEG": "Hesse-Grand Ducal (historical)", "HKK": "Hong Kong (historical V-Dem code)"}
FILE = "vdem_simple.parquet"


def load(files: SourceFiles) -> dict:
    file = files.label(FILE)
    df = read_parquet(files, FILE)
    require_columns(df, ["country_text_id", "year"], file)
    return {"data": df, "file": file}


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df = loaded["data"]
    if series not in df.columns:
        raise ValidationError(ValidationIssue(f"no column '{series}'", file=loaded["file"], row=1, field=series))
    first = int(options.get("first_year", 1990))
    d = df[df["year"] >= first]
    unit, dropped = codes.map(d["country_text_id"], file=loaded["file"], field="country_text_id", drop=DROP,
                              rows=pd.Series(d.index + 2, index=d.index))
    out = pd.DataFrame({"unit": unit, "year": d["year"], "value": pd.to_numeric(d[series], errors="coerce")})
    return Extract(tidy(out[out["unit"].notna() & out["value"].notna()]), dropped)
