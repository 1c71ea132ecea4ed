#!/usr/bin/env python
"""Build the small, openly licensed test extract of the data-release source files.

Reads the publishers' files from the shared-data directory (``$HUMSEC_SHARED_DATA``,
default ``/work/shared/data``; or ``--shared DIR``) and writes a subset of them to
``tests/data/release_sources/<folder>/<file>`` (or ``--out DIR``) with the *same* file
names, formats, column names, dtypes and format quirks, so that the data-release pipeline
can be tested on a clean checkout without the shared data:

* 16 countries (``KEPT_ISO3``), years >= 2010; lookup tables whole when small.
* CSV files are filtered **record by record on the raw bytes**: every kept row is
  byte-identical to the published row (number formatting, quoting, UTF-8 BOM, CRLF line
  ends, missing final newline are all preserved); rows stay in the publisher's order.
* Parquet files are filtered with pyarrow and rewritten with zstd compression and the
  *original* Arrow schema (dictionary/categorical columns keep their full category
  lists, nullable integers stay nullable), rows in the publisher's order.
* Gzip output is written with mtime 0 and no file name, so reruns are byte-identical.
* Each copied ``SOURCE.md`` gets one extra first line saying it describes a test extract.

Usage::

    python tests/data/make_release_extract.py [--shared DIR] [--out DIR]

The output is deterministic: running it twice gives byte-identical files.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "release_sources"
DEFAULT_SHARED = "/work/shared/data"
SIZE_LIMIT = 3 * 1024 * 1024  # whole extract must stay below 3 MB

SOURCE_NOTE = ("> Test extract of the folder described below (humsec tests/data/make_release_extract.py): "
               "16 countries, years >= 2010.\n")

KEPT_ISO3 = ("KEN", "UGA", "SYR", "TUR", "LBN", "JOR", "AFG", "PAK",
             "UKR", "POL", "FJI", "MHL", "NZL", "DEU", "SSD", "SDN")
MIN_YEAR = 2010

# Gleditsch-Ward codes (UCDP) and UN M49 / ISO 3166 numeric codes (WPP LocID) of the kept
# countries; the expected names are checked against the data so a wrong code fails loudly.
GW_CODES = {"KEN": (501, "Kenya"), "UGA": (500, "Uganda"), "SYR": (652, "Syria"),
            "TUR": (640, "Turkey"), "LBN": (660, "Lebanon"), "JOR": (663, "Jordan"),
            "AFG": (700, "Afghanistan"), "PAK": (770, "Pakistan"), "UKR": (369, "Ukraine"),
            "POL": (290, "Poland"), "FJI": (950, "Fiji"), "MHL": (983, "Marshall Islands"),
            "NZL": (920, "New Zealand"), "DEU": (260, "Germany"), "SSD": (626, "South Sudan"),
            "SDN": (625, "Sudan")}
UCDP_EXTRA_GW = {666: "Israel"}  # UCDP codes deaths in Gaza/West Bank to Israel
M49_CODES = {"KEN": 404, "UGA": 800, "SYR": 760, "TUR": 792, "LBN": 422, "JOR": 400,
             "AFG": 4, "PAK": 586, "UKR": 804, "POL": 616, "FJI": 242, "MHL": 584,
             "NZL": 554, "DEU": 276, "SSD": 728, "SDN": 729}

SDG_AGGREGATES = (1, 202, 199)  # World, Sub-Saharan Africa, Least Developed Countries
def _recipe_series(source: str) -> tuple[str, ...]:
    """Series of the shipped (openly licensed) recipe indicators of one source."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from humsec.data.release.recipe import load_recipe

    out: list[str] = []
    for ind in load_recipe().indicators:
        if not ind.ship or ind.source.source != source:
            continue
        sel = ind.source
        names = [sel.series, *[p["series"] for p in sel.options.get("parts", []) if "series" in p],
                 *sel.options.get("sum_of", [])]
        out += [n for n in names if n not in out]
    return tuple(out)


