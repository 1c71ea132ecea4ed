"""The MPI spec language: a declarative Alkire–Foster measure as pydantic models.

An :class:`MPISpec` holds dimensions, indicators with deprivation cut-offs, nested
weights and the poverty cut-off *k*; it is read from and written to YAML, validated with
located errors (:class:`~humsec.errors.ValidationError` naming the file and field), and
the built-in specs (``global_mpi`` ...) ship in ``humsec/analysis/specs``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from fractions import Fraction
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.yamlio import dump_yaml, load_yaml, model_issues, read_text

__all__ = [
    "MAX_INDICATORS",
    "SCORE_TOL",
    "MPIDimension",
    "MPIIndicator",
    "MPISpec",
    "builtin_mpi_names",
    "load_mpi_spec",
]

#: Scores within this distance below a cut-off count as reaching it (weights such as 1/6 +
#: 1/6 are not exactly 1/3 in floating point).
SCORE_TOL = 1e-9
#: Maximum number of indicators (deprivation patterns are stored as 63-bit integers).
MAX_INDICATORS = 62

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_OPS = ("<", "<=", ">", ">=", "==", "!=")
_FLAGS = ("true", "false")


def _fraction(v: Any) -> Any:
    """Accept numbers and fraction strings such as ``"1/18"``."""
    if isinstance(v, str):
        try:
            return float(Fraction(v.strip()))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"expected a number or a fraction such as 1/6, got '{v}'") from None
    return v


class MPIDimension(BaseModel):
    """A dimension of an MPI (health, education, living standards ...).

    Parameters
    ----------
    code : str
        Identifier.
    name : str
        Label.
    weight : float, optional
        Weight of the dimension (fractions such as ``"1/3"`` allowed). When given, the
        weights of its indicators must sum to it; indicators of the dimension without an
        explicit weight share it equally (nested weights, [AF2015]_ ch. 6).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    name: str = ""
    weight: float | None = None

    @field_validator("weight", mode="before")
    @classmethod
    def _frac(cls, v: Any) -> Any:
        return _fraction(v)


