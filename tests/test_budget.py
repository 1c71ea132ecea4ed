"""Budgets: import with located errors, SDG/dimension tagging (rules + seeded classifier),
review, and the alignment of spending with insecurity."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook
from scipy.stats import spearmanr

import humsec.analysis.assess as assess
from humsec.analysis.assess import default_year, index_data
from humsec.cli.main import main
from humsec.errors import HumsecError, ValidationError
from humsec.index.builtin import load_spec
from humsec.model.panel import DIMENSIONS, Panel, Provenance
from humsec.oversight.align import align, hsi_history, hsi_year_for, population, spending_by_dimension
from humsec.oversight.budget import OPTIONAL, REQUIRED, example_budget_path, parse_amount, read_budget
from humsec.oversight.db import OversightDB
from humsec.oversight.models import Tag
from humsec.oversight.tagging import TagClassifier, TaggingRules, line_text, suggest_tags

FIXTURE = Path(__file__).parent / "fixtures" / "oversight" / "budget_illustrative_phl.csv"
TODAY = dt.date(2026, 3, 1)
HEADER = "programme,ministry,amount,year,description,currency,country\n"


def write(tmp_path, text, name="b.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_reads_the_illustrative_budget():
    b = read_budget(FIXTURE, today=TODAY)
    assert len(b.lines) == 37 and b.name == "budget_illustrative_phl.csv"
    first = b.lines[0]
    assert (first.row, first.amount, first.year, first.currency, first.country) == (2, 112e9, 2022, "PHP", "PHL")
    assert {ln.year for ln in b.lines} == {2022, 2023, 2024}
    assert len(b.sha256) == 64


@pytest.mark.parametrize("text,expected", [
    ("1250000", 1250000.0), ("1,250,000.50", 1250000.5), (" 12 500 ", 12500.0), (0, 0.0), (3.5, 3.5),
])
def test_parse_amount(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text,message", [
    ("12,34.5", "malformed amount"), ("abc", "malformed amount"), ("$100", "malformed amount"),
    ("1.250.000", "malformed amount"), ("-5", "negative amount"), ("(300)", "negative amount"),
    ("", "missing amount"), (float("inf"), "not a finite"), ("1e400", "malformed"),
])
def test_parse_amount_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_amount(text)


def test_every_bad_cell_is_located(tmp_path):
    p = write(tmp_path, HEADER
              + "Health,Health,1000,2024,ok,PHP,PHL\n"
              + "Roads,Works,12;5,2024,bad amount,PHP,PHL\n"
              + "Police,Interior,-3,2024,negative,PHP,PHL\n"
              + "Water,Works,lots,2024,non-numeric,PHP,PHL\n"
              + "Old,Works,5,1850,year,PHP,PHL\n"
              + "Soon,Works,5,2099,year,PHP,PHL\n"
              + "Typo,Works,5,20x4,year,PHP,PHL\n"
              + ",Works,5,2024,no programme,PHP,PHL\n"
              + "Cash,Welfare,5,2024,currency,PPP,PHL\n"
              + "Cash,Welfare,5,2024,country,PHP,XXX\n")
    with pytest.raises(ValidationError) as ei:
        read_budget(p, today=TODAY)
    got = {(i.row, i.field): i.message for i in ei.value.issues}
    assert all(i.file == "b.csv" for i in ei.value.issues)
    assert "malformed amount" in got[(3, "amount")]
    assert "negative amount" in got[(4, "amount")]
    assert "malformed amount 'lots'" in got[(5, "amount")]
    assert "out of range" in got[(6, "year")] and "out of range" in got[(7, "year")]
    assert "malformed year" in got[(8, "year")]
    assert got[(9, "programme")] == "missing programme"
    assert "unknown currency 'PPP'" in got[(10, "currency")]
    assert "unknown country 'XXX'" in got[(11, "country")]
    assert len(ei.value.issues) == 9   # row 2 is fine


def test_missing_columns_are_located(tmp_path):
    p = write(tmp_path, "Programme,Ministry,Year,Description\nHealth,Health,2024,x\n")
    with pytest.raises(ValidationError) as ei:
        read_budget(p, today=TODAY)
    fields = {(i.row, i.field) for i in ei.value.issues}
    assert fields == {(1, "amount"), (1, "country")}
    assert "missing column 'amount'" in str(ei.value)
    # synonyms and file-wide country/currency are accepted
    p2 = write(tmp_path, "Program,Department,Allocation,Fiscal Year,Description\nHealth,Health,10,2024,x\n", "c.csv")
    b = read_budget(p2, country="phl", currency="php", today=TODAY)
    assert (b.lines[0].country, b.lines[0].currency, b.lines[0].amount) == ("PHL", "PHP", 10.0)
    with pytest.raises(ValidationError, match="unknown currency 'XYZ'"):
        read_budget(p2, country="PHL", currency="XYZ", today=TODAY)


def test_excel_budget_with_located_error(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["programme", "ministry", "amount", "year", "description", "country"])
    ws.append(["Vaccination", "Health", 1500000, 2024, "vaccines", "PHL"])
    ws.append(["Roads", "Works", "1O00", 2024, "letter O, not zero", "PHL"])
    p = tmp_path / "budget.xlsx"
    wb.save(p)
    with pytest.raises(ValidationError) as ei:
        read_budget(p, today=TODAY)
    (issue,) = ei.value.issues
    assert (issue.file, issue.row, issue.field) == ("budget.xlsx", 3, "amount")
    ws.delete_rows(3)
    wb.save(p)
    b = read_budget(p, today=TODAY)
    assert b.lines[0].amount == 1500000.0 and b.lines[0].year == 2024


def test_unsupported_or_missing_file(tmp_path):
    with pytest.raises(HumsecError, match="no budget file"):
        read_budget(tmp_path / "nope.csv")
    with pytest.raises(HumsecError, match="unsupported"):
        read_budget(write(tmp_path, "x", "b.pdf"))


# ----------------------------------------------------------------------------- tagging


def test_rules_tag_with_evidence():
    r = TaggingRules.default()
    t = r.tag(line_text("COVID-19 vaccination", "Health", "Procurement of vaccines"))
    assert t.sdg_targets == ("3.d", "3.b") and t.dimensions == ("health",)
    assert "3.b: vaccination" in t.evidence and t.source == "rule"
    assert r.tag("Barangay tanod allowances") is None
    assert r.tag("Legal aid | Justice").dimensions == ("political",)
    # whole words only: "policeman" is not "police"; plurals are
    assert r.tag("policeman") is None and r.tag("floods").sdg_targets == ("11.5",)


def test_user_rules_override_and_are_validated(tmp_path):
    p = write(tmp_path, 'targets:\n  "16.1": {dimension: personal, keywords: [tanod, police]}\n'
                        '  "3.b": {remove: true}\n', "mine.yaml")
    r = TaggingRules.load(p)
    assert r.tag("Barangay tanod allowances").sdg_targets == ("16.1",)
    assert r.tag("vaccination") is None              # its only target was removed
    assert "3.b" not in {t.target for t in r.targets}
    bad = write(tmp_path, 'targets:\n  "99": {dimension: health, keywords: [x]}\n'
                          '  "3.1": {dimension: wellbeing, keywords: []}\n', "bad.yaml")
    with pytest.raises(ValidationError) as ei:
        TaggingRules.load(bad)
    assert {i.field for i in ei.value.issues} == {"targets.99", "targets.3.1.dimension", "targets.3.1.keywords"}
    assert all(i.file == "bad.yaml" for i in ei.value.issues)


def _training():
    b = read_budget(FIXTURE, today=TODAY)
    rules = TaggingRules.default()
    texts = [line_text(ln.programme, ln.ministry, ln.description) for ln in b.lines]
    tags = [rules.tag(t) for t in texts]
    lab = [(t, g.dimensions[0], g.sdg_targets[0] if g.sdg_targets else None) for t, g in zip(texts, tags) if g]
    return [x[0] for x in lab], [x[1] for x in lab], [x[2] for x in lab]


def test_classifier_is_reproducible_with_a_seed():
    x, d, s = _training()
    queries = ["Barangay tanod allowances | Interior and Local Government | village watchmen keep the peace",
               "Rural clinic staffing | Health", "Dike repair after typhoon"]
    a = TagClassifier(seed=7).fit(x, d, s)
    b = TagClassifier(seed=7).fit(x, d, s)
    pa, pb = a.probabilities(queries), b.probabilities(queries)
    pd.testing.assert_frame_equal(pa, pb)
    assert np.allclose(pa.sum(axis=1), 1.0)
    sa = a.predict(queries)
    assert sa == b.predict(queries)
    assert sa[0].dimension == "personal" and sa[1].dimension == "health"
    assert all(0 < x.confidence <= 1 for x in sa)
    with pytest.raises(HumsecError, match="at least two dimensions"):
        TagClassifier().fit(["a", "b"], ["health", "health"], [None, None])


@pytest.fixture()
def budget_db(settings):
    db = OversightDB.open(settings)
    tok = db.init("admin")
    b = read_budget(FIXTURE, today=TODAY)
    db.add_budget(tok, b.lines, file_name=b.name, sha256=b.sha256)
    return db, tok, b


def test_tag_review_and_retag(budget_db):
    db, tok, b = budget_db
    with pytest.raises(HumsecError, match="already imported"):
        db.add_budget(tok, b.lines, file_name=b.name, sha256=b.sha256)
    lines = db.budget_lines(tok)
    assert (lines["review"] == "untagged").all()
    tags, notes = suggest_tags(lines, TaggingRules.default(), seed=11)
    assert db.save_tags(tok, tags) == 37
    assert "trained on 35 lines (seed 11)" in notes[0]
    lines = db.budget_lines(tok)
    tanod = lines[lines["programme"] == "Barangay tanod allowances"].iloc[0]
    assert tanod["source"] == "classifier" and 0 < tanod["confidence"] < 1
    farm = int(lines[lines["programme"] == "Farm-to-market roads"]["line_id"].iloc[0])
    cash = int(lines["line_id"].iloc[0])
    # a reviewer corrects one line and confirms another
    db.review(tok, farm, Tag(dimensions=("economic", "food"), sdg_targets=("2.3",), source="review"))
    db.review(tok, cash)
    lines = db.budget_lines(tok).set_index("line_id")
    assert lines.at[farm, "review"] == "corrected" and lines.at[farm, "dimensions"] == ("economic", "food")
    assert lines.at[farm, "tagged_by"] == "admin"
    assert lines.at[cash, "review"] == "confirmed" and lines.at[cash, "dimensions"] == ("economic", "health")
    # tagging again never overwrites a review, and the reviewed line now trains the classifier
    tags2, _ = suggest_tags(db.budget_lines(tok), TaggingRules.default(), seed=11)
    assert farm not in tags2 and cash not in tags2
    db.save_tags(tok, {**tags2, farm: Tag(dimensions=("health",), source="rule")})
    assert db.budget_lines(tok).set_index("line_id").at[farm, "dimensions"] == ("economic", "food")
    hist = db.tag_history(tok, farm)
    assert list(hist["review"]) == ["pending", "corrected"] and list(hist["version"]) == [1, 2]
    with pytest.raises(HumsecError, match="no budget line 999"):
        db.review(tok, 999)


# ----------------------------------------------------------------------------- alignment


def _lines(rows):
    df = pd.DataFrame(rows, columns=["line_id", "country", "year", "currency", "amount", "dimensions", "source",
                                     "review", "confidence"])
    return df


def _history(unit="PHL", scores=None):
    scores = scores or dict(zip(DIMENSIONS, [60.0, 80.0, 70.0, 30.0, 50.0, 40.0, 90.0]))
    idx = pd.MultiIndex.from_tuples([(unit, 2013), (unit, 2023)], names=["unit", "year"])
    first = {d: v - 5 for d, v in scores.items()}
    return pd.DataFrame([{"hsi": 60.0, **first}, {"hsi": 62.0, **scores}], index=idx)


def test_alignment_hand_computed():
    lines = _lines([
        (1, "PHL", 2024, "PHP", 600.0, ("environmental",), "rule", "pending", np.nan),
        (2, "PHL", 2024, "PHP", 300.0, ("political", "health"), "review", "corrected", np.nan),
        (3, "PHL", 2024, "PHP", 100.0, (), "classifier", "pending", 0.3),          # untagged
        (4, "PHL", 2024, "PHP", 200.0, ("food",), "classifier", "pending", 0.4),   # below threshold
        (5, "FRA", 2024, "EUR", 999.0, ("health",), "rule", "pending", np.nan),
    ])
    sp = spending_by_dimension(lines[lines["country"] == "PHL"])
    got = dict(zip(sp["dimension"], sp["amount"]))
    assert got == {"environmental": 600.0, "political": 150.0, "health": 150.0, "untagged": 300.0}
    pop = Panel(pd.DataFrame({"unit": "PHL", "indicator": "pop_total", "year": [2020, 2025],
                              "value": [100.0, 200.0]}), {"pop_total": Provenance(source="t", accessed=TODAY)})
    assert population(pop, "PHL", [2024]).iloc[0] == pytest.approx(180.0)
    a = align(lines, "phl", history=_history(), panel=pop)
    t = a.table.set_index("dimension")
    # insecurity 100 - score: 40, 20, 30, 70, 50, 60, 10 (sum 280)
    assert t.at["environmental", "share"] == pytest.approx(600 / 900)
    assert t.at["environmental", "insecurity_share"] == pytest.approx(70 / 280)
    assert t.at["community", "gap"] == pytest.approx(100 * 60 / 280)      # insecure, nothing spent
    assert t.at["political", "gap"] == pytest.approx(100 * (10 / 280 - 150 / 900))
    assert t.at["health", "per_capita"] == pytest.approx(150 / 180)
    assert t.at["health", "hsi_year"] == 2023 and t.at["health", "arrow"] in "↑➚→↓"
    s = a.summary.iloc[0]
    assert (s["total"], s["tagged"], s["untagged"]) == (1200.0, 900.0, 300.0)

    assert s["rho"] == pytest.approx(spearmanr(t["share"], t["insecurity"]).statistic)
    # gaps (pp): community 21.4, personal 17.9, economic 14.3, food 7.1, health -6.0, political -13.1, env -41.7
    assert list(a.gaps["dimension"]) == ["community", "personal", "economic", "food", "health"]
    assert len(a.gaps) == 5 and a.gaps["gap"].is_monotonic_decreasing
    assert any("HSI of 2023" in n for n in a.notes) and any("25% of the budget" in n for n in a.notes)


def test_alignment_errors():
    lines = _lines([(1, "PHL", 2024, "PHP", 1.0, ("health",), "rule", "pending", np.nan),
                    (2, "PHL", 2024, "USD", 1.0, ("food",), "rule", "pending", np.nan)])
    with pytest.raises(HumsecError, match="several currencies"):
        align(lines, "PHL", history=_history())
    with pytest.raises(HumsecError, match="no budget lines for KEN"):
        align(lines, "KEN", history=_history())
    with pytest.raises(HumsecError, match="no scores for PHL"):
        align(lines.iloc[:1], "PHL", history=_history("KEN"))


def test_alignment_on_the_release_uses_the_latest_hsi_year(default_env):
    _, panel, _ = default_env
    spec = load_spec("hsi")
    data = index_data(panel, spec)

    latest = default_year(spec, data)  # the rule is tested by hand in tests/test_hsi.py
    assert latest >= 2022
    lines = _lines([(1, "PHL", 2022, "PHP", 100.0, ("health",), "rule", "pending", np.nan),
                    (2, "PHL", 2025, "PHP", 100.0, ("food",), "rule", "pending", np.nan)])
    hist = hsi_history(panel, years=[2022, 2025])
    a = align(lines, "PHL", history=hist, panel=panel)
    s = a.summary.set_index("year")
    assert s.at[2022, "hsi_year"] == 2022 and s.at[2025, "hsi_year"] == min(2025, latest)
    t = a.table[a.table["year"] == 2025].set_index("dimension")
    own = hist.loc[("PHL", min(2025, latest))]
    for d in t.index:
        assert t.at[d, "score"] == pytest.approx(own[d]) and t.at[d, "insecurity"] == pytest.approx(100 - own[d])
    # per-capita spending divides by the UN WPP population of the budget year (annual series)
    pop = panel.filter(indicators=["pop_total"], units=["PHL"], totals_only=True).data.set_index("year")["value"]
    assert s.at[2022, "population"] == pytest.approx(pop.loc[2022])
    assert any(f"2025: threat severity from the HSI of {latest}" in n for n in a.notes) == (latest < 2025)


def test_alignment_maps_each_budget_year_to_its_own_hsi_year():
    # HSI years 2013 and 2023: budget 2024 -> 2023 (latest <= it), 2020 -> 2013, 2023 -> 2023,
    # 2012 -> none (a later index would judge old spending by later needs)
    assert [hsi_year_for(y, [2023, 2013]) for y in (2012, 2013, 2020, 2023, 2024)] == [None, 2013, 2013, 2023, 2023]
    lines = _lines([(1, "PHL", 2012, "PHP", 50.0, ("health",), "rule", "pending", np.nan),
                    (2, "PHL", 2020, "PHP", 100.0, ("health",), "rule", "pending", np.nan),
                    (3, "PHL", 2024, "PHP", 100.0, ("food",), "rule", "pending", np.nan)])
    a = align(lines, "PHL", history=_history())
    assert a.year_map == {2020: 2013, 2024: 2023}
    assert list(a.summary["year"]) == [2020, 2024] and list(a.summary["hsi_year"]) == [2013, 2023]
    t = a.table.set_index(["year", "dimension"])
    # 2020 reads the 2013 scores (each 5 below the 2023 ones)
    h13, h23 = _history().loc[("PHL", 2013), "health"], _history().loc[("PHL", 2023), "health"]
    assert h13 == h23 - 5
    assert t.at[(2020, "health"), "score"] == h13 and t.at[(2020, "health"), "insecurity"] == 100 - h13
    assert t.at[(2024, "health"), "score"] == h23 and t.at[(2024, "food"), "hsi_year"] == 2023
    assert "2012: not aligned - the HSI ranks PHL from 2013 only" in a.notes
    assert "2020: threat severity from the HSI of 2013, the latest available" in a.notes
    assert a.to_dict()["hsi_year_of_budget_year"] == {"2020": 2013, "2024": 2023}
    with pytest.raises(HumsecError, match="no HSI score of PHL at or before the budget year"):
        align(lines.iloc[:1], "PHL", history=_history())


def test_hsi_history_builds_the_latest_year_that_ranks_the_country(monkeypatch):
    # a fake index: 2024 ranks KEN only, 2022 ranks KEN and PHL, 2010-2021 rank both
    ranked = {2024: ["KEN"], 2022: ["KEN", "PHL"], **{y: ["KEN", "PHL"] for y in range(2010, 2022)}}
    built: list[int] = []

    def history(spec, data, years):
        years = list(years)
        built.extend(years)
        rows = [((u, y), float(y)) for y in years for u in ranked.get(y, [])]
        idx = pd.MultiIndex.from_tuples([r[0] for r in rows], names=["unit", "year"])
        return pd.DataFrame({"hsi": [r[1] for r in rows]}, index=idx)

    monkeypatch.setattr(assess, "index_data", lambda panel, spec: None)
    monkeypatch.setattr(assess, "history", history)
    h = hsi_history(None, spec=object(), years=[2025], last=2024, units=["phl"], trend_years=10)
    # budget 2025 -> HSI of min(2025, 2024) = 2024 does not rank PHL; 2023 ranks nobody; 2022 does
    assert sorted(set(y for u, y in h.index if u == "PHL")) == [2012, 2022]   # year used + trend start
    assert built[:3] == [2024, 2023, 2022]
    a = align(_lines([(1, "PHL", 2025, "PHP", 1.0, ("health",), "rule", "pending", np.nan)]), "PHL",
              history=h.assign(**{d: 50.0 for d in DIMENSIONS}))
    assert a.year_map == {2025: 2022}
    # without units, the first year the index builds at all is used, as before
    assert 2024 in set(y for _, y in hsi_history(None, spec=object(), years=[2025], last=2024).index)


def test_shipped_example_budget_imports(tmp_path, capsys, monkeypatch):
    path = example_budget_path()
    b = read_budget(path, today=TODAY)
    assert b.name == "budget_example.csv" and len(b.lines) == 16
    assert {ln.year for ln in b.lines} == {2023, 2024} and {(ln.country, ln.currency) for ln in b.lines} == {("PHL", "PHP")}
    assert (b.lines[0].row, b.lines[0].amount) == (2, 100e9)             # "100,000,000,000" in the file
    assert sum(ln.amount for ln in b.lines if ln.year == 2024) == pytest.approx(
        105e9 + 50e9 + 22e9 + 95e9 + 9e9 + 190e9 + 32e9 + 5.5e9)
    # the README's column list names every column the reader knows
    readme = (path.parent / "README.md").read_text(encoding="utf-8")
    for col in (*REQUIRED, *OPTIONAL):
        assert f"| `{col}` |" in readme, col
    # and `humsec budget import example` loads it
    monkeypatch.delenv("HUMSEC_TOKEN", raising=False)
    assert main(["--home", str(tmp_path), "oversight", "init", "--user", "clerk"]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["--home", str(tmp_path), "budget", "import", "example", "--token", token]) == 0
    assert "imported 16 budget line(s) from budget_example.csv" in capsys.readouterr().err
