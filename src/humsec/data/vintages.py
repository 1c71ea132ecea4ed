"""Vintages: every fetch is an immutable snapshot; compare two vintages of a dataset.

A *vintage* is a snapshot of kind ``"fetch"`` in the :class:`~humsec.data.store.Store`,
holding the observations, one :class:`~humsec.model.panel.Provenance` per indicator
(source, edition, date accessed, licence, URL, content hash) and, in the snapshot's
``meta``, the query, every URL requested and the SHA-256 of the raw answers. Fetching
again creates the next version when anything changed (sources revise back years: HDR
re-estimates its whole series every edition); an identical answer creates none.

:func:`diff_panels` lists revisions between two panels: values *added* (key only in the
newer), *removed* (only in the older) and *changed* (different value), with the old and
new value, the revision ``new - old`` and the relative revision ``(new - old) / |old|``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from humsec.data.connectors import SourceRegistry, fetch, resolve_query
from humsec.data.store import Snapshot, Store
from humsec.errors import HumsecError
from humsec.model.panel import KEY_COLUMNS, Panel
from humsec.settings import Settings

__all__ = ["DIFF_COLUMNS", "Revisions", "dataset_name", "diff_panels", "diff_snapshots",
           "fetch_to_store", "save_vintage"]

DIFF_COLUMNS: tuple[str, ...] = ("indicator", "unit", "year", "sex", "age", "group", "change",
                                 "old", "new", "revision", "relative")


@dataclass(frozen=True)
class Revisions:
    """The revisions between two vintages.

    Attributes
    ----------
    old_ref, new_ref : str
        Snapshot references (``NAME@VERSION``) or labels.
    table : pandas.DataFrame
        One row per added, removed or changed value (:data:`DIFF_COLUMNS`), sorted by
        indicator, unit, year.
    unchanged : int
        Values present and equal in both.
    """

    old_ref: str
    new_ref: str
    table: pd.DataFrame
    unchanged: int

    def summary(self) -> pd.DataFrame:
        """Per indicator: counts of added/removed/changed values and the largest
        absolute revision."""
        t = self.table
        if t.empty:
            return pd.DataFrame(columns=["indicator", "added", "removed", "changed",
                                         "max_abs_revision"])
        out = t.pivot_table(index="indicator", columns="change", values="unit",
                            aggfunc="size", fill_value=0)
        for c in ("added", "removed", "changed"):
            if c not in out.columns:
                out[c] = 0
        out = out[["added", "removed", "changed"]]
        out["max_abs_revision"] = t.assign(a=t["revision"].abs()).groupby("indicator")["a"].max()
        return out.reset_index()

    def __len__(self) -> int:
        return len(self.table)


def diff_panels(old: Panel, new: Panel, *, old_ref: str = "old", new_ref: str = "new",
                tolerance: float = 0.0) -> Revisions:
    """Revisions from ``old`` to ``new``.

    Parameters
    ----------
    tolerance : float
        Absolute differences up to this are not revisions (default 0: any change).
        Two missing values are equal; missing -> number (or back) is a change.
    """
    keys = list(KEY_COLUMNS)
    a = old.data.rename(columns={"value": "old"})
    b = new.data.rename(columns={"value": "new"})
    m = a.merge(b, on=keys, how="outer", indicator=True)
    change = pd.Series("changed", index=m.index, dtype=object)
    change[m["_merge"] == "left_only"] = "removed"
    change[m["_merge"] == "right_only"] = "added"
    both = m["_merge"] == "both"
    o, n = m["old"].to_numpy(dtype=float), m["new"].to_numpy(dtype=float)
    same_nan = np.isnan(o) & np.isnan(n)
    with np.errstate(invalid="ignore"):
        equal = same_nan | (np.abs(n - o) <= tolerance)
    unchanged_mask = both.to_numpy() & equal
    m = m.assign(change=change)[~unchanged_mask]
    with np.errstate(invalid="ignore", divide="ignore"):
        rev = m["new"] - m["old"]
        rel = rev / m["old"].abs()
    m = m.assign(revision=rev, relative=rel.replace([np.inf, -np.inf], np.nan))
    table = m[list(DIFF_COLUMNS)].sort_values(["indicator", "unit", "year", "sex", "age", "group"],
                                              kind="mergesort").reset_index(drop=True)
    return Revisions(old_ref, new_ref, table, int(unchanged_mask.sum()))


def diff_snapshots(store: Store, dataset: str, *, from_version: int | None = None,
                   to_version: int | None = None, tolerance: float = 0.0) -> Revisions:
    """Revisions between two versions of ``dataset`` (default: the last two)."""
    snaps = store.snapshots(dataset)
    if not snaps:
        store.resolve(dataset)  # raises the "no dataset" error with the known names
    versions = [s.version for s in snaps]
    to_v = to_version if to_version is not None else versions[-1]
    if from_version is not None:
        from_v = from_version
    else:
        earlier = [v for v in versions if v < to_v]
        if not earlier:
            raise HumsecError(
                f"dataset '{dataset}' has only version {to_v} up to there: nothing to compare "
                "(fetch again to create a new vintage, or give --from)")
        from_v = earlier[-1]
    old_snap = store.resolve(f"{dataset}@{from_v}")
    new_snap = store.resolve(f"{dataset}@{to_v}")
    return diff_panels(store.load_panel(old_snap.ref), store.load_panel(new_snap.ref),
                       old_ref=old_snap.ref, new_ref=new_snap.ref, tolerance=tolerance)


def dataset_name(spec, series: tuple[str, ...] | None = None) -> str:
    """Default dataset of a fetch: the source id, or ``source-<indicator codes>`` when
    only some series are fetched (so that a partial fetch never looks like the other
    indicators were removed in a diff)."""
    source_id = spec.id
    if not series or set(series) == set(spec.indicators):
        return source_id
    codes = {spec.indicators[s].code if s in spec.indicators else s for s in series}
    tail = "-".join(sorted(re.sub(r"[^A-Za-z0-9_.]+", "_", c) for c in codes))
    name = f"{source_id}-{tail}"
    if len(name) > 64:
        name = f"{source_id}-{hashlib.sha256(tail.encode()).hexdigest()[:12]}"
    return name


def save_vintage(store: Store, result, *, name: str | None = None) -> tuple[Snapshot, bool]:
    """Store a :class:`~humsec.data.connectors.FetchResult` as the next vintage.

    Returns
    -------
    (Snapshot, bool)
        The snapshot and whether it is new (``False``: same values as the latest vintage).
    """
    spec, q = result.source, result.query
    dataset = name or dataset_name(spec, q.codes)
    if dataset == "default":
        raise HumsecError("the name 'default' is reserved for the embedded default panel")
    if len(result.panel) == 0:
        raise HumsecError(f"{spec.id} returned no observations for this query; nothing stored"
                          + ("" if not result.report.lines() else
                             " (" + "; ".join(result.report.lines()) + ")"))
    meta = {
        "source": spec.id, "title": spec.title, "edition": result.edition,
        "accessed": result.accessed.isoformat(), "licence": spec.licence,
        "query": {"series": list(q.codes), "countries": list(q.countries or []),
                  "since": q.since, "until": q.until},
        "urls": list(result.urls)[:1000], "n_requests": len(result.urls),
        "payload_sha256": result.payload_sha256,
        "report": {k: (list(v) if isinstance(v, tuple) else v)
                   for k, v in result.report.__dict__.items() if k != "fuzzy"},
    }
    return store.save_panel(dataset, result.panel, kind="fetch",
                            origin=f"{spec.id} {result.edition}".strip(),
                            note=f"fetched {result.accessed.isoformat()} from {spec.host}",
                            indicators=result.catalogue if len(result.catalogue) else None,
                            meta=meta)


def fetch_to_store(settings: Settings, source: str, indicators=(), *, countries=None,
                   since: int | None = None, until: int | None = None, name: str | None = None,
                   store: Store | None = None, fetcher=None, registry=None, progress=None):
    """Fetch ``source`` and store the result as a new vintage.

    Returns
    -------
    (Snapshot, bool, FetchResult)
    """
    registry = registry or SourceRegistry.default()
    spec = registry[source]
    query = resolve_query(spec, indicators, countries=countries, since=since, until=until)
    result = fetch(spec, query, settings=settings, fetcher=fetcher, registry=registry,
                   progress=progress)
    store = store or Store.open(settings)
    snap, created = save_vintage(store, result, name=name)
    return snap, created, result
