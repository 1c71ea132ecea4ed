"""The declarative, versioned index specification (YAML <-> pydantic).

An :class:`IndexSpec` fully determines an index: the tree of indicators and aggregates
(any depth), each node's direction, weight and optional target / goalposts / denominator,
the unit groups used by group imputation, and the ordered list of :class:`Step` s, each
naming a method (a key of one of the registries in :mod:`humsec.index.methods`) and its
parameters, applied globally with optional overrides per node or per level.

``IndexSpec.from_yaml(spec.to_yaml()) == spec`` for every valid spec; :func:`validate_spec`
reports *every* problem of a spec at once, each with its location (``tree[3].parent``,
``steps[2].params.winmax`` ...).

Example
-------
.. code-block:: yaml

    spec_version: 1
    name: demo
    tree:
      - {code: a, parent: top, direction: 1}
      - {code: b, parent: top, direction: -1, weight: 2}
      - {code: top}
    steps:
      - {step: normalise, method: minmax, params: {lo: 0, hi: 100}}
      - {step: aggregate, method: arithmetic}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.index.uncertainty_spec import UncertaintySpec
from humsec.yamlio import dump_yaml, load_yaml, model_issues, read_text

SPEC_VERSION: Literal[1] = 1

#: Step families in their canonical order. ``weight`` declares how the weights of the
#: children of each aggregate are obtained; it is applied during ``aggregate``.
STEP_FAMILIES = ("denominate", "impute", "screen", "treat", "normalise", "weight", "aggregate")

#: Name of the data set produced by each step family (COINr's names).
DATASET_OF = {
    "denominate": "Denominated",
    "impute": "Imputed",
    "screen": "Screened",
    "treat": "Treated",
    "normalise": "Normalised",
    "aggregate": "Aggregated",
}


#: Cached views of an :class:`IndexSpec`'s tree (dropped by ``model_copy`` when the tree
#: changes).
_TREE_CACHES = ("nodes", "children", "indicators", "aggregates", "root", "denominators", "levels")


class Node(BaseModel):
    """A node of the index tree: an indicator (a leaf) or an aggregate (has children).

    Parameters
    ----------
    code : str
        Identifier; for indicators, the indicator code in the data.
    name : str, optional
        Human-readable name.
    parent : str, optional
        Code of the parent aggregate; ``None`` for the root.
    direction : {1, -1}
        +1 if higher values are better.
    weight : float
        Weight relative to its siblings (re-normalised among siblings), >= 0.
    target : float, optional
        Target or optimum (distance-to-target and SDR normalisation).
    goalposts : [lo, hi], optional
        Fixed minimum and maximum (goalpost normalisation).
    log : bool
        Goalpost normalisation on the natural logarithm (e.g. GNI per capita).
    denominator : str, optional
        Code of the indicator this one is divided by in the ``denominate`` step.
    unit : str, optional
        Unit of measurement.
    rationale : str, optional
        Why the node is in the index: what it measures, its source, its goalposts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1)
    name: str = ""
    parent: str | None = None
    direction: Literal[1, -1] = 1
    weight: float = Field(default=1.0, ge=0)
    target: float | None = None
    goalposts: tuple[float, float] | None = None
    log: bool = False
    denominator: str | None = None
    unit: str = ""
    rationale: str = ""

    @field_validator("goalposts")
    @classmethod
    def _goalposts(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not v[0] < v[1]:
            raise ValueError("expected [lo, hi] with lo < hi")
        return v


class Override(BaseModel):
    """A node- or level-specific replacement of a step's method and/or parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class Step(BaseModel):
    """One step of the pipeline.

    Parameters
    ----------
    step : str
        Step family, one of :data:`STEP_FAMILIES`.
    method : str
        Method name in the family's registry.
    params : dict
        Parameters of the method (validated against its parameter model).
    overrides : dict
        Per-node (key = node code) or per-level (key ``"level:N"``) overrides; node
        overrides win over level overrides. For ``treat``/``normalise``/``denominate``
        they address indicators; for ``weight``/``aggregate`` the aggregate whose
        children are weighted/aggregated.
    exclude : list of str
        Indicators the step leaves untouched (``treat``, ``normalise``, ``denominate``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: str
    method: str
    params: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, Override] = Field(default_factory=dict)
    exclude: tuple[str, ...] = ()


class IndexSpec(BaseModel):
    """A complete, versioned composite-index specification.

    Parameters
    ----------
    spec_version : int
        Version of this schema (currently 1).
    name : str
        Short identifier.
    title, description, version, source : str
        Metadata; ``version`` is the index's own edition.
    tree : list of Node
        Indicators and aggregates; exactly one root.
    groups : dict
        ``{group_name: {unit: label}}`` unit groupings (e.g. income group) used by group
        imputation. In a YAML file, either inline or — for many units — the name of a
        CSV file beside the spec (``groups: groups.csv``; columns ``unit`` and one per
        grouping, an empty cell = no label), read by :meth:`from_file` (see
        :func:`read_groups`, :meth:`write`).
    steps : list of Step
        The ordered pipeline.
    uncertainty : dict, optional
        The index's uncertain inputs (an
        :class:`~humsec.index.uncertainty.UncertaintySpec`), validated against the tree.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec_version: Literal[1] = SPEC_VERSION
    name: str = Field(min_length=1)
    title: str = ""
    description: str = ""
    version: str = "1"
    source: str = ""
    tree: tuple[Node, ...]
    groups: dict[str, dict[str, str]] = Field(default_factory=dict)
    steps: tuple[Step, ...] = ()
    uncertainty: dict[str, Any] | None = None

    @field_validator("uncertainty")
    @classmethod
    def _json_form(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        # held in its JSON form (mapping keys as strings, e.g. noise levels), so that
        # spec -> YAML -> spec gives an equal spec
        return None if v is None else json.loads(json.dumps(v, default=str))

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> IndexSpec:
        """A copy (pydantic's ``model_copy``); the cached views of the tree are kept only
        if ``update`` leaves the tree alone."""
        out = super().model_copy(update=update, deep=deep)
        if update and "tree" in update:
            for k in _TREE_CACHES:
                out.__dict__.pop(k, None)
        return out

    # -- tree helpers ------------------------------------------------------------------
    @cached_property
    def nodes(self) -> dict[str, Node]:
        return {n.code: n for n in self.tree}

    @cached_property
    def children(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n.code: [] for n in self.tree}
        for n in self.tree:
            if n.parent is not None and n.parent in out:
                out[n.parent].append(n.code)
        return out

    @cached_property
    def indicators(self) -> list[str]:
        """Leaf codes in tree order."""
        return [n.code for n in self.tree if not self.children[n.code]]

    @cached_property
    def aggregates(self) -> list[str]:
        """Aggregate codes ordered bottom-up (children before parents)."""
        aggs = [n.code for n in self.tree if self.children[n.code]]
        return sorted(aggs, key=lambda c: (self.level(c), aggs.index(c)))

    @cached_property
    def root(self) -> str:
        return next(n.code for n in self.tree if n.parent is None)

    @cached_property
    def denominators(self) -> list[str]:
        return sorted({n.denominator for n in self.tree if n.denominator})

    @cached_property
    def levels(self) -> dict[str, int]:
        """Level of every node (see :meth:`level`), computed once per spec."""
        out: dict[str, int] = {}

        def lv(code: str) -> int:
            hit = out.get(code)
            if hit is None:
                kids = self.children[code]
                hit = out[code] = 1 if not kids else 1 + max(lv(k) for k in kids)
            return hit

        for n in self.tree:
            lv(n.code)
        return out

    def level(self, code: str) -> int:
        """1 for indicators, else 1 + the highest level among the node's children."""
        try:
            return self.levels[code]
        except KeyError:
            kids = self.children[code]  # an unknown code: the KeyError of the tree itself
            return 1 if not kids else 1 + max(self.level(k) for k in kids)

    def path(self, code: str) -> list[str]:
        """Codes from ``code`` up to the root."""
        out = [code]
        while self.nodes[out[-1]].parent is not None:
            out.append(self.nodes[out[-1]].parent)  # type: ignore[arg-type]
        return out

    def step_index(self, family: str) -> int | None:
        for i, s in enumerate(self.steps):
            if s.step == family:
                return i
        return None

    # -- modification (returns new objects) -------------------------------------------
    def with_changes(self, changes: Mapping[str, Any]) -> IndexSpec:
        """Return a copy with dotted-path ``changes`` applied.

        Paths address the spec's dictionary form: ``"steps.treat.params.winmax"`` (a step
        by its family name, or by position ``steps.3``), ``"tree.LPI.weight"`` (a node by
        code), ``"steps.aggregate.method"``. Setting a value to ``None`` under ``params``
        removes the parameter. A step that does not exist yet can be added with
        ``"steps.+": {...}``.
        """
        direct = _changed_directly(self, changes)
        if direct is not None:
            return direct
        data = self.to_dict()
        for path, value in changes.items():
            _set_path(data, path, value)
        return IndexSpec.from_dict(data, file=f"<{self.name} with changes>")

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.model_dump_json(exclude_defaults=False))

    def to_yaml(self, *, groups_file: str | None = None) -> str:
        """The spec as YAML; with ``groups_file`` the groups are not listed but referenced
        (``groups: <groups_file>``, a CSV beside the spec: see :meth:`write`)."""
        d = json.loads(self.model_dump_json(exclude_defaults=False, exclude={"groups"}))
        out: dict[str, Any] = {}
        for k in IndexSpec.model_fields:
            if k == "groups":
                out[k] = (groups_file if (groups_file is not None and self.groups)
                          else {g: dict(m) for g, m in self.groups.items()})
            elif k in d:
                out[k] = d[k]
        out["tree"] = [_compact_node(n) for n in out["tree"]]
        out["steps"] = [_compact_step(s) for s in out["steps"]]
        if out.get("uncertainty") is None:
            out.pop("uncertainty", None)
        return dump_yaml(out)

    def write(self, path: str | Path, *, groups_file: str | None = None) -> None:
        """Write the spec as YAML. With ``groups_file`` (a file name such as
        ``groups.csv``) and any groups, the unit groups go to that CSV beside the spec and
        the YAML names it: a spec of 50,000 units then parses in milliseconds instead of
        the seconds a YAML mapping of every unit takes."""
        from humsec.data.export import atomic_write

        path = Path(path)
        if groups_file is not None and self.groups:
            write_groups(self.groups, path.parent / groups_file)
        text = self.to_yaml(groups_file=groups_file)
        atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))

    @classmethod
    def from_dict(cls, raw: object, *, file: str = "<spec>") -> IndexSpec:
        spec = _parse(raw, file)
        issues = _semantic_issues(spec, file)
        if issues:
            raise ValidationError(issues)
        return spec

    @classmethod
    def from_yaml(cls, text: str, *, file: str = "<spec>", base: str | Path | None = None) -> IndexSpec:
        """Parse a YAML spec; a ``groups: FILE.csv`` reference is read relative to
        ``base`` (a folder; default: the current one)."""
        raw = load_yaml(text, file)
        if isinstance(raw, dict) and isinstance(raw.get("groups"), str):
            # the file's groups are checked by read_groups (str units and labels) and go in
            # as read: validating them again would copy every unit's mapping (a million
            # units x four groupings: some 120 MiB held twice while the spec is made)
            groups = _groups_from_file(raw["groups"], base, file)
            spec = _parse({**raw, "groups": {}}, file).model_copy(update={"groups": groups})
            issues = _semantic_issues(spec, file)
            if issues:
                raise ValidationError(issues)
            return spec
        return cls.from_dict(raw, file=file)

    @classmethod
    def from_file(cls, path: str | Path) -> IndexSpec:
        path = Path(path)
        return cls.from_yaml(read_text(path, "spec file"), file=str(path), base=path.parent)

    @staticmethod
    def json_schema() -> dict[str, Any]:
        """JSON Schema of the spec format (for editors and other tools)."""
        schema = IndexSpec.model_json_schema()
        schema["$id"] = f"https://humsec.org/schema/index-spec/v{SPEC_VERSION}.json"
        schema["title"] = "humsec index specification"
        return schema


