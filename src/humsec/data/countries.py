"""Country registry: ISO codes, names, name matching, groupings and land borders.

Everything is read from installed packages, the shipped ``groupings.yaml`` and the shipped
data release's ``geography.json``; nothing is fetched from the network and nothing is built
at import time (use :meth:`CountryRegistry.default`, built once on first use). What the
registry reads from hdx-python-country is kept as plain JSON in the user cache directory
(``$HUMSEC_CACHE_DIR``, else e.g. ``~/.cache/humsec``), keyed by the package version and
this module's code, so that a new process does not import hdx again (most of a second) for
the same numbers.

Sources
-------
* ISO 3166-1 codes and names: ``pycountry`` (Debian iso-codes).
* Names in the six UN languages, M49 region / sub-region, World Bank income level and
  name regexes: the OCHA Countries & Territories Taxonomy in ``hdx-python-country``
  (read offline, ``use_live=False``).
* Groupings (APPF, APEC, ASEAN, EU, OECD, G20, LDC, LLDC, SIDS), Kosovo (``XKX``), curated
  alternative spellings and the matcher's guards: ``groupings.yaml``.
* Land borders and representative points: Natural Earth admin-0 countries 1:10m (public
  domain), built into the data release (``geography.json``,
  :mod:`humsec.data.release.outlines`); see :data:`BORDERS_PROVENANCE`.

Name matching
-------------
:meth:`CountryRegistry.match` tries, in order: an ISO3 code (any case) or ISO2 code
(upper case); the normalised name (case, accents, punctuation, "the"/"of"/"and"/"&",
"St."→"saint", "Dem."→"democratic", "Rep."→"republic" ...); the same words in any order;
the OCHA name regexes (accepted only when exactly one country's regex matches and no
member of that country's confusable family has a name close to it); and last
a fuzzy match (``rapidfuzz`` ratio or token-sort ratio ≥ 90) that is refused when the runner-up is
another country scoring close to it, when the name and the candidate differ in a
discriminating word (north/south/new/equatorial/democratic/american/british ...), or when
another member of a confusable family (Niger/Nigeria, the Guineas, Dominica/Dominican
Republic, the Sudans, the Congos, the Koreas, ...) scores within the configured margin.
"""

from __future__ import annotations

import csv
import datetime as _dt
import difflib
import functools
import hashlib
import json
import math
import os
import re
import sys
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, overload

import yaml

from humsec.errors import HumsecError
from humsec.model.panel import Provenance

__all__ = ["BORDERS_PROVENANCE", "CountryInfo", "CountryRegistry", "MatchReport", "normalise"]

BORDERS_PROVENANCE = Provenance(
    source="Natural Earth, Admin 0 - Countries 1:10m (countries whose outlines share a boundary arc)",
    edition="Natural Earth 4.1.0 (world-atlas 2.0.2 countries-10m.json), humsec data release 2026.1",
    accessed=_dt.date(2026, 12, 2),
    licence="public-domain",
    citation="Made with Natural Earth (naturalearthdata.com); land borders derived by humsec.",
    via="humsec data release (humsec/data/shipped/geography.json)",
    url="https://www.naturalearthdata.com/downloads/10m-cultural-vectors/",
    content_hash="sha256:a92bbe66d90a891cdb11a7e10cb8e41c9bd844e578043986eadc1cf3e337a468",
)
"""Provenance of :meth:`CountryRegistry.border_graph` (hash of the shipped ``geography.json``)."""

GEOGRAPHY_FILE = "geography.json"

FUZZY_CUTOFF = 90.0
_RUNNER_UP_MARGIN = 5.0
_INCOME = {"High": "High income", "Upper middle": "Upper middle income",
           "Lower middle": "Lower middle income", "Low": "Low income"}
