"""Country briefs: a 2-4 page HTML or PDF summary of a country's human security.

Usage::

    b = prepare_briefing(load_spec("hsi"), panel, catalogue=cat)   # once (a few seconds)
    html = brief_html(b, "KEN")                                    # per country (fast)
    pdf = brief_pdf(b, "KEN")                                      # WeasyPrint

:func:`prepare_briefing` does everything shared by all countries once - the assessment
with rank intervals, the index history for the trend analyses and the co-movement of
dimensions - so rendering every country's brief costs little more than its charts.
HTML comes from the Jinja2 templates shipped in ``humsec/report/templates``; charts are
PNG images rendered by :mod:`humsec.report.charts` and embedded as data URIs, so a brief
is one self-contained file. PDF is laid out by WeasyPrint from the same HTML.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from humsec import __version__
from humsec.analysis import threats as T
from humsec.analysis import trends as TR
from humsec.analysis.assess import (DEFAULT_RUNS, DEFAULT_SEED, SEVERE, Assessment, CountryAssessment, assess,
                                    data_policy, history, index_data)
from humsec.data.countries import CountryRegistry
from humsec.errors import HumsecError, MissingExtra
from humsec.index.spec import IndexSpec
from humsec.model.catalogue import Catalogue
from humsec.model.panel import Panel
from humsec.report import charts

__all__ = ["Briefing", "brief_context", "brief_html", "brief_pdf", "not_ranked_context", "prepare_briefing",
           "render_pdf", "source_credits"]

#: Years of history before the assessment year used for trends (SDR: since 2015).
TREND_YEARS = 10
#: At most this many peers in the regional comparison chart.
MAX_PEERS = 20


@dataclass(frozen=True)
class Briefing:
    """Everything shared by the briefs of one index and year.

    Attributes
    ----------
    assessment : Assessment
    history : pandas.DataFrame
        Root and dimension scores by ``(unit, year)`` up to the assessment year.
    data : pandas.DataFrame
        Tidy observations of the index's indicators.
    co_movement : pandas.DataFrame
        :func:`humsec.analysis.threats.co_movement` of the dimensions.
    base_year : int
        Start of the trend period.
    """

    assessment: Assessment
    history: pd.DataFrame
    data: pd.DataFrame
    co_movement: pd.DataFrame
    base_year: int
    #: :func:`humsec.spatial.spill.neighbour_exposure` of the dimension scores (the
    #: spill-over component: neighbours' mean and worst score per dimension)
    spill: pd.DataFrame | None = None
    spill_graph: str = ""

    @property
    def units(self) -> list[str]:
        return self.assessment.units


def prepare_briefing(spec: IndexSpec, panel: Panel, *, year: int | None = None,
                     catalogue: Catalogue | None = None, runs: int = DEFAULT_RUNS,
                     seed: int = DEFAULT_SEED, base_year: int | None = None) -> Briefing:
    """Assess every country and compute the shared trend inputs (see :class:`Briefing`).

    Parameters
    ----------
    spec : IndexSpec
    panel : Panel
    year : int, optional
        Assessment year (default: :func:`humsec.analysis.assess.default_year`).
    catalogue : Catalogue, optional
    runs, seed : int
        Uncertainty analysis (rank intervals).
    base_year : int, optional
        Start of the trend period (default: the first year within ``TREND_YEARS`` before
        the assessment year in which the index scores any country).
    """
    data = index_data(panel, spec)
    a = assess(spec, panel, year=year, catalogue=catalogue, runs=runs, seed=seed, data=data)
    first = a.year - TREND_YEARS if base_year is None else int(base_year)
    if first > a.year:
        raise HumsecError(f"base year {first} is after the assessment year {a.year}")
    h = history(spec, data, range(first, a.year + 1))
    if a.year not in set(h.index.get_level_values(1)):
        h = pd.concat([h, _current(a)]).sort_index()
    yrs = sorted(set(int(y) for y in h.index.get_level_values(1)))
    base = yrs[0] if base_year is None else int(base_year)
    co = T.co_movement(h, a.dimensions)
    spill, kind = _spill(a)
    return Briefing(assessment=a, history=h, data=data, co_movement=co, base_year=base, spill=spill,
                    spill_graph=kind)


def _spill(a: Assessment) -> tuple[pd.DataFrame | None, str]:
    """Neighbour exposure of every country: land borders plus the 3 nearest capitals (so
    island states have neighbours)."""
    # local: the spatial stack (graph, spill) is needed only when a briefing is prepared,
    # and this module is loaded by the brief and oversight shells (CLI start-up)
    from humsec.spatial.crossborder import build_graph
    from humsec.spatial.spill import neighbour_exposure

    g = build_graph(CountryRegistry.default(), "borders+islands", k=3)
    scores = a.result.scores[a.dimensions]
    return neighbour_exposure(scores, g), g.kind


def _current(a: Assessment) -> pd.DataFrame:
    f = a.result.scores[[a.root, *a.dimensions]].dropna(subset=[a.root]).copy()
    f["year"] = a.year
    return f.reset_index().set_index(["unit", "year"])


# ---------------------------------------------------------------------------- sources

_RELEASE_VIA = re.compile(r"^(humsec data release [^\s(]+)(?:\s*\((.*)\))?$")


def source_credits(provenance: Mapping[str, Any], codes: Iterable[str] | None = None) -> dict[str, Any]:
    """Who the numbers come from: the provenance of indicators grouped by source.

    Parameters
    ----------
    provenance : Mapping[str, Provenance]
        Indicator code -> provenance (e.g. ``Panel.provenance``).
    codes : iterable of str, optional
        Only these indicators (in this order; default: all).

    Returns
    -------
    dict
        ``releases``: the humsec data releases the numbers came in (from the ``via`` of
        release provenance, e.g. ``"humsec data release 2026.1"``); ``sources``: one entry
        per source and edition, in order of first use - ``source, publisher, edition,
        via`` (how it reached the release, without the release itself), ``url,
        accessed, indicators`` and ``licences`` (``licence, indicators`` per licence, as
        licences are decided per indicator); ``publishers``: the publishers, most
        indicators first.
    """
    codes = list(provenance) if codes is None else [c for c in codes if c in provenance]
    releases: list[str] = []
    src: dict[tuple[str, str], dict[str, Any]] = {}
    count: dict[str, int] = {}
    for code in codes:
        p = provenance[code]
        via = p.via or ""
        m = _RELEASE_VIA.match(via)
        if m:
            if m.group(1) not in releases:
                releases.append(m.group(1))
            via = m.group(2) or ""
        e = src.setdefault((p.source, p.edition), {
            "source": p.source, "publisher": p.publisher or p.source, "edition": p.edition, "via": via,
            "url": p.url, "accessed": str(p.accessed), "indicators": [], "licences": []})
        e["indicators"].append(code)
        lic = next((x for x in e["licences"] if x["licence"] == p.licence), None)
        if lic is None:
            lic = {"licence": p.licence or "not stated", "indicators": []}
            e["licences"].append(lic)
        lic["indicators"].append(code)
        count[e["publisher"]] = count.get(e["publisher"], 0) + 1
    publishers = sorted(count, key=lambda k: (-count[k], k))
    return {"releases": releases, "sources": list(src.values()), "publishers": publishers}


# ---------------------------------------------------------------------------- context


def _fmt(v: Any, nd: int = 0) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(f):
        return "–"
    return f"{f:,.{nd}f}"


def _value(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(f):
        return "–"
    a = abs(f)
    if a >= 1000:
        return f"{f:,.0f}"
    if a >= 100:
        return f"{f:.0f}"
    if a >= 10:
        return f"{f:.1f}"
    return f"{f:.2f}"


def _how(how: Any) -> str:
    """How a number was obtained, in the brief's words."""
    return "no number" if how in (None, "missing") else str(how)


