"""Explicit configuration: no singletons, no import-time side effects."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

ENV_HOME = "HUMSEC_HOME"
ENV_SHARED = "HUMSEC_SHARED_DATA"


def _default_home() -> Path:
    # local: 4 ms at import, paid only when $HUMSEC_HOME is unset (CLI start-up)
    import platformdirs

    return Path(platformdirs.user_data_dir("humsec", appauthor=False))


class FetchSettings(BaseModel):
    """How connectors talk to the network (see :mod:`humsec.data.connectors`).

    Parameters
    ----------
    timeout : float
        Seconds to wait for a connection or for the next bytes of an answer.
    retries : int
        How many times a failed request (timeout, dropped connection, HTTP 429 or 5xx)
        is retried before giving up.
    backoff : float
        First wait before a retry, in seconds; doubled at every further retry.
    max_backoff : float
        Longest wait between two attempts (also caps a server's ``Retry-After``).
    user_agent : str
        ``User-Agent`` header sent with every request.
    tokens : tuple of (str, str)
        Access tokens as (source id, token) pairs for sources that require one (UCDP);
        read from ``HUMSEC_TOKEN_<SOURCE>`` variables by :meth:`from_env`. Never printed.
    """

    model_config = ConfigDict(frozen=True)

    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: float = Field(default=1.0, ge=0)
    max_backoff: float = Field(default=60.0, ge=0)
    user_agent: str = "humsec (Human Security Observatory; +https://pypi.org/project/humsec/)"
    tokens: tuple[tuple[str, str], ...] = Field(default=(), repr=False)

    def token(self, source: str) -> str | None:
        """The access token configured for ``source``, if any."""
        return dict(self.tokens).get(source.lower())

    @classmethod
    def from_env(cls) -> "FetchSettings":
        """Tokens from ``HUMSEC_TOKEN_<SOURCE>`` variables (source id upper-cased)."""
        prefix = "HUMSEC_TOKEN_"
        tokens = tuple(sorted((k[len(prefix):].lower(), v) for k, v in os.environ.items()
                              if k.startswith(prefix) and v))
        return cls(tokens=tokens)


class Settings(BaseModel):
    """Where humsec keeps its state.

    Parameters
    ----------
    home : Path
        Data directory holding the DuckDB store (``humsec.duckdb``). Defaults to the
        user's data directory, overridable with the ``HUMSEC_HOME`` environment variable.
    progress : bool
        Show progress bars for long operations (building the default panel, imports).
    fetch : FetchSettings
        Network settings of the data connectors (timeouts, retries, back-off).
    """

    model_config = ConfigDict(frozen=True)

    home: Path = Field(default_factory=_default_home)
    progress: bool = True
    fetch: FetchSettings = Field(default_factory=FetchSettings)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Settings from the environment (``HUMSEC_HOME``), with explicit overrides."""
        values: dict = {}
        if os.environ.get(ENV_HOME):
            values["home"] = Path(os.environ[ENV_HOME]).expanduser()
        values["fetch"] = FetchSettings.from_env()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def db_path(self) -> Path:
        return Path(self.home) / "humsec.duckdb"

    @property
    def downloads_dir(self) -> Path:
        """Where connectors keep (partial) downloads of large files."""
        return Path(self.home) / "downloads"
