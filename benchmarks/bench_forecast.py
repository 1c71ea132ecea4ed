"""Forecast benchmark: one country's conflict forecast and the first uncached ``/alerts``.

Run:  python benchmarks/bench_forecast.py [--unit KEN] [--home DIR]

Every figure is a ratio against a baseline measured in the same run on this machine:

* baseline: loading the current panel from the store (what every command pays first);
* ``forecast one country``: :func:`humsec.forecast.onset.watch_list` for one country at
  horizons 1, 3 and 5 (building the structural panel, choosing and fitting the onset
  model in its training window, drivers) - issue #20's target: <= 5 s;
* ``first /alerts``: a fresh API app (nothing cached in memory) answering
  ``GET /api/v1/alerts`` once, through FastAPI's test client - target <= 1 s;
* ``/alerts after warm-up``: the first request of a fresh app after the start-up warm-up
  (:meth:`Observatory.warm`, what ``humsec serve`` runs in a background thread; not
  timed) - the response itself is not cached yet;
* ``/watchlist after warm-up``: the same for ``GET /api/v1/watchlist``.

Nothing is asserted: the numbers are printed with the targets beside them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit", default="KEN")
    ap.add_argument("--home", default=None)
    a = ap.parse_args()
    home = a.home or tempfile.mkdtemp(prefix="humsec_bench_forecast_")
    os.environ["HUMSEC_HOME"] = home
    from humsec.data import service
    from humsec.forecast.onset import HORIZONS, watch_list
    from humsec.settings import Settings

    settings = Settings(home=home, progress=False)
    service.current_panel(settings)  # install the release once (not timed)
    t = time.perf_counter()
    panel, _ = service.current_panel(settings)
    base = time.perf_counter() - t
    t = time.perf_counter()
    f = watch_list(panel, horizons=HORIZONS, units=[a.unit])
    fc = time.perf_counter() - t
    from fastapi.testclient import TestClient

    from humsec.api.app import create_app

    t = time.perf_counter()
    client = TestClient(create_app(settings))
    r = client.get("/api/v1/alerts")
    al = time.perf_counter() - t
    app = create_app(settings)
    t = time.perf_counter()
    app.state.observatory.warm()
    warm = time.perf_counter() - t
    client = TestClient(app)
    t = time.perf_counter()
    r2 = client.get("/api/v1/alerts")
    al2 = time.perf_counter() - t
    t = time.perf_counter()
    r3 = client.get("/api/v1/watchlist")
    wl = time.perf_counter() - t
    print(f"baseline (load the current panel): {base:.2f} s")
    print(f"forecast {a.unit} (horizons {HORIZONS}): {fc:.2f} s = {fc / base:.1f} x baseline; target <= 5 s: "
          f"{'MET' if fc <= 5 else 'NOT MET'}; p = {', '.join(f'{p:.3f}' for p in f['probability'])}")
    print(f"first uncached /alerts (status {r.status_code}): {al:.2f} s = {al / base:.1f} x baseline; target <= 1 s: "
          f"{'MET' if al <= 1 else 'NOT MET'}")
    print(f"start-up warm-up (not part of a request): {warm:.2f} s = {warm / base:.1f} x baseline")
    print(f"first /alerts after warm-up (status {r2.status_code}): {al2:.3f} s = {al2 / base:.3f} x baseline; "
          f"target <= 1 s: {'MET' if al2 <= 1 else 'NOT MET'}")
    print(f"first /watchlist after warm-up (status {r3.status_code}): {wl:.3f} s = {wl / base:.3f} x baseline")


if __name__ == "__main__":
    main()