def _and(items: list[str], word: str = "and") -> str:
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]


def _or(items: list[str]) -> str:
    return _and(items, "or")


def _choice_label(v: Any) -> str:
    """A value of an uncertainty choice in words: a method's name, else the value."""
    return str(v.get("method", v)) if isinstance(v, Mapping) else str(v)


def _not_ranked_row(a: Assessment, unit: str) -> pd.Series | None:
    """The :meth:`Assessment.not_ranked` row of ``unit`` (ISO3, alpha-2 or numeric code)
    when it is a known country without a score; None for a scored country or an unknown
    code (for which :meth:`Assessment.country` raises)."""
    reg = CountryRegistry.default()
    code = str(unit).strip().upper()
    if code not in reg.codes:
        try:
            code = reg.to_iso3(code)
        except HumsecError:
            return None
    if code in set(a.units):
        return None
    nr = a.not_ranked([code])
    return None if nr.empty else nr.iloc[0]


def not_ranked_context(b: Briefing, unit: str, *, today: _dt.date | None = None) -> dict[str, Any] | None:
    """The short brief of a country without an index score: why it is not ranked, what it
    lacks per dimension and the numbers it has (with their year and how they were
    obtained). None when ``unit`` is scored (or unknown)."""
    a = b.assessment
    row = _not_ranked_row(a, unit)
    if row is None:
        return None
    spec = a.spec
    code = str(row["unit"])
    vin = a.vintage[a.vintage["unit"] == code].set_index("indicator")
    lacking = {x for x in str(row["missing_indicators"]).split("; ") if x}
    dims: list[Any] = []
    have: list[dict[str, Any]] = []
    for d in a.dimensions:
        kids = [i for i in spec.indicators if d in spec.path(i)]
        dims.append({"name": a.node_name(d), "available": sum(i in vin.index for i in kids), "indicators": len(kids),
                     "missing": [a.node_name(i) for i in kids if i in lacking]})
    for i in spec.indicators:
        if i not in vin.index:
            continue
        cat = a.catalogue.get(i) if a.catalogue is not None else None
        prov = a.provenance.get(i)
        have.append({"code": i, "name": a.node_name(i),
                     "dimension": a.node_name(spec.nodes[i].parent or "").removesuffix(" security"),
                     "value": _value(vin.at[i, "value"]), "unit": cat.unit if cat is not None else spec.nodes[i].unit,
                     "observed": int(vin.at[i, "observed"]), "age": int(vin.at[i, "age"]),
                     "how": _how(vin.at[i, "method"]), "source": prov.source if prov is not None else ""})
    n = len(spec.indicators)
    missing_dims = [a.node_name(d).lower() for d in str(row["missing_dimensions"]).split("; ") if d]
    if int(row["available"]) == 0:
        why = f"There are no numbers for {row['name']} for any of the index's {n} indicators."
    else:
        why = (f"{row['name']} has a recent enough number for {int(row['available'])} of the index's {n} "
               f"indicators; the index needs at least {int(row['needed'])}, with at least one in every dimension.")
        if missing_dims:
            why += f" There is no number at all for {_and(missing_dims)}."
    credits = source_credits(a.provenance, [h["code"] for h in have])
    ages = sorted({int(x) for x in data_policy(spec)["max_age"].dropna() if int(x) > 0})
    allowed = (f"{ages[0]} years" if len(ages) == 1 else f"{ages[0]} to {ages[-1]} years") if ages else ""
    return {
        "ranked": False, "allowed": allowed,
        "title": f"Human security brief: {row['name']}",
        "index_title": spec.title or spec.name, "index_name": spec.name.upper(), "spec_version": spec.version,
        "unit": code, "name": str(row["name"]), "year": a.year, "n_ranked": len(a.units),
        "available": int(row["available"]), "needed": int(row["needed"]), "n_indicators": n,
        "reason": str(row["reason"]), "why": why, "dimensions": dims, "have": have,
        "n_missing": len(lacking), "sources": credits["sources"], "releases": credits["releases"],
        "spec_source": spec.source, "generated": (today or _dt.date.today()).isoformat(),
        "humsec_version": __version__,
    }


