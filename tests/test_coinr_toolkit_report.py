"""Issue #24, part 4: index charts (SVG) and the self-contained HTML audit of any index."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from humsec.index import analysis_coin as A
from humsec.index.coinr import import_coinr
from humsec.index.pipeline import build
from humsec.report import index_charts as ic
from humsec.report.index_report import index_report_html


@pytest.fixture(scope="module")
def asem(shared_data):
    d = shared_data / "coinr_asem"
    if not (d / "iData.csv").is_file():
        pytest.skip(f"COINr ASEM example not found under {d}")
    spec, data = import_coinr(d / "iData.csv", d / "iMeta.csv", name="asem")
    return build(spec, data)


def texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)  # well-formed SVG
    assert root.tag.endswith("svg")
    return ["".join(t.itertext()).strip() for t in root.iter() if t.tag.endswith("text")]


def test_sunburst_labels_every_aggregate_and_indicator(asem):
    t = texts(ic.framework_sunburst(asem))
    for code in asem.spec.nodes:
        if code != asem.spec.root:
            assert code in t, code
    assert asem.spec.nodes[asem.spec.root].name in t


def test_corr_heatmap_shows_the_coefficients(asem):
    c = A.get_corr(asem, dset="Normalised", codes=["CPI", "FreePress", "NGOs"])
    t = texts(ic.corr_heatmap(c))
    assert "0.76" in t and "0.77" in t  # COINr: 0.761, 0.768
    # with p-values, non-significant cells are left blank
    p = pd.DataFrame(1.0, index=c.index, columns=c.columns)
    assert "0.76" not in texts(ic.corr_heatmap(c, pvals=p))


def test_other_charts_render(asem):
    assert {"LPI", "NEET"} <= set(texts(ic.distributions(asem.dataset("Raw"))))
    assert "Conn" in texts(ic.bar_chart(asem))  # stacked by the children
    t = " ".join(texts(ic.scatter_chart(asem, "Conn", "Index")))
    r = asem.scores["Conn"].corr(asem.scores["Index"])
    assert f"Pearson r = {r:.2f}" in t
    summ = pd.DataFrame({"unit": ["a", "b"], "node": "I", "nominal_rank": [1, 2], "median_rank": [1, 2],
                         "rank_q05": [1, 1], "rank_q95": [2, 2]})
    assert {"a", "b"} <= set(texts(ic.uncertainty_chart(summ)))
    idx = pd.DataFrame({"S1": [0.2, -0.01], "ST": [0.5, 0.1], "ST_conf": [0.05, np.nan]},
                       index=pd.Index(["w", "agg"], name="input"))
    assert {"w", "agg"} <= set(texts(ic.sensitivity_chart(idx)))
    assert ic.bar_chart(asem, fmt="png")[:8] == b"\x89PNG\r\n\x1a\n"


def test_index_report_is_self_contained_and_complete(asem):
    html = index_report_html(asem)
    # one file: every image is a data URI, no external asset
    assert not re.search(r'(src|href)="(https?:)?//', html)
    srcs = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert len(srcs) >= 6 and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)
    for section in ("Framework and construction", "Indicator statistics", "Data availability",
                    "Statistical coherence", "Weights", "Results", "Uncertainty", "Sensitivity"):
        assert section in html
    assert "n_winsorised_tried" in html and "n_same" in html
    assert "Not run" in html  # no uncertainty given
    # the numbers shown are the analyses' own: Cronbach's alpha of P2P, minimum of Flights
    from humsec.index.audit import audit

    alpha = audit(asem, leave_one_out=False).aggregates.set_index("aggregate").at["P2P", "cronbach_alpha"]
    assert f"<td>{alpha:.3g}</td>" in html
    assert f"<td>{asem.dataset('Raw')['Flights'].min():.3g}</td>" in html
    # the first image is the framework, labelled with the root's name
    import base64

    sun = base64.b64decode(srcs[0].split(",", 1)[1])
    assert "Sustainable Connectivity" in texts(sun)


def test_cli_index_report_with_uncertainty_and_sensitivity(shared_data, tmp_path):
    from humsec.cli.main import main

    d = shared_data / "coinr_asem"
    if not (d / "iData.csv").is_file():
        pytest.skip("COINr ASEM example not found")
    out = tmp_path / "asem"
    assert main(["index", "import-coinr", str(d / "iData.csv"), str(d / "iMeta.csv"), "--out", str(out)]) == 0
    u = tmp_path / "u.yaml"
    u.write_text("inputs:\n  - {name: winmax, type: choice, path: steps.treat.params.winmax, values: [1, 3, 5]}\n"
                 "  - {name: aggregation, type: choice, path: steps.aggregate.method, values: [arithmetic, "
                 "geometric]}\n"
                 "  - name: normalisation\n    type: choice\n    path: steps.normalise\n    values:\n"
                 "      - {method: minmax, params: {lo: 1, hi: 100}}\n", encoding="utf-8")
    page = tmp_path / "audit.html"
    assert main(["index", "report", str(out / "spec.yaml"), "-d", str(out / "data.csv"), "-o", str(page),
                 "-u", str(u), "--sa", "4", "-b", "20", "-s", "1"]) == 0
    html = page.read_text(encoding="utf-8")
    assert "Sobol&#39; indices" in html or "Sobol' indices" in html
    assert "20 runs" in html  # 4 x (3 inputs + 2)
    assert main(["index", "report", str(out / "spec.yaml"), "-d", str(out / "data.csv"), "-o", str(page),
                 "-u", str(u), "-n", "5"]) != 0  # a seed is required


def test_cli_index_plot(shared_data, tmp_path):
    from humsec.cli.main import main

    d = shared_data / "coinr_asem"
    if not (d / "iData.csv").is_file():
        pytest.skip("COINr ASEM example not found")
    out = tmp_path / "asem"
    assert main(["index", "import-coinr", str(d / "iData.csv"), str(d / "iMeta.csv"), "--out", str(out)]) == 0
    base = [str(out / "spec.yaml"), "-d", str(out / "data.csv")]
    assert main(["index", "plot", *base, "-k", "corr", "--level", "3", "--level2", "4", "-o",
                 str(tmp_path / "c.svg")]) == 0
    t = texts((tmp_path / "c.svg").read_bytes())
    assert "0.94" in t and "0.84" in t  # COINr: Conn 0.9397805, Sust 0.8382873 with the index
    for kind in ("framework", "dist", "bar", "scatter"):
        assert main(["index", "plot", *base, "-k", kind, "-o", str(tmp_path / f"{kind}.svg")]) == 0
        texts((tmp_path / f"{kind}.svg").read_bytes())
    assert main(["index", "plot", *base, "-k", "bar", "-o", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["index", "plot", *base, "-k", "pie", "-o", str(tmp_path / "p.svg")]) != 0
