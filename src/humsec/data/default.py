"""The embedded default: the data release shipped inside the package.

The default is not built at run time: ``humsec data release build`` builds a release from
the publishers' files (:mod:`humsec.data.release`) and the project ships the result in
``humsec/data/shipped/`` (compact Parquet, a manifest with per-indicator content hashes
and licence decisions). :func:`default_panel` reads it - offline, in about a second - and
the store keeps it as the ``default`` dataset (see :func:`humsec.data.service.ensure_default`).
"""

from __future__ import annotations

import json

from humsec.data.release.load import Release, load_release, release_version, shipped_release_dir

__all__ = ["default_release", "default_version"]


def default_release(*, verify: bool = True) -> Release:
    """The shipped data release (checked against its manifest)."""
    return load_release(shipped_release_dir(), verify=verify)


def default_version() -> str:
    """A key that changes whenever the shipped release changes (release id + content hash);
    the store installs the shipped release again when it differs."""
    manifest = json.loads((shipped_release_dir() / "manifest.json").read_text(encoding="utf-8"))
    return release_version(manifest)
