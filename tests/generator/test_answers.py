"""The answers stage: each company's report period, what a narrator is given for it, every question put once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from generator.answers import context, narrate, period_values, report_period
from generator.graph_queries import peers_of
from generator.narrator import ReferenceNarrator, catalogue
from generator.pipeline import build, contexts
from generator.sample import ROLES

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real-filings"


def test_report_period_prefers_the_year_to_its_fourth_quarter(sample_run: Any) -> None:
    assert report_period(sample_run.analysis, ROLES["non_calendar"]) == (2025, "FY")


def test_the_context_holds_the_report_period_the_year_before_its_peers_and_its_flags(sample_run: Any) -> None:
    volt = ROLES["loss_maker"]
    finding = {"entity_id": volt, "check": "restatement", "message": "planted"}
    ctx = context(sample_run.analysis, sample_run.graph, [finding], volt)
    assert (ctx.entity_id, ctx.company, ctx.currency, ctx.period) == (volt, "Voltaris Motors Inc.", "USD", "FY2025")
    assert ctx.metrics == period_values(sample_run.analysis, volt, 2025, "FY")
    assert ctx.prior == period_values(sample_run.analysis, volt, 2024, "FY")
    assert ctx.metrics["current_ratio"] is not None and ctx.metrics != ctx.prior
    assert set(ctx.peers) == set(peers_of(sample_run.graph, volt)) and ctx.peers
    assert all(p["current_ratio"] is not None for p in ctx.peers.values())  # the same period of each peer
    assert {f["flag"] for f in ctx.flags} >= {"LiquidityConcern", "CashBurn"}
    assert {(f["fiscal_year"], f["fiscal_period"]) for f in ctx.flags} == {(2025, "FY")}
    assert ctx.findings == [finding]


def test_a_chosen_period_has_the_same_quarter_a_year_earlier_as_its_prior(sample_run: Any) -> None:
    kola = ROLES["cash_cow"]
    ctx = context(sample_run.analysis, sample_run.graph, [], kola, (2024, "Q3"))
    assert ctx.period == "Q3 FY2024"
    assert ctx.prior == period_values(sample_run.analysis, kola, 2023, "Q3")
    assert {(f["fiscal_year"], f["fiscal_period"]) for f in ctx.flags} <= {(2024, "Q3")}


def test_every_company_gets_the_chosen_questions_and_always_the_summary(sample_run: Any) -> None:
    entities = [ROLES["cash_cow"], ROLES["loss_maker"]]
    answered = narrate(contexts(sample_run, entities), ReferenceNarrator(), ["liquidity"])
    assert list(answered) == entities
    for entity, (ctx, answers) in answered.items():
        assert ctx.entity_id == entity
        assert [a.question_id for a in answers] == ["executive_summary", "liquidity"]
        assert all(a.text and a.origin == "reference" for a in answers)
    _, every = narrate(contexts(sample_run, entities[:1]))[entities[0]]
    assert [a.question_id for a in every] == [q.id for q in catalogue() if not q.portfolio]  # prices: the market ones
    _, statements_only = narrate(contexts(replace(sample_run, market=sample_run.market.clear()), entities[:1]))[
        entities[0]]
    assert [a.question_id for a in statements_only] == [q.id for q in catalogue() if not q.market and not q.portfolio]


def test_a_quarter_s_returns_are_those_of_the_twelve_months_it_closes() -> None:
    """Walmart's latest period is Q1 FY2027 (to 30 April 2026): returns are annual metrics, so the answer said
    "Returns cannot be computed" although four quarters and the year before exist."""
    real = build([REAL / "wmt_companyfacts_trimmed.json"])
    entity = "CIK0000104169"
    assert report_period(real.analysis, entity) == (2027, "Q1")
    _, answers = narrate(contexts(real, [entity]), ReferenceNarrator(), ["returns"])[entity]
    returns = next(a for a in answers if a.question_id == "returns")
    assert returns.text == ("Over the last twelve months, return on equity was 24.1% (25.5% on average equity); "
                            "return on assets was 8.0%.")
    assert {f["metric"] for f in returns.facts_used} == {"roe_ttm", "roe_avg_ttm", "roa_ttm"}