_ABBREV = {"st": "saint", "ste": "sainte", "dem": "democratic", "rep": "republic",
           "fed": "federated", "sts": "states", "is": "islands", "isl": "islands",
           "pdr": "peoples democratic republic", "dpr": "democratic peoples republic",
           "rb": "bolivarian republic", "fr": "french", "eq": "equatorial", "br": "british",
           "ter": "territory", "s": "south", "n": "north"}
_STOP = frozenset({"the", "of", "and"})
_APOSTROPHES = re.compile(r"[\u2019\u2018`\u00b4'\u02bc]")


def normalise(name: str) -> str:
    """Normalise a country name for exact comparison.

    Parameters
    ----------
    name : str
        Any spelling, e.g. ``"Côte d’Ivoire"`` or ``"St. Kitts & Nevis"``.

    Returns
    -------
    str
        Case-folded words without accents, punctuation or "the"/"of"/"and", with
        common abbreviations expanded (``"cote divoire"``, ``"saint kitts nevis"``).
    """
    s = unicodedata.normalize("NFKD", str(name))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    s = _APOSTROPHES.sub("", s).replace("&", " and ")
    words: list[str] = []
    run = False  # joins runs of single letters: "u s a" -> "usa"
    for w in re.findall(r"[^\W_]+", s):
        single = len(w) == 1 and w.isalpha()
        if single and run:
            words[-1] += w
        else:
            words.append(w)
        run = single
    out: list[str] = []
    for w in words:
        out.extend(_ABBREV.get(w, w).split())
    return " ".join(w for w in out if w not in _STOP)


def _score(a: str, b: str, **kwargs: Any) -> float:
    """Similarity 0-100: the better of plain and word-order-free indel ratios."""
    # local (rapidfuzz here and in the matchers, pycountry in _load_countries): ~8 and
    # ~11 ms CPU at import, paid only when names are matched or the registry is built;
    # this module is imported by most of the package
    from rapidfuzz import fuzz

    return max(fuzz.ratio(a, b, **kwargs), fuzz.token_sort_ratio(a, b, **kwargs))


def _sorted_key(key: str) -> str:
    return " ".join(sorted(set(key.split())))


@dataclass(frozen=True)
class CountryInfo:
    """Facts about one country or territory.

    Attributes
    ----------
    iso3, iso2 : str
        ISO 3166-1 alpha-3 and alpha-2 codes (``XKX``/``XK`` for Kosovo).
    numeric : str or None
        ISO 3166-1 numeric code (= UN M49), three digits.
    name, official_name : str
        OCHA preferred name and formal name.
    region, subregion, intermediate_region : str or None
        UN M49 region ("Africa", "Americas", "Asia", "Europe", "Oceania"), sub-region
        and intermediate region.
    income_group : str or None
        World Bank income group ("High income", "Upper middle income", "Lower middle
        income", "Low income"), None when unclassified.
    ldc, lldc, sids : bool
        Member of the UN lists of least developed, landlocked developing and small island
        developing states (``groupings.yaml``).
    independent : bool
        Independent state according to the OCHA taxonomy.
    un_member : bool
        Member state of the United Nations (the 193 of the DGACM list in the OCHA
        taxonomy).
    lat, lon : float or None
        A representative point in degrees: the pole of inaccessibility of the largest
        part of the country's Natural Earth outline (the data release's
        ``geography.json``) - inside the main territory, far from its edges; for units
        without an outline (French overseas departments, which Natural Earth draws as
        part of France, Bonaire ...) the OCHA taxonomy's point. Used for distance-based
        connections between countries.
    """

    iso3: str
    iso2: str
    numeric: str | None
    name: str
    official_name: str
    region: str | None
    subregion: str | None
    intermediate_region: str | None
    income_group: str | None
    ldc: bool
    lldc: bool
    sids: bool
    independent: bool
    lat: float | None = None
    lon: float | None = None
    un_member: bool = False


