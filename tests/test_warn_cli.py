"""``humsec warn``, ``humsec warn backtest`` and ``humsec forecast`` end to end."""

from __future__ import annotations

import json

import pytest

from humsec.cli.main import main

FAST_RULES = """rules_version: 1
rules:
  - id: hsi_fall
    title: The index falls
    series: index
    measure: change
    below: {medium: -2, high: -4}
  - id: dim_fall
    series: dimensions
    measure: change
    below: -5
    severity: medium
"""


def _run(capsys, home, *args) -> tuple[int, str, str]:
    code = main(["--home", str(home), "--quiet", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_warn_country_json_with_reasons(default_env, capsys, tmp_path):
    settings, _, _ = default_env
    rules = tmp_path / "r.yaml"
    rules.write_text(FAST_RULES)
    code, out, _ = _run(capsys, settings.home, "warn", "SYR", "--year", "2012", "--rules", str(rules),
                        "--only-rules", "--format", "json")
    assert code == 0
    d = json.loads(out)
    assert d["year"] == 2012
    hf = [a for a in d["alerts"] if a["rule"] == "hsi_fall"]
    assert hf and hf[0]["unit"] == "SYR" and hf[0]["severity"] == "high" and "driven by" in hf[0]["reason"]


def test_warn_rule_errors_exit_2_with_location(default_env, capsys, tmp_path):
    settings, _, _ = default_env
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    series: political\n    measure: fall\n    below: -3\n")
    code, _, err = _run(capsys, settings.home, "warn", "--rules", str(bad))
    assert code == 2
    assert "line 4" in err and "rules[0].measure" in err and "Traceback" not in err


def test_warn_unknown_country_exit_2(default_env, capsys):
    settings, _, _ = default_env
    code, _, err = _run(capsys, settings.home, "warn", "XXX", "--format", "csv")
    assert code == 2 and "XXX" in err


def test_warn_default_year_is_the_index_latest(default_env, capsys, tmp_path):
    from humsec.analysis.assess import index_data
    from humsec.index.builtin import load_spec

    settings, panel, _ = default_env
    spec = load_spec("hsi")
    data = index_data(panel, spec)
    from humsec.analysis.assess import default_year

    latest = default_year(spec, data)  # the rule is tested by hand in tests/test_hsi.py
    rules = tmp_path / "r.yaml"
    rules.write_text(FAST_RULES)
    code, out, _ = _run(capsys, settings.home, "warn", "UKR", "--rules", str(rules), "--only-rules", "--format", "json")
    assert code == 0
    d = json.loads(out)
    assert d["year"] == latest >= 2022 and d["n_units"] == 1
    assert all(a["unit"] == "UKR" and a["year"] == latest for a in d["alerts"])


def test_warn_backtest_release_event_writes_ledger_and_plots(default_env, capsys, tmp_path):
    settings, _, _ = default_env
    out = tmp_path / "bt"
    code, stdout, _ = _run(capsys, settings.home, "warn", "backtest", "--model", "conflict_deaths", "--origins",
                           "2021-2022", "--out", str(out))
    assert code == 0
    assert "UCDP" in stdout and "persistence" in stdout and "climatology" in stdout
    assert ("BEATS" in stdout) or ("does NOT beat" in stdout)
    assert (out / "ledger_conflict_deaths_logit.csv").is_file()
    assert (out / "calibration_conflict_deaths_logit.png").is_file()
    led = json.loads((out / "ledger_conflict_deaths_logit.json").read_text())
    assert led["origins"] == [2021, 2022]
    said = " ".join(led["verdict"])
    assert ("does NOT beat persistence" in said) == (not led["beats_persistence"])


def test_warn_backtest_terror_is_gone(default_env, capsys, tmp_path):
    settings, _, _ = default_env
    code, _, err = _run(capsys, settings.home, "warn", "backtest", "--model", "terror", "--out", str(tmp_path))
    assert code == 2 and "unknown model 'terror'" in err and "conflict_deaths" in err


def test_warn_backtest_conflict_needs_no_data_dir(default_env, capsys, tmp_path, monkeypatch):
    """The conflict model reads UCDP from the data release: no --data-dir, any directory."""
    settings, _, _ = default_env
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUMSEC_SHARED_DATA", raising=False)
    code, out, err = _run(capsys, settings.home, "warn", "backtest", "--model", "conflict", "--origins", "2019-2020",
                          "--out", str(tmp_path / "o"), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["ledgers"][0]["origins"] == [2019, 2020]


def test_warn_backtest_unknown_model(default_env, capsys, tmp_path):
    settings, _, _ = default_env
    code, _, err = _run(capsys, settings.home, "warn", "backtest", "--model", "conflict-qgbm", "--out", str(tmp_path))
    assert code == 2 and "not an event estimator" in err


def test_warn_backtest_conflict_real_data(default_env, capsys, tmp_path, shared_data):
    settings, _, _ = default_env
    code, out, _ = _run(capsys, settings.home, "warn", "backtest", "--model", "conflict", "--data-dir",
                        str(shared_data), "--origins", "2019-2020", "--out", str(tmp_path), "--format", "json")
    assert code == 0
    d = json.loads(out)
    led = d["ledgers"][0]
    assert led["origins"] == [2019, 2020]
    assert isinstance(led["beats_persistence"], bool)


def test_forecast_conflict_legacy_model(default_env, capsys):
    settings, _, _ = default_env
    code, out, _ = _run(capsys, settings.home, "forecast", "SYR", "--target", "conflict", "--model", "logit",
                        "--format", "json")
    assert code == 0
    f = json.loads(out)["forecasts"][0]
    assert f["unit"] == "SYR" and f["target_year"] == f["year"] + 1
    assert 0 <= f["probability"] <= 1 and 0 <= f["persistence"] <= 1


def test_forecast_release_event(default_env, capsys):
    settings, panel, _ = default_env
    code, out, _ = _run(capsys, settings.home, "forecast", "UKR", "--target", "conflict_deaths", "--format", "json")
    assert code == 0
    (f,) = json.loads(out)["forecasts"]
    cd = panel.filter(indicators=["conflict_deaths"], units=["UKR"], totals_only=True).data
    last = int(cd["year"].max())
    # the forecast is issued with the latest UCDP year for the year after it
    assert f["unit"] == "UKR" and f["year"] == last and f["target_year"] == last + 1
    assert f["current"] == float(cd.loc[cd["year"] == last, "value"].iloc[0] > 1.0) == 1.0  # the war goes on
    assert 0 <= f["probability"] <= 1 and 0 <= f["climatology"] <= 1
    code, out, _ = _run(capsys, settings.home, "forecast", "ISL", "--target", "conflict_deaths", "--format", "csv")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("target,unit,year,target_year") and "ISL" in lines[1]


@pytest.mark.parametrize("target", ["nonsense"])
def test_forecast_unknown_target(default_env, capsys, target):
    settings, _, _ = default_env
    code, _, err = _run(capsys, settings.home, "forecast", "KEN", "--target", target)
    assert code == 2 and "unknown model" in err


def test_warn_crises_works_after_a_plain_install(default_env, capsys, tmp_path, monkeypatch):
    """Without the publishers' files, `warn crises` scores the release-based onset and
    displacement forecasts: warnings count only with a lead of at least one year."""
    settings, _, _ = default_env
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUMSEC_SHARED_DATA", raising=False)
    code, out, err = _run(capsys, settings.home, "warn", "crises", "--origins", "2008-2010", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    rows = {(r["crisis"], r["signal"]): r for r in d["recall"]}
    syr = rows[("Syria 2011", "conflict_forecast")]
    assert syr["window"] == "2008-2010"
    for r in d["recall"]:
        if r["flagged"]:
            assert r["lead_years"] >= 1 and isinstance(r["first_flag"], int)
    assert {a["signal"] for a in d["alarms"]} == {"conflict_forecast", "displacement_forecast"}
    assert all(0 <= a["false_alarm_rate"] <= 1 for a in d["alarms"])
    assert any("data release alone" in n for n in d["notes"])
