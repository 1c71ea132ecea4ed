"""Peers to learn from: countries with a similar profile, and positive deviants.

*Similar* is a distance in standardised indicator space: every feature is z-scored
across units, and two units' distance is the root mean square of their differences
over the features both have (at least ``min_overlap`` of the focal unit's features) —
so a gap in one country's data does not make it look closer or further.

*Positive deviants* (Pascale, Sternin & Sternin 2010; used for development peers by
the World Bank and the SDSN) are similar peers at the start of a period that improved
most, over that period, on the threat where the country is weakest — with what changed
in their indicators.

References
----------
.. [PSS10] Pascale, R., Sternin, J., Sternin, M. (2010). *The Power of Positive
   Deviance*. Harvard Business Press.
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*
   (standardisation by z-scores).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from humsec.errors import HumsecError

__all__ = ["positive_deviants", "profile_distance", "similar_peers", "weakest"]


def _z(profile: pd.DataFrame) -> pd.DataFrame:
    p = profile.astype(float)
    sd = p.std(ddof=0)
    keep = sd[sd > 0].index
    return (p[keep] - p[keep].mean()) / sd[keep]


def profile_distance(profile: pd.DataFrame, unit: str, *, min_overlap: float = 0.5) -> pd.DataFrame:
    """Distance of every other unit to ``unit`` in z-scored feature space.

    Returns ``unit, distance, n_shared`` sorted by distance; units sharing fewer than
    ``min_overlap`` of the focal unit's features are left out.
    """
    if unit not in profile.index:
        raise HumsecError(f"'{unit}' has no profile (no data for it)")
    z = _z(profile)
    me = z.loc[unit]
    have = me.notna()
    if not have.any():
        raise HumsecError(f"'{unit}' has no usable feature (all missing or constant)")
    others = z.drop(index=unit)[have[have].index]
    diff = others.sub(me[have], axis=1)
    n_shared = diff.notna().sum(axis=1)
    dist = np.sqrt((diff ** 2).sum(axis=1) / n_shared.where(n_shared > 0))
    out = pd.DataFrame({"unit": others.index, "distance": dist.to_numpy(), "n_shared": n_shared.to_numpy()})
    out = out[out["n_shared"] >= max(1, int(np.ceil(min_overlap * int(have.sum()))))]
    return out.sort_values(["distance", "unit"]).reset_index(drop=True)


def similar_peers(profile: pd.DataFrame, unit: str, *, k: int = 5, same: Callable[[str], object] | None = None,
                  min_overlap: float = 0.5) -> pd.DataFrame:
    """The ``k`` units with the most similar profile to ``unit``.

    Parameters
    ----------
    profile : pandas.DataFrame
        Units (index) x features (e.g. dimension scores, or indicators).
    same : callable, optional
        Key a peer must share with ``unit`` (e.g. ``registry.region`` or
        ``registry.income_group``).
    """
    d = profile_distance(profile, unit, min_overlap=min_overlap)
    if same is not None:
        key = same(unit)
        d = d[[same(u) == key for u in d["unit"]]]
    return d.head(k).reset_index(drop=True)


def weakest(scores: pd.Series) -> str:
    """The threat (index label) with the lowest security score."""
    s = pd.Series(scores, dtype=float).dropna()
    if s.empty:
        raise HumsecError("no scores to find the weakest threat in")
    return str(s.idxmin())


def positive_deviants(history: pd.DataFrame, unit: str, *, base_year: int, year: int,
                      threat: str | None = None, profile_nodes: Sequence[str] | None = None,
                      indicators: pd.DataFrame | None = None, threat_indicators: Mapping[str, Sequence[str]] | None = None,
                      pool: int = 20, k: int = 5, same: Callable[[str], object] | None = None,
                      directions: Mapping[str, int] | None = None, noise_z: float = 2.0,
                      min_years: int = 3) -> dict[str, object]:
    """Peers that were similar to ``unit`` in ``base_year`` and improved most on its
    weakest threat by ``year``.

    Parameters
    ----------
    history : pandas.DataFrame
        Long security scores ``unit, year, node, score`` (higher = more secure).
    threat : str, optional
        The node to learn about; default: the unit's weakest of ``profile_nodes`` in
        ``year``.
    profile_nodes : sequence of str, optional
        The nodes forming the similarity profile (default: every node but ``threat``'s
        parent-free root, i.e. all nodes present).
    indicators : pandas.DataFrame, optional
        Long raw indicators ``unit, year, indicator, value`` to report what changed in
        each deviant (the threat's indicators from ``threat_indicators``).
    directions : mapping, optional
        Indicator -> +1/-1, to say whether a change is an improvement.
    pool, k : int
        Similar peers considered; deviants returned.
    noise_z, min_years : float, int
        Noise guard. A peer's improvement counts only if it exceeds ``noise_z`` times
        its measurement noise: the standard deviation of the peer's threat scores
        around their linear trend over the years of ``history`` from ``base_year`` to
        ``year``, times sqrt(2) (the difference of two noisy values). With fewer than
        ``min_years`` + 1 scored years the noise cannot be estimated, and the period
        itself must span at least ``min_years`` years.

    Returns
    -------
    dict
        ``threat``, ``unit_change`` (the unit's own change on it), ``deviants``
        (DataFrame: unit, distance, before, after, change, noise, better_than_unit; only
        improvements beyond the noise guard), ``n_noise`` (improving peers left out because
        their improvement was within their noise) and
        ``changes`` (DataFrame: unit, indicator, before, after, change, improved).
    """
    if year - base_year < min_years:
        raise HumsecError(f"positive deviants need a period of at least {min_years} years "
                          f"({base_year}-{year} is {year - base_year})")
    noise = _noise(history, threat, base_year, year, min_years) if threat is not None else None
    h = history[history["year"].isin([base_year, year])]
    wide = {y: h[h["year"] == y].pivot_table(index="unit", columns="node", values="score", aggfunc="first")
            for y in (base_year, year)}
    for y, w in wide.items():
        if unit not in w.index:
            raise HumsecError(f"no scores for '{unit}' in {y}")
    nodes = list(profile_nodes) if profile_nodes is not None else list(wide[base_year].columns)
    if threat is None:
        threat = weakest(wide[year].loc[unit, [n for n in nodes if n in wide[year].columns]])
    if threat not in wide[year].columns:
        raise HumsecError(f"unknown threat '{threat}'; expected one of {', '.join(map(str, wide[year].columns))}")
    base_profile = wide[base_year][[n for n in nodes if n in wide[base_year].columns]]
    peers = similar_peers(base_profile, unit, k=pool, same=same)
    before = wide[base_year][threat].reindex(peers["unit"]).to_numpy()
    after = wide[year][threat].reindex(peers["unit"]).to_numpy()
    dev = peers.assign(before=before, after=after, change=after - before).dropna(subset=["change"])
    own = float(wide[year].at[unit, threat] - wide[base_year].at[unit, threat]) \
        if threat in wide[base_year].columns else float("nan")
    if noise is None:
        noise = _noise(history, threat, base_year, year, min_years)
    dev["noise"] = dev["unit"].map(noise).astype(float)
    real = dev["noise"].notna() & (dev["change"] > noise_z * dev["noise"])
    n_noise = int((~real & (dev["change"] > 0)).sum())
    dev = dev[real]
    dev = dev.sort_values(["change", "distance"], ascending=[False, True]).head(k).reset_index(drop=True)
    dev["better_than_unit"] = dev["change"] > own
    changes = pd.DataFrame(columns=["unit", "indicator", "before", "after", "change", "improved"])
    if indicators is not None and threat_indicators is not None and threat in threat_indicators:
        codes = list(threat_indicators[threat])
        ind = indicators[indicators["indicator"].isin(codes) & indicators["unit"].isin(dev["unit"])]
        rows = []
        for (u, code), g in ind.groupby(["unit", "indicator"]):
            g = g.dropna(subset=["value"])
            b = g[g["year"] <= base_year].sort_values("year").tail(1)
            a = g[(g["year"] > base_year) & (g["year"] <= year)].sort_values("year").tail(1)
            if b.empty or a.empty:
                continue
            vb, va = float(b["value"].iloc[0]), float(a["value"].iloc[0])
            d = int((directions or {}).get(code, 1))
            rows.append({"unit": u, "indicator": code, "before": vb, "after": va, "change": va - vb,
                         "improved": (va - vb) * d > 0})
        if rows:
            changes = pd.DataFrame(rows)
    return {"threat": threat, "unit_change": own, "deviants": dev, "changes": changes, "n_noise": n_noise}


def _noise(history: pd.DataFrame, node: str, base_year: int, year: int, min_years: int) -> pd.Series:
    """Per unit: noise of a change of ``node`` between two years - the residual standard
    deviation of its scores around a linear trend over ``base_year..year`` (ddof 2),
    times sqrt(2); NaN with fewer than ``min_years + 1`` scored years."""
    h = history[(history["node"] == node) & history["year"].between(base_year, year)].dropna(subset=["score"])
    out = {}
    for u, g in h.groupby("unit"):
        if len(g) < min_years + 1 or g["year"].nunique() < 3:
            out[u] = np.nan
            continue
        x, y = g["year"].to_numpy(dtype=float), g["score"].to_numpy(dtype=float)
        coef = np.polyfit(x, y, 1)
        resid = y - np.polyval(coef, x)
        out[u] = float(np.sqrt(np.sum(resid ** 2) / (len(y) - 2)) * np.sqrt(2.0))
    return pd.Series(out, dtype=float)
