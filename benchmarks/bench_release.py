"""Benchmark and report of the data release: first start, release build, freshness targets.

Run:  python benchmarks/bench_release.py [--from DIR] [--repeat 3]

* **first start** - a fresh machine's first `humsec serve`/`assess`: a new, empty home
  (store) in a fresh Python process, import humsec, install the shipped release into the
  store and have the current panel ready. Target: under 5 s. Baseline (same run): a fresh
  Python process that only imports pandas and reads the shipped ``observations.parquet``
  (the least any start must do).
* **release build** - `build_release` from the publishers' files (``--from``, default
  ``$HUMSEC_SHARED_DATA`` or ``../shared/data``, else the tests' 16-country extract);
  baseline: reading those files with pandas.
* **targets** - the table of the data-release issue (indicators, latest years, median
  data age, UN-member coverage) on the shipped release, with the per-indicator status.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

FIRST_START = """
import time, sys; t = time.perf_counter()
from humsec.settings import Settings
from humsec.data import service
s = Settings(home=sys.argv[1], progress=False)
service.ensure_default(s)
print(time.perf_counter() - t)
"""
BASELINE = """
import time, sys; t = time.perf_counter()
import pandas as pd
pd.read_parquet(sys.argv[1])
print(time.perf_counter() - t)
"""


def _proc(code: str, arg: str) -> float:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, arg], check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    wall = time.perf_counter() - t
    return wall if out.returncode == 0 else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="src", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from humsec.data.release import build_release, indicator_status, load_release, release_targets, shipped_release_dir
    from humsec.data.countries import CountryRegistry

    obs = str(shipped_release_dir() / "observations.parquet")
    base = min(_proc(BASELINE, obs) for _ in range(args.repeat))
    first = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as home:
            first.append(_proc(FIRST_START, home))
    best = min(first)
    print(f"first start (fresh process, empty store -> default ready): best {best:.2f} s of {args.repeat} "
          f"(target < 5 s: {'met' if best < 5 else 'NOT met'}); baseline read-parquet process {base:.2f} s; "
          f"ratio {best / base:.1f}x")

    src = args.src
    if src is None:
        env = os.environ.get("HUMSEC_SHARED_DATA")
        for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data", ROOT / "tests" / "data" / "release_sources"]:
            if cand.is_dir():
                src = cand
                break
    t = time.perf_counter()
    built = build_release(src)
    build_s = time.perf_counter() - t
    import pandas as pd

    t = time.perf_counter()
    for f in built.manifest["source_files"]:
        p = src / f
        (pd.read_parquet if p.suffix == ".parquet" else pd.read_csv)(p, **({} if p.suffix == ".parquet" else {"low_memory": False}))
    read_s = time.perf_counter() - t
    print(f"release build from {src}: {build_s:.1f} s for {built.manifest['rows']:,} observations "
          f"({len(built.manifest['indicators'])} indicators); baseline reading the {len(built.manifest['source_files'])} "
          f"source files {read_s:.1f} s; ratio {build_s / read_s:.1f}x")

    rel = load_release()
    st = indicator_status(rel.panel, rel.catalogue, un_members=CountryRegistry.default().un_members,
                          as_of=dt.date.fromisoformat(rel.manifest["released"]))
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(st[["code", "dimension", "latest_year", "age", "un_members_latest", "units_latest", "licence"]].to_string(index=False))
    print(f"\nrelease {rel.version} ({rel.manifest['released']}) targets:")
    for t_ in release_targets(st):
        print(f"  {'met    ' if t_.met else 'NOT met'}  {t_.name}: {t_.actual} (wanted {t_.wanted})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
