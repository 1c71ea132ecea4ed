"""UN Global SDG Indicators Database, long table (``sdg_long.parquet`` + ``geo_area.csv``).

One row per series x geo area (M49) x year x disaggregation. Country rows carry an ISO3
code (``geo_area.csv``); regions and groups (World ``1``, SDG regions, LDC ``199`` ...)
and sub-national or historical areas have none and are dropped as aggregates. Values
the database publishes as text (``<2.5``, ``>95``) are in ``value_raw``; the recipe says
which of them stand for a number (``censored``), anything else text is dropped.

Options
-------
sex : mapping, default ``{bothsex: _T, notspec: _T, female: F, male: M}``
    SDG sex codes kept and their panel codes (``{female: _T}`` for female-only series).
age : mapping, optional
    SDG age codes kept and their panel codes (default: totals - ``allage``, ``notspec``,
    or the series' only age).
location : list, default ``[allarea, notspec]``
where : mapping
    Other dimension -> required value(s) (``null`` = must be empty).
censored : mapping
    ``value_raw`` text -> number (``{"<2.5": 2.5}``).
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_csv, read_parquet,
                                               require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue

DEFAULT_SEX = {"bothsex": "_T", "notspec": "_T", "female": "F", "male": "M"}
TOTAL_AGES = ("allage", "notspec")
_CORE = ["series", "geo_area", "iso3", "year", "value", "value_raw", "sex", "age", "location", "units"]


def load(files: SourceFiles) -> dict:
    data = files.label("sdg_long.parquet")
    df = read_parquet(files, "sdg_long.parquet")
    require_columns(df, _CORE, data)
    areas = read_csv(files, "geo_area.csv", dtype={"iso3": str})
    require_columns(areas, ["geo_area", "name", "iso3", "is_country"], files.label("geo_area.csv"))
    return {"data": df, "areas": areas, "file": data}


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df = loaded["data"]
    file = loaded["file"]
    d = df[df["series"] == series]
    if d.empty:
        raise ValidationError(ValidationIssue(f"series '{series}' not found", file=file, field="series"))
    d = d.copy()
    for col in d.columns:  # categorical code columns -> plain strings (None stays missing)
        if isinstance(d[col].dtype, pd.CategoricalDtype):
            d[col] = d[col].astype(object).where(d[col].notna(), None)
    dropped: dict[str, int] = {}
    sexmap = dict(options.get("sex", DEFAULT_SEX))
    d = d[d["sex"].isna() | d["sex"].isin(list(sexmap))]
    ages = options.get("age")
    if ages is None:
        present = set(d["age"].dropna().unique())
        keep_ages = [a for a in TOTAL_AGES if a in present] or (sorted(present) if len(present) == 1 else [])
        if present and not keep_ages:
            raise ValidationError(ValidationIssue(
                f"series '{series}' has several age groups ({', '.join(sorted(present)[:8])}) and no total; "
                "the recipe must choose with options.age", file=file, field="age"))
        agemap = {a: "_T" for a in keep_ages}
    else:
        agemap = dict(ages)
    if agemap:
        d = d[d["age"].isna() | d["age"].isin(list(agemap))]
    locs = options.get("location", ["allarea", "notspec"])
    d = d[d["location"].isna() | d["location"].isin(locs)]
    for col, want in (options.get("where") or {}).items():
        if col not in d.columns:
            raise ValidationError(ValidationIssue(f"series '{series}': no dimension column '{col}'",
                                                  file=file, field=col))
        if want is None:
            d = d[d[col].isna()]
        else:
            d = d[d[col].isin(want if isinstance(want, list) else [want])]
    value = d["value"].copy()
    cens = options.get("censored") or {}
    if cens:
        for text, num in cens.items():
            value = value.mask(value.isna() & (d["value_raw"] == text), float(num))
    text_only = value.isna() & d["value_raw"].notna()
    if text_only.any():
        for t, n in d.loc[text_only, "value_raw"].value_counts().sort_index().items():
            dropped[f"value '{t}' (not a number)"] = int(n)
    d = d.assign(value=value)[value.notna()]
    country = d["iso3"].notna()
    if (~country).any():
        dropped["aggregate or non-country area (no ISO3)"] = int((~country).sum())
    d = d[country]
    unit, counts = codes.map(d["iso3"], file=file, field="iso3")
    dropped.update(counts)
    out = pd.DataFrame({
        "unit": unit, "year": d["year"].astype("int64"),
        "sex": d["sex"].map(sexmap).fillna("_T"),
        "age": d["age"].map(agemap).fillna("_T") if agemap else "_T",
        "value": d["value"]})
    out = out[out["unit"].notna()]
    dup = out.duplicated(["unit", "year", "sex", "age"], keep=False)
    if dup.any():
        rest = [c for c in d.columns if c not in _CORE and d.loc[dup[dup].index, c].nunique() > 1]
        units = sorted(set(d.loc[dup[dup].index, "units"].dropna()))
        raise ValidationError(ValidationIssue(
            f"series '{series}' has several values per country, year and sex after filtering; "
            f"they differ in {', '.join(rest) or 'no other column'}"
            f"{' (units: ' + ', '.join(units) + ')' if len(units) > 1 else ''}: add options.where",
            file=file, field="series"))
    return Extract(tidy(out), dropped)
