"""Built-in index specs (YAML files shipped in ``humsec/index/specs``) and spec loading."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from humsec.errors import HumsecError
from humsec.index.spec import IndexSpec

__all__ = ["builtin_names", "load_spec"]


def builtin_names() -> list[str]:
    """Names of the built-in specs (``hdi``, ``gdi``, ``gii``, ``ihdi``, ``inform``, ``hsi`` ...)."""
    root = resources.files("humsec.index") / "specs"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_spec(name_or_path: str | Path) -> IndexSpec:
    """Load a built-in spec by name or a spec YAML file by path (validated).

    Raises
    ------
    HumsecError
        Neither a built-in name nor an existing file; ValidationError for invalid specs.
    """
    text = str(name_or_path)
    if text in builtin_names():
        res = resources.files("humsec.index") / "specs" / f"{text}.yaml"
        return IndexSpec.from_yaml(res.read_text(encoding="utf-8"), file=f"built-in spec '{text}'")
    path = Path(text)
    if path.is_file():
        return IndexSpec.from_file(path)
    raise HumsecError(f"'{text}' is neither a built-in spec ({', '.join(builtin_names())}) "
                      "nor an existing spec file")
