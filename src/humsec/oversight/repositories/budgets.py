"""Budget imports, their lines and the lines' tags.

An import is stored once per file content (its SHA-256); lines are never changed. Tags are
numbered versions per line (automatic ``pending`` tags, a reviewer's ``confirmed`` or
``corrected`` ones); every write appends its audit row in the same transaction, and a
reviewer's decision is never overwritten by automatic tagging.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

from humsec.errors import HumsecError
from humsec.oversight.auth import Identity
from humsec.oversight.models import BudgetLine, Tag
from humsec.oversight.repositories import audit
from humsec.oversight.transaction import utc_now

__all__ = ["add_import", "lines", "review", "save_tags", "tag_history"]


def add_import(con: duckdb.DuckDBPyConnection, ident: Identity, items: Sequence[BudgetLine], *,
               file_name: str, sha256: str) -> tuple[str, list[int]]:
    """Store budget lines as one import (audited); returns the import id and line ids.

    Raises
    ------
    HumsecError
        A file with the same content was imported before.
    """
    dup = con.execute("SELECT import_id FROM budget_imports WHERE sha256 = ?", [sha256]).fetchone()
    if dup is not None:
        raise HumsecError(f"{file_name}: this file was already imported (import {dup[0]})")
    import_id = "b" + sha256[:10]
    con.execute("INSERT INTO budget_imports VALUES (?, ?, ?, ?, ?, ?)",
                [import_id, file_name, sha256, len(items), utc_now(), ident.user_id])
    ids = []
    for ln in items:
        lid = con.execute("SELECT nextval('budget_line_ids')").fetchall()[0][0]
        con.execute("INSERT INTO budget_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [lid, import_id, ln.row, ln.programme, ln.ministry, ln.amount, ln.currency,
                     ln.year, ln.country, ln.description])
        ids.append(int(lid))
    audit.append(con, ident, "import", "budget", import_id, None, None,
                 {"file": file_name, "sha256": sha256, "lines": len(items),
                  "total": float(sum(x.amount for x in items))})
    return import_id, ids


def lines(con: duckdb.DuckDBPyConnection, *, country: str | None = None) -> pd.DataFrame:
    """Budget lines joined with their latest tag (the JSON lists still encoded)."""
    sql = ('SELECT l.*, t.version AS tag_version, t.source, t.review, t.sdg_targets, t.dimensions, '
           't.confidence, t.evidence, t.actor AS tagged_by, t.changed_at AS tagged_at FROM budget_lines l '
           'LEFT JOIN budget_tags t ON t.line_id = l.line_id AND t.version = '
           '(SELECT max(version) FROM budget_tags u WHERE u.line_id = l.line_id)')
    args: list[Any] = []
    if country is not None:
        sql += " WHERE l.country = ?"
        args.append(country)
    return con.execute(sql + " ORDER BY l.line_id", args).df()


def _check_line(con: duckdb.DuckDBPyConnection, line_id: int) -> None:
    if con.execute("SELECT 1 FROM budget_lines WHERE line_id = ?", [line_id]).fetchone() is None:
        raise HumsecError(f"no budget line {line_id}")


def _latest_tag(con: duckdb.DuckDBPyConnection, line_id: int) -> tuple | None:
    return con.execute("SELECT version, review, source, sdg_targets, dimensions, confidence, evidence "
                       "FROM budget_tags WHERE line_id = ? ORDER BY version DESC LIMIT 1",
                       [line_id]).fetchone()


def _put_tag(con: duckdb.DuckDBPyConnection, ident: Identity, line_id: int, tag: Tag,
             review: str, prev: tuple | None, action: str) -> int:
    version = 1 if prev is None else prev[0] + 1
    con.execute("INSERT INTO budget_tags VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [line_id, version, tag.source, review, json.dumps(list(tag.sdg_targets)),
                 json.dumps(list(tag.dimensions)), tag.confidence, json.dumps(list(tag.evidence)),
                 utc_now(), ident.user_id])
    before = None if prev is None else {"review": prev[1], "source": prev[2],
                                         "sdg_targets": json.loads(prev[3]), "dimensions": json.loads(prev[4])}
    audit.append(con, ident, action, "budget_line", str(line_id), version, before,
                 {"review": review, **tag.model_dump(mode="json")})
    return version


def save_tags(con: duckdb.DuckDBPyConnection, ident: Identity, tags: Mapping[int, Tag]) -> int:
    """Store automatic tags as ``pending`` new versions, skipping lines a reviewer has
    confirmed or corrected and tags that did not change; returns how many changed."""
    n = 0
    for line_id, tag in tags.items():
        _check_line(con, int(line_id))
        prev = _latest_tag(con, int(line_id))
        if prev is not None and prev[1] in ("confirmed", "corrected"):
            continue  # a reviewer's decision is never overwritten by automatic tagging
        if prev is not None and (prev[2], json.loads(prev[3]), json.loads(prev[4]), prev[5]) == (
                tag.source, list(tag.sdg_targets), list(tag.dimensions), tag.confidence):
            continue
        _put_tag(con, ident, int(line_id), tag, "pending", prev, "tag")
        n += 1
    return n


def review(con: duckdb.DuckDBPyConnection, ident: Identity, line_id: int, tag: Tag | None) -> int:
    """A reviewer confirms the latest tag (``tag=None``) or corrects it; returns the new
    tag version."""
    _check_line(con, int(line_id))
    prev = _latest_tag(con, int(line_id))
    if tag is None:
        if prev is None or (not json.loads(prev[3]) and not json.loads(prev[4])):
            raise HumsecError(f"budget line {line_id} has no tag to confirm (untagged, or a classifier "
                              "suggestion below the confidence threshold); give the correct tags")
        new = Tag(sdg_targets=tuple(json.loads(prev[3])), dimensions=tuple(json.loads(prev[4])),
                  source="review", confidence=None,
                  evidence=(f"confirmed {prev[2]} tag",))
        return _put_tag(con, ident, int(line_id), new, "confirmed", prev, "review")
    new = tag.model_copy(update={"source": "review", "confidence": None})
    return _put_tag(con, ident, int(line_id), new, "corrected", prev, "review")


def tag_history(con: duckdb.DuckDBPyConnection, line_id: int) -> pd.DataFrame:
    """Every tag version of one budget line, oldest first."""
    return con.execute("SELECT * FROM budget_tags WHERE line_id = ? ORDER BY version",
                       [int(line_id)]).df()
