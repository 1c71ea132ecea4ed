"""First uncached country page of the dashboard (issue 19), loopback only.

Run:  python benchmarks/bench_dashboard.py [--countries UGA,PHL,FJI] [--home DIR] [--runs 200]

Starts ``humsec serve`` on 127.0.0.1 (a free port, the default data unless ``--home``
holds others) and stops it at the end. After the server's start-up warm-up (the default
assessment, the current alerts and the watch list, computed in the background at start;
the benchmark waits for them by asking for the ranking and the watch list), each country
of ``--countries`` - none of them requested before - is loaded the way a browser loads
``/country/{iso3}`` (read from ``static/app.js``):

The start-up warm-up includes the dashboard's (``/web/warm-up``): what every country
page shares - trend bands per year, group goalposts, the spill-over graph and hotspots -
and nothing about one country.

1. the page's HTML, ``/static/app.js`` and ``/static/style.css``;
2. ``/api/v1/countries`` (the "Go to a country" list) and
   ``/api/v1/countries/{iso3}/assessment`` (the headline, profile, threats, indicators);
3. then at the same time, as ``Promise.allSettled`` does: ``.../trends``, ``.../groups``,
   ``.../alerts``, ``/api/v1/spill/{iso3}`` and ``.../peers`` (the commitments panel asks
   for nothing without a token; a not-ranked country skips trends, spill and peers, as
   the page does).

Reported per country: the time of every call, the page's total (wall clock, steps 1-3 as
above) and the sum of the calls one after another, with the ratio of the total to the
baseline measured in the same run (the median of ``GET /api/v1/health``: no data access,
the cost of the HTTP stack and this client on this machine). Issue 19's target: the first
uncached country page <= 1 s on the default data.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

import bench_api  # the same server start-up and readiness check as the API benchmark

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.0


def start_server(home: str | None, port: int, runs: int) -> tuple[subprocess.Popen, Path]:
    return bench_api.start_server(home, port, runs, log_prefix="humsec-bench-dashboard-")


free_port, wait_ready = bench_api.free_port, bench_api.wait_ready


def wait_warm(client: httpx.Client, timeout: float) -> dict:
    """Wait until the dashboard's start-up warm-up (``/web/warm-up``) is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = client.get("/web/warm-up").json()
        if st.get("done") or not st.get("started"):
            return st
        time.sleep(0.5)
    sys.exit(f"the dashboard's warm-up did not finish within {timeout:.0f} s")


def timed(client: httpx.Client, path: str) -> tuple[str, int, float]:
    """(path, status, seconds) of one GET."""
    t = time.perf_counter()
    r = client.get(path)
    return path, r.status_code, time.perf_counter() - t


def country_page(base: str, iso3: str) -> dict:
    """Load one country page as the browser does; the calls and the wall-clock total."""
    calls: list[tuple[str, int, float]] = []
    limits = httpx.Limits(max_connections=6, max_keepalive_connections=6)  # a browser's per-host limit
    with httpx.Client(base_url=base, timeout=120, limits=limits) as c:
        t0 = time.perf_counter()
        calls.append(timed(c, f"/country/{iso3}"))
        with ThreadPoolExecutor(6) as pool:
            calls += list(pool.map(lambda p: timed(c, p), ["/static/app.js", "/static/style.css"]))
            calls += list(pool.map(lambda p: timed(c, p), ["/api/v1/countries",
                                                           f"/api/v1/countries/{iso3}/assessment"]))
            ranked = calls[-1][1] == 200
            q = f"/api/v1/countries/{iso3}"
            rest = ([f"{q}/trends", f"{q}/groups", f"{q}/alerts", f"/api/v1/spill/{iso3}", f"{q}/peers"]
                    if ranked else [f"{q}/groups", f"{q}/alerts"])
            calls += list(pool.map(lambda p: timed(c, p), rest))
        total = time.perf_counter() - t0
    return {"iso3": iso3, "ranked": ranked, "calls": calls, "total": total,
            "sum": sum(s for _, _, s in calls)}


def baseline(base: str, n: int = 50) -> float:
    with httpx.Client(base_url=base, timeout=10) as c:
        for _ in range(5):
            c.get("/api/v1/health")
        return statistics.median(timed(c, "/api/v1/health")[2] for _ in range(n))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--countries", default="UGA,PHL,FJI,BRA,MCO",
                    help="ISO3 codes never requested before, comma-separated (default UGA,PHL,FJI,BRA,MCO)")
    ap.add_argument("--home", default=None, help="data directory (default: $HUMSEC_HOME or the user data dir)")
    ap.add_argument("--runs", type=int, default=200, help="uncertainty runs of the assessment (default 200, "
                                                           "as humsec serve)")
    ap.add_argument("--startup-timeout", type=float, default=600.0)
    ap.add_argument("--strict", action="store_true", help="exit 1 when a ranked country's page misses the target")
    a = ap.parse_args()
    units = [u.strip().upper() for u in a.countries.split(",") if u.strip()]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc, log = start_server(a.home, port, a.runs)
    try:
        t = time.perf_counter()
        wait_ready(base, proc, log, a.startup_timeout)
        with httpx.Client(base_url=base, timeout=a.startup_timeout) as c:
            ranking = c.get("/api/v1/indices/hsi/ranking").raise_for_status().json()
            c.get("/api/v1/watchlist")  # the rest of the API's warm-up (alerts, then the watch list)
            warm = wait_warm(c, a.startup_timeout)
        print(f"humsec serve on {base}: start-up warm-up done in {time.perf_counter() - t:.1f} s "
              f"({ranking['runs']} runs, year {ranking['year']}, {len(ranking['countries'])} countries ranked; "
              f"the dashboard's share of it {warm.get('seconds')} s)")
        base_s = baseline(base)
        print(f"baseline GET /api/v1/health: median {base_s * 1000:.2f} ms\n")
        worst = 0.0
        for iso3 in units:
            r = country_page(base, iso3)
            print(f"/country/{iso3} ({'ranked' if r['ranked'] else 'not ranked'}), first request:")
            for path, status, s in r["calls"]:
                print(f"  {s * 1000:8.1f} ms  {status}  {path}")
            print(f"  total {r['total']:.3f} s as the browser loads it (x{r['total'] / base_s:.0f} the baseline); "
                  f"sum of the calls {r['sum']:.3f} s\n")
            if r["ranked"]:
                worst = max(worst, r["total"])
        ok = worst <= TARGET_SECONDS
        print(f"target: first uncached country page <= {TARGET_SECONDS:.1f} s: {'met' if ok else 'NOT met'} "
              f"(slowest ranked country {worst:.3f} s)")
        return 1 if (a.strict and not ok) else 0
    finally:
        bench_api.stop_server(proc, log)


if __name__ == "__main__":
    sys.exit(main())
