"""The verifier against adversarial answers, and against every reference answer of the sample (all must pass)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl
import pytest

from generator.answers import context
from generator.graph import flag_labels, load_ontology
from generator.narrator import Context, ReferenceNarrator, asked, catalogue
from generator.narrator.slots import fill, prompt_facts
from generator.narrator.training import delexicalise
from generator.narrator.verify import figures, verify
from generator.pipeline import finding_records
from generator.present import MARKET, PORTFOLIO

Q = {q.id: q for q in catalogue()}
LABELS = flag_labels(load_ontology()[1])


def flag(name: str, label: str, metric: str, value: float, op: str, threshold: float) -> dict[str, object]:
    return {"flag": name, "label": label, "severity": "concern", "fiscal_year": 2025, "fiscal_period": "FY",
            "conditions": [{"metric": metric, "value": value, "period": "FY2025", "ttm": False,
                            "bounds": [[op, threshold]]}]}


CTX = Context(
    entity_id="VOLT", company="Voltaris Motors Inc.", sector="Industrials", currency="USD", fiscal_year=2025,
    fiscal_period="FY",
    metrics={"revenue": 682.5e6, "revenue_growth_yoy": 0.063, "current_ratio": 0.4132, "quick_ratio": 0.15,
             "cash_ratio": 0.07, "working_capital": -300e6, "debt_to_equity": 2.118},
    prior={"revenue": 642.2e6, "current_ratio": 0.80, "quick_ratio": 0.30, "working_capital": -100e6},
    flags=[flag("LiquidityConcern", "liquidity concern", "current_ratio", 0.4132, "<", 1.0),
           flag("HighLeverage", "high leverage", "debt_to_equity", 2.118, ">", 2.0)],
)


def check(text: str, question: str = "liquidity") -> tuple[bool, str]:
    verdict = verify(text, Q[question], CTX, LABELS)
    return verdict.ok, verdict.reason


@pytest.mark.parametrize("text", [
    "The current ratio was ⟨current_ratio⟩, down from ⟨current_ratio_prior⟩ a year earlier.",
    "The current ratio was 0.41x, down from 0.80x a year earlier.",
    "The current ratio fell from 0.80x to 0.413x.",  # more precision than shown, still the fact
    "The current ratio was 0.4x.",  # less precision: within its own rounding
    "Working capital was -$300.0m, down from -$100.0m.",
    "Working capital was ($300.0m).",
    "Working capital was a deficit of $300m.",  # unsigned: the magnitude is the fact's
    "Working capital was ⟨working_capital⟩; a year earlier it was ⟨working_capital_prior⟩.",
    "Current assets covered current liabilities ⟨current_ratio⟩ times.",  # the items a ratio is made of
    "The quick ratio was ⟨quick_ratio⟩ and the cash ratio ⟨cash_ratio⟩.",
    "The current ratio fell from ⟨current_ratio_prior⟩ to ⟨current_ratio⟩.",
    "The current ratio fell to ⟨current_ratio⟩ from ⟨current_ratio_prior⟩.",
    "The cash ratio was ⟨cash_ratio⟩ from a quick ratio of ⟨quick_ratio⟩.",  # "from" a figure with no year earlier
])
def test_true_answers_pass(text: str) -> None:
    ok, why = check(text)
    assert ok, why


@pytest.mark.parametrize(("text", "question", "reason"), [
    ("The current ratio was 0.52x.", "liquidity", "0.52x is not a figure of the facts given"),
    ("The current ratio was 0.42x.", "liquidity", "0.42x is not a figure"),  # outside 0.415 ± 0.005
    ("Revenue was $682.5bn, up 6.3% on a year earlier.", "revenue_trend", "$682.5bn is not a figure"),
    ("Revenue was $682.5k.", "revenue_trend", "$682.5k is not a figure"),
    ("Revenue grew by 0.063 on a year earlier to $682.5m.", "revenue_trend", "0.063 is not a figure"),
    ("Revenue grew by 63% to $682.5m.", "revenue_trend", "63% is not a figure"),
    ("The current ratio rose to 0.41x from 0.80x.", "liquidity", "'rose' contradicts the change of current_ratio"),
    ("The current ratio improved to ⟨current_ratio⟩.", "liquidity", "'improved' contradicts"),
    ("Revenue fell 6.3% on a year earlier.", "revenue_trend", "'fell' contradicts the change of revenue_growth_yoy"),
    ("Liquidity concern: current ratio 0.41x, above 1.00x. High leverage: debt to equity 2.12x, above 2.00x.",
     "risk_flags", "'above' contradicts the figures"),
    ("The reasoner raised a liquidity concern: current ratio 0.41x, below 1.00x.", "risk_flags",
     "misses a flag the reasoner inferred: high leverage"),
    ("Liquidity concern, high leverage and cash burn were raised.", "risk_flags",
     "names a flag the reasoner did not infer: cash burn"),
    ("", "liquidity", "empty"),
    ("The current ratio was ⟨current_ratio⟩ and", "liquidity", "truncated"),
    ("The ratio the ratio the ratio the ratio the ratio the ratio the ratio the ratio the ratio.", "liquidity",
     "repeated"),
    ("The ratio was ⟨current_ratio⟩. The ratio was ⟨current_ratio⟩.", "liquidity", "repeated"),
    ("Our quarterly newsletter covers many interesting topics.", "liquidity", "off-topic"),
    ("EBITDA was ⟨ebitda⟩.", "liquidity", "slot ⟨ebitda⟩ is not a fact of this question"),
    ("The current ratio was ⟨current_ratio⟩. Current assets cover current liabilities at least twice.",
     "liquidity", "claims a flag the reasoner did not infer: strong liquidity"),
    ("Collection took ⟨current_ratio⟩, the same as ⟨current_ratio⟩.", "liquidity",
     "repeated: ⟨current_ratio⟩ 2 times in one sentence"),
    ("Revenue was ⟨revenue⟩, down ⟨revenue_growth_yoy_abs⟩ on a year earlier.", "revenue_trend",
     "'down' contradicts the change of revenue_growth_yoy_abs"),
    # every number a fact of the prompt, but named as another: the words must name the figure they lead
    ("The quick ratio was ⟨cash_ratio⟩.", "liquidity", "'quick ratio' names the figure of cash_ratio"),
    ("The quick ratio was 0.07x.", "liquidity", "'quick ratio' names the figure of cash_ratio"),
    ("Working capital was ⟨current_ratio⟩.", "liquidity", "'working capital' names the figure of current_ratio"),
    # a move runs from the year-earlier figure to the current one, whatever its direction
    ("The current ratio fell from ⟨current_ratio⟩.", "liquidity",
     "'from ⟨current_ratio⟩': a move starts from the year-earlier figure, ⟨current_ratio_prior⟩"),
    ("The current ratio fell from ⟨current_ratio⟩ to ⟨current_ratio_prior⟩.", "liquidity", "'from ⟨current_ratio⟩'"),
    ("The current ratio fell to ⟨current_ratio_prior⟩.", "liquidity",
     "'to ⟨current_ratio_prior⟩': a move ends at the current figure, ⟨current_ratio⟩"),
])
def test_false_answers_fail_with_the_reason(text: str, question: str, reason: str) -> None:
    ok, why = check(text, question)
    assert not ok
    assert why.startswith(reason), why


def test_the_risk_answer_with_exactly_the_inferred_flags_passes() -> None:
    text = ("The reasoner raised 2 risk flags: high leverage, liquidity concern. High leverage: debt to equity "
            "⟨debt_to_equity⟩, above ⟨debt_to_equity_min_threshold⟩. Liquidity concern: current ratio 0.41x, "
            "below 1.00x.")
    assert check(text, "risk_flags") == (True, "5 figures checked against the facts")


def test_slots_are_filled_with_the_report_format() -> None:
    facts = prompt_facts(Q["liquidity"], CTX)
    assert fill("⟨current_ratio⟩ from ⟨current_ratio_prior⟩; ⟨working_capital⟩", facts, "USD") == \
        "0.41x from 0.80x; -$300.0m"


def test_numbers_are_read_with_kind_scale_and_rounding() -> None:
    found = {(n.text.strip(), n.kind, round(n.value, 6), float(f"{n.tolerance:.6g}"))
             for n in figures("Revenue $1.2 billion (FY2025, Q3), margin 25.3%, 0.88x, 1,234.5 and (12.0%) "
                               "filed 2024-05-09 in facts.csv:5284")}
    assert found == {("$1.2 billion", "currency", 1.2e9, 0.05e9), ("25.3%", "percent", 0.253, 0.0005),
                     ("0.88x", "multiple", 0.88, 0.005), ("1,234.5", "plain", 1234.5, 0.05),
                     ("(12.0%)", "percent", -0.12, 0.0005)}


def test_every_reference_answer_of_the_sample_verifies(sample_run: Any) -> None:
    """Every question each company is asked, the market's too, at the last close against the index."""
    run = sample_run
    failures = []
    for entity in run.entities:
        findings = finding_records(run.findings.filter(pl.col("entity_id") == entity))
        ctx = context(run.analysis, run.graph, findings, entity, market=run.market)
        assert ctx.as_of is not None
        for question in [q for q in catalogue() if asked(q, ctx)]:
            answer = ReferenceNarrator().answer(question, ctx)
            verdict = verify(answer.text, question, ctx, LABELS)
            if not verdict.ok:
                failures.append((entity, question.id, verdict.reason))
    assert failures == []


