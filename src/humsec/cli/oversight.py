"""``humsec commitments``, ``humsec budget`` and ``humsec oversight``: parliamentary
oversight of commitments and budgets (thin shell over :mod:`humsec.oversight` and
:mod:`humsec.report.oversight`).

The acting identity is an API token from ``--token`` or ``HUMSEC_TOKEN``; an
administrator creates the first one with ``humsec oversight init``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import pandas as pd
import typer
from pydantic import ValidationError as PydanticValidationError

from humsec.cli.common import FORMATS, console, done_working, dump_json, emit, settings_from, wrote
from humsec.data import service
from humsec.data.export import atomic_write
from humsec.errors import HumsecError, ValidationError
from humsec.oversight.align import align, hsi_history
from humsec.oversight.budget import example_budget_path, read_budget
from humsec.oversight.db import OversightDB
from humsec.oversight.io import read_commitments
from humsec.oversight.models import Tag, pydantic_issues, validate_instrument
from humsec.oversight.status import commitment_progress, commitment_status, status_table
from humsec.oversight.tagging import TaggingRules, suggest_tags
from humsec.report.oversight import oversight_report

TOKEN_HELP = "API token (default: $HUMSEC_TOKEN)."

commitments_app = typer.Typer(help="Commitments: what was promised, with targets tracked against the data.",
                              no_args_is_help=True)
budget_app = typer.Typer(help="Budgets: import, SDG / human-security tagging, review, alignment.",
                         no_args_is_help=True)
oversight_app = typer.Typer(help="Oversight database: set-up, users, tokens, audit log, country report.",
                            no_args_is_help=True)
user_app = typer.Typer(help="Users (administrators only).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (shown once; stored hashed).", no_args_is_help=True)
oversight_app.add_typer(user_app, name="user")
oversight_app.add_typer(token_app, name="token")


def _token_opt():
    return typer.Option(None, "--token", envvar="HUMSEC_TOKEN", help=TOKEN_HELP, show_envvar=True,
                        show_default=False)


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise HumsecError(f"--format '{fmt}': expected one of {', '.join(FORMATS)}")
    return fmt


def _db(ctx: typer.Context):
    return OversightDB.open(settings_from(ctx))


def _catalogue(ctx: typer.Context):
    return service.catalogue(settings_from(ctx))


def _panel(ctx: typer.Context):
    panel, _ = service.current_panel(settings_from(ctx))
    return panel


def _iso(df: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as ISO text (stable JSON/CSV output)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].map(lambda v: v.isoformat() if pd.notna(v) else None)
    return out


def _err(text: str) -> None:
    console(stderr=True).print(text, markup=False, soft_wrap=True)


# ---------------------------------------------------------------------------- oversight


@oversight_app.command("init")
def init_cmd(ctx: typer.Context,
             user: str = typer.Option("admin", "--user", "-u", help="User id of the first administrator."),
             name: Optional[str] = typer.Option(None, "--name", help="Display name.")) -> None:
    """Create the oversight database and its first administrator; prints the admin's
    API token ONCE (it is stored only as a hash)."""
    db = _db(ctx)
    token = db.init(user, name=name)
    _err(f"created the oversight database {db.path} with administrator '{user}'.")
    _err("API token (shown once - store it safely; export HUMSEC_TOKEN=... to use it):")
    sys.stdout.write(token + "\n")


@user_app.command("add")
def user_add_cmd(ctx: typer.Context, user: str = typer.Argument(..., help="User id (lower case)."),
                 role: str = typer.Option("viewer", "--role", "-r", help="viewer|editor|admin"),
                 name: Optional[str] = typer.Option(None, "--name"),
                 token: Optional[str] = _token_opt()) -> None:
    """Add a user."""
    rec = _db(ctx).add_user(token, user, role=role, name=name)
    _err(f"added {rec['user_id']} ({rec['role']}); create a token with 'humsec oversight token create --user {user}'")


@user_app.command("set")
def user_set_cmd(ctx: typer.Context, user: str = typer.Argument(...),
                 role: Optional[str] = typer.Option(None, "--role", "-r", help="viewer|editor|admin"),
                 deactivate: bool = typer.Option(False, "--deactivate"),
                 activate: bool = typer.Option(False, "--activate"),
                 token: Optional[str] = _token_opt()) -> None:
    """Change a user's role, or (de)activate it."""
    if deactivate and activate:
        raise HumsecError("--activate and --deactivate exclude each other")
    active = False if deactivate else True if activate else None
    rec = _db(ctx).set_user(token, user, role=role, active=active)
    _err(f"{rec['user_id']}: role {rec['role']}, {'active' if rec['active'] else 'deactivated'}")


