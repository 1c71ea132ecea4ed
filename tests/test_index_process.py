"""The whole index process through the CLI (#21): COINr CSV in, index CSV out, equal to
the library's result; the CLI imports only the shell a command needs."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from humsec.cli.main import _command_of, main
from humsec.index.coinr import import_coinr
from humsec.index.io import csv_bytes, read_index_data
from humsec.index.longform import rank_order
from humsec.index.pipeline import build
from humsec.index.spec import IndexSpec

META = """Level,iCode,iName,Direction,Weight,Unit,Target,Denominator,Parent,Type
1,a,A,1,1,,,,P1,Indicator
1,b,B,-1,2,,,pop,P1,Indicator
1,c,C,1,1,,,,P2,Indicator
1,d,D,1,0.5,,,,P2,Indicator
2,P1,Pillar 1,1,1,,,,Index,Aggregate
2,P2,Pillar 2,1,1,,,,Index,Aggregate
3,Index,Index,1,1,,,,,Aggregate
,grp,Group,,,,,,,Group
,pop,Population,,,,,,,Denominator
"""


@pytest.fixture()
def coinr_files(tmp_path):
    """A small COINr pair with gaps, ties, odd unit codes (a comma, a formula start)
    and NA markers, so that quoting, neutralising and missing values all show."""
    rng = np.random.default_rng(7)
    n = 40
    units = [f"U{i:02d}" for i in range(n - 2)] + ["A,B", "=X"]
    cols = {"uCode": units, "uName": [f"Unit {u}" for u in units],
            "grp": rng.choice(["g1", "g2", "g3"], n), "Time": 2020,
            "pop": np.round(rng.lognormal(3, 1, n), 3)}
    for c in "abcd":
        v = np.round(rng.lognormal(0, 1, n), 1)  # rounded: ties
        v[rng.random(n) < 0.1] = np.nan
        cols[c] = v
    frame = pd.DataFrame(cols)
    (tmp_path / "iMeta.csv").write_text(META)
    frame.to_csv(tmp_path / "iData.csv", index=False, na_rep="NA")
    return tmp_path / "iData.csv", tmp_path / "iMeta.csv"


def test_cli_process_output_is_the_library_result(coinr_files, tmp_path, capsys):
    idata, imeta = coinr_files
    out = tmp_path / "imported"
    assert main(["index", "import-coinr", str(idata), str(imeta), "--out", str(out)]) == 0
    spec, data = import_coinr(idata, imeta)
    # the written spec and data read back to what the library imported, bit for bit
    assert IndexSpec.from_file(out / "spec.yaml") == spec
    got = read_index_data(out / "data.csv").astype({"unit": "str", "indicator": "str"})  # labels: categoricals
    pd.testing.assert_frame_equal(got, data, check_exact=True, check_dtype=False)

    capsys.readouterr()
    built = tmp_path / "built"
    assert main(["index", "build", str(out / "spec.yaml"), "--data", str(out / "data.csv"),
                 "--format", "csv", "--out", str(built)]) == 0
    text = capsys.readouterr().out
    result = build(spec, data)
    long = result.long()
    # the printed table is the library's long table, as its CSV text ...
    assert text.encode() == csv_bytes(long, crlf=None)
    assert text.splitlines()[0] == "unit,year,node,score,rank"
    # ... and reads back to the same numbers, bit for bit (formula-safe unit codes)
    back = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    assert back["unit"].tolist() == [("'" + u if u.startswith("=") else u) for u in long["unit"]]
    np.testing.assert_array_equal(back["score"].to_numpy(), long["score"].to_numpy())
    np.testing.assert_array_equal(back["rank"].to_numpy(dtype=float), long["rank"].to_numpy(dtype=float,
                                                                                         na_value=np.nan))
    assert "A,B" in long["unit"].tolist() and '"A,B"' in text
    # every data set written with --out is the library's, bit for bit
    for name, frame in result.datasets.items():
        got = pd.read_csv(built / f"{name.lower()}.csv", index_col=0, keep_default_na=False, na_values=[""])
        np.testing.assert_array_equal(got.to_numpy(dtype=float), frame.to_numpy(dtype=float))
        assert list(got.columns) == list(frame.columns)
    assert (built / "scores_long.csv").read_bytes() == csv_bytes(long, crlf=True)


def test_cli_process_bad_cell_located(coinr_files, tmp_path, capsys):
    idata, imeta = coinr_files
    lines = idata.read_text().splitlines()
    head = lines[0].split(",")
    row = lines[5].split(",")
    row[head.index("c")] = "1;5"
    lines[5] = ",".join(row)
    idata.write_text("\n".join(lines) + "\n")
    assert main(["index", "import-coinr", str(idata), str(imeta), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "row 6" in err and "'c'" in err and "non-numeric value '1;5'" in err


def test_command_of_finds_the_command():
    assert _command_of(["index", "build", "x"]) == "index"
    assert _command_of(["--home", "/tmp/h", "-q", "data", "list"]) == "data"
    assert _command_of(["--home", "index"]) is None  # "index" is the value of --home
    assert _command_of(["--help"]) is None
    assert _command_of([]) is None


def test_index_commands_do_not_import_other_shells(tmp_path):
    code = ("import sys; from humsec.cli.main import main; rc = main(['index', 'list', '--format', 'csv']); "
            "heavy = sorted(m for m in sys.modules if m.split('.')[:2] in (['humsec', 'api'], "
            "['humsec', 'forecast'], ['humsec', 'oversight'], ['humsec', 'web']) "
            "or m in ('humsec.cli.assess', 'humsec.cli.data', 'humsec.cli.warn', 'sklearn', 'statsmodels', "
            "'matplotlib', 'fastapi')); print('HEAVY', heavy); sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={"HUMSEC_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert "HEAVY []" in p.stdout, p.stdout


def test_rank_order_is_lexsort_by_rank_then_row():
    from humsec.index.engine import rank_min_desc

    rng = np.random.default_rng(2)
    for _ in range(200):
        n, k = int(rng.integers(1, 40)), int(rng.integers(1, 4))
        x = rng.integers(0, int(rng.integers(1, 6)), size=(n, k)).astype(float)
        if rng.random() < 0.5:  # no ties: the columns are placed by their ranks, not sorted
            x = rng.normal(size=(n, k))
        x[rng.random((n, k)) < rng.random()] = np.nan
        r = rank_min_desc(x)
        want = np.array([np.lexsort((np.arange(n), np.where(np.isnan(r[:, j]), np.inf, r[:, j])))
                         for j in range(k)])
        np.testing.assert_array_equal(rank_order(r), want)