PEERS = Context(
    entity_id="NOVA", company="Nova Cloud Systems Inc.", sector="Technology", currency="USD", fiscal_year=2025,
    fiscal_period="FY", metrics={"net_margin": 0.12, "revenue_growth_yoy": 0.08}, prior={}, flags=[],
    peers={"CHIP": {"net_margin": 0.05, "revenue_growth_yoy": 0.02}},
)


@pytest.mark.parametrize(("text", "ok"), [
    ("Among ⟨sector_companies⟩ companies in ⟨sector⟩, its net margin of ⟨net_margin⟩ ranks ⟨net_margin_rank⟩.", True),
    ("Among ⟨sector_companies⟩ companies in Technology, its net margin of ⟨net_margin⟩ ranks ⟨net_margin_rank⟩.",
     True),
    # the sample's model answers: every figure true, the sector another company's
    ("Among ⟨sector_companies⟩ companies in Healthcare, its net margin of ⟨net_margin⟩ ranks ⟨net_margin_rank⟩.",
     False),
    ("Against its Energy peers (⟨sector_companies⟩ companies in all), it ranks ⟨net_margin_rank⟩ on net margin.",
     False),
    ("In FY2025 its net margin of ⟨net_margin⟩ ranks ⟨net_margin_rank⟩ of ⟨sector_companies⟩.", True),
    ("In FY2023 its net margin of ⟨net_margin⟩ ranks ⟨net_margin_rank⟩ of ⟨sector_companies⟩.", False),
    ("In 2019 its net margin of ⟨net_margin⟩ ranks ⟨net_margin_rank⟩ of ⟨sector_companies⟩.", False),
])
def test_a_sector_or_period_the_answer_names_is_the_company_s_own(text: str, ok: bool) -> None:
    verdict = verify(text, Q["peer_position"], PEERS, LABELS)
    assert verdict.ok is ok, verdict.reason
    if not ok:
        assert verdict.reason.startswith(("names the sector", "names the period"))


