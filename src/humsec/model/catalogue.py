"""The declarative indicator catalogue (YAML <-> pydantic)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from humsec.errors import ValidationError, ValidationIssue
from humsec.model.panel import DIMENSIONS
from humsec.yamlio import dump_yaml, load_yaml, read_text

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_SDG = re.compile(r"^\d{1,2}\.[0-9a-z]{1,2}(\.\d{1,2})?$")




class Indicator(BaseModel):
    """One catalogue entry.

    Parameters
    ----------
    code : str
        Lower-case identifier used in panels and index specs.
    name, unit : str
        Human-readable name and unit of measurement.
    dimension : str
        Human-security dimension (one of :data:`humsec.model.DIMENSIONS`) or
        ``"context"`` for denominators and background variables.
    direction : {1, -1}
        +1 if a higher value means people are more secure, -1 if less.
    sdg : str, optional
        SDG indicator or target it informs (e.g. ``"3.2.1"``).
    valid_min, valid_max : float, optional
        Physically possible range (e.g. 0 and 100 for a percentage); imports reject
        values outside it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name: str
    unit: str
    dimension: str
    direction: Literal[1, -1]
    sdg: str | None = None
    source: str
    licence: str
    notes: str = ""
    tags: tuple[str, ...] = Field(default_factory=tuple)
    valid_min: float | None = None
    valid_max: float | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if not _CODE.fullmatch(v):
            raise ValueError("expected lower-case letters, digits and '_' (starting with a letter)")
        return v

    @field_validator("dimension")
    @classmethod
    def _dimension(cls, v: str) -> str:
        if v not in (*DIMENSIONS, "context"):
            raise ValueError(f"expected one of {', '.join((*DIMENSIONS, 'context'))}")
        return v

    @field_validator("sdg")
    @classmethod
    def _sdg(cls, v: str | None) -> str | None:
        if v is not None and not _SDG.fullmatch(str(v)):
            raise ValueError("expected an SDG target or indicator such as '3.2' or '3.2.1'")
        return v


class Catalogue:
    """An immutable, ordered collection of :class:`Indicator` s keyed by code."""

    __slots__ = ("_items", "version")

    def __init__(self, indicators: list[Indicator], version: str = "1"):
        items: dict[str, Indicator] = {}
        for ind in indicators:
            if ind.code in items:
                raise ValidationError(ValidationIssue(f"duplicate indicator code '{ind.code}'"))
            items[ind.code] = ind
        self._items = items
        self.version = version

    def __iter__(self) -> Iterator[Indicator]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, code: object) -> bool:
        return code in self._items

    def __getitem__(self, code: str) -> Indicator:
        try:
            return self._items[code]
        except KeyError:
            raise KeyError(f"unknown indicator '{code}'") from None

    def get(self, code: str) -> Indicator | None:
        return self._items.get(code)

    @property
    def codes(self) -> list[str]:
        return list(self._items)

    def by_dimension(self, dimension: str) -> list[Indicator]:
        return [i for i in self._items.values() if i.dimension == dimension]

    def merged(self, other: "Catalogue") -> "Catalogue":
        """A new catalogue with ``other``'s entries added (a repeated code is an error)."""
        return Catalogue([*self, *other], version=self.version)

    # -- YAML ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "indicators": [i.model_dump(exclude_defaults=True, mode="json") for i in self],
        }

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())

    @classmethod
    def from_dict(cls, raw: object, *, file: str = "<catalogue>") -> "Catalogue":
        if not isinstance(raw, dict) or not isinstance(raw.get("indicators"), list):
            raise ValidationError(
                ValidationIssue("expected a mapping with a list under 'indicators'", file=file)
            )
        issues: list[ValidationIssue] = []
        items: list[Indicator] = []
        seen: set[str] = set()
        for n, entry in enumerate(raw["indicators"]):
            try:
                ind = Indicator.model_validate(entry)
            except PydanticValidationError as exc:
                for err in exc.errors():
                    path = ".".join(str(p) for p in err["loc"])
                    issues.append(
                        ValidationIssue(err["msg"], file=file, field=f"indicators[{n}].{path}")
                    )
                continue
            if ind.code in seen:
                issues.append(
                    ValidationIssue(f"duplicate code '{ind.code}'", file=file, field=f"indicators[{n}].code")
                )
            seen.add(ind.code)
            items.append(ind)
        version = raw.get("version", "1")
        if isinstance(version, bool) or not isinstance(version, (str, int, float)):
            issues.append(ValidationIssue(
                f"expected a version number or text, got a {type(version).__name__}",
                file=file, field="version"))
        if issues:
            raise ValidationError(issues)
        return cls(items, version=str(version))

    @classmethod
    def from_yaml(cls, text: str, *, file: str = "<catalogue>") -> "Catalogue":
        raw = load_yaml(text, file)
        return cls.from_dict(raw, file=file)

    @classmethod
    def from_file(cls, path: str | Path) -> "Catalogue":
        path = Path(path)
        return cls.from_yaml(read_text(path, "catalogue file"), file=str(path))

    @classmethod
    def default(cls) -> "Catalogue":
        """The catalogue of the data release that ships with humsec
        (``humsec/data/shipped/catalogue.yaml``, written by ``humsec data release build``)."""
        res = files("humsec.data").joinpath("shipped", "catalogue.yaml")
        return cls.from_yaml(res.read_text(encoding="utf-8"), file="humsec/data/shipped/catalogue.yaml")
