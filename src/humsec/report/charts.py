"""Charts of the country brief, rendered by the project with matplotlib (Agg canvas).

Each function returns an SVG image (bytes; text kept as text, so it is small, sharp in
print and searchable in the PDF); :func:`data_uri` embeds it in HTML. Figures are built
with :class:`matplotlib.figure.Figure` and a ``FigureCanvasAgg`` directly, so no global
pyplot state or backend switch is involved. ``fmt="png"`` renders a PNG instead.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["data_uri", "figure", "peer_chart", "profile_chart", "render", "style", "trend_chart"]

INK = "#1f2d3d"
ACCENT = "#c0392b"
MUTED = "#8a99a8"
PALETTE = ("#1b6ca8", "#e08e0b", "#2e9d5b", "#7a4fa3", "#c0392b", "#10908f", "#8d6e63", "#555555")
DPI = 150  # PNG charts (PDF briefs): print quality


def figure(w: float, h: float):
    """A pyplot-free Matplotlib figure of ``w`` x ``h`` inches on an Agg canvas."""
    # local (here and in render): Matplotlib costs 0.1 s+ at import, only when a chart is
    # drawn; this module is loaded at CLI start-up (brief, oversight shells)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def render(fig, fmt: str = "svg") -> bytes:
    """The figure as SVG (default; deterministic ids) or PNG bytes (fixed margins:
    ``bbox_inches="tight"`` would draw the figure twice)."""
    import matplotlib  # local: see figure

    buf = io.BytesIO()
    if fmt == "png":
        fig.savefig(buf, format="png", dpi=DPI)
    else:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "humsec"}):
            fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def style(ax) -> None:
    """humsec's chart style: no top/right spines, light vertical grid."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=INK, labelsize=8)
    ax.grid(axis="x", color="#e3e8ee", linewidth=0.6)
    ax.set_axisbelow(True)


def data_uri(image: bytes) -> str:
    """``data:image/svg+xml;base64,...`` (or ``image/png``) for an ``<img src>``."""
    mime = "image/png" if image[:8] == b"\x89PNG\r\n\x1a\n" else "image/svg+xml"
    return f"data:{mime};base64," + base64.b64encode(image).decode("ascii")


def profile_chart(names: Sequence[str], scores: Sequence[float], *,
                  intervals: Sequence[tuple[float, float]] | None = None,
                  references: Mapping[str, Sequence[float]] | None = None, fmt: str = "svg") -> bytes:
    """Horizontal bars of the dimension scores (0-100) with reference markers.

    Parameters
    ----------
    names : sequence of str
        Dimension labels (top to bottom).
    scores : sequence of float
    intervals : sequence of (lo, hi), optional
        Score intervals drawn as whiskers.
    references : mapping label -> scores, optional
        E.g. the regional and global medians, drawn as markers.
    """
    n = len(names)
    fig = figure(6.4, 0.3 * n + 0.7)
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    sc = np.asarray(scores, dtype=float)
    colors = [ACCENT if v == np.nanmin(sc) else "#1b6ca8" for v in sc]
    ax.barh(y, np.nan_to_num(sc), color=colors, height=0.6, alpha=0.9)
    if intervals is not None:
        lo = np.array([i[0] for i in intervals], dtype=float)
        hi = np.array([i[1] for i in intervals], dtype=float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        ax.errorbar(sc[ok], y[ok], xerr=[np.clip(sc[ok] - lo[ok], 0, None), np.clip(hi[ok] - sc[ok], 0, None)],
                    fmt="none", ecolor=INK, elinewidth=0.8, capsize=2)
    markers = ("D", "o", "s")
    for k, (label, vals) in enumerate((references or {}).items()):
        ax.scatter(np.asarray(vals, dtype=float), y, marker=markers[k % 3], s=22, zorder=3,
                   color=PALETTE[(k + 1) % len(PALETTE)], label=label, edgecolor="white", linewidth=0.5)
    for yi, v in zip(y, sc):
        if np.isfinite(v):
            ax.text(min(v + 1.5, 101), yi, f"{v:.0f}", va="center", fontsize=7.5, color=INK)
    ax.set_yticks(y, list(names))
    ax.set_xlim(0, 105)
    ax.set_xlabel("score (0 = lower bound, 100 = optimum)", fontsize=8, color=INK)
    style(ax)
    fig.subplots_adjust(left=0.25, right=0.98, bottom=0.7 / fig.get_figheight(),
                        top=1 - 0.35 / fig.get_figheight())
    if references:
        ax.legend(fontsize=7, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    return render(fig, fmt)


def trend_chart(history: pd.DataFrame, names: Mapping[str, str], *, root: str, fmt: str = "svg") -> bytes:
    """Lines of the index and its dimensions over the years of one country.

    Parameters
    ----------
    history : pandas.DataFrame
        Indexed by year; columns node codes (scores 0-100).
    names : mapping code -> label
    root : str
        The index column, drawn bold.
    """
    fig = figure(6.4, 2.4)
    ax = fig.add_subplot()
    years = np.asarray(history.index, dtype=int)
    k = 0
    for col in history.columns:
        if col == root:
            continue
        ax.plot(years, history[col].to_numpy(float), color=PALETTE[k % len(PALETTE)], linewidth=1.1,
                marker="o", markersize=2.2, label=names.get(col, col))
        k += 1
    if root in history.columns:
        ax.plot(years, history[root].to_numpy(float), color=INK, linewidth=2.6, label=names.get(root, root))
    ax.set_ylim(0, 102)
    ax.set_ylabel("score", fontsize=8, color=INK)
    if len(years):
        ax.set_xticks(years, [str(y) for y in years], fontsize=7)
    style(ax)
    ax.grid(axis="y", color="#e3e8ee", linewidth=0.6)
    ax.legend(fontsize=6.5, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.subplots_adjust(left=0.08, right=0.72, bottom=0.12, top=0.96)
    return render(fig, fmt)


def peer_chart(labels: Sequence[str], scores: Sequence[float], intervals: Sequence[tuple[float, float]],
               *, highlight: str, fmt: str = "svg") -> bytes:
    """Index scores of a peer group with score intervals, the country highlighted."""
    n = len(labels)
    fig = figure(6.4, max(1.4, 0.14 * n + 0.5))
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    sc = np.asarray(scores, dtype=float)
    colors = [ACCENT if lab == highlight else MUTED for lab in labels]
    ax.barh(y, sc, color=colors, height=0.65)
    lo = np.array([i[0] for i in intervals], dtype=float)
    hi = np.array([i[1] for i in intervals], dtype=float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        ax.errorbar(sc[ok], y[ok], xerr=[np.clip(sc[ok] - lo[ok], 0, None), np.clip(hi[ok] - sc[ok], 0, None)],
                    fmt="none", ecolor=INK, elinewidth=0.7, capsize=1.5)
    ax.set_yticks(y, list(labels), fontsize=6.5 if n > 20 else 7.5)
    ax.set_xlim(0, 100)
    style(ax)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.3 / fig.get_figheight(),
                        top=1 - 0.08 / fig.get_figheight())
    return render(fig, fmt)
