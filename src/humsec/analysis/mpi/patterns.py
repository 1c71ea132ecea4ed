"""Reduction of microdata to deprivation-pattern tables.

For each distinct bit pattern of the ``d`` indicators (at most ``2**d``) and each
subgroup, the sum of sampling weights, of squared weights and the record count are
accumulated chunk by chunk. Every Alkire–Foster statistic — for any *k* — is an exact
weighted sum over these small tables, so memory does not grow with the number of
records; with primary sampling units, three sums per unit are kept for design-based
standard errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from humsec.analysis.mpi.read import Columns, Label, MicrodataReader
from humsec.analysis.mpi.spec import SCORE_TOL, MPISpec

__all__ = ["LabelCodes", "PatternTable", "PatternTables", "pattern_bits", "pattern_scores",
           "reduce_chunks"]


class LabelCodes:
    """Stable integer codes for labels seen across chunks."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def encode(self, lab: Label) -> np.ndarray:
        """Global codes of a chunk's label column (new labels get the next codes)."""
        glob = np.empty(len(lab.dictionary), dtype=np.int64)
        for n, u in enumerate(lab.dictionary):
            glob[n] = self.index.setdefault(str(u), len(self.index))
        return glob[lab.indices]

    def encode_ints(self, keys: np.ndarray) -> np.ndarray:
        """Global codes of integer keys (as labels)."""
        u, inv = np.unique(keys, return_inverse=True)
        glob = np.array([self.index.setdefault(str(int(x)), len(self.index)) for x in u], dtype=np.int64)
        return glob[inv]

    @property
    def labels(self) -> list[str]:
        """The labels in code order."""
        return list(self.index)


