"""Answers in words: every figure written is one the program computed or read, and the check catches one that is
not; the program in words says what was computed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from generator.ask import answer
from generator.ask.knowledge import Knowledge, from_run
from generator.ask.link import Linked, Number, Year
from generator.ask.write import Shown, fill, unverified


@pytest.fixture(scope="module")
def knowledge(sample_run: Any) -> Knowledge:
    return from_run(sample_run)


FY = {y: Year(y, "fiscal", str(y)) for y in range(2020, 2027)}
CASES = [
    ("(value E1 M1 Y1)", {"E1": "ACME", "M1": "free_cash_flow", "Y1": FY[2024]},
     r"^Acme Robotics Inc\.'s free cash flow was \$[\d.]+m in FY2024\.$"),
    ("(change E1 M1 Y1 latest)", {"E1": "ACME", "M1": "net_margin", "Y1": FY[2023]},
     r"^Acme Robotics Inc\.'s net margin (rose|fell) by [\d.]+pp, from [\d.]+% in FY2023 to [\d.]+% in FY2025\.$"),
    ("(pct_change E1 M1 Y1 Y2)", {"E1": "VOLT", "M1": "revenue", "Y1": FY[2024], "Y2": FY[2025]},
     r"^Voltaris Motors Inc\.'s revenue (rose|fell) [\d.]+%, from \$[\d.]+m in FY2024 to \$[\d.]+m in FY2025\.$"),
    ("(cagr E1 M1 Y1 Y2)", {"E1": "NOVA", "M1": "revenue", "Y1": FY[2023], "Y2": FY[2025]},
     r"compound annual rate of [\d.]+% from"),
    ("(divide (value E1 M1 Y1) (value E1 M2 Y1))", {"E1": "ACME", "M1": "rnd_expense", "M2": "revenue",
                                                     "Y1": FY[2025]},
     r"^Acme Robotics Inc\.'s R&D expense divided by its revenue in FY2025 was [\d.]+% \(R&D expense \$[\d.]+m; "
     r"revenue \$[\d.]+bn\)\.$"),
    ("(flagged (sector S1) F1 Y1)", {"S1": "Industrials", "F1": "LossMaking", "Y1": FY[2024]},
     r"^\d+ of the \d+ Industrials companies carried the loss-making flag in FY2024: "),
    ("(count (where (sector S1) M1 Y1 gt N1))", {"S1": "Technology", "M1": "net_margin", "Y1": FY[2024],
                                                 "N1": Number(0.1, "fraction", "10%")},
     r"^\d+ of the \d+ Technology companies had net margin above 10\.0% in FY2024"),
    ("(rank (entities E1 E2) M1 Y1 desc)", {"E1": "KOLA", "E2": "CARE", "M1": "net_margin", "Y1": FY[2025]},
     r"^Kola Beverages Co\. had the higher net margin in FY2025: [\d.]+% against [\d.]+% for Carewell"),
    ("(top (companies) M1 latest desc N1)", {"M1": "revenue", "N1": Number(3, "count", "3")},
     r"highest first: 1\. .+; 2\. .+; 3\. .+\. Left out, reporting in another currency: .+ \(JPY\)"),
    ("(compare (entities E1 E2) M1 (recent N1))", {"E1": "KOLA", "E2": "CARE", "M1": "net_margin",
                                                   "N1": Number(3, "count", "three")},
     r"^Net margin: Kola Beverages Co\.: [\d.]+% in FY2023, [\d.]+% in FY2024, [\d.]+% in FY2025; Carewell"),
]


@pytest.mark.parametrize(("program", "bindings", "pattern"), CASES)
def test_each_answer_says_what_was_computed_and_passes_its_check(knowledge: Knowledge, program: str,
                                                                 bindings: dict[str, Any], pattern: str) -> None:
    asked = answer("?", Linked("?", "?", dict(bindings)), [program], knowledge)
    assert not asked.refused, asked.reason
    assert asked.text == asked.text.strip()
    assert __import__("re").search(pattern, asked.text), asked.text
    assert asked.program_words and "⟨" not in asked.program_words and "⟨" not in asked.text


def test_a_set_of_several_currencies_writes_each_figure_in_its_own(knowledge: Knowledge) -> None:
    asked = answer("?", Linked("?", "?", {"Y1": FY[2024]}), ["(where (companies) net_income Y1 gt 0)"], knowledge)
    assert not asked.refused and "Left out" not in asked.text
    listed = [c for c in knowledge.companies.values() if c.name in asked.text]
    assert {c.currency for c in listed} == {"USD", "EUR", "GBP", "JPY"}
    for c in listed:
        symbol = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}[c.currency]
        assert re.search(re.escape(c.name) + " " + re.escape(symbol) + r"[\d.]", asked.text), c.name


def test_the_check_fails_a_figure_no_program_computed(knowledge: Knowledge) -> None:
    slots = {"v1": Shown(0.1234, "fraction"), "v2": Shown(2.5e9, "currency")}
    good = fill("Net margin ⟨v1⟩ on revenue of ⟨v2⟩ in FY2024.", slots, "USD")
    assert good == "Net margin 12.3% on revenue of $2.5bn in FY2024."
    assert unverified(good, slots, set(), knowledge, {2024}) is None
    assert "12.4%" in (unverified(good.replace("12.3%", "12.4%"), slots, set(), knowledge, {2024}) or "")
    assert "2025" in (unverified(good.replace("FY2024", "in 2025"), slots, set(), knowledge, {2024}) or "")
    assert "Kola Beverages" in (unverified(good + " Kola Beverages Co. too.", slots, set(), knowledge, {2024}) or "")
    assert unverified(good + " Kola Beverages Co. too.", slots, {"KOLA"}, knowledge, {2024}) is None
