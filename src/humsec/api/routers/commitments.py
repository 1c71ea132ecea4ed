"""Commitments (parliamentary oversight): read with a viewer token, write with an editor
token. Every call passes the caller's own token to :class:`humsec.oversight.db.OversightDB`,
which checks the role and audits the change; nothing here is cached (the answers depend
on the token and on a database that changes)."""


import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Security
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from humsec.api import auth
from humsec.api.config import ServiceConfig
from humsec.api import schemas as S
from humsec.api.deps import ISO3_PATTERN, observatory
from humsec.api.http import dumps
from humsec.oversight.models import Commitment, Instrument

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
NO_STORE = {"Cache-Control": "private, no-store"}
NO_STORE_HEADERS = {"Cache-Control": {"description": "Never cached (the answer depends on the token).",
                                      "required": True, "schema": {"type": "string"}}}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = S.errors(401, 403, 503)


def _json(obj: Any, status: int = 200) -> Response:
    return Response(content=dumps(obj), media_type="application/json", status_code=status, headers=NO_STORE)


def _versioned(v: Any) -> dict[str, Any]:
    """A stored version as JSON; ``at`` (stored as naive UTC) with its offset (RFC 3339)."""
    at = v.at.replace(tzinfo=dt.timezone.utc) if v.at.tzinfo is None else v.at
    return {"kind": v.kind, "id": v.id, "version": v.version, "deleted": v.deleted, "at": at.isoformat(),
            "actor": v.actor, "value": v.value.model_dump(mode="json")}


def router(config: ServiceConfig) -> APIRouter:
    r = APIRouter(tags=["commitments"], responses=AUTH_RESPONSES, dependencies=[Security(auth.BEARER)])
    CommitmentId = Annotated[str, Path(pattern=ID_PATTERN, description="Commitment id.")]

    def db(request: Request) -> Any:
        """The oversight database (opened once per app)."""
        state = request.app.state
        if isinstance(state.authenticator, auth.OversightTokens):
            return state.authenticator.db()
        if getattr(state, "oversight_tokens", None) is None:
            state.oversight_tokens = auth.OversightTokens(observatory(request).settings)
        return state.oversight_tokens.db()

    def status_of(request: Request, items: list[Any]) -> list[dict[str, Any]]:
        from humsec.oversight.status import commitment_status

        inp = observatory(request).inputs()
        out = []
        for v in items:
            d = _versioned(v)
            if not v.deleted:
                d["status"] = [s.to_dict() for s in commitment_status(v.value, inp.panel, inp.catalogue,
                                                                      version=v.version)]
            out.append(d)
        return out

    @r.get("/commitments", summary="Current commitments with the status of their targets (viewer)",
           responses={200: {"model": S.list_of(S.VersionedCommitment), "headers": NO_STORE_HEADERS}, **S.errors(422)})
    async def list_commitments(request: Request,
                               unit: Annotated[str | None, Query(pattern=ISO3_PATTERN,
                                                                 description="Only targets in this country.")] = None
                               ) -> Response:
        token = auth.required_token(request)

        def run() -> list[dict[str, Any]]:
            items = db(request).current(token, "commitment")
            if unit is not None:
                items = [v for v in items if any(t.unit == unit.upper() for t in v.value.targets)]
            return status_of(request, items)

        return _json(await run_in_threadpool(run))

    @r.get("/commitments/{commitment_id}", summary="One commitment (latest or a given version) with status",
           responses={200: {"model": S.VersionedCommitment, "headers": NO_STORE_HEADERS}, **S.errors(404, 422)})
    async def get_commitment(request: Request, commitment_id: CommitmentId,
                             version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None) -> Response:
        token = auth.required_token(request)
        return _json(await run_in_threadpool(
            lambda: status_of(request, [db(request).get(token, "commitment", commitment_id, version=version)])[0]))

    @r.get("/commitments/{commitment_id}/history", summary="Every version of a commitment",
           responses={200: {"model": S.list_of(S.CommitmentVersion), "headers": NO_STORE_HEADERS}, **S.errors(404, 422)})
    async def history(request: Request, commitment_id: CommitmentId) -> Response:
        token = auth.required_token(request)
        return _json(await run_in_threadpool(
            lambda: [_versioned(v) for v in db(request).history(token, "commitment", commitment_id)]))

    @r.post("/instruments", status_code=201, tags=["write"], summary="Create or change an instrument (editor)",
            responses={201: {"model": S.VersionedInstrument, "headers": NO_STORE_HEADERS}, **S.errors(422)})
    async def put_instrument(request: Request, instrument: Instrument) -> Response:
        token = auth.required_token(request)
        v = await run_in_threadpool(lambda: db(request).put_instrument(token, instrument))
        return _json(_versioned(v), 201)

    @r.post("/commitments", status_code=201, tags=["write"], summary="Add a commitment (editor)",
            responses={201: {"model": S.VersionedCommitment, "headers": NO_STORE_HEADERS}, **S.errors(409, 422)})
    async def add_commitment(request: Request, commitment: Commitment) -> Response:
        token = auth.required_token(request)
        cat = observatory(request).inputs().catalogue
        v = await run_in_threadpool(lambda: db(request).add_commitment(token, commitment, catalogue=cat))
        return _json(_versioned(v), 201)

    @r.patch("/commitments/{commitment_id}", tags=["write"],
             summary="Change fields of a commitment (editor); a new version",
             responses={200: {"model": S.CommitmentVersion, "headers": NO_STORE_HEADERS}, **S.errors(404, 409, 422)})
    async def update_commitment(request: Request, commitment_id: CommitmentId,
                                change: Annotated[S.CommitmentChange, Body(description="Fields to replace.")],  # type: ignore[valid-type]
                                expected_version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None
                                ) -> Response:
        token = auth.required_token(request)
        fields = change.model_dump(mode="json", exclude_unset=True)  # type: ignore[attr-defined]
        cat = observatory(request).inputs().catalogue
        v = await run_in_threadpool(lambda: db(request).update_commitment(
            token, commitment_id, fields, catalogue=cat, expected_version=expected_version))
        return _json(_versioned(v))

    @r.post("/commitments/{commitment_id}/notes", status_code=201, tags=["write"],
            summary="Add a dated note to a commitment (editor)",
            responses={201: {"model": S.CommitmentVersion, "headers": NO_STORE_HEADERS}, **S.errors(404, 422)})
    async def add_note(request: Request, commitment_id: CommitmentId,
                       text: Annotated[str, Body(embed=True, min_length=1, max_length=4000)]) -> Response:
        token = auth.required_token(request)
        v = await run_in_threadpool(lambda: db(request).add_note(token, commitment_id, text))
        return _json(_versioned(v), 201)

    @r.delete("/commitments/{commitment_id}", tags=["write"],
              summary="Delete a commitment (a tombstone version; editor)",
              responses={200: {"model": S.CommitmentVersion, "headers": NO_STORE_HEADERS}, **S.errors(404, 409, 422)})
    async def delete_commitment(request: Request, commitment_id: CommitmentId,
                                expected_version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None
                                ) -> Response:
        token = auth.required_token(request)
        v = await run_in_threadpool(lambda: db(request).delete_commitment(
            token, commitment_id, expected_version=expected_version))
        return _json(_versioned(v))

    return r
