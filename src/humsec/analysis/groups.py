"""Vulnerable groups: who is left behind.

Works on the disaggregated observations of a :class:`~humsec.model.panel.Panel` (keys
``sex``, ``age``, ``group``; ``"_T"`` = total):

* :func:`gaps` — gaps and ratios between a focal group and its reference (female/male,
  elderly/working-age, children/working-age, youth/adults, with/without disability,
  migrants/non-migrants, rural/urban, conflict-affected/not), *direction-aware*: the
  ``parity`` is below 1 whenever the focal group is worse off, whether a higher value is
  better (life expectancy) or worse (mortality);
* :func:`group_scores` and :func:`dimension_scores` — group-specific scores: every
  group's values are normalised with the *same* goalposts as the total (min-max over
  all observations of the indicator) and averaged per human-security dimension, next to
  the total's score on the same indicators;
* :func:`furthest_behind` — per country, every population group ranked by its average
  shortfall from the best-off group of the same disaggregation (sex, age, disability,
  ...), with its worst indicator;
* :func:`demography` — elderly, child and youth shares, dependency ratios and sex ratios
  from the UN WPP population by sex and age (indicator ``pop`` of the data release);
* inequality: the Atkinson index (:func:`atkinson`, the engine's own kernel from
  :mod:`humsec.index.hdr`, re-exported), :func:`inequality_adjusted` (IHDI-style
  ``score x (1 - A)``), :func:`between_group_atkinson`, and :func:`gender_indices`
  (GDI, GII, IHDI through the engine's built-in specs).

Group codes (values of the ``group`` key) understood by the default comparisons are
listed in :data:`GROUP_AXES`; other codes are accepted and form the axis ``"group"``.

References
----------
.. [Atk1970] Atkinson, A. B. (1970). On the measurement of inequality. *Journal of
   Economic Theory* 2(3), 244-263. https://doi.org/10.1016/0022-0531(70)90039-6
.. [HDR2324] UNDP (2024). *Human Development Report 2023/2024, Technical Notes* 2-4
   (IHDI, GDI, GII).
.. [LNOB2018] UNDP (2018). *What does it mean to leave no one behind? A UNDP discussion
   paper and framework for implementation*. New York: UNDP.
.. [UIS2010] UNESCO Institute for Statistics (2010). *Global Education Digest 2010*,
   annex: the gender parity index (female value / male value) and the parity band
   0.97-1.03.
.. [UCDP2024] Davies, S., Pettersson, T. & Öberg, M. (2024). Organized violence
   1989-2023. *Journal of Peace Research* 61(4) — an active conflict has at least 25
   battle-related deaths in a calendar year.
.. [WPP2024] United Nations, DESA, Population Division (2024). *World Population
   Prospects 2024* — definitions of dependency ratios (per 100 persons aged 15-64) and
   sex ratio (males per 100 females).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
import json

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.index.hdr import atkinson, gdi_group
from humsec.model.catalogue import Catalogue
from humsec.model.panel import DISAGG_KEYS, TOTAL, Panel

__all__ = [
    "DEFAULT_COMPARISONS",
    "GROUP_AXES",
    "Comparison",
    "atkinson",
    "between_group_atkinson",
    "demography",
    "dimension_scores",
    "furthest_behind",
    "gaps",
    "gender_indices",
    "group_scores",
    "inequality_adjusted",
    "left_behind",
    "LeftBehind",
    "max_ages",
]

# ============================================================================ vocabulary

#: Codes of the ``group`` key and the disaggregation axis they belong to.
GROUP_AXES: Mapping[str, str] = MappingProxyType({
    "disability": "disability", "no_disability": "disability",
    "migrant": "migrant", "non_migrant": "migrant",
    "rural": "area", "urban": "area",
    "conflict_affected": "conflict", "not_conflict_affected": "conflict",
})


@dataclass(frozen=True)
class Comparison:
    """A focal group compared with a reference group.

    Parameters
    ----------
    name : str
        Label, e.g. ``"female/male"``.
    focal, reference : Mapping[str, str]
        Disaggregation keys (``sex``, ``age``, ``group``) selecting each side; keys not
        named must be totals.
    """

    name: str
    focal: Mapping[str, str]
    reference: Mapping[str, str]


#: The comparisons named in issue 6 (women, the elderly, children, youth, people with
#: disabilities, migrants, rural and conflict-affected populations).
DEFAULT_COMPARISONS: tuple[Comparison, ...] = (
    Comparison("female/male", {"sex": "F"}, {"sex": "M"}),
    Comparison("elderly/working-age", {"age": "65+"}, {"age": "15-64"}),
    Comparison("children/working-age", {"age": "0-14"}, {"age": "15-64"}),
    Comparison("youth/adults", {"age": "15-24"}, {"age": "25-64"}),
    Comparison("disability/no disability", {"group": "disability"}, {"group": "no_disability"}),
    Comparison("migrant/non-migrant", {"group": "migrant"}, {"group": "non_migrant"}),
    Comparison("rural/urban", {"group": "rural"}, {"group": "urban"}),
    Comparison("conflict-affected/not affected", {"group": "conflict_affected"},
               {"group": "not_conflict_affected"}),
)


# ============================================================================ helpers


def _frame(data: Panel | pd.DataFrame) -> pd.DataFrame:
    if isinstance(data, Panel):
        df = data.data
    elif isinstance(data, pd.DataFrame):
        missing = {"unit", "year", "indicator", "value"} - set(data.columns)
        if missing:
            raise HumsecError(f"data lack column(s) {', '.join(sorted(missing))}; expected a panel "
                              "with unit, year, indicator, [sex, age, group,] value")
        df = data.copy()
        for k in DISAGG_KEYS:
            df[k] = df[k].fillna(TOTAL).astype(str) if k in df.columns else TOTAL
    else:
        raise HumsecError(f"expected a Panel or DataFrame, got {type(data).__name__}")
    return df.dropna(subset=["value"])


@functools.cache
def _shipped_catalogue() -> Catalogue:
    """:meth:`Catalogue.default` read once per process (an immutable value of the
    installed package; parsing its YAML costs about 0.1 s per call)."""
    return Catalogue.default()


def _directions(codes: Iterable[str], catalogue: Catalogue | None) -> pd.DataFrame:
    cat = catalogue if catalogue is not None else _shipped_catalogue()
    rows = []
    for c in codes:
        ind = cat.get(c)
        rows.append({"indicator": c, "direction": ind.direction if ind else 1,
                     "dimension": ind.dimension if ind else "unclassified"})
    return pd.DataFrame(rows, columns=["indicator", "direction", "dimension"]).set_index("indicator")


def _select_year(df: pd.DataFrame, year: int | None, latest: bool) -> pd.DataFrame:
    if year is None and not latest:
        return df
    if year is not None and not latest:
        return df[df["year"] == int(year)]
    if year is not None:
        df = df[df["year"] <= int(year)]
    if df.empty:
        return df
    last = df.groupby(["unit", "indicator"])["year"].transform("max")
    return df[df["year"] == last]


def _axis(row_sex: str, row_age: str, row_group: str) -> str:
    parts = []
    if row_sex != TOTAL:
        parts.append("sex")
    if row_age != TOTAL:
        parts.append("age")
    if row_group != TOTAL:
        parts.append(GROUP_AXES.get(row_group, "group"))
    return "x".join(parts) if parts else "total"


def _label(sex: str, age: str, group: str) -> str:
    parts = [f"{k}={v}" for k, v in (("sex", sex), ("age", age), ("group", group)) if v != TOTAL]
    return ", ".join(parts) if parts else "total"


# ============================================================================ gaps


def gaps(data: Panel | pd.DataFrame, *, units: Sequence[str] | None = None,
         year: int | None = None, latest: bool = False,
         comparisons: Sequence[Comparison] = DEFAULT_COMPARISONS,
         catalogue: Catalogue | None = None, include_context: bool = False) -> pd.DataFrame:
    """Gaps and ratios between focal and reference groups (direction-aware).

    Parameters
    ----------
    data : Panel or DataFrame
        Tidy observations with disaggregation keys.
    units : sequence of str, optional
        Restrict to these units.
    year : int, optional
        Only this year (with ``latest=True``: the latest observation at or before it).
    latest : bool
        Keep, per unit and indicator, the most recent year.
    comparisons : sequence of Comparison
        Default :data:`DEFAULT_COMPARISONS`.
    catalogue : Catalogue, optional
        For indicator directions and dimensions (default: the shipped catalogue;
        unknown indicators count as "higher is better").
    include_context : bool
        Also compare context indicators (population counts ...), default no.

    Returns
    -------
    pandas.DataFrame
        One row per unit, year, indicator and comparison: ``focal_value``,
        ``reference_value``, ``ratio`` (focal / reference value; for female/male this
        is the *parity index* F/M of [UIS2010]_, whatever the direction),
        ``difference`` (focal - reference), ``direction``, ``achievement_ratio`` (focal
        achievement relative to the reference: the ratio for "higher is better", its
        inverse for "lower is better"; < 1 = focal group behind), ``shortfall_pct``
        (``(1 - achievement_ratio) x 100``), ``focal_behind`` and ``behind`` (the name of
        the group that is behind, e.g. ``"male"`` when men's homicide rate is the
        higher one, or ``"neither"``).

    Notes
    -----
    Ratios are not adjusted for biological differences (e.g. the female advantage in
    life expectancy and child survival that the GDI builds into its goalposts), so
    parity in such indicators can hide a disadvantage.
    """
    df = _frame(data)
    if units is not None:
        df = df[df["unit"].isin(list(units))]
    df = _select_year(df, year, latest)
    dirs = _directions(sorted(df["indicator"].unique()), catalogue)
    if not include_context:
        keep = dirs.index[dirs["dimension"] != "context"]
        df = df[df["indicator"].isin(keep)]
    out = []
    keys = ["unit", "year", "indicator"]
    for comp in comparisons:
        sides = []
        for sel in (comp.focal, comp.reference):
            m = np.ones(len(df), dtype=bool)
            for k in DISAGG_KEYS:
                m &= (df[k] == sel.get(k, TOTAL)).to_numpy()
            sides.append(df.loc[m, [*keys, "value"]])
        j = sides[0].merge(sides[1], on=keys, suffixes=("_f", "_r"))
        if j.empty:
            continue
        j = j.rename(columns={"value_f": "focal_value", "value_r": "reference_value"})
        j.insert(3, "comparison", comp.name)
        out.append(j)
    cols = ["unit", "year", "indicator", "comparison", "focal_value", "reference_value", "ratio",
            "difference", "direction", "achievement_ratio", "shortfall_pct", "focal_behind", "behind"]
    if not out:
        return pd.DataFrame(columns=cols)
    g = pd.concat(out, ignore_index=True)
    g["direction"] = g["indicator"].map(dirs["direction"]).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = g["focal_value"] / g["reference_value"]
        inv = g["reference_value"] / g["focal_value"]
    g["ratio"] = ratio.where(g["reference_value"] != 0)
    g["difference"] = g["focal_value"] - g["reference_value"]
    g["achievement_ratio"] = np.where(g["direction"] > 0, g["ratio"], inv.where(g["focal_value"] != 0))
    g["shortfall_pct"] = (1.0 - g["achievement_ratio"]) * 100.0
    g["focal_behind"] = g["achievement_ratio"] < 1.0
    names = {c.name: c.name.split("/", 1) for c in comparisons}
    g["behind"] = [
        "neither" if not np.isfinite(a) or a == 1.0 else (names[c][0] if a < 1.0 else names[c][1])
        for c, a in zip(g["comparison"], g["achievement_ratio"].astype(float))]
    return g[cols].sort_values(["unit", "year", "comparison", "indicator"]).reset_index(drop=True)


# ============================================================================ scores


def group_scores(data: Panel | pd.DataFrame, *, goalposts: Mapping[str, tuple[float, float]] | None = None,
                 catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Normalised scores of every observation, groups and totals alike.

    Each indicator is rescaled to [0, 1] (1 = most secure) with goalposts shared by all
    groups and the total: ``(x - lo) / (hi - lo)`` for "higher is better" and
    ``(hi - x) / (hi - lo)`` otherwise, with ``lo``/``hi`` the minimum and maximum over
    all observations of the indicator (every unit, year and group) unless ``goalposts``
    fixes them (then scores are capped to [0, 1] as in the HDR).

    Returns
    -------
    pandas.DataFrame
        The observations (context indicators excluded) with ``dimension``,
        ``direction``, ``lo``, ``hi``, ``score``, ``axis`` and ``population_group``.
    """
    df = _frame(data)
    dirs = _directions(sorted(df["indicator"].unique()), catalogue)
    df = df[df["indicator"].isin(dirs.index[dirs["dimension"] != "context"])].copy()
    df["dimension"] = df["indicator"].map(dirs["dimension"])
    df["direction"] = df["indicator"].map(dirs["direction"]).astype(int)
    lo = df.groupby("indicator")["value"].transform("min")
    hi = df.groupby("indicator")["value"].transform("max")
    fixed = dict(goalposts or {})
    if fixed:
        for code, (a, b) in fixed.items():
            if not a < b:
                raise HumsecError(f"goalposts for '{code}': expected lo < hi, got ({a}, {b})")
        lo = df["indicator"].map(lambda c: fixed[c][0] if c in fixed else np.nan).fillna(lo)
        hi = df["indicator"].map(lambda c: fixed[c][1] if c in fixed else np.nan).fillna(hi)
    df["lo"], df["hi"] = lo.astype(float), hi.astype(float)
    span = (df["hi"] - df["lo"]).where(lambda s: s > 0)
    raw = (df["value"] - df["lo"]) / span
    score = raw.where(df["direction"] > 0, 1.0 - raw)
    df["score"] = score.clip(0.0, 1.0) if fixed else score
    df["axis"] = [_axis(s, a, g) for s, a, g in zip(df["sex"], df["age"], df["group"])]
    df["population_group"] = [_label(s, a, g) for s, a, g in zip(df["sex"], df["age"], df["group"])]
    return df.reset_index(drop=True)


