"""Data-layer operations used by every shell (CLI, API, dashboard).

All take an explicit :class:`~humsec.settings.Settings`; nothing here runs at import.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import re
import unicodedata
from pathlib import Path

from humsec.data.importer import ImportResult, read_observations
from humsec.data.store import Snapshot, Store
from humsec.errors import HumsecError
from humsec.model.catalogue import Catalogue
from humsec.model.panel import Panel, Provenance
from humsec.settings import Settings

DEFAULT_DATASET = "default"


def open_store(settings: Settings) -> Store:
    return Store.open(settings)


def ensure_default(settings: Settings, store: Store | None = None) -> Snapshot:
    """Install the shipped data release into the store on first use (offline, once).

    The release is installed again (as a new snapshot version, old ones kept) only when
    the shipped release changes with a humsec upgrade.
    """
    # local: humsec.data.release loads the release builder and its readers (0.13 s), which
    # this module (loaded at CLI start-up) needs only on first use of a store
    from humsec.data import default as default_data

    store = store or open_store(settings)
    version = default_data.default_version()
    snaps = store.snapshots(DEFAULT_DATASET)
    if snaps and snaps[-1].meta.get("release_version") == version:
        return snaps[-1]
    return install_release(settings, default_data.default_release(), store=store, version=version)


def install_release(settings: Settings, release, *, store: Store | None = None,
                    version: str | None = None) -> Snapshot:
    """Store a data release as the next version of the ``default`` dataset.

    Only a shippable release (no test-only series) can become the default."""
    if not release.manifest.get("shippable", False):
        raise HumsecError(f"{release.path}: this release holds test-only series (built with "
                          "--include-test-only) and cannot be installed as the default")
    store = store or open_store(settings)
    m = release.manifest
    if version is None:
        from humsec.data.release.load import release_version  # local: 0.13 s, see ensure_default

        version = release_version(m)
    snap, _ = store.save_panel(
        DEFAULT_DATASET, release.panel, kind="default",
        origin=f"humsec data release {m['release']} ({m['released']})",
        meta={"release_version": version, "release": m["release"], "released": m["released"],
              "content_hash": m["content_hash"]}, update_meta=True)
    return snap


def _jsonable(report) -> object:
    if report is None:
        return None
    for attr in ("to_dict", "model_dump"):
        if hasattr(report, attr):
            try:
                return getattr(report, attr)()
            except Exception:  # pragma: no cover - report is informational only
                break
    try:
        if dataclasses.is_dataclass(report) and not isinstance(report, type):
            return json.loads(json.dumps(dataclasses.asdict(report), default=str))
    except Exception:  # pragma: no cover
        pass
    return str(report)


def catalogue(settings: Settings, store: Store | None = None) -> Catalogue:
    """The shipped catalogue plus the indicator entries brought by user imports."""
    base = Catalogue.default()
    store = store or open_store(settings)
    extra = store.catalogue_entries()
    new = [i for i in extra if i.code not in base]
    return Catalogue([*base, *new], version=base.version)


def current_panel(settings: Settings, store: Store | None = None) -> tuple[Panel, dict[str, str]]:
    """The default panel with the latest user datasets layered on top (see
    :meth:`Store.current_panel`)."""
    store = store or open_store(settings)
    ensure_default(settings, store)
    return store.current_panel()


def panel_for(settings: Settings, name: str, store: Store | None = None) -> Panel:
    """The panel of a dataset reference: ``NAME``, ``NAME@VERSION`` or ``current`` (the
    latest version of every dataset, layered); the embedded default is built on first use."""
    store = store or open_store(settings)
    if name == "current":
        return current_panel(settings, store)[0]
    if name.split("@")[0] == DEFAULT_DATASET:
        ensure_default(settings, store)
    return store.load_panel(name)


def dataset_name_for(path: str | Path) -> str:
    """A safe dataset name from an untrusted file name."""
    stem = Path(path).stem
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._-")[:64]
    return name or "dataset"


def upload_label(filename: str | None, default: str = "upload.csv") -> str:
    """A display name for a client-supplied file name: its last path component (``/`` or
    ``\\``), without control or format characters, at most 100 characters (the suffix
    kept). Used only in messages and provenance, never as a path."""
    base = re.split(r"[/\\]", filename or "")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if not base or base in {".", ".."}:
        return default
    if len(base) > 100:
        suffix = Path(base).suffix[:16]
        base = base[: 100 - len(suffix)] + suffix
    return base


def import_file(
    settings: Settings,
    path: str | Path,
    *,
    name: str | None = None,
    catalogue_file: str | Path | None = None,
    layout: str = "auto",
    sheet: str | None = None,
    year: int | None = None,
    source: str | None = None,
    licence: str | None = None,
    edition: str = "",
    store: Store | None = None,
    label: str | None = None,
) -> tuple[Snapshot, bool, ImportResult]:
    """Validate ``path`` and store it as a new snapshot of dataset ``name``.

    ``label`` names the file in errors, provenance and the snapshot's origin instead of
    ``path`` (an upload kept in a server temp file is named by the client's file name;
    the server's path never reaches the client).

    Returns
    -------
    (Snapshot, bool, ImportResult)
        The snapshot, whether a new version was created (``False`` if the content is
        identical to the latest version), and what was read.
    """
    store = store or open_store(settings)
    cat = catalogue(settings, store)
    user_cat = None
    if catalogue_file is not None:
        user_cat = Catalogue.from_file(catalogue_file)
        clash = [i.code for i in user_cat if i.code in cat and cat[i.code] != i]
        if clash:
            raise HumsecError(
                f"{catalogue_file}: indicator code(s) {', '.join(clash)} already exist with a "
                "different definition; choose new codes"
            )
        cat = Catalogue([*cat, *[i for i in user_cat if i.code not in cat]])
    shown = label or Path(path).name
    prov = Provenance(
        source=source or f"user file {shown}",
        edition=edition,
        accessed=_dt.date.today(),
        licence=licence or "unspecified (user data)",
        via="humsec data import",
    )
    result = read_observations(path, cat, layout=layout, sheet=sheet, default_year=year,
                               provenance=prov, label=label)
    dataset = name or dataset_name_for(label or path)
    if dataset == DEFAULT_DATASET:
        raise HumsecError("the name 'default' is reserved for the embedded default panel")
    snap, created = store.save_panel(
        dataset, result.panel, kind="import", origin=shown,
        indicators=user_cat, meta={"layout": result.layout, "rows": result.n_rows,
                                   "missing_dropped": result.missing_dropped},
    )
    return snap, created, result
