"""Where a metric value came from: its inputs, and the source line or derivation behind each of them."""

from __future__ import annotations

from generator.metrics import compute_metrics
from generator.provenance import Provenance

from builders import FY2023, FY2024, facts_frame


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
