"""Catalogue, indicators, panel queries, snapshots, countries and groupings; the data
import (a write: editor role)."""


import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request, Security, UploadFile
from fastapi.responses import JSONResponse, Response

from humsec import __version__
from humsec.api import auth
from humsec.api.config import ServiceConfig
from humsec.api.deps import MAX_YEAR, MIN_YEAR, NotFound, observatory
from humsec.api.http import Body, Format, cached, dumps, records, safe_filename
from humsec.api.state import Observatory
from humsec.errors import HumsecError

INDICATOR_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".parquet")


def coverage(panel: Any) -> pd.DataFrame:
    df = panel.data
    df = df[df["value"].notna()]
    return df.groupby("indicator").agg(countries=("unit", "nunique"), first_year=("year", "min"),
                                       last_year=("year", "max"), observations=("value", "size"))


def router(config: ServiceConfig) -> APIRouter:
    r = APIRouter(tags=["data"])
    Obs = Annotated[Observatory, Depends(observatory)]
    Fmt = Annotated[Format | None, Query(alias="format", description="json or csv (else the Accept header).")]

    @r.get("/health", summary="Liveness (no data access)")
    def health() -> Response:
        return Response(content=b'{"status":"ok"}', media_type="application/json")

    @r.get("/version", summary="Service and data version")
    def version(request: Request, obs: Obs) -> Response:
        def compute(_f: str) -> Body:
            inp = obs.inputs()
            return Body(json={"humsec": __version__, "data_fingerprint": inp.fingerprint,
                              "snapshots": [s.ref for s in inp.snapshots]})
        return cached(request, obs, compute)

    @r.get("/catalogue", summary="Indicator catalogue with data coverage")
    def catalogue(request: Request, obs: Obs, fmt: Fmt = None,
                  dimension: Annotated[str | None, Query(pattern=r"^[a-z]{1,32}$")] = None) -> Response:
        def compute(_f: str) -> Body:
            from humsec.model.panel import DIMENSIONS

            if dimension is not None and dimension not in (*DIMENSIONS, "context"):
                raise HumsecError(f"unknown dimension '{dimension}': expected one of "
                                  f"{', '.join((*DIMENSIONS, 'context'))}")
            inp = obs.inputs()
            cov = coverage(inp.panel)
            rows = []
            for ind in inp.catalogue:
                if dimension and ind.dimension != dimension:
                    continue
                c = cov.loc[ind.code] if ind.code in cov.index else None
                rows.append({"code": ind.code, "name": ind.name, "unit": ind.unit, "dimension": ind.dimension,
                             "direction": ind.direction, "sdg": ind.sdg, "source": ind.source,
                             "licence": ind.licence,
                             "countries": int(c["countries"]) if c is not None else 0,
                             "first_year": int(c["first_year"]) if c is not None else None,
                             "last_year": int(c["last_year"]) if c is not None else None,
                             "observations": int(c["observations"]) if c is not None else 0,
                             "snapshot": inp.origin.get(ind.code)})
            table = pd.DataFrame(rows)
            return Body(json={"version": inp.catalogue.version, "indicators": rows}, table=table,
                        filename=safe_filename("humsec_catalogue", suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    @r.get("/data/status", summary="Data age and coverage per indicator (latest year, UN members, stale flag)")
    def data_status(request: Request, obs: Obs, fmt: Fmt = None,
                    stale_after: Annotated[int, Query(ge=0, le=100, description="Years after which an indicator is stale.")] = 3) -> Response:
        def compute(_f: str) -> Body:
            import datetime as dt

            from humsec.data.countries import CountryRegistry
            from humsec.data.release.status import indicator_status

            inp = obs.inputs()
            today = dt.date.today()
            st = indicator_status(inp.panel, inp.catalogue, un_members=CountryRegistry.default().un_members,
                                  as_of=today, stale_after=stale_after)
            st["snapshot"] = st["code"].map(inp.origin)
            rows = records(st)
            return Body(json={"as_of": today.isoformat(), "stale_after": stale_after,
                              "stale": int(st["stale"].sum()), "indicators": rows},
                        table=st, filename=safe_filename("humsec_data_status", suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"), extra=f"stale={stale_after}")

    @r.get("/indicators/{code}", summary="One indicator: definition, provenance, coverage")
    def indicator(request: Request, obs: Obs,
                  code: Annotated[str, Path(pattern=INDICATOR_PATTERN)]) -> Response:
        def compute(_f: str) -> Body:
            inp = obs.inputs()
            if code not in inp.catalogue:
                import difflib

                close = difflib.get_close_matches(code, inp.catalogue.codes, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise NotFound(f"unknown indicator '{code}'{hint}")
            ind = inp.catalogue[code]
            cov = coverage(inp.panel.filter(indicators=[code]))
            prov = inp.panel.provenance.get(code)
            return Body(json={**ind.model_dump(mode="json"),
                              "provenance": prov.model_dump(mode="json") if prov is not None else None,
                              "snapshot": inp.origin.get(code),
                              "coverage": records(cov.reset_index())[0] if len(cov) else None})
        return cached(request, obs, compute)

    @r.get("/panel", summary="Observations: filters, pagination, JSON or CSV")
    def panel(request: Request, obs: Obs, fmt: Fmt = None,
              indicator: Annotated[list[str] | None, Query(description="Indicator code(s) (repeatable).")] = None,
              unit: Annotated[list[str] | None, Query(description="ISO3 code(s) (repeatable).")] = None,
              year_from: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR)] = None,
              year_to: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR)] = None,
              totals_only: Annotated[bool, Query(description="Only totals (no sex/age/group breakdowns).")] = False,
              limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
        import re

        bad = [c for c in indicator or [] if not re.fullmatch(INDICATOR_PATTERN, c)]
        if bad:
            raise HumsecError(f"indicator {bad[0]!r}: expected a code such as u5mr (lower case, digits, _)")
        bad = [u for u in unit or [] if not re.fullmatch(r"[A-Za-z0-9_-]{2,16}", u)]
        if bad:
            raise HumsecError(f"unit {bad[0]!r}: expected an ISO3 code such as KEN")
        if year_from is not None and year_to is not None and year_from > year_to:
            raise HumsecError(f"year_from ({year_from}) is after year_to ({year_to})")
        units = sorted({u.upper() for u in unit}) if unit else None
        inds = sorted(set(indicator)) if indicator else None

        def selection() -> Any:
            inp = obs.inputs()
            if inds:
                unknown = [c for c in inds if c not in inp.catalogue]
                if unknown:
                    raise NotFound(f"unknown indicator '{unknown[0]}' (see /api/v1/catalogue)")
            years = None
            if year_from is not None or year_to is not None:
                years = range(year_from if year_from is not None else MIN_YEAR,
                              (year_to if year_to is not None else MAX_YEAR) + 1)
            return inp.panel.filter(indicators=inds, units=units, years=years, totals_only=totals_only)

        def compute(f: str) -> Body:
            sub = obs.memo(("panel", tuple(inds or ()), tuple(units or ()), year_from, year_to, totals_only),
                           selection)
            df = sub.data
            total = len(df)
            page = df.iloc[offset:offset + limit].reset_index(drop=True)
            headers = {"X-Total-Count": str(total)}
            links = []
            # relative (RFC 8288 allows it): never the client's Host header, which would
            # be reflected into a response cached for every client
            u = request.url.remove_query_params(["offset"])
            base = u.path + (f"?{u.query}" if u.query else "")
            sep = "&" if "?" in base else "?"
            if offset + limit < total:
                links.append(f'<{base}{sep}offset={offset + limit}>; rel="next"')
            if offset > 0:
                links.append(f'<{base}{sep}offset={max(0, offset - limit)}>; rel="prev"')
            if links:
                headers["Link"] = ", ".join(links)
            prov = {k: v.model_dump(mode="json") for k, v in sub.provenance.items()
                    if k in set(page["indicator"])}
            return Body(json={"total": total, "offset": offset, "limit": limit, "count": len(page),
                              "items": records(page), "provenance": prov},
                        table=page, headers=headers, filename=safe_filename("humsec_panel", offset, suffix="csv"))
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    @r.get("/snapshots", summary="Stored snapshots (immutable dataset versions)")
    def snapshots(request: Request, obs: Obs) -> Response:
        def compute(_f: str) -> Body:
            return Body(json=[{"snapshot": s.ref, "dataset": s.dataset, "version": s.version, "kind": s.kind,
                               "created": s.created, "observations": s.n_obs, "origin": s.origin,
                               "sha256": s.content_hash} for s in obs.inputs().snapshots])
        return cached(request, obs, compute)

    @r.get("/countries", summary="Countries: names, M49 regions, income groups, groupings")
    def countries(request: Request, obs: Obs, fmt: Fmt = None) -> Response:
        def compute(_f: str) -> Body:
            reg = obs.registry()
            groups: dict[str, list[str]] = {}
            for g in reg.groupings():
                for c in reg.members(g):
                    groups.setdefault(c, []).append(g)
            rows = []
            for code in sorted(reg.codes):
                i = reg.info(code)
                rows.append({"iso3": code, "iso2": i.iso2, "name": i.name, "region": i.region,
                             "subregion": i.subregion, "intermediate_region": i.intermediate_region,
                             "income_group": i.income_group, "groupings": ";".join(sorted(groups.get(code, []))),
                             "lat": i.lat, "lon": i.lon})
            return Body(json=rows, table=pd.DataFrame(rows), filename="humsec_countries.csv")
        return cached(request, obs, compute, fmt=fmt, allowed=("json", "csv"))

    @r.get("/groupings", summary="Country groupings (APPF, ASEAN, EU, ...) and their members")
    def groupings(request: Request, obs: Obs) -> Response:
        def compute(_f: str) -> Body:
            reg = obs.registry()
            return Body(json={g: sorted(reg.members(g)) for g in reg.groupings()})
        return cached(request, obs, compute)

    @r.post("/datasets", status_code=201, tags=["write"], dependencies=[Security(auth.BEARER)],
            summary="Import a data file as a new snapshot (editor role)",
            responses={401: {"description": "no or unknown token"}, 403: {"description": "role too low"}})
    async def import_dataset(request: Request, file: UploadFile,
                             name: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = None,
                             year: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR)] = None,
                             source: Annotated[str | None, Query(max_length=200)] = None,
                             licence: Annotated[str | None, Query(max_length=200)] = None) -> Response:
        from starlette.concurrency import run_in_threadpool

        from humsec.data import service

        obs: Observatory = request.app.state.observatory
        ident = await run_in_threadpool(auth.identity, request, "editor", "import data")
        client_name = service.upload_label(file.filename)  # shown in errors, never used as a path
        suffix = FsPath(client_name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise HumsecError(f"file type '{suffix or '(none)'}': expected one of {', '.join(UPLOAD_SUFFIXES)}")
        content = await file.read(config.max_upload_bytes + 1)
        if len(content) > config.max_upload_bytes:
            return JSONResponse(status_code=413, content={
                "detail": f"the file is larger than {config.max_upload_bytes} bytes"})
        dataset = name or service.dataset_name_for(client_name)

        def run() -> dict:
            with tempfile.TemporaryDirectory(prefix="humsec-upload-") as tmp:
                path = FsPath(tmp) / f"upload{suffix}"
                path.write_bytes(content)
                snap, created, result = service.import_file(
                    obs.settings, path, name=dataset, year=year, licence=licence,
                    source=source or f"upload {service.dataset_name_for(client_name)}{suffix} by {ident.user_id}",
                    store=obs.store(), label=client_name)
            obs.refresh()
            p = result.panel
            return {"snapshot": snap.ref, "created": created, "observations": len(p),
                    "indicators": p.indicators, "units": len(p.units), "by": ident.user_id}

        out = await run_in_threadpool(run)
        return Response(content=dumps(out), media_type="application/json", status_code=201 if out["created"] else 200)

    return r
