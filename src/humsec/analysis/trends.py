"""Trends and progress: the open-sdg progress rule and SDR-style trend arrows.

Two complementary, direction-aware classifications of a time series:

* :func:`progress_status` — the progress measure of Open SDG (Statistics Canada's method,
  after Eurostat): the observed compound annual growth rate (CAGR) since a base year is
  compared with the CAGR needed to reach the target by the target year (2030). With a
  target, the ratio ``R = d * CAGR_obs / |CAGR_req|`` gives *on track* (``R >= 0.95``),
  *fair progress* - progress made but acceleration needed (``0.60 <= R < 0.95``),
  *limited progress* (``0 <= R < 0.60``) and *deterioration* (``R < 0``); a latest value
  that meets the target is *target achieved*. Without a target, ``d * CAGR_obs`` is
  compared with fixed cut-offs: >= 1.5 % a year on track, 0.5-1.5 % fair progress,
  0-0.5 % limited progress, < 0 deterioration. A base or target value of exactly 0 is
  replaced by :data:`ZERO_SUBSTITUTE` (0.001) in the growth rates, as Open SDG does; a
  latest value at or beyond the target is *target achieved* whatever the trend
  ("maintaining achievement" when the base value met it too). Each result carries the
  Open SDG *progress score* (:func:`progress_score`, -5 ... +5), and
  :func:`aggregate_progress` combines the scores of several series into one status (their
  mean; *target achieved* only when every series achieved its target).
* *too early* (``too_early``) is a status of commitments (:mod:`humsec.oversight.status`),
  not of the rule: the commitment's baseline exists but no observation after its adoption
  year has been published yet, so no progress can be measured.
* :func:`sdr_trend` — the trend arrows of the SDSN Sustainable Development Report: the
  *linear* annual change since the base year is compared with the linear annual change
  needed to reach the optimum by 2030: ``↑`` on track or maintaining achievement
  (>= 100 % of the required rate), ``➚`` moderately improving (>= 50 %), ``→`` stagnating
  (0-50 %), ``↓`` decreasing.

``d`` (``direction``) is +1 when higher values are better and -1 when lower values are
(mortality, emissions). Both functions are pure; :func:`indicator_trends` and
:func:`dimension_trends` apply them to a country's indicators and index dimensions.

References
----------
.. [OpenSDG] Open SDG, *Progress Measurement Methodology for the Sustainable Development
   Goals* (docs/progress-methodology.md), after Statistics Canada, *Canadian Indicator
   Framework: progress measurement methodology* (2023) and Eurostat (2023), *SDG
   indicators: EU assessment methodology*.
.. [SDGBuild] Open SDG, *sdg-build*, ``sdg/ProgressMeasure.py`` (score transformation,
   zero substitution, target achieved), https://github.com/open-sdg/sdg-build.
.. [SDR23] Sachs, J. D., Lafortune, G., Fuller, G., Drumm, E. (2023). *Sustainable
   Development Report 2023*. Dublin University Press. Methodology: trends (pp. 60-62).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PROGRESS_LABELS", "ProgressResult", "TARGET_YEAR", "TREND_ARROWS", "TrendResult", "ZERO_SUBSTITUTE",
    "aggregate_progress", "cagr", "dimension_trends", "indicator_trends", "progress_score", "progress_status",
    "sdr_trend", "status_from_score",
]

TARGET_YEAR = 2030
#: Open SDG thresholds on the ratio of observed to required growth.
ON_TRACK_RATIO = 0.95
FAIR_RATIO = 0.60
#: Open SDG cut-offs on the (direction-signed) CAGR without a target.
NO_TARGET_ON_TRACK = 0.015
NO_TARGET_FAIR = 0.005
#: Open SDG replaces a base or target value of exactly 0 by this in the growth rates.
ZERO_SUBSTITUTE = 0.001
#: Open SDG score transformation with a target: ``R`` at which the score is -5 and +5.
SCORE_RATIO_MIN, SCORE_RATIO_MAX = -0.60, 1.30
#: ... and without a target: ``d * CAGR`` at which the score is -5 and +5.
SCORE_CAGR_MIN, SCORE_CAGR_MAX = -0.02, 0.02
#: SDR cut-off between "moderately improving" and "stagnating" (share of the required rate).
SDR_MODERATE = 0.5

PROGRESS_LABELS = {
    "target_achieved": "Target achieved",
    "on_track": "On track",
    "fair_progress": "Progress made, acceleration needed",
    "limited_progress": "Limited progress",
    "deterioration": "Deterioration",
    "insufficient_data": "Insufficient data",
    "too_early": "Too early: no data since adoption",
}
TREND_ARROWS = {
    "on_track": "↑",
    "moderately_improving": "➚",
    "stagnating": "→",
    "decreasing": "↓",
    "insufficient_data": "·",
}
TREND_LABELS = {
    "on_track": "On track or maintaining achievement",
    "moderately_improving": "Moderately improving",
    "stagnating": "Stagnating",
    "decreasing": "Decreasing",
    "insufficient_data": "Insufficient data",
}


# ---------------------------------------------------------------------------- helpers


def cagr(y0: float, y1: float, t0: float, t1: float) -> float:
    """Compound annual growth rate ``(y1 / y0) ** (1 / (t1 - t0)) - 1``.

    Parameters
    ----------
    y0, y1 : float
        Values at times ``t0`` and ``t1``; ``y0 > 0`` and ``y1 >= 0`` (a fall to 0 is
        a growth rate of -100 %).
    t0, t1 : float
        Times (years), ``t1 > t0``.

    Returns
    -------
    float
        NaN when the rate is undefined (``y0 <= 0``, ``y1 < 0``, a missing value, or
        ``t1 <= t0``).

    Examples
    --------
    >>> round(cagr(100, 121, 2015, 2017), 10)
    0.1
    """
    if not (np.isfinite(y0) and np.isfinite(y1)) or y0 <= 0 or y1 < 0 or not t1 > t0:
        return float("nan")
    return float((y1 / y0) ** (1.0 / (t1 - t0)) - 1.0)


def endpoints(values: Sequence[float], years: Sequence[int], base_year: int | None,
               year: int | None) -> tuple[int, float, int, float] | None:
    """Base (the observation in ``base_year`` or the first after it) and latest (the last
    at or before ``year``) observations; None with fewer than two distinct years."""
    return _ends(_window(values, years, base_year, year))


def _window(values: Sequence[float], years: Sequence[int], base_year: int | None,
            year: int | None) -> pd.Series:
    """The observations from ``base_year`` to ``year`` by year (last of duplicates kept)."""
    s = pd.Series(np.asarray(values, dtype=float), index=np.asarray(years, dtype=int)).dropna()
    s = s[~s.index.duplicated(keep="last")].sort_index()
    if year is not None:
        s = s[s.index <= year]
    if base_year is not None:
        s = s[s.index >= base_year]
    return s


def _ends(s: pd.Series) -> tuple[int, float, int, float] | None:
    if len(s) < 2:
        return None
    return int(s.index[0]), float(s.iloc[0]), int(s.index[-1]), float(s.iloc[-1])


def _check_direction(direction: int) -> int:
    if direction not in (1, -1):
        raise ValueError(f"direction must be 1 or -1, got {direction!r}")
    return int(direction)


# ---------------------------------------------------------------------------- open-sdg


@dataclass(frozen=True)
class ProgressResult:
    """Outcome of :func:`progress_status`.

    Attributes
    ----------
    status : str
        A key of :data:`PROGRESS_LABELS`.
    base_year, latest_year : int or None
    base_value, latest_value : float
    cagr_observed : float
        Observed CAGR (not signed by the direction).
    cagr_required : float
        CAGR needed to reach the target by ``target_year`` (NaN without target).
    ratio : float
        ``d * cagr_observed / |cagr_required|`` (NaN without target).
    target : float or None
    note : str
        Why the status could not be computed, if so, and any substitution made.
    score : float
        Open SDG progress score, -5 ... +5 (:func:`progress_score`; NaN when not assessed).
    """

    status: str
    base_year: int | None = None
    latest_year: int | None = None
    base_value: float = float("nan")
    latest_value: float = float("nan")
    cagr_observed: float = float("nan")
    cagr_required: float = float("nan")
    ratio: float = float("nan")
    target: float | None = None
    note: str = ""
    score: float = float("nan")

    @property
    def label(self) -> str:
        return PROGRESS_LABELS[self.status]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"label": self.label}


def _classify(value: float, hi: float, lo: float) -> str:
    return ("on_track" if value >= hi else "fair_progress" if value >= lo
            else "limited_progress" if value >= 0 else "deterioration")


def progress_score(value: float, *, with_target: bool, achieved: bool = False) -> float:
    """Open SDG progress score (-5 ... +5) of a progress value.

    Parameters
    ----------
    value : float
        The ratio ``R`` (with a target) or the direction-signed CAGR ``d * CAGR``
        (without one).
    with_target : bool
        Which of the two transformations applies.
    achieved : bool
        A series that achieved its target scores +5 whatever its trend.

    Returns
    -------
    float
        Piecewise linear in ``value`` and clamped to [-5, 5]. With a target it passes
        through ``R = -0.60 -> -5``, ``0.60 -> 0`` and ``1.30 -> +5`` (so ``R = 0`` gives
        -2.5 and ``R = 0.95`` gives +2.5); without one through ``-2 % -> -5``, ``0 -> -2.5``,
        ``0.5 % -> 0``, ``1.5 % -> +2.5`` and ``2 % -> +5``. The category cut-offs (0.95 /
        0.60 / 0 and 1.5 % / 0.5 % / 0) fall on the score bands of
        :func:`status_from_score`. NaN for a missing value.

    References
    ----------
    Open SDG progress methodology, "Aggregated progress status" [OpenSDG]_; the score
    functions of [SDGBuild]_.

    Examples
    --------
    >>> progress_score(0.95, with_target=True)
    2.5
    >>> progress_score(0.01, with_target=False)
    1.25
    """
    if achieved:
        return 5.0
    if value is None or not np.isfinite(value):
        return float("nan")
    if with_target:
        xs, ys = [SCORE_RATIO_MIN, FAIR_RATIO, SCORE_RATIO_MAX], [-5.0, 0.0, 5.0]
    else:
        xs = [SCORE_CAGR_MIN, 0.0, NO_TARGET_FAIR, NO_TARGET_ON_TRACK, SCORE_CAGR_MAX]
        ys = [-5.0, -2.5, 0.0, 2.5, 5.0]
    return round(float(np.interp(float(value), xs, ys)), 12)


def status_from_score(score: float) -> str:
    """The progress category of a score: [2.5, 5] on track, [0, 2.5) fair progress,
    [-2.5, 0) limited progress, [-5, -2.5) deterioration (Open SDG); ``insufficient_data``
    for NaN."""
    if score is None or not np.isfinite(score):
        return "insufficient_data"
    return ("on_track" if score >= 2.5 else "fair_progress" if score >= 0
            else "limited_progress" if score >= -2.5 else "deterioration")


def aggregate_progress(results: Sequence[Any]) -> tuple[float, str]:
    """One progress status for several series (Open SDG aggregation).

    Parameters
    ----------
    results : sequence
        Objects with ``status`` and ``score`` (:class:`ProgressResult`,
        :class:`humsec.oversight.status.TargetStatus`).

    Returns
    -------
    (float, str)
        The mean score of the assessed series and its status
        (:func:`status_from_score`); *target achieved* only when every series achieved
        its target. Without any assessed series the score is NaN and the status
        ``too_early`` when every series is too early, else ``insufficient_data``.

    Examples
    --------
    >>> a = progress_status([100, 121], [2015, 2017])            # +10 %/yr: +5
    >>> b = progress_status([100, 99], [2015, 2016])             # -1 %/yr: -3.75
    >>> aggregate_progress([a, b])
    (0.625, 'fair_progress')
    """
    scored = [r for r in results if r.score is not None and np.isfinite(r.score)]
    if not scored:
        st = ("too_early" if results and all(r.status == "too_early" for r in results)
              else "insufficient_data")
        return float("nan"), st
    score = round(float(np.mean([r.score for r in scored])), 12)
    if all(r.status == "target_achieved" for r in results):
        return score, "target_achieved"
    return score, status_from_score(score)


def progress_status(values: Sequence[float], years: Sequence[int], *, direction: int = 1,
                    target: float | None = None, base_year: int | None = None,
                    year: int | None = None, target_year: int = TARGET_YEAR,
                    on_track: float = ON_TRACK_RATIO, fair: float = FAIR_RATIO,
                    no_target_cutoffs: tuple[float, float] = (NO_TARGET_ON_TRACK, NO_TARGET_FAIR),
                    ) -> ProgressResult:
    """Open SDG progress status of one series.

    Parameters
    ----------
    values, years : sequences
        The series (missing values are ignored; a repeated year keeps its last value).
    direction : {1, -1}
        +1 if higher values are better.
    target : float, optional
        Value to reach by ``target_year``; None uses the fixed CAGR cut-offs.
    base_year : int, optional
        Start of the period (the first observation at or after it is the base value;
        default: the first observation).
    year : int, optional
        End of the period (the last observation at or before it; default: the last).
    target_year : int
        Year by which the target should be met (2030).
    on_track, fair : float
        Thresholds on the ratio of observed to required growth (0.95 and 0.60).
    no_target_cutoffs : (float, float)
        CAGR cut-offs without a target: on track and fair progress (0.015, 0.005).

    Returns
    -------
    ProgressResult
        ``target_achieved`` when the latest value is at or beyond the target (even a
        single observation: "maintaining achievement" when the base value met it too);
        otherwise ``insufficient_data`` with a ``note`` when there are fewer than two
        observations in the period or a negative value makes the CAGR undefined.

    Notes
    -----
    Observed growth: ``CAGR = (y_t / y_0) ** (1 / (t - t_0)) - 1``. Required growth:
    ``CAGR_req = (y_T / y_0) ** (1 / (T - t_0)) - 1``. With a target the status follows
    ``R = d * CAGR / |CAGR_req|``. A base value ``y_0`` or target ``y_T`` of exactly 0 is
    replaced by 0.001 in these formulas (noted in the result); whether the target is met
    is judged on the value as given. A base value equal to a target that the latest value
    no longer meets (``CAGR_req = 0``) is deterioration. Open SDG's optional scaling of the
    no-target cut-offs near natural limits is not applied. See [OpenSDG]_, [SDGBuild]_.

    Examples
    --------
    >>> progress_status([100, 110.25], [2015, 2017]).status   # +5 %/year, no target
    'on_track'
    >>> progress_status([50, 45], [2015, 2020], direction=-1, target=25).status
    'limited_progress'
    >>> round(progress_status([4, 2], [2015, 2020], direction=-1, target=0).ratio, 4)  # target 0 -> 0.001
    0.3048
    """
    d = _check_direction(direction)
    goal = target if target is not None and bool(np.isfinite(target)) else None  # a target to judge by
    s = _window(values, years, base_year, year)
    ends = _ends(s)
    if ends is None:
        if goal is not None and len(s) == 1 and d * (float(s.iloc[-1]) - goal) >= 0:
            t1, y1 = int(s.index[-1]), float(s.iloc[-1])
            return ProgressResult("target_achieved", base_year=t1, latest_year=t1, base_value=y1, latest_value=y1,
                                  target=target, note="target met (a single observation)", score=5.0)
        return ProgressResult("insufficient_data", target=target,
                              note="fewer than two observations in the period")
    t0, y0, t1, y1 = ends
    base = ProgressResult("insufficient_data", base_year=t0, latest_year=t1, base_value=y0, latest_value=y1,
                          target=target)
    notes = []
    y0c = y0
    if y0 == 0:
        y0c = ZERO_SUBSTITUTE
        notes.append(f"base value 0 replaced by {ZERO_SUBSTITUTE} in the growth rates (Open SDG)")
    g = cagr(y0c, y1, t0, t1)
    if goal is not None and d * (y1 - goal) >= 0:
        notes.insert(0, "maintaining achievement: the base value met the target too"
                     if d * (y0 - goal) >= 0 else "target met")
        return replace(base, status="target_achieved", cagr_observed=g, note="; ".join(notes), score=5.0)
    if math.isnan(g):
        return replace(base, note="growth rate undefined (a negative value)")
    if goal is not None and target_year > t0:
        tc = float(goal)
        if tc == 0:
            tc = ZERO_SUBSTITUTE
            notes.append(f"target 0 replaced by {ZERO_SUBSTITUTE} in the required growth rate (Open SDG)")
        req = cagr(y0c, tc, t0, target_year)
        if np.isfinite(req):
            if req == 0:  # the base value equals the target, which the latest value no longer meets
                notes.append("the base value met the target exactly; the latest value no longer does")
                return replace(base, status="deterioration", cagr_observed=g, cagr_required=0.0, ratio=-math.inf,
                               note="; ".join(notes), score=-5.0)
            r = d * g / abs(req)
            return replace(base, status=_classify(r, on_track, fair), cagr_observed=g, cagr_required=req, ratio=r,
                           note="; ".join(notes), score=progress_score(r, with_target=True))
        notes.append("target value negative: judged without the target")
    elif goal is not None:
        notes.append(f"target year {target_year} not after the base year {t0}: judged without the target")
    hi, lo = no_target_cutoffs
    return replace(base, status=_classify(d * g, hi, lo), cagr_observed=g, note="; ".join(notes),
                   score=progress_score(d * g, with_target=False), target=None)


# ---------------------------------------------------------------------------- SDR arrows


@dataclass(frozen=True)
class TrendResult:
    """Outcome of :func:`sdr_trend`.

    Attributes
    ----------
    status : str
        A key of :data:`TREND_ARROWS`.
    base_year, latest_year : int or None
    base_value, latest_value : float
    rate_observed : float
        Linear annual change ``(y_t - y_0) / (t - t_0)`` (not signed by the direction).
    rate_required : float
        Linear annual change needed to reach the optimum by the target year.
    ratio : float
        ``d * rate_observed / |rate_required|``.
    """

    status: str
    base_year: int | None = None
    latest_year: int | None = None
    base_value: float = float("nan")
    latest_value: float = float("nan")
    rate_observed: float = float("nan")
    rate_required: float = float("nan")
    ratio: float = float("nan")
    note: str = ""

    @property
    def arrow(self) -> str:
        return TREND_ARROWS[self.status]

    @property
    def label(self) -> str:
        return TREND_LABELS[self.status]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"arrow": self.arrow, "label": self.label}


def sdr_trend(values: Sequence[float], years: Sequence[int], *, optimum: float, direction: int = 1,
              base_year: int | None = None, year: int | None = None,
              target_year: int = TARGET_YEAR, moderate: float = SDR_MODERATE) -> TrendResult:
    """SDR trend arrow of one series.

    Parameters
    ----------
    values, years : sequences
    optimum : float
        The value that counts as achievement (the SDR's upper bound; 100 for 0-100 scores).
    direction : {1, -1}
    base_year, year : int, optional
        Period (see :func:`progress_status`).
    target_year : int
        Year by which the optimum should be reached (2030).
    moderate : float
        Share of the required rate above which a series is "moderately improving" (0.5).

    Returns
    -------
    TrendResult
        ``on_track`` when the optimum is reached and not lost, or the observed rate is at
        least the required one; ``moderately_improving`` at >= ``moderate`` of it;
        ``stagnating`` between 0 and that; ``decreasing`` when the series moved in the
        wrong direction.

    Notes
    -----
    The SDR compares the average annual (linear) growth over the recent period with the
    linear growth needed to reach the optimum from the base year by 2030 [SDR23]_.

    Examples
    --------
    >>> sdr_trend([40, 52], [2015, 2018], optimum=100).arrow   # needs 4/yr, did 4/yr
    '↑'
    >>> sdr_trend([40, 39], [2015, 2018], optimum=100).status
    'decreasing'
    """
    d = _check_direction(direction)
    ends = endpoints(values, years, base_year, year)
    if ends is None:
        return TrendResult("insufficient_data", note="fewer than two observations in the period")
    t0, y0, t1, y1 = ends
    obs = (y1 - y0) / (t1 - t0)
    base = TrendResult("insufficient_data", base_year=t0, latest_year=t1, base_value=y0, latest_value=y1,
                       rate_observed=obs)
    if d * obs < 0:
        return replace(base, status="decreasing", ratio=float("nan"))
    if d * (y1 - optimum) >= 0:
        return replace(base, status="on_track", note="optimum reached and maintained")
    if target_year <= t0:
        return replace(base, note="base year not before the target year")
    req = (optimum - y0) / (target_year - t0)
    if d * req <= 0:  # the base value was already at the optimum but the latest is not
        return replace(base, status="decreasing", rate_required=req)
    r = d * obs / abs(req)
    status = "on_track" if r >= 1.0 else "moderately_improving" if r >= moderate else "stagnating"
    return replace(base, status=status, rate_required=req, ratio=r)


# ---------------------------------------------------------------------------- applied


def _best(node: Any) -> float | None:
    """The optimum of an indicator node: its target, else its best goalpost."""
    if node.target is not None:
        return float(node.target)
    if node.goalposts is not None:
        return float(node.goalposts[1] if node.direction == 1 else node.goalposts[0])
    return None


def indicator_trends(spec: Any, data: pd.DataFrame, unit: str, *, base_year: int | None = None,
                     year: int | None = None) -> pd.DataFrame:
    """Progress status and trend arrow of every indicator of ``spec`` for one country.

    Parameters
    ----------
    spec : IndexSpec
        Directions, targets (open-sdg) and goalposts (SDR optimum) come from its nodes.
    data : pandas.DataFrame
        Tidy observations ``unit, year, indicator, value`` (observed values only).
    unit : str
    base_year, year : int, optional

    Returns
    -------
    pandas.DataFrame
        ``indicator, dimension, direction, target, base_year, base_value, latest_year,
        latest_value, cagr, progress, progress_label, arrow, trend``.
    """
    sub = data[data["unit"] == unit]
    rows = []
    for code in spec.indicators:
        node = spec.nodes[code]
        s = sub[sub["indicator"] == code]
        p = progress_status(s["value"], s["year"], direction=node.direction, target=node.target,
                            base_year=base_year, year=year)
        opt = _best(node)
        t = (sdr_trend(s["value"], s["year"], optimum=opt, direction=node.direction,
                       base_year=base_year, year=year)
             if opt is not None else TrendResult("insufficient_data", note="no optimum"))
        rows.append({"indicator": code, "dimension": node.parent, "direction": node.direction,
                     "target": node.target, "base_year": p.base_year, "base_value": p.base_value,
                     "latest_year": p.latest_year, "latest_value": p.latest_value,
                     "cagr": p.cagr_observed, "progress": p.status, "progress_label": p.label,
                     "arrow": t.arrow, "trend": t.status})
    out = pd.DataFrame(rows)
    for c in ("base_year", "latest_year"):
        out[c] = out[c].astype("Int64")
    return out


def dimension_trends(history: pd.DataFrame, unit: str, *, base_year: int | None = None,
                     year: int | None = None, optimum: float = 100.0) -> pd.DataFrame:
    """Progress status (target: the optimum by 2030) and trend arrow of every column of an
    index history (root and dimensions, 0-100, higher = better) for one country.

    Parameters
    ----------
    history : pandas.DataFrame
        Indexed by ``(unit, year)`` (see :func:`humsec.analysis.assess.history`).
    unit : str
    base_year, year : int, optional
    optimum : float
        Score that counts as full security (100).

    Returns
    -------
    pandas.DataFrame
        ``node, base_year, base_value, latest_year, latest_value, cagr, progress,
        progress_label, arrow, trend``.
    """
    if unit in history.index.get_level_values(0):
        h = history.xs(unit, level=0)
    else:
        h = pd.DataFrame(columns=history.columns)
    rows = []
    for node in history.columns:
        vals = h[node] if len(h) else pd.Series(dtype=float)
        yrs = list(h.index) if len(h) else []
        p = progress_status(vals, yrs, direction=1, target=optimum, base_year=base_year, year=year)
        t = sdr_trend(vals, yrs, optimum=optimum, direction=1, base_year=base_year, year=year)
        rows.append({"node": node, "base_year": p.base_year, "base_value": p.base_value,
                     "latest_year": p.latest_year, "latest_value": p.latest_value,
                     "cagr": p.cagr_observed, "progress": p.status, "progress_label": p.label,
                     "arrow": t.arrow, "trend": t.status})
    out = pd.DataFrame(rows)
    for c in ("base_year", "latest_year"):
        out[c] = out[c].astype("Int64")
    return out
