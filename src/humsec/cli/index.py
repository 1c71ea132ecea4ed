"""``humsec index``: build, validate and audit composite indices (thin shell over
:mod:`humsec.index`)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Literal, Optional, TypeVar
import sys

import pandas as pd
import typer

from humsec.cli.common import FORMATS, console, done_working, dump_json, emit, wrote
from humsec.errors import HumsecError

app = typer.Typer(help="Composite indices: build, validate, audit, uncertainty, import from COINr.",
                  no_args_is_help=True)

SPEC_HELP = "A built-in spec name (hdi, gdi, gii, ihdi, inform) or a spec YAML file."
SCHEDULER_HELP = ("Run on Dask: 'local' or 'local:N' starts a local cluster of N workers; "
                  "otherwise a scheduler address (tcp://host:8786). Same results as without.")


#: The choices of the options passed on to the index functions, typed as they declare them.
CorrMethod = Literal["pearson", "spearman", "kendall"]
Estimator = Literal["saltelli", "coinr", "jansen"]
Layout = Literal["salib", "coinr"]
CompareBy = Literal["ranks", "scores"]
OptType = Literal["balance", "infomax"]
CORR_METHODS: tuple[CorrMethod, ...] = ("pearson", "spearman", "kendall")
ESTIMATORS: tuple[Estimator, ...] = ("saltelli", "coinr", "jansen")
LAYOUTS: tuple[Layout, ...] = ("salib", "coinr")
COMPARE_BY: tuple[CompareBy, ...] = ("ranks", "scores")
OPTTYPES: tuple[OptType, ...] = ("balance", "infomax")
_C = TypeVar("_C", bound=str)


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise HumsecError(f"--format '{fmt}': expected one of {', '.join(FORMATS)}")
    return fmt


def _choice(value: str, choices: tuple[_C, ...], option: str) -> _C:
    """``value`` as one of ``choices`` (typed as the choice), or a clear error naming ``option``."""
    for c in choices:
        if value == c:
            return c
    raise HumsecError(f"{option} '{value}': expected one of {', '.join(choices)}")


def _require_seed(seed: int | None, why: str = "") -> int:
    """The seed of the random draws, or a clear error when it was not given."""
    if seed is None:
        raise HumsecError("--seed is required: every random draw in humsec is reproducible" + why)
    return seed


def _write_csv(frame: pd.DataFrame, index: bool, path: Path) -> None:
    frame.to_csv(path, index=index)


@app.command("list")
def list_specs(fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json")) -> None:
    """List the built-in index specs."""
    from humsec.index.builtin import builtin_names, load_spec

    rows = []
    for name in builtin_names():
        s = load_spec(name)
        rows.append({"name": name, "title": s.title, "version": s.version,
                     "indicators": len(s.indicators), "source": s.source})
    emit(pd.DataFrame(rows), _fmt(fmt), title="Built-in index specs")


@app.command()
def validate(spec: str = typer.Argument(..., help=SPEC_HELP)) -> None:
    """Validate a spec; report every problem with its location (exit 2 if invalid)."""
    from humsec.index.builtin import load_spec

    s = load_spec(spec)
    console().print(f"{spec}: valid — {len(s.indicators)} indicators, {len(s.aggregates)} aggregates, "
                    f"{len(s.steps)} steps ({' -> '.join(st.step for st in s.steps)})")


@app.command()
def schema(out: Optional[Path] = typer.Option(None, "--out", help="Write to this file.")) -> None:
    """Print (or write) the JSON Schema of the index spec format."""
    from humsec.data.export import atomic_write
    from humsec.index.spec import IndexSpec

    text = json.dumps(IndexSpec.json_schema(), indent=2)
    if out is None:
        typer.echo(text)
    else:
        atomic_write(out, lambda p: p.write_text(text + "\n", encoding="utf-8"))
        wrote(out)


def _load(spec: str, data: Path):
    from humsec.index.builtin import load_spec
    from humsec.index.io import read_index_data

    return load_spec(spec), read_index_data(data)


@app.command()
def build(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy CSV/XLSX/Parquet: unit,[year,]indicator,value."),
    year: Optional[int] = typer.Option(None, "--year", "-y", help="Build this year (default: every year)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Also write every data set, ranks, weights and the step log here."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help=SCHEDULER_HELP),
) -> None:
    """Build an index. ``--format csv`` prints rows unit,year,node,score,rank."""
    from humsec.index.longform import default_nodes, long_table
    from humsec.index.pipeline import build as build_index
    from humsec.index.pipeline import build_panel

    _fmt(fmt)
    s, df = _load(spec, data)
    if year is not None or "year" not in df.columns or df["year"].nunique() <= 1:
        results = {year: build_index(s, df, year=year, scheduler=scheduler)}
    else:
        results = dict(build_panel(s, df, scheduler=scheduler).results)
    # for CSV, unit and node codes as categories: the writer formats each code once
    longs = {y: long_table(r.scores, r.ranks, default_nodes(s), r.year, categorical=fmt == "csv")
             for y, r in results.items()}
    long = next(iter(longs.values())) if len(longs) == 1 else pd.concat(list(longs.values()), ignore_index=True)
    if out is not None:
        for y, r in results.items():
            wrote(_write_result(r, out if len(results) == 1 else out / str(r.year), long=longs[y]))
    if fmt == "table":
        root = s.root
        for r in results.values():
            top = r.long([root, *s.children[root]])
            wide = top.pivot(index="unit", columns="node", values="score")[[root, *s.children[root]]]
            wide.insert(0, "rank", top[top["node"] == root].set_index("unit")["rank"])
            wide = wide.sort_values("rank").reset_index()
            title = f"{s.title or s.name}" + (f" — {r.year}" if r.year is not None else "")
            emit(wide, "table", title=title, max_rows=60)
            removed = r.details("screen").get("removed") if any(x.step == "screen" for x in r.log) else None
            if removed:
                console().print(f"screened out: {', '.join(removed)}")
    elif fmt == "csv":
        _emit_csv(long)
    else:
        emit(long, fmt)


def _emit_csv(df: pd.DataFrame) -> None:
    """``emit(df, "csv")`` written by the vectorised CSV writer (same text: formula-safe,
    "\n" line ends unless a cell holds a carriage return)."""
    from humsec.index.io import csv_parts, write_csv_parts

    done_working()
    parts = csv_parts(df, crlf=None)
    sys.stdout.flush()
    buf = getattr(sys.stdout, "buffer", None)
    if buf is not None:
        write_csv_parts(parts, buf)
        buf.flush()
    else:  # captured output (tests)
        sys.stdout.write(b"".join(parts).decode("utf-8"))


def _write_result(result, out: Path, long: pd.DataFrame | None = None) -> list[Path]:
    """Write every data set, ranks, weights, the step log and the spec to ``out``; the paths written."""
    from humsec.data.export import atomic_write
    from humsec.index.io import write_csv_fast

    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []

    def write(name: str, frame: pd.DataFrame) -> None:
        paths.append(out / f"{name.lower()}.csv")
        write_csv_fast(frame.reset_index(), paths[-1])

    result.visit_datasets(write)  # a large build's data sets one at a time
    paths += [out / "ranks.csv", out / "scores_long.csv", out / "weights.csv"]
    write_csv_fast(result.ranks.reset_index(), paths[-3])
    write_csv_fast(result.long() if long is None else long, paths[-2])
    w = pd.concat({k: v for k, v in result.weights.items()}, names=["parent", "child"]).rename("weight")
    write_csv_fast(w.reset_index(), paths[-1])
    log = [{"step": r.step, "method": r.method, "params": dict(r.params),
            "overrides": {k: dict(v) for k, v in r.overrides.items()}, "exclude": list(r.exclude),
            "dataset": r.dataset, "details": dict(r.details)} for r in result.log]
    text = json.dumps(log, indent=2, default=str)
    atomic_write(out / "step_log.json", lambda p: p.write_text(text, encoding="utf-8"))
    # unit groups as data beside the spec (a YAML mapping of 50,000 units takes seconds)
    result.spec.write(out / "spec.yaml", groups_file="groups.csv" if result.spec.groups else None)
    paths += [out / "step_log.json", out / "spec.yaml"] + ([out / "groups.csv"] if result.spec.groups else [])
    return paths


@app.command()
def audit(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy data file."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    table: Optional[str] = typer.Option(None, "--table",
                                        help="Only this table: indicators, parent_correlations, "
                                        "sibling_correlations, aggregates, leave_one_out, flags, treatment."),
    loo: bool = typer.Option(True, "--loo/--no-loo", help="Leave-one-out rank effects."),
) -> None:
    """Audit an index: statistics, correlations, Cronbach's alpha, PCA, flags, leave-one-out."""
    from humsec.index.audit import audit as run_audit
    from humsec.index.pipeline import build as build_index

    _fmt(fmt)
    s, df = _load(spec, data)
    rep = run_audit(build_index(s, df, year=year), leave_one_out=loo)
    tables = rep.tables()
    if table is not None:
        if table not in tables:
            raise HumsecError(f"--table '{table}': expected one of {', '.join(tables)}")
        tables = {table: tables[table]}
    _emit_tables(tables, fmt)


