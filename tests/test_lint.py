"""Static checks in CI: ruff (syntax errors, pyflakes) over the package, tests and
benchmarks, and mypy over the package (configured in pyproject.toml; modules with errors
from before mypy entered CI are listed there and leave the list when fixed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=900)


def test_ruff_finds_nothing():
    assert shutil.which("ruff") or _run("ruff", "--version").returncode == 0, "ruff is in the test extra"
    r = _run("ruff", "check", "src", "tests", "benchmarks")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_mypy_finds_nothing():
    r = _run("mypy", "--no-error-summary", "--cache-dir", str(REPO / ".mypy_cache"))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
