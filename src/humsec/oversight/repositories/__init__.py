"""The SQL of the oversight database, one module per kind of record.

Every function runs on the connection of a transaction opened by
:class:`humsec.oversight.transaction.OversightStore` and never begins or commits one, so
an operation of :class:`humsec.oversight.db.OversightDB` that combines several (check the
token, write a version, append its audit row) is atomic:

* :mod:`~humsec.oversight.repositories.audit` - the append-only audit log;
* :mod:`~humsec.oversight.repositories.users` - users (versioned), API tokens and their
  revocations, resolving a token to an :class:`~humsec.oversight.auth.Identity`;
* :mod:`~humsec.oversight.repositories.commitments` - instruments and commitments as
  numbered versions with tombstones;
* :mod:`~humsec.oversight.repositories.statuses` - recorded status snapshots;
* :mod:`~humsec.oversight.repositories.budgets` - budget imports, lines and their
  (versioned) tags.
"""
