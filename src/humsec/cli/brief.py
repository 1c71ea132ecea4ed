"""``humsec brief``: a 2-4 page country brief as HTML or PDF (thin shell over
:mod:`humsec.report.brief`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from humsec.cli.common import done_working, settings_from, step, wrote
from humsec.errors import HumsecError

BRIEF_FORMATS = ("html", "pdf")


def brief_cmd(
    ctx: typer.Context,
    unit: str = typer.Argument(..., help="ISO3 code of the country."),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="Assessment year (default: latest with enough data)."),
    fmt: str = typer.Option("html", "--format", "-f", help="html|pdf"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (HTML may go to stdout; PDF needs --out)."),
    spec: str = typer.Option("hsi", "--spec", "-s", help="Index spec: built-in 'hsi' or a YAML file."),
    runs: int = typer.Option(200, "--runs", "-n", help="Monte Carlo runs for rank intervals (0 = none)."),
    seed: int = typer.Option(20240101, "--seed", help="Seed of the uncertainty analysis."),
    base_year: Optional[int] = typer.Option(None, "--base-year", help="Start of the trend period."),
) -> None:
    """Country brief: dimension profile, trends, threats, uncertainty, regional peers, sources."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.cli.assess import load_inputs
    from humsec.data.export import atomic_write
    from humsec.report.brief import brief_html, prepare_briefing, render_pdf

    if fmt not in BRIEF_FORMATS:
        raise HumsecError(f"--format '{fmt}': expected one of {', '.join(BRIEF_FORMATS)}")
    if fmt == "pdf" and out is None:
        raise HumsecError("--format pdf needs --out FILE")
    if runs < 0:
        raise HumsecError(f"--runs must be >= 0, got {runs}")
    settings = settings_from(ctx)
    s, panel, cat = load_inputs(settings, spec)
    step(f"assessing every country ({runs} uncertainty runs) and the trends")
    b = prepare_briefing(s, panel, year=year, catalogue=cat, runs=runs, seed=seed, base_year=base_year)
    html = brief_html(b, unit, chart_format="png" if fmt == "pdf" else "svg")
    if fmt == "html":
        if out is None:
            done_working()
            sys.stdout.write(html)
            return
        atomic_write(out, lambda p: p.write_text(html, encoding="utf-8"))
    else:
        if out is None:  # refused above; kept for the type checker
            raise HumsecError("--format pdf needs --out FILE")
        step("rendering the PDF")
        pdf = render_pdf(html)
        atomic_write(out, lambda p: p.write_bytes(pdf))
    wrote(out)


def register(app: typer.Typer) -> None:
    """Add ``humsec brief`` to the root command."""
    app.command("brief")(brief_cmd)
