"""Status of commitment targets, computed from the data.

Each target is classified with the Open SDG progress rule, reused unchanged from
:func:`humsec.analysis.trends.progress_status`: the compound annual growth rate (CAGR)
observed since the baseline year is compared with the CAGR needed to go from the
baseline value to the target value by the deadline's year, giving *target achieved*,
*on track* (ratio >= 0.95), *progress made, acceleration needed* (0.60-0.95), *limited
progress* (0-0.60), *deterioration* (< 0), *insufficient data* (no usable observations)
or *too early* (``too_early``: a baseline exists but nothing has been observed after the
adoption year yet, so nothing can be said about what happened since the promise).

Indicators on a *signed scale* - whose catalogue range admits negative values
(``valid_min < 0``: the World Bank WGI estimates in standard-normal units, growth and
inflation rates) - have an arbitrary or meaningful zero and values on both sides of it,
where a compound growth rate is undefined or meaningless. Their targets are judged by
the same rule on *linear* rates (:func:`linear_progress_status`): the observed change per
year since the baseline against the change per year needed to reach the target by the
deadline, ``R = d * slope_obs / |slope_req|``, with the same thresholds (the SDSN SDR also
measures trends linearly). Without a target value such a target cannot be judged
(*insufficient data*, with a note): there are no fixed linear cut-offs in arbitrary units.

Baseline and period. A target's ``baseline_year`` is the commitment's adoption year
(:func:`humsec.oversight.io.read_commitments` takes it from the instrument's ``adopted``
date unless a file sets it). The baseline is the value *known when the promise was
made*: the observation in the adoption year or, failing that, the latest one before it
(only when there is none at or before it, the first one after it, with a note). A
baseline value given in the commitment replaces it. Progress is then measured on the
observations *after* the adoption year, up to ``as_of`` (default: the latest). A target
whose latest value meets it is *target achieved* - but only on data after adoption; a
baseline that already met the target is still *too early* until a newer observation
shows it was kept. Every status carries its evidence: the (year, value) pairs used, the
content hash of the indicator's data, the growth rates and the Open SDG progress score
(-5 ... +5); :func:`commitment_progress` aggregates the scores of a commitment's targets
(their mean, [OpenSDG]_).

References
----------
.. [OpenSDG] Open SDG, *Progress Measurement Methodology for the Sustainable Development
   Goals* (docs/progress-methodology.md: base year, minimum data requirements,
   aggregated progress status); see :mod:`humsec.analysis.trends`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from humsec.analysis.trends import (FAIR_RATIO, ON_TRACK_RATIO, PROGRESS_LABELS, ProgressResult,
                                   aggregate_progress, endpoints, progress_score, progress_status)
from humsec.model.catalogue import Catalogue
from humsec.model.panel import Panel
from humsec.oversight.models import Commitment, Target

__all__ = ["STATUS_ORDER", "TargetStatus", "commitment_progress", "commitment_status", "linear_progress_status",
           "signed_scale", "status_table", "target_status"]

#: Statuses from worst to best, for reports (keys of ``PROGRESS_LABELS``).
STATUS_ORDER = ("deterioration", "limited_progress", "fair_progress", "on_track", "target_achieved",
                "too_early", "insufficient_data")


@dataclass(frozen=True)
class TargetStatus:
    """The computed status of one target, with its evidence.

    Attributes
    ----------
    commitment_id : str
    commitment_version : int
    target_key, unit, indicator : str
    status : str
        A key of :data:`humsec.analysis.trends.PROGRESS_LABELS`.
    as_of : int or None
        Year of the latest observation used.
    base_year, base_value, latest_value : baseline and latest point used
    target_value : float
    deadline : datetime.date
    cagr_observed, cagr_required, ratio : float
        As in :class:`humsec.analysis.trends.ProgressResult` when ``rate`` is
        ``"compound"``; with ``rate == "linear"`` the observed and required changes per
        year in the indicator's unit.
    baseline_source : {"given", "data", "none"}
    evidence : tuple of (int, float)
        The observations the status rests on.
    data_hash : str
        Content hash of the indicator's data (provenance), to trace the numbers.
    note : str
    rate : {"compound", "linear"}
        Compound growth rates (Open SDG), or linear rates for signed-scale indicators.
    score : float
        Open SDG progress score, -5 ... +5 (NaN when not assessed).
    """

    commitment_id: str
    commitment_version: int
    target_key: str
    unit: str
    indicator: str
    direction: int
    status: str
    as_of: int | None
    base_year: int | None
    base_value: float
    latest_value: float
    target_value: float | None
    deadline: _dt.date
    cagr_observed: float
    cagr_required: float
    ratio: float
    baseline_source: str
    evidence: tuple[tuple[int, float], ...] = field(default_factory=tuple)
    data_hash: str = ""
    note: str = ""
    rate: str = "compound"
    score: float = float("nan")

    @property
    def label(self) -> str:
        return PROGRESS_LABELS[self.status]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN -> None)."""
        d = asdict(self)
        d["deadline"] = self.deadline.isoformat()
        d["evidence"] = [[int(y), float(v)] for y, v in self.evidence]
        d["label"] = self.label
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()}


