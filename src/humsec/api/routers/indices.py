"""Index specs and results with uncertainty (rankings, intervals) — the Human Security
Index and the other built-in specs, assessed on the current panel."""


from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import StringConstraints

from humsec.api.config import ServiceConfig
from humsec.api import schemas as S
from humsec.api.deps import ISO3_PATTERN, Year, observatory, index_name
from humsec.api.http import Body, Format, cached, records, safe_filename
from humsec.api.state import Observatory
from humsec.analysis.assess import coverage_by_year


def router(config: ServiceConfig, names: list[str]) -> APIRouter:
    r = APIRouter(tags=["indices"])
    NamePath = index_name(names)
    Obs = Annotated[Observatory, Depends(observatory)]
    Fmt = Annotated[Format | None, Query(alias="format", description="json or csv (else the Accept header).")]
    Runs = Annotated[int | None, Query(ge=0, le=config.max_runs,
                                       description=f"Monte Carlo runs for the intervals (default {config.runs}).")]

    @r.get("/indices", summary="Built-in index specs", responses=S.read(list[S.IndexSummary]))
    def indices(request: Request, obs: Obs) -> Response:
        def compute(_f: str) -> Body:
            out = []
            for n in names:
                s = obs.spec(n)
                out.append({"name": n, "title": s.title, "version": s.version, "root": s.root,
                            "dimensions": list(s.children[s.root]), "indicators": len(s.indicators),
                            "uncertainty": s.uncertainty is not None})
            return Body(json=out)
        return cached(request, obs, compute)

    @r.get("/indices/{name}", summary="One index spec (tree, steps, uncertainty design)",
           responses=S.read(S.IndexSpecDocument, 422))
    def spec(request: Request, obs: Obs, name: Annotated[str, NamePath]) -> Response:
        return cached(request, obs, lambda _f: Body(json=obs.spec(name).to_dict()))

    @r.get("/indices/{name}/years", summary="Years with data, the years that rank countries, the default "
                                             "assessment year and the latest year that ranks",
           responses=S.read(S.IndexYears, 404, 422, 503))
    def years(request: Request, obs: Obs, name: Annotated[str, NamePath]) -> Response:
        """``years`` holds every year with observations; ``ranked_years`` only those in
        which the spec's coverage rule ranks at least one country (the years a ranking
        can be asked for); ``latest_year`` is the most recent of them, which may be later
        than ``default_year`` (the latest year with enough fresh data for most
        countries). ``coverage`` gives per year the countries ranked and the share of
        indicators observed in the year or the year before."""
        def compute(_f: str) -> Body:
            ys, default = obs.years(name)
            cov = obs.memo(("coverage_by_year", name),
                           lambda: coverage_by_year(obs.spec(name), obs.index_data(name)))
            cov = cov[cov["ranked"] > 0]
            ranked = sorted(int(y) for y in cov["year"])
            return Body(json={"index": name, "years": ys, "default_year": default,
                              "ranked_years": ranked, "latest_year": ranked[-1] if ranked else None,
                              "coverage": records(cov[["year", "ranked", "fresh_share"]])})
        return cached(request, obs, compute)

    @r.get("/indices/{name}/ranking", summary="Ranking of all countries with rank and score intervals",
           responses=S.read(S.Ranking, 404, 422, 503, csv=True))
    def ranking(request: Request, obs: Obs, name: Annotated[str, NamePath], year: Year = None,
                runs: Runs = None, fmt: Fmt = None,
                unit: Annotated[list[Annotated[str, StringConstraints(pattern=ISO3_PATTERN)]] | None,
                                Query(description="Only these countries (ISO3, repeatable).")]
                = None) -> Response:
        units = sorted({u.upper() for u in unit}) if unit else None

        def compute(_f: str) -> Body:
            a = obs.assessment(name, year, runs)
            rk = a.ranking()
            if units is not None:
                rk = rk[rk["unit"].isin(units)].reset_index(drop=True)
            dims = [{"code": d, "name": a.node_name(d)} for d in a.dimensions]
            nr = obs.not_ranked(name, a.year, runs, None if units is None else tuple(units))
            return Body(json={"index": name, "title": a.spec.title, "year": a.year, "runs": a.runs,
                              "seed": a.seed, "n_failed": a.n_failed, "dimensions": dims,
                              "countries": records(rk), "not_ranked": records(nr)},
                        table=rk, filename=safe_filename(name, "ranking", a.year, suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    @r.get("/indices/{name}/regions",
           summary="Population-weighted scores of every grouping (APPF, ASEAN, APEC, EU ...) and UN M49 region",
           responses=S.read(S.Regions, 404, 422, 503, csv=True))
    def regions(request: Request, obs: Obs, name: Annotated[str, NamePath], year: Year = None,
                fmt: Fmt = None) -> Response:
        def compute(_f: str) -> Body:
            from humsec.spatial.crossborder import regional_table

            y = obs.resolve_year(name, year)
            t = regional_table(panel=obs.inputs().panel, spec=obs.spec(name), registry=obs.registry(),
                               year=y, data=obs.index_data(name))
            return Body(json={"index": name, "year": y, "regions": records(t)}, table=t,
                        filename=safe_filename(name, "regions", y, suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    @r.get("/indices/{name}/uncertainty",
           summary="Uncertainty analysis: nominal, 5th-95th percentile ranks and scores of every node",
           responses=S.read(S.Uncertainty, 404, 422, 503, csv=True))
    def uncertainty(request: Request, obs: Obs, name: Annotated[str, NamePath], year: Year = None,
                    runs: Runs = None, fmt: Fmt = None) -> Response:
        def compute(_f: str) -> Body:
            a = obs.assessment(name, year, runs)
            iv = a.intervals
            return Body(json={"index": name, "year": a.year, "runs": a.runs, "seed": a.seed,
                              "n_failed": a.n_failed, "intervals": records(iv)},
                        table=iv, filename=safe_filename(name, "uncertainty", a.year, suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    @r.get("/indices/{name}/coverage", summary="Per indicator: countries with data and the age of the data",
           responses=S.read(S.IndexCoverage, 404, 422, 503, csv=True))
    def coverage(request: Request, obs: Obs, name: Annotated[str, NamePath], year: Year = None,
                 fmt: Fmt = None) -> Response:
        def compute(_f: str) -> Body:
            a = obs.assessment(name, year, 0)
            cov = a.coverage()
            return Body(json={"index": name, "year": a.year, "indicators": records(cov)}, table=cov,
                        filename=safe_filename(name, "coverage", a.year, suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    return r
