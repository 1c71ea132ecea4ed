"""Error types shared by every layer.

Every error a user can cause is a :class:`HumsecError`; the CLI prints its message and
exits with code 2 (never a traceback). Validation errors carry *all* the problems found,
each with its location (file, row, column/field) and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass


class HumsecError(Exception):
    """A problem the user can fix (bad input, unknown name, missing data)."""

    exit_code = 2


class NotFoundError(HumsecError):
    """The thing asked for does not exist (a record id, a name): the API answers 404."""


class MissingExtra(HumsecError):
    """A feature needs an optional extra that is not installed (``pip install
    'humsec[NAME]'``): the API answers 501 Not Implemented."""

    def __init__(self, extra: str, feature: str, detail: str = ""):
        self.extra = extra
        super().__init__(f"{feature} needs the optional extra '{extra}': pip install 'humsec[{extra}]'"
                         + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class ValidationIssue:
    """One located problem.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    file : str, optional
        The file (or spec name) where it was found.
    row : int, optional
        1-based data row number as a user sees it in the file (header = row 1 for CSV).
    field : str, optional
        Column name or dotted path into a spec.
    """

    message: str
    file: str | None = None
    row: int | None = None
    field: str | None = None

    def location(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field:
            parts.append(f"column '{self.field}'" if self.row is not None else str(self.field))
        return ", ".join(parts)

    def __str__(self) -> str:
        loc = self.location()
        return f"{loc}: {self.message}" if loc else self.message


class ValidationError(HumsecError):
    """One or more located :class:`ValidationIssue` s."""

    def __init__(self, issues: list[ValidationIssue] | ValidationIssue, *, limit: int = 50):
        if isinstance(issues, ValidationIssue):
            issues = [issues]
        self.issues = list(issues)
        shown = [str(i) for i in self.issues[:limit]]
        more = len(self.issues) - len(shown)
        text = "\n".join(f"  - {s}" for s in shown)
        if more > 0:
            text += f"\n  ... and {more} more problem(s)"
        n = len(self.issues)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} found:\n{text}")
