"""Connection graphs between countries (or any units), as immutable values.

A :class:`ConnectionGraph` wraps a :class:`libpysal.graph.Graph` (the adjacency table
``focal -> neighbor -> weight``, isolates kept) with what humsec needs to say where it
came from: its *kind* (land borders, k nearest neighbours, distance band, flows), the
year of a time-varying graph, and its provenance. Every "modify" (row-standardise,
union, restrict to units) returns a new graph.

Builders
--------
* :meth:`ConnectionGraph.from_borders` — land borders from the country registry
  (Natural Earth outlines that share a boundary, from the data release);
* :meth:`ConnectionGraph.knn` / :meth:`ConnectionGraph.distance_band` — great-circle
  k-nearest neighbours / distance band between representative points, so island
  states are not isolated;
* :meth:`ConnectionGraph.from_flows` — directed, flow-weighted links of one year (e.g.
  refugees by origin and country of asylum, UNHCR; bilateral migrant stocks, UN DESA).

References
----------
.. [libpysal] Rey, S. J., Anselin, L. (2007). PySAL: A Python Library of Spatial
   Analytical Methods. *Review of Regional Studies* 37(1), 5-27; libpysal ``graph``
   module (Fleischmann et al., 2024).
.. [AR14] Anselin, L., Rey, S. J. (2014). *Modern Spatial Econometrics in Practice*.
   GeoDa Press (spatial weights, row standardisation, spatial lag).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError

__all__ = ["EARTH_RADIUS_KM", "ConnectionGraph", "great_circle_km"]

EARTH_RADIUS_KM = 6371.0088


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in km on a sphere of radius 6,371 km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _coords(coords: pd.DataFrame | Mapping[str, tuple[float, float]]) -> pd.DataFrame:
    if isinstance(coords, Mapping):
        coords = pd.DataFrame([(k, *v) for k, v in coords.items()], columns=["unit", "lat", "lon"])
    need = {"unit", "lat", "lon"} - set(coords.columns)
    if need:
        raise HumsecError(f"coordinates need columns unit, lat, lon (missing {', '.join(sorted(need))})")
    c = coords[["unit", "lat", "lon"]].dropna()
    if c["unit"].duplicated().any():
        raise HumsecError(f"duplicate unit in coordinates: {c.loc[c['unit'].duplicated(), 'unit'].iloc[0]}")
    if ((c["lat"].abs() > 90) | (c["lon"].abs() > 180)).any():
        bad = c[(c["lat"].abs() > 90) | (c["lon"].abs() > 180)].iloc[0]
        raise HumsecError(f"coordinates of {bad['unit']}: expected lat in [-90, 90] and lon in [-180, 180]")
    return c.sort_values("unit").reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class ConnectionGraph:
    """An immutable, possibly weighted and directed graph between units.

    Attributes
    ----------
    graph : libpysal.graph.Graph
        Adjacency (``focal``, ``neighbor``, ``weight``); isolates appear with a zero
        self-weight, as libpysal keeps them.
    kind : str
        How it was built: ``borders``, ``knn:k``, ``distance:Dkm``, ``flows:<weight>``, or
        a combination (``borders+knn:3``).
    year : int or None
        Year of a time-varying graph (flows).
    transform : str
        ``O`` as built, ``R`` row-standardised, ``B`` binary.
    provenance : mapping
        Source, licence and notes.
    """

    graph: Any
    kind: str
    year: int | None = None
    transform: str = "O"
    provenance: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    # -- builders ------------------------------------------------------------------
    @classmethod
    def from_edges(cls, edges: Iterable[tuple[str, str, float]], units: Sequence[str], *, kind: str,
                   year: int | None = None, provenance: Mapping[str, str] | None = None) -> ConnectionGraph:
        """From ``(focal, neighbor, weight)`` triples over ``units`` (units without an edge
        are isolates)."""
        from libpysal.graph import Graph

        units = sorted(set(units))
        known = set(units)
        rows = [(a, b, float(w)) for a, b, w in edges if a != b and w > 0]
        for a, b, _ in rows:
            for u in (a, b):
                if u not in known:
                    raise HumsecError(f"edge {a} -> {b}: '{u}' is not one of the graph's units")
        linked = {a for a, _, _ in rows}
        rows += [(u, u, 0.0) for u in units if u not in linked]  # libpysal's isolate form
        df = pd.DataFrame(rows, columns=["focal", "neighbor", "weight"])
        order = {u: i for i, u in enumerate(units)}
        df = df.assign(_f=df["focal"].map(order), _n=df["neighbor"].map(order)).sort_values(["_f", "_n"])
        g = Graph.from_arrays(df["focal"].to_numpy(), df["neighbor"].to_numpy(), df["weight"].to_numpy())
        return cls(g, kind, year, "O", MappingProxyType(dict(provenance or {})))

    @classmethod
    def from_borders(cls, registry: Any, units: Sequence[str] | None = None) -> ConnectionGraph:
        """Land-border adjacency (binary, symmetric) from a
        :class:`~humsec.data.countries.CountryRegistry`, restricted to ``units``."""
        graph = registry.border_graph()
        units = sorted(graph) if units is None else sorted(set(units))
        keep = set(units)
        edges = [(a, b, 1.0) for a in units for b in sorted(graph.get(a, ())) if b in keep]
        return cls.from_edges(edges, units, kind="borders", provenance={
            "source": "Natural Earth admin-0 countries 1:10m (outlines sharing a boundary), humsec data release",
            "licence": "public domain",
            "note": "land borders; symmetric"})

    @classmethod
    def registry_coordinates(cls, registry: Any, units: Sequence[str] | None = None) -> pd.DataFrame:
        """Representative points ``unit, lat, lon`` of the registry's countries (inside each
        country's largest part of its Natural Earth outline)."""
        codes = sorted(registry.codes) if units is None else sorted(set(units))
        rows = []
        for c in codes:
            try:
                info = registry.info(c)
            except Exception:  # unknown codes (subnational units) have no point here
                continue
            if info.lat is not None and info.lon is not None:
                rows.append((c, info.lat, info.lon))
        return pd.DataFrame(rows, columns=["unit", "lat", "lon"])

    @classmethod
    def knn(cls, coords: pd.DataFrame | Mapping[str, tuple[float, float]], k: int) -> ConnectionGraph:
        """Each unit linked to its ``k`` nearest units by great-circle distance (binary,
        not necessarily symmetric). Ties at the k-th distance are broken by unit code."""
        from scipy.spatial import cKDTree

        c = _coords(coords)
        n = len(c)
        if not 1 <= k < n:
            raise HumsecError(f"knn: expected 1 <= k < {n} (the number of units with coordinates), got {k}")
        X = _unit_vectors(c["lat"].to_numpy(), c["lon"].to_numpy())
        # chord length is monotone in great-circle distance, so Euclidean kNN is exact
        _, idx = cKDTree(X).query(X, k=k + 1)
        units = c["unit"].tolist()
        edges = []
        for i, row in enumerate(idx):
            nb = [j for j in row if j != i][:k]
            edges += [(units[i], units[j], 1.0) for j in nb]
        return cls.from_edges(edges, units, kind=f"knn:{k}", provenance={
            "source": "representative points of Natural Earth outlines (humsec data release)",
            "note": f"{k} nearest by great-circle distance"})

    @classmethod
    def distance_band(cls, coords: pd.DataFrame | Mapping[str, tuple[float, float]], km: float, *,
                      binary: bool = True, alpha: float = -1.0) -> ConnectionGraph:
        """Units within ``km`` of each other (great-circle). Binary, or inverse-distance
        weights ``d ** alpha`` when ``binary`` is False."""
        from scipy.spatial import cKDTree

        if not km > 0:
            raise HumsecError(f"distance band: expected km > 0, got {km}")
        c = _coords(coords)
        X = _unit_vectors(c["lat"].to_numpy(), c["lon"].to_numpy())
        chord = 2 * math.sin(min(math.pi, km / EARTH_RADIUS_KM) / 2)
        pairs = cKDTree(X).query_pairs(chord, output_type="ndarray")
        units = c["unit"].tolist()
        edges = []
        for i, j in pairs:
            d = EARTH_RADIUS_KM * 2 * math.asin(min(1.0, float(np.linalg.norm(X[i] - X[j])) / 2))
            w = 1.0 if binary else max(d, 1.0) ** alpha
            edges += [(units[i], units[j], w), (units[j], units[i], w)]
        return cls.from_edges(edges, units, kind=f"distance:{km:g}km", provenance={
            "source": "representative points of Natural Earth outlines (humsec data release)",
            "note": f"great-circle distance <= {km:g} km" + ("" if binary else f", weight d^{alpha:g}")})

    @classmethod
    def from_flows(cls, flows: pd.DataFrame, *, source: str, target: str, weight: str,
                   year: int | None = None, year_column: str = "year", units: Sequence[str] | None = None,
                   min_weight: float = 0.0, provenance: Mapping[str, str] | None = None) -> ConnectionGraph:
        """Directed links ``source -> target`` weighted by ``weight`` (summed over
        duplicate pairs) in ``year``; pairs below ``min_weight`` and self-links dropped.

        Rows whose source or target is not among ``units`` (e.g. UNHCR's pseudo-origins
        ``UNK``/``XXA``) are left out; pass ``units`` to fix the graph's unit set.
        """
        need = {source, target, weight} | ({year_column} if year is not None else set())
        missing = need - set(flows.columns)
        if missing:
            raise HumsecError(f"flows: missing column(s) {', '.join(sorted(missing))}")
        f = flows
        if year is not None:
            f = f[pd.to_numeric(f[year_column], errors="coerce") == year]
        w = pd.to_numeric(f[weight], errors="coerce")
        f = pd.DataFrame({"s": f[source].astype(str), "t": f[target].astype(str), "w": w}).dropna()
        if units is None:
            units = sorted(set(f["s"]) | set(f["t"]))
        keep = set(units)
        f = f[f["s"].isin(keep) & f["t"].isin(keep) & (f["s"] != f["t"])]
        agg = f.groupby(["s", "t"], sort=True)["w"].sum()
        agg = agg[agg > min_weight]
        edges = [(s, t, float(v)) for (s, t), v in agg.items()]
        return cls.from_edges(edges, units, kind=f"flows:{weight}", year=year, provenance=provenance)

    # -- views ---------------------------------------------------------------------
    @property
    def units(self) -> list[str]:
        return [str(u) for u in self.graph.unique_ids]

    @property
    def adjacency(self) -> pd.DataFrame:
        """Edges ``focal, neighbor, weight`` (isolates left out)."""
        a = self.graph.adjacency.reset_index()
        a.columns = ["focal", "neighbor", "weight"]
        return a[a["focal"] != a["neighbor"]].reset_index(drop=True)

    @property
    def isolates(self) -> list[str]:
        """Units with no neighbour."""
        return sorted(str(u) for u in self.graph.isolates)

    def neighbours(self, unit: str) -> pd.Series:
        """Neighbours of ``unit`` and their weights (empty for an isolate)."""
        if unit not in set(self.units):
            raise HumsecError(f"'{unit}' is not a unit of this {self.kind} graph")
        a = self.adjacency
        s = a[a["focal"] == unit].set_index("neighbor")["weight"]
        s.index.name = "unit"
        return s

    def incoming(self, unit: str) -> pd.Series:
        """Units linking *to* ``unit`` (for directed flow graphs: the origins of its
        inflows) and their weights."""
        if unit not in set(self.units):
            raise HumsecError(f"'{unit}' is not a unit of this {self.kind} graph")
        a = self.adjacency
        s = a[a["neighbor"] == unit].set_index("focal")["weight"]
        s.index.name = "unit"
        return s

    def __len__(self) -> int:
        return len(self.units)

    def __repr__(self) -> str:
        y = f", year={self.year}" if self.year is not None else ""
        return (f"ConnectionGraph({self.kind}{y}, transform={self.transform}, units={len(self)}, "
                f"edges={len(self.adjacency)}, isolates={len(self.isolates)})")

    def equals(self, other: ConnectionGraph) -> bool:
        return (self.kind == other.kind and self.year == other.year and self.transform == other.transform
                and self.graph.equals(other.graph))

    # -- modify (new objects) ------------------------------------------------------
    def row_standardise(self) -> ConnectionGraph:
        """Weights of each unit's neighbours divided by their sum (isolates stay
        isolates, with no weight)."""
        return ConnectionGraph(self.graph.transform("r"), self.kind, self.year, "R", self.provenance)

    def binary(self) -> ConnectionGraph:
        return ConnectionGraph(self.graph.transform("b"), self.kind, self.year, "B", self.provenance)

    def union(self, other: ConnectionGraph) -> ConnectionGraph:
        """Edges of either graph, binary (e.g. borders + 3 nearest, so that island
        states have neighbours)."""
        units = sorted(set(self.units) | set(other.units))
        edges = {(a, b) for g in (self, other) for a, b in zip(g.adjacency["focal"], g.adjacency["neighbor"])}
        prov = {f"{k} ({g.kind})": v for g in (self, other) for k, v in g.provenance.items()}
        return ConnectionGraph.from_edges([(a, b, 1.0) for a, b in sorted(edges)], units,
                                          kind=f"{self.kind}+{other.kind}", year=self.year or other.year,
                                          provenance=prov)

    def restrict(self, units: Iterable[str]) -> ConnectionGraph:
        """The subgraph on ``units`` (weights as they are; re-standardise if needed)."""
        keep = sorted(set(units) & set(self.units))
        a = self.adjacency
        a = a[a["focal"].isin(keep) & a["neighbor"].isin(keep)]
        g = ConnectionGraph.from_edges(zip(a["focal"], a["neighbor"], a["weight"]), keep, kind=self.kind,
                                       year=self.year, provenance=self.provenance)
        return g.row_standardise() if self.transform == "R" else g

    def symmetrise(self) -> ConnectionGraph:
        """Edges in either direction, weight = sum of both directions."""
        a = self.adjacency
        both = pd.concat([a, a.rename(columns={"focal": "neighbor", "neighbor": "focal"})])
        s = both.groupby(["focal", "neighbor"], sort=True)["weight"].sum()
        return ConnectionGraph.from_edges([(f, n, w) for (f, n), w in s.items()], self.units,
                                          kind=self.kind, year=self.year, provenance=self.provenance)

    # -- operators -----------------------------------------------------------------
    def lag(self, values: pd.Series) -> pd.Series:
        """Spatial lag ``W y``: for each unit, the weighted sum of its neighbours' values
        (a weighted mean on a row-standardised graph). Neighbours without a value are
        left out and the remaining weights re-normalised on a row-standardised graph;
        units with no (valued) neighbour get NaN — never a silent 0."""
        y = pd.Series(values, dtype=float).reindex(self.units)
        a = self.adjacency
        a = a.assign(v=y.reindex(a["neighbor"]).to_numpy())
        a = a[a["v"].notna()]
        num = (a["weight"] * a["v"]).groupby(a["focal"]).sum()
        if self.transform == "R":
            den = a["weight"].groupby(a["focal"]).sum()
            out = num / den
        else:
            out = num
        return out.reindex(self.units).rename("lag")