class _Ends(TypedDict):
    """The base and latest points of a :class:`ProgressResult`."""

    base_year: int
    latest_year: int
    base_value: float
    latest_value: float
    target: float | None


class _Identity(TypedDict):
    """The fields of a :class:`TargetStatus` that do not depend on the data's values."""

    commitment_id: str
    commitment_version: int
    target_key: str
    unit: str
    indicator: str
    direction: int
    target_value: float | None
    deadline: _dt.date
    baseline_source: str
    data_hash: str
    rate: str


def _series(panel: Panel, unit: str, indicator: str) -> pd.Series:
    sub = panel.filter(indicators=[indicator], units=[unit], totals_only=True).data.dropna(subset=["value"])
    s = pd.Series(sub["value"].to_numpy(dtype=float), index=sub["year"].to_numpy(dtype=int))
    return s[~s.index.duplicated(keep="last")].sort_index()


def signed_scale(indicator: Any) -> bool:
    """True when the catalogue range of ``indicator`` admits negative values (``valid_min
    < 0``): growth rates are then undefined, progress is measured linearly."""
    lo = getattr(indicator, "valid_min", None)
    return lo is not None and float(lo) < 0


def linear_progress_status(values: Any, years: Any, *, direction: int, target: float | None,
                           base_year: int | None = None, year: int | None = None,
                           target_year: int = 2030) -> ProgressResult:
    """The Open SDG progress rule on linear rates (for signed-scale indicators).

    The base is the first observation at or after ``base_year``, the latest the last at
    or before ``year``. A latest value at or beyond the target (in the good direction) is
    *target achieved*; otherwise ``R = d * slope_obs / |slope_req|`` with ``slope_obs =
    (y_t - y_0) / (t - t_0)`` and ``slope_req = (target - y_0) / (T - t_0)`` gives on track
    (``R >= 0.95``), fair progress (0.60-0.95), limited progress (0-0.60) or deterioration
    (< 0). ``cagr_observed``/``cagr_required`` of the result hold the two slopes.

    Examples
    --------
    >>> linear_progress_status([-0.6, -0.4], [2020, 2022], direction=1, target=0.4, target_year=2030).status
    'on_track'
    """
    ends = endpoints(values, years, base_year, year)
    if ends is None:
        return ProgressResult("insufficient_data", target=target, note="fewer than two observations in the period")
    t0, y0, t1, y1 = ends
    d = 1 if direction >= 0 else -1
    slope = (y1 - y0) / (t1 - t0)
    base = _Ends(base_year=t0, latest_year=t1, base_value=y0, latest_value=y1, target=target)
    if target is None or not np.isfinite(target):
        return ProgressResult("insufficient_data", cagr_observed=slope,
                              note="no target value: a signed-scale indicator has no growth rule; "
                                   "give a target value", **base)
    if d * (y1 - target) >= 0:
        return ProgressResult("target_achieved", cagr_observed=slope, score=5.0,
                              note="maintaining achievement: the base value met the target too"
                              if d * (y0 - target) >= 0 else "target met", **base)
    if not target_year > t0:
        return ProgressResult("insufficient_data", cagr_observed=slope,
                              note=f"the deadline ({target_year}) is not after the baseline ({t0})", **base)
    req = (float(target) - y0) / (target_year - t0)
    if req == 0:  # the base value met the target exactly and the latest value no longer does
        return ProgressResult("deterioration", cagr_observed=slope, cagr_required=0.0, ratio=-np.inf, score=-5.0,
                              note="the base value met the target exactly; the latest value no longer does",
                              **base)
    r = d * slope / abs(req)
    status = ("on_track" if r >= ON_TRACK_RATIO else "fair_progress" if r >= FAIR_RATIO
              else "limited_progress" if r >= 0 else "deterioration")
    return ProgressResult(status, cagr_observed=slope, cagr_required=req, ratio=r,
                          score=progress_score(r, with_target=True), **base)


