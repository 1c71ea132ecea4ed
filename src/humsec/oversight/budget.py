"""Reading and validating budget files (CSV, TSV or Excel).

A budget file has one row per budget line with the columns ``programme, ministry,
amount, year, description`` and optionally ``currency`` and ``country`` (ISO3); the
last two may instead be given for the whole file. Column names are matched without
regard to case, spaces or a few common synonyms (``program``, ``department``,
``fiscal_year`` ...).

Every problem is reported at once with its location - file, row (as a spreadsheet shows
it: the header is row 1) and column - and nothing is imported from a file with problems.

An illustrative example ships with humsec (:func:`example_budget_path`,
``humsec budget import example``); ``humsec/oversight/examples/README.md`` lists the
columns.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pycountry

from humsec.data.countries import CountryRegistry
from humsec.data.readers import read_table
from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.oversight.models import BudgetLine

__all__ = ["BudgetFile", "REQUIRED", "example_budget_path", "parse_amount", "read_budget"]

REQUIRED = ("programme", "ministry", "amount", "year", "description")
OPTIONAL = ("currency", "country")
_ALIASES = {
    "program": "programme", "programme_name": "programme", "program_name": "programme",
    "department": "ministry", "agency": "ministry", "ministry_agency": "ministry",
    "fiscal_year": "year", "fy": "year", "budget_year": "year",
    "allocation": "amount", "appropriation": "amount",
    "iso3": "country", "country_code": "country", "unit": "country",
}
#: Accepted budget years: from this year to five years after the current one.
MIN_YEAR = 1990
_PLAIN = re.compile(r"^[+]?\d+(\.\d+)?$")
_THOUSANDS = re.compile(r"^[+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_EXCEL = (".xlsx", ".xlsm")


def example_budget_path() -> Path:
    """The shipped illustrative budget (``humsec/oversight/examples/budget_example.csv``:
    16 lines, PHL, 2023-2024, invented round amounts in PHP)."""
    return Path(str(resources.files("humsec.oversight") / "examples" / "budget_example.csv"))


class BudgetFile:
    """A validated budget file: its lines, content hash and (display) name."""

    __slots__ = ("lines", "sha256", "name")

    def __init__(self, lines: list[BudgetLine], sha256: str, name: str):
        self.lines = lines
        self.sha256 = sha256
        self.name = name

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([ln.model_dump() for ln in self.lines])


def parse_amount(value: Any) -> float:
    """A non-negative amount from a number or text (``1250000``, ``1,250,000.50``).

    Raises
    ------
    ValueError
        With a message saying what is wrong (missing, malformed, negative, not finite).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ValueError("missing amount")
    if isinstance(value, bool):
        raise ValueError(f"malformed amount {value!r}: expected a number")
    if isinstance(value, (int, float)):
        f = float(value)
    else:
        s = str(value).strip().replace("\u00a0", "").replace(" ", "")
        if not s:
            raise ValueError("missing amount")
        neg = s.startswith("-") or (s.startswith("(") and s.endswith(")"))
        body = s.strip("()").lstrip("-")
        if _PLAIN.fullmatch(body):
            f = float(body)
        elif _THOUSANDS.fullmatch(body):
            f = float(body.replace(",", ""))
        else:
            raise ValueError(f"malformed amount {str(value)!r}: expected a number such as 1250000 or "
                             "1,250,000.50 (no currency signs; '.' for decimals)")
        f = -f if neg else f
    if not math.isfinite(f):
        raise ValueError(f"malformed amount {value!r}: not a finite number")
    if f < 0:
        raise ValueError(f"negative amount {value!r}: budget lines must be >= 0 (record cuts as a lower "
                         "allocation, not a negative one)")
    return f


def _year(value: Any, today: _dt.date) -> int:
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "":
        raise ValueError("missing year")
    s = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        s = str(int(value))
    if not re.fullmatch(r"\d{4}", s):
        raise ValueError(f"malformed year {s!r}: expected a four-digit year")
    y = int(s)
    if not MIN_YEAR <= y <= today.year + 5:
        raise ValueError(f"year {y} out of range {MIN_YEAR}-{today.year + 5}")
    return y


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _currency(code: str) -> str | None:
    c = code.strip().upper()
    return c if len(c) == 3 and pycountry.currencies.get(alpha_3=c) is not None else None