@app.command()
def uncertainty(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy data file."),
    uncertainty_file: Optional[Path] = typer.Option(
        None, "--uncertainty", "-u",
        help="Uncertainty spec YAML (default: the 'uncertainty' section of the index spec)."),
    samples: int = typer.Option(1000, "--samples", "-n", help="Monte Carlo runs (UA) or base sample size (SA)."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", help="Random seed (required for --samples runs)."),
    sa: bool = typer.Option(False, "--sa", help="Sensitivity analysis: Sobol' indices (n * (k + 2) runs)."),
    replay_file: Optional[Path] = typer.Option(None, "--replay", help="Reproduce the runs of this CSV table."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    node: Optional[str] = typer.Option(None, "--node", help="Aggregate to report (default: the root)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Also write summary.csv, runs.csv (replayable) and scores.csv here."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help=SCHEDULER_HELP),
    bootstrap: int = typer.Option(1000, "--bootstrap", "-b",
                                  help="--sa: number of bootstrap samples of the Sobol' intervals."),
    estimator: str = typer.Option("saltelli", "--estimator",
                                  help="--sa: Sobol' estimator: saltelli (SALib) | coinr | jansen."),
    layout: Optional[str] = typer.Option(
        None, "--layout", help="--sa --replay: row order of a design without sobol_matrix/sobol_row "
        "columns: salib | coinr."),
    quantile: str = typer.Option("observed", "--quantile",
                                 help="Rank-interval rule: observed (R type 1) | type7 (COINr)."),
    vintage: Optional[list[Path]] = typer.Option(
        None, "--vintage", help="Another vintage of the data (repeatable): runs are drawn over the "
        "vintages too, so the intervals cover data revisions; --data is the reference."),
) -> None:
    """Uncertainty (rank intervals) or sensitivity (Sobol' indices) of an index.

    With --sa and --replay, the Sobol' indices are computed from the replayed A/B/AB design."""
    from rich.progress import Progress

    from humsec.data.export import atomic_write
    from humsec.index import uncertainty as unc

    _fmt(fmt)
    s, df = _load(spec, data)
    if uncertainty_file is not None:
        u = unc.UncertaintySpec.from_file(uncertainty_file, spec=s)
    elif s.uncertainty is not None:
        u = unc.UncertaintySpec.from_dict(s.uncertainty, file=spec, spec=s)
    else:
        raise HumsecError(f"{spec}: no 'uncertainty' section; pass --uncertainty FILE")
    from humsec.index.sensitivity import sensitivity_from_runs

    est = _choice(estimator, ESTIMATORS, "--estimator")
    lay = None if layout is None else _choice(layout, LAYOUTS, "--layout")
    if quantile not in unc.QUANTILE_RULES:
        raise HumsecError(f"--quantile '{quantile}': expected one of {', '.join(unc.QUANTILE_RULES)}")
    if bootstrap < 0:
        raise HumsecError(f"--bootstrap must be >= 0, got {bootstrap}")
    if replay_file is None or (sa and bootstrap > 0):
        _require_seed(seed, " (the bootstrap of the Sobol' intervals)" if replay_file is not None else "")
    k = len(u.inputs)
    total = samples * (k + 2) if sa else samples
    if not quiet:
        done_working()  # the bar below replaces the generic indicator (rich allows one live display)
    with Progress(console=console(stderr=True), transient=True, disable=quiet) as bar:
        task = bar.add_task("runs", total=total if replay_file is None else None)
        tick = lambda m: bar.advance(task, m)  # noqa: E731
        if vintage:
            from humsec.index.io import read_index_data
            from humsec.index.vintage_uncertainty import vintage_uncertainty

            if sa or replay_file is not None:
                raise HumsecError("--vintage applies to Monte Carlo runs (not --sa or --replay)")
            vint = {}
            for p in [*vintage, data]:
                label = p.stem if p.stem not in vint else str(p)
                vint[label] = df if p == data else read_index_data(p)
            res = vintage_uncertainty(s, vint, u, n=samples, seed=_require_seed(seed), year=year, progress=tick)
            sens = None
        elif replay_file is not None:
            res = unc.replay(s, df, u, replay_file, year=year, progress=tick, scheduler=scheduler)
            sens = (sensitivity_from_runs(res, layout=lay, estimator=est, num_resamples=bootstrap,
                                          seed=seed) if sa else None)
        elif sa:
            sens = unc.sensitivity_analysis(s, df, u, n=samples, seed=_require_seed(seed), year=year,
                                            progress=tick, scheduler=scheduler, num_resamples=bootstrap,
                                            estimator=est)
            res = sens.runs
        else:
            res = unc.uncertainty_analysis(s, df, u, n=samples, seed=_require_seed(seed), year=year,
                                           progress=tick, scheduler=scheduler)
            sens = None
    if node is not None and node not in res.aggregates:
        raise HumsecError(f"--node '{node}': expected one of {', '.join(res.aggregates)}")
    summary = res.summary([node or s.root], quantile=quantile)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in (("summary.csv", res.summary(quantile=quantile)), ("runs.csv", res.runs),
                            ("scores.csv", res.run_scores(node))):
            atomic_write(out / name, partial(_write_csv, frame, name == "scores.csv"))
        if sens is not None:
            atomic_write(out / "sobol.csv", lambda p: sens.indices.to_csv(p))
        text = u.to_yaml()
        atomic_write(out / "uncertainty.yaml", lambda p: p.write_text(text, encoding="utf-8"))
        wrote([out / n for n in ("summary.csv", "runs.csv", "scores.csv")]
              + ([out / "sobol.csv"] if sens is not None else []) + [out / "uncertainty.yaml"])
    if res.n_failed:
        console(stderr=True).print(f"{res.n_failed} of {len(res.runs)} runs failed (see runs.csv with --out); "
                                   f"first: {res.failures['error'].iloc[0]}")
    if sens is not None:
        table = sens.indices.reset_index()
        if fmt == "json":
            dump_json({"output": sens.output.model_dump(), "indices": json.loads(table.to_json(orient="records"))})
        else:
            emit(table, fmt, title=f"Sobol' indices of {sens.output.stat} ({len(res.runs)} runs, "
                                   f"{estimator} estimator, {bootstrap} bootstrap samples)")
        return
    if fmt == "json":
        dump_json({"runs": len(res.runs), "failed": res.n_failed, "seed": res.seed,
                   "summary": json.loads(summary.to_json(orient="records"))})
    else:
        emit(summary, fmt, title=f"Uncertainty of {node or s.root} ({len(res.runs)} runs, "
                                 f"{res.n_failed} failed)")


@app.command("import-coinr")
def import_coinr_cmd(
    idata: Path = typer.Argument(..., help="COINr iData CSV."),
    imeta: Path = typer.Argument(..., help="COINr iMeta CSV."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for spec.yaml and data.csv."),
    name: str = typer.Option("coinr", "--name", help="Name of the spec."),
    group: Optional[str] = typer.Option(None, "--impute-group",
                                        help="Group column for group-mean imputation (default EurAsia_group if present, as COINr's build_example_coin, else the first group)."),
) -> None:
    """Convert a COINr iData/iMeta pair into DIR/spec.yaml + DIR/data.csv."""
    from humsec.index.coinr import write_coinr_import

    spec_path, data_path = write_coinr_import(idata, imeta, out, name=name, impute_group=group)
    wrote([spec_path, data_path])
    console().print(f"build with: humsec index build {spec_path} --data {data_path}", markup=False)


@app.command("impute-panel")
def impute_panel_cmd(
    data: Path = typer.Argument(..., help="Tidy data with years: unit,year,indicator,value."),
    out: Path = typer.Option(..., "--out", "-o", help="Write the imputed tidy data here (CSV)."),
    imp_type: str = typer.Option("latest", "--type", "-t",
                                 help="latest | constant | linear | linear-constant (COINr impute_panel)."),
    max_time: Optional[int] = typer.Option(None, "--max-time", help="latest: at most this many years back."),
) -> None:
    """Impute panel data across years, from earlier and later years (COINr's impute_panel)."""
    from humsec.data.export import atomic_write
    from humsec.index.io import read_index_data
    from humsec.index.methods_coinr import impute_panel_frame

    df = read_index_data(data)
    if "year" not in df.columns:
        raise HumsecError(f"{data}: panel imputation needs a 'year' column")
    panel = df.pivot_table(index=["unit", "year"], columns="indicator", values="value", aggfunc="first",
                           dropna=False)
    full = panel.reindex(pd.MultiIndex.from_product(panel.index.levels, names=["unit", "year"]))
    filled = impute_panel_frame(full, imp_type=imp_type, max_time=max_time)
    tidy = filled.stack(future_stack=True).rename("value").reset_index()
    before = full.stack(future_stack=True).notna().to_numpy()
    tidy["imputed"] = ~before & tidy["value"].notna().to_numpy()
    tidy = tidy[tidy["value"].notna()].reset_index(drop=True)
    atomic_write(out, lambda p: tidy.to_csv(p, index=False))
    wrote(out)
    console().print(f"{int(tidy['imputed'].sum())} value(s) imputed ({imp_type}); "
                    f"{int(full.isna().to_numpy().sum() - tidy['imputed'].sum())} still missing")


# ---------------------------------------------------------------- analyses (#24)


def _built(spec: str, data: Path, year: Optional[int]):
    from humsec.index.pipeline import build as build_index

    s, df = _load(spec, data)
    return build_index(s, df, year=year)


def _emit_tables(tables: dict, fmt: str, extra: Optional[dict] = None) -> None:
    """Named tables as JSON (one object, ``extra`` first), CSV (``# name`` before each when
    several) or rich tables (``extra`` as ``key: value`` lines first)."""
    if fmt == "json":
        body = {k: json.loads(v.to_json(orient="records")) for k, v in tables.items()}
        dump_json({**(extra or {}), **body})
        return
    if extra and fmt == "table":
        for k, v in extra.items():
            console().print(f"{k}: {v}", markup=False)
    for name, t in tables.items():
        if fmt == "csv" and len(tables) > 1:
            typer.echo(f"# {name}")
        emit(t, fmt, title=name.replace("_", " "))


@app.command()
def corr(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy data file."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    dset: str = typer.Option("Aggregated", "--dset", help="Data set: Raw ... Aggregated."),
    level: Optional[int] = typer.Option(None, "--level", help="Rows: nodes of this level (1 = indicators)."),
    level2: Optional[int] = typer.Option(None, "--level2", help="Columns: nodes of this level (default: as rows)."),
    method: str = typer.Option("pearson", "--method", help="pearson | spearman | kendall"),
    pvals: bool = typer.Option(False, "--pvals", help="Also the p-values (COINr get_pvals)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
) -> None:
    """Correlation matrix of any data set (COINr get_corr), optionally with p-values."""
    from humsec.index.analysis_coin import get_corr, get_pvals

    _fmt(fmt)
    r = _built(spec, data, year)
    how = _choice(method, CORR_METHODS, "--method")
    tables = {"corr": get_corr(r, dset=dset, level=level, level2=level2, method=how)
              .rename_axis("node").reset_index()}
    if pvals:
        tables["pvals"] = (get_pvals(r, dset=dset, level=level, level2=level2, method=how)
                           .rename_axis("node").reset_index())
    _emit_tables(tables, fmt)


@app.command("denom-corr")
def denom_corr(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy data file."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    threshold: float = typer.Option(0.6, "--threshold", help="Report |r| above this."),
    method: str = typer.Option("pearson", "--method", help="pearson | spearman | kendall"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
) -> None:
    """Indicators correlated with the spec's denominators (COINr get_denom_corr)."""
    from humsec.index.analysis_coin import get_denom_corr

    _fmt(fmt)
    t = get_denom_corr(_built(spec, data, year), cor_thresh=threshold,
                       method=_choice(method, CORR_METHODS, "--method"))
    if fmt == "json":
        dump_json(json.loads(t.to_json(orient="records")))
    else:
        emit(t, fmt, title="correlations with denominators")


@app.command()
def availability(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy data file."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    level: int = typer.Option(2, "--level", help="Framework level of the groups."),
    unit_group: Optional[str] = typer.Option(None, "--unit-group", help="Summarise by this group of units."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
) -> None:
    """Data availability per unit and by group (COINr get_data_avail)."""
    from humsec.index.analysis_coin import data_availability

    _fmt(fmt)
    av = data_availability(_built(spec, data, year), level=level, unit_group=unit_group)
    tables = {"summary": av.summary, "by_group": av.by_group}
    if unit_group is not None:
        tables["by_unit_group"] = av.by_unit_group
    _emit_tables(tables, fmt)


@app.command()
def unit(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy data file."),
    unit_code: str = typer.Option(..., "--unit", "-u", help="Unit code."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    top: int = typer.Option(5, "--top", help="Number of strengths and of weaknesses."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
) -> None:
    """One unit: scores and ranks by level, strengths and weaknesses (COINr get_unit_summary,
    get_str_weak)."""
    from humsec.index.analysis_coin import get_str_weak, get_unit_summary

    _fmt(fmt)
    r = _built(spec, data, year)
    sw = get_str_weak(r, unit_code, top_n=top, bottom_n=top)
    _emit_tables({"summary": get_unit_summary(r, unit_code), "strengths": sw.strengths,
                  "weaknesses": sw.weaknesses}, fmt)


@app.command()
def compare(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    spec2: str = typer.Argument(..., help="The second spec (built-in name or YAML; the same spec to "
                                "compare years or vintages)."),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy data file."),
    data2: Optional[Path] = typer.Option(None, "--data2", help="Data of the second spec (default: --data), "
                                         "e.g. another vintage."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    year2: Optional[int] = typer.Option(None, "--year2", help="Year of the second build (default: --year)."),
    node: Optional[str] = typer.Option(None, "--node", help="Column to compare (default: the root)."),
    by: str = typer.Option("ranks", "--by", help="ranks | scores"),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
) -> None:
    """Compare two indices unit by unit (COINr compare_coins): two specs, two vintages of the
    data (--data2) or two years of a panel (--year2)."""
    from humsec.index.analysis_coin import compare_coins

    _fmt(fmt)
    t = compare_coins(_built(spec, data, year), _built(spec2, data2 or data, year if year2 is None else year2),
                      code=node, compare_by=_choice(by, COMPARE_BY, "--by"))
    if fmt == "json":
        dump_json(json.loads(t.to_json(orient="records")))
    else:
        emit(t, fmt, title="comparison")


@app.command("opt-weights")
def opt_weights(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy data file."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    level: Optional[int] = typer.Option(None, "--level", help="Level to weight (default: the root's children)."),
    optype: str = typer.Option("balance", "--optype", help="balance | infomax"),
    maxiter: int = typer.Option(500, "--maxiter", help="Nelder-Mead iteration limit."),
    fmt: str = typer.Option("table", "--format", "-f", help="table|csv|json"),
) -> None:
    """Optimised weights as an analysis, with the optimiser's convergence (COINr get_opt_weights)."""
    from humsec.index.analysis_coin import get_opt_weights

    _fmt(fmt)
    o = get_opt_weights(_built(spec, data, year), level=level,
                        optype=_choice(optype, OPTTYPES, "--optype"), maxiter=maxiter)
    info = {"converged": o.converged, "n_iter": o.n_iter, "n_eval": o.n_eval, "objective": o.objective,
            "message": o.message}
    if fmt == "json":
        dump_json({**info, "weights": o.weights.to_dict(),
                   "correlations": json.loads(o.correlations.to_json(orient="records"))})
        return
    _emit_tables({"correlations": o.correlations}, fmt, extra=info if fmt == "table" else None)
    if not o.converged:
        console(stderr=True).print(f"warning: the optimiser did not converge ({o.message})", markup=False)


@app.command("report")
def report_cmd(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy data file."),
    out: Path = typer.Option(..., "--out", "-o", help="Write the HTML audit here."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    uncertainty_file: Optional[Path] = typer.Option(
        None, "--uncertainty", "-u",
        help="Uncertainty spec YAML (default: the spec's 'uncertainty' section, if any)."),
    samples: int = typer.Option(0, "--samples", "-n",
                                help="Monte Carlo runs of the uncertainty section (0 = none)."),
    sa: int = typer.Option(0, "--sa", help="Also Sobol' indices with this base sample size (0 = none)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", "-b", help="Bootstrap samples of the Sobol' intervals."),
    estimator: str = typer.Option("saltelli", "--estimator", help="saltelli | coinr | jansen"),
    quantile: str = typer.Option("observed", "--quantile", help="Rank-interval rule: observed | type7."),
    seed: Optional[int] = typer.Option(None, "--seed", "-s", help="Random seed (required with -n or --sa)."),
) -> None:
    """Write a self-contained HTML audit of an index: framework, statistics, coherence,
    weights, results and, with -n/--sa, uncertainty and sensitivity, with charts."""
    from humsec.data.export import atomic_write
    from humsec.index import uncertainty as unc
    from humsec.index.pipeline import build as build_index
    from humsec.report.index_report import index_report_html

    est = _choice(estimator, ESTIMATORS, "--estimator")
    s, df = _load(spec, data)
    result = build_index(s, df, year=year)
    ua = sens = None
    if samples or sa:
        if seed is None:
            raise HumsecError("--seed is required: every random draw in humsec is reproducible")
        if uncertainty_file is not None:
            u = unc.UncertaintySpec.from_file(uncertainty_file, spec=s)
        elif s.uncertainty is not None:
            u = unc.UncertaintySpec.from_dict(s.uncertainty, file=spec, spec=s)
        else:
            raise HumsecError(f"{spec}: no 'uncertainty' section; pass --uncertainty FILE")
        if samples:
            ua = unc.uncertainty_analysis(s, df, u, n=samples, seed=seed, year=year)
        if sa:
            from humsec.index.sensitivity import sensitivity_analysis

            sens = sensitivity_analysis(s, df, u, n=sa, seed=seed, year=year, num_resamples=bootstrap,
                                        estimator=est)
            if ua is None:
                ua = sens.runs
    html = index_report_html(result, uncertainty=ua, sensitivity=sens, quantile=quantile)
    atomic_write(out, lambda p: p.write_text(html, encoding="utf-8"))
    wrote(out)


PLOT_KINDS = ("framework", "corr", "dist", "bar", "scatter")


@app.command("plot")
def plot_cmd(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    data: Path = typer.Option(..., "--data", "-d", help="Tidy data file."),
    kind: str = typer.Option(..., "--kind", "-k", help="framework | corr | dist | bar | scatter"),
    out: Path = typer.Option(..., "--out", "-o", help="Image file (.svg or .png)."),
    year: Optional[int] = typer.Option(None, "--year", "-y"),
    dset: str = typer.Option("Aggregated", "--dset", help="Data set (corr, dist, scatter)."),
    level: Optional[int] = typer.Option(None, "--level", help="corr/dist: nodes of this level."),
    level2: Optional[int] = typer.Option(None, "--level2", help="corr: column nodes of this level."),
    method: str = typer.Option("pearson", "--method", help="corr: pearson | spearman | kendall"),
    node: Optional[str] = typer.Option(None, "--node", help="bar: node (default: the root)."),
    x: Optional[str] = typer.Option(None, "--x", help="scatter: x column."),
    y_col: Optional[str] = typer.Option(None, "--y-col", help="scatter: y column (default: the root)."),
) -> None:
    """Draw one chart of an index (COINr plot_framework, plot_corr, plot_dist, plot_bar, plot_scatter)."""
    from humsec.data.export import atomic_write
    from humsec.report import index_charts as ic

    if kind not in PLOT_KINDS:
        raise HumsecError(f"--kind '{kind}': expected one of {', '.join(PLOT_KINDS)}")
    fmt = "png" if out.suffix.lower() == ".png" else "svg"
    r = _built(spec, data, year)
    if kind == "framework":
        img = ic.framework_sunburst(r, fmt=fmt)
    elif kind == "corr":
        from humsec.index.analysis_coin import get_corr, get_pvals

        how = _choice(method, CORR_METHODS, "--method")
        img = ic.corr_heatmap(get_corr(r, dset=dset, level=level, level2=level2, method=how),
                              pvals=get_pvals(r, dset=dset, level=level, level2=level2, method=how),
                              title=f"{method} correlations", fmt=fmt)
    elif kind == "dist":
        f = r.dataset("Raw" if dset == "Aggregated" and level in (None, 1) else dset)
        codes = [c for c in f.columns if c in r.spec.nodes and (level is None or r.spec.level(c) == level)]
        if not codes:
            raise HumsecError(f"--level {level}: no column of that level in the {dset} data set")
        img = ic.distributions(f, codes, fmt=fmt)
    elif kind == "bar":
        img = ic.bar_chart(r, node, fmt=fmt)
    else:
        root = r.spec.root
        xc = x or r.spec.children[root][0]
        img = ic.scatter_chart(r, xc, y_col or root, dset=dset, fmt=fmt)
    atomic_write(out, lambda p: p.write_bytes(img))
    wrote(out)
