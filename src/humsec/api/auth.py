"""Who may write: API tokens for the write endpoints (the *editor* role).

This module is the only place the service decides authentication. By default tokens are
those of the oversight database (:meth:`humsec.oversight.db.OversightDB.authenticate`:
``hsk_<id>_<secret>`` tokens with viewer < editor < admin roles, created with
``humsec oversight token create``). A deployment without the oversight database can
instead give ``humsec serve --token-file FILE``: one token per line as ::

    ROLE  SHA256-HEX-OF-THE-TOKEN  [NAME]

(``#`` starts a comment; the file holds hashes, never the tokens themselves;
``python -c "import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())" TOKEN``).

Clients send ``Authorization: Bearer <token>`` (or ``X-API-Token: <token>``). A missing
or unknown token is ``401``, a token whose role is too low ``403``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

from fastapi import Request
from fastapi.security import HTTPBearer

from humsec.errors import HumsecError
from humsec.oversight.auth import ROLES, AuthError, Identity, PermissionDenied, require  # noqa: F401 (re-exported)
from humsec.oversight.db import OversightDB
from humsec.settings import Settings

__all__ = ["AuthError", "Authenticator", "Identity", "OversightTokens", "PermissionDenied", "TokenFile",
           "authenticator_for", "bearer_token", "require"]


#: Declares ``Authorization: Bearer`` in the OpenAPI document (the check itself is
#: :func:`identity` / the oversight database, so the scheme never rejects on its own).
BEARER = HTTPBearer(auto_error=False, scheme_name="apiToken",
                    description="An API token: oversight database tokens (hsk_...) or the service's token file.")


class Authenticator(Protocol):
    def authenticate(self, token: str | None) -> Identity: ...


def bearer_token(request: Request) -> str | None:
    """The token of a request: ``Authorization: Bearer …`` or ``X-API-Token``."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        return value.strip()
    token = request.headers.get("x-api-token")
    return token.strip() if token else None


def required_token(request: Request) -> str:
    """The request's token, or a 401 telling how to send one."""
    token = bearer_token(request)
    if not token:
        raise AuthError("this endpoint needs an API token: send 'Authorization: Bearer <token>'")
    return token


class OversightTokens:
    """Tokens, users and roles of the oversight database of ``settings``.

    Checking a token opens the database (30-50 ms). An accepted token's identity is
    therefore remembered together with the *signature* of the database files (size and
    modification time of ``oversight.duckdb`` and its write-ahead log), taken before the
    check: any write to the database since - a revoked token, a deactivated user, a new
    role, by this process or the CLI - changes the signature and the token is checked
    again. Rejected tokens are never remembered.
    """

    #: Identities remembered (least recently used dropped first).
    max_entries = 1024

    def __init__(self, settings: Settings):
        self.settings = settings
        self._db: Any = None
        self._known: OrderedDict[str, tuple[tuple, Identity]] = OrderedDict()
        self._lock = threading.Lock()

    def db(self) -> Any:
        if self._db is None:
            self._db = OversightDB.open(self.settings)
        return self._db

    def _signature(self) -> tuple:
        sig: list[tuple[int, int, int] | None] = []
        for p in (self.db().path, Path(str(self.db().path) + ".wal")):
            try:
                st = p.stat()
                sig.append((st.st_size, st.st_mtime_ns, st.st_ino))
            except OSError:
                sig.append(None)
        return tuple(sig)

    def authenticate(self, token: str | None) -> Identity:
        if not token:
            raise AuthError("this endpoint needs an API token: send 'Authorization: Bearer <token>'")
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        sig = self._signature()
        with self._lock:
            hit = self._known.get(key)
            if hit is not None and hit[0] == sig:
                self._known.move_to_end(key)
                return hit[1]
        ident = self.db().authenticate(token)
        with self._lock:
            self._known[key] = (sig, ident)
            while len(self._known) > self.max_entries:
                self._known.popitem(last=False)
        return ident


_LINE = re.compile(r"^(?P<role>[a-z]+)\s+(?P<hash>[0-9a-fA-F]{64})(?:\s+(?P<name>\S.*))?$")


class TokenFile:
    """Service tokens from a file of ``ROLE SHA256 [NAME]`` lines (see the module doc)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: list[tuple[str, str, str]] = []
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise HumsecError(f"cannot read the token file {self.path}: {exc.strerror}") from None
        for n, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            m = _LINE.fullmatch(line)
            if m is None or m["role"] not in ROLES:
                raise HumsecError(f"{self.path}, line {n}: expected 'ROLE SHA256 [NAME]' with ROLE one of "
                                  f"{', '.join(ROLES)} and a 64-digit hex SHA-256 of the token")
            self.entries.append((m["role"], m["hash"].lower(), m["name"] or f"token-file line {n}"))
        if not self.entries:
            raise HumsecError(f"the token file {self.path} holds no token")

    def authenticate(self, token: str | None) -> Identity:
        if not token:
            raise AuthError("this endpoint needs an API token: send 'Authorization: Bearer <token>'")
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        found = None
        for role, h, name in self.entries:  # compare with every entry: no early exit
            if hmac.compare_digest(digest, h):
                found = (role, h, name)
        if found is None:
            raise AuthError("unknown API token")
        role, h, name = found
        return Identity(user_id=name, name=name, role=role, token_id=h[:16])


def authenticator_for(settings: Settings, token_file: Path | None) -> Authenticator:
    """The token file's tokens when given, else the oversight database's."""
    return TokenFile(token_file) if token_file is not None else OversightTokens(settings)


def identity(request: Request, role: str, action: str) -> Identity:
    """Authenticate the request's token and require ``role`` (401 / 403 otherwise)."""
    ident = request.app.state.authenticator.authenticate(bearer_token(request))
    require(ident, role, action)
    return ident
