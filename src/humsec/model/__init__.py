"""Value types: panels, provenance, catalogue. Depends on nothing else in humsec."""

from humsec.model.catalogue import Catalogue, Indicator
from humsec.model.panel import (
    DIMENSIONS,
    DISAGG_KEYS,
    KEY_COLUMNS,
    TOTAL,
    Panel,
    Provenance,
)

__all__ = [
    "DIMENSIONS",
    "DISAGG_KEYS",
    "KEY_COLUMNS",
    "TOTAL",
    "Catalogue",
    "Indicator",
    "Panel",
    "Provenance",
]
