"""``humsec data release …``, ``humsec data status`` and ``humsec data update``."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from humsec.cli.common import console, emit, settings_from
from humsec.errors import HumsecError

app = typer.Typer(help="Data releases: build a release from the publishers' files, inspect it.",
                  no_args_is_help=True)


@app.command("build")
def build(
    ctx: typer.Context,
    source_dir: Path = typer.Option(..., "--from", help="Directory of the publishers' files (layout of ../shared/data)."),
    out: Path = typer.Option(Path("release"), "--out", help="Directory to write the release to (replaced atomically)."),
    recipe: Optional[Path] = typer.Option(None, "--recipe", help="Release recipe (default: the shipped recipe)."),
    include_test_only: bool = typer.Option(
        False, "--include-test-only", help="Also read series marked ship: false (the release is then not shippable)."),
    install: bool = typer.Option(False, "--install", help="Install the new release as this store's default dataset."),
) -> None:
    """Build a dated, versioned release (tidy observations, displacement matrix, catalogue,
    provenance, manifest) with the licence gate; nothing half-built is ever written."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data import service
    from humsec.data.release import build_release, load_release, write_release

    settings = settings_from(ctx)
    err = console(stderr=True)
    built = build_release(source_dir, recipe, include_test_only=include_test_only,
                          progress=(lambda m: err.print(f"  {m}", markup=False)) if settings.progress else None)
    path = write_release(built, out)
    m = built.manifest
    c = console()
    c.print(f"release {m['release']} ({m['released']}) written to {path}: {m['rows']:,} observations of "
            f"{len(m['indicators'])} indicators for {m['units']} units; displacement matrix "
            f"{m['displacement']['rows']:,} rows; {m['content_hash']}"
            + ("" if m["shippable"] else "; NOT shippable (holds test-only series)"), markup=False)
    held = [c_ for c_, d in m["licence_decisions"].items() if d["decision"].startswith("test-only")]
    if held:
        c.print(f"test-only series {'included' if include_test_only else 'left out'}: {', '.join(held)}",
                markup=False)
    if install:
        snap = service.install_release(settings, load_release(path))
        c.print(f"installed as {snap.ref}", markup=False)


