"""Benchmark of country briefs: time to render one brief (HTML, and PDF) with the HSI.

Run:  python benchmarks/bench_brief.py [--countries KEN JPN NOR] [--repeat 3] [--pdf] [--home DIR]

Setup (not timed per brief): the embedded default panel (built into ``--home``, default a
temporary directory, on first use) and :func:`prepare_briefing` - the assessment of every
country with rank intervals, the index history and the co-movement of dimensions, done
once for all briefs.

Printed ratios use a baseline measured in the same run, on the same machine: rendering a
minimal HTML page with the same Jinja2 machinery and one matplotlib chart (the least any
brief must do). Target: under 2 s per brief (HTML and PDF).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def baseline() -> str:
    """A minimal page: one template render with one small chart."""
    from jinja2 import Environment

    from humsec.report import charts

    img = charts.data_uri(charts.profile_chart(["a", "b", "c"], [30.0, 60.0, 90.0]))
    return Environment(autoescape=True).from_string(
        "<html><body><h1>{{ t }}</h1><img src='{{ img }}'></body></html>").render(t="baseline", img=img)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--countries", nargs="+", default=["KEN", "JPN", "NOR"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pdf", action="store_true", help="also time PDF layout (WeasyPrint)")
    ap.add_argument("--home", type=Path, default=None, help="humsec data dir (default: a temp dir)")
    ap.add_argument("--runs", type=int, default=200, help="uncertainty runs in the setup")
    args = ap.parse_args()

    from humsec.data import service
    from humsec.index.builtin import load_spec
    from humsec.report.brief import brief_html, prepare_briefing, render_pdf
    from humsec.settings import Settings

    home = args.home or Path(tempfile.mkdtemp(prefix="humsec-bench-"))
    settings = Settings(home=home, progress=False)
    t = time.perf_counter()
    panel, _ = service.current_panel(settings)
    cat = service.catalogue(settings)
    t_panel = time.perf_counter() - t
    t = time.perf_counter()
    b = prepare_briefing(load_spec("hsi"), panel, catalogue=cat, runs=args.runs, seed=1)
    t_prep = time.perf_counter() - t
    print(f"setup: panel {t_panel:.2f} s, briefing (all {len(b.units)} countries, {args.runs} runs) {t_prep:.2f} s")

    baseline()  # warm imports (matplotlib, jinja2) for both sides
    brief_html(b, args.countries[0])
    t_base = _best(baseline, args.repeat)
    print(f"baseline (minimal page, one chart): {t_base * 1000:.0f} ms")
    html_times, pdf_times = [], []
    for u in args.countries:
        th = _best(lambda: brief_html(b, u), args.repeat)
        html_times.append(th)
        line = f"{u}: HTML {th:.3f} s  (x{th / t_base:.1f} baseline)"
        if args.pdf:
            tp = _best(lambda: render_pdf(brief_html(b, u, chart_format="png")), max(1, args.repeat - 1))
            pdf_times.append(tp)
            line += f"; PDF {tp:.3f} s (x{tp / t_base:.1f} baseline)"
        print(line)
    worst = max(pdf_times or html_times)
    print(f"median HTML brief {statistics.median(html_times):.3f} s"
          + (f", median PDF brief {statistics.median(pdf_times):.3f} s" if pdf_times else "")
          + f"; slowest {worst:.3f} s — target < 2 s: {'met' if worst < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
