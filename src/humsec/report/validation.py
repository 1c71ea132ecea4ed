"""Validation report of the Human Security Index: coverage, data age, statistical audit and
external validity, as one self-contained HTML page and CSV tables.

Usage::

    a = assess(load_spec("hsi"), panel, catalogue=cat, runs=200)
    v = validate(a, panel)                 # tables + plain-language findings
    v.write("out/")                        # hsi_validation_<year>.html + _<table>.csv

Sections (each a table and a few sentences generated from its numbers):

1. *Coverage* - UN member states ranked and not ranked (with what they lack, when the
   assessment reports it), and per indicator the ranked countries with a number, the
   median and maximum age of the numbers and the oldest year used.
2. *Data age* - the distribution of the age of the numbers per indicator and overall.
3. *Statistical audit* (COINr style, :mod:`humsec.index.audit`) - Pearson and Spearman
   correlations of the indicators within each dimension, of the dimensions with each
   other and with the index, flags for collinear (> 0.9) and negative (< -0.4) pairs,
   Cronbach's alpha and a principal component analysis per dimension.
4. *External validity* - Spearman and Pearson correlations of the index and each
   dimension with the HDI, INFORM Risk and the mean of the six WGI estimates (all in the
   data release) and with the Global Peace Index (not in the release: read from the
   shared reference data when present, else skipped and said so), with the countries
   whose ranks differ most.

References
----------
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Steps 4
   (multivariate analysis) and 10 (links to other indicators).
.. [COINr] Becker, W. et al. (2022). COINr. *JOSS* 7(78), 4567.
.. [Fieller57] Fieller, E. C., Hartley, H. O., Pearson, E. S. (1957). Tests for rank
   correlation coefficients. I. *Biometrika* 44, 470-481 (standard error of Spearman's
   rho after Fisher's z transformation: sqrt(1.06 / (n - 3))).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from humsec import __version__
from humsec.analysis.assess import Assessment
from humsec.data.countries import CountryRegistry
from humsec.data.export import atomic_write, write_csv
from humsec.errors import HumsecError
from humsec.index.audit import COLLINEAR, NEGATIVE, audit, pca
from humsec.model.panel import Panel
from humsec.report import charts
from humsec.report.brief import _env
from humsec.settings import ENV_SHARED

__all__ = ["GPI_FILE", "WGI", "Section", "Validation", "validate"]

#: The six WGI estimates whose mean is the governance reference.
WGI = ("voice_accountability", "political_stability", "government_effectiveness", "regulatory_quality",
       "rule_of_law", "control_of_corruption")
#: The Global Peace Index inside the reference directory (test-only licence, not released).
GPI_FILE = Path("global_peace_index") / "global_peace_index_overall_2008_2022.csv"
#: Cronbach's alpha below which a dimension's indicators are not one consistent scale.
ALPHA_OK = 0.7
#: Countries with the largest rank differences shown per reference.
N_DIFF = 5


# ---------------------------------------------------------------------------- result


def _write_table(path: Path, df: pd.DataFrame) -> Path:
    """Write one table of a report as CSV (atomically, formula-safe)."""
    return atomic_write(path, lambda p: write_csv(df, p))


@dataclass(frozen=True)
class Section:
    """One section of the report: a title, what it shows, findings and its tables."""

    key: str
    title: str
    intro: str
    findings: tuple[str, ...]
    tables: tuple[str, ...]
    #: the one sentence of the report's summary (default: the first finding)
    summary: str = ""
    #: findings under sub-headings, ``(heading, sentences)`` (default: all under none)
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def lead(self) -> str:
        return self.summary or (self.findings[0] if self.findings else "")


@dataclass(frozen=True)
class Validation:
    """The validation of one assessment.

    Attributes
    ----------
    tables : Mapping[str, pandas.DataFrame]
        ``coverage_summary``, ``not_ranked`` (when the assessment reports it),
        ``coverage``, ``data_age``, ``correlations``, ``dimension_matrix``,
        ``consistency``, ``pca_loadings``, ``references``, ``external``,
        ``rank_differences``.
    findings : list of str
        Plain-language sentences, section by section.
    sections : tuple of Section
    """

    index: str
    title: str
    year: int
    tables: Mapping[str, pd.DataFrame]
    findings: list[str]
    sections: tuple[Section, ...]
    runs: int = 0
    meta: Mapping[str, str] = field(default_factory=dict)
    charts: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        """File name stem: ``hsi_validation_<year>``."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.index) + f"_validation_{self.year}"

    def to_html(self, *, today: _dt.date | None = None) -> str:
        """The report as one self-contained HTML page (inline CSS and SVG charts)."""
        return _html(self, today or _dt.date.today())

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write ``<stem>.html`` and one ``<stem>_<table>.csv`` per table (atomically,
        formula-safe). Returns the files written, the HTML first."""
        out = Path(out_dir)
        html = self.to_html()
        files = [atomic_write(out / f"{self.stem}.html", lambda p: p.write_text(html, encoding="utf-8"))]
        for name, df in self.tables.items():
            files.append(_write_table(out / f"{self.stem}_{name}.csv", df))
        return files


# ---------------------------------------------------------------------------- helpers


def _names() -> dict[str, str]:
    reg = CountryRegistry.default()
    return {c: reg.name(c) for c in reg.codes}


def _f(v: float, nd: int = 2) -> str:
    """A number for a sentence: fixed decimals, '-' for missing."""
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:.{nd}f}"


def _join(items: Sequence[str], conj: str = "and") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


def _low(name: str) -> str:
    """Lower-case the first letter for use inside a sentence, unless it starts an acronym."""
    return name[:1].lower() + name[1:] if len(name) > 1 and not name[1].isupper() else name


def _strength(r: float) -> str:
    a = abs(r)
    if not np.isfinite(a):
        return "undetermined"
    for cut, word in ((0.9, "very strong"), (0.7, "strong"), (0.5, "moderate"), (0.3, "weak")):
        if a >= cut:
            return word
    return "very weak"


def _pair(x: pd.Series, y: pd.Series) -> tuple[int, float, float]:
    """(n, Spearman, Pearson) over the units with both values."""
    j = pd.concat([x.rename("x"), y.rename("y")], axis=1, join="inner").dropna()
    if len(j) < 3:
        return len(j), float("nan"), float("nan")
    return len(j), float(j["x"].corr(j["y"], method="spearman")), float(j["x"].corr(j["y"]))


def _spearman_ci(r: float, n: int) -> tuple[float, float]:
    """95% interval of Spearman's rho (Fisher z, SE sqrt(1.06/(n-3)) [Fieller57]_)."""
    if n <= 3 or not np.isfinite(r) or abs(r) >= 1:
        return float("nan"), float("nan")
    z, se = np.arctanh(r), np.sqrt(1.06 / (n - 3))
    return float(np.tanh(z - 1.96 * se)), float(np.tanh(z + 1.96 * se))


