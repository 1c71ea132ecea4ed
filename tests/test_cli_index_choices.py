"""The choices of ``humsec index`` options passed on to the index functions: typed tuples in
the CLI (so mypy checks the calls) that must name exactly the index functions' choices, and
a clear error (exit 2) for any other value, before any data is read."""

from __future__ import annotations

import pytest

from humsec.cli import index as cli_index
from humsec.cli.main import main
from humsec.errors import HumsecError
from humsec.index import analysis_coin, sensitivity


def test_cli_choices_are_those_of_the_index_functions():
    assert cli_index.ESTIMATORS == sensitivity.ESTIMATORS
    assert cli_index.LAYOUTS == sensitivity.LAYOUTS
    assert cli_index.CORR_METHODS == analysis_coin.CORR_METHODS


def test_choice_returns_the_choice_or_names_the_option():
    assert cli_index._choice("jansen", cli_index.ESTIMATORS, "--estimator") == "jansen"
    with pytest.raises(HumsecError, match=r"^--estimator 'sobol': expected one of saltelli, coinr, jansen$"):
        cli_index._choice("sobol", cli_index.ESTIMATORS, "--estimator")


def test_unknown_estimator_is_a_clear_error(tmp_path, capsys):
    code = main(["index", "report", "hdi", "-d", str(tmp_path / "absent.csv"), "-o", str(tmp_path / "r.html"),
                 "--estimator", "sobol"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--estimator 'sobol': expected one of saltelli, coinr, jansen" in err
    assert "Traceback" not in err
    assert not (tmp_path / "r.html").exists()
