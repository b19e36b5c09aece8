"""Matplotlib figures (PNG, Agg backend) for paper_results/. Each function takes the
JSON-ready result dicts the scripts produce and writes one file.

``smoke=True`` (the scripts' ``--quick`` mode) puts :data:`~experiments.common.SMOKE_LABEL`
on the first line of the title and across the plot. Every PNG records the titles it
shows in its ``Title`` text chunk, so a reader (or a test) can check the label without
looking at the pixels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .common import SMOKE_LABEL, smoke_title  # noqa: E402

__all__ = ["accuracy_per_round", "bar_breakdown", "factor_vs_workload", "heatmap", "line_xy",
           "save"]


def save(fig: Any, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    fig.savefig(p, dpi=120, metadata={"Title": " | ".join(titles)} if titles else None)
    plt.close(fig)
    return p


def _title(fig: Any, ax: Any, title: str, smoke: bool) -> None:
    """The axes title; in smoke mode labelled (first line, red) and watermarked."""
    if not smoke:
        ax.set_title(title, fontsize=10)
        return
    ax.set_title(smoke_title(title, smoke), fontsize=10, color="C3")
    fig.text(0.5, 0.5, SMOKE_LABEL.split(" — ")[0], transform=fig.transFigure, fontsize=42,
             color="C3", alpha=0.15, ha="center", va="center", rotation=25, zorder=10)


def accuracy_per_round(
    series: Mapping[str, Sequence[float]],
    path: str | Path,
    *,
    title: str,
    attack_start: int | None = None,
    paper_final: Mapping[str, float] | None = None,
    ylabel: str = "test accuracy",
    smoke: bool = False,
) -> Path:
    """One line per configuration (x: round 1..R); optional markers for the paper's
    reported final accuracy."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    styles = ["-", "--", ":", "-."]
    markers = ["o", "s", "^", "D", "v", "P"]
    n = len(series)
    for i, (name, acc) in enumerate(series.items()):
        x = np.arange(1, len(acc) + 1)
        # decreasing widths and different dashes keep identical curves visible
        ax.plot(x, [np.nan if a is None else 100 * a for a in acc], marker=markers[i % 6],
                ms=7 - 4 * i / max(1, n - 1), lw=3.2 - 2.2 * i / max(1, n - 1),
                ls=styles[i % 4], label=name, color=f"C{i}", alpha=0.9)
        if paper_final and name in paper_final:
            ax.scatter([len(acc) + 0.3], [100 * paper_final[name]], marker="*", s=90,
                       color=f"C{i}", edgecolor="k", linewidth=0.5, zorder=5)
    if attack_start is not None:
        ax.axvline(attack_start + 1, color="grey", ls="--", lw=1)
        ax.text(attack_start + 1.05, 97, "attack starts", color="grey", fontsize=8, va="top")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel + " (%)")
    ax.set_ylim(-2, 104)
    _title(fig, ax, title, smoke)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if paper_final:
        ax.text(0.99, 0.01, "* = paper's reported final accuracy", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color="grey")
    return save(fig, path)


