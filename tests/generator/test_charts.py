"""The report's charts: SVG with text kept as text, gaps kept as gaps, the same drawing for the same data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from generator.charts import DRAWDOWN, PALETTE, bar_chart, drawdown_chart, line_chart, performance_chart

PERIODS = ["Q1 FY2024", "Q2 FY2024", "Q3 FY2024", "Q4 FY2024"]
DAYS = [date(2022, 1, 3) + timedelta(days=7 * k) for k in range(160)]


def texts_of(svg: str) -> str:
    return " ".join(t.text or "" for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text"))


def test_a_chart_is_svg_with_its_title_periods_and_legend_as_text() -> None:
    svg = line_chart("Revenue by quarter", PERIODS, {"Revenue": [1.2e9, 1.3e9, None, 1.5e9]}, "currency")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for words in ("Revenue by quarter", *PERIODS, "Revenue"):
        assert words in texts, words
    assert "$1.0bn" in texts and "$500.0m" in texts  # the axis in the report's own format
    assert PALETTE[0] in svg


def test_the_same_data_draws_the_same_bytes_and_other_data_does_not() -> None:
    series = {"Gross margin": [0.41, 0.40, 0.43, 0.42], "Net margin": [0.10, None, 0.12, 0.11]}
    first = line_chart("Margins", PERIODS, series, "fraction")
    assert line_chart("Margins", PERIODS, series, "fraction") == first
    assert line_chart("Margins", PERIODS, {**series, "Net margin": [0.10, 0.09, 0.12, 0.11]}, "fraction") != first


def test_a_missing_value_is_a_gap_not_a_zero() -> None:
    def points(values: list[float | None]) -> int:
        svg = line_chart("Cash", PERIODS, {"Cash": values}, "currency")
        return svg.count("<use ")  # one marker per value drawn

    assert points([1.0, 2.0, 3.0, 4.0]) - points([1.0, None, 3.0, 4.0]) == 1


def test_a_share_against_its_benchmark_is_drawn_on_a_date_axis_with_both_names_as_text() -> None:
    share = [100 + k % 13 for k in range(len(DAYS))]
    index = [100 + k / 10 for k in range(len(DAYS))]
    svg = performance_chart("VOLT against SMPLX", {"VOLT": (DAYS, share), "SMPLX (benchmark)": (DAYS, index)})
    texts = texts_of(svg)
    for words in ("VOLT against SMPLX", "VOLT", "SMPLX (benchmark)", "2023", "2024", "2025", "100"):
        assert words in texts, words
    assert PALETTE[0] in svg and PALETTE[1] in svg
    assert performance_chart("VOLT against SMPLX", {"VOLT": (DAYS, share), "SMPLX (benchmark)": (DAYS, index)}) == svg


def test_a_drawdown_is_a_filled_area_in_percent_with_the_marked_fall_named() -> None:
    falls = [-(k % 40) / 100 for k in range(len(DAYS))]
    svg = drawdown_chart("VOLT: fall from its running peak", DAYS, falls,
                         (DAYS[10], DAYS[39], "one-year maximum drawdown -39.0%"))
    texts = texts_of(svg)
    for words in ("VOLT: fall from its running peak", "one-year maximum drawdown -39.0%", "0%", "-20%"):
        assert words in texts, words
    assert DRAWDOWN in svg
    assert "one-year" not in texts_of(drawdown_chart("VOLT", DAYS, falls))


def test_dollar_signs_in_names_are_text_not_formulas() -> None:
    """Entity ids are data: "$X$" is printed as it is, not typeset as mathtext (nor refused as a bad formula)."""
    svg = performance_chart("$A$ against $^{}$", {"$A$": (DAYS, [100.0] * len(DAYS))})
    assert "$A$ against $^{}$" in texts_of(svg)


def test_bars_name_each_part_and_write_its_value_at_its_end() -> None:
    names = ["Acme Robotics Inc.", "Voltaris Motors Inc.", "Hedge $H$"]
    svg = bar_chart("Contribution to the one-year volatility", names, [0.12, 0.085, -0.004], "fraction")
    texts = texts_of(svg)
    for words in ("Contribution to the one-year volatility", *names, "12.0%", "8.5%", "-0.4%"):
        assert words in texts, words
    assert PALETTE[0] in svg
    assert bar_chart("Contribution to the one-year volatility", names, [0.12, 0.085, -0.004], "fraction") == svg


def test_a_negative_bar_lies_left_of_zero_and_a_positive_one_right() -> None:
    """A holding that lowers the volatility (a negative contribution) is drawn to the left of the line at zero."""
    svg = bar_chart("Weights", ["A", "B"], [0.3, -0.1], "fraction")
    root = ET.fromstring(svg)
    bars = [p for g in root.iter("{http://www.w3.org/2000/svg}g") if (g.get("id") or "").startswith("patch_")
            for p in g.iter("{http://www.w3.org/2000/svg}path") if PALETTE[0] in (p.get("style") or "")]
    assert len(bars) == 2
    lefts = [min(float(x) for x in re.findall(r"[ML] ([-\d.]+) ", p.get("d") or "")) for p in bars]
    assert lefts[1] < lefts[0]  # the negative bar starts left of the positive one's start, the zero line
