"""Fuzzing the REST API from its own OpenAPI document (schemathesis) with every check
schemathesis runs by default: no server error, status codes, content types, headers and
bodies as declared (response schema conformance), schema-valid requests accepted and
schema-violating requests rejected. Every read operation and every write operation (sent
with an editor token, on a copy of the store) is exercised with a bounded number of
generated requests, valid (positive) and invalid (negative)."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

#: Generated requests per operation: valid ones, and ones that violate the schema.
MAX_EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 8}
#: Operations that compute a whole document per new request (0.3-0.5 s of CPU each):
#: fewer valid requests, so that the test stays within about a minute.
HEAVY = {"/api/v1/countries/{iso3}/brief", "/api/v1/indices/{name}/audit", "/api/v1/data/status",
         "/api/v1/watchlist"}
HEAVY_EXAMPLES = 5

#: Checks that do not apply to an operation, and why. Nothing else is excluded.
NOT_APPLICABLE = {
    # The body is a file whose content must be a data table (CSV, TSV, xlsx or Parquet,
    # with the importer's columns): no OpenAPI schema can say that, so a schema-valid
    # upload such as the bytes b"x" named "file" is rightly refused (415/422).
    ("POST", "/api/v1/datasets"): [positive_data_acceptance],
    # A commitment is valid only against the store: its instrument must exist, its
    # targets name catalogue indicators and deadlines after today. A schema-valid body
    # that breaks these is rightly refused (422 with the located problems).
    ("POST", "/api/v1/commitments"): [positive_data_acceptance],
}


@pytest.fixture(scope="module")
def fuzz_env(default_env, tmp_path_factory):
    """The app on a copy of the default store, and an editor token of its oversight database."""
    from humsec.api import create_app
    from humsec.api.config import ServiceConfig
    from humsec.oversight.db import OversightDB

    settings = default_env[0]
    home = tmp_path_factory.mktemp("fuzz_home")
    shutil.copy(settings.db_path, home / settings.db_path.name)
    settings = settings.model_copy(update={"home": home})
    db = OversightDB.open(settings)
    admin = db.init("fuzz-admin")
    db.add_user(admin, "fuzz-editor", role="editor")
    editor = db.create_token(admin, "fuzz-editor")
    # few uncertainty runs: the point is the inputs, not the statistics
    app = create_app(settings, ServiceConfig(runs=5, max_runs=5, trend_runs=0, trend_years=3))
    return app, editor


def _fuzzer(op, headers, mode: GenerationMode):
    """A Hypothesis test of one operation: generated requests of ``mode``, each answer
    checked by all of schemathesis' default checks (less :data:`NOT_APPLICABLE`)."""
    excluded = NOT_APPLICABLE.get((op.method.upper(), op.path), [])
    n = HEAVY_EXAMPLES if op.path in HEAVY and mode is GenerationMode.POSITIVE else MAX_EXAMPLES[mode]

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=n, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, headers=headers, excluded_checks=excluded)

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


def _has_parameters(op) -> bool:
    """Whether schemathesis can make a request of the operation violate its schema."""
    d = op.definition.raw
    return bool(d.get("parameters") or d.get("requestBody"))


def test_every_operation_passes_every_check(fuzz_env):
    """Every operation of the OpenAPI document, ``MAX_EXAMPLES`` generated requests of
    each kind (derandomized: the same requests every run), all default checks.

    schemathesis' Python API drives Hypothesis directly here rather than through its
    pytest plugin, which depends on pytest internals that change between releases."""
    app, editor = fuzz_env
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    n_ops = 0
    for result in schema.get_all_operations():
        op = result.ok()
        n_ops += 1
        headers = {"Authorization": f"Bearer {editor}"} if op.method.upper() != "GET" else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not _has_parameters(op):
                continue  # nothing to make invalid
            try:
                _fuzzer(op, headers, mode)()
            except Exception as exc:  # noqa: BLE001 - collect every operation's failure
                failures.append(f"{op.method.upper()} {op.path} ({mode.value}): {_describe(exc)}")
    assert n_ops >= 30, f"only {n_ops} operations in the OpenAPI document"
    assert not failures, "\n".join(failures)
