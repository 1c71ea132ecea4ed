"""Small helpers shared by the kernel modules (not part of the public API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from humsec.errors import HumsecError


def where(code: str | None) -> str:
    """``" for indicator 'X'"`` or ``""`` — a suffix for error messages."""
    return f" for indicator '{code}'" if code else ""


def as_float_array(x: Any, what: str, code: str | None = None) -> np.ndarray:
    """1-D float copy of ``x``; infinities are a user error."""
    try:
        arr = np.array(x, dtype="float64", copy=True)
    except (TypeError, ValueError):
        raise HumsecError(f"{what}{where(code)}: values must be numeric") from None
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if np.isinf(arr).any():
        raise HumsecError(f"{what}{where(code)}: values must be finite (found +-inf)")
    return arr


def like(x: Any, values: np.ndarray) -> Any:
    """Return ``values`` as the same kind as ``x`` (a Series keeps index and name)."""
    if isinstance(x, pd.Series):
        return pd.Series(values, index=x.index, name=x.name)
    return values


def sample(labels: Sequence[Any], limit: int = 8) -> str:
    """Comma-separated labels, shortened to ``limit`` with a count of the rest."""
    labels = [str(v) for v in labels]
    if len(labels) <= limit:
        return ", ".join(labels)
    return ", ".join(labels[:limit]) + f" ... ({len(labels) - limit} more)"
