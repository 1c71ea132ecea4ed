"""The design of uncertainty runs: concrete values of every input for every run, drawn
from unit-cube samples (Monte Carlo or a Saltelli/Sobol' design), and COINr's noisy
weight sets.

References
----------
.. [COINr] Becker, W. et al. (2022). COINr. *JOSS* 7(78), 4567 (``get_noisy_weights``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.index.pipeline import IndexResult, StepCache, build
from humsec.index.spec import IndexSpec
from humsec.index.uncertainty_spec import ChoiceInput, ExcludeInput, UncertaintySpec, UniformInput, WeightsInput


@dataclass(frozen=True)
class Design:
    """Concrete values of every run: levels of discrete inputs, values of uniform ones."""

    spec: IndexSpec
    uspec: UncertaintySpec
    nominal: IndexResult
    weight_sets: np.ndarray | None  # (n_sets, n_nodes) raw node weights
    nodes: list[str]
    table: pd.DataFrame  # one row per run; columns per input (+ weight columns)
    data: pd.DataFrame | None = None  # the frame every run is built from (StepCache-bound)
    # the prefix cache a worker's tasks share when this design is scattered to a cluster
    # (a StepCache travels empty and binds to the worker's copy of the data)
    cache: StepCache | None = field(default=None, compare=False, repr=False)

    @property
    def source(self) -> pd.DataFrame:
        return self.nominal.data if self.data is None else self.data

    @cached_property
    def weight_matrix(self) -> tuple[list[str], np.ndarray]:
        """The ``w:<node>`` columns of the run table and their values as one matrix,
        made once per design (every group of one evaluation shares it)."""
        wcols = [c for c in self.table.columns if isinstance(c, str) and c.startswith("w:")]
        wmat = self.table[wcols].to_numpy(dtype=float) if wcols else np.empty((len(self.table), 0))
        return wcols, wmat

    def subset(self, idx: Sequence[int]) -> Design:
        """The same design with only the runs at positions ``idx`` (renumbered 0..)."""
        return replace(self, table=self.table.iloc[list(idx)].reset_index(drop=True))


def _nominal_weights(nominal: IndexResult, nodes: list[str]) -> np.ndarray:
    """Node weights as the nominal build used them (sibling-normalised); root = 1."""
    w = np.ones(len(nodes))
    pos = {c: i for i, c in enumerate(nodes)}
    spec_nodes = nominal.spec.nodes
    for i, c in enumerate(nodes):
        if spec_nodes[c].parent is not None:
            w[i] = 0.0
    arrays = getattr(nominal.weights, "arrays", None)  # the engine's weights: no Series
    for parent in nominal.weights:
        if arrays is not None:
            vals, kids = arrays(parent)
        else:
            s = nominal.weights[parent]
            vals, kids = s.to_numpy(dtype=float), s.index
        for c, v in zip(kids, vals):
            if c in pos and spec_nodes[c].parent == parent:
                w[pos[c]] = float(v)
    return w


def noisy_weights(base: np.ndarray, levels: np.ndarray, noise: Mapping[int, float], n_sets: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``n_sets`` weight sets: each weight at a level in ``noise`` multiplied by
    ``1 + U(-f, f)`` (COINr ``get_noisy_weights``); other weights unchanged.

    Parameters
    ----------
    base : (n_nodes,) array
    levels : (n_nodes,) int array
        Tree level of each node.
    noise : mapping level -> factor in [0, 1)
    n_sets : int
    rng : numpy.random.Generator

    Returns
    -------
    (n_sets, n_nodes) array
    """
    out = np.tile(base, (n_sets, 1))
    for lv, f in sorted(noise.items()):
        cols = np.flatnonzero(levels == lv)
        out[:, cols] = base[cols] * (1.0 + rng.uniform(-f, f, size=(n_sets, cols.size)))
    return out


def make_design(spec: IndexSpec, data: pd.DataFrame, uspec: UncertaintySpec, U: np.ndarray,
                rng: np.random.Generator, year: int | None, cache: StepCache | None = None) -> Design:
    """Concrete run table from unit-cube samples ``U`` (runs x inputs)."""
    nominal = build(spec, data, year=year, cache=cache)
    nodes = [n.code for n in spec.tree]
    levels = np.array([spec.level(c) for c in nodes])
    base = _nominal_weights(nominal, nodes)
    cols: dict[str, Any] = {}
    wsets = None
    for j, inp in enumerate(uspec.inputs):
        u = U[:, j]
        if isinstance(inp, UniformInput):
            cols[inp.name] = inp.low + u * (inp.high - inp.low)
            continue
        k = np.minimum((u * inp.n_levels).astype(int), inp.n_levels - 1)
        if isinstance(inp, ChoiceInput):
            cols[inp.name] = [inp.label(i) for i in k]
        elif isinstance(inp, ExcludeInput):
            cols[inp.name] = [inp.label(i) for i in k]
        elif isinstance(inp, WeightsInput):
            wsets = noisy_weights(base, levels, inp.noise, inp.n_sets, rng)
            cols[inp.name] = k
    table = pd.DataFrame(cols)
    table.insert(0, "run", np.arange(len(table)))
    if wsets is not None:
        winp = next(i for i in uspec.inputs if isinstance(i, WeightsInput))
        W = wsets[table[winp.name].to_numpy()]
        for i, c in enumerate(nodes):
            if c != spec.root:
                table[f"w:{c}"] = W[:, i]
    return Design(spec, uspec, nominal, wsets, nodes, table, data)


def coerce_rng(seed: int | np.random.Generator | None) -> tuple[np.random.Generator, int | None]:
    """The generator of an explicit ``seed`` and the seed to record (``None`` for a
    generator passed in); no seed is an error: randomness is explicit."""
    if isinstance(seed, np.random.Generator):
        return seed, None
    if seed is None:
        raise HumsecError("an explicit seed (int) or numpy.random.Generator is required")
    return np.random.default_rng(int(seed)), int(seed)

