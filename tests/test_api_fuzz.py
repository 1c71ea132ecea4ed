"""Fuzzing the REST API from its own OpenAPI document (schemathesis): no input, valid or
invalid, may cause a server error. Every read operation and every write operation (sent
with an editor token, on a copy of the store) is exercised with a bounded number of
generated requests."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_env(default_env, tmp_path_factory):
    """The app on a copy of the default store, and an editor token of its oversight database."""
    from humsec.api import create_app
    from humsec.api.config import ServiceConfig

    settings = default_env[0]
    home = tmp_path_factory.mktemp("fuzz_home")
    shutil.copy(settings.db_path, home / settings.db_path.name)
    settings = settings.model_copy(update={"home": home})
    editor = None
    try:
        from humsec.oversight.db import OversightDB
    except ModuleNotFoundError:
        OversightDB = None
    if OversightDB is not None:
        db = OversightDB.open(settings)
        admin = db.init("fuzz-admin")
        db.add_user(admin, "fuzz-editor", role="editor")
        editor = db.create_token(admin, "fuzz-editor")
    # few uncertainty runs: the point is the inputs, not the statistics
    app = create_app(settings, ServiceConfig(runs=5, max_runs=5, trend_runs=0, trend_years=3))
    return app, editor


def _fuzzer(op, headers):
    """A Hypothesis test of one operation: generated requests, none may be a 5xx."""
    from hypothesis import given

    @given(case=op.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        response = case.call(headers=headers)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} {case.query or ''} -> {response.status_code}: "
            f"{response.text[:500]}")
        case.validate_response(response, checks=[not_a_server_error])

    return run


def _describe(exc: BaseException) -> str:
    """The failure and, for a flaky one (failed once, passed on replay), what the first
    call raised: otherwise a timing-dependent bug leaves no trace in the CI log."""
    import traceback

    text = str(exc).splitlines()[0][:600] if str(exc) else type(exc).__name__
    for sub in getattr(exc, "exceptions", ()) or ():
        tb = "".join(traceback.format_exception(sub))
        text += f"\n  first call raised: {tb[-1500:]}"
    return text


def test_no_server_errors(fuzz_env):
    """Every operation of the OpenAPI document, ``MAX_EXAMPLES`` generated requests each
    (derandomized: the same requests every run); no response may be a 5xx.

    schemathesis' Python API drives Hypothesis directly here rather than through its
    pytest plugin, which depends on pytest internals that change between releases."""
    app, editor = fuzz_env
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    n_ops = 0
    for result in schema.get_all_operations():
        op = result.ok()
        n_ops += 1
        headers = {"Authorization": f"Bearer {editor}"} if editor and op.method.upper() != "GET" else None
        run = _fuzzer(op, headers)
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            failures.append(f"{op.method.upper()} {op.path}: {_describe(exc)}")
    assert n_ops >= 20, f"only {n_ops} operations in the OpenAPI document"
    assert not failures, "\n".join(failures)
