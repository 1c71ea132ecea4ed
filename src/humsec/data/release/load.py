"""Reading a written data release (the shipped one inside the package, or any directory).

A release directory holds ``observations.parquet`` (tidy: ``unit, year, indicator, sex,
age, group, value``), ``displacement.parquet`` (``origin, asylum, year, measure,
population_type, value``), ``catalogue.yaml``, ``provenance.json`` and ``manifest.json``, and, when
the recipe has a geography, ``outlines.json`` and ``geography.json``
(:mod:`humsec.data.release.outlines`).
:func:`load_release` checks that every file is there and that the observations (and the geography files) still have
the content hashes the manifest records (a damaged or hand-edited release is refused).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from humsec.errors import HumsecError
from humsec.model.catalogue import Catalogue
from humsec.model.panel import Panel, Provenance

__all__ = ["Release", "load_release", "release_version", "shipped_release_dir"]

FILES = ("observations.parquet", "displacement.parquet", "catalogue.yaml", "provenance.json", "manifest.json")


def shipped_release_dir() -> Path:
    """The directory of the release shipped inside the package (``humsec/data/shipped``)."""
    return Path(str(resources.files("humsec.data").joinpath("shipped")))


def release_version(manifest: dict) -> str:
    """A key that changes whenever a release's data change: release id + content hash
    (``2026.1+9b4c4a5856ddb7ef``)."""
    return f"{manifest['release']}+{str(manifest['content_hash']).split(':')[-1][:16]}"


@dataclass(frozen=True)
class Release:
    """A data release: the panel, the displacement matrix, the catalogue and the manifest."""

    path: Path
    panel: Panel
    displacement: pd.DataFrame
    catalogue: Catalogue
    manifest: dict

    @property
    def version(self) -> str:
        return str(self.manifest["release"])

    @property
    def content_hash(self) -> str:
        return str(self.manifest["content_hash"])


def load_release(path: str | Path | None = None, *, verify: bool = True) -> Release:
    """Read a release directory (default: the shipped release).

    Parameters
    ----------
    verify : bool
        Compare every indicator's content hash with the manifest.

    Raises
    ------
    HumsecError
        A file is missing or unreadable, or the data do not match the manifest.
    """
    root = Path(path).expanduser() if path is not None else shipped_release_dir()
    if not root.is_dir():
        raise HumsecError(f"{root}: no data release here (expected a directory holding {', '.join(FILES)})")
    missing = [f for f in FILES if not (root / f).is_file()]
    if missing:
        raise HumsecError(f"{root}: incomplete data release, missing {', '.join(missing)}")
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        prov_raw = json.loads((root / "provenance.json").read_text(encoding="utf-8"))
        obs = pd.read_parquet(root / "observations.parquet")
        disp = pd.read_parquet(root / "displacement.parquet")
    except (OSError, ValueError) as exc:
        raise HumsecError(f"{root}: unreadable data release ({exc})") from None
    for col in ("unit", "indicator", "sex", "age", "group"):
        obs[col] = obs[col].astype(str)
    obs["year"] = obs["year"].astype("int64")
    for col in ("origin", "asylum", "measure", "population_type"):
        if col in disp.columns:
            disp[col] = disp[col].astype(str)
    provenance = {c: Provenance.model_validate(r) for c, r in prov_raw.items()}
    panel = Panel(obs, provenance)
    if verify:
        bad = [c for c, rec in manifest.get("indicators", {}).items()
               if c not in panel.provenance or "sha256:" + panel.provenance[c].content_hash != rec["content_hash"]]
        if bad:
            raise HumsecError(f"{root}: the observations of {', '.join(sorted(bad)[:10])} do not match the "
                              "release manifest (damaged or edited release); rebuild it")
    for name, rec in (manifest.get("geography") or {}).get("files", {}).items():
        f = root / name
        if not f.is_file():
            raise HumsecError(f"{root}: incomplete data release, missing {name}")
        if verify and "sha256:" + hashlib.sha256(f.read_bytes()).hexdigest() != rec["content_hash"]:
            raise HumsecError(f"{root}: {name} does not match the release manifest (damaged or edited release); "
                              "rebuild it")
    catalogue = Catalogue.from_file(root / "catalogue.yaml")
    return Release(root, panel, disp, catalogue, manifest)
