"""Fuzz the readers of user files: every mutated input must be read or rejected with a
:class:`~humsec.errors.HumsecError` that names the file — anything else is a crash.

Formats: ``csv``, ``tsv``, ``xlsx``, ``parquet`` (``humsec data import``), ``spec`` (an
index spec YAML), ``catalogue`` (a catalogue YAML) and ``commitments`` (a commitments
YAML). Inputs are valid seed files mutated with a seeded :class:`numpy.random.Generator`
(byte and token edits; for xlsx/Parquet also cell-level edits written by openpyxl/pyarrow
and byte edits of the container), so a run is reproducible from ``--seed``.

Usage (outside CI; the test suite runs a few hundred per format)::

    python benchmarks/fuzz_import.py                      # 100,000 per format
    python benchmarks/fuzz_import.py -n 2000 -f csv xlsx  # a quick run
    python benchmarks/fuzz_import.py --save crashes/      # keep each crashing input

It prints, per format, the inputs tried, how many were read, rejected and crashed, the
time taken, and each distinct crash (exception type and the innermost humsec frame).
The exit code is 1 when any crash was found.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import io
import os
import sys
import tempfile
import time
import traceback
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMATS = ("csv", "tsv", "xlsx", "parquet", "spec", "catalogue", "commitments")

# tokens that reach the interesting branches of the readers
TOKENS = [
    ",", ";", "\t", "\n", "\r\n", "\r", '"', '""', "'", " ", "", "\x00", "\ufeff", "\u00a0",
    "NA", "NaN", "nan", "..", "-", "null", "None", "inf", "-inf", "1e999", "1e-999", "-0",
    "9" * 400, "1" * 5000, "٢٠٢٠", "٤١٫٢", "２０２０", "²", "٣", "0x1F", "1,5", "1.2.3", "+", ".",
    "value", "indicator", "unit", "year", "country", "iso3", "sex", "age", "group", "_row",
    "_field", "_value", "Value", "YEAR", "KEN", "FRA", "XKX", "KEN-01", "ken", "Kenya", "Côte d'Ivoire",
    "u5mr", "gdp_pc", "hdi", "1990", "2020", "2100", "1799", "99999", "2020.0", "2020.5",
    "F", "M", "_T", "é", "\xe9", "\U0001F600", "\\", "#", "=1+1", "@", "&a", "*a", "&a [*a, *a]",
    "[", "]", "{", "}", ": ", "- ", "? ", "!!python/object/apply:os.system ['true']", "!!binary",
    "!!float", "!!int", "!!timestamp", "2020-13-45", "---", "...", "|", ">", "%YAML 1.1",
    "~", "true", "yes", "no", "on", "0o17", "1_000", "[[[[[[[[[[", "{a: {b: {c: ", "<<: *a",
    "weight", "direction", "code", "tree", "children", "method", "targets", "target_value",
    "deadline", "baseline_year", "commitments", "instrument", "indicators", "version",
]
TOKENS_B = [t.encode("utf-8", "surrogatepass") for t in TOKENS] + [
    b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xef\xbb\xbf", b"\xff\xfe", b"\xe9", b"\x00\x00"]


# -- seeds ------------------------------------------------------------------------------
def _seed_tables() -> list[list[list[str]]]:
    tidy = [["unit", "year", "indicator", "value"],
            ["KEN", "2019", "u5mr", "43.2"], ["KEN", "2020", "u5mr", "41.2"],
            ["FRA", "2020", "gdp_pc", "39000"], ["KEN", "2020", "hdi", ""], ["FRA", "2021", "u5mr", "NA"]]
    disagg = [["iso3", "year", "indicator", "sex", "value"],
              ["KEN", "2020", "u5mr", "F", "38.1"], ["KEN", "2020", "u5mr", "M", "44.0"],
              ["KEN", "2020", "u5mr", "_T", "41.2"]]
    wide = [["iso3", "year", "u5mr", "gdp_pc", "hdi"],
            ["KEN", "2020", "41.2", "2000", "0.601"], ["FRA", "2020", "3.9", "", "0.903"]]
    wide_years = [["unit", "indicator", "2018", "2019", "2020"],
                  ["KEN", "u5mr", "45", "43", "41.2"], ["FRA", "gdp_pc", "41000", "40000", ""]]
    names = [["country", "year", "u5mr"], ["Kenya", "2020", "41.2"], ["Côte d'Ivoire", "2020", "58"],
             ["France", "2020", "3.9"]]
    return [tidy, disagg, wide, wide_years, names]


def _csv_text(rows: list[list[str]], sep: str) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def _yaml_seeds(fmt: str) -> list[bytes]:
    from importlib import resources

    if fmt == "spec":
        root = resources.files("humsec.index") / "specs"
        return [(root / f"{n}.yaml").read_bytes() for n in ("hdi", "inform", "gii")]
    if fmt == "catalogue":
        full = (resources.files("humsec.data") / "shipped" / "catalogue.yaml").read_text("utf-8")
        small = full[: full.index("\n- code:", 4000)] + "\n"  # a few entries: mutations reach deeper
        return [small.encode("utf-8"),
                b"version: '1'\nindicators:\n  - code: my_ind\n    name: My indicator\n    unit: '%'\n"
                b"    dimension: health\n    direction: -1\n    source: me\n    licence: CC0\n"
                b"    valid_min: 0\n    valid_max: 100\n"]
    return [(resources.files("humsec.oversight") / "examples" / "appf2021.yaml").read_bytes()]


# -- mutations --------------------------------------------------------------------------
def mutate_bytes(data: bytes, rng: np.random.Generator, n_ops: int | None = None) -> bytes:
    b = bytearray(data)
    for _ in range(n_ops or int(rng.integers(1, 4))):
        op = int(rng.integers(0, 9))
        pos = int(rng.integers(0, len(b) + 1)) if b else 0
        if op == 0 and b:  # delete a span
            del b[pos: pos + int(rng.integers(1, 40))]
        elif op == 1:  # insert a token
            tok = TOKENS_B[int(rng.integers(0, len(TOKENS_B)))]
            b[pos:pos] = tok * int(rng.integers(1, 4))
        elif op == 2 and b:  # overwrite a byte
            b[min(pos, len(b) - 1)] = int(rng.integers(0, 256))
        elif op == 3 and b:  # duplicate a span (repeated columns, rows)
            span = bytes(b[pos: pos + int(rng.integers(1, 80))])
            b[pos:pos] = span * int(rng.integers(1, 4))
        elif op == 4 and b:  # swap two lines
            lines = bytes(b).split(b"\n")
            if len(lines) > 2:
                i, j = rng.integers(0, len(lines), 2)
                lines[i], lines[j] = lines[j], lines[i]
                b = bytearray(b"\n".join(lines))
        elif op == 5 and b:  # truncate
            del b[pos:]
        elif op == 6 and b:  # replace a line by a token-built one
            lines = bytes(b).split(b"\n")
            i = int(rng.integers(0, len(lines)))
            k = int(rng.integers(1, 6))
            lines[i] = b",".join(TOKENS_B[int(t)] for t in rng.integers(0, len(TOKENS_B), k))
            b = bytearray(b"\n".join(lines))
        elif op == 7:  # a long run
            b[pos:pos] = bytes([int(rng.integers(32, 127))]) * int(rng.integers(100, 6000))
        elif op == 8 and b:  # flip case of a span
            b[pos: pos + 20] = bytes(b[pos: pos + 20]).swapcase()
    if rng.random() < 0.03:  # re-encode
        try:
            b = bytearray(bytes(b).decode("utf-8").encode(["latin-1", "utf-16", "cp1251"][int(rng.integers(0, 3))]))
        except (UnicodeDecodeError, UnicodeEncodeError):
            pass
    return bytes(b)


def _mutated_rows(rows: list[list[str]], rng: np.random.Generator) -> list[list[object]]:
    """Cell-level mutation (for typed containers): values, types, shapes."""
    out: list[list[object]] = [list(r) for r in rows]
    for _ in range(int(rng.integers(1, 6))):
        op = int(rng.integers(0, 6))
        i = int(rng.integers(0, len(out)))
        if op == 0 and out[i]:
            j = int(rng.integers(0, len(out[i])))
            out[i][j] = TOKENS[int(rng.integers(0, len(TOKENS)))]
        elif op == 1:
            out[i] = out[i][: int(rng.integers(0, len(out[i]) + 1))]  # short row
        elif op == 2:
            out[i] = out[i] + [TOKENS[int(rng.integers(0, len(TOKENS)))]]  # long row
        elif op == 3:
            out.insert(i, list(out[int(rng.integers(0, len(out)))]))  # duplicate row
        elif op == 4 and out[i]:
            j = int(rng.integers(0, len(out[i])))
            out[i][j] = [None, float("nan"), float("inf"), 2020, 2020.0, -1.5, 10**30, True,
                         _dt.date(2020, 1, 1), 41.2][int(rng.integers(0, 10))]
        elif op == 5 and len(out[0]) > 1:  # duplicate a header name
            out[0][int(rng.integers(0, len(out[0])))] = out[0][int(rng.integers(0, len(out[0])))]
    return out


def _typed(v: object) -> object:
    if isinstance(v, str):
        try:
            return float(v) if v.strip() and "_" not in v else v
        except ValueError:
            return v
    return v


def _write_xlsx(rows: list[list[object]], path: Path, rng: np.random.Generator) -> None:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("data")
    for r in rows:
        ws.append([_typed(v) if rng.random() < 0.5 else (v if not isinstance(v, str) else v[:32000])
                   for v in r])
    wb.save(path)


def _mutate_xlsx_container(data: bytes, rng: np.random.Generator) -> bytes:
    """Mutate one XML part of a workbook and re-zip it (deeper than raw byte edits)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            parts = {n: z.read(n) for n in z.namelist()}
    except zipfile.BadZipFile:
        return mutate_bytes(data, rng)
    names = sorted(parts)
    victim = names[int(rng.integers(0, len(names)))]
    parts[victim] = mutate_bytes(parts[victim], rng)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for n in names:
            if rng.random() < 0.02:
                continue  # drop a part
            z.writestr(n, parts[n])
    return out.getvalue()


