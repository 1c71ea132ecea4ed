"""Shared fixtures.

Tests that need the real public data sets in ``../shared/data`` (beside the repository,
or wherever ``HUMSEC_SHARED_DATA`` points) use the ``shared_data`` fixture, which skips
with a clear reason when they are absent. Tests that reproduce published figures use
``published_data``, which falls back to the extract in ``tests/data/published``.
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


PUBLISHED_EXTRACT = REPO / "tests" / "data" / "published"


@pytest.fixture(scope="session")
def published_data() -> Path:
    """Published reference figures: the shared-data directory when present, else the small,
    openly licensed extract in ``tests/data/published`` (same ``<folder>/<file>`` layout,
    byte-identical rows; see tests/data/README.md and make_published_extract.py), so the
    published-number tests also run on a clean clone. Tests that need a whole data set
    (every country-year, full-table counts) keep using ``shared_data``."""
    d = shared_data_dir()
    return d if d is not None else PUBLISHED_EXTRACT


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
