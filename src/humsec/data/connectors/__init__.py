"""Live data connectors: a declarative source registry plus one hook module per source.

Public API::

    from humsec.data.connectors import SourceRegistry, resolve_query, plan, fetch

    reg = SourceRegistry.default()
    spec = reg["worldbank"]
    query = resolve_query(spec, ["u5mr"], countries=["Kenya", "UGA"], since=2000)
    for r in plan(spec, query, settings):       # what --dry-run prints
        print(r.display())
    result = fetch(spec, query, settings=settings)  # -> FetchResult (panel + report)

Storing a fetch as an immutable vintage and comparing vintages is
:mod:`humsec.data.vintages`. Nothing here runs at import time.
"""

from humsec.data.connectors.base import (
    IndicatorMap, MalformedResponseError, Page, Query, Request, SourceError, SourceSpec,
    SourceUnreachableError,
)
from humsec.data.connectors.engine import (
    FetchReport, FetchResult, fetch, plan, records_to_panel, resolve_query, safe_filename,
)
from humsec.data.connectors.fetcher import Fetcher, backoff_delays
from humsec.data.connectors.registry import SourceRegistry

__all__ = [
    "FetchReport", "FetchResult", "Fetcher", "IndicatorMap", "MalformedResponseError", "Page",
    "Query", "Request", "SourceError", "SourceRegistry", "SourceSpec", "SourceUnreachableError",
    "backoff_delays", "fetch", "plan", "records_to_panel", "resolve_query", "safe_filename",
]
