"""Linking: every name in a question that comes from data is found in the inputs and replaced by a placeholder;
a name the inputs do not have is kept as unknown, so the answer can say which."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from generator.ask.knowledge import PERIODS_SCHEMA, VALUES_SCHEMA, Company, Knowledge, figures, from_run
from generator.ask.link import Number, Year, link


@pytest.fixture(scope="module")
def knowledge(sample_run: Any) -> Knowledge:
    return from_run(sample_run)


def made(*companies: Company, as_of: date = date(2026, 11, 30)) -> Knowledge:
    """A knowledge of these companies alone, with every figure's name and no values."""
    return Knowledge({c.entity_id: c for c in companies}, pl.DataFrame(schema=VALUES_SCHEMA),
                     pl.DataFrame(schema=PERIODS_SCHEMA), figures(["revenue", "net_income", "net_margin",
                                                                   "free_cash_flow", "debt_to_equity", "rnd_expense"]),
                     as_of, lambda e, m, y: [])


@pytest.mark.parametrize(("question", "text", "bindings"), [
    ("By how much did ACME's free cash flow change since 2023?", "By how much did E1's M1 change since Y1?",
     {"E1": "ACME", "M1": "free_cash_flow", "Y1": Year(2023, "fiscal", "2023")}),
    ("What was Acme's FCF in FY22?", "What was E1's M1 in Y1?",
     {"E1": "ACME", "M1": "free_cash_flow", "Y1": Year(2022, "fiscal", "FY22")}),
    ("What was Carewell Health's debt to equity in fiscal year 2025?", "What was E1's M1 in Y1?",
     {"E1": "CARE", "M1": "debt_to_equity", "Y1": Year(2025, "fiscal", "fiscal year 2025")}),
    ("Compare the net margins of KOLA and Carewell Health Systems Inc. over three years.",
     "Compare the M1 of E1 and E2 over N1 years.",
     {"M1": "net_margin", "E1": "KOLA", "E2": "CARE", "N1": Number(3, "count", "three")}),
    ("Which industrials were loss-making in calendar 2024?", "Which S1 were F1 in Y1?",
     {"S1": "Industrials", "F1": "LossMaking", "Y1": Year(2024, "calendar", "calendar 2024")}),
    ("How many tech companies had a net margin above 10% last year?", "How many S1 had a M1 above N1 Y1?",
     {"S1": "Technology", "M1": "net_margin", "N1": Number(0.1, "fraction", "10%"),
      "Y1": Year(2025, "relative", "last year")}),
    ("Which companies had revenue above $1.5bn in FY'24?", "Which companies had M1 above N1 in Y1?",
     {"M1": "revenue", "N1": Number(1.5e9, "currency", "$1.5bn"), "Y1": Year(2024, "fiscal", "FY'24")}),
    ("What was Tesla's revenue in 2024?", "What was U1's M1 in Y1?",
     {"U1": "Tesla", "M1": "revenue", "Y1": Year(2024, "fiscal", "2024")}),
    ("what was nova cloud's R&D in 2025?", "what was E1's M1 in Y1?",
     {"E1": "NOVA", "M1": "rnd_expense", "Y1": Year(2025, "fiscal", "2025")}),
    ("Which firms had revenue above $5 during FY2024?", "Which firms had M1 above N1 during Y1?",
     {"M1": "revenue", "N1": Number(5, "currency", "$5"), "Y1": Year(2024, "fiscal", "FY2024")}),
    ("ACME or KOLA: which one's revenue was lower over one year?", "E1 or E2: which one's M1 was lower over N1 year?",
     {"E1": "ACME", "E2": "KOLA", "M1": "revenue", "N1": Number(1, "count", "one")}),
])
def test_names_from_data_become_placeholders(knowledge: Knowledge, question: str, text: str,
                                             bindings: dict[str, Any]) -> None:
    linked = link(question, knowledge)
    assert linked.text == text
    assert linked.bindings == bindings


def test_the_same_company_named_twice_is_one_placeholder(knowledge: Knowledge) -> None:
    linked = link("Did ACME or Acme Robotics Inc. have more revenue in 2024?", knowledge)
    assert linked.bindings["E1"] == "ACME"
    assert "E2" not in linked.bindings


@pytest.mark.parametrize(("question", "entity"), [
    ("What was J&J's revenue in 2024?", "CIK0000200406"),
    ("What was Johnson and Johnson's revenue in 2024?", "CIK0000200406"),
    ("What was the revenue of CIK 200406 in 2024?", "CIK0000200406"),
    ("What was 0000200406's revenue in 2024?", "CIK0000200406"),
    ("What was Walmart's revenue in fiscal 2024?", "CIK0000104169"),
    ("What was WMT's revenue in fiscal 2024?", "CIK0000104169"),
    ("What was Coca-Cola's revenue in 2024?", "CIK0000021344"),
    ("What was JPMorgan Chase's net income in 2024?", "CIK0000019617"),
])
def test_real_companies_by_name_short_name_ticker_or_cik(question: str, entity: str) -> None:
    knowledge = made(Company("CIK0000200406", "JOHNSON & JOHNSON"), Company("CIK0000104169", "WALMART INC.",
                                                                            ticker="WMT"),
                     Company("CIK0000021344", "The Coca-Cola Company"), Company("CIK0000019617",
                                                                               "JPMorgan Chase & Co."))
    assert link(question, knowledge).bindings["E1"] == entity


def test_a_one_word_name_is_a_name_only_when_written_as_one() -> None:
    knowledge = made(Company("PRIME", "Prime Holdings Inc."))
    assert link("What was Prime's revenue in 2024?", knowledge).bindings["E1"] == "PRIME"
    assert "E1" not in link("What was the prime revenue figure in 2024?", knowledge).bindings


def test_question_words_are_not_unknown_companies(knowledge: Knowledge) -> None:
    linked = link("Which Company had the highest revenue in 2025? Compare ACME.", knowledge)
    assert not [p for p in linked.bindings if p.startswith("U")]
