"""Instruments and commitments as numbered versions.

Nothing is updated in place or deleted: ``records`` holds one row per version with the
full JSON value, who and when; "delete" writes a tombstone version. Every version written
appends its audit row in the same transaction. Edits are applied to the latest version
inside the transaction; ``expected_version`` refuses an edit based on an older one.
"""

from __future__ import annotations

from typing import Any

import duckdb
from pydantic import BaseModel

from humsec.errors import NotFoundError, ValidationError, ValidationIssue
from humsec.oversight.auth import Identity
from humsec.oversight.models import Commitment, Instrument, Versioned
from humsec.oversight.repositories import audit
from humsec.oversight.transaction import ConflictError, to_json, utc_now

__all__ = ["Versioned", "check_instrument", "current", "history", "latest", "latest_commitment", "put",
           "version"]

_MODELS: dict[str, type[BaseModel]] = {"instrument": Instrument, "commitment": Commitment}
_COLUMNS = "kind, id, version, deleted, changed_at, actor, record"


def _versioned(row: tuple) -> Versioned:
    kind, rid, version, deleted, at, actor, record = row
    return Versioned(kind=kind, id=rid, version=int(version), deleted=bool(deleted), at=at, actor=actor,
                     value=_MODELS[kind].model_validate_json(record))


def latest(con: duckdb.DuckDBPyConnection, kind: str, rid: str) -> Versioned | None:
    """The latest version (possibly a tombstone) of a record, or None."""
    row = con.execute(
        f"SELECT {_COLUMNS} FROM records WHERE kind = ? AND id = ? "
        "ORDER BY version DESC LIMIT 1", [kind, rid]).fetchone()
    return None if row is None else _versioned(row)


def version(con: duckdb.DuckDBPyConnection, kind: str, rid: str, number: int) -> Versioned | None:
    """One given version of a record, or None."""
    row = con.execute(f"SELECT {_COLUMNS} FROM records "
                      "WHERE kind = ? AND id = ? AND version = ?", [kind, rid, number]).fetchone()
    return None if row is None else _versioned(row)


def current(con: duckdb.DuckDBPyConnection, kind: str) -> list[Versioned]:
    """The latest version of every record of ``kind`` (tombstones included), by id."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM records r WHERE kind = ? AND "
        "version = (SELECT max(version) FROM records s WHERE s.kind = r.kind AND s.id = r.id) "
        "ORDER BY id", [kind]).fetchall()
    return [_versioned(r) for r in rows]


def history(con: duckdb.DuckDBPyConnection, kind: str, rid: str) -> list[Versioned]:
    """Every version of a record, oldest first (empty if there is none)."""
    rows = con.execute(f"SELECT {_COLUMNS} FROM records "
                       "WHERE kind = ? AND id = ? ORDER BY version", [kind, rid]).fetchall()
    return [_versioned(r) for r in rows]


def put(con: duckdb.DuckDBPyConnection, ident: Identity, kind: str, value: Any, *,
        deleted: bool = False, action: str | None = None, expected_version: int | None = None,
        ) -> Versioned:
    """Write ``value`` as the next version of its record (audited); an unchanged value
    writes nothing and returns the latest version.

    Raises
    ------
    ConflictError
        ``expected_version`` is given and is not the latest version.
    """
    prev = latest(con, kind, value.id)
    if expected_version is not None:
        have = 0 if prev is None else prev.version
        if have != expected_version:
            raise ConflictError(
                f"{kind} '{value.id}' is at version {have}, but the edit was based on version "
                f"{expected_version}: someone changed it meanwhile; review 'history' and edit again")
    if prev is not None and not prev.deleted and not deleted and prev.value == value:
        return prev  # nothing changed: no new version
    number = 1 if prev is None else prev.version + 1
    now = utc_now()
    con.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                [kind, value.id, number, deleted, to_json(value), now, ident.user_id])
    act = action or ("delete" if deleted else "create" if prev is None or prev.deleted else "update")
    audit.append(con, ident, act, kind, value.id, number,
                 None if prev is None or prev.deleted else prev.value, None if deleted else value)
    return Versioned(kind, value.id, number, deleted, now, ident.user_id, value)


def latest_commitment(con: duckdb.DuckDBPyConnection, commitment_id: str) -> Versioned:
    """The latest version of a commitment that is not deleted.

    Raises
    ------
    NotFoundError
        No such commitment, or it is deleted.
    """
    prev = latest(con, "commitment", commitment_id)
    if prev is None or prev.deleted:
        raise NotFoundError(f"no commitment '{commitment_id}'")
    return prev


def check_instrument(con: duckdb.DuckDBPyConnection, c: Commitment, file: str | None,
                     where: str = "") -> None:
    """Raise a located :class:`~humsec.errors.ValidationError` unless the commitment's
    instrument exists (and is not deleted)."""
    inst = latest(con, "instrument", c.instrument)
    if inst is None or inst.deleted:
        raise ValidationError(ValidationIssue(
            f"unknown instrument '{c.instrument}' (add it first, or import a commitments file "
            "with its instrument)", file=file, field=f"{where}instrument"))
