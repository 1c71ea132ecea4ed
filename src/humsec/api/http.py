"""HTTP plumbing shared by the routers: JSON encoding, content negotiation (JSON/CSV),
ETags with ``304 Not Modified``, ``Cache-Control`` and pagination links.

The ETag of a read endpoint is a hash of the fingerprint of the store's snapshots, the
service configuration, the path, the (sorted) query and the negotiated format, so it is
known *before* anything is computed: a matching ``If-None-Match`` costs a hash.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
import re

import numpy as np
import pandas as pd
from fastapi import Request
from fastapi.responses import Response

from humsec.api.state import Observatory
from humsec.errors import HumsecError

CSV_TYPE = "text/csv; charset=utf-8"
JSON_TYPE = "application/json"


class Format(str, enum.Enum):
    json = "json"
    csv = "csv"


def jsonable(obj: Any) -> Any:
    """Plain JSON values: NaN/inf and pandas' missing values become ``null``, numpy
    scalars Python numbers, dates ISO strings, frames lists of records."""
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return jsonable(float(obj))
    if isinstance(obj, pd.DataFrame):
        return records(obj)
    if isinstance(obj, pd.Series):
        return jsonable(obj.to_dict())
    if obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, (pd.Timestamp, _dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return jsonable(obj.value)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "model_dump"):
        return jsonable(obj.model_dump(mode="json"))
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    return str(obj)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON records (the library's own ``to_json(orient="records")`` form)."""
    return json.loads(df.to_json(orient="records", date_format="iso", force_ascii=False))


def dumps(obj: Any) -> bytes:
    return json.dumps(jsonable(obj), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def csv_bytes(df: pd.DataFrame) -> bytes:
    """Formula-safe CSV (:func:`humsec.data.export.safe_frame`), RFC 4180 line ends."""
    from humsec.data.export import safe_frame

    buf = io.StringIO()
    safe_frame(df).to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue().encode("utf-8")


def negotiate(request: Request, fmt: Format | None, allowed: Sequence[str] = ("json", "csv")) -> str:
    """The response format: ``?format=`` wins, else the ``Accept`` header, else JSON."""
    if fmt is not None:
        return fmt.value
    accept = request.headers.get("accept", "")
    if "csv" in allowed and "text/csv" in accept and "application/json" not in accept:
        return "csv"
    return "json"


@dataclass
class Body:
    """What an endpoint computed: a JSON object, a table for CSV, or raw bytes."""

    json: Any = None
    table: pd.DataFrame | None = None
    raw: bytes | None = None
    media_type: str = JSON_TYPE
    filename: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    content: bytes
    media_type: str
    headers: dict[str, str]


def _render(body: Body, fmt: str) -> Rendered:
    headers = dict(body.headers)
    if body.raw is not None:
        content, media = body.raw, body.media_type
    elif fmt == "csv":
        table = body.table if body.table is not None else pd.DataFrame(body.json)
        content, media = csv_bytes(table), CSV_TYPE
    else:
        content, media = dumps(body.json if body.json is not None else body.table), JSON_TYPE
    if body.filename and media != JSON_TYPE:  # JSON is API data, not a download named .csv
        disposition = "inline" if media.startswith("text/html") else "attachment"
        headers["Content-Disposition"] = f'{disposition}; filename="{body.filename}"'
    return Rendered(content, media, headers)


def etag(obs: Observatory, request: Request, fmt: str, extra: str = "") -> str:
    query = sorted((k, v) for k, v in request.query_params.multi_items() if k != "format")
    h = hashlib.sha256()
    for part in (obs.fingerprint, obs.config_tag, request.url.path, repr(query), fmt, extra):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return f'"{h.hexdigest()[:40]}"'


def matches(request: Request, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (weak comparison, ``*`` matches)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    for t in header.split(","):
        t = t.strip()
        if t == "*" or t.removeprefix("W/") == tag:
            return True
    return False


def cached(request: Request, obs: Observatory, compute: Callable[[str], Body], *,
           fmt: Format | None = None, allowed: Sequence[str] = ("json",), extra: str = "") -> Response:
    """Answer a read request with ETag / ``Cache-Control``; ``304`` when the client's copy
    is current, else the rendered result (computed once per ETag and cached)."""
    f = negotiate(request, fmt, allowed)
    if f not in allowed:
        raise HumsecError(f"format '{f}' is not available here: expected one of {', '.join(allowed)}")
    tag = etag(obs, request, f, extra)
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={obs.config.max_age}", "Vary": "Accept"}
    if matches(request, tag):
        return Response(status_code=304, headers=headers)
    rendered = obs.cache.get_or_compute(("response", tag), lambda: _render(compute(f), f))
    return Response(content=rendered.content, media_type=rendered.media_type,
                    headers={**headers, **rendered.headers})


def safe_filename(*parts: object, suffix: str) -> str:
    """A download name made only of ``[A-Za-z0-9_.-]`` from already-validated parts."""
    stem = "_".join(re.sub(r"[^A-Za-z0-9_.-]+", "-", str(p)).strip("-.") for p in parts if p not in (None, ""))
    return f"{stem or 'humsec'}.{suffix}"
