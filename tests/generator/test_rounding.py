"""The rounding a figure carries: a later filing that rounds differently is the same figure, a restatement is not."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from generator.rounding import reported_unit, unit, within_rounding


def units(*values: float) -> list[float]:
    return pl.DataFrame({"v": [float(v) for v in values]}).select(unit(pl.col("v")).alias("v"))["v"].to_list()


def same(a: float, b: float) -> bool:
    return bool(pl.select(within_rounding(pl.lit(a), pl.lit(b))).item())


def test_a_figure_is_rounded_to_its_trailing_zeros_and_keeps_three_digits() -> None:
    assert units(8_678_580_000, 8_678_600_000, 198_000_000, 1_000_000, 0.63, 0.125, 0) == \
        [10_000, 100_000, 1_000_000, 10_000, 0.01, 0.001, 0]


def test_rounding_to_a_tenth_of_a_million_is_no_restatement_but_a_change_is() -> None:
    assert same(8_678_580_000, 8_678_600_000)          # to the $10k, then to $0.1m (the total equity)
    assert same(300_273_227, 300_273_000)              # Snowflake's diluted shares, to the share then the thousand
    assert not same(1_000_000, 1_400_000)              # a round figure is still a figure
    assert not same(-2.63, -0.88)                       # a split is not rounding


def test_a_split_adjusted_count_keeps_the_rounding_it_was_filed_with() -> None:
    row = pl.DataFrame({"value": [223_332_000.0], "raw": ["74444000"]})
    assert row.select(reported_unit(pl.col("value"), pl.col("raw"))).item() == 3_000


@given(st.integers(min_value=100, max_value=10**13), st.integers(min_value=0, max_value=6))
def test_a_figure_and_its_own_rounding_are_one_figure(value: int, digits: int) -> None:
    step = 10 ** digits
    rounded = round(value / step) * step
    if rounded >= 100 * step:  # the rounded figure still shows three digits, as statements print them
        assert same(float(value), float(rounded))