# ---------------------------------------------------------------------------- helpers


def _compact_node(n: dict[str, Any]) -> dict[str, Any]:
    defaults = Node(code="x").model_dump()
    out = {"code": n["code"]}
    for k, v in n.items():
        if k != "code" and v != defaults[k]:
            out[k] = list(v) if isinstance(v, tuple) else v
    return out


def _compact_step(s: dict[str, Any]) -> dict[str, Any]:
    out = {"step": s["step"], "method": s["method"]}
    if s.get("params"):
        out["params"] = s["params"]
    if s.get("overrides"):
        out["overrides"] = {
            k: {kk: vv for kk, vv in v.items() if vv not in (None, {})} for k, v in s["overrides"].items()
        }
    if s.get("exclude"):
        out["exclude"] = list(s["exclude"])
    return out


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(cur, list):
            if part == "+" and last:
                cur.append(value)
                return
            idx = _list_index(cur, part, path)
            if last:
                cur[idx] = value
                return
            cur = cur[idx]
        elif isinstance(cur, dict):
            if last:
                if value is None and parts[-2:-1] == ["params"]:
                    cur.pop(part, None)
                else:
                    cur[part] = value
                return
            if part not in cur or cur[part] is None:
                cur[part] = {}
            cur = cur[part]
        else:
            raise HumsecError(f"change '{path}': cannot descend into '{part}'")


