"""Where a metric value came from: its inputs, and the source line or derivation behind each of them."""

from __future__ import annotations

from generator.metrics import compute_metrics
from generator.provenance import Provenance

from builders import facts_frame

FY2023 = {
    "revenue": 800, "cost_of_revenue": 500, "gross_profit": 300, "net_income": 100, "total_equity": 350,
    "total_assets": 900, "long_term_debt": 250, "current_assets": 330, "current_liabilities": 250,
    "shares_outstanding": 105,
}
FY2024 = {
    "revenue": 1000, "cost_of_revenue": 600, "gross_profit": 400, "sga_expense": 150, "rnd_expense": 50,
    "operating_income": 200, "interest_expense": 20, "pretax_income": 180, "income_tax": 40, "net_income": 140,
    "depreciation_amortization": 30, "cash": 100, "short_term_investments": 50, "receivables": 120,
    "inventory": 80, "current_assets": 400, "total_assets": 1000, "ppe_net": 300, "payables": 90,
    "short_term_debt": 60, "current_liabilities": 250, "long_term_debt": 240, "total_liabilities": 600,
    "total_equity": 400, "retained_earnings": 200, "shares_outstanding": 110, "operating_cash_flow": 180,
    "capex": 50,
}


def test_sources_trace_every_input() -> None:
    facts = facts_frame({("T", 2023, "FY"): FY2023, ("T", 2024, "FY"): FY2024})
    provenance = Provenance(compute_metrics(facts), facts, "T")
    inputs, sources = provenance.of("debt_to_equity", 2024, "FY")
    assert inputs == {"total_debt": 300.0, "total_equity": 400.0}
    assert sources == [
        "derived: total_debt = short_term_debt + long_term_debt",
        "test:T:2024FY:short_term_debt",
        "test:T:2024FY:long_term_debt",
        "test:T:2024FY:total_equity",
    ]
    inputs, sources = provenance.of("revenue_growth_yoy", 2024, "FY")
    assert inputs == {"revenue": 1000.0, "revenue_prior_year": 800.0}
    assert sources == ["test:T:2024FY:revenue", "test:T:2023FY:revenue"]


def test_trailing_twelve_month_sources_name_all_four_quarters() -> None:
    quarters = {("Q", y, f"Q{q}"): {"revenue": 100.0 * q, "net_income": 10.0} for y in (2023, 2024)
                for q in range(1, 5)}
    facts = facts_frame(quarters)
    inputs, sources = Provenance(compute_metrics(facts), facts, "Q").of("net_margin_ttm", 2024, "Q2")
    assert inputs == {"net_income": 40.0, "revenue": 1000.0}
    assert sources == [f"test:Q:{p}:{item}" for item in ("net_income", "revenue")
                       for p in ("2024Q2", "2024Q1", "2023Q4", "2023Q3")]


def test_free_cash_flow_names_its_formula_and_both_inputs() -> None:
    facts = facts_frame({("T", 2024, "FY"): FY2024})
    inputs, sources = Provenance(compute_metrics(facts), facts, "T").of("fcf_margin", 2024, "FY")
    assert inputs == {"free_cash_flow": 130.0, "revenue": 1000.0}
    assert sources[0].startswith("derived: free_cash_flow = ")
    assert sources[1:] == ["test:T:2024FY:operating_cash_flow", "test:T:2024FY:capex", "test:T:2024FY:revenue"]


def test_a_missing_input_has_no_source_and_the_period_has_its_attributes() -> None:
    facts = facts_frame({("T", 2024, "FY"): FY2024})
    provenance = Provenance(compute_metrics(facts), facts, "T")
    inputs, sources = provenance.of("revenue_growth_yoy", 2024, "FY")
    assert inputs == {"revenue": 1000.0, "revenue_prior_year": None}
    assert sources == ["test:T:2024FY:revenue"]  # no year before: nothing to cite for it
    period = provenance.period(2024, "FY")
    assert (period["entity_name"], str(period["period_end"])) == ("T Corp", "2024-12-31")
