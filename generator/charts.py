"""The report's charts, drawn with matplotlib as SVG (vector: sharp at any zoom, small, no fonts to fetch)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from generator import present

PALETTE = ("#1f4e79", "#c55a11", "#548235", "#7f6000")
# Text stays text ("svg.fonttype": "none"): WeasyPrint sets it in DejaVu Sans, which the report embeds anyway,
# instead of drawing every glyph as a path (a third less work per report).
matplotlib.rcParams.update({
    "font.family": "DejaVu Sans", "font.size": 8, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#e0e0e0", "grid.linewidth": 0.6, "svg.fonttype": "none",
    "svg.hashsalt": "finreport",
})


def _svg(fig: plt.Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def line_chart(title: str, periods: Sequence[str], series: dict[str, Sequence[float | None]], unit: str,
               currency: str = "USD") -> str:
    """One line per series over the periods; gaps stay gaps (a missing quarter is not interpolated)."""
    fig, ax = plt.subplots(figsize=(7.2, 2.2))
    x = list(range(len(periods)))
    for colour, (label, values) in zip(PALETTE, series.items(), strict=False):
        ax.plot(x, [float("nan") if v is None else v for v in values], marker="o", markersize=3, linewidth=1.6,
                color=colour, label=label)
    ax.set_xticks(x, periods, rotation=45, ha="right")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: present.by_unit(v, unit, currency)))
    if unit in ("currency", "fraction"):
        ax.axhline(0, color="#808080", linewidth=0.8)
    ax.set_title(title, loc="left", fontsize=9, fontweight="bold")
    ax.legend(frameon=False, ncols=len(series), loc="upper left", bbox_to_anchor=(0, -0.4))
    # Fixed margins rather than a tight bounding box: the figure is drawn once, not twice.
    fig.subplots_adjust(left=0.1, right=0.99, top=0.89, bottom=0.42)
    return _svg(fig)
