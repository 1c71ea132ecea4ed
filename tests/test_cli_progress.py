"""The CLI's "still working" indicator (commands over two seconds) and the "wrote FILE"
line after every export."""

from __future__ import annotations

import io
import time

from rich.console import Console

from humsec.cli import common


def _terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=100, highlight=False), buf


def test_indicator_appears_only_after_the_delay_and_names_the_step():
    con, buf = _terminal()
    with common.Working("humsec assess", after=0.05, console=con):
        common.step("building 25 years")
        time.sleep(0.8)
    text = buf.getvalue()
    assert "humsec assess" in text and "building 25 years" in text
    assert text.rstrip().endswith("\x1b[?25h") or "\x1b[2K" in text  # the line is cleared at the end

    con, buf = _terminal()
    with common.Working("humsec quick", after=5.0, console=con):
        time.sleep(0.05)
    assert "humsec quick" not in buf.getvalue()  # a quick command shows nothing


def test_messages_print_above_the_indicator_and_results_remove_it():
    con, buf = _terminal()
    w = common.Working("humsec brief", after=0.0, console=con).start()
    try:
        deadline = time.monotonic() + 5
        while w.console is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert common.console(stderr=True) is con  # stderr messages go through the live console
        common.wrote("/tmp/x.html")
        assert "wrote /tmp/x.html" in buf.getvalue()
        common.done_working()  # results are coming on stdout
        assert w._status is None and common.console(stderr=True) is not con
    finally:
        w.stop()
    assert common._WORKING.get() is None


def test_wrote_names_every_file(capsys, tmp_path):
    common.wrote([tmp_path / "a.csv", tmp_path / "b.csv"])
    err = capsys.readouterr().err
    assert f"wrote {tmp_path / 'a.csv'}" in err and f"wrote {tmp_path / 'b.csv'}" in err


def test_every_export_command_says_what_it_wrote(default_env, tmp_path, capsys):
    from humsec.cli.main import main

    home = str(default_env[0].home)
    cases = [
        (["export", "data", "current", "-i", "life_expectancy", "--format", "csv", "--out", str(tmp_path / "le.csv")],
         tmp_path / "le.csv"),
        (["brief", "KEN", "--runs", "0", "--out", str(tmp_path / "ken.html")], tmp_path / "ken.html"),
        (["assess", "--export-spec", str(tmp_path / "my.yaml")], tmp_path / "my.yaml"),
    ]
    for argv, path in cases:
        capsys.readouterr()
        assert main(["--home", home, *argv]) == 0, argv
        err = capsys.readouterr().err
        assert path.is_file(), argv
        assert f"wrote {path}" in err, (argv, err)


SMALL_SPEC = """
spec_version: 1
name: small
tree:
  - {code: top}
  - {code: p1, parent: top}
  - {code: a, parent: p1}
  - {code: b, parent: p1, direction: -1}
steps:
  - {step: impute, method: mean}
  - {step: normalise, method: minmax, params: {lo: 0, hi: 100}}
  - {step: aggregate, method: arithmetic}
"""


def test_index_commands_say_every_file_they_wrote(tmp_path, capsys):
    import pandas as pd

    from humsec.cli.main import main

    spec_f, data_f = tmp_path / "spec.yaml", tmp_path / "data.csv"
    spec_f.write_text(SMALL_SPEC)
    pd.DataFrame({"unit": ["A", "B", "C", "A", "B", "C"], "indicator": list("aaabbb"),
                  "value": [1.0, 2.0, 3.0, 5.0, None, 1.0]}).to_csv(data_f, index=False)
    out = tmp_path / "built"
    capsys.readouterr()
    assert main(["index", "build", str(spec_f), "-d", str(data_f), "--out", str(out), "--format", "csv"]) == 0
    err = capsys.readouterr().err
    written = sorted(p.name for p in out.iterdir())
    assert {"ranks.csv", "weights.csv", "step_log.json", "spec.yaml", "aggregated.csv"} <= set(written)
    for name in written:
        assert f"wrote {out / name}" in err, (name, err)
    assert main(["index", "schema", "--out", str(tmp_path / "schema.json")]) == 0
    assert f"wrote {tmp_path / 'schema.json'}" in capsys.readouterr().err
