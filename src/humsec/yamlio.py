"""Reading user-supplied text and YAML files with located errors (every layer uses it).

A missing or unreadable file, or YAML that does not parse, is a
:class:`~humsec.errors.HumsecError` naming the file (and for YAML the line) — never a
traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from humsec.errors import HumsecError, ValidationError, ValidationIssue

__all__ = ["load_yaml", "read_text"]


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
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        raise ValidationError(ValidationIssue(f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                                              file=file, row=row)) from None
