"""The report's charts: SVG with text kept as text, gaps kept as gaps, the same drawing for the same data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from generator.charts import PALETTE, line_chart

PERIODS = ["Q1 FY2024", "Q2 FY2024", "Q3 FY2024", "Q4 FY2024"]


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
