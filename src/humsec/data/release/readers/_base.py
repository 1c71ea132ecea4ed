"""What every release reader shares: the source's files, located errors, country codes.

A *reader* is a small module with two functions::

    load(files: SourceFiles) -> Any
        Read and check the source's files once (columns present, types as documented).
    extract(loaded, series: str, options: dict, codes: CodeMapper) -> Extract
        The observations of one series: ``unit, year, sex, age, group, value``.

Readers never guess: a code that is neither a country known to the registry nor listed
as an aggregate / historical / pseudo code stops the build with a located error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from humsec.errors import ValidationError, ValidationIssue
from humsec.model.panel import TOTAL

__all__ = ["CodeMapper", "Extract", "SourceFiles", "file_sha256", "read_csv", "read_parquet", "require_columns",
           "tidy"]

OUT_COLUMNS = ("unit", "year", "sex", "age", "group", "value")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class SourceFiles:
    """The files of one source under the release's source directory."""

    source_id: str
    root: Path
    names: tuple[str, ...]

    def path(self, name: str) -> Path:
        if name not in self.names:
            raise KeyError(f"{name} is not declared for source {self.source_id}")
        return self.root / name

    def label(self, name: str) -> str:
        return str(self.root / name)

    def missing(self) -> list[str]:
        return [n for n in self.names if not (self.root / n).is_file()]


@dataclass
class Extract:
    """Observations of one series and what was left out (reason -> number of rows)."""

    frame: pd.DataFrame
    dropped: dict[str, int] = field(default_factory=dict)


def read_csv(files: SourceFiles, name: str, **kwargs) -> pd.DataFrame:
    """A publisher's CSV file; a file that does not parse is a located error, not a traceback."""
    path = files.path(name)
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        row = None
        m = __import__("re").search(r"line (\d+)", str(exc))
        if m:
            row = int(m.group(1))
        raise ValidationError(ValidationIssue(f"not a readable CSV file ({str(exc).splitlines()[0]})",
                                              file=files.label(name), row=row)) from None


def read_parquet(files: SourceFiles, name: str, **kwargs) -> pd.DataFrame:
    """A publisher's Parquet file; a damaged file is a located error, not a traceback."""
    try:
        return pd.read_parquet(files.path(name), **kwargs)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise ValidationError(ValidationIssue(f"not a readable Parquet file ({str(exc).splitlines()[0]})",
                                              file=files.label(name))) from None


def require_columns(df: pd.DataFrame, columns: Iterable[str], file: str) -> None:
    """A changed column layout is a located error naming the missing columns."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValidationError(ValidationIssue(
            f"expected column(s) {', '.join(missing)} (found: {', '.join(map(str, list(df.columns)[:12]))}"
            f"{' ...' if len(df.columns) > 12 else ''}); the publisher's layout may have changed",
            file=file, row=1))


def tidy(df: pd.DataFrame, *, sex=TOTAL, age=TOTAL, group=TOTAL) -> pd.DataFrame:
    """``df`` (``unit, year, value`` and optional disaggregations) in reader output form."""
    out = df.copy()
    for col, default in (("sex", sex), ("age", age), ("group", group)):
        if col not in out.columns:
            out[col] = default
    years = pd.to_numeric(out["year"], errors="coerce")
    bad = years.isna() | (years != years.round())
    if bad.any():
        raise ValueError(f"year {out.loc[bad, 'year'].iloc[0]!r} is not a whole number "
                         f"(source row {int(out.index[bad][0]) + 2} of a CSV file, counting the header as row 1)")
    out["year"] = years.astype("int64")
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype("float64")
    return out[list(OUT_COLUMNS)]


class CodeMapper:
    """Country codes of a source -> ISO3 units of the release, never guessed.

    Parameters
    ----------
    registry : CountryRegistry
        Known ISO3 codes (plus Kosovo ``XKX``) and legacy codes (``ROM``, ``ZAR`` ...).
    """

    def __init__(self, registry):
        # local: ~11 ms CPU at import, only when a release is built; this package loads on
        # every store's first use (humsec.data.default)
        import pycountry

        self.registry = registry
        self._codes = registry.codes
        #: ISO 3166-3 codes of former countries (ANT, SCG, YUG, SUN ...): dropped, named.
        #: Legacy codes of present-day states used by publishers (World Bank ZAR, TMP, ROM, KSV ...);
        #: they win over ISO 3166-3, which lists ZAR and TMP as former countries.
        self.legacy = dict(registry.legacy_codes)
        self.historic = {c.alpha_3: f"former country (ISO 3166-3): {c.name}"
                         for c in pycountry.historic_countries
                         if c.alpha_3 not in self._codes and c.alpha_3 not in self.legacy}

    def map(self, codes: pd.Series, *, file: str, field: str, drop: Mapping[str, str] | None = None,
            rows: pd.Series | None = None, extra: Mapping[str, str] | None = None) -> tuple[pd.Series, dict[str, int]]:
        """Map source codes to ISO3.

        Parameters
        ----------
        codes : Series of str
        drop : mapping code -> reason
            Codes that are known not to be countries of the release (aggregates,
            historical states, pseudo codes): mapped to NA, counted per reason.
        rows : Series of int, optional
            File row numbers (for the error message); default: position + 2 (CSV header).
        extra : mapping code -> ISO3
            Source-specific codes (``OWID_KOS`` -> ``XKX``).

        Returns
        -------
        (Series, dict)
            ISO3 codes (NA where dropped) and the number of rows dropped per reason.

        Raises
        ------
        ValidationError
            Codes that are neither known nor declared in ``drop``, located by file, row
            and field.
        """
        drop = dict(drop or {})
        extra = dict(extra or {})
        uniq = pd.Series(codes.dropna().astype(str).unique())
        table: dict[str, str | None] = {}
        bad = []
        for c in uniq:
            key = c.strip()
            if key in extra:
                table[c] = extra[key]
            elif key in drop:
                table[c] = None
            elif key.upper() in self._codes:
                table[c] = key.upper()
            elif key.upper() in self.legacy:  # publishers' codes for present states (ZAR, TMP, ROM ...)
                table[c] = self.legacy[key.upper()]
            elif key in self.historic:
                drop[key] = self.historic[key]
                table[c] = None
            else:
                try:
                    table[c] = self.registry.to_iso3(key)  # ISO2, numeric (M49) codes
                except Exception:
                    bad.append(c)
        if bad:
            issues = []
            where = rows if rows is not None else pd.Series(range(2, len(codes) + 2), index=codes.index)
            for c in sorted(bad)[:20]:
                first = int(where[codes.astype(str) == c].iloc[0])
                issues.append(ValidationIssue(
                    f"unknown country code '{c}': expected an ISO 3166-1 code known to humsec or a "
                    "code the recipe declares as an aggregate/historical/pseudo code", file=file,
                    row=first, field=field))
            if len(bad) > 20:
                issues.append(ValidationIssue(f"... and {len(bad) - 20} more unknown codes", file=file))
            raise ValidationError(issues)
        mapped = codes.astype(str).map(table)
        counts: dict[str, int] = {}
        gone = codes.notna() & mapped.isna()
        if gone.any():
            for c, n in codes[gone].astype(str).value_counts().sort_index().items():
                reason = drop.get(str(c).strip(), "not a country")
                counts[f"{c}: {reason}"] = counts.get(f"{c}: {reason}", 0) + int(n)
        if codes.isna().any():
            counts["no code"] = int(codes.isna().sum())
        return mapped, counts