@user_app.command("list")
def user_list_cmd(ctx: typer.Context, fmt: str = typer.Option("table", "--format", "-f"),
                  token: Optional[str] = _token_opt()) -> None:
    """List users."""
    emit(_db(ctx).users(token), _fmt(fmt), title="Users")


@token_app.command("create")
def token_create_cmd(ctx: typer.Context, user: str = typer.Option(..., "--user", "-u"),
                     label: str = typer.Option("", "--label", "-l", help="What the token is for."),
                     token: Optional[str] = _token_opt()) -> None:
    """Create an API token for a user; prints it ONCE."""
    new = _db(ctx).create_token(token, user, label=label)
    _err(f"API token for {user} (shown once; id {new.split('_')[1]} - revoke it by that id):")
    sys.stdout.write(new + "\n")


@token_app.command("revoke")
def token_revoke_cmd(ctx: typer.Context, token_id: str = typer.Argument(..., help="Token id (the part after hsk_)."),
                     token: Optional[str] = _token_opt()) -> None:
    """Revoke a token (it stops working at once)."""
    if token_id.startswith("hsk_"):
        token_id = token_id.split("_")[1]
    _db(ctx).revoke_token(token, token_id)
    _err(f"revoked token {token_id}")


@token_app.command("list")
def token_list_cmd(ctx: typer.Context, fmt: str = typer.Option("table", "--format", "-f"),
                   token: Optional[str] = _token_opt()) -> None:
    """List tokens (ids, owners, labels - never secrets)."""
    emit(_iso(_db(ctx).tokens(token)), _fmt(fmt), title="API tokens")


@oversight_app.command("audit")
def audit_cmd(ctx: typer.Context, entity: Optional[str] = typer.Option(None, "--entity"),
              entity_id: Optional[str] = typer.Option(None, "--id"),
              fmt: str = typer.Option("table", "--format", "-f"),
              token: Optional[str] = _token_opt()) -> None:
    """The audit log: who changed what, when, with before and after."""
    emit(_iso(_db(ctx).audit_log(token, entity=entity, entity_id=entity_id)), _fmt(fmt), title="Audit log")


@oversight_app.command("report")
def report_cmd(ctx: typer.Context, unit: str = typer.Argument(..., help="ISO3 code of the country."),
               fmt: str = typer.Option("html", "--format", "-f", help="html|pdf"),
               out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (PDF needs one)."),
               token: Optional[str] = _token_opt()) -> None:
    """Oversight report of a country: commitments by status, budget alignment and the
    five largest gaps (HTML or PDF)."""
    if fmt not in ("html", "pdf"):
        raise HumsecError(f"--format '{fmt}': expected html or pdf")
    if fmt == "pdf" and out is None:
        raise HumsecError("--format pdf needs --out FILE")
    db = _db(ctx)
    result = oversight_report(db, token, unit, panel=_panel(ctx), catalogue=_catalogue(ctx), fmt=fmt)
    if out is None:  # HTML (a PDF needs --out)
        done_working()
        sys.stdout.write(result if isinstance(result, str) else result.decode("utf-8"))
        return
    if isinstance(result, bytes):  # the PDF
        pdf = result
        atomic_write(out, lambda p: p.write_bytes(pdf))
    else:
        html = result
        atomic_write(out, lambda p: p.write_text(html, encoding="utf-8"))
    wrote(out)


