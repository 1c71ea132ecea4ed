"""kill -9 during a commitment edit and a budget import (#22): 0 lost or partial records.

A child process does the work against the oversight database and is killed with SIGKILL
(no clean-up, no ``finally``) either just before its K-th SQL statement — K at every kind
of statement boundary (the record insert, the audit insert, each budget line, COMMIT) plus
seeded random ones — or after a random delay. Afterwards the database must open, hold
every edit the child reported as committed, hold no half of an edit or import (a record
without its audit row, an import with part of its lines), and accept new writes.
The kill hook wraps the connection in the child only; nothing in humsec changes.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from humsec.data.importer import valid_iso3_codes
from humsec.model.catalogue import Catalogue
from humsec.oversight.db import OversightDB
from humsec.oversight.io import read_commitments

TODAY = dt.date(2026, 1, 1)
N_EDITS = 4
N_LINES = 120

CHILD = textwrap.dedent(
    """
    import datetime as dt, os, signal, sys
    from contextlib import contextmanager
    from humsec.oversight.db import OversightDB

    KILL_AT = int(os.environ.get("KILL_AT", "0"))
    calls = []

    class Con:
        def __init__(self, con):
            self._con = con
        def execute(self, sql, *a, **k):
            calls.append(" ".join(str(sql).split()[:3]))
            if len(calls) == KILL_AT:
                os.kill(os.getpid(), signal.SIGKILL)
            return self._con.execute(sql, *a, **k)
        def __getattr__(self, name):
            return getattr(self._con, name)

    class DB(OversightDB):
        @contextmanager
        def connect(self):
            with super().connect() as con:
                yield Con(con)

    mode, path, token, arg = sys.argv[1:5]
    db = DB(path)
    print("start", flush=True)
    if mode == "edit":
        from humsec.model.catalogue import Catalogue
        cat = Catalogue.default()
        for i in range(int(sys.argv[5])):
            v = db.update_commitment(token, arg, {"title": f"edit {i}"}, catalogue=cat,
                                     today=dt.date(2026, 1, 1))
            print(f"ok {i} {v.version}", flush=True)
    else:
        from humsec.oversight.budget import read_budget
        bf = read_budget(arg, today=dt.date(2026, 1, 1), known_units=frozenset({"PHL"}))
        iid, ids = db.add_budget(token, bf.lines, file_name=bf.name, sha256=bf.sha256)
        print(f"ok {iid} {len(ids)}", flush=True)
    print("calls " + "|".join(calls), flush=True)
    """
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """An oversight database with the shipped commitments and a fresh budget file."""
    d = tmp_path_factory.mktemp("oversight")
    db = OversightDB(d / "oversight.duckdb")
    db.initialise()
    token = db.init("admin")
    inst, items = read_commitments("appf2021", catalogue=Catalogue.default(), today=TODAY, unit="KEN",
                                   known_units=valid_iso3_codes())
    db.import_commitments(token, inst, items)
    script = d / "child.py"
    script.write_text(CHILD)
    budget = d / "budget.csv"
    rows = [f"Programme {i},Ministry {i % 7},{1000 * (i + 1)},2024,Line {i},PHP,PHL" for i in range(N_LINES)]
    budget.write_text("programme,ministry,amount,year,description,currency,country\n"
                      + "\n".join(rows) + "\n", encoding="utf-8")
    return d, token, items[0].id, script, budget


def _fresh(pristine, tmp_path):
    d, token, cid, script, budget = pristine
    tmp_path.mkdir(parents=True, exist_ok=True)
    for f in d.glob("oversight.duckdb*"):
        shutil.copy(f, tmp_path / f.name)
    return OversightDB(tmp_path / "oversight.duckdb"), token, cid, script, budget


def _run(script, args, kill_at=0, *, kill_after=None):
    env = dict(os.environ, KILL_AT=str(kill_at))
    proc = subprocess.Popen([sys.executable, str(script), *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after is not None:
        first = proc.stdout.readline()
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, [first.strip(), *out.splitlines()], err
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out.splitlines(), err


def _kill_points(calls: list[str], wanted: tuple[str, ...], rng, n_random: int) -> list[int]:
    """1-based statement numbers: the first and last of each wanted kind (the middle one
    too for "INSERT INTO BUDGET_LINES"), plus random ones."""
    pts = set()
    for w in wanted:
        hits = [i + 1 for i, c in enumerate(calls) if c.upper().startswith(w)]
        if hits:
            pts.update({hits[0], hits[-1]})
            if w.endswith("LINES"):
                pts.add(hits[len(hits) // 2])
    pts.update(int(k) for k in rng.integers(1, len(calls) + 1, n_random))
    return sorted(pts)


def _check_commitment(db, token, cid, printed):
    """Versions contiguous and whole, every reported edit present, an audit row per version."""
    hist = db.history(token, "commitment", cid)
    versions = [v.version for v in hist]
    assert versions == list(range(1, len(versions) + 1))
    titles = [v.value.title for v in hist]  # each record parses as a whole Commitment
    assert titles[1:] == [f"edit {i}" for i in range(len(titles) - 1)]  # in order, none skipped
    done = [(int(ln.split()[1]), int(ln.split()[2])) for ln in printed if ln.startswith("ok ")]
    for i, ver in done:
        assert titles[ver - 1] == f"edit {i}"  # a reported edit is never lost
    assert len(done) <= len(versions) - 1 <= len(done) + 1  # at most the one in flight
    audit = db.audit_log(token, entity="commitment", entity_id=cid)
    assert sorted(audit["version"].astype(int).tolist()) == versions  # no record without audit
    return len(versions)


def _check_budget(db, token, printed):
    """No import, or one import with all its lines and its audit row."""
    lines = db.budget_lines(token)
    audit = db.audit_log(token, entity="budget")
    assert len(lines) in (0, N_LINES), len(lines)
    assert len(audit) == (1 if len(lines) else 0)
    if any(ln.startswith("ok ") for ln in printed):
        assert len(lines) == N_LINES  # reported as imported: all there
    if len(lines):
        assert lines["import_id"].nunique() == 1
        assert sorted(lines["row"].astype(int)) == list(range(2, N_LINES + 2))
    return len(lines)


def test_kill_at_every_statement_kind_of_a_commitment_edit(pristine, tmp_path):
    db, token, cid, script, _ = _fresh(pristine, tmp_path / "count")
    rc, out, err = _run(script, ["edit", db.path, token, cid, N_EDITS])
    assert rc == 0, err
    assert _check_commitment(db, token, cid, out) == 1 + N_EDITS
    calls = out[-1].removeprefix("calls ").split("|")
    points = _kill_points(calls, ("INSERT INTO RECORDS", "INSERT INTO AUDIT", "COMMIT"),
                          np.random.default_rng(22), 2)
    assert len(points) >= 6
    for k in points:
        d = tmp_path / f"k{k}"
        db, token, cid, script, _ = _fresh(pristine, d)
        rc, out, err = _run(script, ["edit", db.path, token, cid, N_EDITS], kill_at=k)
        assert rc == -signal.SIGKILL, (k, calls[k - 1], err)
        _check_commitment(db, token, cid, out)
        v = db.update_commitment(token, cid, {"title": "after the kill"}, catalogue=Catalogue.default(),
                                 today=TODAY)  # and the database takes writes again
        assert v.version == len(db.history(token, "commitment", cid))


def test_kill_at_every_statement_kind_of_a_budget_import(pristine, tmp_path):
    db, token, _, script, budget = _fresh(pristine, tmp_path / "count")
    rc, out, err = _run(script, ["budget", db.path, token, budget])
    assert rc == 0, err
    assert _check_budget(db, token, out) == N_LINES
    calls = out[-1].removeprefix("calls ").split("|")
    points = _kill_points(calls, ("INSERT INTO BUDGET_IMPORTS", "INSERT INTO BUDGET_LINES",
                                  "INSERT INTO AUDIT", "COMMIT"), np.random.default_rng(22), 2)
    assert len(points) >= 6
    for k in points:
        d = tmp_path / f"k{k}"
        db, token, _, script, budget = _fresh(pristine, d)
        rc, out, err = _run(script, ["budget", db.path, token, budget], kill_at=k)
        assert rc == -signal.SIGKILL, (k, calls[k - 1], err)
        n = _check_budget(db, token, out)
        if n == 0:  # nothing half-stored: the same file imports cleanly afterwards
            rc, out, err = _run(script, ["budget", db.path, token, budget])
            assert rc == 0, err
            assert _check_budget(db, token, out) == N_LINES


@pytest.mark.parametrize("mode", ["edit", "budget"])
def test_kill_at_random_times(pristine, tmp_path, mode):
    """Timing-based kill -9 (no hook): whatever the moment, the state is whole."""
    rng = np.random.default_rng(7)
    for j, delay in enumerate(rng.uniform(0.0, 0.6, 3)):
        d = tmp_path / f"t{j}"
        db, token, cid, script, budget = _fresh(pristine, d)
        args = ["edit", db.path, token, cid, 50] if mode == "edit" else ["budget", db.path, token, budget]
        rc, out, err = _run(script, args, kill_after=float(delay))
        assert out[0] == "start", err
        if mode == "edit":
            _check_commitment(db, token, cid, out)
        else:
            _check_budget(db, token, out)
