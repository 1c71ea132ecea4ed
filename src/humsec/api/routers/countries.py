"""One country: assessment, trends (with uncertainty bands), vulnerable groups, peers,
spill-overs and the brief (HTML/PDF)."""


import enum
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from humsec.api.config import ServiceConfig
from humsec.api.deps import (
    ISO3,
    BaseYear,
    NotFound,
    NotRanked,
    Year,
    country_code,
    observatory,
    spec_enum,
)
from humsec.api.http import Body, Format, cached, records, safe_filename
from humsec.api.state import Observatory
from humsec.errors import HumsecError


class BriefFormat(str, enum.Enum):
    html = "html"
    pdf = "pdf"


class Same(str, enum.Enum):
    region = "region"
    subregion = "subregion"
    income = "income"


class Graph(str, enum.Enum):
    borders_islands = "borders+islands"
    borders = "borders"
    knn = "knn"
    borders_knn = "borders+knn"
    distance = "distance"


def require_ranked(obs: Observatory, index: str, code: str, year: int | None) -> None:
    """Nothing when ``code`` has an index score in the year; else :class:`NotRanked`
    (404) naming the reason and the missing indicators (or the library's error for a
    country without any data)."""
    a = obs.assessment(index, year)
    if code in set(a.units):
        return
    nr = obs.not_ranked(index, a.year, units=(code,))
    if nr.empty:
        a.country(code)  # raises the library's message
        return
    r = records(nr)[0]
    title = a.spec.title or a.spec.name
    names = [n for n in r["missing_indicator_names"].split("; ") if n]
    if not r["available"]:
        why = f"there are no numbers for any of its {len(names)} indicators"
    else:
        why = (f"{r['reason']}. It lacks numbers for {len(names)} indicator{'' if len(names) == 1 else 's'}: "
               + ", ".join(names))
    raise NotRanked(f"{r['name']} ({code}) is not ranked in the {title} for {a.year}: {why}.",
                    index=index, year=a.year, not_ranked=r)


def unit_rows(data: pd.DataFrame, code: str) -> pd.DataFrame:
    """The panel's rows of one country."""
    return data[data["unit"] == code]


def group_inputs(obs: Observatory, year: int) -> dict[str, Any]:
    """What the groups of every country share, computed once per data version and year.

    ``goalposts``: per indicator the lowest and highest value over every country, year
    and group - the goalposts :func:`humsec.analysis.groups.group_scores` takes from the
    whole panel when none are given, so scores of one country's rows with these
    goalposts equal the whole panel's (indicators whose values are all equal are left
    out: they have no span either way). ``pairs``: for each indicator
    :func:`humsec.analysis.groups.left_behind` compares groups on, the rows with its
    lowest and its highest value over every country in the window of ``year``
    (:func:`humsec.analysis.groups.max_ages`). ``left_behind`` looks at other countries
    only for the goalposts of its furthest-behind ranking (their minimum and maximum in
    that window), so it gives the same result on one country's rows plus these (the
    country's own rows left out of them) as on the whole panel (``tests/test_web_pages.py``
    checks). ``spec``: the HSI, whose missing-data policy sets those windows.
    """
    from humsec.analysis.groups import LEFT_BEHIND_SECTIONS, max_ages

    def goalposts() -> dict[str, tuple[float, float]]:
        df = obs.inputs().panel.data
        span = df[df["value"].notna()].groupby("indicator", observed=True)["value"].agg(["min", "max"])
        span = span[span["min"] < span["max"]]
        return {str(c): (float(r["min"]), float(r["max"])) for c, r in span.iterrows()}

    def pairs() -> pd.DataFrame:
        df = obs.inputs().panel.data
        paired = sorted({c for _, _, items in LEFT_BEHIND_SECTIONS for kind, c in items
                         if kind in ("sex", "area", "disability")})
        limits = max_ages(paired, obs.spec("hsi"))
        df = df[df["indicator"].isin(paired) & df["value"].notna() & (df["year"] <= year)]
        df = df[df["year"] >= year - df["indicator"].map(limits).astype(int)]
        # only the goalposts come from the other countries: their lowest and highest rows
        by = df.groupby("indicator", observed=True)["value"]
        return df.loc[sorted(set(by.idxmin()) | set(by.idxmax()))]

    return {"goalposts": obs.memo(("group_goalposts",), goalposts),
            "pairs": obs.memo(("group_pairs", int(year)), pairs), "spec": obs.spec("hsi")}


