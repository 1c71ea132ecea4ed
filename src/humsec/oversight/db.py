"""The oversight database: append-only, audited, role-checked (DuckDB).

Storage
-------
A separate DuckDB file, ``oversight.duckdb`` in ``settings.home`` (beside the data store
``humsec.duckdb``). The data store is a cache of reproducible snapshots that may be
rebuilt or replaced; the oversight database is a *system of record* (who promised what,
who tagged and reviewed which budget line) with its own schema version, its own backups
and its own lock, so a long data import never blocks an edit and vice versa.

History
-------
Nothing is updated in place or deleted. Instruments and commitments are stored as
numbered versions (``records``: one row per version with the full JSON value, who and
when); "delete" writes a tombstone version. Users are versioned the same way; token
revocations and budget tags are appended. Every write also appends an ``audit`` row
(actor, token, time, action, entity, version, JSON before/after) *in the same
transaction*, so an audited change and its audit row exist together or not at all.

Concurrency
-----------
Every operation opens a connection, runs one transaction and closes it. Two guards keep
concurrent edits from losing changes:

* *Between processes* DuckDB allows one process to open the file at a time; a second
  process waits (exponential back-off with jitter, up to ``busy_timeout`` seconds)
  instead of failing, so writers are serialised.
* *Within a process* (threads, the future REST API) DuckDB runs transactions
  optimistically: a version number is the primary key ``(kind, id, version)``, so two
  transactions that both try to write version *n + 1* of the same commitment cannot both
  commit. The loser's transaction is rolled back and the whole operation is retried on
  the then-current state (re-reading the latest version and re-applying its change).

Edits are *patches* (only the fields being changed) applied to the latest version inside
the transaction, so two concurrent edits of different fields both survive. A caller that
edited a copy it read earlier passes ``expected_version``: if someone else has written
since, the edit is refused with :class:`ConflictError` instead of silently overwriting.

Crash safety is DuckDB's: a process killed before ``COMMIT`` leaves the previous state
(see :mod:`humsec.data.store`).
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd

from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.model.catalogue import Catalogue
from humsec.oversight import auth
from humsec.oversight.auth import AuthError, Identity
from humsec.oversight.models import BudgetLine, Commitment, Instrument, Tag, validate_commitment
from humsec.settings import Settings

__all__ = ["ConflictError", "OversightBusyError", "OversightDB", "Versioned", "db_path"]

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


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Versioned:
    """One stored version of an instrument or commitment.

    Attributes
    ----------
    kind, id : str
    version : int
    deleted : bool
        True for a tombstone (the value is the last one before deletion).
    at : datetime.datetime
        When it was written (UTC).
    actor : str
        User id of the author.
    value : Instrument or Commitment
    """

    kind: str
    id: str
    version: int
    deleted: bool
    at: _dt.datetime
    actor: str
    value: Any


_MODELS = {"instrument": Instrument, "commitment": Commitment}


class OversightDB:
    """Commitments, budgets, users and the audit log in one DuckDB file.

    Every method takes the caller's API ``token`` explicitly; it is verified (and the
    role checked) inside the operation's transaction, so a token revoked a moment ago
    no longer works.

    Parameters
    ----------
    path : str or Path
        The database file (its folder is created).
    busy_timeout : float
        Seconds to wait for another process's lock before :class:`OversightBusyError`.

    Examples
    --------
    >>> db = OversightDB.open(settings)                                   # doctest: +SKIP
    >>> admin_token = db.init("alice", name="Alice")                      # doctest: +SKIP
    >>> db.add_commitment(admin_token, commitment, catalogue=cat)         # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0):
        self.path = Path(path)
        self.busy_timeout = float(busy_timeout)

    @classmethod
    def open(cls, settings: Settings, **kwargs: Any) -> "OversightDB":
        """The oversight database of ``settings`` (created and migrated if needed)."""
        db = cls(db_path(settings), **kwargs)
        db.initialise()
        return db

    # -- connections and transactions ------------------------------------------------
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

    # -- identities ------------------------------------------------------------------
    @staticmethod
    def _user(con: duckdb.DuckDBPyConnection, user_id: str) -> tuple | None:
        return con.execute(
            "SELECT user_id, version, name, role, active FROM users WHERE user_id = ? "
            "ORDER BY version DESC LIMIT 1", [user_id]).fetchone()

    def _identity(self, con: duckdb.DuckDBPyConnection, token: str | None) -> Identity:
        token_id, secret = auth.parse_token(token)
        row = con.execute(
            "SELECT t.user_id, t.secret_sha256, r.token_id FROM tokens t "
            "LEFT JOIN token_revocations r ON r.token_id = t.token_id WHERE t.token_id = ?",
            [token_id]).fetchone()
        if row is None or not auth.verify_secret(secret, row[1]):
            raise AuthError("unknown API token")
        if row[2] is not None:
            raise AuthError(f"API token {token_id} has been revoked")
        user = self._user(con, row[0])
        if user is None or not user[4]:
            raise AuthError(f"user '{row[0]}' is deactivated")
        return Identity(user_id=user[0], name=user[2], role=user[3], token_id=token_id)

    def _auth(self, con: duckdb.DuckDBPyConnection, token: str | None, role: str, action: str) -> Identity:
        ident = self._identity(con, token)
        auth.require(ident, role, action)
        return ident

    @staticmethod
    def _audit(con: duckdb.DuckDBPyConnection, ident: Identity | None, action: str, entity: str,
               entity_id: str, version: int | None = None, before: Any = None, after: Any = None,
               actor: str | None = None) -> None:
        con.execute(
            "INSERT INTO audit VALUES (nextval('audit_ids'), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_now(), actor or (ident.user_id if ident else "system"), ident.token_id if ident else None,
             action, entity, str(entity_id), version, _dump(before), _dump(after)])

    def authenticate(self, token: str | None) -> Identity:
        """The identity behind ``token`` (:class:`AuthError` if unknown or revoked)."""
        return self._read(lambda con: self._identity(con, token))

    def is_initialised(self) -> bool:
        """Whether a first administrator exists."""
        return self._read(lambda con: con.execute("SELECT count(*) FROM users").fetchone()[0] > 0)

    def init(self, user_id: str, *, name: str | None = None, label: str = "initial admin token") -> str:
        """Create the first administrator and return its token (shown once).

        Raises
        ------
        HumsecError
            If the database already has users.
        """
        _check_user_id(user_id)

        def run(con: duckdb.DuckDBPyConnection) -> str:
            if con.execute("SELECT count(*) FROM users").fetchone()[0]:
                raise HumsecError(f"the oversight database {self.path} is already initialised; "
                                  "an administrator adds users with 'humsec oversight user add'")
            now = _now()
            con.execute("INSERT INTO users VALUES (?, 1, ?, 'admin', TRUE, ?, ?)",
                        [user_id, name or user_id, now, user_id])
            token_id, secret, token = auth.new_token()
            con.execute("INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?)",
                        [token_id, user_id, auth.hash_secret(secret), label, now, user_id])
            ident = Identity(user_id=user_id, name=name or user_id, role="admin", token_id=token_id)
            self._audit(con, ident, "init", "user", user_id, 1, None,
                        {"user_id": user_id, "name": name or user_id, "role": "admin"})
            self._audit(con, ident, "create", "token", token_id, None, None,
                        {"token_id": token_id, "user_id": user_id, "label": label})
            return token

        return self._transaction(run)

    def add_user(self, token: str | None, user_id: str, *, role: str, name: str | None = None) -> dict:
        """Add a user (administrators only); returns its record."""
        _check_user_id(user_id)
        auth.check_role(role)

        def run(con: duckdb.DuckDBPyConnection) -> dict:
            ident = self._auth(con, token, "admin", "add users")
            if self._user(con, user_id) is not None:
                raise HumsecError(f"user '{user_id}' already exists")
            rec = {"user_id": user_id, "name": name or user_id, "role": role, "active": True}
            con.execute("INSERT INTO users VALUES (?, 1, ?, ?, TRUE, ?, ?)",
                        [user_id, rec["name"], role, _now(), ident.user_id])
            self._audit(con, ident, "create", "user", user_id, 1, None, rec)
            return rec

        return self._transaction(run)

    def set_user(self, token: str | None, user_id: str, *, role: str | None = None,
                 active: bool | None = None) -> dict:
        """Change a user's role or deactivate it (a new user version; administrators only)."""
        if role is not None:
            auth.check_role(role)

        def run(con: duckdb.DuckDBPyConnection) -> dict:
            ident = self._auth(con, token, "admin", "change users")
            row = self._user(con, user_id)
            if row is None:
                raise HumsecError(f"no user '{user_id}'")
            before = {"user_id": row[0], "name": row[2], "role": row[3], "active": row[4]}
            after = {**before, **({"role": role} if role else {}),
                     **({"active": active} if active is not None else {})}
            con.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [user_id, row[1] + 1, after["name"], after["role"], after["active"], _now(),
                         ident.user_id])
            self._audit(con, ident, "update", "user", user_id, row[1] + 1, before, after)
            return after

        return self._transaction(run)

    def users(self, token: str | None) -> pd.DataFrame:
        """Current users: ``user_id, name, role, active, version``."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            self._auth(con, token, "viewer", "list users")
            return con.execute(
                "SELECT user_id, name, role, active, version FROM users u WHERE version = "
                "(SELECT max(version) FROM users v WHERE v.user_id = u.user_id) ORDER BY user_id").df()

        return self._read(run)

    def create_token(self, token: str | None, user_id: str, *, label: str = "") -> str:
        """A new API token for ``user_id`` (administrators only); the token is returned
        once and only its hash is stored."""

        def run(con: duckdb.DuckDBPyConnection) -> str:
            ident = self._auth(con, token, "admin", "create tokens")
            user = self._user(con, user_id)
            if user is None or not user[4]:
                raise HumsecError(f"no active user '{user_id}'")
            token_id, secret, new = auth.new_token()
            con.execute("INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?)",
                        [token_id, user_id, auth.hash_secret(secret), label, _now(), ident.user_id])
            self._audit(con, ident, "create", "token", token_id, None, None,
                        {"token_id": token_id, "user_id": user_id, "label": label})
            return new

        return self._transaction(run)

    def revoke_token(self, token: str | None, token_id: str) -> None:
        """Revoke a token by its id (administrators; any user for its own tokens)."""

        def run(con: duckdb.DuckDBPyConnection) -> None:
            ident = self._identity(con, token)
            row = con.execute("SELECT user_id FROM tokens WHERE token_id = ?", [token_id]).fetchone()
            if row is None:
                raise HumsecError(f"no token with id '{token_id}'")
            if row[0] != ident.user_id:
                auth.require(ident, "admin", "revoke other users' tokens")
            if con.execute("SELECT 1 FROM token_revocations WHERE token_id = ?", [token_id]).fetchone():
                raise HumsecError(f"token {token_id} is already revoked")
            con.execute("INSERT INTO token_revocations VALUES (?, ?, ?)", [token_id, _now(), ident.user_id])
            self._audit(con, ident, "revoke", "token", token_id, None, {"revoked": False}, {"revoked": True})

        self._transaction(run)

    def tokens(self, token: str | None) -> pd.DataFrame:
        """Tokens (never their secrets): ``token_id, user_id, label, created, revoked``."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            ident = self._auth(con, token, "viewer", "list tokens")
            sql = ("SELECT t.token_id, t.user_id, t.label, t.created, r.changed_at AS revoked FROM tokens t "
                   "LEFT JOIN token_revocations r USING (token_id)")
            if ident.can("admin"):
                return con.execute(sql + " ORDER BY t.created").df()
            return con.execute(sql + " WHERE t.user_id = ? ORDER BY t.created", [ident.user_id]).df()

        return self._read(run)

    def audit_log(self, token: str | None, *, entity: str | None = None,
                  entity_id: str | None = None) -> pd.DataFrame:
        """The audit log, oldest first (any authenticated user: oversight is transparent)."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            self._auth(con, token, "viewer", "read the audit log")
            sql, args = "SELECT * FROM audit WHERE TRUE", []
            if entity is not None:
                sql += " AND entity = ?"
                args.append(entity)
            if entity_id is not None:
                sql += " AND entity_id = ?"
                args.append(str(entity_id))
            return con.execute(sql + " ORDER BY id", args).df()

        return self._read(run)

    # -- versioned records -------------------------------------------------------------
    @staticmethod
    def _latest(con: duckdb.DuckDBPyConnection, kind: str, rid: str) -> Versioned | None:
        row = con.execute(
            "SELECT kind, id, version, deleted, changed_at, actor, record FROM records WHERE kind = ? AND id = ? "
            "ORDER BY version DESC LIMIT 1", [kind, rid]).fetchone()
        return None if row is None else _versioned(row)

    def _put(self, con: duckdb.DuckDBPyConnection, ident: Identity, kind: str, value: Any, *,
             deleted: bool = False, action: str | None = None, expected_version: int | None = None,
             ) -> Versioned:
        prev = self._latest(con, kind, value.id)
        if expected_version is not None:
            have = 0 if prev is None else prev.version
            if have != expected_version:
                raise ConflictError(
                    f"{kind} '{value.id}' is at version {have}, but the edit was based on version "
                    f"{expected_version}: someone changed it meanwhile; review 'history' and edit again")
        if prev is not None and not prev.deleted and not deleted and prev.value == value:
            return prev  # nothing changed: no new version
        version = 1 if prev is None else prev.version + 1
        now = _now()
        con.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [kind, value.id, version, deleted, _dump(value), now, ident.user_id])
        act = action or ("delete" if deleted else "create" if prev is None or prev.deleted else "update")
        self._audit(con, ident, act, kind, value.id, version,
                    None if prev is None or prev.deleted else prev.value, None if deleted else value)
        return Versioned(kind, value.id, version, deleted, now, ident.user_id, value)

    def put_instrument(self, token: str | None, instrument: Instrument) -> Versioned:
        """Create an instrument or store a changed one as a new version (editors)."""

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            ident = self._auth(con, token, "editor", "change instruments")
            return self._put(con, ident, "instrument", instrument)

        return self._transaction(run)

    def _check_instrument(self, con: duckdb.DuckDBPyConnection, c: Commitment, file: str | None,
                          where: str = "") -> None:
        inst = self._latest(con, "instrument", c.instrument)
        if inst is None or inst.deleted:
            raise ValidationError(ValidationIssue(
                f"unknown instrument '{c.instrument}' (add it first, or import a commitments file "
                "with its instrument)", file=file, field=f"{where}instrument"))

    def add_commitment(self, token: str | None, commitment: Commitment | dict, *, catalogue: Catalogue,
                       today: _dt.date | None = None) -> Versioned:
        """Add a new commitment (editors). It is validated first (see
        :func:`~humsec.oversight.models.validate_commitment`)."""
        today = today or _dt.date.today()
        c = validate_commitment(commitment, catalogue=catalogue, today=today)

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            ident = self._auth(con, token, "editor", "add commitments")
            self._check_instrument(con, c, None)
            prev = self._latest(con, "commitment", c.id)
            if prev is not None and not prev.deleted:
                raise HumsecError(f"commitment '{c.id}' already exists (version {prev.version}); "
                                  "change it with an update")
            return self._put(con, ident, "commitment", c)

        return self._transaction(run)

    def update_commitment(self, token: str | None, commitment_id: str,
                          change: dict[str, Any] | Callable[[Commitment], Commitment], *,
                          catalogue: Catalogue, today: _dt.date | None = None,
                          expected_version: int | None = None) -> Versioned:
        """Store a changed commitment as a new version (editors).

        Parameters
        ----------
        change : dict or callable
            Fields to replace (a patch), or a function from the latest value to the new
            one; either is applied to the *latest* version inside the transaction (and
            re-applied if a concurrent edit wins the race), so no change is lost.
        expected_version : int, optional
            Refuse the edit with :class:`ConflictError` unless the latest version is this one.
        """
        today = today or _dt.date.today()

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            ident = self._auth(con, token, "editor", "change commitments")
            prev = self._latest(con, "commitment", commitment_id)
            if prev is None or prev.deleted:
                raise HumsecError(f"no commitment '{commitment_id}'")
            if callable(change):
                new = change(prev.value)
            else:
                if "id" in change and change["id"] != commitment_id:
                    raise HumsecError("the id of a commitment cannot change")
                new = {**prev.value.model_dump(), **change}
            c = validate_commitment(new, catalogue=catalogue, today=today)
            self._check_instrument(con, c, None)
            return self._put(con, ident, "commitment", c, expected_version=expected_version)

        return self._transaction(run)

    def add_note(self, token: str | None, commitment_id: str, text: str, *,
                 today: _dt.date | None = None) -> Versioned:
        """Append a dated note to a commitment (a new version; editors)."""
        today = today or _dt.date.today()

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            ident = self._auth(con, token, "editor", "annotate commitments")
            prev = self._latest(con, "commitment", commitment_id)
            if prev is None or prev.deleted:
                raise HumsecError(f"no commitment '{commitment_id}'")
            return self._put(con, ident, "commitment", prev.value.with_note(text, today), action="note")

        return self._transaction(run)

    def delete_commitment(self, token: str | None, commitment_id: str, *,
                          expected_version: int | None = None) -> Versioned:
        """Mark a commitment deleted (a tombstone version; its history stays; editors)."""

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            ident = self._auth(con, token, "editor", "delete commitments")
            prev = self._latest(con, "commitment", commitment_id)
            if prev is None or prev.deleted:
                raise HumsecError(f"no commitment '{commitment_id}'")
            return self._put(con, ident, "commitment", prev.value, deleted=True,
                             expected_version=expected_version)

        return self._transaction(run)

    def import_commitments(self, token: str | None, instrument: Instrument,
                           commitments: Iterable[Commitment]) -> list[Versioned]:
        """Store an instrument and its (validated) commitments in one transaction: new ones
        are created, changed ones get a new version, unchanged ones are left alone."""
        items = list(commitments)

        def run(con: duckdb.DuckDBPyConnection) -> list[Versioned]:
            ident = self._auth(con, token, "editor", "import commitments")
            self._put(con, ident, "instrument", instrument)
            return [self._put(con, ident, "commitment", c) for c in items]

        return self._transaction(run)

    def get(self, token: str | None, kind: str, rid: str, *, version: int | None = None) -> Versioned:
        """One instrument or commitment (latest version, or a given one)."""

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            self._auth(con, token, "viewer", f"read {kind}s")
            if version is None:
                v = self._latest(con, kind, rid)
            else:
                row = con.execute("SELECT kind, id, version, deleted, changed_at, actor, record FROM records "
                                  "WHERE kind = ? AND id = ? AND version = ?", [kind, rid, version]).fetchone()
                v = None if row is None else _versioned(row)
            if v is None:
                raise HumsecError(f"no {kind} '{rid}'" + (f" version {version}" if version else ""))
            return v

        return self._read(run)

    def current(self, token: str | None, kind: str = "commitment", *,
                include_deleted: bool = False) -> list[Versioned]:
        """Latest version of every instrument or commitment (tombstones only on request)."""

        def run(con: duckdb.DuckDBPyConnection) -> list[Versioned]:
            self._auth(con, token, "viewer", f"read {kind}s")
            rows = con.execute(
                "SELECT kind, id, version, deleted, changed_at, actor, record FROM records r WHERE kind = ? AND "
                "version = (SELECT max(version) FROM records s WHERE s.kind = r.kind AND s.id = r.id) "
                "ORDER BY id", [kind]).fetchall()
            return [v for v in map(_versioned, rows) if include_deleted or not v.deleted]

        return self._read(run)

    def history(self, token: str | None, kind: str, rid: str) -> list[Versioned]:
        """Every version of one instrument or commitment, oldest first."""

        def run(con: duckdb.DuckDBPyConnection) -> list[Versioned]:
            self._auth(con, token, "viewer", f"read {kind}s")
            rows = con.execute("SELECT kind, id, version, deleted, changed_at, actor, record FROM records "
                               "WHERE kind = ? AND id = ? ORDER BY version", [kind, rid]).fetchall()
            if not rows:
                raise HumsecError(f"no {kind} '{rid}'")
            return [_versioned(r) for r in rows]

        return self._read(run)

    # -- status snapshots --------------------------------------------------------------
    def record_status(self, token: str | None, statuses: Iterable[Any]) -> int:
        """Append status snapshots (:class:`~humsec.oversight.status.TargetStatus`) to the
        history (editors); returns how many were stored."""
        items = list(statuses)

        def run(con: duckdb.DuckDBPyConnection) -> int:
            ident = self._auth(con, token, "editor", "record statuses")
            now = _now()
            for s in items:
                d = s.to_dict()
                con.execute("INSERT INTO status_snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [s.commitment_id, s.commitment_version, s.target_key, now, s.as_of, s.status,
                             _dump(d), ident.user_id])
                self._audit(con, ident, "record_status", "commitment", s.commitment_id, s.commitment_version,
                            None, {"target": s.target_key, "status": s.status, "as_of": s.as_of})
            return len(items)

        return self._transaction(run)

    def status_history(self, token: str | None, commitment_id: str | None = None) -> pd.DataFrame:
        """Recorded status snapshots, oldest first."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            self._auth(con, token, "viewer", "read statuses")
            sql = ("SELECT commitment_id, commitment_version, target_key, computed, as_of, status, actor, "
                   "result FROM status_snapshots")
            args: list[Any] = []
            if commitment_id is not None:
                sql += " WHERE commitment_id = ?"
                args.append(commitment_id)
            return con.execute(sql + " ORDER BY computed, commitment_id, target_key", args).df()

        return self._read(run)

    # -- budgets -----------------------------------------------------------------------
    def add_budget(self, token: str | None, lines: Iterable[BudgetLine], *, file_name: str,
                   sha256: str) -> tuple[str, list[int]]:
        """Store validated budget lines as one import (editors); returns the import id and
        the new line ids. Importing the same file content twice is refused."""
        items = list(lines)
        if not items:
            raise HumsecError(f"{file_name}: no budget lines to import")

        def run(con: duckdb.DuckDBPyConnection) -> tuple[str, list[int]]:
            ident = self._auth(con, token, "editor", "import budgets")
            dup = con.execute("SELECT import_id FROM budget_imports WHERE sha256 = ?", [sha256]).fetchone()
            if dup is not None:
                raise HumsecError(f"{file_name}: this file was already imported (import {dup[0]})")
            import_id = "b" + sha256[:10]
            con.execute("INSERT INTO budget_imports VALUES (?, ?, ?, ?, ?, ?)",
                        [import_id, file_name, sha256, len(items), _now(), ident.user_id])
            ids = []
            for ln in items:
                lid = con.execute("SELECT nextval('budget_line_ids')").fetchone()[0]
                con.execute("INSERT INTO budget_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [lid, import_id, ln.row, ln.programme, ln.ministry, ln.amount, ln.currency,
                             ln.year, ln.country, ln.description])
                ids.append(int(lid))
            self._audit(con, ident, "import", "budget", import_id, None, None,
                        {"file": file_name, "sha256": sha256, "lines": len(items),
                         "total": float(sum(x.amount for x in items))})
            return import_id, ids

        return self._transaction(run)

    def budget_lines(self, token: str | None, *, country: str | None = None) -> pd.DataFrame:
        """Budget lines with their current tag: ``line_id, import_id, row, programme,
        ministry, amount, currency, year, country, description, tag_version, source,
        review, sdg_targets, dimensions, confidence, evidence`` (lists decoded)."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            self._auth(con, token, "viewer", "read budgets")
            sql = ('SELECT l.*, t.version AS tag_version, t.source, t.review, t.sdg_targets, t.dimensions, '
                   't.confidence, t.evidence, t.actor AS tagged_by, t.changed_at AS tagged_at FROM budget_lines l '
                   'LEFT JOIN budget_tags t ON t.line_id = l.line_id AND t.version = '
                   '(SELECT max(version) FROM budget_tags u WHERE u.line_id = l.line_id)')
            args: list[Any] = []
            if country is not None:
                sql += " WHERE l.country = ?"
                args.append(country)
            return con.execute(sql + " ORDER BY l.line_id", args).df()

        df = self._read(run)
        for col in ("sdg_targets", "dimensions", "evidence"):
            df[col] = [tuple(json.loads(v)) if isinstance(v, str) else () for v in df[col]]
        df["review"] = df["review"].fillna("untagged")
        return df

    @staticmethod
    def _latest_tag(con: duckdb.DuckDBPyConnection, line_id: int) -> tuple | None:
        return con.execute("SELECT version, review, source, sdg_targets, dimensions, confidence, evidence "
                           "FROM budget_tags WHERE line_id = ? ORDER BY version DESC LIMIT 1",
                           [line_id]).fetchone()

    def _put_tag(self, con: duckdb.DuckDBPyConnection, ident: Identity, line_id: int, tag: Tag,
                 review: str, prev: tuple | None, action: str) -> int:
        version = 1 if prev is None else prev[0] + 1
        con.execute("INSERT INTO budget_tags VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [line_id, version, tag.source, review, json.dumps(list(tag.sdg_targets)),
                     json.dumps(list(tag.dimensions)), tag.confidence, json.dumps(list(tag.evidence)),
                     _now(), ident.user_id])
        before = None if prev is None else {"review": prev[1], "source": prev[2],
                                             "sdg_targets": json.loads(prev[3]), "dimensions": json.loads(prev[4])}
        self._audit(con, ident, action, "budget_line", str(line_id), version, before,
                    {"review": review, **tag.model_dump(mode="json")})
        return version

    def save_tags(self, token: str | None, tags: dict[int, Tag]) -> int:
        """Store automatic tags (rules or classifier) for lines that no reviewer has
        confirmed or corrected yet (editors); returns how many changed."""

        def run(con: duckdb.DuckDBPyConnection) -> int:
            ident = self._auth(con, token, "editor", "tag budget lines")
            n = 0
            for line_id, tag in tags.items():
                if con.execute("SELECT 1 FROM budget_lines WHERE line_id = ?", [int(line_id)]).fetchone() is None:
                    raise HumsecError(f"no budget line {line_id}")
                prev = self._latest_tag(con, int(line_id))
                if prev is not None and prev[1] in ("confirmed", "corrected"):
                    continue  # a reviewer's decision is never overwritten by automatic tagging
                if prev is not None and (prev[2], json.loads(prev[3]), json.loads(prev[4]), prev[5]) == (
                        tag.source, list(tag.sdg_targets), list(tag.dimensions), tag.confidence):
                    continue
                self._put_tag(con, ident, int(line_id), tag, "pending", prev, "tag")
                n += 1
            return n

        return self._transaction(run)

    def review(self, token: str | None, line_id: int, tag: Tag | None = None) -> int:
        """A reviewer confirms the current tag (``tag=None``) or corrects it (editors);
        returns the new tag version."""

        def run(con: duckdb.DuckDBPyConnection) -> int:
            ident = self._auth(con, token, "editor", "review budget tags")
            if con.execute("SELECT 1 FROM budget_lines WHERE line_id = ?", [int(line_id)]).fetchone() is None:
                raise HumsecError(f"no budget line {line_id}")
            prev = self._latest_tag(con, int(line_id))
            if tag is None:
                if prev is None or (not json.loads(prev[3]) and not json.loads(prev[4])):
                    raise HumsecError(f"budget line {line_id} has no tag to confirm (untagged, or a classifier "
                                      "suggestion below the confidence threshold); give the correct tags")
                new = Tag(sdg_targets=tuple(json.loads(prev[3])), dimensions=tuple(json.loads(prev[4])),
                          source="review", confidence=None,
                          evidence=(f"confirmed {prev[2]} tag",))
                return self._put_tag(con, ident, int(line_id), new, "confirmed", prev, "review")
            new = tag.model_copy(update={"source": "review", "confidence": None})
            return self._put_tag(con, ident, int(line_id), new, "corrected", prev, "review")

        return self._transaction(run)

    def tag_history(self, token: str | None, line_id: int) -> pd.DataFrame:
        """Every tag version of one budget line, oldest first."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            self._auth(con, token, "viewer", "read budgets")
            return con.execute("SELECT * FROM budget_tags WHERE line_id = ? ORDER BY version",
                               [int(line_id)]).df()

        return self._read(run)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def _versioned(row: tuple) -> Versioned:
    kind, rid, version, deleted, at, actor, record = row
    return Versioned(kind=kind, id=rid, version=int(version), deleted=bool(deleted), at=at, actor=actor,
                     value=_MODELS[kind].model_validate_json(record))


def _check_user_id(user_id: str) -> None:
    import re

    if not re.fullmatch(r"[a-z][a-z0-9_.-]{0,39}", user_id or ""):
        raise HumsecError(f"invalid user id '{user_id}': use 1-40 lower-case letters, digits, '_', '.', '-'")
