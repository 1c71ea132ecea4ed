#!/usr/bin/env python
"""Build the small, openly licensed extract of the *published reference figures* that the
published-number tests reproduce (COINr's ASEM example, UNDP HDR 2023/24, INFORM Risk, the
OPHI global MPI and the global MPI method constants).

Reads the shared-data directory (``$HUMSEC_SHARED_DATA``, default ``/work/shared/data``;
or ``--shared DIR``) and writes ``tests/data/published/<folder>/<file>`` (or ``--out DIR``)
with the folder and file names of the shared data, so that the ``published_data`` fixture
of ``tests/conftest.py`` can point the tests at either directory:

* small, openly licensed files are copied whole (``WHOLE``);
* big or mixed files are filtered **record by record on the raw bytes** (``ROWS``): the
  header and every kept row are byte-identical to the published ones and stay in the
  publisher's order; the UTF-8 BOM, CRLF line ends and the final newline are preserved;
* each ``SOURCE.md`` / ``README.md`` is copied with one line added at the top saying that
  it describes this extract (its counts and coverage are those of the full source);
* ``coinr_asem/LICENSE`` is COINr's MIT licence notice (written from ``COINR_LICENSE``).

Files that are not openly licensed (GPI, ACLED CAST, the SDSN SDR extract) are not copied;
see ``tests/data/README.md``. The output is deterministic, and the script checks every
output against its source (bytes of each kept record, BOM/CRLF/final newline, and the
parsed values of the kept rows) and fails if anything differs or the extract reaches
``SIZE_LIMIT``.

Usage::

    python tests/data/make_published_extract.py [--shared DIR] [--out DIR] [--check]

``--check`` writes nothing: it verifies an existing extract against the shared data.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "published"
DEFAULT_SHARED = "/work/shared/data"
SIZE_LIMIT = 512 * 1024  # the whole extract must stay below 512 KB

NOTE = ("> Test extract of the folder described below (humsec tests/data/make_published_extract.py); "
        "{what}. Counts and coverage below are those of the full source.\n\n")

HDR_FILE = "undp_hdr/HDR23-24_Composite_indices_complete_time_series.csv"
HDR_TS_SAMPLE = "published_reference/hdr_2023_24/hdi_timeseries_sample.csv"
# Countries whose HDR rows the tests read besides those of the published time-series sample
# (tests/test_trends.py: HDI progress 2015-2022 of KEN, NOR, UKR, VEN).
HDR_EXTRA_ISO3 = ("KEN", "NOR", "UKR", "VEN")

# Copied whole: (path, licence); all small and openly licensed.
WHOLE: tuple[str, ...] = (
    "coinr_asem/iData.csv",                                   # MIT (COINr)
    "coinr_asem/iMeta.csv",                                   # MIT (COINr)
    "published_reference/hdr_2023_24/hdi_and_components_2022.csv",  # UNDP HDR, CC BY 3.0 IGO
    "published_reference/hdr_2023_24/gdi_2022.csv",
    "published_reference/hdr_2023_24/gii_2022.csv",
    "published_reference/hdr_2023_24/ihdi_2022.csv",
    "published_reference/hdr_2023_24/hdi_timeseries_sample.csv",
    "published_reference/inform_risk/inform_risk_trends_sample.csv",  # INFORM (EC JRC), CC BY
    "published_reference/mpi/ophi_global_mpi_sample.csv",     # OPHI via HDX, public domain
)

# Documentation copied with the NOTE line on top: path -> what the extract keeps.
DOCS: dict[str, str] = {
    "coinr_asem/SOURCE.md": "both files copied whole",
    "undp_hdr/SOURCE.md": ("only the complete time-series CSV, and of it only the rows of the 8 countries of "
                           "published_reference/hdr_2023_24/hdi_timeseries_sample.csv and of KEN, NOR, UKR, VEN "
                           "(every column kept)"),
    "published_reference/README.md": ("only hdr_2023_24/, inform_risk/, mpi/ophi_global_mpi_sample.csv and the MPI "
                                      "rows of method_constants/constants.csv; acled_cast/ and sdr_2023/ are not "
                                      "openly licensed and stay out"),
    "published_reference/hdr_2023_24/SOURCE.md": "all five files copied whole",
    "published_reference/inform_risk/SOURCE.md": "the file copied whole",
    "published_reference/mpi/SOURCE.md": "only ophi_global_mpi_sample.csv (copied whole)",
    "published_reference/method_constants/SOURCE.md": "only the rows with system MPI of constants.csv",
}

COINR_LICENSE = """\
COINr's ASEM example data (iData.csv, iMeta.csv) are taken from the R package COINr
(github.com/bluefoxr/COINr), which is distributed under the MIT licence:

# MIT License

Copyright (c) 2022 William Becker

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


# --------------------------------------------------------------------------- raw CSV records
class RawCsv:
    """A CSV file split into raw records (bytes, line end included), so that kept records
    can be written back byte-identically. A record spans several lines only inside quotes."""

    def __init__(self, data: bytes):
        self.bom = data.startswith(b"\xef\xbb\xbf")
        body = data[3:] if self.bom else data
        self.ends_nl = body.endswith(b"\n")
        records: list[bytes] = []
        pending = b""
        for line in body.splitlines(keepends=True):
            pending += line
            if pending.count(b'"') % 2 == 0:  # quotes balanced: the record is complete
                records.append(pending)
                pending = b""
        if pending:
            raise ValueError("unbalanced quotes at the end of the file")
        self.header, self.rows = records[0], records[1:]
        self.crlf = self.header.endswith(b"\r\n")
        self.columns = self._parse(self.header)

    @staticmethod
    def _parse(record: bytes) -> list[str]:
        (fields,) = list(csv.reader(io.StringIO(record.decode("utf-8"), newline="")))
        return fields

    def dicts(self):
        for raw in self.rows:
            yield raw, dict(zip(self.columns, self._parse(raw)))

    def render(self, rows: list[bytes]) -> bytes:
        out = (b"\xef\xbb\xbf" if self.bom else b"") + self.header + b"".join(rows)
        if not self.ends_nl:  # keep the quirk: no line end after the last record
            out = out.rstrip(b"\r\n")
        return out


