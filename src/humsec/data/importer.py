"""Import of user data (CSV, TSV, Excel, Parquet; tidy or wide) with located validation.

Layouts recognised (``layout="auto"``):

``tidy``
    one row per observation: ``unit`` (or ``iso3``; or ``country`` names),
    ``year``, ``indicator``, ``value`` and optionally ``sex``, ``age``, ``group``.
``wide-years``
    ``unit``, ``indicator`` and one column per year (``1990``, ``1991`` …).
``wide``
    ``unit``, optional ``year``, then one column per indicator code.

Every problem found is reported at once, each with file, row (as numbered in the
file: the header is row 1) and column, and what was expected. Nothing is stored
unless the whole file is valid, and no cell becomes a missing value unless it is one of
the missing markers (empty, NA, ..): everything else is a number or a located error.
Files are read by :func:`humsec.data.readers.read_table` (size, row, cell and time
limits; encoding detection; zip-bomb check).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from humsec.data.readers import KINDS, Limits, read_table
from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.model.catalogue import Catalogue
from humsec.model.panel import DISAGG_KEYS, TOTAL, Panel, Provenance

MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "..", "null", "none", "-"})
UNIT_COLUMNS = ("unit", "iso3", "iso", "iso_code", "country_code", "code")
NAME_COLUMNS = ("country", "country_name", "name")
_SUBNATIONAL = re.compile(r"^([A-Z]{3})[-_.][A-Za-z0-9_.-]{1,32}$", re.ASCII)
_YEAR_COL = re.compile(r"^\d{4}$", re.ASCII)
_YEAR = re.compile(r"\d{1,4}(\.0+)?", re.ASCII)
#: A decimal number as the importer accepts it (ASCII digits after any-script digits are
#: mapped; optional sign, fraction and exponent): the one definition every reader uses.
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
#: Working columns of the importer; a file may not use these names.
_RESERVED = ("_row", "_field", "_unit_col", "_var", "_value")
ALLOWED_SEX = frozenset({TOTAL, "F", "M", "O"})
MAX_ISSUES = 500
SUFFIXES = KINDS


@dataclass(frozen=True)
class ImportResult:
    """What :func:`read_observations` found in a file."""

    panel: Panel
    layout: str
    file: str
    n_rows: int
    missing_dropped: int
    unit_names_matched: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None


def valid_iso3_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-3 codes (pycountry) plus Kosovo's widely used ``XKX``."""
    import pycountry  # local: see read_observations (CountryRegistry)

    return frozenset({c.alpha_3 for c in pycountry.countries} | {"XKX"})


def _read_raw(path: Path, sheet: str | None, file: str | None = None,
              limits: Limits | None = None) -> tuple[pd.DataFrame, str, list[int], str | None]:
    """Every cell as a string, through the guarded reader. Returns (frame, kind, file row
    number of each frame row, text encoding)."""
    t = read_table(path, sheet=sheet, label=file, **({"limits": limits} if limits else {}))
    return t.frame(), t.kind, t.row_numbers, t.encoding