class MPIIndicator(BaseModel):
    """One deprivation indicator.

    Parameters
    ----------
    code : str
        Identifier (also the default column name).
    dimension : str
        Code of its dimension.
    column : str, optional
        Column of the microdata holding the achievement (default: ``code``).
    deprived_if : {"<", "<=", ">", ">=", "==", "!=", "true", "false"}
        Deprivation rule: a comparison of the value with ``cutoff`` (e.g. ``"<"`` with
        cut-off 6: deprived if fewer than 6 years of schooling), or ``"true"``/``"false"``
        for a 0/1 (boolean) column — deprived where it is true (a ready-made deprivation
        flag) or false (e.g. ``has_electricity``).
    cutoff : float, optional
        Deprivation cut-off ``z_j`` (required for comparisons, forbidden for flags).
    weight : float, optional
        Weight in the whole measure (fractions allowed); omitted -> equal share of the
        dimension's weight.
    allowed : list of float, optional
        The only values the column may take (e.g. ``[0, 1, 2]``); others are reported as
        errors.
    valid_range : (float, float), optional
        Physically possible range (e.g. ``[0, 30]`` years); values outside are errors.
    name, description : str
        Labels; ``description`` should state the cut-off in words.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    dimension: str
    column: str | None = None
    deprived_if: Literal["<", "<=", ">", ">=", "==", "!=", "true", "false"] = "true"
    cutoff: float | None = None
    weight: float | None = None
    allowed: tuple[float, ...] | None = None
    valid_range: tuple[float, float] | None = None
    name: str = ""
    description: str = ""

    @field_validator("weight", mode="before")
    @classmethod
    def _frac(cls, v: Any) -> Any:
        return _fraction(v)

    @field_validator("deprived_if", mode="before")
    @classmethod
    def _flag(cls, v: Any) -> Any:
        if isinstance(v, bool):  # YAML `true`/`false` unquoted
            return "true" if v else "false"
        return v

    @model_validator(mode="after")
    def _rule(self) -> MPIIndicator:
        if self.deprived_if in _OPS and self.cutoff is None:
            raise ValueError(f"deprived_if '{self.deprived_if}' needs a cutoff")
        if self.deprived_if in _FLAGS and self.cutoff is not None:
            raise ValueError(f"deprived_if '{self.deprived_if}' (a 0/1 column) takes no cutoff")
        if self.cutoff is not None and not math.isfinite(self.cutoff):
            raise ValueError("cutoff must be finite")
        if self.valid_range is not None and not self.valid_range[0] <= self.valid_range[1]:
            raise ValueError("valid_range must be [low, high] with low <= high")
        return self

    @property
    def source_column(self) -> str:
        return self.column or self.code

    @property
    def is_flag(self) -> bool:
        return self.deprived_if in _FLAGS

    def deprived(self, x: np.ndarray) -> np.ndarray:
        """Deprivation status ``g_ij`` of values ``x`` (float array; flags as 0/1)."""
        op, z = self.deprived_if, self.cutoff
        if op == "true":
            return x == 1.0
        if op == "false":
            return x == 0.0
        if z is None:  # refused by the model's validator; kept for the type checker
            raise ValueError(f"deprived_if '{op}' needs a cutoff")
        return {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                "==": np.equal, "!=": np.not_equal}[op](x, z)

    def rule_text(self) -> str:
        if self.deprived_if == "true":
            return f"deprived if {self.source_column} is true (1)"
        if self.deprived_if == "false":
            return f"deprived if {self.source_column} is false (0)"
        return f"deprived if {self.source_column} {self.deprived_if} {self.cutoff:g}"


class MPISpec(BaseModel):
    """A declarative Alkire–Foster measure (YAML <-> pydantic).

    Parameters
    ----------
    spec_version : int
        Format version (1).
    name, title, version, source, description : str
        Identification and provenance.
    poverty_cutoff : float
        The poverty cut-off *k* in (0, 1] as a share of the weighted indicators
        (fractions such as ``"1/3"`` allowed).
    vulnerable_cutoff, severe_cutoff : float, optional
        Score thresholds for "vulnerable to poverty" (``vulnerable_cutoff <= c < k``) and
        "severe poverty" (``c >= severe_cutoff``), 0.2 and 0.5 in the global MPI.
    dimensions : list of MPIDimension
    indicators : list of MPIIndicator
        Resolved weights must be positive and sum to 1.
    weight_column : str, optional
        Default sampling-weight column of the microdata.

    Examples
    --------
    >>> s = load_mpi_spec("global_mpi")
    >>> round(sum(s.weights.values()), 12), round(s.poverty_cutoff, 4)
    (1.0, 0.3333)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec_version: Literal[1] = 1
    name: str
    title: str = ""
    version: str = ""
    source: str = ""
    description: str = ""
    poverty_cutoff: float
    vulnerable_cutoff: float | None = None
    severe_cutoff: float | None = None
    weight_column: str | None = None
    dimensions: tuple[MPIDimension, ...] = Field(min_length=1)
    indicators: tuple[MPIIndicator, ...] = Field(min_length=1)

    @field_validator("poverty_cutoff", "vulnerable_cutoff", "severe_cutoff", mode="before")
    @classmethod
    def _frac(cls, v: Any) -> Any:
        return _fraction(v)

    # -- derived ------------------------------------------------------------------------
    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.indicators]

    @property
    def columns(self) -> list[str]:
        """Microdata columns needed by the indicators (in order, deduplicated)."""
        return list(dict.fromkeys(i.source_column for i in self.indicators))

    @property
    def weights(self) -> Mapping[str, float]:
        """Resolved indicator weights (sum to 1)."""
        return MappingProxyType(_resolve_weights(self))

    @property
    def dimension_of(self) -> Mapping[str, str]:
        return MappingProxyType({i.code: i.dimension for i in self.indicators})

    def dimension_weights(self) -> dict[str, float]:
        w = self.weights
        return {d.code: float(sum(w[i.code] for i in self.indicators if i.dimension == d.code))
                for d in self.dimensions}

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json(exclude_none=True))

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())

    @classmethod
    def from_dict(cls, raw: object, *, file: str = "<mpi spec>") -> MPISpec:
        if not isinstance(raw, dict):
            raise ValidationError(ValidationIssue(
                "expected a mapping (name, poverty_cutoff, dimensions, indicators)", file=file))
        try:
            spec = cls.model_validate(raw)
        except PydanticValidationError as exc:
            raise ValidationError(model_issues(exc, raw, file)) from None
        issues = _semantic_issues(spec, file)
        if issues:
            raise ValidationError(issues)
        return spec

    @classmethod
    def from_yaml(cls, text: str, *, file: str = "<mpi spec>") -> MPISpec:
        return cls.from_dict(load_yaml(text, file), file=file)

    @classmethod
    def from_file(cls, path: str | Path) -> MPISpec:
        return cls.from_yaml(read_text(path, "MPI spec file"), file=str(Path(path)))

    def with_cutoff(self, k: float) -> MPISpec:
        """The same spec with another poverty cut-off (validated). A vulnerability
        (severity) threshold above (below) the new *k* no longer applies and is dropped."""
        d = self.to_dict()
        d["poverty_cutoff"] = k
        if self.vulnerable_cutoff is not None and self.vulnerable_cutoff > k:
            d.pop("vulnerable_cutoff")
        if self.severe_cutoff is not None and self.severe_cutoff < k:
            d.pop("severe_cutoff")
        return MPISpec.from_dict(d, file=f"<{self.name} with k={k}>")


