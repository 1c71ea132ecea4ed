"""Explicit configuration: no singletons, no import-time side effects."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

ENV_HOME = "HUMSEC_HOME"
ENV_SHARED = "HUMSEC_SHARED_DATA"


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("humsec", appauthor=False))


class Settings(BaseModel):
    """Where humsec keeps its state.

    Parameters
    ----------
    home : Path
        Data directory holding the DuckDB store (``humsec.duckdb``). Defaults to the
        user's data directory, overridable with the ``HUMSEC_HOME`` environment variable.
    progress : bool
        Show progress bars for long operations (building the default panel, imports).
    """

    model_config = ConfigDict(frozen=True)

    home: Path = Field(default_factory=_default_home)
    progress: bool = True

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Settings from the environment (``HUMSEC_HOME``), with explicit overrides."""
        values: dict = {}
        if os.environ.get(ENV_HOME):
            values["home"] = Path(os.environ[ENV_HOME]).expanduser()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def db_path(self) -> Path:
        return Path(self.home) / "humsec.duckdb"
