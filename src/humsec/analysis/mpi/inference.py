"""Standard errors of the Alkire–Foster measures: linearised (Taylor) and bootstrap.

* :func:`independent_se` — linearised SEs of H, A and M0 per group, records as
  independent draws, from the pattern tables;
* :func:`design_se` — linearised SEs with primary sampling units within strata
  (with-replacement design), from per-PSU sums;
* :func:`bootstrap_se` — a seeded Rao–Wu rescaling bootstrap of PSUs (or records)
  within strata ([RW1988]_), with percentile intervals.

References
----------
.. [AF2015] Alkire, S., Foster, J. E., Seth, S., Santos, M. E., Roche, J. M. and
   Ballon, P. (2015). *Multidimensional Poverty Measurement and Analysis*. Oxford
   University Press. (Ch. 8: robustness and statistical inference.)
.. [RW1988] Rao, J. N. K. and Wu, C. F. J. (1988). Resampling inference with complex survey
   data. *Journal of the American Statistical Association* 83(401), 231-241.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from humsec.analysis.mpi.patterns import LabelCodes, pattern_scores, reduce_chunks
from humsec.analysis.mpi.read import Columns, Label, MicrodataReader
from humsec.analysis.mpi.spec import SCORE_TOL, MPISpec, load_mpi_spec
from humsec.errors import HumsecError

__all__ = ["bootstrap_se", "design_se", "independent_se"]


def independent_se(G: int, g: np.ndarray, poor: np.ndarray, score: np.ndarray, ws: np.ndarray,
                   w2: np.ndarray, n: np.ndarray, W: np.ndarray, H: np.ndarray, M0: np.ndarray,
                   A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linearised SEs of H, M0 and A per group, records as independent draws.

    ``z_i = w_i (y_i - R) / W`` summed over pattern-table rows (``ws``, ``w2``: sums of
    weights and squared weights per row; ``g``: group of each row; ``n``, ``W``: records
    and population per group; ``H``, ``M0``, ``A``: the group estimates).

    Returns
    -------
    (se_H, se_M0, se_A) : tuple of numpy.ndarray
        One value per group; ``se_A`` is NaN for a group without poor people.
    """

    def s(x: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=x, minlength=G)

    with np.errstate(divide="ignore", invalid="ignore"):
        fpc = np.where(n > 1, n / (n - 1), np.nan)
        yH = poor.astype(float)
        yM = score * poor
        varH = fpc * s(w2 * (yH - H[g]) ** 2) / W**2
        varM = fpc * s(w2 * (yM - M0[g]) ** 2) / W**2
        WH = s(ws * poor)
        varA = fpc * s(w2 * poor * (score - np.nan_to_num(A)[g]) ** 2) / WH**2
    return np.sqrt(varH), np.sqrt(varM), np.where(WH > 0, np.sqrt(varA), np.nan)


def design_se(strata: np.ndarray, sums: np.ndarray) -> tuple[float, float, float]:
    """Linearised SEs of H, M0, A with PSUs within strata (with-replacement design).

    ``Var(R) = sum_h n_h/(n_h-1) sum_c (z_hc - zbar_h)^2`` with
    ``z_hc = (Y_hc - R X_hc) / X`` (Taylor linearisation of a ratio; [AF2015]_ ch. 8).
    Strata with a single PSU contribute nothing.
    """
    W, WP, WCP = sums[:, 0], sums[:, 1], sums[:, 2]
    X = W.sum()
    H, M0 = WP.sum() / X, WCP.sum() / X
    A = WCP.sum() / WP.sum() if WP.sum() > 0 else np.nan

    def var(z: np.ndarray) -> float:
        codes, uniq = pd.factorize(strata)
        tot = 0.0
        for h in range(len(uniq)):
            zh = z[codes == h]
            nh = len(zh)
            if nh > 1:
                tot += nh / (nh - 1) * float(((zh - zh.mean()) ** 2).sum())
        return tot

    se_h = math.sqrt(var((WP - H * W) / X))
    se_m = math.sqrt(var((WCP - M0 * W) / X))
    se_a = math.sqrt(var((WCP - A * WP) / WP.sum())) if WP.sum() > 0 else float("nan")
    return se_h, se_m, se_a




