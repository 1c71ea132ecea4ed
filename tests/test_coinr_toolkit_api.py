"""Issue #24: API routes of the index analyses equal the library's answers."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from humsec.api import create_app  # noqa: E402
from humsec.api.config import ServiceConfig  # noqa: E402


@pytest.fixture(scope="module")
def env(default_env):
    settings, panel, cat = default_env
    app = create_app(settings, ServiceConfig(runs=0, max_runs=10))
    with TestClient(app) as client:
        yield client, app


def test_correlations_availability_profile_and_audit(env):
    from humsec.index.analysis_coin import data_availability, get_corr, get_str_weak, get_unit_summary

    client, app = env
    obs = app.state.observatory
    res = obs.assessment("hsi", None, 0).result
    r = client.get("/api/v1/indices/hsi/correlations", params={"method": "spearman"})
    assert r.status_code == 200, r.text
    body = r.json()
    c = get_corr(res, level=2, method="spearman")
    assert body["rows"] == list(c.index) and body["level"] == 2
    pair = next(p for p in body["pairs"] if p["a"] == c.index[0] and p["b"] == c.columns[1])
    assert pair["r"] == pytest.approx(c.iloc[0, 1])
    assert 0 <= pair["p"] <= 1
    csv = client.get("/api/v1/indices/hsi/correlations", params={"format": "csv"})
    assert csv.status_code == 200 and csv.text.splitlines()[0].startswith("a,b,r,p")
    av = client.get("/api/v1/indices/hsi/availability").json()
    lib = data_availability(res).summary.set_index("unit")
    row = av["countries"][0]
    assert row["availability"] == pytest.approx(lib.at[row["unit"], "availability"])
    unit = res.ranks[res.spec.root].idxmin()
    prof = client.get(f"/api/v1/indices/hsi/units/{unit}/profile", params={"top": 3})
    assert prof.status_code == 200, prof.text
    p = prof.json()
    assert [x["code"] for x in p["summary"]] == list(get_unit_summary(res, unit)["code"])
    assert [x["code"] for x in p["strengths"]] == list(get_str_weak(res, unit, top_n=3, bottom_n=3).strengths["code"])
    assert client.get("/api/v1/indices/hsi/units/K1/profile").status_code in (400, 404, 422)
    assert client.get("/api/v1/indices/hsi/units/ZZZ/profile").status_code == 404
    page = client.get("/api/v1/indices/hsi/audit")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Statistical coherence" in page.text
