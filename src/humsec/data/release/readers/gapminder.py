"""Gapminder Systema Globalis, long table (``sg_long.parquet``: ``geo, time, indicator, value``).

``geo`` is Gapminder's lower-case id; ISO3 comes from ``geo_country.csv``
(``iso3166_1_alpha3``). Gapminder's own entities without an ISO code (Abkhazia,
Somaliland, Serbia excluding Kosovo ...) are dropped by name; ``kos`` is Kosovo (``XKX``).

Options
-------
sex, age, group : str
    Constant disaggregation codes for a one-sex series (``life_expectancy_female``: F).
sum_of : list of str
    Build the series as the sum of these indicators (present in the same geo-year).
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_csv, read_parquet,
                                               require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue


def load(files: SourceFiles) -> dict:
    file = files.label("sg_long.parquet")
    df = read_parquet(files, "sg_long.parquet")
    require_columns(df, ["geo", "time", "indicator", "value"], file)
    geo = read_csv(files, "geo_country.csv", dtype=str, keep_default_na=False)
    require_columns(geo, ["country", "name", "iso3166_1_alpha3"], files.label("geo_country.csv"))
    iso = {r.country: (r.iso3166_1_alpha3 or "").upper() for r in geo.itertuples()}
    iso["kos"] = "XKX"
    names = dict(zip(geo["country"], geo["name"]))
    return {"data": df, "iso": iso, "names": names, "file": file}


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df = loaded["data"]
    if options.get("sum_of"):  # a total made of parts (female + male population)
        names = list(options["sum_of"])
        parts = df[df["indicator"].isin(names)]
        missing = [n for n in names if n not in set(parts["indicator"])]
        if missing:
            raise ValidationError(ValidationIssue(f"indicator(s) {', '.join(missing)} not found",
                                                  file=loaded["file"], field="indicator"))
        wide = parts.pivot_table(index=["geo", "time"], columns="indicator", values="value", aggfunc="first")
        d = wide[names].dropna().sum(axis=1).rename("value").reset_index().assign(indicator=series)
    else:
        d = df[df["indicator"] == series]
    if d.empty:
        raise ValidationError(ValidationIssue(f"indicator '{series}' not found", file=loaded["file"],
                                              field="indicator"))
    iso = d["geo"].map(loaded["iso"])
    drop = {}
    for g in d.loc[iso.isna() | (iso == ""), "geo"].unique():
        if g in loaded["names"]:
            drop[g] = f"Gapminder entity without an ISO code ({loaded['names'][g]})"
    raw = iso.where(iso.notna() & (iso != ""), d["geo"])
    unit, dropped = codes.map(raw, file=loaded["file"], field="geo", drop=drop)
    out = pd.DataFrame({"unit": unit, "year": d["time"], "value": d["value"]})
    out = out[out["unit"].notna() & out["value"].notna()]
    return Extract(tidy(out, sex=options.get("sex", "_T"), age=options.get("age", "_T"),
                        group=options.get("group", "_T")), dropped)