def _list_index(items: list[Any], key: str, path: str) -> int:
    if key.isdigit():
        idx = int(key)
        if idx >= len(items):
            raise HumsecError(f"change '{path}': index {idx} out of range")
        return idx
    for i, item in enumerate(items):
        if isinstance(item, dict) and key in (item.get("code"), item.get("step")):
            return i
    raise HumsecError(f"change '{path}': no node or step called '{key}'")


def _parse(raw: object, file: str) -> IndexSpec:
    if not isinstance(raw, dict):
        raise ValidationError(ValidationIssue("expected a mapping (spec_version, name, tree, steps)", file=file))
    try:
        return IndexSpec.model_validate(raw)
    except PydanticValidationError as exc:
        raise ValidationError(model_issues(exc, raw, file)) from None


def _semantic_issues(spec: IndexSpec, file: str) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []

    def add(msg: str, field: str) -> None:
        issues.append(ValidationIssue(msg, file=file, field=field))

    seen: dict[str, int] = {}
    for i, n in enumerate(spec.tree):
        if n.code in seen:
            add(f"duplicate node code '{n.code}' (first at tree[{seen[n.code]}])", f"tree[{i}].code")
        seen.setdefault(n.code, i)
    roots = [n.code for n in spec.tree if n.parent is None]
    if len(roots) != 1:
        add(f"expected exactly one root (a node without parent), found {len(roots)}: {', '.join(roots) or 'none'}", "tree")
    for i, n in enumerate(spec.tree):
        if n.parent is not None and n.parent not in seen:
            add(f"parent '{n.parent}' is not a node of the tree", f"tree[{i}] ({n.code}).parent")
        if n.parent == n.code:
            add("a node cannot be its own parent", f"tree[{i}] ({n.code}).parent")
        if n.denominator is not None and n.denominator in seen and seen and spec.children.get(n.denominator):
            add(f"denominator '{n.denominator}' is an aggregate, expected a data indicator", f"tree[{i}] ({n.code}).denominator")
    # cycles
    if not issues:
        for n in spec.tree:
            visited = {n.code}
            cur = n.parent
            while cur is not None:
                if cur in visited:
                    add(f"cycle in the tree through '{cur}'", f"tree ({n.code})")
                    break
                visited.add(cur)
                cur = spec.nodes[cur].parent
            if issues:
                break
    if issues:
        return issues
    leaves = set(spec.indicators)
    for i, n in enumerate(spec.tree):
        if n.code not in leaves and (n.goalposts or n.denominator or n.target is not None):
            add("goalposts/denominator/target apply to indicators only; this node has children", f"tree[{i}] ({n.code})")
    for g, members in spec.groups.items():
        if not members:
            add("empty group", f"groups.{g}")
    # steps
    order = set(STEP_FAMILIES)
    seen_steps: set[str] = set()
    levels = {spec.level(c) for c in spec.nodes}
    for i, s in enumerate(spec.steps):
        where = f"steps[{i}] ({s.step})"
        if "aggregate" in seen_steps and s.step != "aggregate":
            add(f"step '{s.step}' comes after 'aggregate'; aggregation must be the last step", where)
        if s.step not in order:
            add(f"unknown step '{s.step}'; expected one of {', '.join(STEP_FAMILIES)}", f"steps[{i}].step")
            continue
        if s.step in seen_steps:
            add(f"step '{s.step}' appears twice", where)
        seen_steps.add(s.step)
        _step_issues(spec, s, where, levels, add)
    if spec.steps and "aggregate" not in seen_steps:
        add("no 'aggregate' step: aggregates could not be computed", "steps")
    if spec.uncertainty is not None and not issues:
        try:
            UncertaintySpec.from_dict(spec.uncertainty, file=file,
                                      spec=spec.model_copy(update={"uncertainty": None}))
        except ValidationError as exc:
            for issue in exc.issues:
                issues.append(ValidationIssue(issue.message, file=file,
                                              field="uncertainty" + (f".{issue.field}" if issue.field else "")))
    return issues