def brief_context(b: Briefing, unit: str, *, today: _dt.date | None = None,
                  chart_format: str = "svg") -> dict[str, Any]:
    """The data a brief template shows for one country (JSON-like; charts as data URIs,
    SVG for the web or PNG for PDF — WeasyPrint lays PNG out twice as fast).

    For a country without an index score this is :func:`not_ranked_context` (``ranked``
    is False)."""
    a = b.assessment
    short = not_ranked_context(b, unit, today=today)
    if short is not None:
        return short
    c: CountryAssessment = a.country(unit)
    spec = a.spec
    dims = a.dimensions
    names = {d: a.node_name(d) for d in [a.root, *dims]}
    scores = a.result.scores
    # peers -----------------------------------------------------------------------
    peer_groups = dict(c.peers)
    main_group = next(iter(peer_groups), None)
    refs: dict[str, list[float]] = {}
    if main_group is not None:
        refs[f"{main_group} median"] = [float(scores.loc[peer_groups[main_group], d].median()) for d in dims]
    refs["median of all countries"] = [float(scores[d].median()) for d in dims]
    dim_iv = a.intervals[(a.intervals["unit"] == c.unit)].set_index("node")
    intervals = [(float(dim_iv.at[d, "score_q05"]), float(dim_iv.at[d, "score_q95"])) if d in dim_iv.index
                 else (np.nan, np.nan) for d in dims]
    severe = c.dimensions.set_index("dimension")["severe"]
    profile = charts.profile_chart([names[d] for d in dims], [float(scores.at[c.unit, d]) for d in dims],
                                   intervals=intervals, references=refs, fmt=chart_format)
    # trends -------------------------------------------------------------------------
    hist_u = b.history.xs(c.unit, level=0) if c.unit in b.history.index.get_level_values(0) else None
    dtr = TR.dimension_trends(b.history, c.unit, base_year=b.base_year, year=a.year)
    itr = TR.indicator_trends(spec, b.data, c.unit, base_year=b.base_year, year=a.year).set_index("indicator")
    trend_png = (charts.trend_chart(hist_u, names, root=a.root, fmt=chart_format)
                 if hist_u is not None and len(hist_u) > 1 else None)
    dtr_rows = [{"name": names.get(r.node, r.node), "base": _fmt(r.base_value), "latest": _fmt(r.latest_value),
                 "change": (f"{r.latest_value - r.base_value:+.1f}".replace("-", "−")
                            if pd.notna(r.base_value) and pd.notna(r.latest_value) else "–"),
                 "period": f"{r.base_year}–{r.latest_year}" if pd.notna(r.base_year) else "–",
                 "arrow": TR.TREND_ARROWS[r.trend], "trend": TR.TREND_LABELS[r.trend],
                 "progress": r.progress_label, "status": r.progress, "root": r.node == a.root}
                for r in dtr.itertuples()]
    root_trend = dtr.set_index("node").loc[a.root]
    # threats ------------------------------------------------------------------------
    statements = T.threat_statements(b.co_movement, b.history, c.unit, names)
    # regional comparison ------------------------------------------------------------
    peer_png, peer_rows = None, []
    if main_group is not None:
        members = peer_groups[main_group]
        iv = a.intervals[a.intervals["node"] == a.root].set_index("unit")
        tab = pd.DataFrame({"unit": members, "score": [float(scores.at[u, a.root]) for u in members]})
        tab = tab.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
        if len(tab) > MAX_PEERS:
            pos = int(tab.index[tab["unit"] == c.unit][0])
            first = max(0, min(pos - MAX_PEERS // 2, len(tab) - MAX_PEERS))
            tab = tab.iloc[first:first + MAX_PEERS]
        ivs = [(float(iv.at[u, "score_q05"]), float(iv.at[u, "score_q95"])) if u in iv.index
               else (np.nan, np.nan) for u in tab["unit"]]
        peer_png = charts.peer_chart(list(tab["unit"]), list(tab["score"]), ivs, highlight=c.unit,
                                    fmt=chart_format)
        peer_rows = [{"group": g, "n": len(m), "rank": int((scores.loc[m, a.root] > c.score).sum()) + 1,
                      "median": _fmt(scores.loc[m, a.root].median()),
                      "best": _fmt(scores.loc[m, a.root].max())} for g, m in peer_groups.items()]
    # across borders -----------------------------------------------------------------
    spill_rows: list[dict[str, Any]] = []
    neighbours = 0  # shown only with spill rows
    reg = CountryRegistry.default()

    def _name(code: str) -> str:
        return reg.name(code) if reg.is_iso3(code) else code

    if b.spill is not None:
        ex = b.spill[b.spill["unit"] == c.unit].set_index("threat")
        for d in dims:
            if d not in ex.index or pd.isna(ex.at[d, "neighbours"]):
                continue
            r = ex.loc[d]
            wn = r["worst_neighbour"]
            spill_rows.append({"name": names[d], "own": _fmt(r["own"]), "neighbours": _fmt(r["neighbours"]),
                               "worst": f"{_name(wn)} ({_fmt(r['worst_score'])})" if wn else "–",
                               "exposed": bool(pd.notna(r["gap"]) and r["gap"] > 10)})
        nb = b.spill.loc[(b.spill["unit"] == c.unit), "n_neighbours"]
        neighbours = int(nb.max()) if len(nb) else 0
    # indicators ---------------------------------------------------------------------
    ind_rows = []
    for r in c.indicators.itertuples():
        t = itr.loc[r.indicator] if r.indicator in itr.index else None
        ind_rows.append({
            "code": r.indicator, "name": r.name, "dimension": names.get(r.dimension, r.dimension).removesuffix(" security"),
            "value": _value(r.value), "unit": r.unit, "observed": "–" if pd.isna(r.observed) else int(r.observed),
            "age": "–" if pd.isna(r.age) else int(r.age), "how": _how(r.how),
            "stale": (not pd.isna(r.age)) and int(r.age) > 5, "score": _fmt(r.score),
            "arrow": TR.TREND_ARROWS[t["trend"]] if t is not None else "·",
            "progress": t["progress_label"] if t is not None else "",
            "weak": r.indicator in set(c.threat_indicators["indicator"]),
        })
    stale = [r for r in ind_rows if r["stale"]]
    # sources ------------------------------------------------------------------------
    credits = source_credits(a.provenance, spec.indicators)
    uinputs = []
    for inp in (spec.uncertainty or {}).get("inputs", []):
        if inp.get("type") == "weights":
            lv = ", ".join(f"level {k}: ±{float(v):.0%}" for k, v in inp.get("noise", {}).items())
            uinputs.append(f"weights perturbed at random ({lv}; {inp.get('n_sets', 100)} weight sets)")
        elif inp.get("type") == "choice":
            labels = inp.get("labels") or [_choice_label(v) for v in inp.get("values", [])]
            uinputs.append(f"{str(inp.get('name', '')).replace('_', ' ')}: {_or([str(x) for x in labels])}")
        elif inp.get("type") == "exclude":
            uinputs.append(f"leaving out one of {', '.join(inp.get('candidates', []))}")
        elif inp.get("type") == "uniform":
            uinputs.append(f"{inp.get('name')}: uniform in [{inp.get('low')}, {inp.get('high')}]")
    lo, hi = c.rank_interval
    threats_txt = ", ".join(f"{r.name.lower()} ({r.score:.0f})" for r in c.threats.itertuples())
    summary = (f"{c.name}'s {spec.name.upper()} is {c.score:.0f} out of 100 in {c.year}, rank {c.rank:.0f} of "
               f"{c.n_ranked}" + (f" (between {lo:.0f} and {hi:.0f} in 90% of {a.runs} uncertainty runs)"
                                  if np.isfinite(lo) else "")
               + f". People are least secure in {threats_txt}.")
    severe_dims = [r for r in c.dimensions.itertuples() if r.severe]
    if severe_dims:
        listed = _and([f"{r.name.lower()} ({r.score:.1f})" for r in severe_dims])
        summary += (f" {listed[0].upper()}{listed[1:]} "
                    f"score{'s' if len(severe_dims) == 1 else ''} below {SEVERE:.0f}: "
                    f"{'a severe threat' if len(severe_dims) == 1 else 'severe threats'} whatever the index says.")
    if root_trend["progress"] != "insufficient_data":
        summary += (f" Since {int(root_trend['base_year'])} the index has been "
                    f"{TR.TREND_LABELS[root_trend['trend']].lower()} ({TR.TREND_ARROWS[root_trend['trend']]}).")
    return {
        "ranked": True,
        "title": f"Human security brief: {c.name}",
        "index_title": spec.title or spec.name, "index_name": spec.name.upper(), "spec_version": spec.version,
        "c": c, "unit": c.unit, "name": c.name, "year": c.year,
        "score": _fmt(c.score), "rank": _fmt(c.rank), "n_ranked": c.n_ranked,
        "rank_lo": _fmt(lo), "rank_hi": _fmt(hi), "has_interval": bool(np.isfinite(lo)),
        "score_lo": _fmt(c.score_interval[0]), "score_hi": _fmt(c.score_interval[1]),
        "coverage": f"{c.coverage:.0%}", "summary": summary,
        "root_arrow": TR.TREND_ARROWS[root_trend["trend"]], "root_trend": TR.TREND_LABELS[root_trend["trend"]],
        "profile_png": charts.data_uri(profile),
        "trend_png": charts.data_uri(trend_png) if trend_png else None,
        "peer_png": charts.data_uri(peer_png) if peer_png else None,
        "main_group": main_group, "peer_rows": peer_rows,
        "spill_rows": spill_rows, "n_neighbours": neighbours, "spill_graph": b.spill_graph,
        "dimensions": [{"name": names[r.dimension], "score": _fmt(r.score), "rank": _fmt(r.rank),
                        "rank_lo": _fmt(r.rank_q05), "rank_hi": _fmt(r.rank_q95),
                        "coverage": f"{r.available}/{r.indicators}", "severe": bool(r.severe)}
                       for r in c.dimensions.itertuples()],
        "severe_below": _fmt(SEVERE), "n_severe": len(severe_dims),
        "threat_dims": [{"name": r.name, "score": _fmt(r.score), "rank": _fmt(r.rank), "severe": bool(severe[r.dimension])}
                        for r in c.threats.itertuples()],
        "threat_inds": [{"name": r.name, "dimension": names.get(r.dimension, r.dimension), "value": _value(r.value),
                         "unit": r.unit, "observed": "–" if pd.isna(r.observed) else int(r.observed),
                         "score": _fmt(r.score)} for r in c.threat_indicators.itertuples()],
        "dim_trends": dtr_rows, "base_year": b.base_year, "statements": statements,
        "indicators": ind_rows, "stale": stale, "sources": credits["sources"],
        "releases": credits["releases"],
        "runs": a.runs, "seed": a.seed, "uncertainty_inputs": uinputs,
        "spec_source": spec.source, "generated": (today or _dt.date.today()).isoformat(),
        "humsec_version": __version__,
    }


# ---------------------------------------------------------------------------- rendering


def _env():
    # local: Jinja2 (15 ms) only when a page is rendered; this module loads at CLI start-up
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("humsec.report", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def brief_html(b: Briefing, unit: str, *, today: _dt.date | None = None, chart_format: str = "svg") -> str:
    """The brief of ``unit`` as one self-contained HTML page; for a country without an
    index score, a short brief saying why it is not ranked and what it lacks.

    Raises
    ------
    HumsecError
        Unknown code.
    """
    env = _env()
    ctx = brief_context(b, unit, today=today, chart_format=chart_format)
    css = env.loader.get_source(env, "brief.css")[0]  # type: ignore[union-attr]
    template = "brief.html.j2" if ctx["ranked"] else "brief_not_ranked.html.j2"
    return env.get_template(template).render(css=css, **ctx)


def render_pdf(html: str) -> bytes:
    """Lay out HTML as PDF with WeasyPrint.

    Raises
    ------
    HumsecError
        WeasyPrint (or its Pango libraries) is not installed.
    """
    try:
        from weasyprint import HTML  # local: the optional [pdf] extra (MissingExtra without it)
    except ImportError as exc:
        raise MissingExtra("pdf", "PDF output (WeasyPrint)", f"{exc}; or use the HTML format") from None
    except OSError as exc:  # WeasyPrint is there, its Pango libraries are not
        raise HumsecError(f"PDF output needs the Pango libraries of WeasyPrint ({exc}); "
                          "install them (e.g. apt-get install libpango-1.0-0 libpangoft2-1.0-0) "
                          "or use the HTML format") from None
    return HTML(string=html).write_pdf()


def brief_pdf(b: Briefing, unit: str, *, today: _dt.date | None = None) -> bytes:
    """The brief of ``unit`` as PDF (see :func:`brief_html`)."""
    return render_pdf(brief_html(b, unit, today=today, chart_format="png"))
