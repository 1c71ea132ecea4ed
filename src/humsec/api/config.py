"""Configuration of the observatory service (beside :class:`humsec.settings.Settings`,
which says where the data live)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar
import hashlib

from pydantic import BaseModel, ConfigDict, Field

from humsec.analysis.assess import DEFAULT_RUNS, DEFAULT_SEED


class ServiceConfig(BaseModel):
    """How the REST API and dashboard serve the library.

    Parameters
    ----------
    host, port : str, int
        Where ``humsec serve`` listens (loopback by default).
    token_file : Path, optional
        Service tokens for the write endpoints instead of the oversight database's
        tokens: one ``ROLE SHA256-OF-TOKEN [NAME]`` per line (see :mod:`humsec.api.auth`).
    runs, seed : int
        Monte Carlo runs and seed of the rank intervals of assessments.
    max_runs : int
        Largest ``runs`` a client may ask for.
    trend_runs : int
        Runs per year behind the uncertainty bands of trend charts.
    trend_years : int
        Years of history in trends (before the assessment year).
    max_age : int
        ``Cache-Control: max-age`` (seconds) of read endpoints.
    cache_entries : int
        Results kept in the per-app cache (least recently used dropped first).
    response_entries : int
        Encoded answers kept in the response cache (:mod:`humsec.api.cache`).
    persist_cache : bool
        Keep the response cache on disk (under the store's directory) so that a later
        start with the same data, version and configuration is warm at once.
    refresh_seconds : float
        How often the store is checked for new snapshots (which invalidate the cache).
    max_upload_bytes : int
        Largest data file accepted by ``POST /api/v1/datasets``.
    preload : bool
        Warm the response cache at start-up: from the disk cache when one matches the
        data, before the server accepts requests (about 2 s); else by computing every
        read view - in the background while the server already answers (computing each
        view on first use meanwhile), or before accepting requests with ``preload_wait``.
    preload_wait : bool
        With ``preload``: accept requests only once every read view is warm, even when
        that means computing them all (minutes, once per data version) - for
        deployments behind a readiness check, and the load benchmark.
    allowed_hosts : tuple of str
        ``Host`` header values the service answers (others get 400; DNS-rebinding and
        host-header injection guard). Empty: the loopback names, ``testserver`` and
        ``host`` itself; ``("*",)`` accepts any (behind a proxy that checks it).
    header_timeout : float
        Seconds a client has to send a request's complete headers before the
        connection is closed (slow-loris guard; ``humsec serve``).
    gzip_min_bytes : int
        Answers at least this large are gzip-compressed for clients that accept it.
    """

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    token_file: Path | None = None
    runs: int = Field(default=DEFAULT_RUNS, ge=0)
    seed: int = DEFAULT_SEED
    max_runs: int = Field(default=1000, ge=0)
    trend_runs: int = Field(default=50, ge=0)
    trend_years: int = Field(default=10, ge=1, le=50)
    max_age: int = Field(default=300, ge=0)
    cache_entries: int = Field(default=4096, ge=16)
    response_entries: int = Field(default=8192, ge=16)
    persist_cache: bool = True
    refresh_seconds: float = Field(default=5.0, ge=0)
    max_upload_bytes: int = Field(default=20 * 2**20, gt=0)
    preload: bool = False
    preload_wait: bool = False
    allowed_hosts: tuple[str, ...] = ()
    header_timeout: float = Field(default=10.0, gt=0)
    gzip_min_bytes: int = Field(default=1024, ge=0)

    #: The fields that shape the answers (ETags and the response cache depend on these
    #: only: a server on another port or with another token file answers the same).
    ANSWER_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"runs", "seed", "max_runs", "trend_runs", "trend_years", "max_age", "gzip_min_bytes"})

    def answer_tag(self) -> str:
        """A short hash of :attr:`ANSWER_FIELDS`."""
        return hashlib.sha256(self.model_dump_json(include=set(self.ANSWER_FIELDS)).encode()).hexdigest()[:16]

    def trusted_hosts(self) -> list[str]:
        """The ``Host`` names accepted (see ``allowed_hosts``)."""
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        hosts = ["127.0.0.1", "localhost", "::1", "[::1]", "testserver"]
        if self.host not in ("0.0.0.0", "::", "") and self.host not in hosts:
            hosts.append(self.host)
        return hosts
