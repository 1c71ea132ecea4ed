"""``humsec serve``: the REST API and web dashboard (thin shell over :mod:`humsec.api`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from humsec.cli.common import console, settings_from
from humsec.errors import HumsecError


def serve_cmd(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8000, "--port", "-p", help="TCP port."),
    home: Optional[Path] = typer.Option(None, "--home", help="Data directory (database); overrides the global --home."),
    token_file: Optional[Path] = typer.Option(
        None, "--token-file",
        help="Tokens for the write endpoints, one 'ROLE SHA256-OF-TOKEN [NAME]' per line "
             "(default: the oversight database's tokens)."),
    runs: int = typer.Option(200, "--runs", "-n", help="Monte Carlo runs behind rank intervals."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    no_preload: bool = typer.Option(False, "--no-preload", help="Do not compute the default assessment at start-up."),
) -> None:
    """Start the observatory service: REST API at /api/v1 (docs at /api/v1/docs) and the
    web dashboard at / — on the embedded default data unless you imported your own."""
    import uvicorn

    from humsec.api.config import ServiceConfig
    from humsec.web import create_site

    if not 0 < port < 65536:
        raise HumsecError(f"--port {port}: expected 1-65535")
    if runs < 0:
        raise HumsecError(f"--runs must be >= 0, got {runs}")
    settings = settings_from(ctx)
    if home is not None:
        settings = settings.model_copy(update={"home": home.expanduser()})
    config = ServiceConfig(host=host, port=port, token_file=token_file, runs=runs, trend_runs=min(50, runs),
                           preload=not no_preload)
    app = create_site(settings, config)
    shown = f"[{host}]" if ":" in host else host
    console(stderr=True).print(f"humsec observatory on http://{shown}:{port}/ (API docs: /api/v1/docs; "
                               f"data in {settings.home})", markup=False)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


def register(app: typer.Typer) -> None:
    """Add ``humsec serve`` to the root command."""
    app.command("serve")(serve_cmd)
