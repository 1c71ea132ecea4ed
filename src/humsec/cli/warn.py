"""``humsec warn``, ``humsec warn backtest``, ``humsec warn crises`` and ``humsec forecast``:
early warning and honest forecasts (thin shell over :mod:`humsec.forecast`)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from typer.core import TyperGroup

from humsec.cli.common import FORMATS, console, dump_json, emit, settings_from, wrote
from humsec.data.export import atomic_write
from humsec.errors import HumsecError

SPEC_HELP = "Index spec: the built-in 'hsi' (default) or an edited copy (YAML file)."
DATA_HELP = ("Shared-data directory with undp_hdr/ etc., used only by the legacy detectors of `warn crises` "
             "(default: $HUMSEC_SHARED_DATA). Forecasts use the data release in the store.")


class _WarnGroup(TyperGroup):
    """``humsec warn [ISO3] [options]`` beside sub-commands: a first positional word that is
    not a sub-command is the country (passed on as the hidden ``--unit`` option)."""

    _VALUE_OPTS = {"--year", "-y", "--rules", "-r", "--format", "-f", "--spec", "-s", "--flows", "--min-severity",
                   "--unit", "--watch"}

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
    watch: int = typer.Option(15, "--watch", help="Rows of the conflict watch list for the year after the latest "
                                                  "data year (0: none)."),
) -> None:
    """Current alerts with reasons: `humsec warn [ISO3] [--year Y] [--rules FILE]`.

    Deteriorations of the index, its dimensions and indicators on the data release
    (falls, robust anomalies against the country's own past and its region, change
    points), each with severity and the indicators that drove it; then the ranked watch
    list of armed-conflict risk for the year after the latest data year, drivers in words."""
    if ctx.invoked_subcommand is not None:
        return
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
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
    if watch < 0:
        raise HumsecError(f"--watch {watch}: expected 0 or more rows")
    s, panel, _ = load_inputs(settings_from(ctx), spec)
    r = current_alerts(panel, s, year=year, unit=unit, rules=rs, flows=table_flows)
    keep = SEVERITIES[SEVERITIES.index(min_severity):]
    alerts = [a for a in r.alerts if a.severity in keep]
    t = r.table()
    t = t[t["severity"].isin(keep)].reset_index(drop=True)
    wl = None
    if watch:
        # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
        from humsec.forecast.onset import watch_list

        wl = watch_list(panel, horizons=(1,), units=[unit.strip().upper()] if unit else None)
        wl = wl.head(watch)
    if fmt == "json":
        d = r.to_dict()
        d["alerts"] = [a.to_dict() for a in alerts]
        if wl is not None:
            d["watch_list"] = wl.to_dict(orient="records")
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
    if wl is not None and len(wl):
        _print_watch(wl)


def _print_watch(wl: pd.DataFrame) -> None:
    o = console()
    y = int(wl["year"].iloc[0])
    o.print(f"[bold]Watch list {wl['window'].iloc[0]}: probability of armed conflict (>= 25 battle deaths) "
            f"forecast with the data of {y}[/bold]")
    show = wl[["rank", "unit", "name", "probability", "relative_risk", "warning", "status", "drivers"]].copy()
    show["probability"] = show["probability"].map(lambda v: f"{v:.3f}")
    show["relative_risk"] = show["relative_risk"].map(lambda v: f"{v:.1f}x")
    emit(show, "table", max_rows=None)
    o.print("Skill of this model (out of sample, lead >= 1 year): humsec warn backtest --model onset")


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda p: frame.to_csv(p, index=False))


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
                              help="onset (armed-conflict incidence and onsets at 1, 3 and 5 years with "
                                   "structural covariates, four baselines, crisis recall; the issue's targets), "
                                   "conflict, war, displacement (UCDP, UNHCR of the data release), hsi, "
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
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.cli.assess import load_inputs
    from humsec.forecast.backtest import write_ledger
    from humsec.forecast.pipelines import parse_model, run_backtest

    _fmt(fmt)
    orig = _origins(origins)
    if model.strip().lower() == "onset":
        _, panel, _ = load_inputs(settings_from(ctx), spec)
        _onset_backtest(panel, orig, seed, out, fmt)
        return
    info, _ = parse_model(model)
    s, panel, _ = load_inputs(settings_from(ctx), spec)
    res = run_backtest(model, data_dir=data_dir, panel=panel, spec=s, origins=orig, seed=seed)
    files = []
    for bt, led in res:
        files += write_ledger(led, bt, out)
    table = pd.concat([led.table for _, led in res], ignore_index=True)
    files.append(Path(out) / f"ledger_{model}.csv")
    atomic_write(files[-1], lambda p: table.to_csv(p, index=False))
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
    wrote(files)


def _onset_backtest(panel, orig, seed: int, out: Path, fmt: str) -> None:
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.forecast.crises import release_backtest

    res = release_backtest(panel, origins=orig, seed=seed)
    table, targets, dtab, rec, bts = res.skill, res.targets, res.displacement, res.recall, res.onset
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {"onset_skill.csv": table, "onset_targets.csv": targets, "displacement_skill.csv": dtab,
               "crisis_recall.csv": rec.recall, "warning_alarms.csv": rec.alarms}
    written.update({f"onset_forecasts_h{h}.csv": bt.forecasts for h, bt in bts.items()})
    for name, frame in written.items():
        _write_csv(out / name, frame)
    if fmt == "json":
        dump_json({"model": "onset", "skill": json.loads(table.to_json(orient="records")),
                   "targets": json.loads(targets.to_json(orient="records")),
                   "displacement": json.loads(dtab.to_json(orient="records")), **rec.to_dict()})
        return
    if fmt == "csv":
        emit(table, "csv")
        return
    o = console()
    o.print("[bold]Backtest onset: armed conflict (>= 25 battle deaths, UCDP) in the next 1, 3, 5 years; "
            "rolling origins, model chosen inside each training window[/bold]")
    cols = ["horizon", "subset", "forecaster", "n", "events", "brier", "bss_vs_history", "bss_vs_fearon_laitin",
            "bss_vs_persistence", "bss_vs_climatology", "auc_roc", "auc_pr", "auc_pr_lift", "ece", "cal_slope",
            "watch80_per_year"]
    show = table[cols].copy()
    for c in cols[5:]:
        show[c] = show[c].map(lambda v: f"{v:.3f}")
    emit(show, "table", max_rows=None)
    o.print("[bold]Targets (issue #20)[/bold]")
    for r in targets.itertuples(index=False):
        o.print(f"{'MET ' if r.met else 'NOT MET'}  {r.target}: {r.value:.3f} {r.detail or ''}")
    if len(dtab):
        o.print("[bold]Displacement surges (one year ahead)[/bold]")
        emit(dtab[["subset", "forecaster", "n", "events", "brier", "bss_vs_persistence", "bss_vs_climatology",
                   "auc_roc", "auc_pr_lift", "watch80_per_year"]], "table")
    emit(rec.recall, "table", title="Crisis recall: warnings issued at least one year before the onset")
    emit(rec.alarms[["signal", "threshold", "flags", "false_alarm_rate", "precision", "recall_onsets",
                     "false_alarm_rate_onset_rows"]], "table", title="False alarms at the same threshold")
    wrote([out / name for name in written])


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
    origins: Optional[str] = typer.Option(None, "--origins", help="First-last forecast origin of the release-based "
                                                                "backtest, e.g. 2008-2013 (default: all)."),
    spec: str = typer.Option("hsi", "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Known-crisis recall: which past crises (Syria 2011, Libya 2011, Yemen 2014, Venezuela,
    Ukraine 2022, Sudan 2023, the COVID-19 fall in HDI) the system flagged, how early, and
    its false-alarm rates."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.cli.assess import load_inputs
    from humsec.forecast.crises import crisis_recall, release_backtest
    from humsec.forecast.series import ENV_SHARED

    _fmt(fmt)
    s, panel, _ = load_inputs(settings_from(ctx), spec)
    if data_dir is None and not os.environ.get(ENV_SHARED):
        # after a plain install: the release-based onset and displacement forecasts
        r = release_backtest(panel, seed=seed, origins=_origins(origins)).recall
        r = replace(r, notes=(*r.notes, "on the data release alone; with --data-dir (the publishers' files) also "
                                        "the legacy war model, the refugee-outflow rule, the HSI alerts and the "
                                        "HDI detector"))
    else:
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
    target: str = typer.Option("conflict", "--target", "-t",
                               help="conflict (onset model, 1/3/5 years, with drivers)|war|displacement|hsi|"
                                    "conflict_deaths; with --model the legacy one-year models"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Estimator (default per target)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_HELP),
    seed: int = typer.Option(20240101, "--seed"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    spec: str = typer.Option("hsi", "--spec", "-s", help=SPEC_HELP),
) -> None:
    """Next-year forecast for a country: probability of conflict / war / a displacement
    surge / deaths in organised violence above 1 per 100,000, or predictive quantiles of
    the HSI and its dimensions, beside the baselines."""
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.forecast.pipelines import forecast_unit, parse_model

    _fmt(fmt)
    if target.strip().lower() in ("conflict", "onset") and model is None:
        _forecast_onset(ctx, unit, seed, fmt, spec)
        return
    name = target if model is None else f"{target}-{model}"
    info, est = parse_model(name)
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
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


def _forecast_onset(ctx: typer.Context, unit: str, seed: int, fmt: str, spec: str) -> None:
    # local: this command's stack, loaded only when it runs (humsec --help imports every shell)
    from humsec.cli.assess import load_inputs
    from humsec.data.countries import CountryRegistry
    from humsec.forecast.onset import HORIZONS, watch_list

    reg = CountryRegistry.default()
    code = unit.strip().upper()
    if not reg.is_iso3(code):
        reg.info(code)  # raises with a suggestion
    _, panel, _ = load_inputs(settings_from(ctx), spec)
    f = watch_list(panel, horizons=HORIZONS, seed=seed, registry=reg, units=[code])
    if f.empty:
        raise HumsecError(f"{code} ({reg.name(code)}) has no UCDP data in the latest year")
    f = f.drop(columns=["rank"])
    if fmt == "json":
        dump_json({"model": "onset", "forecasts": f.to_dict(orient="records"),
                   "skill": "measured by: humsec warn backtest --model onset"})
        return
    if fmt == "csv":
        emit(f, "csv")
        return
    o = console()
    o.print(f"[bold]Forecast {code} ({reg.name(code)}): armed conflict (>= 25 battle deaths) with the data of "
            f"{int(f['year'].iloc[0])}[/bold]")
    emit(f[["window", "probability", "relative_risk", "warning", "status", "model"]], "table")
    o.print("Drivers: " + f["drivers"].iloc[0] if "drivers" in f and f["drivers"].iloc[0] else "")
    o.print("Skill is measured, not asserted: humsec warn backtest --model onset")


def register(root: typer.Typer) -> None:
    """Add ``humsec warn`` (with ``backtest`` and ``crises``) and ``humsec forecast``."""
    root.add_typer(app, name="warn")
    root.command("forecast")(forecast_cmd)
