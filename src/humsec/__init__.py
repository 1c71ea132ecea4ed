"""humsec — the Human Security Observatory.

One core library; the CLI, REST API, dashboard and reports are thin shells over it.
Layers (nothing imports upward)::

    model  ->  data  ->  index  ->  analysis/spatial/forecast  ->  report  ->  api/cli/web

Importing :mod:`humsec` has no side effects: nothing is read, written or downloaded
until a function is called with an explicit :class:`humsec.settings.Settings`.

The library's front door (:mod:`humsec.lib`, loaded on first use)::

    import humsec as hs
    obs = hs.panel(indicators=["life_expectancy"])  # tidy observations with provenance
    ranking = hs.assess()                           # the Human Security Index, every country
    kenya = hs.country("KEN")                        # one country: dimensions, indicators
    scores = hs.build("hdi", obs_or_panel)           # any index spec on any tidy data
    intervals = hs.uncertainty("hsi", n=200)         # rank and score intervals
    new = hs.fetch("wb", ["gdp_per_capita"])          # an official source -> a stored vintage
"""

__version__ = "0.1.0"

from humsec.errors import HumsecError, ValidationError, ValidationIssue  # noqa: E402
from humsec.settings import Settings  # noqa: E402

#: The functions of :mod:`humsec.lib`, exposed as ``humsec.<name>`` (PEP 562: loaded on
#: first access, so that ``import humsec`` imports neither pandas nor the store).
_LIB = ("assess", "assessment", "build", "country", "fetch", "indicators", "panel", "spec", "specs", "uncertainty")

__all__ = ["HumsecError", "Settings", "ValidationError", "ValidationIssue", "__version__", *_LIB]


def __getattr__(name: str):
    if name in _LIB:
        import importlib

        return getattr(importlib.import_module("humsec.lib"), name)
    raise AttributeError(f"module 'humsec' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LIB))