@dataclass(frozen=True)
class MatchReport:
    """Result of matching many names.

    Attributes
    ----------
    matched : dict[str, str]
        Every matched name → ISO3 (fuzzy matches included).
    unmatched : list[str]
        Names that matched nothing, in input order.
    fuzzy : dict[str, tuple[str, float]]
        The subset of ``matched`` found by fuzzy matching → (ISO3, score 0-100).
    """

    matched: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    fuzzy: dict[str, tuple[str, float]] = field(default_factory=dict)

    @property
    def mapping(self) -> dict[str, str]:
        """Alias of :attr:`matched` (used by :mod:`humsec.data.importer`)."""
        return self.matched

    def __str__(self) -> str:
        n = len(self.matched) + len(self.unmatched)
        lines = [f"{len(self.matched)} of {n} names matched "
                 f"({len(self.fuzzy)} fuzzy), {len(self.unmatched)} unmatched"]
        lines += [f"  fuzzy: {k!r} -> {c} ({s:.0f})" for k, (c, s) in self.fuzzy.items()]
        lines += [f"  unmatched: {k!r}" for k in self.unmatched]
        return "\n".join(lines)


class CountryRegistry:
    """Immutable registry of ISO 3166-1 countries (plus Kosovo).

    Parameters
    ----------
    config : Mapping, optional
        Parsed ``groupings.yaml``; the shipped file by default.

    Notes
    -----
    Land borders are the pairs of countries whose Natural Earth 1:10m outlines share a
    boundary line (:data:`BORDERS_PROVENANCE`), symmetric by construction;
    :attr:`border_fixes` is empty and kept for compatibility. Natural Earth draws French
    Guiana as part of France (FRA–BRA, FRA–SUR), the Guantánamo base as part of Cuba (no
    CUB–USA) and Hong Kong touching China (CHN–HKG); a quadripoint is not a border
    (no BWA–ZMB at Kazungula, no NAM–ZWE).
    """

    __slots__ = ("_info", "_index", "_sorted_index", "_regexes", "_fuzzy_keys",
                 "_groups", "_borders", "_families", "_margin", "_discriminators",
                 "_never", "_iso2", "_numeric", "_legacy", "_qualifiers", "border_fixes")
    _info: Mapping[str, CountryInfo]
    _index: Mapping[str, str]
    _sorted_index: Mapping[str, str]
    _regexes: tuple[tuple[str, re.Pattern[str]], ...]
    _fuzzy_keys: tuple[str, ...]
    _groups: Mapping[str, Mapping[str, Any]]
    _borders: Mapping[str, frozenset[str]]
    _families: Mapping[str, frozenset[str]]
    _margin: float
    _discriminators: frozenset[str]
    _never: frozenset[str]
    _iso2: Mapping[str, str]
    _numeric: Mapping[str, str]
    _legacy: Mapping[str, str]
    _qualifiers: frozenset[str]
    border_fixes: tuple[Any, ...]

    def __init__(self, config: Mapping | None = None):
        if config is None:
            text = resources.files("humsec.data").joinpath("groupings.yaml").read_text("utf-8")
            config = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        s = object.__setattr__
        groups = {k.upper(): MappingProxyType(dict(v, members=frozenset(v["members"])))
                  for k, v in config["groupings"].items()}
        info, names = _load_countries(config, groups)
        s(self, "_info", MappingProxyType(info))
        s(self, "_iso2", MappingProxyType({i.iso2: i.iso3 for i in info.values()}))
        s(self, "_numeric", MappingProxyType({i.numeric: i.iso3 for i in info.values() if i.numeric}))
        unknown = {c for g in groups.values() for c in g["members"]} - set(info)
        if unknown:
            raise HumsecError(f"groupings.yaml lists unknown ISO3 codes: {sorted(unknown)}")
        s(self, "_groups", MappingProxyType(groups))
        index: dict[str, str] = {}
        by_sorted: dict[str, set[str]] = {}
        for name, code in names:  # highest priority first
            key = normalise(name)
            if key and key not in index:
                index[key] = code
            by_sorted.setdefault(_sorted_key(key), set()).add(code)
        s(self, "_index", MappingProxyType(index))
        s(self, "_sorted_index", MappingProxyType(
            {k: next(iter(v)) for k, v in by_sorted.items() if len(v) == 1}))
        s(self, "_fuzzy_keys", tuple(k for k in index if k.isascii() and len(k) >= 4))
        extra = {c: re.compile(rx, re.IGNORECASE) for c, rx in config.get("regexes", {}).items()}
        s(self, "_regexes", tuple((_load_regexes() | extra).items()))
        s(self, "_legacy", MappingProxyType(dict(config.get("legacy_codes", {}))))
        s(self, "_qualifiers", frozenset(config.get("qualifiers", [])))
        conf = config.get("confusables", {})
        fam: dict[str, frozenset[str]] = {}
        for f in conf.get("families", []):
            for c in f:
                fam[c] = fam.get(c, frozenset()) | (frozenset(f) - {c})
        s(self, "_families", MappingProxyType(fam))
        s(self, "_margin", float(conf.get("margin", 15)))
        s(self, "_discriminators", frozenset(conf.get("discriminators", [])))
        s(self, "_never", frozenset(normalise(n) for n in config.get("never_match", [])))
        borders, fixes = _load_borders(frozenset(info))
        s(self, "_borders", MappingProxyType(borders))
        s(self, "border_fixes", fixes)

    def __setattr__(self, name, value):
        raise AttributeError("CountryRegistry is immutable")

    @classmethod
    def default(cls) -> CountryRegistry:
        """The registry built from the installed packages and shipped YAML (built once,
        thread-safe: hdx-python-country fills class-level tables on first use, which two
        threads must not do at the same time)."""
        return _default_registry(cls)

    # -- codes ---------------------------------------------------------------------------
    @property
    def codes(self) -> frozenset[str]:
        """All ISO3 codes known to the registry."""
        return frozenset(self._info)

    @property
    def legacy_codes(self) -> Mapping[str, str]:
        """Codes some publishers use for present-day states (``ZAR`` -> ``COD``, ``ROM`` -> ``ROU`` ...)."""
        return self._legacy

    @property
    def un_members(self) -> frozenset[str]:
        """The 193 UN member states."""
        return frozenset(c for c, i in self._info.items() if i.un_member)

    def is_iso3(self, code: object) -> bool:
        """Whether ``code`` (case-insensitive) is a known ISO3 code."""
        return isinstance(code, str) and code.strip().upper() in self._info

    def to_iso3(self, code: str | int) -> str:
        """ISO3 for an ISO3, ISO2, numeric (M49) or legacy code (``ROM``, ``ZAR``, ``KSV`` ...).

        Raises
        ------
        HumsecError
            When the code is unknown.
        """
        c = str(code).strip().upper()
        found = (c if c in self._info else self._iso2.get(c) or self._legacy.get(c)
                 or (self._numeric.get(c.zfill(3)) if c.isdigit() else None))
        if found is None:
            raise HumsecError(f"unknown country code '{code}': expected an ISO 3166-1 "
                              "alpha-3, alpha-2 or numeric code")
        return found

    def _check(self, iso3: str) -> str:
        code = str(iso3).strip().upper()
        if code in self._info:
            return code
        hint = self.match(str(iso3)) if len(str(iso3)) > 3 else None
        close = [hint] if hint else difflib.get_close_matches(code, list(self._info), n=3)
        tip = f"; did you mean {', '.join(f'{c} ({self._info[c].name})' for c in close)}?" \
            if close else "; use match() to find the code for a country name"
        raise HumsecError(f"unknown ISO3 country code '{iso3}'{tip}")

    def info(self, iso3: str) -> CountryInfo:
        """Facts about a country (raises :class:`HumsecError` for unknown codes)."""
        return self._info[self._check(iso3)]

    def name(self, iso3: str) -> str:
        """Preferred English name, e.g. ``"Côte d'Ivoire"``."""
        return self.info(iso3).name

    def region(self, iso3: str) -> str | None:
        """UN M49 region ("Africa", "Americas", "Asia", "Europe", "Oceania")."""
        return self.info(iso3).region

    def subregion(self, iso3: str) -> str | None:
        """UN M49 sub-region, e.g. "Sub-Saharan Africa"."""
        return self.info(iso3).subregion

    def income_group(self, iso3: str) -> str | None:
        """World Bank income group, e.g. "High income" (None when unclassified)."""
        return self.info(iso3).income_group

    # -- matching ------------------------------------------------------------------------
    @overload
    def match(self, name: str) -> str | None: ...  # type: ignore[overload-overlap]  # a str is also an Iterable[str]; run time tests str first
    @overload
    def match(self, name: Iterable[str]) -> MatchReport: ...

    def match(self, name):
        """ISO3 for a country name (or code), or None.

        Parameters
        ----------
        name : str or iterable of str
            A name; an iterable of names is passed to :meth:`match_many`.

        Returns
        -------
        str or None or MatchReport
        """
        if not isinstance(name, str) and isinstance(name, Iterable):
            return self.match_many(name)
        if name is None:
            return None
        found = self._lookup(name)
        return found[0] if found else None

    def match_many(self, names: Iterable[str]) -> MatchReport:
        """Match many names and report what did not match.

        Returns
        -------
        MatchReport
        """
        report = MatchReport()
        for n in dict.fromkeys(names):
            found = self._lookup(n)
            if found is None:
                report.unmatched.append(n)
                continue
            code, score = found
            report.matched[n] = code
            if score is not None:
                report.fuzzy[n] = (code, score)
        return report

    def _lookup(self, raw: str) -> tuple[str, float | None] | None:
        text = str(raw).strip()
        if re.fullmatch(r"[A-Za-z]{3}", text) and text.upper() in self._info:
            return text.upper(), None
        if re.fullmatch(r"[A-Z]{2}", text) and text in self._iso2:
            return self._iso2[text], None
        key = normalise(text)
        if not key or key in self._never:
            return None
        code = self._index.get(key) or self._sorted_index.get(_sorted_key(key))
        if code:
            return code, None
        if self._qualifiers & set(key.split()):
            return None
        hits = {c for c, rx in self._regexes if rx.search(text) or rx.search(key)}
        if len(hits) == 1 and self._clear_of_mates(key, next(iter(hits))):
            return hits.pop(), None
        return self._fuzzy(key)

    def _clear_of_mates(self, key: str, code: str) -> bool:
        """No member of ``code``'s confusable family has a name close to ``key``."""
        from rapidfuzz import process  # local: see _score

        mates = [k for k in self._fuzzy_keys if self._index[k] in self._families.get(code, ())]
        best = process.extractOne(key, mates, scorer=_score) if mates else None
        return best is None or best[1] < 100 - self._margin - 5

    def _fuzzy(self, key: str) -> tuple[str, float] | None:
        from rapidfuzz import process  # local: see _score

        best: dict[str, tuple[float, str]] = {}
        for cand, score, _ in process.extract(key, self._fuzzy_keys, scorer=_score,
                                              limit=25, score_cutoff=50):
            code = self._index[cand]
            if score > best.get(code, (-1.0, ""))[0]:
                best[code] = (score, cand)
        if not best:
            return None
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])
        code, (score, cand) = ranked[0]
        if score < FUZZY_CUTOFF:
            return None
        if len(ranked) > 1 and score - ranked[1][1][0] < _RUNNER_UP_MARGIN:
            return None
        disc = self._discriminators
        if set(key.split()) & disc != set(cand.split()) & disc:
            return None
        for other in self._families.get(code, ()):
            if score - best.get(other, (0.0, ""))[0] < self._margin:
                return None
        return code, float(score)

    # -- groupings -----------------------------------------------------------------------
    def groupings(self) -> list[str]:
        """Keys of the curated groupings (``APPF``, ``APEC``, ``ASEAN``, ...)."""
        return sorted(self._groups)

    def grouping(self, group: str) -> Mapping:
        """Metadata of a grouping: name, source, url, citation, as_of, members."""
        key = str(group).strip().upper()
        if key not in self._groups:
            close = difflib.get_close_matches(key, list(self._groups), n=3)
            raise HumsecError(f"unknown country grouping '{group}': expected one of "
                              f"{', '.join(self.groupings())}"
                              + (f" (did you mean {', '.join(close)}?)" if close else "")
                              + "; or 'region:<M49 region>', 'subregion:<name>', 'income:<group>'")
        return self._groups[key]

    def members(self, group: str) -> frozenset[str]:
        """ISO3 members of a grouping.

        Parameters
        ----------
        group : str
            A key from :meth:`groupings` (case-insensitive) or a derived grouping
            ``"region:Africa"``, ``"subregion:Western Asia"``, ``"income:High income"``.
        """
        kind, sep, value = str(group).partition(":")
        attr = {"region": "region", "subregion": "subregion", "income": "income_group"}
        if sep and kind.strip().lower() in attr:
            a, v = attr[kind.strip().lower()], value.strip().casefold()
            out = frozenset(c for c, i in self._info.items()
                            if (getattr(i, a) or "").casefold() == v)
            if not out:
                raise HumsecError(f"no countries in '{group}': check the {kind} name")
            return out
        return self.grouping(group)["members"]

    def groups_of(self, iso3: str) -> list[str]:
        """Keys of the curated groupings a country belongs to."""
        code = self._check(iso3)
        return [k for k in self.groupings() if code in self._groups[k]["members"]]

    # -- borders -------------------------------------------------------------------------
    def neighbours(self, iso3: str) -> frozenset[str]:
        """Countries sharing a land border with ``iso3`` (Natural Earth outlines)."""
        return self._borders.get(self._check(iso3), frozenset())

    def nearest(self, iso3: str, k: int = 3, *, independent: bool = True) -> list[tuple[str, float]]:
        """The ``k`` nearest countries of ``iso3`` by the distance between their outlines
        (coast to coast, km; Natural Earth, data release), nearest first; with
        ``independent`` only independent countries (no territory crowds out Australia as
        a neighbour of New Zealand). Empty when the release has no distances for it."""
        code = self._check(iso3)
        out = []
        for other, km in _geography().get("nearest", {}).get(code, ()):
            info = self._info.get(other)
            if info is None or (independent and not info.independent):
                continue
            out.append((other, km))
            if len(out) == k:
                break
        return out

    def border_graph(self) -> dict[str, frozenset[str]]:
        """Symmetric land-border adjacency for every known code (empty set: no land border)."""
        return {c: self._borders.get(c, frozenset()) for c in self._info}