def _step_issues(spec: IndexSpec, s: Step, where: str, levels: set[int], add: Any) -> None:
    """The checks of one step of a known family: its method and parameters, its
    overrides, its excluded nodes, an imputation's grouping."""
    from humsec.index.families import registry_for

    reg = registry_for(s.step)
    _check_method(reg, s.method, s.params, f"{where}", add)
    for key, ov in s.overrides.items():
        okey = f"{where}.overrides.{key}"
        if key.startswith("level:"):
            lv = key.split(":", 1)[1]
            if not lv.isdigit() or int(lv) not in levels:
                add(f"unknown level '{lv}'; the tree has levels {sorted(levels)}", okey)
        elif key not in spec.nodes:
            add(f"'{key}' is not a node of the tree", okey)
        _check_method(reg, ov.method or s.method, {**(s.params if ov.method is None else {}), **ov.params}, okey, add)
    for code in s.exclude:
        if code not in spec.nodes:
            add(f"'{code}' is not a node of the tree", f"{where}.exclude")
    if s.step == "impute":
        grp = s.params.get("group")
        if grp is not None and grp not in spec.groups:
            add(f"group '{grp}' is not defined under 'groups' (have: {', '.join(spec.groups) or 'none'})",
                f"{where}.params.group")


def _changed_directly(spec: IndexSpec, changes: Mapping[str, Any]) -> IndexSpec | None:
    """``spec.with_changes(changes)`` for the changes of an uncertainty run - node weights
    (``tree.<code>.weight``) and a step's method or parameters (``steps.<family>.method``,
    ``steps.<family>.params[.<name>]``) - without re-validating the whole spec: the new
    weights are checked as :class:`Node` checks them and each changed step as
    :func:`validate_spec` checks it (so the result equals the full path's). None for any
    other change, and for anything the checks do not pass (the full path then reports
    it, located)."""
    if spec.uncertainty is not None:
        return None
    weights: dict[str, float] = {}
    steps: dict[int, dict[str, Any]] = {}
    for path, value in changes.items():
        parts = path.split(".")
        if len(parts) == 3 and parts[0] == "tree" and parts[2] == "weight" and parts[1] in spec.nodes:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                return None
            weights[parts[1]] = float(value)
        elif (len(parts) >= 3 and parts[0] == "steps" and not parts[1].isdigit() and parts[2] in ("method", "params")
              and (parts[2] == "params" or len(parts) == 3) and len(parts) <= 4):
            i = spec.step_index(parts[1])
            if i is None:
                return None
            d = steps.get(i)
            if d is None:
                d = steps[i] = spec.steps[i].model_dump()
            _set_path(d, ".".join(parts[2:]), value)
        else:
            return None
    new_steps = list(spec.steps)
    issues: list[str] = []
    for i, d in steps.items():
        try:
            new_steps[i] = Step.model_validate(d)
        except PydanticValidationError:
            return None
        _step_issues(spec, new_steps[i], f"steps[{i}]", set(spec.levels.values()), lambda msg, field: issues.append(msg))
    if issues:
        return None
    update: dict[str, Any] = {}
    if steps:
        update["steps"] = tuple(new_steps)
    if weights:
        update["tree"] = tuple(n.model_copy(update={"weight": weights[n.code]}) if n.code in weights else n
                               for n in spec.tree)
    out = BaseModel.model_copy(spec, update=update)
    out.__dict__.pop("nodes", None)  # the same tree but new nodes: the other views stay valid
    return out