def _display_name(path: Path) -> str:
    """The file's base name with control characters removed (never a path)."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", path.name)[:200]


def read_budget(path: str | Path, *, country: str | None = None, currency: str | None = None,
                sheet: str | int | None = None, today: _dt.date | None = None,
                known_units: frozenset[str] | None = None) -> BudgetFile:
    """Read and validate a budget file.

    Parameters
    ----------
    path : str or Path
        CSV, TSV or Excel (.xlsx) file.
    country, currency : str, optional
        ISO3 country and ISO 4217 currency for lines (or files) that do not state them.
    sheet : str or int, optional
        Excel sheet (default: the first).
    today : datetime.date, optional
        For the range check of years.
    known_units : frozenset of str, optional
        Accepted ISO3 codes (default: the country registry).

    Returns
    -------
    BudgetFile

    Raises
    ------
    ValidationError
        Every problem with file, row and column.
    """
    today = today or _dt.date.today()
    path = Path(path)
    if not path.is_file():
        raise HumsecError(f"no budget file '{path}'")
    name = _display_name(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if known_units is None:
        known_units = CountryRegistry.default().codes
    suffix = path.suffix.lower()
    if suffix not in (*_EXCEL, ".csv", ".tsv", ".txt"):
        raise HumsecError(f"{name}: unsupported budget file type '{suffix}' (use .csv, .tsv or .xlsx)")
    # the guarded reader (size/row/cell limits, encoding, zip-bomb check, located errors)
    table = read_table(path, sheet=sheet, label=name)
    df = table.frame()
    rownums = table.row_numbers
    issues: list[ValidationIssue] = []
    cols: dict[str, str] = {}
    for c in df.columns:
        key = re.sub(r"[^a-z0-9]+", "_", str(c).strip().lower()).strip("_")
        key = _ALIASES.get(key, key)
        if key in cols:
            issues.append(ValidationIssue(f"column '{c}' repeats '{cols[key]}'", file=name, row=1, field=str(c)))
        cols.setdefault(key, c)
    for req in REQUIRED:
        if req not in cols:
            issues.append(ValidationIssue(f"missing column '{req}' (found: {', '.join(map(str, df.columns))})",
                                          file=name, row=1, field=req))
    if "country" not in cols and country is None:
        issues.append(ValidationIssue("missing column 'country' (or give the country of the whole file)",
                                      file=name, row=1, field="country"))
    default_country = country.strip().upper() if country else None
    if default_country is not None and default_country not in known_units:
        issues.append(ValidationIssue(f"unknown country '{country}': expected an ISO3 code", file=name,
                                      field="country"))
    default_currency = None
    if currency is not None:
        default_currency = _currency(currency)
        if default_currency is None:
            issues.append(ValidationIssue(f"unknown currency '{currency}': expected an ISO 4217 code",
                                          file=name, field="currency"))
    if issues:
        raise ValidationError(issues)
    if df.empty:
        raise ValidationError(ValidationIssue("the file holds no budget lines", file=name))
    lines: list[BudgetLine] = []
    for i, rec in enumerate(df.to_dict("records")):
        row = rownums[i]
        get = lambda k: rec.get(cols[k]) if k in cols else None  # noqa: E731
        bad: list[ValidationIssue] = []
        programme, ministry = _text(get("programme")), _text(get("ministry"))
        if all(_text(v) == "" for v in rec.values()):
            continue  # blank line
        for k, v in (("programme", programme), ("ministry", ministry)):
            if not v:
                bad.append(ValidationIssue(f"missing {k}", file=name, row=row, field=str(cols[k])))
        amount = year = None
        try:
            amount = parse_amount(get("amount"))
        except ValueError as exc:
            bad.append(ValidationIssue(str(exc), file=name, row=row, field=str(cols["amount"])))
        try:
            year = _year(get("year"), today)
        except ValueError as exc:
            bad.append(ValidationIssue(str(exc), file=name, row=row, field=str(cols["year"])))
        ctry = _text(get("country")).upper() or default_country
        if not ctry:
            bad.append(ValidationIssue("missing country", file=name, row=row, field=str(cols.get("country", "country"))))
        elif ctry not in known_units:
            bad.append(ValidationIssue(f"unknown country '{ctry}': expected an ISO3 code", file=name, row=row,
                                       field=str(cols.get("country", "country"))))
        cur_raw = _text(get("currency"))
        cur = _currency(cur_raw) if cur_raw else default_currency
        if cur_raw and cur is None:
            bad.append(ValidationIssue(f"unknown currency '{cur_raw}': expected an ISO 4217 code such as PHP",
                                       file=name, row=row, field=str(cols["currency"])))
        if bad or amount is None or year is None or not ctry:  # no issue: all three are set
            issues.extend(bad)
            continue
        lines.append(BudgetLine(row=row, programme=programme, ministry=ministry, amount=amount, year=year,
                                description=_text(get("description")), currency=cur or "", country=ctry))
    if issues:
        raise ValidationError(issues)
    return BudgetFile(lines, digest, name)
