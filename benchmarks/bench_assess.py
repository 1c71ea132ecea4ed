"""Benchmark of the HSI assessment on the full default data (HSI 2.0 target).

Run:  python benchmarks/bench_assess.py [--runs 200] [--repeat 3]

* **assess** - ``assess(load_spec("hsi"), panel, runs=200)`` in-process on the shipped
  release, default year chosen by the rule, with the uncertainty analysis behind the rank
  intervals (aggregation x normalisation x weights x age policy). Target: <= 2 s.
  Baseline (same run): one nominal build of the same year (``runs=0``), so the ratio says
  what the 200 runs cost in nominal builds.
* **CLI** - ``humsec assess --runs 200 --format csv`` in a fresh process with a warm
  store (import, store read, assessment, output), for reference.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TARGET_S = 2.0


def _best(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from humsec.analysis import assess as A
    from humsec.data.default import default_release
    from humsec.index.builtin import load_spec

    panel = default_release().panel
    spec = load_spec("hsi")
    data = A.index_data(panel, spec)
    year = A.default_year(spec, data)
    A.assess(spec, panel, runs=args.runs, data=data)  # warm-up (imports, caches)
    base = _best(lambda: A.assess(spec, panel, year=year, runs=0, data=data), args.repeat)
    full = _best(lambda: A.assess(spec, panel, runs=args.runs, data=data), args.repeat)
    print(f"HSI assessment, default year {year}, {len(spec.indicators)} indicators")
    print(f"  baseline: one nominal build (runs=0)     {base:7.3f} s")
    print(f"  assess with {args.runs} uncertainty runs      {full:7.3f} s   "
          f"= {full / base:5.1f} x baseline   target <= {TARGET_S:.1f} s: "
          f"{'met' if full <= TARGET_S else 'NOT met'}")

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        cmd = [sys.executable, "-c", "import sys; from humsec.cli.main import main; sys.exit(main(sys.argv[1:]))",
               "--home", home, "assess", "--runs", str(args.runs), "--format", "csv"]
        subprocess.run(cmd, check=True, capture_output=True, env=env)  # installs the release once
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        cli = time.perf_counter() - t
    print(f"  CLI `humsec assess --runs {args.runs}` (fresh process, warm store) {cli:7.3f} s")
    return 0 if full <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
