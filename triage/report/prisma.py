"""The PRISMA 2020 flow diagram (Page et al. 2021, BMJ 372:n71; the "new systematic reviews,
databases and registers only" template), drawn with matplotlib from counts computed elsewhere.

Renders, computes nothing new: `counts` is the dict `triage prisma --json` prints.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

_FRAME = "#333333"
_HEAD = "#d9e6f2"


def _box(ax, x, y, w, h, text, width_chars=38, fontsize=8.5, face="white"):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="square,pad=0", linewidth=1, edgecolor=_FRAME,
                                facecolor=face))
    lines = []
    for para in text.split("\n"):
        lines += textwrap.wrap(para, width_chars, subsequent_indent="   " if para.startswith("  ") else "") or [""]
    ax.text(x + 0.012, y + h - 0.012, "\n".join(lines), va="top", ha="left", fontsize=fontsize, family="DejaVu Sans")


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="-|>", color=_FRAME, lw=1))


def draw_prisma(counts: dict, path: str | Path, fmt: str) -> None:
    """Draw the diagram into `path` (svg or png; the file is written by the caller's atomic
    helper, which passes a temporary path). counts: identified_by_source [{source, records}],
    identified, duplicates_removed, screened, excluded, excluded_by_reason {reason: n},
    included, maybe, not_screened, conflicts (dual screening; optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig = plt.figure(figsize=(8.27, 9.0))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    # phase labels
    for y, h, label in ((0.74, 0.22, "Identification"), (0.28, 0.42, "Screening"), (0.04, 0.2, "Included")):
        ax.add_patch(Rectangle((0.02, y), 0.06, h, facecolor=_HEAD, edgecolor=_FRAME, lw=1))
        ax.text(0.05, y + h / 2, label, rotation=90, va="center", ha="center", fontsize=10, weight="bold")
    ax.text(0.5, 0.985, "PRISMA 2020 flow diagram (title/abstract screening with triage)", ha="center",
            va="top", fontsize=10, weight="bold")
    sources = "\n".join(f"  {s['source']} (n = {s['records']})" for s in counts["identified_by_source"])
    _box(ax, 0.11, 0.76, 0.4, 0.19, f"Records identified from databases/registers (n = {counts['identified']}):\n"
         + sources)
    _box(ax, 0.56, 0.8, 0.41, 0.12, "Records removed before screening:\n"
         f"  Duplicate records removed (n = {counts['duplicates_removed']})")
    _arrow(ax, 0.51, 0.86, 0.56, 0.86)
    n_records = counts["records_after_deduplication"]
    screened = counts["screened"]
    open_ = counts["not_screened"]
    _box(ax, 0.11, 0.56, 0.4, 0.12, f"Records screened (title/abstract) (n = {screened} of {n_records})"
         + (f"\n  Not yet screened (n = {open_})" if open_ else ""))
    _arrow(ax, 0.31, 0.76, 0.31, 0.68)
    reasons = counts.get("excluded_by_reason") or {}
    lines = "\n".join(f"  {r} (n = {n})" for r, n in reasons.items())
    _box(ax, 0.56, 0.3, 0.41, 0.38, f"Records excluded (n = {counts['excluded']})" + (":\n" + lines if lines else ""),
         width_chars=40)
    _arrow(ax, 0.51, 0.62, 0.56, 0.62)
    undecided = []
    if counts.get("maybe"):
        undecided.append(f"  Maybe (n = {counts['maybe']})")
    if counts.get("conflicts"):
        undecided.append(f"  Reviewers disagree, not resolved (n = {counts['conflicts']})")
    if counts.get("awaiting_second"):
        undecided.append(f"  Awaiting the second reviewer (n = {counts['awaiting_second']})")
    if undecided:
        _box(ax, 0.11, 0.3, 0.4, 0.2, "Not yet decided:\n" + "\n".join(undecided))
    _box(ax, 0.11, 0.08, 0.4, 0.12, f"Records included after title/abstract screening (n = {counts['included']})",
         face="#eef5ea")
    _arrow(ax, 0.31, 0.56 if not undecided else 0.3, 0.31, 0.2)
    fig.savefig(str(path), format=fmt)
    plt.close(fig)
