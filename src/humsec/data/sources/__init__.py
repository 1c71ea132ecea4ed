"""Per-source hooks for the embedded default panel (see :mod:`humsec.data.default`).

Each hook takes a :class:`BuildContext` and returns a :class:`SourceResult`. The order of
:data:`HOOKS` matters only in that WPP (population) comes first: rates use it.
"""

from humsec.data.sources._common import BuildContext, CountryMatcher, SourceResult
from humsec.data.sources.bokeh import load_emissions, load_wpp
from humsec.data.sources.rpackages import (
    load_esi,
    load_gapminder,
    load_gtd,
    load_hfi,
    load_sowc,
    load_un98,
)

HOOKS = (
    ("wpp", load_wpp),
    ("emissions", load_emissions),
    ("gapminder", load_gapminder),
    ("hfi", load_hfi),
    ("gtd", load_gtd),
    ("sowc", load_sowc),
    ("esi", load_esi),
    ("un98", load_un98),
)

__all__ = ["HOOKS", "BuildContext", "CountryMatcher", "SourceResult"]
