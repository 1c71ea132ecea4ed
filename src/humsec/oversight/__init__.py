"""Parliamentary oversight: commitments and budgets against outcomes.

An analysis-layer package (it uses :mod:`humsec.model`, :mod:`humsec.data` and
:mod:`humsec.analysis`; rendering lives in :mod:`humsec.report.oversight`):

* :mod:`~humsec.oversight.models` - immutable values: instruments, commitments, targets,
  budget lines, tags, identities;
* :mod:`~humsec.oversight.db` - the oversight database (DuckDB, append-only, audited,
  role-checked): :class:`~humsec.oversight.db.OversightDB`, one transaction per operation;
* :mod:`~humsec.oversight.transaction` - connections, atomic transactions with retries,
  the schema;
* :mod:`~humsec.oversight.repositories` - the SQL of each kind of record (audit, users and
  tokens, commitments, status snapshots, budgets), run inside those transactions (the
  only modules that write);
* :mod:`~humsec.oversight.auth` - roles, API tokens and their hashing;
* :mod:`~humsec.oversight.status` - status of commitment targets from the data (the Open
  SDG progress rule of :func:`humsec.analysis.trends.progress_status`);
* :mod:`~humsec.oversight.budget` - reading and validating budget files;
* :mod:`~humsec.oversight.tagging` - SDG / human-security tagging rules and classifier;
* :mod:`~humsec.oversight.align` - spending against insecurity.

Nothing here runs at import time.
"""
