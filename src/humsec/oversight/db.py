"""The oversight database: append-only, audited, role-checked (DuckDB).

:class:`OversightDB` is the one entry to it: every operation checks the caller's token
and role and runs the repositories' SQL (:mod:`humsec.oversight.repositories`) in *one*
transaction of :class:`~humsec.oversight.transaction.OversightStore` (connections,
retries, the schema; storage, concurrency and crash safety are described there).

History
-------
Nothing is updated in place or deleted. Instruments and commitments are stored as
numbered versions (one row per version with the full JSON value, who and when); "delete"
writes a tombstone version. Users are versioned the same way; token revocations and
budget tags are appended. Every write also appends an ``audit`` row (actor, token, time,
action, entity, version, JSON before/after) *in the same transaction*, so an audited
change and its audit row exist together or not at all.

Edits are *patches* (only the fields being changed) applied to the latest version inside
the transaction, so two concurrent edits of different fields both survive. A caller that
edited a copy it read earlier passes ``expected_version``: if someone else has written
since, the edit is refused with :class:`ConflictError` instead of silently overwriting.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable
from typing import Any

import duckdb
import pandas as pd

from humsec.errors import HumsecError, NotFoundError
from humsec.model.catalogue import Catalogue
from humsec.oversight import auth
from humsec.oversight.auth import Identity
from humsec.oversight.models import BudgetLine, Commitment, Instrument, Tag, validate_commitment
from humsec.oversight.repositories import audit as audit_repo
from humsec.oversight.repositories import budgets as budget_repo
from humsec.oversight.repositories import commitments as commitment_repo
from humsec.oversight.repositories import statuses as status_repo
from humsec.oversight.repositories import users as user_repo
from humsec.oversight.repositories.commitments import Versioned
from humsec.oversight.transaction import ConflictError, OversightBusyError, OversightStore, db_path

__all__ = ["ConflictError", "OversightBusyError", "OversightDB", "Versioned", "db_path"]


class OversightDB(OversightStore):
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

    # -- identities ------------------------------------------------------------------
    def authenticate(self, token: str | None) -> Identity:
        """The identity behind ``token`` (:class:`AuthError` if unknown or revoked)."""
        return self._read(lambda con: user_repo.identity(con, token))

    def is_initialised(self) -> bool:
        """Whether a first administrator exists."""
        return self._read(lambda con: user_repo.count(con) > 0)

    def init(self, user_id: str, *, name: str | None = None, label: str = "initial admin token") -> str:
        """Create the first administrator and return its token (shown once).

        Raises
        ------
        HumsecError
            If the database already has users.
        """
        user_repo.check_user_id(user_id)

        def run(con: duckdb.DuckDBPyConnection) -> str:
            if user_repo.count(con):
                raise HumsecError(f"the oversight database {self.path} is already initialised; "
                                  "an administrator adds users with 'humsec oversight user add'")
            return user_repo.create_first_admin(con, user_id, name, label)

        return self._transaction(run)

    def add_user(self, token: str | None, user_id: str, *, role: str, name: str | None = None) -> dict:
        """Add a user (administrators only); returns its record."""
        user_repo.check_user_id(user_id)
        auth.check_role(role)

        def run(con: duckdb.DuckDBPyConnection) -> dict:
            ident = user_repo.authorise(con, token, "admin", "add users")
            return user_repo.add(con, ident, user_id, role=role, name=name)

        return self._transaction(run)

    def set_user(self, token: str | None, user_id: str, *, role: str | None = None,
                 active: bool | None = None) -> dict:
        """Change a user's role or deactivate it (a new user version; administrators only)."""
        if role is not None:
            auth.check_role(role)

        def run(con: duckdb.DuckDBPyConnection) -> dict:
            ident = user_repo.authorise(con, token, "admin", "change users")
            return user_repo.update(con, ident, user_id, role=role, active=active)

        return self._transaction(run)

    def users(self, token: str | None) -> pd.DataFrame:
        """Current users: ``user_id, name, role, active, version``."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            user_repo.authorise(con, token, "viewer", "list users")
            return user_repo.current(con)

        return self._read(run)

    def create_token(self, token: str | None, user_id: str, *, label: str = "") -> str:
        """A new API token for ``user_id`` (administrators only); the token is returned
        once and only its hash is stored."""

        def run(con: duckdb.DuckDBPyConnection) -> str:
            ident = user_repo.authorise(con, token, "admin", "create tokens")
            return user_repo.add_token(con, ident, user_id, label)

        return self._transaction(run)

    def revoke_token(self, token: str | None, token_id: str) -> None:
        """Revoke a token by its id (administrators; any user for its own tokens)."""

        def run(con: duckdb.DuckDBPyConnection) -> None:
            user_repo.revoke_token(con, user_repo.identity(con, token), token_id)

        self._transaction(run)

    def tokens(self, token: str | None) -> pd.DataFrame:
        """Tokens (never their secrets): ``token_id, user_id, label, created, revoked``."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            return user_repo.list_tokens(con, user_repo.authorise(con, token, "viewer", "list tokens"))

        return self._read(run)

    def audit_log(self, token: str | None, *, entity: str | None = None,
                  entity_id: str | None = None) -> pd.DataFrame:
        """The audit log, oldest first (any authenticated user: oversight is transparent)."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            user_repo.authorise(con, token, "viewer", "read the audit log")
            return audit_repo.log(con, entity=entity, entity_id=entity_id)

        return self._read(run)

    # -- instruments and commitments ---------------------------------------------------
    def put_instrument(self, token: str | None, instrument: Instrument) -> Versioned:
        """Create an instrument or store a changed one as a new version (editors)."""

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            ident = user_repo.authorise(con, token, "editor", "change instruments")
            return commitment_repo.put(con, ident, "instrument", instrument)

        return self._transaction(run)

    def add_commitment(self, token: str | None, commitment: Commitment | dict, *, catalogue: Catalogue,
                       today: _dt.date | None = None) -> Versioned:
        """Add a new commitment (editors). It is validated first (see
        :func:`~humsec.oversight.models.validate_commitment`)."""
        today = today or _dt.date.today()
        c = validate_commitment(commitment, catalogue=catalogue, today=today)

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            ident = user_repo.authorise(con, token, "editor", "add commitments")
            commitment_repo.check_instrument(con, c, None)
            prev = commitment_repo.latest(con, "commitment", c.id)
            if prev is not None and not prev.deleted:
                raise ConflictError(f"commitment '{c.id}' already exists (version {prev.version}); "
                                    "change it with an update")
            return commitment_repo.put(con, ident, "commitment", c)

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
            ident = user_repo.authorise(con, token, "editor", "change commitments")
            prev = commitment_repo.latest_commitment(con, commitment_id)
            new: Commitment | dict[str, Any]
            if callable(change):
                new = change(prev.value)
            else:
                if "id" in change and change["id"] != commitment_id:
                    raise HumsecError("the id of a commitment cannot change")
                new = {**prev.value.model_dump(), **change}
            c = validate_commitment(new, catalogue=catalogue, today=today)
            commitment_repo.check_instrument(con, c, None)
            return commitment_repo.put(con, ident, "commitment", c, expected_version=expected_version)

        return self._transaction(run)

    def add_note(self, token: str | None, commitment_id: str, text: str, *,
                 today: _dt.date | None = None) -> Versioned:
        """Append a dated note to a commitment (a new version; editors)."""
        today = today or _dt.date.today()

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            ident = user_repo.authorise(con, token, "editor", "annotate commitments")
            prev = commitment_repo.latest_commitment(con, commitment_id)
            return commitment_repo.put(con, ident, "commitment", prev.value.with_note(text, today), action="note")

        return self._transaction(run)

    def delete_commitment(self, token: str | None, commitment_id: str, *,
                          expected_version: int | None = None) -> Versioned:
        """Mark a commitment deleted (a tombstone version; its history stays; editors)."""

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            ident = user_repo.authorise(con, token, "editor", "delete commitments")
            prev = commitment_repo.latest_commitment(con, commitment_id)
            return commitment_repo.put(con, ident, "commitment", prev.value, deleted=True,
                                   expected_version=expected_version)

        return self._transaction(run)

    def import_commitments(self, token: str | None, instrument: Instrument,
                           commitments: Iterable[Commitment]) -> list[Versioned]:
        """Store an instrument and its (validated) commitments in one transaction: new ones
        are created, changed ones get a new version, unchanged ones are left alone."""
        items = list(commitments)

        def run(con: duckdb.DuckDBPyConnection) -> list[Versioned]:
            ident = user_repo.authorise(con, token, "editor", "import commitments")
            commitment_repo.put(con, ident, "instrument", instrument)
            return [commitment_repo.put(con, ident, "commitment", c) for c in items]

        return self._transaction(run)

    def get(self, token: str | None, kind: str, rid: str, *, version: int | None = None) -> Versioned:
        """One instrument or commitment (latest version, or a given one)."""

        def run(con: duckdb.DuckDBPyConnection) -> Versioned:
            user_repo.authorise(con, token, "viewer", f"read {kind}s")
            v = (commitment_repo.latest(con, kind, rid) if version is None
                 else commitment_repo.version(con, kind, rid, version))
            if v is None:
                raise NotFoundError(f"no {kind} '{rid}'" + (f" version {version}" if version else ""))
            return v

        return self._read(run)

    def current(self, token: str | None, kind: str = "commitment", *,
                include_deleted: bool = False) -> list[Versioned]:
        """Latest version of every instrument or commitment (tombstones only on request)."""

        def run(con: duckdb.DuckDBPyConnection) -> list[Versioned]:
            user_repo.authorise(con, token, "viewer", f"read {kind}s")
            return [v for v in commitment_repo.current(con, kind) if include_deleted or not v.deleted]

        return self._read(run)

    def history(self, token: str | None, kind: str, rid: str) -> list[Versioned]:
        """Every version of one instrument or commitment, oldest first."""

        def run(con: duckdb.DuckDBPyConnection) -> list[Versioned]:
            user_repo.authorise(con, token, "viewer", f"read {kind}s")
            versions = commitment_repo.history(con, kind, rid)
            if not versions:
                raise NotFoundError(f"no {kind} '{rid}'")
            return versions

        return self._read(run)

    # -- status snapshots --------------------------------------------------------------
    def record_status(self, token: str | None, statuses: Iterable[Any]) -> int:
        """Append status snapshots (:class:`~humsec.oversight.status.TargetStatus`) to the
        history (editors); returns how many were stored."""
        items = list(statuses)

        def run(con: duckdb.DuckDBPyConnection) -> int:
            ident = user_repo.authorise(con, token, "editor", "record statuses")
            return status_repo.append(con, ident, items)

        return self._transaction(run)

    def status_history(self, token: str | None, commitment_id: str | None = None) -> pd.DataFrame:
        """Recorded status snapshots, oldest first."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            user_repo.authorise(con, token, "viewer", "read statuses")
            return status_repo.history(con, commitment_id)

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
            ident = user_repo.authorise(con, token, "editor", "import budgets")
            return budget_repo.add_import(con, ident, items, file_name=file_name, sha256=sha256)

        return self._transaction(run)

    def budget_lines(self, token: str | None, *, country: str | None = None) -> pd.DataFrame:
        """Budget lines with their current tag: ``line_id, import_id, row, programme,
        ministry, amount, currency, year, country, description, tag_version, source,
        review, sdg_targets, dimensions, confidence, evidence`` (lists decoded)."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            user_repo.authorise(con, token, "viewer", "read budgets")
            return budget_repo.lines(con, country=country)

        df = self._read(run)
        for col in ("sdg_targets", "dimensions", "evidence"):
            df[col] = [tuple(json.loads(v)) if isinstance(v, str) else () for v in df[col]]
        df["review"] = df["review"].fillna("untagged")
        return df

    def save_tags(self, token: str | None, tags: dict[int, Tag]) -> int:
        """Store automatic tags (rules or classifier) for lines that no reviewer has
        confirmed or corrected yet (editors); returns how many changed."""

        def run(con: duckdb.DuckDBPyConnection) -> int:
            ident = user_repo.authorise(con, token, "editor", "tag budget lines")
            return budget_repo.save_tags(con, ident, tags)

        return self._transaction(run)

    def review(self, token: str | None, line_id: int, tag: Tag | None = None) -> int:
        """A reviewer confirms the current tag (``tag=None``) or corrects it (editors);
        returns the new tag version."""

        def run(con: duckdb.DuckDBPyConnection) -> int:
            ident = user_repo.authorise(con, token, "editor", "review budget tags")
            return budget_repo.review(con, ident, line_id, tag)

        return self._transaction(run)

    def tag_history(self, token: str | None, line_id: int) -> pd.DataFrame:
        """Every tag version of one budget line, oldest first."""

        def run(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
            user_repo.authorise(con, token, "viewer", "read budgets")
            return budget_repo.tag_history(con, line_id)

        return self._read(run)
