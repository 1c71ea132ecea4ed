"""Reading user-supplied text and YAML files with located errors (every layer uses it).

A missing or unreadable file, or YAML that does not parse, is a
:class:`~humsec.errors.HumsecError` naming the file (and for YAML the line) — never a
traceback. :func:`model_issues` turns a pydantic validation error of a parsed YAML
document into located issues (``tree[3] (LPI).weight``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from humsec.errors import HumsecError, ValidationError, ValidationIssue

__all__ = ["field_path", "load_yaml", "model_issues", "read_text"]


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of ``path``; ``what`` names the file in errors ("spec file")."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HumsecError(f"{p}: {what} not found") from None
    except IsADirectoryError:
        raise HumsecError(f"{p}: is a directory; expected a {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HumsecError(f"{p}: cannot read {what} ({exc})") from None


def load_yaml(text: str, file: str) -> Any:
    """Parse YAML safely; a syntax error becomes a :class:`ValidationError` located at
    ``file`` and the offending line."""
    try:  # libyaml's safe loader when present (same rules, ~10x faster on the catalogue)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        raise ValidationError(ValidationIssue(f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                                              file=file, row=row)) from None


def field_path(raw: Any, loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a path a user finds in the YAML file: list items are
    labelled with their ``code`` or ``step`` when they have one (``tree[3] (LPI).weight``)."""
    parts: list[str] = []
    cur = raw
    for p in loc:
        if isinstance(p, int):
            label = f"[{p}]"
            if isinstance(cur, list) and p < len(cur) and isinstance(cur[p], dict):
                tag = cur[p].get("code") or cur[p].get("step")
                if tag:
                    label = f"[{p}] ({tag})"
            parts.append(label)
            cur = cur[p] if isinstance(cur, list) and p < len(cur) else None
        else:
            parts.append(("." if parts else "") + str(p))
            cur = cur.get(p) if isinstance(cur, dict) else None
    return "".join(parts)


def model_issues(exc: Any, raw: Any, file: str) -> list[ValidationIssue]:
    """Every error of a ``pydantic.ValidationError`` raised on ``raw``, located."""
    return [ValidationIssue(str(e["msg"]), file=file, field=field_path(raw, e["loc"]) or None)
            for e in exc.errors()]