def _resolve_weights(spec: MPISpec) -> dict[str, float]:
    dims = {d.code: d for d in spec.dimensions}
    out: dict[str, float] = {}
    for d in spec.dimensions:
        members = [i for i in spec.indicators if i.dimension == d.code]
        explicit = sum(i.weight for i in members if i.weight is not None)
        implicit = [i for i in members if i.weight is None]
        share = ((d.weight - explicit) / len(implicit)) if (implicit and d.weight is not None) else None
        for i in members:
            out[i.code] = i.weight if i.weight is not None else (share if share is not None else float("nan"))
    for i in spec.indicators:
        if i.dimension not in dims:
            out[i.code] = i.weight if i.weight is not None else float("nan")
    return {i.code: float(out[i.code]) for i in spec.indicators}


def _semantic_issues(spec: MPISpec, file: str) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []

    def add(msg: str, fld: str | None) -> None:
        issues.append(ValidationIssue(msg, file=file, field=fld))

    dim_codes = [d.code for d in spec.dimensions]
    for n, d in enumerate(spec.dimensions):
        if not _CODE.fullmatch(d.code):
            add("code must start with a letter and hold only letters, digits and '_'",
                f"dimensions[{n}] ({d.code}).code")
        if dim_codes.count(d.code) > 1:
            add(f"duplicate dimension code '{d.code}'", f"dimensions[{n}] ({d.code}).code")
        if d.weight is not None and not 0 < d.weight <= 1:
            add(f"weight {d.weight:g} must be in (0, 1]", f"dimensions[{n}] ({d.code}).weight")
    codes = spec.codes
    if len(codes) > MAX_INDICATORS:
        add(f"{len(codes)} indicators; at most {MAX_INDICATORS} are supported", "indicators")
    for n, i in enumerate(spec.indicators):
        where = f"indicators[{n}] ({i.code})"
        if not _CODE.fullmatch(i.code):
            add("code must start with a letter and hold only letters, digits and '_'", f"{where}.code")
        if codes.count(i.code) > 1:
            add(f"duplicate indicator code '{i.code}'", f"{where}.code")
        if i.dimension not in dim_codes:
            add(f"unknown dimension '{i.dimension}'; expected one of {', '.join(dim_codes)}",
                f"{where}.dimension")
        if i.weight is None and next((d.weight for d in spec.dimensions if d.code == i.dimension), None) is None:
            add("no weight: give the indicator a weight or its dimension a weight to share",
                f"{where}.weight")
        if i.weight is not None and not 0 < i.weight <= 1:
            add(f"weight {i.weight:g} must be in (0, 1]", f"{where}.weight")
        if i.is_flag and i.allowed is not None and not set(i.allowed) <= {0.0, 1.0}:
            add("a 0/1 flag column can only allow the values 0 and 1", f"{where}.allowed")
    for d in spec.dimensions:
        if not any(i.dimension == d.code for i in spec.indicators):
            add(f"dimension '{d.code}' has no indicators", "dimensions")
    if issues:
        return issues
    w = _resolve_weights(spec)
    for n, i in enumerate(spec.indicators):
        if not (w[i.code] > 0):
            add(f"resolved weight {w[i.code]:g} must be positive", f"indicators[{n}] ({i.code}).weight")
    total = sum(w.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        add(f"indicator weights sum to {total:.6g}; they must sum to 1", "indicators")
    for n, d in enumerate(spec.dimensions):
        if d.weight is not None:
            s = sum(w[i.code] for i in spec.indicators if i.dimension == d.code)
            if not math.isclose(s, d.weight, abs_tol=1e-6):
                add(f"indicator weights of dimension '{d.code}' sum to {s:.6g}, not its weight "
                    f"{d.weight:.6g}", f"dimensions[{n}] ({d.code}).weight")
    k = spec.poverty_cutoff
    if not 0 < k <= 1:
        add(f"poverty_cutoff {k:g} must be in (0, 1]", "poverty_cutoff")
    if spec.vulnerable_cutoff is not None and not 0 <= spec.vulnerable_cutoff <= k:
        add("vulnerable_cutoff must be in [0, poverty_cutoff]", "vulnerable_cutoff")
    if spec.severe_cutoff is not None and not k <= spec.severe_cutoff <= 1:
        add("severe_cutoff must be in [poverty_cutoff, 1]", "severe_cutoff")
    return issues


def builtin_mpi_names() -> list[str]:
    """Names of the built-in MPI specs (``global_mpi`` ...)."""
    root = resources.files("humsec.analysis") / "specs"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_mpi_spec(name_or_path: str | Path | MPISpec) -> MPISpec:
    """A built-in MPI spec by name or an MPI spec YAML file (validated).

    Raises
    ------
    HumsecError
        Neither a built-in name nor an existing file; ValidationError for an invalid spec.
    """
    if isinstance(name_or_path, MPISpec):
        return name_or_path
    text = str(name_or_path)
    if text in builtin_mpi_names():
        res = resources.files("humsec.analysis") / "specs" / f"{text}.yaml"
        return MPISpec.from_yaml(res.read_text(encoding="utf-8"), file=f"built-in MPI spec '{text}'")
    p = Path(text)
    if p.is_file():
        return MPISpec.from_file(p)
    raise HumsecError(f"'{text}' is neither a built-in MPI spec ({', '.join(builtin_mpi_names())}) "
                      "nor an existing spec file")
