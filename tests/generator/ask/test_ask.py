"""From a question to its answer: the candidate program that parses and uses the question's names is run; a
question none of them answers is refused with why, and the JSON record holds what ``finreport ask --json``
promises."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from generator.ask import ask, ask_all, choose
from generator.ask.knowledge import Knowledge, from_run
from generator.ask.link import link
from generator.narrator.verify import figures


class Written:
    """A translator that writes the given candidates for every question (the model is tested in test_translate)."""

    def __init__(self, *candidates: str) -> None:
        self.candidates = list(candidates)
        self.seen: list[str] = []

    def programs(self, texts: Sequence[str]) -> list[list[str]]:
        self.seen += texts
        return [list(self.candidates) for _ in texts]


@pytest.fixture(scope="module")
def knowledge(sample_run: Any) -> Knowledge:
    return from_run(sample_run)


def test_the_candidate_that_parses_and_uses_the_questions_names_wins(knowledge: Knowledge) -> None:
    linked = link("What was ACME's revenue in 2024?", knowledge)
    assert choose(["(value E1 M1", "(value E2 M1 Y1)", "(value E1 M1 latest)", "(value E1 M1 Y1)"], linked,
                  None).text() == "(value E1 M1 Y1)"
    assert choose(["(value E1", "nonsense"], linked, None) is None


def test_the_translator_sees_placeholders_never_the_names(knowledge: Knowledge) -> None:
    translator = Written("(value E1 M1 Y1)")
    asked = ask("What was Acme Robotics' free cash flow in FY2024?", knowledge, translator)
    assert translator.seen == ["What was E1' M1 in Y1?"] or translator.seen == ["What was E1's M1 in Y1?"]
    assert asked.entities == ["ACME"] and asked.unit == "currency" and not asked.refused


def test_the_json_record_has_every_field_the_cli_promises(knowledge: Knowledge) -> None:
    record = ask("What was ACME's net margin in 2025?", knowledge, Written("(value E1 M1 Y1)")).record()
    assert {"question", "text", "value", "unit", "entities", "program", "refused", "reason", "sources"} <= set(record)
    assert record["program"] == {"op": "value", "args": ["ACME", "net_margin", "FY2025"]}
    assert record["program_linked"] == "(value E1 M1 Y1)" and record["linked"] == "What was E1's M1 in Y1?"
    assert 0 < record["value"] < 1 and record["unit"] == "fraction"
    assert record["sources"][0]["sources"]


def test_a_question_that_names_no_company_is_about_the_default_one(knowledge: Knowledge) -> None:
    [here, nowhere] = [ask("What was the revenue in 2025?", knowledge, Written("(value E1 M1 Y1)"),
                           default_entity=entity) for entity in ("KOLA", None)]
    assert here.entities == ["KOLA"] and here.value is not None
    assert nowhere.refused and "names no company" in (nowhere.reason or "")


def test_every_refusal_says_why_and_gives_no_number(knowledge: Knowledge) -> None:
    questions = ["What was Tesla's revenue in 2024?", "What was ACME's revenue in 2031?", "Who is ACME's CEO?"]
    answers = ask_all(questions, knowledge, Written("(value E1 M1 Y1)", "(value U1 M1 Y1)", "(refuse unsupported)"))
    for asked in answers:
        assert asked.refused and asked.value is None and asked.reason
        assert asked.text.startswith("This cannot be answered from the inputs: ")
        assert {f.kind for f in figures(asked.text)} <= {"plain"}  # a count of companies at most, no figure
    assert "'Tesla'" in answers[0].reason and "does not forecast" in answers[1].reason
    assert "look-ups" in answers[2].reason


def test_an_unparsable_translation_is_a_refusal(knowledge: Knowledge) -> None:
    asked = ask("What was ACME's revenue in 2024?", knowledge, Written("(value E1", ")"))
    assert asked.refused and "could not be turned into a program" in asked.reason
