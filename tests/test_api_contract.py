"""The REST API's OpenAPI document describes what the routes really answer: every
operation declares its JSON answer (a schema, not ``{}``), its errors as RFC 9457
problem documents, and its other media types (CSV, HTML, PDF); real answers of every
read operation - successes and errors - validate against the declared schemas."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
jsonschema = pytest.importorskip("jsonschema")

from fastapi.testclient import TestClient  # noqa: E402

PROBLEM = "application/problem+json"

#: Requests whose answers are checked against the OpenAPI document (path, query).
REQUESTS = [
    "/health", "/version", "/catalogue", "/catalogue?dimension=health", "/data/status", "/indicators/u5mr",
    "/panel?indicator=u5mr&unit=KEN&limit=3", "/panel?indicator=u5mr&limit=2&offset=4", "/snapshots", "/countries",
    "/groupings", "/indices", "/indices/hsi", "/indices/hsi/years", "/indices/hsi/ranking",
    "/indices/hsi/ranking?unit=KEN&unit=SOM", "/indices/gdi/ranking", "/indices/hsi/regions",
    "/indices/hsi/uncertainty", "/indices/hsi/coverage", "/indices/hsi/coverage?year=2000", "/indices/hsi/correlations",
    "/indices/hsi/correlations?level=1&method=spearman", "/indices/hsi/availability",
    "/indices/hsi/units/KEN/profile", "/countries/KEN/assessment", "/countries/SOM/assessment",
    "/countries/KEN/trends", "/countries/KEN/groups", "/countries/KEN/peers", "/countries/KEN/peers?same=region",
    "/spill/KEN", "/spill/ASEAN", "/alerts", "/countries/AFG/alerts", "/watchlist",
    # errors
    "/indicators/nosuch", "/countries/XXX/assessment", "/countries/KEN/assessment?year=1801", "/panel?limit=0",
    "/indices/hsi/ranking?unit=K1N", "/spill/%3Cscript%3E", "/indices/hsi/units/ZZZ/profile",
]


@pytest.fixture(scope="module")
def client(default_env):
    from humsec.api import create_app
    from humsec.api.config import ServiceConfig

    app = create_app(default_env[0], ServiceConfig(runs=5, max_runs=5, trend_runs=2, trend_years=3))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def doc(client):
    return client.get("/api/v1/openapi.json").json()


def _operation(doc: dict, path: str, method: str = "get") -> dict:
    """The OpenAPI operation that serves ``path`` (a concrete path, templates matched)."""
    import re

    for template, ops in doc["paths"].items():
        rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(rx, path) and method in ops:
            return ops[method]
    raise AssertionError(f"no operation serves {method.upper()} {path}")


def _validate(doc: dict, schema: dict, body: object) -> None:
    jsonschema.Draft202012Validator({**schema, "components": doc["components"]}).validate(body)


@pytest.mark.parametrize("url", REQUESTS)
def test_answers_match_the_openapi_document(client, doc, url):
    r = client.get("/api/v1" + url)
    op = _operation(doc, "/api/v1" + url.split("?")[0])
    declared = op["responses"].get(str(r.status_code))
    assert declared is not None, f"{url}: status {r.status_code} is not declared ({sorted(op['responses'])})"
    media = r.headers["content-type"].split(";")[0]
    assert media in declared.get("content", {}), f"{url}: {media} is not declared for {r.status_code}"
    _validate(doc, declared["content"][media]["schema"], r.json())
    if r.status_code >= 400:
        assert media == PROBLEM


def test_every_operation_declares_its_answers(doc):
    """No operation answers an undeclared shape: every JSON 2xx has a schema, every
    error is a problem document, and a ``format`` parameter's values all have a media type."""
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            ok = [c for c in op["responses"] if c.startswith("2")]
            assert ok, where
            for code in ok:
                content = op["responses"][code].get("content", {})
                assert content, f"{where} {code}: no content declared"
                for media, entry in content.items():
                    assert entry.get("schema"), f"{where} {code} {media}: empty schema"
            for code, resp in op["responses"].items():
                if code[0] in "45" and code != "400":
                    assert list(resp.get("content", {})) == [PROBLEM], f"{where} {code}"
            fmt = next((p for p in op.get("parameters", []) if p["name"] == "format"), None)
            if fmt is not None:
                assert "text/csv" in op["responses"]["200"]["content"] or "text/html" in \
                    op["responses"]["200"]["content"], where


