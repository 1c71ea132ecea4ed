"""``humsec groups`` and ``humsec mpi``: who is left behind (thin shells over
:mod:`humsec.analysis.groups` and :mod:`humsec.analysis.mpi`)."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import typer

from humsec.analysis.mpi import bootstrap_se, load_mpi_spec, measure
from humsec.cli.common import FORMATS, console, dump_json, emit, settings_from
from humsec.errors import HumsecError

MPI_SPEC_HELP = "A built-in MPI spec name (global_mpi) or an MPI spec YAML file."


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise HumsecError(f"--format '{fmt}': expected one of {', '.join(FORMATS)}")
    return fmt


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records"))


def _long(section: str, df: pd.DataFrame, key: str) -> pd.DataFrame:
    """A table as rows section, key, measure, value (for one CSV holding several tables)."""
    if df.empty:
        return pd.DataFrame(columns=["section", "key", "measure", "value"])
    d = df.copy()
    d[key] = d[key].astype(str)
    m = d.melt(id_vars=[key], var_name="measure", value_name="__value")
    m = m.rename(columns={key: "key", "__value": "value"})
    m.insert(0, "section", section)
    m["value"] = m["value"].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else v)
    return m


def groups_cmd(
    ctx: typer.Context,
    iso3: str = typer.Argument(..., help="Country (ISO 3166-1 alpha-3 code, e.g. AFG)."),
    year: Optional[int] = typer.Option(None, "--year", "-y",
                                       help="Latest observations at or before this year (default: latest)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
) -> None:
    """Who is left behind in a country: group gaps, the furthest-behind ranking and the
    demography of vulnerability (elderly/child shares, dependency and sex ratios)."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.analysis.groups import demography, furthest_behind, gaps, left_behind
    from humsec.data.service import current_panel

    _fmt(fmt)
    unit = iso3.strip().upper()
    panel, _ = current_panel(settings_from(ctx))
    if unit not in panel.units:
        close = difflib.get_close_matches(unit, panel.units, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise HumsecError(f"'{iso3}': no data for this unit in the panel{hint}; expected an ISO3 code")
    full = panel.data  # goalposts of the scores come from every unit
    g = gaps(full, units=[unit], year=year, latest=True)
    fb = furthest_behind(full, unit, year=year)
    demo_all = demography(full, units=[unit])
    if year is not None:
        demo_all = demo_all[demo_all["year"] <= year]
    demo = demo_all.sort_values("year").tail(1)
    lb = left_behind(full, unit, year=year)
    if fmt == "json":
        dump_json({"unit": unit, "year": year, "gaps": _records(g), "furthest_behind": _records(fb),
                   "demography": _records(demo)[0] if len(demo) else None, "left_behind": lb.to_dict()})
        return
    if fmt == "csv":
        g2 = g.assign(item=g["comparison"] + " | " + g["indicator"]).drop(columns=["unit", "comparison", "indicator"])
        d2 = demo.drop(columns=["unit"]).assign(item="population")
        lr = lb.rows.assign(item=lb.rows["section"] + " | " + lb.rows["indicator"] + " | "
                            + lb.rows["comparison"].fillna("total")).drop(columns=["section", "indicator"])
        out = pd.concat([_long("gaps", g2, "item"), _long("furthest_behind", fb, "population_group"),
                         _long("demography", d2, "item"), _long("left_behind", lr, "item")], ignore_index=True)
        emit(out, "csv")
        return
    c = console()
    c.print(f"[bold]{unit}: who is left behind[/bold] (numbers of {lb.year} or earlier, none older than "
            "the release's limit for its indicator)")
    for line in lb.summary:
        c.print(f"  - {line}")
    if len(lb.rows):
        t = lb.rows[["group", "name", "year", "comparison", "focal_value", "reference_value", "value",
                     "parity", "ratio", "behind"]].rename(columns={"parity": "parity F/M", "ratio": "ratio"})
        emit(t, "table", title=f"{unit}: groups, {lb.year} (parity F/M = female/male value; behind is "
                               "direction-aware: for lower-is-better indicators the higher value is behind)")
    if len(lb.missing):
        emit(lb.missing[["group", "name", "reason"]], "table", title=f"{unit}: what the release cannot show")
    if not lb.furthest.empty:
        emit(lb.furthest.drop(columns=["population_group", "axis"]), "table",
             title=f"{unit}: furthest behind (mean shortfall from the best-off group, 0-1 scores)")
    elif g.empty:
        c.print(f"{unit}: no disaggregated indicators (by sex, age, disability, migrant status, area "
                "or conflict) in the panel — import some with `humsec data import`")
    if len(demo):
        row = demo.iloc[0]
        t = pd.DataFrame({"measure": [c_ for c_ in demo.columns if c_ not in ("unit", "year")]})
        t["value"] = [float(row[m]) for m in t["measure"]]
        emit(t, "table", title=f"{unit}: demography of vulnerability, {int(row['year'])} (UN WPP 2024)")
    else:
        c.print(f"{unit}: no population by sex and age (indicator 'pop') for the demography")


def mpi_cmd(
    file: Path = typer.Argument(..., help="Microdata: CSV (.csv/.csv.gz/.tsv), Parquet or Feather; one row per person."),
    spec: str = typer.Option(..., "--spec", "-s", help=MPI_SPEC_HELP),
    k: Optional[float] = typer.Option(None, "--k", help="Poverty cut-off k in (0, 1] (default: the spec's)."),
    by: Optional[list[str]] = typer.Option(None, "--by", help="Subgroup column (repeatable)."),
    weight: Optional[str] = typer.Option(None, "--weight", "-w", help="Sampling-weight column."),
    psu: Optional[str] = typer.Option(None, "--psu", help="Primary sampling unit column (design-based SEs)."),
    strata: Optional[str] = typer.Option(None, "--strata", help="Strata column (design-based SEs)."),
    drop_missing: bool = typer.Option(False, "--drop-missing", help="Drop records with missing indicator values."),
    curve: bool = typer.Option(False, "--curve", help="Also the k-robustness curve."),
    bootstrap: int = typer.Option(0, "--bootstrap", help="Bootstrap replicates for SEs (0 = none)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for --bootstrap (required with it)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
) -> None:
    """Alkire–Foster multidimensional poverty (H, A, M0, contributions, subgroups) of
    microdata. Bad records are reported with file, row and column (exit code 2)."""
    _fmt(fmt)
    if bootstrap and seed is None:
        raise HumsecError("--seed is required with --bootstrap: every random draw in humsec is reproducible")
    if bootstrap < 0:
        raise HumsecError("--bootstrap must be >= 0")
    s = load_mpi_spec(spec)
    missing = "drop" if drop_missing else "error"
    r = measure(file, s, k=k, weight=weight, by=by, psu=psu, strata=strata, missing=missing)
    tables = r.to_frames()
    if curve:
        tables["curve"] = r.robustness()
    if bootstrap:
        tables["bootstrap"] = bootstrap_se(file, s, k=k, weight=weight, psu=psu, strata=strata,
                                           reps=bootstrap, seed=seed, missing=missing).reset_index()
    if fmt == "json":
        dump_json({name: _records(t) for name, t in tables.items()})
        return
    if fmt == "csv":
        keys = {"summary": "statistic", "indicators": "indicator", "dimensions": "dimension",
                "curve": "k", "bootstrap": "statistic"}
        parts = [_long(name, t, keys.get(name, t.columns[0])) for name, t in tables.items()]
        emit(pd.concat(parts, ignore_index=True), "csv")
        return
    title = s.title or s.name
    summ = tables["summary"]
    emit(summ, "table", title=f"{title}: k = {r.k:.4g} ({Path(file).name})")
    emit(tables["indicators"], "table", title="Indicators: headcount ratios and % contributions to M0")
    emit(tables["dimensions"], "table", title="Dimensions: % contributions to M0")
    for name, t in tables.items():
        if name.startswith("by_"):
            emit(t, "table", title=f"Subgroups by {name[3:]} (pop_share-weighted M0 sums to national M0)")
    if curve:
        emit(tables["curve"], "table", title="k-robustness curve")
    if bootstrap:
        emit(tables["bootstrap"], "table", title=f"Bootstrap ({bootstrap} replicates, seed {seed})")


def register(app: typer.Typer) -> None:
    """Add the top-level commands ``groups`` and ``mpi``."""
    app.command("groups")(groups_cmd)
    app.command("mpi")(mpi_cmd)
