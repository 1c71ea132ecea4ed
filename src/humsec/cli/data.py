"""``humsec data …``: the catalogue, the store and user imports."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from humsec.cli.common import console, done_working, emit, settings_from, wrote
from humsec.data import service
from humsec.data.export import DATA_FORMATS, export_dataset
from humsec.errors import HumsecError
from humsec.model.panel import DIMENSIONS, TOTAL

app = typer.Typer(help="Indicator catalogue, local store, imports and exports.", no_args_is_help=True)

from humsec.cli import release as _release  # noqa: E402  (sub-commands live in their own module)

app.add_typer(_release.app, name="release")
app.command("status")(_release.status)
app.command("update")(_release.update)


@app.command("list")
def list_indicators(
    ctx: typer.Context,
    dimension: Optional[str] = typer.Option(None, help="Only this human-security dimension."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """The indicator catalogue with data coverage, grouped by dimension."""
    settings = settings_from(ctx)
    store = service.open_store(settings)
    panel, origin = service.current_panel(settings, store)
    cat = service.catalogue(settings, store)
    if dimension is not None and dimension not in (*DIMENSIONS, "context"):
        raise HumsecError(f"unknown dimension '{dimension}': expected one of {', '.join(DIMENSIONS)}")
    df = panel.data
    df = df[df["value"].notna()]
    cov = df.groupby("indicator").agg(
        countries=("unit", "nunique"), first_year=("year", "min"), last_year=("year", "max"),
        observations=("value", "size"))
    rows = []
    for ind in cat:
        if dimension and ind.dimension != dimension:
            continue
        c = cov.loc[ind.code] if ind.code in cov.index else None
        rows.append({
            "dimension": ind.dimension, "code": ind.code, "name": ind.name,
            "direction": "+" if ind.direction == 1 else "-", "sdg": ind.sdg or "",
            "countries": int(c["countries"]) if c is not None else 0,
            "years": f"{int(c['first_year'])}-{int(c['last_year'])}" if c is not None else "",
            "observations": int(c["observations"]) if c is not None else 0,
            "snapshot": origin.get(ind.code, ""),
        })
    order = {d: i for i, d in enumerate((*DIMENSIONS, "context"))}
    out = pd.DataFrame(rows)
    out = out.sort_values(["dimension", "code"], key=lambda s: s.map(order) if s.name == "dimension" else s)
    emit(out, fmt, title="humsec indicator catalogue")
    if fmt == "table":
        summ = out[out["countries"] > 0].groupby("dimension").agg(
            indicators=("code", "size"), max_countries=("countries", "max"))
        summ = summ.reindex([d for d in (*DIMENSIONS, "context") if d in summ.index]).reset_index()
        emit(summ, "table", title="Coverage per dimension")


@app.command("show")
def show(
    ctx: typer.Context,
    indicator: str = typer.Argument(..., help="Indicator code (see `humsec data list`)."),
    unit: Optional[str] = typer.Option(None, "--unit", help="ISO3 code: the time series of one unit."),
    year: Optional[int] = typer.Option(None, help="One year (default: each unit's latest)."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """Values and provenance of one indicator."""
    settings = settings_from(ctx)
    store = service.open_store(settings)
    panel, origin = service.current_panel(settings, store)
    cat = service.catalogue(settings, store)
    if indicator not in cat:
        close = difflib.get_close_matches(indicator, cat.codes, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise HumsecError(f"unknown indicator '{indicator}'{hint}")
    ind = cat[indicator]
    sub = panel.filter(indicators=[indicator])
    df = sub.data
    if unit:
        unit = unit.upper()
        df = df[df["unit"] == unit]
        if df.empty:
            raise HumsecError(f"no data for '{indicator}' and unit '{unit}'")
        df = df.sort_values(["year", "sex", "age", "group"])
    else:
        df = df[(df["sex"] == TOTAL) & (df["age"] == TOTAL) & (df["group"] == TOTAL)]
        if year is not None:
            df = df[df["year"] == year]
        else:
            df = df.sort_values("year").groupby("unit", as_index=False).last()
        df = df.sort_values("value", ascending=ind.direction == -1)
    if year is not None and unit:
        df = df[df["year"] == year]
    cols = ["unit", "year", "value"] + [k for k in ("sex", "age", "group") if (df[k] != TOTAL).any()]
    if fmt == "table":
        c = console()
        p = sub.provenance.get(indicator)
        c.print(f"[bold]{ind.code}[/bold] — {ind.name} ({ind.unit}); dimension {ind.dimension}; "
                f"direction {'+1 (higher is better)' if ind.direction == 1 else '-1 (lower is better)'}"
                + (f"; SDG {ind.sdg}" if ind.sdg else ""))
        if p is not None:
            c.print(f"source: {p.source} {p.edition}; licence: {p.licence}; via: {p.via}; "
                    f"accessed {p.accessed}; sha256 {p.content_hash[:12]}…; snapshot "
                    f"{origin.get(indicator, '')}", markup=False)
            if p.file:
                c.print(f"file: {p.file}" + (f", series {p.series}" if p.series else ""), markup=False)
            if p.citation:
                c.print(f"cite: {p.citation}", markup=False)
    emit(df[cols].reset_index(drop=True), fmt, max_rows=60 if fmt == "table" else None)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV, TSV, Excel (.xlsx) or Parquet file."),
    name: Optional[str] = typer.Option(None, help="Dataset name (default: from the file name)."),
    catalogue_file: Optional[Path] = typer.Option(None, "--catalogue", help="YAML declaring new indicators."),
    layout: str = typer.Option("auto", help="auto, tidy, wide (indicators as columns) or wide-years."),
    sheet: Optional[str] = typer.Option(None, help="Excel sheet name."),
    year: Optional[int] = typer.Option(None, help="Year for files without a year column."),
    source: Optional[str] = typer.Option(None, help="Source to record in the provenance."),
    licence: Optional[str] = typer.Option(None, help="Licence of the data."),
) -> None:
    """Validate a data file and store it as a new immutable snapshot."""
    settings = settings_from(ctx)
    snap, created, result = service.import_file(
        settings, file, name=name, catalogue_file=catalogue_file, layout=layout, sheet=sheet,
        year=year, source=source, licence=licence)
    c = console()
    p = result.panel
    msg = (f"{len(p)} observations of {len(p.indicators)} indicator(s) for {len(p.units)} unit(s), "
           f"years {p.years[0]}–{p.years[-1]} ({result.layout} layout")
    msg += f"; {result.missing_dropped} empty cell(s) skipped)" if result.missing_dropped else ")"
    if result.encoding and not result.encoding.startswith("utf-8"):
        msg += f"; read as {result.encoding} text, not UTF-8"
    if created:
        c.print(f"[green]imported[/green] {file.name} as snapshot {snap.ref}: {msg}")
    else:
        c.print(f"unchanged: {file.name} equals snapshot {snap.ref}; no new version created ({msg}")


@app.command("export")
def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Dataset NAME or NAME@VERSION, or 'current' (all layered)."),
    fmt: str = typer.Option("csv", "--format", help="csv, parquet, xlsx, json, sdmx-csv or sdmx-ml"),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default: NAME.FORMAT here)."),
) -> None:
    """Export a stored dataset (tidy rows with provenance) and its datapackage.json
    (the same as ``humsec export data``)."""
    if fmt not in DATA_FORMATS:
        raise HumsecError(f"--format '{fmt}': expected one of {', '.join(DATA_FORMATS)}")
    suffix = {"sdmx-csv": "csv", "sdmx-ml": "xml"}.get(fmt, fmt)
    target = out or Path(f"{service.dataset_name_for(name.replace('@', '_v') + '.x')}.{suffix}")
    wrote(export_dataset(settings_from(ctx), name, target, fmt))


@app.command("snapshots")
def snapshots(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """All stored snapshots (immutable versions of each dataset)."""
    settings = settings_from(ctx)
    store = service.open_store(settings)
    snaps = store.snapshots()
    df = pd.DataFrame([{
        "snapshot": s.ref, "kind": s.kind, "created": str(s.created), "observations": s.n_obs,
        "origin": s.origin or "", "sha256": s.content_hash[:16]} for s in snaps],
        columns=["snapshot", "kind", "created", "observations", "origin", "sha256"])
    emit(df, fmt, title=f"Snapshots in {store.path}")


# -- live sources: fetch, vintages, diff (issue 10) ------------------------------------------
def _split(values: Optional[list[str]]) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out += [p.strip() for p in v.split(",") if p.strip()]
    return out


@app.command("sources")
def sources(
    ctx: typer.Context,
    source: Optional[str] = typer.Argument(None, help="Show the indicators of this source."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """The live data sources humsec can fetch from (the connector registry)."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data.connectors import SourceRegistry

    reg = SourceRegistry.default()
    if source is None:
        df = pd.DataFrame([{
            "source": s.id, "title": s.title, "indicators": len(s.indicators),
            "catalogue codes": ", ".join(sorted({m.code for m in s.indicators.values()})),
            "licence": s.licence, "host": s.host} for s in reg])
        emit(df, fmt, title="Live data sources (humsec data fetch SOURCE)")
        return
    spec = reg[source]
    df = pd.DataFrame([{"series": k, "indicator": m.code, "sex": m.sex or "",
                        "scale": m.scale, "description": m.description}
                       for k, m in spec.indicators.items()])
    emit(df, fmt, title=f"{spec.id}: {spec.title} — {spec.homepage or spec.base_url}")