def _check_method(reg: Any, method: str, params: Mapping[str, Any], where: str, add: Any) -> None:
    if method not in reg:
        try:
            reg.get(method)
        except HumsecError as exc:
            add(str(exc), f"{where}.method")
        return
    try:
        reg.get(method).validate_params(params)
    except HumsecError as exc:
        add(str(exc), f"{where}.params")


def read_groups(path: str | Path) -> dict[str, dict[str, str]]:
    """Unit groups from a CSV/TSV/XLSX/Parquet file: a ``unit`` column and one column per
    grouping (``{grouping: {unit: label}}``; empty cells = no label, values stripped).

    Raises
    ------
    ValidationError
        No ``unit`` column, empty or duplicate unit codes — each located (file, row, column).
    """
    from humsec.index.io import release_arrow_memory

    try:
        return _read_groups(path)
    finally:
        release_arrow_memory()


def _read_groups(path: str | Path) -> dict[str, dict[str, str]]:
    import numpy as np

    from humsec.index.io import _codes, _strip, read_text_table

    file = str(path)
    t = read_text_table(path)
    cols = {c.lower(): c for c in t.columns}
    if "unit" not in cols:
        raise ValidationError(ValidationIssue(
            f"missing column 'unit': expected unit, <grouping>... (found: {', '.join(t.columns)})",
            file=file, row=1))
    ucol = cols["unit"]
    codes, uniq = _codes(_strip(t, ucol))
    units = uniq[codes]
    issues: list[ValidationIssue] = []
    rows = np.arange(len(units)) + 2
    for r in rows[units == ""][:200]:
        issues.append(ValidationIssue("empty unit code", file=file, row=int(r), field=ucol))
    first = np.zeros(len(uniq), dtype=bool)
    seen = np.zeros(len(units), dtype=bool)
    order = np.unique(codes, return_index=True)[1] if len(codes) else np.array([], dtype=int)
    first[codes[order]] = True
    seen[order] = True
    for r, u in zip(rows[~seen][:50], units[~seen][:50]):
        issues.append(ValidationIssue(f"duplicate unit '{u}': expected one row per unit", file=file,
                                      row=int(r), field=ucol))
    if issues:
        raise ValidationError(issues)
    # one str object per distinct unit and per distinct label, shared by every grouping
    # (not one per cell: a million units in four groupings would hold 8 million strings)
    unit_objs = _shared(uniq)[codes]
    out: dict[str, dict[str, str]] = {}
    for c in t.columns:
        if c == ucol:
            continue
        gcodes, guniq = _codes(_strip(t, c))
        has = (guniq != "")[gcodes]
        out[c] = dict(zip(unit_objs[has].tolist(), _shared(guniq)[gcodes[has]].tolist()))
    return out


