"""Helpers shared by the CLI sub-apps: settings from the context, output formats."""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar, Token
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from humsec.settings import Settings

if TYPE_CHECKING:
    from rich.status import Status

FORMATS = ("table", "csv", "json")


def settings_from(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    if isinstance(obj, Settings):
        return obj
    return Settings.from_env()


def console(stderr: bool = False) -> Console:
    """A console on stdout or stderr; on stderr while a :class:`Working` indicator is
    shown, its console, so that messages print above the spinner instead of through it."""
    active = _WORKING.get()
    if stderr:
        if active is not None and active.console is not None:
            return active.console
    elif active is not None:  # results are coming: the indicator has done its job
        active.stop()
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=None)


def wrote(paths: Path | str | Iterable[Path | str]) -> None:
    """Say ``wrote FILE`` on stderr for every file an export wrote (stdout may carry data)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    err = console(stderr=True)
    for p in paths:
        err.print(f"wrote {p}", markup=False, soft_wrap=True, highlight=False)


class Working:
    """A "still working" indicator for commands that take longer than ``after`` seconds.

    Nothing is shown for quick commands; after ``after`` seconds a spinner on stderr
    names the command, the current step (:func:`step`) and the elapsed time, until
    :meth:`stop`. Only on an interactive stderr (the caller decides, e.g. from
    ``Settings.progress``), so pipes and logs stay clean.

    Parameters
    ----------
    label : str
        What is running, e.g. ``"humsec assess"``.
    after : float
        Seconds before the indicator appears (2 s: below that a user does not wonder).
    console : rich.console.Console, optional
        Where to draw it (default: a new console on stderr).
    """

    def __init__(self, label: str, *, after: float = 2.0, console: Console | None = None):
        self.label = label
        self.after = float(after)
        self._console = console or Console(stderr=True, highlight=False)
        self.console: Console | None = None
        self.step = ""
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._status: Status | None = None
        self._thread: threading.Thread | None = None
        self._token: Token[Working | None] | None = None

    def _text(self) -> str:
        step = f" — {escape(self.step)}" if self.step else ""
        return f"{escape(self.label)}{step} … {time.monotonic() - self._t0:.0f} s"

    def _run(self) -> None:
        if self._stop.wait(self.after):
            return
        with self._lock:
            if self._stop.is_set():
                return
            self._status = self._console.status(self._text(), spinner="dots")
            self._status.start()
            self.console = self._console
        while not self._stop.wait(0.5):
            with self._lock:
                if self._status is not None:
                    self._status.update(self._text())

    def start(self) -> "Working":
        self._token = _WORKING.set(self)
        self._thread = threading.Thread(target=self._run, name="humsec-working", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._status is not None:
                self._status.stop()
                self._status = None
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._token is not None:
            try:
                _WORKING.reset(self._token)
            except ValueError:  # stopped from another context (click's close callbacks)
                _WORKING.set(None)
            self._token = None

    def __enter__(self) -> "Working":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_WORKING: ContextVar[Working | None] = ContextVar("humsec_working", default=None)


def done_working() -> None:
    """Remove the "still working" indicator (if any) before results go to stdout."""
    active = _WORKING.get()
    if active is not None:
        active.stop()


def step(text: str) -> None:
    """Name the current step of a long command on its :class:`Working` indicator (if any)."""
    active = _WORKING.get()
    if active is not None:
        active.step = str(text)


def emit(df: pd.DataFrame, fmt: str, *, title: str | None = None, max_rows: int | None = None) -> None:
    """Print a frame as a rich table, CSV (formula-safe) or JSON records to stdout."""
    # local: humsec.data.export brings the data store (duckdb) and the SDMX writer, and
    # every shell (even ``humsec index``) imports this module
    from humsec.data.export import safe_frame

    done_working()
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
        justify: Literal["right", "left"] = "right" if pd.api.types.is_numeric_dtype(df[col]) else "left"
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
    done_working()
    sys.stdout.write(json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n")
