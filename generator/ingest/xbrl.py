"""What the XBRL adapters share: tagged facts → canonical raw rows.

SEC companyfacts and XBRL fact tables both hold facts as (concept, unit, start, end, value). The
mapping table ``data/xbrl_tags.csv`` lists, per canonical item, candidate concepts in priority order
(a candidate may be a sum or difference of concepts); each period takes its value from the first
candidate that reports it. Periods are placed by their own dates on the company's fiscal calendar.
Year-to-date flows yield the quarters no filing reports by itself (Q2 = 6M − Q1, Q3 = 9M − 6M,
Q4 = FY − 9M), and every such derivation is written into the value's provenance. A value repeated
unchanged by later filings is one value, cited by the first filing that reported it; a changed value
is a restatement and keeps its own filing date, so the latest wins and the earlier one is listed.

Concepts the table does not name, and facts with dimensions (segment breakdowns), are not statement
totals and are not read.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

from generator.ingest.base import raw_records
from generator.ingest.fiscal import ONE_DAY, Calendar
from generator.schema import additive_flows, currencies, items

Term = tuple[int, str]
"""(sign, concept) of one term of a candidate."""

TO_DATE = {1: "Q1", 2: "6 months to date", 3: "9 months to date", 4: "FY"}
UNIT, START, END = range(3)
"""A fact's fields a problem may point at (see ``Fact.fields``)."""


@dataclass(frozen=True)
class Fact:
    """One numeric fact of a mapped concept, as the file gives it."""

    concept: str
    value: float
    text: str
    unit: str
    start: date | None
    end: date
    filed: date | None
    ref: str
    """Provenance: ``accession/concept`` or ``file:line [concept]``."""
    line: int | None
    column: str
    """Where the value is written: a JSON path or a CSV column."""
    fields: tuple[str, str, str]
    """Where its unit, start and end are written."""
    filing: str = ""
    """The filing that reported it (an accession number); a fact table is one filing."""


@dataclass(frozen=True)
class Problem:
    """A fact of a mapped concept that cannot be used, and why."""

    concept: str
    text: str
    line: int | None
    column: str | None
    reason: str


SEGMENT = "a segment or other breakdown (the fact has dimensions), not a statement total"


def unmapped(concept: str) -> str:
    """The reason a fact of a concept the tag map does not name is not read (``Ingested.unmapped`` counts them)."""
    return f"unmapped item '{concept}'"


class Unusable(Exception):
    """Raised while reading a fact: the field at fault (column or JSON path) and why."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


def parse_date(text: object, column: str) -> date:
    """An XBRL date (``YYYY-MM-DD``); anything else makes the fact unusable, naming the field it came from."""
    if isinstance(text, str):
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise Unusable(column, f"unparseable date {text!r} (expected YYYY-MM-DD)")


@dataclass(frozen=True)
class Period:
    """Quarters ``first``..``last`` of a fiscal year; an instant closes quarter ``last``."""

    fiscal_year: int
    first: int
    last: int
    instant: bool

    @property
    def fiscal_period(self) -> str | None:
        """FY or Qn; None for a year to date, which only serves to derive quarters."""
        if self.instant or self.first == self.last:
            return "FY" if self.instant and self.last == 4 else f"Q{self.last}"
        return "FY" if (self.first, self.last) == (1, 4) else None


@dataclass(frozen=True)
class Value:
    """The value chosen for an item and period: as filed, or derived (a year-to-date difference, a sum of concepts),
    with the references it came from, which become its provenance."""

    value: float
    text: str
    start: date | None
    end: date
    filed: date | None
    ref: str
    derived: bool = False
    line: int | None = None
    column: str | None = None

    @classmethod
    def of(cls, fact: Fact) -> Value:
        """A filed fact taken as it is, derived from nothing."""
        return cls(fact.value, fact.text, fact.start, fact.end, fact.filed, fact.ref, False, fact.line, fact.column)

    def grouped(self) -> str:
        """The value's reference as a term of a further derivation: a derived one in parentheses, so that
        ``Q4 = FY − 9M`` reads one way only."""
        return f"({self.ref})" if self.derived else self.ref


@cache
def candidates() -> dict[str, tuple[tuple[Term, ...], ...]]:
    """Canonical item → candidate concepts in priority order; a candidate is a signed sum of concepts."""
    text = resources.files("generator.data").joinpath("xbrl_tags.csv").read_text(encoding="utf-8")
    out: dict[str, list[tuple[Term, ...]]] = defaultdict(list)
    for row in csv.DictReader(text.splitlines()):
        if row["item"] not in items():
            raise ValueError(f"xbrl_tags.csv: {row['concept']!r} maps to unknown item {row['item']!r}")
        tokens = row["concept"].split()
        operators = tokens[1::2]
        if len(tokens) % 2 == 0 or any(op not in "+-" for op in operators):
            raise ValueError(f"xbrl_tags.csv: {row['concept']!r} is not a sum or difference of concepts")
        signs = [1, *(1 if op == "+" else -1 for op in operators)]
        out[row["item"]].append(tuple(zip(signs, tokens[::2], strict=True)))
    return {item: tuple(options) for item, options in out.items()}


@cache
def mapped_concepts() -> dict[str, str]:
    """Every concept the table names → the first item it serves (whose unit and kind it shares)."""
    out: dict[str, str] = {}
    for item, options in candidates().items():
        for terms in options:
            for _, concept in terms:
                out.setdefault(concept, item)
    return out


def to_raw(path: Path, entity_id: str, entity_name: str, facts: list[Fact], problems: list[Problem]) -> pl.DataFrame:
    """The adapter's raw frame: canonical rows for what the facts say, rejected rows for what they cannot."""
    currency = _reporting_currency(facts)
    placed, unplaced = _place(facts, currency)
    values = _select(placed)
    rows: list[dict[str, object]] = []

    def add(item: str, period: Period, fiscal_period: str, value: Value) -> None:
        rows.append({
            "entity_id": entity_id, "entity_name": entity_name, "fiscal_year": str(period.fiscal_year),
            "fiscal_period": fiscal_period, "period_start": value.start and value.start.isoformat(),
            "period_end": value.end.isoformat(), "item": item, "value": value.text, "currency": currency,
            "filed": value.filed and value.filed.isoformat(), "_file": str(path), "_line": value.line,
            "_column": value.column, "_source": ("derived: " if value.derived else "") + value.ref,
        })

    flows = set(additive_flows())
    with_quarters: set[int] = set()
    for item, periods in values.items():
        quarters = {p: [v] for p, v in _quarters(periods).items()} if item in flows else {}
        for period, versions in sorted({**periods, **quarters}.items(), key=lambda kv: (kv[1][-1].end, kv[0].first)):
            if period.fiscal_period:
                if period.fiscal_period != "FY":
                    with_quarters.add(period.fiscal_year)
                for value in versions:
                    add(item, period, period.fiscal_period, value)
    for item, periods in values.items():
        for period, versions in periods.items():
            if period.instant and period.last == 4 and period.fiscal_year in with_quarters:
                add(item, period, "Q4", versions[-1])
    for problem in [*problems, *unplaced]:
        rows.append({"entity_id": entity_id, "entity_name": entity_name, "item": problem.concept,
                     "value": problem.text, "currency": currency, "_file": str(path), "_line": problem.line,
                     "_column": problem.column, "__problem": problem.reason, "__problem_at": problem.column})
    return raw_records(rows)


