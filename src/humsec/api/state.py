"""The per-app state of the observatory service: the data it serves and an explicit
cache of expensive results (assessments, briefs, rendered responses).

One :class:`Observatory` belongs to one app (``app.state.observatory``); nothing is kept
in module globals. Results are keyed by the *fingerprint* of the store's snapshots, so a
new import (through the API, or by ``humsec data import`` in another process, noticed
within ``refresh_seconds``) makes every cached result stale at once.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from humsec.api.config import ServiceConfig
from humsec.errors import HumsecError
from humsec.settings import Settings
from humsec.analysis.assess import assess, default_year, history, index_data
from humsec.data.countries import CountryRegistry
from humsec.index.builtin import builtin_names, load_spec

T = TypeVar("T")


class ResultCache:
    """A bounded least-recently-used map of computed results.

    :meth:`get_or_compute` runs the computation of a key once even when many threads ask
    for it at the same time (the others wait for the first); errors are not cached.
    """

    def __init__(self, max_entries: int = 4096):
        self.max_entries = int(max_entries)
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
        return default

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        missing = object()
        value = self.get(key, missing)
        if value is not missing:
            return value
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            value = self.get(key, missing)
            if value is not missing:
                return value
            self.misses += 1
            try:
                value = compute()
                self.put(key, value)
            finally:
                with self._lock:
                    self._key_locks.pop(key, None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def items(self) -> list[tuple[Hashable, Any]]:
        """A snapshot of the (key, value) pairs, least recently used first."""
        with self._lock:
            return list(self._data.items())


@dataclass(frozen=True)
class Inputs:
    """The data the service answers from: the current panel (all datasets layered),
    the catalogue and the fingerprint of the snapshots they came from.

    ``catalogue`` may be given as a function that reads it: it is then read on first
    use (a request that needs no indicator metadata, such as the alerts, does not wait
    for it)."""

    panel: Any
    origin: dict[str, str]
    catalogue_source: Any
    fingerprint: str
    snapshots: tuple[Any, ...]

    @functools.cached_property
    def catalogue(self) -> Any:
        src = self.catalogue_source
        return src() if callable(src) else src


def snapshots_fingerprint(snapshots: list[Any]) -> str:
    """SHA-256 over the reference and content hash of every stored snapshot."""
    h = hashlib.sha256()
    for s in sorted(snapshots, key=lambda s: (s.dataset, s.version)):
        h.update(f"{s.ref}\x1f{s.content_hash}\x1e".encode())
    return h.hexdigest()


class Observatory:
    """Data, settings and cached results of one service instance.

    Parameters
    ----------
    settings : Settings
        Where the store is (``settings.home``).
    config : ServiceConfig
    """

    def __init__(self, settings: Settings, config: ServiceConfig):
        self.settings = settings
        self.config = config
        self.cache = ResultCache(config.cache_entries)
        #: Encoded answers of the response cache (:mod:`humsec.api.cache`), keyed by
        #: (fingerprint, method, path, query, format).
        self.responses = ResultCache(config.response_entries)
        #: The :class:`humsec.api.cache.ResponseCache` middleware of the app, once built.
        self.response_cache: Any = None
        self._lock = threading.RLock()
        self._store: Any = None
        self._inputs: Inputs | None = None
        self._registry: Any = None
        self._registry_lock = threading.Lock()
        self._checked = 0.0
        self.config_tag = config.answer_tag()

    # -- data ------------------------------------------------------------------------
    def store(self) -> Any:
        from humsec.data import service

        with self._lock:
            if self._store is None:
                self._store = service.open_store(self.settings)
            return self._store

    def inputs(self) -> Inputs:
        """The current inputs; reloaded when the store's snapshots changed (checked at
        most every ``refresh_seconds``)."""
        with self._lock:
            now = time.monotonic()
            if self._inputs is not None and now - self._checked < self.config.refresh_seconds:
                return self._inputs
            if self._inputs is not None:
                try:
                    fp = snapshots_fingerprint(self.store().snapshots())
                except HumsecError:  # store busy with a write: keep serving what we have
                    return self._inputs
                self._checked = now
                if fp == self._inputs.fingerprint:
                    return self._inputs
            self._inputs = self._load()
            self._checked = time.monotonic()
            self.cache.clear()
            self.responses.clear()
            return self._inputs

    def known_fingerprint(self) -> str | None:
        """The fingerprint of the loaded inputs if the store was checked less than
        ``refresh_seconds`` ago, else None (then :meth:`inputs` checks it: call it off the
        event loop). Never blocks."""
        inp = self._inputs
        if inp is None or time.monotonic() - self._checked >= self.config.refresh_seconds:
            return None
        return inp.fingerprint

    def refresh(self) -> Inputs:
        """Reload now (after a write through the API)."""
        with self._lock:
            self._checked = -1e18
            return self.inputs()

    def _load(self) -> Inputs:
        from humsec.data import service

        # The country registry's first construction fills hdx-python-country's class-level
        # tables and is not thread-safe: build it here, under the lock, before any request
        # thread can reach library code that constructs one (Assessment.ranking() ...).
        self.registry()
        store = self.store()
        panel, origin = service.current_panel(self.settings, store)
        snaps = store.snapshots()
        lock = threading.Lock()

        def catalogue() -> Any:
            with lock:  # one read even when the first requests that need it come together
                if not hasattr(catalogue, "value"):
                    catalogue.value = service.catalogue(self.settings, store)  # type: ignore[attr-defined]
                return catalogue.value  # type: ignore[attr-defined]

        return Inputs(panel=panel, origin=dict(origin), catalogue_source=catalogue,
                      fingerprint=snapshots_fingerprint(snaps), snapshots=tuple(snaps))

    @property
    def fingerprint(self) -> str:
        return self.inputs().fingerprint

    def memo(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()`` cached under ``key`` for the current data."""
        return self.cache.get_or_compute((self.fingerprint, *key), compute)

    # -- indices and assessments -------------------------------------------------------
    def spec(self, name: str) -> Any:
        """A built-in spec (never a path: ``name`` must be one of the built-in names)."""
        if name not in builtin_names():
            raise HumsecError(f"unknown index '{name}': expected one of {', '.join(builtin_names())}")
        return self.cache.get_or_compute(("spec", name), lambda: load_spec(name))

    def index_data(self, spec_name: str) -> pd.DataFrame:
        return self.memo(("index_data", spec_name),
                         lambda: index_data(self.inputs().panel, self.spec(spec_name)))

    def years(self, spec_name: str) -> tuple[list[int], int]:
        """(years with observations, default assessment year) of a spec."""
        def compute() -> tuple[list[int], int]:
            data = self.index_data(spec_name)
            return sorted(int(y) for y in data["year"].unique()), default_year(self.spec(spec_name), data)

        return self.memo(("years", spec_name), compute)

    def resolve_year(self, spec_name: str, year: int | None) -> int:
        return self.years(spec_name)[1] if year is None else int(year)

    def resolve_runs(self, runs: int | None) -> int:
        return self.config.runs if runs is None else int(runs)

    def assessment(self, spec_name: str, year: int | None = None, runs: int | None = None) -> Any:
        """:func:`humsec.analysis.assess.assess` of a built-in spec (cached per year)."""
        y = self.resolve_year(spec_name, year)
        n = self.resolve_runs(runs)
        inp = self.inputs()
        return self.memo(("assessment", spec_name, y, n, self.config.seed),
                         lambda: assess(self.spec(spec_name), inp.panel, year=y, catalogue=inp.catalogue,
                                        runs=n, seed=self.config.seed, data=self.index_data(spec_name)))

    def not_ranked(self, spec_name: str, year: int | None = None, runs: int | None = None,
                   units: tuple[str, ...] | None = None) -> pd.DataFrame:
        """:meth:`Assessment.not_ranked` (default: the UN member states without a score)
        with ``missing_indicator_names`` ("; "-separated, in the order of the codes)."""
        y = self.resolve_year(spec_name, year)
        n = self.resolve_runs(runs)

        def compute() -> pd.DataFrame:
            a = self.assessment(spec_name, y, n)
            nr = a.not_ranked(None if units is None else list(units))
            nr["missing_indicator_names"] = ["; ".join(a.node_name(c) for c in codes.split("; ") if c)
                                             for codes in nr["missing_indicators"]]
            return nr

        return self.memo(("not_ranked", spec_name, y, n, units), compute).copy()

    def country(self, spec_name: str, unit: str, year: int | None = None, runs: int | None = None) -> dict:
        """``CountryAssessment.to_dict()`` of one country (cached)."""
        y = self.resolve_year(spec_name, year)
        n = self.resolve_runs(runs)
        return self.memo(("country", spec_name, y, n, unit),
                         lambda: self.assessment(spec_name, y, n).country(unit).to_dict())

    def history(self, spec_name: str, first: int, last: int) -> pd.DataFrame:
        return self.memo(("history", spec_name, first, last),
                         lambda: history(self.spec(spec_name), self.index_data(spec_name), range(first, last + 1)))

    def briefing(self, spec_name: str, year: int | None = None) -> Any:
        from humsec.report.brief import prepare_briefing

        y = self.resolve_year(spec_name, year)
        inp = self.inputs()
        return self.memo(("briefing", spec_name, y),
                         lambda: prepare_briefing(self.spec(spec_name), inp.panel, year=y,
                                                  catalogue=inp.catalogue, runs=self.config.runs,
                                                  seed=self.config.seed))

    def alerts(self, spec_name: str, year: int | None = None) -> Any:
        """:func:`humsec.forecast.warn.current_alerts` of every country (cached per year)."""
        from humsec.forecast.warn import current_alerts

        y = self.resolve_year(spec_name, year)
        return self.memo(("alerts", spec_name, y), lambda: current_alerts(
            self.inputs().panel, self.spec(spec_name), year=y, registry=self.registry(),
            data=self.index_data(spec_name)))

    def structural_panel(self) -> pd.DataFrame:
        """:func:`humsec.forecast.onset.structural_panel` of the current data (cached)."""
        from humsec.forecast.onset import structural_panel

        return self.memo(("structural_panel",),
                         lambda: structural_panel(self.inputs().panel, registry=self.registry()))

    def watch_list(self, year: int | None = None, horizon: int = 1) -> pd.DataFrame:
        """:func:`humsec.forecast.onset.watch_list` (the ranking ``humsec warn`` shows) for
        the forecast year ``year`` (default: the year after the latest data year), fitted
        on the data of the years before it only (cached)."""
        from humsec.forecast.onset import watch_list

        sp = self.structural_panel()
        first, last = int(sp["year"].min()), int(sp["year"].max())
        y = last + 1 if year is None else int(year)
        h = int(horizon)
        lo = first + 10 + h
        if not lo <= y <= last + 1:
            raise HumsecError(f"no watch list for {y}: forecasts are made for {lo}-{last + 1} "
                              f"(data {first}-{last}, at least ten years of history)")
        sub = sp if y == last + 1 else sp[sp["year"] <= y - 1].reset_index(drop=True)
        return self.memo(("watch_list", y, h), lambda: watch_list(
            self.inputs().panel, horizons=(h,), registry=self.registry(), sp=sub))

    def registry(self) -> Any:
        """The country registry (built once per app, under a lock)."""
        with self._registry_lock:
            if self._registry is None:
                self._registry = CountryRegistry.default()
            return self._registry

    def warm(self) -> None:
        """Compute the current alerts, the default HSI assessment (and its ranking) and the
        watch list ahead of the first request (the alerts first: they take a fraction of
        a second, the assessment's uncertainty analysis several)."""
        try:
            self.alerts("hsi")
        except HumsecError:  # data without the series: the route says why when asked
            pass
        self.assessment("hsi").ranking()
        try:
            self.watch_list()
        except HumsecError:
            pass
