"""UCDP Country-Year Dataset on Organized Violence within Country Borders (v25.1 layout).

One row per Gleditsch-Ward state and year, deaths by the country where they occurred
(``sb_`` state-based, ``ns_`` non-state, ``os_`` one-sided, ``cumulative_`` all three).
States are mapped to ISO3 by their UCDP names through the country registry (historical
names in parentheses - "Yemen (North Yemen)" - are resolved by the registry's matcher),
with :data:`GW_ISO3` for codes whose names do not say it. Deaths in Gaza and the West Bank
are coded by UCDP to Israel (666): the release keeps UCDP's coding and says so.
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_csv, require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue

#: Gleditsch-Ward codes mapped explicitly (successor states, names the matcher must not read).
GW_ISO3 = {2: "USA", 260: "DEU", 345: "SRB", 347: "XKX", 365: "RUS", 490: "COD", 484: "COG",
           678: "YEM", 816: "VNM", 731: "PRK", 732: "KOR", 811: "KHM", 775: "MMR", 572: "SWZ",
           580: "MDG", 552: "ZWE", 990: "WSM", 713: "TWN", 666: "ISR", 626: "SSD", 625: "SDN"}
#: Historical Gleditsch-Ward states without a present-day ISO3 code: their rows are dropped.
GW_DROP = {315: "Czechoslovakia (dissolved 1993)", 265: "German Democratic Republic (until 1990)",
           680: "South Yemen (until 1990)", 817: "Republic of Vietnam (until 1975)"}
KEYS = ["country_id_cy", "country_cy", "year_cy"]


def load(files: SourceFiles) -> dict:
    name = files.names[0]
    file = files.label(name)
    df = read_csv(files, name, low_memory=False)
    require_columns(df, KEYS, file)
    return {"data": df, "file": file}


def gw_map(df: pd.DataFrame, codes: CodeMapper, file: str) -> dict[int, str]:
    names = df.drop_duplicates("country_id_cy")[["country_id_cy", "country_cy"]]
    out: dict[int, str] = {}
    todo = []
    for gw, name in zip(names["country_id_cy"].astype(int), names["country_cy"].astype(str)):
        if gw in GW_ISO3:
            out[gw] = GW_ISO3[gw]
        elif gw in GW_DROP:
            continue
        else:
            todo.append((gw, name))
    if todo:
        rep = codes.registry.match([n for _, n in todo]).mapping
        bad = []
        for gw, name in todo:
            iso = rep.get(name) or rep.get(name.split(" (")[0])
            if iso is None:
                iso = codes.registry.match(name.split(" (")[0])
            if iso is None:
                bad.append((gw, name))
            else:
                out[gw] = iso
        if bad:
            raise ValidationError([ValidationIssue(
                f"UCDP state {gw} '{name}' matches no country; add it to GW_ISO3 with its ISO3 code",
                file=file, row=int(df.index[df["country_id_cy"] == gw][0]) + 2, field="country_id_cy")
                for gw, name in bad])
    return out


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df = loaded["data"]
    if series not in df.columns:
        raise ValidationError(ValidationIssue(f"no column '{series}'", file=loaded["file"], row=1,
                                              field=series))
    if "gw" not in loaded:
        loaded["gw"] = gw_map(df, codes, loaded["file"])
    gw = df["country_id_cy"].astype(int)
    out = pd.DataFrame({"unit": gw.map(loaded["gw"]),
                        "year": df["year_cy"], "value": pd.to_numeric(df[series], errors="coerce")})
    gone = gw.isin(list(GW_DROP))
    dropped = {f"GW {c}: {GW_DROP[c]}": int(n) for c, n in gw[gone].value_counts().sort_index().items()}
    out = out[~gone]
    if out["value"].isna().any():
        bad = out.index[out["value"].isna()][0]
        raise ValidationError(ValidationIssue(f"'{df.at[bad, series]}' is not a number of deaths",
                                              file=loaded["file"], row=int(bad) + 2, field=series))
    dup = out.duplicated(["unit", "year"], keep=False)
    if dup.any():  # two historical GW states on one ISO3 in the same year
        raise ValidationError(ValidationIssue(
            f"two UCDP states map to {out.loc[dup, 'unit'].iloc[0]} in {out.loc[dup, 'year'].iloc[0]}",
            file=loaded["file"], field="country_id_cy"))
    return Extract(tidy(out), dropped)
