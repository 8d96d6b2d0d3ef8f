"""Fiscal calendars read from the facts themselves: which fiscal year and quarter a date closes.

A filing's own ``fy``/``fp`` describe the filing, not the figures in it (a 10-K repeats two earlier
years), so periods are placed by their dates alone. A company's fiscal year ends are the ends of its
twelve-month figures; between and beyond them they repeat yearly. 52/53-week years drift by a few
days, so dates match within a tolerance.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

QUARTER_DAYS = 365.25 / 4
TOLERANCE_DAYS = 10
"""How far a date may sit from the quarter end it is taken for (a 14-week quarter, a 53-week year)."""

ONE_DAY = timedelta(days=1)
YEAR = timedelta(days=366)


def fiscal_year_of(period_end: date) -> int:
    """A fiscal year carries the calendar year it ends in; 52/53-week years that end in the first days of
    January belong to the previous year."""
    return period_end.year - 1 if period_end.month == 1 and period_end.day <= 7 else period_end.year


def is_month_end(day: date) -> bool:
    """Whether a date is its month's last day: a fiscal year of calendar months keeps its quarters on month ends, one of
    52/53 weeks does not."""
    return day.day == calendar.monthrange(day.year, day.month)[1]


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later; a month end stays a month end (29 February included)."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, last if is_month_end(day) else min(day.day, last))


def whole_quarters(start: date, end: date) -> int | None:
    """How many quarters ``start``..``end`` (both included) spans, when it spans whole quarters."""
    days = (end - start).days + 1
    n = round(days / QUARTER_DAYS)
    return n if n and abs(days - n * QUARTER_DAYS) <= TOLERANCE_DAYS else None


@dataclass(frozen=True)
class Calendar:
    """One company's fiscal calendar as its own figures show it: its fiscal year ends, continued a year beyond its
    earliest and latest facts, so that every fact's dates can be placed."""

    year_ends: tuple[date, ...]
    """Every fiscal year end from before the earliest fact to after the latest, in order."""
    monthly: bool
    """Years of calendar months (quarters end on month ends), not of 52/53 weeks."""

    @classmethod
    def infer(cls, durations: Iterable[tuple[date, date]], span: tuple[date, date]) -> Calendar | None:
        """Year ends from twelve-month figures (their ends, and the day before their starts); failing those,
        the day before year-to-date figures start. None when the figures show no fiscal year at all."""
        durations = list(durations)
        annual = [(s, e) for s, e in durations if whole_quarters(s, e) == 4]
        year_to_date = [(s, e) for s, e in durations if whole_quarters(s, e) in (2, 3)]
        votes = Counter([e for _, e in annual] + [s - ONE_DAY for s, _ in annual])
        if not votes:
            votes = Counter(s - ONE_DAY for s, _ in year_to_date)
        chosen: list[date] = []
        for day, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
            if all(abs((day - other).days) > 300 for other in chosen):
                chosen.append(day)
        if not chosen:
            return None
        chosen.sort()
        monthly = all(is_month_end(day) for day in chosen)

        def step(day: date, years: int) -> date:
            return add_months(day, 12 * years) if monthly else day + timedelta(weeks=52 * years)

        ends = [step(chosen[0], -1)]
        while ends[0] > span[0] - YEAR:
            ends.insert(0, step(ends[0], -1))
        for day in chosen:
            while (day - ends[-1]).days > 380:
                ends.append(step(ends[-1], 1))
            ends.append(day)
        while ends[-1] < span[1] + YEAR:
            ends.append(step(ends[-1], 1))
        return cls(tuple(ends), monthly)

    def quarter_end(self, day: date) -> tuple[int, int] | None:
        """(fiscal year, quarters of that year up to ``day``: 1–4) when ``day`` closes a fiscal quarter: exactly,
        in a year of calendar months; within the tolerance, in a year of weeks."""
        i = bisect_left(self.year_ends, day - timedelta(days=TOLERANCE_DAYS))
        if i == 0 or i == len(self.year_ends):
            return None
        previous, year_end = self.year_ends[i - 1], self.year_ends[i]
        elapsed = (day - previous).days
        n = round(elapsed / QUARTER_DAYS)
        if not 1 <= n <= 4 or abs(elapsed - n * QUARTER_DAYS) > TOLERANCE_DAYS:
            return None
        if self.monthly and day != add_months(previous, 3 * n):
            return None
        return fiscal_year_of(year_end), n
