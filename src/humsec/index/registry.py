"""Registries of pure method kernels keyed by plain string names.

Each step family (``denominate``, ``screen``, ``impute``, ``treat``, ``normalise``,
``weight``, ``aggregate``) has one :class:`Registry`. A kernel is registered together
with a pydantic model of its parameters, so an index spec can be validated (every
parameter checked, every problem located) before anything is computed.

Example
-------
>>> from pydantic import BaseModel
>>> REG = Registry("normalise")
>>> class P(BaseModel):
...     lo: float = 0.0
>>> @REG.register("shift", P)
... def shift(x, direction=1, lo=0.0):
...     return x * direction + lo
>>> REG.get("shift").name
'shift'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from humsec.errors import HumsecError


class NoParams(BaseModel):
    """Parameter model of a kernel that takes no parameters."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Method:
    """A registered kernel.

    Attributes
    ----------
    family, name : str
        Step family and method name (the key used in specs).
    fn : callable
        The pure kernel.
    params : type[pydantic.BaseModel]
        Model of its keyword parameters (``extra="forbid"``).
    summary : str
        First line of the kernel's docstring.
    panel : bool
        The kernel takes a (unit, year) panel rather than one year's values (an
        imputation from earlier years); the pipeline routes such steps to its panel path.
    """

    family: str
    name: str
    fn: Callable[..., Any]
    params: type[BaseModel]
    summary: str
    panel: bool = False

    def validate_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate ``params`` and return them with defaults filled in.

        Raises
        ------
        HumsecError
            Listing every invalid or unknown parameter.
        """
        try:
            model = self.params.model_validate(dict(params or {}))
        except PydanticValidationError as exc:
            problems = []
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"]) or "(parameters)"
                problems.append(f"{where}: {err['msg']}")
            raise HumsecError(
                f"{self.family} method '{self.name}': " + "; ".join(problems)
            ) from None
        return model.model_dump()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


class Registry:
    """Name -> :class:`Method` mapping for one step family."""

    def __init__(self, family: str):
        self.family = family
        self._methods: dict[str, Method] = {}

    def register(
        self, name: str, params: type[BaseModel] | None = None, *, panel: bool = False
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering a kernel under ``name`` with its parameter model
        (``panel``: it takes a panel, see :attr:`Method.panel`)."""

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._methods:
                raise ValueError(f"{self.family} method '{name}' registered twice")
            doc = (fn.__doc__ or "").strip().splitlines()
            self._methods[name] = Method(
                self.family, name, fn, params or NoParams, doc[0] if doc else "", panel
            )
            return fn

        return deco

    def get(self, name: str) -> Method:
        """Return the method called ``name`` or raise a :class:`HumsecError` with suggestions."""
        try:
            return self._methods[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._methods), n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise HumsecError(
                f"unknown {self.family} method '{name}'; expected one of "
                f"{', '.join(sorted(self._methods))}.{hint}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._methods))

    def panel_names(self) -> frozenset[str]:
        """Names of the methods registered with ``panel=True``."""
        return frozenset(n for n, m in self._methods.items() if m.panel)

    def names(self) -> list[str]:
        return sorted(self._methods)

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, {self.names()})"
