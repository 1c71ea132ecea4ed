"""UNDP Human Development Report composite indices (HDI, GDI, GII, IHDI).

Pure, vectorised implementations of the four composite indices of the UNDP Human
Development Report, exactly as defined in the *HDR 2023/2024 Technical Notes* (Technical
note 1: HDI; 2: IHDI; 3: GDI; 4: GII). Every function takes pandas Series (aligned by their
index, usually ISO3 codes), numpy arrays or scalars, works on whole vectors at once (no
per-country Python loops) and returns a :class:`pandas.DataFrame`.

Conventions
-----------
* **Missing values propagate.** A missing input (NaN) gives NaN in every output that depends
  on it; nothing is filled silently.
* **Alignment.** Series inputs are aligned on the union of their indexes (outer join), so a
  country missing from one input gets NaN, not a shifted value. Arrays and scalars broadcast
  against each other; an array mixed with Series must have the Series' (aligned) length.
* **Impossible inputs raise** :class:`humsec.errors.HumsecError` (negative years,
  non-positive GNI per capita under a log transform, percentages outside 0-100, ...).
  Values that are possible but outside the goalposts are handled as the HDR does (capping at
  the maximum; see :func:`dimension_index`).
* **No rounding.** Results are unrounded; the HDR publishes indices rounded to 3 decimals
  (round the output yourself to compare). Rounding *before* combining changes results (for
  the IHDI the unrounded HDI must be used).

The constants are in :data:`GOALPOSTS`, :data:`GII_CONSTANTS` and :data:`IHDI_EPSILON`;
each was checked by reproducing the published HDR 2023/24 values (see
``shared/data/published_reference/method_constants``).

References
----------
.. [HDR2324] UNDP Human Development Report Office (2024). *Human Development Report
   2023/2024: Technical Notes*. New York: UNDP. https://hdr.undp.org/sites/default/files/2023-24_HDR/hdr2023-24_technical_notes.pdf
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError

__all__ = [
    "GII_CONSTANTS",
    "GOALPOSTS",
    "IHDI_EPSILON",
    "Goalpost",
    "atkinson",
    "dimension_index",
    "gdi",
    "gdi_group",
    "gii",
    "hdi",
    "hdi_group",
    "ihdi",
    "sex_gni_pc",
]


# --------------------------------------------------------------------------- constants


@dataclass(frozen=True)
class Goalpost:
    """Minimum and maximum of one HDR dimension indicator.

    Parameters
    ----------
    lo, hi : float
        The "natural zero" and the aspirational maximum. Values above ``hi`` are capped
        (index 1); values below ``lo`` give a negative index (the HDR then publishes no
        composite value; see :func:`hdi`).
    log : bool
        Whether the indicator enters as its natural logarithm (GNI per capita).
    unit : str
        Unit of the indicator.
    """

    lo: float
    hi: float
    log: bool = False
    unit: str = ""


#: Goalposts of the HDR 2023/24 Technical Notes 1 and 3. ``life_expectancy`` is used by the
#: HDI and IHDI; the GDI uses the sex-specific ``life_expectancy_female`` (22.5-87.5) and
#: ``life_expectancy_male`` (17.5-82.5), which build in the 5-year biological female
#: advantage. Expected years of schooling are capped at 18, mean years at 15, GNI per capita
#: (2017 PPP$) at 75,000 with a log transform; every dimension index is capped at 1.
GOALPOSTS: Mapping[str, Goalpost] = MappingProxyType(
    {
        "life_expectancy": Goalpost(20.0, 85.0, unit="years"),
        "life_expectancy_female": Goalpost(22.5, 87.5, unit="years"),
        "life_expectancy_male": Goalpost(17.5, 82.5, unit="years"),
        "expected_years_schooling": Goalpost(0.0, 18.0, unit="years"),
        "mean_years_schooling": Goalpost(0.0, 15.0, unit="years"),
        "gni_pc": Goalpost(100.0, 75_000.0, log=True, unit="2017 PPP$"),
    }
)

#: Constants of the Gender Inequality Index (HDR 2023/24 Technical Note 4): the maternal
#: mortality ratio (deaths per 100,000 live births) is truncated to [10, 1000]; the
#: adolescent birth rate (births per 1,000 women aged 15-19) is floored at 0.1 and a
#: female (or male) parliamentary share of 0 is coded as 0.1 % so that geometric means exist.
GII_CONSTANTS: Mapping[str, float] = MappingProxyType(
    {
        "mmr_min": 10.0,
        "mmr_max": 1000.0,
        "abr_min": 0.1,
        "parliament_floor_pct": 0.1,
    }
)

#: Inequality aversion of the Atkinson measure used by the IHDI (Technical Note 2).
IHDI_EPSILON: float = 1.0

# HDI groups (Technical Note 1) and GDI groups (Technical Note 3).
_HDI_GROUPS = ((0.800, "Very High"), (0.700, "High"), (0.550, "Medium"))
_GDI_GROUP_BOUNDS = (0.025, 0.050, 0.075, 0.100)


# --------------------------------------------------------------------------- helpers


def _as_float(name: str, value: Any) -> np.ndarray | pd.Series:
    if isinstance(value, pd.DataFrame):
        raise HumsecError(f"{name}: expected a Series, array or number, got a DataFrame")
    try:
        if isinstance(value, pd.Series):
            return value.astype("float64")
        return np.asarray(value, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise HumsecError(f"{name}: values must be numeric ({exc})") from None


def _align(**inputs: Any) -> tuple[pd.Index | None, dict[str, np.ndarray]]:
    """Align Series on the union of their indexes and broadcast arrays/scalars.

    Returns the common index (``None`` when no input was a Series) and plain float arrays.
    """
    conv = {k: _as_float(k, v) for k, v in inputs.items()}
    series = {k: v for k, v in conv.items() if isinstance(v, pd.Series)}
    index: pd.Index | None = None
    if series:
        for k, s in series.items():
            if not s.index.is_unique:
                dup = s.index[s.index.duplicated()].unique()[:5].tolist()
                raise HumsecError(f"{k}: index has duplicate labels {dup}; one row per unit expected")
            index = s.index if index is None else index.union(s.index, sort=False)
        assert index is not None
        conv = {
            k: (v.reindex(index).to_numpy(dtype="float64") if isinstance(v, pd.Series) else v)
            for k, v in conv.items()
        }
    try:
        arrays = np.broadcast_arrays(*conv.values())
    except ValueError:
        shapes = {k: np.shape(v) for k, v in conv.items()}
        raise HumsecError(f"inputs have incompatible shapes: {shapes}") from None
    out = {k: np.array(a, dtype="float64") for k, a in zip(conv, arrays, strict=True)}
    if index is not None and out and next(iter(out.values())).shape != (len(index),):
        raise HumsecError(
            f"arrays mixed with Series must have the aligned length {len(index)}; "
            f"got shape {next(iter(out.values())).shape}"
        )
    return index, out


def _check(name: str, x: np.ndarray, *, lo: float | None = None, hi: float | None = None,
           lo_strict: bool = False) -> None:
    """Raise HumsecError if any non-missing value is impossible (outside [lo, hi])."""
    with np.errstate(invalid="ignore"):
        bad = np.zeros(x.shape, dtype=bool)
        if lo is not None:
            bad |= (x <= lo) if lo_strict else (x < lo)
        if hi is not None:
            bad |= x > hi
        bad |= np.isinf(x)
    if bad.any():
        vals = np.unique(x[bad])[:5].tolist()
        if lo == 0 and hi is None:
            rng = "positive (> 0)" if lo_strict else "non-negative (>= 0)"
        else:
            parts = []
            if lo is not None:
                parts.append(f"{'>' if lo_strict else '>='} {lo:g}")
            if hi is not None:
                parts.append(f"<= {hi:g}")
            rng = " and ".join(parts) if parts else "finite"
        raise HumsecError(
            f"{name}: {int(bad.sum())} impossible value(s) {vals}; values must be {rng}"
        )


def _frame(index: pd.Index | None, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    first = next(iter(cols.values()))
    if first.ndim == 0:
        cols = {k: np.atleast_1d(v) for k, v in cols.items()}
    elif first.ndim > 1:
        raise HumsecError(f"expected 1-dimensional inputs, got shape {first.shape}")
    return pd.DataFrame(cols, index=index)


def _geomean3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Geometric mean of three non-negative indices; NaN if any is negative or missing."""
    with np.errstate(invalid="ignore"):
        neg = (a < 0) | (b < 0) | (c < 0)
        out = np.cbrt(a * b * c)
    return np.where(neg, np.nan, out)


