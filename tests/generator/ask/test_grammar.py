"""Constrained decoding: every program of the language with the question's placeholders can be written, and
whatever a constrained decoder writes is such a program."""

from __future__ import annotations

import random
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.ask.grammar import SIGNATURES, Constraint, Prefix, Words
from generator.ask.knowledge import Knowledge, from_run
from generator.ask.program import parse, placeholders
from generator.ask.training import VALIDATION, intents, pairs, renamed, written
from generator.metrics import metric_names

METRICS = tuple(metric_names())
WORDS = Words.of("How many S1 companies had M1 above N1 in Y1, E2 or U1?", METRICS)


@pytest.fixture(scope="module")
def knowledge(sample_run: Any) -> Knowledge:
    return renamed(from_run(sample_run), "eval", random.Random(5))


def test_every_intents_program_can_be_written(knowledge: Knowledge) -> None:
    for of in (intents(), written(), written(VALIDATION)):
        found, _ = pairs(knowledge, random.Random(2), "eval", 1, of)
        for pair in found:
            state = Prefix().feed(" " + pair.program, Words.of(pair.linked.text, METRICS))
            assert state is not None and state.done, (pair.linked.text, pair.program)


@pytest.mark.parametrize("text", [
    " (count (companies) net_income Y1 lt 0))",     # an operation's arguments cut short
    " (count (where (sector U1 M1 Y1 lt 0))",       # a company where a sector goes
    " (value E1 M1 Y1) (value E1 M2 Y1))",          # text after the program
    " (value E3 M1 Y1)",                            # a placeholder the question does not have
    " (rank (entities E2 U1) M1 Y1 asc N1)",        # rank takes no count
    " (average (series E1 M1 (recent N1)) (value E1 M1 Y1))",
    " (compare (companies) M1 Y1)",                 # compare takes named companies
    " (refuse maybe)",
    " (value E1 revenue_growth_forecast Y1)",       # no such metric
])
def test_what_is_no_program_cannot_be_begun(text: str) -> None:
    assert Prefix().feed(text, WORDS) is None


def test_a_program_is_whole_only_when_its_brackets_close() -> None:
    state = Prefix().feed(" (count (where (sector S1) net_income Y1 lt 0)", WORDS)
    assert state is not None and not state.done
    assert state.feed(")", WORDS).done  # type: ignore[union-attr]
    assert state.feed(")", WORDS).feed(" ", WORDS) is None  # type: ignore[union-attr]


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False))
def test_whatever_a_constrained_decoder_writes_is_a_program(rng: random.Random) -> None:
    """A walk that picks any allowed character each step (then, past a length, the shortest way to a whole program)
    ends in a program that parses, types and uses only the question's placeholders (E1 aside: the report's
    company)."""
    alphabet = " ()_" + string.ascii_letters + string.digits
    state, text = Prefix(), ""
    while not state.done and len(text) < 80:
        allowed = [(ch, after) for ch in alphabet if (after := state.feed(ch, WORDS)) is not None]
        assert allowed, text  # a beginning of a program always goes on
        ch, state = rng.choice(allowed)
        text += ch
    program = parse(text + _finish(state))
    assert set(placeholders(program)) <= {"S1", "M1", "N1", "Y1", "E1", "E2", "U1"}


_LEAVES = [")", " ", "(value E1 M1 latest)", "(companies)", "(entities E1)", "(recent N1)",
           "(series E1 M1 (recent N1))", "value E1 M1 latest)", "companies)", "entities E1)", "recent N1)",
           "series E1 M1 (recent N1))", "0", "N1", "Y1", "S1", "E1", "M1", "latest", "lt", "asc", "forecast"]
"""Ways to the end of a program, shortest first."""


def _finish(state: Prefix) -> str:
    """The shortest text found that makes a beginning a whole program: the word being written completed, then
    brackets closed, arguments filled with leaves."""
    words = sorted({*(a for atoms in WORDS.by_kind.values() for a in atoms), *SIGNATURES}, key=len)
    text = ""
    while not state.done:
        rest = [w[len(state.word):] + " " for w in words if state.word and w.startswith(state.word)]
        for option in [*(r[:-1] + ")" for r in rest), *rest, *_LEAVES]:
            if (after := state.feed(option, WORDS)) is not None:
                state, text = after, text + option
                break
        else:
            raise AssertionError(f"no way on from {state}")
    return text


def test_the_tokens_allowed_after_a_beginning() -> None:
    pieces = ["<eos>", " (", "count", " (", "where", "value", " E1", " S1", ")", "))", " latest", " net", "_",
              "income", " lt", " 0", "sector", " Y1", "x", "é"]
    constraint = Constraint(pieces, 0, METRICS)
    allowed = constraint.for_batch(["How many S1 companies made a loss in Y1?"], prompt_length=2)
    prompt = [7, 7]

    def texts(ids: list[int]) -> set[str]:
        return {pieces[i] for i in allowed(0, prompt + ids)}

    assert texts([]) == {" ("}
    assert texts([1]) == {"count", "value", "where", "sector"}
    assert texts([1, 2]) == {" ("}
    assert texts([1, 2, 3, 4, 3, 16, 7, 8, 11, 12, 13, 17, 14]) == {" 0"}
    assert texts([1, 2, 3, 4, 3, 16, 7, 8, 11, 12, 13, 17, 14, 15]) == {")", "))"}
    assert texts([1, 2, 3, 4, 3, 16, 7, 8, 11, 12, 13, 17, 14, 15, 9]) == {"<eos>"}
