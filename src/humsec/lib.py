"""The library's front door: one call per task, pandas objects out.

``import humsec as hs`` gives these functions (loaded on first use, so importing
:mod:`humsec` stays free of side effects)::

    >>> import humsec as hs
    >>> s = hs.Settings(home=tmp_home, progress=False)   # where the local store lives
    >>> obs = hs.panel(settings=s, indicators=["life_expectancy"])
    >>> {"unit", "year", "indicator", "value"} <= set(obs.columns)
    True
    >>> obs.attrs["provenance"]["life_expectancy"]["licence"]
    'CC-BY-4.0'

Every function takes an explicit :class:`~humsec.settings.Settings` (``settings=``,
``hs.Settings(home=...)``); without one it uses ``$HUMSEC_HOME`` or the user data
directory, where the embedded data release is installed on first use. Like the CLI, REST API and dashboard, this
module is a thin shell: each function calls one core function and converts its result.

Functions
---------
panel
    Tidy observations ``unit, year, indicator, value`` (+ breakdowns) with provenance.
indicators
    The indicator catalogue as a table.
specs, spec
    Names of the built-in indices; one index specification (built-in or a YAML file).
assess, assessment, country
    The Human Security Index (or any spec) for every country: ranking with rank
    intervals; the full :class:`~humsec.analysis.assess.Assessment`; one country.
build
    Build any index spec on tidy data: scores of every unit and aggregate.
uncertainty
    Monte Carlo uncertainty analysis of a spec: rank and score intervals.
fetch
    Fetch indicators from an official source (World Bank, UN SDG, WHO GHO, ...) into the
    store as a new vintage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from humsec.analysis import assess as _assess
from humsec.analysis.assess import Assessment, CountryAssessment
from humsec.data import service as _service
from humsec.errors import HumsecError
from humsec.index.builtin import builtin_names, load_spec
from humsec.index.pipeline import build as _build
from humsec.index.spec import IndexSpec
from humsec.index.uncertainty import UncertaintySpec, uncertainty_analysis
from humsec.model.panel import Panel
from humsec.settings import Settings

__all__ = ["assess", "assessment", "build", "country", "fetch", "indicators", "panel", "spec", "specs",
           "uncertainty"]

SpecLike = str | Path | IndexSpec


def _settings(s: Settings | None) -> Settings:
    return s if s is not None else Settings.from_env(progress=False)


def _panel(s: Settings, dataset: str = "current") -> Panel:
    if dataset == "current":
        return _service.current_panel(s)[0]
    return _service.panel_for(s, dataset)


def _provenance(p: Panel) -> dict[str, dict[str, Any]]:
    return {k: v.model_dump(mode="json") for k, v in p.provenance.items()}


def panel(*, indicators: Sequence[str] | None = None, units: Sequence[str] | None = None,
          dataset: str = "current", settings: Settings | None = None) -> pd.DataFrame:
    """Tidy observations of the local store.

    Parameters
    ----------
    indicators, units : sequence of str, optional
        Keep only these indicator codes (see :func:`indicators`) and ISO3 codes.
    dataset : str
        ``"current"`` (every stored dataset layered over the data release) or a stored
        dataset ``NAME`` / ``NAME@VERSION``.
    settings : Settings, optional

    Returns
    -------
    pandas.DataFrame
        ``unit, year, indicator, value`` and the breakdown columns (sex, age, ...).
        ``attrs["provenance"]`` maps each indicator to its source, edition, licence,
        date accessed and content hash.

    Raises
    ------
    HumsecError
        An unknown indicator or dataset.
    """
    p = _panel(_settings(settings), dataset)
    if indicators is not None:
        unknown = sorted(set(indicators) - set(p.indicators))
        if unknown:
            raise HumsecError(f"no indicator {', '.join(unknown)} in the data (see humsec.indicators())")
    p = p.filter(indicators=list(indicators) if indicators is not None else None,
                 units=list(units) if units is not None else None)
    out = p.data.reset_index(drop=True)
    out.attrs = {"provenance": _provenance(p)}
    return out


def indicators(*, settings: Settings | None = None) -> pd.DataFrame:
    """The indicator catalogue: one row per indicator (``code, name, unit, dimension,
    direction, ...`` and its source)."""
    cat = _service.catalogue(_settings(settings))
    return pd.DataFrame([i.model_dump(mode="json") for i in cat])


def specs() -> list[str]:
    """Names of the built-in index specifications (``hsi``, ``hdi``, ``inform`` ...)."""
    return builtin_names()


def spec(name_or_path: SpecLike) -> IndexSpec:
    """An index specification: a built-in name, a YAML file, or a spec (returned as is)."""
    return name_or_path if isinstance(name_or_path, IndexSpec) else load_spec(name_or_path)


def assessment(index: SpecLike = "hsi", *, year: int | None = None, runs: int = _assess.DEFAULT_RUNS,
               seed: int = _assess.DEFAULT_SEED, settings: Settings | None = None) -> Assessment:
    """Assess every country with ``index`` on the store's data (:func:`humsec.analysis.assess.assess`).

    ``year`` defaults to the latest year that ranks nearly every country with fresh data;
    ``runs`` Monte Carlo runs of the spec's uncertainty design give the rank intervals
    (0 = none), drawn from ``seed``.
    """
    s = _settings(settings)
    p = _panel(s)
    return _assess.assess(spec(index), p, year=year, catalogue=_service.catalogue(s), runs=runs, seed=seed)


def assess(index: SpecLike = "hsi", *, year: int | None = None, runs: int = _assess.DEFAULT_RUNS,
           seed: int = _assess.DEFAULT_SEED, settings: Settings | None = None) -> pd.DataFrame:
    """The ranking of every country scored by ``index`` (default: the Human Security Index).

    Returns
    -------
    pandas.DataFrame
        Best first: ``rank, unit, name, score, rank_q05, rank_q95, score_q05, score_q95``,
        the dimension scores and ``severe`` (dimensions below 25). ``attrs`` hold
        ``index, year, runs, seed`` and ``not_ranked`` (UN members without a score, with
        the reason).

    Examples
    --------
    >>> r = hs.assess(runs=0, settings=s)
    >>> r.attrs["index"], r.attrs["year"] >= 2023, len(r) > 180
    ('hsi', True, True)
    """
    a = assessment(index, year=year, runs=runs, seed=seed, settings=settings)
    out = a.ranking()
    nr = a.not_ranked()
    out.attrs = {"index": a.spec.name, "year": a.year, "runs": a.runs, "seed": a.seed,
                 "not_ranked": nr.to_dict(orient="records")}
    return out


def country(unit: str, index: SpecLike = "hsi", *, year: int | None = None, runs: int = _assess.DEFAULT_RUNS,
            seed: int = _assess.DEFAULT_SEED, settings: Settings | None = None) -> CountryAssessment:
    """One country's assessment: score, rank and interval, ``.dimensions`` and
    ``.indicators`` (value, year observed, age, how it was filled, source) as DataFrames.

    Raises
    ------
    HumsecError
        An unknown code, or a country without a score in the year (with the reason).
    """
    return assessment(index, year=year, runs=runs, seed=seed, settings=settings).country(unit)


def _data(s: IndexSpec, data: pd.DataFrame | Panel | None, settings: Settings | None) -> pd.DataFrame:
    if data is None:
        return _assess.index_data(_panel(_settings(settings)), s)
    if isinstance(data, Panel):
        return _assess.index_data(data, s)
    if not isinstance(data, pd.DataFrame):
        raise HumsecError(f"data must be a pandas DataFrame or a Panel, got {type(data).__name__}")
    return data


def build(index: SpecLike, data: pd.DataFrame | Panel | None = None, *, year: int | None = None,
          settings: Settings | None = None) -> pd.DataFrame:
    """Build an index: the scores of every unit for every aggregate and indicator.

    Parameters
    ----------
    index : str, path or IndexSpec
    data : pandas.DataFrame or Panel, optional
        Tidy ``unit, [year,] indicator, value`` (or wide with a ``unit`` column, as
        :func:`humsec.index.pipeline.build` accepts); default: the store's data.
    year : int, optional
        The year to build (panel data).

    Returns
    -------
    pandas.DataFrame
        Index ``unit``; one column per node (aggregates and normalised indicators).
        ``attrs`` hold ``index, year`` and ``ranks`` (the rank of every unit per node).

    Examples
    --------
    >>> from humsec.index.spec import IndexSpec
    >>> toy = IndexSpec.from_yaml('''
    ... spec_version: 1
    ... name: toy
    ... tree:
    ...   - {code: toy}
    ...   - {code: x, parent: toy}
    ...   - {code: y, parent: toy, direction: -1}
    ... steps:
    ...   - {step: normalise, method: minmax, params: {lo: 0, hi: 100}}
    ...   - {step: aggregate, method: arithmetic}
    ... ''')
    >>> data = pd.DataFrame({"unit": ["A", "B", "C"] * 2, "indicator": ["x"] * 3 + ["y"] * 3,
    ...                      "value": [1.0, 2.0, 3.0, 30.0, 10.0, 20.0]})
    >>> hs.build(toy, data)["toy"].to_dict()    # x: 0, 50, 100; y (lower is better): 0, 100, 50
    {'A': 0.0, 'B': 75.0, 'C': 75.0}
    """
    s = spec(index)
    r = _build(s, _data(s, data, settings), year=year)
    out = r.scores.copy()
    out.attrs = {"index": s.name, "year": r.year, "ranks": r.ranks.to_dict()}
    return out


def uncertainty(index: SpecLike, data: pd.DataFrame | Panel | None = None, *, n: int = 1000,
                seed: int = _assess.DEFAULT_SEED, year: int | None = None,
                settings: Settings | None = None) -> pd.DataFrame:
    """Monte Carlo uncertainty analysis of an index with its spec's ``uncertainty`` design.

    Parameters
    ----------
    index : str, path or IndexSpec
        Must declare an ``uncertainty`` section (which inputs vary and how).
    data : pandas.DataFrame or Panel, optional
        Default: the store's data.
    n : int
        Number of runs.
    seed : int
        The same seed gives the same runs.

    Returns
    -------
    pandas.DataFrame
        Per unit and aggregate: ``nominal_score, nominal_rank, mean_rank, median_rank,
        rank_q05, rank_q95, mean_score, score_q05, score_q95, n_runs``
        (:meth:`humsec.index.uncertainty.UncertaintyResult.summary`).
    """
    s = spec(index)
    if s.uncertainty is None:
        raise HumsecError(f"spec '{s.name}' has no uncertainty section: add one (see the spec documentation)")
    if n < 1:
        raise HumsecError(f"n must be at least 1, got {n}")
    design = UncertaintySpec.from_dict(s.uncertainty, file=s.name, spec=s)
    res = uncertainty_analysis(s, _data(s, data, settings), design, n=n, seed=seed, year=year)
    out = res.summary()
    out.attrs = {"index": s.name, "runs": n, "seed": seed, "failed": int((res.runs["status"] != "ok").sum())}
    return out


def fetch(source: str, indicators: Iterable[str] = (), *, countries: Iterable[str] | None = None,
          since: int | None = None, until: int | None = None, settings: Settings | None = None,
          fetcher: Callable[..., Any] | None = None) -> pd.DataFrame:
    """Fetch indicators from an official source and store them as a new vintage.

    Parameters
    ----------
    source : str
        A connector of the registry (``humsec data sources``: ``wb``, ``unsd``, ``who`` ...).
    indicators : iterable of str
        Indicator codes of the catalogue (default: every indicator the source serves).
    countries : iterable of str, optional
        ISO3 codes (default: all).
    since, until : int, optional
        Years.
    fetcher : callable, optional
        The HTTP getter (for tests or a proxy); default: the connector's own.

    Returns
    -------
    pandas.DataFrame
        The fetched observations; ``attrs`` hold ``provenance`` (per indicator),
        ``vintage`` (the stored ``name@version``), ``created`` (False when identical to
        the last vintage), the requested ``urls`` and the payload's SHA-256.
    """
    # local: the connectors bring httpx (and its CLI stack); only fetching needs them
    from humsec.data.vintages import fetch_to_store

    snap, created, result = fetch_to_store(_settings(settings), source, tuple(indicators),
                                           countries=list(countries) if countries is not None else None,
                                           since=since, until=until, fetcher=fetcher)
    out = result.panel.data.reset_index(drop=True)
    out.attrs = {"provenance": _provenance(result.panel), "vintage": snap.ref, "created": bool(created),
                 "urls": list(result.urls), "sha256": result.payload_sha256}
    return out