def test_csv_alternative_is_declared_and_served(client, doc):
    r = client.get("/api/v1/indices/hsi/ranking?format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "text/csv" in _operation(doc, "/api/v1/indices/hsi/ranking")["responses"]["200"]["content"]
    assert r.text.splitlines()[0].startswith("rank,unit,name,score")


def test_a_wrong_answer_fails_validation(doc):
    """The check can fail: a ranking row without its score is not a valid answer."""
    schema = _operation(doc, "/api/v1/indices/hsi/ranking")["responses"]["200"]["content"]["application/json"]
    bad = {"index": "hsi", "title": "x", "year": 2024, "runs": 5, "seed": 1, "n_failed": 0, "dimensions": [],
           "countries": [{"rank": 1, "unit": "KEN", "name": "Kenya", "economic": "high"}], "not_ranked": []}
    with pytest.raises(jsonschema.ValidationError):
        _validate(doc, schema["schema"], bad)


def test_write_answers_match(client, doc, default_env, tmp_path):
    """Answers of the write operations (on a copy of the store) validate too."""
    import shutil

    from humsec.api import create_app
    from humsec.api.config import ServiceConfig
    from humsec.oversight.db import OversightDB

    settings = default_env[0]
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(settings.db_path, home / settings.db_path.name)
    settings = settings.model_copy(update={"home": home})
    db = OversightDB.open(settings)
    admin = db.init("contract-admin")
    db.add_user(admin, "contract-editor", role="editor")
    token = db.create_token(admin, "contract-editor")
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings, ServiceConfig(runs=5, max_runs=5, trend_runs=0))) as c:
        calls = [
            ("post", "/instruments", {"id": "res1", "kind": "resolution", "title": "A resolution"}),
            ("post", "/commitments", {"id": "c1", "instrument": "res1", "title": "Fewer child deaths",
                                      "targets": [{"key": "t1", "indicator": "u5mr", "unit": "KEN",
                                                   "baseline_year": 2015, "target_value": 25,
                                                   "deadline": 2030}]}),
            ("post", "/commitments", {"id": "c1", "instrument": "res1", "title": "again",
                                      "targets": [{"key": "t1", "indicator": "u5mr", "unit": "KEN",
                                                   "baseline_year": 2015, "target_value": 25,
                                                   "deadline": 2030}]}),
            ("get", "/commitments", None), ("get", "/commitments/c1", None), ("get", "/commitments/nosuch", None),
            ("patch", "/commitments/c1?expected_version=1", {"title": "Fewer deaths of children"}),
            ("patch", "/commitments/c1?expected_version=1", {"title": "stale"}),
            ("post", "/commitments/c1/notes", {"text": "Discussed in committee."}),
            ("post", "/commitments/nosuch/notes", {"text": "x"}),
            ("get", "/commitments/c1/history", None), ("delete", "/commitments/c1", None),
        ]
        seen = set()
        for method, url, body in calls:
            r = c.request(method, "/api/v1" + url, json=body, headers=h)
            seen.add(r.status_code)
            op = _operation(doc, "/api/v1" + url.split("?")[0], method)
            declared = op["responses"].get(str(r.status_code))
            assert declared is not None, f"{method} {url}: {r.status_code} undeclared: {r.text[:300]}"
            media = r.headers["content-type"].split(";")[0]
            _validate(doc, declared["content"][media]["schema"], r.json())
        r = c.get("/api/v1/commitments")
        _validate(doc, _operation(doc, "/api/v1/commitments")["responses"]["401"]["content"][PROBLEM]["schema"],
                  r.json())
        assert r.status_code == 401
    assert {200, 201, 404, 409} <= seen
