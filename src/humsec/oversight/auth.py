"""Roles, identities and API tokens of the oversight database.

Roles are ordered: ``viewer`` (read) < ``editor`` (change commitments, budgets, tags,
record statuses) < ``admin`` (also manage users and tokens).

Tokens
------
A token is ``hsk_<id>_<secret>``: ``id`` is 16 random hex digits (public, used to find the
token's row) and ``secret`` is ``secrets.token_urlsafe(32)`` (256 random bits). Only
``sha256(secret)`` is stored. A slow, salted hash (scrypt, PBKDF2) protects *low-entropy*
secrets such as passwords against guessing; a 256-bit random secret cannot be guessed,
so one SHA-256 is enough and keeps verification cheap for an API. The hash is compared
in constant time (:func:`hmac.compare_digest`) after the row is found by its id, so
neither the lookup nor the comparison leaks the secret through timing. The token itself
is shown once, when it is created, and never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from humsec.errors import HumsecError

__all__ = ["ROLES", "AuthError", "Identity", "PermissionDenied", "hash_secret", "new_token", "parse_token",
           "require", "verify_secret"]

ROLES: tuple[str, ...] = ("viewer", "editor", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}
PREFIX = "hsk"
_TOKEN = re.compile(r"^hsk_([0-9a-f]{16})_([A-Za-z0-9_-]{20,200})$")


class AuthError(HumsecError):
    """Missing, malformed, unknown or revoked token (exit code 3)."""

    exit_code = 3


class PermissionDenied(HumsecError):
    """The identity's role does not allow the action (exit code 3)."""

    exit_code = 3


@dataclass(frozen=True)
class Identity:
    """Who is acting: resolved from a token by :meth:`OversightDB.authenticate`.

    Attributes
    ----------
    user_id, name, role : str
    token_id : str
        Id of the token used (recorded in the audit log).
    """

    user_id: str
    name: str
    role: str
    token_id: str

    def can(self, role: str) -> bool:
        """Whether this identity has at least ``role``."""
        return _RANK[self.role] >= _RANK[role]


def require(identity: Identity, role: str, action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``identity`` has at least ``role``."""
    if role not in _RANK:
        raise ValueError(f"unknown role {role!r}")
    if not identity.can(role):
        raise PermissionDenied(f"{identity.name} ({identity.role}) may not {action}: "
                               f"it needs the {role} role")


def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES`, else a :class:`HumsecError`."""
    if role not in _RANK:
        raise HumsecError(f"unknown role '{role}': expected one of {', '.join(ROLES)}")
    return role


def hash_secret(secret: str) -> str:
    """SHA-256 (hex) of a token secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def verify_secret(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret).encode("ascii"), stored_hash.encode("ascii"))


def new_token() -> tuple[str, str, str]:
    """A fresh token: ``(token_id, secret, token)``."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return token_id, secret, f"{PREFIX}_{token_id}_{secret}"


def parse_token(token: str | None) -> tuple[str, str]:
    """``(token_id, secret)`` of a token string, or :class:`AuthError`."""
    if not token:
        raise AuthError("no API token given: pass --token or set HUMSEC_TOKEN "
                        "(an administrator creates tokens with 'humsec oversight token create')")
    m = _TOKEN.fullmatch(token.strip())
    if m is None:
        raise AuthError("malformed API token (expected hsk_<id>_<secret>)")
    return m.group(1), m.group(2)