# ---------------------------------------------------------------------------- 1-2 coverage, age


def _ranked(a: Assessment) -> list[str]:
    return a.units


def _coverage_section(a: Assessment, names: Mapping[str, str]) -> tuple[Section, dict[str, pd.DataFrame]]:
    reg = CountryRegistry.default()
    un = reg.un_members
    ranked = _ranked(a)
    rset = set(ranked)
    un_ranked = sorted(rset & un)
    un_not = sorted(un - rset)
    others = sorted(rset - un)
    spec = a.spec
    summary = pd.DataFrame([
        {"measure": "assessment year", "value": a.year},
        {"measure": "UN member states", "value": len(un)},
        {"measure": "UN member states ranked", "value": len(un_ranked)},
        {"measure": "UN member states not ranked", "value": len(un_not)},
        {"measure": "other territories ranked", "value": len(others)},
        {"measure": "countries and territories ranked", "value": len(ranked)},
        {"measure": "indicators", "value": len(spec.indicators)},
    ])
    tables: dict[str, pd.DataFrame] = {"coverage_summary": summary}
    nr = None
    if hasattr(a, "not_ranked"):
        nr = a.not_ranked()
        tables["not_ranked"] = nr.reset_index(drop=True)
    v = a.vintage[a.vintage["unit"].isin(rset)]
    rows = []
    for ind in spec.indicators:
        x = v[v["indicator"] == ind]
        rows.append({
            "indicator": ind, "name": a.node_name(ind), "dimension": spec.nodes[ind].parent,
            "countries": int(x["unit"].nunique()),
            "share_ranked": x["unit"].nunique() / len(ranked) if ranked else float("nan"),
            "un_members": int(x["unit"].isin(un).sum()),
            "median_age": float(x["age"].median()) if len(x) else float("nan"),
            "max_age": int(x["age"].max()) if len(x) else None,
            "oldest": int(x["observed"].min()) if len(x) else None,
        })
    cov = pd.DataFrame(rows)
    cov["max_age"] = cov["max_age"].astype("Int64")
    cov["oldest"] = cov["oldest"].astype("Int64")
    tables["coverage"] = cov
    # findings -------------------------------------------------------------------
    f = []
    s = (f"{len(un_ranked)} of the {len(un)} UN member states are ranked in {a.year}"
         + (f", and {len(others)} other {'territory' if len(others) == 1 else 'territories'} "
            f"({_join([names.get(u, u) for u in others])})" if others else "") + ".")
    if un_not:
        if nr is not None and len(nr):
            lack = []
            n_ind = len(spec.indicators)
            for r in nr.head(8).to_dict("records"):
                what = []
                if pd.notna(r.get("available")) and pd.notna(r.get("needed")) and r["available"] < r["needed"]:
                    what.append(f"{int(r['available'])} of {n_ind} indicators, {int(r['needed'])} needed")
                if r.get("missing_dimensions"):
                    what.append("nothing on " + _join([_low(a.node_name(d)) if d in spec.nodes else d
                                                       for d in str(r["missing_dimensions"]).split("; ")]))
                if not what and r.get("reason"):
                    what.append(str(r["reason"]))
                lack.append(f"{r['name']} ({'; '.join(what)})" if what else str(r["name"]))
            s += (f" Not ranked: {_join(lack)}" + (f" and {len(nr) - 8} more" if len(nr) > 8 else "")
                  + " (see the table for the missing indicators).")
        else:
            s += f" Not ranked: {_join([names.get(u, u) for u in un_not])}."
    f.append(s)
    thin = cov.sort_values(["share_ranked", "indicator"]).head(3)
    f.append("The thinnest indicators are " + _join([
        f"{_low(r.name)} ({r.countries} of {len(ranked)} ranked countries, {r.share_ranked:.0%})"
        for r in thin.itertuples()]) + "; a missing indicator is left out of its dimension's mean.")
    old = cov.dropna(subset=["oldest"]).sort_values(["oldest", "indicator"]).head(3)
    if len(old):
        f.append("The oldest numbers used are " + _join([
            f"{_low(r.name)} (from {int(r.oldest)}, {int(r.max_age)} years before {a.year})"
            for r in old.itertuples()]) + ".")
    sec = Section("coverage", "1. Coverage",
                  f"Who is ranked, and how many ranked countries have a number for each indicator "
                  f"(the latest observation at or before {a.year} that the index uses).",
                  tuple(f), tuple(k for k in ("coverage_summary", "not_ranked", "coverage") if k in tables))
    return sec, tables


AGE_BINS = (("age_0", 0, 0), ("age_1_2", 1, 2), ("age_3_5", 3, 5), ("age_6_10", 6, 10),
            ("age_over_10", 11, 10**6))


