"""Fiscal calendars read from the figures' own dates: month-end years, 52/53-week years, a 10-Q alone."""

from __future__ import annotations

from datetime import date

import pytest

from generator.ingest.fiscal import Calendar, add_months, fiscal_year_of

D = date


def test_a_january_year_places_quarters_exactly() -> None:
    calendar = Calendar.infer([(D(2022, 2, 1), D(2023, 1, 31)), (D(2023, 2, 1), D(2024, 1, 31))],
                              (D(2022, 2, 1), D(2024, 1, 31)))
    assert calendar is not None
    assert calendar.quarter_end(D(2023, 4, 30)) == (2024, 1)
    assert calendar.quarter_end(D(2023, 10, 31)) == (2024, 3)
    assert calendar.quarter_end(D(2024, 1, 31)) == (2024, 4)
    assert calendar.quarter_end(D(2025, 1, 31)) == (2025, 4), "years after the last annual figure repeat"
    assert calendar.quarter_end(D(2023, 4, 26)) is None, "a month-end calendar has no near misses"
    assert calendar.quarter_end(D(2024, 2, 5)) is None


def test_a_52_53_week_year_places_quarters_within_days() -> None:
    calendar = Calendar.infer([(D(2021, 9, 26), D(2022, 9, 24)), (D(2022, 9, 25), D(2023, 9, 30))],
                              (D(2021, 9, 26), D(2023, 9, 30)))
    assert calendar is not None
    assert calendar.quarter_end(D(2022, 12, 31)) == (2023, 1), "a 14-week first quarter"
    assert calendar.quarter_end(D(2023, 7, 1)) == (2023, 3)
    assert calendar.quarter_end(D(2023, 9, 30)) == (2023, 4), "a 53-week year"
    assert calendar.quarter_end(D(2023, 12, 30)) == (2024, 1)
    assert calendar.quarter_end(D(2023, 2, 15)) is None


def test_a_quarterly_report_alone_shows_its_year_by_its_year_to_date_figures() -> None:
    calendar = Calendar.infer([(D(2022, 12, 1), D(2023, 2, 28)), (D(2022, 6, 1), D(2023, 2, 28))],
                              (D(2021, 6, 1), D(2023, 2, 28)))
    assert calendar is not None
    assert calendar.quarter_end(D(2023, 2, 28)) == (2023, 3)
    assert calendar.quarter_end(D(2022, 5, 31)) == (2022, 4)
    assert calendar.quarter_end(D(2022, 11, 30)) == (2023, 2)


def test_no_annual_or_year_to_date_figure_means_no_calendar() -> None:
    assert Calendar.infer([(D(2024, 1, 1), D(2024, 3, 31))], (D(2024, 1, 1), D(2024, 3, 31))) is None


@pytest.mark.parametrize(("end", "year"), [(D(2024, 1, 31), 2024), (D(2024, 1, 3), 2023), (D(2023, 9, 30), 2023)])
def test_a_fiscal_year_is_named_by_the_year_it_ends_in(end: date, year: int) -> None:
    assert fiscal_year_of(end) == year


def test_month_ends_stay_month_ends() -> None:
    assert add_months(D(2022, 5, 31), 9) == D(2023, 2, 28)
    assert add_months(D(2023, 5, 31), 9) == D(2024, 2, 29)
    assert add_months(D(2024, 2, 29), 12) == D(2025, 2, 28)
    assert add_months(D(2022, 9, 24), 12) == D(2023, 9, 24)
