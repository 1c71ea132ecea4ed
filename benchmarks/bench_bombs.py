"""Bombs against the readers of user files (#22): each must be rejected in <= 2 s and
<= 200 MB above the reader's own footprint.

Run:  python benchmarks/bench_bombs.py [--only NAME ...] [--keep DIR]

Each bomb is written to a temporary directory and read in a fresh child process through
the same entry point the CLI and API use (``fuzz_import.read_one``: ``humsec data
import`` for tables, the spec / catalogue / commitments loaders for YAML). The child
reports its wall and CPU time for the read and its peak RSS; the **baseline** is the
same child reading a small valid file of the same format, measured in the same run, so
the printed ``extra MB`` and ``x baseline`` columns are the cost the bomb adds.

Bombs:

* ``yaml-alias-*`` — billion laughs (9 levels of 9 aliases) in an index spec, a
  catalogue and a commitments file;
* ``yaml-deep-*`` — 100,000 nested flow sequences;
* ``xlsx-zip-bomb`` — a 300 MB sheet deflated about 1000:1 (rejected from the zip
  directory: over ``Limits.max_uncompressed``);
* ``xlsx-under-cap`` — a 200 MB sheet at ~70:1, under the size cap (rejected by the
  inflation-ratio bound ``Limits.max_inflation``; before it, 43 s and 450 MB);
* ``parquet-dictionary`` — 100,000 rows x 4 columns of one dictionary-encoded 4,000
  character string: 190 kB on disk, 1.6 GB decoded (before the decoded-size check,
  7 s and 1.7 GB);
* ``csv-huge-cell`` — one 20 MB numeric field; ``csv-wide`` — a 100,000-column header.

Exit code 1 when any bomb is read instead of rejected or exceeds the bounds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAX_SECONDS, MAX_EXTRA_MB = 2.0, 200.0

CHILD = r"""
import json, resource, sys, time
sys.path[:0] = [{src!r}, {bench!r}]
from fuzz_import import read_one
from humsec.errors import HumsecError
fmt, path = sys.argv[1], sys.argv[2]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t, c = time.perf_counter(), time.process_time()
try:
    read_one(fmt, __import__("pathlib").Path(path))
    outcome = "read"
except HumsecError as e:
    outcome = "rejected: " + str(e).splitlines()[-1].strip()[:160]
except BaseException as e:  # a crash is a finding, reported, not raised
    outcome = f"CRASH {{type(e).__name__}}: {{str(e)[:160]}}"
wall, cpu = time.perf_counter() - t, time.process_time() - c
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"outcome": outcome, "wall": wall, "cpu": cpu, "rss_before": before / 1024,
                  "rss_peak": peak / 1024}}))
"""


# -- the bombs ------------------------------------------------------------------------
def _laughs() -> str:
    lines = ['a0: &a0 "lol"']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\nversion: *a9\n"


def _deep(n: int = 100_000) -> str:
    return "version: " + "[" * n + "]" * n + "\n"


def xlsx_bomb(path: Path, inflated: int = 300 * 2**20, level: int = 1) -> Path:
    """A valid workbook whose only sheet inflates to ``inflated`` bytes (deflate ``level``:
    1 gives ~70:1, 9 ~1000:1). Also used by ``tests/test_import.py``."""
    base = path.with_name(path.stem + "_base.xlsx")
    pd.DataFrame({"unit": ["KEN"], "year": [2020], "indicator": ["u5mr"], "value": [41.0]}).to_excel(
        base, index=False)
    with zipfile.ZipFile(base) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = next(n for n in parts if n.startswith("xl/worksheets/sheet"))
    cell = b'<c t="inlineStr"><is><t>' + b"A" * 36 + b"</t></is></c>"
    chunk = (b"<row>" + cell * 100 + b"</row>") * 200
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        for n, b in parts.items():
            if n != sheet:
                z.writestr(n, b)
                continue
            with z.open(n, "w", force_zip64=True) as f:
                f.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
                        b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
                for _ in range(inflated // len(chunk) + 1):
                    f.write(chunk)
                f.write(b"</sheetData></worksheet>")
    base.unlink()
    return path


def parquet_dictionary(path: Path, rows: int = 100_000, text: str = "A" * 4_000) -> Path:
    """``rows`` x 4 columns of one dictionary-encoded ``text``: a few kB on disk for any
    decoded size. Also used by ``tests/test_import.py``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    dictionary = pa.array([text])
    col = pa.DictionaryArray.from_arrays(pa.array([0] * rows, type=pa.int32()), dictionary)
    pq.write_table(pa.table({"unit": col, "year": col, "indicator": col, "value": col}), path)
    return path


