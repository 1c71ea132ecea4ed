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

from pathlib import Path

import numpy as np
import pandas as pd

from humsec.data.importer import NUMBER
from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.index.io import _strings, _strip, _text, read_text_table, take_text, write_csv_fast
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

#: Missing-value markers of COINr files (R writes NA; empty cells are missing too).
_COINR_MISSING = ("", "na")


def _num(v: str) -> float | None:
    v = (v or "").strip()
    if v == "" or v.upper() == "NA":
        return None
    if not NUMBER.fullmatch(v):
        raise ValueError(v)
    return float(v)


def _meta_tree(meta: pd.DataFrame, mfile: str, issues: list[ValidationIssue]
               ) -> tuple[list[dict], list[str], list[str]]:
    """Tree nodes, group and denominator codes of an iMeta table (one row per node)."""
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
    return tree, groups, denoms


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
    mt = read_text_table(imeta)
    meta = pd.DataFrame({c: _strings(mt.raw(c)) for c in mt.columns})
    issues: list[ValidationIssue] = []
    mfile, dfile = str(imeta), str(idata)
    lack = [c for c in _META_COLS if c not in meta.columns]
    if lack:
        raise ValidationError(ValidationIssue(
            f"missing column(s) {', '.join(lack)}: expected COINr iMeta columns "
            f"{', '.join(_META_COLS)}, [Unit, Target, Denominator]", file=mfile, row=1))
    tree, groups, denoms = _meta_tree(meta, mfile, issues)
    indicators = [n["code"] for n in tree if not any(m.get("parent") == n["code"] for m in tree)]
    needed = indicators + denoms
    # the indicator and denominator columns are parsed as numbers by Arrow when every cell
    # is a number or missing; otherwise read as text and checked cell by cell below
    dat = read_text_table(idata, numeric=needed, markers=_COINR_MISSING)
    if "uCode" not in dat.columns:
        raise ValidationError(ValidationIssue("missing column 'uCode': expected a COINr iData table",
                                              file=dfile, row=1))
    if issues:
        raise ValidationError(issues)

    absent = [c for c in needed if c not in dat.columns]
    for c in groups:
        if c not in dat.columns:
            absent.append(c)
    if absent:
        raise ValidationError(ValidationIssue(
            f"iData lacks column(s) declared in iMeta: {', '.join(absent)}", file=dfile, row=1))
    # every check below is vectorised over units: no Python code runs per cell
    n = len(dat)
    rows = np.arange(n) + 2
    units = _strings(_strip(dat, "uCode")).to_numpy(dtype=object)
    for r in rows[units == ""]:
        issues.append(ValidationIssue("empty uCode", file=dfile, row=int(r), field="uCode"))
    if "Time" not in dat.columns:
        dup = pd.Series(units).duplicated().to_numpy()
        for r, u in zip(rows[dup], units[dup]):
            issues.append(ValidationIssue(f"duplicate uCode '{u}'", file=dfile, row=int(r), field="uCode"))
    blocks = []
    for col in needed:
        miss, num, values, vs = dat.numbers(col)
        if vs is not None:  # some cell is neither a finite number nor missing
            bad = ~miss & ~num
            if bad.any():
                raw = _text(dat.raw(col), bad, int(bad.sum()))
                for r, v in zip(rows[bad], raw):
                    issues.append(ValidationIssue(f"non-numeric value '{v}'", file=dfile, row=int(r), field=col))
            values = np.where(num, values, np.nan)
            for r in rows[num & ~np.isfinite(values)]:
                issues.append(ValidationIssue("value is not finite", file=dfile, row=int(r), field=col))
        blocks.append(values)
    if issues:
        raise ValidationError(issues)
    k = len(needed)
    data = pd.DataFrame({
        "unit": take_text(units, np.tile(np.arange(n), k)),
        "indicator": take_text(np.array(needed, dtype=object), np.repeat(np.arange(k), n)),
        "value": np.concatenate(blocks) if blocks else np.array([], dtype=float),
    })
    if "Time" in dat.columns:
        times = _strings(_strip(dat, "Time"))
        try:
            years = times.astype(int).to_numpy()
        except ValueError:
            raise ValidationError(ValidationIssue("non-integer Time values", file=dfile, field="Time")) from None
        data.insert(1, "year", np.tile(years, k))
    group_map = {}
    for g in groups:
        labels = _strings(_strip(dat, g)).to_numpy(dtype=object)
        has = labels != ""
        group_map[g] = dict(zip(units[has].tolist(), labels[has].tolist()))
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
    """Run :func:`import_coinr` and write ``OUT/spec.yaml``, ``OUT/data.csv`` and (if the
    data has unit groups) ``OUT/groups.csv`` beside the spec, atomically.

    Numbers are written in their shortest round-trip form: reading ``data.csv`` back gives
    the imported floats bit for bit.
    """
    spec, data = import_coinr(idata, imeta, **kw)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec_path, data_path = out / "spec.yaml", out / "data.csv"
    spec.write(spec_path, groups_file=GROUPS_FILE)
    write_csv_fast(data, data_path, crlf=False, safe=False)
    return spec_path, data_path


#: File name of the unit groups written beside an imported spec.
GROUPS_FILE = "groups.csv"
