"""``humsec export …``: hand results to partners (CSV, Parquet, Excel, JSON, SDMX-CSV 2.0,
SDMX-ML 2.1), each with a Frictionless ``<file>.datapackage.json``; every file written is
reported as ``wrote FILE`` on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from humsec.cli.common import settings_from, wrote
from humsec.errors import HumsecError

app = typer.Typer(help="Export indices (every pipeline step) and datasets for partners: "
                       "xlsx, csv, parquet, json, sdmx-csv, sdmx-ml.", no_args_is_help=True)

_SUFFIX = {"xlsx": "xlsx", "csv": "csv", "parquet": "parquet", "json": "json",
           "sdmx-csv": "csv", "sdmx-ml": "xml"}


def register(root: typer.Typer) -> None:
    """Mount ``humsec export`` on the root app."""
    root.add_typer(app, name="export")


def _target(out: Optional[Path], stem: str, fmt: str) -> Path:
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data.service import dataset_name_for

    if out is not None:
        return out
    return Path(f"{dataset_name_for(stem + '.x')}.{_SUFFIX[fmt]}")


def _report(paths: list[Path]) -> None:
    wrote(paths)


@app.command("index")
def index(
    spec: str = typer.Argument(..., help="A built-in spec name (hdi, gii, inform, ...) or a spec YAML file."),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy CSV/XLSX/Parquet: unit,[year,]indicator,value."),
    fmt: str = typer.Option("xlsx", "--format", "-f", help="xlsx, csv, parquet, json, sdmx-csv or sdmx-ml."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (default: SPEC.<ext> here)."),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="Build this year (default: every year)."),
) -> None:
    """Build an index and export every pipeline step (one sheet per step in xlsx)."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.index.builtin import load_spec
    from humsec.index.io import read_index_data
    from humsec.index.pipeline import build, build_panel
    from humsec.report.export_index import INDEX_FORMATS, export_index

    if fmt not in INDEX_FORMATS:
        raise HumsecError(f"--format '{fmt}': expected one of {', '.join(INDEX_FORMATS)}")
    s = load_spec(spec)
    df = read_index_data(data)
    if year is not None or "year" not in df.columns or df["year"].nunique() <= 1:
        results = [build(s, df, year=year)]
    else:
        results = list(build_panel(s, df).results.values())
    _report(export_index(results, _target(out, s.name, fmt), fmt, source=Path(data).name))


@app.command("data")
def data(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="Dataset NAME or NAME@VERSION, or 'current' (all layered)."),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, parquet, xlsx, json, sdmx-csv or sdmx-ml."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (default: NAME.<ext> here)."),
    indicator: Optional[list[str]] = typer.Option(None, "--indicator", "-i", help="Only these indicators."),
) -> None:
    """Export a stored dataset (a vintage) with its provenance and a datapackage.json."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data.export import DATA_FORMATS, export_dataset

    if fmt not in DATA_FORMATS:
        raise HumsecError(f"--format '{fmt}': expected one of {', '.join(DATA_FORMATS)}")
    stem = dataset.replace("@", "_v")
    _report(export_dataset(settings_from(ctx), dataset, _target(out, stem, fmt), fmt,
                           indicators=indicator or None))
