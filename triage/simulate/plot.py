"""Recall curves (matplotlib imported lazily, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

GRID = np.linspace(0.0, 1.0, 101)


def recall_curve(labels, n_records: int, n_relevant: int, grid: np.ndarray = GRID) -> np.ndarray:
    """Recall after screening floor(g * N) records for each g in `grid` (priors excluded; the
    worst-case completion of the metrics module for unscreened records)."""
    from triage.simulate.metrics import complete_order

    y = complete_order(labels, n_records, n_relevant)
    cum = np.concatenate([[0], np.cumsum(y)])
    k = np.floor(grid * n_records + 1e-9).astype(int)
    return cum[k] / max(n_relevant, 1)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_recall(labels, n_records: int, n_relevant: int, path: str | Path, title: str = "") -> Path:
    """One run's recall curve next to random screening and the 95 % line; writes a PNG."""
    return plot_curves({"triage": recall_curve(labels, n_records, n_relevant)}, path, title,
                       ylabel="relevant records found (%)", figsize=(6, 4))


def plot_curves(curves: dict[str, np.ndarray], path: str | Path, title: str = "",
                ylabel: str = "relevant records found (%), mean over runs",
                figsize: tuple[float, float] = (7, 4.5)) -> Path:
    """Recall curves (name -> recall on GRID) with random order and the 95 % line, in one PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=figsize, dpi=100)
    for name, y in sorted(curves.items()):
        ax.plot(GRID * 100, np.asarray(y) * 100, label=name)
    ax.plot([0, 100], [0, 100], ls="--", color="grey", label="random order")
    ax.axhline(95, ls=":", color="black", lw=0.8)
    ax.set_xlabel("records screened (%)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 101)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