def _age_section(a: Assessment) -> tuple[Section, dict[str, pd.DataFrame]]:
    spec = a.spec
    v = a.vintage[a.vintage["unit"].isin(set(_ranked(a)))]

    def row(code: str, name: str, x: pd.DataFrame) -> dict:
        out = {"indicator": code, "name": name, "numbers": len(x),
               "median_age": float(x["age"].median()) if len(x) else float("nan"),
               "mean_age": float(x["age"].mean()) if len(x) else float("nan")}
        for key, lo, hi in AGE_BINS:
            out[key] = float(x["age"].between(lo, hi).mean()) if len(x) else float("nan")
        return out

    rows = [row(ind, a.node_name(ind), v[v["indicator"] == ind]) for ind in spec.indicators]
    rows.append(row("all", "all indicators", v))
    age = pd.DataFrame(rows)
    tot = age.iloc[-1]
    per = age.iloc[:-1]
    over5 = tot["age_6_10"] + tot["age_over_10"]
    vmax = int(v["age"].max()) if len(v) else 0
    med = tot["median_age"]
    s = (f"The median number in the {a.year} index is {_f(med, 0)} year{'' if med == 1 else 's'} old "
         f"(mean {_f(tot['mean_age'], 1)}): {tot['age_0']:.0%} of the {int(tot['numbers'])} numbers are from "
         f"{a.year} itself")
    if over5 > 0:
        s += (f", {over5:.1%} are more than 5 years old and "
              + (f"{tot['age_over_10']:.1%} more than 10" if tot["age_over_10"] > 0 else "none more than 10")
              + f" (the oldest {vmax} years).")
    else:
        s += f" and none is more than 5 years old (the oldest {vmax})."
    f = [s]
    stale = per[per["median_age"] > 5].sort_values(["median_age", "indicator"], ascending=[False, True])
    oldest = per.sort_values(["median_age", "mean_age", "indicator"], ascending=[False, False, True]).head(3)
    if len(stale):
        f.append(f"{len(stale)} indicator{'s have' if len(stale) > 1 else ' has'} a median age above 5 years: "
                 + _join([f"{_low(r.name)} ({_f(r.median_age, 0)} years)" for r in stale.head(6).itertuples()])
                 + " - survey-based series, observed every few years; their scores describe the past more "
                   "than the present.")
    else:
        f.append("The oldest indicators by median age are "
                 + _join([f"{_low(r.name)} ({_f(r.median_age, 0)} years)" for r in oldest.itertuples()])
                 + "; no indicator has a median age above 5 years.")
    sec = Section("data_age", "2. Data age",
                  "How old the numbers behind the index are (assessment year minus the year observed), "
                  "per indicator and overall, for the ranked countries.", tuple(f), ("data_age",))
    return sec, {"data_age": age}


# ---------------------------------------------------------------------------- 3 audit


def _audit_section(a: Assessment) -> tuple[Section, dict[str, pd.DataFrame]]:
    spec, root = a.spec, a.root
    # the audit's own sample: every unit of the build (pairwise complete, as COINr)
    scores = a.result.scores
    rep = audit(a.result, leave_one_out=False)
    rows = []
    for parent, grp in rep.sibling_correlations.groupby("parent", sort=False):
        kids = spec.children[parent]
        sp = scores[kids].corr(method="spearman")
        ok = scores[kids].notna().astype(int)
        nn = ok.T @ ok
        for r in grp.itertuples():
            rows.append({"level": "dimensions" if parent == root else "indicators within dimension",
                         "parent": parent, "a": r.a, "b": r.b, "n": int(nn.at[r.a, r.b]),
                         "pearson": float(r.r), "spearman": float(sp.at[r.a, r.b])})
    for r in rep.parent_correlations.itertuples():
        level = "dimension vs index" if r.parent == root else "indicator vs dimension"
        n, rho, _ = _pair(scores[r.node], scores[r.parent])
        rows.append({"level": level, "parent": r.parent, "a": r.node, "b": r.parent, "n": n,
                     "pearson": float(r.r), "spearman": rho})
    corr = pd.DataFrame(rows)

    def flag(x: pd.Series) -> str:
        out = []
        if x["level"] in ("dimensions", "indicators within dimension"):
            if x["pearson"] > COLLINEAR or x["spearman"] > COLLINEAR:
                out.append("collinear")
            if x["pearson"] < NEGATIVE or x["spearman"] < NEGATIVE:
                out.append("negative")
        return ", ".join(out)

    corr["flag"] = corr.apply(flag, axis=1) if len(corr) else ""
    order = {"indicators within dimension": 0, "indicator vs dimension": 1, "dimensions": 2, "dimension vs index": 3}
    corr = corr.sort_values(["level", "parent"], key=lambda s: s.map(order) if s.name == "level" else s,
                            kind="stable").reset_index(drop=True)
    # dimension matrix: Spearman below the diagonal, Pearson above
    nodes = [root, *a.dimensions]
    sp = scores[nodes].corr(method="spearman")
    pe = scores[nodes].corr()
    m = np.where(np.tril(np.ones((len(nodes),) * 2, dtype=bool), -1), sp.to_numpy(), pe.to_numpy())
    np.fill_diagonal(m, 1.0)
    mat = pd.DataFrame(m, index=nodes, columns=nodes)
    mat.index.name = "node"
    mat = mat.reset_index()
    # consistency: alpha (audit) and PCA per aggregate
    cons, loads = [], []
    for r in rep.aggregates.itertuples():
        kids = spec.children[r.aggregate]
        p = pca(scores[kids])
        cons.append({"aggregate": r.aggregate, "name": a.node_name(r.aggregate), "indicators": int(r.n_children),
                     "cronbach_alpha": float(r.cronbach_alpha), "pc1_variance": float(r.pc1_variance),
                     "pca_n": int(p.n)})
        for k in kids:
            loads.append({"aggregate": r.aggregate, "node": k, "name": a.node_name(k),
                          "loading": float(p.loadings[k]) if k in p.loadings.index else float("nan")})
    cons = pd.DataFrame(cons)
    cons = pd.concat([cons[cons["aggregate"] != root], cons[cons["aggregate"] == root]], ignore_index=True)
    loads = pd.DataFrame(loads)
    # findings ---------------------------------------------------------------------
    f = []
    within = corr[corr["level"] == "indicators within dimension"]
    col = within[within["flag"].str.contains("collinear")]
    neg = within[within["flag"].str.contains("negative")]

    def pairs(df: pd.DataFrame) -> str:
        return _join([f"{_low(a.node_name(r.a))} / {_low(a.node_name(r.b))} in {r.parent} "
                      f"(Pearson {_f(r.pearson)}, Spearman {_f(r.spearman)})" for r in df.head(5).itertuples()])

    s = f"Of the {len(within)} pairs of indicators within a dimension, "
    if len(col):
        s += f"{len(col)} {'is' if len(col) == 1 else 'are'} collinear (> {COLLINEAR}): {pairs(col)}"
        s += "; they count nearly the same thing twice"
    else:
        s += f"none is collinear (> {COLLINEAR})"
    if len(neg):
        s += f", and {len(neg)} {'is' if len(neg) == 1 else 'are'} negatively correlated (< {NEGATIVE}): {pairs(neg)}"
        s += " - they partly cancel out in their dimension's mean."
    else:
        s += f", and none is negatively correlated (< {NEGATIVE})."
    f.append(s)
    dims = cons[cons["aggregate"] != root].sort_values("cronbach_alpha")
    low = dims[dims["cronbach_alpha"] < ALPHA_OK]
    lo, hi = dims.iloc[0], dims.iloc[-1]
    s = (f"Cronbach's alpha ranges from {_f(lo['cronbach_alpha'])} ({lo['aggregate']}) to "
         f"{_f(hi['cronbach_alpha'])} ({hi['aggregate']}); ")
    if len(low):
        s += (f"{_join(list(low['aggregate']))} {'is' if len(low) == 1 else 'are'} below {ALPHA_OK}: their indicators "
              "measure different threats rather than one underlying concept, so the dimension score is an "
              "average of distinct risks, not a single scale.")
    else:
        s += f"every dimension reaches {ALPHA_OK}, so its indicators behave as one scale."
    pc = dims.sort_values("pc1_variance")
    p0, p1 = pc.iloc[0], pc.iloc[-1]
    s += (f" The first principal component explains {p0['pc1_variance']:.0%} ({p0['aggregate']}) to "
          f"{p1['pc1_variance']:.0%} ({p1['aggregate']}) of the variance within a dimension.")
    f.append(s)
    dvi = corr[corr["level"] == "dimension vs index"].sort_values("pearson")
    dd = corr[corr["level"] == "dimensions"].sort_values("pearson")
    top = cons[cons["aggregate"] == root].iloc[0]
    v0, v1, d0, d1 = dvi.iloc[0], dvi.iloc[-1], dd.iloc[0], dd.iloc[-1]
    s = (f"The dimensions correlate with the index at Pearson {_f(v0['pearson'])} ({v0['a']}) to "
         f"{_f(v1['pearson'])} ({v1['a']}), and with each other at {_f(d0['pearson'])} "
         f"({d0['a']} / {d0['b']}) to {_f(d1['pearson'])} ({d1['a']} / {d1['b']}); "
         f"across the {len(a.dimensions)} dimensions alpha is {_f(top['cronbach_alpha'])} and the first component "
         f"explains {top['pc1_variance']:.0%}")
    dl = loads[loads["aggregate"] == root]
    if len(dl) and dl["loading"].notna().all():
        s += (f" with loadings {_f(dl['loading'].min())} to {_f(dl['loading'].max())} - "
              + ("every dimension contributes to the common factor, none dominates."
                 if dl["loading"].min() > 0.2 else "not every dimension shares the common factor."))
    else:
        s += "."
    f.append(s)
    sec = Section("audit", "3. Statistical audit",
                  f"Over the {len(scores)} units the index was built for (pairwise complete): "
                  "correlations (Pearson and Spearman) among the normalised indicators of each dimension, among "
                  f"the dimensions and with the index (COINr/OECD practice; flags: collinear > {COLLINEAR}, "
                  f"negative < {NEGATIVE}); Cronbach's alpha and a principal component analysis per dimension.",
                  tuple(f), ("dimension_matrix", "consistency", "pca_loadings", "correlations"))
    return sec, {"correlations": corr, "dimension_matrix": mat, "consistency": cons, "pca_loadings": loads}


