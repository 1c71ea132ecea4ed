"""A self-contained HTML audit of any composite index: framework, statistics and
treatment, data availability, coherence (correlations, Cronbach's alpha, PCA), weights,
results, and - when given - uncertainty and sensitivity, with the charts of
:mod:`humsec.report.index_charts` embedded as data URIs (one file, no external assets).

The page follows the audit steps of the JRC/OECD handbook [OECD08]_ and the analyses of
COINr [COINr]_; every number comes from :mod:`humsec.index.audit`,
:mod:`humsec.index.analysis_coin`, :mod:`humsec.index.uncertainty` and
:mod:`humsec.index.sensitivity` - this module only lays them out.

References
----------
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Steps 4-7.
   https://doi.org/10.1787/9789264043466-en
.. [COINr] Becker, W. et al. (2022). COINr. *JOSS* 7(78), 4567.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from humsec import __version__
from humsec.index import analysis_coin as A
from humsec.index.audit import audit
from humsec.report import index_charts as ic
from humsec.report.charts import data_uri

__all__ = ["index_report_context", "index_report_html"]


def _table(df: pd.DataFrame, *, digits: int = 3, max_rows: int | None = None) -> str:
    """A DataFrame as an escaped HTML table (numbers to ``digits`` significant figures)."""
    if max_rows is not None and len(df) > max_rows:
        df = df.head(max_rows)

    def fmt(v: Any) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else ""
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            return "" if not np.isfinite(v) else f"{v:.{digits}g}"
        return str(v)

    return df.to_html(index=False, escape=True, border=0, classes="data", na_rep="",
                      formatters={c: fmt for c in df.columns})


def index_report_context(result, *, uncertainty=None, sensitivity=None, quantile: str = "observed",
                         today: _dt.date | None = None) -> dict[str, Any]:
    """Everything the audit page shows (tables as HTML strings, charts as data URIs).

    Parameters
    ----------
    result : IndexResult
    uncertainty : UncertaintyResult, optional
    sensitivity : SensitivityResult, optional
    quantile : {"observed", "type7"}
        Rank-interval rule of the uncertainty summary.
    """
    spec = result.spec
    root = spec.root
    rep = audit(result, leave_one_out=True)
    levels = sorted({spec.level(c) for c in spec.nodes})
    stats = rep.indicators
    flags = rep.flags
    av = A.data_availability(result, level=2 if 2 in levels and levels[-1] > 2 else levels[-1])
    ind_par = A.get_corr(result, level=1, level2=2) if levels[-1] > 2 else A.get_corr(result, level=1, level2=levels[-1])
    agg_levels = [lv for lv in levels if 1 < lv < levels[-1]]
    agg_corr = A.get_corr(result, codes=[c for c in spec.nodes if spec.level(c) in agg_levels] or None)
    agg_p = A.get_pvals(result, codes=list(agg_corr.index))
    eff = result.effective_weights()
    wt = pd.DataFrame({"node": list(eff.index), "level": [spec.level(c) for c in eff.index],
                       "parent": [spec.nodes[c].parent or "" for c in eff.index],
                       "weight_in_parent": [float(result.weights[spec.nodes[c].parent].get(c, np.nan))
                                            if spec.nodes[c].parent else 1.0 for c in eff.index],
                       "effective_weight": eff.to_numpy()})
    top_cols = [root, *spec.children[root]]
    res_tab = result.scores[top_cols].copy()
    res_tab.insert(0, "rank", result.ranks[root])
    res_tab = res_tab.sort_values(["rank"]).rename_axis("unit").reset_index()
    steps = [{"step": r.step, "method": r.method,
              "params": ", ".join(f"{k}={v}" for k, v in dict(r.params).items()) or "-"} for r in result.log]
    raw = result.dataset("Raw")
    ctx: dict[str, Any] = {
        "title": spec.title or spec.name, "name": spec.name, "year": result.year,
        "n_units": len(result.units), "n_indicators": len(spec.indicators),
        "n_aggregates": len(spec.aggregates), "levels": levels[-1], "steps": steps,
        "sunburst": data_uri(ic.framework_sunburst(result)),
        "stats": _table(stats.drop(columns=[c for c in ("flag_availability", "flag_outliers") if c in stats])),
        "n_flags": len(flags), "flags": _table(flags) if len(flags) else "",
        "treatment": _table(rep.treatment[rep.treatment["treated"]]) if len(rep.treatment) else "",
        "n_treated": int(rep.treatment["treated"].sum()) if len(rep.treatment) else 0,
        "distributions": data_uri(ic.distributions(raw)),
        "availability_min": float(av.summary["availability"].min()),
        "availability_mean": float(av.summary["availability"].mean()),
        "availability_low": _table(av.summary[av.summary["availability"] < 0.66]),
        "heat_ind": data_uri(ic.corr_heatmap(ind_par, title="indicators x their level-2 groups (Pearson)")),
        "heat_agg": data_uri(ic.corr_heatmap(agg_corr, pvals=agg_p,
                                             title="aggregates (Pearson; blank: p >= 0.05)")),
        "aggregates": _table(rep.aggregates),
        "leave_one_out": _table(rep.leave_one_out) if len(rep.leave_one_out) else "",
        "weights": _table(wt),
        "bar": data_uri(ic.bar_chart(result)),
        "results": _table(res_tab, digits=4),
        "scatter": data_uri(ic.scatter_chart(result, spec.children[root][0], root))
        if spec.children[root] else None,
        "uncertainty": None, "sensitivity": None,
        "generated": (today or _dt.date.today()).isoformat(), "humsec_version": __version__,
    }
    if uncertainty is not None:
        summ = uncertainty.summary([root], quantile=quantile)
        ctx["uncertainty"] = {
            "runs": len(uncertainty.runs), "failed": uncertainty.n_failed, "seed": uncertainty.seed,
            "inputs": ", ".join(uncertainty.uncertainty.names), "quantile": quantile,
            "chart": data_uri(ic.uncertainty_chart(summ)),
            "table": _table(summ.drop(columns=["node"]), digits=4),
        }
    if sensitivity is not None:
        ctx["sensitivity"] = {
            "output": sensitivity.output.stat, "runs": len(sensitivity.runs.runs),
            "chart": data_uri(ic.sensitivity_chart(sensitivity.indices)),
            "table": _table(sensitivity.indices.reset_index()),
        }
    return ctx


def index_report_html(result, *, uncertainty=None, sensitivity=None, quantile: str = "observed",
                      today: _dt.date | None = None) -> str:
    """The audit of ``result`` as one self-contained HTML page (see the module docstring)."""
    env = Environment(loader=PackageLoader("humsec.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    ctx = index_report_context(result, uncertainty=uncertainty, sensitivity=sensitivity,
                               quantile=quantile, today=today)
    return env.get_template("index_report.html.j2").render(**ctx)
