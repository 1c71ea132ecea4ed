"""``humsec assess``: every UN member state is either ranked or listed as not ranked,
with what it lacks; the ranking title carries the data years and their median age."""

from __future__ import annotations

import json

import pytest

from humsec.analysis import assess as A
from humsec.index.builtin import load_spec


@pytest.fixture(scope="module")
def assessment(default_env):
    _, panel, cat = default_env
    return A.assess(load_spec("hsi"), panel, catalogue=cat, runs=0)


def _run(settings, *args):
    from humsec.cli.main import main

    return main(["--home", str(settings.home), *args])


def test_json_ranking_lists_the_not_ranked(default_env, assessment, capsys):
    from humsec.data.countries import CountryRegistry

    settings = default_env[0]
    assert _run(settings, "assess", "--format", "json", "--runs", "0") == 0
    d = json.loads(capsys.readouterr().out)
    want = json.loads(assessment.not_ranked().to_json(orient="records"))
    assert d["not_ranked"] == want
    nr = {r["unit"] for r in d["not_ranked"]}
    ranked = {r["unit"] for r in d["countries"]}
    assert "ERI" in nr and "FSM" in ranked and not nr & ranked
    assert set(CountryRegistry.default().un_members) <= nr | ranked


def test_table_ranking_has_data_age_and_not_ranked_table(default_env, assessment, capsys):
    settings = default_env[0]
    assert _run(settings, "assess", "--runs", "0") == 0
    out = capsys.readouterr().out
    v = assessment.vintage[assessment.vintage["unit"].isin(assessment.units)]
    m = float(v["age"].median())
    title = (f"Human Security Index (HSI) — {assessment.year} (data {v['observed'].min()}-{v['observed'].max()}, "
             f"median age {m:g} year{'' if m == 1 else 's'}")
    assert title in " ".join(out.split())  # a long title may wrap
    nr = assessment.not_ranked()
    assert f"Not ranked in {assessment.year}: {len(nr)} UN member states without a score" in out
    tail = out.split("Not ranked in")[1]
    for row in nr.itertuples():
        assert row.unit in tail and row.name.split(" (")[0] in tail
    assert "missing indicators" in tail and "reason" in tail


def test_not_ranked_country_exits_2_naming_what_it_lacks(default_env, assessment, capsys):
    settings = default_env[0]
    row = assessment.not_ranked(["ERI"]).iloc[0]
    assert _run(settings, "assess", "ERI", "--runs", "0") == 2
    err = " ".join(capsys.readouterr().err.split())  # undo the console's line wrapping
    assert f"ERI (Eritrea) has no HSI score for {assessment.year} and is not ranked" in err
    assert row["reason"] in err
    lacks = row["missing_indicators"].split("; ")
    assert f"Missing indicators ({len(lacks)}): {', '.join(lacks)}" in err
    # a ranked country shows how each number was obtained
    assert _run(settings, "assess", "FSM", "--runs", "0") == 0
    out = capsys.readouterr().out
    assert "how" in out and "carried forward" in out and "<NA>" not in out