# ---------------------------------------------------------------------------- 4 external validity


@dataclass(frozen=True)
class _Ref:
    key: str
    label: str
    short: str
    concept: str
    higher_is_better: bool
    year: int | None
    values: pd.Series
    source: str
    overlap: tuple[str, ...] = ()
    note: str = ""


#: HSI indicators that are part of, or measure the same as, a component of a reference.
OVERLAP = {
    "hdi": ("life_expectancy", "gdp_pc"),
    "inform_risk": ("idps", "refugees_origin", "gii", "government_effectiveness", "water_basic",
                    "sanitation_basic"),
    "wgi": WGI,
    "gpi": ("homicide_rate", "conflict_deaths", "refugees_origin", "idps"),
}


def _latest(panel: Panel, indicators: Sequence[str], year: int) -> tuple[int | None, pd.DataFrame]:
    d = panel.filter(indicators=list(indicators), totals_only=True).data.dropna(subset=["value"])
    d = d[d["year"] <= year]
    if d.empty:
        return None, d
    y = int(d["year"].max())
    return y, d[d["year"] == y]


def _source(panel: Panel, code: str) -> str:
    p = panel.provenance.get(code)
    return f"{p.source}, {p.edition}" if p is not None else "data release"


def _release_refs(a: Assessment, panel: Panel) -> tuple[list[_Ref], list[str]]:
    refs, skipped = [], []
    for key, label, short, concept, hib in (
            ("hdi", "Human Development Index (HDI)", "HDI", "human development", True),
            ("inform_risk", "INFORM Risk Index", "INFORM Risk", "humanitarian crisis and disaster risk", False)):
        y, d = _latest(panel, [key], a.year)
        if y is None:
            skipped.append(f"{label}: release indicator '{key}' has no data up to {a.year}")
            continue
        refs.append(_Ref(key, label, short, concept, hib, y, d.set_index("unit")["value"], _source(panel, key),
                         tuple(c for c in OVERLAP[key] if c in a.spec.indicators),
                         f"latest year up to {a.year} in the release"))
    y, d = _latest(panel, WGI, a.year)
    if y is None:
        skipped.append(f"WGI: none of {', '.join(WGI)} has data up to {a.year}")
    else:
        w = d.pivot_table(index="unit", columns="indicator", values="value")
        w = w.reindex(columns=list(WGI)).dropna()
        refs.append(_Ref("wgi", "Worldwide Governance Indicators (mean of the six estimates)", "WGI",
                         "the quality of governance", True, y, w.mean(axis=1), _source(panel, "rule_of_law"),
                         tuple(c for c in OVERLAP["wgi"] if c in a.spec.indicators),
                         "countries with all six estimates"))
    return refs, skipped