def bar_breakdown(
    rows: Mapping[str, Mapping[str, float]],
    path: str | Path,
    *,
    title: str,
    unit: str = "s",
    log: bool = False,
    order: Sequence[str] = (),
    smoke: bool = False,
) -> Path:
    """Stacked horizontal bars: one bar per row (configuration), one segment per phase
    (phases in ``order`` first, then any others in order of appearance)."""
    phases: list[str] = [p for p in order if any(p in r for r in rows.values())]
    for r in rows.values():
        for k in r:
            if k not in phases:
                phases.append(k)
    fig, ax = plt.subplots(figsize=(9.0, 1.0 + 0.7 * len(rows)))
    names = list(rows)
    left = np.zeros(len(names))
    cmap = plt.get_cmap("tab20")
    for j, ph in enumerate(phases):
        vals = np.array([rows[n].get(ph, 0.0) or 0.0 for n in names])
        ax.barh(names, vals, left=left, label=ph, color=cmap(j % 20))
        left += vals
    for i, tot in enumerate(left):
        ax.text(tot, i, f" {tot:.3g} {unit}", va="center", fontsize=8)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(unit)
    _title(fig, ax, title, smoke)
    ax.set_xlim(0, left.max() * 1.25 if left.max() > 0 else 1)
    ax.legend(fontsize=7, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return save(fig, path)


def heatmap(
    matrix: Sequence[Sequence[float | None]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: str | Path,
    *,
    title: str,
    fmt: str = "{:.0f}",
    scale: float = 100.0,
    cmap: str = "RdYlGn",
    invert_cols: Sequence[int] = (),
    smoke: bool = False,
) -> Path:
    """Annotated heatmap; None cells are grey and marked "n/a". Columns in
    ``invert_cols`` are coloured as ``scale - value`` (high = bad), values shown as is."""
    a = np.array([[np.nan if v is None else scale * v for v in row] for row in matrix], float)
    colour = a.copy()
    for j in invert_cols:
        colour[:, j] = scale - colour[:, j]
    fig, ax = plt.subplots(figsize=(1.1 + 1.05 * len(col_labels), 0.9 + 0.42 * len(row_labels)))
    cm = plt.get_cmap(cmap).copy()
    cm.set_bad("#dddddd")
    ax.imshow(np.ma.masked_invalid(colour), cmap=cm, vmin=0, vmax=scale, aspect="auto")
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            txt = "n/a" if np.isnan(a[i, j]) else fmt.format(a[i, j])
            ax.text(j, i, txt, ha="center", va="center", fontsize=7)
    _title(fig, ax, title, smoke)
    return save(fig, path)


def line_xy(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    ax_in: Any = None,
    smoke: bool = False,
) -> Path:
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for name, (x, y) in series.items():
        ax.plot(x, y, marker="o", ms=4, label=name)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _title(fig, ax, title, smoke)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save(fig, path)


def factor_vs_workload(
    series: Mapping[tuple[str, str], tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    thresholds: Sequence[float] = (),
    secondary: Mapping[tuple[str, str], tuple[Sequence[float], Sequence[float]]] | None = None,
    secondary_label: str = "",
    smoke: bool = False,
) -> Path:
    """Log-log lines keyed by (group, kind): colour per group (e.g. protection scope),
    marker per kind (e.g. model); dashed horizontal lines at ``thresholds``;
    ``secondary`` (same keys) as open markers without lines (e.g. another measure of
    the same points), explained by ``secondary_label`` in a corner."""
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    groups = list(dict.fromkeys(g for g, _ in series))
    kinds = list(dict.fromkeys(k for _, k in series))
    markers = ["o", "s", "^", "D", "v", "P"]
    styles = ["-", "--", ":", "-."]
    for (group, kind), (x, y) in series.items():
        gi, ki = groups.index(group), kinds.index(kind)
        ax.plot(x, y, color=f"C{gi}", marker=markers[ki % 6], ls=styles[ki % 4], ms=6, lw=1.5,
                label=f"{group} — {kind}")
    for (group, kind), (x, y) in (secondary or {}).items():
        gi, ki = groups.index(group), kinds.index(kind)
        ax.scatter(x, y, marker=markers[ki % 6], s=60, facecolors="none",
                   edgecolors=f"C{gi}", linewidths=1.0, zorder=3)
    if secondary and secondary_label:
        ax.text(0.01, 0.01, secondary_label, transform=ax.transAxes, fontsize=7,
                color="grey", ha="left", va="bottom")
    for t in thresholds:
        ax.axhline(t, color="grey", ls="--", lw=1)
        ax.text(1.0, t, f" {t:g}×", transform=ax.get_yaxis_transform(), color="grey",
                fontsize=8, va="center", ha="left")
    ax.set_xscale("log")
    ax.set_yscale("log")
    # factors between ~1× and ~100×: label the round values a reader compares with
    ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(
        [1, 1.2, 1.5, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000]))
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _title(fig, ax, title, smoke)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    return save(fig, path)
