"""Country assessments with the Human Security Index (or any variant of its spec).

:func:`assess` builds an index spec (by default the built-in ``hsi``) on a panel for one
year, once for every country, and runs the spec's uncertainty analysis, giving an
immutable :class:`Assessment`: the ranking of all countries with rank and score intervals,
the vintage (year observed, age) and provenance of every number used, and the data
coverage. :meth:`Assessment.country` extracts one country's :class:`CountryAssessment`
(HSI and dimension scores, ranks with intervals, its weakest dimensions and indicators -
its "main threats" - and the numbers behind them). :func:`history` builds the index for
a range of years with the same fixed goalposts, the input of the trend and co-movement
analyses (:mod:`humsec.analysis.trends`, :mod:`humsec.analysis.threats`), and
:func:`compare` sets a user's variant of the spec (e.g. national re-weighting) beside the
global one.

The data of a year are what the spec's own ``impute`` step makes of the panel (for the
HSI: each country's latest observation at or before the year, at most 20 years old), so
the assessment is reproducible with ``humsec index build`` on an export of the panel.

References
----------
.. [HDR94] UNDP (1994). *Human Development Report 1994: New dimensions of human security*.
.. [SDR23] Sachs, J. D., Lafortune, G., Fuller, G., Drumm, E. (2023). *Sustainable
   Development Report 2023*, Methodology (bounded rescaling, dashboards, trends).
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 7
   (uncertainty analysis: rank intervals over Monte Carlo runs).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
import json

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.index.pipeline import IndexResult, build, resolve_method
from humsec.index.spec import IndexSpec
from humsec.model.catalogue import Catalogue
from humsec.model.panel import Panel, Provenance
from humsec.index.families import registry_for
from humsec.index.methods.impute import REPLACING_METHODS, panel_methods
from humsec.data.countries import CountryRegistry

__all__ = [
    "Assessment", "CountryAssessment", "DEFAULT_RUNS", "DEFAULT_SEED", "SEVERE", "assess", "compare",
    "coverage_by_year", "data_policy", "default_year", "history", "index_data", "vintage",
]

#: Monte Carlo runs of the uncertainty analysis behind the rank intervals.
DEFAULT_RUNS = 200
#: Seed of the uncertainty analysis (explicit, so assessments are reproducible).
DEFAULT_SEED = 20240101
#: Number of weakest dimensions / indicators reported as a country's main threats.
N_THREATS = 3


# ---------------------------------------------------------------------------- input


def index_data(panel: Panel, spec: IndexSpec) -> pd.DataFrame:
    """Tidy ``unit, year, indicator, value`` observations of the spec's indicators.

    Only totals (no sex/age/group breakdowns) and non-missing values are kept.

    Raises
    ------
    HumsecError
        If the panel holds none of the spec's indicators.
    """
    needed = list(dict.fromkeys([*spec.indicators, *spec.denominators]))
    sub = panel.select(indicators=needed, totals_only=True)
    sub = sub.dropna(subset=["value"])
    if sub.empty:
        raise HumsecError(f"the data hold none of the indicators of spec '{spec.name}' "
                          f"({', '.join(spec.indicators[:5])} ...)")
    return sub[["unit", "year", "indicator", "value"]].reset_index(drop=True)


#: Share of the best-covered year's ranked countries a default year must rank.
DEFAULT_YEAR_COVERAGE = 0.95
#: Share of the indicators that must be fresh (observed in the year or the one before,
#: for at least half of the ranked countries) in a default year.
DEFAULT_YEAR_FRESH = 0.5
#: A dimension score below this is flagged as a severe threat whatever the index says.
SEVERE = 25.0


def data_policy(spec: IndexSpec) -> pd.DataFrame:
    """The spec's missing-data policy, one row per indicator.

    Returns
    -------
    pandas.DataFrame
        ``indicator, method`` (``observed`` without a panel imputation, ``locf`` or
        ``window_mean``), ``max_age`` (years a number may be older than the year; for a
        window mean the window length minus one), ``window`` (years averaged) and
        ``exclude_years``.
    """
    i = spec.step_index("impute")
    rows = []
    for code in spec.indicators:
        row: dict[str, Any] = {"indicator": code, "method": "observed", "max_age": 0, "window": None,
                               "exclude_years": ()}
        if i is not None and spec.steps[i].method in panel_methods():
            name, params = resolve_method(spec.steps[i], code, 1)
            if name == "locf":
                gap = params.get("max_gap")
                scale = float(params.get("age_scale", 1.0))
                row.update(method="locf",
                           max_age=None if gap is None else max(1, int(round(gap * scale))))
            elif name == "window_mean":
                row.update(method="window_mean", max_age=int(params["years"]) - 1,
                           window=int(params["years"]), exclude_years=tuple(params.get("exclude_years", ())))
        rows.append(row)
    return pd.DataFrame(rows)


def _cube(spec: IndexSpec, data: pd.DataFrame, years: Sequence[int]
          ) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """(observed, available, units, first year): boolean cubes indicator x unit x year;
    ``available`` applies the spec's missing-data policy."""
    d = data[data["indicator"].isin(spec.indicators) & data["value"].notna()]
    ucode, uniq = pd.factorize(d["unit"], sort=True)  # positions in the sorted units
    units = [str(u) for u in uniq]
    y0 = int(min(d["year"].min(), min(years))) if len(d) else int(min(years))
    y1 = int(max(d["year"].max(), max(years))) if len(d) else int(max(years))
    icode = pd.Categorical(d["indicator"], categories=list(spec.indicators)).codes
    obs = np.zeros((len(spec.indicators), len(units), y1 - y0 + 1), dtype=bool)
    obs[icode, ucode, d["year"].to_numpy(dtype=int) - y0] = True
    avail = np.zeros_like(obs)
    pol = data_policy(spec)
    for k, p in enumerate(pol.itertuples()):
        o = obs[k].copy()
        for y in p.exclude_years:
            if 0 <= y - y0 < o.shape[1]:
                o[:, y - y0] = False
        window = o.shape[1] if p.max_age is None else int(p.max_age) + 1
        c = np.concatenate([np.zeros((o.shape[0], 1), dtype=int), np.cumsum(o, axis=1)], axis=1)
        hi = np.arange(1, o.shape[1] + 1)
        lo = np.maximum(hi - window, 0)
        avail[k] = (c[:, hi] - c[:, lo]) > 0
    return obs, avail, units, y0


