"""House rule: imports at module level (#23).

Every ``import`` inside a function of the package is listed here with the reason it must
stay local - an optional extra, a heavy import that a light command must not pay for at
start-up (measured with ``python -X importtime``), or a layering necessity. A new
function-local import fails :func:`test_no_unlisted_function_local_imports` until it is
moved to module level or listed with its reason; an entry whose import is gone fails
:func:`test_allow_list_has_no_stale_entries` (except the entries of modules reviewed by
their owners, which may go at any time)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "humsec"

_REVIEW = "owned elsewhere this session; to review"
_CLI = "the command's own stack, loaded only when it runs: `humsec --help` imports every shell"
_HEAVY_SCIPY = "scipy.stats costs ~0.8 s at import; the module loads at CLI start-up"
_SDMX = "sdmx1 costs ~0.65 s at import; only reading SDMX (or an sdmx1-built URL) needs it"
_HDX = "hdx costs most of a second and raises the csv field limit at import; read only to refresh the cache"
_PLATFORMDIRS = "4 ms at import, paid only when the directory's environment variable is unset"
_OPENPYXL = "openpyxl costs ~0.12 s at import; only the xlsx export needs it"
_PARQUET = "pyarrow.parquet costs ~40 ms at import; the module loads at CLI start-up"
_PARQUET_BUILD = "pyarrow.parquet costs ~40 ms; the release builder loads on a store's first use"
_SHAPELY = "only building a release needs shapely; the module also serves the shipped outlines"
_SKLEARN_OUTLINES = "scikit-learn costs ~0.9 s at import; only building a release needs it"
_RELEASE = "humsec.data.release loads the release builder (~0.13 s); needed only on a store's first use"
_MPL_PLOT = "Matplotlib only for the backtest plot"
_RUPTURES = "ruptures costs ~0.8 s at import; only the non-L2 change-point models need it"
_SKLEARN_TAGGING = "scikit-learn costs ~1 s at import; only training the tag classifier needs it"
_SPATIAL = "the spatial stack only when a briefing is prepared; the module loads at CLI start-up"
_JINJA = "Jinja2 only when a page is rendered; the module loads at CLI start-up"
_PDF = "the optional [pdf] extra (WeasyPrint): MissingExtra without it"
_MPL = "Matplotlib (~0.1 s) loads on the first chart, not at CLI start-up"
_COMMON_EXPORT = "humsec.data.export brings the store (duckdb); every shell imports cli.common"

_FUZZY = "rapidfuzz and pycountry (~8 and ~11 ms CPU) only to match names or build the registry, which most modules import"
_MATCH = "the country registry (rapidfuzz, pycountry) only to match names; the data shell loads this module at start-up"
_PYCOUNTRY_BUILD = "pycountry (~11 ms CPU) only to build a release; the readers load on every store's first use"
_FETCH = "the connectors bring httpx; only hs.fetch needs them"

#: (file under src/humsec, imported module) -> why the import stays inside a function.
ALLOWED: dict[tuple[str, str], str] = {
    ("__init__.py", "importlib"): _REVIEW,
    ("analysis/assess.py", "humsec.data.countries"): _REVIEW,
    ("analysis/assess.py", "humsec.index.uncertainty"): _REVIEW,
    ("analysis/groups.py", "humsec.analysis.assess"): _REVIEW,
    ("analysis/groups.py", "humsec.index.builtin"): _REVIEW,
    ("analysis/groups.py", "humsec.index.pipeline"): _REVIEW,
    ("analysis/threats.py", "scipy"): _HEAVY_SCIPY,
    ("api/__init__.py", "humsec.api.app"): _REVIEW,
    ("api/app.py", "fastapi.staticfiles"): _REVIEW,
    ("api/app.py", "swagger_ui_bundle"): _REVIEW,
    ("api/cache.py", "starlette.concurrency"): _REVIEW,
    ("api/http.py", "humsec.data.export"): _REVIEW,
    ("api/routers/commitments.py", "humsec.oversight.status"): _REVIEW,
    ("api/routers/countries.py", "humsec.analysis"): _REVIEW,
    ("api/routers/countries.py", "humsec.analysis.groups"): _REVIEW,
    ("api/routers/countries.py", "humsec.report.brief"): _REVIEW,
    ("api/routers/data.py", "humsec.data"): _REVIEW,
    ("api/routers/data.py", "humsec.data.release.status"): _REVIEW,
    ("api/routers/index_analysis.py", "humsec.index.analysis_coin"): _REVIEW,
    ("api/routers/index_analysis.py", "humsec.report.index_report"): _REVIEW,
    ("api/routers/indices.py", "humsec.spatial.crossborder"): _REVIEW,
    ("api/state.py", "humsec.data"): _REVIEW,
    ("api/state.py", "humsec.data.countries"): _REVIEW,
    ("api/state.py", "humsec.forecast.onset"): _REVIEW,
    ("api/state.py", "humsec.forecast.warn"): _REVIEW,
    ("api/state.py", "humsec.index.builtin"): _REVIEW,
    ("api/state.py", "humsec.report.brief"): _REVIEW,
    ("cli/assess.py", "humsec.analysis"): _CLI,
    ("cli/assess.py", "humsec.data"): _CLI,
    ("cli/assess.py", "humsec.data.countries"): _CLI,
    ("cli/assess.py", "humsec.index.builtin"): _CLI,
    ("cli/assess.py", "humsec.report.validation"): _CLI,
    ("cli/brief.py", "humsec.cli.assess"): _CLI,
    ("cli/brief.py", "humsec.data.export"): _CLI,
    ("cli/brief.py", "humsec.report.brief"): _CLI,
    ("cli/common.py", "humsec.data.export"): _COMMON_EXPORT,
    ("cli/data.py", "humsec.data"): _CLI,
    ("cli/data.py", "humsec.data.connectors"): _CLI,
    ("cli/data.py", "rich.progress"): _CLI,
    ("cli/export.py", "humsec.data.export"): _CLI,
    ("cli/export.py", "humsec.data.service"): _CLI,
    ("cli/export.py", "humsec.index.builtin"): _CLI,
    ("cli/export.py", "humsec.index.io"): _CLI,
    ("cli/export.py", "humsec.index.pipeline"): _CLI,
    ("cli/export.py", "humsec.report.export_index"): _CLI,
    ("cli/groups.py", "humsec.analysis.groups"): _CLI,
    ("cli/groups.py", "humsec.data.service"): _CLI,
    ("cli/index.py", "humsec.data.export"): _REVIEW,
    ("cli/index.py", "humsec.index"): _REVIEW,
    ("cli/index.py", "humsec.index.analysis_coin"): _REVIEW,
    ("cli/index.py", "humsec.index.audit"): _REVIEW,
    ("cli/index.py", "humsec.index.builtin"): _REVIEW,
    ("cli/index.py", "humsec.index.coinr"): _REVIEW,
    ("cli/index.py", "humsec.index.io"): _REVIEW,
    ("cli/index.py", "humsec.index.longform"): _CLI,
    ("cli/index.py", "humsec.index.methods_coinr"): _REVIEW,
    ("cli/index.py", "humsec.index.pipeline"): _REVIEW,
    ("cli/index.py", "humsec.index.sensitivity"): _REVIEW,
    ("cli/index.py", "humsec.index.spec"): _REVIEW,
    ("cli/index.py", "humsec.index.vintage_uncertainty"): _REVIEW,
    ("cli/index.py", "humsec.report"): _REVIEW,
    ("cli/index.py", "humsec.report.index_report"): _REVIEW,
    ("cli/index.py", "rich.progress"): _REVIEW,
    ("cli/main.py", "humsec.cli.common"): _REVIEW,
    ("cli/main.py", "rich.markup"): _REVIEW,
    ("cli/release.py", "humsec.data"): _CLI,
    ("cli/release.py", "humsec.data.connectors"): _CLI,
    ("cli/release.py", "humsec.data.connectors.base"): _CLI,
    ("cli/release.py", "humsec.data.countries"): _CLI,
    ("cli/release.py", "humsec.data.release"): _CLI,
    ("cli/release.py", "humsec.data.release.status"): _CLI,
    ("cli/release.py", "humsec.model.catalogue"): _CLI,
    ("cli/serve.py", "humsec.api.config"): _REVIEW,
    ("cli/serve.py", "humsec.api.server"): _REVIEW,
    ("cli/serve.py", "humsec.web"): _REVIEW,
    ("cli/spill.py", "humsec.cli.assess"): _CLI,
    ("cli/spill.py", "humsec.data.countries"): _CLI,
    ("cli/spill.py", "humsec.spatial.crossborder"): _CLI,
    ("cli/warn.py", "humsec.cli.assess"): _CLI,
    ("cli/warn.py", "humsec.data.countries"): _CLI,
    ("cli/warn.py", "humsec.forecast.alerts"): _CLI,
    ("cli/warn.py", "humsec.forecast.backtest"): _CLI,
    ("cli/warn.py", "humsec.forecast.crises"): _CLI,
    ("cli/warn.py", "humsec.forecast.onset"): _CLI,
    ("cli/warn.py", "humsec.forecast.pipelines"): _CLI,
    ("cli/warn.py", "humsec.forecast.series"): _CLI,
    ("cli/warn.py", "humsec.forecast.warn"): _CLI,
    ("data/connectors/sdmx_source.py", "sdmx"): _SDMX,
    ("data/countries.py", "hdx.location.country"): _HDX,
    ("data/countries.py", "platformdirs"): _PLATFORMDIRS,
    ("data/countries.py", "pycountry"): _FUZZY,
    ("data/countries.py", "rapidfuzz"): _FUZZY,
    ("data/export.py", "openpyxl"): _OPENPYXL,
    ("data/export.py", "openpyxl.cell"): _OPENPYXL,
    ("data/export.py", "openpyxl.styles"): _OPENPYXL,
    ("data/export.py", "openpyxl.utils"): _OPENPYXL,
    ("data/export.py", "pyarrow.parquet"): _PARQUET,
    ("data/importer.py", "humsec.data.countries"): _MATCH,
    ("data/importer.py", "pycountry"): _MATCH,
    ("data/readers.py", "charset_normalizer"): _REVIEW,
    ("data/readers.py", "openpyxl"): _REVIEW,
    ("data/readers.py", "pyarrow.parquet"): _REVIEW,
    ("data/release/build.py", "pyarrow.parquet"): _PARQUET_BUILD,
    ("data/release/outlines.py", "shapely"): _SHAPELY,
    ("data/release/outlines.py", "shapely.geometry"): _SHAPELY,
    ("data/release/outlines.py", "shapely.ops"): _SHAPELY,
    ("data/release/outlines.py", "sklearn.neighbors"): _SKLEARN_OUTLINES,
    ("data/release/readers/_base.py", "pycountry"): _PYCOUNTRY_BUILD,
    ("data/sdmx_io.py", "sdmx"): _SDMX,
    ("data/sdmx_io.py", "sdmx.message"): _SDMX,
    ("data/service.py", "humsec.data"): _RELEASE,
    ("data/service.py", "humsec.data.release.load"): _RELEASE,
    ("forecast/alerts.py", "humsec.index.pipeline"): _REVIEW,
    ("forecast/backtest.py", "matplotlib"): _MPL_PLOT,
    ("forecast/backtest.py", "matplotlib.pyplot"): _MPL_PLOT,
    ("forecast/detect.py", "ruptures"): _RUPTURES,
    ("index/analysis_coin.py", "scipy"): _REVIEW,
    ("index/analysis_coin.py", "scipy.optimize"): _REVIEW,
    ("index/families.py", "humsec.index"): _REVIEW,
    ("index/families.py", "humsec.index.methods"): _REVIEW,
    ("index/io.py", "humsec.data.writing"): _REVIEW,
    ("index/methods/treat.py", "scipy"): _REVIEW,
    ("index/methods/weights.py", "scipy.optimize"): _REVIEW,
    ("index/pipeline.py", "humsec.index.scale"): _REVIEW,
    ("index/scale.py", "distributed"): _REVIEW,
    ("index/sensitivity.py", "SALib.analyze"): _REVIEW,
    ("index/sensitivity.py", "SALib.sample"): _REVIEW,
    ("index/sensitivity.py", "scipy.stats"): _REVIEW,
    ("index/spec.py", "humsec.data.export"): _REVIEW,
    ("index/spec.py", "humsec.index.families"): _REVIEW,
    ("index/spec.py", "humsec.index.io"): _REVIEW,
    ("index/spec.py", "numpy"): _REVIEW,
    ("index/spec.py", "pandas"): _REVIEW,
    ("index/vintage_uncertainty.py", "humsec.index.pipeline"): _REVIEW,
    ("index/vintage_uncertainty.py", "humsec.index.uncertainty"): _REVIEW,
    ("lib.py", "humsec.data.vintages"): _FETCH,
    ("oversight/align.py", "scipy.stats"): _HEAVY_SCIPY,
    ("oversight/tagging.py", "sklearn.feature_extraction.text"): _SKLEARN_TAGGING,
    ("oversight/tagging.py", "sklearn.linear_model"): _SKLEARN_TAGGING,
    ("oversight/tagging.py", "sklearn.pipeline"): _SKLEARN_TAGGING,
    ("report/brief.py", "humsec.spatial.crossborder"): _SPATIAL,
    ("report/brief.py", "humsec.spatial.spill"): _SPATIAL,
    ("report/brief.py", "jinja2"): _JINJA,
    ("report/brief.py", "weasyprint"): _PDF,
    ("report/charts.py", "matplotlib"): _MPL,
    ("report/charts.py", "matplotlib.backends.backend_agg"): _MPL,
    ("report/charts.py", "matplotlib.figure"): _MPL,
    ("report/index_charts.py", "matplotlib.patches"): _MPL,
    ("settings.py", "platformdirs"): _PLATFORMDIRS,
    ("spatial/crossborder.py", "humsec.analysis.assess"): _REVIEW,
    ("spatial/crossborder.py", "humsec.data.default"): _REVIEW,
    ("spatial/crossborder.py", "humsec.spatial.graph"): _REVIEW,
    ("spatial/crossborder.py", "humsec.spatial.peers"): _REVIEW,
    ("spatial/crossborder.py", "humsec.spatial.spill"): _REVIEW,
    ("spatial/crossborder.py", "humsec.spatial.stats"): _REVIEW,
    ("spatial/graph.py", "libpysal.graph"): _REVIEW,
    ("spatial/graph.py", "scipy.spatial"): _REVIEW,
    ("spatial/stats.py", "esda.moran"): _REVIEW,
    ("web/__init__.py", "humsec.api"): _REVIEW,
    ("web/__init__.py", "humsec.web.pages"): _REVIEW,
    ("web/pages.py", "humsec.analysis.assess"): _REVIEW,
    ("web/pages.py", "humsec.api.cache"): _REVIEW,
    ("web/pages.py", "humsec.api.http"): _REVIEW,
    ("web/pages.py", "humsec.data.countries"): _REVIEW,
    ("web/pages.py", "humsec.report.brief"): _REVIEW,
    ("web/pages.py", "humsec.web.geometry"): _REVIEW,
    ("web/pages.py", "jinja2"): _REVIEW,
}


def _local_imports(tree: ast.AST, where: str) -> set[tuple[str, str]]:
    """(where, module) of every ``import`` statement inside a function body of ``tree``."""
    found: set[tuple[str, str]] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if in_function and isinstance(child, ast.Import):
                found.update((where, a.name) for a in child.names)
            elif in_function and isinstance(child, ast.ImportFrom):
                found.add((where, "." * child.level + (child.module or "")))
            visit(child, inside)

    visit(tree, False)
    return found


def function_local_imports() -> set[tuple[str, str]]:
    """(file, module) of every function-local import of the package."""
    found: set[tuple[str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        found |= _local_imports(ast.parse(path.read_text(encoding="utf-8"), str(path)),
                                path.relative_to(SRC).as_posix())
    return found


def test_the_scan_finds_imports_in_functions_only():
    src = ("import os\nfrom typing import Any\nclass K:\n    import re\n    def m(self):\n"
           "        from .x import y\ndef f():\n    import json, csv\n    def g():\n"
           "        from a.b import c\n")
    assert _local_imports(ast.parse(src), "m.py") == {("m.py", ".x"), ("m.py", "json"), ("m.py", "csv"),
                                                     ("m.py", "a.b")}
    assert ("report/brief.py", "weasyprint") in function_local_imports()  # the [pdf] extra stays local


def test_no_unlisted_function_local_imports():
    new = sorted(function_local_imports() - set(ALLOWED))
    assert not new, ("function-local imports not in tests/test_imports.py's ALLOWED: move them to module "
                     "level or list them with the reason they must stay local:\n"
                     + "\n".join(f"  src/humsec/{f}: {m}" for f, m in new))


def test_allow_list_has_no_stale_entries():
    stale = sorted(k for k in set(ALLOWED) - function_local_imports() if ALLOWED[k] != _REVIEW)
    assert not stale, "imports no longer local (remove from ALLOWED):\n" + "\n".join(f"  {f}: {m}" for f, m in stale)


def test_every_entry_has_a_reason():
    assert all(isinstance(r, str) and len(r) > 10 for r in ALLOWED.values())
