"""One country: assessment, trends (with uncertainty bands), vulnerable groups, peers,
spill-overs and the brief (HTML/PDF)."""


import enum
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from humsec.api.config import ServiceConfig
from humsec.api.deps import ISO3, BaseYear, NotFound, NotRanked, Year, country_code, observatory, spec_enum
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


def group_inputs(obs: Observatory) -> dict[str, Any]:
    """What the groups of every country share, computed once per data version.

    ``goalposts``: per indicator the lowest and highest value over every country, year
    and group - the goalposts :func:`humsec.analysis.groups.group_scores` takes from the
    whole panel when none are given, so scores of one country's rows with these
    goalposts equal the whole panel's (indicators whose values are all equal are left
    out: they have no span either way). ``pairs``: the rows of every country of the
    indicators :func:`humsec.analysis.groups.left_behind` compares groups on (its
    furthest-behind ranking takes its goalposts from every country), so that function
    can run on one country's rows plus these instead of the whole panel.
    """
    from humsec.analysis.groups import LEFT_BEHIND_SECTIONS

    def compute() -> dict[str, Any]:
        df = obs.inputs().panel.data
        df = df[df["value"].notna()]
        span = df.groupby("indicator", observed=True)["value"].agg(["min", "max"])
        span = span[span["min"] < span["max"]]
        posts = {str(c): (float(r["min"]), float(r["max"])) for c, r in span.iterrows()}
        paired = sorted({c for _, _, items in LEFT_BEHIND_SECTIONS for kind, c in items
                         if kind in ("sex", "area", "disability")})
        pairs = df[df["indicator"].isin(paired)]
        return {"goalposts": posts, "pairs": pairs}
    return obs.memo(("group_inputs",), compute)


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
                have = set(obs.years(index.value)[0])
                for y in h.index:
                    iv = None
                    if y in have and config.trend_runs > 0:
                        try:
                            iv = obs.assessment(index.value, int(y), config.trend_runs).intervals
                        except HumsecError:
                            iv = None
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
            from humsec.analysis.groups import demography, furthest_behind, gaps, left_behind

            panel = obs.inputs().panel
            if code not in panel.units:
                raise NotFound(f"{code}: no data for this country in the panel")
            own, shared = unit_rows(panel.data, code), group_inputs(obs)
            g = gaps(own, units=[code], year=year, latest=True)
            fb = furthest_behind(own, code, year=year, goalposts=shared["goalposts"])
            demo = demography(own, units=[code])
            if year is not None:
                demo = demo[demo["year"] <= year]
            demo = demo.sort_values("year").tail(1)
            lb = left_behind(pd.concat([own, shared["pairs"][shared["pairs"]["unit"] != code]]), code,
                             year=obs.resolve_year("hsi", year) if "hsi" in names else year,
                             catalogue=obs.inputs().catalogue)
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
            from humsec.report.crossborder import peer_report

            require_ranked(obs, index.value, code, year)
            inp = obs.inputs()
            y = obs.resolve_year(index.value, year)
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
            from humsec.report.crossborder import spill_report

            code = target.upper()
            if len(code) == 3 and obs.registry().is_iso3(code):
                require_ranked(obs, index.value, code, year)
            y = obs.resolve_year(index.value, year)
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