def _write_parquet(rows: list[list[object]], path: Path, rng: np.random.Generator) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    header = [str(h) for h in rows[0]] if rows else []
    body = rows[1:]
    cols = []
    for j in range(len(header)):
        vals = [r[j] if j < len(r) else None for r in body]
        kind = int(rng.integers(0, 3))
        try:
            if kind == 0:
                arr = pa.array([None if v is None else str(v) for v in vals], type=pa.string())
            elif kind == 1:
                arr = pa.array([_typed(v) for v in vals])
            else:
                arr = pa.array([None if v in ("", None) else float(v) for v in vals], type=pa.float64())
        except (ValueError, TypeError, pa.ArrowException, OverflowError):
            arr = pa.array([None if v is None else str(v) for v in vals], type=pa.string())
        cols.append(arr)
    table = pa.Table.from_arrays(cols, names=header)
    pq.write_table(table, path)


# -- one input --------------------------------------------------------------------------
@dataclass
class Result:
    tried: int = 0
    read: int = 0
    rejected: int = 0
    crashes: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)
    unnamed: int = 0  # HumsecErrors whose message does not name the file


_CACHE: dict = {}


def _catalogue():
    if "cat" not in _CACHE:
        from humsec.model.catalogue import Catalogue

        _CACHE["cat"] = Catalogue.default()
    return _CACHE["cat"]