def test_the_peer_prompt_gives_the_sector_as_a_slot() -> None:
    facts = prompt_facts(Q["peer_position"], PEERS)
    assert facts["sector"].display("USD") == "Technology"
    assert fill("Among ⟨sector_companies⟩ companies in ⟨sector⟩.", facts, "USD") == "Among 2 companies in Technology."


MOVES = Context(
    entity_id="NOVA", company="Nova Cloud Systems Inc.", sector="Technology", currency="USD", fiscal_year=2025,
    fiscal_period="FY",
    metrics={"revenue": 2.0e9, "net_income": 300e6, "operating_cash_flow": 2.81e9, "total_debt": 3.84e9,
             "total_equity": 5.0e9, "cash": 900e6},
    prior={"revenue": 1.6e9, "net_income": 200e6, "operating_cash_flow": 2.79e9, "total_debt": 3.76e9,
           "total_equity": 4.9e9, "cash": 1.0e9},
    flags=[],
)


@pytest.mark.parametrize(("text", "ok"), [
    ("Net income rose from ⟨net_income_prior⟩ to ⟨net_income⟩; revenue rose from ⟨revenue_prior⟩ to ⟨revenue⟩.",
     True),
    # both read $2.8bn and $3.8bn: the "largest moves" that did not move
    ("Operating cash flow rose from ⟨operating_cash_flow_prior⟩ to ⟨operating_cash_flow⟩.", False),
    ("Total debt rose from ⟨total_debt_prior⟩ to ⟨total_debt⟩.", False),
    ("Total debt was unchanged at ⟨total_debt⟩.", True),
    ("The largest moves on a year earlier, by relative change: net income rose from ⟨net_income_prior⟩ to "
     "⟨net_income⟩; revenue rose from ⟨revenue_prior⟩ to ⟨revenue⟩.", True),
    # a beam named smaller moves under the heading
    ("The largest moves on a year earlier: cash fell from ⟨cash_prior⟩ to ⟨cash⟩; total equity rose from "
     "⟨total_equity_prior⟩ to ⟨total_equity⟩.", False),
])
def test_moves_are_stated_as_the_report_shows_them_and_largest_means_largest(text: str, ok: bool) -> None:
    verdict = verify(text, Q["what_changed"], MOVES, LABELS)
    assert verdict.ok is ok, verdict.reason


