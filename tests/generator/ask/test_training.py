"""The translator's corpus and evaluation: questions drawn from every intent are linked as a user's are, their
programs use the linker's placeholders, phrasings are held out, and the evaluation counts what it says it does."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from generator.ask.knowledge import Knowledge, from_run
from generator.ask.program import parse, placeholders
from generator.ask.training import evaluate, examples, held_out, intents, pairs, renamed
from generator.ask.translate import prompt


@pytest.fixture(scope="module")
def knowledge(sample_run: Any) -> Knowledge:
    return renamed(from_run(sample_run), "eval", random.Random(3))


class Gold:
    """A translator that writes the programs the pairs were drawn with, and one that refuses everything."""

    def __init__(self, programs: dict[str, str] | None) -> None:
        self.by_text = programs

    def programs(self, texts: Sequence[str]) -> list[list[str]]:
        return [[self.by_text[t] if self.by_text is not None else "(refuse unsupported)"] for t in texts]


def test_every_intent_has_phrasings_held_out_and_its_program_parses() -> None:
    for intent in intents():
        assert len(intent.phrasings) >= 5, intent.name
        assert any(held_out(i) for i in range(len(intent.phrasings)))
        assert all(p.count("{") == p.count("}") for p in intent.phrasings)


def test_drawn_questions_are_linked_and_their_programs_use_the_linkers_placeholders(knowledge: Knowledge) -> None:
    found, lost = pairs(knowledge, random.Random(0), "eval", 2, held=None)
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
    found, _ = pairs(knowledge, random.Random(1), "eval", 1, held=True)
    perfect = evaluate(Gold({p.linked.text: p.program for p in found}), found, knowledge)
    assert perfect.exact == 1 and perfect.execution == 1
    assert perfect.refusal_precision == 1 and perfect.refusal_recall == 1
    refusing = evaluate(Gold(None), found, knowledge)
    assert refusing.refusal_recall == 1 and refusing.execution < 0.5
    assert 0 < refusing.refusal_precision < 1  # most of the held-out questions are answerable
