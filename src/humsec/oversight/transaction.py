"""Connections, atomic transactions and the schema of the oversight database (DuckDB).

Storage
-------
A separate DuckDB file, ``oversight.duckdb`` in ``settings.home`` (beside the data store
``humsec.duckdb``). The data store is a cache of reproducible snapshots that may be
rebuilt or replaced; the oversight database is a *system of record* (who promised what,
who tagged and reviewed which budget line) with its own schema version, its own backups
and its own lock, so a long data import never blocks an edit and vice versa.

Concurrency
-----------
Every operation opens a connection, runs one transaction and closes it
(:meth:`OversightStore.connect`, :meth:`OversightStore._transaction`). Two guards keep
concurrent edits from losing changes:

* *Between processes* DuckDB allows one process to open the file at a time; a second
  process waits (exponential back-off with jitter, up to ``busy_timeout`` seconds)
  instead of failing, so writers are serialised.
* *Within a process* (threads, the REST API) DuckDB runs transactions optimistically:
  a version number is part of every primary key, so two transactions that both try to
  write version *n + 1* of the same record cannot both commit. The loser's transaction is
  rolled back and the whole operation is retried on the then-current state (re-reading
  the latest version and re-applying its change).

Crash safety is DuckDB's: a process killed before ``COMMIT`` leaves the previous state
(see :mod:`humsec.data.store` and ``tests/test_crash_oversight.py``).

The SQL of each kind of record lives in :mod:`humsec.oversight.repositories`; those
functions run on the connection of a transaction opened here and never commit.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

import duckdb

from humsec.errors import HumsecError
from humsec.settings import Settings

__all__ = ["FILE_NAME", "MAX_RETRIES", "SCHEMA_VERSION", "ConflictError", "OversightBusyError",
           "OversightStore", "db_path", "to_json", "utc_now"]

SCHEMA_VERSION = 1
FILE_NAME = "oversight.duckdb"
#: How often an operation is retried after losing a write-write race.
MAX_RETRIES = 20
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE SEQUENCE IF NOT EXISTS audit_ids START 1;
CREATE SEQUENCE IF NOT EXISTS budget_line_ids START 1;
CREATE TABLE IF NOT EXISTS users (
    user_id VARCHAR NOT NULL, version INTEGER NOT NULL, name VARCHAR NOT NULL,
    role VARCHAR NOT NULL, active BOOLEAN NOT NULL, changed_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL,
    PRIMARY KEY (user_id, version));
CREATE TABLE IF NOT EXISTS tokens (
    token_id VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, secret_sha256 VARCHAR NOT NULL,
    label VARCHAR, created TIMESTAMP NOT NULL, actor VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS token_revocations (
    token_id VARCHAR PRIMARY KEY, changed_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id BIGINT PRIMARY KEY, changed_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL, token_id VARCHAR,
    action VARCHAR NOT NULL, entity VARCHAR NOT NULL, entity_id VARCHAR NOT NULL,
    version INTEGER, before VARCHAR, after VARCHAR);
CREATE TABLE IF NOT EXISTS records (
    kind VARCHAR NOT NULL, id VARCHAR NOT NULL, version INTEGER NOT NULL,
    deleted BOOLEAN NOT NULL, record VARCHAR NOT NULL, changed_at TIMESTAMP NOT NULL,
    actor VARCHAR NOT NULL, PRIMARY KEY (kind, id, version));
CREATE TABLE IF NOT EXISTS status_snapshots (
    commitment_id VARCHAR NOT NULL, commitment_version INTEGER NOT NULL,
    target_key VARCHAR NOT NULL, computed TIMESTAMP NOT NULL, as_of INTEGER,
    status VARCHAR NOT NULL, result VARCHAR NOT NULL, actor VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS budget_imports (
    import_id VARCHAR PRIMARY KEY, file_name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
    n_lines INTEGER NOT NULL, changed_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS budget_lines (
    line_id BIGINT PRIMARY KEY, import_id VARCHAR NOT NULL, "row" INTEGER NOT NULL,
    programme VARCHAR NOT NULL, ministry VARCHAR NOT NULL, amount DOUBLE NOT NULL,
    currency VARCHAR NOT NULL, year INTEGER NOT NULL, country VARCHAR NOT NULL,
    description VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS budget_tags (
    line_id BIGINT NOT NULL, version INTEGER NOT NULL, source VARCHAR NOT NULL,
    review VARCHAR NOT NULL, sdg_targets VARCHAR NOT NULL, dimensions VARCHAR NOT NULL,
    confidence DOUBLE, evidence VARCHAR NOT NULL, changed_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL,
    PRIMARY KEY (line_id, version));
"""


class OversightBusyError(HumsecError):
    """The oversight database stayed locked by another process for too long."""


class ConflictError(HumsecError):
    """Someone else changed the record since the version the edit was based on."""


def db_path(settings: Settings) -> Path:
    """``oversight.duckdb`` in the settings' data directory."""
    return Path(settings.home) / FILE_NAME


def utc_now() -> _dt.datetime:
    """The current UTC time as a naive datetime (how timestamps are stored)."""
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


def to_json(value: Any) -> str | None:
    """A value (a pydantic model, mapping, list ...) as sorted JSON text; None stays None."""
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


class OversightStore:
    """The oversight database file: connections, atomic transactions and the schema.

    Parameters
    ----------
    path : str or Path
        The database file (its folder is created).
    busy_timeout : float
        Seconds to wait for another process's lock before :class:`OversightBusyError`.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0):
        self.path = Path(path)
        self.busy_timeout = float(busy_timeout)

    @classmethod
    def open(cls, settings: Settings, **kwargs: Any) -> Self:
        """The oversight database of ``settings`` (created and migrated if needed)."""
        db = cls(db_path(settings), **kwargs)
        db.initialise()
        return db

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, waiting (with back-off) while another process holds the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.01
        while True:
            try:
                con = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise HumsecError(f"cannot open the oversight database {self.path}: {exc}") from None
                if time.monotonic() >= deadline:
                    raise OversightBusyError(
                        f"the oversight database {self.path} has been in use by another process for "
                        f"{self.busy_timeout:.0f} s; try again later") from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.25)
        try:
            yield con
        finally:
            con.close()

    def _transaction(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``fn(con)`` in one transaction; retry it from scratch after a write conflict."""
        for attempt in range(MAX_RETRIES):
            with self.connect() as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    out = fn(con)
                    con.execute("COMMIT")
                    return out
                except (duckdb.TransactionException, duckdb.ConstraintException) as exc:
                    _rollback(con)
                    if attempt == MAX_RETRIES - 1:
                        raise ConflictError(f"the change could not be saved after {MAX_RETRIES} attempts "
                                            f"(concurrent edits): {exc}") from None
                except BaseException:
                    _rollback(con)
                    raise
            time.sleep(0.005 * (attempt + 1) * (1 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run a read-only ``fn(con)`` in one transaction (a consistent snapshot)."""
        return self._transaction(fn)

    def initialise(self) -> None:
        """Create the schema (idempotent) and check its version."""

        def run(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(_SCHEMA)
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
            elif int(row[0]) > SCHEMA_VERSION:
                raise HumsecError(f"the oversight database {self.path} was written by a newer humsec "
                                  f"(schema {row[0]}); upgrade humsec")

        self._transaction(run)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass
