"""Build a data release from the publishers' files: read, gate licences, check, write atomically.

``build_release(DIR)`` follows the recipe (:mod:`humsec.data.release.recipe`):

1. every file the recipe's sources declare must exist under ``DIR/<folder>/`` (all
   missing files are reported at once); each is hashed (SHA-256) into the manifest;
2. the **licence gate**: an indicator whose licence is not open is refused, naming the
   indicator, its series, the licence and the evidence; series the recipe marks
   ``ship: false`` (test-only) are left out unless ``include_test_only`` - and a release
   that holds them is marked *not shippable*;
3. each series is read by its source's reader, converted (scale, per-capita rates from
   another indicator of the release), cut to the release's years and checked against the
   indicator's valid range - every problem located by file, series, unit and year;
4. the release is written to a temporary directory beside ``out`` and moved into place
   in one rename: a failed or interrupted build never leaves a half-written release.

Rebuilding from the same files with the same humsec gives the same bytes (sorted rows, no
timestamps), hence the same content hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from humsec.data.countries import CountryRegistry
from humsec.data.release import outlines
from humsec.data.release.readers import READERS, CodeMapper, SourceFiles, file_sha256, unhcr
from humsec.data.release.recipe import IndicatorRecipe, Recipe, load_recipe
from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.model.panel import Panel, Provenance

__all__ = ["BUILDER_VERSION", "LicenceRefusedError", "build_release", "write_release"]

#: Bumped whenever the builder's output for the same files and recipe changes.
BUILDER_VERSION = "1"


class LicenceRefusedError(HumsecError):
    """A series whose licence does not allow redistribution was asked to ship."""


@dataclass(frozen=True)
class Built:
    """What :func:`build_release` produced (not yet written)."""

    recipe: Recipe
    panel: Panel
    displacement: pd.DataFrame
    manifest: dict
    geography: Any = None
    """:class:`~humsec.data.release.outlines.Geography` (outlines, borders, points), if the recipe has one."""


def _sources_used(recipe: Recipe, indicators: list[IndicatorRecipe]) -> list[str]:
    used = {i.source.source for i in indicators}
    if recipe.displacement:
        used.add(recipe.displacement.source)
    if recipe.geography:
        used.add(recipe.geography.source)
    return [s.id for s in recipe.sources if s.id in used]


def _gate(recipe: Recipe, include_test_only: bool) -> tuple[list[IndicatorRecipe], dict]:
    """Indicators that go into the build and the licence decision of every indicator."""
    decisions: dict[str, dict] = {}
    refused = []
    keep = []
    for ind in recipe.indicators:
        dec = recipe.decision(ind)
        terms = recipe.licences[dec.licence]
        rec = {"licence": dec.licence, "licence_name": terms.name, "open": terms.open,
               "evidence": dec.evidence, "source": ind.source.source, "series": ind.source.series}
        if not ind.ship:
            rec["decision"] = "test-only (not shipped)" + ("" if not include_test_only else ", included")
            rec["reason"] = ind.why_not_shipped
            if include_test_only:
                keep.append(ind)
        elif not terms.open:
            rec["decision"] = "refused"
            refused.append(ind)
        else:
            rec["decision"] = "shipped"
            keep.append(ind)
        decisions[ind.code] = rec
    if refused:
        lines = [f"  - {i.code} ({i.source.source} series {i.source.series}): licence "
                 f"{recipe.decision(i).licence} ({recipe.licences[recipe.decision(i).licence].name}) "
                 f"does not allow redistribution in a shipped release; evidence: {recipe.decision(i).evidence}"
                 for i in refused]
        raise LicenceRefusedError(
            "the licence gate refused {} series:\n{}\nMark such series 'ship: false' (test-only) with "
            "why_not_shipped, or replace them by an openly licensed source.".format(len(refused), "\n".join(lines)))
    return keep, decisions


def _order(indicators: list[IndicatorRecipe]) -> list[IndicatorRecipe]:
    """Denominators before the rates that divide by them."""
    done: set[str] = set()
    out = []
    pending = list(indicators)
    while pending:
        nxt = []
        for ind in pending:
            den = (ind.source.per_capita or {}).get("denominator")
            if den is None or den in done:
                out.append(ind)
                done.add(ind.code)
            else:
                nxt.append(ind)
        if len(nxt) == len(pending):
            raise HumsecError("per-capita denominators form a cycle or are not built: "
                              + ", ".join(i.code for i in nxt))
        pending = nxt
    return out


def build_release(source_dir: str | Path, recipe: Recipe | str | Path | None = None, *,
                  include_test_only: bool = False, registry=None,
                  progress: Callable[[str], None] | None = None) -> Built:
    """Build a release (in memory) from the publishers' files under ``source_dir``.

    Parameters
    ----------
    source_dir : path
        Directory holding one folder per source (the layout of ``../shared/data``).
    recipe : Recipe or path, optional
        Default: the shipped recipe.
    include_test_only : bool
        Also read the series marked ``ship: false``; the result is then not shippable.
    registry : CountryRegistry, optional
    progress : callable, optional
        Called with a short message per step.

    Raises
    ------
    LicenceRefusedError
        A series to ship is not openly licensed.
    ValidationError
        Missing or malformed files, unknown country codes, values outside their range,
        each located by file, row and field.
    """
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    root = Path(source_dir).expanduser()
    if not root.is_dir():
        raise HumsecError(f"{root}: source directory not found (expected one folder per source, "
                          "e.g. un_sdg_global_database/, wgi_2024/)")
    say = progress or (lambda msg: None)
    indicators, decisions = _gate(recipe, include_test_only)
    files: dict[str, SourceFiles] = {}
    missing = []
    for sid in _sources_used(recipe, indicators):
        src = recipe.source(sid)
        # files that are themselves series (OWID charts) are needed only by their indicators
        as_series = {i.source.series for i in recipe.indicators if i.source.source == sid} & set(src.files)
        wanted = {i.source.series for i in indicators if i.source.source == sid}
        sf = SourceFiles(sid, root / src.folder, tuple(f for f in src.files if f not in as_series or f in wanted))
        files[sid] = sf
        missing += [ValidationIssue(f"missing file of source '{sid}' ({src.publisher}, {src.dataset})",
                                    file=str(sf.root / n)) for n in sf.missing()]
    if missing:
        raise ValidationError(missing)
    hashes = {f"{recipe.source(sid).folder}/{n}": {"sha256": file_sha256(sf.path(n)),
                                                    "bytes": sf.path(n).stat().st_size}
              for sid, sf in files.items() for n in sf.names}
    registry = registry or CountryRegistry.default()
    codes = CodeMapper(registry)
    loaded: dict[str, object] = {}

    def source_data(sid: str):
        if sid not in loaded:
            say(f"reading {recipe.source(sid).folder}")
            try:
                loaded[sid] = READERS[recipe.source(sid).reader].load(files[sid])
            except (ValueError, TypeError, KeyError) as exc:  # ValidationError is neither: it passes
                raise ValidationError(ValidationIssue(
                    f"could not be read ({type(exc).__name__}: {exc})", file=str(files[sid].root))) from None
        return loaded[sid]

    last_year = recipe.released.year
    frames: dict[str, pd.DataFrame] = {}
    report: dict[str, dict] = {}
    issues: list[ValidationIssue] = []
    for ind in _order(indicators):
        sel = ind.source
        src = recipe.source(sel.source)
        reader = READERS[src.reader]
        data = source_data(sel.source)
        parts = sel.options.get("parts") or [{}]
        got: list[Any] = []
        dropped: dict[str, Any] = {}
        for part in parts:
            opts = {k: v for k, v in sel.options.items() if k != "parts"} | {k: v for k, v in part.items() if k != "series"}
            # constant disaggregation codes of a part (sex: F) are set here, for every reader;
            # mappings (sex: {female: F}) are reader options
            const = {k: opts.pop(k) for k in ("sex", "age", "group") if isinstance(opts.get(k), str)}
            name = part.get("series", sel.series)
            try:
                ex = reader.extract(data, name, opts, codes)
            except (ValueError, TypeError, KeyError) as exc:  # a layout the reader's checks missed
                raise ValidationError(ValidationIssue(
                    f"series '{name}' could not be read ({type(exc).__name__}: {exc}); the publisher's "
                    "layout may have changed", file=str(files[sel.source].root / _series_file(src, ind)),
                    field=name)) from None
            got.append(ex.frame.assign(**const))
            for k, v in ex.dropped.items():
                dropped[k] = dropped.get(k, 0) + v
        df = pd.concat(got, ignore_index=True)
        df["value"] = df["value"] * sel.scale
        until = min(x for x in (sel.until, last_year) if x is not None)
        df = df[(df["year"] >= recipe.first_year) & (df["year"] <= until)]
        if sel.per_capita:
            den = frames[sel.per_capita["denominator"]]
            den = den[(den["sex"] == "_T") & (den["age"] == "_T") & (den["group"] == "_T")]
            den = den.set_index(["unit", "year"])["value"]
            df, den = _shared_locations(df, den, sel.per_capita.get("shared") or {}, ind.code, src.folder)
            d = den.reindex(pd.MultiIndex.from_frame(df[["unit", "year"]])).to_numpy()
            df = df.assign(value=df["value"].to_numpy() / d * float(sel.per_capita.get("per", 1)))
            lost = int(pd.isna(d).sum())
            if lost:
                dropped[f"no {sel.per_capita['denominator']} for the country-year"] = lost
            df = df[df["value"].notna()]
        dup = df.duplicated(["unit", "year", "sex", "age", "group"], keep=False)
        if dup.any():
            r = df[dup].iloc[0]
            issues.append(ValidationIssue(
                f"indicator {ind.code}: several values for {r['unit']} {r['year']} "
                f"(sex {r['sex']}, age {r['age']}, group {r['group']})", file=src.folder, field=sel.series))
            continue
        for bound, bad in (("valid_min", df["value"] < ind.valid_min if ind.valid_min is not None else None),
                           ("valid_max", df["value"] > ind.valid_max if ind.valid_max is not None else None)):
            if bad is not None and bad.any():
                for _, r in df[bad].head(5).iterrows():
                    issues.append(ValidationIssue(
                        f"{r['unit']} {r['year']}: {r['value']!r} is outside the valid range of {ind.code} "
                        f"({bound} {getattr(ind, bound)})", file=src.folder, field=sel.series))
        df = df.assign(indicator=ind.code)
        frames[ind.code] = df
        report[ind.code] = {"rows": int(len(df)), "dropped": dict(sorted(dropped.items()))}
        say(f"{ind.code}: {len(df):,} observations")
    if issues:
        raise ValidationError(issues)

    provenance = {}
    for ind in indicators:
        src = recipe.source(ind.source.source)
        dec = recipe.decision(ind)
        provenance[ind.code] = Provenance(
            source=f"{src.publisher}, {src.dataset}", publisher=src.publisher, edition=src.edition,
            accessed=src.accessed, licence=dec.licence, citation=src.attribution,
            via=f"humsec data release {recipe.release}" + (f" ({src.via})" if src.via else ""),
            url=src.url, file=f"{src.folder}/{_series_file(src, ind)}", series=ind.source.series)
    data = pd.concat([frames[i.code] for i in indicators], ignore_index=True)
    panel = Panel(data, provenance)

    displacement = pd.DataFrame(columns=["origin", "asylum", "year", "measure", "population_type", "value"])
    if recipe.displacement:
        say("displacement matrix")
        until = min(x for x in (recipe.displacement.until, last_year) if x is not None)
        displacement = unhcr.matrix(source_data(recipe.displacement.source), codes,
                                    first_year=recipe.first_year, until=until)

    geography = None
    if recipe.geography:
        say("country outlines and land borders")
        geography = _geography(recipe, files[recipe.geography.source], registry)

    manifest = _manifest(recipe, panel, displacement, decisions, hashes, report,
                         shippable=not any(not i.ship for i in indicators), geography=geography)
    return Built(recipe, panel, displacement, manifest, geography)


def _geography(recipe: Recipe, sf: SourceFiles, registry: Any) -> Any:
    """Outlines, land borders and points from the recipe's TopoJSON (:mod:`.outlines`)."""
    g = recipe.geography
    assert g is not None
    src = recipe.source(g.source)

    def to_iso3(numeric: str) -> str | None:
        try:
            return registry.to_iso3(numeric)
        except HumsecError:
            return None

    meta = {"source": f"{src.publisher}, {src.dataset}", "edition": src.edition, "licence": src.licence.licence,
            "url": src.url, "via": src.via, "file": f"{src.folder}/{g.file}", "attribution": src.attribution}
    if g.notice:
        meta["notice"] = sf.path(g.notice).read_text(encoding="utf-8")
    return outlines.build_geography(sf.path(g.file), to_iso3, tolerance=g.tolerance, relative=g.relative,
                                    min_part=g.min_part, digits=g.digits, source=meta)


