"""COINr interoperability: turn a COINr ``iData``/``iMeta`` pair into a humsec spec + data.

COINr (the JRC's R package for composite indicators) describes an index with two tables:
``iData`` (one row per unit: ``uCode``, ``uName``, optional ``Time``, group columns,
denominators and indicators) and ``iMeta`` (one row per indicator, aggregate, group or
denominator: ``Level``, ``iCode``, ``iName``, ``Direction``, ``Weight``, ``Unit``,
``Target``, ``Denominator``, ``Parent``, ``Type``). :func:`import_coinr` converts them
into an :class:`~humsec.index.spec.IndexSpec` whose steps are those of COINr's
``build_example_coin()``:

denominate -> impute (group mean by a group column) -> screen (availability 0.9) ->
treat (COINr rule, winmax 5) -> normalise (min-max 0-100) -> aggregate (arithmetic mean
with the iMeta weights).

References
----------
.. [COINr] Becker, W. et al. (2022). COINr: An R package for developing composite
   indicators. *JOSS* 7(78), 4567. https://doi.org/10.21105/joss.04567
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from humsec.data.importer import _NUMBER, _read_raw
from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.index.spec import IndexSpec

__all__ = ["COINR_EXAMPLE_STEPS", "import_coinr", "write_coinr_import"]

#: Steps of COINr's ``build_example_coin()`` (the group is filled in by :func:`import_coinr`).
COINR_EXAMPLE_STEPS = (
    {"step": "denominate", "method": "ratio"},
    {"step": "impute", "method": "group_mean", "params": {"group": None}},
    {"step": "screen", "method": "availability", "params": {"min_availability": 0.9}},
    {"step": "treat", "method": "coinr", "params": {"winmax": 5}},
    {"step": "normalise", "method": "minmax", "params": {"lo": 0, "hi": 100}},
    {"step": "aggregate", "method": "arithmetic"},
)

_META_COLS = ("Level", "iCode", "iName", "Direction", "Weight", "Type", "Parent")


def _num(v: str) -> float | None:
    v = (v or "").strip()
    if v == "" or v.upper() == "NA":
        return None
    if not _NUMBER.fullmatch(v):
        raise ValueError(v)
    return float(v)


#: The group by which COINr's ``build_example_coin()`` imputes (COINr >= 1.1).
EXAMPLE_IMPUTE_GROUP = "EurAsia_group"


def import_coinr(idata: str | Path, imeta: str | Path, *, name: str = "coinr",
                 impute_group: str | None = None) -> tuple[IndexSpec, pd.DataFrame]:
    """Convert COINr ``iData``/``iMeta`` CSV files into a spec and tidy data.

    Parameters
    ----------
    idata, imeta : path
        The two CSV files (missing values empty or ``NA``).
    name : str
        Name of the spec.
    impute_group : str, optional
        Group column used by group-mean imputation. Default: ``EurAsia_group`` if
        present — COINr 1.1's ``build_example_coin()`` runs
        ``Impute(f_i = "i_mean_grp", use_group = "EurAsia_group")``, and only that group
        reproduces COINr's published ASEM results and correlations — else the first
        group of ``iMeta``; with no groups, plain mean imputation.

    Returns
    -------
    (IndexSpec, pandas.DataFrame)
        The spec and tidy data (``unit, [year,] indicator, value``) covering indicators
        and denominators.

    Raises
    ------
    ValidationError
        Every problem in the two files, located by file, row and column.
    """
    idata, imeta = Path(idata), Path(imeta)
    meta, _ = _read_raw(imeta, None)
    dat, _ = _read_raw(idata, None)
    issues: list[ValidationIssue] = []
    mfile, dfile = str(imeta), str(idata)
    lack = [c for c in _META_COLS if c not in meta.columns]
    if lack:
        raise ValidationError(ValidationIssue(
            f"missing column(s) {', '.join(lack)}: expected COINr iMeta columns "
            f"{', '.join(_META_COLS)}, [Unit, Target, Denominator]", file=mfile, row=1))
    if "uCode" not in dat.columns:
        raise ValidationError(ValidationIssue("missing column 'uCode': expected a COINr iData table",
                                              file=dfile, row=1))
    tree: list[dict] = []
    groups: list[str] = []
    denoms: list[str] = []
    codes: set[str] = set()
    for i, r in meta.iterrows():
        row = int(i) + 2
        typ = r["Type"].strip()
        code = r["iCode"].strip()
        if not code:
            issues.append(ValidationIssue("empty iCode", file=mfile, row=row, field="iCode"))
            continue
        if code in codes:
            issues.append(ValidationIssue(f"duplicate iCode '{code}'", file=mfile, row=row, field="iCode"))
        codes.add(code)
        if typ == "Group":
            groups.append(code)
            continue
        if typ == "Denominator":
            denoms.append(code)
            continue
        if typ not in ("Indicator", "Aggregate"):
            issues.append(ValidationIssue(
                f"unknown Type '{typ}': expected Indicator, Aggregate, Group, Denominator or Other",
                file=mfile, row=row, field="Type"))
            continue
        node: dict = {"code": code, "name": r["iName"].strip()}
        parent = r["Parent"].strip()
        if parent and parent.upper() != "NA":
            node["parent"] = parent
        for col, key in (("Direction", "direction"), ("Weight", "weight"), ("Target", "target")):
            if col not in meta.columns:
                continue
            try:
                v = _num(r[col])
            except ValueError:
                issues.append(ValidationIssue(f"non-numeric {col} '{r[col]}'", file=mfile, row=row, field=col))
                continue
            if v is None:
                continue
            if key == "direction":
                if v not in (1.0, -1.0):
                    issues.append(ValidationIssue(f"Direction {v:g}: expected 1 or -1", file=mfile, row=row, field=col))
                    continue
                v = int(v)
            if key == "target" and typ != "Indicator":
                continue
            node[key] = v
        if "Denominator" in meta.columns and typ == "Indicator":
            d = r["Denominator"].strip()
            if d and d.upper() != "NA":
                node["denominator"] = d
        if "Unit" in meta.columns and r["Unit"].strip():
            node["unit"] = r["Unit"].strip()
        tree.append(node)
    if issues:
        raise ValidationError(issues)

    indicators = [n["code"] for n in tree if not any(m.get("parent") == n["code"] for m in tree)]
    needed = indicators + denoms
    absent = [c for c in needed if c not in dat.columns]
    for c in groups:
        if c not in dat.columns:
            absent.append(c)
    if absent:
        raise ValidationError(ValidationIssue(
            f"iData lacks column(s) declared in iMeta: {', '.join(absent)}", file=dfile, row=1))
    units = dat["uCode"].str.strip()
    for i in units.index[units == ""]:
        issues.append(ValidationIssue("empty uCode", file=dfile, row=int(i) + 2, field="uCode"))
    for i in units.index[units.duplicated() & ("Time" not in dat.columns)]:
        issues.append(ValidationIssue(f"duplicate uCode '{units[i]}'", file=dfile, row=int(i) + 2, field="uCode"))
    long_rows = []
    for col in needed:
        for i, v in dat[col].items():
            try:
                x = _num(v)
            except ValueError:
                issues.append(ValidationIssue(f"non-numeric value '{v}'", file=dfile, row=int(i) + 2, field=col))
                continue
            if x is not None and not math.isfinite(x):
                issues.append(ValidationIssue("value is not finite", file=dfile, row=int(i) + 2, field=col))
                continue
            rec = {"unit": units[i], "indicator": col, "value": x}
            if "Time" in dat.columns:
                rec["year"] = dat.at[i, "Time"].strip()
            long_rows.append(rec)
    if issues:
        raise ValidationError(issues)
    data = pd.DataFrame(long_rows)
    data["value"] = data["value"].astype(float)
    if "year" in data.columns:
        try:
            data["year"] = data["year"].astype(int)
        except ValueError:
            raise ValidationError(ValidationIssue("non-integer Time values", file=dfile, field="Time")) from None
        data = data[["unit", "year", "indicator", "value"]]
    group_map = {g: {u: dat.at[i, g].strip() for i, u in units.items() if dat.at[i, g].strip()}
                 for g in groups}
    if impute_group is not None and impute_group not in groups:
        raise HumsecError(f"impute group '{impute_group}' is not a Group in {mfile} "
                          f"(groups: {', '.join(groups) or 'none'})")
    grp = impute_group or (EXAMPLE_IMPUTE_GROUP if EXAMPLE_IMPUTE_GROUP in groups
                           else (groups[0] if groups else None))
    steps = [dict(s) for s in COINR_EXAMPLE_STEPS]
    if not denoms or not any("denominator" in n for n in tree):
        steps = [s for s in steps if s["step"] != "denominate"]
    for s in steps:
        if s["step"] == "impute":
            if grp is None:
                s.update(method="mean", params={})
            else:
                s["params"] = {"group": grp}
    spec = IndexSpec.from_dict({
        "name": name,
        "title": f"Imported from COINr ({idata.name}, {imeta.name})",
        "source": "COINr iData/iMeta",
        "tree": tree,
        "groups": group_map,
        "steps": steps,
    }, file=f"{imeta} (converted)")
    return spec, data


def write_coinr_import(idata: str | Path, imeta: str | Path, out_dir: str | Path, **kw) -> tuple[Path, Path]:
    """Run :func:`import_coinr` and write ``OUT/spec.yaml`` and ``OUT/data.csv`` atomically."""
    from humsec.data.export import atomic_write

    spec, data = import_coinr(idata, imeta, **kw)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec_path, data_path = out / "spec.yaml", out / "data.csv"
    atomic_write(spec_path, lambda p: p.write_text(spec.to_yaml(), encoding="utf-8"))
    atomic_write(data_path, lambda p: data.to_csv(p, index=False, float_format="%.17g", lineterminator="\n"))
    return spec_path, data_path
