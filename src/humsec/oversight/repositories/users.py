"""Users (numbered versions), API tokens (only their hashes) and token revocations;
resolving a token to the :class:`~humsec.oversight.auth.Identity` acting."""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from humsec.errors import HumsecError
from humsec.oversight import auth
from humsec.oversight.auth import AuthError, Identity
from humsec.oversight.repositories import audit
from humsec.oversight.transaction import utc_now

__all__ = ["add", "add_token", "authorise", "check_user_id", "count", "create_first_admin", "current",
           "identity", "latest", "list_tokens", "revoke_token", "update"]

_USER_ID = re.compile(r"[a-z][a-z0-9_.-]{0,39}")


def check_user_id(user_id: str) -> None:
    """Raise :class:`~humsec.errors.HumsecError` unless ``user_id`` is 1-40 lower-case
    letters, digits, ``_``, ``.``, ``-`` starting with a letter."""
    if not _USER_ID.fullmatch(user_id or ""):
        raise HumsecError(f"invalid user id '{user_id}': use 1-40 lower-case letters, digits, '_', '.', '-'")


def count(con: duckdb.DuckDBPyConnection) -> int:
    """How many users (of any version) exist."""
    return int(con.execute("SELECT count(*) FROM users").fetchall()[0][0])


def latest(con: duckdb.DuckDBPyConnection, user_id: str) -> tuple | None:
    """The latest version of a user: ``(user_id, version, name, role, active)`` or None."""
    return con.execute(
        "SELECT user_id, version, name, role, active FROM users WHERE user_id = ? "
        "ORDER BY version DESC LIMIT 1", [user_id]).fetchone()


def identity(con: duckdb.DuckDBPyConnection, token: str | None) -> Identity:
    """Who ``token`` belongs to.

    Raises
    ------
    AuthError
        Malformed, unknown or revoked token, or a deactivated user.
    """
    token_id, secret = auth.parse_token(token)
    row = con.execute(
        "SELECT t.user_id, t.secret_sha256, r.token_id FROM tokens t "
        "LEFT JOIN token_revocations r ON r.token_id = t.token_id WHERE t.token_id = ?",
        [token_id]).fetchone()
    if row is None or not auth.verify_secret(secret, row[1]):
        raise AuthError("unknown API token")
    if row[2] is not None:
        raise AuthError(f"API token {token_id} has been revoked")
    user = latest(con, row[0])
    if user is None or not user[4]:
        raise AuthError(f"user '{row[0]}' is deactivated")
    return Identity(user_id=user[0], name=user[2], role=user[3], token_id=token_id)


def authorise(con: duckdb.DuckDBPyConnection, token: str | None, role: str, action: str) -> Identity:
    """The identity of ``token`` if its role is at least ``role`` (``action`` names what
    is refused in the :class:`~humsec.oversight.auth.PermissionDenied` message)."""
    ident = identity(con, token)
    auth.require(ident, role, action)
    return ident


def create_first_admin(con: duckdb.DuckDBPyConnection, user_id: str, name: str | None, label: str) -> str:
    """Insert the first administrator and its token (both audited); returns the token."""
    now = utc_now()
    con.execute("INSERT INTO users VALUES (?, 1, ?, 'admin', TRUE, ?, ?)",
                [user_id, name or user_id, now, user_id])
    token_id, secret, token = auth.new_token()
    con.execute("INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?)",
                [token_id, user_id, auth.hash_secret(secret), label, now, user_id])
    ident = Identity(user_id=user_id, name=name or user_id, role="admin", token_id=token_id)
    audit.append(con, ident, "init", "user", user_id, 1, None,
                 {"user_id": user_id, "name": name or user_id, "role": "admin"})
    audit.append(con, ident, "create", "token", token_id, None, None,
                 {"token_id": token_id, "user_id": user_id, "label": label})
    return token


def add(con: duckdb.DuckDBPyConnection, ident: Identity, user_id: str, *, role: str,
        name: str | None) -> dict:
    """Insert a new user (version 1, audited); returns its record."""
    if latest(con, user_id) is not None:
        raise HumsecError(f"user '{user_id}' already exists")
    rec = {"user_id": user_id, "name": name or user_id, "role": role, "active": True}
    con.execute("INSERT INTO users VALUES (?, 1, ?, ?, TRUE, ?, ?)",
                [user_id, rec["name"], role, utc_now(), ident.user_id])
    audit.append(con, ident, "create", "user", user_id, 1, None, rec)
    return rec


def update(con: duckdb.DuckDBPyConnection, ident: Identity, user_id: str, *, role: str | None,
           active: bool | None) -> dict:
    """Write a new version of a user with another role or active flag (audited)."""
    row = latest(con, user_id)
    if row is None:
        raise HumsecError(f"no user '{user_id}'")
    before = {"user_id": row[0], "name": row[2], "role": row[3], "active": row[4]}
    after = {**before, **({"role": role} if role else {}),
             **({"active": active} if active is not None else {})}
    con.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?)",
                [user_id, row[1] + 1, after["name"], after["role"], after["active"], utc_now(),
                 ident.user_id])
    audit.append(con, ident, "update", "user", user_id, row[1] + 1, before, after)
    return after


def current(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Current users: ``user_id, name, role, active, version``."""
    return con.execute(
        "SELECT user_id, name, role, active, version FROM users u WHERE version = "
        "(SELECT max(version) FROM users v WHERE v.user_id = u.user_id) ORDER BY user_id").df()


def add_token(con: duckdb.DuckDBPyConnection, ident: Identity, user_id: str, label: str) -> str:
    """A new token of an active user (its hash stored, audited); returns the token."""
    user = latest(con, user_id)
    if user is None or not user[4]:
        raise HumsecError(f"no active user '{user_id}'")
    token_id, secret, new = auth.new_token()
    con.execute("INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?)",
                [token_id, user_id, auth.hash_secret(secret), label, utc_now(), ident.user_id])
    audit.append(con, ident, "create", "token", token_id, None, None,
                 {"token_id": token_id, "user_id": user_id, "label": label})
    return new


def revoke_token(con: duckdb.DuckDBPyConnection, ident: Identity, token_id: str) -> None:
    """Revoke a token (audited): one's own, or anyone's for an administrator."""
    row = con.execute("SELECT user_id FROM tokens WHERE token_id = ?", [token_id]).fetchone()
    if row is None:
        raise HumsecError(f"no token with id '{token_id}'")
    if row[0] != ident.user_id:
        auth.require(ident, "admin", "revoke other users' tokens")
    if con.execute("SELECT 1 FROM token_revocations WHERE token_id = ?", [token_id]).fetchone():
        raise HumsecError(f"token {token_id} is already revoked")
    con.execute("INSERT INTO token_revocations VALUES (?, ?, ?)", [token_id, utc_now(), ident.user_id])
    audit.append(con, ident, "revoke", "token", token_id, None, {"revoked": False}, {"revoked": True})


def list_tokens(con: duckdb.DuckDBPyConnection, ident: Identity) -> pd.DataFrame:
    """Tokens visible to ``ident`` (all for administrators, else its own), never their
    secrets: ``token_id, user_id, label, created, revoked``."""
    sql = ("SELECT t.token_id, t.user_id, t.label, t.created, r.changed_at AS revoked FROM tokens t "
           "LEFT JOIN token_revocations r USING (token_id)")
    if ident.can("admin"):
        return con.execute(sql + " ORDER BY t.created").df()
    return con.execute(sql + " WHERE t.user_id = ? ORDER BY t.created", [ident.user_id]).df()
