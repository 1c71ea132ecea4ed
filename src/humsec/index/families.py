"""Map step families to their method registries (imports the kernel modules lazily)."""

from __future__ import annotations

from humsec.errors import HumsecError
from humsec.index.registry import Registry


def registry_for(family: str) -> Registry:
    """Return the :class:`~humsec.index.registry.Registry` of a step family.

    Raises
    ------
    HumsecError
        For an unknown family.
    """
    from humsec.index import extra_methods  # noqa: F401  (registers HDR/identity kernels)
    from humsec.index.methods import aggregate, denominate, impute, normalise, screen, treat, weights

    regs = {
        "denominate": denominate.DENOMINATE,
        "screen": screen.SCREEN,
        "impute": impute.IMPUTE,
        "treat": treat.TREAT,
        "normalise": normalise.NORMALISE,
        "weight": weights.WEIGHT,
        "aggregate": aggregate.AGGREGATE,
    }
    try:
        return regs[family]
    except KeyError:
        raise HumsecError(f"unknown step '{family}'; expected one of {', '.join(regs)}") from None
