"""The ``humsec`` command: a thin shell over the library."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Optional

import typer

from humsec import __version__
from humsec.errors import HumsecError
from humsec.settings import Settings

#: The shells under ``humsec``, in the order of ``humsec --help``: (module in
#: ``humsec.cli``, the top-level commands it adds). A command imports only its own module
#: (``humsec index build`` does not pay for the API, forecasting or oversight stacks);
#: ``humsec --help`` and unknown commands mount them all.
_SHELLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("data", ("data",)),
    ("index", ("index",)),
    ("assess", ("assess",)),
    ("brief", ("brief",)),
    ("groups", ("groups", "mpi")),
    ("export", ("export",)),
    ("spill", ("spill", "peers", "regions")),
    ("warn", ("warn", "forecast")),
    ("oversight", ("commitments", "budget", "oversight")),
    ("serve", ("serve",)),
)

#: Options of the root command that take a value (to find the command in ``argv``).
_VALUE_OPTIONS = frozenset({"--home"})


def _command_of(argv: list[str]) -> str | None:
    """The top-level command named in ``argv`` (None for none, e.g. ``--help``)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif arg == "--":
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def make_app(command: str | None = None) -> typer.Typer:
    """The root ``humsec`` app with the shell of ``command`` mounted (all shells when
    ``command`` is None or not a known command, so help and "No such command" are as
    with every shell)."""
    known = [m for m, names in _SHELLS if command in names]
    app = typer.Typer(
        help="humsec — the Human Security Observatory.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    for module in known or [m for m, _ in _SHELLS]:
        shell = importlib.import_module(f"humsec.cli.{module}")
        if module in ("data", "index"):
            app.add_typer(shell.app, name=module)
        else:
            shell.register(app)
    app.callback()(root)
    return app


def _version(value: bool) -> None:
    if value:
        typer.echo(f"humsec {__version__}")
        raise typer.Exit()


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

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        make_app(_command_of(args))(args=args, standalone_mode=False, prog_name="humsec")
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
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def run() -> None:  # console-script entry point
    sys.exit(main())


def __getattr__(name: str):
    """``humsec.cli.main.app``: the root app with every shell (built on first use)."""
    if name == "app":
        return make_app()
    raise AttributeError(name)
