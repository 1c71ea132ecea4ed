"""Sources shipped by the ``bokeh-sampledata`` wheel (BSD-3-Clause loader code).

* ``population.csv.gz`` - UN DESA World Population Prospects 2024 (CC BY 3.0 IGO),
  medium variant, population by sex x 5-year age group, 5-year steps, ``LocID`` = UN M49.
* ``emissions.csv.gz`` - CO2 emissions per person (tonnes), CDIAC-derived, public domain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pycountry

from humsec.data.sources._common import (
    KOSOVO,
    BuildContext,
    CountryMatcher,
    SourceResult,
    bokeh_file,
    tidy,
    via,
)
from humsec.model.panel import TOTAL, Provenance

LAST_YEAR = 2025  # WPP 2024 estimates run to 2023; 2024-2025 are medium-variant projections
_SEX = {"Male": "M", "Female": "F"}


def _m49_to_iso3(loc_id: int) -> str | None:
    if loc_id == 412:
        return KOSOVO
    c = pycountry.countries.get(numeric=f"{int(loc_id):03d}")
    return c.alpha_3 if c is not None else None


def load_wpp(ctx: BuildContext) -> SourceResult:
    raw = pd.read_csv(
        bokeh_file("population.csv.gz"),
        usecols=["LocID", "Location", "Year", "Sex", "AgeGrp", "Value"],
        dtype={"LocID": "int64", "Location": str, "Year": "int64", "Sex": str, "AgeGrp": str},
    )
    locs = raw[["LocID", "Location"]].drop_duplicates().sort_values("LocID")
    dropped: dict[str, str] = {}
    unmatched: list[str] = []
    iso: dict[int, str] = {}
    for loc_id, name in zip(locs["LocID"], locs["Location"]):
        if loc_id >= 900:  # WPP aggregates (World, continents, SDG/M49 regions) use 9xx/1xxx
            dropped[str(name)] = "aggregate (world/region)"
            continue
        code = _m49_to_iso3(loc_id)
        if code is None:
            unmatched.append(f"{name} (LocID {loc_id})")
        else:
            iso[int(loc_id)] = code
    df = raw[raw["LocID"].isin(list(iso)) & (raw["Year"] <= LAST_YEAR)].copy()
    df["unit"] = df["LocID"].map(iso)
    df["sex"] = df["Sex"].map(_SEX)
    if df["sex"].isna().any():
        raise ValueError(f"unexpected Sex values in WPP: {sorted(set(df['Sex']) - set(_SEX))}")
    df = df.rename(columns={"Year": "year", "AgeGrp": "age", "Value": "value"})
    df["value"] = df["value"].astype("float64")
    pop = tidy(df[["unit", "year", "sex", "age", "value"]], "pop")
    total = df.groupby(["unit", "year"], as_index=False)["value"].sum()
    pop_total = tidy(total, "pop_total")

    # Annual population for rates (GTD): log-linear interpolation between WPP's 5-year points.
    ctx.annual_population = _annual(total)

    prov = Provenance(
        source="UN DESA Population Division, World Population Prospects 2024 (medium variant)",
        edition="2024",
        accessed=ctx.accessed,
        licence="CC-BY-3.0-IGO",
        citation=(
            "United Nations, Department of Economic and Social Affairs, Population Division "
            "(2024). World Population Prospects 2024, Online Edition."
        ),
        via=via("bokeh-sampledata"),
        url="https://population.un.org/wpp/",
    )
    return SourceResult(
        name="UN WPP 2024 (bokeh-sampledata population.csv.gz)",
        via=prov.via,
        licence=prov.licence,
        frames=[pop, pop_total],
        provenance={"pop": prov, "pop_total": prov},
        dropped=dropped,
        unmatched=unmatched,
        notes=[
            f"years 1950-{LAST_YEAR} in 5-year steps kept (2025 is a medium-variant "
            "projection; 2030-2100 projections not loaded)"
        ],
    )


def _annual(total: pd.DataFrame) -> pd.DataFrame:
    out = []
    for unit, g in total.sort_values("year").groupby("unit", sort=True):
        years = g["year"].to_numpy()
        vals = g["value"].to_numpy()
        if (vals <= 0).any():
            continue
        grid = np.arange(years.min(), years.max() + 1)
        interp = np.exp(np.interp(grid, years, np.log(vals)))
        out.append(pd.DataFrame({"unit": unit, "year": grid, "value": interp}))
    return pd.concat(out, ignore_index=True)


def load_emissions(ctx: BuildContext) -> SourceResult:
    raw = pd.read_csv(bokeh_file("emissions.csv.gz"))
    match = CountryMatcher()
    raw["unit"] = raw["country"].map(match.map(raw["country"]))
    df = raw.dropna(subset=["unit"]).rename(columns={"emissions": "value"})
    df["year"] = df["year"].astype("int64")
    dup = df.duplicated(["unit", "year"], keep=False)
    if dup.any():
        raise ValueError(f"emissions: several names map to one country: {df.loc[dup, 'country'].unique()}")
    frame = tidy(df[["unit", "year", "value"]], "co2_pc", sex=TOTAL)
    prov = Provenance(
        source="CO2 emissions per person (CDIAC estimates compiled by Gapminder; Bokeh sample data)",
        edition="1950-2012 extract",
        accessed=ctx.accessed,
        licence="Public domain",
        citation=(
            "Boden, T.A., G. Marland and R.J. Andres. Global, Regional, and National Fossil-Fuel "
            "CO2 Emissions. Carbon Dioxide Information Analysis Center (CDIAC), Oak Ridge "
            "National Laboratory; per-capita series as distributed with bokeh-sampledata."
        ),
        via=via("bokeh-sampledata"),
        url="https://cdiac.ess-dive.lbl.gov/",
    )
    return SourceResult(
        name="CO2 emissions per capita (bokeh-sampledata emissions.csv.gz)",
        via=prov.via,
        licence=prov.licence,
        frames=[frame],
        provenance={"co2_pc": prov},
        dropped=match.dropped,
        unmatched=match.unmatched,
    )