# --------------------------------------------------------------------------- dimension index


def dimension_index(x: Any, lo: float, hi: float, *, log: bool = False, cap: bool = True) -> Any:
    """HDR dimension index ``(x - lo) / (hi - lo)``.

    Technical Note 1 of [HDR2324]_: *dimension index = (actual value - minimum value) /
    (maximum value - minimum value)*, with the natural logarithm of ``x``, ``lo`` and ``hi``
    for income. Values above the maximum are capped so the index never exceeds 1 (the notes
    cap expected years of schooling at 18, mean years at 15 and GNI per capita at 75,000
    2017 PPP$; the GDI caps every sex-specific index at 1).

    Parameters
    ----------
    x : float, array-like or pandas.Series
        Indicator values (NaN = missing, propagated).
    lo, hi : float
        Goalposts (``lo < hi``); for ``log=True`` both must be positive.
    log : bool, default False
        Use natural logarithms (income dimension).
    cap : bool, default True
        Cap the index at 1. Values *below* ``lo`` are never clipped: they give a negative
        index, which the composite functions turn into NaN (the HDR publishes no value,
        e.g. Rwanda 1994 with life expectancy 14.1 years).

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Same kind as ``x`` (a Series keeps its index).

    Raises
    ------
    HumsecError
        If ``lo >= hi``, or ``log=True`` and a goalpost or a value is not positive.
    """
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
        raise HumsecError(f"goalposts must satisfy lo < hi (got lo={lo}, hi={hi})")
    index = x.index if isinstance(x, pd.Series) else None
    name = x.name if isinstance(x, pd.Series) else None
    arr = np.array(_as_float("x", x), dtype="float64")
    if log:
        if lo <= 0:
            raise HumsecError(f"log goalposts must be positive (got lo={lo})")
        _check("x (log dimension, e.g. GNI per capita)", arr, lo=0.0, lo_strict=True)
        with np.errstate(invalid="ignore"):
            idx = (np.log(arr) - np.log(lo)) / (np.log(hi) - np.log(lo))
    else:
        _check("x", arr)  # only rejects +-inf
        idx = (arr - lo) / (hi - lo)
    if cap:
        idx = np.where(idx > 1.0, 1.0, idx)  # np.where keeps NaN
    if index is not None:
        return pd.Series(idx, index=index, name=name)
    return float(idx) if idx.ndim == 0 else idx


