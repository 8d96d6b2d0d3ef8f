"""The question catalogue and the reference narrator: analyst sentences whose every number is a fact."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2.exceptions
import pytest

from generator import present
from generator.answers import contexts as entity_contexts
from generator.answers import narrate
from generator.metrics import definition
from generator.narrator import LISTED_FINDINGS, Context, Question, ReferenceNarrator, asked, catalogue
from generator.narrator.slots import prompt_facts
from generator.pipeline import build, contexts
from generator.present import MARKET
from generator.sample import ROLES


def test_catalogue_covers_the_analyst_questions() -> None:
    ids = [q.id for q in catalogue()]
    assert len(ids) >= 12 and len(ids) == len(set(ids))
    for needed in ("revenue_trend", "profitability", "liquidity", "leverage", "cash_flow", "efficiency", "returns",
                   "risk_flags", "data_quality", "peer_position", "what_changed", "restatements"):
        assert needed in ids
    for q in catalogue():
        for fact in q.facts:
            definition(fact)  # every declared fact is a registry metric


def answers(run: Any, role: str) -> tuple[Context, dict[str, str]]:
    ctx, found = narrate(contexts(run, [ROLES[role]]))[ROLES[role]]
    return ctx, {a.question_id: a.text for a in found}


def test_loss_maker_answers_read_like_an_analyst(sample_run: Any) -> None:
    ctx, text = answers(sample_run, "loss_maker")
    assert (ctx.fiscal_year, ctx.fiscal_period) == (2025, "FY")
    cr = present.times(ctx.metrics["current_ratio"])
    assert text["liquidity"].startswith(f"The current ratio was {cr} against ")
    assert "severe liquidity concern" in text["liquidity"]
    assert "burning cash" in text["cash_flow"]
    assert "distress zone" in text["solvency_scores"]
    assert text["revenue_trend"] == (f"Revenue was {present.money(ctx.metrics['revenue'])} in FY2025, up "
                                     f"{present.percent(ctx.metrics['revenue_growth_yoy'])} on a year earlier.")


def test_risk_answer_names_exactly_the_inferred_concerns(sample_run: Any) -> None:
    """The statements' concerns for the period; the share's (a deep drawdown) are the market answer's."""
    for role in ("loss_maker", "cash_cow"):
        ctx, text = answers(sample_run, role)
        concerns = {f["label"] for f in ctx.flags if f["severity"] == "concern" and f["fiscal_period"] != MARKET}
        named = set(re.findall(r": (.*?)\.", text["risk_flags"])[:1][0].split(", ")) if concerns else set()
        assert named == concerns
        if not concerns:
            assert text["risk_flags"] == "The reasoner raised no risk flag for FY2025."
    ctx, text = answers(sample_run, "loss_maker")
    assert {"deep drawdown", "negative earnings yield"} <= {f["label"] for f in ctx.flags if f["fiscal_period"] ==
                                                            MARKET}
    assert "Deep drawdown: one-year maximum drawdown" in text["market_performance"]
    assert "deep drawdown" not in text["risk_flags"] and "Negative earnings yield: " in text["valuation"]


def test_every_number_in_an_answer_is_a_formatted_fact(sample_run: Any) -> None:
    """Reference answers quote numbers only as the formatters print facts of the context (and the date of the
    last close, as the date is printed)."""
    ctx, found = narrate(contexts(sample_run, [ROLES["cash_cow"]]))[ROLES["cash_cow"]]
    allowed = set()
    for values in (ctx.metrics, ctx.prior, *ctx.peers.values()):
        for name, value in values.items():
            if value is not None:
                unit = definition(name).unit
                allowed |= {present.by_unit(value, unit, ctx.currency), present.by_unit(abs(value), unit)}
    for a in found:
        if a.question_id in ("risk_flags", "restatements", "data_quality", "peer_position"):
            continue
        text = a.text.replace(present.day(ctx.as_of), "the last close")
        for number in re.findall(r"-?[$€£¥]?\d+(?:[,.]\d+)*(?:bn|m|k|tn|%|x| days)?", text):
            if re.fullmatch(r"20\d\d|9", number):
                continue
            assert number in allowed, (a.question_id, number, a.text)


