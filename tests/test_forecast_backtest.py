"""Proper scores, rolling-origin backtests without leakage, the honest ledger, and the
known-crisis recall on real data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from humsec.forecast import scores as S
from humsec.forecast.backtest import Backtest, LeakageError, backtest, ledger, split, write_ledger
from humsec.forecast.models import LEVELS
from humsec.forecast.tasks import Task


# ---------------------------------------------------------------------------- scores


def test_event_scores_by_hand():
    assert S.brier([0.8, 0.3], [1, 0]) == pytest.approx((0.2 ** 2 + 0.3 ** 2) / 2)
    assert S.log_score([0.8, 0.3], [1, 0]) == pytest.approx(-(np.log(0.8) + np.log(0.7)) / 2)
    assert S.brier([0.5] * 4, [0, 1, 0, 1]) == pytest.approx(0.25)
    # a perfect ranking has AUC-PR 1; no events -> NaN
    assert S.auc_pr([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert np.isnan(S.auc_pr([0.1, 0.2], [0, 0]))


def test_reliability_bins_by_hand():
    rel = S.reliability([0.05, 0.05, 0.95, 0.95, 0.55], [0, 1, 1, 1, 0], n_bins=10)
    assert list(rel["n"]) == [2, 1, 2]
    assert list(rel["observed"]) == [0.5, 0.0, 1.0]
    assert rel["mean_forecast"].iloc[0] == pytest.approx(0.05)


def test_crps_of_known_distributions():
    # exact CRPS of N(0, 1) at its mean: 2 phi(0) - 1/sqrt(pi)
    assert S.crps_gaussian(0.0, 1.0, 0.0) == pytest.approx(2 * stats.norm.pdf(0) - 1 / np.sqrt(np.pi))
    assert S.crps_gaussian(0.0, 1.0, 0.0) == pytest.approx(0.233695, abs=1e-6)
    # the quantile (pinball) approximation converges to it on a fine even grid
    taus = (np.arange(199) + 0.5) / 199
    for y in (0.0, 1.3, -2.0):
        q = stats.norm.ppf(taus)[None, :]
        assert S.crps_quantiles(taus, q, [y]) == pytest.approx(S.crps_gaussian(0, 1, y), rel=0.01)
    # a point forecast: CRPS = |x - y| (any symmetric level grid)
    q = np.full((1, len(LEVELS)), 2.0)
    assert S.crps_quantiles(LEVELS, q, [5.0]) == pytest.approx(3.0)


def test_interval_score_by_hand():
    # inside: the width; outside: width + 2/alpha * miss
    assert S.interval_score([0.0], [10.0], [5.0], 0.1) == pytest.approx(10.0)
    assert S.interval_score([0.0], [10.0], [12.0], 0.1) == pytest.approx(10 + 20 * 2)
    assert S.interval_score([0.0], [10.0], [-1.0], 0.2) == pytest.approx(10 + 10 * 1)
    assert S.coverage([0, 0], [1, 1], [0.5, 2]) == 0.5
    assert S.skill(0.8, 1.0) == pytest.approx(0.2)


# ---------------------------------------------------------------------------- leakage


def _toy_task(kind: str = "event", n_units: int = 30, years=range(2000, 2016), seed: int = 0) -> Task:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_units):
        state = 0
        for y in years:
            x = rng.normal()
            nxt = int(rng.random() < (0.8 if state else 0.05 + 0.3 * (x > 1)))
            rows.append({"unit": f"U{u:02d}", "year": y, "current": state, "x": x, "y": nxt})
            state = nxt
    f = pd.DataFrame(rows)
    f.loc[f["year"] == max(years), "y"] = np.nan  # the future is not known
    f["target_year"] = f["year"] + 1
    f = f[["unit", "year", "target_year", "y", "current", "x"]]
    return Task("toy", kind, f, ("current", "x"), "toy event")


def test_split_never_lets_the_future_into_training():
    task = _toy_task()
    for origin in range(2005, 2015):
        train, test = split(task, origin)
        assert train["target_year"].max() < test["target_year"].min()
        assert train["year"].max() < test["year"].min()
        assert set(test["year"]) == {origin}
        assert train["y"].notna().all() and test["y"].notna().all()


def test_split_detects_a_horizon_bug():
    task = _toy_task()
    bad = task.frame.assign(target_year=task.frame["year"])  # outcome "known" in the same year
    with pytest.raises(LeakageError):
        split(Task("bad", "event", bad, task.features, ""), 2010)


def test_toy_backtest_and_honest_ledger(tmp_path):
    bt = backtest(_toy_task(), "logit", range(2006, 2015), seed=1, min_train_years=3)
    assert bt.origins == tuple(range(2006, 2015))
    led = ledger(bt)
    t = led.table.set_index(["subset", "metric"])
    # the ledger's numbers are the scores of the stored forecasts
    f = bt.forecasts
    assert t.at[("all", "brier"), "model_score"] == pytest.approx(S.brier(f["p_logit"], f["y"]))
    assert t.at[("all", "log_score"), "persistence"] == pytest.approx(S.log_score(f["p_persistence"], f["y"]))
    for b in ("persistence", "climatology"):
        for m in ("brier", "log_score"):
            assert t.at[("all", m), f"beats_{b}"] == (t.at[("all", m), "model_score"] < t.at[("all", m), b])
        said = next(v for v in led.verdict() if f" {b} on " in v)
        assert (" BEATS " in said) == led.beats(b)
    files = write_ledger(led, bt, tmp_path)
    names = {p.name for p in files}
    assert {"ledger_toy_logit.csv", "ledger_toy_logit.json", "calibration_toy_logit.png",
            "scores_by_origin_toy_logit.png"} <= names
    assert json.loads((tmp_path / "ledger_toy_logit.json").read_text())["beats_persistence"] == led.beats("persistence")


def test_ledger_says_when_the_model_loses():
    f = pd.DataFrame({"origin": 2010, "unit": list("abcd"), "year": 2010, "target_year": 2011,
                      "y": [1.0, 0.0, 1.0, 0.0], "current": [1, 0, 1, 0],
                      "p_logit": [0.1, 0.9, 0.2, 0.8],  # confidently wrong
                      "p_persistence": [0.9, 0.1, 0.9, 0.1], "p_climatology": [0.5] * 4})
    led = ledger(Backtest("t", "event", "logit", f, (2010,), 0))
    assert not led.beats("persistence") and not led.beats("climatology")
    assert all("does NOT beat" in v for v in led.verdict())


# ---------------------------------------------------------------------------- the data release


def test_hsi_dimension_backtest_on_the_release(default_env):
    from humsec.analysis.assess import default_year, history, index_data
    from humsec.data.countries import CountryRegistry
    from humsec.forecast.tasks import hsi_task
    from humsec.index.builtin import load_spec

    _, panel, _ = default_env
    spec = load_spec("hsi")
    data = index_data(panel, spec)
    last = default_year(spec, data)
    assert last >= 2022
    hist = history(spec, data, range(last - 7, last + 1))
    reg = CountryRegistry.default()
    task = hsi_task(hist, "personal", regions={u: reg.region(u) for u in hist.index.get_level_values(0).unique()},
                    last_year=last)
    bt = backtest(task, "qlinear", [last - 2, last - 1], seed=5, min_train_years=3)
    assert set(bt.forecasts["target_year"]) == {last - 1, last}
    # the outcome is the next year's personal score of the index history
    f = bt.forecasts.set_index(["unit", "year"])
    nxt = hist["personal"].rename(lambda y: y - 1, level="year")
    assert f["y"].to_numpy() == pytest.approx(nxt.reindex(f.index).to_numpy())
    led = ledger(bt)
    t = led.table.set_index("metric")
    q = bt.quantiles("qlinear")
    assert (np.diff(q, axis=1) >= -1e-9).all()  # no quantile crossing
    assert t.at["crps", "model_score"] == pytest.approx(S.crps_quantiles(LEVELS, q, bt.forecasts["y"]))
    assert t.at["crps", "beats_persistence"] == (t.at["crps", "model_score"] < t.at["crps", "persistence"])
    assert len(led.verdict()) == 2


def test_hsi_origins_follow_the_data(default_env):
    from humsec.analysis.assess import default_year, index_data
    from humsec.forecast.pipelines import (
        MODELS,
        RECENT_ORIGINS,
        default_origins,
        make_tasks,
    )
    from humsec.index.builtin import load_spec

    _, panel, _ = default_env
    spec = load_spec("hsi")
    last = default_year(spec, index_data(panel, spec))
    (task,) = make_tasks(MODELS["hsi"], panel=panel, spec=spec, nodes=[spec.root])
    # the latest outcome is the index's latest year: origins end the year before it
    assert int(task.known["target_year"].max()) == last
    assert default_origins(MODELS["hsi"], [task]) == list(range(last - RECENT_ORIGINS, last))


def test_conflict_deaths_event_backtest_on_the_release(default_env):
    from humsec.forecast.pipelines import CONFLICT_DEATHS_THRESHOLD, run_backtest

    _, panel, _ = default_env
    ((bt, led),) = run_backtest("conflict_deaths", panel=panel, origins=[2021, 2022], seed=3)
    f = bt.forecasts
    assert f["p_logit"].between(0, 1).all()
    assert set(f["target_year"]) == {2022, 2023}
    # the outcome is UCDP's deaths in organised violence per 100,000 of the next year
    # above the threshold, read straight from the panel
    cd = panel.filter(indicators=["conflict_deaths"], totals_only=True).data.set_index(["unit", "year"])["value"]
    want = (cd.reindex(pd.MultiIndex.from_arrays([f["unit"], f["target_year"]])) > CONFLICT_DEATHS_THRESHOLD)
    assert (f["y"].to_numpy() == want.to_numpy().astype(float)).all()
    by = f.set_index(["unit", "origin"])
    # the full-scale invasion of Ukraine (2022) and the war in Sudan (2023): onsets
    assert by.at[("UKR", 2021), "y"] == 1 and by.at[("UKR", 2021), "current"] == 0
    assert by.at[("SDN", 2022), "y"] == 1
    assert by.at[("SYR", 2022), "y"] == 1  # Syria's war went on
    t = led.table[led.table["subset"] == "all"].set_index("metric")
    assert t.at["brier", "beats_climatology"] == (t.at["brier", "model_score"] < t.at["brier", "climatology"])
    # seeded: the same forecasts again
    ((bt2, _),) = run_backtest("conflict_deaths", panel=panel, origins=[2021, 2022], seed=3)
    pd.testing.assert_frame_equal(bt.forecasts, bt2.forecasts)


def test_conflict_deaths_default_origins_reach_the_latest_ucdp_year():
    from humsec.data.release.load import load_release
    from humsec.forecast.pipelines import MODELS, default_origins, make_tasks

    panel = load_release().panel  # the model reads the shipped release without a panel
    last = int(panel.filter(indicators=["conflict_deaths"]).data["year"].max())
    assert last >= 2024  # UCDP v25.1
    (task,) = make_tasks(MODELS["conflict_deaths"])
    assert default_origins(MODELS["conflict_deaths"], [task]) == list(range(2000, last))
    assert task.frame.loc[task.frame["year"] == last, "y"].isna().all()  # the future is not known


# ---------------------------------------------------------------------------- real data


def test_gw_codes_map_to_iso3(shared_data):
    from humsec.data.countries import CountryRegistry
    from humsec.forecast.series import gw_to_iso3

    gw = pd.read_csv(shared_data / "peacesciencer" / "gw_states.csv")
    m = gw_to_iso3(gw, CountryRegistry.default())
    assert m[652] == "SYR" and m[620] == "LBY" and m[369] == "UKR" and m[625] == "SDN" and m[101] == "VEN"
    assert m[678] == "YEM" and m[345] == "SRB" and m[260] == "DEU" and 680 not in m


def test_conflict_backtest_on_ucdp(shared_data):
    from humsec.forecast.pipelines import run_backtest

    ((bt, led),) = run_backtest("conflict", data_dir=shared_data, origins=[2018, 2019, 2020], seed=11)
    f = bt.forecasts
    assert set(f["target_year"]) == {2019, 2020, 2021}
    syr = f[(f["unit"] == "SYR") & (f["origin"] == 2020)]
    assert syr["y"].iloc[0] == 1  # Syria's civil war went on in 2021
    t = led.table[led.table["subset"] == "all"].set_index("metric")
    for m in ("brier", "log_score"):
        for b in ("persistence", "climatology"):
            assert t.at[m, f"beats_{b}"] == (t.at[m, "model_score"] < t.at[m, b])
    assert 0 < t.at["auc_pr", "model_score"] <= 1


def test_displacement_backtest_on_unhcr(shared_data):
    from humsec.forecast.pipelines import run_backtest

    ((bt, led),) = run_backtest("displacement-logit", data_dir=shared_data, origins=[2021, 2022], seed=2)
    f = bt.forecasts
    ukr = f[(f["unit"] == "UKR") & (f["origin"] == 2021)]
    assert ukr["y"].iloc[0] == 1  # 2022: the surge out of Ukraine
    assert led.table["n"].iloc[0] == len(f)


def test_known_crisis_recall_on_real_data(shared_data):
    from humsec.forecast.crises import crisis_recall

    r = crisis_recall(data_dir=shared_data, signals=["war_forecast", "outflow_rule", "hdi_detector"], seed=1)
    rec = r.recall
    assert {"Syria 2011-13", "Libya 2011", "Ukraine 2022", "Sudan 2023", "COVID-19 HDI fall 2019-21"} <= set(rec["crisis"])
    # the displacement rule sees the 2022 exodus from Ukraine only in the year it happens:
    # a concurrent detection, not a warning (recall needs a lead of at least one year)
    row = rec[(rec["crisis"] == "Ukraine 2022") & (rec["signal"] == "outflow_rule")].iloc[0]
    assert not row["flagged"] and row["late_flag"] == 2022 and pd.isna(row["lead_years"])
    from humsec.forecast.crises import CRISES

    start = {c.name: c.start for c in CRISES if c.unit != "*"}
    flagged = rec[rec["crisis"].isin(start) & rec["lead_years"].notna()]
    assert (flagged["lead_years"] == flagged["crisis"].map(start) - flagged["first_flag"]).all()
    assert (flagged["lead_years"] >= 1).all()
    covid = rec[rec["crisis"] == "COVID-19 HDI fall 2019-21"].iloc[0]
    assert 0 <= covid["flagged"] <= 1
    a = r.alarms.set_index("signal")
    assert ((a["false_alarm_rate"] >= 0) & (a["false_alarm_rate"] <= 1)).all()
    assert a.at["war_forecast", "false_alarms"] <= a.at["war_forecast", "flags"]


def test_hsi_alerts_cover_every_crisis_window(shared_data, default_env):
    from humsec.analysis.assess import default_year, index_data
    from humsec.forecast.crises import CRISES, HSI_FIRST_YEAR, LOOKBACK, crisis_recall
    from humsec.index.builtin import load_spec

    _, panel, _ = default_env
    spec = load_spec("hsi")
    last = default_year(spec, index_data(panel, spec))
    r = crisis_recall(data_dir=shared_data, panel=panel, spec=spec, signals=["hsi_alerts"], seed=1)
    rec = r.recall.set_index("crisis")
    meant = [c for c in CRISES if "hsi_alerts" in c.signals]
    assert {c.name for c in meant} == set(rec.index) and {"Ukraine 2022", "Sudan 2023"} <= set(rec.index)
    for c in meant:
        assert HSI_FIRST_YEAR < c.start - LOOKBACK and c.end <= last
        row = rec.loc[c.name]
        assert row["flagged"] is not None and row["note"] == ""   # covered, not "not covered"
    # the invasion of Ukraine: the default rules fire on the index or a dimension in 2022 at the latest
    ukr = rec.loc["Ukraine 2022"]
    assert ukr["flagged"] and ukr["first_flag"] <= 2022 and ukr["lead_years"] == 2022 - ukr["first_flag"]
    fl = r.flags[(r.flags["signal"] == "hsi_alerts") & (r.flags["unit"] == "UKR")]
    assert 2022 in set(fl["year"])
    a = r.alarms.set_index("signal").loc["hsi_alerts"]
    assert 0 < a["flags"] <= a["country_years"] and a["false_alarms"] <= a["flags"]
    assert any(n.startswith("hsi_alerts:") and f"-{last} ({last} = the index's latest year)" in n for n in r.notes)


def test_quantity_forecasts_are_clipped_to_the_outcome_range():
    import numpy as np
    import pandas as pd

    from humsec.forecast.tasks import Task

    t = Task("hsi:x", "quantity", pd.DataFrame(), (), "score", bounds=(0.0, 100.0))
    q = np.array([[-3.0, 50.0, 104.0]])
    np.testing.assert_array_equal(t.clip(q), [[0.0, 50.0, 100.0]])
    free = Task("x", "quantity", pd.DataFrame(), (), "")
    np.testing.assert_array_equal(free.clip(q), q)
