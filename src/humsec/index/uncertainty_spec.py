"""The declarative part of uncertainty and sensitivity analysis: which inputs of an index
are uncertain and what a sensitivity analysis explains (:class:`UncertaintySpec`), and the
concrete spec changes of one run (:func:`run_changes`).

This module depends on no builder, so :mod:`humsec.index.spec` validates a spec's
``uncertainty`` section with it directly. The design of runs is in
:mod:`humsec.index.uncertainty_design`, their evaluation in
:mod:`humsec.index.uncertainty_evaluate`, Sobol' indices in
:mod:`humsec.index.sensitivity`; :mod:`humsec.index.uncertainty` is the public entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.yamlio import dump_yaml, load_yaml, read_text

if TYPE_CHECKING:  # a type only: the spec module imports this one
    from humsec.index.spec import IndexSpec


UNCERTAINTY_VERSION: Literal[1] = 1


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")

    @property
    def n_levels(self) -> int | None:
        return None


class ChoiceInput(_Input):
    """One of several alternatives at ``path`` (dict alternatives set several keys)."""

    type: Literal["choice"] = "choice"
    path: str = Field(min_length=1)
    values: tuple[Any, ...] = Field(min_length=1)
    labels: tuple[str, ...] | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: tuple[str, ...] | None, info: Any) -> tuple[str, ...] | None:
        vals = info.data.get("values")
        if v is not None and vals is not None and len(v) != len(vals):
            raise ValueError(f"expected {len(vals)} labels (one per value), got {len(v)}")
        if v is not None and len(set(v)) != len(v):
            raise ValueError("labels must be unique")
        return v

    def label(self, i: int) -> Any:
        if self.labels is not None:
            return self.labels[i]
        v = self.values[i]
        if isinstance(v, Mapping):
            return v.get("label") or v.get("method") or json.dumps(v, sort_keys=True)
        return v

    @property
    def n_levels(self) -> int:
        return len(self.values)

    def changes(self, i: int) -> dict[str, Any]:
        v = self.values[i]
        if isinstance(v, Mapping):
            return {f"{self.path}.{k}": vv for k, vv in v.items() if k != "label"}
        return {self.path: v}


class UniformInput(_Input):
    """A continuous parameter at ``path`` drawn uniformly from ``[low, high]``."""

    type: Literal["uniform"] = "uniform"
    path: str = Field(min_length=1)
    low: float
    high: float

    @field_validator("high")
    @classmethod
    def _order(cls, v: float, info: Any) -> float:
        lo = info.data.get("low")
        if lo is not None and not v > lo:
            raise ValueError(f"expected high > low ({lo})")
        return v


class WeightsInput(_Input):
    """``n_sets`` noisy weight sets; ``noise`` maps tree level -> noise factor."""

    type: Literal["weights"] = "weights"
    noise: dict[int, float] = Field(min_length=1)
    n_sets: int = Field(default=100, ge=1, le=100_000)

    @field_validator("noise")
    @classmethod
    def _noise(cls, v: dict[int, float]) -> dict[int, float]:
        for lv, f in v.items():
            if not 0 <= f < 1:
                raise ValueError(f"noise factor of level {lv} must be in [0, 1), got {f}")
        return v

    @property
    def n_levels(self) -> int:
        return self.n_sets


class ExcludeInput(_Input):
    """Leave out none or one of ``candidates`` (its weight set to 0)."""

    type: Literal["exclude"] = "exclude"
    candidates: tuple[str, ...] = Field(min_length=1)

    @property
    def n_levels(self) -> int:
        return len(self.candidates) + 1

    def label(self, i: int) -> str:
        return "none" if i == 0 else self.candidates[i - 1]


Input = Annotated[ChoiceInput | UniformInput | WeightsInput | ExcludeInput, Field(discriminator="type")]


class Output(BaseModel):
    """The scalar a sensitivity analysis explains, per run.

    ``mean_abs_rank_shift`` (default): mean over units of |rank - nominal rank| of
    ``node``; ``rank`` / ``score``: the rank / score of ``unit`` on ``node``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    stat: Literal["mean_abs_rank_shift", "rank", "score"] = "mean_abs_rank_shift"
    node: str | None = None
    unit: str | None = None