def test_answers_record_their_facts(sample_run: Any) -> None:
    _, found = narrate(contexts(sample_run, [ROLES["cash_cow"]]))[ROLES["cash_cow"]]
    liquidity = next(a for a in found if a.question_id == "liquidity").record()
    assert liquidity["origin"] == "reference"
    used = {f["metric"]: f for f in liquidity["facts_used"]}
    assert used["current_ratio"]["display"] in liquidity["text"]
    assert set(liquidity) == {"question_id", "question", "text", "origin", "verification", "facts_used"}


def test_templates_are_sandboxed() -> None:
    hostile = Question("x", "?", (), (), "{{ m.__class__.__mro__ }}")
    ctx = Context("E", "E", None, "USD", 2024, "FY", {}, {})
    with pytest.raises(jinja2.exceptions.SecurityError):
        ReferenceNarrator().answer(hostile, ctx)


def test_a_company_with_few_facts_still_gets_every_answer() -> None:
    """Every question it is asked (no prices: no market question) has an answer with no "n/a" in it; a share with
    a few days of prices and no statements is told why it has no figures."""
    ctx = Context("E", "Sparse Co", None, "USD", 2024, "FY", {"revenue": 10.0, "net_income": 1.0,
                                                                 "net_margin": 0.1}, {})
    found = {q.id: ReferenceNarrator().answer(q, ctx).text for q in catalogue() if asked(q, ctx)}
    assert not any(q.market for q in catalogue() if q.id in found)
    share = Context("S", "S", None, "USD", 2024, MARKET, {}, {}, as_of="2024-06-28")
    market = {q.id: ReferenceNarrator().answer(q, share).text for q in catalogue() if asked(q, share)}
    assert market == {
        "market_performance": "The share does not have a full year of daily prices to the last close on 28 June "
                              "2024, so its one-year return and risk are not measured.",
        "valuation": "No statements are in the inputs, so the share is not valued: its market capitalisation, P/E "
                     "and P/B need the share count, earnings and equity the statements report."}
    assert found["profitability"] == "Net margin 10.0%."
    assert "n/a" not in " ".join(found.values())
    assert found["liquidity"] == ("Liquidity cannot be assessed for FY2024: current assets or current liabilities "
                                  "are missing.")


def test_a_real_filer_s_many_restatements_are_counted_and_the_largest_listed() -> None:
    """Celsius restated dozens of figures over ten years; the answer listed each one and filled a page, and the
    model's prompt ran past its 2,048 positions. Five are listed, the largest change first, and the rest counted."""
    real = build([Path(__file__).resolve().parents[2] / "fixtures" / "real-filings" / "celh_companyfacts.json"])
    entity = "CIK0001341766"
    restated = real.ingested.restatements().filter(entity_id=entity).height
    assert restated > LISTED_FINDINGS
    question = next(q for q in catalogue() if q.id == "restatements")
    findings = [f for part in real.entity_findings(entity) for f in part]
    ctx, answers = narrate(entity_contexts(real.analysis, real.graph, {entity: findings}, [entity]),
                           ReferenceNarrator(), ["restatements"])[entity]
    text = next(a.text for a in answers if a.question_id == "restatements")
    assert text.startswith(f"{restated} figures were restated, the largest changes first: ")
    assert text.endswith(f"And {restated - LISTED_FINDINGS} more, listed under Data quality and restatements.")
    assert text.count(" restated from ") == LISTED_FINDINGS
    facts = prompt_facts(question, ctx)
    assert facts["finding_count"].value == restated
    assert "finding4" in facts and "finding5" not in facts
    assert "FY FY" not in text