def _unit_key(unit: str) -> str:
    """``USD/shares``, ``USD per share`` and ``usd / shares`` are one unit."""
    return re.sub(r"\s+per\s+|\s*/\s*", "/", unit.strip()).lower().removesuffix("s")


def _reporting_currency(facts: list[Fact]) -> str | None:
    """The currency most money facts are in (others are convenience translations, not the books)."""
    money = Counter(f.unit.upper() for f in facts
                    if items()[mapped_concepts()[f.concept]].unit == "currency" and f.unit.upper() in currencies())
    return money.most_common(1)[0][0] if money else None


def _place(facts: list[Fact], currency: str | None) -> tuple[dict[str, dict[Period, list[Fact]]], list[Problem]]:
    """Each fact on the fiscal calendar: concept → period → versions in filing order; or why it cannot be."""
    dates = [d for f in facts for d in (f.start, f.end) if d is not None]
    calendar = Calendar.infer([(f.start, f.end) for f in facts if f.start], (min(dates), max(dates))) if dates else None
    placed: dict[str, dict[Period, list[Fact]]] = defaultdict(lambda: defaultdict(list))
    problems = []
    for fact in facts:
        where = _period(calendar, fact, currency)
        if isinstance(where, Period):
            placed[fact.concept][where].append(fact)
        else:
            field, reason = where
            problems.append(Problem(fact.concept, fact.text, fact.line, fact.fields[field], reason))
    return {c: dict(periods) for c, periods in placed.items()}, problems


def _period(calendar: Calendar | None, fact: Fact, currency: str | None) -> Period | tuple[int, str]:
    """The fiscal period a fact covers, or the field at fault and why it covers none the report can use."""
    item = items()[mapped_concepts()[fact.concept]]
    expected = {"currency": currency, "shares": "shares", "currency_per_share": f"{currency}/shares"}[item.unit]
    if expected is None or _unit_key(fact.unit) != _unit_key(expected):
        return UNIT, f"unit {fact.unit!r} does not fit {item.name} (expected {expected or 'a currency'})"
    if item.kind == "stock" and fact.start is not None:
        return START, f"{item.name} is a balance at a date, not an amount over {fact.start}..{fact.end}"
    if item.kind == "flow" and fact.start is None:
        return END, f"{item.name} is an amount over a period, not a balance at {fact.end}"
    if calendar is None:
        return END, "cannot tell the fiscal year: the file has no twelve-month or year-to-date figure"
    closes = calendar.quarter_end(fact.end)
    if closes is None:
        return END, f"{fact.end} does not close a fiscal quarter"
    year, last = closes
    if fact.start is None:
        return Period(year, last, last, instant=True)
    before = calendar.quarter_end(fact.start - ONE_DAY)
    if before == (year - 1, 4):
        first = 1
    elif before is not None and before[0] == year and before[1] < last:
        first = before[1] + 1
    else:
        return START, f"{fact.start}..{fact.end} does not span whole quarters of one fiscal year"
    if 1 < first < last:
        return START, (f"{fact.start}..{fact.end} spans quarters {first}–{last} of fiscal {year}: neither a "
                       f"quarter, a year to date nor a fiscal year")
    return Period(year, first, last, instant=False)


