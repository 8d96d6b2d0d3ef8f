"""From long facts to one row per company and period: reported values with their fact rows, derivations, prior
periods and trailing twelve months."""

from __future__ import annotations

import polars as pl

from generator.periods import DERIVATIONS, derive, fact, pivot, trailing_twelve_months, with_prior

from builders import facts_frame


def row(periods: pl.DataFrame, entity: str, year: int, period: str) -> dict[str, object]:
    found = periods.filter(entity_id=entity, fiscal_year=year, fiscal_period=period)
    assert found.height == 1, found
    return found.row(0, named=True)


def test_one_row_per_company_and_period_and_each_value_names_its_fact_row() -> None:
    facts = facts_frame({("A", 2024, "FY"): {"revenue": 100, "net_income": 10},
                         ("A", 2024, "Q1"): {"revenue": 20},
                         ("B", 2024, "FY"): {"total_assets": 500}})
    periods = pivot(facts)
    assert periods.select("entity_id", "fiscal_year", "fiscal_period").rows() == [
        ("A", 2024, "FY"), ("A", 2024, "Q1"), ("B", 2024, "FY")]
    a = row(periods, "A", 2024, "FY")
    assert (a["revenue"], a["net_income"], a["total_assets"]) == (100, 10, None)
    assert facts["source"][a[fact("revenue")]] == "test:A:2024FY:revenue"
    assert a[fact("total_assets")] is None  # not reported: no fact row
    assert (a["__qidx"], row(periods, "A", 2024, "Q1")["__qidx"]) == (None, 2024 * 4)
    assert a["__days"] == 366  # the 2024 calendar year, from its own dates


def test_a_missing_item_is_derived_only_from_what_was_reported() -> None:
    periods = derive(pivot(facts_frame({
        ("A", 2024, "FY"): {"revenue": 100, "cost_of_revenue": 60, "short_term_debt": 5, "long_term_debt": 40,
                            "total_liabilities_and_equity": 500, "total_equity": 300, "noncontrolling_interest": 20},
        ("B", 2024, "FY"): {"revenue": 100, "gross_profit": 55, "long_term_debt": 40},
        ("C", 2024, "FY"): {"revenue": 100},
    })))
    a, b, c = (row(periods, e, 2024, "FY") for e in "ABC")
    assert (a["gross_profit"], a["total_debt"], a["total_liabilities"]) == (40, 45, 500 - 300 - 20)
    assert a[fact("gross_profit")] is None  # derived values have no fact row
    assert b["gross_profit"] == 55  # a reported value is never replaced by a derivation
    assert b["total_debt"] == 40  # long-term debt alone, no short-term borrowings reported
    assert (c["gross_profit"], c["total_debt"], c["total_liabilities"]) == (None, None, None)


def test_the_derivation_a_value_came_from_is_the_first_that_held() -> None:
    debts = [d for d in DERIVATIONS if d.target == "total_debt"]
    both = {"total_debt": 45.0, "short_term_debt": 5.0, "long_term_debt": 40.0}
    alone = {"total_debt": 40.0, "short_term_debt": None, "long_term_debt": 40.0}
    assert [d.held(both) for d in debts] == [True, False]
    assert [d.held(alone) for d in debts] == [False, True]


def test_prior_year_and_prior_quarter_values_sit_beside_each_period() -> None:
    periods = with_prior(pivot(facts_frame({
        ("A", 2023, "Q4"): {"revenue": 30}, ("A", 2024, "Q1"): {"revenue": 20}, ("A", 2024, "Q2"): {"revenue": 25},
        ("A", 2023, "Q1"): {"revenue": 15}, ("A", 2023, "FY"): {"revenue": 90}, ("A", 2024, "FY"): {"revenue": 100},
    })), ["revenue"])
    q1 = row(periods, "A", 2024, "Q1")
    assert (q1["revenue_prior_year"], q1["revenue_prior_quarter"]) == (15, 30)  # across the year end
    assert row(periods, "A", 2024, "Q2")["revenue_prior_quarter"] == 20
    fy = row(periods, "A", 2024, "FY")
    assert (fy["revenue_prior_year"], fy["revenue_prior_quarter"]) == (90, None)


def test_trailing_twelve_months_add_four_contiguous_quarters_and_no_fewer() -> None:
    quarters = {("A", y, f"Q{q}"): {"revenue": 10.0 * (4 * (y - 2023) + q), "total_assets": 1000.0}
                for y in (2023, 2024) for q in range(1, 5)}
    del quarters[("A", 2023, "Q3")]
    ttm = trailing_twelve_months(pivot(facts_frame(quarters)))
    assert ttm.filter(fiscal_period="FY").height == 0
    assert row(ttm, "A", 2024, "Q3")["revenue"] == 40 + 50 + 60 + 70
    assert row(ttm, "A", 2024, "Q2")["revenue"] is None  # its four quarters include the missing one
    assert row(ttm, "A", 2024, "Q3")["total_assets"] == 1000  # a balance is not summed
    assert row(ttm, "A", 2024, "Q3")["__days"] == 365
