"""Benchmark of the whole index process as a user runs it: COINr CSV in, index CSV out.

Run:  python benchmarks/bench_index_process.py [--units 50000] [--repeat 3] [--seed 1] [--keep DIR]

The input is COINr's ``iData``/``iMeta`` pair for ``--units`` synthetic units drawn from
ASEM's distributions (the generator of ``bench_index.py``, imported: 49 indicators, the
denominators and the four group columns; ASEM's own ``iMeta``). Two ``humsec`` processes
run one after the other, as separate commands:

1. ``humsec index import-coinr iData.csv iMeta.csv --out DIR``  (spec.yaml, groups.csv, data.csv)
2. ``humsec index build DIR/spec.yaml --data DIR/data.csv --format csv > scores.csv``

and, as a third line, the build that also writes every data set (``--out``). Each is timed
as wall time and as the child's CPU time (user + system, ``resource.getrusage
(RUSAGE_CHILDREN)``); the best of ``--repeat`` runs is printed. Baselines measured in the
same run, on the same machine:

* ``python -c pass`` — the interpreter's start-up, the least any command costs;
* ``python -c "import humsec.cli.main, humsec.cli.index"`` — the start-up of an ``index``
  command (imports: pandas, pyarrow, typer, rich, humsec);
* a bare pandas ``read_csv`` + ``to_csv`` of the same files in one process (the iData
  file for step 1, ``data.csv`` and the scores for step 2): what a script that checks
  nothing and builds nothing would pay for the CSV input and output alone.

It also times, in this process, ``read_index_data`` of the 2.65 M-row tidy ``data.csv``
(clean, and with three bad cells, which sends the value column to the cell-by-cell text
checks that locate them), against pandas' ``read_csv`` of the same file.

Targets of issue #21: step 1 + step 2 <= 5 s in total for 50,000 units x 49 indicators;
reading a 2.65 M-row tidy CSV <= 3 s with every bad cell located (file, row, column).
Anchors measured on this machine when the issue was filed: ``import-coinr`` 96 s,
``index build`` 52 s; COINr 1.1.14 49 s for everything.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_index import asem_paths, synthetic  # noqa: E402

from humsec.index.coinr import import_coinr  # noqa: E402

TARGET = 5.0
READ_TARGET = 3.0


def write_coinr_input(n_units: int, seed: int, out: Path) -> tuple[Path, Path]:
    """COINr ``iData.csv``/``iMeta.csv`` in ``out`` for ``n_units`` synthetic ASEM-like units.

    The values and group labels are those of :func:`bench_index.synthetic`; the columns are
    in ASEM's ``iData`` order (uName, uCode, groups, Time, denominators, indicators).
    """
    idata, imeta = asem_paths()
    spec, data = import_coinr(idata, imeta, name="asem")
    big_spec, tidy = synthetic(spec, data, n_units, np.random.default_rng(seed))
    wide = tidy.pivot(index="unit", columns="indicator", values="value")
    units = wide.index.to_numpy()
    frame = {"uName": [f"Unit {u}" for u in units], "uCode": units}
    for g, mapping in big_spec.groups.items():
        frame[g] = [mapping[u] for u in units]
    frame["Time"] = np.full(len(units), 2018)
    header = pd.read_csv(idata, nrows=0).columns
    for c in header:
        if c in wide.columns:
            frame[c] = wide[c].to_numpy()
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(frame).to_csv(out / "iData.csv", index=False)
    shutil.copyfile(imeta, out / "iMeta.csv")
    return out / "iData.csv", out / "iMeta.csv"


def humsec_command() -> list[str]:
    """The ``humsec`` console script beside this interpreter (as a user runs it)."""
    script = Path(sys.executable).parent / "humsec"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "humsec.cli.main"]


def run(cmd: list[str], stdout=None) -> tuple[float, float]:
    """(wall, child CPU) seconds of one subprocess; exits on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=stdout if stdout is not None else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "120"})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def best(fn, repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time over ``repeat`` runs of ``fn`` (returning both)."""
    runs = [fn() for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def pandas_baseline(src: Path, dst: Path) -> list[str]:
    """A one-process script: pandas reads ``src`` and writes it to ``dst`` (no checks)."""
    code = f"import pandas as pd; pd.read_csv({str(src)!r}).to_csv({str(dst)!r}, index=False)"
    return [sys.executable, "-c", code]


def _timed(fn) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def tidy_read(data: Path, bad: Path, repeat: int) -> list:
    """(name, (wall, CPU), pandas wall or None) of reading the tidy file in this process."""
    from humsec.errors import ValidationError
    from humsec.index.io import read_index_data

    lines = data.read_bytes().split(b"\n")
    for i, cell in ((1000, b"abc"), (1_500_000, b"inf"), (len(lines) - 3, b"1;5")):
        head, _, _ = lines[i].rpartition(b",")
        lines[i] = head + b"," + cell
    bad.write_bytes(b"\n".join(lines))

    def read_bad():
        try:
            read_index_data(bad)
        except ValidationError as e:
            assert len(e.issues) >= 3, e.issues
        else:
            raise AssertionError("bad cells not found")

    t_pd = best(lambda: _timed(lambda: pd.read_csv(data)), repeat)
    t_clean = best(lambda: _timed(lambda: read_index_data(data)), repeat)
    t_bad = best(lambda: _timed(read_bad), repeat)
    return [("pandas read_csv (baseline, no checks)", t_pd, None),
            ("read_index_data, clean", t_clean, t_pd[0]),
            ("read_index_data, 3 bad cells (all located)", t_bad, t_pd[0])]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="write the files here and keep them")
    args = ap.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_index_process_"))
    try:
        idata, imeta = write_coinr_input(args.units, args.seed, work / "input")
        hs = humsec_command()
        out = work / "imported"
        spec, data = out / "spec.yaml", out / "data.csv"
        scores = work / "scores.csv"

        def import_step():
            return run([*hs, "index", "import-coinr", str(idata), str(imeta), "--out", str(out)])

        def build_step():
            with open(scores, "wb") as fh:
                return run([*hs, "index", "build", str(spec), "--data", str(data), "--format", "csv"], stdout=fh)

        def build_out_step():
            return run([*hs, "index", "build", str(spec), "--data", str(data), "--format", "csv",
                        "--out", str(work / "built")], stdout=subprocess.DEVNULL)

        t_import = best(import_step, args.repeat)
        t_build = best(build_step, args.repeat)
        t_build_out = best(build_out_step, args.repeat)
        t_python = best(lambda: run([sys.executable, "-c", "pass"]), args.repeat)
        t_start = best(lambda: run([sys.executable, "-c", "import humsec.cli.main, humsec.cli.index"]), args.repeat)
        t_pd_import = best(lambda: run(pandas_baseline(idata, work / "pd_idata.csv")), args.repeat)
        code = (f"import pandas as pd; pd.read_csv({str(data)!r}).to_csv({str(work / 'pd_data.csv')!r}, "
                f"index=False); pd.read_csv({str(scores)!r}).to_csv({str(work / 'pd_scores.csv')!r}, index=False)")
        t_pd_build = best(lambda: run([sys.executable, "-c", code]), args.repeat)

        n_rows = sum(1 for _ in open(data, "rb")) - 1
        n_scores = sum(1 for _ in open(scores, "rb")) - 1
        print(f"{args.units:,} units x 49 indicators: iData {idata.stat().st_size / 2**20:.1f} MiB, "
              f"data.csv {n_rows:,} rows, scores.csv {n_scores:,} rows; best of {args.repeat}")
        print(f"{'step':<58} {'wall s':>8} {'CPU s':>8} {'wall/pandas':>12} {'wall/start-up':>14}")
        lines = [
            ("python -c pass (interpreter start-up)", t_python, None),
            ("import humsec.cli.main, humsec.cli.index (start-up)", t_start, None),
            ("pandas read_csv + to_csv of iData (baseline of 1)", t_pd_import, None),
            ("pandas read_csv + to_csv of data.csv, scores (of 2)", t_pd_build, None),
            ("1. humsec index import-coinr", t_import, t_pd_import),
            ("2. humsec index build --format csv > scores.csv", t_build, t_pd_build),
            ("   same, also --out DIR (every data set)", t_build_out, t_pd_build),
        ]
        for name, (wall, cpu), base in lines:
            ratio = f"{wall / base[0]:>12.2f}" if base else f"{'':>12}"
            print(f"{name:<58} {wall:>8.3f} {cpu:>8.3f} {ratio} {wall / t_start[0]:>14.2f}")
        total = (t_import[0] + t_build[0], t_import[1] + t_build[1])
        read_lines = tidy_read(data, work / "bad.csv", args.repeat)
        met = "met" if total[0] <= TARGET else "NOT met"
        print(f"{'whole process (1 + 2)':<58} {total[0]:>8.3f} {total[1]:>8.3f}   target <= {TARGET:g} s wall: {met}")
        print(f"{'in-process read of data.csv':<58} {'wall s':>8} {'CPU s':>8} {'wall/pandas':>12}")
        for name, (wall, cpu), base in read_lines:
            ratio = f"{wall / base:>12.2f}" if base else ""
            flag = "" if base is None or wall <= READ_TARGET else f"   over the {READ_TARGET:g} s target"
            print(f"{name:<58} {wall:>8.3f} {cpu:>8.3f} {ratio}{flag}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
