"""Load benchmark of the observatory service (bounded, loopback only).

Run:  python benchmarks/bench_api.py [--rate 200] [--duration 10] [--home DIR]

Starts ``humsec serve`` on 127.0.0.1 (a free port) and stops it at the end. Requests are
sent open-loop at a fixed rate (each at its scheduled time, whatever the latency of the
previous ones, so a slow server cannot hide its queueing), for at most ``--duration``
seconds and ``--rate * --duration`` requests, to:

* the baseline, ``GET /api/v1/health`` (no data access: the cost of the HTTP stack and
  this client on this machine, measured in the same run), then
* the target, ``GET /api/v1/countries/{iso3}/assessment`` cycling through every scored
  country (the assessments are computed once at start-up / first use and cached per
  year; a warm-up pass asks for every country once).

Reported: p50 / p90 / p99 / max latency, achieved throughput, errors (non-200 or
transport failures), and the ratios target / baseline. Issue 11's target: p99 <= 50 ms at
200 requests/s for a country assessment on the 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: str | None, port: int, runs: int, *, log_prefix: str = "humsec-bench-serve-",
                 extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, Path]:
    """``humsec serve`` (with ``extra`` options) from this checkout in a child process,
    logging to a temp file."""
    log = Path(tempfile.mkstemp(prefix=log_prefix, suffix=".log")[1])
    cmd = [sys.executable, "-m", "humsec.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--runs", str(runs), "--log-level", "warning", *extra]
    if home:
        cmd += ["--home", home]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    return proc, log


def wait_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"humsec serve exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    sys.exit(f"humsec serve did not answer within {timeout:.0f} s")


async def load(base: str, paths: list[str], rate: float, duration: float, max_requests: int) -> dict:
    """Open-loop load: request i is sent at t0 + i / rate (bounded in count and time)."""
    n = min(max_requests, int(rate * duration))
    lat: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=10.0, limits=limits) as client:
        async def one(path: str) -> None:
            t = time.perf_counter()
            try:
                r = await client.get(path)
                ok = r.status_code == 200
                if not ok:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            lat.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() - t0 > duration + 1:
                break
            tasks.append(asyncio.create_task(one(paths[i % len(paths)])))
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        elapsed = time.perf_counter() - t0
    lat.sort()

    def q(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return {"sent": len(tasks), "ok": len(lat), "errors": errors, "elapsed": elapsed,
            "throughput": len(lat) / elapsed if elapsed else 0.0, "p50": q(0.50), "p90": q(0.90),
            "p99": q(0.99), "max": lat[-1] * 1000 if lat else float("nan"),
            "mean": statistics.fmean(lat) * 1000 if lat else float("nan")}


def stop_server(proc: subprocess.Popen, log: Path) -> None:
    """Stop a server of :func:`start_server` (terminate, then kill after 15 s) and remove its log."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.unlink(missing_ok=True)


def show(name: str, r: dict) -> None:
    err = sum(r["errors"].values())
    print(f"{name:<34} sent {r['sent']:>5}  ok {r['ok']:>5}  errors {err:>3} {r['errors'] or ''}")
    print(f"{'':<34} {r['throughput']:7.1f} req/s   p50 {r['p50']:6.2f} ms   p90 {r['p90']:6.2f} ms   "
          f"p99 {r['p99']:6.2f} ms   max {r['max']:7.2f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per phase (default 10, at most 60)")
    ap.add_argument("--max-requests", type=int, default=5000, help="cap per phase (default 5000)")
    ap.add_argument("--home", default=None, help="data directory (default: $HUMSEC_HOME or the user data dir)")
    ap.add_argument("--runs", type=int, default=200, help="uncertainty runs of the assessment (default 200)")
    ap.add_argument("--startup-timeout", type=float, default=600.0)
    ap.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    a = ap.parse_args()
    duration = min(max(a.duration, 1.0), 60.0)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc, log = start_server(a.home, port, a.runs)
    try:
        t = time.perf_counter()
        wait_ready(base, proc, log, a.startup_timeout)
        ranking = httpx.get(f"{base}/api/v1/indices/hsi/ranking", timeout=a.startup_timeout).json()
        units = [c["unit"] for c in ranking["countries"]]
        warm = time.perf_counter()
        with httpx.Client(base_url=base, timeout=60) as c:
            for u in units:
                c.get(f"/api/v1/countries/{u}/assessment").raise_for_status()
        print(f"humsec serve on {base}: ready and assessed ({ranking['runs']} runs, year {ranking['year']}) "
              f"in {warm - t:.1f} s; warm-up of {len(units)} country assessments {time.perf_counter() - warm:.1f} s")
        print(f"open-loop load at {a.rate:.0f} req/s for {duration:.0f} s per phase (loopback, one uvicorn process)\n")
        base_r = asyncio.run(load(base, ["/api/v1/health"], a.rate, duration, a.max_requests))
        show("baseline GET /api/v1/health", base_r)
        paths = [f"/api/v1/countries/{u}/assessment" for u in units]
        tgt = asyncio.run(load(base, paths, a.rate, duration, a.max_requests))
        show("GET /api/v1/countries/{iso3}/assessment", tgt)
        print()
        print(f"ratio to baseline: p50 x{tgt['p50'] / base_r['p50']:.2f}, p99 x{tgt['p99'] / base_r['p99']:.2f}")
        ok = (tgt["p99"] <= 50.0 and not tgt["errors"] and tgt["throughput"] >= 0.95 * a.rate)
        print(f"target p99 <= 50 ms at {a.rate:.0f} req/s with no errors: {'met' if ok else 'NOT met'} "
              f"(p99 {tgt['p99']:.1f} ms, {tgt['throughput']:.0f} req/s, {sum(tgt['errors'].values())} errors)")
        return 1 if (a.strict and not ok) else 0
    finally:
        stop_server(proc, log)


if __name__ == "__main__":
    sys.exit(main())
