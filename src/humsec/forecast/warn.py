"""Current alerts of a country or of every country (the library behind ``humsec warn``).

:func:`current_alerts` builds every node of an index spec (by default the HSI: the index,
its seven dimensions and the normalised indicator scores) for the assessment year and the
years before it, adds optional displacement series (UNHCR flows: ``refugee_outflow``,
new arrivals and asylum applications out of each country), and applies the alert rules
(:mod:`humsec.forecast.alerts`) with UN M49 regions as peer groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from humsec.analysis.assess import default_year, index_data
from humsec.data.countries import CountryRegistry
from humsec.errors import HumsecError
from humsec.forecast.alerts import Alert, Rule, alerts_frame, default_rules, evaluate
from humsec.forecast.series import node_history
from humsec.spatial.spill import displacement

__all__ = ["HISTORY_YEARS", "WarnResult", "current_alerts"]

#: Years of history built before the assessment year (own-history z-scores need >= 4 changes).
HISTORY_YEARS = 12


@dataclass(frozen=True)
class WarnResult:
    """Alerts of one year.

    Attributes
    ----------
    year : int
    alerts : tuple of Alert
    rules : tuple of Rule
        The rules applied.
    skipped : tuple of str
        Rules whose series are not in the data (with the reason).
    units : tuple of str
        Units that were checked.
    """

    year: int
    alerts: tuple[Alert, ...]
    rules: tuple[Rule, ...]
    skipped: tuple[str, ...] = ()
    units: tuple[str, ...] = field(default_factory=tuple)

    def table(self) -> pd.DataFrame:
        return alerts_frame(self.alerts)

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "n_units": len(self.units), "alerts": [a.to_dict() for a in self.alerts],
                "rules": [r.id for r in self.rules], "skipped": list(self.skipped)}


def current_alerts(panel: Any, spec: Any, *, year: int | None = None, unit: str | None = None,
                   rules: Sequence[Rule] | None = None, flows: pd.DataFrame | None = None,
                   registry: Any = None, history_years: int = HISTORY_YEARS,
                   data: pd.DataFrame | None = None) -> WarnResult:
    """Alerts of ``year`` (default: the spec's default year) on a panel.

    Parameters
    ----------
    panel : humsec.model.panel.Panel
    spec : IndexSpec
    year : int, optional
    unit : str, optional
        ISO3 code: only this country's alerts (the peers are still used for ``peer_z``).
    rules : sequence of Rule, optional
        Default: :func:`default_rules`.
    flows : pandas.DataFrame, optional
        UNHCR-layout flows (``year, coo_iso, coa_iso, refugees, asylum_seekers ...``) for
        the ``refugee_outflow`` series.
    registry : CountryRegistry, optional
        Peer groups (M49 regions) and code checks (default registry).
    history_years : int
    data : pandas.DataFrame, optional
        ``index_data(panel, spec)`` when the caller has it already (computed otherwise).

    Raises
    ------
    HumsecError
        Unknown country, or a year without data.
    """
    reg = registry or CountryRegistry.default()
    rules = tuple(default_rules() if rules is None else rules)
    data = index_data(panel, spec) if data is None else data
    y = default_year(spec, data) if year is None else int(year)
    years_have = sorted(int(v) for v in data["year"].unique())
    if y < years_have[0] or y > years_have[-1]:
        raise HumsecError(f"no data for {y}: the panel covers {years_have[0]}-{years_have[-1]}")
    hist = node_history(spec, data, range(y - history_years, y + 1))
    code = None
    if unit is not None:
        code = str(unit).strip().upper()
        if not reg.is_iso3(code):
            reg.info(code)  # raises with a suggestion
        if code not in hist.index.get_level_values("unit"):
            raise HumsecError(f"{code} ({reg.name(code)}) has no {spec.name.upper()} score in {y}; try another year")
    if flows is not None:
        d = displacement(flows, known=sorted(reg.codes))
        out = d.groupby(["source", "year"])["persons"].sum().rename("refugee_outflow")
        out.index.names = ["unit", "year"]
        out = out[(out.index.get_level_values("year") >= y - history_years)
                  & (out.index.get_level_values("year") <= y)]
        hist = hist.join(out, how="outer")
    groups = {u: reg.region(u) for u in hist.index.get_level_values("unit").unique() if reg.is_iso3(u)}
    skipped = tuple(f"{r.id}: no series {', '.join(r.series)} in these data" for r in rules
                    if not r.expand(hist.columns, spec))
    alerts = evaluate(rules, hist, spec=spec, year=y, units=[code] if code else None, groups=groups)
    units = (code,) if code else tuple(sorted(hist.xs(y, level="year").index)) if y in hist.index.get_level_values(
        "year") else ()
    return WarnResult(year=y, alerts=tuple(alerts), rules=rules, skipped=skipped, units=units)
