"""``humsec warn``, ``humsec warn backtest``, ``humsec warn crises`` and ``humsec forecast``:
early warning and honest forecasts (thin shell over :mod:`humsec.forecast`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from typer.core import TyperGroup

from humsec.cli.common import FORMATS, console, dump_json, emit, settings_from
from humsec.errors import HumsecError

SPEC_HELP = "Index spec: the built-in 'hsi' (default) or an edited copy (YAML file)."
DATA_HELP = "Shared-data directory with peacesciencer/, unhcr_refugees/, undp_hdr/ (default: $HUMSEC_SHARED_DATA or ../shared/data)."


class _WarnGroup(TyperGroup):
    """``humsec warn [ISO3] [options]`` beside sub-commands: a first positional word that is
    not a sub-command is the country (passed on as the hidden ``--unit`` option)."""

    _VALUE_OPTS = {"--year", "-y", "--rules", "-r", "--format", "-f", "--spec", "-s", "--flows", "--min-severity",
                   "--unit"}

    def parse_args(self, ctx, args):  # noqa: D102 - click API
        args = list(args)
        i = 0
        while i < len(args):
            a = args[i]
            if a in self._VALUE_OPTS:
                i += 2
                continue
            if a.startswith("-"):
                i += 1
                continue
            if a not in self.commands:
                args[i:i + 1] = ["--unit", a]
            break
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_WarnGroup, invoke_without_command=True, no_args_is_help=False,
                  help="Early warning: current alerts with reasons; backtests of the forecasting models.")


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise HumsecError(f"--format '{fmt}': expected one of {', '.join(FORMATS)}")
    return fmt


@app.callback()
def warn_cmd(
    ctx: typer.Context,
    unit: Optional[str] = typer.Option(None, "--unit", hidden=True, help="ISO3 code (or give it as the first word)."),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="Year (default: the HSI's latest year)."),
    rules: Optional[Path] = typer.Option(None, "--rules", "-r",
                                         help="YAML rules file, added to the built-in rules (same id replaces)."),
    only_rules: bool = typer.Option(False, "--only-rules", help="Use the --rules file alone, without the built-in rules."),
    flows: Optional[Path] = typer.Option(None, "--flows", help="UNHCR-layout flows table (CSV/Parquet) for the "
                                                             "refugee_outflow rules."),
    min_severity: str = typer.Option("low", "--min-severity", help="low|medium|high"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    spec: str = typer.Option("hsi", "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Current alerts with reasons: `humsec warn [ISO3] [--year Y] [--rules FILE]`.

    Deteriorations of the index, its dimensions and indicators on the data release
    (falls, robust anomalies against the country's own past and its region, change
    points), each with severity and the indicators that drove it."""
    if ctx.invoked_subcommand is not None:
        return
    from humsec.cli.assess import load_inputs
    from humsec.forecast.alerts import SEVERITIES, default_rules, load_rules, merge_rules
    from humsec.forecast.warn import current_alerts

    _fmt(fmt)
    if min_severity not in SEVERITIES:
        raise HumsecError(f"--min-severity '{min_severity}': expected one of {', '.join(SEVERITIES)}")
    if only_rules and rules is None:
        raise HumsecError("--only-rules needs --rules FILE")
    rs = default_rules()
    if rules is not None:
        user = load_rules(rules)
        rs = user if only_rules else merge_rules(rs, user)
    table_flows = None
    if flows is not None:
        table_flows = _read_table(flows)
    s, panel, _ = load_inputs(settings_from(ctx), spec)
    r = current_alerts(panel, s, year=year, unit=unit, rules=rs, flows=table_flows)
    keep = SEVERITIES[SEVERITIES.index(min_severity):]
    alerts = [a for a in r.alerts if a.severity in keep]
    t = r.table()
    t = t[t["severity"].isin(keep)].reset_index(drop=True)
    if fmt == "json":
        d = r.to_dict()
        d["alerts"] = [a.to_dict() for a in alerts]
        dump_json(d)
        return
    if fmt == "csv":
        emit(t, "csv")
        return
    out = console()
    who = unit.upper() if unit else f"{len(r.units)} countries"
    out.print(f"[bold]Alerts {r.year}: {who} — {len(t)} alert(s) from {len(r.rules)} rules[/bold]")
    if t.empty:
        out.print("No rule fired.")
    else:
        show = t[["unit", "severity", "rule", "series", "value", "threshold", "reason"]]
        emit(show, "table", max_rows=None if unit else 80)
    for sk in r.skipped:
        console(stderr=True).print(f"note: rule {sk} (skipped)")


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise HumsecError(f"{path} not found")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path)