def filter_rows(src: Path, dst: Path, keep: Callable[[dict[str, str]], bool]) -> int:
    cb = RawCsv(src.read_bytes())
    rows = [raw for raw, row in cb.dicts() if keep(row)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(cb.render(rows))
    print(f"  {dst.relative_to(dst.parents[1])}: {len(rows)} of {len(cb.rows)} rows"
          f"{' [BOM]' if cb.bom else ''}{' [CRLF]' if cb.crlf else ''}")
    return len(rows)


def hdr_iso3(shared: Path) -> set[str]:
    sample = RawCsv((shared / HDR_TS_SAMPLE).read_bytes())
    return {row["iso3"] for _, row in sample.dicts()} | set(HDR_EXTRA_ISO3)


def rows_rules(shared: Path) -> dict[str, Callable[[dict[str, str]], bool]]:
    """Filtered files: path -> the rule that keeps a (parsed) row."""
    keep_iso3 = hdr_iso3(shared)
    return {
        HDR_FILE: lambda r: r["iso3"] in keep_iso3,
        "published_reference/method_constants/constants.csv": lambda r: r["system"] == "MPI",
    }


# --------------------------------------------------------------------------- build and check
def build(shared: Path, out: Path) -> None:
    folders = sorted({p.split("/")[0] for p in (*WHOLE, *DOCS)})
    for folder in folders:  # remove only what this script writes
        if (out / folder).exists():
            shutil.rmtree(out / folder)
    for rel in WHOLE:
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / rel, dst)
        print(f"  {rel}: copied whole ({dst.stat().st_size:,} bytes)")
    for rel, keep in rows_rules(shared).items():
        filter_rows(shared / rel, out / rel, keep)
    for rel, what in DOCS.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(NOTE.format(what=what).encode() + (shared / rel).read_bytes())
    (out / "coinr_asem" / "LICENSE").write_text(COINR_LICENSE, encoding="utf-8")


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def check(shared: Path, out: Path) -> list[str]:
    """Every output against its source; returns the differences (empty: faithful)."""
    issues: list[str] = []
    for rel in WHOLE:
        if (out / rel).read_bytes() != (shared / rel).read_bytes():
            issues.append(f"{rel}: differs from the source")
    for rel, keep in rows_rules(shared).items():
        src, dst = RawCsv((shared / rel).read_bytes()), RawCsv((out / rel).read_bytes())
        if (src.bom, src.crlf, src.header) != (dst.bom, dst.crlf, dst.header):
            issues.append(f"{rel}: BOM, line ends or header differ from the source")
        want = [raw for raw, row in src.dicts() if keep(row)]
        if [r.rstrip(b"\r\n") for r in dst.rows] != [r.rstrip(b"\r\n") for r in want] or (
                dst.ends_nl != src.ends_nl):
            issues.append(f"{rel}: rows are not the source's kept rows, byte for byte and in order")
        if not dst.rows:
            issues.append(f"{rel}: no rows kept")
        # parsed as the tests parse it: the same columns and values as the source's kept rows
        a, b = _read(shared / rel), _read(out / rel)
        key = a.columns[0]
        a = a[a.apply(lambda r: keep(dict(r)), axis=1)].reset_index(drop=True)
        if list(a.columns) != list(b.columns) or not a.equals(b):
            issues.append(f"{rel}: parsed values differ from the source's kept rows ({key})")
    if HDR_FILE in rows_rules(shared):
        have = {row["iso3"] for _, row in RawCsv((out / HDR_FILE).read_bytes()).dicts()}
        missing = hdr_iso3(shared) - have
        if missing:
            issues.append(f"{HDR_FILE}: countries missing: {sorted(missing)}")
    for rel, what in DOCS.items():
        if (out / rel).read_bytes() != NOTE.format(what=what).encode() + (shared / rel).read_bytes():
            issues.append(f"{rel}: not the source's text with the extract note")
    if (out / "coinr_asem" / "LICENSE").read_text(encoding="utf-8") != COINR_LICENSE:
        issues.append("coinr_asem/LICENSE differs from COINR_LICENSE")
    expected = {*WHOLE, *rows_rules(shared), *DOCS, "coinr_asem/LICENSE"}
    extra = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - expected
    if extra:
        issues.append(f"files not written by this script: {sorted(extra)}")
    return issues


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("HUMSEC_SHARED_DATA", DEFAULT_SHARED)))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="only verify an existing extract")
    args = ap.parse_args(argv)
    shared, out = args.shared.expanduser().resolve(), args.out.expanduser().resolve()
    if not shared.is_dir():
        print(f"shared-data directory {shared} not found (set HUMSEC_SHARED_DATA)", file=sys.stderr)
        return 2
    if not args.check:
        build(shared, out)
    issues = check(shared, out)
    for msg in issues:
        print(f"CHECK: {msg}")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"total {total:,} bytes in {out}")
    if total >= SIZE_LIMIT:
        print(f"extract is {total:,} bytes, above the {SIZE_LIMIT:,} byte limit", file=sys.stderr)
        return 1
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