def _gp_index(x: np.ndarray, gp: Goalpost) -> np.ndarray:
    return np.asarray(dimension_index(x, gp.lo, gp.hi, log=gp.log), dtype="float64")


# --------------------------------------------------------------------------- HDI


def _hdi_parts(le: np.ndarray, eys: np.ndarray, mys: np.ndarray, gnipc: np.ndarray,
               le_gp: Goalpost, suffix: str = "") -> dict[str, np.ndarray]:
    for n, v in (("le", le), ("eys", eys), ("mys", mys)):
        _check(n + suffix, v, lo=0.0)
    _check("gnipc" + suffix, gnipc, lo=0.0, lo_strict=True)
    health = _gp_index(le, le_gp)
    eys_i = _gp_index(eys, GOALPOSTS["expected_years_schooling"])
    mys_i = _gp_index(mys, GOALPOSTS["mean_years_schooling"])
    edu = (eys_i + mys_i) / 2.0
    inc = _gp_index(gnipc, GOALPOSTS["gni_pc"])
    return {
        "health_index": health,
        "eys_index": eys_i,
        "mys_index": mys_i,
        "education_index": edu,
        "income_index": inc,
        "hdi": _geomean3(health, edu, inc),
    }


def hdi(le: Any, eys: Any, mys: Any, gnipc: Any) -> pd.DataFrame:
    """Human Development Index (HDR 2023/24 Technical Note 1).

    ``HDI = (I_health * I_education * I_income) ** (1/3)`` with

    * ``I_health = (LE - 20) / (85 - 20)``;
    * ``I_education = (min(EYS, 18)/18 + min(MYS, 15)/15) / 2``;
    * ``I_income = (ln GNIpc - ln 100) / (ln 75000 - ln 100)``, capped at 1.

    Parameters
    ----------
    le : array-like or Series
        Life expectancy at birth (years).
    eys : array-like or Series
        Expected years of schooling (years).
    mys : array-like or Series
        Mean years of schooling of adults 25+ (years).
    gnipc : array-like or Series
        GNI per capita (2017 PPP$), must be positive.

    Returns
    -------
    pandas.DataFrame
        Columns ``health_index``, ``eys_index``, ``mys_index``, ``education_index``,
        ``income_index``, ``hdi`` (unrounded), indexed like the aligned inputs. ``hdi`` is
        NaN if any input is missing or a dimension index is negative (value below the
        minimum goalpost; the HDR publishes no HDI then).

    Raises
    ------
    HumsecError
        Negative years, non-positive GNI per capita, infinite values, misaligned shapes.

    Examples
    --------
    >>> round(float(hdi(85, 18, 15, 75_000)["hdi"].iloc[0]), 6)
    1.0
    """
    index, v = _align(le=le, eys=eys, mys=mys, gnipc=gnipc)
    parts = _hdi_parts(v["le"], v["eys"], v["mys"], v["gnipc"], GOALPOSTS["life_expectancy"])
    return _frame(index, parts)


