"""Benchmark of the Alkire–Foster engine on 10 million synthetic person records.

Run:  python benchmarks/bench_mpi.py [--records 10000000] [--seed 1] [--chunk-rows 1000000]

Writes a synthetic survey (global-MPI columns: seven 0/1 deprivation flags, electricity,
child deaths, years of schooling, a gamma sampling weight, ten regions, 2,000 PSUs in two
strata; drawn with ``numpy.random.default_rng(seed)``) to a temporary Parquet file in
1-million-row row groups, then times, each in a fresh child process so that peak memory is
its own:

* ``baseline``   — the numpy floor: read the 11 numeric columns of the file whole into one
  float matrix and take the weighted mean of each column (``w @ X / sum(w)``), which every
  MPI implementation must at least do;
* ``national``   — ``measure(file, "global_mpi", weight=...)``: H, A, M0, censored and
  uncensored headcounts, contributions, linearised SEs (chunked reading);
* ``by_region``  — the same with the subgroup decomposition by region;
* ``design``     — national with PSU/strata (design-based linearised SEs);
* ``k_curve``    — the k-robustness curve at every attainable score from the stored
  pattern table (no re-reading).

Printed: seconds, peak resident memory of the child (MB above its post-import baseline),
pyarrow's peak pool allocation, and ratios against ``baseline`` measured in the same run.
No assertion: numbers are for reading.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

FLAGS = [("d_nutrition", 0.25), ("d_attendance", 0.15), ("d_cooking_fuel", 0.55),
         ("d_sanitation", 0.45), ("d_water", 0.25), ("d_housing", 0.35), ("d_assets", 0.3)]


def write_survey(path: Path, records: int, seed: int, group_rows: int = 1_000_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    regions = pa.array([f"region_{i:02d}" for i in range(10)])
    writer = None
    try:
        for start in range(0, records, group_rows):
            n = min(group_rows, records - start)
            # household-level poverty propensity makes deprivations correlated, as in surveys
            latent = rng.normal(size=n)
            cols = {c: (rng.random(n) < p * (1 + 0.6 * np.tanh(latent))).astype(np.int8) for c, p in FLAGS}
            cols["has_electricity"] = (rng.random(n) > 0.3 * (1 + 0.6 * np.tanh(latent))).astype(np.int8)
            cols["child_deaths_5y"] = rng.poisson(0.12 * (1 + 0.6 * np.tanh(latent))).astype(np.int16)
            cols["max_years_schooling"] = np.clip(np.round(rng.normal(8 - 3 * latent, 3)), 0, 25).astype(np.int16)
            cols["weight"] = rng.gamma(2.0, 500.0, n)
            psu = rng.integers(0, 2000, n)
            cols["psu"] = psu.astype(np.int32)
            cols["stratum"] = (psu % 2).astype(np.int8)
            table = pa.table(cols)
            table = table.append_column("region", pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, 10, n).astype(np.int32)), regions))
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema)
            writer.write_table(table, row_group_size=group_rows)
    finally:
        if writer is not None:
            writer.close()


# --------------------------------------------------------------------------- child steps


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def child(step: str, path: str, chunk_rows: int) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from humsec.analysis.mpi import load_mpi_spec, measure

    spec = load_mpi_spec("global_mpi")
    base = _maxrss_mb()
    t0 = time.perf_counter()
    info: dict = {}
    if step == "baseline":
        cols = [*spec.columns, "weight"]
        tbl = pq.read_table(path, columns=cols)
        x = np.column_stack([tbl.column(c).to_numpy().astype(np.float64) for c in spec.columns])
        w = tbl.column("weight").to_numpy()
        del tbl
        means = (w @ x) / w.sum()
        info = {"mean_first": float(means[0])}
    elif step == "national":
        r = measure(path, spec, weight="weight", chunk_rows=chunk_rows)
        info = {"H": r.H, "A": r.A, "M0": r.M0, "se_M0": float(r.summary["se_M0"])}
    elif step == "by_region":
        r = measure(path, spec, weight="weight", by="region", chunk_rows=chunk_rows)
        sub = r.subgroups["region"]
        info = {"M0": r.M0, "groups": len(sub),
                "decomposition_error": abs(float((sub["pop_share"] * sub["M0"]).sum()) - r.M0)}
    elif step == "design":
        r = measure(path, spec, weight="weight", psu="psu", strata="stratum", chunk_rows=chunk_rows)
        info = {"M0": r.M0, "se_M0_design": float(r.summary["se_M0"])}
    elif step == "k_curve":
        r = measure(path, spec, weight="weight", chunk_rows=chunk_rows)
        t_read = time.perf_counter() - t0
        t1 = time.perf_counter()
        curve = r.robustness()
        info = {"points": len(curve), "curve_seconds": time.perf_counter() - t1, "read_seconds": t_read}
    else:
        raise SystemExit(f"unknown step {step}")
    seconds = time.perf_counter() - t0
    return {"step": step, "seconds": seconds, "peak_rss_mb": _maxrss_mb(), "rss_above_import_mb": _maxrss_mb() - base,
            "arrow_pool_peak_mb": pa.default_memory_pool().max_memory() / 2**20, **info}


def run_child(step: str, path: Path, chunk_rows: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", step, "--file", str(path),
                           "--chunk-rows", str(chunk_rows)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk-rows", type=int, default=1_000_000)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--file", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.file, a.chunk_rows)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_mpi_") as tmp:
        path = Path(tmp) / "survey.parquet"
        t = time.perf_counter()
        write_survey(path, a.records, a.seed)
        print(f"synthetic survey: {a.records:,} person records, seed {a.seed}, "
              f"{path.stat().st_size / 2**20:.0f} MB Parquet, written in {time.perf_counter() - t:.1f} s")
        results = {s: run_child(s, path, a.chunk_rows) for s in
                   ("baseline", "national", "by_region", "design", "k_curve")}
    b = results["baseline"]
    print(f"\n{'step':<10} {'seconds':>8} {'x base':>7} {'peak RSS MB':>12} {'x base':>7} "
          f"{'arrow pool MB':>14}  result")
    for s, r in results.items():
        extra = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()
                 if k not in ("step", "seconds", "peak_rss_mb", "rss_above_import_mb", "arrow_pool_peak_mb")}
        print(f"{s:<10} {r['seconds']:>8.2f} {r['seconds'] / b['seconds']:>7.2f} {r['peak_rss_mb']:>12.0f} "
              f"{r['peak_rss_mb'] / b['peak_rss_mb']:>7.2f} {r['arrow_pool_peak_mb']:>14.0f}  {extra}")
    n = a.records
    print(f"\nthroughput (national): {n / results['national']['seconds'] / 1e6:.1f} M records/s; "
          f"memory above import: {results['national']['rss_above_import_mb']:.0f} MB for {n:,} records "
          f"(baseline holds the matrix: {b['rss_above_import_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
