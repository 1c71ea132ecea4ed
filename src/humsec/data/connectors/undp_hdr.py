"""UNDP Human Development Report composite indices, complete time series (one CSV file).

The file (``HDR23-24_Composite_indices_complete_time_series.csv`` for the 2023/24
edition, documented in the accompanying ``..._metadata.xlsx``) is wide: one row per
country or aggregate (``iso3``, ``country``, ``hdicode``, ``region``) and one column per
variable and year, named ``<variable>_<YYYY>`` (``hdi_1990`` ... ``hdi_2022``,
``le_f_2022``, ``gii_rank_2022``). It starts with a UTF-8 byte-order mark; empty cells are
missing values; aggregate rows have pseudo-codes starting with ``ZZ``. HDR re-estimates
the whole series each edition, so every edition is a new vintage of every year.
"""

from __future__ import annotations

import io
import re

import pandas as pd

from humsec.data.connectors.base import MalformedResponseError, Page, Query, Request, SourceSpec

_EDITION = re.compile(r"HDR(\d{2})-(\d{2})_")


def plan(spec: SourceSpec, query: Query) -> list[Request]:
    return [Request(spec.base_url, note="one file for all indicators; resumable download",
                    context={"codes": list(query.codes)})]


def edition_of(url_or_name: str, default: str = "") -> str:
    """``"2023/2024"`` from a file name such as ``HDR23-24_Composite_...csv``."""
    m = _EDITION.search(url_or_name)
    return f"20{m.group(1)}/20{m.group(2)}" if m else default


def read_wide(content: bytes) -> pd.DataFrame:
    """The file as published (strings for the static columns, floats for the rest)."""
    try:
        df = pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", dtype={"iso3": str},
                         keep_default_na=False, na_values=[""], low_memory=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise MalformedResponseError(f"the HDR file is not a readable CSV: {exc}") from None
    if "iso3" not in df.columns:
        raise MalformedResponseError(
            "the HDR file lacks the documented 'iso3' column (first columns: "
            f"{', '.join(map(str, df.columns[:5]))})")
    return df


def parse(spec: SourceSpec, content: bytes, request: Request) -> Page:
    df = read_wide(content)
    codes = request.context.get("codes") or list(spec.indicators)
    frames = []
    for code in codes:
        pat = re.compile(rf"^{re.escape(code)}_(\d{{4}})$")
        cols = [c for c in df.columns if pat.match(str(c))]
        if not cols:
            continue
        long = df[["iso3", *cols]].melt(id_vars="iso3", var_name="column", value_name="value")
        long["year"] = long["column"].str[-4:].astype(int)
        long["code"] = code
        frames.append(long.drop(columns="column").rename(columns={"iso3": "area"}))
    if not frames:
        return Page([], edition=edition_of(request.url, spec.edition))
    out = pd.concat(frames, ignore_index=True)
    out = out[out["value"].notna()]
    return Page(out.to_dict("records"), edition=edition_of(request.url, spec.edition))