def trend_intervals(obs: Observatory, index: str, first: int, last: int, runs: int) -> dict[int, pd.DataFrame]:
    """Score intervals of every country per year ``first``-``last`` (the bands of the
    trend charts): :attr:`Assessment.intervals` of each year with data at ``runs`` runs;
    years that cannot be assessed are left out. The same for every country, cached."""
    if runs <= 0:
        return {}
    have = set(obs.years(index)[0])
    out = {}
    for y in range(int(first), int(last) + 1):
        if y in have:
            try:
                out[y] = obs.assessment(index, y, runs).intervals
            except HumsecError:
                continue
    return out


def _spill_permutations() -> int:
    """The permutations :func:`humsec.spatial.crossborder.spill_report` uses by default."""
    import inspect

    from humsec.spatial.crossborder import spill_report

    return int(inspect.signature(spill_report).parameters["permutations"].default)


def spill_shared(obs: Observatory, index: str, year: int, base_year: int, graph: str, k: int) -> dict[str, Any]:
    """What :func:`humsec.spatial.crossborder.spill_report` computes for every country
    alike - the scores of the two years, the neighbour graph, every country's exposure
    to its neighbours and the hotspots of insecurity (seeded permutations over all
    countries) - once per data version and parameters (cached)."""
    from humsec.spatial.crossborder import build_graph, score_history
    from humsec.spatial.spill import neighbour_exposure
    from humsec.spatial.stats import hotspots

    def compute() -> dict[str, Any]:
        spec = obs.spec(index)
        hist = score_history(spec, obs.index_data(index), [base_year, year])
        now = hist[hist["year"] == year].pivot_table(index="unit", columns="node", values="score",
                                                     aggfunc="first")
        if now.empty:
            raise HumsecError(f"'{spec.name}' scores no country in {year}")
        dims = [c for c in spec.children[spec.root] if c in now.columns]
        g = build_graph(obs.registry(), graph, k=k)
        hs = hotspots(-now[dims], g, seed=obs.config.seed, permutations=_spill_permutations())
        hs = hs.assign(score=-hs["value"], neighbours=-hs["lag"]).drop(columns=["value", "lag"])
        return {"hist": hist, "now": now, "dims": dims, "graph": g,
                "exposure": neighbour_exposure(now[dims], g), "hotspots": hs}
    return obs.memo(("spill_shared", index, int(year), int(base_year), graph, int(k), obs.config.seed), compute)


def country_spill(obs: Observatory, index: str, code: str, *, year: int, base_year: int | None,
                  graph: str, k: int) -> Any:
    """:func:`humsec.spatial.crossborder.spill_report` of one country (no displacement
    table, as the endpoint asks), the same report, from :func:`spill_shared` and the
    country's own shared rising threats; None where ``spill_report`` would refuse (it
    says why)."""
    from humsec.spatial.crossborder import SpillReport, neighbour_links
    from humsec.spatial.spill import joint_action

    reg, spec = obs.registry(), obs.spec(index)
    base = int(year) - 5 if base_year is None else int(base_year)
    if base >= year:
        return None
    sh = spill_shared(obs, index, int(year), base, graph, k)
    hist, now, dims, g = sh["hist"], sh["now"], sh["dims"], sh["graph"]
    label, focus = code, [code]
    if code not in now.index:
        return None
    notes: list[str] = []
    ex = sh["exposure"]
    ex = ex[ex["unit"].isin(focus)].reset_index(drop=True)
    if base not in set(hist["year"]):
        notes.append(f"no scores in {base}: trends not compared")
        ja = {"shared": pd.DataFrame(columns=["unit", "neighbour", "threat", "unit_change", "neighbour_change"]),
              "flows": pd.DataFrame(), "evidence": []}
    else:
        ja = joint_action(focus, hist[hist["node"].isin(dims)], g, base_year=base, year=int(year), disp=None,
                          names={c: reg.name(c) for c in reg.codes},
                          node_names={d: spec.nodes[d].name or d for d in dims}, measure="flow")
    near = set(focus) | {n for u in focus if u in set(g.units) for n in g.neighbours(u).index}
    hs = sh["hotspots"]
    hs = hs[hs["unit"].isin(near)].reset_index(drop=True)[["unit", "threat", "score", "neighbours", "p_sim",
                                                            "n_threats"]]
    return SpillReport(label, focus, False, int(year), base, g.kind, ex, ja["shared"], list(ja["evidence"]), hs,
                       None, None, ja["flows"] if len(ja["flows"]) else None, notes, "flow",
                       neighbour_links(reg, g, focus))