def bootstrap_se(data: pd.DataFrame | str | Path, spec: MPISpec | str | Path, *,
                 k: float | None = None, weight: str | None = None, psu: str | None = None,
                 strata: str | None = None, reps: int = 200,
                 seed: int | np.random.Generator | None = None, missing: str = "error",
                 chunk_rows: int = 1_000_000, ci: float = 0.95) -> pd.DataFrame:
    """Bootstrap standard errors and percentile intervals of H, A and M0.

    Resamples primary sampling units with replacement within strata (records when no
    ``psu`` is given) with the Rao–Wu rescaling ([RW1988]_): in each stratum ``n_h - 1``
    of the ``n_h`` units are drawn and their weights multiplied by ``n_h / (n_h - 1)``
    times the number of draws. Strata with one unit are kept fixed.

    Parameters
    ----------
    data, spec, k, weight, psu, strata, missing, chunk_rows
        As in :func:`measure`.
    reps : int
        Number of replicates (>= 2).
    seed : int or numpy.random.Generator
        Required for reproducibility: the same seed gives the same result.
    ci : float
        Coverage of the percentile interval.

    Returns
    -------
    pandas.DataFrame
        Index ``H``, ``A``, ``M0``; columns ``estimate``, ``se``, ``ci_low``, ``ci_high``,
        ``reps``.

    Notes
    -----
    Needs three sums per unit in memory (24 bytes per record without ``psu``).
    """
    if seed is None:
        raise HumsecError("bootstrap_se needs a seed or numpy.random.Generator (reproducibility)")
    if reps < 2:
        raise HumsecError("reps must be >= 2")
    if not 0 < ci < 1:
        raise HumsecError("ci must be in (0, 1)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    s = load_mpi_spec(spec)
    if k is not None:
        s = s.with_cutoff(k)
    cols = Columns.for_spec(s, weight, None, psu, strata)
    reader = MicrodataReader(data, cols, chunk_rows, missing)
    wvec = np.array([s.weights[c] for c in s.codes])
    d = len(wvec)
    kk = s.poverty_cutoff
    if psu is None:
        units: list[np.ndarray] = []
        strata_codes = LabelCodes()
        stratum_parts: list[np.ndarray] = []
        for ch in reader.chunks():
            if reader.issues:
                continue
            w = ch.values[cols.weight] if cols.weight else np.ones(ch.n)
            pattern = np.zeros(ch.n, dtype=np.int64)
            keep = np.ones(ch.n, dtype=bool)
            for j, ind in enumerate(s.indicators):
                v = ch.values[ind.source_column]
                keep &= ~np.isnan(v)
                with np.errstate(invalid="ignore"):
                    pattern |= ind.deprived(v).astype(np.int64) << j
            score = pattern_scores(pattern, wvec, d)
            poor = score >= kk - SCORE_TOL
            units.append(np.stack([w, w * poor, w * score * poor], axis=1)[keep])
            stratum_parts.append(strata_codes.encode(ch.labels[strata] if strata else Label.constant(ch.n))[keep])
        reader.raise_if_issues()
        sums = np.concatenate(units) if units else np.zeros((0, 3))
        st = np.concatenate(stratum_parts) if stratum_parts else np.zeros(0, dtype=np.int64)
    else:
        cols2 = Columns.for_spec(s, weight, None, psu, strata)
        t = reduce_chunks(reader, s, cols2, kk)
        if t.psu is None:  # reduce_chunks fills it whenever a PSU column is given
            raise HumsecError("the microdata gave no per-PSU sums although a PSU column was named")
        st, sums = t.psu
    if sums.shape[0] == 0 or sums[:, 0].sum() <= 0:
        raise HumsecError("the microdata have no records with positive weight; nothing to measure")
    codes, _ = pd.factorize(np.asarray(st, dtype=np.int64))
    order = np.argsort(codes, kind="stable")
    sums, codes = sums[order], codes[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], bounds])
    sizes = np.diff(np.concatenate([starts, [len(codes)]]))
    est = _hma(sums.sum(axis=0))
    reps_out = np.empty((reps, 3))
    for b in range(reps):
        mult = np.ones(len(codes))
        for s0, nh in zip(starts, sizes):
            if nh < 2:
                continue
            draws = rng.integers(0, nh, size=nh - 1)
            mult[s0:s0 + nh] = np.bincount(draws, minlength=nh) * (nh / (nh - 1))
        reps_out[b] = _hma(mult @ sums)
    alpha = (1 - ci) / 2
    with np.errstate(invalid="ignore"):
        lo = np.nanquantile(reps_out, alpha, axis=0)
        hi = np.nanquantile(reps_out, 1 - alpha, axis=0)
    return pd.DataFrame({"estimate": est, "se": np.nanstd(reps_out, axis=0, ddof=1),
                         "ci_low": lo, "ci_high": hi, "reps": reps},
                        index=pd.Index(["H", "A", "M0"], name="statistic"))


def _hma(tot: np.ndarray) -> np.ndarray:
    W, WP, WCP = tot
    H = WP / W
    M0 = WCP / W
    A = WCP / WP if WP > 0 else np.nan
    return np.array([H, A, M0])
