"""Oversight: roles, tokens (hashed, revocable), audit of every write, and concurrent
writers that never lose a change."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import textwrap
import threading

import duckdb
import pytest

from humsec.model.catalogue import Catalogue
from humsec.oversight.auth import AuthError, PermissionDenied
from humsec.oversight.db import ConflictError, OversightDB
from humsec.oversight.models import BudgetLine, Instrument, Tag

CAT = Catalogue.default()
TODAY = dt.date(2026, 3, 1)


def commitment(cid="c1", title="Child survival"):
    return {"id": cid, "instrument": "i1", "title": title,
            "targets": [{"key": "t1", "indicator": "u5mr", "unit": "KEN", "baseline_year": 2015,
                         "target_value": 25, "deadline": 2030}]}


@pytest.fixture()
def env(settings):
    db = OversightDB.open(settings)
    admin = db.init("root", name="Clerk of the House")
    db.add_user(admin, "eddie", role="editor", name="Eddie Editor")
    db.add_user(admin, "vera", role="viewer")
    editor = db.create_token(admin, "eddie", label="laptop")
    viewer = db.create_token(admin, "vera")
    db.put_instrument(editor, Instrument(id="i1", kind="law", title="Child Health Act"))
    return db, admin, editor, viewer


def n_audit(db):
    with db.connect() as con:
        return con.execute("SELECT count(*) FROM audit").fetchone()[0]


def test_init_once_and_identities(env):
    db, admin, editor, viewer = env
    with pytest.raises(Exception, match="already initialised"):
        db.init("other")
    assert db.authenticate(admin).role == "admin"
    assert db.authenticate(editor).name == "Eddie Editor"
    assert db.authenticate(viewer).role == "viewer"
    users = db.users(viewer)
    assert list(users["user_id"]) == ["eddie", "root", "vera"]


def test_viewer_cannot_write_and_nothing_is_written(env):
    db, admin, editor, viewer = env
    before = n_audit(db)
    attempts = [
        lambda: db.add_commitment(viewer, commitment(), catalogue=CAT, today=TODAY),
        lambda: db.put_instrument(viewer, Instrument(id="i2", kind="law", title="x")),
        lambda: db.add_user(viewer, "mallory", role="admin"),
        lambda: db.create_token(viewer, "vera"),
        lambda: db.record_status(viewer, []),
        lambda: db.save_tags(viewer, {}),
        lambda: db.review(viewer, 1, None),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied, match="needs the (editor|admin) role"):
            attempt()
    assert n_audit(db) == before
    assert db.current(viewer) == []      # but a viewer can read
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        db.add_user(editor, "mallory", role="admin")   # editors do not manage users
    with pytest.raises(PermissionDenied):
        db.create_token(editor, "eddie")


def test_editor_writes_and_every_write_is_audited(env):
    db, admin, editor, viewer = env
    log0 = db.audit_log(viewer)
    # init: user + token; 2 users; 2 tokens; the instrument
    assert list(log0["action"]) == ["init", "create", "create", "create", "create", "create", "create"]
    assert list(log0["entity"]) == ["user", "token", "user", "user", "token", "token", "instrument"]
    db.add_commitment(editor, commitment(), catalogue=CAT, today=TODAY)
    db.update_commitment(editor, "c1", {"responsible": "Ministry of Health"}, catalogue=CAT, today=TODAY)
    db.add_note(editor, "c1", "asked the minister", today=TODAY)
    db.set_user(admin, "vera", role="editor")
    log = db.audit_log(viewer).iloc[len(log0):]
    assert list(log["action"]) == ["create", "update", "note", "update"]
    assert list(log["actor"]) == ["eddie", "eddie", "eddie", "root"]
    assert log["token_id"].notna().all()
    assert '"responsible": ""' in log["before"].iloc[1] and "Ministry of Health" in log["after"].iloc[1]
    assert '"role": "viewer"' in log["before"].iloc[3] and '"role": "editor"' in log["after"].iloc[3]
    assert log["changed_at"].is_monotonic_increasing
    assert db.authenticate(viewer).role == "editor"   # role change takes effect at once


def test_revoked_and_bad_tokens_fail(env):
    db, admin, editor, viewer = env
    token_id = editor.split("_")[1]
    second = db.create_token(admin, "eddie", label="phone")
    db.revoke_token(admin, token_id)
    with pytest.raises(AuthError, match="revoked"):
        db.authenticate(editor)
    with pytest.raises(AuthError, match="revoked"):
        db.add_commitment(editor, commitment(), catalogue=CAT, today=TODAY)
    assert db.authenticate(second).user_id == "eddie"   # the user's other token still works
    with pytest.raises(Exception, match="already revoked"):
        db.revoke_token(admin, token_id)
    tampered = second[:-4] + ("AAAA" if not second.endswith("AAAA") else "BBBB")
    for bad, msg in [(tampered, "unknown API token"), ("hsk_0123456789abcdef_" + "x" * 43, "unknown API token"),
                     ("letmein", "malformed"), ("", "no API token"), (None, "no API token")]:
        with pytest.raises(AuthError, match=msg):
            db.authenticate(bad)
    # a viewer may revoke its own token but not someone else's
    with pytest.raises(PermissionDenied):
        db.revoke_token(viewer, second.split("_")[1])
    db.revoke_token(viewer, viewer.split("_")[1])
    with pytest.raises(AuthError):
        db.authenticate(viewer)
    revoked = db.tokens(admin).set_index("token_id")["revoked"]
    assert revoked.notna().sum() == 2


def test_deactivated_user_cannot_act(env):
    db, admin, editor, viewer = env
    db.set_user(admin, "eddie", active=False)
    with pytest.raises(AuthError, match="deactivated"):
        db.authenticate(editor)


def test_tokens_never_stored_in_clear(env, settings):
    db, admin, editor, viewer = env
    tokens = [admin, editor, viewer]
    secrets_ = [t.split("_", 2)[2] for t in tokens]
    with duckdb.connect(str(db.path), read_only=True) as con:
        dump = []
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                dump.extend(str(v) for v in row)
        stored = dict(con.execute("SELECT token_id, secret_sha256 FROM tokens").fetchall())
    text = "\n".join(dump)
    for tok, sec in zip(tokens, secrets_):
        assert tok not in text and sec not in text
        assert stored[tok.split("_")[1]] == hashlib.sha256(sec.encode()).hexdigest()
    raw = b"".join(p.read_bytes() for p in db.path.parent.glob("oversight.duckdb*"))
    assert not any(sec.encode() in raw for sec in secrets_)


def test_stale_edit_is_refused_not_overwritten(env):
    db, admin, editor, viewer = env
    v = db.add_commitment(editor, commitment(), catalogue=CAT, today=TODAY)
    db.update_commitment(editor, "c1", {"title": "first"}, catalogue=CAT, today=TODAY, expected_version=v.version)
    with pytest.raises(ConflictError, match="someone changed it meanwhile"):
        db.update_commitment(editor, "c1", {"title": "second"}, catalogue=CAT, today=TODAY,
                             expected_version=v.version)
    assert db.get(viewer, "commitment", "c1").value.title == "first"


def test_tags_need_editor_and_review_is_audited(env, tmp_path):
    db, admin, editor, viewer = env
    line = BudgetLine(row=2, programme="Immunisation", ministry="Health", amount=10.0, year=2024,
                      country="KEN", currency="KES")
    _, ids = db.add_budget(editor, [line], file_name="b.csv", sha256="0" * 64)
    db.save_tags(editor, {ids[0]: Tag(sdg_targets=("3.b",), dimensions=("health",), source="rule")})
    with pytest.raises(PermissionDenied):
        db.review(viewer, ids[0])
    db.review(editor, ids[0])
    log = db.audit_log(viewer, entity="budget_line")
    assert list(log["action"]) == ["tag", "review"] and set(log["actor"]) == {"eddie"}


# ----------------------------------------------------------------------------- concurrency

WRITER = textwrap.dedent(
    """
    import datetime as dt, sys
    from humsec.model.catalogue import Catalogue
    from humsec.oversight.db import OversightDB
    path, token, tag, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    db = OversightDB(path, busy_timeout=60)
    cat = Catalogue.default()
    print("ready", flush=True)
    sys.stdin.readline()   # start together
    for i in range(n):
        db.add_note(token, "c1", f"{tag}{i}", today=dt.date(2026, 3, 1))
        db.update_commitment(token, "c1", {"responsible": f"{tag}{i}"}, catalogue=cat, today=dt.date(2026, 3, 1))
    print("done", flush=True)
    """
)


def _check_all_changes(db, token, tags, n):
    hist = db.history(token, "commitment", "c1")
    assert [h.version for h in hist] == list(range(1, 2 + 2 * n * len(tags)))
    notes = [x.text for x in hist[-1].value.notes]
    assert sorted(notes) == sorted(f"{t}{i}" for t in tags for i in range(n))   # no note lost
    responsibles = {h.value.responsible for h in hist}
    assert {f"{t}{i}" for t in tags for i in range(n)} <= responsibles        # no edit lost
    log = db.audit_log(token, entity="commitment", entity_id="c1")
    assert len(log) == len(hist)


def test_two_processes_editing_at_once_lose_nothing(env, tmp_path):
    db, admin, editor, viewer = env
    db.add_commitment(editor, commitment(), catalogue=CAT, today=TODAY)
    other = db.create_token(admin, "vera")   # vera is a viewer: make her an editor
    db.set_user(admin, "vera", role="editor")
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    n = 4
    procs = [subprocess.Popen([sys.executable, str(script), str(db.path), tok, tag, str(n)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for tok, tag in ((editor, "A"), (other, "B"))]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            assert "done" in out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    _check_all_changes(db, viewer, "AB", n)


def test_two_threads_with_own_connections_lose_nothing(env):
    db, admin, editor, viewer = env
    db.add_commitment(editor, commitment(), catalogue=CAT, today=TODAY)
    n, errors = 8, []
    start = threading.Barrier(2)

    def work(tag):
        try:
            mine = OversightDB(db.path)   # separate object, separate connections
            start.wait()
            for i in range(n):
                mine.add_note(editor, "c1", f"{tag}{i}", today=TODAY)
                mine.update_commitment(editor, "c1", {"responsible": f"{tag}{i}"}, catalogue=CAT, today=TODAY)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in "XY"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    _check_all_changes(db, viewer, "XY", n)