class UncertaintySpec(BaseModel):
    """The uncertain inputs of an index and the output a sensitivity analysis explains."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    uncertainty_version: Literal[1] = UNCERTAINTY_VERSION
    inputs: tuple[Input, ...] = Field(min_length=1)
    output: Output = Field(default_factory=Output)

    @property
    def names(self) -> list[str]:
        return [i.name for i in self.inputs]

    # -- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json())

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())

    @classmethod
    def from_dict(cls, raw: object, *, file: str = "<uncertainty>", spec: IndexSpec | None = None
                  ) -> UncertaintySpec:
        if not isinstance(raw, dict):
            raise ValidationError(ValidationIssue("expected a mapping with 'inputs'", file=file))
        try:
            u = cls.model_validate(raw)
        except PydanticValidationError as exc:
            issues = [ValidationIssue(e["msg"], file=file,
                                      field=".".join(str(p) for p in e["loc"]) or None)
                      for e in exc.errors()]
            raise ValidationError(issues) from None
        if spec is not None:
            problems = u.check(spec, file=file)
            if problems:
                raise ValidationError(problems)
        return u

    @classmethod
    def from_yaml(cls, text: str, *, file: str = "<uncertainty>", spec: IndexSpec | None = None
                  ) -> UncertaintySpec:
        raw = load_yaml(text, file)
        if isinstance(raw, dict) and "uncertainty" in raw and "inputs" not in raw:
            raw = raw["uncertainty"]  # an index spec file with an uncertainty section
        return cls.from_dict(raw, file=file, spec=spec)

    @classmethod
    def from_file(cls, path: str | Path, *, spec: IndexSpec | None = None) -> UncertaintySpec:
        return cls.from_yaml(read_text(path, "uncertainty spec"), file=str(Path(path)), spec=spec)

    # -- validation against an index spec ----------------------------------------------
    def check(self, spec: IndexSpec, *, file: str = "<uncertainty>") -> list[ValidationIssue]:
        """Every problem of this spec against ``spec``, each located (``inputs[2].path``)."""
        issues: list[ValidationIssue] = []
        seen: set[str] = set()
        levels = {spec.level(c) for c in spec.nodes}
        for i, inp in enumerate(self.inputs):
            where = f"inputs[{i}] ({inp.name})"
            if inp.name in seen:
                issues.append(ValidationIssue(f"duplicate input name '{inp.name}'", file=file, field=where))
            seen.add(inp.name)
            if isinstance(inp, ChoiceInput):
                for j in range(len(inp.values)):
                    try:
                        spec.with_changes(inp.changes(j))
                    except HumsecError as exc:
                        issues.append(ValidationIssue(f"value {j} ({inp.label(j)!r}): {first_line(exc)}",
                                                      file=file, field=f"{where}.values[{j}]"))
            elif isinstance(inp, UniformInput):
                for v in (inp.low, inp.high):
                    try:
                        spec.with_changes({inp.path: v})
                    except HumsecError as exc:
                        issues.append(ValidationIssue(f"{v}: {first_line(exc)}", file=file, field=f"{where}.path"))
                        break
            elif isinstance(inp, WeightsInput):
                for lv in inp.noise:
                    if lv not in levels or lv == max(levels):
                        issues.append(ValidationIssue(
                            f"level {lv} has no weights to perturb; the tree has levels "
                            f"{sorted(levels)} (the root, level {max(levels)}, has no weight)",
                            file=file, field=f"{where}.noise"))
            elif isinstance(inp, ExcludeInput):
                for c in inp.candidates:
                    if c not in spec.nodes:
                        issues.append(ValidationIssue(f"'{c}' is not a node of the index", file=file,
                                                      field=f"{where}.candidates"))
                    elif c == spec.root:
                        issues.append(ValidationIssue("the root cannot be excluded", file=file,
                                                      field=f"{where}.candidates"))
        if sum(isinstance(i, WeightsInput) for i in self.inputs) > 1:
            issues.append(ValidationIssue("at most one 'weights' input", file=file, field="inputs"))
        o = self.output
        if o.node is not None and o.node not in spec.nodes:
            issues.append(ValidationIssue(f"'{o.node}' is not a node of the index", file=file, field="output.node"))
        if o.stat in ("rank", "score") and not o.unit:
            issues.append(ValidationIssue(f"output '{o.stat}' needs a unit", file=file, field="output.unit"))
        return issues


def first_line(exc: Exception) -> str:
    """The last line of an error's message (a located issue), for a run's error column."""
    return str(exc).strip().splitlines()[-1].strip(" -")


def run_changes(spec: IndexSpec, uspec: UncertaintySpec, row: Mapping[str, Any],
                *, structural_only: bool = False) -> dict[str, Any]:
    """Dotted spec changes of one run-table row (see :meth:`IndexSpec.with_changes`)."""
    ch: dict[str, Any] = {}
    for inp in uspec.inputs:
        if not isinstance(inp, (ChoiceInput, UniformInput)):
            continue
        v = row[inp.name]
        if isinstance(inp, ChoiceInput):
            ch.update(inp.changes(choice_index(inp, v)))
        elif isinstance(inp, UniformInput):
            ch[inp.path] = float(v)
    if structural_only:
        return ch
    wcols = [c for c in row.keys() if isinstance(c, str) and c.startswith("w:")]
    weights = {c[2:]: float(row[c]) for c in wcols}
    for inp in uspec.inputs:
        if isinstance(inp, ExcludeInput) and row[inp.name] != "none":
            weights[str(row[inp.name])] = 0.0
    if weights:
        for code, w in weights.items():
            ch[f"tree.{code}.weight"] = w
        if spec.step_index("weight") is not None:
            ch["steps.weight.method"] = "explicit"
            ch["steps.weight.params"] = {}
            ch["steps.weight.overrides"] = {}
    return ch


def choice_index(inp: ChoiceInput, v: Any) -> int:
    labels = [inp.label(i) for i in range(inp.n_levels)]
    for i, lab in enumerate(labels):
        if lab == v or str(lab) == str(v):
            return i
        if isinstance(lab, (int, float)) and not isinstance(lab, bool):
            try:
                if float(v) == float(lab):
                    return i
            except (TypeError, ValueError):
                pass
    raise HumsecError(f"input '{inp.name}': value {v!r} is not one of {labels}")


def structural_names(uspec: UncertaintySpec) -> list[str]:
    """The inputs that change a build's structure (choices, uniform parameters): runs
    equal on these share one build up to aggregation."""
    return [inp.name for inp in uspec.inputs if isinstance(inp, (ChoiceInput, UniformInput))]


def validate_against(uncertainty: UncertaintySpec, spec: IndexSpec) -> None:
    """Raise a :class:`ValidationError` with every located problem of ``uncertainty``
    against ``spec``."""
    problems = uncertainty.check(spec)
    if problems:
        raise ValidationError(problems)

