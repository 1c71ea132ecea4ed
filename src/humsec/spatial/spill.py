"""Spill-overs: exposure to neighbours' insecurity, cross-border displacement, and the
evidence for joint action.

Scores are *security* scores (higher = more secure, e.g. the HSI and its dimensions);
the neighbour measures turn them around where a threat is meant ("neighbours'
insecurity" = how far below the unit's own score its neighbours are).

Displacement tables follow UNHCR's layout (origin ``coo_iso``, country of asylum
``coa_iso``, year, counts by population type), the Refugee Data Finder's bilateral
origin x asylum x year matrix: either flows (new arrivals and asylum applications in the
year) or stocks (displaced people in the country of asylum at the end of the year, as in
the data release's ``displacement.parquet``).

References
----------
.. [AR14] Anselin, L., Rey, S. J. (2014). *Modern Spatial Econometrics in Practice*
   (spatial lag as the neighbours' weighted mean).
.. [SG06] Salehyan, I., Gleditsch, K. S. (2006). Refugees and the spread of civil war.
   *International Organization* 60(2), 335-366 (refugee flows as a channel of
   conflict spill-over).
.. [UNHCR] UNHCR Refugee Population Statistics Database (Refugee Data Finder).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.spatial.graph import ConnectionGraph

__all__ = [
    "DISPLACEMENT_COLUMNS", "displacement", "flow_change", "flow_exposure", "joint_action",
    "neighbour_exposure", "spillover_component", "top_flows",
]

#: UNHCR population types counted as cross-border displacement (new arrivals / stocks).
DISPLACEMENT_COLUMNS = ("refugees", "asylum_seekers", "refugee_like", "oip")


def displacement(flows: pd.DataFrame, *, source: str = "coo_iso", target: str = "coa_iso",
                 columns: Sequence[str] = DISPLACEMENT_COLUMNS, known: Iterable[str] | None = None) -> pd.DataFrame:
    """Tidy bilateral displacement ``year, source, target, persons`` summed over the
    population types in ``columns`` that the table has.

    Pseudo-origins (UNHCR ``UNK`` unknown, ``XXA`` stateless) and self-pairs are left
    out; with ``known``, pairs outside that unit set too.
    """
    missing = {"year", source, target} - set(flows.columns)
    if missing:
        raise HumsecError(f"flows: missing column(s) {', '.join(sorted(missing))}; expected UNHCR's "
                          "year, coo_iso (origin), coa_iso (asylum) and population columns")
    cols = [c for c in columns if c in flows.columns]
    if not cols:
        raise HumsecError(f"flows: none of the population columns {', '.join(columns)}")
    persons = flows[cols].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    out = pd.DataFrame({"year": pd.to_numeric(flows["year"], errors="coerce"),
                        "source": flows[source].astype(str), "target": flows[target].astype(str),
                        "persons": persons.astype(float)})
    out = out[out["year"].notna() & (out["source"] != out["target"]) & (out["persons"] > 0)]
    out = out[~out["source"].isin(["UNK", "XXA", "nan", "<NA>"]) & ~out["target"].isin(["UNK", "XXA", "nan", "<NA>"])]
    if known is not None:
        k = set(known)
        out = out[out["source"].isin(k) & out["target"].isin(k)]
    out["year"] = out["year"].astype(int)
    return (out.groupby(["year", "source", "target"], as_index=False)["persons"].sum()
            .sort_values(["year", "persons"], ascending=[True, False]).reset_index(drop=True))


def top_flows(disp: pd.DataFrame, year: int, n: int = 20, *, source: str | None = None) -> pd.DataFrame:
    """The ``n`` largest bilateral flows of ``year`` (of one ``source`` if given), with
    their rank and share of the year's (or the source's) total."""
    d = disp[disp["year"] == year]
    if source is not None:
        d = d[d["source"] == source]
    if d.empty:
        raise HumsecError(f"no displacement flows for {year}" + (f" from {source}" if source else ""))
    d = d.sort_values(["persons", "source", "target"], ascending=[False, True, True]).head(n).copy()
    total = disp.loc[disp["year"] == year, "persons"]
    if source is not None:
        total = disp.loc[(disp["year"] == year) & (disp["source"] == source), "persons"]
    d["rank"] = np.arange(1, len(d) + 1)
    d["share"] = d["persons"] / total.sum()
    return d.reset_index(drop=True)


def flow_change(disp: pd.DataFrame, sources: Iterable[str], targets: Iterable[str], base_year: int,
                year: int) -> pd.DataFrame:
    """Persons displaced from ``sources`` into ``targets`` in ``base_year`` and ``year``
    and the ratio, per pair and in total (rows ``source='*'``)."""
    s, t = set(sources), set(targets)
    d = disp[disp["source"].isin(s) & disp["target"].isin(t) & disp["year"].isin([base_year, year])]
    wide = d.pivot_table(index=["source", "target"], columns="year", values="persons", aggfunc="sum",
                         fill_value=0.0)
    for y in (base_year, year):
        if y not in wide.columns:
            wide[y] = 0.0
    wide = wide[[base_year, year]].rename(columns={base_year: "before", year: "after"}).reset_index()
    tot = pd.DataFrame([{"source": "*", "target": "*", "before": wide["before"].sum(), "after": wide["after"].sum()}])
    out = pd.concat([wide, tot], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = np.where(out["before"] > 0, out["after"] / out["before"], np.inf)
    out.loc[(out["before"] == 0) & (out["after"] == 0), "ratio"] = np.nan
    return out


def _times(r: float) -> str:
    """How a ratio after/before reads in a sentence."""
    if not np.isfinite(r):
        return "appeared (none before)"
    if r >= 4:
        return f"grown {r:.0f}-fold"
    if r >= 3:
        return "more than tripled"
    if r >= 2:
        return "more than doubled"
    if r >= 1.1:
        return f"risen by {100 * (r - 1):.0f}%"
    if r <= 0.5:
        return "more than halved"
    if r <= 0.9:
        return f"fallen by {100 * (1 - r):.0f}%"
    return "stayed about the same"


def _names(codes: Sequence[str], names: Mapping[str, str] | None) -> str:
    ns = [names.get(c, c) if names else c for c in codes]
    sep = "; " if any("," in n for n in ns) else ", "  # "China, Hong Kong SAR" stays one name
    return ns[0] if len(ns) == 1 else sep.join(ns[:-1]) + " and " + ns[-1]


def neighbour_exposure(scores: pd.DataFrame, graph: ConnectionGraph) -> pd.DataFrame:
    """Each unit's exposure to its neighbours' insecurity, per threat.

    Parameters
    ----------
    scores : pandas.DataFrame
        Units (index) x threats (columns) security scores (higher = more secure).
    graph : ConnectionGraph
        Row-standardised inside.

    Returns
    -------
    pandas.DataFrame
        ``unit, threat, own, neighbours`` (weighted mean of the neighbours' scores, the
        spatial lag), ``worst_neighbour``, ``worst_score``, ``gap = own - neighbours``
        (positive: neighbours less secure — exposure), ``n_neighbours``. Units without
        neighbours (or with none that has a score) get NaN, not 0.
    """
    g = graph.row_standardise()
    adj = g.adjacency
    rows = []
    for threat in scores.columns:
        y = scores[threat].astype(float)
        lag = g.lag(y)
        a = adj.assign(v=y.reindex(adj["neighbor"]).to_numpy()).dropna(subset=["v"])
        worst = a.sort_values(["focal", "v", "neighbor"]).groupby("focal").first()
        cnt = a.groupby("focal").size()
        for u in g.units:
            own = y.get(u, np.nan)
            rows.append({"unit": u, "threat": threat, "own": own, "neighbours": lag.get(u, np.nan),
                         "worst_neighbour": worst["neighbor"].get(u) if u in worst.index else None,
                         "worst_score": worst["v"].get(u, np.nan) if u in worst.index else np.nan,
                         "n_neighbours": int(cnt.get(u, 0))})
    out = pd.DataFrame(rows)
    out["gap"] = out["own"] - out["neighbours"]
    return out


def flow_exposure(disp: pd.DataFrame, year: int, *, population: pd.Series | None = None,
                  neighbours: ConnectionGraph | None = None) -> pd.DataFrame:
    """Displacement hosted and sent by each unit in ``year``.

    Returns ``unit, inflow, inflow_from_neighbours, outflow, outflow_to_neighbours``,
    ``top_origin``, ``top_destination`` and, with ``population`` (persons), the
    inflow and outflow per 1,000 inhabitants.
    """
    d = disp[disp["year"] == year]
    if d.empty:
        raise HumsecError(f"no displacement flows for {year}")
    near: set[tuple[str, str]] = set()
    if neighbours is not None:
        a = neighbours.adjacency
        near = set(zip(a["focal"], a["neighbor"])) | set(zip(a["neighbor"], a["focal"]))
    is_near = np.array([(s, t) in near for s, t in zip(d["source"], d["target"])], dtype=bool)
    inflow = d.groupby("target")["persons"].sum()
    outflow = d.groupby("source")["persons"].sum()
    in_near = d[is_near].groupby("target")["persons"].sum()
    out_near = d[is_near].groupby("source")["persons"].sum()
    top_o = d.sort_values("persons", ascending=False).groupby("target")["source"].first()
    top_d = d.sort_values("persons", ascending=False).groupby("source")["target"].first()
    units = sorted(set(inflow.index) | set(outflow.index))
    out = pd.DataFrame({"unit": units})
    out["inflow"] = inflow.reindex(units).fillna(0.0).to_numpy()
    out["inflow_from_neighbours"] = in_near.reindex(units).fillna(0.0).to_numpy()
    out["outflow"] = outflow.reindex(units).fillna(0.0).to_numpy()
    out["outflow_to_neighbours"] = out_near.reindex(units).fillna(0.0).to_numpy()
    out["top_origin"] = top_o.reindex(units).to_numpy()
    out["top_destination"] = top_d.reindex(units).to_numpy()
    if population is not None:
        pop = pd.Series(population, dtype=float).reindex(units)
        out["inflow_per_1000"] = (1000 * out["inflow"] / pop.to_numpy()).where(pop.to_numpy() > 0)
        out["outflow_per_1000"] = (1000 * out["outflow"] / pop.to_numpy()).where(pop.to_numpy() > 0)
    return out


def _change(history: pd.DataFrame, base_year: int, year: int) -> pd.DataFrame:
    h = history[history["year"].isin([base_year, year])]
    w = h.pivot_table(index=["unit", "node"], columns="year", values="score", aggfunc="first")
    if base_year not in w.columns or year not in w.columns:
        raise HumsecError(f"scores are needed for both {base_year} and {year}")
    w = w[[base_year, year]].dropna()
    return pd.DataFrame({"before": w[base_year], "after": w[year], "change": w[year] - w[base_year]})


def joint_action(focus: Sequence[str], history: pd.DataFrame, graph: ConnectionGraph, *, base_year: int,
                 year: int, disp: pd.DataFrame | None = None, threshold: float = 0.0,
                 names: Mapping[str, str] | None = None, node_names: Mapping[str, str] | None = None,
                 measure: str = "flow") -> dict[str, pd.DataFrame | list[str]]:
    """Which neighbours share which rising threats with the ``focus`` units (a country, or
    the members of a region), with evidence.

    A threat is *rising* for a unit when its security score fell by more than
    ``threshold`` between ``base_year`` and ``year``. For every focus unit and neighbour
    (outside the focus set) with the same rising threat, a row gives both changes. With
    displacement flows, the flows between the focus and its neighbours in both years
    are compared ("displacement from X into Y and Z has tripled since 2019").

    Parameters
    ----------
    history : pandas.DataFrame
        Long security scores ``unit, year, node, score``.
    measure : {"flow", "stock"}
        What ``disp`` counts, for the wording of the evidence: new displacement in the
        year (UNHCR flows: arrivals and asylum applications) or the displaced people
        living in the country of asylum at the end of the year (UNHCR stocks).

    Returns
    -------
    dict
        ``shared`` (DataFrame: unit, neighbour, threat, unit_change, neighbour_change),
        ``flows`` (DataFrame of :func:`flow_change` rows, or empty) and ``evidence``
        (list of sentences).
    """
    if measure not in ("flow", "stock"):
        raise HumsecError(f"displacement measure '{measure}': expected 'flow' or 'stock'")
    focus = sorted(set(focus))
    unknown = [u for u in focus if u not in set(graph.units)]
    if unknown:
        raise HumsecError(f"not in the connection graph: {', '.join(unknown)}")
    ch = _change(history, base_year, year)
    a = graph.adjacency
    pairs = sorted({(f, n) for f, n in zip(a["focal"], a["neighbor"]) if f in focus and n not in focus}
                   | {(n, f) for f, n in zip(a["focal"], a["neighbor"]) if n in focus and f not in focus})
    rows = []
    for u, nb in pairs:
        for node in ch.index.get_level_values("node").unique():
            try:
                cu, cn = ch.loc[(u, node), "change"], ch.loc[(nb, node), "change"]
            except KeyError:
                continue
            if cu < -threshold and cn < -threshold:
                rows.append({"unit": u, "neighbour": nb, "threat": node, "unit_change": float(cu),
                             "neighbour_change": float(cn)})
    shared = pd.DataFrame(rows, columns=["unit", "neighbour", "threat", "unit_change", "neighbour_change"])
    tn = (lambda c: node_names.get(c, c)) if node_names else (lambda c: c)
    evidence: list[str] = []
    for threat, grp in shared.groupby("threat", sort=True):
        nbs = sorted(set(grp["neighbour"]))
        us = sorted(set(grp["unit"]))
        evidence.append(f"{tn(threat)}: security fell between {base_year} and {year} in {_names(us, names)} "
                        f"and in neighbouring {_names(nbs, names)}.")
    flows = pd.DataFrame()
    if disp is not None:
        nbrs = sorted({n for _, n in pairs})
        if nbrs:
            out_f = flow_change(disp, focus, nbrs, base_year, year).assign(direction="out")
            in_f = flow_change(disp, nbrs, focus, base_year, year).assign(direction="in")
            flows = pd.concat([out_f, in_f], ignore_index=True)
            for direction, f in (("out", out_f), ("in", in_f)):
                pairs_f = f[(f["source"] != "*") & (f["after"] > 0)].sort_values("after", ascending=False)
                if pairs_f.empty:
                    continue
                tot = f[f["source"] == "*"].iloc[0]
                main = pairs_f.head(3)
                if direction == "out":
                    src, dst = sorted(set(main["source"])), list(dict.fromkeys(main["target"]))
                else:
                    src, dst = list(dict.fromkeys(main["source"])), sorted(set(main["target"]))
                if measure == "flow":
                    evidence.append(
                        f"Displacement from {_names(src, names)} into {_names(dst, names)} has "
                        f"{_times(float(tot['ratio']))} since {base_year} ({tot['before']:,.0f} → {tot['after']:,.0f} "
                        f"persons a year, all neighbouring pairs).")
                else:
                    evidence.append(
                        f"Refugees and asylum seekers from {_names(src, names)} living in {_names(dst, names)} have "
                        f"{_times(float(tot['ratio']))} since {base_year} ({tot['before']:,.0f} → {tot['after']:,.0f} "
                        f"persons at the end of the year, all neighbouring pairs).")
    return {"shared": shared, "flows": flows, "evidence": evidence}


def spillover_component(unit: str, scores: pd.DataFrame, graph: ConnectionGraph, *,
                        disp: pd.DataFrame | None = None, year: int | None = None,
                        population: pd.Series | None = None) -> dict[str, object]:
    """The spill-over part of a country assessment: per threat, the unit's score, its
    neighbours' mean and worst, and (with flows) displacement hosted from and sent to
    neighbours in ``year``."""
    if unit not in set(graph.units):
        raise HumsecError(f"'{unit}' is not in the connection graph")
    ex = neighbour_exposure(scores, graph)
    ex = ex[ex["unit"] == unit].drop(columns="unit").reset_index(drop=True)
    out: dict[str, object] = {"unit": unit, "graph": graph.kind, "neighbours": graph.neighbours(unit).index.tolist(),
                              "exposure": ex}
    if disp is not None and year is not None:
        fe = flow_exposure(disp, year, population=population, neighbours=graph)
        row = fe[fe["unit"] == unit]
        out["displacement"] = row.iloc[0].to_dict() if len(row) else None
    return out
