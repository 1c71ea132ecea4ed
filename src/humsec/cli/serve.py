"""``humsec serve``: the REST API and web dashboard (thin shell over :mod:`humsec.api`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional
import socket

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
    no_preload: bool = typer.Option(
        False, "--no-preload",
        help="Do not warm the response cache: compute each view on first use (by default the cache is "
             "loaded from <home>/cache when it matches the data, else computed in the background)."),
    wait_warm: bool = typer.Option(
        False, "--wait-warm",
        help="Accept requests only once every view is warm, even on the first start on new data, when "
             "computing them takes minutes (for a deployment behind a readiness check)."),
    allowed_host: Optional[list[str]] = typer.Option(
        None, "--allowed-host",
        help="Host header the service answers (repeat; default: loopback names and --host; '*' for any, "
             "e.g. behind a proxy that checks it)."),
    header_timeout: float = typer.Option(10.0, "--header-timeout",
                                         help="Seconds a client has to send a request's headers."),
) -> None:
    """Start the observatory service: REST API at /api/v1 (docs at /api/v1/docs) and the
    web dashboard at / — on the embedded default data unless you imported your own."""
    from humsec.api.config import ServiceConfig
    from humsec.api.server import run
    from humsec.web import create_site

    if not 0 < port < 65536:
        raise HumsecError(f"--port {port}: expected 1-65535")
    if runs < 0:
        raise HumsecError(f"--runs must be >= 0, got {runs}")
    if not header_timeout > 0:
        raise HumsecError(f"--header-timeout must be positive, got {header_timeout}")
    hosts = tuple(allowed_host or ())
    if not hosts and host in ("0.0.0.0", "::"):
        hosts = tuple(dict.fromkeys(["127.0.0.1", "localhost", "::1", "[::1]", socket.gethostname(),
                                     socket.getfqdn()]))
    settings = settings_from(ctx)
    if home is not None:
        settings = settings.model_copy(update={"home": home.expanduser()})
    config = ServiceConfig(host=host, port=port, token_file=token_file, runs=runs, trend_runs=min(50, runs),
                           preload=not no_preload, preload_wait=wait_warm and not no_preload,
                           allowed_hosts=hosts, header_timeout=header_timeout)
    app = create_site(settings, config)
    shown = f"[{host}]" if ":" in host else host
    err = console(stderr=True)
    err.print(f"humsec observatory on http://{shown}:{port}/ (API docs: /api/v1/docs; "
              f"data in {settings.home})", markup=False)
    if host in ("0.0.0.0", "::") and not allowed_host:
        err.print(f"answering the Host names {', '.join(config.trusted_hosts())}; add --allowed-host NAME for "
                  "the name clients use", markup=False)
    if config.preload_wait:
        err.print("warming the response cache before accepting requests (at once when the cache under "
                  f"{settings.home / 'cache'} matches the data; else every view is computed first: minutes)",
                  markup=False)
    elif config.preload:
        err.print(f"loading the response cache from {settings.home / 'cache'} when it matches the data; else "
                  "answering at once and warming every view in the background (minutes, once per data version)",
                  markup=False)
    run(app, host=host, port=port, header_timeout=header_timeout, log_level=log_level)


def register(app: typer.Typer) -> None:
    """Add ``humsec serve`` to the root command."""
    app.command("serve")(serve_cmd)
