"""Uncertainty and sensitivity analysis of composite indices.

An :class:`UncertaintySpec` declares the uncertain inputs of an index, each addressed by
a dotted path into the :class:`~humsec.index.spec.IndexSpec` (see
:meth:`IndexSpec.with_changes`):

* ``choice`` — one of a list of alternatives (a parameter value, a method name, or a
  whole step as ``{method, params}``), e.g. ``steps.treat.params.winmax`` in 1..5;
* ``uniform`` — a continuous parameter drawn uniformly from ``[low, high]``;
* ``weights`` — one of ``n_sets`` noisy weight sets, each weight at the given levels
  multiplied by ``1 + U(-f, f)`` with noise factor ``f`` per level (COINr's
  ``get_noisy_weights``);
* ``exclude`` — none or one of the listed indicators is left out (weight 0).

Every input is driven by one number ``u`` in ``[0, 1)`` (a discrete input takes
alternative ``floor(u * n)``), so the same machinery serves Monte Carlo uncertainty
analysis (:func:`uncertainty_analysis`, ``u`` drawn from an explicit seed) and
variance-based sensitivity analysis (:func:`sensitivity_analysis`, ``u`` from SALib's
Saltelli/Sobol' design). Every run is recorded as a row of concrete values, so
:func:`replay` reproduces given runs exactly — runs sampled here or by another tool.

Speed: runs are grouped by their structural inputs (everything but weights and
exclusions); each group's pipeline up to normalisation runs once, and the aggregation of
all of the group's weight variants is vectorised over runs and units, in chunks that
bound memory. Runs whose aggregation the batch path cannot express (methods other than
the arithmetic, geometric and harmonic means, or with extra parameters) are built one by
one. Both paths give the same numbers as a plain :func:`~humsec.index.pipeline.build`
of the changed spec (tested to 1e-9).

References
----------
.. [SA08] Saltelli, A. et al. (2008). *Global Sensitivity Analysis: The Primer*. Wiley.
.. [Saltelli10] Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M.,
   Tarantola, S. (2010). Variance based sensitivity analysis of model output. Design and
   estimator for the total sensitivity index. *Computer Physics Communications* 181(2),
   259-270. https://doi.org/10.1016/j.cpc.2009.09.018
.. [SALib] Herman, J., Usher, W. (2017). SALib: An open-source Python library for
   sensitivity analysis. *JOSS* 2(9), 97. https://doi.org/10.21105/joss.00097
.. [OECD08] OECD/JRC (2008). *Handbook on Constructing Composite Indicators*, Step 7.
.. [COINr] Becker, W. et al. (2022). COINr. *JOSS* 7(78), 4567 (``get_sensitivity``,
   ``get_noisy_weights``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.index.pipeline import StepCache, build
from humsec.index.scale import executor_for
from humsec.index.sensitivity import (
    SensitivityResult,
    sensitivity_analysis,
    sensitivity_from_runs,
    sobol_indices,
)
from humsec.index.spec import IndexSpec
from humsec.index.uncertainty_design import Design, coerce_rng, make_design, noisy_weights
from humsec.index.uncertainty_evaluate import (
    BATCH_METHODS,
    BATCH_PARAMS,
    CHUNK_CELLS,
    QUANTILE_RULES,
    UncertaintyResult,
    evaluate,
    finish,
)
from humsec.index.uncertainty_spec import (
    UNCERTAINTY_VERSION,
    ChoiceInput,
    ExcludeInput,
    Input,
    Output,
    UncertaintySpec,
    UniformInput,
    WeightsInput,
    choice_index,
    first_line,
    run_changes,
    validate_against,
)

__all__ = [
    "BATCH_METHODS", "BATCH_PARAMS", "CHUNK_CELLS", "QUANTILE_RULES", "UNCERTAINTY_VERSION",
    "ChoiceInput", "Design", "ExcludeInput", "Input", "Output", "SensitivityResult",
    "UncertaintyResult", "UncertaintySpec", "UniformInput", "WeightsInput", "make_design",
    "noisy_weights", "replay", "run_changes", "sensitivity_analysis", "sensitivity_from_runs",
    "sobol_indices", "uncertainty_analysis",
]


def uncertainty_analysis(spec: IndexSpec, data: pd.DataFrame, uncertainty: UncertaintySpec, *,
                         n: int, seed: int | np.random.Generator, year: int | None = None,
                         progress: Callable[[int], None] | None = None,
                         batch: bool = True, scheduler: Any = None) -> UncertaintyResult:
    """Monte Carlo uncertainty analysis: ``n`` runs, each input drawn independently.

    Parameters
    ----------
    spec : IndexSpec
    data : pandas.DataFrame
        Tidy data (as for :func:`~humsec.index.pipeline.build`).
    uncertainty : UncertaintySpec
    n : int
        Number of runs.
    seed : int or numpy.random.Generator
        Explicit randomness: the same seed gives the same runs.
    year : int, optional
    progress : callable, optional
        Called with the number of runs just finished.
    batch : bool
        Vectorise aggregation over runs (default); False builds every run separately
        (the reference path, for checks and benchmarks).
    scheduler : None, str or distributed.Client, optional
        Run the groups of runs on a Dask cluster: ``"local"``/``"local:N"`` starts one
        here, a string is a scheduler address (see :func:`humsec.index.scale.executor_for`).
        Results are identical to the single-process path for the same seed.

    Returns
    -------
    UncertaintyResult
        Failed runs (e.g. a geometric mean meeting a value <= 0) are kept, with status
        ``failed`` and their error, and left out of the statistics.
    """
    if n < 1:
        raise HumsecError(f"the number of runs must be >= 1, got {n}")
    validate_against(uncertainty, spec)
    rng, s = coerce_rng(seed)
    U = rng.random((n, len(uncertainty.inputs)))
    cache = StepCache()
    design = make_design(spec, data, uncertainty, U, rng, year, cache)
    with executor_for(scheduler) as ex:
        runs = evaluate(design, progress=progress, batch=batch, cache=cache, executor=ex)
    return finish(design, runs, s, {"kind": "uncertainty", "n": n})


def replay(spec: IndexSpec, data: pd.DataFrame, uncertainty: UncertaintySpec,
           runs: pd.DataFrame | str | Path, *, year: int | None = None,
           progress: Callable[[int], None] | None = None, batch: bool = True,
           scheduler: Any = None) -> UncertaintyResult:
    """Reproduce given runs exactly from a table of concrete parameter values.

    Parameters
    ----------
    runs : pandas.DataFrame or path to a CSV
        One row per run; one column per input named as in ``uncertainty`` (the label of a
        choice, ``none`` or an indicator code for an exclusion, a number for a uniform
        input); weights as ``w:<node>`` columns (the weight set index alone is not
        enough to replay runs made elsewhere). An optional ``run`` column is kept.

    Returns
    -------
    UncertaintyResult
    """
    validate_against(uncertainty, spec)
    if not isinstance(runs, pd.DataFrame):
        p = Path(runs)
        try:
            runs = pd.read_csv(p)
        except FileNotFoundError:
            raise HumsecError(f"{p}: replay table not found") from None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise HumsecError(f"{p}: cannot read the replay table ({exc})") from None
        where = str(p)
    else:
        where = "<replay table>"
    table = runs.copy().reset_index(drop=True)
    issues = []
    for inp in uncertainty.inputs:
        if isinstance(inp, WeightsInput):
            if not any(isinstance(c, str) and c.startswith("w:") for c in table.columns):
                issues.append(ValidationIssue(f"weights input '{inp.name}' needs w:<node> columns",
                                              file=where))
            continue
        if inp.name not in table.columns:
            issues.append(ValidationIssue(f"missing column '{inp.name}'", file=where, row=1))
            continue
        for r, v in enumerate(table[inp.name]):
            try:
                if isinstance(inp, ChoiceInput):
                    choice_index(inp, v)
                elif isinstance(inp, UniformInput):
                    x = float(v)
                    if not (inp.low <= x <= inp.high) or math.isnan(x):
                        raise HumsecError(f"{v!r} outside [{inp.low}, {inp.high}]")
                elif isinstance(inp, ExcludeInput):
                    if v != "none" and v not in inp.candidates:
                        raise HumsecError(f"{v!r} is not 'none' or one of {list(inp.candidates)}")
            except (HumsecError, TypeError, ValueError) as exc:
                issues.append(ValidationIssue(first_line(exc), file=where, row=r + 2, field=inp.name))
    nodes = [n.code for n in spec.tree]
    for c in table.columns:
        if isinstance(c, str) and c.startswith("w:"):
            if c[2:] not in spec.nodes or c[2:] == spec.root:
                issues.append(ValidationIssue(f"'{c[2:]}' is not a weighted node of the index",
                                              file=where, row=1, field=c))
                continue
            vals = pd.to_numeric(table[c], errors="coerce")
            for r in np.flatnonzero(~(vals >= 0)).tolist():
                issues.append(ValidationIssue(f"weight {table[c].iloc[r]!r}: expected a number >= 0",
                                              file=where, row=int(r) + 2, field=c))
            table[c] = vals
    if issues:
        raise ValidationError(issues)
    if "run" not in table.columns:
        table.insert(0, "run", np.arange(len(table)))
    cache = StepCache()
    nominal = build(spec, data, year=year, cache=cache)
    design = Design(spec, uncertainty, nominal, None, nodes, table, data)
    with executor_for(scheduler) as ex:
        runs_ = evaluate(design, progress=progress, batch=batch, cache=cache, executor=ex)
    return finish(design, runs_, None, {"kind": "replay", "n": len(table)})

