"""Known-crisis recall: would humsec have flagged past crises, how early, at what cost?

The crises (:data:`CRISES`) and every threshold here were fixed before looking at the
results; nothing is tuned on them. Signals:

* ``war_forecast`` — out-of-sample probability of war (>= 1,000 battle deaths, UCDP/PRIO
  ACD) in ``t + 1`` from the rolling-origin backtest of the ``war`` model (logit),
  flagged when ``p >= FORECAST_THRESHOLD``;
* ``displacement_forecast`` — out-of-sample probability of a displacement surge in
  ``t + 1`` (``displacement`` model), same threshold;
* ``outflow_rule`` — the default rule "new refugee outflow more than doubles" (at least
  10,000 persons) applied to UNHCR flows in year ``t`` (concurrent detection);
* ``hsi_alerts`` — the default alert rules at medium or high severity on the HSI and
  its dimensions built from the data release (year by year from :data:`HSI_FIRST_YEAR`
  to the index's latest year, so that every crisis window is covered);
* ``hdi_detector`` — robust change detector on UNDP's HDI: own-history z of the
  year-on-year change ``<= HDI_Z`` (HDR 2023/24, 1990-2022).

For each crisis and signal: whether it was flagged in the window from
``start - LOOKBACK`` to ``end``, the year of the first flag and the **lead time**
``start - first flag year`` (a forecast issued with the data of year ``t``). Only flags
with a lead of at least one year count as a warning; a flag in the onset year or later is
shown as ``late_flag`` and is not recall. :func:`early_warning_recall` scores the
release-based onset and displacement forecasts of :mod:`humsec.forecast.onset` the same way. False alarms are
counted per signal against that signal's own outcome over all country-years: for
forecasts a flag whose forecast event did not happen; for ``hsi_alerts`` and
``outflow_rule`` an alert with neither armed conflict nor a displacement surge in ``t``
or ``t + 1``; for ``hdi_detector`` a flag in a year the HDI did not fall.

References
----------
.. [Hegre19] Hegre, H. et al. (2019). ViEWS: A political violence early-warning system.
   *Journal of Peace Research* 56(2), 155-174.
.. [UNDP22] UNDP (2022). *Human Development Report 2021/2022: Uncertain times, unsettled
   lives* (the 2020-2021 fall of the global HDI).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from humsec.analysis.assess import default_year, index_data
from humsec.data.countries import CountryRegistry
from humsec.data.default import default_release
from humsec.errors import HumsecError
from humsec.forecast import onset as O
from humsec.forecast import series as SE
from humsec.forecast.alerts import default_rules, evaluate
from humsec.forecast.detect import deterioration_table
from humsec.forecast.pipelines import run_backtest
from humsec.forecast.series import release_displacement_panel
from humsec.forecast.tasks import conflict_task, displacement_task

__all__ = ["CRISES", "Crisis", "CrisisRecall", "FORECAST_THRESHOLD", "HSI_FIRST_YEAR", "ONSETS", "ReleaseBacktest",
           "SIGNALS", "crisis_recall", "early_warning_recall", "flag_recall", "release_backtest"]

#: Probability at or above which a forecast counts as a warning (fixed a priori).
FORECAST_THRESHOLD = 0.3
#: Own-history robust z of the HDI change at or below which the detector flags.
HDI_Z = -3.0
#: Years before a crisis' start in which a flag counts as a (early) warning.
LOOKBACK = 3
#: First year of the HSI history built for ``hsi_alerts``: four years of changes before the
#: earliest crisis window (Syria and Libya 2011, lookback from 2008), which the own-history
#: z-scores need.
HSI_FIRST_YEAR = 2003
#: Every signal of :func:`crisis_recall`.
SIGNALS = ("war_forecast", "displacement_forecast", "outflow_rule", "hsi_alerts", "hdi_detector")


@dataclass(frozen=True)
class Crisis:
    """A known past crisis: country (or ``*`` for a global one), years, the signals that
    should see it, and a short note on what happened (public record)."""

    name: str
    unit: str
    start: int
    end: int
    signals: tuple[str, ...]
    note: str = ""


CRISES: tuple[Crisis, ...] = (
    Crisis("Syria 2011-13", "SYR", 2011, 2013, ("war_forecast", "displacement_forecast", "outflow_rule", "hsi_alerts"),
           "uprising from March 2011, civil war from 2012; millions displaced"),
    Crisis("Libya 2011", "LBY", 2011, 2011, ("war_forecast", "displacement_forecast", "outflow_rule", "hsi_alerts"),
           "uprising and civil war, February-October 2011"),
    Crisis("Yemen 2014-18", "YEM", 2014, 2018, ("war_forecast", "displacement_forecast", "outflow_rule", "hsi_alerts"),
           "Houthi takeover of Sana'a 2014, Saudi-led intervention from March 2015"),
    Crisis("Venezuela 2013-19", "VEN", 2013, 2019, ("displacement_forecast", "outflow_rule", "hsi_alerts", "hdi_detector"),
           "economic collapse and political crisis; over 4 million left by 2019"),
    Crisis("Ukraine 2022", "UKR", 2022, 2022, ("war_forecast", "displacement_forecast", "outflow_rule", "hsi_alerts"),
           "full-scale Russian invasion, 24 February 2022"),
    Crisis("Sudan 2023", "SDN", 2023, 2023, ("war_forecast", "displacement_forecast", "outflow_rule", "hsi_alerts"),
           "war between the SAF and the RSF from 15 April 2023"),
    Crisis("COVID-19 HDI fall 2019-21", "*", 2020, 2021, ("hdi_detector",),
           "the global HDI fell in 2020 and 2021 for the first time (HDR 2021/22); units: every country whose HDI "
           "was lower in 2021 than in 2019"),
)


@dataclass(frozen=True)
class CrisisRecall:
    """Result of :func:`crisis_recall`.

    Attributes
    ----------
    recall : pandas.DataFrame
        ``crisis, unit, signal, window, flagged, first_flag, lead_years, peak, note``
        (for the global COVID-19 crisis: ``flagged`` is the share of the countries whose
        HDI fell that were flagged, ``unit`` their number).
    alarms : pandas.DataFrame
        Per signal: ``signal, threshold, country_years, flags, false_alarms,
        false_alarm_rate`` (false alarms / country-years without the event),
        ``precision`` (true flags / flags), ``ground_truth``.
    flags : pandas.DataFrame
        Every flag: ``signal, unit, year`` (issue year), ``score``.
    notes : tuple of str
    """

    recall: pd.DataFrame
    alarms: pd.DataFrame
    flags: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"recall": json.loads(self.recall.to_json(orient="records")),
                "alarms": json.loads(self.alarms.to_json(orient="records")), "notes": list(self.notes)}


def flag_recall(crisis: Crisis, signal: str, flags: pd.DataFrame, *, lookback: int = LOOKBACK,
                covered: tuple[int, int] | None = None, min_lead: int = 1) -> dict[str, Any]:
    """Was ``crisis`` warned of by ``signal``? ``flags``: ``signal, unit, year, score``
    (``year`` = the data year the flag was issued with).

    Only a flag issued at least ``min_lead`` years before the crisis starts (issue year in
    ``start - lookback ... start - min_lead``) counts as a warning (``flagged``, with
    ``first_flag`` and ``lead_years = start - first_flag``); a flag raised only later,
    up to the crisis' end, is reported as ``late_flag`` (its issue year) and does not count.

    Parameters
    ----------
    covered : (int, int), optional
        Years the signal covers; a crisis window outside them is "not covered" rather than
        "missed".
    min_lead : int
        Minimum lead time in years (1: a forecast made with the data of the year before
        the onset at the latest; 0 would count detections in the crisis year itself).
    """
    lo, hi = crisis.start - lookback, crisis.end
    row: dict[str, Any] = {"crisis": crisis.name, "unit": crisis.unit, "signal": signal, "window": f"{lo}-{crisis.start - min_lead}",
           "flagged": False, "first_flag": None, "lead_years": None, "peak": None, "late_flag": None, "note": ""}
    if covered is not None and (covered[1] < lo or covered[0] > crisis.start - min_lead):
        row["flagged"] = None
        row["note"] = f"not covered (signal has years {covered[0]}-{covered[1]})"
        return row
    mine = flags[(flags["signal"] == signal) & (flags["unit"] == crisis.unit)]
    early = mine[mine["year"].between(lo, crisis.start - min_lead)]
    late = mine[mine["year"].between(crisis.start - min_lead + 1, hi)]
    if len(early):
        first = int(early["year"].min())
        row.update(flagged=True, first_flag=first, lead_years=crisis.start - first, peak=float(early["score"].max()))
    if len(late):
        row["late_flag"] = int(late["year"].min())
        if not len(early):
            row["note"] = (f"flagged only with the data of {row['late_flag']} (lead "
                           f"{crisis.start - row['late_flag']}): not a warning")
    if covered is not None and (covered[0] > lo or covered[1] < crisis.start - min_lead) and not row["note"]:
        row["note"] = f"signal covers {covered[0]}-{covered[1]} only"
    return row


#: Conflict onsets and displacement crises scored by :func:`early_warning_recall`
#: (public record; the conflict started - at least 25 battle deaths - in ``start``).
ONSETS: tuple[Crisis, ...] = (
    Crisis("Syria 2011", "SYR", 2011, 2011, ("conflict_forecast", "displacement_forecast"),
           "uprising from March 2011, civil war from 2012; 21 years without armed conflict before"),
    Crisis("Libya 2011", "LBY", 2011, 2011, ("conflict_forecast", "displacement_forecast"),
           "uprising and civil war, February-October 2011"),
    Crisis("Ukraine 2014", "UKR", 2014, 2014, ("conflict_forecast", "displacement_forecast"),
           "war in Donbas from April 2014"),
    Crisis("Ukraine 2022", "UKR", 2022, 2022, ("conflict_forecast", "displacement_forecast"),
           "full-scale Russian invasion, 24 February 2022"),
    Crisis("Yemen 2014-15", "YEM", 2014, 2015, ("displacement_forecast",),
           "Houthi takeover of Sana'a 2014, Saudi-led intervention from March 2015 (in conflict before)"),
    Crisis("Sudan 2023", "SDN", 2023, 2023, ("displacement_forecast",),
           "war between the SAF and the RSF from 15 April 2023 (in conflict before)"),
    Crisis("Venezuela 2017-19", "VEN", 2017, 2019, ("displacement_forecast",),
           "economic collapse; over 4 million left by 2019"),
)


def early_warning_recall(conflict: Any, displacement: Any, *, crises: Sequence[Crisis] = ONSETS,
                         lookback: int = LOOKBACK, min_lead: int = 1) -> CrisisRecall:
    """Crisis recall of the release-based forecasts, counting only warnings issued at least
    ``min_lead`` years before the onset, with the false-alarm rate at the same threshold.

    Parameters
    ----------
    conflict, displacement : OnsetBacktest
        One-year-ahead backtests (:func:`humsec.forecast.onset.backtest_onset`,
        :func:`~humsec.forecast.onset.displacement_backtest`); a forecast is a warning when
        ``p >= warn_threshold`` (the relative-risk rule of :mod:`humsec.forecast.onset`).
    """
    all_flags, alarms, covered = [], [], {}
    for sig, bt, col in (("conflict_forecast", conflict, "p_onset"), ("displacement_forecast", displacement,
                                                                       "p_surge")):
        if bt is None:
            continue
        f = bt.forecasts
        flag = (f[col] >= f["warn_threshold"]).to_numpy()
        y = f["y"].to_numpy(dtype=int)
        on = (f["current"] == 0).to_numpy()
        neg = (y == 0)
        alarms.append({"signal": sig, "threshold": "p >= 3 x the training base rate of the same state",
                       "country_years": len(f), "flags": int(flag.sum()),
                       "false_alarms": int((flag & neg).sum()),
                       "false_alarm_rate": float((flag & neg).sum() / max(neg.sum(), 1)),
                       "precision": float((flag & ~neg).sum() / flag.sum()) if flag.sum() else float("nan"),
                       "recall_all_events": float((flag & ~neg).sum() / max((~neg).sum(), 1)),
                       "flags_onset_rows": int((flag & on).sum()),
                       "false_alarm_rate_onset_rows": float((flag & on & neg).sum() / max((on & neg).sum(), 1)),
                       "recall_onsets": float((flag & on & ~neg).sum() / max((on & ~neg).sum(), 1)),
                       "ground_truth": f"{bt.description} (event in t+1)"})
        all_flags.append(pd.DataFrame({"signal": sig, "unit": f["unit"], "year": f["year"], "score": f[col]})[flag])
        covered[sig] = (int(f["year"].min()), int(f["year"].max()))
    flags = pd.concat(all_flags, ignore_index=True) if all_flags else pd.DataFrame(
        columns=["signal", "unit", "year", "score"])
    rows = [flag_recall(c, sig, flags, lookback=lookback, covered=covered[sig], min_lead=min_lead)
            for c in crises for sig in c.signals if sig in covered]
    notes = (f"a warning counts only when issued with the data of year start - {min_lead} or earlier "
             f"(lookback {lookback} years); lead = start - issue year",)
    return CrisisRecall(_years_as_int(pd.DataFrame(rows)), pd.DataFrame(alarms), flags, notes)


def _years_as_int(recall: pd.DataFrame) -> pd.DataFrame:
    """Issue years as whole numbers (nullable), not floats that print as "2,008"."""
    return recall.astype({c: "Int64" for c in ("first_flag", "late_flag") if c in recall.columns})


def _forecast_flags(name: str, *, data_dir: Path, seed: int, origins: range, threshold: float
                    ) -> tuple[pd.DataFrame, dict[str, Any], tuple[int, int]]:
    (bt, _), = run_backtest(name, data_dir=data_dir, origins=list(origins), seed=seed)
    f = bt.forecasts
    p = f[f"p_{bt.model}"]
    flag = p >= threshold
    y = f["y"].astype(int)
    stats = {"threshold": f"p >= {threshold:g}", "country_years": len(f), "flags": int(flag.sum()),
             "false_alarms": int((flag & (y == 0)).sum()),
             "false_alarm_rate": float((flag & (y == 0)).sum() / max((y == 0).sum(), 1)),
             "precision": float((flag & (y == 1)).sum() / flag.sum()) if flag.sum() else float("nan"),
             "recall_all_events": float((flag & (y == 1)).sum() / max((y == 1).sum(), 1)),
             "ground_truth": f"{bt.task} in t+1 ({bt.description})"}
    flags = pd.DataFrame({"unit": f["unit"], "year": f["year"], "score": p})[flag.to_numpy()]
    return flags, stats, (int(f["year"].min()), int(f["year"].max()))


def crisis_recall(*, data_dir: str | Path | None = None, panel: Any = None, spec: Any = None,
                  seed: int = 20240101, threshold: float = FORECAST_THRESHOLD, hdi_z: float = HDI_Z,
                  registry: Any = None, signals: Sequence[str] | None = None) -> CrisisRecall:
    """Recall of :data:`CRISES` by every signal, lead times and false-alarm rates.

    Parameters
    ----------
    data_dir : path, optional
        Shared-data directory (UCDP, UNHCR, UNDP HDR).
    panel, spec : optional
        The panel (the data release) and the HSI spec for ``hsi_alerts`` (left out when
        absent).
    seed : int
        Seed of the forecasting models.
    signals : sequence of str, optional
        Only these signals (default: all of :data:`SIGNALS`).
    """
    use = set(SIGNALS if signals is None else signals)
    unknown = use - set(SIGNALS)
    if unknown:
        raise HumsecError(f"unknown signal(s) {', '.join(sorted(unknown))}: expected {', '.join(SIGNALS)}")

    reg = registry or CountryRegistry.default()
    root = SE.resolve_data_dir(data_dir, need=["peacesciencer/ucdp_acd.csv", "unhcr_refugees/flows.parquet",
                                                "undp_hdr/HDR23-24_Composite_indices_complete_time_series.csv"])
    all_flags, alarms, covered, notes = [], [], {}, []

    for sig, model, origins in (("war_forecast", "war", range(2000, 2024)),
                                ("displacement_forecast", "displacement", range(2005, 2024))):
        if sig not in use:
            continue
        fl, st, cov = _forecast_flags(model, data_dir=root, seed=seed, origins=origins, threshold=threshold)
        all_flags.append(fl.assign(signal=sig))
        alarms.append({"signal": sig, **st})
        covered[sig] = cov

    # ground truth for detectors: armed conflict or a displacement surge in t or t+1
    cp = SE.conflict_panel(root, reg)
    dp = SE.displacement_panel(root, known=sorted(reg.codes))
    ct = conflict_task(cp, reg.border_graph()).frame
    dt = displacement_task(dp).frame
    ev = pd.concat([ct.assign(e=((ct["current"] == 1) | (ct["y"] == 1))), dt.assign(e=((dt["current"] == 1) | (dt["y"] == 1)))])
    event = ev.groupby(["unit", "year"])["e"].max()

    def detector_stats(fl: pd.DataFrame, base: pd.DataFrame, label: str) -> dict[str, Any]:
        key = pd.MultiIndex.from_frame(base[["unit", "year"]])
        truth = event.reindex(key).fillna(False).to_numpy(dtype=bool)
        flagged = pd.MultiIndex.from_frame(fl[["unit", "year"]])
        is_flag = key.isin(flagged)
        return {"country_years": len(base), "flags": int(is_flag.sum()),
                "false_alarms": int((is_flag & ~truth).sum()),
                "false_alarm_rate": float((is_flag & ~truth).sum() / max((~truth).sum(), 1)),
                "precision": float((is_flag & truth).sum() / is_flag.sum()) if is_flag.sum() else float("nan"),
                "recall_all_events": float((is_flag & truth).sum() / max(truth.sum(), 1)),
                "ground_truth": label}

    # outflow rule (concurrent): the default rule on UNHCR outflows
    rules = {r.id: r for r in default_rules()}
    op = dp.rename(columns={"outflow": "refugee_outflow"}).set_index(["unit", "year"])[["refugee_outflow"]]
    if "outflow_rule" in use:
        al = evaluate([rules["refugee_outflow_doubles"]], op)
        fl = pd.DataFrame([{"unit": a.unit, "year": a.year, "score": a.value} for a in al
                           if a.severity in ("medium", "high")], columns=["unit", "year", "score"])
        all_flags.append(fl.assign(signal="outflow_rule"))
        base = op.reset_index()
        base = base[base["year"] > base["year"].min()]
        alarms.append({"signal": "outflow_rule", "threshold": "outflow ratio > 2 and >= 10,000",
                       **detector_stats(fl, base, "armed conflict or displacement surge in t or t+1")})
        covered["outflow_rule"] = (int(base["year"].min()), int(base["year"].max()))

    # HSI alerts on the data release
    if "hsi_alerts" not in use:
        pass
    elif panel is not None and spec is not None:
        data = index_data(panel, spec)
        last = default_year(spec, data)
        hist = SE.node_history(spec, data, range(min(HSI_FIRST_YEAR, last - 12), last + 1))
        ids = ("hsi_fall", "political_fall", "dimension_fall", "dimension_anomaly", "dimension_peer_anomaly", "hsi_shift")
        groups = {u: reg.region(u) for u in hist.index.get_level_values("unit").unique() if reg.is_iso3(u)}
        al = evaluate([rules[i] for i in ids if i in rules], hist, spec=spec, groups=groups)
        fl = pd.DataFrame([{"unit": a.unit, "year": a.year, "score": -a.value} for a in al
                           if a.severity in ("medium", "high")], columns=["unit", "year", "score"])
        fl = fl.groupby(["unit", "year"], as_index=False)["score"].max()
        all_flags.append(fl.assign(signal="hsi_alerts"))
        yrs = hist.index.get_level_values("year")
        base = hist.reset_index()[["unit", "year"]]
        base = base[base["year"] > yrs.min()]
        alarms.append({"signal": "hsi_alerts", "threshold": "default rules, medium+ (index and dimensions)",
                       **detector_stats(fl, base, "armed conflict or displacement surge in t or t+1")})
        covered["hsi_alerts"] = (int(base["year"].min()), last)
        notes.append(f"hsi_alerts: {spec.name} built from the panel year by year, changes "
                     f"{int(base['year'].min())}-{last} ({last} = the index's latest year)")
    else:
        notes.append("hsi_alerts: no panel given; left out")

    # HDI detector
    hdi = SE.hdi_panel(root)
    if "hdi_detector" in use:
        _hdi_detector(hdi, hdi_z, all_flags, alarms, covered, notes)
    flags = pd.concat(all_flags, ignore_index=True)[["signal", "unit", "year", "score"]] if all_flags else \
        pd.DataFrame(columns=["signal", "unit", "year", "score"])
    rows = []
    for c in CRISES:
        if c.unit == "*":
            if "hdi_detector" not in covered:
                continue
            w = hdi.pivot(index="unit", columns="year", values="hdi")
            fallen = sorted(w.index[(w.get(2021) < w.get(2019)).fillna(False)])
            f = flags[(flags["signal"] == "hdi_detector") & flags["unit"].isin(fallen)
                      & flags["year"].between(c.start, c.end)]
            hit = sorted(f["unit"].unique())
            lead = (c.start - f.groupby("unit")["year"].min()) if len(f) else pd.Series(dtype=float)
            rows.append({"crisis": c.name, "unit": f"{len(fallen)} countries", "signal": "hdi_detector",
                         "window": f"{c.start}-{c.end}", "flagged": len(hit) / len(fallen) if fallen else None,
                         "first_flag": int(f["year"].min()) if len(f) else None,
                         "lead_years": float(lead.mean()) if len(lead) else None, "peak": None,
                         "note": f"{len(hit)} of {len(fallen)} countries whose HDI fell 2019-21 flagged "
                                 "(concurrent detection; lead <= 0 by construction)"})
            continue
        for sig in c.signals:
            if sig not in covered:
                continue
            rows.append(flag_recall(c, sig, flags, covered=covered[sig]))
    recall = pd.DataFrame(rows, columns=["crisis", "unit", "signal", "window", "flagged", "first_flag", "lead_years",
                                         "peak", "late_flag", "note"])
    notes.append(f"forecast flags: p >= {threshold:g}, out-of-sample rolling-origin forecasts issued with the data "
                 f"of year t for t+1; lead = start - issue year; lookback {LOOKBACK} years")
    if recall.empty:
        raise HumsecError("no crisis could be evaluated")
    return CrisisRecall(_years_as_int(recall), pd.DataFrame(alarms), flags, tuple(notes))


def _hdi_detector(hdi: pd.DataFrame, hdi_z: float, all_flags: list, alarms: list, covered: dict, notes: list) -> None:
    tab = deterioration_table(hdi.set_index(["unit", "year"])[["hdi"]], ["hdi"])
    fl = tab[tab["own_z"] <= hdi_z][["unit", "year", "own_z"]].rename(columns={"own_z": "score"})
    fl["score"] = -fl["score"]
    all_flags.append(fl.assign(signal="hdi_detector"))
    scored = tab[tab["own_z"].notna()]
    fell = scored["change"] < 0
    is_flag = scored["own_z"] <= hdi_z
    pre = scored["year"] <= 2019
    alarms.append({"signal": "hdi_detector", "threshold": f"own-history z <= {hdi_z:g}",
                   "country_years": len(scored), "flags": int(is_flag.sum()),
                   "false_alarms": int((is_flag & ~fell).sum()),
                   "false_alarm_rate": float((is_flag & ~fell).sum() / max((~fell).sum(), 1)),
                   "precision": float((is_flag & fell).sum() / is_flag.sum()) if is_flag.sum() else float("nan"),
                   "recall_all_events": float((is_flag & fell).sum() / max(fell.sum(), 1)),
                   "ground_truth": "HDI fell in the year (change < 0)"})
    notes.append(f"hdi_detector: alarm rate before COVID-19 (changes up to 2019): "
                 f"{float(is_flag[pre].mean()):.3f} of {int(pre.sum())} country-years")
    covered["hdi_detector"] = (int(scored["year"].min()), int(scored["year"].max()))



@dataclass(frozen=True)
class ReleaseBacktest:
    """Result of :func:`release_backtest`: everything ``humsec warn backtest --model onset``
    prints and writes, and the crisis recall ``humsec warn crises`` shows by default.

    Attributes
    ----------
    skill : pandas.DataFrame
        :func:`humsec.forecast.onset.skill_table` of every horizon.
    targets : pandas.DataFrame
        :func:`humsec.forecast.onset.target_check` of ``skill``.
    displacement : pandas.DataFrame
        Skill of the one-year displacement-surge forecasts (empty without origins).
    recall : CrisisRecall
        :func:`early_warning_recall` of the one-year forecasts.
    onset : Mapping[int, Any]
        The onset backtest of each horizon.
    surge : Any
        The displacement backtest (or None).
    """

    skill: pd.DataFrame
    targets: pd.DataFrame
    displacement: pd.DataFrame
    recall: CrisisRecall
    onset: dict[int, Any]
    surge: Any


def release_backtest(panel: Any, *, origins: Sequence[int] | None = None, seed: int = 20240101,
                     registry: Any = None, displacement: Any = None) -> ReleaseBacktest:
    """Rolling-origin backtests of the onset models (every horizon of
    :data:`humsec.forecast.onset.HORIZONS`) and of the displacement-surge forecasts, on
    the data release alone (no shared-data directory), with their crisis recall.

    Parameters
    ----------
    panel : humsec.model.panel.Panel
        The current panel (the data release and any user datasets).
    origins : sequence of int, optional
        Forecast origins (default: every year from
        :data:`humsec.forecast.onset.FIRST_ORIGIN` that has an observed outcome).
    seed : int
    registry : CountryRegistry, optional
    displacement : pandas.DataFrame, optional
        UNHCR origin x asylum stocks (default: the shipped release's displacement table).

    Raises
    ------
    HumsecError
        No origin has an observed outcome.
    """
    reg = registry or CountryRegistry.default()
    sp = O.structural_panel(panel, registry=reg)
    last = int(sp["year"].max())
    tables, bts = [], {}
    for h in O.HORIZONS:
        use = [o for o in (origins or range(O.FIRST_ORIGIN, last)) if o <= last - h]
        if not use:
            continue
        bts[h] = O.backtest_onset(O.onset_task(sp, h), use, seed=seed)
        tables.append(O.skill_table(bts[h]))
    if not tables:
        raise HumsecError(f"no forecast origin with an observed outcome (data to {last})")
    table = pd.concat(tables, ignore_index=True)
    disp = default_release().displacement if displacement is None else displacement
    dp = release_displacement_panel(disp, known=sorted(reg.codes))
    d_orig = [o for o in (origins or range(2005, last)) if o <= last - 1]
    dbt = O.displacement_backtest(dp, sp, d_orig, seed=seed, registry=reg) if d_orig else None
    dtab = O.skill_table(dbt, forecasters=O.SURGE_FORECASTERS, baselines=("persistence", "climatology"),
                         by=O.surge_subsets) if dbt is not None else pd.DataFrame()
    return ReleaseBacktest(table, O.target_check(table), dtab, early_warning_recall(bts.get(1), dbt), bts, dbt)
