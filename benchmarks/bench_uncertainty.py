"""Benchmark of uncertainty and sensitivity analysis against the issue's targets.

Run:  python benchmarks/bench_uncertainty.py [--samples 1000] [--units 2000] [--naive-runs 40]
                                              [--scheduler local:2] [--seed 1]

Cases (COINr's sensitivity-vignette design on its ASEM example: winmax in 1..5, min-max
[1,100] vs z-score (10,2), 100 noisy weight sets with noise 0.25 at levels 2 and 3,
arithmetic vs geometric mean):

* ASEM (51 x 49) uncertainty analysis, N runs          target <= 0.3 s (N = 1,000; #21)
* ASEM sensitivity analysis, N * (k + 2) = 6 N runs    target <= 1 s (#21)
* one full ASEM rebuild per run (the naive path)        target <= 3 ms (#21)
* synthetic 2,000 units x 49 UA, N runs                target <= 30 s

Every time is printed with the ratio ``naive / humsec``, where *naive* rebuilds the whole
index for every run (``build(spec.with_changes(run))``, no cache, no batching — what
COINr's ``get_sensitivity`` does). The naive time is measured in this same run on the
first ``--naive-runs`` runs of the same design and scaled to N (its cost per run is
constant). Peak memory is traced in a separate run (tracemalloc slows allocation).

With ``--scheduler local:N`` the synthetic UA also runs on a local Dask cluster, and the
machine's own parallel capacity is measured beside it: the same UA in one process alone,
then in N processes at once (throughput of N processes / one). A Dask speed-up cannot
exceed that capacity: where the cores share the memory bandwidth the batched runs need
(as on the 2-vCPU machine this project is developed on) it is well under N.

Measured on that machine (``--units 20000 --samples 100 --naive-runs 3 --repeat 2
--scheduler local:2``, 20 structural groups): in-process 6.6-7.2 s; on ``local:2``
7.0-7.5 s (0.95-1.03x) until workers got glibc's large-array malloc thresholds back
(``humsec.index.scale.tune_malloc_for_arrays``: Dask's default MALLOC_TRIM_THRESHOLD_
made each worker task 1.5-2x slower), shared one prefix cache per worker and ranked their
own runs - then 4.9 s (1.44x) against a capacity of 1.82-1.90x for 2 processes.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_index import asem_paths, synthetic  # noqa: E402

from humsec.errors import HumsecError  # noqa: E402
from humsec.index.coinr import import_coinr  # noqa: E402
from humsec.index.pipeline import build  # noqa: E402
from humsec.index.uncertainty import (  # noqa: E402
    UncertaintySpec,
    run_changes,
    sensitivity_analysis,
    uncertainty_analysis,
)

DESIGN = """
inputs:
  - {name: winmax, type: choice, path: steps.treat.params.winmax, values: [1, 2, 3, 4, 5]}
  - name: normalisation
    type: choice
    path: steps.normalise
    values:
      - {method: minmax, params: {lo: 1, hi: 100}}
      - {method: zscore, params: {mean: 10, sd: 2}}
  - {name: weights, type: weights, noise: {2: 0.25, 3: 0.25}, n_sets: 100}
  - {name: aggregation, type: choice, path: steps.aggregate.method, values: [arithmetic, geometric]}
"""


def best_of(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall time, best CPU time (``time.process_time``: on a shared machine the wall
    time includes waiting for a core) and the last result of ``repeat`` runs."""
    best = cpu = np.inf
    out = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    return best, cpu, out


def peak_mib(fn) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def naive_per_run(spec, data, u, runs, k: int, cpu: bool = False) -> float:
    """Seconds per full rebuild (wall, or CPU with ``cpu``) over the first ``k`` runs."""
    rows = runs.head(k).to_dict("records")
    clock = time.process_time if cpu else time.perf_counter
    t = clock()
    for r in rows:
        try:
            build(spec.with_changes(run_changes(spec, u, r)), data)
        except HumsecError:
            pass  # a run the analysis also reports as failed (e.g. a geometric mean of values <= 0)
    return (clock() - t) / len(rows)


def cases(units: int, seed: int):
    """ASEM spec and data, the design, and the synthetic ``units`` x 49 case from ``seed``."""
    spec, data = import_coinr(*asem_paths(), name="asem")
    u = UncertaintySpec.from_yaml(DESIGN, spec=spec)
    big_spec, big = synthetic(spec, data, units, np.random.default_rng(seed))
    return spec, data, u, big_spec, big