def hdi_group(hdi_value: Any) -> Any:
    """HDI group from the (3-dp rounded) HDI: Very High >= 0.800, High >= 0.700,
    Medium >= 0.550, else Low (HDR 2023/24 Technical Note 1).

    Parameters
    ----------
    hdi_value : array-like or Series
        HDI values; rounded to 3 decimals before classifying, as the HDR does.

    Returns
    -------
    pandas.Series
        Group labels (object dtype, missing for NaN input).
    """
    index, v = _align(hdi=hdi_value)
    x = np.round(np.atleast_1d(v["hdi"]), 3)
    out = np.full(x.shape, None, dtype=object)
    out[x < 0.550] = "Low"
    for bound, label in reversed(_HDI_GROUPS):
        out[x >= bound - 1e-9] = label
    return pd.Series(out, index=index, name="hdi_group")


# --------------------------------------------------------------------------- GDI


def sex_gni_pc(gnipc: Any, wage_ratio: Any, ea_f: Any, p_f: Any) -> pd.DataFrame:
    """Female and male GNI per capita estimates (HDR 2023/24 Technical Note 3).

    The HDR splits GNI per capita by sex with the female share of the wage bill
    ``S_f = (W_f/W_m * EA_f) / (W_f/W_m * EA_f + EA_m)`` and
    ``GNIpc_f = GNIpc * S_f / P_f``, ``GNIpc_m = GNIpc * (1 - S_f) / P_m``. The published
    HDR file already contains both estimates (``gni_pc_f``, ``gni_pc_m``), which is what
    :func:`gdi` takes; this function is for recomputing them from other wage/labour data.

    Parameters
    ----------
    gnipc : array-like or Series
        GNI per capita (2017 PPP$).
    wage_ratio : array-like or Series
        Ratio of female to male wage ``W_f / W_m`` (non-negative).
    ea_f : array-like or Series
        Female share of the economically active population, fraction in [0, 1]
        (``EA_m = 1 - EA_f``).
    p_f : array-like or Series
        Female share of the population, fraction in (0, 1) (``P_m = 1 - P_f``).

    Returns
    -------
    pandas.DataFrame
        Columns ``wage_bill_share_f``, ``gni_pc_f``, ``gni_pc_m``.
    """
    index, v = _align(gnipc=gnipc, wage_ratio=wage_ratio, ea_f=ea_f, p_f=p_f)
    _check("gnipc", v["gnipc"], lo=0.0, lo_strict=True)
    _check("wage_ratio", v["wage_ratio"], lo=0.0)
    _check("ea_f", v["ea_f"], lo=0.0, hi=1.0)
    _check("p_f", v["p_f"], lo=0.0, hi=1.0)
    if np.any((v["p_f"] == 0) | (v["p_f"] == 1)):
        raise HumsecError("p_f: female population share must be strictly between 0 and 1")
    wf = v["wage_ratio"] * v["ea_f"]
    with np.errstate(invalid="ignore", divide="ignore"):
        s_f = wf / (wf + (1.0 - v["ea_f"]))
    return _frame(index, {
        "wage_bill_share_f": s_f,
        "gni_pc_f": v["gnipc"] * s_f / v["p_f"],
        "gni_pc_m": v["gnipc"] * (1.0 - s_f) / (1.0 - v["p_f"]),
    })


