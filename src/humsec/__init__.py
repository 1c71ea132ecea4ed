"""humsec — the Human Security Observatory.

One core library; the CLI, REST API, dashboard and reports are thin shells over it.
Layers (nothing imports upward)::

    model  ->  data  ->  index  ->  analysis/spatial/forecast  ->  report  ->  api/cli/web

Importing :mod:`humsec` has no side effects: nothing is read, written or downloaded
until a function is called with an explicit :class:`humsec.settings.Settings`.
"""

__version__ = "0.1.0"

from humsec.errors import HumsecError, ValidationError, ValidationIssue  # noqa: E402
from humsec.settings import Settings  # noqa: E402

__all__ = ["HumsecError", "Settings", "ValidationError", "ValidationIssue", "__version__"]