def test_the_reference_answer_leaves_out_moves_smaller_than_the_rounding() -> None:
    text = ReferenceNarrator().answer(Q["what_changed"], MOVES).text
    assert text == ("The largest moves on a year earlier, by relative change: net income rose from $200.0m to "
                    "$300.0m; revenue rose from $1.6bn to $2.0bn; cash fell from $1.0bn to $900.0m.")


def test_a_loss_is_not_said_to_be_kept() -> None:
    """The shipped model wrote 'It kept -63.6% of revenue as net income' for the loss-making sample company."""
    loss = Context(entity_id="VOLT", company="Voltaris Motors Inc.", sector="Industrials", currency="USD",
                   fiscal_year=2025, fiscal_period="FY", metrics={"revenue": 682.5e6, "net_margin": -0.636}, prior={},
                   flags=[])
    assert not verify("It kept ⟨net_margin⟩ of revenue as net income.", Q["profitability"], loss, LABELS).ok
    assert verify("It made a loss: its net margin was ⟨net_margin⟩.", Q["profitability"], loss, LABELS).ok
    profit = replace(loss, metrics={"revenue": 682.5e6, "net_margin": 0.12})
    assert verify("It kept ⟨net_margin⟩ of revenue as net income.", Q["profitability"], profit, LABELS).ok


def test_an_answer_about_another_question_is_off_topic() -> None:
    """A bank has no liquidity ratios; the model's liquidity answer was the data-quality one, and it passed."""
    bank = replace(CTX, metrics={"revenue": 3.6e9}, prior={}, flags=[])
    verdict = verify("The statements passed every accounting check.", Q["liquidity"], bank, LABELS)
    assert not verdict.ok and verdict.reason.startswith("off-topic")
    assert verify("Liquidity ratios cannot be computed for ⟨period⟩.", Q["liquidity"], bank, LABELS).ok


RESTATED = replace(CTX, metrics={}, prior={}, flags=[], findings=[{
    "entity_id": "VOLT", "fiscal_year": 2020, "fiscal_period": "FY", "check": "restatement", "severity": "info",
    "message": "current_liabilities restated from 217,395 (filed 2021-05-24, 0001213900-21-028778/us-gaap:"
               "LiabilitiesCurrent) to 48,419,000 (filed 2021-11-15, 0001193125-21-330184/us-gaap:LiabilitiesCurrent)",
    "facts": {"original_value": 217395.0, "restated_value": 48419000.0}}])


def test_a_finding_s_own_words_are_data_and_a_figure_beside_them_is_still_checked() -> None:
    """A real filer's restatement names its filings by accession number: the shipped model's answer and even
    the reference answer failed on "0001213900 is not a figure of the facts given"."""
    question = Q["restatements"]
    assert verify("⟨finding_count⟩ figure was restated: ⟨finding0_period⟩: ⟨finding0⟩.", question, RESTATED,
                  LABELS).ok
    assert verify("⟨finding_count⟩ figure was restated: ⟨finding0_period⟩: ⟨finding0⟩ (from ⟨finding0_original_value⟩)."
                  , question, RESTATED, LABELS).ok
    verdict = verify("⟨finding_count⟩ figure was restated: ⟨finding0⟩, by 48,201,605.", question, RESTATED, LABELS)
    assert not verdict.ok and verdict.reason.startswith("48,201,605 is not a figure")
    reference = ReferenceNarrator().answer(question, RESTATED).text
    assert "0001213900-21-028778" in reference
    assert delexicalise(reference, question, RESTATED, prompt_facts(question, RESTATED), LABELS) == \
        "⟨finding_count⟩ figure was restated: ⟨finding0_period⟩: ⟨finding0⟩."


def test_with_facts_missing_the_reference_answer_still_says_what_there_is_and_verifies() -> None:
    """Real filers: no sector peers, no debt-to-equity. The reference answers said only what was missing, used
    none of the question's facts, and failed the verifier, so the model had nothing to learn for them."""
    alone = replace(PEERS, peers={}, sector=None)
    peers = ReferenceNarrator().answer(Q["peer_position"], alone).text
    assert peers == "No sector peers are in this run to compare with; on its own, its net margin was 12.0% and its " \
        "revenue growth 8.0%."
    assert verify(peers, Q["peer_position"], alone, LABELS).ok
    unlevered = replace(CTX, metrics={"total_debt": 120e6, "interest_coverage": -3.5}, prior={}, flags=[])
    leverage = ReferenceNarrator().answer(Q["leverage"], unlevered).text
    assert "Total debt stood at $120.0m" in leverage and "(coverage of -3.50x)" in leverage
    assert verify(leverage, Q["leverage"], unlevered, LABELS).ok


@pytest.mark.parametrize(("text", "why"), [
    # the beam answer: a move with no verb to move it, before a true clause
    ("The largest moves on a year earlier to ⟨revenue⟩; revenue rose from ⟨revenue_prior⟩ to ⟨revenue⟩.",
     "a figure moves to or from with no verb"),
    # the shipped model on real filers
    ("Altman Z'' distress zone, cash burn (up ⟨period⟩: the revenue rose.", "unbalanced parentheses"),
    ("Among  companies, its revenue of ⟨revenue⟩ ranks  of ⟨revenue⟩.", "a gap where words are missing"),
    ("Revenue was ⟨revenue⟩ . It rose.", "a gap where words are missing"),
    ("Revenue was ⟨revenue⟩. rose from ⟨revenue_prior⟩.", "it starts in lower case"),
    ("Revenue rose from ⟨revenue_prior⟩ to ⟨revenue⟩ in the.", "it ends mid-phrase"),
    # what beams and samples of the shipped model wrote for real filers, every figure a fact
    ("⟨revenue⟩ Piotroski- ⟨revenue⟩ revenue: ⟨revenue⟩ zone.", "a word broken off"),
    ("⟨revenue⟩ zone: ⟨revenue⟩ zone: ⟨revenue⟩ revenue.", "one heading after another"),
    ("Revenue rose from ⟨revenue_prior⟩ to ⟨revenue⟩; revenue rose from ⟨revenue_prior⟩ to ⟨revenue⟩.",
     "the same words twice"),
    ("Revenue made a loss, a loss, a revenue of ⟨revenue⟩.", "the same words twice"),
    ("Revenue: ⟨revenue⟩ rank: ⟨revenue⟩ in revenue.", "one heading after another"),
    ("Revenue was ⟨revenue⟩. In ⟨revenue⟩.", "no word of its own"),
])
def test_every_sentence_is_a_sentence(text: str, why: str) -> None:
    verdict = verify(text, Q["revenue_trend"], CTX, LABELS)
    assert not verdict.ok and verdict.reason.startswith(f"not a sentence ({why})")


@pytest.mark.parametrize("text", [
    "The largest moves on a year earlier, by relative change: revenue ⟨revenue_prior⟩ to ⟨revenue⟩.",
    "Revenue came to ⟨revenue⟩, up from ⟨revenue_prior⟩.",
    "Revenue was ⟨revenue⟩; there is nothing a year earlier to compare with.",
    "Revenue rose ⟨revenue_growth_yoy⟩ to ⟨revenue⟩ (from ⟨revenue_prior⟩).",
])
def test_list_headings_short_forms_and_asides_are_sentences(text: str) -> None:
    verdict = verify(text, Q["revenue_trend"], CTX, LABELS)
    assert verdict.ok, verdict.reason