_UNUSED_SDG_SERIES = (
    "sn_itk_defc", "ag_prd_fiesms", "ag_prd_fiess", "sh_sta_stnt", "sh_sta_wast", "sn_sta_ovwgt",
    "sh_sta_anem", "sp_dyn_mrbf18", "sg_gen_parl", "sh_acs_dtp3", "sh_acs_mcv2", "sh_acs_unhc",
    "sh_sta_mort", "sh_dyn_mort", "sh_dyn_imrt", "sh_dyn_nmrt", "si_cov_benfts", "si_cov_disab",
    "si_cov_pensn", "si_cov_chld", "si_pov_day1", "sl_tlf_uem", "sl_tlf_uemdis", "sl_isv_ifem",
    "sl_tlf_neet", "vc_ihr_psrc", "vc_vaw_marr", "vc_dsr_mtmp", "vc_dsr_daff", "vc_dsr_mort",
    "vc_dsr_affct", "sp_acs_bsrvh2o", "sh_h2o_safe", "sh_san_safe", "er_h2o_stress", "ag_fpa_cfpi",
    "vc_prs_unsnt", "sg_reg_brth", "en_ata_pm25",
)
# Requested names that do not exist in the snapshot, mapped to the evident intended series
# (SDG 11.6.2 PM2.5 is EN_ATM_PM25). Names absent from the data and not listed here are skipped.
SDG_SERIES_ALIASES = {"en_ata_pm25": "en_atm_pm25"}
# Only what the recipe ships: non-commercial series (WHO, IPU, IHME) stay out of the repository.
SDG_SERIES = _recipe_series("unsdg")

GAPMINDER_EXTRA = ("total_population_with_projections", "female_population_with_projections",
                   "male_population_with_projections", "hdi_human_development_index")
HDR_WORLD = "ZZK.WORLD"
UNHCR_PSEUDO_ORIGINS = ("UNK", "XXA")

LOOKUP_WHOLE_MAX = 200 * 1024  # lookup tables below this size are copied whole

log_lines: list[str] = []


def log(msg: str) -> None:
    log_lines.append(msg)
    print(msg)


# --------------------------------------------------------------------------- CSV (bytes)
class CsvBytes:
    """A CSV file split into raw records, so kept rows can be written back byte-identically."""

    def __init__(self, data: bytes):
        self.bom = data.startswith(b"\xef\xbb\xbf")
        body = data[3:] if self.bom else data
        self.ends_nl = body.endswith(b"\n")
        lines = body.split(b"\n")
        if self.ends_nl:
            lines = lines[:-1]
        records: list[bytes] = []
        buf: list[bytes] = []
        quotes = 0
        for line in lines:  # a record ends at a newline outside quotes ("" escapes count twice)
            buf.append(line)
            quotes += line.count(b'"')
            if quotes % 2 == 0:
                records.append(b"\n".join(buf))
                buf, quotes = [], 0
        if buf:
            raise ValueError("unbalanced quotes at end of CSV")
        self.crlf = bool(records) and all(r.endswith(b"\r") for r in records)
        self.header_raw, self.rows_raw = records[0], records[1:]
        self.header = self.parse(self.header_raw)

    @staticmethod
    def parse(record: bytes) -> list[str]:
        text = record.decode("utf-8")
        if text.endswith("\r"):
            text = text[:-1]
        return next(csv.reader(io.StringIO(text, newline="")))

    def dicts(self) -> Iterable[tuple[bytes, dict[str, str]]]:
        for raw in self.rows_raw:
            vals = self.parse(raw)
            if len(vals) != len(self.header):
                raise ValueError(f"record with {len(vals)} fields, header has {len(self.header)}")
            yield raw, dict(zip(self.header, vals))

    def render(self, rows: list[bytes]) -> bytes:
        out = b"\n".join([self.header_raw, *rows])
        if self.ends_nl:
            out += b"\n"
        return (b"\xef\xbb\xbf" if self.bom else b"") + out


def read_csv_bytes(path: Path) -> CsvBytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return CsvBytes(data)


def year_ok(value: str) -> bool:
    return value != "" and int(float(value)) >= MIN_YEAR