# ---------------------------------------------------------------------------- commitments


def _commitment_rows(items) -> pd.DataFrame:
    rows = []
    for v in items:
        c = v.value
        for t in c.targets or [None]:
            rows.append({"id": c.id, "version": v.version, "instrument": c.instrument, "title": c.title,
                         "target": t.key if t else "", "unit": t.unit if t else "",
                         "indicator": t.indicator if t else "", "baseline_year": t.baseline_year if t else None,
                         "target_value": t.target_value if t else None,
                         "deadline": t.deadline.isoformat() if t else "", "deleted": v.deleted})
    return pd.DataFrame(rows, columns=["id", "version", "instrument", "title", "target", "unit", "indicator",
                                       "baseline_year", "target_value", "deadline", "deleted"])


@commitments_app.command("add")
def add_cmd(ctx: typer.Context,
            cid: str = typer.Option(..., "--id", help="Identifier of the commitment."),
            instrument: str = typer.Option(..., "--instrument", "-i", help="Id of its resolution, law or policy."),
            title: str = typer.Option(..., "--title"),
            indicator: str = typer.Option(..., "--indicator", help="Catalogue code measuring the target."),
            unit: str = typer.Option(..., "--unit", help="ISO3 code of the country."),
            deadline: str = typer.Option(..., "--deadline", help="Year or YYYY-MM-DD."),
            target: Optional[float] = typer.Option(None, "--target", help="Target value (omit: growth rule)."),
            baseline_year: int = typer.Option(2015, "--baseline-year"),
            baseline_value: Optional[float] = typer.Option(None, "--baseline-value",
                                                           help="Default: read from the data."),
            text: str = typer.Option("", "--text", help="Wording of the commitment."),
            responsible: str = typer.Option("", "--responsible"),
            instrument_title: Optional[str] = typer.Option(None, "--instrument-title",
                                                           help="Create the instrument with this title if new."),
            kind: str = typer.Option("law", "--kind", help="Kind of a new instrument: resolution|law|policy|plan|other."),
            token: Optional[str] = _token_opt()) -> None:
    """Add a commitment with one measurable target (more targets: 'commitments import')."""
    db = _db(ctx)
    if instrument_title is not None:
        db.put_instrument(token, validate_instrument({"id": instrument, "kind": kind, "title": instrument_title},
                                                     where="--"))
    raw = {"id": cid, "instrument": instrument, "title": title, "text": text, "responsible": responsible,
           "targets": [{"key": "t1", "indicator": indicator, "unit": unit, "deadline": deadline,
                        "target_value": target, "baseline_year": baseline_year, "baseline_value": baseline_value}]}
    v = db.add_commitment(token, raw, catalogue=_catalogue(ctx))
    _err(f"added commitment {v.id} (version {v.version})")


@commitments_app.command("import")
def import_cmd(ctx: typer.Context,
               source: str = typer.Argument(..., help="Commitments YAML file, or a shipped example: appf2021."),
               unit: Optional[str] = typer.Option(None, "--unit", help="ISO3 code for targets that name no country."),
               token: Optional[str] = _token_opt()) -> None:
    """Import an instrument and its commitments (validated; new versions for changes)."""
    inst, items = read_commitments(source, catalogue=_catalogue(ctx), unit=unit)
    out = _db(ctx).import_commitments(token, inst, items)
    _err(f"{inst.id}: {len(out)} commitment(s): " + ", ".join(f"{v.id}@{v.version}" for v in out))


@commitments_app.command("list")
def list_cmd(ctx: typer.Context, unit: Optional[str] = typer.Option(None, "--unit"),
             show_deleted: bool = typer.Option(False, "--deleted", help="Include deleted commitments."),
             fmt: str = typer.Option("table", "--format", "-f"),
             token: Optional[str] = _token_opt()) -> None:
    """List commitments and their targets (latest versions)."""
    df = _commitment_rows(_db(ctx).current(token, include_deleted=show_deleted))
    if unit:
        df = df[df["unit"] == unit.upper()]
    emit(df, _fmt(fmt), title="Commitments")