SHARE = replace(
    CTX, metrics={"return_1y": -0.155, "relative_return_1y": -0.269, "volatility_1y": 0.585,
                  "max_drawdown_1y": -0.483, "beta_1y": 1.58, "market_cap": 544e6, "pe_ttm": 25.1,
                  "pe_ttm_sector_median": 18.0, "pb": 0.9, "pb_sector_median": 1.2},
    flags=[], as_of="2026-11-27", benchmark="SMPLX")


@pytest.mark.parametrize(("text", "question", "ok"), [
    ("Over the year to ⟨as_of⟩ the share fell ⟨return_1y_abs⟩, behind ⟨benchmark⟩ by ⟨relative_return_1y_abs⟩.",
     "market_performance", True),
    ("Over the year to ⟨as_of⟩ the share fell ⟨return_1y_abs⟩, ahead of ⟨benchmark⟩ by ⟨relative_return_1y_abs⟩.",
     "market_performance", False),  # it trailed the index
    ("Over the year to ⟨as_of⟩ the share rose ⟨return_1y_abs⟩.", "market_performance", False),  # it fell
    ("It outperformed ⟨benchmark⟩, returning ⟨return_1y⟩.", "market_performance", False),  # by how much: unchecked
    ("It underperformed ⟨benchmark⟩ by ⟨relative_return_1y_abs⟩, returning ⟨return_1y⟩ in the year to ⟨as_of⟩.",
     "market_performance", True),
    ("The share returned ⟨return_1y⟩ in the year to 28 November 2026.", "market_performance", False),  # a date of
    # its own: only the data's date, as a slot
    ("Its P/E of ⟨pe_ttm⟩ is at a premium to the sector median of ⟨pe_ttm_sector_median⟩.", "valuation", True),
    ("Its P/E of ⟨pe_ttm⟩ is at a discount to the sector median of ⟨pe_ttm_sector_median⟩.", "valuation", False),
    ("Price to book of ⟨pb⟩ is above the sector's ⟨pb_sector_median⟩.", "valuation", False),
    ("On book value it is cheaper than its sector, at ⟨pb⟩ against ⟨pb_sector_median⟩.", "valuation", True),
    ("It is cheaper than its sector.", "valuation", False),  # against what: unchecked
    # a model's answer that had passed: a benchmark as what the share returned, a drawdown as its volatility, a
    # threshold as the company's own figure
    ("The share returned ⟨benchmark⟩ by ⟨relative_return_1y_abs⟩ over the year to ⟨as_of⟩.", "market_performance",
     False),
    ("Its beta was ⟨beta_1y⟩ on a volatility of ⟨max_drawdown_1y⟩.", "market_performance", False),
    ("Its beta was ⟨beta_1y⟩ on a volatility of ⟨volatility_1y⟩.", "market_performance", True),
    ("The deepest drawdown was ⟨max_drawdown_1y⟩ to ⟨as_of⟩.", "market_performance", True),
    ("Its P/E was ⟨pe_ttm⟩ against a sector median of ⟨pe_ttm_sector_median⟩.", "valuation", True),
    ("Its P/B was ⟨pe_ttm⟩.", "valuation", False),
])
def test_market_words_agree_with_the_relative_return_and_the_sector_median(text: str, question: str,
                                                                             ok: bool) -> None:
    verdict = verify(text, Q[question], SHARE, LABELS)
    assert verdict.ok is ok, verdict.reason


def test_a_threshold_is_a_bound_and_a_figure_is_not_above_itself() -> None:
    negative = flag("NegativeEarningsYield", "negative earnings yield", "earnings_yield", -0.79, "<", 0.0) | {
        "fiscal_year": 2026, "fiscal_period": MARKET}
    negative["conditions"][0]["period"] = "at the last close"  # type: ignore[index]
    share = replace(SHARE, metrics=SHARE.metrics | {"earnings_yield": -0.79}, flags=[negative])
    ok = "Negative earnings yield: earnings yield ⟨earnings_yield⟩, below ⟨earnings_yield_max_threshold⟩."
    assert verify(ok, Q["valuation"], share, LABELS).ok
    wrong = "Negative earnings yield: earnings yield ⟨earnings_yield_max_threshold⟩."
    assert "stands where its words do not lead to it" in verify(wrong, Q["valuation"], share, LABELS).reason
    itself = "The deepest drawdown was ⟨max_drawdown_1y⟩, below ⟨max_drawdown_1y_abs⟩ in size."
    assert not verify(itself.replace("_abs⟩ in size", "⟩"), Q["market_performance"], SHARE, LABELS).ok