@app.command("backtest")
def backtest_cmd(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", "-m",
                              help="conflict, war, displacement (UCDP/PRIO, UNHCR in --data-dir), hsi, "
                                   "conflict_deaths (data release: HSI scores; UCDP deaths in organised violence "
                                   "> 1 per 100,000); add -<estimator>: logit|gbm (events), qgbm|qlinear (quantities)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_HELP),
    out: Path = typer.Option(Path("humsec_backtest"), "--out", "-o", help="Directory for the ledger and plots."),
    origins: Optional[str] = typer.Option(None, "--origins", help="First-last forecast origin, e.g. 2005-2020 "
                                                                "(default: the model's range; hsi: the last 5 years "
                                                                "with an observed outcome)."),
    seed: int = typer.Option(20240101, "--seed", help="Seed of the models."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json (the ledger on stdout)"),
    spec: str = typer.Option("hsi", "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Rolling-origin backtest of a model against persistence and climatology: writes the
    accuracy ledger (CSV, JSON), forecasts and plots to --out and says whether the model
    beats the baselines."""
    from humsec.forecast.backtest import write_ledger
    from humsec.forecast.pipelines import parse_model, run_backtest

    _fmt(fmt)
    info, _ = parse_model(model)
    orig = _origins(origins)
    panel = s = None
    if info.source == "release":
        from humsec.cli.assess import load_inputs

        s, panel, _ = load_inputs(settings_from(ctx), spec)
    res = run_backtest(model, data_dir=data_dir, panel=panel, spec=s, origins=orig, seed=seed)
    files = []
    for bt, led in res:
        files += write_ledger(led, bt, out)
    table = pd.concat([led.table for _, led in res], ignore_index=True)
    (Path(out) / f"ledger_{model}.csv").write_text(table.to_csv(index=False), encoding="utf-8")
    verdicts = [v for _, led in res for v in led.verdict()]
    if fmt == "json":
        dump_json({"model": model, "ledgers": [led.to_dict() for _, led in res], "files": [str(f) for f in files]})
        return
    if fmt == "csv":
        emit(table, "csv")
        return
    o = console()
    o.print(f"[bold]Backtest {model}: {info.description}[/bold]")
    cols = ["task", "subset", "metric", "n", "events", "model_score", "persistence", "climatology",
            "skill_vs_persistence", "skill_vs_climatology", "beats_persistence", "beats_climatology"]
    emit(table[[c for c in cols if c in table.columns]], "table")
    for v in verdicts:
        o.print(("✔ " if " BEATS " in v else "✘ ") + v)
    o.print(f"wrote {len(files) + 1} files to {out}")


def _origins(text: Optional[str]) -> Optional[list[int]]:
    if text is None:
        return None
    a, _, b = text.partition("-")
    try:
        lo, hi = int(a), int(b or a)
    except ValueError:
        raise HumsecError(f"--origins '{text}': expected FIRST-LAST years, e.g. 2005-2020") from None
    if hi < lo:
        raise HumsecError(f"--origins '{text}': the last year is before the first")
    return list(range(lo, hi + 1))


@app.command("crises")
def crises_cmd(
    ctx: typer.Context,
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_HELP),
    seed: int = typer.Option(20240101, "--seed"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    spec: str = typer.Option("hsi", "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Known-crisis recall: which past crises (Syria 2011, Libya 2011, Yemen 2014, Venezuela,
    Ukraine 2022, Sudan 2023, the COVID-19 fall in HDI) the system flagged, how early, and
    its false-alarm rates."""
    from humsec.cli.assess import load_inputs
    from humsec.forecast.crises import crisis_recall

    _fmt(fmt)
    s, panel, _ = load_inputs(settings_from(ctx), spec)
    r = crisis_recall(data_dir=data_dir, panel=panel, spec=s, seed=seed)
    if fmt == "json":
        dump_json(r.to_dict())
        return
    if fmt == "csv":
        emit(r.recall, "csv")
        return
    o = console()
    o.print("[bold]Known-crisis recall (out-of-sample forecasts and detectors; nothing tuned on these crises)[/bold]")
    emit(r.recall, "table")
    cols = ["signal", "threshold", "country_years", "flags", "false_alarms", "false_alarm_rate", "precision",
            "recall_all_events"]
    emit(r.alarms[cols], "table", title="False alarms per signal (ground truth of each signal below)")
    for row in r.alarms.itertuples(index=False):
        o.print(f"• {row.signal}: ground truth = {row.ground_truth}")
    for n in r.notes:
        o.print(f"• {n}")


def forecast_cmd(
    ctx: typer.Context,
    unit: str = typer.Argument(..., help="ISO3 code of a country."),
    target: str = typer.Option("conflict", "--target", "-t", help="conflict|war|displacement|hsi|conflict_deaths"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Estimator (default per target)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_HELP),
    seed: int = typer.Option(20240101, "--seed"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    spec: str = typer.Option("hsi", "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Next-year forecast for a country: probability of conflict / war / a displacement
    surge / deaths in organised violence above 1 per 100,000, or predictive quantiles of
    the HSI and its dimensions, beside the baselines."""
    from humsec.forecast.pipelines import forecast_unit, parse_model

    _fmt(fmt)
    name = target if model is None else f"{target}-{model}"
    info, est = parse_model(name)
    panel = s = None
    if info.source == "release":
        from humsec.cli.assess import load_inputs

        s, panel, _ = load_inputs(settings_from(ctx), spec)
    f = forecast_unit(name, unit, data_dir=data_dir, panel=panel, spec=s, seed=seed)
    if fmt == "json":
        dump_json({"model": name, "description": info.description,
                   "forecasts": f.to_dict(orient="records"),
                   "skill": f"measured by: humsec warn backtest --model {name}"})
        return
    if fmt == "csv":
        emit(f, "csv")
        return
    o = console()
    o.print(f"[bold]Forecast {unit.upper()} — {info.description} ({est})[/bold]")
    if info.kind == "event":
        emit(f[["target", "year", "target_year", "current", "probability", "persistence", "climatology"]], "table")
    else:
        show = f[["target", "year", "target_year", "current", "q05", "q25", "q50", "q75", "q95",
                  "persistence_90", "climatology_90"]]
        emit(show, "table", title="Predictive quantiles (q05-q95: 90 % interval)")
    o.print(f"Skill is measured, not asserted: humsec warn backtest --model {name}")


def register(root: typer.Typer) -> None:
    """Add ``humsec warn`` (with ``backtest`` and ``crises``) and ``humsec forecast``."""
    root.add_typer(app, name="warn")
    root.command("forecast")(forecast_cmd)
