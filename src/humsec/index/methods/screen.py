"""Unit screening kernels (COINr's ``Screen``).

``fn(frame: pandas.DataFrame (units x indicators), **params) -> pandas.Series[bool]``
(index = units, True = kept).

References
----------
.. [COINr] Becker, W. et al. (2022). COINr, *JOSS* 7(78), 4567; COINr 1.1
   ``R/screen_units.R`` (``Screen.data.frame``, ``get_data_avail``).
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 2
   (missing data) — units with too little data are usually excluded.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from humsec.errors import HumsecError
from humsec.index.methods._common import sample
from humsec.index.registry import Registry

__all__ = ["SCREEN", "coverage"]

SCREEN = Registry("screen")


def coverage(frame: pd.DataFrame, min_availability: float = 0.66) -> pd.DataFrame:
    """Data availability of each unit (COINr ``get_data_avail``).

    Returns
    -------
    pandas.DataFrame
        Indexed by unit: ``n_available``, ``n_missing``, ``n_zero`` (among available),
        ``share`` (= ``1 - n_missing / k``, COINr's ``Dat_Avail``), ``nonzero_share``
        (COINr's ``Non_Zero``: ``1 - n_zero / n_available``) and ``flag``
        (``share < min_availability``, COINr's ``LowData``).
    """
    x = frame.to_numpy(dtype=float)
    k = x.shape[1]
    nmiss = np.isnan(x).sum(axis=1)
    nzero = (x == 0).sum(axis=1)
    nav = k - nmiss
    share = 1.0 - nmiss / k if k else np.full(len(frame), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        nonzero = 1.0 - nzero / nav
    return pd.DataFrame({"n_available": nav, "n_missing": nmiss, "n_zero": nzero, "share": share,
                         "nonzero_share": nonzero, "flag": share < min_availability}, index=frame.index)


class AvailabilityParams(BaseModel):
    """Screening thresholds and forced inclusions/exclusions (COINr ``dat_thresh``,
    ``nonzero_thresh``, ``unit_screen``, ``Force``)."""

    model_config = ConfigDict(extra="forbid")
    min_availability: float = Field(0.66, ge=0, le=1)
    min_nonzero: float = Field(0.05, ge=0, le=1)
    unit_screen: Literal["byNA", "byzeros", "byNAandzeros"] = "byNA"
    force_include: list[str] = Field(default_factory=list)
    force_exclude: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self):
        both = sorted(set(self.force_include) & set(self.force_exclude))
        if both:
            raise ValueError(f"unit(s) both forced in and out: {', '.join(both)}")
        return self


@SCREEN.register("availability", AvailabilityParams)
def availability(frame: pd.DataFrame, *, min_availability: float = 0.66, min_nonzero: float = 0.05,
                 unit_screen: str = "byNA", force_include: list[str] | None = None,
                 force_exclude: list[str] | None = None) -> pd.Series:
    """Keep units with enough data (COINr ``Screen`` with ``unit_screen = "byNA"``).

    A unit is kept if its share of non-missing indicators, ``1 - n_missing / k``, is
    ``>= min_availability`` (COINr drops ``Dat_Avail < dat_thresh``). With
    ``unit_screen = "byzeros"`` a unit is kept if its share of non-zero values among the
    available ones is ``>= min_nonzero``; ``"byNAandzeros"`` requires both. Units in
    ``force_include`` / ``force_exclude`` are kept / dropped regardless (COINr ``Force``).

    Returns
    -------
    pandas.Series of bool
        Indexed by unit; True = kept.

    Raises
    ------
    HumsecError
        A forced unit that is not in the data.
    """
    force_include = list(force_include or [])
    force_exclude = list(force_exclude or [])
    cov = coverage(frame, min_availability)
    low_data = cov["share"] < min_availability
    low_nz = cov["nonzero_share"].fillna(1.0) < min_nonzero
    if unit_screen == "byNA":
        keep = ~low_data
    elif unit_screen == "byzeros":
        keep = ~low_nz
    else:
        keep = ~(low_data | low_nz)
    units = set(map(str, frame.index))
    unknown = [u for u in force_include + force_exclude if u not in units]
    if unknown:
        raise HumsecError(f"screening: forced unit(s) not in the data: {sample(unknown)}")
    idx = frame.index.astype(str)
    keep = keep.copy()
    keep[idx.isin(force_include)] = True
    keep[idx.isin(force_exclude)] = False
    return keep.astype(bool).rename("kept")
