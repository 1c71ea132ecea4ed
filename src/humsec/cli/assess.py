"""``humsec assess``: the Human Security Index per country (thin shell over
:mod:`humsec.analysis.assess`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from humsec.cli.common import FORMATS, console, dump_json, emit, settings_from, step, wrote
from humsec.errors import HumsecError

SPEC_HELP = "Index spec: the built-in 'hsi' (default) or a copy you edited (YAML file)."


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise HumsecError(f"--format '{fmt}': expected one of {', '.join(FORMATS)}")
    return fmt


def load_inputs(settings, spec: str):
    """(spec, panel, catalogue) for the CLI commands."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.data import service
    from humsec.index.builtin import load_spec

    s = load_spec(spec)
    store = service.open_store(settings)
    panel, _ = service.current_panel(settings, store)
    cat = service.catalogue(settings, store)
    return s, panel, cat


def assess_cmd(
    ctx: typer.Context,
    unit: Optional[str] = typer.Argument(None, help="ISO3 code of a country (default: rank all countries)."),
    year: Optional[int] = typer.Option(None, "--year", "-y",
                                       help="Assessment year (default: the latest year with enough fresh data to rank nearly every country)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    spec: str = typer.Option("hsi", "--spec", "-s", help=SPEC_HELP),
    compare_flag: bool = typer.Option(False, "--compare",
                                      help="Set the --spec variant beside the built-in HSI (ranks and their change)."),
    runs: int = typer.Option(200, "--runs", "-n", help="Monte Carlo runs for rank intervals (0 = none)."),
    seed: int = typer.Option(20240101, "--seed", help="Seed of the uncertainty analysis."),
    export_spec: Optional[Path] = typer.Option(None, "--export-spec",
                                               help="Write the spec as YAML to this file (to edit it) and exit."),
    validate_flag: bool = typer.Option(False, "--validate",
                                       help="Write the validation report (HTML + CSV tables): coverage, data age, "
                                            "statistical audit, correlation with the HDI, INFORM, WGI and GPI."),
    out_dir: Path = typer.Option(Path("."), "--out", help="Folder of the --validate report (default: here)."),
) -> None:
    """Human Security Index: ranking of all countries with rank intervals, or one country's
    assessment (dimension scores, main threats, data vintage)."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.analysis import assess as A

    _fmt(fmt)
    if runs < 0:
        raise HumsecError(f"--runs must be >= 0, got {runs}")
    if validate_flag and (unit is not None or compare_flag):
        raise HumsecError("--validate reports on all countries of one spec: leave out the country code and --compare")
    settings = settings_from(ctx)
    if export_spec is not None:
        # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
        from humsec.index.builtin import load_spec

        load_spec(spec).write(export_spec)
        wrote(export_spec)
        console(stderr=True).print(f"edit it and run: humsec assess --spec {export_spec} --compare", markup=False)
        return
    if compare_flag:
        # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
        from humsec.index.builtin import load_spec

        if load_spec(spec) == load_spec("hsi"):
            raise HumsecError("--compare needs a variant: pass --spec my_hsi.yaml (see --export-spec)")
    s, panel, cat = load_inputs(settings, spec)
    data = A.index_data(panel, s)
    if compare_flag:
        base_spec = load_spec("hsi")
        base = A.assess(base_spec, panel, year=year, catalogue=cat, runs=0,
                        data=A.index_data(panel, base_spec))
        var = A.assess(s, panel, year=base.year, catalogue=cat, runs=0, data=data)
        table = A.compare(base, var)
        if unit is not None:
            code = unit.strip().upper()
            table = table[table["unit"] == code]
            if table.empty:
                raise HumsecError(f"{code} is scored by neither spec in {base.year}")
        if fmt == "json":
            dump_json({"year": base.year, "base": base_spec.name, "variant": s.name,
                       "changes": json.loads(A.weight_changes(base_spec, s).to_json(orient="records")),
                       "countries": json.loads(table.to_json(orient="records"))})
            return
        if fmt == "table":
            ch = A.weight_changes(base_spec, s)
            if len(ch):
                emit(ch, "table", title=f"{s.name} differs from {base_spec.name} in")
        emit(table, fmt, title=f"{base_spec.name} vs {s.name} — {base.year}")
        return
    step(f"{s.name}: every country with {runs} uncertainty runs")
    a = A.assess(s, panel, year=year, catalogue=cat, runs=runs, seed=seed, data=data)
    if validate_flag:
        # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
        from humsec.report.validation import validate

        wrote(validate(a, panel).write(out_dir))
        return
    if unit is None:
        rk = a.ranking()
        if fmt == "json":
            dump_json({"index": s.name, "year": a.year, "runs": a.runs, "seed": a.seed,
                       "countries": json.loads(rk.to_json(orient="records")),
                       "not_ranked": json.loads(a.not_ranked().to_json(orient="records"))})
            return
        if fmt == "table":
            rk = rk.rename(columns={"rank_q05": "rank 5%", "rank_q95": "rank 95%"})
            rk = rk[["rank", "unit", "name", "score", "rank 5%", "rank 95%", *a.dimensions]]
            rk = rk.rename(columns={d: d[:4] for d in a.dimensions})
        emit(rk, fmt, title=f"{s.title or s.name} — {a.year} ({data_age(a)}; rank intervals: 5th-95th "
                            f"percentile over {a.runs} runs)")
        if fmt == "table":
            nr = a.not_ranked()
            if len(nr):
                nr = nr[["unit", "name", "reason", "missing_indicators"]].rename(
                    columns={"missing_indicators": "missing indicators"})
                emit(nr, "table", title=f"Not ranked in {a.year}: {len(nr)} UN member states without a score")
        return
    c = country_or_why(a, unit)
    if fmt == "json":
        dump_json(c.to_dict())
        return
    if fmt == "csv":
        emit(c.indicators, "csv")
        return
    out = console()
    lo, hi = c.rank_interval
    interval = f" (90% interval {lo:.0f}-{hi:.0f})" if pd.notna(lo) else ""
    out.print(f"[bold]{c.name} ({c.unit}) — {s.title or s.name}, {c.year}[/bold]")
    out.print(f"score {c.score:.1f} / 100, rank {c.rank:.0f} of {c.n_ranked}{interval}; "
              f"data coverage {c.coverage:.0%}")
    emit(c.dimensions, "table", title="Dimensions")
    out.print("main threats: " + "; ".join(f"{r.name} ({r.score:.0f})" for r in c.threats.itertuples()))
    severe = c.dimensions[c.dimensions["severe"]]
    if len(severe):
        out.print(f"severe (score below {A.SEVERE:.0f}): "
                  + "; ".join(f"{r.name} ({r.score:.0f})" for r in severe.itertuples()))
    cols = ["indicator", "dimension", "value", "unit", "observed", "age", "how", "score", "rank"]
    emit(c.indicators[cols], "table", title="Indicators (value, year observed, age, how, normalised score)")


def data_age(a) -> str:
    """"data 2014-2024, median age 1 year": the years and median age of the numbers
    behind the ranked countries' scores."""
    v = a.vintage[a.vintage["unit"].isin(set(a.units))]
    if v.empty:
        return "no data"
    m = float(v["age"].median())
    return (f"data {int(v['observed'].min())}-{int(v['observed'].max())}, "
            f"median age {m:g} year{'' if m == 1 else 's'}")


def country_or_why(a, unit: str):
    """``a.country(unit)``; for a country without a score, the error names what it lacks."""
    try:
        return a.country(unit)
    except HumsecError as exc:
        # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
        from humsec.data.countries import CountryRegistry

        reg = CountryRegistry.default()
        code = str(unit).strip().upper()
        if code not in reg.codes and (len(code) != 3 or code.isdigit()):
            try:
                code = reg.to_iso3(code)
            except HumsecError:
                raise exc from None
        nr = a.not_ranked([code])
        if nr.empty:
            raise
        r = nr.iloc[0]
        lack = [x for x in r["missing_indicators"].split("; ") if x]
        missing = f" Missing indicators ({len(lack)}): {', '.join(lack)}." if lack else ""
        raise HumsecError(f"{r['unit']} ({r['name']}) has no {a.spec.name.upper()} score for {a.year} and is "
                          f"not ranked: {r['reason']}.{missing} Try another --year.") from exc


def register(app: typer.Typer) -> None:
    """Add ``humsec assess`` to the root command."""
    app.command("assess")(assess_cmd)