@app.command("show")
def show(
    ctx: typer.Context,
    path: Optional[Path] = typer.Argument(None, help="Release directory (default: the shipped release)."),
    licences: bool = typer.Option(False, "--licences", help="The licence decision of every series, with evidence."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """A release's manifest: indicators, content hashes, source files, licence decisions."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data.release import load_release

    rel = load_release(path)
    m = rel.manifest
    if licences:
        df = pd.DataFrame([{"indicator": k, **v} for k, v in m["licence_decisions"].items()])
        emit(df[["indicator", "decision", "licence", "source", "series", "evidence"]], fmt,
             title=f"Licence decisions of release {m['release']}")
        return
    if fmt == "table":
        console().print(f"release {m['release']} ({m['released']}), {m['title']}; builder {m['builder_version']}; "
                        f"{'shippable' if m['shippable'] else 'NOT shippable'}; {m['content_hash']}", markup=False)
    df = pd.DataFrame([{"indicator": k, "rows": v["rows"], "units": v["units"],
                        "years": f"{v['first_year']}-{v['last_year']}", "content_hash": v["content_hash"][:19]}
                       for k, v in m["indicators"].items()])
    emit(df, fmt, title="Indicators")
    if fmt == "table":
        files = pd.DataFrame([{"file": k, "bytes": v["bytes"], "sha256": v["sha256"][:16]}
                              for k, v in m["source_files"].items()])
        emit(files, "table", title="Source files")


def _status_table(ctx, dataset: Optional[str], stale_after: int):
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data import service
    from humsec.data.countries import CountryRegistry
    from humsec.data.release.status import indicator_status

    settings = settings_from(ctx)
    store = service.open_store(settings)
    origin: dict[str, str] = {}
    if dataset:
        panel = service.panel_for(settings, dataset, store)
    else:
        panel, origin = service.current_panel(settings, store)
    cat = service.catalogue(settings, store)
    st = indicator_status(panel, cat, un_members=CountryRegistry.default().un_members,
                          as_of=_dt.date.today(), stale_after=stale_after)
    st["dataset"] = st["code"].map(origin).fillna(dataset or "")
    return st


def status(
    ctx: typer.Context,
    dataset: Optional[str] = typer.Option(None, "--dataset", help="One dataset (NAME or NAME@VERSION) instead of the current data."),
    stale_after: int = typer.Option(3, "--stale-after", help="Flag indicators whose latest year is older than this many years."),
    targets: bool = typer.Option(False, "--targets", help="Also check the data-release targets."),
    stale_only: bool = typer.Option(False, "--stale", help="Only the stale indicators."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """How old and how complete the data are, per indicator: latest year, data age, UN member
    states and all units covered in the latest year, edition, licence, stale flag."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data.release.status import release_targets

    st = _status_table(ctx, dataset, stale_after)
    shown = st[st["stale"]] if stale_only else st
    cols = ["code", "dimension", "latest_year", "age", "un_members_latest", "units_latest", "edition",
            "licence", "stale", "dataset"]
    today = _dt.date.today()
    emit(shown[cols].rename(columns={"un_members_latest": "UN members", "units_latest": "units"}), fmt,
         title=f"Data status as of {today.isoformat()} ({int(st['stale'].sum())} of {len(st)} indicators "
               f"older than {stale_after} years)")
    if fmt == "table":
        dim = st[st["dimension"] != "context"]
        console().print(f"median data age {dim['age'].median():g} years; latest year >= {today.year - 3} for "
                        f"{(dim['latest_year'] >= today.year - 3).mean():.0%} of the dimension indicators",
                        markup=False)
    if targets:
        tg = release_targets(st)
        emit(pd.DataFrame([t.__dict__ for t in tg]), fmt, title="Data-release targets")
        if not all(t.met for t in tg) and fmt == "table":
            console().print("some targets are not met (see above)", markup=False)


def update(
    ctx: typer.Context,
    sources: Optional[list[str]] = typer.Argument(None, help="Connector ids (default: every source with indicators of the release)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the requests; send nothing."),
) -> None:
    """Fetch the release's indicators live through the connectors and store each source's
    answer as a new vintage beside the release (compare with `humsec data diff NAME --against default`)."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data import vintages
    from humsec.data.connectors import SourceRegistry, plan, resolve_query
    from humsec.data.connectors.base import SourceUnreachableError
    from humsec.model.catalogue import Catalogue

    settings = settings_from(ctx)
    reg = SourceRegistry.default()
    shipped = set(Catalogue.default().codes)
    ids = list(sources or [s.id for s in reg])
    plans = []
    for sid in ids:
        spec = reg[sid]
        codes = sorted({m.code for m in spec.indicators.values()} & shipped)
        series = [k for k, m in spec.indicators.items() if m.code in shipped]
        if not codes:
            if sources:
                raise HumsecError(f"source '{sid}' maps none of the release's indicators")
            continue
        plans.append((spec, codes, series))
    c = console()
    if dry_run:
        for spec, codes, series in plans:
            reqs = plan(spec, resolve_query(spec, series), settings)
            c.print(f"{spec.id}: {', '.join(codes)} - {len(reqs)} request(s) to {spec.host}; nothing is sent",
                    markup=False)
        return
    failed = []
    for spec, codes, series in plans:
        try:
            snap, created, result = vintages.fetch_to_store(settings, spec.id, series, registry=reg)
        except SourceUnreachableError as exc:
            failed.append(spec.id)
            console(stderr=True).print(f"{spec.id}: not reachable ({exc})", markup=False)
            continue
        except HumsecError as exc:
            failed.append(spec.id)
            console(stderr=True).print(f"{spec.id}: {exc}", markup=False)
            continue
        p = result.panel
        c.print(f"{spec.id}: {'new vintage' if created else 'unchanged'} {snap.ref} - {len(p)} observations of "
                f"{', '.join(p.indicators)}" + (f", years {p.years[0]}-{p.years[-1]}" if len(p) else ""),
                markup=False)
    if failed and len(failed) == len(plans):
        raise HumsecError("no source could be updated (offline?); the shipped release stays the "
                          f"default. Failed: {', '.join(failed)}")
