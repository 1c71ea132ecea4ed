"""The connector registry: ``sources.yaml`` (declarative) + one hook module per source.

Like sdmx1's source registry, sources are data: adding a source that speaks an API
humsec already knows (another SDMX provider, another World Bank database) needs only a
YAML entry. :class:`SourceRegistry` is an immutable value built on demand (no
import-time loading, no singleton).
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType, ModuleType

from pydantic import ValidationError as PydanticValidationError

from humsec.data.connectors.base import SourceSpec
from humsec.errors import HumsecError, ValidationError, ValidationIssue
from humsec.model.catalogue import Catalogue
from humsec.yamlio import load_yaml, read_text

__all__ = ["SourceRegistry"]

_HOOK = re.compile(r"^[a-z][a-z0-9_]*$")
HOOKS = frozenset({"worldbank", "unsdg", "who_gho", "undp_hdr", "unhcr", "ucdp", "sdmx_source"})


class SourceRegistry:
    """Immutable mapping of source id -> :class:`SourceSpec`.

    Parameters
    ----------
    sources : Mapping[str, SourceSpec]
    catalogue : Catalogue
        Catalogue entries of the indicators only connectors provide (``indicators.yaml``).
    """

    __slots__ = ("_sources", "catalogue")
    _sources: Mapping[str, SourceSpec]
    catalogue: Catalogue

    def __init__(self, sources: Mapping[str, SourceSpec], catalogue: Catalogue):
        object.__setattr__(self, "_sources", MappingProxyType(dict(sources)))
        object.__setattr__(self, "catalogue", catalogue)

    def __setattr__(self, name, value):
        raise AttributeError("SourceRegistry is immutable")

    # -- loading -----------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, text: str, *, file: str = "<sources>",
                  catalogue: Catalogue | None = None) -> "SourceRegistry":
        """Parse a registry file; every problem is reported with its location."""
        raw = load_yaml(text, file)
        if not isinstance(raw, dict) or not isinstance(raw.get("sources"), dict):
            raise ValidationError(ValidationIssue("expected a mapping under 'sources'", file=file))
        issues: list[ValidationIssue] = []
        specs: dict[str, SourceSpec] = {}
        for sid, entry in raw["sources"].items():
            if not isinstance(entry, dict):
                issues.append(ValidationIssue("expected a mapping", file=file, field=f"sources.{sid}"))
                continue
            try:
                spec = SourceSpec.model_validate({"id": sid, **entry})
            except PydanticValidationError as exc:
                for err in exc.errors():
                    loc = ".".join(str(p) for p in err["loc"])
                    issues.append(ValidationIssue(err["msg"], file=file, field=f"sources.{sid}.{loc}"))
                continue
            if spec.hook not in HOOKS:
                issues.append(ValidationIssue(
                    f"unknown hook '{spec.hook}': expected one of {', '.join(sorted(HOOKS))}",
                    file=file, field=f"sources.{sid}.hook"))
            specs[sid] = spec
        if issues:
            raise ValidationError(issues)
        return cls(specs, catalogue or Catalogue([]))

    @classmethod
    def default(cls) -> "SourceRegistry":
        """The registry shipped with humsec (``humsec/data/connectors/sources.yaml``)."""
        pkg = resources.files("humsec.data.connectors")
        cat = Catalogue.from_yaml(pkg.joinpath("indicators.yaml").read_text("utf-8"),
                                  file="humsec/data/connectors/indicators.yaml")
        return cls.from_yaml(pkg.joinpath("sources.yaml").read_text("utf-8"),
                             file="humsec/data/connectors/sources.yaml", catalogue=cat)

    @classmethod
    def from_file(cls, path: str | Path, catalogue: Catalogue | None = None) -> "SourceRegistry":
        path = Path(path)
        return cls.from_yaml(read_text(path, "connector registry"), file=str(path), catalogue=catalogue)

    # -- access ------------------------------------------------------------------------
    def __iter__(self) -> Iterator[SourceSpec]:
        return iter(self._sources.values())

    def __len__(self) -> int:
        return len(self._sources)

    def __contains__(self, sid: object) -> bool:
        return sid in self._sources

    @property
    def ids(self) -> list[str]:
        return list(self._sources)

    def __getitem__(self, sid: str) -> SourceSpec:
        try:
            return self._sources[sid]
        except KeyError:
            close = difflib.get_close_matches(str(sid), self.ids, n=2)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise HumsecError(f"unknown source '{sid}'{hint}; known sources: "
                              f"{', '.join(self.ids)}") from None

    @staticmethod
    def hook(spec: SourceSpec) -> ModuleType:
        """The hook module of ``spec`` (imported on first use)."""
        if spec.hook not in HOOKS or not _HOOK.fullmatch(spec.hook):
            raise HumsecError(f"source '{spec.id}': unknown hook '{spec.hook}'")
        return importlib.import_module(f"humsec.data.connectors.{spec.hook}")

    def unknown_codes(self, catalogue: Catalogue) -> list[tuple[str, str, str]]:
        """(source, series, code) of mappings to codes in neither ``catalogue`` nor the
        connectors' own catalogue (should be empty)."""
        out = []
        for spec in self:
            for series, m in spec.indicators.items():
                if m.code not in catalogue and m.code not in self.catalogue:
                    out.append((spec.id, series, m.code))
        return out
