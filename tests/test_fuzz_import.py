"""Fuzzing the readers of user files (#22): mutated CSV, TSV, xlsx, Parquet, index spec,
catalogue and commitments inputs are read or rejected with a HumsecError naming the file,
never a crash.

The harness is ``benchmarks/fuzz_import.py`` (seeded numpy Generator, reproducible); CI
runs a few hundred mutations per format (``HUMSEC_FUZZ_N`` to change), the script runs
100,000 per format outside CI.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
N = int(os.environ.get("HUMSEC_FUZZ_N", "300"))


def _harness():
    spec = importlib.util.spec_from_file_location("fuzz_import", REPO / "benchmarks" / "fuzz_import.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_import"] = mod
    spec.loader.exec_module(mod)
    return mod


F = _harness()


@pytest.mark.parametrize("fmt", F.FORMATS)
def test_no_crash_on_mutated_inputs(fmt, tmp_path, monkeypatch):
    monkeypatch.setenv("HUMSEC_HOME", str(tmp_path / "home"))
    r = F.fuzz(fmt, N, seed=22, save=tmp_path / "crashes", max_seconds=20)
    assert r.tried >= min(N, 100) * 0.9
    crashes = "\n".join(f"{c} x {what} at {where}" for (what, where), c in r.crashes.most_common())
    assert not r.crashes, f"{fmt}: {sum(r.crashes.values())} crash(es) in {r.tried} inputs:\n{crashes}"
    assert r.rejected > 0 and r.read > 0  # the mutations reach both outcomes


def test_seeds_are_valid_inputs(tmp_path, monkeypatch):
    """Each unmutated seed reads: the fuzzer mutates valid files, not garbage."""
    monkeypatch.setenv("HUMSEC_HOME", str(tmp_path / "home"))
    for fmt in ("spec", "catalogue", "commitments"):
        for i, data in enumerate(F._yaml_seeds(fmt)):
            p = tmp_path / f"{fmt}{i}.yaml"
            p.write_bytes(data)
            F.read_one(fmt, p)
    for i, rows in enumerate(F._seed_tables()):
        p = tmp_path / f"t{i}.csv"
        p.write_bytes(F._csv_text(rows, ","))
        F.read_one("csv", p)


def test_mutations_are_reproducible(tmp_path):
    import numpy as np

    a = F.mutate_bytes(b"unit,year,indicator,value\nKEN,2020,u5mr,1\n", np.random.default_rng(5))
    b = F.mutate_bytes(b"unit,year,indicator,value\nKEN,2020,u5mr,1\n", np.random.default_rng(5))
    assert a == b


def _laughs(key: str) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i-1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join([*lines, f"{key}: *a9", ""])


@pytest.mark.parametrize("what", ["alert rules", "connector registry"])
def test_alert_rules_and_connector_registry_reject_yaml_bombs(tmp_path, what):
    """Alert rules (forecast/alerts.py) and the connector registry read YAML through the
    bounded loader: an alias bomb, deep nesting and a non-UTF-8 file are located errors
    (not a MemoryError, a crash of the C composer or a traceback)."""
    from humsec.data.connectors.registry import SourceRegistry
    from humsec.errors import HumsecError
    from humsec.forecast.alerts import load_rules, parse_rules

    if what == "alert rules":
        parse, load = (lambda t: parse_rules(t, file="r.yaml")), load_rules
        key = "rules"
    else:
        parse, load = (lambda t: SourceRegistry.from_yaml(t, file="r.yaml")), SourceRegistry.from_file
        key = "sources"
    with pytest.raises(HumsecError, match="alias bomb"):
        parse(_laughs(key))
    with pytest.raises(HumsecError, match="nested too deeply"):
        parse(f"{key}: " + "[" * 5000 + "]" * 5000 + "\n")
    f = tmp_path / "latin1.yaml"
    f.write_bytes(f"{key}: []\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(HumsecError, match="not UTF-8"):
        load(f)
