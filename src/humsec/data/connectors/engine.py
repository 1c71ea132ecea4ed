"""Run a connector: plan requests, fetch pages, map records to a :class:`Panel`.

:func:`resolve_query` turns what a user typed (indicator and country names) into a
:class:`Query`; :func:`plan` lists the requests (``--dry-run``); :func:`fetch` sends them
with a :class:`~humsec.data.connectors.fetcher.Fetcher` and :func:`records_to_panel`
maps source codes to catalogue indicators and areas to ISO3, reporting everything it
dropped (aggregates, unmatched names, non-numeric or out-of-range values).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd

from humsec.data.connectors.base import (
    MalformedResponseError, Page, Query, Request, SourceSpec, today,
)
from humsec.data.connectors.fetcher import Fetcher
from humsec.data.connectors.registry import SourceRegistry
from humsec.data.countries import CountryRegistry
from humsec.errors import HumsecError
from humsec.model.catalogue import Catalogue
from humsec.model.panel import DISAGG_KEYS, KEY_COLUMNS, TOTAL, Panel, Provenance
from humsec.settings import Settings

__all__ = ["FetchReport", "FetchResult", "fetch", "plan", "records_to_panel", "resolve_query",
           "safe_filename"]

MAX_PAGES = 20_000
_YEAR = re.compile(r"^\s*(\d{4})(?:\.0+)?\s*$")


@dataclass(frozen=True)
class FetchReport:
    """What a fetch dropped or noticed (nothing is dropped silently).

    Attributes
    ----------
    records : int
        Records the source returned for the requested series.
    aggregates : tuple of str
        Area identifiers that are not countries (regions, income groups, world).
    unmatched : tuple of str
        Area names that matched no country.
    fuzzy : dict[str, tuple[str, float]]
        Area names matched by fuzzy matching -> (ISO3, score).
    non_numeric : int
        Values that were not numbers (dropped).
    non_annual : int
        Records whose period is not a year (dropped).
    out_of_range : tuple of str
        ``indicator unit year value`` of values outside the catalogue's valid range.
    unmapped_sex : tuple of str
        Sex codes the registry does not map (records dropped).
    """

    records: int = 0
    aggregates: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()
    fuzzy: dict[str, tuple[str, float]] = field(default_factory=dict)
    non_numeric: int = 0
    non_annual: int = 0
    out_of_range: tuple[str, ...] = ()
    unmapped_sex: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        out = []
        if self.aggregates:
            shown = ", ".join(self.aggregates[:12]) + (" …" if len(self.aggregates) > 12 else "")
            out.append(f"{len(self.aggregates)} aggregate area(s) skipped: {shown}")
        if self.fuzzy:
            out += [f"fuzzy country match: {k!r} -> {c} ({s:.0f})" for k, (c, s) in self.fuzzy.items()]
        if self.unmatched:
            out.append(f"{len(self.unmatched)} area name(s) matched no country (skipped): "
                       + ", ".join(repr(u) for u in self.unmatched))
        if self.non_numeric:
            out.append(f"{self.non_numeric} non-numeric value(s) skipped")
        if self.non_annual:
            out.append(f"{self.non_annual} record(s) with a non-annual period skipped")
        if self.unmapped_sex:
            out.append(f"records with unknown sex code(s) skipped: {', '.join(self.unmapped_sex)}")
        if self.out_of_range:
            out.append(f"{len(self.out_of_range)} value(s) outside the catalogue's valid range "
                       "skipped: " + "; ".join(self.out_of_range[:5]))
        return out


@dataclass(frozen=True)
class FetchResult:
    """A fetched, mapped vintage (not yet stored).

    Attributes
    ----------
    source : SourceSpec
    query : Query
    panel : Panel
        Observations with one :class:`Provenance` per indicator.
    report : FetchReport
    edition : str
        Edition/vintage stated by the source (or the registry's default, or the date).
    accessed : datetime.date
    urls : tuple of str
        Every URL requested.
    payload_sha256 : str
        SHA-256 over the raw answers, in order.
    catalogue : Catalogue
        Entries of the indicators that are not in the shipped catalogue.
    """

    source: SourceSpec
    query: Query
    panel: Panel
    report: FetchReport
    edition: str
    accessed: _dt.date
    urls: tuple[str, ...]
    payload_sha256: str
    catalogue: Catalogue


# -- queries -------------------------------------------------------------------------------
def resolve_query(spec: SourceSpec, indicators: Iterable[str] = (), *,
                  countries: Iterable[str] | None = None, since: int | None = None,
                  until: int | None = None, country_registry=None) -> Query:
    """Validate what the user asked for.

    Parameters
    ----------
    indicators : iterable of str
        Source series codes or catalogue codes (empty: every mapped series).
    countries : iterable of str, optional
        ISO3/ISO2 codes or names (matched with the country registry).
    """
    wanted: list[str] = []
    unknown = []
    for item in indicators:
        if item in spec.indicators:
            wanted.append(item)
            continue
        by_code = spec.codes_for([item])
        if by_code:
            wanted += by_code
        else:
            unknown.append(item)
    if unknown:
        known = ", ".join(f"{k} ({m.code})" for k, m in spec.indicators.items())
        raise HumsecError(f"source '{spec.id}' has no indicator {', '.join(map(repr, unknown))}; "
                          f"known: {known}")
    codes = tuple(dict.fromkeys(wanted)) or tuple(spec.indicators)
    iso = None
    if countries is not None:
        countries = [c.strip() for c in countries if c and c.strip()]
        if countries:
            if country_registry is None:
                country_registry = CountryRegistry.default()
            rep = country_registry.match_many(countries)
            if rep.unmatched:
                raise HumsecError("unknown countr" + ("ies " if len(rep.unmatched) > 1 else "y ")
                                  + ", ".join(repr(u) for u in rep.unmatched)
                                  + ": give ISO3 codes or country names")
            iso = tuple(dict.fromkeys(rep.matched[c] for c in countries))
    this_year = _dt.date.today().year
    for label, y in (("--since", since), ("--until", until)):
        if y is not None and not 1800 <= int(y) <= this_year + 1:
            raise HumsecError(f"{label} {y}: expected a year between 1800 and {this_year + 1}")
    if since is not None and until is not None and since > until:
        raise HumsecError(f"--since {since} is after --until {until}")
    return Query(codes, iso, since, until)


def plan(spec: SourceSpec, query: Query, settings: Settings) -> list[Request]:
    """The first request of every piece of ``query`` (what ``--dry-run`` prints)."""
    requests = SourceRegistry.hook(spec).plan(spec, query)
    header = spec.options.get("token_header")
    if header:
        token = settings.fetch.token(spec.id)
        out = []
        for r in requests:
            if token:
                out.append(r.replace(headers=(*r.headers, (header, token)),
                                     secret_headers=(*r.secret_headers, header)))
            else:
                note = (r.note + "; " if r.note else "") + (
                    f"no access token set (HUMSEC_TOKEN_{spec.id.upper()}): the API may refuse")
                out.append(r.replace(note=note))
        requests = out
    return requests


def safe_filename(url_or_name: str, default: str = "download") -> str:
    """A file name safe to create from an untrusted URL or name (no paths, no dot-files)."""
    name = unquote(urlsplit(str(url_or_name)).path.rsplit("/", 1)[-1]) or default
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip("._-")[:120]
    return name or default


# -- fetching --------------------------------------------------------------------------------
def fetch(spec: SourceSpec, query: Query, *, settings: Settings,
          fetcher: Fetcher | None = None, catalogue: Catalogue | None = None,
          registry: SourceRegistry | None = None, country_registry=None,
          progress: Callable[[str, int, int | None], None] | None = None) -> FetchResult:
    """Fetch ``query`` from ``spec`` and map it to a panel.

    Parameters
    ----------
    fetcher : Fetcher, optional
        Injected for tests (default: a new one from ``settings.fetch``).
    catalogue : Catalogue, optional
        Catalogue to validate against (default: shipped + connectors' entries).
    progress : callable, optional
        ``progress(label, done, total_or_None)`` after every page or chunk.
    """
    registry = registry or SourceRegistry.default()
    hook = SourceRegistry.hook(spec)
    own = fetcher is None
    fetcher = fetcher or Fetcher(settings.fetch)
    fetcher.reset_log()
    pages: list[Page] = []
    series_url: dict[str, str] = {}
    try:
        for req in plan(spec, query, settings):
            label = req.context.get("code") or spec.id
            for series in [req.context.get("code"), *req.context.get("codes", ())]:
                if series:
                    series_url.setdefault(series, req.full_url)
            if spec.download:
                dest = Path(settings.downloads_dir) / spec.id / safe_filename(req.url)
                root = (Path(settings.downloads_dir) / spec.id).resolve()
                if root not in dest.resolve().parents:
                    raise HumsecError(f"refusing to write outside {root}: {dest}")
                cb = (lambda done, total, _l=label: progress(_l, done, total)) if progress else None
                fetcher.download(req, dest, rate=spec.rate_limit, progress=cb)
                pages.append(hook.parse(spec, dest.read_bytes(), req))
                continue
            seen: set[str] = set()
            n = 0
            while req is not None:
                if req.full_url in seen or n >= MAX_PAGES:
                    raise MalformedResponseError(
                        f"{spec.host}: pagination does not end (page {n + 1} repeats "
                        f"{req.full_url})")
                seen.add(req.full_url)
                content = fetcher.get(req, rate=spec.rate_limit)
                page = hook.parse(spec, content, req)
                pages.append(page)
                n += 1
                if progress:
                    progress(str(label), n, page.pages)
                req = page.next
    finally:
        if own:
            fetcher.close()
    accessed = today()
    editions = sorted({p.edition for p in pages if p.edition})
    edition = editions[-1] if editions else (spec.edition or accessed.isoformat())
    frames = [pd.DataFrame(p.records) for p in pages if len(p.records)]
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["code", "area", "year", "value"])
    cat = catalogue or _full_catalogue(registry)
    urls = tuple(fetcher.sent)
    panel, report = records_to_panel(spec, records, query, catalogue=cat, accessed=accessed,
                                     edition=edition, urls=series_url,
                                     country_registry=country_registry)
    used = [registry.catalogue[c] for c in panel.indicators
            if c in registry.catalogue and c not in Catalogue.default()]
    return FetchResult(spec, query, panel, report, edition, accessed, urls,
                       fetcher.digest.hexdigest(), Catalogue(used))


def _full_catalogue(registry: SourceRegistry) -> Catalogue:
    base = Catalogue.default()
    return Catalogue([*base, *[i for i in registry.catalogue if i.code not in base]])


# -- mapping ---------------------------------------------------------------------------------
def records_to_panel(spec: SourceSpec, records: pd.DataFrame, query: Query, *,
                     catalogue: Catalogue, accessed: _dt.date, edition: str,
                     urls: dict[str, str] | None = None,
                     country_registry=None) -> tuple[Panel, FetchReport]:
    """Map source records to a tidy :class:`Panel` (see the module docstring).

    Parameters
    ----------
    urls : dict, optional
        Source series code -> URL it was fetched from (recorded in the provenance).
    """
    if country_registry is None:
        country_registry = CountryRegistry.default()
    df = records.copy()
    for col in ("code", "area", "year", "value"):
        if col not in df.columns:
            raise MalformedResponseError(f"{spec.id}: parsed records lack '{col}'")
    df = df[df["code"].isin(query.codes)]
    n_records = len(df)
    # -- per-series filters, catalogue code, sex, scale
    parts = []
    for series in query.codes:
        m = spec.indicators[series]
        sub = df[df["code"] == series]
        for dim, want in m.where.items():
            if dim in sub.columns:
                col = sub[dim]
                sub = sub[col.isna() | (col.astype(str) == str(want))]
        sub = sub.assign(indicator=m.code, _scale=m.scale, _fixed_sex=m.sex or "",
                         _agg=m.aggregate)
        parts.append(sub)
    df = pd.concat(parts, ignore_index=True) if parts else df.assign(
        indicator=[], _scale=[], _fixed_sex=[], _agg=[])
    for key in DISAGG_KEYS:
        if key not in df.columns:
            df[key] = None
    # sex codes
    unmapped: set[str] = set()
    if spec.sex_codes:
        raw_sex = df["sex"]
        mapped = raw_sex.map(lambda s: TOTAL if s is None or (isinstance(s, float) and np.isnan(s))
                             else spec.sex_codes.get(str(s)))
        unmapped = set(raw_sex[mapped.isna()].astype(str))
        df = df.assign(sex=mapped)[mapped.notna()]
    df["sex"] = np.where(df["_fixed_sex"] != "", df["_fixed_sex"], df["sex"].fillna(TOTAL))
    df["age"] = df["age"].fillna(TOTAL).astype(str)
    df["group"] = df["group"].fillna(TOTAL).astype(str)
    # years
    years = df["year"].astype(str).str.extract(_YEAR)[0]
    non_annual = int(years.isna().sum())
    df = df.assign(year=years)[years.notna()]
    df["year"] = df["year"].astype(int)
    # values
    vals = pd.to_numeric(df["value"], errors="coerce")
    non_numeric = int((vals.isna() & df["value"].notna()).sum())
    df = df.assign(value=vals * df["_scale"].astype(float))[vals.notna()]
    # areas
    aggregates: set[str] = set()
    unmatched: list[str] = []
    fuzzy: dict[str, tuple[str, float]] = {}
    areas = df["area"].fillna("").astype(str).str.strip()
    drop = set(spec.drop_areas)
    mapping: dict[str, str | None] = {}
    uniq = [a for a in dict.fromkeys(areas) if a]
    if spec.area_kind == "name":
        names = [a for a in uniq if a not in drop]
        rep = country_registry.match_many(names)
        mapping = dict(rep.matched)
        unmatched = list(rep.unmatched)
        fuzzy = dict(rep.fuzzy)
    else:
        for a in uniq:
            if a in drop:
                continue
            try:
                if spec.area_kind == "iso3":
                    mapping[a] = a.upper() if country_registry.is_iso3(a) else None
                else:
                    mapping[a] = country_registry.to_iso3(a)
            except HumsecError:
                mapping[a] = None
    iso = areas.map(lambda a: mapping.get(a))
    for a in uniq:
        if a in drop or (spec.area_kind != "name" and mapping.get(a) is None):
            aggregates.add(a)
    if (areas == "").any():
        aggregates.add("(no code)")
    df = df.assign(unit=iso)[iso.notna()]
    # query filters (the API may ignore some)
    if query.countries:
        df = df[df["unit"].isin(query.countries)]
    if query.since is not None:
        df = df[df["year"] >= query.since]
    if query.until is not None:
        df = df[df["year"] <= query.until]
    keys = list(KEY_COLUMNS)
    # aggregation of event-level series
    summed = df[df["_agg"] == "sum"]
    if len(summed):
        summed = summed.groupby(keys, as_index=False)["value"].sum(min_count=1)
    df = pd.concat([df[df["_agg"] != "sum"][[*keys, "value"]], summed], ignore_index=True) \
        if len(summed) else df[[*keys, "value"]]
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        first = df.loc[dup, keys].iloc[0].to_dict()
        raise MalformedResponseError(
            f"{spec.id}: the answer holds several values for {first}; the registry entry "
            "needs a 'where:' filter (or 'aggregate: sum') for this series")
    # valid range
    bad: list[str] = []
    keep = np.ones(len(df), dtype=bool)
    for code, idx in df.groupby("indicator").groups.items():
        ind = catalogue.get(code)
        if ind is None:
            raise HumsecError(f"source '{spec.id}' maps to '{code}', which is in no catalogue")
        lo = -np.inf if ind.valid_min is None else ind.valid_min
        hi = np.inf if ind.valid_max is None else ind.valid_max
        v = df.loc[idx, "value"]
        out = v[(v < lo) | (v > hi)]
        for i in out.index:
            bad.append(f"{code} {df.at[i, 'unit']} {df.at[i, 'year']} {df.at[i, 'value']:g}")
            keep[df.index.get_loc(i)] = False
    df = df[keep]
    prov = {}
    urls = urls or {}
    for code in df["indicator"].unique():
        mapped = [s for s in query.codes if spec.indicators[s].code == code]
        url = next((urls[s] for s in mapped if s in urls), spec.base_url)
        prov[code] = Provenance(
            source=spec.title, edition=edition, accessed=accessed, licence=spec.licence,
            citation=spec.citation, via=f"humsec data fetch {spec.id}", url=url)
    report = FetchReport(records=n_records, aggregates=tuple(sorted(aggregates)),
                         unmatched=tuple(unmatched), fuzzy=fuzzy, non_numeric=non_numeric,
                         non_annual=non_annual, out_of_range=tuple(bad),
                         unmapped_sex=tuple(sorted(unmapped)))
    return Panel(df.reset_index(drop=True), prov), report