def gdi(le_f: Any, eys_f: Any, mys_f: Any, gni_pc_f: Any,
        le_m: Any, eys_m: Any, mys_m: Any, gni_pc_m: Any) -> pd.DataFrame:
    """Gender Development Index ``GDI = HDI_f / HDI_m`` (HDR 2023/24 Technical Note 3).

    Female and male HDIs are computed as the HDI, except that life expectancy uses the
    sex-specific goalposts 22.5-87.5 years (female) and 17.5-82.5 years (male); every
    dimension index is capped at 1 (needed e.g. for Japanese female life expectancy 87.8).
    Income enters through the HDR's estimates of female and male GNI per capita (published
    as ``gni_pc_f``/``gni_pc_m``; see :func:`sex_gni_pc` for how they are derived), with the
    same log goalposts 100-75,000 2017 PPP$.

    Parameters
    ----------
    le_f, eys_f, mys_f, gni_pc_f : array-like or Series
        Female life expectancy, expected and mean years of schooling, GNI per capita.
    le_m, eys_m, mys_m, gni_pc_m : array-like or Series
        The same for males.

    Returns
    -------
    pandas.DataFrame
        Columns ``health_index_f``, ``education_index_f``, ``income_index_f``, ``hdi_f``,
        the same with ``_m``, and ``gdi`` (all unrounded).

    Raises
    ------
    HumsecError
        Impossible inputs (negative years, non-positive GNI per capita), misaligned shapes.
    """
    index, v = _align(le_f=le_f, eys_f=eys_f, mys_f=mys_f, gni_pc_f=gni_pc_f,
                      le_m=le_m, eys_m=eys_m, mys_m=mys_m, gni_pc_m=gni_pc_m)
    f = _hdi_parts(v["le_f"], v["eys_f"], v["mys_f"], v["gni_pc_f"],
                   GOALPOSTS["life_expectancy_female"], "_f")
    m = _hdi_parts(v["le_m"], v["eys_m"], v["mys_m"], v["gni_pc_m"],
                   GOALPOSTS["life_expectancy_male"], "_m")
    keep = ("health_index", "education_index", "income_index", "hdi")
    cols = {f"{k}_f": f[k] for k in keep} | {f"{k}_m": m[k] for k in keep}
    with np.errstate(divide="ignore", invalid="ignore"):
        g = f["hdi"] / m["hdi"]
    cols["gdi"] = np.where(m["hdi"] > 0, g, np.nan)
    return _frame(index, cols)


def gdi_group(gdi_value: Any) -> pd.Series:
    """GDI group 1-5 by absolute deviation from gender parity (Technical Note 3).

    Group 1: ``|1 - GDI| <= 0.025``; 2: ``<= 0.050``; 3: ``<= 0.075``; 4: ``<= 0.100``;
    5: more. The GDI is rounded to 3 decimals first, as published (a small tolerance avoids
    float error exactly at 0.975, 0.950, ...).

    Returns
    -------
    pandas.Series
        Nullable integer groups (``<NA>`` for missing GDI).
    """
    index, v = _align(gdi=gdi_value)
    dev = np.abs(1.0 - np.round(np.atleast_1d(v["gdi"]), 3))
    grp = np.full(dev.shape, 5.0)
    for k, bound in reversed(list(enumerate(_GDI_GROUP_BOUNDS, start=1))):
        grp[dev <= bound + 1e-9] = k
    grp[np.isnan(dev)] = np.nan
    return pd.Series(grp, index=index, name="gdi_group").astype("Int64")


# --------------------------------------------------------------------------- GII


