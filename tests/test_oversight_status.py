"""Oversight: commitment targets' status from hand-computable series, validation errors,
versioned storage with history and notes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from humsec.analysis.trends import PROGRESS_LABELS, progress_status
from humsec.errors import HumsecError, ValidationError
from humsec.model.catalogue import Catalogue
from humsec.model.panel import Panel, Provenance
from humsec.oversight.db import OversightDB
from humsec.oversight.models import Commitment, Instrument, Target, validate_commitment
from humsec.oversight.status import (
    STATUS_ORDER,
    commitment_progress,
    commitment_status,
    status_table,
    target_status,
)

TODAY = dt.date(2026, 3, 1)
PROV = Provenance(source="hand-made", accessed=dt.date(2026, 1, 1))
CAT = Catalogue.default()


def panel_of(series: dict[tuple[str, str], dict[int, float]]) -> Panel:
    rows = [{"unit": u, "indicator": i, "year": y, "value": v}
            for (u, i), s in series.items() for y, v in s.items()]
    return Panel(pd.DataFrame(rows), {i: PROV for (_, i) in series})


def tgt(indicator="life_expectancy", unit="KEN", target=70.0, base=2015, deadline=2030, baseline_value=None):
    return Target(key="t1", indicator=indicator, unit=unit, baseline_year=base, target_value=target,
                  deadline=deadline, baseline_value=baseline_value)


# life expectancy (higher is better): 60 in 2015, target 70 by 2030.
# required CAGR = (70/60)**(1/15) - 1 = 1.0329 % a year
REQ = (70 / 60) ** (1 / 15) - 1


@pytest.mark.parametrize("growth,expected", [
    (0.02, "on_track"),            # R = 2.0 / 1.0329 = 1.94 >= 0.95
    (0.0099, "on_track"),          # R = 0.958
    (0.008, "fair_progress"),      # R = 0.775: progress made, acceleration needed
    (0.003, "limited_progress"),   # R = 0.29
    (0.0, "limited_progress"),     # R = 0 (no change): limited progress
    (-0.01, "deterioration"),      # R < 0
])
def test_status_categories_on_compound_growth(growth, expected):
    s = {2015: 60.0, 2020: 60.0 * (1 + growth) ** 5}
    r = target_status(tgt(), panel_of({("KEN", "life_expectancy"): s}), CAT, commitment_id="c")
    assert r.status == expected
    assert r.cagr_required == pytest.approx(REQ)
    assert r.cagr_observed == pytest.approx(growth, abs=1e-12)
    assert r.ratio == pytest.approx(growth / REQ)
    assert r.evidence == ((2015, 60.0), (2020, s[2020]))
    assert r.base_year == 2015 and r.as_of == 2020 and r.baseline_source == "data"


def test_needs_acceleration_label_and_target_achieved():
    p = panel_of({("KEN", "life_expectancy"): {2015: 60.0, 2020: 60.0 * 1.008 ** 5}})
    assert target_status(tgt(), p, CAT).label == "Progress made, acceleration needed"
    p2 = panel_of({("KEN", "life_expectancy"): {2015: 60.0, 2019: 70.5}})
    assert target_status(tgt(), p2, CAT).status == "target_achieved"


def test_lower_is_better_indicator():
    # under-5 mortality 50 -> 45 over 2015-2020, target 25 by 2030:
    # observed CAGR = 0.9**0.2 - 1 = -2.085 %, required = 0.5**(1/15) - 1 = -4.516 %, R = 0.46
    p = panel_of({("KEN", "u5mr"): {2015: 50.0, 2020: 45.0}})
    r = target_status(tgt("u5mr", target=25.0), p, CAT)
    assert r.direction == -1
    assert r.ratio == pytest.approx((0.9 ** 0.2 - 1) * -1 / abs(0.5 ** (1 / 15) - 1))
    assert r.status == "limited_progress"
    faster = panel_of({("KEN", "u5mr"): {2015: 50.0, 2020: 35.0}})  # -6.9 %/yr: R = 1.53
    assert target_status(tgt("u5mr", target=25.0), faster, CAT).status == "on_track"
    worse = panel_of({("KEN", "u5mr"): {2015: 50.0, 2020: 52.0}})
    assert target_status(tgt("u5mr", target=25.0), worse, CAT).status == "deterioration"


# WGI rule of law (standard-normal units, world mean 0; catalogue valid_min -5): a signed
# scale, so progress is the linear change per year. -0.60 in 2020, target 0.40 by 2030:
# required change = (0.40 + 0.60) / 10 = 0.10 a year.
@pytest.mark.parametrize("latest,expected", [
    (-0.40, "on_track"),          # +0.100 a year over 2020-2022: R = 1.00
    (-0.47, "fair_progress"),     # +0.065 a year: R = 0.65
    (-0.56, "limited_progress"),  # +0.020 a year: R = 0.20
    (-0.70, "deterioration"),     # -0.050 a year: R = -0.50
    (0.45, "target_achieved"),
])
def test_signed_scale_uses_linear_rates(latest, expected):
    assert CAT["rule_of_law"].valid_min < 0
    p = panel_of({("PHL", "rule_of_law"): {2020: -0.60, 2022: latest}})
    r = target_status(tgt("rule_of_law", unit="PHL", target=0.40, base=2020), p, CAT)
    assert r.status == expected and r.rate == "linear"
    assert r.cagr_observed == pytest.approx((latest + 0.60) / 2)
    if expected != "target_achieved":
        assert r.cagr_required == pytest.approx(0.10)
        assert r.ratio == pytest.approx((latest + 0.60) / 2 / 0.10)
        assert "linear change per year" in r.note
    # a compound growth rate of a negative base value is undefined: the Open SDG rule alone
    # could not judge this target at all

    assert progress_status([-0.60, latest], [2020, 2022], target=0.40).status in ("insufficient_data",
                                                                                  "target_achieved")


def test_signed_scale_needs_a_target_and_positive_scales_keep_compound_growth():
    p = panel_of({("PHL", "voice_accountability"): {2020: 0.20, 2023: 0.50}})
    r = target_status(tgt("voice_accountability", unit="PHL", target=None, base=2020), p, CAT)
    assert r.status == "insufficient_data" and "give a target value" in r.note and r.rate == "linear"
    # V-Dem indices are 0-1 (valid_min 0): compound growth as before
    q = panel_of({("PHL", "electoral_democracy"): {2020: 0.40, 2024: 0.44}})
    r = target_status(tgt("electoral_democracy", unit="PHL", target=0.90, base=2020), q, CAT)
    req = (0.90 / 0.40) ** (1 / 10) - 1
    assert r.rate == "compound" and r.ratio == pytest.approx(((0.44 / 0.40) ** 0.25 - 1) / req)
    assert r.status == "limited_progress"


@pytest.mark.parametrize("series,why", [
    ({}, "no observations"),
    ({2020: 61.0}, "fewer than two"),
    ({2020: 61.0}, "fewer than two"),   # no baseline at/before 2015; 2020 is the base, nothing after
])
def test_insufficient_data(series, why):
    p = panel_of({("KEN", "life_expectancy"): series} if series else {("FRA", "life_expectancy"): {2015: 80.0}})
    r = target_status(tgt(), p, CAT)
    assert r.status == "insufficient_data"
    assert why in r.note


def test_as_of_limits_the_series_and_baseline_value_overrides_data():
    p = panel_of({("KEN", "life_expectancy"): {2015: 60.0, 2018: 60.3, 2020: 66.0}})
    assert target_status(tgt(), p, CAT, as_of=2018).status == "limited_progress"
    assert target_status(tgt(), p, CAT).status == "on_track"
    # a stated baseline replaces the observation of the baseline year
    r = target_status(tgt(baseline_value=66.0), p, CAT)
    assert r.baseline_source == "given" and r.base_value == 66.0 and r.status == "limited_progress"


def test_baseline_is_the_latest_observation_at_or_before_adoption():
    # adopted 2015, no 2015 value: the baseline is what was known then (2014), not 2016.
    # CAGR 2014-2020 = (66/50)**(1/6) - 1 = 4.74 %; required (70/50)**(1/16) - 1 = 2.13 %; R = 2.23
    p = panel_of({("KEN", "life_expectancy"): {2010: 40.0, 2014: 50.0, 2016: 60.0, 2020: 66.0}})
    r = target_status(tgt(), p, CAT)
    assert (r.base_year, r.base_value, r.as_of, r.latest_value) == (2014, 50.0, 2020, 66.0)
    assert r.evidence == ((2014, 50.0), (2016, 60.0), (2020, 66.0))
    g, req = (66 / 50) ** (1 / 6) - 1, (70 / 50) ** (1 / 16) - 1
    assert r.ratio == pytest.approx(g / req) and r.status == "on_track"
    assert "latest before it (2014)" in r.note
    # only when nothing is known at or before adoption does the first later value serve
    q = panel_of({("KEN", "life_expectancy"): {2016: 60.0, 2020: 66.0}})
    r2 = target_status(tgt(), q, CAT)
    assert r2.base_year == 2016 and "first one after it (2016)" in r2.note


def test_too_early_without_data_after_adoption():
    # APPF 2021: adopted 2021; the latest observation is of 2021 itself
    p = panel_of({("KEN", "life_expectancy"): {2019: 60.0, 2021: 62.0}})
    r = target_status(tgt(base=2021), p, CAT)
    assert r.status == "too_early" and r.label == PROGRESS_LABELS["too_early"]
    assert (r.base_year, r.base_value, r.as_of) == (2021, 62.0, 2021) and np.isnan(r.score)
    assert "no observation after the adoption year 2021" in r.note
    assert r.to_dict()["status"] == "too_early" and r.to_dict()["score"] is None
    # a baseline that already met the target is still too early (kept? not yet known)
    met = panel_of({("KEN", "life_expectancy"): {2020: 71.0}})
    assert target_status(tgt(base=2021), met, CAT).status == "too_early"
    # one observation after adoption is enough: 62 -> 64 over 2021-2023
    q = panel_of({("KEN", "life_expectancy"): {2019: 60.0, 2021: 62.0, 2023: 64.0}})
    r2 = target_status(tgt(base=2021), q, CAT)
    req = (70 / 62) ** (1 / 9) - 1
    assert r2.ratio == pytest.approx(((64 / 62) ** 0.5 - 1) / req) and r2.status == "on_track"
    # ... but not if as_of stops before it
    assert target_status(tgt(base=2021), q, CAT, as_of=2022).status == "too_early"
    # the status table and report order know it

    assert "too_early" in STATUS_ORDER and status_table([r])["label"].iloc[0] == PROGRESS_LABELS["too_early"]


def test_commitment_progress_aggregates_scores():
    c = Commitment(id="c1", instrument="i1", title="Healthier", targets=(
        tgt(), tgt("u5mr", target=25.0).model_copy(update={"key": "t2"}),
        tgt("mmr", target=70.0, base=2020).model_copy(update={"key": "t3"})))
    p = panel_of({("KEN", "life_expectancy"): {2015: 60.0, 2020: 60.0 * 1.008 ** 5},
                  ("KEN", "u5mr"): {2015: 50.0, 2020: 52.0}, ("KEN", "mmr"): {2019: 300.0, 2020: 290.0}})
    st = commitment_status(c, p, CAT)
    assert [s.status for s in st] == ["fair_progress", "deterioration", "too_early"]
    # life expectancy: R = 0.008 / REQ = 0.7745 -> score 5 * (R - 0.6) / 0.7 = 1.2465
    r1 = 0.008 / REQ
    assert st[0].score == pytest.approx(5 * (r1 - 0.6) / 0.7)
    # U5MR: R = -((52/50)**0.2 - 1) / |0.5**(1/15) - 1| = -0.1744 -> score -5 + 5 (R + 0.6) / 1.2 = -3.227
    r2 = -((52 / 50) ** 0.2 - 1) / abs(0.5 ** (1 / 15) - 1)
    assert st[1].score == pytest.approx(-5 + 5 * (r2 + 0.6) / 1.2)
    agg = commitment_progress(st, {"c1": c}).iloc[0]
    mean = (5 * (r1 - 0.6) / 0.7 + (-5 + 5 * (r2 + 0.6) / 1.2)) / 2          # -0.990
    assert agg["score"] == pytest.approx(mean) and agg["status"] == "limited_progress"
    assert (agg["targets"], agg["assessed"], agg["too_early"], agg["title"]) == (3, 2, 1, "Healthier")


def test_commitment_status_table():
    c = Commitment(id="c1", instrument="i1", title="Live longer", targets=(
        tgt(), tgt("u5mr", target=25.0).model_copy(update={"key": "t2"})))
    p = panel_of({("KEN", "life_expectancy"): {2015: 60.0, 2020: 66.0}, ("KEN", "u5mr"): {2015: 50.0, 2020: 52.0}})
    st = commitment_status(c, p, CAT, version=3)
    tab = status_table(st, {"c1": c})
    assert list(tab["status"]) == ["on_track", "deterioration"]
    assert set(tab["commitment"]) == {"c1"} and set(tab["title"]) == {"Live longer"}
    assert st[0].commitment_version == 3 and st[0].to_dict()["label"] == "On track"


# ----------------------------------------------------------------------------- validation


def raw(**target):
    t = {"key": "t1", "indicator": "u5mr", "unit": "KEN", "baseline_year": 2015, "target_value": 25,
         "deadline": 2030, **target}
    return {"id": "c1", "instrument": "i1", "title": "Child survival", "targets": [t]}


@pytest.mark.parametrize("target,field,message", [
    ({"indicator": "u5mrr"}, "targets[0].indicator", "unknown indicator 'u5mrr' (did you mean 'u5mr'?)"),
    ({"indicator": "pop_total"}, "targets[0].indicator", "context indicator"),
    ({"unit": "XYZ"}, "targets[0].unit", "unknown unit 'XYZ'"),
    ({"deadline": 2025}, "targets[0].deadline", "in the past"),
    ({"deadline": "2026-02-28"}, "targets[0].deadline", "in the past"),
    ({"deadline": "soon"}, "targets[0].deadline", "expected a year or a date"),
    ({"baseline_year": 2027}, "targets[0].baseline_year", "must lie between"),
    ({"target_value": -3}, "targets[0].target_value", "outside the possible range"),
    ({"target_value": "many"}, "targets[0].target_value", "valid number"),
])
def test_bad_commitment_gives_located_error(target, field, message):
    with pytest.raises(ValidationError) as ei:
        validate_commitment(raw(**target), catalogue=CAT, today=TODAY, file="c.yaml")
    issue = ei.value.issues[0]
    assert issue.field == field and issue.file == "c.yaml"
    assert message in issue.message


def test_all_problems_reported_at_once():
    with pytest.raises(ValidationError) as ei:
        validate_commitment(raw(indicator="nope", unit="QQQ", deadline=2020), catalogue=CAT, today=TODAY)
    assert {i.field for i in ei.value.issues} == {"targets[0].indicator", "targets[0].unit", "targets[0].deadline"}


def test_validation_accepts_good_commitment():
    c = validate_commitment(raw(unit="ken"), catalogue=CAT, today=TODAY)
    assert c.targets[0].unit == "KEN" and c.targets[0].deadline == dt.date(2030, 12, 31)


# ----------------------------------------------------------------------------- storage


@pytest.fixture()
def db_admin(settings):
    db = OversightDB.open(settings)
    return db, db.init("admin")


def test_versions_history_notes_and_tombstone(db_admin):
    db, tok = db_admin
    db.put_instrument(tok, Instrument(id="i1", kind="law", title="Child Health Act"))
    v1 = db.add_commitment(tok, raw(), catalogue=CAT, today=TODAY)
    assert v1.version == 1
    with pytest.raises(HumsecError, match="already exists"):
        db.add_commitment(tok, raw(), catalogue=CAT, today=TODAY)
    v2 = db.update_commitment(tok, "c1", {"title": "Child survival by 2030"}, catalogue=CAT, today=TODAY)
    v3 = db.add_note(tok, "c1", "Budget hearing scheduled", today=TODAY)
    same = db.update_commitment(tok, "c1", {"title": "Child survival by 2030"}, catalogue=CAT, today=TODAY)
    assert (v2.version, v3.version, same.version) == (2, 3, 3)   # no change -> no new version
    with pytest.raises(ValidationError) as ei:
        db.update_commitment(tok, "c1", {"targets": [dict(raw()["targets"][0], indicator="zzz")]},
                             catalogue=CAT, today=TODAY)
    assert ei.value.issues[0].field == "targets[0].indicator"
    db.delete_commitment(tok, "c1")
    hist = db.history(tok, "commitment", "c1")
    assert [h.version for h in hist] == [1, 2, 3, 4]
    assert [h.deleted for h in hist] == [False, False, False, True]
    assert hist[0].value.title == "Child survival" and hist[2].value.notes[0].text == "Budget hearing scheduled"
    assert db.current(tok) == [] and len(db.current(tok, include_deleted=True)) == 1
    assert db.get(tok, "commitment", "c1", version=1).value.title == "Child survival"
    # the audit log holds every write with before and after
    log = db.audit_log(tok, entity="commitment", entity_id="c1")
    assert list(log["action"]) == ["create", "update", "note", "delete"]
    assert list(log["version"]) == [1, 2, 3, 4]
    assert pd.isna(log["before"].iloc[0]) and "Child survival" in log["after"].iloc[0]
    assert set(log["actor"]) == {"admin"}


def test_unknown_instrument_is_located(db_admin):
    db, tok = db_admin
    with pytest.raises(ValidationError) as ei:
        db.add_commitment(tok, raw(), catalogue=CAT, today=TODAY)
    assert ei.value.issues[0].field == "instrument"


def test_record_status_history(db_admin):
    db, tok = db_admin
    db.put_instrument(tok, Instrument(id="i1", kind="law", title="Child Health Act"))
    v = db.add_commitment(tok, raw(), catalogue=CAT, today=TODAY)
    p1 = panel_of({("KEN", "u5mr"): {2015: 50.0, 2020: 52.0}})
    p2 = panel_of({("KEN", "u5mr"): {2015: 50.0, 2020: 52.0, 2024: 30.0}})
    db.record_status(tok, commitment_status(v.value, p1, CAT, version=v.version))
    db.record_status(tok, commitment_status(v.value, p2, CAT, version=v.version))
    h = db.status_history(tok, "c1")
    assert list(h["status"]) == ["deterioration", "on_track"]
    assert list(h["as_of"]) == [2020, 2024]
    assert '"evidence": [[2015, 50.0], [2020, 52.0], [2024, 30.0]]' in h["result"].iloc[1]