BOOK = Context(
    entity_id="BOOK", company="High-conviction growth", sector=None, currency="USD", fiscal_year=2026,
    fiscal_period=PORTFOLIO,
    metrics={"market_value": 1.0e6, "holdings_count": 4.0, "top_1": 0.4, "top_5": 1.0, "effective_holdings": 3.51,
             "largest_sector_weight": 0.65, "liquidity_concern_share": 0.25, "high_leverage_share": 0.0,
             "deep_drawdown_share": 0.65, "volatility_1y": 0.321, "max_drawdown_1y": -0.301},
    prior={},
    flags=[{"flag": "ConcentratedPortfolio", "label": "concentrated portfolio", "severity": "watch",
            "fiscal_year": 2026, "fiscal_period": PORTFOLIO,
            "conditions": [{"metric": "holding_weight", "value": 0.4, "period": "ACME", "ttm": False,
                            "bounds": [[">", 0.1]]}]}],
    as_of="2026-11-27", benchmark="SMPLX",
    names={"largest_holding": "Acme Robotics Inc.", "top_sector": "Industrials"},
    holdings=("ACME", "Acme Robotics Inc.", "VOLT", "Voltaris Motors"),
    carried=("deep drawdown", "liquidity concern"),
)


def test_portfolio_questions_are_asked_of_portfolios_alone() -> None:
    assert [q.id for q in catalogue() if asked(q, BOOK)] == ["portfolio_holdings", "portfolio_risk",
                                                             "portfolio_flags"]
    assert not any(asked(q, CTX) for q in catalogue() if q.portfolio)


@pytest.mark.parametrize(("text", "problem"), [
    ("The largest holding, ⟨largest_holding⟩, was ⟨top_1⟩ of the value of ⟨market_value⟩. Concentrated portfolio: "
     "a holding's weight ⟨top_1⟩, above ⟨holding_weight_min_threshold⟩.", None),
    ("Acme Robotics Inc. was ⟨top_1⟩ of the value. The reasoner calls it a concentrated portfolio.", None),
    ("Voltaris Motors was ⟨top_1⟩ of the value. It is a concentrated portfolio.",
     "names the holding 'Voltaris Motors' outside the slots"),
    ("VOLT was ⟨top_1⟩ of the value, a concentrated portfolio.", "names the holding 'VOLT'"),
    ("Technology was its largest sector, at ⟨largest_sector_weight⟩: a concentrated portfolio.",
     "names the sector 'Technology'"),
    ("The effective number of holdings was ⟨top_1⟩: a concentrated portfolio.",
     "'effective number of holdings' names the figure of top_1"),
    ("Its market value was ⟨market_value⟩ in ⟨holdings_count⟩ holdings; a concentrated portfolio.", None),
])
def test_a_portfolio_answer_names_holdings_and_figures_through_the_data(text: str, problem: str | None) -> None:
    verdict = verify(text, Q["portfolio_holdings"], BOOK, LABELS)
    assert verdict.ok is (problem is None), verdict.reason
    assert problem is None or problem in verdict.reason


@pytest.mark.parametrize(("text", "problem"), [
    ("The reasoner classified the portfolio a concentrated portfolio. ⟨liquidity_concern_share⟩ of its value is in "
     "holdings with a liquidity concern; ⟨deep_drawdown_share⟩ is in shares in a deep drawdown.", None),
    ("A concentrated portfolio. ⟨liquidity_concern_share⟩ of its value has high leverage.",
     "names a flag the reasoner did not infer: high leverage"),
    ("A concentrated portfolio and a liquidity risk exposure.",
     "names a flag the reasoner did not infer: liquidity risk exposure"),
    ("A concentrated portfolio. The deep drawdown share was ⟨liquidity_concern_share⟩.",
     "'share in deep drawdown' names the figure of liquidity_concern_share"),
])
def test_a_portfolio_answer_names_only_the_flags_it_and_its_holdings_carry(text: str, problem: str | None) -> None:
    verdict = verify(text, Q["portfolio_flags"], BOOK, LABELS)
    assert verdict.ok is (problem is None), verdict.reason
    assert problem is None or problem in verdict.reason