def _reference_dir(references: Path | None) -> Path | None:
    if references is not None:
        return Path(references)
    env = os.environ.get(ENV_SHARED)
    return Path(env).expanduser() if env else None


def _gpi(a: Assessment, references: Path | None) -> tuple[_Ref | None, str]:
    why = ("the Global Peace Index is not part of the data release (its licence allows test and benchmark use "
           "only)")
    if references is None:
        return None, f"{why}, and no reference directory was given (set {ENV_SHARED})"
    f = references / GPI_FILE
    if not f.is_file():
        return None, f"{why}, and {f} is absent"
    try:
        g = pd.read_csv(f)
        years = sorted(int(c) for c in g.columns if str(c).isdigit())
        if "iso3c" not in g.columns or not years:
            raise ValueError("expected columns iso3c, 2008 ... 2022")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        return None, f"{why}, and {f} could not be read ({exc})"
    reg = CountryRegistry.default()
    y = years[-1]
    codes: list[str | None] = []
    for c in g["iso3c"].astype(str):
        try:
            codes.append(reg.to_iso3(c))
        except HumsecError:
            codes.append(None)
    vals = pd.Series(pd.to_numeric(g[str(y)], errors="coerce").to_numpy(), index=codes)
    vals = vals[vals.index.notna()].dropna()
    vals = vals[~vals.index.duplicated()]
    note = (f"GPI {y} (its latest year in the file) against the {a.spec.name.upper()} of {a.year}"
            if y != a.year else f"GPI {y}")
    return _Ref("gpi", "Global Peace Index (GPI)", "GPI", "peacefulness", False, y, vals,
                f"Institute for Economics & Peace, Global Peace Index ({f.name}; not released, test use only)",
                tuple(c for c in OVERLAP["gpi"] if c in a.spec.indicators), note), ""


def _external_section(a: Assessment, panel: Panel, references: Path | None,
                      names: Mapping[str, str]) -> tuple[Section, dict[str, pd.DataFrame], dict[str, bytes]]:
    root = a.root
    idx = a.spec.name.upper()
    ranked = _ranked(a)
    n_ranked = len(ranked)
    scores = a.result.scores.loc[ranked]
    ranks = a.result.ranks
    refs, skipped = _release_refs(a, panel)
    ref_dir = _reference_dir(references)
    gpi, why = _gpi(a, ref_dir)
    if gpi is not None:
        refs.append(gpi)
    ref_rows, ext_rows, diff_rows = [], [], []
    for r in refs:
        common = sorted(set(ranked) & set(r.values.index))
        ref_rows.append({"reference": r.short, "name": r.label, "year": r.year,
                         "direction": "higher = better" if r.higher_is_better else "lower = better",
                         "countries": len(common), "status": "used", "note": r.note, "source": r.source})
        sign = 1.0 if r.higher_is_better else -1.0
        for node in [root, *a.dimensions]:
            n, rho, pr = _pair(scores[node], r.values)
            lo, hi = _spearman_ci(rho, n)
            ext_rows.append({"reference": r.short, "reference_year": r.year, "node": node, "name": a.node_name(node),
                             "n": n, "spearman": rho, "spearman_lo": lo, "spearman_hi": hi, "pearson": pr,
                             "agreement": sign * rho})
        j = pd.DataFrame({"hsi": scores.loc[common, root], "ref": r.values.reindex(common)}).dropna()
        j["hsi_rank"] = j["hsi"].rank(ascending=False, method="min").astype(int)
        j["reference_rank"] = j["ref"].rank(ascending=not r.higher_is_better, method="min").astype(int)
        j["difference"] = j["hsi_rank"] - j["reference_rank"]
        j = j.assign(absdiff=j["difference"].abs()).reset_index(names="unit")
        j = j.sort_values(["absdiff", "unit"], ascending=[False, True]).head(N_DIFF)
        for x in j.itertuples():
            # what drives the gap: the country's worst-ranked dimension when the index ranks it
            # lower than the reference, its best-ranked one when higher
            dr = ranks.loc[x.unit, a.dimensions].dropna()
            lower = x.difference > 0
            dim = (dr.idxmax() if lower else dr.idxmin()) if len(dr) else None
            diff_rows.append({"reference": r.short, "unit": x.unit, "name": names.get(x.unit, x.unit),
                              f"{a.spec.name}_score": x.hsi, "reference_value": x.ref, f"{a.spec.name}_rank": x.hsi_rank,
                              "reference_rank": x.reference_rank, "difference": x.difference, "of": len(common),
                              "driver": (f"{'weakest' if lower else 'strongest'}: {_low(a.node_name(dim))}, "
                                         f"rank {dr[dim]:.0f} of {n_ranked}") if dim else ""})
    if gpi is None:
        ref_rows.append({"reference": "GPI", "name": "Global Peace Index (GPI)", "year": None,
                         "direction": "lower = better", "countries": 0, "status": "skipped", "note": why,
                         "source": "Institute for Economics & Peace"})
    for s in skipped:
        ref_rows.append({"reference": s.split(":")[0], "name": s.split(":")[0], "year": None, "direction": "",
                         "countries": 0, "status": "skipped", "note": s, "source": ""})
    references_t = pd.DataFrame(ref_rows)
    references_t["year"] = references_t["year"].astype("Int64")
    ext = pd.DataFrame(ext_rows, columns=["reference", "reference_year", "node", "name", "n", "spearman",
                                          "spearman_lo", "spearman_hi", "pearson", "agreement"])
    diffs = pd.DataFrame(diff_rows)
    # findings ---------------------------------------------------------------------
    groups: list[tuple[str, tuple[str, ...]]] = []
    lead = []
    for r in refs:
        f = []
        e = ext[ext["reference"] == r.short].set_index("node")
        top = e.loc[root]
        agree = top["agreement"]
        if agree >= 0.9:
            meaning = f"the {idx} largely restates {r.concept} as the {r.short} measures it"
        elif agree >= 0.7:
            meaning = f"the {idx} is related to {r.concept} but not a copy of it"
        elif agree >= 0.5:
            meaning = f"the {idx} shares part of its ranking with {r.concept} but measures something broader"
        elif agree >= 0.3:
            meaning = f"the {idx} and the {r.short} measure largely different things"
        elif agree > -0.3:
            meaning = f"the {idx} is almost unrelated to {r.concept} as the {r.short} measures it"
        else:
            meaning = f"the {idx} ranks countries in the opposite order of the {r.short}"
        sign_note = ("" if r.higher_is_better else
                     f" (negative when the two agree: a lower {r.short} is better)")
        when = f"{r.short} {r.year} against the {idx} of {a.year}" if r.year != a.year else f"both {a.year}"
        word = "agreement" if agree >= 0 else "disagreement"
        f.append(f"Spearman {_f(top['spearman'])} (Pearson {_f(top['pearson'])}, n = {int(top['n'])}; {when}) with "
                 f"the {r.label}{sign_note}: {_strength(agree)} {word} - {meaning}.")
        lead.append((r, float(top["spearman"]), agree))
        d = diffs[diffs["reference"] == r.short]
        if len(d):
            rk = f"{a.spec.name}_rank"
            items = []
            for x in d.to_dict("records"):
                t = f"{x['name']} ({idx} rank {x[rk]}, {r.short} rank {x['reference_rank']}"
                if x["driver"]:
                    kind, rest = x["driver"].split(": ", 1)
                    t += f"; {kind} in {rest.split(', rank')[0]}"
                items.append(t + ")")
            f.append(f"The largest rank differences (ranks among the {int(d['of'].iloc[0])} countries in both) are "
                     + _join(items) + ".")
        dims = e.loc[a.dimensions].sort_values("agreement")
        s = (f"By dimension, the {r.short} agrees most with {_low(a.node_name(dims.index[-1]))} (Spearman "
             f"{_f(dims['spearman'].iloc[-1])}) and least with {_low(a.node_name(dims.index[0]))} "
             f"({_f(dims['spearman'].iloc[0])}).")
        if r.overlap:
            s += (" Part of the agreement is built in: the " + idx + " indicators "
                  + _join([_low(a.node_name(c)) for c in r.overlap])
                  + f" overlap with components of the {r.short}.")
        f.append(s)
        groups.append((f"{r.label}, {r.year}", tuple(f)))
    if gpi is None:
        groups.append(("Global Peace Index (GPI)", (f"The comparison with the Global Peace Index was skipped: {why}.",)))
    general = []
    if a.runs:
        iv = a.intervals[a.intervals["node"] == root]
        w = float((iv["rank_q95"] - iv["rank_q05"]).median())
        general.append(f"For scale: the median 90% rank interval of the {idx} over {a.runs} uncertainty runs is "
                       f"{w:.0f} ranks wide; rank differences well beyond that are differences of concept, not noise.")
    if general:
        groups.append(("", tuple(general)))
    summary = ""
    if lead:
        words = {_strength(ag) + (" agreement" if ag >= 0 else " disagreement") for _, _, ag in lead}
        summary = (f"Spearman rank correlation of the {idx} with the "
                   + _join([f"{r.short} {_f(rho)}" + ("" if r.higher_is_better else " (lower = better)")
                            for r, rho, _ in lead])
                   + (f": {words.pop()} with {'each' if len(lead) > 1 else 'it'}." if len(words) == 1 else
                      "; " + _join([f"{_strength(ag)} {'agreement' if ag >= 0 else 'disagreement'} with the "
                                    f"{r.short}" for r, _, ag in lead]) + ".")
                   + ("" if gpi is not None else " The GPI comparison was skipped (no reference data)."))
    chart = _scatter(a, scores, refs, ext) if refs else None
    sec = Section("external", "4. External validity",
                  f"Rank (Spearman) and linear (Pearson) correlation of the {idx} and its dimensions with "
                  "established indices, over the countries in both, and the countries whose ranks differ most.",
                  tuple(x for _, g in groups for x in g), ("external_summary", "references", "rank_differences",
                                                            "external"),
                  summary=summary, groups=tuple(groups))
    return sec, {"references": references_t, "external": ext, "rank_differences": diffs}, (
        {"external": chart} if chart else {})