_DEFAULT_LOCK = threading.Lock()


def _default_registry(cls: type) -> CountryRegistry:
    with _DEFAULT_LOCK:
        return _cached_default(cls)


@functools.cache
def _cached_default(cls: type) -> CountryRegistry:
    return cls()


# -- loaders ------------------------------------------------------------------------------
def _hdx() -> dict:
    # Importing hdx imports frictionless, which raises Python's csv field size limit for
    # the whole process (csv.field_size_limit at import time): a 20 MB cell would then be
    # read by every other csv reader. Keep the limit local to building the registry.
    limit = csv.field_size_limit()
    try:
        # local: hdx costs most of a second and changes the csv field limit at import
        # (see above); it is read only when the source cache below is missing or stale
        from hdx.location.country import Country

        return Country.countriesdata(use_live=False)
    finally:
        csv.field_size_limit(limit)


#: Environment variable naming the directory of the registry's source cache (default: the
#: user cache directory, e.g. ``~/.cache/humsec``).
ENV_CACHE = "HUMSEC_CACHE_DIR"
_SOURCES_LOCK = threading.Lock()
_SOURCES: dict | None = None


def _sources_key() -> str:
    """What the cached sources were read from: the versions of the packages they come
    from and this module's code (a change of either makes the cache stale)."""
    h = hashlib.sha256()
    for dist in ("hdx-python-country",):
        try:
            h.update(f"{dist}={metadata.version(dist)};".encode())
        except metadata.PackageNotFoundError:  # pragma: no cover - dependency
            h.update(f"{dist}=?;".encode())
    h.update(sys.version.encode())
    try:
        h.update(Path(__file__).read_bytes())
    except OSError:  # pragma: no cover - zipped install
        h.update(b"no-source")
    return h.hexdigest()[:20]


