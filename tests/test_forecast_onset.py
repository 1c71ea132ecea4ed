"""Prevention 2.0: structural onset models, their metrics, the leakage guard, the
lead-time rule of crisis recall, and forecast commands that work from any directory."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from humsec.forecast import onset as O
from humsec.forecast import scores as S
from humsec.forecast.backtest import split
from humsec.forecast.crises import Crisis, flag_recall


# ---------------------------------------------------------------------------- metrics by hand


def test_auc_roc_by_hand():
    # events 0.9, 0.4; non-events 0.4, 0.1: pairs 1 + 1 + 0.5 (tie) + 1 = 3.5 of 4
    assert S.auc_roc([0.9, 0.4, 0.4, 0.1], [1, 1, 0, 0]) == pytest.approx(0.875)
    assert S.auc_roc([0.1, 0.9], [1, 0]) == 0.0
    assert np.isnan(S.auc_roc([0.1, 0.2], [0, 0]))


def test_watchlist_at_recall_by_hand():
    # ranking 0.9(1) 0.8(0) 0.5(1) 0.3(0) 0.2(0): 80 % of 2 events needs both -> down to 0.5
    w = S.watchlist_at_recall([0.9, 0.8, 0.5, 0.3, 0.2], [1, 0, 1, 0, 0], recall=0.8)
    assert w["threshold"] == 0.5 and w["flagged"] == 3 and w["recall"] == 1.0
    assert w["false_alarm_rate"] == pytest.approx(1 / 3) and w["precision"] == pytest.approx(2 / 3)
    # 50 % recall: the top row alone
    w = S.watchlist_at_recall([0.9, 0.8, 0.5, 0.3, 0.2], [1, 0, 1, 0, 0], recall=0.5)
    assert w["flagged"] == 1 and w["false_alarm_rate"] == 0.0


def test_calibration_by_hand():
    # bins: p=0.2 (y 0, 1: observed 0.5), p=0.8 (y 1, 1: observed 1.0)
    c = S.calibration([0.2, 0.2, 0.8, 0.8], [0, 1, 1, 1])
    assert c["ece"] == pytest.approx((2 * 0.3 + 2 * 0.2) / 4)
    assert c["mean_forecast"] == pytest.approx(0.5) and c["observed"] == pytest.approx(0.75)
    # forecasts drawn from their own probabilities: slope near 1, intercept near 0
    rng = np.random.default_rng(7)
    p = rng.uniform(0.02, 0.98, 20_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    c = S.calibration(p, y)
    assert abs(c["slope"] - 1) < 0.06 and abs(c["intercept"]) < 0.06 and c["ece"] < 0.02


def _toy_backtest() -> O.OnsetBacktest:
    f = pd.DataFrame({
        "origin": [2000] * 6, "unit": list("ABCDEF"), "year": 2000, "target_year": 2001,
        "y": [1, 0, 1, 0, 0, 1], "current": [1, 1, 0, 0, 0, 0], "peace_years": [0, 0, 12, 12, 3, 1]})
    f["p_onset"] = [0.9, 0.5, 0.6, 0.1, 0.2, 0.3]
    f["p_history"] = [0.8, 0.8, 0.1, 0.1, 0.1, 0.1]
    f["p_fearon_laitin"] = 0.3
    f["p_persistence"] = np.where(f["current"] == 1, 0.8, 0.1)
    f["p_climatology"] = 0.5
    return O.OnsetBacktest(1, f, (2000,), 0)


def test_skill_table_subsets_and_brier_skill_by_hand():
    t = O.skill_table(_toy_backtest()).set_index(["subset", "forecaster"])
    assert t.loc[("incidence", "onset"), "n"] == 6 and t.loc[("onset", "onset"), "n"] == 4
    assert t.loc[("fresh onset (>= 10 peace years)", "onset"), "n"] == 2
    assert t.loc[("fresh onset (>= 2 peace years)", "onset"), "n"] == 3
    # onset rows C D E F: y 1 0 0 1
    b_on = np.mean((np.array([0.6, 0.1, 0.2, 0.3]) - [1, 0, 0, 1]) ** 2)
    b_cl = np.mean((0.5 - np.array([1, 0, 0, 1])) ** 2)
    assert t.loc[("onset", "onset"), "brier"] == pytest.approx(b_on)
    assert t.loc[("onset", "onset"), "bss_vs_climatology"] == pytest.approx(1 - b_on / b_cl)
    assert t.loc[("onset", "onset"), "auc_roc"] == pytest.approx(1.0)  # 0.6, 0.3 above 0.2, 0.1
    assert t.loc[("onset", "onset"), "base_rate"] == pytest.approx(0.5)


def test_target_check_reads_the_table():
    t = O.skill_table(_toy_backtest())
    chk = O.target_check(t).set_index("target")
    row = chk.loc["auc_roc on onset, 1-year horizon >= 0.88"]
    assert row["met"] and row["value"] == pytest.approx(1.0)
    bss = chk.loc["bss_vs_every_baseline on onset, 1-year horizon > 0"]
    on = t[(t["subset"] == "onset") & (t["forecaster"] == "onset")].iloc[0]
    assert bss["value"] == pytest.approx(min(on[f"bss_vs_{b}"] for b in O.BASELINES))


# ---------------------------------------------------------------------------- lead-time rule


def test_crisis_recall_counts_only_warnings_a_year_ahead():
    c = Crisis("X 2011", "XXX", 2011, 2012, ("s",))
    late = pd.DataFrame({"signal": ["s", "s"], "unit": ["XXX", "XXX"], "year": [2011, 2012], "score": [0.9, 0.9]})
    r = flag_recall(c, "s", late)
    assert r["flagged"] is False and r["late_flag"] == 2011 and "not a warning" in r["note"]
    early = pd.concat([late, pd.DataFrame({"signal": ["s"], "unit": ["XXX"], "year": [2009], "score": [0.4]})])
    r = flag_recall(c, "s", early)
    assert r["flagged"] is True and r["first_flag"] == 2009 and r["lead_years"] == 2 and r["peak"] == 0.4
    # a flag before the lookback does not count; another unit's flag does not count
    old = pd.DataFrame({"signal": ["s", "s"], "unit": ["XXX", "YYY"], "year": [2007, 2010], "score": [0.9, 0.9]})
    assert flag_recall(c, "s", old)["flagged"] is False
    assert flag_recall(c, "s", late, min_lead=0)["flagged"] is True  # the old rule would count it


# ---------------------------------------------------------------------------- on the release


@pytest.fixture(scope="module")
def sp(default_env):
    _, panel, _ = default_env
    return O.structural_panel(panel)


def test_incidence_is_25_battle_deaths(sp, default_env):
    _, panel, _ = default_env
    d = panel.filter(indicators=["state_based_deaths", "pop_total"], totals_only=True).data
    w = d.pivot_table(index=["unit", "year"], columns="indicator", values="value")
    syr = w.loc[("SYR", 2012)]
    deaths = syr["state_based_deaths"] * syr["pop_total"] / 1e5
    row = sp[(sp["unit"] == "SYR") & (sp["year"] == 2012)].iloc[0]
    assert row["battle_deaths"] == pytest.approx(deaths) and row["conflict"] == int(deaths >= 25)
    s = sp[sp["unit"] == "SYR"].set_index("year")
    assert s.loc[2010, "conflict"] == 0 and s.loc[2011, "conflict"] == 1
    assert s.loc[2010, "peace_years"] == 21 and s.loc[2011, "peace_years"] == 0  # 1990-2010 at peace


def test_horizon_outcome_is_any_conflict_in_the_window(sp):
    t3 = O.onset_task(sp, 3).frame.set_index(["unit", "year"])
    c = sp.set_index(["unit", "year"])["conflict"]
    assert t3.loc[("SYR", 2008), "y"] == 1  # 2011 is inside 2009-2011
    assert t3.loc[("SYR", 2007), "y"] == 0  # 2008-2010 at peace
    assert t3.loc[("SYR", 2008), "target_year"] == 2011
    last = int(sp["year"].max())
    assert t3.xs(last - 2, level="year")["y"].isna().all()  # window not observed yet
    u = "IND"
    assert t3.loc[(u, 2000), "y"] == max(c[(u, 2001)], c[(u, 2002)], c[(u, 2003)])


def test_leakage_guard_training_ends_before_the_origin(sp):
    for h in (1, 3, 5):
        task = O.onset_task(sp, h)
        train, test = split(task, 2010, min_train_years=5)
        assert train["year"].max() <= 2010 - h and train["target_year"].max() <= 2010
        assert set(test["year"]) == {2010}


def test_no_data_after_the_origin_changes_a_forecast(default_env):
    """Scramble every observation after the origin (all indicators): the forecasts issued
    at the origin - model choice, baselines, thresholds - stay exactly the same."""
    from humsec.model.panel import Panel

    _, panel, _ = default_env
    T = 2008
    d = panel.data.copy()
    late = d["year"] > T
    rng = np.random.default_rng(3)
    d.loc[late, "value"] = d.loc[late, "value"].to_numpy() * rng.uniform(0, 50, late.sum())
    scrambled = Panel(d)
    fc = {}
    for name, p in (("orig", panel), ("scrambled", scrambled)):
        s = O.structural_panel(p)
        assert (s[s["year"] > T]["conflict"] != 0).any()
        fc[name] = O.backtest_onset(O.onset_task(s, 1), [T], seed=1).forecasts
    a, b = fc["orig"].drop(columns="y"), fc["scrambled"].drop(columns="y")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    s_orig = O.structural_panel(panel)
    assert not s_orig[s_orig["year"] == T + 1]["battle_deaths"].equals(
        O.structural_panel(scrambled).query("year == @T + 1")["battle_deaths"])


def test_backtest_scores_all_forecasters_on_the_same_rows(sp):
    bt = O.backtest_onset(O.onset_task(sp, 1), [2012, 2013], seed=1)
    f = bt.forecasts
    assert set(f["origin"]) == {2012, 2013} and f[[f"p_{w}" for w in O.FORECASTERS]].notna().all().all()
    assert ((f[[f"p_{w}" for w in O.FORECASTERS]] > 0) & (f[[f"p_{w}" for w in O.FORECASTERS]] < 1)).all().all()
    assert set(f["chosen"]) <= set(O.CANDIDATES)
    t = O.skill_table(bt)
    assert set(t["forecaster"]) == set(O.FORECASTERS)


def test_watch_list_ranks_and_explains(sp, default_env):
    _, panel, _ = default_env
    wl = O.watch_list(panel, sp=sp, horizons=(1,))
    last = int(sp["year"].max())
    assert (wl["year"] == last).all() and (wl["window"] == str(last + 1)).all()
    assert wl["probability"].is_monotonic_decreasing and list(wl["rank"]) == list(range(1, len(wl) + 1))
    assert len(wl) == (sp["year"] == last).sum()
    top = wl.iloc[0]
    assert top["drivers"] and ("raises the risk" in top["drivers"] or "lowers the risk" in top["drivers"])
    assert (wl["warning"] == (wl["relative_risk"] >= O.RELATIVE_RISK)).all()


def test_release_displacement_panel_by_hand():
    from humsec.forecast.series import release_displacement_panel

    t = pd.DataFrame({
        "origin": ["AAA", "AAA", "AAA", "AAA", "AAA", "BBB"],
        "asylum": ["BBB", "CCC", "AAA", "BBB", "AAA", "AAA"],
        "year": [2001, 2001, 2001, 2001, 2001, 2002],
        "measure": ["flow", "flow", "flow", "stock", "stock", "flow"],
        "population_type": ["refugees", "asylum_seekers", "refugees", "refugees", "idps", "returned_refugees"],
        "value": [10.0, 5.0, 99.0, 40.0, 7.0, 3.0]})
    d = release_displacement_panel(t, first_year=2001).set_index(["unit", "year"])
    assert d.loc[("AAA", 2001), "outflow"] == 15.0  # the self pair is not a cross-border flow
    assert d.loc[("AAA", 2001), "stock"] == 40.0 and d.loc[("AAA", 2001), "idps"] == 7.0
    assert d.loc[("BBB", 2002), "outflow"] == 0.0 and d.loc[("AAA", 2002), "stock"] == 0.0


# ---------------------------------------------------------------------------- any directory


def test_forecast_and_warn_work_from_any_directory(default_env, capsys, tmp_path, monkeypatch):
    from humsec.cli.main import main

    settings, _, _ = default_env
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUMSEC_SHARED_DATA", raising=False)
    code = main(["--home", str(settings.home), "--quiet", "forecast", "KEN", "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    d = json.loads(out.out)
    assert [r["horizon"] for r in d["forecasts"]] == list(O.HORIZONS)
    assert all(0 < r["probability"] < 1 and r["unit"] == "KEN" for r in d["forecasts"])
    rules = tmp_path / "r.yaml"
    rules.write_text("rules_version: 1\nrules:\n  - id: hsi_fall\n    series: index\n    measure: change\n"
                     "    below: {medium: -2, high: -4}\n")
    code = main(["--home", str(settings.home), "--quiet", "warn", "KEN", "--rules", str(rules), "--only-rules",
                 "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    d = json.loads(out.out)
    assert d["watch_list"] and d["watch_list"][0]["unit"] == "KEN"
    assert d["watch_list"][0]["year"] == d["year"] or d["watch_list"][0]["year"] >= 2024
    code = main(["--home", str(settings.home), "--quiet", "forecast", "KEN", "--target", "displacement",
                 "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert 0 <= json.loads(out.out)["forecasts"][0]["probability"] <= 1
