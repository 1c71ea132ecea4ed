"""Scale-out on Dask: index builds, uncertainty and sensitivity analysis on a
``LocalCluster`` give exactly the single-process numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from humsec.errors import HumsecError
from humsec.index import pipeline
from humsec.index.pipeline import build
from humsec.index.scale import SerialExecutor, executor_for
from humsec.index.spec import IndexSpec
from humsec.index.uncertainty import UncertaintySpec, replay, sensitivity_analysis, uncertainty_analysis

distributed = pytest.importorskip("distributed")

SPEC = """
spec_version: 1
name: grid
tree:
  - {code: top}
  - {code: p1, parent: top}
  - {code: p2, parent: top, weight: 2}
  - {code: a, parent: p1}
  - {code: b, parent: p1, direction: -1}
  - {code: c, parent: p2}
  - {code: d, parent: p2, weight: 2}
  - {code: e, parent: p2}
steps:
  - {step: impute, method: mean}
  - {step: treat, method: coinr, params: {winmax: 5}}
  - {step: normalise, method: minmax, params: {lo: 1, hi: 100}, overrides: {c: {method: zscore, params: {mean: 50, sd: 10}}}}
  - {step: aggregate, method: arithmetic, overrides: {"level:2": {method: geometric}}}
"""

UNC = """
inputs:
  - {name: winmax, type: choice, path: steps.treat.params.winmax, values: [1, 3, 5]}
  - {name: norm, type: choice, path: steps.normalise.params.hi, values: [100, 10]}
  - {name: weights, type: weights, noise: {1: 0.25, 2: 0.25}, n_sets: 20}
  - {name: drop, type: exclude, candidates: [a, e]}
