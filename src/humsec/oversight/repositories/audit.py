"""The audit log: one appended row per change (actor, token, time, action, entity,
version, JSON before/after), written in the transaction of the change itself."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from humsec.oversight.auth import Identity
from humsec.oversight.transaction import to_json, utc_now

__all__ = ["append", "log"]


def append(con: duckdb.DuckDBPyConnection, ident: Identity | None, action: str, entity: str,
           entity_id: str, version: int | None = None, before: Any = None, after: Any = None,
           actor: str | None = None) -> None:
    """Append an audit row.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection of the change's transaction.
    ident : Identity or None
        Who acted (None: ``actor`` or ``"system"``).
    action, entity, entity_id : str
        What was done to which record (``"update"``, ``"commitment"``, ``"c1"``).
    version : int, optional
        The version written.
    before, after : object, optional
        The value before and after (stored as JSON).
    actor : str, optional
        Overrides the actor's user id.
    """
    con.execute(
        "INSERT INTO audit VALUES (nextval('audit_ids'), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [utc_now(), actor or (ident.user_id if ident else "system"), ident.token_id if ident else None,
         action, entity, str(entity_id), version, to_json(before), to_json(after)])


def log(con: duckdb.DuckDBPyConnection, *, entity: str | None = None,
        entity_id: str | None = None) -> pd.DataFrame:
    """The audit rows (optionally of one entity kind and id), oldest first."""
    sql, args = "SELECT * FROM audit WHERE TRUE", []
    if entity is not None:
        sql += " AND entity = ?"
        args.append(entity)
    if entity_id is not None:
        sql += " AND entity_id = ?"
        args.append(str(entity_id))
    return con.execute(sql + " ORDER BY id", args).df()
