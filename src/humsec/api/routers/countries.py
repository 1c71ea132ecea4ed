"""One country: assessment, trends (with uncertainty bands), vulnerable groups, peers,
spill-overs and the brief (HTML/PDF)."""


import enum
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from humsec.api.config import ServiceConfig
from humsec.api import schemas as S
from humsec.api.deps import (
    ISO3,
    BaseYear,
    NotFound,
    NotRanked,
    Year,
    country_code,
    observatory,
    index_name,
)
from humsec.api.http import Body, Format, cached, records, safe_filename
from humsec.api.state import Observatory
from humsec.errors import HumsecError
from humsec.spatial.crossborder import peer_report, score_history, spill_report, spill_scores


#: A spill-over target: an ISO3 code, a grouping or a UN M49 region name.
TARGET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ,.'()&-]{0,79}$"


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


def spill_shared(obs: Observatory, index: str, year: int, base_year: int, graph: str, k: int) -> Any:
    """:func:`humsec.spatial.crossborder.spill_scores` - what the spill-over report of
    every target shares - once per data version and parameters (cached)."""
    return obs.memo(("spill_shared", index, int(year), int(base_year), graph, int(k), obs.config.seed),
                    lambda: spill_scores(obs.spec(index), obs.index_data(index), obs.registry(), year=year,
                                         base_year=base_year, graph=graph, k=k, seed=obs.config.seed))