def _capacity_child(units: int, seed: int, n: int) -> float:
    """Seconds for the synthetic UA of ``n`` runs, in this (fresh) process."""
    _, _, u, big_spec, big = cases(units, seed)
    t = time.perf_counter()
    uncertainty_analysis(big_spec, big, u, n=n, seed=seed)
    return time.perf_counter() - t


def parallel_capacity(n_procs: int, units: int, seed: int, n: int) -> float:
    """Throughput of ``n_procs`` processes each doing the synthetic UA at once, relative to
    one process doing it alone (``n_procs`` on hardware whose cores do not share the
    memory bandwidth this work needs)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        one = pool.submit(_capacity_child, units, seed, n).result()
    with ProcessPoolExecutor(max_workers=n_procs, mp_context=ctx) as pool:
        many = list(pool.map(_capacity_child, [units] * n_procs, [seed] * n_procs, [n] * n_procs))
    return n_procs * one / max(many)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--units", type=int, default=2000)
    ap.add_argument("--naive-runs", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scheduler", default=None, help="also time the UA cases on Dask (e.g. local:2)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    N = a.samples

    spec, data, u, big_spec, big = cases(a.units, a.seed)
    k = len(u.inputs)

    rows = []

    def case(name, target, fn, spec_, data_, n_runs, repeat):
        t, c, res = best_of(fn, repeat)
        runs = res.runs if hasattr(res, "runs") and not hasattr(res, "indices") else res.runs.runs
        naive = naive_per_run(spec_, data_, u, runs, a.naive_runs) * n_runs
        mem = peak_mib(fn)
        failed = int((runs["status"] != "ok").sum())
        rows.append((name, t, c, target, naive / t, mem, failed))

    case(f"ASEM UA, {N:,} runs", 0.3,
         lambda: uncertainty_analysis(spec, data, u, n=N, seed=a.seed), spec, data, N, a.repeat)
    case(f"ASEM SA, {N:,} x (k+2) = {N * (k + 2):,} runs", 1.0,
         lambda: sensitivity_analysis(spec, data, u, n=N, seed=a.seed, num_resamples=100),
         spec, data, N * (k + 2), a.repeat)
    # the 30 s target is the case (2,000 units, up to 1,000 runs); other sizes have none
    syn_target = 30.0 if a.units <= 2000 and N <= 1000 else float("nan")
    case(f"synthetic {a.units:,} x 49 UA, {N:,} runs", syn_target,
         lambda: uncertainty_analysis(big_spec, big, u, n=N, seed=a.seed), big_spec, big, N, 1)
    if a.scheduler:
        from humsec.index.scale import executor_for

        with executor_for(a.scheduler) as ex:
            case(f"synthetic {a.units:,} x 49 UA on Dask ({a.scheduler})", syn_target,
                 lambda: uncertainty_analysis(big_spec, big, u, n=N, seed=a.seed, scheduler=ex),
                 big_spec, big, N, 1)
            n_workers = ex.n_workers
        capacity = parallel_capacity(n_workers, a.units, a.seed, N)

    print(f"{'case':<52} {'seconds':>8} {'cpu s':>8} {'target':>7} {'naive/humsec':>13} {'peak MiB':>9} "
          f"{'failed':>7}")
    for name, t, c, target, ratio, mem, failed in rows:
        flag = "" if not t > target else ("  (over target; CPU time within)" if c <= target else "  (over target)")
        print(f"{name:<52} {t:>8.3f} {c:>8.3f} {target:>7.1f} {ratio:>13.1f} {mem:>9.1f} {failed:>7}{flag}")
    print(f"naive = full rebuild per run, measured on {a.naive_runs} runs and scaled")
    if a.scheduler:
        print(f"Dask ({a.scheduler}) / in-process speed-up on the synthetic UA: {rows[2][1] / rows[3][1]:.2f}x; "
              f"this machine's capacity for {n_workers} processes (the same UA in {n_workers} processes at once "
              f"vs one alone): {capacity:.2f}x")
    asem_runs = uncertainty_analysis(spec, data, u, n=a.naive_runs, seed=a.seed).runs
    per_run = min(naive_per_run(spec, data, u, asem_runs, a.naive_runs) for _ in range(a.repeat))
    per_run_cpu = min(naive_per_run(spec, data, u, asem_runs, a.naive_runs, cpu=True) for _ in range(a.repeat))
    flag = "" if per_run <= 0.003 else ("  (over target; CPU time within)" if per_run_cpu <= 0.003
                                        else "  (over target)")
    print(f"one full ASEM rebuild per run (spec.with_changes + build): {per_run * 1e3:.2f} ms, "
          f"CPU {per_run_cpu * 1e3:.2f} ms (target 3 ms){flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
