"""House rule: imports at module level (#23).

Every ``import`` inside a function of the package is listed here with the reason it must
stay local - an optional extra, a heavy import that a light command must not pay for at
start-up (measured with ``python -X importtime``), or a layering necessity. A new
function-local import fails :func:`test_no_unlisted_function_local_imports` until it is
moved to module level or listed with its reason; an entry whose import is gone fails
:func:`test_allow_list_has_no_stale_entries`."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "humsec"

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

_FRONT_DOOR = "the front door loads lazily: `import humsec` must stay light"
_ASSESS_UNCERTAINTY = ("humsec.index.uncertainty (+5 modules, ~25 ms) only for assess()'s uncertainty runs; "
                       "analysis.assess is imported at module level by 11 modules (forecast, report, api, lib)")
_GROUPS_INDEX = ("the index stack (analysis.assess/index.pipeline: +24 modules, ~0.1 s, pyarrow; index.builtin: "
                 "+3) only for the gender indices and the left-behind ranks; the group tables load without it")
_API_APP = ("humsec.api.app brings FastAPI and every router (+778 modules, ~1 s) only when an app is built; "
            "humsec.api's light modules (config, schemas) are imported without it")
_CACHE_THREADPOOL = ("starlette's thread pool (+16 modules: anyio, starlette) only when a request awaits the "
                     "fingerprint or the warm-up; api.cache itself loads without the web framework")
_HTTP_EXPORT = ("humsec.data.export brings the store (duckdb: +36 modules, ~0.15 s) only for a CSV answer; "
                "every router imports api.http")


def _route(cost: str) -> str:
    return (f"the route's own stack ({cost}), loaded on its first request: building the app (serve "
            "start-up, each test client) does not pay for it")


def _state(cost: str) -> str:
    return f"one view's stack ({cost}), loaded on its first use: the observatory answers the other views without it"


_MAIN_COMMON = ("humsec.cli.common (+504 modules, ~0.5 s: pandas, the console) loads when a command runs, "
                "not for `humsec --help`/`--version` (cli.main loads 259 modules)")
_MAIN_MARKUP = "rich.markup (+32 modules, ~20 ms) only to print an error; cli.main loads at CLI start-up"


def _reader(cost: str, what: str) -> str:
    return f"{cost}, only to read {what}; data.readers loads with every table import (data.importer, budgets)"


_ALERTS_PIPELINE = ("the index builder (+27 modules, ~80 ms: pyarrow) only to split a score into its "
                    "contributions; forecast.alerts loads with forecast.warn/crises and the alerts route")
_SCIPY_PVALUES = "scipy.stats costs ~0.8 s at import (+650 modules); only the correlation p-values need it"
_SCIPY_OPTIMIZE = "scipy.optimize costs ~0.4 s at import (+490 modules); only optimised weights need it"
_SCIPY_BOXCOX = ("scipy.stats costs ~0.8 s at import (+650 modules); only the Box-Cox treatment needs it and "
                 "index.methods loads with every index build")
_DASK = "the [dask] extra (distributed, ~0.5 s at import): MissingExtra without it"
_SALIB = ("SALib and scipy.stats (~0.8 s at import, +650 modules) only for Sobol designs and indices; "
          "index.sensitivity loads with index.uncertainty on every assessment")
_FAMILIES = ("the method kernels (humsec.index.methods, extra_methods: pandas, numpy, +470 modules, ~0.45 s) "
             "load on the first registry look-up; index.families itself loads without them")
_SPEC_LIGHT = ("index.spec is the light declarative layer (no pandas: builtin, api.schemas, lib, the CLI "
               "import it); pandas/numpy/the store (+460 modules, ~0.4 s) only to read or write files")
_SPEC_FAMILIES = ("index.families (+5 modules) and through it the method registries only to validate steps; "
                  "index.spec is imported by builtin, api.schemas and lib without validating")
_CROSSBORDER_ASSESS = ("analysis.assess (+49 modules, ~0.12 s) only when the caller passes no index data; "
                       "crossborder loads with the API's country routes")
_CROSSBORDER_RELEASE = ("humsec.data.default (the default release: +177 modules, ~0.19 s, httpx) only when no "
                        "displacement table is given")
_LIBPYSAL = "libpysal costs ~1.5 s at import (+1500 modules); only a libpysal Graph export needs it"
_SCIPY_SPATIAL = "scipy.spatial costs ~0.3 s at import (+340 modules); only k-nearest and distance-band graphs need it"
_ESDA = "esda costs ~1.3 s at import (+1570 modules); only Moran's I needs it"
_WEB_PAGES = ("humsec.web.pages (FastAPI, Starlette: +185 modules, ~0.23 s) only when the dashboard is mounted "
              "on an app; humsec.web itself loads without the web framework")
_PAGES_STACK = ("pandas and the data stack (+~500 modules, ~0.5 s) when the pages are mounted or rendered; "
                "web.pages' helpers (names, credits, warm-up status) load without them (410 modules)")
_PAGES_JINJA = "Jinja2 (+24 modules, ~20 ms) only when a page is rendered"

#: (file under src/humsec, imported module) -> why the import stays inside a function.
ALLOWED: dict[tuple[str, str], str] = {
    ("__init__.py", "importlib"): _FRONT_DOOR,
    ("analysis/assess.py", "humsec.index.uncertainty"): _ASSESS_UNCERTAINTY,
    ("analysis/groups.py", "humsec.analysis.assess"): _GROUPS_INDEX,
    ("analysis/groups.py", "humsec.index.builtin"): _GROUPS_INDEX,
    ("analysis/groups.py", "humsec.index.pipeline"): _GROUPS_INDEX,
    ("analysis/threats.py", "scipy"): _HEAVY_SCIPY,
    ("api/__init__.py", "humsec.api.app"): _API_APP,
    ("api/cache.py", "starlette.concurrency"): _CACHE_THREADPOOL,
    ("api/http.py", "humsec.data.export"): _HTTP_EXPORT,
    ("api/routers/commitments.py", "humsec.oversight.status"): _route("+2 modules, ~12 ms"),
    ("api/routers/countries.py", "humsec.analysis"): _route("analysis.trends: +1 module, ~8 ms"),
    ("api/routers/countries.py", "humsec.analysis.groups"): _route("+2 modules, ~15 ms"),
    ("api/routers/countries.py", "humsec.report.brief"): _route("+5 modules, ~25 ms; WeasyPrint only for a PDF"),
    ("api/routers/data.py", "humsec.data"): _route("data.service: +2 modules, ~5 ms; only an import (a write) needs it"),
    ("api/routers/data.py", "humsec.data.release.status"): _route("+142 modules, ~0.16 s: httpx, rich"),
    ("api/routers/index_analysis.py", "humsec.index.analysis_coin"): _route("+1 module, ~10 ms; scipy stays local in it"),
    ("api/routers/index_analysis.py", "humsec.report.index_report"): _route("+27 modules, ~45 ms: Jinja2"),
    ("api/routers/indices.py", "humsec.spatial.crossborder"): _route("+2 modules, ~10 ms"),
    ("api/state.py", "humsec.data"): _state("data.service, the release loader: +27 modules, ~40 ms"),
    ("api/state.py", "humsec.forecast.onset"): _state("the onset models: +1159 modules, ~1.5 s"),
    ("api/state.py", "humsec.forecast.warn"): _state("+9 modules, ~35 ms"),
    ("api/state.py", "humsec.report.brief"): _state("+6 modules, ~35 ms"),
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
    ("cli/index.py", "humsec.data.export"): _CLI,
    ("cli/index.py", "humsec.index"): _CLI,
    ("cli/index.py", "humsec.index.analysis_coin"): _CLI,
    ("cli/index.py", "humsec.index.audit"): _CLI,
    ("cli/index.py", "humsec.index.builtin"): _CLI,
    ("cli/index.py", "humsec.index.coinr"): _CLI,
    ("cli/index.py", "humsec.index.io"): _CLI,
    ("cli/index.py", "humsec.index.longform"): _CLI,
    ("cli/index.py", "humsec.index.methods_coinr"): _CLI,
    ("cli/index.py", "humsec.index.pipeline"): _CLI,
    ("cli/index.py", "humsec.index.sensitivity"): _CLI,
    ("cli/index.py", "humsec.index.spec"): _CLI,
    ("cli/index.py", "humsec.index.vintage_uncertainty"): _CLI,
    ("cli/index.py", "humsec.report"): _CLI,
    ("cli/index.py", "humsec.report.index_report"): _CLI,
    ("cli/index.py", "rich.progress"): _CLI,
    ("cli/main.py", "humsec.cli.common"): _MAIN_COMMON,
    ("cli/main.py", "rich.markup"): _MAIN_MARKUP,
    ("cli/release.py", "humsec.data"): _CLI,
    ("cli/release.py", "humsec.data.connectors"): _CLI,
    ("cli/release.py", "humsec.data.connectors.base"): _CLI,
    ("cli/release.py", "humsec.data.countries"): _CLI,
    ("cli/release.py", "humsec.data.release"): _CLI,
    ("cli/release.py", "humsec.data.release.status"): _CLI,
    ("cli/release.py", "humsec.model.catalogue"): _CLI,
    ("cli/serve.py", "humsec.api.config"): _CLI,
    ("cli/serve.py", "humsec.api.server"): _CLI,
    ("cli/serve.py", "humsec.web"): _CLI,
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
    ("data/readers.py", "charset_normalizer"): _reader("charset_normalizer: +107 modules, ~25 ms", "a text file that is not UTF-8"),
    ("data/readers.py", "openpyxl"): _reader("openpyxl: +198 modules, ~0.1 s", "an xlsx file"),
    ("data/readers.py", "pyarrow.parquet"): _reader("pyarrow.parquet: +11 modules, ~20 ms", "a Parquet file"),
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
    ("forecast/alerts.py", "humsec.index.pipeline"): _ALERTS_PIPELINE,
    ("forecast/backtest.py", "matplotlib"): _MPL_PLOT,
    ("forecast/backtest.py", "matplotlib.pyplot"): _MPL_PLOT,
    ("forecast/detect.py", "ruptures"): _RUPTURES,
    ("index/analysis_coin.py", "scipy"): _SCIPY_PVALUES,
    ("index/analysis_coin.py", "scipy.optimize"): _SCIPY_OPTIMIZE,
    ("index/families.py", "humsec.index"): _FAMILIES,
    ("index/families.py", "humsec.index.methods"): _FAMILIES,
    ("index/methods/treat.py", "scipy"): _SCIPY_BOXCOX,
    ("index/methods/weights.py", "scipy.optimize"): _SCIPY_OPTIMIZE,
    ("index/scale.py", "distributed"): _DASK,
    ("index/sensitivity.py", "SALib.analyze"): _SALIB,
    ("index/sensitivity.py", "SALib.sample"): _SALIB,
    ("index/sensitivity.py", "scipy.stats"): _SALIB,
    ("index/spec.py", "humsec.data.export"): _SPEC_LIGHT,
    ("index/spec.py", "humsec.index.families"): _SPEC_FAMILIES,
    ("index/spec.py", "humsec.index.io"): _SPEC_LIGHT,
    ("index/spec.py", "numpy"): _SPEC_LIGHT,
    ("index/spec.py", "pandas"): _SPEC_LIGHT,
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
    ("spatial/crossborder.py", "humsec.analysis.assess"): _CROSSBORDER_ASSESS,
    ("spatial/crossborder.py", "humsec.data.default"): _CROSSBORDER_RELEASE,
    ("spatial/graph.py", "libpysal.graph"): _LIBPYSAL,
    ("spatial/graph.py", "scipy.spatial"): _SCIPY_SPATIAL,
    ("spatial/stats.py", "esda.moran"): _ESDA,
    ("web/__init__.py", "humsec.web.pages"): _WEB_PAGES,
    ("web/pages.py", "humsec.analysis.assess"): _PAGES_STACK,
    ("web/pages.py", "humsec.api.cache"): _PAGES_STACK,
    ("web/pages.py", "humsec.api.http"): _PAGES_STACK,
    ("web/pages.py", "humsec.data.countries"): _PAGES_STACK,
    ("web/pages.py", "humsec.report.brief"): _PAGES_STACK,
    ("web/pages.py", "humsec.web.geometry"): _PAGES_STACK,
    ("web/pages.py", "jinja2"): _PAGES_JINJA,
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
    stale = sorted(set(ALLOWED) - function_local_imports())
    assert not stale, "imports no longer local (remove from ALLOWED):\n" + "\n".join(f"  {f}: {m}" for f, m in stale)


def test_every_entry_has_a_reason():
    assert all(isinstance(r, str) and len(r) > 10 for r in ALLOWED.values())