def dimension_scores(data: Panel | pd.DataFrame, *, units: Sequence[str] | None = None,
                     year: int | None = None, latest: bool = True,
                     goalposts: Mapping[str, tuple[float, float]] | None = None,
                     catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Group-specific dimension scores next to the total's on the same indicators.

    Scores of :func:`group_scores` are averaged (arithmetic mean) per unit, dimension and
    population group over the indicators the group has (latest observation at or before
    ``year``). ``total_score`` is the total population's mean over the same indicators
    (where the total is observed) and ``gap = total_score - score`` (positive = the group
    is behind the average).

    Returns
    -------
    pandas.DataFrame
        ``unit``, ``dimension``, ``population_group``, ``axis``, ``score``,
        ``n_indicators``, ``indicators``, ``total_score``, ``gap``.
    """
    sc = group_scores(data, goalposts=goalposts, catalogue=catalogue)
    if units is not None:
        sc = sc[sc["unit"].isin(list(units))]
    sc = _select_year(sc, year, latest) if (year is not None or latest) else sc
    tot = sc[sc["population_group"] == "total"].set_index(["unit", "indicator"])["score"]
    grp = sc[sc["population_group"] != "total"].copy()
    grp["total_score"] = pd.Series(list(zip(grp["unit"], grp["indicator"]))).map(tot).to_numpy() \
        if len(grp) else np.nan
    rows = []
    for (u, d, pg, ax), g in grp.groupby(["unit", "dimension", "population_group", "axis"], sort=True):
        m = g["total_score"].notna()
        rows.append({"unit": u, "dimension": d, "population_group": pg, "axis": ax,
                     "score": float(g["score"].mean()), "n_indicators": len(g),
                     "indicators": ", ".join(sorted(g["indicator"])),
                     "total_score": float(g.loc[m, "total_score"].mean()) if m.any() else np.nan,
                     "gap": float((g.loc[m, "total_score"] - g.loc[m, "score"]).mean()) if m.any() else np.nan})
    cols = ["unit", "dimension", "population_group", "axis", "score", "n_indicators", "indicators",
            "total_score", "gap"]
    return pd.DataFrame(rows, columns=cols)


def furthest_behind(data: Panel | pd.DataFrame, unit: str, *, year: int | None = None,
                    latest: bool = True, goalposts: Mapping[str, tuple[float, float]] | None = None,
                    catalogue: Catalogue | None = None) -> pd.DataFrame:
    """Rank a country's population groups by how far behind they are.

    For every indicator observed for several groups of one disaggregation axis (e.g.
    women and men), each group's *shortfall* is the best-off group's normalised score
    minus its own (0 for the best-off group; scores from :func:`group_scores`, so
    comparable across indicators). A group's distance behind is its mean shortfall over
    the indicators where it is compared; groups are ranked by it (the "furthest behind"
    of [LNOB2018]_). The mean gap to the total population on the same indicators is
    given where totals exist.

    Parameters
    ----------
    data : Panel or DataFrame
    unit : str
        ISO3 code.
    year : int, optional
        Latest observation at or before this year (default: latest available), or only
        this year with ``latest=False``.

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``population_group``, ``axis``, ``mean_shortfall``, ``n_indicators``,
        ``worst_indicator``, ``worst_shortfall``, ``worst_value``, ``best_group_value``,
        ``years``, ``gap_vs_total`` (all shortfalls on the 0-1 score scale).
    """
    sc = group_scores(data, goalposts=goalposts, catalogue=catalogue)
    sc = sc[sc["unit"] == unit]
    sc = _select_year(sc, year, latest) if (year is not None or latest) else sc
    cols = ["rank", "population_group", "axis", "mean_shortfall", "n_indicators", "worst_indicator",
            "worst_shortfall", "worst_value", "best_group_value", "years", "gap_vs_total"]
    grp = sc[sc["population_group"] != "total"].copy()
    if grp.empty:
        return pd.DataFrame(columns=cols)
    tot = sc[sc["population_group"] == "total"].set_index(["indicator", "year"])["score"]
    best = grp.groupby(["indicator", "year", "axis"])["score"].transform("max")
    n_in_axis = grp.groupby(["indicator", "year", "axis"])["score"].transform("count")
    best_val = grp.loc[grp.groupby(["indicator", "year", "axis"])["score"].transform("idxmax"), "value"]
    grp["best_group_value"] = best_val.to_numpy()
    grp["shortfall"] = best - grp["score"]
    grp = grp[n_in_axis >= 2]
    grp["vs_total"] = [tot.get((i, y), np.nan) for i, y in zip(grp["indicator"], grp["year"])]
    grp["vs_total"] = grp["vs_total"] - grp["score"]
    rows = []
    for (pg, ax), g in grp.groupby(["population_group", "axis"], sort=True):
        w = g.loc[g["shortfall"].idxmax()]
        rows.append({"population_group": pg, "axis": ax, "mean_shortfall": float(g["shortfall"].mean()),
                     "n_indicators": int(len(g)), "worst_indicator": w["indicator"],
                     "worst_shortfall": float(w["shortfall"]), "worst_value": float(w["value"]),
                     "best_group_value": float(w["best_group_value"]),
                     "years": ", ".join(str(y) for y in sorted(g["year"].unique())),
                     "gap_vs_total": float(g["vs_total"].mean()) if g["vs_total"].notna().any() else np.nan})
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=cols)
    out = out.sort_values(["mean_shortfall", "population_group"], ascending=[False, True])
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out[cols].reset_index(drop=True)


# ============================================================================ demography

_AGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)|\+)\s*$")


def _age_bounds(code: str) -> tuple[int, float]:
    m = _AGE.match(str(code))
    if not m:
        raise HumsecError(f"age group '{code}': expected 'a-b' or 'a+' (e.g. 0-4, 100+)")
    lo = int(m.group(1))
    hi = float(m.group(2)) if m.group(2) is not None else float("inf")
    return lo, hi


def _in_band(bounds: tuple[int, float], lo: int, hi: float, code: str) -> bool:
    a, b = bounds
    inside = a >= lo and b <= hi
    outside = b < lo or a > hi
    if not (inside or outside):
        raise HumsecError(f"age group '{code}' straddles the band {lo}-{hi:g}; the age groups "
                          "must nest in the bands 0-14, 15-24, 15-64, 65+")
    return inside


def demography(data: Panel | pd.DataFrame, *, units: Sequence[str] | None = None,
               years: Sequence[int] | None = None, indicator: str = "pop") -> pd.DataFrame:
    """Demography of vulnerability from population by sex and age group.

    Parameters
    ----------
    data : Panel or DataFrame
        With indicator ``pop`` disaggregated by ``sex`` (F/M) and ``age`` (groups such as
        ``0-4``, ..., ``95-99``, ``100+``), as in the data release (UN WPP 2024).
    units, years : optional
        Restrict the output.
    indicator : str
        Code of the population indicator.

    Returns
    -------
    pandas.DataFrame
        Per ``unit`` and ``year``: ``population``; shares in percent of the population:
        ``child_share`` (0-14), ``youth_share`` (15-24), ``working_age_share`` (15-64),
        ``elderly_share`` (65+), ``oldest_old_share`` (80+); dependency ratios per 100
        persons aged 15-64 ([WPP2024]_): ``child_dependency`` (0-14 / 15-64),
        ``old_age_dependency`` (65+ / 15-64), ``total_dependency`` (their sum); sex ratios
        (males per 100 females): ``sex_ratio`` (all ages), ``sex_ratio_0_4``,
        ``sex_ratio_65plus``; and ``female_share_65plus`` (% of people 65+ who are women).
    """
    df = _frame(data)
    df = df[(df["indicator"] == indicator) & (df["group"] == TOTAL)]
    if units is not None:
        df = df[df["unit"].isin(list(units))]
    if years is not None:
        df = df[df["year"].isin([int(y) for y in years])]
    cols = ["unit", "year", "population", "child_share", "youth_share", "working_age_share",
            "elderly_share", "oldest_old_share", "child_dependency", "old_age_dependency",
            "total_dependency", "sex_ratio", "sex_ratio_0_4", "sex_ratio_65plus",
            "female_share_65plus"]
    df = df[(df["sex"].isin(["F", "M"])) & (df["age"] != TOTAL)]
    if df.empty:
        return pd.DataFrame(columns=cols)
    bounds = {a: _age_bounds(a) for a in df["age"].unique()}
    bands = {"child": (0, 14), "youth": (15, 24), "working": (15, 64), "elderly": (65, float("inf")),
             "oldest": (80, float("inf")), "infant": (0, 4)}
    member = {b: {a for a, bd in bounds.items() if _in_band(bd, lo, hi, a)} for b, (lo, hi) in bands.items()}
    piv = df.pivot_table(index=["unit", "year"], columns=["sex", "age"], values="value", aggfunc="sum")

    def total(sexes: Sequence[str], ages: set[str] | None = None) -> pd.Series:
        sel = [c for c in piv.columns if c[0] in sexes and (ages is None or c[1] in ages)]
        return piv[sel].sum(axis=1, min_count=1) if sel else pd.Series(np.nan, index=piv.index)

    both = ("F", "M")
    pop = total(both)
    child, youth, work = total(both, member["child"]), total(both, member["youth"]), total(both, member["working"])
    old, oldest = total(both, member["elderly"]), total(both, member["oldest"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "population": pop,
            "child_share": child / pop * 100, "youth_share": youth / pop * 100,
            "working_age_share": work / pop * 100, "elderly_share": old / pop * 100,
            "oldest_old_share": oldest / pop * 100,
            "child_dependency": child / work * 100, "old_age_dependency": old / work * 100,
            "total_dependency": (child + old) / work * 100,
            "sex_ratio": total(["M"]) / total(["F"]) * 100,
            "sex_ratio_0_4": total(["M"], member["infant"]) / total(["F"], member["infant"]) * 100,
            "sex_ratio_65plus": total(["M"], member["elderly"]) / total(["F"], member["elderly"]) * 100,
            "female_share_65plus": total(["F"], member["elderly"]) / old * 100,
        })
    out = out.replace([np.inf, -np.inf], np.nan).reset_index()
    return out[cols]


# ============================================================================ inequality


def inequality_adjusted(score: Any, inequality: Any, *, percent: bool = False) -> Any:
    """IHDI-style inequality-adjusted score ``score x (1 - A)`` ([HDR2324]_ note 2).

    Parameters
    ----------
    score : float, array-like or Series
        Achievement or dimension index.
    inequality : float, array-like or Series
        Atkinson inequality ``A`` of the distribution behind ``score`` (see
        :func:`atkinson`), in [0, 1] (or [0, 100] with ``percent=True``).

    Returns
    -------
    Same type as the inputs (Series are aligned on their index).

    Raises
    ------
    HumsecError
        Inequality outside its range.
    """
    a = inequality / 100.0 if percent else inequality
    arr = np.asarray(a, dtype=float)
    if np.any((arr < 0) | (arr > 1)):
        raise HumsecError(f"inequality must be in [0, {100 if percent else 1}]")
    return score * (1.0 - a)


def between_group_atkinson(values: Mapping[str, float] | pd.Series, population: Mapping[str, float] | pd.Series,
                           epsilon: float = 1.0) -> float:
    """Atkinson inequality *between* groups: each person is given the mean achievement of
    their group, weighted by the groups' population ([Atk1970]_, the between-group term of
    the Atkinson family). E.g. life expectancy of women and men weighted by the female
    and male population.

    Returns
    -------
    float
        In [0, 1]; 0 when every group has the same value.
    """
    v = pd.Series(values, dtype=float)
    p = pd.Series(population, dtype=float).reindex(v.index)
    if p.isna().any():
        raise HumsecError(f"population missing for group(s) {list(v.index[p.isna()])}")
    return float(atkinson(v.to_numpy(), weights=p.to_numpy(), epsilon=epsilon))


_SEX_SUFFIX = {"F": "_f", "M": "_m"}


def gender_indices(data: pd.DataFrame | Panel, year: int) -> pd.DataFrame:
    """GDI, GII and IHDI through the engine's built-in specs ([HDR2324]_ notes 2-4).

    Parameters
    ----------
    data : DataFrame or Panel
        Tidy ``unit, year, indicator, value`` holding the HDR components named as in the
        built-in specs (``le_f``, ``eys_f``, ..., ``mmr``, ``abr``, ``se_f``, ...,
        ``le``, ``eys``, ``mys``, ``gnipc``, ``ineq_le``, ``ineq_edu``, ``ineq_inc``).
        Sex-disaggregated observations (``sex`` = F/M) of a base code such as ``le``,
        ``eys``, ``se`` or ``lfpr`` are mapped to ``le_f``/``le_m`` etc.
    year : int

    Returns
    -------
    pandas.DataFrame
        Index ``unit``; columns ``gdi``, ``hdi_f``, ``hdi_m``, ``gdi_group``, ``gii``,
        ``ihdi`` (unrounded; NaN where a spec's inputs are missing; a spec whose inputs
        are absent altogether gives an all-NaN column).
    """
    from humsec.index.builtin import load_spec
    from humsec.index.pipeline import build

    df = _frame(data)
    sexed = df["sex"].isin(list(_SEX_SUFFIX)) & (df["age"] == TOTAL) & (df["group"] == TOTAL)
    df.loc[sexed, "indicator"] = df.loc[sexed, "indicator"] + df.loc[sexed, "sex"].map(_SEX_SUFFIX)
    totals = df[(df["sex"].isin([TOTAL]) | sexed) & (df["age"] == TOTAL) & (df["group"] == TOTAL)]
    tidy = totals[["unit", "year", "indicator", "value"]]
    tidy = tidy[tidy["year"] == int(year)]
    if tidy.empty:
        raise HumsecError(f"no observations for year {year}")
    present = set(tidy["indicator"])
    units = sorted(tidy["unit"].unique())
    out = pd.DataFrame(index=pd.Index(units, name="unit"))
    for name, cols in (("gdi", ["gdi", "hdi_f", "hdi_m"]), ("gii", ["gii"]), ("ihdi", ["ihdi"])):
        spec = load_spec(name)
        if not set(spec.indicators) <= present:
            for c in cols:
                out[c] = np.nan
            continue
        sub = tidy[tidy["indicator"].isin(spec.indicators)]
        res = build(spec, sub, year=int(year))
        for c in cols:
            out[c] = res.scores[c].reindex(out.index)
    out.insert(3, "gdi_group", gdi_group(out["gdi"]).reindex(out.index).astype("Int64"))
    return out


# ============================================================================ who is left behind

#: Years a number may be older than the reference year, for indicators the HSI's
#: missing-data policy does not cover (annual series) ...
DEFAULT_MAX_AGE = 5
#: ... and for the survey- or census-based ones among them (the HSI's longest limit).
SURVEY_MAX_AGE = 10
SURVEY_INDICATORS = frozenset({"pension_coverage", "disability_benefit", "unemployment_disability",
                               "secondary_education_sex", "trafficking_victims"})
#: A parity index (female / male value) inside this band counts as parity ([UIS2010]_).
PARITY_BAND = (0.97, 1.03)
#: Deaths in a calendar year from which UCDP counts an active conflict ([UCDP2024]_).
CONFLICT_THRESHOLD = 25

#: What :func:`left_behind` looks at, per population group: ``(kind, indicator)`` with
#: kind ``sex`` (female vs male), ``area`` (rural vs urban), ``disability`` (with vs
#: without), ``value`` (a total that describes the group), ``share`` (a percentage of
#: women, e.g. seats in parliament: parity = share / (100 - share)), ``demo`` (from
#: :func:`demography`) or ``conflict``.
LEFT_BEHIND_SECTIONS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("women", "Women and girls", (("sex", "hdi_sex"), ("sex", "life_expectancy_sex"), ("sex", "homicide_rate"),
                                  ("sex", "lfpr"), ("sex", "secondary_education_sex"), ("value", "child_marriage"),
                                  ("share", "women_parliament"), ("value", "gii"))),
    ("older", "Older people", (("demo", "elderly_share"), ("demo", "old_age_dependency"),
                               ("value", "pension_coverage"), ("sex", "pension_coverage"))),
    ("disability", "People with disabilities", (("value", "disability_benefit"), ("sex", "disability_benefit"),
                                                ("disability", "unemployment_disability"))),
    ("displaced", "Refugees, migrants and the displaced", (("value", "refugees_hosted"), ("value", "refugees_origin"),
                                                           ("value", "idps"), ("value", "migrant_share"))),
    ("conflict", "People in conflict zones", (("conflict", "conflict_deaths"),)),
    ("rural", "Rural population", (("area", "water_basic"), ("area", "sanitation_basic"), ("area", "water_safe"))),
)

_PAIRS = {"sex": ({"sex": "F"}, {"sex": "M"}, "women", "men"),
          "area": ({"group": "rural"}, {"group": "urban"}, "rural", "urban"),
          "disability": ({"group": "disability"}, {"group": "no_disability"}, "with disability", "without disability")}
_DEMO = {"elderly_share": ("Population aged 65+", "percent of population", 1),
         "old_age_dependency": ("Old-age dependency ratio", "persons 65+ per 100 aged 15-64", -1)}
_PLAIN = {"sex=F": "women and girls", "sex=M": "men and boys", "group=rural": "the rural population",
          "group=urban": "the urban population", "group=disability": "people with disabilities",
          "group=no_disability": "people without disabilities"}


@dataclass(frozen=True)
class LeftBehind:
    """Who is left behind in one country (see :func:`left_behind`).

    Attributes
    ----------
    unit : str
    year : int
        Reference year: no number is later, none older than its limit before it.
    rows : pandas.DataFrame
        ``section, group, indicator, name, measure, comparison, focal_value,
        reference_value, value, year, age, parity, ratio, direction, behind, statement``.
    missing : pandas.DataFrame
        ``section, group, indicator, name, reason``: what the release cannot show.
    furthest : pandas.DataFrame
        :func:`furthest_behind` on the same numbers, with ``label`` (plain words).
    summary : tuple of str
        Plain-language findings, the furthest-behind first.
    """

    unit: str
    year: int
    rows: pd.DataFrame
    missing: pd.DataFrame
    furthest: pd.DataFrame
    summary: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: records of the tables (NaN → None)."""
        def rec(df: pd.DataFrame) -> list[dict]:
            return json.loads(df.to_json(orient="records"))

        return {"unit": self.unit, "year": self.year, "summary": list(self.summary), "rows": rec(self.rows),
                "missing": rec(self.missing), "furthest_behind": rec(self.furthest)}


