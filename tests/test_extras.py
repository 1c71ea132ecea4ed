"""The core installs and works without the heavy optional extras ``[pdf]`` (WeasyPrint)
and ``[dask]`` (dask.distributed): what needs them says which extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import sys
    for name in ("weasyprint", "dask", "distributed"):
        sys.modules[name] = None  # as if not installed: importing them raises ImportError
    import pandas as pd
    from humsec.errors import MissingExtra
    from humsec.index.scale import executor_for
    from humsec.report.brief import render_pdf
    import humsec.cli.main, humsec.api.app, humsec.web.pages  # every shell imports without them

    with executor_for(None) as ex:  # this process: no dask needed
        assert ex.serial
    for call, extra in ((lambda: render_pdf("<p>x</p>"), "pdf"),
                        (lambda: executor_for("local:1").__enter__(), "dask")):
        try:
            call()
        except MissingExtra as exc:
            assert exc.extra == extra and f"humsec[{extra}]" in str(exc), str(exc)
        else:
            raise AssertionError(f"no error without the {extra} extra")
    print("ok")
    """
)


def test_core_works_without_the_extras_and_names_them():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("ok")


def test_extras_are_declared_and_the_test_extra_installs_them():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = " ".join(meta["dependencies"]).lower()
    assert "weasyprint" not in deps and "dask" not in deps  # not in the core
    extras = meta["optional-dependencies"]
    assert any(d.startswith("weasyprint") for d in extras["pdf"])
    assert any(d.startswith("dask[distributed]") for d in extras["dask"])
    assert "humsec[pdf,dask]" in extras["test"]


def test_api_answers_501_when_an_extra_is_missing(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["weasyprint"] = None
        from fastapi.testclient import TestClient
        from humsec.api.app import create_app
        from humsec.settings import Settings
        c = TestClient(create_app(Settings(home={str(tmp_path)!r}, progress=False)))
        r = c.get("/api/v1/countries/KEN/brief", params={{"format": "pdf", "runs": 0}})
        print(r.status_code, r.headers.get("content-type"), r.json()["detail"])
        """
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    status, ctype, detail = r.stdout.strip().split(" ", 2)
    assert status == "501" and ctype.startswith("application/problem+json"), r.stdout
    assert "humsec[pdf]" in detail
