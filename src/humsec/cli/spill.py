"""``humsec spill`` and ``humsec peers``: threats across borders and peers to learn from
(thin shell over :mod:`humsec.spatial.crossborder`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from humsec.cli.common import FORMATS, console, dump_json, emit, settings_from
from humsec.errors import HumsecError

SPEC_HELP = "Index spec: the built-in 'hsi' (default) or an edited copy (YAML file)."


def _inputs(ctx: typer.Context, spec: str, fmt: str):
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.cli.assess import load_inputs
    from humsec.data.countries import CountryRegistry

    if fmt not in FORMATS:
        raise HumsecError(f"--format '{fmt}': expected one of {', '.join(FORMATS)}")
    s, panel, cat = load_inputs(settings_from(ctx), spec)
    return s, panel, cat, CountryRegistry.default()


def spill_cmd(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="ISO3 code, grouping (APPF, ASEAN, APEC, EU …) or UN M49 region."),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="Year (default: the HSI's latest year)."),
    base_year: Optional[int] = typer.Option(None, "--base-year", help="Compare trends since (default: year - 5)."),
    graph: str = typer.Option("borders+islands", "--graph", "-g",
                              help="Connections: borders+islands (default: land borders; island states get their "
                                   "3 nearest), borders, knn, borders+knn, distance."),
    k: int = typer.Option(3, "--k", help="Nearest neighbours for knn graphs."),
    flows: Optional[Path] = typer.Option(None, "--flows",
                                         help="UNHCR-layout displacement flows (CSV/Parquet: year, coo_iso, coa_iso, "
                                              "refugees, asylum_seekers, oip …). Default: the data release's UNHCR "
                                              "stocks (refugees, asylum seekers and OIP at the end of the year)."),
    seed: int = typer.Option(20240101, "--seed", help="Seed of the LISA permutation tests."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    spec: str = typer.Option("hsi", "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Spill-overs: exposure to neighbours' insecurity, rising threats shared with
    neighbours (with evidence), hotspots and displacement, for a country or region."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.spatial.crossborder import read_flows, release_displacement, spill_report

    s, panel, _, reg = _inputs(ctx, spec, fmt)
    if flows is not None:
        disp, measure = read_flows(flows, known=sorted(reg.codes)), "flow"
    else:
        disp, measure = release_displacement(measure="stock", known=sorted(reg.codes)), "stock"
    r = spill_report(target, panel=panel, spec=s, registry=reg, year=year, base_year=base_year, graph=graph,
                     k=k, disp=disp, disp_measure=measure, seed=seed)
    if fmt == "json":
        dump_json(r.to_dict())
        return
    if fmt == "csv":
        emit(r.exposure.assign(year=r.year), "csv")
        return
    out = console()
    who = f"{r.label} ({len(r.focus)} countries)" if r.is_region else r.label
    out.print(f"[bold]Across borders: {who} — {r.year} (trends since {r.base_year}; graph {r.graph})[/bold]")
    if r.regional is not None:
        emit(r.regional[["node", "value", "n_with_data", "n_units", "coverage"]], "table",
             title="Population-weighted scores of the region")
    if r.links is not None and len(r.links):
        emit(r.links, "table", title="Neighbours and the rule that links them", max_rows=60)
    ex = r.exposure[["unit", "threat", "own", "neighbours", "worst_neighbour", "worst_score", "gap"]]
    emit(ex, "table", title="Exposure: own score vs neighbours' (gap > 0: neighbours less secure)", max_rows=60)
    if len(r.shared):
        emit(r.shared, "table", title="Rising threats shared with neighbours (change in score)", max_rows=40)
    if len(r.hotspots):
        emit(r.hotspots, "table", title="Hotspots of insecurity (significant high-high LISA clusters)")
    if r.displacement is not None:
        title = ("Cross-border displacement in the year (UNHCR flows, persons)" if r.displacement_measure == "flow"
                 else "Refugees, asylum seekers and OIP at the end of the year (UNHCR stocks, persons): "
                      "inflow = hosted, outflow = from the country abroad")
        emit(r.displacement, "table", title=title)
    for line in r.evidence:
        out.print(f"• {line}")
    for n in r.notes:
        console(stderr=True).print(f"note: {n}")


def peers_cmd(
    ctx: typer.Context,
    unit: str = typer.Argument(..., help="ISO3 code of a country."),
    dimension: Optional[str] = typer.Option(None, "--dimension", "-d",
                                            help="Dimension to learn about (default: the country's weakest)."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    base_year: Optional[int] = typer.Option(None, "--base-year",
                                            help="Start of the period (default: earliest scored of the last 10 years)."),
    k: int = typer.Option(5, "--k", help="How many peers."),
    same: Optional[str] = typer.Option(None, "--same", help="Peers only from the same: region, subregion or income."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    spec: str = typer.Option("hsi", "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Peers with a similar profile, and positive deviants: similar countries that
    improved most on the threat where this country is weakest — and what changed."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.spatial.crossborder import peer_report

    s, panel, _, reg = _inputs(ctx, spec, fmt)
    r = peer_report(unit, panel=panel, spec=s, registry=reg, dimension=dimension, year=year,
                    base_year=base_year, k=k, same=same)
    if fmt == "json":
        dump_json(r.to_dict())
        return
    name = lambda c: reg.name(c) if reg.is_iso3(c) else c  # noqa: E731
    sim = r.similar.assign(name=[name(c) for c in r.similar["unit"]])
    dev = r.deviants.assign(name=[name(c) for c in r.deviants["unit"]])
    if fmt == "csv":
        emit(pd.concat([sim.assign(kind="similar"), dev.assign(kind="positive_deviant", threat=r.threat)],
                       ignore_index=True), "csv")
        return
    out = console()
    out.print(f"[bold]Peers of {name(r.unit)} ({r.unit}) — {r.year}[/bold]")
    emit(sim[["unit", "name", "distance", "n_shared"]], "table", title="Most similar dimension profiles")
    tn = s.nodes[r.threat].name or r.threat
    out.print(f"{tn}: {name(r.unit)} changed by {r.unit_change:+.1f} points since {r.base_year}.")
    emit(dev[["unit", "name", "before", "after", "change", "distance"]], "table",
         title=f"Positive deviants on {tn} ({r.base_year}→{r.year}): similar in {r.base_year}, improved most")
    if len(r.changes):
        emit(r.changes, "table", title="What changed in their indicators")


def regions_cmd(
    ctx: typer.Context,
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    spec: str = typer.Option("hsi", "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Population-weighted scores of every grouping (APPF, ASEAN, APEC, EU, OECD, G20,
    LDC, LLDC, SIDS) and UN M49 region, with the population share covered."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.spatial.crossborder import regional_table

    s, panel, _, reg = _inputs(ctx, spec, fmt)
    t = regional_table(panel=panel, spec=s, registry=reg, year=year)
    if fmt != "table":
        emit(t, fmt)
        return
    wide = t.pivot_table(index=["kind", "group"], columns="node", values="value", sort=False)
    nodes = [n for n in [s.root, *s.children[s.root]] if n in wide.columns]
    cov = t[t["node"] == s.root].set_index(["kind", "group"])[["n_with_data", "n_units", "coverage"]]
    wide = wide[nodes].join(cov).reset_index().rename(columns={n: n[:4] for n in nodes[1:]})
    emit(wide, "table", title=f"{s.title or s.name} by region — {int(t['year'].iloc[0])} "
                              "(population-weighted; coverage = population share with a score)")


def register(app: typer.Typer) -> None:
    """Add ``humsec spill``, ``humsec peers`` and ``humsec regions`` to the root command."""
    app.command("spill")(spill_cmd)
    app.command("peers")(peers_cmd)
    app.command("regions")(regions_cmd)
