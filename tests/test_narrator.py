"""The question catalogue and the reference narrator: analyst sentences whose every number is a fact."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2.exceptions
import pytest

from generator import present
from generator.answers import narrate, report_period
from generator.metrics import definition
from generator.narrator import LISTED_FINDINGS, Context, Question, ReferenceNarrator, catalogue
from generator.narrator.slots import prompt_facts
from generator.pipeline import build
from generator.sample import ROLES, write_sample


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (394_328_000_000, "currency", "$394.3bn"),
        (-12_400_000, "currency", "-$12.4m"),
        (950, "currency", "$950"),
        (0.2531, "fraction", "25.3%"),
        (-0.0281, "fraction", "-2.8%"),
        (0.87935, "multiple", "0.88x"),
        (41.3, "days", "41 days"),
        (7.0, "score", "7"),
        (2.0776, "score", "2.08"),
        (6.11, "currency_per_share", "$6.11"),
        (None, "fraction", "n/a"),
    ],
)
def test_numbers_are_formatted_for_people(value: float | None, unit: str, shown: str) -> None:
    assert present.by_unit(value, unit) == shown


def test_money_in_other_currencies() -> None:
    assert present.money(1_234_000_000, "EUR") == "€1.2bn"
    assert present.money(5_000_000, "SEK") == "SEK 5.0m"


def test_catalogue_covers_the_analyst_questions() -> None:
    ids = [q.id for q in catalogue()]
    assert len(ids) >= 12 and len(ids) == len(set(ids))
    for needed in ("revenue_trend", "profitability", "liquidity", "leverage", "cash_flow", "efficiency", "returns",
                   "risk_flags", "data_quality", "peer_position", "what_changed", "restatements"):
        assert needed in ids
    for q in catalogue():
        for fact in q.facts:
            definition(fact)  # every declared fact is a registry metric


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("sample")
    write_sample(out)
    return build([out / "long"])


def answers(run: Any, role: str) -> tuple[Context, dict[str, str]]:
    ctx, found = narrate(run.analysis, run.graph, {}, [ROLES[role]])[ROLES[role]]
    return ctx, {a.question_id: a.text for a in found}


def test_loss_maker_answers_read_like_an_analyst(run: Any) -> None:
    ctx, text = answers(run, "loss_maker")
    assert (ctx.fiscal_year, ctx.fiscal_period) == (2025, "FY")
    cr = present.times(ctx.metrics["current_ratio"])
    assert text["liquidity"].startswith(f"The current ratio was {cr} against ")
    assert "severe liquidity concern" in text["liquidity"]
    assert "burning cash" in text["cash_flow"]
    assert "distress zone" in text["solvency_scores"]
    assert text["revenue_trend"] == (f"Revenue was {present.money(ctx.metrics['revenue'])} in FY2025, up "
                                     f"{present.percent(ctx.metrics['revenue_growth_yoy'])} on a year earlier.")


def test_risk_answer_names_exactly_the_inferred_concerns(run: Any) -> None:
    for role in ("loss_maker", "cash_cow"):
        ctx, text = answers(run, role)
        concerns = {f["label"] for f in ctx.flags if f["severity"] == "concern"}
        named = set(re.findall(r": (.*?)\.", text["risk_flags"])[:1][0].split(", ")) if concerns else set()
        assert named == concerns
        if not concerns:
            assert text["risk_flags"] == "The reasoner raised no risk flag for FY2025."


def test_every_number_in_an_answer_is_a_formatted_fact(run: Any) -> None:
    """Reference answers quote numbers only as the formatters print facts of the context."""
    ctx, found = narrate(run.analysis, run.graph, {}, [ROLES["cash_cow"]])[ROLES["cash_cow"]]
    allowed = set()
    for values in (ctx.metrics, ctx.prior, *ctx.peers.values()):
        for name, value in values.items():
            if value is not None:
                unit = definition(name).unit
                allowed |= {present.by_unit(value, unit, ctx.currency), present.by_unit(abs(value), unit)}
    for a in found:
        if a.question_id in ("risk_flags", "restatements", "data_quality", "peer_position"):
            continue
        for number in re.findall(r"-?[$€£¥]?\d+(?:[,.]\d+)*(?:bn|m|k|tn|%|x| days)?", a.text):
            if re.fullmatch(r"20\d\d|9", number):
                continue
            assert number in allowed, (a.question_id, number, a.text)


def test_answers_record_their_facts(run: Any) -> None:
    _, found = narrate(run.analysis, run.graph, {}, [ROLES["cash_cow"]])[ROLES["cash_cow"]]
    liquidity = next(a for a in found if a.question_id == "liquidity").record()
    assert liquidity["origin"] == "reference"
    used = {f["metric"]: f for f in liquidity["facts_used"]}
    assert used["current_ratio"]["display"] in liquidity["text"]
    assert set(liquidity) == {"question_id", "question", "text", "origin", "verification", "facts_used"}


def test_report_period_prefers_the_year_to_its_fourth_quarter(run: Any) -> None:
    assert report_period(run.analysis, ROLES["non_calendar"]) == (2025, "FY")


def test_templates_are_sandboxed() -> None:
    hostile = Question("x", "?", (), (), "{{ m.__class__.__mro__ }}")
    ctx = Context("E", "E", None, "USD", 2024, "FY", {}, {})
    with pytest.raises(jinja2.exceptions.SecurityError):
        ReferenceNarrator().answer(hostile, ctx)


def test_a_company_with_few_facts_still_gets_every_answer() -> None:
    ctx = Context("E", "Sparse Co", None, "USD", 2024, "FY", {"revenue": 10.0, "net_income": 1.0,
                                                                 "net_margin": 0.1}, {})
    found = {q.id: ReferenceNarrator().answer(q, ctx).text for q in catalogue()}
    assert found["profitability"] == "Net margin 10.0%."
    assert "n/a" not in " ".join(found.values())
    assert found["liquidity"] == ("Liquidity cannot be assessed for FY2024: current assets or current liabilities "
                                  "are missing.")


def test_a_quarter_s_returns_are_those_of_the_twelve_months_it_closes() -> None:
    """Walmart's latest period is Q1 FY2027 (to 30 April 2026): returns are annual metrics, so the answer said
    "Returns cannot be computed" although four quarters and the year before exist."""
    real = build([Path(__file__).parent / "fixtures" / "real-filings" / "wmt_companyfacts_trimmed.json"])
    entity = "CIK0000104169"
    assert report_period(real.analysis, entity) == (2027, "Q1")
    _, answers = narrate(real.analysis, real.graph, {}, [entity], ReferenceNarrator(), ["returns"])[entity]
    returns = next(a for a in answers if a.question_id == "returns")
    assert returns.text == ("Over the last twelve months, return on equity was 24.1% (25.5% on average equity); "
                            "return on assets was 8.0%.")
    assert {f["metric"] for f in returns.facts_used} == {"roe_ttm", "roe_avg_ttm", "roa_ttm"}


def test_a_real_filer_s_many_restatements_are_counted_and_the_largest_listed() -> None:
    """Celsius restated dozens of figures over ten years; the answer listed each one and filled a page, and the
    model's prompt ran past its 2,048 positions. Five are listed, the largest change first, and the rest counted."""
    real = build([Path(__file__).parent / "fixtures" / "real-filings" / "celh_companyfacts.json"])
    entity = "CIK0001341766"
    restated = real.ingested.restatements().filter(entity_id=entity).height
    assert restated > LISTED_FINDINGS
    question = next(q for q in catalogue() if q.id == "restatements")
    findings = [f for part in real.entity_findings(entity) for f in part]
    ctx, answers = narrate(real.analysis, real.graph, {entity: findings}, [entity], ReferenceNarrator(),
                           ["restatements"])[entity]
    text = next(a.text for a in answers if a.question_id == "restatements")
    assert text.startswith(f"{restated} figures were restated, the largest changes first: ")
    assert text.endswith(f"And {restated - LISTED_FINDINGS} more, listed under Data quality and restatements.")
    assert text.count(" restated from ") == LISTED_FINDINGS
    facts = prompt_facts(question, ctx)
    assert facts["finding_count"].value == restated
    assert "finding4" in facts and "finding5" not in facts
    assert "FY FY" not in text
