"""Forecast benchmark: one country's conflict forecast and the first uncached ``/alerts``.

Run:  python benchmarks/bench_forecast.py [--unit KEN] [--home DIR]

Every figure is a ratio against a baseline measured in the same run on this machine:

* baseline: loading the current panel from the store (what every command pays first);
* ``forecast one country``: :func:`humsec.forecast.onset.watch_list` for one country at
  horizons 1, 3 and 5 (building the structural panel, choosing and fitting the onset
  model in its training window, drivers) - issue #20's target: <= 5 s;
* ``forecast hsi``: :func:`humsec.forecast.pipelines.forecast_unit` of model ``hsi`` for
  one country (the next-year quantiles of the index and its seven dimensions: building
  the tasks, 8 x 10 quantile boosting fits, the baselines) - what ``humsec forecast KEN
  --target hsi`` computes after loading the panel; target <= 5 s. ``--legacy`` times the
  former ``qgbm`` settings (80 trees of 15 leaves) on the same run as well;
* ``humsec forecast KEN --target hsi`` end to end: the command in a new process
  (imports, store, panel, forecast), wall clock and the child's CPU time;
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
    ap.add_argument("--legacy", action="store_true", help="also time the former qgbm settings")
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
    from humsec.forecast import models as M
    from humsec.forecast.pipelines import forecast_unit
    from humsec.index.builtin import load_spec

    spec = load_spec("hsi")
    with _Clock() as fq:
        q = forecast_unit("hsi", a.unit, panel=panel, spec=spec)
    legacy = None
    if a.legacy:
        kept = dict(M.QGBM_PARAMS)
        M.QGBM_PARAMS = {"max_iter": 80, "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 30,
                         "max_bins": 255}
        try:
            with _Clock() as legacy:
                forecast_unit("hsi", a.unit, panel=panel, spec=spec)
        finally:
            M.QGBM_PARAMS = kept
    import resource
    import shutil
    import subprocess
    import sys

    exe = shutil.which("humsec")
    cli = None
    if exe:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        rc = subprocess.run([exe, "forecast", a.unit, "--target", "hsi", "--format", "csv"], capture_output=True,
                            env={**os.environ, "HUMSEC_HOME": home}, check=False).returncode
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cli = (time.perf_counter() - w0, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), rc)
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
    code = ("import time; from humsec.data.countries import CountryRegistry; "
            "w, c = time.perf_counter(), time.process_time(); CountryRegistry.default(); "
            "print(f'{time.perf_counter() - w:.2f} s (CPU {time.process_time() - c:.2f} s)')")
    with tempfile.TemporaryDirectory() as empty:
        reg_cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  env={**os.environ, "HUMSEC_CACHE_DIR": empty}).stdout.strip()
    print(f"baseline (load the current panel): {base}")
    print(f"forecast {a.unit} (horizons {HORIZONS}): {fc} = {fc.wall / base.wall:.1f} x baseline; target <= 5 s: "
          f"{'MET' if fc.wall <= 5 else 'NOT MET'}; p = {', '.join(f'{p:.3f}' for p in f['probability'])}")
    med = q.set_index("target")["q50"]
    print(f"forecast {a.unit} hsi (8 nodes x 10 quantile levels): {fq} = {fq.wall / base.wall:.1f} x baseline; "
          f"target <= 5 s: {'MET' if fq.wall <= 5 else 'NOT MET'}; median {a.unit} hsi next year "
          f"{med.get('hsi:' + spec.root, float('nan')):.2f}")
    if legacy is not None:
        print(f"    (former qgbm settings, 80 trees of 15 leaves: {legacy} = {legacy.wall / base.wall:.1f} x baseline; "
              f"now {legacy.cpu / max(fq.cpu, 1e-9):.1f} x less CPU)")
    if cli is not None:
        print(f"humsec forecast {a.unit} --target hsi, new process end to end (exit {cli[2]}): {cli[0]:.2f} s "
              f"(CPU {cli[1]:.2f} s) = {cli[0] / base.wall:.1f} x baseline; target <= 5 s: "
              f"{'MET' if cli[0] <= 5 else 'NOT MET'}")
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