def score_frames(obs: Observatory, index: str, years: tuple[int, ...]) -> pd.DataFrame:
    """Long scores ``unit, year, node, score`` of the years
    (:func:`humsec.spatial.crossborder.score_history`), the same for every country, cached."""
    return obs.memo(("score_frames", index, tuple(int(y) for y in years)),
                    lambda: score_history(obs.spec(index), obs.index_data(index), list(years)))


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
    Obs = Annotated[Observatory, Depends(observatory)]
    Fmt = Annotated[Format | None, Query(alias="format", description="json or csv (else the Accept header).")]
    IndexQuery = index_name(names, where="query", description="Index spec (built-in).")
    default_spec = "hsi" if "hsi" in names else names[0]

    @r.get("/countries/{iso3}/assessment", summary="A country's assessment: scores, ranks with intervals, "
                                                   "main threats, indicators with vintage and provenance",
           responses=S.read(S.CountryAssessment, 404, 422, 503, csv=True))
    def assessment(request: Request, obs: Obs, iso3: ISO3, year: Year = None,
                   index: Annotated[str, IndexQuery] = default_spec, fmt: Fmt = None) -> Response:
        code = country_code(obs, iso3)

        def compute(_f: str) -> Body:
            require_ranked(obs, index, code, year)
            d = obs.country(index, code, year)
            return Body(json=d, table=pd.DataFrame(d["indicators"]),
                        filename=safe_filename(index, code, d["year"], suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    @r.get("/countries/{iso3}/trends", summary="Index and dimension history with uncertainty bands; "
                                               "progress status and trend arrows",
           responses=S.read(S.CountryTrends, 404, 422, 503))
    def trends(request: Request, obs: Obs, iso3: ISO3, year: Year = None, base_year: BaseYear = None,
               index: Annotated[str, IndexQuery] = default_spec) -> Response:
        code = country_code(obs, iso3)

        def compute(_f: str) -> Body:
            from humsec.analysis import trends as TR

            require_ranked(obs, index, code, year)
            a = obs.assessment(index, year)
            first = a.year - config.trend_years if base_year is None else int(base_year)
            if first > a.year:
                raise HumsecError(f"base_year {first} is after the assessment year {a.year}")
            nodes = [a.root, *a.dimensions]
            hist = obs.history(index, first, a.year)
            rows = []
            if code in hist.index.get_level_values(0):
                h = hist.xs(code, level=0)
                bands = trend_intervals(obs, index, first, a.year, config.trend_runs)
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
            itr = TR.indicator_trends(a.spec, obs.index_data(index), code, base_year=base_year, year=a.year)
            dtr["name"] = [a.node_name(n) for n in dtr["node"]]
            itr["name"] = [a.node_name(n) for n in itr["indicator"]]
            series = pd.DataFrame(rows, columns=["year", "node", "score", "score_q05", "score_q95"])
            return Body(json={"unit": code, "index": index, "year": a.year, "first_year": first,
                              "band_runs": config.trend_runs, "series": records(series),
                              "node_names": {n: a.node_name(n) for n in nodes},
                              "dimension_trends": records(dtr), "indicator_trends": records(itr)})
        return cached(request, obs, compute)

    @r.get("/countries/{iso3}/groups", summary="Who is left behind: group gaps, furthest behind, demography",
           responses=S.read(S.CountryGroups, 404, 422, 503))
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

    @r.get("/countries/{iso3}/peers", summary="Similar countries and positive deviants",
           responses=S.read(S.CountryPeers, 404, 422, 503))
    def peers(request: Request, obs: Obs, iso3: ISO3, year: Year = None, base_year: BaseYear = None,
              dimension: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$",
                                                     description="Dimension to learn about "
                                                                 "(default: the weakest).")] = None,
              k: Annotated[int, Query(ge=1, le=20)] = 5, same: Same | None = None,
              index: Annotated[str, IndexQuery] = default_spec) -> Response:
        code = country_code(obs, iso3)

        def compute(_f: str) -> Body:
            require_ranked(obs, index, code, year)
            inp = obs.inputs()
            y = obs.resolve_year(index, year)
            first = int(base_year) if base_year is not None and base_year < y else y - 10
            rep = peer_report(code, panel=inp.panel, spec=obs.spec(index), registry=obs.registry(),
                              catalogue=inp.catalogue, dimension=dimension, year=y, base_year=base_year, k=k,
                              same=same.value if same else None, data=obs.index_data(index),
                              scores=score_frames(obs, index, tuple(range(first, y + 1))))
            out = rep.to_dict()
            reg = obs.registry()
            for key in ("similar", "positive_deviants"):
                for row in out[key]:
                    row["name"] = reg.name(row["unit"]) if reg.is_iso3(row["unit"]) else row["unit"]
            out["threat_name"] = obs.spec(index).nodes[rep.threat].name or rep.threat
            return Body(json=out)
        return cached(request, obs, compute)

    @r.get("/spill/{target}", summary="Spill-overs around a country, grouping (APPF, ASEAN ...) or UN region",
           responses=S.read(S.Spill, 404, 422, 503))
    def spill(request: Request, obs: Obs,
              target: Annotated[str, Path(pattern=TARGET_PATTERN, description="ISO3 code, grouping (APPF, ASEAN, "
                                                                              "EU ...) or UN M49 region name.")],
              year: Year = None, base_year: BaseYear = None, graph: Graph = Graph.borders_islands,
              k: Annotated[int, Query(ge=1, le=10)] = 3, index: Annotated[str, IndexQuery] = default_spec) -> Response:

        def compute(_f: str) -> Body:
            code = target.upper()
            if len(code) == 3 and obs.registry().is_iso3(code):
                require_ranked(obs, index, code, year)
            y = obs.resolve_year(index, year)
            base = y - 5 if base_year is None else int(base_year)
            shared = spill_shared(obs, index, y, base, graph.value, k) if base < y else None
            rep = spill_report(target, panel=obs.inputs().panel, spec=obs.spec(index),
                               registry=obs.registry(), year=y, base_year=base_year, graph=graph.value, k=k,
                               seed=config.seed, data=obs.index_data(index), shared=shared)
            out = rep.to_dict()
            reg = obs.registry()
            out["names"] = {c: reg.name(c) for c in sorted(set(rep.exposure["unit"]) | set(
                rep.exposure["worst_neighbour"].dropna())) if reg.is_iso3(c)}
            a = obs.assessment(index, y, 0)
            out["node_names"] = {n: a.node_name(n) for n in [a.root, *a.dimensions]}
            return Body(json=out)
        return cached(request, obs, compute)

    @r.get("/countries/{iso3}/brief", summary="Country brief for parliamentarians (HTML or PDF)",
           response_class=HTMLResponse, responses=S.read(None, 404, 422, 501, 503, media=(S.HTML, S.PDF)))
    def brief(request: Request, obs: Obs, iso3: ISO3, year: Year = None,
              format: BriefFormat = BriefFormat.pdf, index: Annotated[str, IndexQuery] = default_spec) -> Response:
        code = country_code(obs, iso3)

        def compute(_f: str) -> Body:
            from humsec.report.brief import brief_html, render_pdf

            b = obs.briefing(index, year)
            html = brief_html(b, code)
            name = safe_filename("humsec_brief", code, b.assessment.year, suffix=format.value)
            if format is BriefFormat.html:
                return Body(raw=html.encode("utf-8"), media_type="text/html; charset=utf-8", filename=name)
            return Body(raw=render_pdf(html), media_type="application/pdf", filename=name)
        return cached(request, obs, compute, extra=format.value)

    return r