def target_status(target: Target, panel: Panel, catalogue: Catalogue, *, commitment_id: str = "",
                  commitment_version: int = 0, as_of: int | None = None) -> TargetStatus:
    """Status of one target from the panel.

    Parameters
    ----------
    target : Target
    panel : Panel
        Observations (e.g. the default panel with the user's imports).
    catalogue : Catalogue
        Gives the indicator's direction (+1 higher is better, -1 lower is better).
    commitment_id, commitment_version : str, int
        Recorded with the result.
    as_of : int, optional
        Use observations up to this year only (default: all).

    Returns
    -------
    TargetStatus
    """
    ind = catalogue[target.indicator]
    full = _series(panel, target.unit, target.indicator)
    if as_of is not None:
        full = full[full.index <= as_of]
    by = int(target.baseline_year)
    before, after = full[full.index <= by], full[full.index > by]
    source, notes = "data", []
    if target.baseline_value is not None:
        t0, y0, source = by, float(target.baseline_value), "given"
    elif len(before):
        t0, y0 = int(before.index[-1]), float(before.iloc[-1])
        if t0 != by:
            notes.append(f"no observation in the baseline year {by}: the latest before it ({t0}) is the baseline")
    elif len(after):
        t0, y0 = int(after.index[0]), float(after.iloc[0])
        notes.append(f"no observation in or before the baseline year {by}: the first one after it ({t0}) is "
                     "the baseline")
    else:
        t0, y0, source = None, float("nan"), "none"
    linear = signed_scale(ind)
    prov = panel.provenance.get(target.indicator)
    common = _Identity(commitment_id=commitment_id, commitment_version=commitment_version, target_key=target.key,
                  unit=target.unit, indicator=target.indicator, direction=ind.direction,
                  target_value=target.target_value, deadline=target.deadline, baseline_source=source,
                  data_hash=prov.content_hash if prov is not None else "", rate="linear" if linear else "compound")
    nan = float("nan")
    if full.empty or t0 is None:
        notes.append(f"no observations of {target.indicator} for {target.unit}"
                     + (f" up to {as_of}" if as_of is not None else ""))
        return TargetStatus(status="insufficient_data", as_of=None, base_year=None, base_value=nan, latest_value=nan,
                            cagr_observed=nan, cagr_required=nan, ratio=nan, note="; ".join(notes), **common)
    s = pd.concat([pd.Series([y0], index=[t0], dtype=float), after[after.index > t0]])
    evidence = tuple((int(y), float(v)) for y, v in s.items())
    if after.empty:
        last = f"the latest observation is of {int(full.index[-1])}" if len(full) else "no observation yet"
        notes.append(f"too early: no observation after the adoption year {by} yet ({last}"
                     + (f", data up to {as_of}" if as_of is not None else "") + ")")
        return TargetStatus(status="too_early", as_of=t0, base_year=t0, base_value=y0, latest_value=y0,
                            cagr_observed=nan, cagr_required=nan, ratio=nan, evidence=evidence,
                            note="; ".join(notes), **common)
    rule = linear_progress_status if linear else progress_status
    r = rule(s.to_numpy(), s.index.to_numpy(), direction=ind.direction, target=target.target_value,
             base_year=t0, year=as_of, target_year=target.deadline.year)
    if linear and r.status != "insufficient_data":
        notes.append("signed scale: linear change per year, not compound growth")
    if r.note:
        notes.append(r.note)
    return TargetStatus(
        status=r.status, as_of=r.latest_year if r.latest_year is not None else int(s.index[-1]),
        base_year=r.base_year if r.base_year is not None else t0,
        base_value=r.base_value if r.base_year is not None else y0, latest_value=r.latest_value,
        cagr_observed=r.cagr_observed, cagr_required=r.cagr_required, ratio=r.ratio, evidence=evidence,
        note="; ".join(notes), score=r.score, **common)


