"""Label columns (units, indicators) as integer codes, computed by Arrow's kernels.

A tidy table of a million units x 49 indicators has 49 million unit and indicator cells;
hashing each of them costs more than the whole index build. The helpers here encode a
label column from the rows that determine it (:func:`compressed`: a periodic or
run-length layout is proven by one vectorised comparison, then only one period or the
run heads are encoded), and read a pandas categorical column's codes as they are
(:func:`categorical`), so neither the readers nor the pipeline hash every row.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

__all__ = ["PERIODIC_MIN_ROWS", "STR", "arrow_strings", "categorical", "changes", "compressed", "encode_sorted",
           "in_runs", "memoised", "periodic", "read_only", "sorted_positions", "text_array"]

#: pandas' default text dtype (``"str"``: Arrow-backed, NaN for missing), of every unit index.
STR = pd.StringDtype("pyarrow", na_value=np.nan)

#: Rows from which :func:`humsec.index.pipeline._unit_codes` looks for periodic or run-length layouts.
PERIODIC_MIN_ROWS = 10_000


def compressed(ch: Any) -> tuple[Any, Callable[[np.ndarray], np.ndarray]]:
    """The rows of an Arrow string column (no nulls) that determine all others, and the
    map from a per-row result of those rows back to every row.

    Hashing every row is most of a large build's input cost, so two common layouts are
    recognised (each proven by one vectorised comparison of the whole column): values
    repeating with a period (indicator-major data: every unit once per indicator) - the
    first period determines the rest -, and runs of one value (unit-major data; the
    indicator column of indicator-major data) - the first row of each run does.
    Otherwise every row.
    """
    n = len(ch)
    if n < PERIODIC_MIN_ROWS:
        return ch, lambda r: r
    period = pc.index(ch, ch[0], start=1).as_py()
    if 0 < period <= n // 2 and periodic(ch, period):
        # np.tile, not np.resize: resize concatenates one copy per period (a constant
        # column, period 1, makes millions of them)
        return ch.slice(0, period), lambda r: np.tile(np.asarray(r), -(-n // period))[:n]
    heads = np.ones(n, dtype=bool)
    heads[1:] = changes(ch)
    at = np.flatnonzero(heads)
    if 4 * len(at) <= n:
        lengths = np.diff(at, append=n)  # each head's run (one repeat: no per-row index array)
        return ch.take(pa.array(at)), lambda r: np.repeat(np.asarray(r), lengths)
    return ch, lambda r: r


def encode_sorted(ch: Any) -> tuple[np.ndarray, Any]:
    """Codes (int64, into the sorted distinct values) and the sorted distinct values
    (an Arrow array; sorted by Arrow: UTF-8 byte order is code point order, as Python's)
    of an Arrow string array without nulls."""
    enc = ch.dictionary_encode()
    if isinstance(enc, pa.ChunkedArray):
        if not enc.num_chunks:
            return np.empty(0, dtype=np.int64), pa.array([], type=ch.type)
        # the chunks of an encoded column share one dictionary (as pandas' factorize assumes)
        idx = (enc.chunk(0).indices if enc.num_chunks == 1 else enc.combine_chunks().indices).to_numpy()
        dictionary = enc.chunk(0).dictionary
    else:
        idx, dictionary = enc.indices.to_numpy(), enc.dictionary
    inv, words = sorted_positions(dictionary)
    return inv[idx], words


def sorted_positions(words: Any) -> tuple[np.ndarray, Any]:
    """(position of each of ``words`` among them sorted, int64; the sorted words) of an
    Arrow array of distinct strings: a code into ``words`` becomes a code into the sorted
    words by one gather, ``positions[code]``."""
    order = pc.sort_indices(words).to_numpy()
    inv = np.empty(len(order), dtype=np.int64)
    inv[order] = np.arange(len(order))
    return inv, words.take(pa.array(order))


def arrow_strings(col: pd.Series) -> Any:
    """The Arrow chunked array of a column of Arrow strings without nulls, else None."""
    arr = col.array
    if isinstance(arr, ArrowStringArray) and arr._pa_array.null_count == 0:
        return arr._pa_array
    return None


def in_runs(ch: Any, run: int) -> bool:
    """True if ``ch`` changes value only at multiples of ``run`` (runs of one value, each
    ``run`` rows long; adjacent runs may hold the same value)."""
    return not ((np.flatnonzero(changes(ch)) + 1) % run).any()


def changes(ch: Any) -> np.ndarray:
    """Per row after the first: does it differ from the row before (bool, n - 1)?"""
    n = len(ch)
    return pc.not_equal(ch.slice(1), ch.slice(0, n - 1)).to_numpy(zero_copy_only=False)


def periodic(ch: Any, period: int) -> bool:
    """True if ``ch`` repeats its first ``period`` rows to its end."""
    n = len(ch)
    return bool(pc.all(pc.equal(ch.slice(period), ch.slice(0, n - period))).as_py())


def categorical(col: pd.Series) -> tuple[np.ndarray, Any] | None:
    """(integer codes, categories as an Arrow string array) of a categorical column of
    text without missing cells (the readers' unit and indicator columns), else None.

    The codes are the categorical's own (no copy, no hashing)."""
    dt = col.dtype
    if not isinstance(dt, pd.CategoricalDtype):
        return None
    codes = np.asarray(col.array.codes)
    if len(codes) and int(codes.min()) < 0:
        return None
    cats = dt.categories
    arr = cats.array
    if isinstance(arr, ArrowStringArray):
        words = arr._pa_array.combine_chunks()
    else:
        try:
            words = pa.array(np.asarray(cats, dtype=object), type=pa.large_string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            return None  # categories that are not text
    return codes, words


def text_array(words: Any) -> ArrowStringArray:
    """An Arrow string array as a pandas ``str`` array (zero-copy)."""
    return ArrowStringArray(pa.chunked_array([words], type=words.type), dtype=STR)


#: Rows up to which :func:`memoised` keeps results (the per-call cost of Arrow's kernels
#: dominates small columns; a large column's codes would hold its size in memory).
MEMO_MAX_ROWS = 1_000_000

#: Results kept by :func:`memoised`, by (id of the Arrow array, key).
_MEMO: dict[tuple[int, Hashable], tuple[weakref.ref[Any], Any]] = {}


def memoised(ch: Any, key: Hashable, compute: Callable[[], Any]) -> Any:
    """``compute()``, a function of the Arrow array ``ch`` (and ``key``), kept while ``ch``
    lives: Arrow arrays are immutable (pandas replaces a column's array when a cell is
    set), so the same array object has the same labels. Repeated builds on one table (an
    uncertainty analysis, a dashboard's what-if) encode its labels once, as a pandas
    ``Index`` keeps its hash table. Results are shared: numpy arrays in them must be
    read-only (:func:`read_only`).
    """
    if len(ch) > MEMO_MAX_ROWS:
        return compute()
    at = (id(ch), key)
    hit = _MEMO.get(at)
    if hit is not None and hit[0]() is ch:
        return hit[1]
    value = compute()
    if len(_MEMO) > 256:
        _MEMO.clear()
    _MEMO[at] = (weakref.ref(ch, _Forget(at)), value)
    return value


class _Forget:
    """The callback dropping a :func:`memoised` entry when its array dies."""

    def __init__(self, at: tuple[int, Hashable]):
        self.at = at

    def __call__(self, ref: weakref.ref[Any]) -> None:
        hit = _MEMO.get(self.at)
        if hit is not None and hit[0] is ref:  # not an entry made since for a new array of that id
            del _MEMO[self.at]


def read_only(*arrays: np.ndarray) -> None:
    """Mark numpy arrays read-only (results shared by :func:`memoised`)."""
    for a in arrays:
        a.flags.writeable = False


def release_arrow_memory() -> None:
    """Hand the pages Arrow's allocator (mimalloc) keeps for Arrow's own reuse back to the
    system, once a read or an encoding is done with them: what follows allocates with
    numpy (the system allocator), which cannot use them (about 200 MiB after reading a
    49 M-row Parquet file; see :func:`humsec.index.io.read_index_data`)."""
    pa.default_memory_pool().release_unused()
