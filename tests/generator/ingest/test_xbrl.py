"""What the XBRL adapters share, shown on small companyfacts files: quarters derived from year-to-date figures
(and saying so), the latest filing winning, candidate tags in priority order, and tags of one line never added
across filings."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from generator import pipeline

from builders import checked, companyfacts, entry, fact

YEAR = "2024-01-01"
A, B = "0000000001-24-000010", "0000000001-25-000001"


def balance(val: float, accn: str, filed: str, end: str = "2024-12-31") -> dict[str, Any]:
    return entry(val, end, accn=accn, filed=filed)


def with_year(concepts: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """A fiscal year for the calendar to stand on."""
    return {"us-gaap:Revenues": {"USD": [entry(1000, "2024-12-31", YEAR)]}, **concepts}


def test_quarters_are_derived_from_year_to_date_figures_and_say_so(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "acme.json", {
        "us-gaap:Revenues": {"USD": [
            entry(200, "2024-03-31", YEAR, accn="0000000001-24-000010", filed="2024-05-01"),
            entry(450, "2024-06-30", YEAR, accn="0000000001-24-000020", filed="2024-08-01"),
            entry(700, "2024-09-30", YEAR, accn="0000000001-24-000030", filed="2024-11-01"),
            entry(1000, "2024-12-31", YEAR, accn="0000000001-25-000001")]},
        "us-gaap:EarningsPerShareDiluted": {"USD/shares": [
            entry(1.4, "2024-09-30", YEAR, filed="2024-11-01"), entry(2.0, "2024-12-31", YEAR)]},
    })
    facts = checked([path]).facts
    revenue = facts.filter(item="revenue").sort("period_end", "fiscal_period")
    assert revenue.select("fiscal_year", "fiscal_period", "value", "filed").rows() == [
        (2024, "Q1", 200, date(2024, 5, 1)), (2024, "Q2", 250, date(2024, 8, 1)), (2024, "Q3", 250, date(2024, 11, 1)),
        (2024, "FY", 1000, date(2025, 2, 15)), (2024, "Q4", 300, date(2025, 2, 15))]
    assert revenue["source"].to_list()[1:3] == [
        "derived: Q2 = 6 months to date − Q1: 0000000001-24-000020/us-gaap:Revenues − "
        "0000000001-24-000010/us-gaap:Revenues",
        "derived: Q3 = 9 months to date − 6 months to date: 0000000001-24-000030/us-gaap:Revenues − "
        "0000000001-24-000020/us-gaap:Revenues"]
    assert facts.filter(item="eps_diluted")["fiscal_period"].to_list() == ["FY"], "per-share amounts do not add up"


def test_a_reported_quarter_is_kept_and_helps_derive_the_next(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "acme.json", {"us-gaap:Revenues": {"USD": [
        entry(200, "2024-03-31", YEAR, accn="0000000001-24-000010"),
        entry(260, "2024-06-30", "2024-04-01", accn="0000000001-24-000020"),
        entry(700, "2024-09-30", YEAR, accn="0000000001-24-000030"),
        entry(1000, "2024-12-31", YEAR, accn="0000000001-25-000001")]}})
    quarters = {r["fiscal_period"]: r for r in checked([path]).facts.iter_rows(named=True)}
    assert quarters["Q2"]["source"] == "0000000001-24-000020/us-gaap:Revenues"
    assert quarters["Q3"]["value"] == 700 - 200 - 260
    assert quarters["Q3"]["source"] == (
        "derived: Q3 = 9 months to date − Q1 + Q2: 0000000001-24-000030/us-gaap:Revenues − "
        "(0000000001-24-000010/us-gaap:Revenues + 0000000001-24-000020/us-gaap:Revenues)")
    assert quarters["Q4"]["value"] == 300


def test_the_latest_filing_wins_and_an_unchanged_repeat_is_no_restatement(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "acme.json", {"us-gaap:Revenues": {"USD": [
        entry(900, "2023-12-31", "2023-01-01", accn="0000000001-24-000001", filed="2024-02-01"),
        entry(900, "2023-12-31", "2023-01-01", accn="0000000001-24-000010", filed="2024-05-01"),
        entry(880, "2023-12-31", "2023-01-01", accn="0000000001-25-000001", filed="2025-02-01"),
        entry(1000, "2024-12-31", YEAR, accn="0000000001-25-000001", filed="2025-02-01"),
        entry(1000, "2024-12-31", YEAR, accn="0000000001-25-000010", filed="2025-05-01")]}})
    ingested = checked([path])
    assert fact(ingested.facts, "revenue", 2023, "FY")["value"] == 880
    assert fact(ingested.facts, "revenue", 2024, "FY")["source"] == "0000000001-25-000001/us-gaap:Revenues"
    assert ingested.superseded.select("value", "source").rows() == [(900, "0000000001-24-000001/us-gaap:Revenues")]
    assert pipeline.restatement_findings(ingested)["message"].to_list() == [
        "revenue restated from 900 (filed 2024-02-01, 0000000001-24-000001/us-gaap:Revenues) "
        "to 880 (filed 2025-02-01, 0000000001-25-000001/us-gaap:Revenues)"]


def test_candidates_are_taken_in_priority_order_per_period(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "acme.json", {
        "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax": {"USD": [entry(990, "2024-12-31", YEAR)]},
        "us-gaap:Revenues": {"USD": [entry(1000, "2024-12-31", YEAR)]},
        "us-gaap:SalesRevenueNet": {"USD": [entry(900, "2023-12-31", "2023-01-01")]},
    })
    revenue = checked([path]).facts.filter(item="revenue").sort("fiscal_year")
    assert revenue.select("fiscal_year", "value", "source").rows() == [
        (2023, 900, "0000000001-25-000001/us-gaap:SalesRevenueNet"),
        (2024, 1000, "0000000001-25-000001/us-gaap:Revenues")]


def test_two_tags_for_one_line_from_two_filings_are_never_added(tmp_path: Path) -> None:
    """The 10-K tags the line ShortTermBorrowings; the next year's 10-K re-tags the same comparative line
    LongTermDebtCurrent. Adding them counted the line twice."""
    path = companyfacts(tmp_path / "acme.json", with_year({
        "us-gaap:ShortTermBorrowings": {"USD": [balance(300, A, "2025-02-15")]},
        "us-gaap:LongTermDebtCurrent": {"USD": [balance(300, B, "2026-02-15")]},
        "us-gaap:LongTermDebtNoncurrent": {"USD": [balance(2000, B, "2026-02-15")]},
    }))
    row = fact(checked([path]).facts, "short_term_debt", 2024, "FY")
    assert (row["value"], row["source"]) == (300, f"{A}/us-gaap:ShortTermBorrowings")


def test_a_sum_of_two_tags_comes_from_the_latest_filing_that_reports_both(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "acme.json", with_year({
        "us-gaap:ShortTermBorrowings": {"USD": [balance(100, A, "2025-02-15"), balance(110, B, "2026-02-15")]},
        "us-gaap:LongTermDebtCurrent": {"USD": [balance(50, A, "2025-02-15"), balance(55, B, "2026-02-15")]},
    }))
    row = fact(checked([path]).facts, "short_term_debt", 2024, "FY")
    assert (row["value"], row["source"]) == (165, f"derived: {B}/us-gaap:ShortTermBorrowings + "
                                                  f"{B}/us-gaap:LongTermDebtCurrent")
