"""Uncertainty that covers data revisions: Monte Carlo runs over vintages of the data as
well as over the methodological inputs of an :class:`~humsec.index.uncertainty.UncertaintySpec`.

Published indicator values are revised between releases (vintages); an index built on
one vintage hides how much its ranks owe to values that later change. Here the vintage is
one more uncertain input, discrete and uniform: each run draws a vintage and the other
inputs, and is built on that vintage's data. Pooling the runs gives rank intervals that
cover both the methodological choices [OECD08]_ [SA08]_ and the data revisions.

References
----------
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 7
   (uncertainty analysis: "inclusion/exclusion of data", "data quality").
   https://doi.org/10.1787/9789264043466-en
.. [SA08] Saltelli, A. et al. (2008). *Global Sensitivity Analysis: The Primer*. Wiley.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError
from humsec.index.pipeline import build
from humsec.index.uncertainty import uncertainty_analysis

__all__ = ["vintage_uncertainty"]


def vintage_uncertainty(spec: Any, vintages: Mapping[str, pd.DataFrame], uncertainty: Any, *, n: int,
                        seed: int, year: int | None = None, reference: str | None = None,
                        progress: Callable[[int], None] | None = None) -> Any:
    """Monte Carlo uncertainty analysis over data vintages and the spec's inputs.

    Parameters
    ----------
    spec : IndexSpec
    vintages : mapping label -> tidy data
        Two or more vintages of the index data (e.g. ``{"2023-10": old, "2024-04": new}``).
    uncertainty : UncertaintySpec
        The methodological inputs, drawn independently of the vintage.
    n : int
        Total number of runs; each run's vintage is drawn uniformly (seeded).
    seed : int
        Draws the vintages and seeds one :func:`~humsec.index.uncertainty.uncertainty_analysis`
        per vintage, so the same seed gives the same runs.
    reference : str, optional
        Vintage of the nominal scores and ranks (default: the last one).

    Returns
    -------
    UncertaintyResult
        Runs in draw order with a ``vintage`` column; scores and ranks over the union of
        the vintages' units (NaN where a unit is absent from a run's vintage); each run is
        reproduced by :func:`~humsec.index.uncertainty.replay` of its row on its vintage.
    """
    labels = list(vintages)
    if len(labels) < 2:
        raise HumsecError(f"vintage uncertainty needs at least 2 vintages, got {len(labels)}")
    if n < 1:
        raise HumsecError(f"the number of runs must be >= 1, got {n}")
    reference = labels[-1] if reference is None else reference
    if reference not in vintages:
        raise HumsecError(f"reference vintage '{reference}' is not one of {', '.join(labels)}")
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, len(labels), size=n)
    child = rng.integers(0, 2**31 - 1, size=len(labels))
    parts: dict[str, Any] = {}
    for i, lab in enumerate(labels):
        k = int((draw == i).sum())
        if k:
            parts[lab] = uncertainty_analysis(spec, vintages[lab], uncertainty, n=k, seed=int(child[i]),
                                              year=year, progress=progress)
    if reference in parts:
        nominal = parts[reference].nominal
    else:
        nominal = build(spec, vintages[reference], year=year)
    aggs = list(next(iter(parts.values())).aggregates)
    units = sorted(set().union(*(p.units for p in parts.values()), nominal.units))
    scores = np.full((n, len(units), len(aggs)), np.nan)
    ranks = np.full_like(scores, np.nan)
    rows = []
    for i, lab in enumerate(labels):
        if lab not in parts:
            continue
        p = parts[lab]
        pos = np.flatnonzero(draw == i)
        cols = np.array([units.index(u) for u in p.units], dtype=np.intp)
        every = np.arange(len(aggs))
        scores[np.ix_(pos, cols, every)] = p.scores
        ranks[np.ix_(pos, cols, every)] = p.ranks
        t = p.runs.copy()
        t.insert(1, "vintage", lab)
        t["vintage_run"] = t["run"]
        t["run"] = pos
        rows.append(t)
    table = pd.concat(rows, ignore_index=True).sort_values("run", kind="stable").reset_index(drop=True)
    base = parts.get(reference, next(iter(parts.values())))
    return replace(base, seed=int(seed), runs=table, scores=scores, ranks=ranks, units=units,
                   aggregates=aggs, nominal=nominal,
                   meta={"kind": "vintages", "n": n, "vintages": labels, "reference": reference})
