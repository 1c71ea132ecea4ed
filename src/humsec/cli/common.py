"""Helpers shared by the CLI sub-apps: settings from the context, output formats."""

from __future__ import annotations

import io
import json
import sys

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from humsec.settings import Settings

FORMATS = ("table", "csv", "json")


def settings_from(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    if isinstance(obj, Settings):
        return obj
    return Settings.from_env()


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=None)


def emit(df: pd.DataFrame, fmt: str, *, title: str | None = None, max_rows: int | None = None) -> None:
    """Print a frame as a rich table, CSV (formula-safe) or JSON records to stdout."""
    from humsec.data.export import safe_frame

    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    if fmt == "csv":
        buf = io.StringIO()
        safe = safe_frame(df)
        # "\n" line ends as a terminal expects; but a cell holding a carriage return is
        # only quoted when it is part of the line terminator, so then use CRLF (RFC 4180)
        has_cr = any(safe[c].astype(str).str.contains("\r", regex=False).any()
                     for c in safe.columns if safe[c].dtype == object or pd.api.types.is_string_dtype(safe[c]))
        safe.to_csv(buf, index=False, lineterminator="\r\n" if has_cr else "\n")
        sys.stdout.write(buf.getvalue())
        return
    if fmt == "json":
        sys.stdout.write(df.to_json(orient="records", force_ascii=False, indent=None) + "\n")
        return
    table = Table(title=title, show_lines=False)
    for col in df.columns:
        justify = "right" if pd.api.types.is_numeric_dtype(df[col]) else "left"
        table.add_column(str(col), justify=justify, overflow="fold")
    shown = df if max_rows is None else df.head(max_rows)
    for row in shown.itertuples(index=False):
        table.add_row(*[_fmt(v) for v in row])
    out = Console(width=max(120, Console().width))
    out.print(table)
    if max_rows is not None and len(df) > max_rows:
        out.print(f"... {len(df) - max_rows} more rows (use --format csv for all)")


def _fmt(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(v)


def dump_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n")
