"""Store: versioned snapshots, round-trips, crash safety, concurrency."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from humsec.data.store import FAULT_ENV, Store
from humsec.errors import HumsecError
from humsec.model.panel import Panel, Provenance

PROV = Provenance(source="test", edition="1", accessed=dt.date(2026, 1, 1), licence="CC0")


def make_panel(n_units=5, years=(2000, 2001), inds=("a", "b"), seed=0) -> Panel:
    rng = np.random.default_rng(seed)
    rows = [
        {"unit": u, "year": y, "indicator": i, "value": float(rng.normal())}
        for u in ["KEN", "FRA", "JPN", "BRA", "IND", "USA", "CHN"][:n_units]
        for y in years
        for i in inds
    ]
    return Panel(pd.DataFrame(rows), {i: PROV for i in inds})


def test_save_and_load_roundtrip(settings):
    store = Store.open(settings)
    p = make_panel()
    snap, created = store.save_panel("mine", p)
    assert created and snap.ref == "mine@1" and snap.n_obs == len(p)
    back = store.load_panel("mine")
    assert back == p
    assert back.provenance["a"].content_hash == p.provenance["a"].content_hash
    assert len(p.provenance["a"].content_hash) == 64


def test_versions_are_immutable_and_unchanged_is_not_duplicated(settings):
    store = Store.open(settings)
    p1, p2 = make_panel(seed=1), make_panel(seed=2)
    s1, _ = store.save_panel("mine", p1)
    s_same, created = store.save_panel("mine", p1)
    assert not created and s_same.id == s1.id
    s2, created = store.save_panel("mine", p2)
    assert created and s2.version == 2
    assert store.load_panel("mine@1") == p1  # old version intact
    assert store.load_panel("mine") == p2
    with pytest.raises(HumsecError, match="no version 7"):
        store.resolve("mine@7")
    with pytest.raises(HumsecError, match="no dataset named"):
        store.resolve("other")


def test_invalid_dataset_name_rejected(settings):
    store = Store.open(settings)
    with pytest.raises(HumsecError, match="invalid dataset name"):
        store.save_panel("../../etc/passwd", make_panel())


def test_current_panel_layers_latest_dataset_per_indicator(settings):
    store = Store.open(settings)
    base = make_panel(inds=("a", "b"), seed=1)
    over = make_panel(n_units=2, inds=("b",), seed=9)
    store.save_panel("base", base)
    store.save_panel("over", over)
    panel, origin = store.current_panel()
    assert origin == {"a": "base@1", "b": "over@1"}
    assert set(panel.filter(indicators=["b"]).units) == {"KEN", "FRA"}


keys = st.sampled_from(["KEN", "FRA", "JPN", "XKX", "KEN-01"])
obs = st.tuples(keys, st.integers(1900, 2100), st.sampled_from(["x", "y_z", "a1"]),
                st.sampled_from(["_T", "F", "M"]), st.sampled_from(["_T", "0-4", "65+"]),
                st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64),
                          st.just(float("nan"))))


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(obs, min_size=1, max_size=40, unique_by=lambda t: t[:5]))
def test_hypothesis_panel_roundtrip_through_store(tmp_path_factory, rows):
    home = tmp_path_factory.mktemp("h")
    store = Store(home / "db.duckdb")
    store.initialise()
    df = pd.DataFrame(rows, columns=["unit", "year", "indicator", "sex", "age", "value"])
    p = Panel(df, {i: PROV for i in df["indicator"].unique()})
    store.save_panel("prop", p)
    back = store.load_panel("prop")
    assert back == p
    a, b = p.data, back.data
    pd.testing.assert_frame_equal(a, b)


WRITER = textwrap.dedent(
    """
    import sys, datetime as dt
    import numpy as np, pandas as pd
    from humsec.data.store import Store
    from humsec.model.panel import Panel, Provenance
    n = int(sys.argv[2])
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"unit": "KEN", "year": np.arange(n) % 200 + 1900,
                       "indicator": [f"i{k // 200}" for k in range(n)], "value": rng.normal(size=n)})
    p = Panel(df, {})
    store = Store(sys.argv[1]); store.initialise()
    print("writing", flush=True)
    store.save_panel("big", p)
    print("done", flush=True)
    """
)


@pytest.mark.parametrize("point", ["after_observations", "before_commit"])
def test_kill_mid_import_leaves_previous_state(settings, tmp_path, point):
    store = Store.open(settings)
    before = make_panel(seed=3)
    store.save_panel("big", before)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = dict(os.environ, **{FAULT_ENV: point})
    proc = subprocess.run([sys.executable, str(script), str(store.path), "20000"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr  # killed by SIGKILL mid-transaction
    assert "writing" in proc.stdout and "done" not in proc.stdout
    reopened = Store(store.path)
    reopened.initialise()
    assert [s.ref for s in reopened.snapshots("big")] == ["big@1"]
    assert reopened.load_panel("big") == before
    # and the store still accepts writes afterwards
    snap, created = reopened.save_panel("big", make_panel(seed=4))
    assert created and snap.version == 2


def test_kill_at_random_time_never_leaves_partial_snapshot(settings, tmp_path):
    """A real (timing-based) kill -9 while a large import runs."""
    import signal
    import time

    store = Store.open(settings)
    before = make_panel(seed=5)
    store.save_panel("big", before)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(store.path), "400000"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    reopened = Store(store.path)
    reopened.initialise()
    snaps = reopened.snapshots("big")
    assert [s.version for s in snaps] in ([1], [1, 2])
    assert reopened.load_panel("big@1") == before
    if len(snaps) == 2:  # the writer won the race: the new snapshot must be complete
        assert reopened.load_panel("big@2").data.shape[0] == 400000


def test_second_writer_gets_clear_busy_error(settings, tmp_path):
    store = Store.open(settings)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
         "time.sleep(30)", str(store.path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        from humsec.data.store import StoreBusyError

        store.lock_timeout = 1.0
        with pytest.raises(StoreBusyError, match=r"in use by another humsec process \(waited 1 s\)"):
            store.save_panel("x", make_panel())
    finally:
        holder.kill()
        holder.wait()


def test_a_short_lock_is_waited_for_not_failed(settings):
    """A reader or writer queues behind another process's short write instead of failing."""
    store = Store.open(settings)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
         "time.sleep(1.5); c.close()", str(store.path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        store.lock_timeout = 20.0
        snap, _ = store.save_panel("x", make_panel())  # waits for the holder, then writes
        assert store.load_panel(snap.ref) == make_panel()
    finally:
        holder.kill()
        holder.wait()


def test_current_panel_union_keeps_rows_and_hashes(settings):
    """The current panel is assembled from whole indicators of several snapshots: it must
    equal a panel built (and hashed) from scratch from the same rows."""
    from humsec.data.store import Store
    from humsec.model.panel import Panel, Provenance

    prov = Provenance(source="s", edition="1", accessed="2024-01-01", licence="CC0")
    a = Panel(pd.DataFrame({"unit": ["KEN", "UGA"], "year": [2020, 2020], "indicator": ["x", "x"],
                            "value": [1.0, 2.0]}), {"x": prov})
    b = Panel(pd.DataFrame({"unit": ["KEN", "KEN"], "year": [2019, 2020], "indicator": ["y", "x"],
                            "value": [3.0, 9.0], "sex": ["F", "_T"]}), {"x": prov, "y": prov})
    store = Store.open(settings)
    store.save_panel("a", a, kind="import", origin="test")
    store.save_panel("b", b, kind="import", origin="test")
    cur, refs = store.current_panel()
    assert refs == {"x": "b@1", "y": "b@1"}  # the newer snapshot supplies x wholesale
    again = Panel(cur.data, {k: prov for k in cur.indicators})
    assert cur == again and cur.provenance == again.provenance
    assert cur.data["value"].tolist() == [3.0, 9.0]


@hsettings(max_examples=40, deadline=None)
@given(st.lists(obs, min_size=1, max_size=40, unique_by=lambda t: t[:5]),
       st.sets(st.sampled_from(["x", "y_z", "a1"])), st.sets(st.sampled_from(["KEN", "FRA", "XKX"])),
       st.booleans())
def test_filter_equals_a_panel_built_from_the_subset(rows, inds, units, totals):
    """Panel.filter skips re-validation: its rows, provenance hashes and content hash are
    those of a panel built (validated and hashed) from the same rows; select() gives the rows."""
    df = pd.DataFrame(rows, columns=["unit", "year", "indicator", "sex", "age", "value"])
    p = Panel(df, {i: PROV for i in df["indicator"].unique()})
    kw = {"indicators": sorted(inds) or None, "units": sorted(units) or None, "totals_only": totals}
    got = p.filter(**kw)
    sub = got.data
    want = Panel(sub, {k: v for k, v in p.provenance.items() if k in set(sub["indicator"])})
    assert got == want and got.content_hash() == want.content_hash()
    assert dict(got.provenance) == dict(want.provenance)
    pd.testing.assert_frame_equal(p.select(**kw), sub)
    with pytest.raises(ValueError):  # still immutable
        got._data["value"].to_numpy()[:1] = 0.0


def test_unchanged_panel_can_update_the_snapshot_annotation(settings):
    """A release whose observations did not change (only, say, its outlines) is not stored
    again, but its snapshot then says which release it stands for - otherwise the
    default would be reinstalled on every use."""
    store = Store(settings.db_path)
    store.initialise()
    p = make_panel()
    snap, created = store.save_panel("default", p, kind="default", meta={"release_version": "a"})
    assert created and snap.meta["release_version"] == "a"
    same, created = store.save_panel("default", p, kind="default", meta={"release_version": "b"})
    assert not created and same.meta["release_version"] == "a"  # not asked to update: untouched
    same, created = store.save_panel("default", p, kind="default", meta={"release_version": "b"},
                                     update_meta=True)
    assert not created and same.version == snap.version and same.meta["release_version"] == "b"
    assert store.resolve("default").meta["release_version"] == "b"
    assert store.load_panel("default") == p  # the observations are untouched
    assert len(store.snapshots("default")) == 1