def _units():
    if "units" not in _CACHE:
        from humsec.data.importer import valid_iso3_codes

        _CACHE["units"] = valid_iso3_codes()
    return _CACHE["units"]


def read_one(fmt: str, path: Path) -> None:
    """The reader behind ``fmt`` (what the CLI and API call)."""
    if fmt in ("csv", "tsv", "xlsx", "parquet"):
        from humsec.data.importer import read_observations

        read_observations(path, _catalogue(), default_year=2020 if path.stem.endswith("y") else None)
    elif fmt == "spec":
        from humsec.index.spec import IndexSpec

        IndexSpec.from_file(path)
    elif fmt == "catalogue":
        from humsec.model.catalogue import Catalogue

        Catalogue.from_file(path)
    elif fmt == "commitments":
        from humsec.oversight.io import read_commitments

        read_commitments(path, catalogue=_catalogue(), today=_dt.date(2026, 1, 1), unit="KEN",
                         known_units=_units())
    else:
        raise ValueError(fmt)


def make_input(fmt: str, rng: np.random.Generator, path_stem: Path) -> Path:
    suffix = {"csv": ".csv", "tsv": ".tsv", "xlsx": ".xlsx", "parquet": ".parquet"}.get(fmt, ".yaml")
    path = path_stem.with_suffix(suffix)
    if fmt in ("csv", "tsv"):
        seeds = _CACHE.setdefault(f"seed-{fmt}", [_csv_text(t, "\t" if fmt == "tsv" else ",")
                                                  for t in _seed_tables()])
        path.write_bytes(mutate_bytes(seeds[int(rng.integers(0, len(seeds)))], rng))
    elif fmt in ("xlsx", "parquet"):
        tables = _seed_tables()
        rows = _mutated_rows(tables[int(rng.integers(0, len(tables)))], rng)
        if fmt == "xlsx":
            _write_xlsx(rows, path, rng)
            if rng.random() < 0.3:
                path.write_bytes(_mutate_xlsx_container(path.read_bytes(), rng))
        else:
            _write_parquet(rows, path, rng)
            if rng.random() < 0.1:
                path.write_bytes(mutate_bytes(path.read_bytes(), rng, n_ops=1))
    else:
        seeds = _CACHE.setdefault(f"seed-{fmt}", _yaml_seeds(fmt))
        path.write_bytes(mutate_bytes(seeds[int(rng.integers(0, len(seeds)))], rng))
    return path