def _scatter(a: Assessment, scores: pd.DataFrame, refs: Sequence[_Ref], ext: pd.DataFrame) -> bytes:
    cols = len(refs)
    fig = charts.figure(2.1 * cols + 0.4, 2.3)
    for k, r in enumerate(refs):
        ax = fig.add_subplot(1, cols, k + 1)
        j = pd.DataFrame({"x": r.values, "y": scores[a.root]}).dropna()
        ax.scatter(j["x"], j["y"], s=6, color=charts.PALETTE[k % len(charts.PALETTE)], alpha=0.75, linewidths=0)
        e = ext[(ext["reference"] == r.short) & (ext["node"] == a.root)].iloc[0]
        ax.set_title(f"{r.short} {r.year}\nSpearman {e['spearman']:.2f}", fontsize=8, color=charts.INK)
        ax.set_xlabel(r.short + ("" if r.higher_is_better else " (lower = better)"), fontsize=7, color=charts.INK)
        if k == 0:
            ax.set_ylabel(f"{a.spec.name.upper()} {a.year}", fontsize=7, color=charts.INK)
        ax.set_ylim(0, 100)
        charts.style(ax)
        ax.tick_params(labelsize=6.5)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.2, top=0.8, wspace=0.35)
    return charts.render(fig, "svg")


# ---------------------------------------------------------------------------- validate


def validate(assessment: Assessment, panel: Panel, *, references: Path | None = None) -> Validation:
    """Validate an assessment: coverage, data age, statistical audit, external validity.

    Parameters
    ----------
    assessment : Assessment
        From :func:`humsec.analysis.assess.assess` (rank intervals are used for scale
        when it has uncertainty runs).
    panel : Panel
        The data release the assessment was built on; supplies the HDI, INFORM Risk and
        WGI references.
    references : Path, optional
        Directory with ``global_peace_index/global_peace_index_overall_2008_2022.csv``
        (default: ``$HUMSEC_SHARED_DATA``); without it the GPI comparison is skipped.

    Returns
    -------
    Validation
    """
    a = assessment
    names = _names()
    s1, t1 = _coverage_section(a, names)
    s2, t2 = _age_section(a)
    s3, t3 = _audit_section(a)
    s4, t4, ch = _external_section(a, panel, references, names)
    sections = (s1, s2, s3, s4)
    tables = {**t1, **t2, **t3, **t4}
    findings = [x for s in sections for x in s.findings]
    meta = {"spec_version": a.spec.version or "", "source": a.spec.source or "",
            "humsec_version": __version__, "seed": "" if a.seed is None else str(a.seed)}
    return Validation(index=a.spec.name, title=a.spec.title or a.spec.name.upper(), year=a.year,
                      tables=MappingProxyType(tables), findings=findings, sections=sections, runs=a.runs,
                      meta=MappingProxyType(meta), charts=MappingProxyType(ch))