def max_ages(indicators: Iterable[str], spec: Any = None) -> dict[str, int]:
    """How many years a number may be older than the reference year, per indicator.

    The HSI's missing-data policy (:func:`humsec.analysis.assess.data_policy`) where it
    covers the indicator; otherwise :data:`SURVEY_MAX_AGE` for survey/census-based
    series (:data:`SURVEY_INDICATORS`) and :data:`DEFAULT_MAX_AGE` for the rest.
    """
    from humsec.analysis.assess import data_policy
    from humsec.index.builtin import load_spec

    pol = data_policy(spec if spec is not None else load_spec("hsi")).set_index("indicator")["max_age"]
    out = {}
    for c in indicators:
        a = pol.get(c)
        out[c] = int(a) if a is not None and pd.notna(a) else (SURVEY_MAX_AGE if c in SURVEY_INDICATORS
                                                                else DEFAULT_MAX_AGE)
    return out


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "n/a"
    a = abs(v)
    return f"{v:,.0f}" if a >= 1000 else (f"{v:.1f}" if a >= 10 else (f"{v:.2f}" if a >= 0.1 else f"{v:.3g}"))


def _sel(df: pd.DataFrame, sel: Mapping[str, str]) -> pd.DataFrame:
    m = np.ones(len(df), dtype=bool)
    for k in DISAGG_KEYS:
        m &= (df[k] == sel.get(k, TOTAL)).to_numpy()
    return df[m]