@commitments_app.command("status")
def status_cmd(ctx: typer.Context, ids: Optional[list[str]] = typer.Argument(None, help="Commitment ids (default: all)."),
               unit: Optional[str] = typer.Option(None, "--unit"),
               as_of: Optional[int] = typer.Option(None, "--as-of", help="Use data up to this year."),
               record: bool = typer.Option(False, "--record", help="Store the statuses in the history (editors)."),
               aggregate: bool = typer.Option(False, "--aggregate",
                                              help="One status per commitment and country: the mean Open SDG "
                                                   "progress score (-5..+5) of its targets."),
               fmt: str = typer.Option("table", "--format", "-f"),
               token: Optional[str] = _token_opt()) -> None:
    """Status of every target from the data (Open SDG progress rule on the observations
    after the adoption year; 'too early' while there are none), with evidence."""
    _fmt(fmt)
    db = _db(ctx)
    items = db.current(token)
    if ids:
        known = {v.id for v in items}
        missing = [i for i in ids if i not in known]
        if missing:
            raise HumsecError(f"no commitment(s) {', '.join(missing)}")
        items = [v for v in items if v.id in set(ids)]
    panel, cat = _panel(ctx), _catalogue(ctx)
    statuses = [s for v in items for s in commitment_status(v.value, panel, cat, version=v.version, as_of=as_of)]
    if unit:
        statuses = [s for s in statuses if s.unit == unit.upper()]
    if record:
        n = db.record_status(token, statuses)
        _err(f"recorded {n} status(es)")
    if aggregate:
        agg = commitment_progress(statuses, {v.id: v.value for v in items})
        if fmt == "json":
            dump_json(json.loads(agg.to_json(orient="records")))
        else:
            emit(agg, fmt, title="Progress of commitments (mean Open SDG score of their targets)")
        return
    if fmt == "json":
        dump_json([s.to_dict() for s in statuses])
        return
    tab = status_table(statuses, {v.id: v.value for v in items})
    cols = tab.columns if fmt == "csv" else ["commitment", "target", "unit", "indicator", "label", "base_year",
                                             "base_value", "as_of", "latest_value", "target_value", "deadline", "score"]
    emit(tab[list(cols)], fmt, title="Status of commitments")


@commitments_app.command("history")
def history_cmd(ctx: typer.Context, cid: str = typer.Argument(...),
                fmt: str = typer.Option("table", "--format", "-f"),
                token: Optional[str] = _token_opt()) -> None:
    """Every version of a commitment (who, when) and its recorded statuses."""
    db = _db(ctx)
    hist = db.history(token, "commitment", cid)
    rows = pd.DataFrame([{"version": v.version, "changed_at": v.at.isoformat(), "by": v.actor, "deleted": v.deleted,
                          "title": v.value.title, "targets": len(v.value.targets), "notes": len(v.value.notes),
                          "responsible": v.value.responsible} for v in hist])
    st = _iso(db.status_history(token, cid).drop(columns=["result"]))
    if fmt == "json":
        dump_json({"versions": [{"version": v.version, "changed_at": v.at, "by": v.actor, "deleted": v.deleted,
                                 "value": v.value.model_dump(mode="json")} for v in hist],
                   "statuses": st.to_dict(orient="records")})
        return
    emit(rows, _fmt(fmt), title=f"Versions of {cid}")
    if fmt == "table" and len(st):
        emit(st, "table", title="Recorded statuses")


@commitments_app.command("note")
def note_cmd(ctx: typer.Context, cid: str = typer.Argument(...), text: str = typer.Argument(...),
             token: Optional[str] = _token_opt()) -> None:
    """Add a dated note to a commitment."""
    v = _db(ctx).add_note(token, cid, text)
    _err(f"{v.id}: version {v.version}")