def coverage_by_year(spec: IndexSpec, data: pd.DataFrame, years: Iterable[int] | None = None) -> pd.DataFrame:
    """How many units the spec can rank in each year, and how fresh the data are.

    Applies the spec's missing-data policy (:func:`data_policy`), its screen threshold
    (``min_availability``) and the root's ``min_children`` to the observations, without
    building the index.

    Returns
    -------
    pandas.DataFrame
        ``year, ranked`` (units passing the coverage rule), ``fresh`` (indicators observed
        in the year or the year before for at least half of those units) and
        ``fresh_share`` (``fresh`` / number of indicators).
    """
    years = sorted(int(y) for y in (data["year"].unique() if years is None else years))
    cols = ["year", "ranked", "fresh", "fresh_share"]
    if not years:
        return pd.DataFrame(columns=cols)
    obs, avail, units, y0 = _cube(spec, data, years)
    i = spec.step_index("screen")
    share = spec.steps[i].params.get("min_availability", 0.66) if i is not None else 0.0
    j = spec.step_index("aggregate")
    need_children = None
    if j is not None:
        need_children = resolve_method(spec.steps[j], spec.root, spec.level(spec.root))[1].get("min_children")
    dims = spec.children[spec.root]
    dim_rows = [[k for k, x in enumerate(spec.indicators) if d in spec.path(x)] for d in dims]
    n_ind = len(spec.indicators)
    rows = []
    for y in years:
        t = y - y0
        if t < 0 or t >= avail.shape[2] or not units:
            rows.append({"year": y, "ranked": 0, "fresh": 0, "fresh_share": 0.0})
            continue
        a = avail[:, :, t]  # indicator x unit
        ok = a.mean(axis=0) >= share - 1e-12
        if need_children:
            n_dims = sum(a[r].any(axis=0).astype(int) for r in dim_rows if r)
            ok &= n_dims >= need_children
        recent = obs[:, :, t] | (obs[:, :, t - 1] if t > 0 else False)
        n_ok = int(ok.sum())
        fresh = int(((recent[:, ok].sum(axis=1)) >= 0.5 * max(1, n_ok)).sum()) if n_ok else 0
        rows.append({"year": y, "ranked": n_ok, "fresh": fresh, "fresh_share": fresh / n_ind})
    return pd.DataFrame(rows, columns=cols)


def default_year(spec: IndexSpec, data: pd.DataFrame) -> int:
    """The latest year with enough data.

    A year qualifies when the spec ranks at least :data:`DEFAULT_YEAR_COVERAGE` of the
    units it ranks in its best-covered year and at least :data:`DEFAULT_YEAR_FRESH` of its
    indicators are observed in the year or the year before (for most ranked units), so a
    year whose numbers would all be carried forward from earlier years is never the
    default.

    Parameters
    ----------
    spec : IndexSpec
    data : pandas.DataFrame
        Tidy data as from :func:`index_data`.
    """
    cov = coverage_by_year(spec, data)
    best = cov["ranked"].max() if len(cov) else 0
    ok = cov[(cov["ranked"] >= DEFAULT_YEAR_COVERAGE * best) & (cov["ranked"] > 0)
             & (cov["fresh_share"] >= DEFAULT_YEAR_FRESH)]
    if best == 0 or ok.empty:
        raise HumsecError(f"no year has enough data for '{spec.name}' ({len(spec.indicators)} indicators); "
                          "choose a year explicitly")
    return int(ok["year"].max())