def _where(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "humsec" in f.filename]
    f = frames[-1] if frames else traceback.extract_tb(exc.__traceback__)[-1]
    return f"{Path(f.filename).name}:{f.lineno} ({f.name})"


def fuzz(fmt: str, n: int, seed: int = 0, *, save: Path | None = None,
         max_seconds: float | None = None) -> Result:
    """Try ``n`` mutated inputs of ``fmt``; count reads, rejections and crashes."""
    from humsec.errors import HumsecError

    rng = np.random.default_rng([seed, FORMATS.index(fmt)])
    res = Result()
    t_end = time.monotonic() + max_seconds if max_seconds else None
    with tempfile.TemporaryDirectory(prefix=f"humsec-fuzz-{fmt}-") as tmp:
        for k in range(n):
            if t_end is not None and time.monotonic() > t_end:
                break
            stem = Path(tmp) / f"in{k % 7}{'y' if k % 3 == 0 else ''}"
            try:
                path = make_input(fmt, rng, stem)
            except Exception:  # noqa: BLE001 - a mutation the writer refuses: not an input
                continue
            res.tried += 1
            try:
                read_one(fmt, path)
                res.read += 1
            except HumsecError as exc:
                res.rejected += 1
                if path.name not in str(exc):
                    res.unnamed += 1
                    key = ("HumsecError without the file name", str(exc)[:120])
                    res.crashes[key] += 1
                    res.examples.setdefault(key, (k, path.read_bytes()))
            except RecursionError as exc:  # also a crash, but keep the stack printable
                key = (type(exc).__name__, _where(exc))
                res.crashes[key] += 1
                res.examples.setdefault(key, (k, path.read_bytes()))
            except Exception as exc:  # noqa: BLE001 - a crash is what we are looking for
                key = (f"{type(exc).__name__}: {str(exc)[:80]}", _where(exc))
                res.crashes[key] += 1
                res.examples.setdefault(key, (k, path.read_bytes()))
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        for i, (_key, (k, data)) in enumerate(res.examples.items()):
            ext = {"csv": "csv", "tsv": "tsv", "xlsx": "xlsx", "parquet": "parquet"}.get(fmt, "yaml")
            (save / f"{fmt}-{seed}-{k}-{i}.{ext}").write_bytes(data)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100_000, help="mutated inputs per format (100000)")
    ap.add_argument("-f", "--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", type=Path, help="directory to keep one crashing input per crash")
    args = ap.parse_args(argv)
    os.environ.setdefault("HUMSEC_HOME", tempfile.mkdtemp(prefix="humsec-fuzz-home-"))
    total = 0
    for fmt in args.formats:
        t0 = time.perf_counter()
        r = fuzz(fmt, args.n, args.seed, save=args.save)
        dt = time.perf_counter() - t0
        n_crash = sum(r.crashes.values())
        total += n_crash
        print(f"{fmt:12s} tried {r.tried:7d}  read {r.read:7d}  rejected {r.rejected:7d}  "
              f"crashes {n_crash:5d}  ({dt:.1f} s, {1000 * dt / max(r.tried, 1):.1f} ms each)", flush=True)
        for (what, where), c in r.crashes.most_common():
            print(f"    {c:6d} x {what}  at {where}", flush=True)
    print(f"total crashes: {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