class PatternTable:
    """Sums of weights, squared weights and counts per (group, deprivation pattern)."""

    def __init__(self, n_patterns: int) -> None:
        self.P = n_patterns
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.codes = LabelCodes()

    def add(self, group: np.ndarray | None, pattern: np.ndarray, w: np.ndarray) -> None:
        """Accumulate records (group codes or None, patterns, sampling weights)."""
        key = pattern.astype(np.int64) if group is None else group * self.P + pattern.astype(np.int64)
        top = int(key.max()) + 1 if len(key) else 0
        if top <= 1 << 22:
            ws = np.bincount(key, weights=w, minlength=top)
            w2 = np.bincount(key, weights=w * w, minlength=top)
            cnt = np.bincount(key, minlength=top)
            nz = np.flatnonzero(cnt)
            self.parts.append((nz.astype(np.int64), ws[nz], w2[nz], cnt[nz].astype(np.int64)))
        else:
            u, inv = np.unique(key, return_inverse=True)
            self.parts.append((u, np.bincount(inv, weights=w), np.bincount(inv, weights=w * w),
                               np.bincount(inv).astype(np.int64)))
        if len(self.parts) > 64:
            self.parts = [self._reduce()]

    def _reduce(self) -> tuple[np.ndarray, ...]:
        if not self.parts:
            z = np.zeros(0)
            return (np.zeros(0, np.int64), z, z, np.zeros(0, np.int64))
        keys = np.concatenate([p[0] for p in self.parts])
        u, inv = np.unique(keys, return_inverse=True)
        return (u, *(np.bincount(inv, weights=np.concatenate([p[i] for p in self.parts]),
                                 minlength=len(u)) for i in (1, 2)),
                np.bincount(inv, weights=np.concatenate([p[3] for p in self.parts]),
                            minlength=len(u)).round().astype(np.int64))

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(group, pattern, sum w, sum w^2, n) arrays."""
        keys, ws, w2, cnt = self._reduce()
        return keys // self.P, keys % self.P, ws, w2, cnt


@dataclass(frozen=True)
class PatternTables:
    """Reduced data: one pattern table per grouping (``""`` = everyone) and the PSU sums."""

    spec: MPISpec
    tables: Mapping[str, tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    psu: tuple[np.ndarray, np.ndarray] | None  # (strata codes, [w, w*poor, w*c*poor] per PSU)
    n_read: int
    n_dropped: int
    w_dropped: float


def reduce_chunks(reader: MicrodataReader, spec: MPISpec, cols: Columns, k: float) -> PatternTables:
    """Read every chunk of ``reader`` into pattern tables.

    Parameters
    ----------
    reader : MicrodataReader
    spec : MPISpec
    cols : Columns
        Subgroups (one table each) and PSU/strata columns (per-PSU sums for cut-off ``k``).
    k : float
        Poverty cut-off of the per-PSU sums.

    Returns
    -------
    PatternTables

    Raises
    ------
    ValidationError
        Every problem found while reading (reading continues to report them all).
    """
    inds = spec.indicators
    d = len(inds)
    wvec = np.array([spec.weights[i.code] for i in inds])
    P = 1 << d
    tables = {"": PatternTable(P), **{b: PatternTable(P) for b in cols.by}}
    psu_codes = LabelCodes() if (cols.psu or cols.strata) else None
    psu_label_codes, strata_codes = LabelCodes(), LabelCodes()
    psu_parts: list[tuple[np.ndarray, np.ndarray]] = []
    psu_stratum: dict[int, int] = {}
    n_read = n_dropped = 0
    w_dropped = 0.0
    shifts = np.arange(d, dtype=np.int64)
    for ch in reader.chunks():
        n_read += ch.n
        if reader.issues:
            continue  # keep reading to report every problem, but compute nothing
        w = ch.values[cols.weight] if cols.weight else np.ones(ch.n)
        vals = [ch.values[i.source_column] for i in inds]
        keep = np.ones(ch.n, dtype=bool)
        if reader.missing == "drop":
            for v in vals:
                keep &= ~np.isnan(v)
            n_dropped += int((~keep).sum())
            w_dropped += float(w[~keep].sum())
        pattern = np.zeros(ch.n, dtype=np.int64)
        for j, (ind, v) in enumerate(zip(inds, vals)):
            with np.errstate(invalid="ignore"):
                pattern |= ind.deprived(v).astype(np.int64) << shifts[j]
        if not keep.all():
            pattern, w = pattern[keep], w[keep]
        if len(w) == 0:
            continue
        tables[""].add(None, pattern, w)
        for b in cols.by:
            lab = ch.labels[b][keep] if not keep.all() else ch.labels[b]
            tables[b].add(tables[b].codes.encode(lab), pattern, w)
        if psu_codes is not None:
            ps = ch.labels[cols.psu] if cols.psu else Label.constant(ch.n)
            st = ch.labels[cols.strata] if cols.strata else Label.constant(ch.n)
            if not keep.all():
                ps, st = ps[keep], st[keep]
            sc = strata_codes.encode(st)
            code = psu_codes.encode_ints(sc * (1 << 31) + psu_label_codes.encode(ps))
            score = pattern_scores(pattern, wvec, d)
            poor = score >= k - SCORE_TOL
            top = int(code.max()) + 1
            sums = np.stack([np.bincount(code, weights=w, minlength=top),
                             np.bincount(code, weights=w * poor, minlength=top),
                             np.bincount(code, weights=w * score * poor, minlength=top)], axis=1)
            psu_parts.append((np.arange(top), sums))
            if cols.strata:
                uc, first = np.unique(code, return_index=True)
                for c, i in zip(uc.tolist(), first.tolist()):
                    psu_stratum.setdefault(c, int(sc[i]))
    reader.raise_if_issues()
    out = {}
    for name, t in tables.items():
        g, p, ws, w2, cnt = t.frame()
        out[name] = (t.codes.labels if name else ["all"], g, p, ws, w2, cnt)
    psu = None
    if psu_codes is not None:
        m = len(psu_codes.labels)
        tot = np.zeros((m, 3))
        for idx, s in psu_parts:
            tot[idx] += s
        strata = np.array([psu_stratum.get(i, 0) for i in range(m)], dtype=np.int64)
        psu = (strata, tot)
    return PatternTables(spec=spec, tables=MappingProxyType(out), psu=psu,
                         n_read=n_read, n_dropped=n_dropped, w_dropped=w_dropped)


def pattern_bits(pattern: np.ndarray, d: int) -> np.ndarray:
    """Boolean matrix (records x ``d`` indicators) of deprivation patterns."""
    return ((pattern[:, None] >> np.arange(d, dtype=np.int64)) & 1).astype(bool)


def pattern_scores(pattern: np.ndarray, wvec: np.ndarray, d: int) -> np.ndarray:
    """Weighted deprivation score ``c_i`` of each pattern (weights ``wvec``)."""
    # score of each distinct pattern, then gathered (avoids an n x d float matrix)
    u, inv = np.unique(pattern, return_inverse=True)
    return (pattern_bits(u, d) @ wvec)[inv]