# ---------------------------------------------------------------------------- HTML

CSS = """
body { max-width: 1050px; padding: 0 18px 30px 18px; }
html { font-size: 10pt; }
h2 { margin-top: 22px; }
h3 { margin-top: 10px; font-size: 10pt; color: #1b6ca8; }
p.find { margin: 3px 0 6px 0; }
p.intro { color: #555; margin: 2px 0 6px 0; font-style: italic; }
ul.summary li { margin-bottom: 4px; }
table.compact { font-size: 8.5pt; margin: 4px 0 12px 0; }
td.flag { color: #c0392b; font-weight: bold; }
tr.skipped td { color: #8a99a8; font-style: italic; }
caption { text-align: left; font-weight: bold; font-size: 9pt; padding: 8px 0 2px 0; }
details summary { cursor: pointer; color: #1b6ca8; margin: 6px 0; }
table.matrix td.r { width: 9%; }
img.chart { width: 100%; max-width: 1000px; margin: 6px auto 10px auto; }
.keyfigs .num { font-size: 16pt; }
.keyfigs .lab { font-size: 8pt; }
"""

#: Shown per table: caption, columns (None = all), folded into <details>.
_SHOW: dict[str, tuple[str, list[str] | None, bool]] = {
    "coverage_summary": ("Who is ranked", None, False),
    "not_ranked": ("UN member states without a score", ["unit", "name", "available", "needed",
                                                         "missing_dimensions", "missing_indicators"], False),
    "coverage": ("Coverage per indicator (ranked countries)",
                 ["indicator", "name", "dimension", "countries", "share_ranked", "un_members", "median_age",
                  "max_age", "oldest"], False),
    "data_age": ("Age of the numbers: share of each indicator's numbers per age band", None, False),
    "dimension_matrix": ("Index and dimensions: Spearman below the diagonal, Pearson above", None, False),
    "consistency": ("Internal consistency per dimension", None, False),
    "pca_loadings": ("First-component loadings", None, True),
    "correlations": ("All correlations (flags: collinear, negative)", None, True),
    "external_summary": (("Spearman (ρ) and Pearson (r) correlation with each reference (shading: agreement, "
                          "blue = the two rank countries alike)"), None, False),
    "references": ("References", ["reference", "name", "year", "direction", "countries", "status", "note"], False),
    "external": ("Correlations with the references, with 95% intervals of Spearman's ρ",
                 ["reference", "reference_year", "node", "n", "spearman", "spearman_lo", "spearman_hi", "pearson",
                  "agreement"], True),
    "rank_differences": ("Largest rank differences (ranks among the countries in both)", None, False),
}
_LABELS = {
    "share_ranked": "share of ranked", "un_members": "UN members", "median_age": "median age",
    "max_age": "max age", "oldest": "oldest year", "mean_age": "mean age", "age_0": "same year",
    "age_1_2": "1–2 years", "age_3_5": "3–5 years", "age_6_10": "6–10 years", "age_over_10": "> 10 years",
    "cronbach_alpha": "Cronbach's α", "pc1_variance": "PC1 variance", "pca_n": "PCA n (complete)",
    "reference_year": "year", "spearman_lo": "ρ 2.5%", "spearman_hi": "ρ 97.5%", "spearman": "Spearman ρ",
    "pearson": "Pearson r", "agreement": "agreement (ρ, sign-adjusted)", "reference_value": "reference value",
    "reference_rank": "reference rank", "of": "countries", "driver": "what drives the gap",
    "missing_dimensions": "dimensions without data", "missing_indicators": "indicators without data",
    "available": "indicators with data", "needed": "needed",
}
_SHARES = {"share_ranked", "age_0", "age_1_2", "age_3_5", "age_6_10", "age_over_10", "pc1_variance"}
_ONE_DEC = {"median_age", "mean_age"}


def _cell(col: str, v: object) -> tuple[str, bool]:
    """(text, numeric) of one cell."""
    if v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and not np.isfinite(v)):
        return "–", True
    if isinstance(v, (bool, np.bool_)):
        return ("yes" if v else "no"), False
    if isinstance(v, (int, np.integer)):
        return str(int(v)).replace("-", "−"), True
    if isinstance(v, (float, np.floating)):
        if col in _SHARES:
            return f"{v:.0%}", True
        if col in _ONE_DEC or col.endswith("_score"):
            return f"{v:.1f}", True
        if col == "reference_value":
            return f"{v:.3g}".replace("-", "−"), True
        return f"{v:.2f}".replace("-", "−"), True
    return str(v), False


def _label(col: str, index: str) -> str:
    if col.startswith(f"{index}_"):
        return f"{index.upper()} {col[len(index) + 1:]}"
    return _LABELS.get(col, col)


def _table(df: pd.DataFrame, key: str, *, index: str = "", matrix: bool = False,
           signs: Mapping[str, float] | None = None) -> Markup:
    """An HTML table (text escaped). ``matrix``: cells shaded by value, times ``signs[col]``
    (so that agreement is blue whatever the direction of the reference)."""
    cap, cols, _ = _SHOW.get(key, (key, None, False))
    cols = [c for c in (cols or list(df.columns)) if c in df.columns]
    num = {c: pd.api.types.is_numeric_dtype(df[c]) for c in cols}
    head = "".join(f'<th class="{"r" if num[c] else ""}">{escape(_label(str(c), index))}</th>' for c in cols)
    body = []
    for row in df[cols].to_dict("records"):
        tds = []
        for c in cols:
            text, isnum = _cell(c, row[c])
            style = ""
            if matrix and isnum and text != "–":
                style = f' style="background: {_heat(float(row[c]) * (signs or {}).get(c, 1.0))}"'
            klass = "flag" if c == "flag" and text else ("r" if isnum and num[c] else "")
            tds.append(f'<td class="{klass}"{style}>{escape(text)}</td>')
        tr = (' class="skipped"' if row.get("status") == "skipped" else
              ' class="root"' if row.get("indicator") == "all" else "")
        body.append(f"<tr{tr}>{''.join(tds)}</tr>")
    cls = "compact matrix" if matrix else "compact"
    return Markup(f'<table class="{cls}"><caption>{escape(cap)}</caption><thead><tr>{head}</tr></thead>'
                  f'<tbody>{"".join(body)}</tbody></table>')