@app.command("fetch")
def fetch_cmd(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="Source id (see `humsec data sources`)."),
    indicators: Optional[list[str]] = typer.Argument(
        None, help="Source series or catalogue codes (default: every mapped indicator)."),
    countries: Optional[list[str]] = typer.Option(
        None, "--countries", "-c", help="ISO3 codes or names, comma-separated or repeated."),
    since: Optional[int] = typer.Option(None, "--since", help="First year."),
    until: Optional[int] = typer.Option(None, "--until", help="Last year."),
    name: Optional[str] = typer.Option(None, "--name", help="Dataset name (default: the source id)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the requests; send nothing."),
) -> None:
    """Fetch from a live source and store the answer as a new immutable vintage."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data import vintages
    from humsec.data.connectors import SourceRegistry, plan, resolve_query

    settings = settings_from(ctx)
    reg = SourceRegistry.default()
    spec = reg[source]
    query = resolve_query(spec, _split(indicators), countries=_split(countries) or None,
                          since=since, until=until)
    c = console()
    if dry_run:
        reqs = plan(spec, query, settings)
        c.print(f"dry run: {len(reqs)} request(s) to {spec.host} "
                f"({spec.title}); nothing is sent", markup=False)
        for r in reqs:
            typer.echo(r.display())
        typer.echo(f"would store dataset "
                   f"'{name or vintages.dataset_name(spec, query.codes)}' "
                   f"in {settings.db_path}")
        return
    with _progress(settings) as progress:
        snap, created, result = vintages.fetch_to_store(
            settings, source, _split(indicators), countries=_split(countries) or None,
            since=since, until=until, name=name, registry=reg, progress=progress)
    p = result.panel
    years = f"years {p.years[0]}–{p.years[-1]}" if len(p) else "no years"
    msg = (f"{len(p)} observations of {len(p.indicators)} indicator(s) "
           f"({', '.join(p.indicators)}) for {len(p.units)} countries, {years}; "
           f"edition {result.edition}; {len(result.urls)} request(s)")
    if created:
        c.print(f"fetched {spec.id} as vintage {snap.ref}: {msg}", markup=False)
    else:
        c.print(f"unchanged: {spec.id} equals vintage {snap.ref}; no new vintage created ({msg})",
                markup=False)
    for line in result.report.lines():
        console(stderr=True).print(f"note: {line}", markup=False)


class _progress:
    """A rich progress bar on stderr (or nothing when progress is off)."""

    def __init__(self, settings):
        self.enabled = bool(settings.progress)
        self.bar = None
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        if not self.enabled:
            return None
        # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        done_working()  # the bar replaces the generic indicator (rich allows one live display)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            console=console(stderr=True), transient=True)
        self.bar.__enter__()
        return self.update

    def update(self, label: str, done: int, total: int | None) -> None:
        if label not in self.tasks:
            self.tasks[label] = self.bar.add_task(str(label), total=total)
        self.bar.update(self.tasks[label], completed=done, total=total)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


@app.command("diff")
def diff(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="Dataset name (e.g. worldbank, hdr)."),
    against: Optional[str] = typer.Option(
        None, "--against", help="Compare DATASET's latest vintage with this dataset (NAME or NAME@VERSION, "
                                "e.g. default = the shipped release), on the indicators both hold."),
    from_version: Optional[int] = typer.Option(None, "--from", help="Older version (default: the one before --to)."),
    to_version: Optional[int] = typer.Option(None, "--to", help="Newer version (default: the latest)."),
    indicator: Optional[str] = typer.Option(None, "--indicator", help="Only this indicator."),
    tolerance: float = typer.Option(0.0, "--tolerance", help="Ignore revisions up to this size."),
    summary: bool = typer.Option(False, "--summary", help="Counts per indicator only."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """Revisions between two vintages: values added, removed and changed (old -> new)."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data import vintages

    settings = settings_from(ctx)
    store = service.open_store(settings)
    if "@" in dataset:
        raise HumsecError("give the dataset name without @VERSION and use --from/--to")
    if against is not None:
        base = service.panel_for(settings, against, store)
        new = store.load_panel(dataset if to_version is None else f"{dataset}@{to_version}")
        common = sorted(set(base.indicators) & set(new.indicators))
        if not common:
            raise HumsecError(f"'{dataset}' and '{against}' share no indicator")
        new_ref = store.resolve(dataset if to_version is None else f"{dataset}@{to_version}").ref
        rev = vintages.diff_panels(base.filter(indicators=common), new.filter(indicators=common),
                                   old_ref=against, new_ref=new_ref, tolerance=tolerance)
    else:
        rev = vintages.diff_snapshots(store, dataset, from_version=from_version,
                                      to_version=to_version, tolerance=tolerance)
    table = rev.table
    if indicator:
        table = table[table["indicator"] == indicator]
    title = (f"Revisions {rev.old_ref} -> {rev.new_ref}: {len(table)} value(s) revised, "
             f"{rev.unchanged} unchanged")
    if summary:
        s = rev.summary()
        emit(s[s["indicator"] == indicator] if indicator else s, fmt, title=title)
    else:
        emit(table.reset_index(drop=True), fmt, title=title,
             max_rows=200 if fmt == "table" else None)
