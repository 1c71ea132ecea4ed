"""Our World in Data grapher downloads (``Entity, Code, Year, <value column> ...``).

``Code`` is ISO3 for countries, ``OWID_*`` for OWID's own entities (``OWID_KOS`` is
Kosovo; ``OWID_WRL`` the world and the rest aggregates or historical states, dropped) and
empty for regions.

Series
------
The file path under the source folder, e.g. ``life-expectancy/life-expectancy.csv``.

Options
-------
column : str, optional
    The value column (default: the only column that is not ``Entity, Code, Year``, an
    ``...-annotations`` column or ``World regions according to OWID``).
"""

from __future__ import annotations

import pandas as pd

from humsec.data.release.readers._base import (CodeMapper, Extract, SourceFiles, read_csv, require_columns, tidy)
from humsec.errors import ValidationError, ValidationIssue

EXTRA = {"OWID_KOS": "XKX"}


def load(files: SourceFiles) -> dict:
    return {"files": files, "cache": {}}


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    files: SourceFiles = loaded["files"]
    file = files.label(series)
    if series not in loaded["cache"]:
        df = read_csv(files, series, keep_default_na=False, na_values=[""], dtype={"Code": str})
        require_columns(df, ["Entity", "Code", "Year"], file)
        loaded["cache"][series] = df
    df = loaded["cache"][series]
    col = options.get("column")
    if col is None:
        cand = [c for c in df.columns if c not in ("Entity", "Code", "Year")
                and not str(c).endswith("-annotations") and c != "World regions according to OWID"]
        if len(cand) != 1:
            raise ValidationError(ValidationIssue(f"expected one value column, found {cand}; set options.column",
                                                  file=file, row=1))
        col = cand[0]
    elif col not in df.columns:
        raise ValidationError(ValidationIssue(f"no column '{col}'", file=file, row=1, field=col))
    d = df[df["Code"].notna()]
    dropped = {"region (no Code)": int(df["Code"].isna().sum())} if df["Code"].isna().any() else {}
    drop = {c: "OWID aggregate or historical entity" for c in d["Code"].unique()
            if str(c).startswith("OWID_") and c not in EXTRA}
    unit, counts = codes.map(d["Code"], file=file, field="Code", drop=drop, extra=EXTRA,
                             rows=pd.Series(d.index + 2, index=d.index))
    dropped.update(counts)
    out = pd.DataFrame({"unit": unit, "year": d["Year"], "value": pd.to_numeric(d[col], errors="coerce")})
    return Extract(tidy(out[out["unit"].notna() & out["value"].notna()]), dropped)
