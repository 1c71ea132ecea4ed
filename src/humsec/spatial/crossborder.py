"""Cross-border reports: spill-overs and joint action for a country or region, and
peers to learn from — the HSI's dimension scores (:mod:`humsec.analysis.assess`) put
through the spatial layer (:mod:`humsec.spatial`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.spatial.graph import ConnectionGraph, great_circle_km
from humsec.spatial.peers import positive_deviants, similar_peers
from humsec.spatial.spill import displacement, flow_exposure, joint_action, neighbour_exposure
from humsec.spatial.stats import hotspots, regional_aggregate

__all__ = ["PeerReport", "RELEASE_TYPES", "SpillReport", "SpillScores", "build_graph", "peer_report", "read_flows",
           "regional_table", "release_displacement", "resolve_target", "score_history", "spill_report", "spill_scores"]

GRAPHS = ("borders+islands", "borders", "knn", "borders+knn", "distance")
#: UNHCR population types of the data release's displacement matrix counted as
#: cross-border displacement: refugees, asylum seekers and other people in need of
#: international protection (the release's ``refugees_origin`` / ``refugees_hosted``).
RELEASE_TYPES = ("refugees", "asylum_seekers", "oip")


def resolve_target(registry: Any, target: str) -> tuple[str, list[str], bool]:
    """(label, member ISO3 codes, is_region) for an ISO3 code, a grouping (APPF, ASEAN,
    APEC, EU, OECD, G20, LDC, SIDS …) or a UN M49 region / sub-region name."""
    t = target.strip()
    if registry.is_iso3(t.upper()):
        return t.upper(), [t.upper()], False
    for g in registry.groupings():
        if g.lower() == t.lower():
            return g, sorted(registry.members(g)), True
    for attr in ("region", "subregion", "intermediate_region"):
        m = sorted(c for c in registry.codes if (getattr(registry.info(c), attr) or "").lower() == t.lower())
        if m:
            return t, m, True
    code = registry.match(t)
    if code:
        return code, [code], False
    raise HumsecError(f"'{target}': expected an ISO3 code, a country name, a grouping "
                      f"({', '.join(registry.groupings())}) or a UN M49 region such as 'South-eastern Asia'")


def build_graph(registry: Any, kind: str = "borders+islands", *, k: int = 3, km: float = 1000.0) -> Any:
    """The connection graph named ``kind`` over the registry's countries.

    ``borders+islands`` (the default): land borders, and for a country without any land
    border (island states) its ``k`` nearest independent countries by the great-circle
    distance between their outlines (coast to coast, Natural Earth; directed: the
    island's neighbours - Malta's are Italy, Tunisia and Libya) - so Pacific and Caribbean states are not
    isolates, while a country with land borders keeps exactly its land neighbours (Syria's
    are Türkiye, Iraq, Jordan, Lebanon and Israel; Cyprus, an island, is not among them,
    while Lebanon, Palestine and Türkiye are Cyprus's). ``borders+knn`` adds the ``k``
    nearest to every country.
    """
    if kind not in GRAPHS:
        raise HumsecError(f"graph '{kind}': expected one of {', '.join(GRAPHS)}")
    coords = ConnectionGraph.registry_coordinates(registry)
    if kind == "borders":
        return ConnectionGraph.from_borders(registry)
    if kind == "borders+islands":
        borders = ConnectionGraph.from_borders(registry)
        knn = ConnectionGraph.knn(coords, k)
        islands = set(borders.isolates) & set(coords["unit"])
        known = set(knn.units)
        edges = []
        for f in sorted(islands):
            near = [n for n, _ in registry.nearest(f, k) if n in known]
            if not near:  # no outline distances for it: nearest by representative points
                a = knn.adjacency
                near = sorted(a.loc[(a["focal"] == f) & (a["weight"] > 0), "neighbor"])
            edges += [(f, n, 1.0) for n in near]
        sea = ConnectionGraph.from_edges(sorted(set(edges)), knn.units, kind=f"islands:{k}", provenance={
            "source": "Natural Earth outlines (humsec data release)",
            "note": f"countries without a land border: their {k} nearest independent countries by the "
                    "great-circle distance between outlines (coast to coast)"})
        return borders.union(sea)
    if kind == "knn":
        return ConnectionGraph.knn(coords, k)
    if kind == "distance":
        return ConnectionGraph.distance_band(coords, km)
    return ConnectionGraph.from_borders(registry).union(ConnectionGraph.knn(coords, k))


def neighbour_links(registry: Any, graph: Any, units: Sequence[str]) -> pd.DataFrame:
    """Which rule made each link of ``units`` in ``graph``: ``unit, neighbour, name, rule``
    (``land border`` or ``nearest (island state)`` / ``nearest``) and ``km``: coast to
    coast for a nearest link (the distance it was chosen by), else between the countries'
    representative points."""
    borders = registry.border_graph()
    rows = []
    for u in units:
        if u not in set(graph.units):
            continue
        own = set(borders.get(u, ()))
        coast = dict(registry.nearest(u, 50, independent=False))  # once per unit
        for n in graph.neighbours(u).index:
            if n in own or u in set(borders.get(n, ())):
                rule = "land border"
            elif not own:
                rule = "nearest (island state)"
            else:
                rule = "nearest"
            if rule != "land border" and n in coast:
                km = coast[n]  # coast to coast, as the link was chosen
            else:
                try:
                    a, b = registry.info(u), registry.info(n)
                    km = great_circle_km(a.lat, a.lon, b.lat, b.lon)
                except Exception:  # noqa: BLE001 - a unit without a point has no distance
                    km = float("nan")
            rows.append({"unit": u, "neighbour": n, "name": registry.name(n), "rule": rule, "km": round(km)})
    return pd.DataFrame(rows, columns=["unit", "neighbour", "name", "rule", "km"])


def read_flows(path: str | Path, known: Sequence[str] | None = None) -> pd.DataFrame:
    """Bilateral displacement from a UNHCR-layout table (CSV or Parquet): ``year,
    coo_iso, coa_iso`` and population columns (refugees, asylum_seekers, oip …)."""
    p = Path(path)
    try:
        raw = pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p)
    except FileNotFoundError:
        raise HumsecError(f"{p}: flows file not found") from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is the user's file
        raise HumsecError(f"{p}: cannot read the flows table ({exc})") from None
    try:
        return displacement(raw, known=known)
    except HumsecError as exc:
        raise HumsecError(f"{p}: {exc}") from None


def release_displacement(release: Any = None, *, measure: str = "stock", types: Sequence[str] = RELEASE_TYPES,
                         known: Sequence[str] | None = None) -> pd.DataFrame:
    """Bilateral displacement ``year, source, target, persons`` from the UNHCR origin x
    asylum x year matrix of a data release (default: the shipped release).

    Parameters
    ----------
    release : Release, optional
        :func:`humsec.data.release.load.load_release` result.
    measure : {"stock", "flow"}
        ``stock``: people of the origin living in the country of asylum at the end of
        the year; ``flow``: new arrivals and asylum applications in the year.
    types : sequence of str
        Population types summed (default :data:`RELEASE_TYPES`).
    known : sequence of str, optional
        Keep only pairs of these units.
    """
    if measure not in ("stock", "flow"):
        raise HumsecError(f"displacement measure '{measure}': expected 'stock' or 'flow'")
    if release is None:
        from humsec.data.default import default_release

        release = default_release(verify=False)
    m = release.displacement
    m = m[(m["measure"] == measure) & m["population_type"].isin(list(types))]
    if m.empty:
        raise HumsecError(f"the data release {release.version} has no UNHCR {measure}s of "
                          f"{', '.join(types)}")
    wide = (m.pivot_table(index=["year", "origin", "asylum"], columns="population_type", values="value",
                          aggfunc="sum", fill_value=0.0)
            .reset_index().rename(columns={"origin": "coo_iso", "asylum": "coa_iso"}))
    wide.columns.name = None
    return displacement(wide, columns=tuple(types), known=known)


def score_history(spec: Any, data: pd.DataFrame, years: Sequence[int]) -> pd.DataFrame:
    """Long ``unit, year, node, score`` of the spec's root and dimensions."""
    from humsec.analysis.assess import history

    h = history(spec, data, years)
    if h.empty:
        return pd.DataFrame(columns=["unit", "year", "node", "score"])
    return (h.reset_index().melt(id_vars=["unit", "year"], var_name="node", value_name="score")
            .dropna(subset=["score"]))


def _latest(panel: Any, indicator: str, year: int) -> pd.Series:
    d = panel.filter(indicators=[indicator], totals_only=True).data
    d = d[d["year"] <= year].dropna(subset=["value"]).sort_values("year")
    return d.groupby("unit")["value"].last()


@dataclass(frozen=True)
class SpillReport:
    """Spill-overs and joint action around ``focus`` (see :func:`spill_report`)."""

    label: str
    focus: list[str]
    is_region: bool
    year: int
    base_year: int
    graph: str
    exposure: pd.DataFrame
    shared: pd.DataFrame
    evidence: list[str]
    hotspots: pd.DataFrame
    regional: pd.DataFrame | None = None
    displacement: pd.DataFrame | None = None
    flows: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    #: what the displacement numbers count: "flow" (new displacement in the year) or
    #: "stock" (displaced people in the country of asylum at the end of the year)
    displacement_measure: str = "flow"
    #: the focus units' neighbours and the rule that made each link
    links: pd.DataFrame | None = None

    def to_dict(self) -> dict[str, Any]:
        def rec(df: pd.DataFrame | None) -> Any:
            if df is None:
                return None
            return df.replace({np.nan: None}).to_dict(orient="records")

        return {"target": self.label, "focus": self.focus, "is_region": self.is_region, "year": self.year,
                "base_year": self.base_year, "graph": self.graph, "exposure": rec(self.exposure),
                "shared_rising_threats": rec(self.shared), "evidence": self.evidence,
                "hotspots": rec(self.hotspots), "regional": rec(self.regional),
                "displacement": rec(self.displacement),
                "displacement_measure": self.displacement_measure if self.displacement is not None else None,
                "links": rec(self.links), "notes": self.notes}


@dataclass(frozen=True)
class SpillScores:
    """What :func:`spill_report` computes for every country alike, whatever the target:
    the scores of ``base_year`` and ``year`` (long ``hist``; wide ``now`` of ``year``),
    the index's dimensions with scores, the neighbour graph, every country's exposure to
    its neighbours and the hotspots of insecurity over all countries (see
    :func:`spill_scores`). Computed once, it serves the reports of every target."""

    year: int
    base_year: int
    hist: pd.DataFrame
    now: pd.DataFrame
    dims: list[str]
    graph: Any
    exposure: pd.DataFrame
    hotspots: pd.DataFrame


def spill_scores(spec: Any, data: pd.DataFrame, registry: Any, *, year: int, base_year: int | None = None,
                 graph: str = "borders+islands", k: int = 3, seed: int = 20240101,
                 permutations: int = 499) -> SpillScores:
    """The part of :func:`spill_report` shared by every target (:class:`SpillScores`).

    Hotspots are high-high LISA clusters of the negated dimension scores (insecurity),
    with ``permutations`` conditional permutations drawn from ``seed`` (Anselin 1995,
    "Local indicators of spatial association - LISA", *Geographical Analysis* 27(2)),
    reported as scores.
    """
    year = int(year)
    base_year = year - 5 if base_year is None else int(base_year)
    if base_year >= year:
        raise HumsecError(f"base year {base_year} must be before the year {year}")
    hist = score_history(spec, data, [base_year, year])
    now = hist[hist["year"] == year].pivot_table(index="unit", columns="node", values="score", aggfunc="first")
    if now.empty:
        raise HumsecError(f"'{spec.name}' scores no country in {year}")
    dims = [c for c in spec.children[spec.root] if c in now.columns]
    g = build_graph(registry, graph, k=k)
    hs = hotspots(-now[dims], g, seed=seed, permutations=permutations)
    hs = hs.assign(score=-hs["value"], neighbours=-hs["lag"]).drop(columns=["value", "lag"])
    return SpillScores(year, base_year, hist, now, dims, g, neighbour_exposure(now[dims], g), hs)


def spill_report(target: str, *, panel: Any, spec: Any, registry: Any, year: int | None = None,
                 base_year: int | None = None, graph: str = "borders+islands", k: int = 3,
                 disp: pd.DataFrame | None = None, disp_measure: str = "flow", seed: int = 20240101,
                 permutations: int = 499, data: pd.DataFrame | None = None,
                 shared: SpillScores | None = None) -> SpillReport:
    """Which threats cross the borders of a country or region.

    For the focus units: exposure to neighbours' insecurity per dimension (spatial lag,
    worst neighbour), rising threats shared with neighbours between ``base_year``
    (default ``year - 5``) and ``year`` (default: the index's latest year on the data)
    with evidence, membership of significant LISA hotspots of insecurity (seeded
    permutations), displacement hosted and sent (with ``disp``: UNHCR flows, or stocks
    with ``disp_measure="stock"`` such as :func:`release_displacement`), and for a region
    its population-weighted scores.

    ``shared``: the :func:`spill_scores` of the same spec, data, years, graph, ``k``,
    ``seed`` and ``permutations``, when already computed (a service answering many
    targets); the report is the same.
    """
    from humsec.analysis.assess import default_year, index_data
    if disp_measure not in ("flow", "stock"):
        raise HumsecError(f"displacement measure '{disp_measure}': expected 'flow' or 'stock'")
    label, focus, is_region = resolve_target(registry, target)
    if shared is None or year is None:
        data = index_data(panel, spec) if data is None else data
    year = default_year(spec, data) if year is None else int(year)
    base_year = year - 5 if base_year is None else int(base_year)
    if shared is None:
        shared = spill_scores(spec, data, registry, year=year, base_year=base_year, graph=graph, k=k, seed=seed,
                              permutations=permutations)
    elif (shared.year, shared.base_year) != (year, base_year):
        raise ValueError(f"the shared scores are of {shared.base_year}-{shared.year}, not {base_year}-{year}")
    hist, now, dims, g = shared.hist, shared.now, shared.dims, shared.graph
    notes = []
    missing = [u for u in focus if u not in now.index]
    if len(missing) == len(focus):
        raise HumsecError(f"{label}: no {spec.name} scores in {year} (too little data)")
    if missing:
        notes.append(f"no scores in {year} for: {', '.join(missing)}")
    names = {c: registry.name(c) for c in registry.codes}
    ex = shared.exposure
    ex = ex[ex["unit"].isin(focus)].reset_index(drop=True)
    if base_year not in set(hist["year"]):
        notes.append(f"no scores in {base_year}: trends not compared")
        ja = {"shared": pd.DataFrame(columns=["unit", "neighbour", "threat", "unit_change", "neighbour_change"]),
              "flows": pd.DataFrame(), "evidence": []}
    else:
        ja = joint_action(focus, hist[hist["node"].isin(dims)], g, base_year=base_year, year=year, disp=disp,
                          names=names, node_names={d: spec.nodes[d].name or d for d in dims},
                          measure=disp_measure)
    hs = shared.hotspots
    near = set(focus) | {n for u in focus if u in set(g.units) for n in g.neighbours(u).index}
    hs = hs[hs["unit"].isin(near)].reset_index(drop=True)[["unit", "threat", "score", "neighbours", "p_sim",
                                                            "n_threats"]]
    regional = None
    if is_region:
        pop = _latest(panel, "pop_total", year)
        regional = regional_aggregate(now[spec.root], pop, {label: focus}).assign(node=spec.root)
        for d in dims:
            regional = pd.concat([regional, regional_aggregate(now[d], pop, {label: focus}).assign(node=d)],
                                 ignore_index=True)
    dsp = None
    if disp is not None:
        years = sorted(set(disp["year"]))
        fy = year if year in years else max([y for y in years if y <= year], default=None)
        what = "flows" if disp_measure == "flow" else "stocks"
        if fy is None:
            notes.append(f"the displacement table ({what}) has no year up to {year}")
        else:
            pop = _latest(panel, "pop_total", fy)
            fe = flow_exposure(disp, fy, population=pop, neighbours=g)
            dsp = fe[fe["unit"].isin(focus)].assign(year=fy).reset_index(drop=True)
            if fy != year:
                notes.append(f"displacement shown for {fy}, the latest year of the displacement table ({what})")
    return SpillReport(label, focus, is_region, year, base_year, g.kind, ex, ja["shared"], list(ja["evidence"]),
                       hs, regional, dsp, ja["flows"] if len(ja["flows"]) else None, notes, disp_measure,
                       neighbour_links(registry, g, focus))


def regional_table(*, panel: Any, spec: Any, registry: Any, year: int | None = None,
                   data: pd.DataFrame | None = None, m49: bool = True) -> pd.DataFrame:
    """Population-weighted index and dimension scores of every grouping (APPF, ASEAN,
    APEC, EU, OECD, G20, LDC, LLDC, SIDS) and, with ``m49``, every UN M49 region.

    Returns one row per (group, node): ``kind, group, node, value, n_units,
    n_with_data, population, coverage`` (coverage: share of the group's population
    living in countries with a score), sorted by kind, group and the spec's node order.
    """
    from humsec.analysis.assess import default_year, index_data
    data = index_data(panel, spec) if data is None else data
    year = default_year(spec, data) if year is None else int(year)
    hist = score_history(spec, data, [year])
    now = hist[hist["year"] == year].pivot_table(index="unit", columns="node", values="score", aggfunc="first")
    if now.empty:
        raise HumsecError(f"'{spec.name}' scores no country in {year}")
    groups: dict[str, tuple[str, list[str]]] = {g: ("grouping", sorted(registry.members(g)))
                                                for g in registry.groupings()}
    if m49:
        for c in sorted(registry.codes):
            r = registry.info(c).region
            if r:
                groups.setdefault(r, ("M49 region", []))[1].append(c)
    pop = _latest(panel, "pop_total", year)
    nodes = [spec.root, *spec.children[spec.root]]
    frames = []
    for node in nodes:
        if node not in now.columns:
            continue
        t = regional_aggregate(now[node], pop, {g: m for g, (_, m) in groups.items()})
        frames.append(t.assign(node=node, kind=[groups[g][0] for g in t["group"]]))
    out = pd.concat(frames, ignore_index=True)
    order = {n: i for i, n in enumerate(nodes)}
    out = out.assign(_o=out["node"].map(order)).sort_values(["kind", "group", "_o"]).drop(columns="_o")
    out.insert(0, "year", year)
    return out[["year", "kind", "group", "node", "value", "n_units", "n_with_data", "population", "coverage"]
               ].reset_index(drop=True)


@dataclass(frozen=True)
class PeerReport:
    unit: str
    year: int
    base_year: int
    similar: pd.DataFrame
    threat: str
    unit_change: float
    deviants: pd.DataFrame
    changes: pd.DataFrame
    #: improving peers left out because their improvement was within their noise
    n_noise: int = 0

    def to_dict(self) -> dict[str, Any]:
        def rec(df: pd.DataFrame) -> Any:
            return df.replace({np.nan: None}).to_dict(orient="records")

        return {"unit": self.unit, "year": self.year, "base_year": self.base_year, "similar": rec(self.similar),
                "threat": self.threat, "unit_change": None if np.isnan(self.unit_change) else self.unit_change,
                "positive_deviants": rec(self.deviants), "what_changed": rec(self.changes),
                "left_out_as_noise": self.n_noise}


def peer_report(unit: str, *, panel: Any, spec: Any, registry: Any, catalogue: Any = None,
                dimension: str | None = None, year: int | None = None, base_year: int | None = None,
                k: int = 5, same: str | None = None, data: pd.DataFrame | None = None,
                scores: pd.DataFrame | None = None) -> PeerReport:
    """Similar countries (dimension profile in ``year``) and positive deviants on the
    unit's weakest dimension (or ``dimension``) since ``base_year``.

    ``scores``: the long score history (:func:`score_history` of the spec and data) of
    at least every year from ``base_year`` (default ``year - 10``) to ``year``, when
    already computed (a service answering many countries); the report is the same."""
    from humsec.analysis.assess import default_year, index_data
    code = unit.strip().upper()
    if not registry.is_iso3(code):
        raise HumsecError(f"'{unit}': expected an ISO3 country code")
    data = index_data(panel, spec) if data is None else data
    year = default_year(spec, data) if year is None else int(year)
    if base_year is not None and int(base_year) >= year:
        raise HumsecError(f"base year {base_year} must be before the year {year}")
    dims = list(spec.children[spec.root])
    if dimension is not None and dimension not in dims:
        raise HumsecError(f"dimension '{dimension}': expected one of {', '.join(dims)}")
    keyf = None if same is None else _same_key(registry, same)
    # default base year: the earliest of the previous ten years in which the unit has scores
    candidates = [int(base_year)] if base_year is not None else list(range(year - 10, year - 2))
    # every year of the period: the noise guard of positive deviants needs the path
    period = list(range(min(candidates), year + 1))
    if scores is None:
        hist = score_history(spec, data, period)
    else:
        hist = scores[scores["year"].between(period[0], period[-1])]
    now = hist[hist["year"] == year].pivot_table(index="unit", columns="node", values="score", aggfunc="first")
    if code not in now.index:
        raise HumsecError(f"{code}: no {spec.name} scores in {year} (too little data)")
    scored = sorted(set(hist.loc[(hist["unit"] == code) & (hist["year"] < year), "year"]) & set(candidates))
    if not scored:
        raise HumsecError(f"{code}: no {spec.name} scores in {', '.join(map(str, candidates))}; "
                          "choose another base year")
    base_year = int(scored[0])
    hist = hist[hist["year"].between(base_year, year)]
    similar = similar_peers(now[[d for d in dims if d in now.columns]], code, k=k, same=keyf)
    leaves = {d: [c for c in spec.indicators if _under(spec, c, d)] for d in dims}
    directions = {c: spec.nodes[c].direction for c in spec.indicators}
    pd_ = positive_deviants(hist, code, base_year=base_year, year=year, threat=dimension, profile_nodes=dims,
                            indicators=data, threat_indicators=leaves, k=k, same=keyf, directions=directions)
    return PeerReport(code, year, base_year, similar, cast(str, pd_["threat"]), cast(float, pd_["unit_change"]),
                      cast(pd.DataFrame, pd_["deviants"]), cast(pd.DataFrame, pd_["changes"]),
                      cast(int, pd_["n_noise"]))


def _same_key(registry: Any, same: str) -> Any:
    """Key function for peers of the same region, subregion or income group."""
    attr = {"region": "region", "subregion": "subregion", "income": "income_group"}.get(same)
    if attr is None:
        raise HumsecError(f"peer group '{same}': expected region, subregion or income")

    def key(c: str) -> Any:
        try:
            return getattr(registry.info(c), attr)
        except HumsecError:
            return None
    return key


def _under(spec: Any, code: str, ancestor: str) -> bool:
    p = spec.nodes[code].parent
    while p is not None:
        if p == ancestor:
            return True
        p = spec.nodes[p].parent
    return False