def _sources_path() -> Path | None:
    base = os.environ.get(ENV_CACHE)
    if not base:
        try:
            # local: 4 ms at import, paid only when $HUMSEC_CACHE_DIR is unset (CLI start-up)
            import platformdirs

            base = platformdirs.user_cache_dir("humsec", appauthor=False)
        except Exception:  # pragma: no cover - no cache directory on this system
            return None
    return Path(base) / f"country_sources_{_sources_key()}.json"


def _read_sources() -> dict:
    """The parts of the OCHA taxonomy (hdx-python-country) the registry uses, read from
    the package: the taxonomy rows, the name regexes (pattern and flags) and the
    multilingual names."""
    hdx = _hdx()
    return {"countries": hdx["countries"],
            "aliases": {c: [rx.pattern, int(rx.flags)] for c, rx in hdx["aliases"].items()},
            "countrynames2iso3": hdx["countrynames2iso3"]}


def _sources() -> dict:
    """:func:`_read_sources`, kept in a JSON file of the user cache directory keyed by the
    package version and this module's code: importing hdx (frictionless) costs most of a
    second in every new process, for the same numbers. Only plain data is cached (no pickles); an unreadable, stale or corrupt file
    is ignored and rewritten, and a cache that cannot be written is simply not kept."""
    global _SOURCES
    with _SOURCES_LOCK:
        if _SOURCES is not None:
            return _SOURCES
        path = _sources_path()
        data = None
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict) or set(data) != {"countries", "aliases", "countrynames2iso3"}:
                    data = None
            except (OSError, ValueError):
                data = None
        if data is None:
            data = _read_sources()
            if path is not None:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
                    os.replace(tmp, path)
                    for old in path.parent.glob("country_sources_*.json"):  # stale keys
                        if old != path:
                            old.unlink(missing_ok=True)
                except OSError:
                    pass
        _SOURCES = data
        return data