"""


def grid_data(n: int, seed: int = 0) -> pd.DataFrame:
    """Skewed synthetic indicators for ``n`` units (grid cells), with gaps."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in "abcde":
        x = rng.lognormal(mean=1.0, sigma=1.2, size=n)
        x[rng.random(n) < 0.05] = np.nan
        frames.append(pd.DataFrame({"unit": [f"C{i:07d}" for i in range(n)], "indicator": k, "value": x}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=40) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def assert_same_result(a, b) -> None:
    assert a.datasets.keys() == b.datasets.keys()
    for k in a.datasets:
        pd.testing.assert_frame_equal(a.datasets[k], b.datasets[k], check_exact=True)
    pd.testing.assert_frame_equal(a.ranks, b.ranks, check_exact=True)
    for p in a.weights:
        pd.testing.assert_series_equal(a.weights[p], b.weights[p], check_exact=True)
    assert [r.details for r in a.log] == [r.details for r in b.log]


class Recording(SerialExecutor):
    """A cluster stand-in that runs every task here and records what it was sent."""

    serial = False

    def __init__(self) -> None:
        self.calls: list[str] = []

    def map_unordered(self, fn, items, **kwargs):
        self.calls.append(fn.__name__)
        yield from super().map_unordered(fn, items, **kwargs)

    @property
    def n_workers(self) -> int:
        return 2


def test_distributed_build_equals_single_process(client):
    spec = IndexSpec.from_yaml(SPEC)
    data = grid_data(5000)
    one = build(spec, data)
    many = build(spec, data, scheduler=client)
    assert_same_result(one, many)
    assert one.scores["top"].notna().all()


def test_matrix_engine_sends_no_data_to_the_cluster(monkeypatch):
    # its steps cost less than moving the matrix (see the benchmark): built here
    spec = IndexSpec.from_yaml(SPEC)
    data = grid_data(5000)
    monkeypatch.setattr(pipeline, "UNITS_PER_TASK", 700)
    ex = Recording()
    assert_same_result(build(spec, data), build(spec, data, scheduler=ex))
    assert ex.calls == []


def test_dataframe_builder_splits_its_work_across_tasks(client, monkeypatch):
    # the DataFrame builder (what the matrix engine does not run) sends per-indicator
    # kernels and row blocks of the aggregation; the same numbers as in one process
    spec = IndexSpec.from_yaml(SPEC)
    data = grid_data(3000, seed=2)
    monkeypatch.setattr(pipeline, "UNITS_PER_TASK", 700)
    one = pipeline._Builder(spec, pipeline._tidy(data), None).run()
    ex = Recording()
    rec = pipeline._Builder(spec, pipeline._tidy(data), None, ex).run()
    assert "_column_calls" in ex.calls and "_aggregate_rows" in ex.calls
    assert_same_result(one, rec)
    with executor_for(client) as dask:
        assert_same_result(one, pipeline._Builder(spec, pipeline._tidy(data), None, dask).run())


def test_distributed_build_falls_back_for_non_row_local_methods(client, monkeypatch):
    spec = IndexSpec.from_yaml(SPEC).with_changes({"steps.aggregate.method": "copeland",
                                                    "steps.aggregate.overrides": {}})
    data = grid_data(1500, seed=3)
    monkeypatch.setattr(pipeline, "UNITS_PER_TASK", 400)
    assert_same_result(build(spec, data), build(spec, data, scheduler=client))


def test_distributed_errors_are_the_users_errors(client, monkeypatch):
    spec = IndexSpec.from_yaml(SPEC).with_changes({"steps.normalise.params.lo": 0})
    data = grid_data(1200, seed=1)
    monkeypatch.setattr(pipeline, "UNITS_PER_TASK", 500)
    with pytest.raises(HumsecError, match="geometric mean") as serial:
        build(spec, data)
    with pytest.raises(HumsecError, match="geometric mean") as remote:
        build(spec, data, scheduler=client)
    assert "aggregating 'p" in str(remote.value) and "aggregating 'p" in str(serial.value)


def test_distributed_uncertainty_sensitivity_and_replay_match(client):
    spec = IndexSpec.from_yaml(SPEC)
    data = grid_data(400, seed=2)
    u = UncertaintySpec.from_yaml(UNC, spec=spec)
    one = uncertainty_analysis(spec, data, u, n=120, seed=9)
    many = uncertainty_analysis(spec, data, u, n=120, seed=9, scheduler=client)
    np.testing.assert_array_equal(one.scores, many.scores)
    np.testing.assert_array_equal(one.ranks, many.ranks)
    pd.testing.assert_frame_equal(one.runs, many.runs)
    pd.testing.assert_frame_equal(one.summary(), many.summary())
    rp = replay(spec, data, u, one.runs.drop(columns=["status", "error", "weights"]), scheduler=client)
    np.testing.assert_array_equal(rp.scores, one.scores)
    s1 = sensitivity_analysis(spec, data, u, n=16, seed=4, num_resamples=50)
    s2 = sensitivity_analysis(spec, data, u, n=16, seed=4, num_resamples=50, scheduler=client)
    pd.testing.assert_frame_equal(s1.indices, s2.indices)


def test_executor_for_rejects_bad_schedulers():
    with executor_for(None) as ex:
        assert isinstance(ex, SerialExecutor)
        assert ex.map(lambda x, k: x * k, [1, 2, 3], k=2) == [2, 4, 6]
    for bad, msg in [("local:x", "whole number"), ("local:0", "at least 1"), (42, "expected 'local'")]:
        with pytest.raises(HumsecError, match=msg):
            with executor_for(bad):
                pass


def test_local_cluster_by_name():
    spec = IndexSpec.from_yaml(SPEC)
    data = grid_data(300, seed=5)
    u = UncertaintySpec.from_yaml(UNC, spec=spec)
    one = uncertainty_analysis(spec, data, u, n=30, seed=1)
    many = uncertainty_analysis(spec, data, u, n=30, seed=1, scheduler="local:1")
    np.testing.assert_array_equal(one.scores, many.scores)


def test_cli_scheduler_option_gives_the_same_output(tmp_path, capsys):
    from humsec.cli.main import main

    spec_f, data_f, unc_f = tmp_path / "spec.yaml", tmp_path / "data.csv", tmp_path / "u.yaml"
    spec_f.write_text(SPEC)
    grid_data(250, seed=7).to_csv(data_f, index=False)
    unc_f.write_text(UNC)
    outputs = []
    for extra in ([], ["--scheduler", "local:1"]):
        capsys.readouterr()
        assert main(["index", "build", str(spec_f), "-d", str(data_f), "--format", "csv", *extra]) == 0
        built = capsys.readouterr().out
        assert main(["index", "uncertainty", str(spec_f), "-d", str(data_f), "-u", str(unc_f), "-n", "20",
                     "-s", "3", "--format", "csv", "-q", *extra]) == 0
        outputs.append((built, capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert outputs[0][0].startswith("unit,year,node,score,rank")
    assert main(["index", "build", str(spec_f), "-d", str(data_f), "--scheduler", "local:zero"]) == 2
    assert "whole number of workers" in capsys.readouterr().err


def test_wide_input_builds_the_same_index_as_tidy_input():
    """A units x indicators table (the natural form for grid cells) gives exactly the
    result of the same data in tidy form — also through uncertainty analysis and
    regenerate — without the tidy round trip."""
    from humsec.index.pipeline import regenerate

    spec = IndexSpec.from_yaml(SPEC)
    tidy = grid_data(800, seed=11)
    wide = tidy.pivot(index="unit", columns="indicator", values="value").reset_index()
    wide = wide.sample(frac=1.0, random_state=1)  # row order must not matter
    a, b = build(spec, tidy), build(spec, wide)
    assert_same_result(a, b)
    assert_same_result(regenerate(b), b)
    c = regenerate(b, {"steps.aggregate.method": "harmonic", "steps.aggregate.overrides": {}})
    assert not c.scores["top"].equals(b.scores["top"])
    u = UncertaintySpec.from_yaml(UNC, spec=spec)
    np.testing.assert_array_equal(uncertainty_analysis(spec, tidy, u, n=20, seed=2).scores,
                                  uncertainty_analysis(spec, wide, u, n=20, seed=2).scores)


def test_wide_input_errors_are_located():
    spec = IndexSpec.from_yaml(SPEC)
    wide = grid_data(20).pivot(index="unit", columns="indicator", values="value").reset_index()
    with pytest.raises(HumsecError, match="needs indicator\\(s\\) absent from the data: e"):
        build(spec, wide.drop(columns="e"))
    dup = pd.concat([wide, wide.head(1)])
    with pytest.raises(HumsecError, match="duplicate unit 'C0000000'"):
        build(spec, dup)
    bad = wide.astype({"a": object})
    bad.loc[3, "a"] = "n/a?"
    with pytest.raises(HumsecError, match="column 'a', unit C0000003: 'n/a\\?' is not a number"):
        build(spec, bad)
    with pytest.raises(HumsecError, match="one cross-section"):
        build(spec, wide, year=2020)
    two = pd.concat([wide.assign(year=2019), wide.assign(year=2020)])
    with pytest.raises(HumsecError, match="must hold one year"):
        build(spec, two)


def test_cli_reads_wide_files_with_located_errors(tmp_path, capsys):
    from humsec.cli.main import main
    from humsec.index.io import read_index_data

    spec_f = tmp_path / "spec.yaml"
    spec_f.write_text(SPEC)
    tidy = grid_data(60, seed=4)
    wide = tidy.pivot(index="unit", columns="indicator", values="value").reset_index()
    wide_f, tidy_f = tmp_path / "cells.csv", tmp_path / "tidy.csv"
    wide.to_csv(wide_f, index=False)
    tidy.to_csv(tidy_f, index=False)
    got = read_index_data(wide_f)
    assert list(got.columns) == ["unit", "a", "b", "c", "d", "e"] and len(got) == 60
    outs = []
    for f in (wide_f, tidy_f):
        capsys.readouterr()
        assert main(["index", "build", str(spec_f), "-d", str(f), "--format", "csv"]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    bad = tmp_path / "bad.csv"
    bad.write_text("unit,a,b,c,d,e\nX1,1,2,3,4,5\nX1,2,3,abc,5,6\n")
    assert main(["index", "build", str(spec_f), "-d", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, row 3, column 'unit': duplicate unit 'X1'" in err
    assert "row 3, column 'c': non-numeric value 'abc'" in err


def test_keep_only_some_data_sets():
    from humsec.index.pipeline import StepCache, regenerate

    spec = IndexSpec.from_yaml(SPEC)
    data = grid_data(300, seed=8)
    full = build(spec, data)
    lean = build(spec, data, keep=["Normalised"])
    assert set(lean.datasets) == {"Normalised", "Aggregated"}
    pd.testing.assert_frame_equal(lean.scores, full.scores, check_exact=True)
    pd.testing.assert_frame_equal(lean.ranks, full.ranks, check_exact=True)
    assert set(regenerate(lean).datasets) == set(full.datasets)  # the log rebuilds everything
    with pytest.raises(HumsecError, match="no data set 'Treated'"):
        lean.dataset("Treated")
    with pytest.raises(HumsecError, match="unknown data set\\(s\\) Cooked"):
        build(spec, data, keep=["Cooked"])
    # a step cache never hands a lean build's state to a full one (or back)
    cache = StepCache()
    a = build(spec, data, keep=["Raw"], cache=cache)
    b = build(spec, data, cache=cache)
    assert set(a.datasets) == {"Raw", "Aggregated"} and set(b.datasets) == set(full.datasets)


class Scattering(Recording):
    """A cluster stand-in that sends the shared object the way Dask does (cloudpickled,
    one copy for every task) and keeps the copy to look at afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.copies: list = []

    def share(self, obj):
        import cloudpickle

        self.copies.append(cloudpickle.loads(cloudpickle.dumps(obj)))
        return self.copies[-1]


def test_a_step_cache_travels_empty_and_is_shared_by_a_workers_tasks():
    """The scattered design carries one prefix cache per worker: it arrives empty (the
    entries stay behind), binds to the worker's copy of the data, and later tasks reuse
    what earlier ones computed - with the single-process numbers."""
    import pickle

    from humsec.index.pipeline import StepCache

    spec = IndexSpec.from_yaml(SPEC)
    data = grid_data(300, seed=3)
    filled = StepCache(max_entries=17)
    build(spec, data, cache=filled)
    assert filled._store
    copy = pickle.loads(pickle.dumps(filled))
    assert copy.max_entries == 17 and not copy._store and copy.hits == 0
    build(spec, data.copy(), cache=copy)  # binds to other data: it was never bound on arrival
    # runs that differ in the treatment share the imputed prefix across groups
    u = UncertaintySpec.from_yaml(UNC, spec=spec)
    one = uncertainty_analysis(spec, data, u, n=40, seed=5)
    ex = Scattering()
    many = uncertainty_analysis(spec, data, u, n=40, seed=5, scheduler=ex)
    np.testing.assert_array_equal(one.scores, many.scores)
    np.testing.assert_array_equal(one.ranks, many.ranks)
    (shared,) = ex.copies
    assert shared.cache is not None and shared.cache.hits > 0
    assert shared.cache._data_id == id(shared.source)


def test_one_step_cache_shared_by_threads_gives_uncached_results():
    from concurrent.futures import ThreadPoolExecutor

    from humsec.index.pipeline import StepCache

    spec = IndexSpec.from_yaml(SPEC)
    data = grid_data(500, seed=4)
    variants = [spec.with_changes({"steps.treat.params.winmax": w, "steps.normalise.params.hi": h})
                for w in (1, 3, 5) for h in (10, 100)] * 3
    cache = StepCache(max_entries=4)  # small: entries are evicted while others read
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda s: build(s, data, cache=cache), variants))
    for s, r in zip(variants, got):
        assert_same_result(r, build(s, data))
    assert cache.hits > 0


def test_workers_allocate_index_arrays_like_a_plain_process():
    """Dask's nanny freezes glibc's mmap threshold at 128 KiB (MALLOC_TRIM_THRESHOLD_),
    which made every kernel temporary a fresh mmap and worker tasks 1.5-2x slower; the
    executor gives workers glibc's large-array thresholds back, so a 4 MiB array comes
    from the reusable heap again."""
    import sys

    from humsec.index.scale import DaskExecutor, tune_malloc_for_arrays

    if not sys.platform.startswith("linux") or not tune_malloc_for_arrays():
        pytest.skip("glibc mallopt is Linux/glibc only")

    def in_heap() -> bool:
        import numpy as np

        a = np.ones(2**19)  # 4 MiB
        addr = a.ctypes.data
        with open("/proc/self/maps") as f:
            for line in f:
                if line.rstrip().endswith("[heap]"):
                    lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                    return lo <= addr < hi
        return False

    # a cluster of its own: the module's cluster has been tuned by the tests before this
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        DaskExecutor(client, tune_workers=False)  # leaves a shared cluster's workers alone
        assert not any(client.run(in_heap).values())  # the nanny's setting, as Dask starts workers
        DaskExecutor(client)
        assert all(client.run(in_heap).values())