def vintage(data: pd.DataFrame, indicators: Sequence[str] | IndexSpec, year: int,
            max_age: int | None = None) -> pd.DataFrame:
    """The observation behind each (unit, indicator) number of a year's index.

    Parameters
    ----------
    data : pandas.DataFrame
        Tidy observations (``unit, year, indicator, value``).
    indicators : sequence of str or IndexSpec
        With a spec, its missing-data policy (:func:`data_policy`) decides per indicator
        how old an observation may be and which years a window mean averages.
    year : int
        Assessment year: the latest observation at or before it is used.
    max_age : int, optional
        Observations older than ``year - max_age`` are not used (with a list of
        indicators).

    Returns
    -------
    pandas.DataFrame
        ``unit, indicator, value, observed`` (the year of the latest observation used),
        ``age`` (``year - observed``), ``method`` (``observed``, ``carried forward``, ``mean of N years`` or
        ``one year in the window``) and ``n_obs`` (observations behind the number).
    """
    if isinstance(indicators, IndexSpec):
        pol = data_policy(indicators)
    else:
        pol = pd.DataFrame({"indicator": list(indicators), "method": "locf", "max_age": max_age,
                            "window": None, "exclude_years": [()] * len(indicators)})
    cols = ["unit", "indicator", "value", "observed", "age", "method", "n_obs"]
    pol = pol.set_index("indicator")
    d = data[data["indicator"].isin(list(pol.index)) & (data["year"] <= year) & data["value"].notna()]
    # one vectorised pass over numpy arrays (pandas' Arrow strings map slowly): the
    # policy's window and excluded years per row, by the row's indicator position
    k = pd.Index(pol.index).get_indexer(d["indicator"].to_numpy(dtype=object))
    d = pd.DataFrame({"unit": d["unit"].to_numpy(dtype=object), "indicator": pol.index.to_numpy(dtype=object)[k],
                      "year": d["year"].to_numpy(dtype=int), "value": d["value"].to_numpy(dtype=float)})
    age = pd.to_numeric(pol["max_age"], errors="coerce").to_numpy(dtype=float)[k]
    yr_arr = d["year"].to_numpy()
    keep = np.isnan(age) | (yr_arr >= year - np.nan_to_num(age, nan=0.0))
    for j, ys in enumerate(pol["exclude_years"]):
        if ys:
            keep &= ~((k == j) & np.isin(yr_arr, list(ys)))
    win = (pol["method"].to_numpy() == "window_mean")[k][keep]
    d = d[keep]
    if d.empty:
        return pd.DataFrame(columns=cols)
    parts = []
    last = d[~win].sort_values("year").drop_duplicates(["unit", "indicator"], keep="last")
    if len(last):
        last = last.rename(columns={"year": "observed"}).assign(n_obs=1)
        last["method"] = np.where(last["observed"] == year, "observed", "carried forward")
        parts.append(last)
    if win.any():
        g = d[win].groupby(["unit", "indicator"], as_index=False, sort=False)
        m = g.agg(value=("value", "mean"), observed=("year", "max"), n_obs=("value", "size"))
        m["method"] = [f"mean of {n} years" if n > 1 else "one year in the window" for n in m["n_obs"]]
        parts.append(m)
    out = pd.concat(parts, ignore_index=True)
    out["observed"] = out["observed"].astype(int)
    out["age"] = year - out["observed"]
    return out[cols].sort_values(["unit", "indicator"]).reset_index(drop=True)


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CountryAssessment:
    """One country in one year.

    Attributes
    ----------
    unit, name : str
        ISO3 code and name.
    year : int
    root : str
        Code of the index (``hsi``).
    score, rank : float
        Index score (0-100) and rank (1 = most secure) among ``n_ranked`` countries.
    rank_interval, score_interval : (float, float)
        5th-95th percentile over the uncertainty runs (NaN without uncertainty analysis).
    dimensions : pandas.DataFrame
        One row per dimension: ``dimension, name, score, rank, rank_q05, rank_q95,
        indicators, available, coverage``.
    indicators : pandas.DataFrame
        One row per indicator: ``indicator, name, dimension, value, unit, observed, age,
        how`` (observed / carried forward / mean of N years / missing), ``score``
        (normalised 0-100), ``rank``, ``source, edition, licence``.
    threats : pandas.DataFrame
        The weakest dimensions (lowest scores): ``dimension, name, score, rank``.
    threat_indicators : pandas.DataFrame
        The weakest indicators (lowest normalised scores) with their values and vintage.
    coverage : float
        Share of the index's indicators with a number for this country.
    peers : Mapping[str, list of str]
        Comparison groups (M49 region, sub-region, APPF, ...) -> ISO3 codes of scored members.
    """

    unit: str
    name: str
    year: int
    root: str
    score: float
    rank: float
    n_ranked: int
    rank_interval: tuple[float, float]
    score_interval: tuple[float, float]
    dimensions: pd.DataFrame
    indicators: pd.DataFrame
    threats: pd.DataFrame
    threat_indicators: pd.DataFrame
    coverage: float
    peers: Mapping[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        def recs(df: pd.DataFrame) -> list[dict[str, Any]]:
            return json.loads(df.to_json(orient="records"))

        return {
            "unit": self.unit, "name": self.name, "year": self.year, "index": self.root,
            "score": _num(self.score), "rank": _num(self.rank), "n_ranked": self.n_ranked,
            "rank_interval": [_num(v) for v in self.rank_interval],
            "score_interval": [_num(v) for v in self.score_interval],
            "coverage": _num(self.coverage),
            "dimensions": recs(self.dimensions), "threats": recs(self.threats),
            "threat_indicators": recs(self.threat_indicators), "indicators": recs(self.indicators),
            "peers": {k: list(v) for k, v in self.peers.items()},
        }


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(f) else f


@dataclass(frozen=True)
class Assessment:
    """Every country's index, ranks with intervals and data vintage for one year.

    Attributes
    ----------
    spec : IndexSpec
    year : int
    result : IndexResult
        The nominal build.
    intervals : pandas.DataFrame
        ``unit, node, nominal_score, nominal_rank, rank_q05, rank_q95, score_q05,
        score_q95, n_runs, n_score_runs`` for the root and every dimension (from
        :meth:`UncertaintyResult.summary`; without uncertainty analysis the intervals
        are NaN). Rank intervals cover every run; score intervals only the runs on the
        index's own score scale (:func:`_score_bands_on_one_scale`).
    vintage : pandas.DataFrame
        See :func:`vintage`.
    provenance : Mapping[str, Provenance]
        Provenance of every indicator used.
    catalogue : Catalogue or None
    runs, seed : int, int or None
        Uncertainty runs and seed (0 / None when not run).
    """

    spec: IndexSpec
    year: int
    result: IndexResult
    intervals: pd.DataFrame
    vintage: pd.DataFrame
    provenance: Mapping[str, Provenance]
    catalogue: Catalogue | None = None
    runs: int = 0
    seed: int | None = None
    n_failed: int = 0

    @property
    def root(self) -> str:
        return self.spec.root

    @property
    def dimensions(self) -> list[str]:
        """Children of the root (the HSI's seven dimensions)."""
        return list(self.spec.children[self.spec.root])

    @property
    def units(self) -> list[str]:
        """Countries with an index score, best first."""
        sc = self.result.scores[self.root].dropna()
        rk = self.result.ranks[self.root].reindex(sc.index)
        return list(rk.sort_values(kind="stable").index)

    def node_name(self, code: str) -> str:
        n = self.spec.nodes[code]
        if n.name:
            return n.name
        if self.catalogue is not None and code in self.catalogue:
            return self.catalogue[code].name
        return code

    # -- tables ------------------------------------------------------------------------
    def ranking(self) -> pd.DataFrame:
        """All scored countries, best first: ``rank, unit, name, score, rank_q05, rank_q95,
        score_q05, score_q95`` and the dimension scores."""
        reg = CountryRegistry.default()
        root = self.root
        iv = self.intervals[self.intervals["node"] == root].set_index("unit")
        sc = self.result.scores
        rows = []
        for u in self.units:
            row = {"rank": int(self.result.ranks.at[u, root]), "unit": u, "name": _name(reg, u),
                   "score": float(sc.at[u, root])}
            for k in ("rank_q05", "rank_q95", "score_q05", "score_q95"):
                row[k] = float(iv.at[u, k]) if u in iv.index else float("nan")
            for d in self.dimensions:
                row[d] = float(sc.at[u, d])
            row["severe"] = ", ".join(d for d in self.dimensions if sc.at[u, d] < SEVERE)
            rows.append(row)
        return pd.DataFrame(rows)

    def country(self, unit: str) -> CountryAssessment:
        """The assessment of one country (ISO3, case-insensitive).

        Raises
        ------
        HumsecError
            Unknown code, or a country without an index score this year (with its data
            coverage in the message).
        """
        reg = CountryRegistry.default()
        code = str(unit).strip().upper()
        if code not in reg.codes:
            code = reg.to_iso3(code) if len(code) != 3 or code.isdigit() else code
        sc = self.result.scores
        root = self.root
        if code not in sc.index or np.isnan(sc.at[code, root]):
            have = self.vintage[self.vintage["unit"] == code]
            n = len(self.spec.indicators)
            if code not in reg.codes and have.empty:
                reg.info(code)  # raises with a "did you mean"
            raise HumsecError(
                f"{code} ({_name(reg, code)}) has no {self.spec.name.upper()} score for {self.year}: "
                f"{have['indicator'].nunique()} of {n} indicators have data "
                f"(the index needs {_need(self.spec, n)}); try another --year")
        iv = self.intervals.set_index(["unit", "node"]) if len(self.intervals) else None

        def interval(node: str, a: str, b: str) -> tuple[float, float]:
            if iv is None or (code, node) not in iv.index:
                return (float("nan"), float("nan"))
            return (float(iv.at[(code, node), a]), float(iv.at[(code, node), b]))

        ranks = self.result.ranks
        vin = self.vintage[self.vintage["unit"] == code].set_index("indicator")
        norm = sc.loc[code]
        ind_rows = []
        for ind in self.spec.indicators:
            dim = self.spec.nodes[ind].parent
            cat = self.catalogue.get(ind) if self.catalogue is not None else None
            prov = self.provenance.get(ind)
            has = ind in vin.index
            ind_rows.append({
                "indicator": ind, "name": self.node_name(ind), "dimension": dim,
                "value": float(vin.at[ind, "value"]) if has else float("nan"),
                "unit": (cat.unit if cat is not None else self.spec.nodes[ind].unit),
                "observed": int(vin.at[ind, "observed"]) if has else None,
                "age": int(vin.at[ind, "age"]) if has else None,
                "how": str(vin.at[ind, "method"]) if has else "missing",
                "score": float(norm[ind]) if has else float("nan"),
                "rank": float(ranks.at[code, ind]) if has else float("nan"),
                "source": prov.source if prov is not None else "",
                "edition": prov.edition if prov is not None else "",
                "licence": prov.licence if prov is not None else "",
            })
        indicators = pd.DataFrame(ind_rows)
        indicators["observed"] = indicators["observed"].astype("Int64")
        indicators["age"] = indicators["age"].astype("Int64")
        dim_rows = []
        for d in self.dimensions:
            kids = self.spec.children[d]
            avail = int(indicators[indicators["dimension"] == d]["value"].notna().sum())
            q05, q95 = interval(d, "rank_q05", "rank_q95")
            dscore = float(sc.at[code, d])
            dim_rows.append({"dimension": d, "name": self.node_name(d), "score": dscore,
                             "rank": float(ranks.at[code, d]), "rank_q05": q05, "rank_q95": q95,
                             "indicators": len(kids), "available": avail,
                             "coverage": avail / len(kids) if kids else float("nan"),
                             "severe": bool(dscore < SEVERE)})
        dims = pd.DataFrame(dim_rows)
        threats = (dims.dropna(subset=["score"]).sort_values(["score", "dimension"], kind="stable")
                   .head(N_THREATS)[["dimension", "name", "score", "rank"]].reset_index(drop=True))
        t_ind = (indicators.dropna(subset=["score"]).sort_values(["score", "indicator"], kind="stable")
                 .head(N_THREATS)[["indicator", "name", "dimension", "value", "unit", "observed", "score"]]
                 .reset_index(drop=True))
        n_ranked = int(sc[root].notna().sum())
        return CountryAssessment(
            unit=code, name=_name(reg, code), year=self.year, root=root,
            score=float(sc.at[code, root]), rank=float(ranks.at[code, root]), n_ranked=n_ranked,
            rank_interval=interval(root, "rank_q05", "rank_q95"),
            score_interval=interval(root, "score_q05", "score_q95"),
            dimensions=dims, indicators=indicators, threats=threats, threat_indicators=t_ind,
            coverage=float(indicators["value"].notna().mean()),
            peers=MappingProxyType(self.peers(code)))

    def peers(self, unit: str) -> dict[str, list[str]]:
        """Comparison groups of ``unit`` -> scored members (the unit included): its M49
        sub-region and region and every curated grouping it belongs to (APPF first)."""
        reg = CountryRegistry.default()
        scored = set(self.units)
        out: dict[str, list[str]] = {}
        if unit not in reg.codes:
            return out
        info = reg.info(unit)
        groups = [g for g in reg.groups_of(unit)]
        groups.sort(key=lambda g: (g != "APPF", g))
        for g in groups:
            out[g] = sorted(scored & set(reg.members(g)))
        if info.subregion:
            out[info.subregion] = sorted(scored & set(reg.members(f"subregion:{info.subregion}")))
        if info.region:
            out[info.region] = sorted(scored & set(reg.members(f"region:{info.region}")))
        return {k: v for k, v in out.items() if len(v) > 1}

    def coverage(self) -> pd.DataFrame:
        """Per indicator: countries with a number (0 when none has one), median and maximum
        age of the numbers (missing when there are none), and the policy (maximum age,
        method) that decided which numbers count."""
        v = self.vintage
        g = v.groupby("indicator").agg(countries=("unit", "nunique"), median_age=("age", "median"),
                                       max_age_used=("age", "max"),
                                       oldest=("observed", "min"), newest=("observed", "max"))
        g = g.reindex(self.spec.indicators)
        g["countries"] = g["countries"].fillna(0).astype("int64")  # an indicator without numbers: 0 countries
        for col in ("max_age_used", "oldest", "newest"):
            g[col] = g[col].astype("Int64")  # years and ages stay integers; missing without numbers
        pol = data_policy(self.spec).set_index("indicator")[["method", "max_age"]]
        pol = pol.rename(columns={"method": "policy", "max_age": "max_age_allowed"})
        return g.join(pol).rename_axis("indicator").reset_index()

    def not_ranked(self, units: Iterable[str] | None = None) -> pd.DataFrame:
        """Countries without an index score this year, and why.

        Parameters
        ----------
        units : iterable of str, optional
            The countries that should be ranked (default: the 193 UN member states).

        Returns
        -------
        pandas.DataFrame
            ``unit, name, available`` (indicators with a number), ``needed`` (what the
            coverage rule asks), ``missing_dimensions`` (dimensions without any number),
            ``missing_indicators`` (codes, "; "-separated) and ``reason`` in words.
        """
        reg = CountryRegistry.default()
        want = list(reg.un_members) if units is None else [str(u).upper() for u in units]
        scored = set(self.result.scores[self.root].dropna().index)
        have = self.vintage.groupby("unit")["indicator"].apply(set).to_dict()
        n = len(self.spec.indicators)
        need = _need(self.spec, n)
        dims = self.dimensions
        rows = []
        for u in sorted(set(want) - scored):
            got = have.get(u, set())
            lack = [i for i in self.spec.indicators if i not in got]
            no_dim = [d for d in dims if not any(i in got for i in self.spec.indicators if d in self.spec.path(i))]
            parts = []
            if len(got) < _need_n(self.spec, n):
                parts.append(f"numbers for {len(got)} of {n} indicators (the index needs {need})")
            if no_dim:
                parts.append("no number for " + ", ".join(self.node_name(d).lower() for d in no_dim))
            if not parts:
                parts.append("screened out")
            rows.append({"unit": u, "name": _name(reg, u), "available": len(got), "needed": _need_n(self.spec, n),
                         "missing_dimensions": "; ".join(no_dim), "missing_indicators": "; ".join(lack),
                         "reason": "; ".join(parts)})
        return pd.DataFrame(rows, columns=["unit", "name", "available", "needed", "missing_dimensions",
                                           "missing_indicators", "reason"])


def _name(reg: Any, code: str) -> str:
    try:
        return reg.name(code)
    except HumsecError:
        return code


def _need_n(spec: IndexSpec, n: int) -> int:
    i = spec.step_index("screen")
    if i is None:
        return 1
    share = spec.steps[i].params.get("min_availability", 0.66)
    return int(np.ceil(share * n - 1e-9))


def _need(spec: IndexSpec, n: int) -> str:
    i = spec.step_index("screen")
    if i is None:
        return "data for every dimension"
    return f"at least {_need_n(spec, n)}, with one in every dimension"


# ---------------------------------------------------------------------------- building


def assess(spec: IndexSpec, panel: Panel, *, year: int | None = None, catalogue: Catalogue | None = None,
           runs: int = DEFAULT_RUNS, seed: int = DEFAULT_SEED,
           data: pd.DataFrame | None = None) -> Assessment:
    """Assess every country with ``spec`` for one year.

    Parameters
    ----------
    spec : IndexSpec
        The index (``load_spec("hsi")`` or a user's variant).
    panel : Panel
        Observations and provenance (e.g. the shipped data release).
    year : int, optional
        Assessment year (default: :func:`default_year`).
    catalogue : Catalogue, optional
        For indicator names and units.
    runs : int
        Monte Carlo runs of the spec's ``uncertainty`` section (0 = no rank intervals).
    seed : int
        Seed of the uncertainty analysis.
    data : pandas.DataFrame, optional
        Pre-computed :func:`index_data` (saves time when assessing several years).

    Returns
    -------
    Assessment

    Raises
    ------
    HumsecError
        No data for the year, or a spec that cannot be built on the data.
    """
    data = index_data(panel, spec) if data is None else data
    years = sorted(int(y) for y in data["year"].unique())
    year = default_year(spec, data) if year is None else int(year)
    if year not in years:
        raise HumsecError(f"no observations in {year}; the data cover {years[0]}-{years[-1]} "
                          f"(default year for '{spec.name}': {default_year(spec, data)})")
    n_failed = 0
    if runs > 0 and spec.uncertainty is not None:
        from humsec.index.uncertainty import UncertaintySpec, uncertainty_analysis

        # checked against the spec by the analysis itself (once)
        u = UncertaintySpec.from_dict(spec.uncertainty, file=spec.name)
        ua = uncertainty_analysis(spec, data, u, n=runs, seed=seed, year=year)
        result = ua.nominal  # the analysis builds the nominal index first: not built twice
        if not result.scores[spec.root].notna().any():
            raise HumsecError(f"'{spec.name}' scores no country in {year}")
        intervals = _score_bands_on_one_scale(ua, u, ua.summary([spec.root, *spec.children[spec.root]]))
        n_failed = ua.n_failed
    else:
        result = build(spec, data, year=year)
        if not result.scores[spec.root].notna().any():
            raise HumsecError(f"'{spec.name}' scores no country in {year}")
        runs = 0
        intervals = _no_intervals(result, [spec.root, *spec.children[spec.root]])
    vin = vintage(data, spec, year)
    prov = {k: v for k, v in panel.provenance.items() if k in set(spec.indicators)}
    return Assessment(spec=spec, year=year, result=result, intervals=intervals, vintage=vin,
                      provenance=MappingProxyType(prov), catalogue=catalogue, runs=runs,
                      seed=seed if runs else None, n_failed=n_failed)


def _score_bands_on_one_scale(ua: Any, u: Any, intervals: pd.DataFrame) -> pd.DataFrame:
    """Score intervals over the runs whose scores are on the index's own scale.

    A normalisation alternative (e.g. percentile ranks instead of goalposts) gives scores
    on another scale: a percentile-rank score of 25 is not a goalpost score of 25, so a
    band over both mixes two quantities (Kenya's HSI band would run from 22 to 65).
    Ranks are comparable across every run, so the rank intervals keep all runs; the score
    intervals (``score_q05``, ``score_q95``, ``mean_score``) keep the runs in which every
    input that changes the ``normalise`` step is at its first (the spec's own) value, and
    ``n_score_runs`` says how many runs that is.
    """
    keep = np.ones(len(ua.runs), dtype=bool)
    for inp in u.inputs:
        path = str(getattr(inp, "path", "") or "")
        if path.split(".")[:2] == ["steps", "normalise"] and getattr(inp, "labels", None):
            keep &= (ua.runs[inp.name] == inp.labels[0]).to_numpy()
    keep &= (ua.runs["status"] == "ok").to_numpy()
    if keep.all() or "node" not in intervals:
        return intervals.assign(n_score_runs=intervals["n_runs"])
    out = []
    for node, part in intervals.groupby("node", sort=False):
        S = ua.scores[keep][:, :, ua.aggregates.index(node)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            stats = pd.DataFrame({"unit": ua.units, "mean_score": np.nanmean(S, axis=0),
                                  "score_q05": np.nanquantile(S, 0.05, axis=0),
                                  "score_q95": np.nanquantile(S, 0.95, axis=0),
                                  "n_score_runs": (~np.isnan(S)).sum(axis=0)}).set_index("unit")
        part = part.drop(columns=[c for c in stats.columns if c in part.columns])
        out.append(part.join(stats, on="unit"))
    return pd.concat(out)[list(intervals.columns) + ["n_score_runs"]]


def _no_intervals(result: IndexResult, nodes: Iterable[str]) -> pd.DataFrame:
    frames = []
    for node in nodes:
        frames.append(pd.DataFrame({
            "unit": result.units, "node": node,
            "nominal_score": result.scores[node].to_numpy(),
            "nominal_rank": result.ranks[node].to_numpy(),
            "rank_q05": np.nan, "rank_q95": np.nan, "score_q05": np.nan, "score_q95": np.nan,
            "n_runs": 0, "n_score_runs": 0}))
    return pd.concat(frames, ignore_index=True)


def history(spec: IndexSpec, data: pd.DataFrame, years: Iterable[int], *,
            nodes: Sequence[str] | None = None) -> pd.DataFrame:
    """Root and dimension scores of every country for several years.

    Every year is built as its own cross-section with the spec's fixed goalposts, so
    scores of different years are comparable. Years the spec cannot build (too little
    data) are skipped.

    When no step of the spec looks across units (panel imputation that only looks back,
    availability screening, goalposts, data-free weights, means over each unit's
    children), a unit's score in a year depends on that unit's data alone, and all years
    are built in one pipeline run over the stacked unit-year rows (the same numbers as
    year-by-year builds, many times faster); otherwise, or when that run fails, year by
    year.

    Parameters
    ----------
    spec : IndexSpec
    data : pandas.DataFrame
        Tidy observations (:func:`index_data`).
    years : iterable of int
    nodes : sequence of str, optional
        Nodes to return (default: the root and its children); e.g. every node of the
        spec (``[n.code for n in spec.tree]``) to keep the normalised indicators.

    Returns
    -------
    pandas.DataFrame
        Index ``(unit, year)``, columns ``nodes``.
    """
    nodes = [spec.root, *spec.children[spec.root]] if nodes is None else list(nodes)
    have = set(int(y) for y in data["year"].dropna().unique()) if "year" in data.columns else set()
    want = [y for y in sorted(set(int(y) for y in years)) if y in have]
    if want:
        stacked = _stacked_history(spec, data, want, nodes)
        if stacked is not None:
            return stacked
    return _yearly_history(spec, data, want, nodes)


def _yearly_history(spec: IndexSpec, data: pd.DataFrame, years: Sequence[int], nodes: list[str]) -> pd.DataFrame:
    """:func:`history` one cross-section (one :func:`build`) per year."""
    frames = []
    for y in years:
        try:
            r = build(spec, data, year=y)
        except HumsecError:
            continue
        f = r.scores[nodes].copy()
        f = f[f[spec.root].notna()]
        f["year"] = y
        frames.append(f.reset_index())
    return _history_frame(frames, nodes)


def _history_frame(frames: list[pd.DataFrame], nodes: list[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=["unit", "year", *nodes]).set_index(["unit", "year"])
    out = pd.concat(frames, ignore_index=True)
    out = out.rename(columns={out.columns[0]: "unit"}) if "unit" not in out.columns else out
    return out.set_index(["unit", "year"]).sort_index()


#: Methods whose result for a unit depends on that unit's own values alone (per step).
_ROW_LOCAL = {
    "impute": frozenset({"none"}),
    "treat": frozenset({"none"}),
    "normalise": frozenset({"goalposts", "none"}),
    "weight": frozenset({"explicit", "equal"}),
    "aggregate": frozenset({"arithmetic", "geometric", "harmonic", "generalised"}),
}


def _panel_impute_plan(step: Any, codes: list[str]) -> list[tuple[str, dict[str, Any], list[str]]] | None:
    """Kernel calls of a panel imputation step as the pipeline makes them (one per
    distinct method and parameters, over every indicator), or None when a call could
    look at later years (``backfill``) or is not a panel method."""
    reg = registry_for("impute")
    plan: dict[tuple[str, str], tuple[str, dict[str, Any], list[str]]] = {}
    for code in codes:
        name, raw = resolve_method(step, code, 1)
        if name not in panel_methods():
            return None
        pp = reg.get(name).validate_params(raw)
        if pp.get("backfill"):
            return None
        plan.setdefault((name, repr(sorted(pp.items()))), (name, pp, []))[2].append(code)
    return list(plan.values())


def _row_local_steps(spec: IndexSpec, steps: Sequence[Any]) -> bool:
    """Whether every step (after a leading panel imputation) treats each unit alone."""
    for st in steps:
        allowed = _ROW_LOCAL.get(st.step)
        if st.step == "screen":
            if st.method != "availability" or st.overrides:
                return False
            if st.params.get("force_include") or st.params.get("force_exclude"):
                return False
            continue
        if allowed is None:
            return False
        if st.step in ("normalise", "treat", "impute"):
            codes: list[Any] = list(spec.indicators)
            level: int | None = 1
        else:
            codes, level = list(spec.aggregates), None
        for code in codes:
            name, _ = resolve_method(st, code, spec.level(code) if level is None else level)
            if name not in allowed:
                return False
    return True


def _stacked_history(spec: IndexSpec, data: pd.DataFrame, years: list[int],
                     nodes: list[str]) -> pd.DataFrame | None:
    """:func:`history` in one build over stacked (unit, year) rows, or None when the spec
    has a step that looks across units (or the stacked build fails): then the caller
    builds year by year.

    Each row is a unit's cross-section row of one year: its raw values of that year and,
    for a leading panel imputation (``locf``, ``window_mean``), what the step's kernels
    give that row on the panel of every year up to it - computed once on the panel of
    all years, which is the same because these kernels only look back in time.
    """
    steps = list(spec.steps)
    if not steps or spec.denominators or any(st.step == "denominate" for st in steps):
        return None
    leaves = list(spec.indicators)
    if {"unit", "year", "indicator", "value"} & set(leaves):
        return None  # names the stacked (wide) table reserves
    plan = None
    if steps[0].step == "impute" and steps[0].method in panel_methods():
        plan = _panel_impute_plan(steps[0], leaves)
        if plan is None:
            return None
        rest = steps[1:]
    else:
        rest = steps
    if not rest or not _row_local_steps(spec, rest):
        return None
    need = {"unit", "year", "indicator", "value"}
    if not need <= set(data.columns):
        return None
    ipos = pd.Index(leaves).get_indexer(data["indicator"].astype(str))
    sel = (ipos >= 0) & data["year"].notna().to_numpy()
    if not sel.any() or (np.bincount(ipos[sel], minlength=len(leaves)) == 0).any():
        return None  # every year fails the same way: the yearly path says so
    tidy = data[sel]
    ipos = ipos[sel]
    try:
        unit = tidy["unit"].astype(str).to_numpy()
        year = tidy["year"].to_numpy(dtype=np.int64)
        value = pd.to_numeric(tidy["value"], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError):
        return None
    last = max(years)
    upos, units = pd.factorize(unit, sort=True)
    k, nu = len(leaves), len(units)
    y0 = int(year.min())
    ny = last - y0 + 1
    live = year <= last
    upos, ipos, year, value = upos[live], ipos[live], year[live], value[live]
    key = (upos.astype(np.int64) * ny + (year - y0)) * k + ipos
    if (np.bincount(key, minlength=nu * ny * k) > 1).any():
        return None  # duplicate observations: the yearly builds name them
    # raw cube (unit, year, indicator) up to the last year wanted
    flat = np.full(nu * ny * k, np.nan)
    flat[key] = value
    raw = flat.reshape(nu, ny, k)
    # the rows: units with any observation (even NaN) in a wanted year
    present = np.zeros((nu, ny), dtype=bool)
    present[upos, year - y0] = True
    wanted = np.zeros(ny, dtype=bool)
    wanted[np.asarray(years) - y0] = True
    ru, ry = np.nonzero(present & wanted[None, :])
    cur = raw[ru, ry, :]
    if plan is not None:
        # the panel a yearly build imputes from: observed values, plus a row for every unit
        # of the cross-section (its gaps are filled too)
        obs = ~np.isnan(raw)
        rows = obs.any(axis=2)
        rows[ru, ry] = True
        pu, py = np.nonzero(rows)
        pidx = pd.MultiIndex.from_arrays([units[pu], (py + y0).astype(np.int64)], names=["unit", "year"])
        panel = pd.DataFrame(raw[pu, py, :], index=pidx, columns=leaves)
        reg = registry_for("impute")
        where = pd.MultiIndex.from_arrays([units[ru], (ry + y0).astype(np.int64)], names=["unit", "year"])
        out = cur.copy()
        for name, pp, cols in plan:
            filled = reg.get(name).fn(panel[cols], **pp)
            try:
                sl = filled.reindex(index=where, columns=cols).to_numpy(dtype=float)
            except (TypeError, ValueError):
                return None
            j = pd.Index(leaves).get_indexer(cols)
            if name in REPLACING_METHODS:
                out[:, j] = sl
            else:
                out[:, j] = np.where(np.isnan(cur[:, j]), sl, cur[:, j])
        cur = out
    labels = np.array([f"{u}\x1f{y}" for u, y in zip(units[ru], ry + y0)], dtype=object)
    wide = pd.DataFrame(cur, columns=leaves)
    wide.insert(0, "unit", labels)
    try:
        r = build(spec.model_copy(update={"steps": tuple(rest)}), wide, keep=())
    except HumsecError:
        return None  # one unit-year fails: the yearly builds skip its year only
    sc = r.scores[nodes]
    sc = sc[sc[spec.root].notna()]
    lab = sc.index.to_numpy(dtype=object).astype(str)
    parts = np.char.partition(lab, "\x1f")
    out_f = sc.reset_index(drop=True)
    out_f.insert(0, "year", parts[:, 2].astype(np.int64))
    out_f.insert(0, "unit", parts[:, 0].astype(object))
    out_f.columns.name = None
    return out_f.set_index(["unit", "year"]).sort_index()


# ---------------------------------------------------------------------------- variants


def compare(base: Assessment, variant: Assessment) -> pd.DataFrame:
    """Two assessments side by side (e.g. the global HSI and a national re-weighting).

    Returns
    -------
    pandas.DataFrame
        One row per country scored by either: ``unit, name, score_<a>, rank_<a>,
        score_<b>, rank_<b>, rank_change`` (positive = the variant ranks it higher),
        where ``<a>``/``<b>`` are the spec names (``variant`` when both are equal).
    """
    if base.year != variant.year:
        raise HumsecError(f"cannot compare assessments of different years ({base.year}, {variant.year})")
    a = base.spec.name
    b = variant.spec.name if variant.spec.name != a else "variant"
    reg = CountryRegistry.default()

    def part(x: Assessment, tag: str) -> pd.DataFrame:
        return pd.DataFrame({f"score_{tag}": x.result.scores[x.root],
                             f"rank_{tag}": x.result.ranks[x.root]})

    out = part(base, a).join(part(variant, b), how="outer")
    out = out[out[f"score_{a}"].notna() | out[f"score_{b}"].notna()]
    out["rank_change"] = out[f"rank_{a}"] - out[f"rank_{b}"]
    out.index.name = "unit"
    out = out.reset_index()
    out.insert(1, "name", [_name(reg, u) for u in out["unit"]])
    for c in (f"rank_{a}", f"rank_{b}", "rank_change"):
        out[c] = out[c].astype("Int64")
    return out.sort_values([f"rank_{b}", "unit"], kind="stable", na_position="last").reset_index(drop=True)


def weight_changes(base: IndexSpec, variant: IndexSpec) -> pd.DataFrame:
    """Nodes whose weight, direction or goalposts differ between two specs."""
    rows = []
    for code in dict.fromkeys([*base.nodes, *variant.nodes]):
        x, y = base.nodes.get(code), variant.nodes.get(code)
        if x is None or y is None:
            rows.append({"node": code, "change": "only in " + ("variant" if x is None else "base")})
            continue
        for attr in ("weight", "direction", "goalposts", "parent", "target"):
            if getattr(x, attr) != getattr(y, attr):
                rows.append({"node": code, "change": f"{attr}: {getattr(x, attr)} -> {getattr(y, attr)}"})
    return pd.DataFrame(rows, columns=["node", "change"])
