"""Spatial statistics of threats: global and local Moran's I, hotspots, regional
aggregates.

Units without a value and units left without neighbours (isolates) are taken out before
any statistic is computed and reported in the result — an isolate's spatial lag is not 0,
it does not exist, and counting it as 0 would bias Moran's I towards 0 (Anselin 1995,
note on "islands"). Permutation inference always takes an explicit seed.

References
----------
.. [Moran50] Moran, P. A. P. (1950). Notes on continuous stochastic phenomena.
   *Biometrika* 37(1/2), 17-23.
.. [Anselin95] Anselin, L. (1995). Local indicators of spatial association — LISA.
   *Geographical Analysis* 27(2), 93-115.
.. [CO81] Cliff, A. D., Ord, J. K. (1981). *Spatial Processes: Models and Applications*.
   Pion (moments of I under normality).
.. [esda] Rey, S. J. et al. esda: Exploratory Spatial Data Analysis in PySAL.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.spatial.graph import ConnectionGraph

__all__ = ["MoranResult", "hotspots", "local_moran", "moran", "prepare", "regional_aggregate"]

QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}


def prepare(values: pd.Series, graph: ConnectionGraph) -> tuple[pd.Series, ConnectionGraph, dict[str, list[str]]]:
    """Values and a row-standardised graph on the units that have a value and at least
    one neighbour with a value; what was dropped, by reason."""
    y = pd.Series(values, dtype=float)
    units = [u for u in graph.units if u in y.index and np.isfinite(y.get(u, np.nan))]
    dropped = {"missing": sorted(set(graph.units) - set(units)), "isolate": []}
    g = graph.restrict(units)
    while g.isolates:  # dropping isolates of a directed graph can isolate others
        iso = g.isolates
        dropped["isolate"] += iso
        g = g.restrict([u for u in g.units if u not in set(iso)])
    if len(g.units) < 3:
        raise HumsecError(f"spatial statistics need at least 3 connected units with values; have {len(g.units)} "
                          f"({len(dropped['missing'])} without a value, {len(dropped['isolate'])} without neighbours)")
    dropped["isolate"] = sorted(dropped["isolate"])
    return y.reindex(g.units), g.row_standardise(), dropped


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise HumsecError("permutation inference needs an explicit seed (int) or numpy.random.Generator")
    return np.random.default_rng(int(seed))


@dataclass(frozen=True)
class MoranResult:
    """Global Moran's I with analytic (normality) and permutation inference.

    Attributes
    ----------
    I, expected : float
        The statistic and its expectation ``-1 / (n - 1)``.
    z_norm, p_norm : float
        z-score and two-sided p-value under normality (Cliff & Ord).
    p_sim, z_sim : float
        Pseudo p-value ``(min(#{I_p >= I}, P - #{I_p >= I}) + 1) / (P + 1)`` (esda's
        folded form) and z-score against the permutation distribution.
    n, permutations, seed : int
    dropped : mapping reason -> units
    """

    I: float  # noqa: E741
    expected: float
    z_norm: float
    p_norm: float
    p_sim: float
    z_sim: float
    n: int
    permutations: int
    seed: int | None
    dropped: Mapping[str, list[str]]

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("I", "expected", "z_norm", "p_norm", "p_sim", "z_sim",
                                              "n", "permutations", "seed")} | {
            "dropped": {k: list(v) for k, v in self.dropped.items()}}


def moran(values: pd.Series, graph: ConnectionGraph, *, permutations: int = 999,
          seed: int | np.random.Generator | None = None) -> MoranResult:
    """Global Moran's I of ``values`` on ``graph`` (row-standardised) [Moran50]_.

    The statistic and its analytic moments come from esda; the permutation inference is
    vectorised here with an explicit generator (esda's global Moran draws from NumPy's
    global random state, which humsec never uses).
    """
    from esda.moran import Moran

    y, g, dropped = prepare(values, graph)
    w = g.graph.to_W()
    m = Moran(y.to_numpy(), w, transformation="r", permutations=0)
    p_sim = z_sim = float("nan")
    s = None
    if permutations:
        rng = _rng(seed)
        s = seed if isinstance(seed, int) else None
        W = g.graph.sparse.tocsr()
        z = y.to_numpy() - y.mean()
        Z = rng.permuted(np.tile(z, (permutations, 1)), axis=1).T  # (n, P)
        sims = (len(z) / W.sum()) * np.einsum("ip,ip->p", Z, W @ Z) / (z @ z)
        larger = int((sims >= m.I).sum())
        larger = min(larger, permutations - larger)
        p_sim = (larger + 1.0) / (permutations + 1.0)
        sd = sims.std()
        z_sim = float((m.I - sims.mean()) / sd) if sd > 0 else float("nan")
    return MoranResult(float(m.I), float(m.EI), float(m.z_norm), float(m.p_norm), float(p_sim), z_sim,
                       len(y), int(permutations), s, dropped)


def local_moran(values: pd.Series, graph: ConnectionGraph, *, permutations: int = 999,
                seed: int | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Local Moran's I (LISA) per unit with conditional permutation inference
    [Anselin95]_ (esda ``Moran_Local`` with an explicit seed).

    Returns
    -------
    pandas.DataFrame
        One row per unit of the graph: ``value``, ``lag`` (mean of neighbours),
        ``Ii``, ``quadrant`` (HH, LH, LL, HL: own value vs lag, both against the mean),
        ``p_sim`` (esda's folded pseudo p-value: the smaller tail of the conditional
        permutation distribution), ``cluster`` (the quadrant when ``p_sim <= alpha``, else ``ns``;
        ``missing`` / ``isolate`` for units left out).
    """
    from esda.moran import Moran_Local

    if seed is None or isinstance(seed, np.random.Generator):
        raise HumsecError("local Moran's permutation inference needs an explicit integer seed")
    y, g, dropped = prepare(values, graph)
    with warnings.catch_warnings():
        # esda announces a change of its default alternative; humsec reports esda's
        # current (folded, "directed") pseudo p-value, as documented above
        warnings.simplefilter("ignore", DeprecationWarning)
        lm = Moran_Local(y.to_numpy(), g.graph.to_W(), transformation="r", permutations=permutations,
                         seed=int(seed), keep_simulations=False, n_jobs=1)
    quad = [QUADRANTS.get(int(q), "") for q in lm.q]
    p = np.asarray(lm.p_sim, dtype=float) if permutations else np.full(len(y), np.nan)
    out = pd.DataFrame({"unit": g.units, "value": y.to_numpy(), "lag": g.lag(y).to_numpy(),
                        "Ii": np.asarray(lm.Is, dtype=float), "quadrant": quad, "p_sim": p})
    out["cluster"] = np.where(out["p_sim"] <= alpha, out["quadrant"], "ns")
    raw = pd.Series(values, dtype=float)
    extra = [{"unit": u, "value": raw.get(u, np.nan), "cluster": reason}
             for reason, us in dropped.items() for u in us]
    if extra:
        out = pd.concat([out, pd.DataFrame(extra)], ignore_index=True)
    return out.sort_values("unit", kind="stable").reset_index(drop=True)


def hotspots(threats: pd.DataFrame, graph: ConnectionGraph, *, seed: int, permutations: int = 999,
             alpha: float = 0.05) -> pd.DataFrame:
    """Hotspots of shared threats: units in a significant high-high LISA cluster.

    Parameters
    ----------
    threats : pandas.DataFrame
        Units (index) x threats (columns), oriented so that **higher = more insecure**.
    graph : ConnectionGraph
    seed : int
        Each threat's LISA uses ``seed + j`` (j = its column position), so results do
        not depend on which other threats are analysed alongside.

    Returns
    -------
    pandas.DataFrame
        ``unit, threat, value, lag, p_sim`` for every (unit, threat) in an HH cluster,
        plus ``n_threats``: how many threats the unit is a hotspot of.
    """
    rows = []
    for j, col in enumerate(threats.columns):
        try:
            lm = local_moran(threats[col], graph, permutations=permutations, seed=seed + j, alpha=alpha)
        except HumsecError:
            continue  # too few connected units with data for this threat
        hh = lm[lm["cluster"] == "HH"]
        rows += [{"unit": r.unit, "threat": col, "value": r.value, "lag": r.lag, "p_sim": r.p_sim}
                 for r in hh.itertuples()]
    out = pd.DataFrame(rows, columns=["unit", "threat", "value", "lag", "p_sim"])
    out["n_threats"] = out.groupby("unit")["threat"].transform("count")
    return out.sort_values(["n_threats", "unit", "threat"], ascending=[False, True, True]).reset_index(drop=True)


def regional_aggregate(values: pd.Series, population: pd.Series, groups: Mapping[str, Iterable[str]]
                       ) -> pd.DataFrame:
    """Population-weighted mean of ``values`` over the members of each group.

    Returns ``group, value, n_units, n_with_data, population, coverage`` where coverage
    is the share of the group's (known) population whose unit has a value. Members
    without a population figure are left out of the weighted mean and counted.
    """
    v = pd.Series(values, dtype=float)
    pop = pd.Series(population, dtype=float)
    rows = []
    for name, members in groups.items():
        m = sorted(set(members))
        pv = pop.reindex(m)
        vv = v.reindex(m)
        ok = vv.notna() & pv.notna() & (pv > 0)
        tot = float(pv[pv.notna()].sum())
        val = float(np.average(vv[ok], weights=pv[ok])) if ok.any() else float("nan")
        rows.append({"group": name, "value": val, "n_units": len(m), "n_with_data": int(ok.sum()),
                     "population": tot, "coverage": float(pv[ok].sum() / tot) if tot > 0 else float("nan")})
    return pd.DataFrame(rows)
