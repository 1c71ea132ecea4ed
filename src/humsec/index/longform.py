"""The long ``unit, year, node, score, rank`` table of a build.

:meth:`humsec.index.pipeline.IndexResult.long` lists, node by node, every unit from the
best rank to the worst (ties and unranked units in unit order), with one sort of
integer keys per node (sorting the stacked strings cost seconds at 50,000 units) and the
text columns taken by Arrow (no Python string per cell).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from humsec.index.io import take_text

__all__ = ["default_nodes", "long_table", "rank_order"]


def default_nodes(spec) -> list[str]:
    """The nodes of a long table by default: aggregates from the root down, then the
    indicators."""
    return [*reversed(spec.aggregates), *spec.indicators]


def rank_order(ranks: np.ndarray) -> np.ndarray:
    """Row order of each column of a units x nodes array of ranks.

    Parameters
    ----------
    ranks : numpy.ndarray
        ``(n, k)`` whole-number ranks in ``1..n`` (1 = best), NaN for unranked rows.

    Returns
    -------
    numpy.ndarray
        ``(k, n)`` int64: ``order[j]`` lists the rows of column ``j`` by rank, ties and
        NaN (last) in row order — ``np.lexsort((np.arange(n), ranks[:, j]))``. A column
        without ties is placed by its ranks (each row to its rank's slot: no sort); a
        column with ties is one argsort of unique integer keys ``rank * n + row``.
    """
    ranks = np.asarray(ranks, dtype=float)
    n, k = ranks.shape
    ri = np.where(np.isnan(ranks), n + 1, ranks).astype(np.int64).T
    rows = np.arange(n, dtype=np.int64)
    out = np.empty((k, n), dtype=np.int64)
    tied = []
    for j in range(k):
        r = ri[j]
        ranked = r <= n
        if n and int(r.min()) < 1:
            tied.append(j)  # not ranks 1..n: the sort decides
            continue
        slot = np.full(n + 1, -1, dtype=np.int64)
        slot[r[ranked]] = rows[ranked]
        head = slot[slot >= 0]
        if len(head) != int(np.count_nonzero(ranked)):  # two rows share a rank
            tied.append(j)
            continue
        out[j, :len(head)] = head
        out[j, len(head):] = rows[~ranked]
    if tied:
        out[tied] = np.argsort(ri[tied] * max(n, 1) + rows[None, :], axis=1)
    return out


def long_table(scores: pd.DataFrame, ranks: pd.DataFrame, nodes: Sequence[str], year: int | None, *,
               categorical: bool = False) -> pd.DataFrame:
    """The long table ``unit, year, node, score, rank`` of these nodes, node by node in
    the given order, each from the best rank down (ties and unranked units in unit
    order); ``rank`` is nullable Int64 and ``year`` int64 (object None without a year).

    ``unit`` and ``node`` are text columns, or with ``categorical`` pandas Categoricals
    of the same values (no string per row is made: the CSV writer formats each distinct
    code once)."""
    sc = scores[list(nodes)].to_numpy(dtype=float)
    rk = ranks[list(nodes)].to_numpy(dtype=float)
    units = scores.index.to_numpy(dtype=object)
    n, k = sc.shape
    if scores.index.is_monotonic_increasing:
        order = rank_order(rk)
    else:  # order ties by unit code: rank the rows in unit order, then map back
        perm = np.argsort(units, kind="stable")
        order = perm[rank_order(rk[perm])]
    cols = np.repeat(np.arange(k), n)
    rows = order.reshape(-1)
    rank = rk[rows, cols]
    missing = np.isnan(rank)
    values = np.where(missing, 0, rank).astype(np.int64)
    node_codes = np.array(list(nodes), dtype=object)
    if categorical:
        unit_col = pd.Categorical.from_codes(rows, categories=pd.Index(units, dtype=object))
        node_col = pd.Categorical.from_codes(cols, categories=pd.Index(node_codes, dtype=object))
    else:
        unit_col, node_col = take_text(units, rows), take_text(node_codes, cols)
    # columns made here for this table: taken as they are (no copies of 3 M-row columns)
    return pd.DataFrame({
        "unit": unit_col,
        "year": np.full(n * k, year, dtype=object if year is None else np.int64),
        "node": node_col,
        "score": sc[rows, cols],
        "rank": pd.arrays.IntegerArray(values, missing),
    }, copy=False)