def _series_file(src, ind: IndicatorRecipe) -> str:
    if src.reader == "owid":
        return ind.source.series
    return src.files[0]


def frame_hash(df: pd.DataFrame) -> str:
    """SHA-256 of a sorted frame's CSV text (for the displacement matrix)."""
    return hashlib.sha256(df.to_csv(index=False, lineterminator="\n").encode()).hexdigest()


def _manifest(recipe: Recipe, panel: Panel, displacement: pd.DataFrame, decisions: dict, hashes: dict,
              report: dict, *, shippable: bool, geography: Any = None) -> dict:
    data = panel.data
    prov = panel.provenance
    inds = {}
    for code, g in data.groupby("indicator", sort=True):
        years = g["year"]
        inds[code] = {"rows": int(len(g)), "units": int(g["unit"].nunique()),
                      "first_year": int(years.min()), "last_year": int(years.max()),
                      "content_hash": "sha256:" + prov[code].content_hash, **report.get(code, {})}
    whole = hashlib.sha256()
    for code in sorted(inds):
        whole.update(f"{code}\x1f{inds[code]['content_hash']}\n".encode())
    disp_hash = "sha256:" + frame_hash(displacement)
    whole.update(f"displacement\x1f{disp_hash}\n".encode())
    geo: dict = {}
    if geography is not None:
        recipe_geo = recipe.geography
        if recipe_geo is None:
            raise HumsecError("built outlines without a 'geography' section in the recipe")
        src = recipe.source(recipe_geo.source)
        files = {}
        for name, obj in ((outlines.OUTLINES_FILE, geography.outlines), (outlines.GEOGRAPHY_FILE, geography.geography)):
            text = outlines.dumps(obj)
            files[name] = {"content_hash": outlines.sha256(text), "bytes": len(text)}
            whole.update(f"{name}\x1f{files[name]['content_hash']}\n".encode())
        files[outlines.OUTLINES_FILE]["countries"] = geography.report["countries"]
        files[outlines.GEOGRAPHY_FILE]["border_pairs"] = geography.report["borders"]
        meta = (geography.outlines.get("source") or {})
        geo = {"geography": {
            "files": files, "source": f"{src.publisher}, {src.dataset}", "edition": src.edition,
            "licence": src.licence.licence, "evidence": src.licence.evidence, "attribution": src.attribution,
            **({"notice": meta["notice"]} if "notice" in meta else {}),
            "simplification": recipe_geo.model_dump(exclude={"source", "file", "notice"}),
            "units": geography.report["units"], "parts_left_out": geography.report["parts_left_out"],
            "drawn_as_grid_cells": geography.report["drawn_as_grid_cells"]}}
    return {
        "release": recipe.release, "released": recipe.released.isoformat(), "title": recipe.title,
        "builder_version": BUILDER_VERSION, "shippable": shippable,
        "content_hash": "sha256:" + whole.hexdigest(),
        "rows": int(len(data)), "units": int(data["unit"].nunique()), "indicators": inds,
        "displacement": {"rows": int(len(displacement)), "content_hash": disp_hash,
                         "years": [int(displacement["year"].min()), int(displacement["year"].max())]
                         if len(displacement) else []},
        **geo,
        "licence_decisions": decisions,
        "source_files": dict(sorted(hashes.items())),
    }