def gii(mmr: Any, abr: Any, se_f: Any, se_m: Any, pr_f: Any, pr_m: Any,
        lfpr_f: Any, lfpr_m: Any, *, parliament_floor_pct: float | None = None) -> pd.DataFrame:
    """Gender Inequality Index (HDR 2023/24 Technical Note 4).

    With shares as fractions, MMR truncated to [10, 1000], ABR floored at 0.1 and
    parliamentary shares of 0 coded as 0.1 %:

    * ``G_F = ((10/MMR * 1/ABR)**(1/2) * (PR_F*SE_F)**(1/2) * LFPR_F)**(1/3)``;
    * ``G_M = (1 * (PR_M*SE_M)**(1/2) * LFPR_M)**(1/3)`` (male health set to 1);
    * ``HARM(G_F, G_M) = 1 / ((1/G_F + 1/G_M) / 2)`` (harmonic mean across sexes);
    * reference standard ``G_F̄,M̄ = (Health_bar * Empowerment_bar * LFPR_bar)**(1/3)`` with
      ``Health_bar = ((10/MMR * 1/ABR)**(1/2) + 1) / 2``,
      ``Empowerment_bar = ((PR_F*SE_F)**(1/2) + (PR_M*SE_M)**(1/2)) / 2`` and
      ``LFPR_bar = (LFPR_F + LFPR_M) / 2`` (arithmetic means across sexes);
    * ``GII = 1 - HARM(G_F, G_M) / G_F̄,M̄``.

    Parameters
    ----------
    mmr : array-like or Series
        Maternal mortality ratio, deaths per 100,000 live births (>= 0).
    abr : array-like or Series
        Adolescent birth rate, births per 1,000 women aged 15-19 (>= 0).
    se_f, se_m : array-like or Series
        Population 25+ with at least some secondary education, % (0-100).
    pr_f, pr_m : array-like or Series
        Shares of parliamentary seats held by women / men, % (0-100).
    lfpr_f, lfpr_m : array-like or Series
        Labour force participation rates 15+, % (0-100).
    parliament_floor_pct : float, optional
        Floor for parliamentary shares in percent; default
        ``GII_CONSTANTS["parliament_floor_pct"]`` = 0.1 as stated in the Technical Notes.
        The published HDR 2023/24 *time series* codes a zero female share as 0.01 % (with
        0.01/99.99 in ``pr_f``/``pr_m``) and its GII values were computed with 0.01 %: pass
        ``parliament_floor_pct=0.01`` to reproduce those 51 country-years (KWT, ARE, SAU,
        QAT, KGZ, HTI, PNG, TON; 1995-2021). No 2022 value is affected.

    Returns
    -------
    pandas.DataFrame
        Columns ``health_f`` (the female reproductive-health term), ``empowerment_f``,
        ``empowerment_m``, ``g_f``, ``g_m``, ``harm``, ``g_fm`` (reference standard) and
        ``gii`` (unrounded).

    Raises
    ------
    HumsecError
        Negative rates, percentages outside 0-100, misaligned shapes.

    Notes
    -----
    The HDR floors only the parliamentary shares (FAQ: "we replaced the zero value with 0.1
    percent"). A zero female secondary-education share or labour force participation rate
    (never observed) makes ``G_F`` zero and the GII 1; if both sexes have a zero there, the
    reference standard is 0 and the GII is undefined (NaN).
    """
    index, v = _align(mmr=mmr, abr=abr, se_f=se_f, se_m=se_m, pr_f=pr_f, pr_m=pr_m,
                      lfpr_f=lfpr_f, lfpr_m=lfpr_m)
    _check("mmr", v["mmr"], lo=0.0)
    _check("abr", v["abr"], lo=0.0, hi=1000.0)
    for k in ("se_f", "se_m", "pr_f", "pr_m", "lfpr_f", "lfpr_m"):
        _check(k + " (%)", v[k], lo=0.0, hi=100.0)
    c = GII_CONSTANTS
    mmr_c = np.clip(v["mmr"], c["mmr_min"], c["mmr_max"])  # NaN stays NaN
    abr_c = np.maximum(v["abr"], c["abr_min"])  # np.maximum propagates NaN
    floor = c["parliament_floor_pct"] if parliament_floor_pct is None else float(parliament_floor_pct)
    if not (np.isfinite(floor) and 0.0 < floor <= 100.0):
        raise HumsecError(f"parliament_floor_pct must be in (0, 100] (got {parliament_floor_pct})")
    pr_fc = np.where(v["pr_f"] < floor, floor, v["pr_f"]) / 100.0
    pr_mc = np.where(v["pr_m"] < floor, floor, v["pr_m"]) / 100.0
    se_fc, se_mc = v["se_f"] / 100.0, v["se_m"] / 100.0
    lf_f, lf_m = v["lfpr_f"] / 100.0, v["lfpr_m"] / 100.0

    health_f = np.sqrt((10.0 / mmr_c) * (1.0 / abr_c))
    emp_f = np.sqrt(pr_fc * se_fc)
    emp_m = np.sqrt(pr_mc * se_mc)
    g_f = np.cbrt(health_f * emp_f * lf_f)
    g_m = np.cbrt(1.0 * emp_m * lf_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        harm = 2.0 / (1.0 / g_f + 1.0 / g_m)
    g_fm = np.cbrt(((health_f + 1.0) / 2.0) * ((emp_f + emp_m) / 2.0) * ((lf_f + lf_m) / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 1.0 - harm / g_fm
    return _frame(index, {
        "health_f": health_f,
        "empowerment_f": emp_f,
        "empowerment_m": emp_m,
        "g_f": g_f,
        "g_m": g_m,
        "harm": harm,
        "g_fm": g_fm,
        "gii": value,
    })


# --------------------------------------------------------------------------- Atkinson / IHDI


def atkinson(values: Any, weights: Any = None, epsilon: float = 1.0, *, axis: int = -1,
             shift: float = 0.0, zeros: str = "raise") -> Any:
    """Atkinson inequality measure (HDR 2023/24 Technical Note 2).

    ``A = 1 - mu_eps / mu`` where ``mu`` is the (weighted) arithmetic mean and ``mu_eps`` the
    generalised mean of order ``1 - epsilon``: for ``epsilon = 1`` (the IHDI) the geometric
    mean, ``A = 1 - exp(mean(ln x)) / mean(x)``; otherwise
    ``mu_eps = mean(x**(1-epsilon))**(1/(1-epsilon))``.

    Vectorised along ``axis``: a 2-D array of shape (units, observations) gives one
    coefficient per unit.

    Parameters
    ----------
    values : array-like or Series
        Achievements (e.g. ages at death, years of schooling, incomes); non-negative.
        A missing value (NaN) in a distribution makes that coefficient NaN.
    weights : array-like, optional
        Non-negative sampling weights, broadcastable to ``values``; equal weights if omitted.
    epsilon : float, default 1.0
        Inequality aversion, ``>= 0``; 0 gives ``A = 0``.
    axis : int, default -1
        Axis holding the distribution.
    shift : float, default 0.0
        Constant added to every value first. HDR practice for education: years of schooling
        are shifted by 1 so that zero years can enter the geometric mean.
    zeros : {"raise", "limit"}, default "raise"
        What to do with zero values when ``epsilon >= 1`` (where the generalised mean
        needs ``x > 0``): ``"raise"`` a :class:`HumsecError` (use ``shift``, or replace
        non-positive incomes by the minimum of the bottom 0.5 percentile of positive ones as
        the HDR does for income); ``"limit"`` returns the mathematical limit ``A = 1``.

    Returns
    -------
    float or numpy.ndarray
        Coefficients in [0, 1] (0 for perfectly equal values). A distribution whose mean is
        0 (all zeros) has no defined inequality and gives NaN.

    Raises
    ------
    HumsecError
        Negative values or weights, ``epsilon < 0``, all-zero weights, zeros with
        ``zeros="raise"``.

    Examples
    --------
    >>> round(atkinson([1.0, 4.0]), 6)  # 1 - 2/2.5
    0.2
    """
    if not np.isfinite(epsilon) or epsilon < 0:
        raise HumsecError(f"epsilon must be a finite number >= 0 (got {epsilon})")
    if zeros not in ("raise", "limit"):
        raise HumsecError(f"zeros must be 'raise' or 'limit' (got {zeros!r})")
    x = np.asarray(_as_float("values", values), dtype="float64") + float(shift)
    if x.ndim == 0:
        x = x.reshape(1)
    _check("values", x, lo=0.0)
    if weights is None:
        w = np.ones_like(x)
    else:
        w = np.asarray(_as_float("weights", weights), dtype="float64")
        try:
            w = np.broadcast_to(w, x.shape) if w.ndim != x.ndim or w.shape != x.shape else w
        except ValueError:
            raise HumsecError(f"weights shape {w.shape} does not match values {x.shape}") from None
        _check("weights", w, lo=0.0)
        if np.isnan(w).any():
            raise HumsecError("weights: missing (NaN) weights are not allowed")
    wsum = w.sum(axis=axis)
    if np.any(wsum <= 0):
        raise HumsecError("weights: every distribution needs a positive total weight")
    wn = w / np.expand_dims(wsum, axis)
    mu = (wn * x).sum(axis=axis)
    has_zero = ((x == 0) & (w > 0)).any(axis=axis)
    if epsilon >= 1 and zeros == "raise" and np.any(has_zero & (mu > 0)):
        raise HumsecError(
            "atkinson: zero values with epsilon >= 1 (the geometric/generalised mean needs "
            "x > 0); shift the values (HDR adds 1 year to schooling), replace zero incomes "
            "(HDR: minimum of the bottom 0.5 percentile of positive incomes) or pass "
            "zeros='limit'"
        )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if epsilon == 1.0:
            # weight-0 observations must not contribute log(0) * 0 = nan
            lx = np.where(w > 0, np.log(x), 0.0)
            mu_e = np.exp((wn * lx).sum(axis=axis))
        elif epsilon == 0.0:
            mu_e = mu
        else:
            p = 1.0 - epsilon
            px = np.where(w > 0, x**p, 0.0)
            mu_e = (wn * px).sum(axis=axis) ** (1.0 / p)
        a = 1.0 - mu_e / mu
    a = np.where(mu > 0, a, np.nan)
    if epsilon >= 1:
        a = np.where(has_zero & (mu > 0), 1.0, a)
    a = np.where(np.isnan(mu), np.nan, np.clip(a, 0.0, 1.0))  # clip float noise only
    return float(a) if np.ndim(a) == 0 else a


def ihdi(le: Any, eys: Any, mys: Any, gnipc: Any,
         ineq_le: Any, ineq_edu: Any, ineq_inc: Any, *, percent: bool = True) -> pd.DataFrame:
    """Inequality-adjusted HDI (HDR 2023/24 Technical Note 2).

    Each HDI dimension index is discounted by its Atkinson inequality (``epsilon = 1``):
    ``I*_x = (1 - A_x) * I_x`` and ``IHDI = (I*_health * I*_education * I*_income)**(1/3)``,
    which equals ``HDI * ((1 - A_health)(1 - A_education)(1 - A_income))**(1/3)`` with the
    *unrounded* HDI. The HDR publishes the coefficients ``A_x`` (columns ``ineq_le``,
    ``ineq_edu``, ``ineq_inc``, in percent); compute them from micro-data with
    :func:`atkinson`. The coefficient of human inequality is the arithmetic mean of the
    three ``A_x`` and the loss is ``1 - IHDI/HDI``.

    Parameters
    ----------
    le, eys, mys, gnipc : array-like or Series
        HDI components as in :func:`hdi`.
    ineq_le, ineq_edu, ineq_inc : array-like or Series
        Atkinson inequality in life expectancy, education and income.
    percent : bool, default True
        Inequalities are given in percent (0-100, as in the HDR file); else as fractions.

    Returns
    -------
    pandas.DataFrame
        The :func:`hdi` columns plus ``health_index_adj``, ``education_index_adj``,
        ``income_index_adj``, ``ihdi``, ``coef_ineq`` and ``loss`` (both as fractions).

    Raises
    ------
    HumsecError
        Impossible HDI components, or inequality outside [0, 100] % ([0, 1]).
    """
    index, v = _align(le=le, eys=eys, mys=mys, gnipc=gnipc,
                      ineq_le=ineq_le, ineq_edu=ineq_edu, ineq_inc=ineq_inc)
    scale = 100.0 if percent else 1.0
    a = {}
    for k in ("ineq_le", "ineq_edu", "ineq_inc"):
        _check(k + (" (%)" if percent else ""), v[k], lo=0.0, hi=scale)
        a[k] = v[k] / scale
    parts = _hdi_parts(v["le"], v["eys"], v["mys"], v["gnipc"], GOALPOSTS["life_expectancy"])
    h_adj = (1.0 - a["ineq_le"]) * parts["health_index"]
    e_adj = (1.0 - a["ineq_edu"]) * parts["education_index"]
    i_adj = (1.0 - a["ineq_inc"]) * parts["income_index"]
    value = _geomean3(h_adj, e_adj, i_adj)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(parts["hdi"] > 0, 1.0 - value / parts["hdi"], np.nan)
    return _frame(index, parts | {
        "health_index_adj": h_adj,
        "education_index_adj": e_adj,
        "income_index_adj": i_adj,
        "ihdi": value,
        "coef_ineq": (a["ineq_le"] + a["ineq_edu"] + a["ineq_inc"]) / 3.0,
        "loss": loss,
    })
