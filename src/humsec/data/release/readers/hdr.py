"""UNDP HDR composite indices, complete time series (one wide CSV, ``<variable>_<YYYY>``).

The same parser serves the live connector (:func:`humsec.data.connectors.undp_hdr.read_wide`).
Aggregate rows (``ZZA.VHHD`` ... ``ZZK.WORLD``) are dropped.

Options
-------
sex : str
    Constant sex code for a one-sex variable (``le_f``: F).
"""

from __future__ import annotations

import re

import pandas as pd

from humsec.data.connectors.base import MalformedResponseError
from humsec.data.connectors.undp_hdr import read_wide
from humsec.data.release.readers._base import CodeMapper, Extract, SourceFiles, tidy
from humsec.errors import ValidationError, ValidationIssue


def load(files: SourceFiles) -> dict:
    name = next(n for n in files.names if n.endswith("time_series.csv"))
    file = files.label(name)
    try:
        df = read_wide(files.path(name).read_bytes())
    except MalformedResponseError as exc:
        raise ValidationError(ValidationIssue(str(exc), file=file, row=1)) from None
    return {"data": df, "file": file}


def extract(loaded: dict, series: str, options: dict, codes: CodeMapper) -> Extract:
    df = loaded["data"]
    pat = re.compile(rf"^{re.escape(series)}_(\d{{4}})$")
    cols = [c for c in df.columns if pat.match(str(c))]
    if not cols:
        raise ValidationError(ValidationIssue(f"no columns '{series}_YYYY'", file=loaded["file"], row=1))
    drop = {c: "HDR aggregate (HDI group, UNDP region or world)" for c in df["iso3"].dropna()
            if str(c).startswith("ZZ")}
    unit, dropped = codes.map(df["iso3"], file=loaded["file"], field="iso3", drop=drop)
    wide = df[cols].apply(pd.to_numeric, errors="coerce")
    wide.columns = [int(c[-4:]) for c in cols]
    wide["unit"] = unit
    long = wide[wide["unit"].notna()].melt(id_vars="unit", var_name="year", value_name="value")
    long = long[long["value"].notna()]
    return Extract(tidy(long, sex=options.get("sex", "_T")), dropped)
