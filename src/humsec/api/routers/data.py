"""Catalogue, indicators, panel queries, snapshots, countries and groupings; the data
import (a write: editor role)."""


import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any
import datetime as dt
import difflib

import pandas as pd
from pydantic import StringConstraints
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Security, UploadFile
from fastapi.responses import Response

from humsec import __version__
from humsec.api import auth
from humsec.api.config import ServiceConfig
from humsec.api import schemas as S
from humsec.api.deps import MAX_YEAR, MIN_YEAR, NotFound, choice, observatory
from humsec.api.http import Body, Format, cached, dumps, records, safe_filename
from humsec.api.state import Observatory
from humsec.model.panel import DIMENSIONS
from humsec.data.countries import CountryRegistry
from starlette.concurrency import run_in_threadpool

INDICATOR_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
IndicatorCode = Annotated[str, StringConstraints(pattern=INDICATOR_PATTERN)]
#: Units of the panel: ISO3 codes, and the codes of imported units (regions, districts).
UnitCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{2,16}$")]
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".parquet")
#: The dimensions of the catalogue (and ``context``).
Dimension = choice((*DIMENSIONS, "context"), description="Only this dimension.")


def coverage(panel: Any) -> pd.DataFrame:
    df = panel.data
    df = df[df["value"].notna()]
    return df.groupby("indicator").agg(countries=("unit", "nunique"), first_year=("year", "min"),
                                       last_year=("year", "max"), observations=("value", "size"))


def router(config: ServiceConfig) -> APIRouter:
    r = APIRouter(tags=["data"])
    Obs = Annotated[Observatory, Depends(observatory)]
    Fmt = Annotated[Format | None, Query(alias="format", description="json or csv (else the Accept header).")]

    @r.get("/health", summary="Liveness (no data access)", responses={200: {"model": S.Health}})
    def health() -> Response:
        return Response(content=b'{"status":"ok"}', media_type="application/json")

    @r.get("/version", summary="Service and data version", responses=S.read(S.Version, 503))
    def version(request: Request, obs: Obs) -> Response:
        def compute(_f: str) -> Body:
            inp = obs.inputs()
            return Body(json={"humsec": __version__, "data_fingerprint": inp.fingerprint,
                              "snapshots": [s.ref for s in inp.snapshots]})
        return cached(request, obs, compute)

    @r.get("/catalogue", summary="Indicator catalogue with data coverage",
           responses=S.read(S.CatalogueResponse, 404, 422, 503, csv=True))
    def catalogue(request: Request, obs: Obs, fmt: Fmt = None,
                  dimension: Annotated[str | None, Dimension] = None
                  ) -> Response:
        def compute(_f: str) -> Body:
            inp = obs.inputs()
            cov = coverage(inp.panel)
            rows = []
            for ind in inp.catalogue:
                if dimension is not None and ind.dimension != dimension:
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

    @r.get("/data/status", summary="Data age and coverage per indicator (latest year, UN members, stale flag)",
           responses=S.read(S.DataStatus, 422, 503, csv=True))
    def data_status(request: Request, obs: Obs, fmt: Fmt = None,
                    stale_after: Annotated[int, Query(ge=0, le=100, description="Years after which an indicator is stale.")] = 3) -> Response:
        def compute(_f: str) -> Body:
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

    @r.get("/indicators/{code}", summary="One indicator: definition, provenance, coverage",
           responses=S.read(S.IndicatorDetail, 404, 422, 503))
    def indicator(request: Request, obs: Obs,
                  code: Annotated[str, Path(pattern=INDICATOR_PATTERN)]) -> Response:
        def compute(_f: str) -> Body:
            inp = obs.inputs()
            if code not in inp.catalogue:
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

    @r.get("/panel", summary="Observations: filters, pagination, JSON or CSV",
           responses=S.read(S.PanelPage, 404, 422, 503, csv=True, headers=S.PAGE_HEADERS))
    def panel(request: Request, obs: Obs,
              indicator: Annotated[list[IndicatorCode], Query(default_factory=list,
                                                              description="Indicator code(s) (repeatable).")],
              unit: Annotated[list[UnitCode], Query(default_factory=list, description="ISO3 code(s) (repeatable).")],
              fmt: Fmt = None,
              year_from: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR)] = None,
              year_to: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR)] = None,
              totals_only: Annotated[bool, Query(description="Only totals (no sex/age/group breakdowns).")] = False,
              limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
        if year_from is not None and year_to is not None and year_from > year_to:
            # well formed, but no year lies in the range: nothing to answer (404, as any read without data)
            raise NotFound(f"no observations: year_from ({year_from}) is after year_to ({year_to})")
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

    @r.get("/snapshots", summary="Stored snapshots (immutable dataset versions)",
           responses=S.read(list[S.Snapshot], 503))
    def snapshots(request: Request, obs: Obs) -> Response:
        def compute(_f: str) -> Body:
            return Body(json=[{"snapshot": s.ref, "dataset": s.dataset, "version": s.version, "kind": s.kind,
                               "created": s.created, "observations": s.n_obs, "origin": s.origin,
                               "sha256": s.content_hash} for s in obs.inputs().snapshots])
        return cached(request, obs, compute)

    @r.get("/countries", summary="Countries: names, M49 regions, income groups, groupings",
           responses=S.read(list[S.Country], 422, 503, csv=True))
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

    @r.get("/groupings", summary="Country groupings (APPF, ASEAN, EU, ...) and their members",
           responses=S.read(S.Groupings, 503))
    def groupings(request: Request, obs: Obs) -> Response:
        def compute(_f: str) -> Body:
            reg = obs.registry()
            return Body(json={g: sorted(reg.members(g)) for g in reg.groupings()})
        return cached(request, obs, compute)

    @r.post("/datasets", status_code=201, tags=["write"], dependencies=[Security(auth.BEARER)],
            summary="Import a data file as a new snapshot (editor role)",
            responses={201: {"model": S.ImportResult, "description": "A new snapshot."},
                       200: {"model": S.ImportResult, "description": "The same content was already stored."},
                       **S.errors(401, 403, 413, 415, 422, 503)})
    async def import_dataset(request: Request, file: UploadFile,
                             name: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = None,
                             year: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR)] = None,
                             source: Annotated[str | None, Query(max_length=200)] = None,
                             licence: Annotated[str | None, Query(max_length=200)] = None) -> Response:
        from humsec.data import service

        obs: Observatory = request.app.state.observatory
        ident = await run_in_threadpool(auth.identity, request, "editor", "import data")
        client_name = service.upload_label(file.filename)  # shown in errors, never used as a path
        suffix = FsPath(client_name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise HTTPException(415, f"file type '{suffix or '(none)'}' of '{client_name}': expected one of "
                                     f"{', '.join(UPLOAD_SUFFIXES)}")
        content = await file.read(config.max_upload_bytes + 1)
        if len(content) > config.max_upload_bytes:
            raise HTTPException(413, f"the file is larger than {config.max_upload_bytes} bytes")
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
