"""UNHCR Refugee Data Finder tables (``population.parquet`` stocks, ``flows.parquet`` flows).

Every table is an origin (``coo_iso``) x asylum (``coa_iso``) x year matrix of persons.
Absent pairs are implicit zeros, so country totals are zero-filled for every country that
appears in the table. ``UNK`` (origin unknown) and ``XXA`` (stateless) are pseudo-origins:
they count in the totals of the country *hosting* them and are dropped from origin totals
and from the bilateral matrix. End-2025 figures are mid-year: the recipe cuts stocks at 2024.

Series
------
``table:col1+col2``, e.g. ``population:refugees+asylum_seekers+oip``.

Options
-------
by : {coo, coa}
    Total per country of origin or of asylum.
zero_fill : bool, default True
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_parquet,
                                               require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue

PSEUDO = {"UNK": "UNHCR pseudo-code: origin unknown or various", "XXA": "UNHCR pseudo-code: stateless",
          "UKN": "UNHCR pseudo-code: origin unknown or various", "STA": "UNHCR pseudo-code: stateless",
          "TIB": "UNHCR code for Tibetan refugees (no ISO 3166-1 code)"}
KEYS = ["year", "coo_iso", "coa_iso"]


def load(files: SourceFiles) -> dict:
    out = {}
    for name in files.names:
        if not name.endswith(".parquet"):
            continue
        file = files.label(name)
        df = read_parquet(files, name)
        require_columns(df, KEYS, file)
        out[name.removesuffix(".parquet")] = (df, file)
    return out


def _table(loaded: dict, series: str) -> tuple[pd.DataFrame, str, list[str]]:
    table, _, cols = series.partition(":")
    if table not in loaded:
        raise ValidationError(ValidationIssue(f"series '{series}': no table '{table}' (have: "
                                              f"{', '.join(sorted(k for k in loaded if not k.startswith('_')))})"))
    df, file = loaded[table]
    cols_l = [c for c in cols.split("+") if c]
    missing = [c for c in cols_l if c not in df.columns]
    if missing or not cols_l:
        raise ValidationError(ValidationIssue(f"expected column(s) {', '.join(missing or ['<none given>'])}",
                                              file=file, row=1))
    return df, file, cols_l


def _sides(loaded: dict, table: str, codes: CodeMapper) -> dict[str, tuple[pd.Series, dict[str, int]]]:
    """Both code columns of a table mapped to ISO3 once (``coo_iso``/``coa_iso`` -> (units,
    rows dropped per reason)); every series and the matrix reuse them."""
    cache = loaded.setdefault("_sides", {})
    if table not in cache:
        df, file = loaded[table]
        cache[table] = {f: codes.map(df[f], file=file, field=f, drop=PSEUDO) for f in ("coo_iso", "coa_iso")}
    return cache[table]


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df, file, cols = _table(loaded, series)
    by = options.get("by", "coo")
    # both sides are mapped (and so validated: a typo on the other side would silently
    # vanish from the matrix)
    sides = _sides(loaded, series.partition(":")[0], codes)
    unit, dropped = sides[f"{by}_iso"]
    vals = df[cols].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    d = pd.DataFrame({"unit": unit, "year": df["year"].astype("int64"), "value": vals})
    d = d[d["unit"].notna()]
    tot = d.groupby(["unit", "year"], as_index=False)["value"].sum()
    if options.get("zero_fill", True):
        # a country absent from the matrix in a year it already appears in has no one
        # displaced (implicit zero); before its first appearance it may not have existed
        years = sorted(tot["year"].unique())
        seen = pd.concat([pd.DataFrame({"unit": sides[f][0], "year": df["year"]}) for f in ("coo_iso", "coa_iso")])
        first = seen.dropna().groupby("unit")["year"].min()
        full = pd.MultiIndex.from_tuples([(u, y) for u, y0 in first.items() for y in years if y >= y0],
                                         names=["unit", "year"])
        tot = tot.set_index(["unit", "year"]).reindex(full, fill_value=0.0).reset_index()
    return Extract(tidy(tot), dict(dropped))


def matrix(loaded: dict, codes: CodeMapper, *, first_year: int, until: int | None) -> pd.DataFrame:
    """The bilateral matrix ``origin, asylum, year, measure, population_type, value`` (persons;
    ``measure`` = ``stock`` from population, ``flow`` from flows; zeros and pseudo-codes left out)."""
    frames = []
    for table, measure in (("population", "stock"), ("flows", "flow")):
        if table not in loaded:
            continue
        df, _ = loaded[table]
        sides = _sides(loaded, table, codes)
        o, a = sides["coo_iso"][0], sides["coa_iso"][0]
        types = [c for c in ("refugees", "refugee_like", "asylum_seekers", "oip", "idps", "returned_refugees",
                             "stateless")
                 if c in df.columns]
        base = pd.DataFrame({"origin": o, "asylum": a, "year": df["year"].astype("int64")})
        for t in types:
            v = pd.to_numeric(df[t], errors="coerce")
            f = base.assign(measure=measure, population_type=t, value=v.astype("float64"))
            frames.append(f[f["origin"].notna() & f["asylum"].notna() & (f["value"] > 0)])
    out = pd.concat(frames, ignore_index=True)
    out = out[(out["year"] >= first_year) & ((out["year"] <= until) if until else True)]
    out = out.groupby(["origin", "asylum", "year", "measure", "population_type"], as_index=False)["value"].sum()
    return out.sort_values(["measure", "population_type", "origin", "asylum", "year"]).reset_index(drop=True)
