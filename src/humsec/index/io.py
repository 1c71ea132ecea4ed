"""Reading index input data: tidy ``unit, [year,] indicator, value`` files.

Unlike :func:`humsec.data.importer.read_observations` (which checks country codes and the
indicator catalogue for the store), index data may hold any unit codes (regions,
synthetic units, COINr examples) and any indicator codes: the spec says what is needed.
Every problem is reported with file, row and column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from humsec.data.importer import MISSING_MARKERS, _NUMBER, _read_raw
from humsec.errors import ValidationError, ValidationIssue

__all__ = ["read_index_data"]

_MAX = 200


def read_index_data(path: str | Path) -> pd.DataFrame:
    """Read an index data file (CSV/TSV/XLSX/Parquet), tidy or wide.

    A *wide* file has a ``unit`` column and one column per indicator (one cross-section,
    optionally a single-valued ``year`` column): the natural form for very many units
    (grid cells), built without the tidy round trip (see
    :func:`humsec.index.pipeline.build`).

    Parameters
    ----------
    path : str or Path
        File with columns ``unit``, ``indicator``, ``value`` and optionally ``year``
        (case-insensitive; ``iso3`` is accepted for ``unit``).

    Returns
    -------
    pandas.DataFrame
        Columns ``unit``, [``year`` (Int64),] ``indicator``, ``value`` (float, NaN for
        missing); rows with missing values are kept as NaN.

    Raises
    ------
    ValidationError
        Missing columns, empty unit/indicator, non-numeric or infinite values, invalid
        years, duplicate keys — all at once, each located (file, row, column).
    """
    path = Path(path)
    file = str(path)
    raw, _ = _read_raw(path, None)
    cols = {c.lower(): c for c in raw.columns}
    if "unit" not in cols and "iso3" in cols:
        cols["unit"] = cols["iso3"]
    if "unit" in cols and "indicator" not in cols and "value" not in cols and len(raw.columns) > 1:
        return _read_wide(raw, cols, file)
    missing = [c for c in ("unit", "indicator", "value") if c not in cols]
    if missing:
        raise ValidationError(ValidationIssue(
            f"missing column(s) {', '.join(missing)}: expected a tidy table with columns "
            f"unit, [year,] indicator, value (found: {', '.join(raw.columns)})", file=file, row=1))
    if raw.empty:
        raise ValidationError(ValidationIssue("the file has no data rows", file=file))
    issues: list[ValidationIssue] = []
    rows = np.arange(len(raw)) + 2  # header is row 1

    def add(msg: str, mask: pd.Series, col: str) -> None:
        for r in rows[mask.to_numpy()][: max(0, _MAX - len(issues))]:
            issues.append(ValidationIssue(msg, file=file, row=int(r), field=col))

    out = pd.DataFrame({"unit": raw[cols["unit"]].str.strip(),
                        "indicator": raw[cols["indicator"]].str.strip()})
    add("empty unit code: expected a unit identifier (e.g. an ISO3 code)", out["unit"] == "", cols["unit"])
    add("empty indicator code", out["indicator"] == "", cols["indicator"])
    if "year" in cols:
        ys = raw[cols["year"]].str.strip()
        ok = ys.str.fullmatch(r"\d{1,4}(\.0+)?") | (ys == "")
        add("invalid year: expected a whole number such as 2020 (or empty)", ~ok, cols["year"])
        out["year"] = pd.to_numeric(ys.where(ok & (ys != "")), errors="coerce").astype("Int64")
    vs = raw[cols["value"]].str.strip()
    miss = vs.str.lower().isin(MISSING_MARKERS)
    num = vs.str.fullmatch(_NUMBER.pattern)
    bad = ~miss & ~num
    for r, v in zip(rows[bad.to_numpy()][:_MAX], vs[bad][:_MAX]):
        issues.append(ValidationIssue(
            f"non-numeric value '{v}': expected a number with '.' as decimal point, or empty/NA",
            file=file, row=int(r), field=cols["value"]))
    values = pd.to_numeric(vs.where(num), errors="coerce")
    add("value is not finite", num & ~np.isfinite(values.fillna(0)), cols["value"])
    out["value"] = values.astype(float)
    keys = ["unit", "year", "indicator"] if "year" in out.columns else ["unit", "indicator"]
    dup = out.duplicated(keys, keep="first") & out.duplicated(keys, keep=False)
    if dup.any():
        for r, (_, row) in zip(rows[dup.to_numpy()][:50], out[dup].iterrows()):
            issues.append(ValidationIssue(
                f"duplicate key (unit {row['unit']}, indicator {row['indicator']}"
                + (f", year {row['year']}" if "year" in row else "") + "): expected one value per key",
                file=file, row=int(r), field=cols["indicator"]))
    if issues:
        raise ValidationError(issues)
    return out[["unit", *(["year"] if "year" in out.columns else []), "indicator", "value"]]


def _read_wide(raw: pd.DataFrame, cols: dict[str, str], file: str) -> pd.DataFrame:
    """A wide ``unit, <indicator>...`` table, every cell checked and located."""
    if raw.empty:
        raise ValidationError(ValidationIssue("the file has no data rows", file=file))
    issues: list[ValidationIssue] = []
    rows = np.arange(len(raw)) + 2
    ucol = cols["unit"]
    units = raw[ucol].str.strip()
    for r in rows[(units == "").to_numpy()][:_MAX]:
        issues.append(ValidationIssue("empty unit code: expected a unit identifier", file=file, row=int(r), field=ucol))
    dup = units.duplicated(keep="first") & (units != "")
    for r, u in zip(rows[dup.to_numpy()][:50], units[dup][:50]):
        issues.append(ValidationIssue(f"duplicate unit '{u}': expected one row per unit", file=file, row=int(r),
                                      field=ucol))
    out = {"unit": units}
    ycol = cols.get("year")
    for c in raw.columns:
        if c in (ucol, ycol):
            continue
        vs = raw[c].str.strip()
        miss = vs.str.lower().isin(MISSING_MARKERS)
        num = vs.str.fullmatch(_NUMBER.pattern)
        for r, v in zip(rows[(~miss & ~num).to_numpy()][: max(0, _MAX - len(issues))], vs[~miss & ~num]):
            issues.append(ValidationIssue(
                f"non-numeric value '{v}': expected a number with '.' as decimal point, or empty/NA",
                file=file, row=int(r), field=c))
        out[str(c).strip()] = pd.to_numeric(vs.where(num), errors="coerce").astype(float)
    if ycol is not None:
        ys = pd.to_numeric(raw[ycol].str.strip(), errors="coerce")
        if ys.dropna().nunique() > 1:
            issues.append(ValidationIssue("a wide file holds one year; found several: use a tidy "
                                          "unit, year, indicator, value file for panels", file=file, field=ycol))
    if issues:
        raise ValidationError(issues)
    return pd.DataFrame(out)
