"""Exports: CSV/Parquet/JSON round trips, the INFORM-style index workbook, SDMX-CSV and
SDMX-ML (read back with sdmx1), formula-injection safety and atomic writes (standards
conformance — SDMX schemas, Frictionless, umask — is in test_export_standards.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from humsec.data.export import (
    atomic_write, export_frame, export_panel, is_formula_safe, neutralise_formula, sheet_name,
    write_workbook,
)
from humsec.data.sdmx_io import read_sdmx_ml
from humsec.model.panel import Panel, Provenance

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=30)


@pytest.fixture()
def panel() -> Panel:
    df = pd.DataFrame({
        "unit": ["KEN", "KEN", "UGA", "UGA", "NOR", "KEN"],
        "year": [2021, 2022, 2021, 2022, 2022, 2022],
        "indicator": ["u5mr"] * 5 + ["pop"],
        "sex": ["_T", "_T", "_T", "F", "_T", "F"],
        "age": ["_T"] * 5 + ["0-4"],
        "value": [39.4, 37.2, 41.25, 38.0, 2.1, 3_456_789.0],
    })
    prov = {c: Provenance(source=f"test source {c}", edition="2024", accessed="2025-01-02",
                          licence="CC-BY-4.0", url="https://example.org") for c in ("u5mr", "pop")}
    return Panel(df, prov)


def _key(df: pd.DataFrame) -> dict:
    return {(r.unit, int(r.year), r.indicator, r.sex, r.age, r.group): float(r.value)
            for r in df.itertuples()}


# -- round trips -----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_panel_round_trip_tables(panel, tmp_path, fmt):
    path, package = export_panel(panel, tmp_path / f"p.{fmt}", fmt, name="t")
    assert package.name == f"p.{fmt}.datapackage.json"
    if fmt == "xlsx":  # a workbook: observations on 'data', provenance on 'sources'
        back = pd.read_excel(path, sheet_name="data")
        prov = pd.read_excel(path, sheet_name="sources")
    else:
        back = {"csv": pd.read_csv, "parquet": pd.read_parquet}[fmt](path)
        prov = back
    assert _key(back) == _key(panel.data)
    assert set(prov["licence"]) == {"CC-BY-4.0"} and set(prov["edition"].astype(str)) == {"2024"}
    assert prov["content_hash"].str.len().eq(64).all()


def test_panel_round_trip_json(panel, tmp_path):
    path, _ = export_panel(panel, tmp_path / "p.json", "json", name="t")
    doc = json.loads(path.read_text("utf-8"))
    assert _key(pd.DataFrame(doc["observations"])) == _key(panel.data)
    assert doc["provenance"]["u5mr"]["source"] == "test source u5mr"
    assert Panel(pd.DataFrame(doc["observations"])) == Panel(panel.data)


def test_panel_sdmx_ml_reads_back_with_sdmx1(panel, tmp_path):
    import sdmx

    data, structure, _ = export_panel(panel, tmp_path / "p.xml", "sdmx-ml", name="test data")
    assert structure.name == "p.structure.xml"
    smsg = sdmx.read_sdmx(structure)
    dsd = smsg.structure["DSD_TEST_DATA"]
    assert [d.id for d in dsd.dimensions] == ["REF_AREA", "INDICATOR", "SEX", "AGE", "GROUP", "TIME_PERIOD"]
    assert "DF_TEST_DATA" in smsg.dataflow
    msg = sdmx.read_sdmx(data, structure=dsd)
    series = sdmx.to_pandas(msg.data[0])
    got = {(r, int(t), i, s, a): v for (r, i, s, a, g, t), v in series.items()}
    want = {(k[0], k[1], k[2], k[3], k[4]): v for k, v in _key(panel.data).items()}
    assert got == want
    back = read_sdmx_ml(data, structure)
    assert len(back) == len(panel)


def test_panel_sdmx_csv(panel, tmp_path):
    path, structure, _ = export_panel(panel, tmp_path / "p.csv", "sdmx-csv", name="t")
    assert structure.name == "p.structure.xml"
    df = pd.read_csv(path, dtype={"TIME_PERIOD": str})
    assert list(df.columns) == ["STRUCTURE", "STRUCTURE_ID", "ACTION", "REF_AREA", "INDICATOR",
                                "SEX", "AGE", "GROUP", "TIME_PERIOD", "OBS_VALUE"]
    assert set(df["STRUCTURE"]) == {"dataflow"} and set(df["ACTION"]) == {"I"}
    assert set(df["STRUCTURE_ID"]) == {"HUMSEC:DF_T(1.0)"}
    got = {(r.REF_AREA, int(r.TIME_PERIOD), r.INDICATOR, r.SEX, r.AGE, r.GROUP): r.OBS_VALUE
           for r in df.itertuples()}
    assert got == _key(panel.data)


def test_missing_values_are_left_out_of_sdmx(tmp_path):
    p = Panel(pd.DataFrame({"unit": ["A", "B"], "year": 2000, "indicator": "x", "value": [1.5, np.nan]}))
    path, *_ = export_panel(p, tmp_path / "p.csv", "sdmx-csv", name="x")
    assert list(pd.read_csv(path)["REF_AREA"]) == ["A"]


# -- index workbook ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hdi_results():
    from humsec.index.builtin import load_spec
    from humsec.index.pipeline import build

    rng = np.random.default_rng(7)
    units = ["KEN", "UGA", "NOR", "IND", "BRA", "NER"]
    rows = []
    for year in (2021, 2022):
        for u in units:
            for ind, lo, hi in (("le", 45, 84), ("eys", 5, 19), ("mys", 1, 14), ("gnipc", 600, 70000)):
                rows.append((u, year, ind, float(np.round(rng.uniform(lo, hi), 3))))
    df = pd.DataFrame(rows, columns=["unit", "year", "indicator", "value"])
    spec = load_spec("hdi")
    return [build(spec, df, year=2021), build(spec, df, year=2022)], df


def test_index_workbook_has_one_sheet_per_step_with_the_values(hdi_results, tmp_path):
    import openpyxl

    from humsec.report.export_index import export_index

    results, _ = hdi_results
    r = results[1]
    path, _ = export_index([r], tmp_path / "hdi.xlsx", "xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [*r.datasets, "Ranks", "Weights", "EffectiveWeights", "StepLog", "About"]
    assert {"Raw", "Normalised", "Aggregated"} <= set(wb.sheetnames)
    for name, frame in [*r.datasets.items(), ("Ranks", r.ranks)]:
        ws = wb[name]
        rows = list(ws.values)
        header, body = rows[0], rows[1:]
        assert header[0] == "unit" and list(header[1:]) == [str(c) for c in frame.columns]
        got = pd.DataFrame(body, columns=header).set_index("unit").astype(float)
        pd.testing.assert_frame_equal(got, frame.astype(float), check_names=False,
                                      check_index_type=False, check_column_type=False)
    weights = pd.DataFrame(list(wb["Weights"].values)[1:], columns=["aggregate", "child", "weight"])
    for agg, ws in r.weights.items():
        sub = weights[weights["aggregate"] == agg].set_index("child")["weight"]
        assert sub.to_dict() == pytest.approx(ws.to_dict())
    log = list(wb["StepLog"].values)
    assert len(log) - 1 == len(r.log)
    assert [row[1] for row in log[1:]] == [rec.step for rec in r.log]
    assert json.loads(log[1][4]) == json.loads(json.dumps(dict(r.log[0].params), default=str))


def test_index_workbook_stacks_years(hdi_results, tmp_path):
    import openpyxl

    from humsec.report.export_index import export_index

    results, _ = hdi_results
    path, _ = export_index(results, tmp_path / "hdi.xlsx")
    ws = openpyxl.load_workbook(path)["Aggregated"]
    rows = list(ws.values)
    assert rows[0][:2] == ("year", "unit")
    assert {row[0] for row in rows[1:]} == {2021, 2022}
    assert len(rows) - 1 == sum(len(r.datasets["Aggregated"]) for r in results)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_index_long_round_trip(hdi_results, tmp_path, fmt):
    from humsec.report.export_index import export_index, index_long

    results, _ = hdi_results
    path, _ = export_index(results, tmp_path / f"i.{fmt}", fmt)
    back = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    want = index_long(results)
    pd.testing.assert_frame_equal(back.reset_index(drop=True), want.reset_index(drop=True),
                                  check_dtype=False)
    agg = back[(back["dataset"] == "Aggregated") & (back["year"] == 2022)]
    assert agg.set_index(["unit", "node"])["value"].unstack().loc["KEN", "hdi"] == pytest.approx(
        results[1].scores.loc["KEN", "hdi"])


def test_index_json(hdi_results, tmp_path):
    from humsec.report.export_index import export_index

    results, _ = hdi_results
    path, _ = export_index(results, tmp_path / "i.json", "json")
    doc = json.loads(path.read_text("utf-8"))
    assert doc["spec"] == "hdi" and [x["year"] for x in doc["results"]] == [2021, 2022]
    agg = pd.DataFrame(doc["results"][1]["datasets"]["Aggregated"]).set_index("unit")
    pd.testing.assert_frame_equal(agg, results[1].scores, check_names=False, check_column_type=False)
    assert doc["results"][0]["weights"]["hdi"] == pytest.approx(results[0].weights["hdi"].to_dict())


def test_index_sdmx_ml_reads_back_with_sdmx1(hdi_results, tmp_path):
    from humsec.report.export_index import export_index, index_long

    results, _ = hdi_results
    data, structure, _ = export_index(results, tmp_path / "i.xml", "sdmx-ml")
    back = read_sdmx_ml(data, structure)
    got = {(r.REF_AREA, r.MEASURE, r.STAGE, int(r.TIME_PERIOD)): r.value for r in back.itertuples()}
    want = index_long(results).dropna(subset=["value"])
    assert len(got) == len(want)
    for r in want.itertuples():
        stage = "RANK" if r.dataset == "Ranks" else r.dataset.upper()
        assert got[(r.unit, r.node, stage, int(r.year))] == r.value


# -- formula injection ----------------------------------------------------------------------
@given(TEXT)
def test_neutralised_cells_never_start_a_formula(s):
    out = neutralise_formula(s)
    assert is_formula_safe(out)
    assert out == s if is_formula_safe(s) else out == "'" + s


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-2", "@SUM(A1)", "\t=1", "\r=1", " =1",
                                  "\n=HYPERLINK(\"x\")", "\uff1d1+1"])
def test_known_payloads_are_neutralised(cell):
    assert neutralise_formula(cell) == "'" + cell


def test_numbers_and_plain_text_untouched():
    assert neutralise_formula(-5.0) == -5.0 and neutralise_formula("Kenya") == "Kenya"
    assert neutralise_formula("a=1") == "a=1"


@hsettings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(TEXT, min_size=1, max_size=5))
@example(["\r"])
@example(["a\rb", "\n", "x\r\ny", '"q"', "-1"])
def test_csv_export_cells_are_safe_and_recoverable(tmp_path, cells):
    df = pd.DataFrame({"name": cells, "value": range(len(cells))})
    path = export_frame(df, tmp_path / "x.csv", "csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["name", "value"]
    for original, row in zip(cells, rows[1:]):
        assert is_formula_safe(row[0])
        assert row[0] == (original if is_formula_safe(original) else "'" + original)


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(TEXT, min_size=1, max_size=4))
def test_excel_export_never_holds_a_formula(tmp_path, cells):
    import openpyxl

    df = pd.DataFrame({"=name": cells})
    path = write_workbook({"Raw": df, "=evil": df}, tmp_path / "x.xlsx")
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                assert is_formula_safe(cell.value)
    assert wb.sheetnames == ["Raw", "=evil"] and wb["Raw"]["A1"].value == "'=name"


def test_sdmx_csv_text_is_safe(tmp_path):
    p = Panel(pd.DataFrame({"unit": ["=cmd"], "year": 2000, "indicator": "x", "value": [1.0]}))
    path, *_ = export_panel(p, tmp_path / "p.csv", "sdmx-csv", name="x")
    text = path.read_text()
    assert "\n=cmd" not in text and ",=cmd" not in text


def test_sheet_names_are_valid_and_unique():
    taken: set[str] = set()
    names = [sheet_name(n, taken) for n in ["Raw", "raw", "a/b:c*d?[e]" * 5]]
    assert names[0] == "Raw" and names[1] != "raw" and len(names[2]) <= 31
    assert not set("[]:*?/\\") & set("".join(names))


# -- atomic writes ---------------------------------------------------------------------------
def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def boom(p: Path):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


# -- CLI ------------------------------------------------------------------------------------
def _cli(args, settings, capsys):
    from humsec.cli.main import main

    code = main(["--home", str(settings.home), "-q", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_export_index_and_data(hdi_results, settings, tmp_path, capsys):
    import openpyxl

    _, df = hdi_results
    data = tmp_path / "hdi.csv"
    df.to_csv(data, index=False)
    code, out, err = _cli(["export", "index", "hdi", "--data", str(data), "--year", "2022",
                           "--format", "xlsx", "--out", str(tmp_path / "o" / "hdi.xlsx")], settings, capsys)
    assert code == 0, err
    assert "Aggregated" in openpyxl.load_workbook(tmp_path / "o" / "hdi.xlsx").sheetnames
    code, out, err = _cli(["export", "index", "hdi", "--data", str(data), "--format", "pdf"],
                          settings, capsys)
    assert code == 2 and "expected one of" in err
    # a stored dataset: import a small file, then export it as SDMX-ML and read it back
    src = tmp_path / "mine.csv"
    pd.DataFrame({"unit": ["KEN", "UGA"], "year": [2020, 2020], "indicator": ["u5mr", "u5mr"],
                  "value": [40.0, 42.5]}).to_csv(src, index=False)
    assert _cli(["data", "import", str(src)], settings, capsys)[0] == 0
    code, out, err = _cli(["export", "data", "mine", "--format", "sdmx-ml", "--out",
                           str(tmp_path / "mine.xml")], settings, capsys)
    assert code == 0, err
    back = read_sdmx_ml(tmp_path / "mine.xml", tmp_path / "mine.structure.xml")
    assert dict(zip(back["REF_AREA"], back["value"])) == {"KEN": 40.0, "UGA": 42.5}
    code, out, err = _cli(["export", "data", "mine", "-i", "nope"], settings, capsys)
    assert code == 2 and "no indicator nope" in err