def _versions(facts: list[Fact]) -> list[Fact]:
    """In filing order, each value once: a value repeated unchanged by a later filing keeps its first filing."""
    kept: list[Fact] = []
    for fact in sorted(facts, key=lambda f: f.filed or date.min):
        if not kept or fact.value != kept[-1].value:
            kept.append(fact)
    return kept


def _select(placed: dict[str, dict[Period, list[Fact]]]) -> dict[str, dict[Period, list[Value]]]:
    """Item → period → values (restated ones first): the first candidate that reports the period, a sum or
    difference only where one filing reports every term of it."""
    out: dict[str, dict[Period, list[Value]]] = {}
    for item, options in candidates().items():
        periods = {p for terms in options for _, concept in terms for p in placed.get(concept, {})}
        chosen: dict[Period, list[Value]] = {}
        for period in periods:
            for terms in options:
                facts = [placed.get(c, {}).get(period) for _, c in terms]
                if len(terms) == 1 and facts[0]:
                    chosen[period] = [Value.of(f) for f in _versions(facts[0])]
                    break
                combined = _combined(terms, facts) if all(facts) else None
                if combined is not None:
                    chosen[period] = [combined]
                    break
        if chosen:
            out[item] = chosen
    return out


def _combined(terms: tuple[Term, ...], facts: list[list[Fact] | None]) -> Value | None:
    """A candidate that adds or subtracts concepts, all from the latest filing that reports every one of them.

    Terms from different filings are never combined: a line one filing tags ``ShortTermBorrowings`` and the
    next ``LongTermDebtCurrent`` would be counted twice. A difference applies only where the subtracted part
    fits inside the whole: TSMC tags its noncurrent bank loans ``LongtermBorrowings`` and a current portion of
    bonds and loans ``CurrentPortionOfLongtermBorrowings`` six times larger, so the two do not nest."""
    by_filing = [{f.filing: f for f in versions} for versions in facts if versions]
    shared = set.intersection(*(set(filings) for filings in by_filing))
    if not shared:
        return None
    filing = max(shared, key=lambda accn: by_filing[0][accn].filed or date.min)
    latest = [filings[filing] for filings in by_filing]
    if any(sign < 0 and abs(f.value) > abs(latest[0].value) for (sign, _), f in zip(terms, latest, strict=True)):
        return None  # the part is larger than the whole it is taken from: the filer's tags do not nest
    total = sum(sign * f.value for (sign, _), f in zip(terms, latest, strict=True))
    ref = latest[0].ref + "".join(f" {'+' if sign > 0 else '−'} {f.ref}"
                                  for (sign, _), f in zip(terms[1:], latest[1:], strict=True))
    return Value(total, repr(total), latest[0].start, latest[0].end, latest[0].filed, ref, True)


def _latest(days: Iterable[date | None]) -> date | None:
    known = [d for d in days if d is not None]
    return max(known) if known else None


def _quarters(periods: dict[Period, list[Value]]) -> dict[Period, Value]:
    """The quarters a flow's year-to-date figures imply where no filing reports the quarter by itself."""
    current = {p: versions[-1] for p, versions in periods.items()}
    out: dict[Period, Value] = {}
    for year in sorted({p.fiscal_year for p in current}):
        to_date: dict[int, tuple[str, Value]] = {}
        for n in range(1, 5):
            reported = current.get(Period(year, 1, n, instant=False))
            quarter = current.get(Period(year, n, n, instant=False))
            previous = to_date.get(n - 1)
            if reported is not None:
                to_date[n] = (TO_DATE[n], reported)
            elif quarter is not None and previous is not None:
                label, before = previous
                to_date[n] = (f"{label} + Q{n}", Value(before.value + quarter.value, "", before.start, quarter.end,
                                                       _latest([before.filed, quarter.filed]),
                                                       f"{before.ref} + {quarter.ref}", True))
            if quarter is None and reported is not None and previous is not None:
                (label, total), (label_before, before) = to_date[n], previous
                value = total.value - before.value
                out[Period(year, n, n, instant=False)] = Value(
                    value, repr(value), before.end + ONE_DAY, total.end, _latest([total.filed, before.filed]),
                    f"Q{n} = {label} − {label_before}: {total.grouped()} − {before.grouped()}", True)
    return out
