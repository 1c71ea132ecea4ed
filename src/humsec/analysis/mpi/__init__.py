"""Alkire–Foster multidimensional poverty measurement on microdata.

A declarative :class:`MPISpec` (indicators with deprivation cut-offs, nested weights, a
poverty cut-off *k*) is applied to person or household records with sampling weights:

* **identification** — each record's weighted deprivation score
  ``c_i = sum_j w_j g_ij`` (``g_ij = 1`` if record *i* is deprived in indicator *j*); the
  record is *poor* if ``c_i >= k`` (dual cut-off);
* **aggregation** — headcount ratio ``H`` (weighted share of poor), intensity ``A``
  (average score among the poor) and adjusted headcount ratio ``M0 = H x A``;
  uncensored and censored headcount ratios per indicator; percentage contributions of
  each indicator and dimension (``w_j h_j(k) / M0``, summing to 100 %); the shares of
  people *vulnerable* (``vulnerable_cutoff <= c_i < k``) and in *severe* poverty
  (``c_i >= severe_cutoff``);
* **subgroup decomposition** by any column (sex, age group, region, disability, migrant
  status ...): ``M0 = sum_g (N_g / N) M0_g``;
* the **k-robustness curve** (H, A, M0 over a grid of k);
* **standard errors**: linearised (Taylor) for H, A and M0 — records as independent
  draws, or with primary sampling units and strata — and a seeded rescaling bootstrap.

Modules
-------
:mod:`~humsec.analysis.mpi.spec` (the spec language), :mod:`~humsec.analysis.mpi.read`
(chunked, validated reading of microdata), :mod:`~humsec.analysis.mpi.patterns`
(reduction to deprivation-pattern tables), :mod:`~humsec.analysis.mpi.inference`
(standard errors, bootstrap) and :mod:`~humsec.analysis.mpi.measure` (identification and
aggregation); this package re-exports the public API.

Implementation
--------------
Records are reduced, chunk by chunk, to a table of *deprivation patterns*: for each
distinct bit pattern of the ``d`` indicators (at most ``2**d``) and each subgroup, the
sum of sampling weights, of squared weights and the record count. Every statistic above
— for any *k* — is an exact weighted sum over that small table, so memory does not grow
with the number of records (10 million records need a few hundred MB of transient chunk
buffers at most, see ``benchmarks/bench_mpi.py``). Files (CSV, CSV.gz, Parquet, Feather)
are read in chunks with pyarrow; values that cannot be used raise a
:class:`~humsec.errors.ValidationError` naming the file, row and column and what was
expected.

References
----------
.. [AF2011] Alkire, S. and Foster, J. (2011). Counting and multidimensional poverty
   measurement. *Journal of Public Economics* 95(7-8), 476-487.
   https://doi.org/10.1016/j.jpubeco.2010.11.006
.. [AF2015] Alkire, S., Foster, J. E., Seth, S., Santos, M. E., Roche, J. M. and
   Ballon, P. (2015). *Multidimensional Poverty Measurement and Analysis*. Oxford
   University Press. (Ch. 5: the adjusted headcount ratio and its properties; Ch. 8:
   robustness and statistical inference.)
.. [AKJ2018] Alkire, S. and Jahan, S. (2018). The new global MPI 2018: aligning with the
   Sustainable Development Goals. OPHI Working Paper 121 / UNDP HDRO occasional paper.
.. [RW1988] Rao, J. N. K. and Wu, C. F. J. (1988). Resampling inference with complex survey
   data. *Journal of the American Statistical Association* 83(401), 231-241.
"""

from __future__ import annotations

from humsec.analysis.mpi.inference import bootstrap_se
from humsec.analysis.mpi.measure import AFResult, measure
from humsec.analysis.mpi.spec import MPIDimension, MPIIndicator, MPISpec, builtin_mpi_names, load_mpi_spec

__all__ = [
    "AFResult",
    "MPIDimension",
    "MPIIndicator",
    "MPISpec",
    "bootstrap_se",
    "builtin_mpi_names",
    "load_mpi_spec",
    "measure",
]
