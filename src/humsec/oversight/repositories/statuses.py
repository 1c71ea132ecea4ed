"""Recorded status snapshots of commitment targets (appended, audited)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb
import pandas as pd

from humsec.oversight.auth import Identity
from humsec.oversight.repositories import audit
from humsec.oversight.transaction import to_json, utc_now

__all__ = ["append", "history"]


def append(con: duckdb.DuckDBPyConnection, ident: Identity, statuses: Iterable[Any]) -> int:
    """Append snapshots of :class:`~humsec.oversight.status.TargetStatus` values (each
    audited); returns how many were stored."""
    now = utc_now()
    n = 0
    for s in statuses:
        d = s.to_dict()
        con.execute("INSERT INTO status_snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [s.commitment_id, s.commitment_version, s.target_key, now, s.as_of, s.status,
                     to_json(d), ident.user_id])
        audit.append(con, ident, "record_status", "commitment", s.commitment_id, s.commitment_version,
                     None, {"target": s.target_key, "status": s.status, "as_of": s.as_of})
        n += 1
    return n


def history(con: duckdb.DuckDBPyConnection, commitment_id: str | None = None) -> pd.DataFrame:
    """Recorded snapshots (of one commitment, or all), oldest first."""
    sql = ("SELECT commitment_id, commitment_version, target_key, computed, as_of, status, actor, "
           "result FROM status_snapshots")
    args: list[Any] = []
    if commitment_id is not None:
        sql += " WHERE commitment_id = ?"
        args.append(commitment_id)
    return con.execute(sql + " ORDER BY computed, commitment_id, target_key", args).df()
