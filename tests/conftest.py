"""Shared fixtures.

Tests that need the real public data sets in ``../shared/data`` (beside the repository,
or wherever ``HUMSEC_SHARED_DATA`` points) use the ``shared_data`` fixture, which skips
with a clear reason when they are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    env = os.environ.get("HUMSEC_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data is absent (set HUMSEC_SHARED_DATA to run real-data tests)")
    return d


@pytest.fixture()
def settings(tmp_path):
    """Settings with a fresh, empty data directory."""
    from humsec.settings import Settings

    return Settings(home=tmp_path / "home", progress=False)


@pytest.fixture(scope="session")
def default_env(tmp_path_factory):
    """(settings, panel, catalogue) of the embedded default panel, built once per test
    session into a temporary home (a few seconds); read-only for the tests."""
    from humsec.data import service
    from humsec.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("default_home"), progress=False)
    panel, _ = service.current_panel(settings)
    return settings, panel, service.catalogue(settings)
