"""Analyses of a built-in index on the current panel (COINr's ``get_corr`` /
``get_pvals``, ``get_data_avail``, ``get_unit_summary`` / ``get_str_weak``) and its HTML
audit — thin routes over :mod:`humsec.index.analysis_coin` and
:mod:`humsec.report.index_report`."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from humsec.api.config import ServiceConfig
from humsec.api import schemas as S
from humsec.api.deps import ISO3, NotFound, Year, observatory, index_name
from humsec.api.http import Body, Format, cached, records, safe_filename
from humsec.api.state import Observatory


def router(config: ServiceConfig, names: list[str]) -> APIRouter:
    r = APIRouter(tags=["indices"])
    NamePath = index_name(names)
    Obs = Annotated[Observatory, Depends(observatory)]
    Fmt = Annotated[Format | None, Query(alias="format", description="json or csv (else the Accept header).")]
    Level = Annotated[int | None, Query(ge=1, le=20, description="Framework level (1 = indicators).")]

    def nominal(obs: Observatory, name: str, year: int | None):
        return obs.assessment(name, year, 0).result

    @r.get("/indices/{name}/correlations",
           summary="Correlation matrix of the nodes of a level (Pearson, Spearman or Kendall) with p-values",
           responses=S.read(S.Correlations, 404, 422, 503, csv=True))
    def correlations(request: Request, obs: Obs, name: Annotated[str, NamePath], year: Year = None,
                     level: Level = None, level2: Level = None,
                     method: Literal["pearson", "spearman", "kendall"] = "pearson",
                     fmt: Fmt = None) -> Response:
        def compute(_f: str) -> Body:
            from humsec.index.analysis_coin import get_corr, get_pvals

            res = nominal(obs, name, year)
            lv = level if level is not None else (2 if res.spec.level(res.spec.root) > 2 else 1)
            c = get_corr(res, level=lv, level2=level2, method=method)
            p = get_pvals(res, level=lv, level2=level2, method=method)
            long = (c.rename_axis("a").reset_index().melt(id_vars="a", var_name="b", value_name="r")
                    .merge(p.rename_axis("a").reset_index().melt(id_vars="a", var_name="b", value_name="p"),
                           on=["a", "b"]))
            return Body(json={"index": name, "year": res.year, "method": method, "level": lv,
                              "level2": level2, "rows": list(c.index), "columns": list(c.columns),
                              "pairs": records(long)},
                        table=long, filename=safe_filename(name, "correlations", res.year, suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    @r.get("/indices/{name}/availability", summary="Data availability per country and per dimension",
           responses=S.read(S.Availability, 404, 422, 503, csv=True))
    def availability(request: Request, obs: Obs, name: Annotated[str, NamePath], year: Year = None,
                     fmt: Fmt = None) -> Response:
        def compute(_f: str) -> Body:
            from humsec.index.analysis_coin import data_availability

            res = nominal(obs, name, year)
            lv = min(res.spec.level(res.spec.root), 2)
            av = data_availability(res, level=lv)
            t = av.summary.merge(av.by_group, on="unit")
            return Body(json={"index": name, "year": res.year, "countries": records(t)}, table=t,
                        filename=safe_filename(name, "availability", res.year, suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    @r.get("/indices/{name}/units/{iso3}/profile",
           summary="A country's scores and ranks by level with its strengths and weaknesses",
           responses=S.read(S.UnitProfile, 404, 422, 503))
    def profile(request: Request, obs: Obs, name: Annotated[str, NamePath], iso3: ISO3,
                year: Year = None, top: Annotated[int, Query(ge=1, le=20)] = 5) -> Response:
        unit = iso3.upper()

        def compute(_f: str) -> Body:
            from humsec.index.analysis_coin import get_str_weak, get_unit_summary

            res = nominal(obs, name, year)
            if unit not in res.scores.index:
                raise NotFound(f"unit '{unit}' has no {name} score in {res.year}")
            n_ind = len(res.spec.indicators)
            sw = get_str_weak(res, unit, top_n=min(top, n_ind), bottom_n=min(top, n_ind))
            return Body(json={"index": name, "year": res.year, "unit": unit,
                              "summary": records(get_unit_summary(res, unit)),
                              "strengths": records(sw.strengths), "weaknesses": records(sw.weaknesses)})
        return cached(request, obs, compute)

    @r.get("/indices/{name}/audit", summary="Self-contained HTML audit of the index (statistics, coherence, "
                                             "weights, results)",
           response_class=HTMLResponse, responses=S.read(None, 404, 422, 503, media=(S.HTML,)))
    def audit_page(request: Request, obs: Obs, name: Annotated[str, NamePath], year: Year = None) -> Response:
        def compute(_f: str) -> Body:
            from humsec.report.index_report import index_report_html

            res = nominal(obs, name, year)
            html = index_report_html(res)
            return Body(raw=html.encode("utf-8"), media_type="text/html; charset=utf-8",
                        filename=safe_filename(name, "audit", res.year, suffix="html"))
        return cached(request, obs, compute)

    return r