# ------------------------------------------------------------------------------ writing

def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    # local: 40 ms at import; this module is loaded on a store's first use (ensure_default)
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, compression="zstd", compression_level=9, use_dictionary=True)


def write_release(built: Built, out: str | Path) -> Path:
    """Write ``built`` to directory ``out`` atomically (temporary directory + rename).

    An existing release at ``out`` is replaced only after the new one is complete."""
    out = Path(out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        obs = built.panel.data.sort_values(["indicator", "unit", "year", "sex", "age", "group"])
        obs = obs[["unit", "year", "indicator", "sex", "age", "group", "value"]].astype(
            {"year": "int32", "value": "float64"})
        _write_parquet(obs, tmp / "observations.parquet")
        disp = built.displacement.astype({"year": "int32", "value": "float64"})
        _write_parquet(disp, tmp / "displacement.parquet")
        codes = sorted(built.panel.indicators, key=[i.code for i in built.recipe.indicators].index)
        (tmp / "catalogue.yaml").write_text(
            "# humsec data release {} - catalogue (written by `humsec data release build`; do not edit:\n"
            "# edit humsec/data/release/recipe.yaml and rebuild)\n".format(built.recipe.release)
            + built.recipe.catalogue(codes).to_yaml(), encoding="utf-8")
        prov = {c: json.loads(p.model_dump_json()) for c, p in sorted(built.panel.provenance.items())}
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        if built.geography is not None:
            (tmp / outlines.OUTLINES_FILE).write_bytes(outlines.dumps(built.geography.outlines))
            (tmp / outlines.GEOGRAPHY_FILE).write_bytes(outlines.dumps(built.geography.geography))
        (tmp / "manifest.json").write_text(json.dumps(built.manifest, indent=1, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
        for f in tmp.iterdir():
            os.chmod(f, 0o644)
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _shared_locations(df: pd.DataFrame, den: pd.Series, shared: dict[str, list[str]], code: str,
                      folder: str) -> tuple[pd.DataFrame, pd.Series]:
    """Counts a publisher codes to one unit although they occurred on the territory of
    several (UCDP codes deaths in Gaza and the West Bank to Israel): every listed unit gets
    the count, and the rate divides it by the listed units' combined population - the
    rate of the whole location, not a guess at its split.

    ``shared`` maps the publisher's unit to all units of the location, e.g.
    ``{ISR: [ISR, PSE]}``. Returns the rows with the added units and the denominator with
    the combined population for them.
    """
    if not shared:
        return df, den
    extra: list[Any] = []
    den = den.copy()
    for owner, members in shared.items():
        if owner not in members:
            raise ValidationError(ValidationIssue(
                f"indicator {code}: shared location of {owner} must list {owner} itself ({members})",
                file=folder, field="per_capita.shared"))
        rows = df[df["unit"] == owner]
        others = [m for m in members if m != owner]
        clash = df[df["unit"].isin(others)]
        if len(clash):
            raise ValidationError(ValidationIssue(
                f"indicator {code}: the publisher has values of its own for {clash['unit'].iloc[0]}, "
                f"which the recipe shares from {owner}; remove it from per_capita.shared",
                file=folder, field="per_capita.shared"))
        extra.extend(rows.assign(unit=m) for m in others)
        pops = den[den.index.get_level_values(0).isin(members)].unstack(0).reindex(columns=members)
        total = pops.sum(axis=1, min_count=len(members))  # NaN unless every member has one
        for m in members:
            idx = pd.MultiIndex.from_product([[m], total.index], names=den.index.names)
            den = den.drop(index=[i for i in idx if i in den.index])
            den = pd.concat([den, pd.Series(total.to_numpy(), index=idx)])
    out = pd.concat([df, *extra], ignore_index=True) if extra else df
    return out, den.sort_index()