class _DigitMap(dict):
    """``str.translate`` table of decimal digits of any script to ASCII, filled on demand
    (a table of all 1.1 M code points took 0.4 s at import); other characters map to
    themselves."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        out = str(unicodedata.digit(ch)) if unicodedata.category(ch) == "Nd" else ch
        self[code] = out
        return out


_DIGITS = _DigitMap()


def _ascii_digits(s: pd.Series) -> pd.Series:
    """Decimal digits of any script (Arabic-Indic ٢٠٢٠, Devanagari, full-width) as ASCII, so
    they are read as the numbers they are rather than rejected or lost."""
    if s.empty or not s.map(str.isascii).all():
        return s.map(lambda v: v if v.isascii() else v.translate(_DIGITS))
    return s


def _detect_layout(cols: list[str]) -> str:
    low = [c.lower() for c in cols]
    if "indicator" in low and "value" in low:
        return "tidy"
    if "indicator" in low and any(_YEAR_COL.match(c) for c in cols):
        return "wide-years"
    if "indicator" in low:
        return "tidy"  # reports the missing 'value' column
    return "wide"


def _to_long(df: pd.DataFrame, layout: str, file: str,
             rownums: list[int] | None = None) -> tuple[pd.DataFrame, list[ValidationIssue]]:
    """Bring any layout to tidy rows, keeping the file row number in ``_row``."""
    issues: list[ValidationIssue] = []
    df = df.copy()
    for c in df.columns:
        if c in _RESERVED:
            issues.append(ValidationIssue(
                f"column name '{c}' is reserved: rename the column", file=file, row=1, field=c))
    df.columns = [c if c.lower() not in ("unit", "year", "indicator", "value", *DISAGG_KEYS,
                                         *UNIT_COLUMNS, *NAME_COLUMNS) else c.lower()
                  for c in df.columns]
    dup_cols = pd.Index(df.columns)[pd.Index(df.columns).duplicated()].unique().tolist()
    for c in dup_cols:
        issues.append(ValidationIssue("column appears more than once", file=file, row=1, field=c))
    if dup_cols or issues:
        return pd.DataFrame(), issues
    df = df.reset_index(drop=True)
    df["_row"] = np.asarray(rownums) if rownums is not None else np.arange(2, len(df) + 2)
    unit_col = next((c for c in UNIT_COLUMNS if c in df.columns), None)
    name_col = next((c for c in NAME_COLUMNS if c in df.columns), None)
    if unit_col is None and name_col is None:
        issues.append(ValidationIssue(
            "missing the unit column: expected 'unit' (ISO3 codes) or 'country' (names)",
            file=file, row=1))
        return pd.DataFrame(), issues
    id_cols = [c for c in dict.fromkeys((*UNIT_COLUMNS, *NAME_COLUMNS)) if c in df.columns]
    if layout == "tidy":
        need = ["indicator", "value"]
        missing = [c for c in need if c not in df.columns]
        if missing:
            issues.append(ValidationIssue(
                f"missing column(s) {', '.join(missing)}: a tidy file needs unit, year, "
                "indicator, value", file=file, row=1))
            return pd.DataFrame(), issues
        long = df
    elif layout == "wide-years":
        year_cols = [c for c in df.columns if _YEAR_COL.match(c)]
        keep = [*id_cols, "indicator", *[k for k in DISAGG_KEYS if k in df.columns], "_row"]
        extra = [c for c in df.columns if c not in keep and c not in year_cols]
        for c in extra:
            issues.append(ValidationIssue(
                "unexpected column in a years-as-columns file: expected 4-digit years",
                file=file, row=1, field=c))
        long = df.melt(id_vars=keep, value_vars=year_cols, var_name="_var", value_name="_value")
        long = long.rename(columns={"_var": "year", "_value": "value"})
        long["_field"] = long["year"]
    else:  # wide: indicators as columns
        keys = [*id_cols, *[k for k in ("year", *DISAGG_KEYS) if k in df.columns], "_row"]
        ind_cols = [c for c in df.columns if c not in keys]
        if not ind_cols:
            issues.append(ValidationIssue(
                "no indicator columns: expected tidy columns unit,year,indicator,value or "
                "one column per indicator code", file=file, row=1))
            return pd.DataFrame(), issues
        long = df.melt(id_vars=keys, value_vars=ind_cols, var_name="_var", value_name="_value")
        long = long.drop(columns=[c for c in ("indicator", "value") if c in long.columns])
        long = long.rename(columns={"_var": "indicator", "_value": "value"})
        long["_field"] = long["indicator"]
    if long.empty:
        issues.append(ValidationIssue(f"no observations in a {layout} layout", file=file, row=1))
        return pd.DataFrame(), issues
    long = long.reset_index(drop=True)
    if "_field" not in long.columns:
        long["_field"] = "value"
    long["_unit_col"] = unit_col or name_col
    return long, issues


def read_observations(
    path: str | Path,
    catalogue: Catalogue,
    *,
    layout: str = "auto",
    sheet: str | None = None,
    year_range: tuple[int, int] = (1800, 2100),
    default_year: int | None = None,
    provenance: Provenance | None = None,
    registry=None,
    label: str | None = None,
    limits: Limits | None = None,
) -> ImportResult:
    """Read and validate a user data file into a :class:`~humsec.model.Panel`.

    Parameters
    ----------
    path : str or Path
        CSV/TSV, Excel (``.xlsx``) or Parquet file.
    catalogue : Catalogue
        Known indicators (the shipped catalogue merged with the user's entries).
    layout : {"auto", "tidy", "wide", "wide-years"}
    sheet : str, optional
        Excel sheet name (default: the first).
    year_range : (int, int)
        Inclusive range of acceptable years.
    default_year : int, optional
        Year for files without a year column (e.g. a one-year wide table).
    provenance : Provenance, optional
        Provenance recorded for every indicator in the file.
    registry : object, optional
        A country registry with ``match(names)`` used when the file has country
        names instead of codes.
    label : str, optional
        Name of the file in messages (default: ``path``), e.g. an upload's client name.
    limits : humsec.data.readers.Limits, optional
        Size, row, cell and time limits of the reader.

    Raises
    ------
    ValidationError
        Listing every problem with file, row and column.
    """
    path = Path(path)
    file = label or str(path)
    raw, _, rownums, encoding = _read_raw(path, sheet, file, limits)
    if raw.empty:
        raise ValidationError(ValidationIssue("the file has no data rows", file=file))
    if layout == "auto":
        layout = _detect_layout(list(raw.columns))
    elif layout not in ("tidy", "wide", "wide-years"):
        raise HumsecError(f"unknown layout '{layout}': expected auto, tidy, wide or wide-years")
    long, issues = _to_long(raw, layout, file, rownums)
    if long.empty:
        raise ValidationError(issues or ValidationIssue("no observations", file=file))

    def add(msg: str, rows, fld):
        for r in rows:
            if len(issues) >= MAX_ISSUES:
                return
            issues.append(ValidationIssue(msg, file=file, row=int(r), field=fld))

    # -- units -------------------------------------------------------------------------
    unit_col = long["_unit_col"].iloc[0]
    names_matched: dict[str, str] = {}
    units = long[unit_col].astype(str).str.strip()
    if unit_col in NAME_COLUMNS:
        if registry is None:
            # local: the registry (rapidfuzz, pycountry) only to match country names; the
            # data shell (humsec data ...) loads this module at start-up
            from humsec.data.countries import CountryRegistry

            registry = CountryRegistry.default()
        distinct = sorted(set(units) - {""})
        report = registry.match_many(distinct)
        names_matched = dict(report.matched)
        for name in report.unmatched:
            rows = long.loc[units == name, "_row"].unique()
            add(f"unknown country name '{name}': expected a country name or use ISO3 codes "
                "in a 'unit' column", rows[:3], unit_col)
        units = units.map(lambda n: names_matched.get(n, n))
    else:
        valid = valid_iso3_codes()
        up = units.str.upper()
        ok = up.isin(valid)
        sub = up.str.extract(_SUBNATIONAL)[0]
        ok |= sub.isin(valid) & units.str.match(_SUBNATIONAL.pattern)
        bad = ~ok
        for code in pd.unique(units[bad]):
            rows = long.loc[bad & (units == code), "_row"].unique()
            what = "empty unit code" if code == "" else f"unknown country code '{code}'"
            add(f"{what}: expected an ISO 3166-1 alpha-3 code such as 'KEN' "
                "(or ISO3-subunit for subnational data, e.g. 'KEN-01')", rows[:5], unit_col)
        units = up.where(ok & up.isin(valid), units)
    long["unit"] = units

    # -- years -------------------------------------------------------------------------
    if "year" in long.columns:
        ys = _ascii_digits(long["year"].astype(str).str.strip())
        is_int = ys.str.fullmatch(_YEAR).astype(bool)
        bad = ~is_int
        yfield = "year"
        for v in pd.unique(ys[bad]):
            rows = long.loc[bad & (ys == v), "_row"].unique()
            add(f"invalid year '{v}': expected a whole number such as 2020", rows[:5], yfield)
        yv = pd.Series([float(y) if ok else np.nan for y, ok in zip(ys, is_int)],
                       index=ys.index, dtype="float64")
        lo, hi = year_range
        out = is_int & ((yv < lo) | (yv > hi))
        for v in pd.unique(yv[out]):
            rows = long.loc[out & (yv == v), "_row"].unique()
            add(f"year {int(v)} out of range: expected {lo}–{hi}", rows[:5], yfield)
        long["year"] = yv
    elif default_year is not None:
        long["year"] = default_year
    else:
        issues.append(ValidationIssue(
            "missing the 'year' column: add one or pass a default year", file=file, row=1))
        long["year"] = np.nan

    # -- indicators --------------------------------------------------------------------
    inds = long["indicator"].astype(str).str.strip()
    long["indicator"] = inds
    unknown = ~inds.isin(catalogue.codes)
    for code in pd.unique(inds[unknown]):
        rows = long.loc[unknown & (inds == code), "_row"].unique()
        hint = ""
        close = difflib.get_close_matches(str(code), [str(c) for c in catalogue.codes], n=3)
        if close:
            hint = f" (did you mean {', '.join(close)}?)"
        msg = (f"unknown indicator '{code}': not in the catalogue{hint}; declare it in a "
               "catalogue YAML passed with --catalogue")
        if layout == "wide":
            add(msg, [1], code)
        else:
            add(msg, rows[:3], "indicator")

    # -- disaggregation keys -----------------------------------------------------------
    for key in DISAGG_KEYS:
        if key in long.columns:
            v = long[key].astype(str).str.strip().replace("", TOTAL)
            long[key] = v
            if key == "sex":
                bad = ~v.isin(ALLOWED_SEX)
                for code in pd.unique(v[bad]):
                    rows = long.loc[bad & (v == code), "_row"].unique()
                    add(f"invalid sex '{code}': expected F, M, O or _T (total)", rows[:5], "sex")
        else:
            long[key] = TOTAL

    # -- values ------------------------------------------------------------------------
    vs = _ascii_digits(long["value"].astype(str).str.strip())
    missing = vs.str.lower().isin(MISSING_MARKERS)
    numeric = vs.str.fullmatch(NUMBER).astype(bool) & ~missing
    bad = ~missing & ~numeric
    for idx in long.index[bad][:MAX_ISSUES]:
        add(f"non-numeric value '{vs[idx]}': expected a number with '.' as decimal point "
            "(no thousands separators), or empty/NA for missing",
            [long.at[idx, "_row"]], long.at[idx, "_field"])
    # Python's float(): correctly rounded, never NaN for a string matching NUMBER
    values = pd.Series([float(v) if ok else np.nan for v, ok in zip(vs, numeric)],
                       index=vs.index, dtype="float64")
    inf = numeric & ~np.isfinite(values.fillna(0))
    for idx in long.index[inf]:
        add(f"value {vs[idx][:30]!r} is not finite: expected a number of magnitude below 1.8e308",
            [long.at[idx, "_row"]], long.at[idx, "_field"])
    lost = numeric & values.isna()
    for idx in long.index[lost][:MAX_ISSUES]:  # must not happen: no value turns into NULL
        add(f"value {vs[idx][:30]!r} could not be read as a number",
            [long.at[idx, "_row"]], long.at[idx, "_field"])
    long["value"] = values
    # physical bounds from the catalogue
    for code in pd.unique(inds[~unknown]):
        ind = catalogue[code]
        if ind.valid_min is None and ind.valid_max is None:
            continue
        sel = (inds == code) & np.isfinite(values.fillna(0)) & values.notna()
        lo_b = -np.inf if ind.valid_min is None else ind.valid_min
        hi_b = np.inf if ind.valid_max is None else ind.valid_max
        oob = sel & ((values < lo_b) | (values > hi_b))
        for idx in long.index[oob][:20]:
            add(f"value {values[idx]:g} outside the possible range [{lo_b:g}, {hi_b:g}] of "
                f"'{code}' ({ind.unit})", [long.at[idx, "_row"]], long.at[idx, "_field"])

    # -- duplicates ----------------------------------------------------------------------
    keep = ~missing
    keycols = ["unit", "year", "indicator", *DISAGG_KEYS]
    dup = long[keep].duplicated(keycols, keep=False)
    if dup.any():
        dd = long[keep][dup]
        for _, grp in dd.groupby(keycols, sort=False):
            rows = grp["_row"].tolist()
            k = grp.iloc[0]
            add(f"duplicate observation for unit {k['unit']}, year "
                f"{'' if pd.isna(k['year']) else int(k['year'])}, indicator {k['indicator']}"
                f" (also in row(s) {', '.join(str(r) for r in rows[:1])})", rows[1:2],
                grp.iloc[0]["_field"] if layout != "tidy" else "indicator")
            if len(issues) >= MAX_ISSUES:
                break

    if issues:
        raise ValidationError(issues)
    data = long.loc[keep, keycols + ["value"]].copy()
    data["year"] = data["year"].astype("int64")
    if data.empty:
        raise ValidationError(ValidationIssue("the file has no non-missing values", file=file))
    prov = provenance or Provenance(
        source=f"user file {path.name}", accessed=_dt.date.today(),
        licence="unspecified (user data)")
    panel = Panel(data, {code: prov for code in data["indicator"].unique()})
    return ImportResult(panel=panel, layout=layout, file=file, n_rows=len(raw),
                        missing_dropped=int(missing.sum()), unit_names_matched=names_matched,
                        encoding=encoding)
