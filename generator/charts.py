"""The report's charts, drawn with matplotlib as SVG (vector: sharp at any zoom, small, no fonts to fetch)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.ticker import FuncFormatter

from generator import present

PALETTE = ("#1f4e79", "#c55a11", "#548235", "#7f6000")
DRAWDOWN = "#c62828"
# Text stays text ("svg.fonttype": "none"): WeasyPrint sets it in DejaVu Sans, which the report embeds anyway,
# instead of drawing every glyph as a path (a third less work per report). Labels are data (entity ids), never
# mathtext: "$" in an id is a dollar sign, not the start of a formula.
matplotlib.rcParams.update({
    "font.family": "DejaVu Sans", "font.size": 8, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#e0e0e0", "grid.linewidth": 0.6, "svg.fonttype": "none",
    "svg.hashsalt": "finreport", "text.parse_math": False,
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


def _dated(ax: plt.Axes, title: str) -> None:
    """A date axis that names years once and months between them, and the chart's title in the report's style."""
    locator = AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_title(title, loc="left", fontsize=9, fontweight="bold")


def performance_chart(title: str, series: dict[str, tuple[Sequence[date], Sequence[float]]]) -> str:
    """Daily lines, one per series (the share first), already rebased to a common start: how each 100 invested grew;
    a line at 100 is where they started."""
    fig, ax = plt.subplots(figsize=(7.2, 2.2))
    for colour, (label, (dates, values)) in zip(PALETTE, series.items(), strict=False):
        ax.plot(dates, values, linewidth=1.2, color=colour, label=label)
    ax.axhline(100, color="#808080", linewidth=0.8)
    _dated(ax, title)
    ax.legend(frameon=False, ncols=len(series), loc="upper left", bbox_to_anchor=(0, -0.14))
    fig.subplots_adjust(left=0.08, right=0.99, top=0.88, bottom=0.28)
    return _svg(fig)


def drawdown_chart(title: str, dates: Sequence[date], drawdowns: Sequence[float],
                   marked: tuple[date, date, str] | None = None) -> str:
    """The fall from the running peak as a filled area below zero (a negative fraction, shown in percent); ``marked``
    shades one drawdown from its peak to its trough and names it in the legend."""
    fig, ax = plt.subplots(figsize=(7.2, 2.0))
    ax.fill_between(dates, drawdowns, 0, color=DRAWDOWN, alpha=0.25, linewidth=0)
    ax.plot(dates, drawdowns, color=DRAWDOWN, linewidth=0.9)
    if marked:
        peak, trough, label = marked
        ax.axvspan(peak, trough, color=PALETTE[0], alpha=0.12, linewidth=0, label=label)
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(0, -0.14))
    ax.set_ylim(top=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: present.percent(v, 0)))
    _dated(ax, title)
    fig.subplots_adjust(left=0.08, right=0.99, top=0.88, bottom=0.28)
    return _svg(fig)


def bar_chart(title: str, names: Sequence[str], values: Sequence[float], unit: str, currency: str = "USD",
              width: float = 7.2) -> str:
    """Horizontal bars, the first at the top, each with its value written at its end instead of an axis: how a whole
    splits by name (a portfolio's weight by sector, each holding's contribution to its volatility). A negative value
    is a bar to the left of the line at zero. The chart is as tall as its bars need and its left margin as wide as
    its longest name (fixed margins: the figure is drawn once)."""
    height = 0.45 + 0.2 * len(names)
    fig, ax = plt.subplots(figsize=(width, height))
    drawn = ax.barh(range(len(names)), values, height=0.62, color=PALETTE[0])
    ax.bar_label(drawn, labels=[present.by_unit(v, unit, currency) for v in values], padding=2, fontsize=7)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.axvline(0, color="#808080", linewidth=0.8)
    ax.margins(x=0.16)
    ax.xaxis.set_visible(False)
    ax.spines[["bottom", "left"]].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(False)
    # The title at the figure's left edge, not the axes': long names would push it to the middle.
    fig.suptitle(title, x=0.01, y=1 - 0.05 / height, ha="left", va="top", fontsize=9, fontweight="bold")
    # DejaVu Sans at 8pt is about 0.065 inch a character: room for the longest name, at most half the width.
    left = min(0.5, (0.12 + 0.065 * max((len(n) for n in names), default=1)) / width)
    fig.subplots_adjust(left=left, right=0.99, top=1 - 0.3 / height, bottom=0.08 / height)
    return _svg(fig)
