"""Accounting checks: each identity fires on a planted error, stays quiet on consistent data."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from generator.checks import accounting_checks
from generator.periods import pivot
from generator.sample import ROLES

from builders import facts_frame

BALANCED = {
    "total_assets": 1000, "total_liabilities": 600, "total_equity": 380, "noncontrolling_interest": 20,
    "current_assets": 400, "current_liabilities": 300, "revenue": 500, "cost_of_revenue": 300, "gross_profit": 200,
    "operating_cash_flow": 90, "investing_cash_flow": -40, "financing_cash_flow": -30, "net_change_in_cash": 20,
}


def findings(values: dict[str, float], **more: dict[str, float]) -> pl.DataFrame:
    periods = {("E", 2024, "FY"): values} | {("E", 2024, k): v for k, v in more.items()}
    return accounting_checks(pivot(facts_frame(periods)))


def test_consistent_statements_raise_nothing() -> None:
    assert findings(BALANCED).height == 0


@pytest.mark.parametrize(
    ("change", "check", "message"),
    [
        ({"total_assets": 1100}, "balance_sheet_identity",
         "assets do not equal liabilities + equity + noncontrolling interest + temporary equity: "
         "total_assets 1,100 vs 1,000 "
         "(difference 100)"),
        ({"gross_profit": 210}, "gross_profit_identity",
         "gross profit is not revenue − cost of revenue: gross_profit 210 vs 200 (difference 10)"),
        ({"net_change_in_cash": 25}, "cash_flow_reconciliation",
         "net change in cash is not operating + investing + financing cash flow: net_change_in_cash 25 vs 20 "
         "(difference 5)"),
        ({"current_assets": 1200}, "current_assets_within_total_assets",
         "current_assets 1,200 exceeds total_assets 1,000"),
        ({"current_liabilities": 700}, "current_liabilities_within_total_liabilities",
         "current_liabilities 700 exceeds total_liabilities 600"),
    ],
)
def test_planted_error_is_found_with_its_figures(change: dict[str, float], check: str, message: str) -> None:
    found = findings(BALANCED | change)
    assert found.height == 1
    row = found.row(0, named=True)
    assert (row["entity_id"], row["fiscal_year"], row["fiscal_period"], row["check"]) == ("E", 2024, "FY", check)
    assert row["message"] == message
    assert {f["name"] for f in row["facts"]} >= set(change)


def test_rounding_is_not_an_error() -> None:
    big = {k: v * 1e6 for k, v in BALANCED.items()} | {"total_assets": 1000e6 + 50}
    assert findings(big).height == 0


def test_balance_identity_without_total_liabilities_uses_liabilities_and_equity() -> None:
    values = {"total_assets": 1000, "total_liabilities_and_equity": 990, "total_equity": 400}
    assert findings(values)["check"].to_list() == ["balance_sheet_identity"]


def test_quarters_must_add_up_to_the_year() -> None:
    found = findings({"revenue": 400}, Q1={"revenue": 100}, Q2={"revenue": 100}, Q3={"revenue": 100},
                     Q4={"revenue": 90})
    assert found["check"].to_list() == ["quarters_sum_to_year"]
    assert found["message"][0] == "revenue of the four quarters adds up to 390, the fiscal year reports 400"


def test_cash_roll_forward_when_no_net_change_is_printed() -> None:
    periods = {
        ("E", 2023, "FY"): {"cash": 100},
        ("E", 2024, "FY"): {"cash": 150, "operating_cash_flow": 80, "investing_cash_flow": -20,
                            "financing_cash_flow": -20},
    }
    found = accounting_checks(pivot(facts_frame(periods)))
    assert found["check"].to_list() == ["cash_flow_reconciliation"]
    assert found["severity"][0] == "warning"


def test_missing_quarter_and_year_are_reported() -> None:
    periods = {("E", y, p): {"revenue": 1} for y in (2022, 2024) for p in ("FY", "Q1", "Q2", "Q3", "Q4")}
    del periods[("E", 2024, "Q2")]
    found = accounting_checks(pivot(facts_frame(periods))).filter(check="missing_period")
    gaps = sorted(zip(found["fiscal_year"], found["fiscal_period"], strict=True))
    assert gaps == [(2023, "FY"), (2023, "Q1"), (2023, "Q2"), (2023, "Q3"), (2023, "Q4"), (2024, "Q2")]


def test_sample_is_consistent_apart_from_its_planted_gap_and_restatement(sample_run: Any) -> None:
    run = sample_run
    assert run.findings.filter(pl.col("severity") != "info")[["entity_id", "check"]].rows() == [
        (ROLES["missing_quarter"], "missing_period")]
    assert run.findings.filter(severity="info")[["entity_id", "check"]].rows() == [
        (ROLES["restated"], "restatement")]
