"""Denomination kernels (COINr's ``Denominate``): divide an indicator by a size variable.

``fn(x: pandas.Series, denominator: pandas.Series, *, code: str | None = None, **params)
-> pandas.Series``

References
----------
.. [COINr] Becker, W. et al. (2022). COINr, *JOSS* 7(78), 4567; COINr 1.1
   ``R/denominate.R``.
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 5
   (scale adjustments: per capita, per GDP ...).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from humsec.errors import HumsecError
from humsec.index.methods._common import sample, where
from humsec.index.registry import Registry

__all__ = ["DENOMINATE"]

DENOMINATE = Registry("denominate")


class RatioParams(BaseModel):
    """``scale``: multiply the ratio, e.g. 1000 for "per thousand"."""

    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1.0, gt=0)


@DENOMINATE.register("ratio", RatioParams)
def ratio(x: pd.Series, denominator: pd.Series, *, scale: float = 1.0, code: str | None = None) -> pd.Series:
    """``x / denominator * scale`` unit by unit (aligned on the index); NaN propagates.

    Raises
    ------
    HumsecError
        A denominator equal to 0 (naming the units) or infinite values.
    """
    x = pd.Series(x, dtype=float)
    d = pd.Series(denominator, dtype=float).reindex(x.index)
    if np.isinf(x.to_numpy()).any() or np.isinf(d.to_numpy()).any():
        raise HumsecError(f"denomination{where(code)}: infinite values")
    zero = d == 0
    if zero.any():
        name = f" '{denominator.name}'" if getattr(denominator, "name", None) is not None else ""
        raise HumsecError(f"denomination{where(code)}: denominator{name} is 0 for unit(s) "
                          f"{sample(list(x.index[zero.to_numpy()]))}; expected non-zero values")
    return (x / d * scale).rename(x.name)