@commitments_app.command("update")
def update_cmd(ctx: typer.Context, cid: str = typer.Argument(...),
               title: Optional[str] = typer.Option(None, "--title"),
               text: Optional[str] = typer.Option(None, "--text"),
               responsible: Optional[str] = typer.Option(None, "--responsible"),
               expected_version: Optional[int] = typer.Option(None, "--expected-version",
                                                              help="Refuse if someone changed it since this version."),
               token: Optional[str] = _token_opt()) -> None:
    """Change a commitment's title, text or responsible body (a new version)."""
    change = {k: v for k, v in (("title", title), ("text", text), ("responsible", responsible)) if v is not None}
    if not change:
        raise HumsecError("nothing to change: give --title, --text or --responsible")
    v = _db(ctx).update_commitment(token, cid, change, catalogue=_catalogue(ctx), expected_version=expected_version)
    _err(f"{v.id}: version {v.version}")


@commitments_app.command("delete")
def delete_cmd(ctx: typer.Context, cid: str = typer.Argument(...), token: Optional[str] = _token_opt()) -> None:
    """Mark a commitment deleted (its history is kept)."""
    v = _db(ctx).delete_commitment(token, cid)
    _err(f"{v.id}: deleted (version {v.version})")


# ---------------------------------------------------------------------------- budget


@budget_app.command("import")
def budget_import_cmd(ctx: typer.Context, path: Path = typer.Argument(..., help="CSV, TSV or .xlsx file, or "
                                                                          "'example' for the shipped illustrative "
                                                                          "budget (columns: see its README)."),
                      country: Optional[str] = typer.Option(None, "--country", "--unit",
                                                            help="ISO3 code for lines without a country."),
                      currency: Optional[str] = typer.Option(None, "--currency", help="ISO 4217 code for lines without one."),
                      sheet: Optional[str] = typer.Option(None, "--sheet"),
                      token: Optional[str] = _token_opt()) -> None:
    """Import budget lines (validated: every problem located by row and column)."""
    if str(path) == "example" and not path.exists():
        path = example_budget_path()
    b = read_budget(path, country=country, currency=currency, sheet=sheet)
    import_id, ids = _db(ctx).add_budget(token, b.lines, file_name=b.name, sha256=b.sha256)
    _err(f"imported {len(ids)} budget line(s) from {b.name} as {import_id} (lines {ids[0]}-{ids[-1]}); "
         "tag them with 'humsec budget tag'")


@budget_app.command("tag")
def budget_tag_cmd(ctx: typer.Context,
                   rules_file: Optional[Path] = typer.Option(None, "--rules", help="Your rules YAML (overrides the shipped ones)."),
                   classifier: bool = typer.Option(True, "--classifier/--no-classifier",
                                                   help="Suggest tags for lines the rules miss."),
                   seed: int = typer.Option(20240101, "--seed", help="Classifier seed."),
                   min_confidence: float = typer.Option(0.5, "--min-confidence"),
                   show_rules: bool = typer.Option(False, "--show-rules", help="Print the rules and exit."),
                   fmt: str = typer.Option("table", "--format", "-f"),
                   token: Optional[str] = _token_opt()) -> None:
    """Tag untagged and unreviewed lines with SDG targets and dimensions (rules, then the
    classifier); reviewed lines are never changed."""
    rules = TaggingRules.load(rules_file)
    if show_rules:
        emit(rules.to_frame(), _fmt(fmt), title=f"Tagging rules ({rules.source})")
        return
    db = _db(ctx)
    lines = db.budget_lines(token)
    if lines.empty:
        raise HumsecError("no budget lines yet: import a budget with 'humsec budget import'")
    tags, notes = suggest_tags(lines, rules, seed=seed, classifier=classifier, min_confidence=min_confidence)
    n = db.save_tags(token, tags)
    for note in notes:
        _err(f"note: {note}")
    after = db.budget_lines(token)
    counts = after.assign(src=after["source"].fillna("none")).groupby(["review", "src"]).size()
    _err(f"{n} tag(s) stored; lines by review state and source: "
         + ", ".join(f"{r}/{s}: {k}" for (r, s), k in counts.items()))


