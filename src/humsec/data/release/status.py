"""How fresh and how complete the data are: per indicator, and against the release targets.

``indicator_status(panel, catalogue)`` gives, per indicator, the latest year, the data age
(years between the latest year and the reference date), the UN member states and all
units covered in the latest year, edition and licence, and a *stale* flag; it is what
``humsec data status`` prints and what every output's "data as of" line rests on.
``release_targets`` checks a release against the targets of the data-release issue.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import pandas as pd

from humsec.model.catalogue import Catalogue
from humsec.model.panel import DIMENSIONS, Panel

__all__ = ["STALE_AFTER", "Target", "indicator_status", "release_targets"]

#: Data older than this many years (latest year vs the reference date) are flagged stale.
STALE_AFTER = 3


def indicator_status(panel: Panel, catalogue: Catalogue, *, un_members: frozenset[str] = frozenset(),
                     as_of: _dt.date | None = None, stale_after: int = STALE_AFTER) -> pd.DataFrame:
    """One row per indicator of ``panel``.

    Parameters
    ----------
    un_members : frozenset of str
        ISO3 codes counted as UN member states.
    as_of : datetime.date, optional
        Reference date for the data age (default: today).
    stale_after : int
        An indicator whose latest year is more than this many years before ``as_of`` is
        flagged stale.

    Returns
    -------
    pandas.DataFrame
        ``code, name, dimension, latest_year, age, un_members_latest, units_latest, units,
        edition, licence, source, stale`` sorted by dimension and code.
    """
    as_of = as_of or _dt.date.today()
    d = panel.data
    total = d[(d["sex"] == "_T") & (d["age"] == "_T") & (d["group"] == "_T")]
    rows = []
    for code in panel.indicators:
        g = total[total["indicator"] == code]
        if g.empty:  # disaggregated only (population by sex and age)
            g = d[d["indicator"] == code]
        latest = int(g["year"].max())
        in_latest = set(g.loc[g["year"] == latest, "unit"])
        ind = catalogue.get(code)
        prov = panel.provenance.get(code)
        age = as_of.year - latest
        rows.append({
            "code": code, "name": ind.name if ind else code,
            "dimension": ind.dimension if ind else "?",
            "latest_year": latest, "age": age,
            "un_members_latest": len(in_latest & un_members) if un_members else None,
            "units_latest": len(in_latest), "units": int(g["unit"].nunique()),
            "edition": prov.edition if prov else "", "licence": prov.licence if prov else "",
            "source": (prov.publisher or prov.source) if prov else "",
            "stale": age > stale_after})
    order = {dim: i for i, dim in enumerate((*DIMENSIONS, "context"))}
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["_o"] = out["dimension"].map(order).fillna(99)
    return out.sort_values(["_o", "code"]).drop(columns="_o").reset_index(drop=True)


@dataclass(frozen=True)
class Target:
    name: str
    wanted: str
    actual: str
    met: bool


def release_targets(status: pd.DataFrame, *, n_un: int = 193) -> list[Target]:
    """The data-release targets, measured on an :func:`indicator_status` table.

    Targets: at least 60 indicators over the seven dimensions and at least 6 per
    dimension; latest year >= 2022 for at least 85 % and >= 2023 for at least 60 % of
    them; median data age <= 3 years; the latest year covers at least 170 UN members for
    at least 80 % of them. Context series do not count as dimension indicators.
    """
    dim = status[status["dimension"].isin(DIMENSIONS)]
    n = len(dim)
    per = dim.groupby("dimension").size().reindex(list(DIMENSIONS), fill_value=0)
    share = lambda mask: float(mask.mean()) if n else 0.0  # noqa: E731
    s22, s23 = share(dim["latest_year"] >= 2022), share(dim["latest_year"] >= 2023)
    med = float(dim["age"].median()) if n else float("nan")
    cov = share(dim["un_members_latest"].fillna(0) >= 170)
    return [
        Target("indicators over the seven dimensions", ">= 60", str(n), n >= 60),
        Target("indicators per dimension (fewest)", ">= 6",
               f"{int(per.min())} ({per.idxmin()})", bool(per.min() >= 6)),
        Target("latest year >= 2022", ">= 85 %", f"{s22:.0%}", s22 >= 0.85),
        Target("latest year >= 2023", ">= 60 %", f"{s23:.0%}", s23 >= 0.60),
        Target("median data age", "<= 3 years", f"{med:g} years", med <= 3),
        Target(f"latest year covers >= 170 of {n_un} UN members", ">= 80 %", f"{cov:.0%}", cov >= 0.80),
    ]
