"""Reading commitments files (YAML): an instrument and its commitments.

Format::

    instrument:                 # the resolution, law, policy or plan
      id: appf29-human-security
      kind: resolution
      title: ...
      adopted: 2021-12-15
    defaults:                   # applied to every target that does not set them
      baseline_year: 2021       # default: the year the instrument was adopted
      deadline: 2030
      unit: KEN                 # or give --unit when importing
    commitments:
      - id: appf29-r1
        title: ...
        text: ...
        paraphrase: true
        targets:
          - {key: u5mr, indicator: u5mr, target_value: 25}

:func:`read_commitments` validates everything and reports every problem at once with its
location (``file, commitments[2].targets[0].indicator``).
"""

from __future__ import annotations

import datetime as _dt
from importlib import resources
from pathlib import Path


from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.model.catalogue import Catalogue
from humsec.oversight.models import Commitment, Instrument, validate_commitment, validate_instrument
from humsec.yamlio import load_yaml, read_text

__all__ = ["EXAMPLES", "example_path", "read_commitments"]

#: Commitments files shipped with humsec (``humsec/oversight/examples``).
EXAMPLES = ("appf2021",)
_TARGET_DEFAULTS = ("baseline_year", "deadline", "unit")


def example_path(name: str):
    """The shipped example ``name`` (a :mod:`importlib.resources` traversable)."""
    if name not in EXAMPLES:
        raise HumsecError(f"no shipped example '{name}' (examples: {', '.join(EXAMPLES)})")
    return resources.files("humsec.oversight") / "examples" / f"{name}.yaml"


def read_commitments(source: str | Path, *, catalogue: Catalogue, today: _dt.date | None = None,
                     unit: str | None = None, known_units: frozenset[str] | None = None,
                     ) -> tuple[Instrument, list[Commitment]]:
    """Read and validate a commitments file.

    Parameters
    ----------
    source : str or Path
        A YAML file, or the name of a shipped example (``appf2021``).
    catalogue : Catalogue
    today : datetime.date, optional
        For the deadline checks (default: today).
    unit : str, optional
        ISO3 code of the country for targets that name none (overrides ``defaults.unit``).
    known_units : frozenset of str, optional
        Accepted ISO3 codes (default: the country registry).

    Raises
    ------
    ValidationError
        Every problem, located by file and path.
    """
    today = today or _dt.date.today()
    if str(source) in EXAMPLES:
        text, file = example_path(str(source)).read_text(encoding="utf-8"), f"example {source}"
    else:
        path = Path(source)
        if not path.exists():
            raise HumsecError(f"no commitments file '{path}'")
        text, file = read_text(path, "commitments file"), path.name
    raw = load_yaml(text, file)
    if not isinstance(raw, dict) or not isinstance(raw.get("commitments"), list):
        raise ValidationError(ValidationIssue("expected a mapping with 'instrument' and a list under "
                                              "'commitments'", file=file))
    issues: list[ValidationIssue] = []
    instrument = None
    try:
        instrument = validate_instrument(raw.get("instrument"), file=file, where="instrument.")
    except ValidationError as exc:
        issues.extend(exc.issues)
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        issues.append(ValidationIssue(f"expected a mapping of {', '.join(_TARGET_DEFAULTS)}, got a "
                                      f"{type(defaults).__name__}", file=file, field="defaults"))
        defaults = {}
    defaults = {str(k): v for k, v in defaults.items()}
    unknown = set(defaults) - set(_TARGET_DEFAULTS)
    if unknown:
        issues.append(ValidationIssue(f"unknown default(s) {', '.join(sorted(unknown))}; allowed: "
                                      f"{', '.join(_TARGET_DEFAULTS)}", file=file, field="defaults"))
    if unit is not None:
        defaults["unit"] = unit
    if instrument is not None and instrument.adopted is not None and defaults.get("baseline_year") is None:
        # a commitment's baseline is its adoption year (see humsec.oversight.status)
        defaults["baseline_year"] = instrument.adopted.year
    out: list[Commitment] = []
    seen: set[str] = set()
    for n, entry in enumerate(raw["commitments"]):
        where = f"commitments[{n}]."
        if not isinstance(entry, dict):
            issues.append(ValidationIssue("expected a mapping", file=file, field=where.rstrip(".")))
            continue
        entry = dict(entry)
        if instrument is not None:
            entry.setdefault("instrument", instrument.id)
        targets = entry.get("targets")
        if isinstance(targets, list):
            entry["targets"] = [{**{k: v for k, v in defaults.items() if k in _TARGET_DEFAULTS and v is not None},
                                 **t} if isinstance(t, dict) else t for t in targets]
        try:
            c = validate_commitment(entry, catalogue=catalogue, today=today, known_units=known_units,
                                    file=file, where=where)
        except ValidationError as exc:
            issues.extend(exc.issues)
            continue
        if c.id in seen:
            issues.append(ValidationIssue(f"duplicate commitment id '{c.id}'", file=file, field=where + "id"))
        seen.add(c.id)
        if instrument is not None and c.instrument != instrument.id:
            issues.append(ValidationIssue(f"commitment belongs to '{c.instrument}', not to the file's "
                                          f"instrument '{instrument.id}'", file=file, field=where + "instrument"))
        out.append(c)
    if issues:
        raise ValidationError(issues)
    assert instrument is not None
    return instrument, out
