"""The translator's corpus and evaluation: questions drawn from every intent are linked as a user's are, their
programs use the linker's placeholders, phrasings are held out, and the evaluation counts what it says it does."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

import pytest

from generator.ask import answer
from generator.ask.knowledge import Knowledge, from_run
from generator.ask.link import link
from generator.ask.program import parse, placeholders
from generator.ask.training import (
    HELD_OUT,
    VALIDATION,
    Intent,
    Pair,
    agree,
    denotation,
    evaluate,
    examples,
    intents,
    pairs,
    renamed,
    written,
)
from generator.ask.translate import prompt

ROLE_OF = {"E": "company", "E2": "company2", "M": "figure", "M2": "figure2", "Y": "year", "Y2": "year2", "P": "when",
           "S": "sector", "F": "flag"}
"""The role of a phrasing that fills each role of an intent's program (N: a number or a count)."""
ROLES = {*ROLE_OF.values(), "number", "count"}


@pytest.fixture(scope="module")
def knowledge(sample_run: Any) -> Knowledge:
    return renamed(from_run(sample_run), "eval", random.Random(3))


class Gold:
    """A translator that writes the programs the pairs were drawn with, and one that refuses everything."""

    def __init__(self, programs: dict[str, str] | None) -> None:
        self.by_text = programs

    def programs(self, texts: Sequence[str]) -> list[list[str]]:
        return [[self.by_text[t] if self.by_text is not None else "(refuse unsupported)"] for t in texts]


def test_every_intent_has_phrasings_held_out_written_apart_from_the_trained_ones() -> None:
    def said(of: tuple[Intent, ...]) -> set[str]:
        return {" ".join(p.lower().rstrip("?.! ").split()) for i in of for p in i.phrasings}

    for file in (HELD_OUT, VALIDATION):
        held = {i.name: i for i in written(file)}
        assert len(held) == len(written(file)) == len(intents())
        for intent in intents():
            assert len(intent.phrasings) >= 5, intent.name
            assert held[intent.name].program == intent.program and held[intent.name].implicit == intent.implicit
        assert not said(intents()) & said(written(file))
        assert sum(len(i.phrasings) for i in written(file)) >= 150
    assert not said(written()) & said(written(VALIDATION))
    for intent in (*intents(), *written(), *written(VALIDATION)):
        for phrasing in intent.phrasings:
            assert phrasing.count("{") == phrasing.count("}"), phrasing
            assert set(re.findall(r"\{(\w+)\}", phrasing)) <= ROLES, phrasing
            assert not re.search(r"\s\{when\}", phrasing), phrasing  # {when} brings its own space
            roles = set(re.findall(r"\{(\w+)\}", phrasing))
            needed = {ROLE_OF[r] for r in re.findall(r"\{(\w+)\}", intent.program) if r != "N"}
            assert needed - ({"company"} if intent.implicit else set()) <= roles, phrasing
            assert "{N}" not in intent.program or roles & {"number", "count"}, phrasing
            assert not (intent.implicit and "{company" in phrasing), phrasing


def test_drawn_questions_are_linked_and_their_programs_use_the_linkers_placeholders(knowledge: Knowledge) -> None:
    found, lost = pairs(knowledge, random.Random(0), "eval", 2, intents())
    assert lost < len(found) / 10
    assert {p.intent for p in found} == {i.name for i in intents()}
    for pair in found:
        program = parse(pair.program)
        for name in placeholders(program):
            assert name in pair.linked.bindings or (name == "E1" and pair.default), (pair.question, pair.program)
            assert name in pair.linked.text or (name == "E1" and pair.default)
        assert not any(c.name in pair.linked.text for c in knowledge.companies.values())
    assert examples(found[:1])[0].prompt == prompt(found[0].linked.text)
    assert "E1" in prompt("What was E1's M1?") and "what was" in prompt("What was E1's M1?")


def test_renamed_companies_keep_their_figures(sample_run: Any, knowledge: Knowledge) -> None:
    original = from_run(sample_run)
    assert sorted(original.values["value"].drop_nulls().to_list()) == \
        sorted(knowledge.values["value"].drop_nulls().to_list())
    assert not set(original.companies) & set(knowledge.companies)


def test_the_evaluation_counts_right_and_refused_answers(knowledge: Knowledge) -> None:
    found, _ = pairs(knowledge, random.Random(1), "eval", 1, written())
    perfect = evaluate(Gold({p.linked.text: p.program for p in found}), found, knowledge)
    assert perfect.exact == 1 and perfect.execution == 1
    assert perfect.refusal_precision == 1 and perfect.refusal_recall == 1
    refusing = evaluate(Gold(None), found, knowledge)
    assert refusing.refusal_recall == 1 and refusing.execution < 0.5
    assert 0 < refusing.refusal_precision < 1  # most of the held-out questions are answerable


def test_execution_accuracy_compares_what_answers_denote(knowledge: Knowledge) -> None:
    """A set by the net income's sign and by the reasoner's flag is one answer; the first and the whole ranking are
    not; nor are two figures of different companies."""
    question = "Which companies were loss-making in FY2024?"
    pair = Pair("net loss", 0, question, link(question, knowledge), "(where (companies) net_income Y1 lt 0)", None)

    def meaning(program: str) -> tuple[Any, ...]:
        return denotation(answer(question, pair.linked, [program], knowledge), pair, knowledge)

    by_sign = meaning(pair.program)
    assert by_sign[0] == "set" and by_sign[1]
    assert agree(by_sign, meaning("(flagged (companies) F1 Y1)"))
    assert agree(meaning("(count (flagged (companies) F1 Y1))"),
                 meaning("(count (where (companies) net_income Y1 lt 0))"))
    assert not agree(meaning("(top (companies) net_income Y1 desc)"), meaning("(rank (companies) net_income Y1 desc)"))
    assert not agree(by_sign, meaning("(where (companies) net_income Y1 gt 0)"))
    assert meaning("(refuse forecast)") == ("refused",)
