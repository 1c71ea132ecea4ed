"""The oversight CLI end to end (init, users, tokens, commitments, budgets, report) and
the oversight report (HTML and PDF)."""

from __future__ import annotations

import io
import json
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import yaml

from humsec.cli.main import main
from humsec.oversight.align import hsi_history
from humsec.oversight.budget import read_budget
from humsec.oversight.db import OversightDB
from humsec.oversight.io import read_commitments
from humsec.oversight.status import commitment_progress, commitment_status
from humsec.oversight.tagging import TaggingRules, suggest_tags
from humsec.report.oversight import oversight_report

FIXTURE = Path(__file__).parent / "fixtures" / "oversight" / "budget_illustrative_phl.csv"


def appf2021() -> dict:
    """The shipped APPF 2021 example as plain YAML (read independently of humsec's reader)."""
    return yaml.safe_load((resources.files("humsec.oversight") / "examples" / "appf2021.yaml").read_text())


def observations(panel, unit: str, indicator: str) -> dict[int, float]:
    d = panel.filter(indicators=[indicator], units=[unit], totals_only=True).data.dropna(subset=["value"])
    return {int(y): float(v) for y, v in zip(d["year"], d["value"])}


@pytest.fixture(scope="module")
def home(default_env, tmp_path_factory):
    """A data directory holding a copy of the default panel's store (not rebuilt)."""
    settings, _, _ = default_env
    h = tmp_path_factory.mktemp("oversight_home")
    shutil.copy(settings.db_path, h / "humsec.duckdb")
    return h


def run(capsys, home, *args, token=None):
    argv = ["--home", str(home), *args]
    if token is not None:
        argv += ["--token", token]
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_example_points_at_release_indicators(default_env):
    _, panel, cat = default_env
    ex = appf2021()
    # the baseline is the adoption year (December 2021), taken from the instrument
    assert "baseline_year" not in (ex.get("defaults") or {}) and str(ex["instrument"]["adopted"])[:4] == "2021"
    targets = [t for c in ex["commitments"] for t in c["targets"]]
    have = set(panel.indicators)
    for t in targets:
        assert t["indicator"] in cat and t["indicator"] in have, t
        assert not t["indicator"].startswith(("hfi_", "esi_")) and t.get("baseline_year", 2020) >= 2020
        if t.get("target_value") is not None:   # targets in the indicator's own unit
            ind = cat[t["indicator"]]
            obs = panel.filter(indicators=[t["indicator"]], totals_only=True).data["value"]
            assert obs.min() <= t["target_value"] <= obs.max(), t
            assert (ind.valid_min is None or ind.valid_min <= t["target_value"]) and \
                   (ind.valid_max is None or t["target_value"] <= ind.valid_max)
    codes = {t["indicator"] for t in targets}
    assert {"rule_of_law", "voice_accountability", "electoral_democracy", "homicide_rate"} <= codes


