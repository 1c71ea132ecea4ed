"""Kernels for published indices whose top formula is not a weighted mean.

Registered into the common registries so built-in specs stay pure data:

* normalise ``identity`` — pass raw values through (inputs the formula uses as they are);
* aggregate ``ratio`` — first child divided by the second (GDI = HDI_f / HDI_m);
* aggregate ``hdr_geometric`` — geometric mean that, like the HDR, leaves a unit's value
  missing (instead of failing) when a dimension index is <= 0 (value below the minimum
  goalpost, e.g. Rwanda's 1994 life expectancy);
* aggregate ``hdr_gii`` — the Gender Inequality Index formula of
  :func:`humsec.index.hdr.gii`;
* aggregate ``hdr_ihdi`` — the IHDI of :func:`humsec.index.hdr.ihdi`.

References
----------
.. [HDR2324] UNDP (2024). *Human Development Report 2023/2024: Technical Notes*.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from humsec.errors import HumsecError
from humsec.index import hdr
from humsec.index.methods.aggregate import AGGREGATE
from humsec.index.methods.normalise import NORMALISE

GII_ROLES = ("mmr", "abr", "se_f", "se_m", "pr_f", "pr_m", "lfpr_f", "lfpr_m")
IHDI_ROLES = ("le", "eys", "mys", "gnipc", "ineq_le", "ineq_edu", "ineq_inc")


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


if "identity" not in NORMALISE:

    @NORMALISE.register("identity", _NoParams)
    def identity(x, *, direction: int = 1, **_: object):
        """Leave values unchanged (the direction is handled by the parent's formula)."""
        return np.asarray(x, dtype=float)


if "ratio" not in AGGREGATE:

    @AGGREGATE.register("ratio", _NoParams)
    def ratio(values: np.ndarray, weights: np.ndarray, **_: object) -> np.ndarray:
        """First child divided by the second (weights unused)."""
        if values.shape[1] != 2:
            raise HumsecError(f"ratio aggregation needs exactly 2 children, got {values.shape[1]}")
        with np.errstate(divide="ignore", invalid="ignore"):
            out = values[:, 0] / values[:, 1]
        out[~np.isfinite(out)] = np.nan
        return out


class _HdrGeoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


if "hdr_geometric" not in AGGREGATE:

    @AGGREGATE.register("hdr_geometric", _HdrGeoParams)
    def hdr_geometric(values: np.ndarray, weights: np.ndarray, **_: object) -> np.ndarray:
        """Weighted geometric mean; missing if any child is missing or <= 0 (HDR rule)."""
        w = np.asarray(weights, dtype=float)
        w = w / w.sum()
        bad = np.isnan(values).any(axis=1) | (values <= 0).any(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.exp(np.log(np.where(values > 0, values, 1.0)) @ w)
        out[bad] = np.nan
        return out


def _by_role(values: np.ndarray, columns: list[str] | None, roles: tuple[str, ...],
             mapping: dict[str, str], what: str) -> dict[str, np.ndarray]:
    if columns is None:
        raise HumsecError(f"{what} needs the children's codes")
    out = {}
    missing = []
    for role in roles:
        code = mapping.get(role, role)
        if code not in columns:
            missing.append(f"{role} (child '{code}')")
            continue
        out[role] = values[:, columns.index(code)]
    if missing:
        raise HumsecError(f"{what}: missing input(s) {', '.join(missing)}; children are "
                          f"{', '.join(columns)}; map roles with params.roles")
    return out


class _GiiParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: dict[str, str] = Field(default_factory=dict)
    parliament_floor_pct: float | None = Field(default=None, gt=0, lt=50)


if "hdr_gii" not in AGGREGATE:

    @AGGREGATE.register("hdr_gii", _GiiParams)
    def hdr_gii(values: np.ndarray, weights: np.ndarray, *, columns: list[str] | None = None,
                roles: dict[str, str] | None = None, parliament_floor_pct: float | None = None,
                **_: object) -> np.ndarray:
        """Gender Inequality Index from its eight inputs (HDR 2023/24 Technical Note 4)."""
        v = _by_role(values, columns, GII_ROLES, roles or {}, "hdr_gii")
        return hdr.gii(**v, parliament_floor_pct=parliament_floor_pct)["gii"].to_numpy()


class _IhdiParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: dict[str, str] = Field(default_factory=dict)
    percent: bool = True


if "hdr_ihdi" not in AGGREGATE:

    @AGGREGATE.register("hdr_ihdi", _IhdiParams)
    def hdr_ihdi(values: np.ndarray, weights: np.ndarray, *, columns: list[str] | None = None,
                 roles: dict[str, str] | None = None, percent: bool = True,
                 **_: object) -> np.ndarray:
        """Inequality-adjusted HDI from the HDI inputs and the three Atkinson inequalities
        (HDR 2023/24 Technical Note 2)."""
        v = _by_role(values, columns, IHDI_ROLES, roles or {}, "hdr_ihdi")
        return hdr.ihdi(**v, percent=percent)["ihdi"].to_numpy()


# COINr's further kernels (log_CT_plus, log_CT_orig, log_GII, coinr_f2, n_scaled,
# n_dist2ref, n_dist2max, impute_panel) live in their own module
from humsec.index import methods_coinr  # noqa: E402,F401