def _lines_view(df: pd.DataFrame) -> pd.DataFrame:
    out = df[["line_id", "country", "year", "programme", "amount", "currency", "review", "source",
              "dimensions", "sdg_targets", "confidence", "evidence"]].copy()
    for c in ("dimensions", "sdg_targets", "evidence"):
        out[c] = out[c].map(lambda t: "; ".join(t))
    return out


@budget_app.command("review")
def budget_review_cmd(ctx: typer.Context,
                      line_id: Optional[int] = typer.Argument(None, help="Budget line to review (omit: list pending)."),
                      confirm: bool = typer.Option(False, "--confirm", help="Accept the current tag."),
                      dimension: Optional[list[str]] = typer.Option(None, "--dimension", "-d", help="Correct dimension(s)."),
                      sdg: Optional[list[str]] = typer.Option(None, "--sdg", help="Correct SDG target(s), e.g. 3.8."),
                      fmt: str = typer.Option("table", "--format", "-f"),
                      token: Optional[str] = _token_opt()) -> None:
    """Confirm or correct a line's tags; without a line, list the lines awaiting review
    (least confident first)."""
    db = _db(ctx)
    if line_id is None:
        df = db.budget_lines(token)
        pend = df[~df["review"].isin(["confirmed", "corrected"])].copy()
        pend["_c"] = pend["confidence"].fillna(2.0)
        pend = pend.sort_values(["_c", "line_id"]).drop(columns="_c")
        emit(_lines_view(pend), _fmt(fmt), title=f"{len(pend)} line(s) awaiting review")
        return
    if confirm and (dimension or sdg):
        raise HumsecError("give either --confirm or corrected --dimension/--sdg, not both")
    if not confirm and not (dimension or sdg):
        raise HumsecError("give --confirm, or the correct --dimension and/or --sdg")
    tag = None
    if not confirm:
        try:
            tag = Tag(dimensions=tuple(dimension or ()), sdg_targets=tuple(sdg or ()), source="review")
        except PydanticValidationError as exc:
            raise ValidationError(pydantic_issues(exc, file=None, prefix="--")) from None
    version = db.review(token, line_id, tag)
    _err(f"line {line_id}: {'confirmed' if confirm else 'corrected'} (tag version {version})")


@budget_app.command("align")
def budget_align_cmd(ctx: typer.Context, unit: str = typer.Argument(..., help="ISO3 code of the country."),
                     min_confidence: float = typer.Option(0.5, "--min-confidence"),
                     fmt: str = typer.Option("table", "--format", "-f"),
                     token: Optional[str] = _token_opt()) -> None:
    """Spending per dimension (share, per capita) against insecurity (100 - HSI score)
    and trend, per year; rank correlation and the largest gaps."""
    _fmt(fmt)
    lines = _db(ctx).budget_lines(token)
    panel = _panel(ctx)
    own = lines[lines["country"] == unit.strip().upper()]
    hist = (hsi_history(panel, years=sorted(set(own["year"].astype(int))), units=[unit]) if len(own)
            else hsi_history(panel))
    a = align(lines, unit, history=hist, panel=panel, min_confidence=min_confidence)
    if fmt == "json":
        dump_json(a.to_dict())
        return
    if fmt == "csv":
        emit(a.table, "csv")
        return
    emit(a.summary, "table", title=f"Budget of {a.unit}: totals and alignment (rho: Spearman, spending share vs insecurity)")
    emit(a.table[["year", "dimension", "amount", "share", "per_capita", "score", "insecurity", "gap", "arrow",
                  "progress_label"]], "table", title="Spending and insecurity per dimension")
    emit(a.gaps[["dimension", "insecurity", "share", "gap", "arrow"]], "table",
         title="Largest gaps (high insecurity, low spending share; gap in percentage points)")
    for n in a.notes:
        _err(f"note: {n}")


def register(app: typer.Typer) -> None:
    """Add ``humsec commitments``, ``humsec budget`` and ``humsec oversight``."""
    app.add_typer(commitments_app, name="commitments")
    app.add_typer(budget_app, name="budget")
    app.add_typer(oversight_app, name="oversight")