def commitment_status(commitment: Commitment, panel: Panel, catalogue: Catalogue, *, version: int = 0,
                      as_of: int | None = None) -> list[TargetStatus]:
    """Status of every target of a commitment (see :func:`target_status`)."""
    return [target_status(t, panel, catalogue, commitment_id=commitment.id, commitment_version=version,
                          as_of=as_of) for t in commitment.targets]


def commitment_progress(statuses: list[TargetStatus],
                        commitments: dict[str, Commitment] | None = None) -> pd.DataFrame:
    """One progress status per commitment and country from its targets' scores.

    The Open SDG aggregation (:func:`humsec.analysis.trends.aggregate_progress`): the mean
    of the targets' progress scores (-5 ... +5) gives the status - [2.5, 5] on track,
    [0, 2.5) progress made but acceleration needed, [-2.5, 0) limited progress, below
    that deterioration - and *target achieved* needs every target achieved. Targets that
    are too early or lack data are left out of the mean and counted.

    Returns
    -------
    pandas.DataFrame
        ``commitment, title, unit, targets, assessed, too_early, score, status, label``.
    """
    groups: dict[tuple[str, str], list[TargetStatus]] = {}
    for st in statuses:
        groups.setdefault((st.commitment_id, st.unit), []).append(st)
    rows = []
    for (cid, unit), items in groups.items():
        score, status = aggregate_progress(items)
        c = (commitments or {}).get(cid)
        rows.append({"commitment": cid, "title": c.title if c is not None else "", "unit": unit,
                     "targets": len(items), "assessed": sum(1 for i in items if np.isfinite(i.score)),
                     "too_early": sum(1 for i in items if i.status == "too_early"), "score": score,
                     "status": status, "label": PROGRESS_LABELS[status]})
    return pd.DataFrame(rows, columns=["commitment", "title", "unit", "targets", "assessed", "too_early", "score",
                                       "status", "label"])


def status_table(statuses: list[TargetStatus], commitments: dict[str, Commitment] | None = None) -> pd.DataFrame:
    """A table of statuses: ``commitment, title, target, unit, indicator, status, label,
    base_year, base_value, as_of, latest_value, target_value, deadline, ratio, score, note``."""
    rows = []
    for s in statuses:
        c = (commitments or {}).get(s.commitment_id)
        rows.append({"commitment": s.commitment_id, "title": c.title if c is not None else "",
                     "target": s.target_key, "unit": s.unit, "indicator": s.indicator, "status": s.status,
                     "label": s.label, "base_year": s.base_year, "base_value": s.base_value, "as_of": s.as_of,
                     "latest_value": s.latest_value, "target_value": s.target_value,
                     "deadline": s.deadline.isoformat(), "ratio": s.ratio, "score": s.score, "note": s.note})
    cols = ["commitment", "title", "target", "unit", "indicator", "status", "label", "base_year", "base_value",
            "as_of", "latest_value", "target_value", "deadline", "ratio", "score", "note"]
    out = pd.DataFrame(rows, columns=cols)
    for col in ("base_year", "as_of"):
        out[col] = out[col].astype("Int64")
    return out