def bombs(d: Path) -> dict[str, tuple[str, Path]]:
    """name -> (format, file)."""
    out: dict[str, tuple[str, Path]] = {}
    for fmt in ("spec", "catalogue", "commitments"):
        p = d / f"alias_{fmt}.yaml"
        p.write_text(_laughs())
        out[f"yaml-alias-{fmt}"] = (fmt, p)
        p = d / f"deep_{fmt}.yaml"
        p.write_text(_deep())
        out[f"yaml-deep-{fmt}"] = (fmt, p)
    out["xlsx-zip-bomb"] = ("xlsx", xlsx_bomb(d / "zipbomb.xlsx", 300 * 2**20, 9))
    out["xlsx-under-cap"] = ("xlsx", xlsx_bomb(d / "undercap.xlsx", 200 * 2**20, 1))
    out["parquet-dictionary"] = ("parquet", parquet_dictionary(d / "dict.parquet"))
    p = d / "hugecell.csv"
    p.write_text("unit,year,indicator,value\nKEN,2020,u5mr," + "9" * (20 * 2**20) + "\n")
    out["csv-huge-cell"] = ("csv", p)
    p = d / "wide.csv"
    p.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("1" * 100_000) + "\n")
    out["csv-wide"] = ("csv", p)
    return out


def seed_input(fmt: str, stem: Path) -> Path:
    """A small valid file of ``fmt``: the fuzz harness' first seed, unmutated."""
    import fuzz_import as fz

    if fmt in ("spec", "catalogue", "commitments"):
        path = stem.with_suffix(".yaml")
        path.write_bytes(fz._yaml_seeds(fmt)[0])
        return path
    rows = fz._seed_tables()[0]
    df = pd.DataFrame(rows[1:], columns=rows[0])
    path = stem.with_suffix("." + fmt)
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "xlsx":
        df.to_excel(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


def run_child(fmt: str, path: Path) -> dict:
    code = CHILD.format(src=str(ROOT / "src"), bench=str(HERE))
    cp = subprocess.run([sys.executable, "-c", code, fmt, str(path)], capture_output=True, text=True,
                        timeout=600)
    if cp.returncode != 0:
        return {"outcome": f"CHILD FAILED rc={cp.returncode}: {cp.stderr.strip()[-300:]}", "wall": float("nan"),
                "cpu": float("nan"), "rss_before": float("nan"), "rss_peak": float("nan")}
    return json.loads(cp.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="run only these bombs")
    ap.add_argument("--keep", type=Path, help="write the bombs here and keep them")
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory()
    d = args.keep or Path(tmp.name)
    d.mkdir(parents=True, exist_ok=True)
    todo = bombs(d)
    if args.only:
        todo = {k: v for k, v in todo.items() if k in args.only}
    sys.path.insert(0, str(HERE))
    base: dict[str, dict] = {}
    for fmt in sorted({f for f, _ in todo.values()}):
        p = seed_input(fmt, d / f"base_{fmt}")
        base[fmt] = run_child(fmt, p)
        if not base[fmt]["outcome"] == "read":
            print(f"baseline {fmt} was not read: {base[fmt]['outcome']}")
            return 1
    print(f"bounds: rejected, <= {MAX_SECONDS:g} s, <= {MAX_EXTRA_MB:g} MB above the baseline's peak RSS\n")
    print(f"{'bomb':24} {'size':>12} {'wall s':>8} {'cpu s':>7} {'peak MB':>8} {'extra MB':>9} "
          f"{'x base t':>9}  outcome")
    bad = 0
    for name, (fmt, path) in todo.items():
        r, b = run_child(fmt, path), base[fmt]
        extra = r["rss_peak"] - b["rss_peak"]
        ok = r["outcome"].startswith("rejected") and r["wall"] <= MAX_SECONDS and extra <= MAX_EXTRA_MB
        bad += not ok
        print(f"{name:24} {path.stat().st_size:>12,} {r['wall']:>8.3f} {r['cpu']:>7.3f} {r['rss_peak']:>8.0f} "
              f"{extra:>9.0f} {r['wall'] / max(b['wall'], 1e-6):>9.1f}  {'ok ' if ok else 'BAD'} {r['outcome']}")
    print("\nbaselines (a small valid file, same child):")
    for fmt, b in base.items():
        print(f"  {fmt:12} wall {b['wall']:.3f} s  cpu {b['cpu']:.3f} s  peak {b['rss_peak']:.0f} MB")
    print(f"\n{len(todo) - bad} of {len(todo)} bombs rejected within the bounds")
    tmp.cleanup()
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
