"""The rounding a reported figure carries, read from the figure itself.

Filings round: one 10-K gives total equity to the dollar (8,678,580,000), the next to $0.1m
(8,678,600,000). Neither SEC companyfacts nor statement tables say how a value was rounded, but the
value does: its trailing zeros. Two figures that differ by less than their rounding are one figure, and an
identity over rounded lines holds to within the sum of their roundings. A figure keeps at least three
significant digits (a $5,000,000 line reads as rounded to $10,000, not to $5m), so a restatement from
1,000,000 to 1,400,000 is never taken for rounding.
"""

from __future__ import annotations

import polars as pl

FINEST, COARSEST = -4, 9
"""Powers of ten tried: from 0.0001 (per-share figures) to a billion."""

CENT = -2
"""No figure is assumed finer than cents unless it shows more digits (EPS of 0.63 is rounded to the cent)."""

SIGNIFICANT = 3
"""Digits a figure is assumed to keep however many trailing zeros it shows."""


def unit(value: pl.Expr) -> pl.Expr:
    """The power of ten a figure is rounded to (0.0 for zero, which carries no rounding of its own)."""
    magnitude = value.abs()
    digits = (magnitude * (1 + 1e-12)).log10().floor()
    cap = pl.lit(10.0).pow((digits - (SIGNIFICANT - 1)).clip(CENT, COARSEST))
    found = pl.lit(10.0 ** FINEST)
    for k in range(FINEST + 1, COARSEST + 1):
        step = 10.0 ** k
        whole = ((magnitude / step).round(0) * step - magnitude).abs() <= magnitude * 1e-12
        found = pl.when(whole).then(pl.lit(step)).otherwise(found)
    return pl.when(magnitude == 0).then(0.0).otherwise(pl.min_horizontal(found, cap))


def reported_unit(value: pl.Expr, raw: pl.Expr) -> pl.Expr:
    """The rounding of a figure as its filing wrote it (``raw``), carried to the figure's own basis: a value
    printed in millions, or a share count multiplied out by a later stock split, keeps the rounding it was
    reported with (74,444 thousand shares × 3 is rounded to 3,000 shares, not to one)."""
    number = raw.str.replace_all(r"[,$()\s]", "").cast(pl.Float64, strict=False)
    known = number.is_not_null() & (number != 0)
    return pl.when(known).then(unit(number) * (value / number).abs()).otherwise(unit(value))


def within_rounding(a: pl.Expr, b: pl.Expr, unit_a: pl.Expr | None = None, unit_b: pl.Expr | None = None) -> pl.Expr:
    """Whether two reports of one figure differ by no more than the rounding of each allows."""
    ua = unit(a) if unit_a is None else unit_a
    ub = unit(b) if unit_b is None else unit_b
    return (a - b).abs() <= (ua + ub) / 2 * (1 + 1e-9)