def test_cli_end_to_end(default_env, capsys, home, monkeypatch, tmp_path):
    _, panel, _ = default_env
    ex = appf2021()
    n_commitments = len(ex["commitments"])
    n_targets = sum(len(c["targets"]) for c in ex["commitments"])
    base = int(str(ex["instrument"]["adopted"])[:4])   # 2021: the adoption year is the baseline year
    monkeypatch.delenv("HUMSEC_TOKEN", raising=False)
    code, out, err = run(capsys, home, "oversight", "init", "--user", "clerk")
    assert code == 0 and "shown once" in err
    admin = out.strip()
    assert admin.startswith("hsk_")
    assert run(capsys, home, "oversight", "init")[0] == 2            # only once
    # users and tokens
    assert run(capsys, home, "oversight", "user", "add", "ed", "--role", "editor", token=admin)[0] == 0
    assert run(capsys, home, "oversight", "user", "add", "vi", "--role", "viewer", token=admin)[0] == 0
    editor = run(capsys, home, "oversight", "token", "create", "--user", "ed", token=admin)[1].strip()
    viewer = run(capsys, home, "oversight", "token", "create", "--user", "vi", token=admin)[1].strip()
    code, out, err = run(capsys, home, "oversight", "user", "add", "x", "--role", "admin", token=editor)
    assert code == 3 and "needs the admin role" in err and "Traceback" not in err
    # the token may come from the environment
    monkeypatch.setenv("HUMSEC_TOKEN", editor)
    code, out, err = run(capsys, home, "commitments", "import", "appf2021", "--unit", "PHL")
    assert code == 0 and f"{n_commitments} commitment(s)" in err
    # located errors, exit code 2, no traceback
    code, out, err = run(capsys, home, "commitments", "add", "--id", "c9", "--instrument", "appf29-human-security",
                         "--title", "x", "--indicator", "u5mrr", "--unit", "PHL", "--deadline", "2020")
    assert code == 2 and "targets[0].indicator: unknown indicator 'u5mrr'" in err
    assert "targets[0].deadline: deadline 2020-12-31 is in the past" in err and "Traceback" not in err
    code, out, err = run(capsys, home, "commitments", "add", "--id", "c9", "--instrument", "appf29-human-security",
                         "--title", "x", "--indicator", "u5mr", "--unit", "PHX", "--deadline", "2030")
    assert code == 2 and "targets[0].unit: unknown unit 'PHX'" in err
    code, out, err = run(capsys, home, "commitments", "add", "--id", "ke-u5", "--instrument", "ke-health",
                         "--instrument-title", "Kenya Health Act", "--title", "Child survival", "--indicator", "u5mr",
                         "--unit", "KEN", "--target", "25", "--deadline", "2030", "--baseline-year", "2000")
    assert code == 0, err
    # a viewer reads but cannot write
    code, out, err = run(capsys, home, "commitments", "list", "--format", "json", token=viewer)
    rows = json.loads(out)
    assert code == 0 and len({r["id"] for r in rows}) == n_commitments + 1 and len(rows) == n_targets + 1
    assert {r["baseline_year"] for r in rows if r["id"].startswith("appf2021")} == {base}
    code, out, err = run(capsys, home, "commitments", "note", "ke-u5", "hearing", token=viewer)
    assert code == 3 and "needs the editor role" in err
    assert run(capsys, home, "commitments", "note", "ke-u5", "hearing on 3 March")[0] == 0
    # status from the data, recorded into the history
    code, out, err = run(capsys, home, "commitments", "status", "--unit", "PHL", "--record", "--format", "json")
    st = json.loads(out)
    assert code == 0 and len(st) == n_targets and f"recorded {n_targets}" in err
    by = {(s["commitment_id"], s["target_key"]): s for s in st}
    # every status rests on the PHL baseline (the latest observation at or before the adoption
    # year) and the observations after the adoption year
    for c in ex["commitments"]:
        for t in c["targets"]:
            got = by[(c["id"], t["key"])]
            obs = observations(panel, "PHL", t["indicator"])
            known, later = [y for y in obs if y <= base], sorted(y for y in obs if y > base)
            expect = [max(known), *later] if known else later
            assert [y for y, _ in got["evidence"]] == expect, t
            if obs and not later:
                assert got["status"] == "too_early" and got["label"].startswith("Too early"), t
            elif len(expect) < 2:
                assert got["status"] == "insufficient_data", t
            else:
                assert got["base_year"] == expect[0] and got["as_of"] == expect[-1], t
    # MMR (UN MMEIG estimates end in 2020): nothing after the 2021 adoption yet - too early
    mmr = by[("appf2021-r4", "mmr")]
    assert max(y for y, _ in mmr["evidence"]) <= base and mmr["status"] == "too_early"
    # one status per commitment: the mean of its targets' progress scores
    code, out, err = run(capsys, home, "commitments", "status", "--unit", "PHL", "--aggregate", "--format", "json")
    agg = {r["commitment"]: r for r in json.loads(out)}
    assert code == 0 and set(agg) == {c["id"] for c in ex["commitments"]}
    for cid, r in agg.items():
        scores = [s["score"] for s in st if s["commitment_id"] == cid and s["score"] is not None]
        assert r["assessed"] == len(scores)
        if scores:
            assert r["score"] == pytest.approx(sum(scores) / len(scores))
    assert agg["appf2021-r4"]["too_early"] >= 1
    assert by[("appf2021-r3", "u5mr")]["base_year"] <= base and by[("appf2021-r3", "u5mr")]["rate"] == "compound"
    # WGI rule of law is on a signed scale: judged by the linear change per year, by hand
    rl = by[("appf2021-r1", "rule_of_law")]
    (y0, v0), (y1, v1) = rl["evidence"][0], rl["evidence"][-1]
    assert v0 < 0 and rl["rate"] == "linear"   # PHL's estimate is below the world mean
    tv, deadline = rl["target_value"], int(rl["deadline"][:4])
    r = ((v1 - v0) / (y1 - y0)) / abs((tv - v0) / (deadline - y0))
    assert rl["ratio"] == pytest.approx(r)
    assert rl["status"] == ("target_achieved" if v1 >= tv else "on_track" if r >= 0.95 else "fair_progress"
                            if r >= 0.6 else "limited_progress" if r >= 0 else "deterioration")
    code, out, err = run(capsys, home, "commitments", "history", "ke-u5", "--format", "json")
    h = json.loads(out)
    assert [v["version"] for v in h["versions"]] == [1, 2] and h["versions"][1]["by"] == "ed"
    code, out, err = run(capsys, home, "commitments", "history", "appf2021-r4", "--format", "json")
    assert sorted(s["status"] for s in json.loads(out)["statuses"]) == sorted(
        s["status"] for s in st if s["commitment_id"] == "appf2021-r4")
    # budgets: located errors, import, tag, review, align
    bad = tmp_path / "bad.csv"
    bad.write_text("programme,ministry,amount,year,description,country\nRoads,Works,1.2.3,2024,x,PHL\n")
    code, out, err = run(capsys, home, "budget", "import", str(bad))
    assert code == 2 and "bad.csv, row 2, column 'amount': malformed amount '1.2.3'" in err
    code, out, err = run(capsys, home, "budget", "import", str(FIXTURE))
    assert code == 0 and "imported 37 budget line(s)" in err
    code, out, err = run(capsys, home, "budget", "tag", "--seed", "5")
    assert code == 0 and "classifier trained on 35 lines (seed 5)" in err
    code, out, err = run(capsys, home, "budget", "review", "--format", "json")
    pending = json.loads(out)
    assert len(pending) == 37 and pending[0]["source"] == "classifier"     # least confident first
    code, out, err = run(capsys, home, "budget", "review", "36", "--dimension", "economic", "--sdg", "2.3")
    assert code == 0 and "corrected" in err
    code, out, err = run(capsys, home, "budget", "review", "36", "--dimension", "wellbeing")
    assert code == 2 and "unknown dimension(s) wellbeing" in err
    code, out, err = run(capsys, home, "budget", "review", "1", "--confirm", token=viewer)
    assert code == 3
    code, out, err = run(capsys, home, "budget", "align", "PHL", "--format", "json")
    a = json.loads(out)
    assert code == 0 and [s["year"] for s in a["summary"]] == [2022, 2023, 2024]
    assert len(a["largest_gaps"]) == 5 and -1 <= a["summary"][0]["rho"] <= 1
    # the report
    out_html = tmp_path / "phl.html"
    code, out, err = run(capsys, home, "oversight", "report", "PHL", "--out", str(out_html), token=viewer)
    assert code == 0, err
    html = out_html.read_text()
    assert "Commitments by status" in html and "largest gaps" in html and "Barangay" not in html
    assert "Put people at the centre of law and policy" in html and "paraphrase" in html
    # revoking a token stops it at once; the audit log holds every write
    code, out, err = run(capsys, home, "oversight", "token", "revoke", editor.split("_")[1], token=admin)
    assert code == 0
    code, out, err = run(capsys, home, "commitments", "list")
    assert code == 3 and "revoked" in err
    code, out, err = run(capsys, home, "oversight", "audit", "--format", "json", token=viewer)
    log = json.loads(out)
    actions = [(e["actor"], e["action"], e["entity"]) for e in log]
    assert ("ed", "import", "budget") in actions and ("ed", "review", "budget_line") in actions
    assert ("clerk", "revoke", "token") in actions
    assert sum(1 for a in actions if a[1] == "record_status") == n_targets
    assert run(capsys, home, "commitments", "list", token="hsk_nope")[0] == 3


