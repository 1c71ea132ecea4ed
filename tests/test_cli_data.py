"""The `humsec data` commands as a user runs them (exit codes, messages, files)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from humsec.cli.main import main


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    monkeypatch.setenv("HUMSEC_HOME", str(h))
    return h


def test_import_then_snapshots_and_reimport(tmp_path, home, capsys):
    f = tmp_path / "my data.csv"
    f.write_text("unit,year,indicator,value\nKEN,2020,u5mr,41.2\nFRA,2020,u5mr,3.9\n")
    code, out, err = run(capsys, "data", "import", str(f))
    assert code == 0, err
    assert "my_data@1" in out and "2 observations" in out
    code, out, _ = run(capsys, "data", "import", str(f))
    assert code == 0 and "unchanged" in out
    code, out, _ = run(capsys, "data", "snapshots", "--format", "csv")
    rows = [r for r in out.splitlines() if r.startswith("my_data@")]
    assert rows == [rows[0]] and rows[0].startswith("my_data@1,import")


def test_bad_import_exits_2_with_located_message_and_no_traceback(tmp_path, home):
    f = tmp_path / "bad.csv"
    f.write_text("unit,year,indicator,value\nXYZ,2020,u5mr,1\nKEN,2020,u5mr,abc\n")
    proc = subprocess.run([sys.executable, "-m", "humsec.cli.main", "data", "import", str(f)],
                          capture_output=True, text=True, env=dict(os.environ, HUMSEC_HOME=str(home)))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "row 2" in proc.stderr and "unknown country code 'XYZ'" in proc.stderr
    assert "row 3" in proc.stderr and "non-numeric value 'abc'" in proc.stderr


def test_import_with_user_catalogue_and_export_is_formula_safe(tmp_path, home, capsys):
    cat = tmp_path / "cat.yaml"
    cat.write_text(
        "version: '1'\nindicators:\n"
        "  - {code: shelter_gap, name: Shelter gap, unit: '%', dimension: community, direction: -1,"
        " source: survey, licence: CC-BY-4.0, valid_min: 0, valid_max: 100}\n")
    f = tmp_path / "s.csv"
    f.write_text("unit,year,indicator,value\nKEN,2020,shelter_gap,12.5\n")
    code, out, err = run(capsys, "data", "import", str(f), "--catalogue", str(cat),
                         "--source", "=HYPERLINK(\"http://x\")")
    assert code == 0, err
    dest = tmp_path / "out.csv"
    code, out, err = run(capsys, "data", "export", "s", "--format", "csv", "--out", str(dest))
    assert code == 0, err
    text = dest.read_text()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    df = pd.read_csv(dest)
    assert df["value"].tolist() == [12.5]
    # out-of-range value for the user's indicator is a located error
    g = tmp_path / "s2.csv"
    g.write_text("unit,year,indicator,value\nKEN,2021,shelter_gap,120\n")
    code, _, err = run(capsys, "data", "import", str(g), "--catalogue", str(cat))
    assert code == 2 and "row 2" in err and "outside the possible range" in err


def test_unknown_dataset_and_format_errors(home, capsys):
    code, _, err = run(capsys, "data", "export", "nothing", "--format", "csv")
    assert code == 2 and "no dataset named 'nothing'" in err
    code, _, err = run(capsys, "data", "import", "nofile.csv")
    assert code == 2 and "file not found" in err


@pytest.fixture(scope="module")
def default_home(tmp_path_factory):
    """One store with the embedded default built (shared by the slow CLI tests)."""
    from humsec.data.service import ensure_default
    from humsec.settings import Settings

    home = tmp_path_factory.mktemp("default_home")
    ensure_default(Settings(home=home, progress=False))
    return home


def test_data_list_covers_seven_dimensions(default_home, capsys, monkeypatch):
    monkeypatch.setenv("HUMSEC_HOME", str(default_home))
    code, out, err = run(capsys, "data", "list", "--format", "csv")
    assert code == 0, err
    df = pd.read_csv(pd.io.common.StringIO(out))
    covered = df[df["countries"] >= 100].groupby("dimension")["code"].count()
    for dim in ["economic", "food", "health", "environmental", "personal", "community", "political"]:
        assert covered.get(dim, 0) >= 2, (dim, covered)


def test_data_show_unit_series_and_provenance(default_home, capsys, monkeypatch):
    monkeypatch.setenv("HUMSEC_HOME", str(default_home))
    code, out, err = run(capsys, "data", "list", "--format", "csv")
    df = pd.read_csv(pd.io.common.StringIO(out))
    code_ = df.sort_values("countries", ascending=False)["code"].iloc[0]
    code, out, err = run(capsys, "data", "show", code_, "--unit", "KEN")
    assert code == 0, err
    assert "source:" in out and "licence:" in out and "sha256" in out
    code, out, err = run(capsys, "data", "show", "no_such_indicator")
    assert code == 2 and "unknown indicator" in err