def _shared(words: Any) -> Any:
    """An object array of one Python str per element of ``words`` (its ``take`` and
    ``tolist`` hand out these objects, not new ones)."""
    import numpy as np

    out = np.empty(len(words), dtype=object)
    out[:] = [str(w) for w in words.tolist()]
    return out


def write_groups(groups: Mapping[str, Mapping[str, str]], path: str | Path) -> Path:
    """Write unit groups as CSV (``unit`` and one column per grouping; see
    :func:`read_groups`), atomically."""
    import pandas as pd

    from humsec.index.io import write_csv_fast

    frame = pd.DataFrame({g: pd.Series(dict(m), dtype=object) for g, m in groups.items()})
    frame = frame.fillna("")
    frame.index.name = "unit"
    frame = frame.reset_index()
    return write_csv_fast(frame, path, crlf=False, safe=False)


def _groups_from_file(name: str, base: str | Path | None, file: str) -> dict[str, dict[str, str]]:
    p = Path(name)
    if not p.is_absolute() and base is not None:
        p = Path(base) / p
    if not p.is_file():
        raise ValidationError(ValidationIssue(f"groups file '{name}' not found (looked for {p})",
                                              file=file, field="groups"))
    return read_groups(p)


def validate_spec(spec: str | Path | Mapping[str, Any] | IndexSpec) -> IndexSpec:
    """Load and validate a spec; raise :class:`ValidationError` listing every problem."""
    if isinstance(spec, IndexSpec):
        return IndexSpec.from_dict(spec.to_dict(), file=spec.name)
    if isinstance(spec, Mapping):
        return IndexSpec.from_dict(dict(spec))
    return IndexSpec.from_file(spec)