def write_bytes(path: Path, data: bytes, gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as fh:
            fh.write(data)
        data = buf.getvalue()
    path.write_bytes(data)


def filter_csv(src: Path, dst: Path, keep: Callable[[dict[str, str]], bool]) -> int:
    cb = read_csv_bytes(src)
    rows = [raw for raw, row in cb.dicts() if keep(row)]
    write_bytes(dst, cb.render(rows), gz=src.suffix == ".gz")
    log(f"  {dst.name}: {len(rows)} of {len(cb.rows_raw)} rows"
        f"{' [BOM]' if cb.bom else ''}{' [CRLF]' if cb.crlf else ''}{'' if cb.ends_nl else ' [no final newline]'}")
    return len(rows)


def copy_whole(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    log(f"  {dst.name}: copied whole ({src.stat().st_size:,} bytes)")


# --------------------------------------------------------------------------- Parquet
def _pandas_metadata(schema: pa.Schema, table: pa.Table) -> dict[bytes, bytes]:
    """The source's schema metadata with the pandas ``num_categories`` brought up to date."""
    meta = dict(schema.metadata or {})
    if b"pandas" in meta:
        pmeta = json.loads(meta[b"pandas"])
        for col in pmeta.get("columns", []):
            name = col.get("field_name")
            if col.get("pandas_type") == "categorical" and name in table.column_names:
                chunks = table.column(name).chunks
                if chunks:
                    col.setdefault("metadata", {})["num_categories"] = len(chunks[0].dictionary)
        meta[b"pandas"] = json.dumps(pmeta).encode()
    return meta


def filter_parquet(src: Path, dst: Path, keep: Callable[[pd.DataFrame], pd.Series],
                   key_columns: list[str]) -> pa.Table:
    """Keep the rows where ``keep(df_of_key_columns)`` is true; original schema and order."""
    table = pq.read_table(src)
    schema = table.schema
    keys = table.select(key_columns).to_pandas()
    mask = keep(keys).to_numpy(dtype=bool)
    out = table.filter(pa.array(mask))
    # One chunk per column; dictionary columns keep the source's full, sorted dictionary so the
    # pandas dtype (incl. categories) is exactly that of the published file.
    cols = []
    for field in schema:
        col = out.column(field.name)
        if pa.types.is_dictionary(field.type):
            src_col = table.column(field.name)
            dictionary = src_col.chunks[0].dictionary if src_col.num_chunks else None
            for ch in src_col.chunks:
                if not ch.dictionary.equals(dictionary):
                    raise ValueError(f"{src.name}:{field.name}: chunk dictionaries differ")
            if col.num_chunks:
                indices = pa.concat_arrays([c.indices for c in col.chunks])
            else:
                indices = pa.array([], type=field.type.index_type)
            cols.append(pa.DictionaryArray.from_arrays(indices, dictionary))
        else:
            cols.append(col.combine_chunks())
    out = pa.Table.from_arrays(cols, schema=schema.remove_metadata())
    out = out.replace_schema_metadata(_pandas_metadata(schema, out))
    dst.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(out, dst, compression="zstd")
    log(f"  {dst.name}: {out.num_rows:,} of {table.num_rows:,} rows")
    return out


# --------------------------------------------------------------------------- folders
def sdg(shared: Path, out: Path) -> None:
    s, o = shared / "un_sdg_global_database", out / "un_sdg_global_database"
    available = set(pd.read_csv(s / "series.csv", usecols=["series"])["series"])
    series: list[str] = []
    for name in SDG_SERIES:
        if name in available:
            series.append(name)
        elif SDG_SERIES_ALIASES.get(name) in available:
            log(f"  NOTE: SDG series {name!r} does not exist; using {SDG_SERIES_ALIASES[name]!r} instead")
            series.append(SDG_SERIES_ALIASES[name])
        else:
            log(f"  NOTE: SDG series {name!r} does not exist; skipped")
    kept_series = set(series)

    geo = pd.read_csv(s / "geo_area.csv", keep_default_na=False)
    kept_geo = set(SDG_AGGREGATES) | set(geo.loc[geo["iso3"].isin(KEPT_ISO3), "geo_area"].astype(int))
    missing = set(KEPT_ISO3) - set(geo["iso3"])
    if missing:
        raise SystemExit(f"geo_area.csv lacks {sorted(missing)}")

    table = filter_parquet(
        s / "sdg_long.parquet", o / "sdg_long.parquet",
        lambda d: d["series"].astype(str).isin(kept_series)
        & (d["iso3"].astype(object).isin(KEPT_ISO3) | d["geo_area"].isin(SDG_AGGREGATES))
        & (d["year"] >= MIN_YEAR),
        ["series", "geo_area", "iso3", "year"])
    absent = kept_series - set(table.column("series").to_pandas().astype(str))
    if absent:
        log(f"  NOTE: SDG series without rows in the extract: {sorted(absent)}")

    filter_csv(s / "series.csv", o / "series.csv", lambda r: r["series"] in kept_series)
    filter_csv(s / "geo_area.csv", o / "geo_area.csv", lambda r: int(r["geo_area"]) in kept_geo)

    src_dims = s / "dimension_codes.csv"
    if src_dims.stat().st_size < LOOKUP_WHOLE_MAX:
        copy_whole(src_dims, o / "dimension_codes.csv")
    else:  # only the codes that occur in the extracted table
        used: dict[str, set[str]] = {}
        for name in table.column_names:
            if pa.types.is_dictionary(table.schema.field(name).type) or pa.types.is_string(
                    table.schema.field(name).type):
                used[name] = set(table.column(name).to_pandas().dropna().astype(str))
        filter_csv(src_dims, o / "dimension_codes.csv",
                   lambda r: r["code"] in used.get(r["dimension"], ()))


def gapminder(shared: Path, out: Path) -> None:
    s, o = shared / "gapminder_systema_globalis", out / "gapminder_systema_globalis"
    summary = pd.read_csv(s / "indicator_summary.csv")
    core = pd.Series(_recipe_series("gapminder"))
    kept = set(core) | {"female_population_with_projections", "male_population_with_projections"}
    missing = set(GAPMINDER_EXTRA) - set(summary["indicator"])
    if missing:
        log(f"  NOTE: Gapminder indicators not found: {sorted(missing)}")
    geos = {c.lower() for c in KEPT_ISO3}
    table = filter_parquet(
        s / "sg_long.parquet", o / "sg_long.parquet",
        lambda d: d["geo"].astype(str).isin(geos) & (d["time"] >= MIN_YEAR)
        & d["indicator"].astype(str).isin(kept),
        ["geo", "time", "indicator"])
    with_rows = set(table.column("indicator").to_pandas().astype(str))
    log(f"  {len(kept)} indicators kept ({len(core)} human_security_core + extras), "
        f"{len(with_rows)} with rows for the kept countries since {MIN_YEAR}")
    filter_csv(s / "geo_country.csv", o / "geo_country.csv", lambda r: r["country"] in geos)
    filter_csv(s / "concepts.csv", o / "concepts.csv", lambda r: r["concept"] in kept)
    filter_csv(s / "indicator_summary.csv", o / "indicator_summary.csv", lambda r: r["indicator"] in kept)


def wgi(shared: Path, out: Path) -> None:
    s, o = shared / "wgi_2024", out / "wgi_2024"
    filter_csv(s / "wgi_2024_long.csv", o / "wgi_2024_long.csv",
               lambda r: r["code"] in KEPT_ISO3 and year_ok(r["year"]))


def hdr(shared: Path, out: Path) -> None:
    s, o = shared / "undp_hdr", out / "undp_hdr"
    # wide file (years are columns): all columns kept, rows of the kept countries + World
    filter_csv(s / "HDR23-24_Composite_indices_complete_time_series.csv",
               o / "HDR23-24_Composite_indices_complete_time_series.csv",
               lambda r: r["iso3"] in KEPT_ISO3 or r["iso3"] == HDR_WORLD)
    copy_whole(s / "HDR23-24_Composite_indices_metadata.csv", o / "HDR23-24_Composite_indices_metadata.csv")


def ucdp(shared: Path, out: Path) -> None:
    s, o = shared / "ucdp_organized_violence", out / "ucdp_organized_violence"
    src = s / "organizedviolencecy_v25_1.csv"
    expected = {gw: name for gw, name in GW_CODES.values()} | UCDP_EXTRA_GW
    names = {}
    for _, r in read_csv_bytes(src).dicts():
        names.setdefault(int(r["country_id_cy"]), set()).add(r["country_cy"])
    for gw, name in expected.items():
        if name not in names.get(gw, ()):
            raise SystemExit(f"UCDP: GW code {gw} is not {name!r} (found {names.get(gw)})")
    filter_csv(src, o / src.name,
               lambda r: int(r["country_id_cy"]) in expected and year_ok(r["year_cy"]))


def unhcr(shared: Path, out: Path) -> None:
    s, o = shared / "unhcr_refugees", out / "unhcr_refugees"
    for name in ("population.parquet", "flows.parquet"):
        filter_parquet(
            s / name, o / name,
            lambda d: (d["coo_iso"].isin(KEPT_ISO3) | d["coa_iso"].isin(KEPT_ISO3)
                       | (d["coo_iso"].isin(UNHCR_PSEUDO_ORIGINS) & d["coa_iso"].isin(KEPT_ISO3)))
            & (d["year"] >= MIN_YEAR),
            ["year", "coo_iso", "coa_iso"])
    copy_whole(s / "countries.csv", o / "countries.csv")


def owid(shared: Path, out: Path) -> None:
    s, o = shared / "owid_grapher_2025", out / "owid_grapher_2025"
    codes = set(KEPT_ISO3) | {"OWID_WRL"}
    shipped = set(_recipe_series("owid"))
    for csv_path in sorted(s.glob("*/*.csv")):
        sub = csv_path.parent.name
        if f"{sub}/{csv_path.name}" not in shipped:
            continue
        log(f"  [{sub}]")
        filter_csv(csv_path, o / sub / csv_path.name, lambda r: r["Code"] in codes and year_ok(r["Year"]))
        meta = csv_path.with_name(csv_path.stem + ".metadata.json")
        if meta.exists():
            copy_whole(meta, o / sub / meta.name)
        else:
            log(f"  NOTE: {sub}/{meta.name} missing")


def democracy(shared: Path, out: Path) -> None:
    s, o = shared / "democracy_data", out / "democracy_data"
    filter_parquet(s / "vdem_simple.parquet", o / "vdem_simple.parquet",
                   lambda d: d["country_text_id"].isin(KEPT_ISO3) & (d["year"] >= MIN_YEAR),
                   ["country_text_id", "year"])


def peacesciencer(shared: Path, out: Path) -> None:
    s, o = shared / "peacesciencer", out / "peacesciencer"
    copy_whole(s / "gw_states.csv", o / "gw_states.csv")


def iom(shared: Path, out: Path) -> None:
    s, o = shared / "iom_gdidata", out / "iom_gdidata"
    filter_parquet(s / "undesa_stocks.parquet", o / "undesa_stocks.parquet",
                   lambda d: (d["geo"].isin(KEPT_ISO3) | d["from"].isin(KEPT_ISO3)) & (d["t"] >= MIN_YEAR),
                   ["geo", "from", "t"])
    filter_parquet(s / "wdi.parquet", o / "wdi.parquet",
                   lambda d: d["geo"].isin(KEPT_ISO3) & (d["t"] >= MIN_YEAR) & d["var"].isin(list(_recipe_series("wdi_iom"))),
                   ["geo", "var", "t"])


def bokeh(shared: Path, out: Path) -> None:
    s, o = shared / "pypi_embedded" / "bokeh_sampledata", out / "pypi_embedded" / "bokeh_sampledata"
    src = s / "population.csv.gz"
    locids = {v: k for k, v in M49_CODES.items()}
    seen = {int(r["LocID"]) for _, r in read_csv_bytes(src).dicts()}
    if set(locids) - seen:
        raise SystemExit(f"WPP population lacks LocIDs {sorted(set(locids) - seen)}")
    filter_csv(src, o / src.name, lambda r: int(r["LocID"]) in locids and year_ok(r["Year"]))


def inform(shared: Path, out: Path) -> None:
    s, o = shared / "inform_risk_hdx", out / "inform_risk_hdx"
    filter_csv(s / "inform_risk_index_trends.csv", o / "inform_risk_index_trends.csv",
               lambda r: r["Iso3"] in KEPT_ISO3 and year_ok(r["GNAYear"]))


def natural_earth(shared: Path, out: Path) -> None:
    """The TopoJSON topology with only the kept countries' geometries and the arcs they use.

    Arcs are copied unchanged (delta-encoded, so each arc stands alone) in their original
    order and renumbered; geometries keep their type, id and properties; the ``land``
    object (the merged outline of every country) is left out; ``bbox`` and ``transform``
    are the source's. The licence notice is copied whole."""
    folder = "natural_earth_10m_topojson"
    s, o = shared / folder, out / folder
    o.mkdir(parents=True, exist_ok=True)
    raw = (s / "countries-10m.json").read_bytes()
    topo = json.loads(raw)
    def dump(obj) -> bytes:  # the source's own serialisation: compact, UTF-8, final newline
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"

    if dump(topo) != raw:
        raise SystemExit("countries-10m.json: compact JSON re-serialisation is not byte-identical to the source")
    ids = {f"{n:03d}" for n in M49_CODES.values()}
    geoms = [g for g in topo["objects"]["countries"]["geometries"] if g.get("id") in ids]
    if {g["id"] for g in geoms} != ids or len(geoms) != len(ids):
        raise SystemExit(f"countries-10m.json: expected one geometry per kept country, got {[g['id'] for g in geoms]}")

    def rings(g):
        polys = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        return [r for poly in polys for r in poly]

    used = sorted({i if i >= 0 else ~i for g in geoms for r in rings(g) for i in r})
    new = {old: k for k, old in enumerate(used)}

    def remap(arcs, depth):
        if depth == 0:
            return [new[i] if i >= 0 else ~new[~i] for i in arcs]
        return [remap(a, depth - 1) for a in arcs]

    kept = [{**g, "arcs": remap(g["arcs"], 1 if g["type"] == "Polygon" else 2)} for g in geoms]
    countries = {**topo["objects"]["countries"], "geometries": kept}
    ext = {k: ({"countries": countries} if k == "objects" else [topo["arcs"][i] for i in used] if k == "arcs" else v)
           for k, v in topo.items()}
    write_bytes(o / "countries-10m.json", dump(ext))
    log(f"  countries-10m.json: {len(kept)} of {len(topo['objects']['countries']['geometries'])} geometries, "
        f"{len(used)} of {len(topo['arcs'])} arcs")
    copy_whole(s / "LICENSE_world-atlas.txt", o / "LICENSE_world-atlas.txt")


FOLDERS: dict[str, Callable[[Path, Path], None]] = {
    "un_sdg_global_database": sdg,
    "gapminder_systema_globalis": gapminder,
    "wgi_2024": wgi,
    "undp_hdr": hdr,
    "ucdp_organized_violence": ucdp,
    "unhcr_refugees": unhcr,
    "owid_grapher_2025": owid,
    "democracy_data": democracy,
    "iom_gdidata": iom,
    "pypi_embedded": bokeh,
    "inform_risk_hdx": inform,
    "natural_earth_10m_topojson": natural_earth,
}


def copy_source_md(shared: Path, out: Path, folder: str) -> None:
    text = (shared / folder / "SOURCE.md").read_bytes()
    (out / folder).mkdir(parents=True, exist_ok=True)
    (out / folder / "SOURCE.md").write_bytes(SOURCE_NOTE.encode() + text)


# --------------------------------------------------------------------------- checks
def _read_any(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, encoding="utf-8-sig" if path.read_bytes()[:3] == b"\xef\xbb\xbf" else "utf-8")


def check(shared: Path, out: Path) -> list[str]:
    """Compare every extracted table with its source: columns, dtypes, Arrow schema, line ends."""
    issues: list[str] = []
    for dst in sorted(out.rglob("*")):
        if not dst.is_file() or dst.name == "SOURCE.md" or dst.suffix in (".json", ".txt"):
            continue
        rel = dst.relative_to(out)
        src = shared / rel
        if dst.suffix == ".parquet":
            a, b = pq.read_schema(src), pq.read_schema(dst)
            if not a.remove_metadata().equals(b.remove_metadata()):
                issues.append(f"{rel}: Arrow schema differs from the source")
            ds, dd = pd.read_parquet(src), pd.read_parquet(dst)
        else:
            ds, dd = _read_any(src), _read_any(dst)
            sb, db = read_csv_bytes(src), read_csv_bytes(dst)
            if (sb.bom, sb.crlf, sb.ends_nl) != (db.bom, db.crlf, db.ends_nl):
                issues.append(f"{rel}: BOM/CRLF/final-newline differ from the source")
        if list(ds.columns) != list(dd.columns):
            issues.append(f"{rel}: columns differ from the source")
            continue
        for c in ds.columns:
            if ds[c].dtype != dd[c].dtype:
                issues.append(f"{rel}: column {c!r} reads as {dd[c].dtype} (source {ds[c].dtype})"
                              + (" - all values missing in the extract" if dd[c].isna().all() else ""))
    return issues


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("HUMSEC_SHARED_DATA", DEFAULT_SHARED)))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", choices=sorted(FOLDERS), action="append",
                    help="rewrite only this folder (repeatable); default: all")
    args = ap.parse_args(argv)
    folders = {k: v for k, v in FOLDERS.items() if not args.only or k in args.only}
    shared, out = args.shared.expanduser().resolve(), args.out.expanduser().resolve()
    if not shared.is_dir():
        print(f"shared-data directory {shared} not found (set HUMSEC_SHARED_DATA)", file=sys.stderr)
        return 2
    for folder in folders:  # remove only what this script writes
        if (out / folder).exists():
            shutil.rmtree(out / folder)
    for folder, fn in folders.items():
        log(f"{folder}/")
        fn(shared, out)
        copy_source_md(shared, out, folder)

    issues = check(shared, out)
    for msg in issues:
        log(f"CHECK: {msg}")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"total {total:,} bytes in {out}")
    if total >= SIZE_LIMIT:
        print(f"extract is {total:,} bytes, above the {SIZE_LIMIT:,} byte limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
