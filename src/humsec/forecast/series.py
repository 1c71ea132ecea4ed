"""Country-year series for detection and forecasting.

* :func:`node_history` — every node of an index spec (index, dimensions and the
  normalised 0-100 indicator scores) per country-year with the spec's fixed goalposts
  (:func:`humsec.analysis.assess.history` keeping the indicators, which explain a
  dimension's fall).
* :func:`conflict_panel` — UCDP/PRIO Armed Conflict Dataset (v25.1 as carried by the R
  package ``peacesciencer``) as a Gleditsch-Ward state-year panel with ISO3 codes:
  conflicts, wars and conflict history.
* :func:`displacement_panel` — UNHCR new cross-border displacement out of each country
  of origin per year (``flows.parquet``) and the stocks of refugees and IDPs
  (``population.parquet``).
* :func:`hdi_panel` — UNDP HDI 1990-2022 (HDR 2023/24 complete time series).

* :func:`release_displacement_panel` — the same outflows, stocks and IDPs from the data
  release's displacement table (no data directory needed).

Data directories are given explicitly (:func:`resolve_data_dir`: an argument, else
``$HUMSEC_SHARED_DATA``; never a path relative to the current directory); a missing directory or file is a
:class:`~humsec.errors.HumsecError` that says where it looked.

References
----------
.. [Gleditsch02] Gleditsch, N. P., Wallensteen, P., Eriksson, M., Sollenberg, M., Strand,
   H. (2002). Armed conflict 1946-2001: A new dataset. *Journal of Peace Research* 39(5),
   615-637; Davies, S., Pettersson, T., Öberg, M. (2025). Organized violence 1989-2024.
   *Journal of Peace Research* 62(4) (UCDP/PRIO ACD v25.1).
.. [GW99] Gleditsch, K. S., Ward, M. D. (1999). Interstate system membership: A revised
   list of the independent states since 1816. *International Interactions* 25, 393-413.
.. [Miller22] Miller, S. V. (2022). peacesciencer: An R package for quantitative peace
   science research. *Conflict Management and Peace Science* 39(6), 755-779.
.. [UNHCR] UNHCR Refugee Population Statistics Database (R package ``refugees``,
   CC BY 4.0).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from humsec.analysis.assess import history
from humsec.errors import HumsecError
from humsec.settings import ENV_SHARED
from humsec.spatial.spill import displacement

__all__ = [
    "GW_OVERRIDES", "conflict_panel", "displacement_panel", "release_displacement_panel", "gw_to_iso3", "hdi_panel", "neighbour_mean",
    "node_history", "resolve_data_dir",
]

#: Gleditsch-Ward codes the name matcher cannot (or should not) map: successor states
#: carry the code's history (Yugoslavia -> Serbia, Czechoslovakia -> Czechia), states
#: without a present-day ISO3 code are dropped (None).
GW_OVERRIDES: Mapping[int, str | None] = {
    345: "SRB", 315: "CZE", 265: None, 680: None, 817: None, 327: None, 730: None, 815: None,
    711: None, 511: None,
}


def resolve_data_dir(path: str | Path | None = None, *, need: Iterable[str] = ()) -> Path:
    """The shared-data directory: ``path``, else ``$HUMSEC_SHARED_DATA`` (never a path
    relative to the current directory).

    Parameters
    ----------
    need : iterable of str
        Relative paths that must exist inside it (e.g. ``peacesciencer/ucdp_acd.csv``).

    Raises
    ------
    HumsecError
        The directory or one of the needed files is absent.
    """
    tried = []
    if path is not None:
        cands = [Path(path).expanduser()]
    else:
        cands = [Path(os.environ[ENV_SHARED]).expanduser()] if os.environ.get(ENV_SHARED) else []
    for c in cands:
        tried.append(str(c))
        if c.is_dir():
            missing = [n for n in need if not (c / n).exists()]
            if missing:
                raise HumsecError(f"data directory {c} lacks {', '.join(missing)} "
                                  "(expected the shared data layout: peacesciencer/, unhcr_refugees/, undp_hdr/)")
            return c
    raise HumsecError(f"no data directory found (tried {', '.join(tried)}); pass --data-dir DIR "
                      f"or set {ENV_SHARED}")


# ---------------------------------------------------------------------------- index nodes


def node_history(spec: Any, data: pd.DataFrame, years: Iterable[int]) -> pd.DataFrame:
    """Scores of every node of ``spec`` (root, aggregates, normalised indicators) per year.

    Parameters
    ----------
    spec : IndexSpec
    data : pandas.DataFrame
        Tidy observations (:func:`humsec.analysis.assess.index_data`).
    years : iterable of int
        Years to build; years the spec cannot build are skipped.

    Returns
    -------
    pandas.DataFrame
        Index ``(unit, year)``, one column per node; only units with a root score.
    """
    out = history(spec, data, years, nodes=[n.code for n in spec.tree])
    if out.empty:
        raise HumsecError(f"'{spec.name}' could not be built for any of the requested years")
    return out


# ---------------------------------------------------------------------------- spatial


def neighbour_mean(values: pd.DataFrame, column: str, borders: Mapping[str, Iterable[str]]) -> pd.Series:
    """Mean of ``column`` over each unit's land neighbours in the same year.

    Parameters
    ----------
    values : pandas.DataFrame
        ``unit, year, <column>``.
    borders : mapping
        Unit -> neighbours (e.g. :meth:`CountryRegistry.border_graph`).

    Returns
    -------
    pandas.Series
        Aligned with ``values``; NaN for units without a neighbour with a value.
    """
    edges = pd.DataFrame([(a, b) for a, nb in borders.items() for b in nb], columns=["unit", "nb"])
    v = values[["unit", "year", column]].rename(columns={"unit": "nb", column: "_v"})
    j = edges.merge(v, on="nb")
    m = j.groupby(["unit", "year"])["_v"].mean()
    idx = pd.MultiIndex.from_frame(values[["unit", "year"]])
    return pd.Series(m.reindex(idx).to_numpy(), index=values.index, dtype=float)


# ---------------------------------------------------------------------------- UCDP


def gw_to_iso3(gw_states: pd.DataFrame, registry: Any) -> dict[int, str]:
    """Gleditsch-Ward code -> ISO3 by matching the state names with the country registry,
    with :data:`GW_OVERRIDES` for historical states."""
    rep = registry.match(list(gw_states["statename"].astype(str)))
    names = rep.mapping
    out: dict[int, str] = {}
    for code, name in zip(gw_states["gwcode"].astype(int), gw_states["statename"].astype(str)):
        if code in GW_OVERRIDES:
            iso = GW_OVERRIDES[code]
        else:
            iso = names.get(name)
        if iso:
            out[int(code)] = iso
    return out


def conflict_panel(data_dir: str | Path, registry: Any, *, first_year: int = 1946) -> pd.DataFrame:
    """UCDP/PRIO armed conflict per country-year.

    A country is *in conflict* in a year when its government is a primary party (side A
    or B, not a supporting state) of a state-based armed conflict with at least 25
    battle-related deaths that year: intrastate, internationalised intrastate or
    interstate (extrasystemic conflicts - colonial wars fought abroad - are left out).
    A *war* is such a conflict with at least 1,000 battle-related deaths
    (``intensity_level == 2``). The conflict-year table is de-duplicated on
    ``(conflict_id, year)`` first (peacesciencer explodes multi-state sides).

    Parameters
    ----------
    data_dir : path
        Shared-data directory (holding ``peacesciencer/``).
    registry : CountryRegistry
    first_year : int

    Returns
    -------
    pandas.DataFrame
        ``unit, gwcode, year, conflict, war, n_conflicts`` for every year a state exists
        (the GW list ends in 2017; states alive then are carried to the last UCDP year).
    """
    base = Path(data_dir) / "peacesciencer"
    for n in ("ucdp_acd.csv", "gw_states.csv"):
        if not (base / n).is_file():
            raise HumsecError(f"{base / n} not found (UCDP/PRIO ACD via peacesciencer)")
    acd = pd.read_csv(base / "ucdp_acd.csv")
    gw = pd.read_csv(base / "gw_states.csv")
    acd = acd[acd["type_of_conflict"] != "extrasystemic"].drop_duplicates(["conflict_id", "year"])
    parts = []
    for side in ("gwno_a", "gwno_b"):
        p = acd[["conflict_id", "year", side, "intensity_level"]].rename(columns={side: "gwcode"}).dropna()
        parts.append(p)
    cy = pd.concat(parts).drop_duplicates(["conflict_id", "year", "gwcode"])
    cy["gwcode"] = cy["gwcode"].astype(int)
    agg = cy.groupby(["gwcode", "year"]).agg(n_conflicts=("conflict_id", "nunique"),
                                             intensity=("intensity_level", "max")).reset_index()
    last = int(acd["year"].max())
    iso = gw_to_iso3(gw, registry)
    rows = []
    gw_end = pd.to_datetime(gw["enddate"]).dt.year.max()
    for r in gw.itertuples(index=False):
        code = int(r.gwcode)
        if code not in iso:
            continue
        y0 = max(pd.Timestamp(r.startdate).year, first_year)
        y1 = pd.Timestamp(r.enddate).year
        if y1 >= gw_end:
            y1 = last
        for y in range(y0, y1 + 1):
            rows.append((iso[code], code, y))
    panel = pd.DataFrame(rows, columns=["unit", "gwcode", "year"])
    panel = panel.merge(agg, on=["gwcode", "year"], how="left")
    panel["n_conflicts"] = panel["n_conflicts"].fillna(0).astype(int)
    panel["conflict"] = (panel["n_conflicts"] > 0).astype(int)
    panel["war"] = (panel["intensity"].fillna(0) >= 2).astype(int)
    # Two GW codes of one ISO3 in one year (e.g. 255/260 Germany): keep the maximum.
    panel = (panel.groupby(["unit", "year"], as_index=False)
             .agg(gwcode=("gwcode", "first"), n_conflicts=("n_conflicts", "max"),
                  conflict=("conflict", "max"), war=("war", "max")))
    return panel.sort_values(["unit", "year"]).reset_index(drop=True)


# ---------------------------------------------------------------------------- UNHCR


def displacement_panel(data_dir: str | Path, *, first_year: int = 2000, last_year: int | None = None,
                       known: Iterable[str] | None = None) -> pd.DataFrame:
    """New cross-border displacement out of each country and displaced stocks, per year.

    ``outflow`` is the sum over countries of asylum of UNHCR's new arrivals (``refugees``,
    ``refugee_like``, ``oip``) and new asylum applications (``asylum_seekers``) from the
    origin in ``flows.parquet`` (pseudo-origins and self-pairs dropped, via
    :func:`humsec.spatial.spill.displacement`); ``stock`` is refugees, asylum seekers and
    OIP of that origin at the end of the year, ``idps`` the UNHCR-protected IDPs
    (``population.parquet``). Absent origin-years are zeros (UNHCR lists no empty
    pairs). Asylum applications have broad coverage only from 2000 (default start), and
    the last year of the release is mid-year, so it is dropped by default.

    Returns
    -------
    pandas.DataFrame
        ``unit, year, outflow, stock, idps``, complete over ``known`` units (or every
        origin seen) and years.
    """
    base = Path(data_dir) / "unhcr_refugees"
    for n in ("flows.parquet", "population.parquet"):
        if not (base / n).is_file():
            raise HumsecError(f"{base / n} not found (UNHCR refugee data)")
    flows = pd.read_parquet(base / "flows.parquet")
    pop = pd.read_parquet(base / "population.parquet")
    mid_year = int(flows["year"].max())
    last = (mid_year - 1) if last_year is None else int(last_year)
    d = displacement(flows, known=known)
    out = d.groupby(["source", "year"])["persons"].sum().rename("outflow")
    s = displacement(pop, columns=("refugees", "asylum_seekers", "oip"), known=known)
    stock = s.groupby(["source", "year"])["persons"].sum().rename("stock")
    p = pop[pop["coo_iso"] == pop["coa_iso"]]
    idps = pd.to_numeric(p["idps"], errors="coerce").fillna(0).groupby([p["coo_iso"], p["year"]]).sum()
    idps.index.names = ["source", "year"]
    units = sorted(set(known) if known is not None else set(out.index.get_level_values(0)))
    idx = pd.MultiIndex.from_product([units, range(first_year, last + 1)], names=["source", "year"])
    frame = pd.DataFrame({"outflow": out.reindex(idx), "stock": stock.reindex(idx),
                          "idps": idps.rename("idps").reindex(idx)}).fillna(0.0)
    frame.index.names = ["unit", "year"]
    return frame.reset_index()


def release_displacement_panel(table: pd.DataFrame, *, first_year: int = 2000, known: Iterable[str] | None = None
                               ) -> pd.DataFrame:
    """:func:`displacement_panel` from the data release's displacement table.

    Parameters
    ----------
    table : pandas.DataFrame
        ``origin, asylum, year, measure, population_type, value``
        (:attr:`humsec.data.release.load.Release.displacement`): ``outflow`` sums the
        flows of refugees, refugee-like, OIP and asylum seekers out of the origin (self
        pairs dropped), ``stock`` the end-year stocks of refugees, asylum seekers and OIP,
        ``idps`` the IDP stock (origin = asylum).

    Returns
    -------
    pandas.DataFrame
        ``unit, year, outflow, stock, idps`` over ``known`` units (or every origin) and
        the table's years from ``first_year``; absent cells are zeros.
    """
    need = {"origin", "asylum", "year", "measure", "population_type", "value"}
    if not need <= set(table.columns):
        raise HumsecError(f"displacement table lacks {', '.join(sorted(need - set(table.columns)))}")
    t = table[table["year"] >= first_year]
    cross = t[t["origin"] != t["asylum"]]
    flow = cross[(cross["measure"] == "flow")
                 & cross["population_type"].isin(["refugees", "refugee_like", "oip", "asylum_seekers"])]
    stock = cross[(cross["measure"] == "stock") & cross["population_type"].isin(["refugees", "asylum_seekers", "oip"])]
    idp = t[(t["measure"] == "stock") & (t["population_type"] == "idps")]
    parts = {"outflow": flow, "stock": stock, "idps": idp}
    sums = {k: v.groupby(["origin", "year"])["value"].sum() for k, v in parts.items()}
    units = sorted(set(known) if known is not None else set(t["origin"]))
    years = range(max(first_year, int(t["year"].min())), int(t["year"].max()) + 1)
    idx = pd.MultiIndex.from_product([units, years], names=["origin", "year"])
    frame = pd.DataFrame({k: v.reindex(idx) for k, v in sums.items()}).fillna(0.0)
    frame.index.names = ["unit", "year"]
    return frame.reset_index()


# ---------------------------------------------------------------------------- UNDP


def hdi_panel(data_dir: str | Path) -> pd.DataFrame:
    """UNDP Human Development Index per country-year (aggregates ``ZZ*`` dropped).

    Returns
    -------
    pandas.DataFrame
        ``unit, year, hdi``.
    """
    f = Path(data_dir) / "undp_hdr" / "HDR23-24_Composite_indices_complete_time_series.csv"
    if not f.is_file():
        raise HumsecError(f"{f} not found (UNDP HDR 2023/24 composite indices)")
    raw = pd.read_csv(f, encoding="utf-8-sig")
    raw = raw[~raw["iso3"].astype(str).str.startswith("ZZ")]
    cols = [c for c in raw.columns if c.startswith("hdi_") and c[4:].isdigit()]
    long = raw[["iso3", *cols]].melt(id_vars="iso3", var_name="col", value_name="hdi")
    long["year"] = long["col"].str[4:].astype(int)
    long = long.dropna(subset=["hdi"]).rename(columns={"iso3": "unit"})
    return long[["unit", "year", "hdi"]].sort_values(["unit", "year"]).reset_index(drop=True)


def _years_since(flag: np.ndarray) -> np.ndarray:
    """Years since the last 1 (inclusive of the current year = 0); large before any."""
    out = np.empty(len(flag), dtype=float)
    last = None
    for i, f in enumerate(flag):
        if f:
            last = i
        out[i] = (i - last) if last is not None else np.nan
    return out
