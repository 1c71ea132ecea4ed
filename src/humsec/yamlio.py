"""Reading user-supplied text and YAML files with located errors (every layer uses it).

A missing or unreadable file, or YAML that does not parse, is a
:class:`~humsec.errors.HumsecError` naming the file (and for YAML the line) — never a
traceback. YAML is loaded safely (no tags executed) and bounded: before anything is
built the event stream is scanned with a nesting-depth limit (libyaml's composer
recurses in C and crashes the process on deep nesting) and a limit on the size of the
document *with aliases expanded* (a "billion laughs" document is a few hundred bytes that
expand to 10^9 nodes as soon as anything walks it), so a bomb is rejected in
milliseconds. :func:`model_issues` turns a pydantic validation error of a parsed YAML
document into located issues (``tree[3] (LPI).weight``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from humsec.errors import HumsecError, ValidationError, ValidationIssue

__all__ = ["MAX_TEXT_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "dump_yaml", "field_path", "load_yaml",
           "model_issues", "read_text"]

#: Largest text/YAML file read (bytes); the shipped catalogue is 45 KB.
MAX_TEXT_BYTES = 16 * 2**20
#: Deepest nesting of mappings/sequences in a YAML document.
MAX_YAML_DEPTH = 64
#: Most nodes in a YAML document counted with every alias expanded.
MAX_YAML_NODES = 1_000_000

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_NODE = (yaml.ScalarEvent, yaml.AliasEvent, *_OPEN)


def read_text(path: str | Path, what: str, *, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of ``path`` (a leading BOM dropped); ``what`` names the file in
    errors ("spec file"). Missing, a directory, too large or not UTF-8 is a
    :class:`HumsecError` naming the file."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise IsADirectoryError
        if size > max_bytes:
            raise HumsecError(f"{p}: {what} is {size:,} bytes: expected at most {max_bytes:,}")
        data = p.read_bytes()
    except FileNotFoundError:
        raise HumsecError(f"{p}: {what} not found") from None
    except IsADirectoryError:
        raise HumsecError(f"{p}: is a directory; expected a {what}") from None
    except OSError as exc:
        raise HumsecError(f"{p}: cannot read {what} ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise HumsecError(
            f"{p}: cannot read {what}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line "
            f"{line}); expected UTF-8 - re-save the file as UTF-8 (e.g. from Latin-1)") from None


def _issue(msg: str, file: str, mark: Any = None) -> ValidationError:
    row = mark.line + 1 if mark is not None else None
    return ValidationError(ValidationIssue(msg, file=file, row=row))


def _check_bounds(text: str, file: str, max_depth: int, max_nodes: int) -> None:
    """Scan the event stream (libyaml's parser is iterative: no recursion, stops at the
    first violation) for nesting depth and alias-expanded size."""
    depth = 0
    total = 0
    frames: list[list] = []  # [anchor, expanded size] of open collections
    sizes: dict[str, int] = {}  # anchor -> expanded size of its node
    for ev in yaml.parse(text, Loader=_LOADER):
        if isinstance(ev, _NODE):
            n = 1
            if isinstance(ev, yaml.AliasEvent):
                if any(f[0] == ev.anchor for f in frames):
                    raise _issue(f"recursive YAML alias '*{ev.anchor}' (refers to a node that "
                                 "contains it): expected a finite document", file, ev.start_mark)
                n = sizes.get(ev.anchor, 1)
            total += n
            if total > max_nodes:
                raise _issue(f"YAML document too large: more than {max_nodes:,} nodes with "
                             "aliases expanded (an alias bomb?)", file, ev.start_mark)
            if frames:
                frames[-1][1] += n
            if isinstance(ev, yaml.ScalarEvent) and ev.anchor is not None:
                sizes[ev.anchor] = 1
            elif isinstance(ev, _OPEN):
                depth += 1
                if depth > max_depth:
                    raise _issue(f"YAML nested too deeply: expected at most {max_depth} "
                                 "levels of mappings/lists", file, ev.start_mark)
                frames.append([ev.anchor, 0])
        elif isinstance(ev, _CLOSE):
            depth -= 1
            anchor, n = frames.pop()
            if frames:
                frames[-1][1] += n
            if anchor is not None:
                sizes[anchor] = n + 1


def load_yaml(text: str, file: str, *, max_depth: int = MAX_YAML_DEPTH,
              max_nodes: int = MAX_YAML_NODES) -> Any:
    """Parse YAML safely and bounded; a syntax error, a bomb (aliases, nesting) or a
    scalar that cannot be built (a 5,000-digit integer, 2020-13-45) becomes a
    :class:`ValidationError` located at ``file`` and the offending line."""
    if len(text) > MAX_TEXT_BYTES:
        raise _issue(f"YAML text of {len(text):,} characters: expected at most "
                     f"{MAX_TEXT_BYTES:,}", file)
    try:  # libyaml's safe loader when present (same rules, ~10x faster on the catalogue)
        _check_bounds(text, file, max_depth, max_nodes)
        return yaml.load(text, Loader=_LOADER)  # noqa: S506
    except yaml.YAMLError as exc:
        problem = str(getattr(exc, "problem", None) or exc)
        if "nesting depth" in problem:  # newer libyaml stops deep nesting in its own parser
            raise _issue(f"YAML nested too deeply: expected at most {max_depth} levels ({problem})", file,
                         getattr(exc, "problem_mark", None)) from None
        raise _issue(f"not valid YAML: {problem}", file, getattr(exc, "problem_mark", None)) from None
    except (ValueError, TypeError, OverflowError, AttributeError) as exc:  # scalar constructors
        raise _issue(f"not valid YAML: a value cannot be read ({str(exc)[:200]})", file) from None
    except (RecursionError, MemoryError):
        raise _issue("YAML document too large or nested too deeply", file) from None


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


_YAML_BREAKS = ("\x85", "\u2028", "\u2029")


class _SafeUnicodeDumper(yaml.SafeDumper):
    """SafeDumper that double-quotes strings holding Unicode line breaks.

    With ``allow_unicode=True`` PyYAML writes NEL/LS/PS raw in plain or block styles and
    reads them back as line breaks; in double-quoted style it escapes them.
    """


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if any(ch in value for ch in _YAML_BREAKS) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_SafeUnicodeDumper.add_representer(str, _represent_str)


def dump_yaml(obj: Any, **kwargs: Any) -> str:
    """YAML text of plain data (dicts, lists, str, numbers) that :func:`load_yaml` reads
    back equal: safe representers only, Unicode kept (strings with Unicode line breaks
    double-quoted), keys in their given order. ``kwargs`` go to :func:`yaml.dump`
    (e.g. ``width``, ``default_flow_style``)."""
    opts = {"sort_keys": False, "allow_unicode": True, **kwargs}
    return yaml.dump(obj, Dumper=_SafeUnicodeDumper, **opts)