def left_behind(data: Panel | pd.DataFrame, unit: str, *, year: int | None = None,
                catalogue: Catalogue | None = None, spec: Any = None) -> LeftBehind:
    """Who is left behind in a country, group by group, on current numbers only.

    For women and girls, older people, people with disabilities, refugees, migrants and
    the displaced, people in conflict zones and the rural population
    (:data:`LEFT_BEHIND_SECTIONS`), every indicator of the release that describes the
    group is taken at its latest year at or before ``year`` and no older than its limit
    (:func:`max_ages`); a comparison (women vs men, rural vs urban, with vs without
    disability) uses the latest year in which both groups are observed.

    * ``parity`` is the parity index, female value / male value ([UIS2010]_), for every
      sex comparison whatever the indicator's direction; ``ratio`` is focal / reference
      for the other comparisons. Neither says by itself who is behind:
    * ``behind`` is direction-aware: for "higher is better" the group with the lower
      value is behind, for "lower is better" (homicide, mortality) the group with the
      *higher* value; a parity index inside :data:`PARITY_BAND` counts as parity
      ("neither").
    * The furthest behind are ranked by :func:`furthest_behind` (mean shortfall from
      the best-off group on scores with shared goalposts, [LNOB2018]_) over the same
      current comparisons.
    * People in conflict zones: deaths in organised violence per 100,000 and as a
      count; a country with at least :data:`CONFLICT_THRESHOLD` deaths in the year is
      in active conflict in the UCDP sense ([UCDP2024]_) and its whole population is
      counted as exposed (the release has no subnational locations).

    Parameters
    ----------
    data : Panel or DataFrame
        The panel (all units: goalposts of the ranking come from every country).
    unit : str
        ISO3 code.
    year : int, optional
        Reference year (default: the HSI's default year for these data).
    catalogue : Catalogue, optional
        Names, units and directions (default: the shipped catalogue).
    spec : IndexSpec, optional
        Whose missing-data policy sets the age limits (default: the HSI).

    Returns
    -------
    LeftBehind

    Raises
    ------
    HumsecError
        Unknown unit.
    """
    df = _frame(data)
    cat = catalogue if catalogue is not None else _shipped_catalogue()
    if unit not in set(df["unit"].unique()):
        raise HumsecError(f"'{unit}': no data for this unit in the panel; expected an ISO3 code")
    if year is None:
        from humsec.analysis.assess import default_year
        from humsec.index.builtin import load_spec

        year = default_year(spec if spec is not None else load_spec("hsi"), df[df["sex"].eq(TOTAL)
                            & df["age"].eq(TOTAL) & df["group"].eq(TOTAL)])
    year = int(year)
    codes = sorted({c for _, _, items in LEFT_BEHIND_SECTIONS for _, c in items if c not in _DEMO})
    limits = max_ages([*codes, "pop_total", "pop"], spec)
    u = df[(df["unit"] == unit) & (df["year"] <= year)]
    rows: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []

    def meta(code: str) -> tuple[str, str, int]:
        ind = cat.get(code)
        return (ind.name, ind.unit, int(ind.direction)) if ind else (code, "", 1)

    def stale_reason(sub: pd.DataFrame, code: str, what: str = "") -> str:
        if sub.empty:
            return f"no data{what} in the release"
        return (f"latest{what} {int(sub['year'].max())}, older than the {limits[code]}-year limit "
                f"before {year}")

    def pop_at(y: int) -> float:
        p = u[(u["indicator"] == "pop_total") & (u["sex"] == TOTAL) & (u["year"] <= y)]
        return float(p.sort_values("year")["value"].iloc[-1]) if len(p) else float("nan")

    demo = demography(df[(df["unit"] == unit) & (df["year"] <= year)], units=[unit])
    demo = demo[demo["year"] >= year - limits["pop"]].sort_values("year").tail(1)
    for key, title, items in LEFT_BEHIND_SECTIONS:
        for kind, code in items:
            base = {"section": key, "group": title, "indicator": code}
            if kind == "demo":
                name, measure, direction = _DEMO[code]
                if demo.empty or not np.isfinite(demo[code].iloc[0]):
                    missing.append({**base, "name": name, "reason": "no population by sex and age (WPP)"})
                    continue
                v, y = float(demo[code].iloc[0]), int(demo["year"].iloc[0])
                rows.append({**base, "name": name, "measure": measure, "value": v, "year": y,
                             "direction": direction, "behind": "",
                             "statement": f"{name}: {_fmt(v)} {measure} ({y}, UN WPP)"})
                continue
            name, measure, direction = meta(code)
            sub = u[u["indicator"] == code]
            fresh = sub[sub["year"] >= year - limits[code]]
            if kind in _PAIRS:
                fsel, rsel, fl, rl = _PAIRS[kind]
                j = _sel(fresh, fsel)[["year", "value"]].merge(_sel(fresh, rsel)[["year", "value"]], on="year",
                                                              suffixes=("_f", "_r"))
                if j.empty:
                    both = _sel(sub, fsel)[["year"]].merge(_sel(sub, rsel)[["year"]], on="year")
                    missing.append({**base, "name": f"{name} ({fl} vs {rl})",
                                    "reason": stale_reason(both, code, f" for {fl} and {rl}")})
                    continue
                r = j.sort_values("year").iloc[-1]
                y, fv, rv = int(r["year"]), float(r["value_f"]), float(r["value_r"])
                ratio = fv / rv if rv != 0 else float("nan")
                if kind == "sex" and np.isfinite(ratio) and PARITY_BAND[0] <= ratio <= PARITY_BAND[1]:
                    behind = "neither"
                elif fv == rv:
                    behind = "neither"
                else:
                    behind = fl if (fv < rv) == (direction > 0) else rl
                lower = " (lower is better)" if direction < 0 else ""
                label = "parity F/M" if kind == "sex" else f"ratio {fl}/{rl}"
                verdict = ("about equal" if behind == "neither" else f"{behind} behind")
                rows.append({**base, "name": name, "measure": measure, "comparison": f"{fl}/{rl}",
                             "focal_value": fv, "reference_value": rv, "year": y, "direction": direction,
                             "parity": ratio if kind == "sex" else np.nan,
                             "ratio": ratio if kind != "sex" else np.nan, "behind": behind,
                             "statement": f"{name}: {fl} {_fmt(fv)}, {rl} {_fmt(rv)} {measure}{lower} ({y}); "
                                          f"{label} {ratio:.2f}: {verdict}"})
                continue
            tot = _sel(fresh, {})
            if tot.empty:
                missing.append({**base, "name": name, "reason": stale_reason(_sel(sub, {}), code)})
                continue
            r = tot.sort_values("year").iloc[-1]
            v, y = float(r["value"]), int(r["year"])
            row = {**base, "name": name, "measure": measure, "value": v, "year": y, "direction": direction,
                   "behind": ""}
            text = f"{name}: {_fmt(v)} {measure} ({y})"
            if kind == "share":
                p = v / (100.0 - v) if v < 100 else float("nan")
                row["parity"] = p
                row["behind"] = ("neither" if PARITY_BAND[0] <= p <= PARITY_BAND[1]
                                 else ("women" if p < PARITY_BAND[0] else "men"))
                text += f"; parity F/M {p:.2f}: " + ("about equal" if row["behind"] == "neither"
                                                     else f"{row['behind']} behind")
            elif "per 1,000" in measure:
                pop = pop_at(y)
                if np.isfinite(pop):
                    text += f", about {round(v * pop / 1000.0):,} people"
            elif kind == "conflict":
                pop = pop_at(y)
                if np.isfinite(pop):
                    deaths = v * pop / 1e5
                    text += f", about {round(deaths):,} deaths"
                    if deaths >= CONFLICT_THRESHOLD:
                        row["behind"] = "exposed"
                        text += (f" — at or above the UCDP threshold of {CONFLICT_THRESHOLD} a year: the whole "
                                 f"population ({round(pop):,}) lives in a country in active conflict; the release "
                                 "has no subnational locations to say how many live in the affected areas")
                    else:
                        text += f" — below the UCDP threshold of {CONFLICT_THRESHOLD} deaths a year"
            rows.append({**row, "statement": text})
    cols = ["section", "group", "indicator", "name", "measure", "comparison", "focal_value", "reference_value",
            "value", "year", "age", "parity", "ratio", "direction", "behind", "statement"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    if len(out):
        out["age"] = year - out["year"].astype(int)
        out["year"] = out["year"].astype(int)
        out["direction"] = out["direction"].astype(int)
    miss = pd.DataFrame(missing, columns=["section", "group", "indicator", "name", "reason"])

    # furthest behind over the same current comparisons, goalposts from every country
    pair_codes = sorted({c for _, _, items in LEFT_BEHIND_SECTIONS for k, c in items if k in _PAIRS})
    win = df[df["indicator"].isin(pair_codes) & (df["year"] <= year)]
    win = win[win["year"] >= year - win["indicator"].map(limits).astype(int)]
    fb = furthest_behind(win, unit, year=year, catalogue=cat)
    fb = fb[fb["population_group"].isin(list(_PLAIN))].reset_index(drop=True)
    fb.insert(1, "label", [_PLAIN[g] for g in fb["population_group"]])
    fb["rank"] = np.arange(1, len(fb) + 1)
    summary: list[str] = []
    behind_fb = fb[fb["mean_shortfall"] > 0]
    if len(behind_fb):
        parts = []
        for _, r in behind_fb.head(3).iterrows():
            nm = meta(r["worst_indicator"])[0]
            wy = out.loc[(out["indicator"] == r["worst_indicator"]) & out["comparison"].notna()
                         & out["section"].isin(["women", "older", "disability", "rural"]), "year"]
            when = f", {int(wy.iloc[0])}" if len(wy) else ""
            parts.append(f"{r['label']} (on average {r['mean_shortfall']:.2f} below the better-off group on a 0-1 "
                         f"scale over {int(r['n_indicators'])} indicator(s); widest gap: {nm}, {_fmt(r['worst_value'])} "
                         f"vs {_fmt(r['best_group_value'])}{when})")
        summary.append(f"Furthest behind in {unit} on data of {year} or the years before: " + "; then ".join(parts) + ".")
    else:
        summary.append(f"{unit}: no current comparison between groups to say who is furthest behind.")
    for key, title, _ in LEFT_BEHIND_SECTIONS:
        s = out[out["section"] == key] if len(out) else out
        m = miss[miss["section"] == key]
        if s.empty:
            summary.append(f"{title}: no current data in the release ({'; '.join(m['name'] + ': ' + m['reason'])}).")
            continue
        comp = s[s["behind"].isin(["neither"]) | s["comparison"].notna() | s["parity"].notna()]
        comp = comp[comp["behind"] != ""]
        txt = f"{title}: "
        if len(comp):
            parts = []
            for b, names in comp.groupby("behind", sort=False)["name"]:
                what = "about equal" if b == "neither" else f"{b} behind"
                parts.append(f"{what} on {len(names)} of {len(comp)} ({'; '.join(names)})")
            txt += ", ".join(parts)
        else:
            txt += "; ".join(s["statement"].head(2))
        if len(m):
            txt += f"; not shown for lack of current data: {', '.join(m['name'])}"
        summary.append(txt + ".")
    return LeftBehind(unit=unit, year=year, rows=out, missing=miss, furthest=fb, summary=tuple(summary))
