"""Alkire–Foster identification and aggregation.

* **identification** — each record's weighted deprivation score
  ``c_i = sum_j w_j g_ij``; the record is *poor* if ``c_i >= k`` (dual cut-off);
* **aggregation** — ``H``, ``A``, ``M0 = H x A``, uncensored and censored headcount
  ratios, percentage contributions of indicators and dimensions, the vulnerable and
  severe shares, subgroup decomposition and the k-robustness curve.

Everything is computed from the pattern tables of :mod:`humsec.analysis.mpi.patterns`;
standard errors come from :mod:`humsec.analysis.mpi.inference`.

References
----------
.. [AF2011] Alkire, S. and Foster, J. (2011). Counting and multidimensional poverty
   measurement. *Journal of Public Economics* 95(7-8), 476-487.
   https://doi.org/10.1016/j.jpubeco.2010.11.006
.. [AF2015] Alkire, S., Foster, J. E., Seth, S., Santos, M. E., Roche, J. M. and
   Ballon, P. (2015). *Multidimensional Poverty Measurement and Analysis*. Oxford
   University Press. (Ch. 5: the adjusted headcount ratio and its properties; Ch. 8:
   robustness and statistical inference.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from humsec.analysis.mpi.inference import design_se, independent_se
from humsec.analysis.mpi.patterns import PatternTables, pattern_bits, reduce_chunks
from humsec.analysis.mpi.read import Columns, MicrodataReader
from humsec.analysis.mpi.spec import SCORE_TOL, MPISpec, load_mpi_spec
from humsec.errors import HumsecError

__all__ = ["AFResult", "measure"]




@dataclass(frozen=True)
class AFResult:
    """Alkire–Foster results for one poverty cut-off *k*.

    Attributes
    ----------
    spec : MPISpec
        The measure (its ``poverty_cutoff`` is *k*).
    summary : pandas.Series
        ``records`` (read), ``records_used``, ``population`` (sum of weights),
        ``k``, ``H``, ``A``, ``M0``, ``vulnerable``, ``severe`` (shares; NaN when the spec
        defines no such cut-off), ``se_H``, ``se_A``, ``se_M0`` (linearised standard errors;
        with PSU/strata when given), ``dropped_records`` and ``dropped_weight_share``.
    indicators : pandas.DataFrame
        Per indicator: ``dimension``, ``weight``, ``uncensored`` and ``censored`` headcount
        ratios and ``contribution_pct`` (sums to 100 when M0 > 0).
    dimensions : pandas.DataFrame
        Per dimension: ``weight`` and ``contribution_pct``.
    subgroups : Mapping[str, pandas.DataFrame]
        For each ``by`` column: per group ``records``, ``population``, ``pop_share``,
        ``H``, ``A``, ``M0``, ``se_H``, ``se_M0``, ``contribution_pct`` (share of national
        M0: ``pop_share * M0_g / M0 * 100``) and the censored headcount of every indicator
        (``h_<code>``).

    Notes
    -----
    :meth:`at_k` and :meth:`robustness` recompute everything for other cut-offs exactly,
    from the stored pattern tables (no re-reading). Linearised standard errors treat
    records as independent draws unless PSUs were given (then only the national ``se_*``
    use the design; subgroup SEs are always the independent-draws approximation).
    """

    spec: MPISpec
    summary: pd.Series
    indicators: pd.DataFrame
    dimensions: pd.DataFrame
    subgroups: Mapping[str, pd.DataFrame]
    _tables: PatternTables = field(repr=False)

    @property
    def k(self) -> float:
        return float(self.spec.poverty_cutoff)

    @property
    def H(self) -> float:
        return float(self.summary["H"])

    @property
    def A(self) -> float:
        return float(self.summary["A"])

    @property
    def M0(self) -> float:
        return float(self.summary["M0"])

    def at_k(self, k: float) -> AFResult:
        """The same data at another poverty cut-off (design-based SEs need a re-read and
        are then the independent-draws approximation)."""
        spec = self.spec.with_cutoff(k)
        tables = self._tables if self._tables.psu is None else \
            PatternTables(spec, self._tables.tables, None, self._tables.n_read,
                          self._tables.n_dropped, self._tables.w_dropped)
        return _results(spec, tables)

    def robustness(self, ks: Sequence[float] | None = None, *, by: str | None = None) -> pd.DataFrame:
        """The k-robustness curve: H, A, M0 (and SEs) for every cut-off in ``ks``.

        Parameters
        ----------
        ks : sequence of float, optional
            Cut-offs in (0, 1]; default: every distinct attainable deprivation score
            (where the curve can change) — for equal nested weights these are the k values
            reported by [AF2015]_ ch. 8.
        by : str, optional
            Also per group of this subgroup column (long format).

        Returns
        -------
        pandas.DataFrame
            Columns ``k``, [``group``,] ``H``, ``A``, ``M0``, ``se_H``, ``se_M0``.
        """
        p = self._tables.tables[""][2]  # the deprivation patterns
        d = len(self.spec.indicators)
        wvec = np.array([self.spec.weights[i.code] for i in self.spec.indicators])
        if ks is None:
            sc = np.unique(np.round(pattern_bits(p, d) @ wvec, 12))
            ks = [float(x) for x in sc if x > SCORE_TOL]
        rows = []
        for k in ks:
            r = self.at_k(float(k))
            row = {"k": float(k), **{s: float(r.summary[s]) for s in ("H", "A", "M0", "se_H", "se_M0")}}
            if by is None:
                rows.append(row)
            else:
                if by not in r.subgroups:
                    raise HumsecError(f"no subgroup column '{by}' in this result; have "
                                      f"{', '.join(r.subgroups) or 'none'}")
                for grp, s in r.subgroups[by].iterrows():
                    rows.append({"k": float(k), "group": grp,
                                 **{c: float(s[c]) for c in ("H", "A", "M0", "se_H", "se_M0")}})
        return pd.DataFrame(rows)

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """Every table as a flat frame (for CSV/JSON output)."""
        out = {"summary": self.summary.rename("value").rename_axis("statistic").reset_index(),
               "indicators": self.indicators.rename_axis("indicator").reset_index(),
               "dimensions": self.dimensions.rename_axis("dimension").reset_index()}
        for b, f in self.subgroups.items():
            out[f"by_{b}"] = f.rename_axis(b).reset_index()
        return out


def _group_stats(G: int, g: np.ndarray, poor: np.ndarray, score: np.ndarray, bits: np.ndarray,
                 ws: np.ndarray, w2: np.ndarray, cnt: np.ndarray, spec: MPISpec) -> dict[str, np.ndarray]:
    def s(x: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=x, minlength=G)

    W = s(ws)
    n = s(cnt.astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        H = s(ws * poor) / W
        M0 = s(ws * score * poor) / W
        A = np.where(H > 0, M0 / H, np.nan)
        cens = np.stack([s(ws * b * poor) for b in bits.T], axis=1) / W[:, None]
        unc = np.stack([s(ws * b) for b in bits.T], axis=1) / W[:, None]
        vul = (s(ws * ((score >= spec.vulnerable_cutoff - SCORE_TOL) & ~poor)) / W
               if spec.vulnerable_cutoff is not None else np.full(G, np.nan))
        sev = (s(ws * (score >= spec.severe_cutoff - SCORE_TOL)) / W
               if spec.severe_cutoff is not None else np.full(G, np.nan))
    se_H, se_M0, se_A = independent_se(G, g, poor, score, ws, w2, n, W, H, M0, A)
    return {"W": W, "n": n, "H": H, "M0": M0, "A": A, "cens": cens, "unc": unc,
            "se_H": se_H, "se_M0": se_M0, "se_A": se_A, "vulnerable": vul, "severe": sev}


def _results(spec: MPISpec, t: PatternTables) -> AFResult:
    d = len(spec.indicators)
    codes = spec.codes
    wvec = np.array([spec.weights[c] for c in codes])
    k = spec.poverty_cutoff
    out_groups: dict[str, pd.DataFrame] = {}
    nat = None
    for name, (labels, g, p, ws, w2, cnt) in t.tables.items():
        bits = pattern_bits(p, d)
        score = bits @ wvec
        poor = score >= k - SCORE_TOL
        G = max(len(labels), 1)
        st = _group_stats(G, g, poor, score, bits, ws, w2, cnt, spec)
        if name == "":
            nat = st
            continue
        df = pd.DataFrame({"records": st["n"].astype(np.int64), "population": st["W"]},
                          index=pd.Index(labels, name=name))
        df["pop_share"] = df["population"] / df["population"].sum()
        for c in ("H", "A", "M0", "se_H", "se_M0"):
            df[c] = st[c]
        total_m0 = float((df["pop_share"] * df["M0"]).sum())
        df["contribution_pct"] = (df["pop_share"] * df["M0"] / total_m0 * 100.0
                                  if total_m0 > 0 else np.nan)
        for j, c in enumerate(codes):
            df[f"h_{c}"] = st["cens"][:, j]
        out_groups[name] = df
    assert nat is not None
    population = float(nat["W"][0]) if len(nat["W"]) else 0.0
    if population <= 0:
        raise HumsecError("the microdata have no records with positive weight; nothing to measure")
    M0 = float(nat["M0"][0])
    cens = nat["cens"][0]
    with np.errstate(divide="ignore", invalid="ignore"):
        contrib = wvec * cens / M0 * 100.0 if M0 > 0 else np.full(d, np.nan)
    ind = pd.DataFrame({
        "dimension": [i.dimension for i in spec.indicators],
        "weight": wvec,
        "uncensored": nat["unc"][0],
        "censored": cens,
        "contribution_pct": contrib,
    }, index=pd.Index(codes, name="indicator"))
    dims = pd.DataFrame({
        "weight": pd.Series(spec.dimension_weights()),
        "contribution_pct": ind.groupby("dimension", sort=False)["contribution_pct"].sum(),
    }).reindex([dd.code for dd in spec.dimensions])
    dims.index.name = "dimension"
    se = {"se_H": float(nat["se_H"][0]), "se_A": float(nat["se_A"][0]), "se_M0": float(nat["se_M0"][0])}
    if t.psu is not None:
        se_h, se_m, se_a = design_se(*t.psu)
        se = {"se_H": se_h, "se_A": se_a, "se_M0": se_m}
    n_used = int(nat["n"][0])
    summary = pd.Series({
        "records": t.n_read,
        "records_used": n_used,
        "population": population,
        "k": float(k),
        "H": float(nat["H"][0]),
        "A": float(nat["A"][0]),
        "M0": M0,
        "vulnerable": float(nat["vulnerable"][0]),
        "severe": float(nat["severe"][0]),
        **se,
        "dropped_records": t.n_dropped,
        "dropped_weight_share": t.w_dropped / (population + t.w_dropped) if t.n_dropped else 0.0,
    }, dtype="float64")
    return AFResult(spec=spec, summary=summary, indicators=ind, dimensions=dims,
                    subgroups=MappingProxyType(out_groups), _tables=t)


def measure(data: pd.DataFrame | str | Path, spec: MPISpec | str | Path, *, k: float | None = None,
            weight: str | None = None, by: str | Sequence[str] | None = None,
            psu: str | None = None, strata: str | None = None, missing: str = "error",
            chunk_rows: int = 1_000_000) -> AFResult:
    """Alkire–Foster measures of multidimensional poverty on microdata.

    Parameters
    ----------
    data : pandas.DataFrame or path
        One row per person (or household, weighted by its size). Files: ``.csv`` (also
        ``.csv.gz``), ``.tsv``, ``.parquet``, ``.feather``; read in chunks.
    spec : MPISpec, built-in name (``"global_mpi"``) or YAML path
    k : float, optional
        Poverty cut-off (default: the spec's ``poverty_cutoff``).
    weight : str, optional
        Sampling-weight column (default: the spec's ``weight_column``; none -> equal weights).
    by : str or list of str, optional
        Subgroup columns for the decomposition (any column: sex, age group, region ...).
    psu, strata : str, optional
        Primary sampling unit and stratum columns for design-based linearised SEs.
    missing : {"error", "drop"}
        Missing indicator values are located errors, or their records are dropped (the
        count and weight share are reported in ``summary``).
    chunk_rows : int
        Records per chunk (memory bound).

    Returns
    -------
    AFResult

    Raises
    ------
    ValidationError
        Bad microdata, with file, row and column (missing column, non-numeric value,
        negative/missing weight, value outside the allowed set or range, missing label).
    HumsecError
        Unknown spec, unreadable file, no positive weight.

    References
    ----------
    [AF2011]_ (identification and the M0 family), [AF2015]_ chs. 5 and 8.

    Examples
    --------
    The worked example of [AF2011]_ (4 people, 4 equally weighted dimensions, k = 2/4):

    >>> df = pd.DataFrame({"income": [13.1, 15.2, 12.5, 20], "school": [14, 7, 10, 11],
    ...                    "bmi": [4, 5, 1, 3], "health": [1, 0, 0, 1]})
    >>> spec = MPISpec.from_dict({"name": "af", "poverty_cutoff": 0.5,
    ...     "dimensions": [{"code": "all", "weight": 1}],
    ...     "indicators": [{"code": c, "dimension": "all", "deprived_if": "<", "cutoff": z}
    ...                    for c, z in [("income", 13), ("school", 12), ("bmi", 3), ("health", 1)]]})
    >>> r = measure(df, spec)
    >>> float(r.H), float(r.A), float(r.M0)
    (0.5, 0.75, 0.375)
    """
    if missing not in ("error", "drop"):
        raise HumsecError(f"missing must be 'error' or 'drop' (got {missing!r})")
    if chunk_rows < 1:
        raise HumsecError("chunk_rows must be >= 1")
    s = load_mpi_spec(spec)
    if k is not None:
        s = s.with_cutoff(k)
    cols = Columns.for_spec(s, weight, by, psu, strata)
    reader = MicrodataReader(data, cols, chunk_rows, missing)
    tables = reduce_chunks(reader, s, cols, s.poverty_cutoff)
    return _results(s, tables)
