"""Country oversight report (HTML or PDF): commitments by status, budget alignment and
the five largest gaps.

Usage::

    data = prepare_oversight(db, token, "PHL", panel=panel, catalogue=cat)
    html = oversight_html(data)
    pdf = render_pdf(html)                     # from humsec.report.brief

or :func:`oversight_report` for both steps. The page reuses the country brief's
stylesheet and the chart conventions of :mod:`humsec.report.charts` (SVG, embedded as
data URIs: the report is one self-contained file).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from humsec import __version__
from humsec.analysis.trends import PROGRESS_LABELS
from humsec.data.countries import CountryRegistry
from humsec.errors import HumsecError
from humsec.model.catalogue import Catalogue
from humsec.model.panel import DIMENSIONS, Panel
from humsec.oversight.align import N_GAPS, Alignment, align, hsi_history
from humsec.oversight.db import OversightDB, Versioned
from humsec.oversight.status import STATUS_ORDER, TargetStatus, commitment_progress, commitment_status
from humsec.report import charts
from humsec.report.brief import _env, _value, render_pdf

__all__ = ["OversightData", "oversight_context", "oversight_html", "oversight_report", "prepare_oversight"]

STATUS_COLOURS = {"deterioration": "#c0392b", "limited_progress": "#d35400", "fair_progress": "#b7950b",
                  "on_track": "#1e8449", "target_achieved": "#145a32", "too_early": "#5d6d7e",
                  "insufficient_data": "#8a99a8"}
DIM_NAMES = {d: f"{d.capitalize()} security" for d in DIMENSIONS}


@dataclass(frozen=True)
class OversightData:
    """Everything a country's oversight report shows.

    Attributes
    ----------
    unit, name : str
    commitments : list of Versioned
        Current commitments with at least one target in the country.
    instruments : dict
        Instrument id -> :class:`~humsec.oversight.models.Instrument`.
    statuses : list of TargetStatus
        Targets of the country only.
    alignment : Alignment or None
        None when the country has no budget lines.
    budget : pandas.DataFrame
        The country's budget lines with their tags.
    catalogue : Catalogue
    """

    unit: str
    name: str
    commitments: list[Versioned]
    instruments: dict[str, Any]
    statuses: list[TargetStatus]
    alignment: Alignment | None
    budget: pd.DataFrame
    catalogue: Catalogue
    notes: tuple[str, ...] = field(default_factory=tuple)


def prepare_oversight(db: OversightDB, token: str | None, unit: str, *, panel: Panel, catalogue: Catalogue,
                      history: pd.DataFrame | None = None, as_of: int | None = None) -> OversightData:
    """Collect the commitments, their statuses and the budget alignment of ``unit``.

    Parameters
    ----------
    db : OversightDB
    token : str
        API token of a viewer (or higher).
    unit : str
        ISO3 code.
    panel, catalogue
        The data the statuses and alignment are computed from.
    history : pandas.DataFrame, optional
        HSI history (:func:`humsec.oversight.align.hsi_history`; computed if omitted and
        the country has a budget).
    as_of : int, optional
        Use data up to this year for the statuses.
    """
    reg = CountryRegistry.default()
    code = unit.strip().upper()
    if not reg.is_iso3(code):
        reg.info(code)  # raises with a suggestion
    name = reg.name(code)
    items = [v for v in db.current(token) if any(t.unit == code for t in v.value.targets)]
    instruments = {v.id: v.value for v in db.current(token, "instrument")}
    statuses = [s for v in items for s in commitment_status(v.value, panel, catalogue, version=v.version, as_of=as_of)
                if s.unit == code]
    lines = db.budget_lines(token)
    own = lines[lines["country"] == code]
    notes: list[str] = []
    alignment = None
    if len(own):
        history = (hsi_history(panel, years=sorted(set(own["year"].astype(int))), units=[code]) if history is None
                   else history)
        alignment = align(lines, code, history=history, panel=panel)
    else:
        notes.append(f"no budget lines for {code}: import its budget with 'humsec budget import'")
    if not items:
        notes.append(f"no commitments with targets in {code}")
    return OversightData(unit=code, name=name, commitments=items, instruments=instruments, statuses=statuses,
                         alignment=alignment, budget=own, catalogue=catalogue, notes=tuple(notes))


# ---------------------------------------------------------------------------- charts


def status_chart(counts: dict[str, int], *, fmt: str = "svg") -> bytes:
    """One horizontal stacked bar of the targets by status."""
    fig = charts.figure(6.4, 0.9)
    ax = fig.add_subplot()
    left = 0
    total = max(sum(counts.values()), 1)
    for st in STATUS_ORDER:
        n = counts.get(st, 0)
        if not n:
            continue
        ax.barh([0], [n], left=left, color=STATUS_COLOURS[st], height=0.6)
        if n / total > 0.06:
            ax.text(left + n / 2, 0, str(n), ha="center", va="center", color="white", fontsize=8, fontweight="bold")
        left += n
    ax.set_xlim(0, total)
    ax.set_yticks([])
    ax.set_xticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.1, top=0.9)
    return charts.render(fig, fmt)


def alignment_chart(table: pd.DataFrame, *, fmt: str = "svg") -> bytes:
    """Spending share beside insecurity share per dimension (percent), one budget year."""
    fig = charts.figure(6.4, 2.5)
    ax = fig.add_subplot()
    n = len(table)
    y = np.arange(n)[::-1]
    ins = 100 * table["insecurity_share"].to_numpy(float)
    spend = 100 * table["share"].to_numpy(float)
    ax.barh(y + 0.18, np.nan_to_num(ins), height=0.34, color=charts.ACCENT, label="share of insecurity")
    ax.barh(y - 0.18, np.nan_to_num(spend), height=0.34, color="#1b6ca8", label="share of tagged spending")
    ax.set_yticks(y, [DIM_NAMES.get(d, d) for d in table["dimension"]])
    ax.set_xlabel("percent", fontsize=8, color=charts.INK)
    charts.style(ax)
    ax.legend(fontsize=7, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    fig.subplots_adjust(left=0.27, right=0.98, bottom=0.17, top=0.88)
    return charts.render(fig, fmt)


# ---------------------------------------------------------------------------- context


def _pct(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not np.isfinite(f) else f"{100 * f:.1f}%"


def _num(v: Any, nd: int = 2) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return "–" if not np.isfinite(f) else f"{f:+.{nd}f}" if nd else f"{f:,.0f}"


def _money(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(f):
        return "–"
    for div, suf in ((1e12, " tn"), (1e9, " bn"), (1e6, " m")):
        if abs(f) >= div:
            return f"{f / div:,.1f}{suf}"
    return f"{f:,.0f}"


def oversight_context(d: OversightData, *, today: _dt.date | None = None) -> dict[str, Any]:
    """The data the template shows (JSON-like; charts as data URIs)."""
    cat = d.catalogue
    by_id = {v.id: v for v in d.commitments}
    counts = {st: sum(1 for s in d.statuses if s.status == st) for st in STATUS_ORDER}
    status_rows = []
    for s in sorted(d.statuses, key=lambda s: (STATUS_ORDER.index(s.status), s.commitment_id, s.target_key)):
        c = by_id[s.commitment_id].value
        ind = cat.get(s.indicator)
        status_rows.append({
            "commitment": c.title, "cid": c.id, "paraphrase": c.paraphrase,
            "indicator": ind.name if ind else s.indicator, "unit": ind.unit if ind else "",
            "base": f"{_value(s.base_value)} ({s.base_year})" if s.base_year is not None else "–",
            "latest": f"{_value(s.latest_value)} ({s.as_of})" if s.as_of is not None and np.isfinite(s.latest_value) else "–",
            "target": _value(s.target_value) if s.target_value is not None else "growth rule",
            "deadline": s.deadline.year, "status": s.status, "label": s.label, "note": s.note,
            "ratio": _num(s.ratio)})
    overall = commitment_progress(d.statuses, {v.id: v.value for v in d.commitments})
    overall = overall.assign(order=[STATUS_ORDER.index(s) for s in overall["status"]]).sort_values(["order", "commitment"])
    commitment_rows = [{"cid": r.commitment, "commitment": r.title or r.commitment, "targets": int(r.targets),
                        "assessed": int(r.assessed), "too_early": int(r.too_early),
                        "score": f"{r.score:+.1f}" if np.isfinite(r.score) else "–", "status": r.status,
                        "label": r.label} for r in overall.itertuples()]
    commitments = []
    for v in d.commitments:
        c = v.value
        inst = d.instruments.get(c.instrument)
        commitments.append({"id": c.id, "title": c.title, "text": c.text, "paraphrase": c.paraphrase,
                            "responsible": c.responsible, "version": v.version, "changed": v.at.date().isoformat(),
                            "by": v.actor, "instrument": inst.title if inst else c.instrument,
                            "notes": [f"{n.date}: {n.text}" for n in c.notes]})
    ctx: dict[str, Any] = {
        "title": f"Parliamentary oversight report: {d.name}", "name": d.name, "unit": d.unit,
        "generated": (today or _dt.date.today()).isoformat(), "humsec_version": __version__,
        "n_commitments": len(d.commitments), "n_targets": len(d.statuses),
        "counts": [{"status": st, "label": PROGRESS_LABELS[st], "n": counts[st]} for st in STATUS_ORDER if counts[st]],
        "status_png": charts.data_uri(status_chart(counts)) if d.statuses else None,
        "status_rows": status_rows, "commitment_rows": commitment_rows, "commitments": commitments, "notes": list(d.notes),
        "has_budget": d.alignment is not None, "n_gaps": N_GAPS,
        "paraphrased": any(c.value.paraphrase for c in d.commitments),
    }
    if d.alignment is not None:
        a = d.alignment
        latest = int(a.summary["year"].max())
        lt = a.table[a.table["year"] == latest]
        last = a.summary[a.summary["year"] == latest].iloc[0]
        b = d.budget
        ctx.update({
            "budget_year": latest, "currency": last["currency"] or "(currency not stated)",
            "budget_total": _money(last["total"]), "rho": _num(last["rho"]), "hsi_year": int(last["hsi_year"]),
            "summary": [{"year": int(r.year), "total": _money(r.total), "tagged": _money(r.tagged),
                         "untagged": _money(r.untagged), "per_capita": _money(r.per_capita), "rho": _num(r.rho),
                         "hsi_year": int(r.hsi_year), "currency": r.currency} for r in a.summary.itertuples()],
            "align_png": charts.data_uri(alignment_chart(lt)),
            "dims": [{"name": DIM_NAMES.get(r.dimension, r.dimension), "amount": _money(r.amount),
                      "share": _pct(r.share), "per_capita": _money(r.per_capita), "score": f"{r.score:.0f}",
                      "insecurity_share": _pct(r.insecurity_share), "gap": _num(r.gap, 1), "arrow": r.arrow,
                      "progress": r.progress, "progress_label": r.progress_label} for r in lt.itertuples()],
            "gaps": [{"rank": i + 1, "name": DIM_NAMES.get(r.dimension, r.dimension), "score": f"{r.score:.0f}",
                      "insecurity_share": _pct(r.insecurity_share), "share": _pct(r.share), "gap": _num(r.gap, 1),
                      "arrow": r.arrow, "progress_label": r.progress_label, "positive": r.gap > 0}
                     for i, r in enumerate(a.gaps.itertuples())],
            "n_lines": len(b), "n_reviewed": int(b["review"].isin(["confirmed", "corrected"]).sum()),
            "align_notes": list(a.notes),
        })
    return ctx


def oversight_html(d: OversightData, *, today: _dt.date | None = None) -> str:
    """The report as one self-contained HTML page (the brief's stylesheet)."""
    env = _env()
    css = env.loader.get_source(env, "brief.css")[0]  # type: ignore[union-attr]
    return env.get_template("oversight.html.j2").render(css=css, **oversight_context(d, today=today))


def oversight_report(db: OversightDB, token: str | None, unit: str, *, panel: Panel, catalogue: Catalogue,
                     fmt: str = "html", history: pd.DataFrame | None = None,
                     today: _dt.date | None = None) -> str | bytes:
    """:func:`prepare_oversight` and render as ``html`` (str) or ``pdf`` (bytes)."""
    if fmt not in ("html", "pdf"):
        raise HumsecError(f"unknown report format '{fmt}': expected html or pdf")
    html = oversight_html(prepare_oversight(db, token, unit, panel=panel, catalogue=catalogue, history=history),
                          today=today)
    return html if fmt == "html" else render_pdf(html)
