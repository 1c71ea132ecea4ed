"""The ``humsec`` command: a thin shell over the library."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from humsec import __version__
from humsec.cli import assess as assess_cli
from humsec.cli import brief as brief_cli
from humsec.cli import data as data_cli
from humsec.cli import export as export_cli
from humsec.cli import groups as groups_cli
from humsec.cli import index as index_cli
from humsec.cli import oversight as oversight_cli
from humsec.cli import serve as serve_cli
from humsec.cli import spill as spill_cli
from humsec.cli import warn as warn_cli
from humsec.errors import HumsecError
from humsec.settings import Settings

app = typer.Typer(
    help="humsec — the Human Security Observatory.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_cli.app, name="data")


app.add_typer(index_cli.app, name="index")
for _module in (assess_cli, brief_cli, groups_cli, export_cli, spill_cli, warn_cli, oversight_cli, serve_cli):
    _module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"humsec {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(
        None, "--home", help="Data directory (default: $HUMSEC_HOME or the user data dir).",
        envvar="HUMSEC_HOME"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    ctx.obj = Settings.from_env(home=home, progress=(not quiet) and sys.stderr.isatty())
    command = ctx.invoked_subcommand
    if ctx.obj.progress and command and command not in _OWN_PROGRESS:
        from humsec.cli.common import Working

        working = Working(f"humsec {command}").start()
        ctx.call_on_close(working.stop)


#: Commands that run until stopped: no "still working" indicator. Commands that draw their
#: own progress bar (index uncertainty, data fetch/update) remove the indicator first
#: (:func:`humsec.cli.common.done_working`); per-step lines print above it.
_OWN_PROGRESS = frozenset({"serve"})


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors print a located message and exit with code 2."""
    from humsec.cli.common import console

    try:
        app(args=argv, standalone_mode=False, prog_name="humsec")
    except HumsecError as exc:
        from rich.markup import escape

        console(stderr=True).print(f"[bold red]error:[/bold red] {escape(str(exc))}", markup=True,
                                   soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        console(stderr=True).print("aborted")
        return 1
    except Exception as exc:  # usage errors (click's, or typer's vendored copy)
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:  # console-script entry point
    sys.exit(main())