def test_report_pdf(default_env, settings):
    import pypdf


    _, panel, cat = default_env
    db = OversightDB.open(settings)
    tok = db.init("admin")
    inst, items = read_commitments("appf2021", catalogue=cat, unit="PHL")
    db.import_commitments(tok, inst, items)
    b = read_budget(FIXTURE)
    db.add_budget(tok, b.lines, file_name=b.name, sha256=b.sha256)
    db.save_tags(tok, suggest_tags(db.budget_lines(tok), TaggingRules.default())[0])
    hist = hsi_history(panel)
    pdf = oversight_report(db, tok, "PHL", panel=panel, catalogue=cat, fmt="pdf", history=hist)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert 2 <= len(reader.pages) <= 6
    text = " ".join(p.extract_text() for p in reader.pages)
    for needle in ("Philippines", "Commitments by status", "Budget alignment", "The 5 largest gaps",
                   "Political security", "Rule of law (WGI)"):
        assert needle in text, needle

    labels = {s.label for c in items for s in commitment_status(c, panel, cat)}
    for label in labels:   # every status the targets have is shown
        assert " ".join(label.split()[:2]) in " ".join(text.split()), label
    # one overall status per commitment, from the mean of its targets' scores (Open SDG)

    statuses = [s for c in items for s in commitment_status(c, panel, cat) if s.unit == "PHL"]
    overall = commitment_progress(statuses, {c.id: c for c in items})
    assert len(overall) == len({c.id for c in items if any(t.unit == "PHL" for t in c.targets)})
    html_phl = oversight_report(db, tok, "PHL", panel=panel, catalogue=cat, history=hist)
    section = html_phl.split("<h3>Per commitment</h3>")[1].split("<h3>Per target</h3>")[0]
    for r in overall.itertuples():
        row = section.split(f"<td>{r.title or r.commitment}</td>")[1].split("</tr>")[0]
        assert r.label in row and f"st-{r.status}" in row, (r.commitment, row)
        if np.isfinite(r.score):
            assert f"{r.score:+.1f}" in row
    # a country without budget lines still gets a report (HTML)
    html = oversight_report(db, tok, "KEN", panel=panel, catalogue=cat, history=hist)
    assert "no budget lines for KEN" in html and "No commitments with targets in Kenya" in html