def _heat(v: float) -> str:
    """Background colour of a correlation: white at 0, blue towards +1, red towards -1."""
    v = max(-1.0, min(1.0, v))
    base = (27, 108, 168) if v >= 0 else (192, 57, 43)
    t = abs(v) * 0.55
    rgb = [round(255 - (255 - c) * t) for c in base]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _external_summary(v: Validation) -> tuple[pd.DataFrame, dict[str, float]]:
    """Node x reference: Spearman and Pearson (for the page; the CSV has the long table),
    and the sign that turns each column into agreement."""
    ext = v.tables["external"]
    out = pd.DataFrame({"node": pd.unique(ext["node"])})
    names = ext.drop_duplicates("node").set_index("node")["name"]
    out.insert(1, "name", out["node"].map(names))
    signs = {}
    refs = v.tables["references"].set_index("reference")["direction"]
    for ref, g in ext.groupby("reference", sort=False):
        g = g.set_index("node")
        label = f"{ref} {g['reference_year'].iloc[0]}"
        sign = -1.0 if refs.get(ref) == "lower = better" else 1.0
        out[f"{label} ρ"] = out["node"].map(g["spearman"])
        out[f"{label} r"] = out["node"].map(g["pearson"])
        signs[f"{label} ρ"] = signs[f"{label} r"] = sign
    return out, signs


def _keyfigs(v: Validation) -> list[tuple[str, str]]:
    t = v.tables
    cs = t["coverage_summary"].set_index("measure")["value"]
    age = t["data_age"].iloc[-1]["median_age"]
    out = [(f"{cs['UN member states ranked']}/{cs['UN member states']}", "UN member states ranked"),
           (f"{age:.0f} year{'' if age == 1 else 's'}", "median age of the numbers")]
    cons = t["consistency"]
    dims = cons[cons["aggregate"] != v.index]
    out.append((f"{dims['cronbach_alpha'].min():.2f}–{dims['cronbach_alpha'].max():.2f}",
                "Cronbach's α of the dimensions"))
    ext = t["external"]
    for ref in t["references"].query("status == 'used'")["reference"]:
        e = ext[(ext["reference"] == ref) & (ext["node"] == v.index)]
        if len(e):
            out.append((f"{e['spearman'].iloc[0]:.2f}".replace("-", "−"), f"Spearman ρ with the {ref}"))
    return out


def _html(v: Validation, today: _dt.date) -> str:
    env = _env()
    css = env.loader.get_source(env, "brief.css")[0]  # type: ignore[union-attr]
    e = escape
    parts = ['<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">',
             f"<title>{e(v.title)} — validation report {v.year}</title>",
             f'<meta name="generator" content="humsec {e(v.meta.get("humsec_version", ""))}">',
             f"<style>\n{css}\n{CSS}</style>\n</head>\n<body>",
             '<header class="masthead">',
             f'<div class="kicker">Human Security Observatory · Validation report · {today.isoformat()}</div>',
             f'<h1>{e(v.title)} <span class="iso">{v.year}</span></h1>',
             f'<div class="sub">Coverage, data age, statistical audit and external validity · spec '
             f'{e(v.meta.get("spec_version", ""))}'
             + (f" · rank intervals from {v.runs} uncertainty runs" if v.runs else "") + "</div>",
             "</header>", '<section class="keyfigs">']
    for num, lab in _keyfigs(v):
        parts.append(f'<div class="fig"><div class="num">{e(num)}</div><div class="lab">{e(lab)}</div></div>')
    parts.append('</section>\n<h2>Summary</h2>\n<ul class="summary">')
    for s in v.sections:
        parts.append(f"<li><b>{e(s.title.split('. ', 1)[-1])}.</b> {e(s.lead)}</li>")
    parts.append("</ul>")
    for s in v.sections:
        parts.append(f'<section id="{e(s.key)}"><h2>{e(s.title)}</h2><p class="intro">{e(s.intro)}</p>')
        if s.key in v.charts:
            parts.append(f'<img class="chart" src="{charts.data_uri(v.charts[s.key])}" '
                         f'alt="{e(v.index.upper())} against each reference">')
        for head, sentences in (s.groups or (("", s.findings),)):
            if head:
                parts.append(f"<h3>{e(head)}</h3>")
            parts.extend(f'<p class="find">{e(x)}</p>' for x in sentences)
        for key in s.tables:
            signs = None
            if key == "external_summary":
                if "external" not in v.tables or v.tables["external"].empty:
                    continue
                df, signs = _external_summary(v)
            else:
                df = v.tables.get(key)
            if df is None or (key == "not_ranked" and df.empty):
                continue
            tab = _table(df, key, index=v.index, matrix=key in ("dimension_matrix", "external_summary"),
                         signs=signs)
            if _SHOW.get(key, ("", None, False))[2]:
                parts.append(f"<details><summary>{e(_SHOW[key][0])} ({len(df)} rows)</summary>{tab}</details>")
            else:
                parts.append(str(tab))
        parts.append("</section>")
    parts.append('<section><h2>Method and files</h2><p class="note">Scores are the normalised 0–100 indicator and '
                 "aggregate scores of the assessment; correlations are pairwise over the units with both values. "
                 "Audit flags follow COINr: collinear above "
                 f"{COLLINEAR}, negative below {NEGATIVE} (Pearson or Spearman). 95% intervals of Spearman's ρ: Fisher z "
                 "with SE √(1.06/(n−3)). Every table of this page is written beside it as "
                 f"{e(v.stem)}_&lt;table&gt;.csv. Index: {e(v.meta.get('source', ''))}</p></section>")
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)
