"""Charts of any composite index (COINr's ``plot_framework``, ``plot_corr``,
``plot_dist``, ``plot_bar``, ``plot_scatter``, ``plot_uncertainty``, ``plot_sensitivity``),
with matplotlib on an Agg canvas, as SVG bytes by default (see
:mod:`humsec.report.charts`: same figure, render and style helpers).

Every function takes plain tables (or an :class:`~humsec.index.pipeline.IndexResult`)
and returns ``bytes``; nothing is computed that the analyses do not already give.

References
----------
.. [COINr] Becker, W. et al. (2022). COINr. *JOSS* 7(78), 4567; COINr 1.1.14
   ``R/plot_framework.R``, ``R/plot_corr.R``, ``R/plot_dist.R``, ``R/plot_bar.R``,
   ``R/plot_scatter.R``, ``R/sensitivity.R``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from humsec.report.charts import ACCENT, INK, MUTED, PALETTE, figure, render, style

__all__ = ["bar_chart", "corr_heatmap", "distributions", "framework_sunburst", "scatter_chart",
           "sensitivity_chart", "uncertainty_chart"]


def _tint(hex_colour: str, t: float) -> str:
    """``hex_colour`` mixed with white (``t`` = 0: unchanged, 1: white)."""
    h = hex_colour.lstrip("#")
    rgb = [int(h[i:i + 2], 16) for i in (0, 2, 4)]
    return "#" + "".join(f"{round(c + (255 - c) * t):02x}" for c in rgb)


def framework_sunburst(result, *, fmt: str = "svg") -> bytes:
    """The index framework as a sunburst: one ring per level (root in the centre), each
    node's angle its effective weight in the root (COINr ``plot_framework``).

    Parameters
    ----------
    result : IndexResult
        Its spec (tree) and the weights as used.
    """
    spec = result.spec
    eff = result.effective_weights()
    root = spec.root
    depth = spec.level(root)
    fig = figure(6.4, 6.4)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.96))
    ax.set_aspect("equal")
    ax.axis("off")
    # colour of each node: the palette colour of its child-of-root ancestor
    top = list(spec.children[root])
    colour = {root: INK}
    for c in spec.nodes:
        path = spec.path(c)
        anc = next((p for p in path if p in top), None)
        if anc is not None:
            colour[c] = PALETTE[top.index(anc) % len(PALETTE)]
    ring = 1.0 / depth
    order = [n.code for n in spec.tree]

    # angles: walk the tree depth-first so children sit inside their parent's wedge
    start: dict[str, float] = {root: 90.0}

    def place(code: str) -> None:
        a = start[code]
        for k in sorted(spec.children.get(code, []), key=order.index):
            start[k] = a
            a -= 360.0 * float(eff.get(k, 0.0))
            place(k)

    place(root)
    ax.pie([1], radius=ring, colors=[INK], wedgeprops={"width": ring, "edgecolor": "white"})
    ax.text(0, 0, spec.nodes[root].name or root, ha="center", va="center", color="white", fontsize=7,
            wrap=True)
    for code in order:
        if code == root:
            continue
        lv = spec.level(code)
        outer = ring * (depth - lv + 1)
        w = float(eff.get(code, 0.0))
        if w <= 0:
            continue
        theta2 = start[code]
        theta1 = theta2 - 360.0 * w
        from matplotlib.patches import Wedge  # local: Matplotlib loads on first chart (charts.figure)

        shade = 0.15 * (depth - 1 - lv) if lv < depth - 1 else 0.0
        ax.add_patch(Wedge((0, 0), outer, theta1, theta2, width=ring,
                           facecolor=_tint(colour.get(code, MUTED), min(0.85, 0.25 + shade + 0.12 * (lv == 1))),
                           edgecolor="white", linewidth=0.6))
        mid = np.deg2rad((theta1 + theta2) / 2)
        r = outer - ring / 2
        if lv > 1 or w >= 0.012:
            rot = np.rad2deg(mid)
            rot = rot - 180 if 90 < (rot % 360) < 270 else rot
            ax.text(r * np.cos(mid), r * np.sin(mid), code, ha="center", va="center",
                    fontsize=7 if lv > 1 else 5.5, color=INK, rotation=rot % 360 if lv == 1 else 0)
    lim = ring * depth * 1.02
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    return render(fig, fmt)


def corr_heatmap(corr: pd.DataFrame, *, pvals: pd.DataFrame | None = None, alpha: float = 0.05,
                 title: str | None = None, fmt: str = "svg") -> bytes:
    """Correlation matrix as a heatmap (COINr ``plot_corr``): diverging colours from -1
    to 1, the coefficient in each cell; with ``pvals``, cells not significant at
    ``alpha`` are left blank."""
    n_r, n_c = corr.shape
    # margins in inches (labels), cells of fixed size
    left, right, bottom, top = 1.1, 0.8, 0.9, 0.35
    cw, ch = 0.42, 0.3
    w, h = left + right + cw * max(n_c, 4), bottom + top + ch * max(n_r, 4)
    fig = figure(w, h)
    ax = fig.add_axes((left / w, bottom / h, cw * max(n_c, 4) / w, ch * max(n_r, 4) / h))
    vals = corr.to_numpy(dtype=float)
    shown = vals.copy()
    if pvals is not None:
        p = pvals.reindex(index=corr.index, columns=corr.columns).to_numpy(dtype=float)
        shown[~(p < alpha)] = np.nan
    im = ax.imshow(shown, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(n_c), [str(c) for c in corr.columns], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n_r), [str(c) for c in corr.index], fontsize=7)
    if n_r * n_c <= 400:
        for i in range(n_r):
            for j in range(n_c):
                if np.isfinite(shown[i, j]):
                    ax.text(j, i, f"{shown[i, j]:.2f}", ha="center", va="center", fontsize=5.5,
                            color="white" if abs(shown[i, j]) > 0.6 else INK)
    cax = fig.add_axes(((w - right + 0.15) / w, bottom / h, 0.12 / w, ch * max(n_r, 4) / h))
    fig.colorbar(im, cax=cax).ax.tick_params(labelsize=6)
    if title:
        ax.set_title(title, fontsize=9, color=INK)
    return render(fig, fmt)


def distributions(frame: pd.DataFrame, codes: Sequence[str] | None = None, *, ncols: int = 6,
                  bins: int = 15, fmt: str = "svg") -> bytes:
    """Histograms of indicators, small multiples (COINr ``plot_dist``)."""
    codes = list(codes) if codes is not None else list(frame.columns)
    n = max(1, len(codes))
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig = figure(1.6 * ncols + 0.4, 1.25 * nrows + 0.3)
    for i, c in enumerate(codes):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        x = frame[c].dropna().to_numpy(dtype=float)
        if x.size:
            ax.hist(x, bins=bins, color=PALETTE[0], edgecolor="white", linewidth=0.3)
        ax.set_title(str(c), fontsize=7, color=INK, pad=2)
        ax.tick_params(labelsize=5, colors=INK)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.06, top=0.94, wspace=0.35, hspace=0.75)
    return render(fig, fmt)


def bar_chart(result, node: str | None = None, *, stack_children: bool = True,
              highlight: Sequence[str] = (), fmt: str = "svg") -> bytes:
    """Scores of one node across units, sorted, optionally stacked by the weighted
    contributions of its children (COINr ``plot_bar`` with ``stack_children``).

    The stack is exact for an arithmetic mean (``w_i x_i`` sum to the score); for other
    aggregations the bars are plain.
    """
    spec = result.spec
    node = node or spec.root
    sc = result.scores
    s = sc[node].dropna().sort_values(ascending=spec.nodes[node].direction < 0)
    kids = spec.children.get(node, [])
    arithmetic = any(r.step == "aggregate" and r.method == "arithmetic" for r in result.log)
    fig = figure(max(6.0, 0.14 * len(s) + 1.2), 3.0)
    ax = fig.add_axes((0.07, 0.25, 0.9, 0.65))
    x = np.arange(len(s))
    if stack_children and kids and arithmetic and not sc.loc[s.index, kids].isna().any().any():
        w = result.weights[node]
        bottom = np.zeros(len(s))
        for i, k in enumerate(kids):
            part = sc.loc[s.index, k].to_numpy(dtype=float) * float(w[k])
            ax.bar(x, part, bottom=bottom, color=PALETTE[i % len(PALETTE)], width=0.8, label=k)
            bottom += part
        ax.legend(fontsize=6, frameon=False, ncol=min(len(kids), 6), loc="upper right")
    else:
        cols = [ACCENT if u in highlight else PALETTE[0] for u in s.index]
        ax.bar(x, s.to_numpy(dtype=float), color=cols, width=0.8)
    ax.set_xticks(x, list(s.index), rotation=90, fontsize=5.5)
    ax.set_xlim(-0.7, len(s) - 0.3)
    ax.set_ylabel(node, fontsize=8, color=INK)
    style(ax)
    ax.grid(axis="x", visible=False)
    ax.grid(axis="y", color="#e3e8ee", linewidth=0.6)
    return render(fig, fmt)


def scatter_chart(result, x: str, y: str, *, dset: str = "Aggregated", label: bool = True,
                  fmt: str = "svg") -> bytes:
    """Scatter of two columns of a data set with unit labels and the Pearson/Spearman
    correlations in the title (COINr ``plot_scatter``)."""
    f = result.dataset(dset)[[x, y]].dropna()
    fig = figure(4.6, 4.0)
    ax = fig.add_axes((0.14, 0.13, 0.82, 0.78))
    ax.scatter(f[x], f[y], s=12, color=PALETTE[0], alpha=0.8, edgecolor="none")
    if label and len(f) <= 80:
        for u, (a, b) in f.iterrows():
            ax.annotate(str(u), (a, b), fontsize=4.5, color=MUTED, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel(x, fontsize=8, color=INK)
    ax.set_ylabel(y, fontsize=8, color=INK)
    if len(f) >= 3:
        r = f[x].corr(f[y])
        rs = f[x].corr(f[y], method="spearman")
        ax.set_title(f"Pearson r = {r:.2f}, Spearman = {rs:.2f} (n = {len(f)})", fontsize=8, color=INK)
    style(ax)
    return render(fig, fmt)


def uncertainty_chart(summary: pd.DataFrame, *, node: str | None = None, fmt: str = "svg") -> bytes:
    """Rank intervals per unit: the 5th-95th percentile range as a line, the median and
    the nominal rank as markers, units in nominal order (COINr ``plot_uncertainty``).

    Parameters
    ----------
    summary : pandas.DataFrame
        :meth:`UncertaintyResult.summary` rows of one node.
    """
    s = summary if node is None else summary[summary["node"] == node]
    s = s.sort_values(["nominal_rank", "unit"], kind="stable")
    n = len(s)
    fig = figure(max(6.0, 0.14 * n + 1.2), 3.2)
    ax = fig.add_axes((0.07, 0.25, 0.9, 0.68))
    x = np.arange(n)
    ax.vlines(x, s["rank_q05"], s["rank_q95"], color=MUTED, linewidth=1.6)
    ax.scatter(x, s["median_rank"], s=10, color=PALETTE[2], zorder=3, label="median rank")
    ax.scatter(x, s["nominal_rank"], s=10, marker="_", color=ACCENT, zorder=4, label="nominal rank")
    ax.set_xticks(x, list(s["unit"]), rotation=90, fontsize=5.5)
    ax.set_xlim(-0.7, n - 0.3)
    ax.invert_yaxis()
    ax.set_ylabel("rank (5th-95th percentile)", fontsize=8, color=INK)
    ax.legend(fontsize=6, frameon=False, loc="upper right")
    style(ax)
    return render(fig, fmt)


def sensitivity_chart(indices: pd.DataFrame, *, fmt: str = "svg") -> bytes:
    """Sobol' indices per input: the first-order index (main effect) and the rest of the
    total index (interactions) stacked, with the bootstrap interval of the total index
    (COINr ``plot_sensitivity``, ``ptype = "bar"``; negative estimates shown as 0)."""
    names = [str(i) for i in indices.index]
    s1 = np.clip(indices["S1"].to_numpy(dtype=float), 0, None)
    st = np.clip(indices["ST"].to_numpy(dtype=float), 0, None)
    inter = np.clip(st - s1, 0, None)
    fig = figure(max(3.6, 0.9 * len(names) + 1.2), 3.0)
    ax = fig.add_axes((0.14, 0.22, 0.82, 0.7))
    x = np.arange(len(names))
    ax.bar(x, s1, color=PALETTE[0], width=0.6, label="main effect (S1)")
    ax.bar(x, inter, bottom=s1, color=PALETTE[1], width=0.6, label="interactions (ST - S1)")
    if "ST_conf" in indices.columns and indices["ST_conf"].notna().any():
        ax.errorbar(x, st, yerr=indices["ST_conf"].fillna(0).to_numpy(dtype=float), fmt="none",
                    ecolor=INK, elinewidth=0.8, capsize=3)
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("Sobol' index", fontsize=8, color=INK)
    ax.legend(fontsize=6, frameon=False)
    style(ax)
    ax.grid(axis="x", visible=False)
    ax.grid(axis="y", color="#e3e8ee", linewidth=0.6)
    return render(fig, fmt)