def score_frames(obs: Observatory, index: str, years: tuple[int, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(long scores ``unit, year, node, score`` of the years, as
    :func:`humsec.spatial.crossborder.score_history` gives them; wide scores of the last
    year), the same for every country, cached."""
    from humsec.spatial.crossborder import score_history

    def compute() -> tuple[pd.DataFrame, pd.DataFrame]:
        hist = score_history(obs.spec(index), obs.index_data(index), list(years))
        now = hist[hist["year"] == max(years)].pivot_table(index="unit", columns="node", values="score",
                                                           aggfunc="first")
        return hist, now
    return obs.memo(("score_frames", index, tuple(int(y) for y in years)), compute)


def _leaves(spec: Any, dimension: str) -> list[str]:
    """The spec's indicators under ``dimension``."""
    out = []
    for c in spec.indicators:
        p = spec.nodes[c].parent
        while p is not None and p != dimension:
            p = spec.nodes[p].parent
        if p == dimension:
            out.append(c)
    return out


def country_peers(obs: Observatory, index: str, code: str, *, year: int, base_year: int | None,
                  dimension: str | None, k: int) -> Any:
    """:func:`humsec.spatial.crossborder.peer_report` without a ``same`` restriction, the
    same report, with the score history of the period shared by every country
    (:func:`score_frames`); None where ``peer_report`` would refuse (it says why)."""
    from humsec.spatial.crossborder import PeerReport
    from humsec.spatial.peers import positive_deviants, similar_peers

    spec = obs.spec(index)
    year = int(year)
    dims = list(spec.children[spec.root])
    if (base_year is not None and int(base_year) >= year) or (dimension is not None and dimension not in dims):
        return None
    # as peer_report: the earliest of the previous ten years in which the unit has scores
    candidates = [int(base_year)] if base_year is not None else list(range(year - 10, year - 2))
    hist, now = score_frames(obs, index, tuple(range(min(candidates), year + 1)))
    scored = sorted(set(hist.loc[(hist["unit"] == code) & (hist["year"] < year), "year"]) & set(candidates))
    if code not in now.index or not scored:
        return None
    base = int(scored[0])
    hist = hist[hist["year"].between(base, year)]
    similar = similar_peers(now[[d for d in dims if d in now.columns]], code, k=k)
    pd_ = positive_deviants(hist, code, base_year=base, year=year, threat=dimension, profile_nodes=dims,
                            indicators=obs.index_data(index), threat_indicators={d: _leaves(spec, d) for d in dims},
                            k=k, directions={c: spec.nodes[c].direction for c in spec.indicators})
    return PeerReport(code, year, base, similar, pd_["threat"], pd_["unit_change"], pd_["deviants"],
                      pd_["changes"], pd_["n_noise"])


def warm_country_pages(obs: Observatory, index: str = "hsi") -> None:
    """Compute ahead what every country page shares (after the default assessment):
    the trend history and its per-year bands, the inputs of the groups, the spill-over
    graph, exposures and hotspots, and the node names of the default year - none of
    it about one country, so every country page stays "uncached" for its own numbers."""
    cfg = obs.config
    a = obs.assessment(index)
    first = a.year - cfg.trend_years
    obs.history(index, first, a.year)
    trend_intervals(obs, index, first, a.year, cfg.trend_runs)
    group_inputs(obs, a.year)
    spill_shared(obs, index, a.year, a.year - 5, Graph.borders_islands.value, 3)
    score_frames(obs, index, tuple(range(a.year - 10, a.year + 1)))
    obs.assessment(index, a.year, 0)


def router(config: ServiceConfig, names: list[str]) -> APIRouter:
    r = APIRouter(tags=["countries"])
    IndexName = spec_enum(names)
    Obs = Annotated[Observatory, Depends(observatory)]
    Fmt = Annotated[Format | None, Query(alias="format", description="json or csv (else the Accept header).")]
    Spec = Annotated[IndexName, Query(description="Index spec (built-in).")]  # type: ignore[valid-type]
    default_spec = IndexName("hsi") if "hsi" in names else IndexName(names[0])

    @r.get("/countries/{iso3}/assessment", summary="A country's assessment: scores, ranks with intervals, "
                                                   "main threats, indicators with vintage and provenance")
    def assessment(request: Request, obs: Obs, iso3: ISO3, year: Year = None,
                   index: Spec = default_spec, fmt: Fmt = None) -> Response:
        code = country_code(obs, iso3)

        def compute(_f: str) -> Body:
            require_ranked(obs, index.value, code, year)
            d = obs.country(index.value, code, year)
            return Body(json=d, table=pd.DataFrame(d["indicators"]),
                        filename=safe_filename(index.value, code, d["year"], suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    @r.get("/countries/{iso3}/trends", summary="Index and dimension history with uncertainty bands; "
                                               "progress status and trend arrows")
    def trends(request: Request, obs: Obs, iso3: ISO3, year: Year = None, base_year: BaseYear = None,
               index: Spec = default_spec) -> Response:
        code = country_code(obs, iso3)

        def compute(_f: str) -> Body:
            from humsec.analysis import trends as TR

            require_ranked(obs, index.value, code, year)
            a = obs.assessment(index.value, year)
            first = a.year - config.trend_years if base_year is None else int(base_year)
            if first > a.year:
                raise HumsecError(f"base_year {first} is after the assessment year {a.year}")
            nodes = [a.root, *a.dimensions]
            hist = obs.history(index.value, first, a.year)
            rows = []
            if code in hist.index.get_level_values(0):
                h = hist.xs(code, level=0)
                bands = trend_intervals(obs, index.value, first, a.year, config.trend_runs)
                for y in h.index:
                    iv = bands.get(int(y))
                    ivu = iv[iv["unit"] == code].set_index("node") if iv is not None else None
                    for n in nodes:
                        lo = hi = np.nan
                        if ivu is not None and n in ivu.index:
                            lo, hi = ivu.at[n, "score_q05"], ivu.at[n, "score_q95"]
                        rows.append({"year": int(y), "node": n, "score": float(h.at[y, n]),
                                     "score_q05": float(lo), "score_q95": float(hi)})
            dtr = TR.dimension_trends(hist, code, base_year=base_year, year=a.year)
            itr = TR.indicator_trends(a.spec, obs.index_data(index.value), code, base_year=base_year, year=a.year)
            dtr["name"] = [a.node_name(n) for n in dtr["node"]]
            itr["name"] = [a.node_name(n) for n in itr["indicator"]]
            series = pd.DataFrame(rows, columns=["year", "node", "score", "score_q05", "score_q95"])
            return Body(json={"unit": code, "index": index.value, "year": a.year, "first_year": first,
                              "band_runs": config.trend_runs, "series": records(series),
                              "node_names": {n: a.node_name(n) for n in nodes},
                              "dimension_trends": records(dtr), "indicator_trends": records(itr)})
        return cached(request, obs, compute)

    @r.get("/countries/{iso3}/groups", summary="Who is left behind: group gaps, furthest behind, demography")
    def groups(request: Request, obs: Obs, iso3: ISO3, year: Year = None) -> Response:
        code = country_code(obs, iso3)

        def compute(_f: str) -> Body:
            from humsec.analysis.groups import (
                demography,
                furthest_behind,
                gaps,
                left_behind,
            )

            panel = obs.inputs().panel
            if code not in panel.units:
                raise NotFound(f"{code}: no data for this country in the panel")
            ref = obs.resolve_year("hsi", year)  # left_behind's default: the HSI's default year
            own, shared = unit_rows(panel.data, code), group_inputs(obs, ref)
            g = gaps(own, units=[code], year=year, latest=True)
            fb = furthest_behind(own, code, year=year, goalposts=shared["goalposts"])
            demo = demography(own, units=[code])
            if year is not None:
                demo = demo[demo["year"] <= year]
            demo = demo.sort_values("year").tail(1)
            others = shared["pairs"][shared["pairs"]["unit"] != code]
            lb = left_behind(pd.concat([own, others]), code, year=ref, catalogue=obs.inputs().catalogue,
                             spec=shared["spec"])
            return Body(json={"unit": code, "year": year, "gaps": records(g), "furthest_behind": records(fb),
                              "demography": records(demo)[0] if len(demo) else None,
                              "left_behind": lb.to_dict()})
        return cached(request, obs, compute)

    @r.get("/countries/{iso3}/peers", summary="Similar countries and positive deviants")
    def peers(request: Request, obs: Obs, iso3: ISO3, year: Year = None, base_year: BaseYear = None,
              dimension: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$",
                                                     description="Dimension to learn about "
                                                                 "(default: the weakest).")] = None,
              k: Annotated[int, Query(ge=1, le=20)] = 5, same: Same | None = None,
              index: Spec = default_spec) -> Response:
        code = country_code(obs, iso3)

        def compute(_f: str) -> Body:
            from humsec.spatial.crossborder import peer_report

            require_ranked(obs, index.value, code, year)
            inp = obs.inputs()
            y = obs.resolve_year(index.value, year)
            rep = None if same is not None else country_peers(obs, index.value, code, year=y, base_year=base_year,
                                                              dimension=dimension, k=k)
            if rep is None:
                rep = peer_report(code, panel=inp.panel, spec=obs.spec(index.value), registry=obs.registry(),
                                  catalogue=inp.catalogue, dimension=dimension, year=y, base_year=base_year, k=k,
                                  same=same.value if same else None, data=obs.index_data(index.value))
            out = rep.to_dict()
            reg = obs.registry()
            for key in ("similar", "positive_deviants"):
                for row in out[key]:
                    row["name"] = reg.name(row["unit"]) if reg.is_iso3(row["unit"]) else row["unit"]
            out["threat_name"] = obs.spec(index.value).nodes[rep.threat].name or rep.threat
            return Body(json=out)
        return cached(request, obs, compute)

    @r.get("/spill/{target}", summary="Spill-overs around a country, grouping (APPF, ASEAN ...) or UN region")
    def spill(request: Request, obs: Obs,
              target: Annotated[str, Path(min_length=1, max_length=80, description="ISO3 code, grouping (APPF, ASEAN, EU ...) or UN M49 region name.")],
              year: Year = None, base_year: BaseYear = None, graph: Graph = Graph.borders_islands,
              k: Annotated[int, Query(ge=1, le=10)] = 3, index: Spec = default_spec) -> Response:
        if not (1 <= len(target) <= 80) or not all(ch.isalnum() or ch in " -,.'()&" for ch in target):
            raise HumsecError(f"target {target[:80]!r}: expected an ISO3 code, a grouping or a UN region name")

        def compute(_f: str) -> Body:
            from humsec.spatial.crossborder import spill_report

            code = target.upper()
            if len(code) == 3 and obs.registry().is_iso3(code):
                require_ranked(obs, index.value, code, year)
            y = obs.resolve_year(index.value, year)
            rep = None
            if len(code) == 3 and obs.registry().is_iso3(code):
                rep = country_spill(obs, index.value, code, year=y, base_year=base_year, graph=graph.value, k=k)
            if rep is None:
                rep = spill_report(target, panel=obs.inputs().panel, spec=obs.spec(index.value),
                                   registry=obs.registry(), year=y, base_year=base_year, graph=graph.value, k=k,
                                   seed=config.seed, data=obs.index_data(index.value))
            out = rep.to_dict()
            reg = obs.registry()
            out["names"] = {c: reg.name(c) for c in sorted(set(rep.exposure["unit"]) | set(
                rep.exposure["worst_neighbour"].dropna())) if reg.is_iso3(c)}
            a = obs.assessment(index.value, y, 0)
            out["node_names"] = {n: a.node_name(n) for n in [a.root, *a.dimensions]}
            return Body(json=out)
        return cached(request, obs, compute)

    @r.get("/countries/{iso3}/brief", summary="Country brief for parliamentarians (HTML or PDF)",
           responses={200: {"content": {"application/pdf": {}, "text/html": {}}}})
    def brief(request: Request, obs: Obs, iso3: ISO3, year: Year = None,
              format: BriefFormat = BriefFormat.pdf, index: Spec = default_spec) -> Response:
        code = country_code(obs, iso3)

        def compute(_f: str) -> Body:
            from humsec.report.brief import brief_html, render_pdf

            b = obs.briefing(index.value, year)
            html = brief_html(b, code)
            name = safe_filename("humsec_brief", code, b.assessment.year, suffix=format.value)
            if format is BriefFormat.html:
                return Body(raw=html.encode("utf-8"), media_type="text/html; charset=utf-8", filename=name)
            return Body(raw=render_pdf(html), media_type="application/pdf", filename=name)
        return cached(request, obs, compute, extra=format.value)

    return r