def _float(v: object, *, lon: bool = False) -> float | None:
    """Latitude in [-90, 90], or longitude wrapped into [-180, 180) (the taxonomy gives
    Fiji 195.3); None when absent."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    if lon:
        return (f + 180.0) % 360.0 - 180.0
    return f if -90.0 <= f <= 90.0 else None


_GEOGRAPHY_LOCK = threading.Lock()


@functools.cache
def _geography_cached() -> dict:
    res = resources.files("humsec.data").joinpath("shipped", GEOGRAPHY_FILE)
    try:
        data = json.loads(res.read_text(encoding="utf-8"))
        return {"borders": [tuple(b) for b in data["borders"]],
                "points": {c: (float(p[0]), float(p[1])) for c, p in data["points"].items()},
                "nearest": {c: tuple((str(o), float(km)) for o, km in v)
                            for c, v in data.get("nearest", {}).items()}}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HumsecError(f"the shipped data release lacks a readable {GEOGRAPHY_FILE} ({exc}); "
                          "reinstall humsec or rebuild the release") from None


def _geography() -> dict:
    """Land-border pairs and representative points (lat, lon) of the shipped release."""
    with _GEOGRAPHY_LOCK:
        return _geography_cached()


def _load_regexes() -> dict[str, re.Pattern]:
    return {c: re.compile(p, flags) for c, (p, flags) in _sources()["aliases"].items()}


#: Preferred names the HDX country list gets wrong for English text ("Naoero" is the
#: Nauruan name of Nauru).
NAME_FIXES = {"NRU": "Nauru"}


def _load_countries(config: Mapping, groups: Mapping) -> tuple[dict, list[tuple[str, str]]]:
    """Build :class:`CountryInfo` records and (name, iso3) pairs, highest priority first."""
    import pycountry  # local: see _score

    hdx = _sources()
    points = _geography()["points"]
    flags = {k: groups[k]["members"] if k in groups else frozenset() for k in ("LDC", "LLDC", "SIDS")}
    info: dict[str, CountryInfo] = {}
    names: list[tuple[str, str]] = [(n, code) for code, alts in config.get("aliases", {}).items()
                                    for n in alts]
    for c in pycountry.countries:
        row = hdx["countries"].get(c.alpha_3, {})
        pref = NAME_FIXES.get(c.alpha_3) or row.get("Preferred Term") or getattr(c, "common_name", None) or c.name
        info[c.alpha_3] = CountryInfo(
            iso3=c.alpha_3, iso2=c.alpha_2, numeric=c.numeric, name=pref,
            official_name=getattr(c, "official_name", None) or row.get("English Formal") or pref,
            region=row.get("Region Name"), subregion=row.get("Sub-region Name"),
            intermediate_region=row.get("Intermediate Region Name"),
            income_group=_INCOME.get(row.get("World Bank Income Level")),
            ldc=c.alpha_3 in flags["LDC"], lldc=c.alpha_3 in flags["LLDC"],
            sids=c.alpha_3 in flags["SIDS"], independent=row.get("Independent") == "Y",
            lat=points.get(c.alpha_3, (_float(row.get("Latitude")), None))[0],
            lon=points.get(c.alpha_3, (None, _float(row.get("Longitude"), lon=True)))[1],
            un_member=row.get("Appears in DGACM list") == "Y")
        names += [(n, c.alpha_3) for n in (pref, c.name, getattr(c, "common_name", None),
                                           getattr(c, "official_name", None)) if n]
    for code, x in config.get("extra_countries", {}).items():
        info[code] = CountryInfo(
            iso3=code, iso2=x["iso2"], numeric=x.get("numeric"), name=x["name"],
            official_name=x.get("official_name", x["name"]), region=x.get("region"),
            subregion=x.get("subregion"), intermediate_region=x.get("intermediate_region"),
            income_group=x.get("income_group"), ldc=code in flags["LDC"],
            lldc=code in flags["LLDC"], sids=code in flags["SIDS"],
            independent=bool(x.get("independent", True)),
            lat=points.get(code, (_float(x.get("lat")), None))[0],
            lon=points.get(code, (None, _float(x.get("lon"), lon=True)))[1])
        names.append((x["name"], code))
    cols = ("English Short", "English Formal", "M49 English", "ISO Alt Term", "DGACM Alt Term",
            "HPC Tools Alt Term", "RW Short Name", "RW API Alt Term")
    for code, row in hdx["countries"].items():
        names += [(row[k], code) for k in cols if row.get(k) and code in info]
    names += [(n, code) for n, code in hdx["countrynames2iso3"].items() if code in info]
    return info, names


def _load_borders(known: frozenset[str]) -> tuple[dict[str, frozenset[str]], tuple]:
    """The release's land-border pairs restricted to ``known`` codes (symmetric)."""
    graph: dict[str, set[str]] = {c: set() for c in known}
    for a, b in _geography()["borders"]:
        if a in known and b in known and a != b:
            graph[a].add(b)
            graph[b].add(a)
    return {c: frozenset(v) for c, v in graph.items()}, ()
