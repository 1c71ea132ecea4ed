"""Early-warning alerts (:func:`humsec.forecast.warn.current_alerts`), computed once per
index and year for every country and filtered per request."""


from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from humsec.api.config import ServiceConfig
from humsec.api import schemas as S
from humsec.api.deps import ISO3, Year, choice, country_code, index_name, observatory
from humsec.api.http import Body, Format, cached, safe_filename
from humsec.api.state import Observatory
from humsec.forecast.alerts import SEVERITIES


def router(config: ServiceConfig, names: list[str]) -> APIRouter:
    r = APIRouter(tags=["alerts"])
    Severity = choice(SEVERITIES, description="Only alerts of this severity.")
    Obs = Annotated[Observatory, Depends(observatory)]
    Fmt = Annotated[Format | None, Query(alias="format", description="json or csv (else the Accept header).")]
    IndexQuery = index_name(names, where="query", description="Index spec (built-in).")
    default_spec = "hsi" if "hsi" in names else names[0]

    def warn(obs: Observatory, spec: str, year: int | None):
        return obs.alerts(spec, year)

    def body(obs: Observatory, spec: str, year: int | None, unit: str | None, severity: str | None) -> Body:
        w = warn(obs, spec, year)
        alerts = [a for a in w.alerts if (unit is None or a.unit == unit)
                  and (severity is None or a.severity == severity)]
        rows = [a.to_dict() for a in alerts]
        reg = obs.registry()
        for row in rows:
            row["name"] = reg.name(row["unit"]) if reg.is_iso3(row["unit"]) else row["unit"]
        table = pd.DataFrame([{k: v for k, v in row.items() if k != "drivers"} for row in rows])
        return Body(json={"index": spec, "year": w.year, "unit": unit, "n_alerts": len(rows), "alerts": rows,
                          "rules": [ru.id for ru in w.rules], "skipped": list(w.skipped)},
                    table=table, filename=safe_filename("humsec_alerts", unit, w.year, suffix="csv"))

    @r.get("/alerts", summary="Current alerts of every country (severity, reason, drivers)",
           responses=S.read(S.Alerts, 404, 422, 503, csv=True))
    def alerts(request: Request, obs: Obs, year: Year = None, severity: Annotated[str | None, Severity] = None,
               index: Annotated[str, IndexQuery] = default_spec, fmt: Fmt = None) -> Response:
        return cached(request, obs, lambda _f: body(obs, index, year, None, severity), fmt=fmt,
                      allowed=("json", "csv"))

    @r.get("/countries/{iso3}/alerts", summary="Current alerts of one country",
           responses=S.read(S.Alerts, 404, 422, 503, csv=True))
    def country_alerts(request: Request, obs: Obs, iso3: ISO3, year: Year = None,
                       severity: Annotated[str | None, Severity] = None,
                       index: Annotated[str, IndexQuery] = default_spec, fmt: Fmt = None) -> Response:
        code = country_code(obs, iso3)
        return cached(request, obs, lambda _f: body(obs, index, year, code, severity), fmt=fmt,
                      allowed=("json", "csv"))

    def watch_body(obs: Observatory, year: int | None, horizon: int) -> Body:
        wl = obs.watch_list(year, horizon)
        rows = [{"rank": int(r["rank"]), "unit": r["unit"], "name": r["name"],
                 "probability": float(r["probability"]), "relative_risk": float(r["relative_risk"]),
                 "warning": bool(r["warning"]), "status": r["status"], "model": r["model"],
                 "drivers": [t for t in str(r.get("drivers") or "").split("; ") if t]}
                for r in wl.to_dict(orient="records")]
        data_year = int(wl["year"].iloc[0])
        window = str(wl["window"].iloc[0])
        table = wl.drop(columns=["year"]).assign(data_year=data_year)
        return Body(json={"year": data_year + 1, "data_year": data_year, "horizon": horizon, "window": window,
                          "n_countries": len(rows), "n_warnings": sum(r["warning"] for r in rows),
                          "countries": rows},
                    table=table, filename=safe_filename("humsec_watchlist", None, data_year + 1, suffix="csv"))

    @r.get("/watchlist", summary="Countries ranked by the forecast probability of armed conflict next year "
                                 "(onset model), with relative risks and drivers in words",
           responses=S.read(S.WatchList, 404, 422, 503, csv=True))
    def watchlist(request: Request, obs: Obs,
                  year: Annotated[int | None, Query(ge=1900, le=2200, description=(
                      "Forecast year (default: the year after the latest data year); the model sees "
                      "only the data of the years before it."))] = None,
                  horizon: Annotated[int, Query(ge=1, le=5, description="Years ahead (conflict in any of them).")] = 1,
                  fmt: Fmt = None) -> Response:
        return cached(request, obs, lambda _f: watch_body(obs, year, horizon), fmt=fmt, allowed=("json", "csv"))

    return r
