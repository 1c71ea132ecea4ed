"""Forecast benchmark: one country's conflict forecast and the first uncached ``/alerts``.

Run:  python benchmarks/bench_forecast.py [--unit KEN] [--home DIR]

Every figure is a ratio against a baseline measured in the same run on this machine:

* baseline: loading the current panel from the store (what every command pays first);
* ``forecast one country``: :func:`humsec.forecast.onset.watch_list` for one country at
  horizons 1, 3 and 5 (building the structural panel, choosing and fitting the onset
  model in its training window, drivers) - issue #20's target: <= 5 s;
* ``first /alerts``: a fresh API app (nothing cached in memory) answering
  ``GET /api/v1/alerts`` once, through FastAPI's test client - target <= 1 s (making the
  app, which a server does before it accepts connections, is timed apart);
* ``/alerts after warm-up``: the first request of a fresh app after the start-up warm-up
  (:meth:`Observatory.warm`, what ``humsec serve`` runs in a background thread; not
  timed) - the response itself is not cached yet;
* ``/watchlist after warm-up``: the same for ``GET /api/v1/watchlist``.

Every figure is given as wall-clock time and as the CPU time of this process (all its
threads): on a shared machine the wall clock also counts the other processes' turns, the
CPU time only this work. The first ``/alerts`` is then broken down into its parts (each
timed on another fresh app, in the order a request meets them), so that what the
request waits for is visible: the country registry, loading the panel from the store,
the spec's observations, the default year, the alerts themselves and the response.

The country registry reads its sources from a cache file in the user cache directory
(:func:`humsec.data.countries._sources`, made by the first process that needs it); the
cost of building it without that file is printed too.

Nothing is asserted: the numbers are printed with the targets beside them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


class _Clock:
    """Wall-clock and process CPU time of a block."""

    def __enter__(self) -> "_Clock":
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c

    def __str__(self) -> str:
        return f"{self.wall:.2f} s (CPU {self.cpu:.2f} s)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit", default="KEN")
    ap.add_argument("--home", default=None)
    a = ap.parse_args()
    home = a.home or tempfile.mkdtemp(prefix="humsec_bench_forecast_")
    os.environ["HUMSEC_HOME"] = home
    from humsec.data import countries, service
    from humsec.forecast.onset import HORIZONS, watch_list
    from humsec.settings import Settings

    settings = Settings(home=home, progress=False)
    service.current_panel(settings)  # install the release once (not timed)
    path = countries._sources_path()
    cached = path is not None and path.is_file()
    with _Clock() as base:
        panel, _ = service.current_panel(settings)
    with _Clock() as fc:
        f = watch_list(panel, horizons=HORIZONS, units=[a.unit])
    from fastapi.testclient import TestClient

    from humsec.api.app import create_app

    def new_process() -> None:  # as in a new process: the registry is built again
        countries._SOURCES = None
        countries._cached_default.cache_clear()

    new_process()
    with _Clock() as made:  # what `humsec serve` does before it accepts a connection
        client = TestClient(create_app(settings))
    with _Clock() as al:
        r = client.get("/api/v1/alerts")
    # the same request, part by part, on another fresh app
    new_process()
    parts = []
    app = create_app(settings)
    obs = app.state.observatory
    for name, step in (("country registry", obs.registry), ("load the panel", obs.inputs),
                       ("observations of the spec", lambda: obs.index_data("hsi")),
                       ("default year", lambda: obs.years("hsi")), ("alerts", lambda: obs.alerts("hsi")),
                       ("response", lambda: TestClient(app).get("/api/v1/alerts"))):
        with _Clock() as c:
            step()
        parts.append((name, c))
    app = create_app(settings)
    with _Clock() as warm:
        app.state.observatory.warm()
    client = TestClient(app)
    with _Clock() as al2:
        r2 = client.get("/api/v1/alerts")
    with _Clock() as wl:
        r3 = client.get("/api/v1/watchlist")
    # the registry without its cache file, in a new process (with the imports it needs)
    import subprocess
    import sys

    code = ("import time; from humsec.data.countries import CountryRegistry; "
            "w, c = time.perf_counter(), time.process_time(); CountryRegistry.default(); "
            "print(f'{time.perf_counter() - w:.2f} s (CPU {time.process_time() - c:.2f} s)')")
    with tempfile.TemporaryDirectory() as empty:
        reg_cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  env={**os.environ, "HUMSEC_CACHE_DIR": empty}).stdout.strip()
    print(f"baseline (load the current panel): {base}")
    print(f"forecast {a.unit} (horizons {HORIZONS}): {fc} = {fc.wall / base.wall:.1f} x baseline; target <= 5 s: "
          f"{'MET' if fc.wall <= 5 else 'NOT MET'}; p = {', '.join(f'{p:.3f}' for p in f['probability'])}")
    print(f"first uncached /alerts (status {r.status_code}): {al} = {al.wall / base.wall:.1f} x baseline; "
          f"target <= 1 s: {'MET' if al.wall <= 1 else 'NOT MET'}")
    for name, c in parts:
        print(f"    {name}: {c}")
    print(f"    (making the app and its test client, before the request: {made})")
    print(f"    (country registry sources {'read from the cache file' if cached else 'not cached yet'}: {path}; "
          f"a new process without it: {reg_cold})")
    print(f"start-up warm-up (not part of a request): {warm} = {warm.wall / base.wall:.1f} x baseline")
    print(f"first /alerts after warm-up (status {r2.status_code}): {al2} = {al2.wall / base.wall:.3f} x baseline; "
          f"target <= 1 s: {'MET' if al2.wall <= 1 else 'NOT MET'}")
    print(f"first /watchlist after warm-up (status {r3.status_code}): {wl} = {wl.wall / base.wall:.3f} x baseline")


if __name__ == "__main__":
    main()
