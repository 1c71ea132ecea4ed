"""Alert rules declared in YAML, and the alerts they raise.

A rules file (see the shipped ``rules.yaml`` for the format and every option) lists
rules such as "the political dimension falls by more than 4 points in one year" or "new
refugee outflow more than doubles". :func:`load_rules` validates a file and reports every
problem at once with its line and path (``rules[2].below``); :func:`default_rules` gives
the shipped rules and :func:`merge_rules` adds a user's (a user rule with the id of a
default one replaces it).

:func:`evaluate` applies rules to a ``(unit, year)`` panel of series and returns
:class:`Alert` s, each with its severity and a plain-language reason; for an aggregate
of an index spec (the HSI or a dimension) the reason names the children that drove the
change - their contribution to the aggregate's change: ``w_i * (s_i,t - s_i,t-1) / sum(w)``
under arithmetic aggregation, the logarithmic-mean Divisia share under geometric
aggregation (both exact when the same children are available in both years).

References
----------
.. [Killick12] Killick, R., Fearnhead, P., Eckley, I. A. (2012). Optimal detection of
   changepoints with a linear computational cost. *JASA* 107(500), 1590-1598.
.. [Hegre19] Hegre, H. et al. (2019). ViEWS: A political violence early-warning system.
   *Journal of Peace Research* 56(2), 155-174 (early warning as a system of explicit,
   evaluated rules and models).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.forecast.detect import _deterioration_arrays, pelt_many
from humsec.yamlio import load_yaml, read_text

__all__ = [
    "Alert", "MEASURES", "Rule", "SEVERITIES", "alerts_frame", "default_rules", "evaluate", "load_rules",
    "merge_rules", "parse_rules",
]

MEASURES = ("change", "pct_change", "ratio", "level", "own_z", "peer_z", "change_point")
SEVERITIES = ("low", "medium", "high")
KEYWORDS = ("index", "dimensions", "indicators")
_KEYS = {"id", "title", "series", "exclude", "measure", "below", "above", "severity", "min_level", "window",
         "min_history"}
_ID = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Rule:
    """One validated alert rule.

    Attributes
    ----------
    id, title : str
    series : tuple of str
        Series codes or keywords (``index``, ``dimensions``, ``indicators``).
    exclude : tuple of str
    measure : str
        One of :data:`MEASURES`.
    op : {"below", "above"}
    thresholds : tuple of (str, float)
        (severity, threshold) from least to most severe.
    min_level : float or None
    window : int
        Years a change point stays recent.
    min_history : int
        Earlier changes needed for ``own_z``.
    """

    id: str
    title: str
    series: tuple[str, ...]
    measure: str
    op: str
    thresholds: tuple[tuple[str, float], ...]
    exclude: tuple[str, ...] = ()
    min_level: float | None = None
    window: int = 2
    min_history: int = 4

    def severity_of(self, value: float) -> str | None:
        """The most severe level whose threshold ``value`` crosses (None: no alert)."""
        if not np.isfinite(value):
            return None
        hit = None
        for sev, thr in self.thresholds:
            if (value < thr) if self.op == "below" else (value > thr):
                if hit is None or SEVERITIES.index(sev) > SEVERITIES.index(hit):
                    hit = sev
        return hit

    def threshold_of(self, severity: str) -> float:
        return dict(self.thresholds)[severity]

    def expand(self, available: Iterable[str], spec: Any = None) -> list[str]:
        """Concrete series codes of the rule among ``available`` columns."""
        avail = list(available)
        out: list[str] = []
        for s in self.series:
            if s in KEYWORDS:
                if spec is None:
                    continue
                codes = ([spec.root] if s == "index" else spec.children[spec.root] if s == "dimensions"
                         else spec.indicators)
                out += [c for c in codes if c in avail]
            elif s in avail:
                out.append(s)
        return [c for c in dict.fromkeys(out) if c not in self.exclude]


@dataclass(frozen=True)
class Alert:
    """A rule that fired for one country, year and series.

    Attributes
    ----------
    unit, year, rule, series, measure : str/int
    value : float
        The measure's value.
    threshold : float
        The threshold of the severity reached.
    severity : str
    reason : str
        Plain-language explanation.
    drivers : tuple of dict
        For aggregates: the children that moved most (``code, name, change,
        contribution``), worst first.
    previous, current : float
        ``y_(t-1)`` and ``y_t``.
    """

    unit: str
    year: int
    rule: str
    title: str
    series: str
    measure: str
    value: float
    threshold: float
    severity: str
    reason: str
    previous: float = float("nan")
    current: float = float("nan")
    drivers: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        # as dataclasses.asdict (field order, copies of the driver mappings), without its
        # recursive deep copy of every str and float (the API renders hundreds of alerts)
        d = {name: getattr(self, name) for name in _ALERT_FIELDS}
        d["drivers"] = [dict(x) for x in self.drivers]
        for k in ("value", "threshold", "previous", "current"):
            d[k] = None if not np.isfinite(d[k]) else float(d[k])
        return d


_ALERT_FIELDS = tuple(f.name for f in fields(Alert))


# ---------------------------------------------------------------------------- loading


def _line_map(text: str) -> dict[tuple[Any, ...], int]:
    """Path (``("rules", 2, "below")``) -> 1-based line of every node of a YAML text."""
    out: dict[tuple[Any, ...], int] = {}

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        out[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value
                out[(*path, key)] = k.start_mark.line + 1
                walk(v, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, (*path, i))

    root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if root is not None:
        walk(root, ())
    return out


def parse_rules(text: str, *, file: str = "<rules>") -> tuple[Rule, ...]:
    """Validate a rules YAML text.

    Raises
    ------
    ValidationError
        Every problem found, each located by line and path in the file.
    """
    # bounded safe loading (alias bombs, deep nesting, unbuildable scalars are located
    # errors); the line map composes the same, already bounded, text
    try:
        raw = load_yaml(text, file)
    except ValidationError as exc:  # worded like the rules' own issues: "file, line N"
        raise ValidationError([ValidationIssue(i.message, file=f"{file}, line {i.row}" if i.row else file)
                               for i in exc.issues]) from None
    lines = _line_map(text)
    issues: list[ValidationIssue] = []

    def add(msg: str, path: tuple[Any, ...]) -> None:
        line = None
        for k in range(len(path), -1, -1):
            if path[:k] in lines:
                line = lines[path[:k]]
                break
        dotted = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))
        issues.append(ValidationIssue(msg, file=f"{file}, line {line}" if line else file, field=dotted or None))

    if not isinstance(raw, dict) or "rules" not in raw:
        add("expected a mapping with a 'rules' list (and rules_version: 1)", ())
        raise ValidationError(issues)
    if raw.get("rules_version", 1) != 1:
        add(f"rules_version {raw.get('rules_version')!r} is not supported (expected 1)", ("rules_version",))
    extra = set(raw) - {"rules", "rules_version"}
    for k in sorted(extra):
        add(f"unknown key '{k}' (expected rules_version, rules)", (k,))
    items = raw["rules"]
    if not isinstance(items, list):
        add("'rules' must be a list of rules", ("rules",))
        raise ValidationError(issues)
    rules = []
    seen: dict[str, int] = {}
    for i, r in enumerate(items):
        p = ("rules", i)
        if not isinstance(r, dict):
            add("a rule must be a mapping (id, series, measure, below/above ...)", p)
            continue
        n_before = len(issues)
        for k in sorted(set(r) - _KEYS):
            add(f"unknown key '{k}' (expected one of {', '.join(sorted(_KEYS))})", (*p, k))
        rid = r.get("id")
        if not isinstance(rid, str) or not _ID.match(rid):
            add("'id' is required: letters, digits, '_' or '-'", (*p, "id"))
        elif rid in seen:
            add(f"duplicate id '{rid}' (first at rules[{seen[rid]}])", (*p, "id"))
        else:
            seen[rid] = i
        series = r.get("series")
        if isinstance(series, str):
            series = [series]
        if not (isinstance(series, list) and series and all(isinstance(s, str) and s for s in series)):
            add("'series' is required: a series code, a list of codes, or index/dimensions/indicators", (*p, "series"))
            series = []
        exclude = r.get("exclude", [])
        if isinstance(exclude, str):
            exclude = [exclude]
        if not isinstance(exclude, list):
            add("'exclude' must be a list of series codes", (*p, "exclude"))
            exclude = []
        measure = r.get("measure")
        if measure not in MEASURES:
            add(f"'measure' {measure!r}: expected one of {', '.join(MEASURES)}", (*p, "measure"))
        ops = [o for o in ("below", "above") if o in r]
        thresholds: list[tuple[str, float]] = []
        op = ops[0] if ops else "below"
        if len(ops) != 1:
            add("exactly one of 'below' or 'above' is required", p if not ops else (*p, ops[1]))
        else:
            t = r[op]
            if isinstance(t, dict):
                if "severity" in r:
                    add("'severity' is given by the keys of the threshold mapping; remove it", (*p, "severity"))
                for sev, v in t.items():
                    if sev not in SEVERITIES:
                        add(f"severity '{sev}': expected one of {', '.join(SEVERITIES)}", (*p, op, sev))
                    elif isinstance(v, bool) or not isinstance(v, (int, float)):
                        add(f"threshold for '{sev}' must be a number, got {v!r}", (*p, op, sev))
                    else:
                        thresholds.append((sev, float(v)))
                if not t:
                    add("the threshold mapping is empty", (*p, op))
                order = sorted(thresholds, key=lambda x: SEVERITIES.index(x[0]))
                vals = [v for _, v in order]
                mono = all(a >= b for a, b in zip(vals, vals[1:])) if op == "below" else \
                    all(a <= b for a, b in zip(vals, vals[1:]))
                if len(vals) > 1 and not mono:
                    add(f"more severe levels must have more extreme thresholds ({'lower' if op == 'below' else 'higher'})",
                        (*p, op))
                thresholds = order
            elif isinstance(t, bool) or not isinstance(t, (int, float)):
                add(f"'{op}' must be a number or a mapping severity -> number, got {t!r}", (*p, op))
            else:
                sev = r.get("severity", "medium")
                if sev not in SEVERITIES:
                    add(f"'severity' {sev!r}: expected one of {', '.join(SEVERITIES)}", (*p, "severity"))
                else:
                    thresholds = [(sev, float(t))]
        if measure == "ratio" and op == "below" and thresholds and any(v < 0 for _, v in thresholds):
            add("a ratio is never negative; the threshold can never be crossed", (*p, op))
        min_level = r.get("min_level")
        if min_level is not None and (isinstance(min_level, bool) or not isinstance(min_level, (int, float))):
            add(f"'min_level' must be a number, got {min_level!r}", (*p, "min_level"))
            min_level = None
        window = r.get("window", 2)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            add(f"'window' must be a whole number of years >= 1, got {window!r}", (*p, "window"))
            window = 2
        if "window" in r and measure != "change_point":
            add("'window' applies to measure change_point only", (*p, "window"))
        mh = r.get("min_history", 4)
        if isinstance(mh, bool) or not isinstance(mh, int) or mh < 2:
            add(f"'min_history' must be a whole number >= 2, got {mh!r}", (*p, "min_history"))
            mh = 4
        title = r.get("title", rid if isinstance(rid, str) else "")
        if not isinstance(title, str):
            add("'title' must be text", (*p, "title"))
        if len(issues) == n_before:
            assert isinstance(rid, str) and isinstance(measure, str)  # checked above (no issue added)
            rules.append(Rule(id=rid, title=str(title), series=tuple(series), measure=measure, op=op,
                              thresholds=tuple(thresholds), exclude=tuple(exclude),
                              min_level=None if min_level is None else float(min_level), window=window,
                              min_history=mh))
    if issues:
        raise ValidationError(issues)
    return tuple(rules)


def load_rules(path: str | Path) -> tuple[Rule, ...]:
    """Read and validate a rules file (see :func:`parse_rules`)."""
    p = Path(path)
    if not p.is_file():
        raise HumsecError(f"rules file {p} not found")
    return parse_rules(read_text(p, "alert rules file"), file=str(p))


def default_rules() -> tuple[Rule, ...]:
    """The rules shipped in ``humsec/forecast/rules.yaml``."""
    text = (resources.files("humsec.forecast") / "rules.yaml").read_text(encoding="utf-8")
    return parse_rules(text, file="built-in rules.yaml")


def merge_rules(base: Sequence[Rule], extra: Sequence[Rule]) -> tuple[Rule, ...]:
    """``base`` followed by ``extra``; a rule of ``extra`` replaces the base rule with its id."""
    ids = {r.id for r in extra}
    return tuple([r for r in base if r.id not in ids] + list(extra))


# ---------------------------------------------------------------------------- evaluation


def _base_arrays(panel: pd.DataFrame, col: str, cache: dict[Any, Any]) -> dict[str, np.ndarray]:
    """``unit, year, current, previous`` of one series as arrays: its non-missing values
    in (unit, year) order, ``previous`` the unit's value of the year before (NaN after a
    gap).

    On arrays, with the panel's unit codes and row order computed once and each series'
    arrays once (``cache``; callers must not write into them): a rules file applies
    dozens of rules to every series and pandas' per-call overhead of sorting and grouping
    would dominate."""
    hit = cache.get(("_base", col))
    if hit is not None:
        return hit
    order = cache.get(("_order",))
    if order is None:
        units = panel.index.get_level_values("unit")
        years = panel.index.get_level_values("year")
        ucode, uniq = pd.factorize(units, sort=True)
        yv = np.asarray(years)
        order = np.lexsort((yv, ucode))
        order = cache[("_order",)] = (order, ucode[order], yv[order], np.asarray(uniq, dtype=object))
    idx, ucode, yv, uniq = order
    v = panel[col].to_numpy()[idx]
    keep = ~pd.isna(v)
    uc, y, cur = ucode[keep], yv[keep], np.asarray(v[keep], dtype=float)
    prev = np.full(len(cur), np.nan)
    if len(cur) > 1:
        same = (uc[1:] == uc[:-1]) & ((y[1:] - y[:-1]) == 1)
        prev[1:] = np.where(same, cur[:-1], np.nan)
    out = cache[("_base", col)] = {"unit": uniq[uc], "year": y, "current": cur, "previous": prev}
    return out


def _base_frame(panel: pd.DataFrame, col: str, cache: dict[Any, Any]) -> pd.DataFrame:
    """:func:`_base_arrays` as a frame ``unit, year, current, previous``."""
    return pd.DataFrame({k: v.copy() for k, v in _base_arrays(panel, col, cache).items()})


def _measure_arrays(panel: pd.DataFrame, col: str, rule: Rule, groups: Mapping[str, Any] | None,
                    cache: dict[Any, Any], *, year: int | None = None,
                    units: set[str] | None = None) -> dict[str, np.ndarray]:
    """:func:`_measure_frame` as a mapping of column -> array (what :func:`evaluate` reads)."""
    base = _base_arrays(panel, col, cache)
    cur, prev = base["current"], base["previous"]
    out = dict(base)
    m = rule.measure
    with np.errstate(divide="ignore", invalid="ignore"):
        if m == "change":
            out["value"] = cur - prev
        elif m == "pct_change":
            out["value"] = 100.0 * (cur / np.where(prev != 0, prev, np.nan) - 1.0)
        elif m == "ratio":
            out["value"] = cur / np.where(prev > 0, prev, np.nan)
        elif m == "level":
            out["value"] = cur.copy()
        elif m in ("own_z", "peer_z"):
            zkey = ("_z", col, rule.min_history, groups is not None, year)
            if zkey not in cache:
                # deterioration_table's rows of the series, as arrays; with a year, only
                # its rows are scored (evaluate keeps no other)
                t = _deterioration_arrays(panel, col, groups=groups, min_history=rule.min_history,
                                          years=None if year is None else [year])
                if len(t["year"]) == len(base["year"]) and np.array_equal(t["year"], base["year"]) \
                        and np.array_equal(t["unit"], base["unit"]):
                    z = {c: t[c] for c in ("own_z", "peer_z")}  # the same rows in the same order
                else:  # a left join on (unit, year): the table holds each unit-year once
                    pos = pd.MultiIndex.from_arrays([t["unit"], t["year"]]).get_indexer(
                        pd.MultiIndex.from_arrays([base["unit"], base["year"]]))
                    found = pos >= 0
                    z = {}
                    for c in ("own_z", "peer_z"):
                        v = np.full(len(pos), np.nan)
                        v[found] = np.asarray(t[c], dtype=float)[pos[found]]
                        z[c] = v
                cache[zkey] = z
            out["value"] = cache[zkey][m].copy()
        elif m == "change_point":
            out.update(_change_point_arrays(base, rule, year=year, units=units))
    return out


def _change_point_arrays(base: Mapping[str, np.ndarray], rule: Rule, *, year: int | None,
                         units: set[str] | None) -> dict[str, np.ndarray]:
    """The latest change point within ``rule.window`` years of each row (its shift and
    the first year of the new level), PELT on the unit's series up to that row - every
    series of the call at once (:func:`~humsec.forecast.detect.pelt_many`)."""
    # the arrays are in (unit, year) order: each unit's rows are one contiguous block
    unit_arr, yr, cur = base["unit"], base["year"], base["current"]
    value = np.full(len(cur), np.nan)
    brk = np.full(len(cur), np.nan)
    starts = np.flatnonzero(np.r_[True, unit_arr[1:] != unit_arr[:-1]]) if len(cur) else np.array([], int)
    ends = np.r_[starts[1:], len(cur)]
    rows, series = [], []
    for a, b in zip(starts, ends):
        if units is not None and unit_arr[a] not in units:
            continue
        for i in range(a + 3, b):  # at least four values
            if year is not None and yr[i] != year:
                continue
            rows.append(i)
            series.append((cur[a:i + 1], yr[a:i + 1]))
    for i, cps in zip(rows, pelt_many(series, min_size=1)):
        y = yr[i]
        recent = [(c.year, c.shift) for c in cps if c.year is not None and y - rule.window < c.year <= y]
        if recent:
            value[i] = recent[-1][1]
            brk[i] = float(recent[-1][0])
    # the first year of the new level: the change into it is what the drivers explain
    return {"value": value, "break_year": brk}


def _measure_frame(panel: pd.DataFrame, col: str, rule: Rule, groups: Mapping[str, Any] | None,
                   cache: dict[Any, Any], *, year: int | None = None,
                   units: set[str] | None = None) -> pd.DataFrame:
    """``unit, year, previous, current, value`` of a rule's measure on one series
    (``break_year`` too for change points).

    ``year``/``units`` only spare work: a change point of a year is detected on the
    series up to that year, so rows outside them (which :func:`evaluate` drops) are left
    NaN instead of being computed."""
    return pd.DataFrame({k: np.array(v, copy=True) for k, v in
                         _measure_arrays(panel, col, rule, groups, cache, year=year, units=units).items()})


class _Rows:
    """Row lookup of a ``(unit, year)`` panel on arrays (the driver explanations read a
    few cells for every alert; pandas label lookups would dominate the run time)."""

    def __init__(self, panel: pd.DataFrame) -> None:
        num = panel.select_dtypes("number")
        self.columns = {c: i for i, c in enumerate(num.columns)}
        self.values = num.to_numpy(dtype=float)
        self.pos = {key: i for i, key in enumerate(panel.index)}
        self.methods: dict[str, tuple[str, Mapping[str, Any]]] = {}  # aggregate -> (method, params)

    def get(self, unit: str, year: int, cols: Sequence[str]) -> np.ndarray | None:
        i = self.pos.get((unit, year))
        if i is None:
            return None
        return self.values[i, [self.columns[c] for c in cols]]


def _contributions(spec: Any, code: str, now: np.ndarray, before: np.ndarray, w: np.ndarray,
                   memo: dict[str, Any] | None = None) -> np.ndarray:
    """Each child's share of the change of aggregate ``code``.

    Arithmetic mean: ``w_i (s_i,t - s_i,t-1) / sum(w)``. Geometric mean (with the spec's
    ``floor``): the logarithmic-mean Divisia decomposition ``L(A_t, A_t-1) w_i (ln s_i,t -
    ln s_i,t-1) / sum(w)``, ``L(a, b) = (a - b) / (ln a - ln b)``, which adds up exactly
    to the change of the geometric mean [Ang04]_. Both are exact when the same children
    are available in both years.

    References
    ----------
    .. [Ang04] Ang, B. W. (2004). Decomposition analysis for policymaking in energy: which
       is the preferred method? *Energy Policy* 32(9), 1131-1139.
    """
    hit = memo.get(code) if memo is not None else None
    if hit is None:
        from humsec.index.pipeline import resolve_method

        hit = ("arithmetic", {})
        i = spec.step_index("aggregate") if hasattr(spec, "step_index") else None
        if i is not None:
            hit = resolve_method(spec.steps[i], code, spec.level(code))
        if memo is not None:
            memo[code] = hit
    method, params = hit
    if method != "geometric":
        return w * (now - before) / w.sum()
    floor = params.get("floor") or 0.0
    a, b = np.maximum(now, floor), np.maximum(before, floor)
    if (a <= 0).any() or (b <= 0).any():
        return w * (now - before) / w.sum()
    dlog = w * (np.log(a) - np.log(b)) / w.sum()
    # the mean of the same children in both years (the stored aggregate may use others)
    g1, g0 = np.exp(np.sum(w * np.log(a)) / w.sum()), np.exp(np.sum(w * np.log(b)) / w.sum())
    lm = g1 if np.isclose(g1, g0) else (g1 - g0) / (np.log(g1) - np.log(g0))
    return lm * dlog


def _drivers(rows: _Rows, spec: Any, code: str, unit: str, year: int, *, depth: int = 2,
             n: int = 3) -> tuple[dict[str, Any], ...]:
    if spec is None or code not in spec.children or depth <= 0:
        return ()
    kids = [k for k in spec.children[code] if k in rows.columns]
    now, before = rows.get(unit, year, kids), rows.get(unit, year - 1, kids)
    if now is None or before is None:
        return ()
    both = np.isfinite(now) & np.isfinite(before)
    if not both.any():
        return ()
    names = [k for k, b in zip(kids, both) if b]
    w = np.array([float(spec.nodes[k].weight) for k in names])
    delta = (now - before)[both]
    contrib = _contributions(spec, code, now[both], before[both], w, rows.methods)
    out = []
    for j in np.argsort(contrib, kind="stable")[:n]:
        if contrib[j] >= 0:
            break
        k = names[j]
        node = spec.nodes[k]
        d = {"code": k, "name": node.name or k, "change": round(float(delta[j]), 2),
             "contribution": round(float(contrib[j]), 2)}
        sub = _drivers(rows, spec, k, unit, year, depth=depth - 1, n=1)
        if sub:
            d["via"] = sub[0]["code"]
        out.append(d)
    return tuple(out)


def _label(code: str, spec: Any, names: Mapping[str, str] | None) -> str:
    if names and code in names:
        return names[code]
    if spec is not None and code in spec.nodes and spec.nodes[code].name:
        return spec.nodes[code].name
    return code


_MEASURE_TEXT = {
    "change": "changed by {v:+.2f}", "pct_change": "changed by {v:+.1f} %", "ratio": "was {v:.2f} times last year's",
    "level": "stood at {v:.3g}", "own_z": "moved {v:+.1f} robust SDs from its own past changes",
    "peer_z": "moved {v:+.1f} robust SDs from the region's changes", "change_point": "shifted level by {v:+.2f}",
}


def evaluate(rules: Sequence[Rule], panel: pd.DataFrame, *, spec: Any = None, year: int | None = None,
             units: Iterable[str] | None = None, groups: Mapping[str, Any] | None = None,
             names: Mapping[str, str] | None = None) -> list[Alert]:
    """Apply rules to a ``(unit, year)`` panel of series.

    Parameters
    ----------
    rules : sequence of Rule
    panel : pandas.DataFrame
        Index ``(unit, year)``, one column per series (e.g. :func:`node_history`, with
        extra columns such as ``refugee_outflow``). Rules whose series are absent are
        skipped.
    spec : IndexSpec, optional
        Resolves the keywords ``index``/``dimensions``/``indicators`` and explains
        aggregates by their children.
    year : int, optional
        Only alerts of this year (default: every year).
    units : iterable of str, optional
        Only these units.
    groups : mapping, optional
        Unit -> peer group for ``peer_z``.
    names : mapping, optional
        Series code -> display name.

    Returns
    -------
    list of Alert
        Most severe first, then by unit and rule.
    """
    if list(panel.index.names) != ["unit", "year"]:
        raise HumsecError("alert rules need a panel indexed by (unit, year)")
    keep = set(units) if units is not None else None
    cache: dict[Any, pd.DataFrame] = {}
    alerts: list[Alert] = []
    rows = _Rows(panel) if spec is not None else None
    for rule in rules:
        if not rule.thresholds:
            continue
        lim = max(t for _, t in rule.thresholds) if rule.op == "below" else min(t for _, t in rule.thresholds)
        for col in rule.expand(panel.columns, spec):
            fr = _measure_arrays(panel, col, rule, groups, cache, year=year, units=keep)
            v = fr["value"]
            # the rows that cross the least extreme threshold (all others raise nothing)
            with np.errstate(invalid="ignore"):
                sel = (v < lim) if rule.op == "below" else (v > lim)
            if year is not None:
                sel &= fr["year"] == year
            if keep is not None:
                sel &= np.fromiter((u in keep for u in fr["unit"]), dtype=bool, count=len(v))
            if rule.min_level is not None:
                sel &= fr["current"] >= rule.min_level
            brk = fr.get("break_year")
            for i in np.flatnonzero(sel):
                value = float(v[i])
                sev = rule.severity_of(value)
                if sev is None:
                    continue
                unit, yr, prev = str(fr["unit"][i]), int(fr["year"][i]), float(fr["previous"][i])
                thr = rule.threshold_of(sev)
                what = _MEASURE_TEXT[rule.measure].format(v=value)
                reason = (f"{_label(col, spec, names)} {what} in {yr} "
                          f"({'below' if rule.op == 'below' else 'above'} {thr:g}: {rule.title})")
                dy = yr
                if rule.measure == "change_point" and brk is not None and not np.isnan(brk[i]):
                    dy = int(brk[i])  # explain the shift by the change into the new level
                drivers = _drivers(rows, spec, col, unit, dy) if rows is not None else ()
                if drivers:
                    lead = f"; the shift came in {dy}, driven by " if dy != yr else "; driven by "
                    reason += lead + ", ".join(
                        f"{d['name']} {d['change']:+.1f}" + (f" (mainly {_label(d['via'], spec, names)})" if "via" in d else "")
                        for d in drivers)
                alerts.append(Alert(unit=unit, year=yr, rule=rule.id, title=rule.title, series=col,
                                    measure=rule.measure, value=value, threshold=thr, severity=sev,
                                    reason=reason, previous=prev if not np.isnan(prev) else float("nan"),
                                    current=float(fr["current"][i]), drivers=drivers))
    alerts.sort(key=lambda a: (-SEVERITIES.index(a.severity), a.unit, a.year, a.rule, a.series))
    return alerts


def alerts_frame(alerts: Sequence[Alert]) -> pd.DataFrame:
    """Alerts as a table: ``unit, year, severity, rule, series, measure, value, threshold,
    previous, current, reason, drivers`` (drivers as ``code:contribution`` text)."""
    cols = ["unit", "year", "severity", "rule", "series", "measure", "value", "threshold", "previous", "current",
            "reason", "drivers"]
    rows = []
    for a in alerts:
        d = a.to_dict()
        d["drivers"] = "; ".join(f"{x['code']}:{x['contribution']:+.2f}" for x in a.drivers)
        rows.append({c: d[c] for c in cols})
    return pd.DataFrame(rows, columns=cols)
