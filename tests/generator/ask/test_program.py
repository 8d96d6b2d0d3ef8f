"""The query language: programs parse from their text and their JSON to the same typed tree, and a program that is
not one is refused with where it stops making sense."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.ask.program import (
    RANKING,
    REFUSAL,
    SCALAR,
    SET,
    TABLE,
    ProgramError,
    check,
    from_record,
    parse,
    placeholders,
)

EXAMPLES = {
    "(value E1 M1 Y1)": SCALAR,
    "(value E1 net_income latest)": SCALAR,
    "(change E1 M1 Y1 latest)": SCALAR,
    "(pct_change E1 M1 Y1 Y2)": SCALAR,
    "(cagr E1 revenue Y1 Y2)": SCALAR,
    "(divide (value E1 M1 Y1) (value E1 M2 Y1))": SCALAR,
    "(average (series E1 M1 (range Y1 Y2)))": SCALAR,
    "(sum (series E1 M1 (recent N1)))": SCALAR,
    "(average (value E1 M1 Y1) (value E1 M1 Y2))": SCALAR,
    "(count (where (sector S1) net_income Y1 lt 0))": SCALAR,
    "(where (companies) M1 previous ge N1)": SET,
    "(flagged (sector S1) F1 Y1)": SET,
    "(entities E1 E2)": SET,
    "(rank (entities E1 E2) M1 Y1 desc)": RANKING,
    "(top (companies) M1 latest asc)": RANKING,
    "(top (sector S1) M1 Y1 desc N1)": RANKING,
    "(compare (entities E1 E2) M1 (recent N1))": TABLE,
    "(compare (entities U1) M1 Y1)": TABLE,
    "(refuse forecast)": REFUSAL,
}


@pytest.mark.parametrize(("text", "kind"), EXAMPLES.items())
def test_every_operation_parses_types_and_round_trips(text: str, kind: str) -> None:
    program = parse(text)
    assert program.text() == text
    assert check(program) == kind
    assert from_record(program.record()) == program


@pytest.mark.parametrize(("text", "why"), [
    ("", "an empty program"),
    ("value E1 M1 Y1", "in brackets"),
    ("(value E1 M1 Y1", "before its brackets close"),
    ("(value E1 M1 Y1))", "text after the program"),
    ("(value E1 M1)", "value takes a company, a figure and a period"),
    ("(value M1 E1 Y1)", "value takes a company"),
    ("(value E1 M1 2024)", "value takes"),
    ("(add (value E1 M1 Y1))", "add takes two numbers"),
    ("(add (value E1 M1 Y1) (sector S1))", "add takes two numbers"),
    ("(where (companies) M1 Y1 above N1)", "where takes"),
    ("(rank (companies) M1 Y1 up)", "rank takes"),
    ("(average (series E1 M1 Y1))", "series takes a company, a figure and a range"),
    ("(compare (sector S1) M1 Y1)", "compare takes"),
    ("(refuse maybe)", "refuse takes one of forecast, unsupported"),
    ("(predict E1 M1 Y1)", "no operation 'predict'"),
    ("()", "a bracket without an operation"),
])
def test_what_is_not_a_program_is_refused_with_where(text: str, why: str) -> None:
    with pytest.raises(ProgramError, match=why):
        parse(text)


def test_placeholders_in_order_of_first_use() -> None:
    assert placeholders(parse("(subtract (value E2 M1 Y1) (value E1 M1 Y2))")) == ["E2", "M1", "Y1", "E1", "Y2"]


_ATOM = {"E": st.sampled_from(["E1", "E2", "U1"]), "M": st.sampled_from(["M1", "M2", "net_income", "revenue"]),
         "P": st.sampled_from(["Y1", "Y2", "latest", "previous"])}
_SCALAR = st.recursive(
    st.builds(lambda e, m, p: f"(value {e} {m} {p})", _ATOM["E"], _ATOM["M"], _ATOM["P"]),
    lambda inner: st.builds(lambda op, a, b: f"({op} {a} {b})", st.sampled_from(["add", "subtract", "multiply",
                                                                                 "divide"]), inner, inner)
    | st.builds(lambda op, xs: f"({op} {' '.join(xs)})", st.sampled_from(["average", "sum"]),
                st.lists(inner, min_size=2, max_size=3)),
    max_leaves=6)


@settings(max_examples=80, deadline=None)
@given(_SCALAR)
def test_any_arithmetic_program_round_trips_through_text_and_json(text: str) -> None:
    program = parse(text)
    assert check(program) == SCALAR
    assert parse(program.text()) == program == from_record(program.record())


def test_a_set_operation_nests() -> None:
    program = parse("(count (flagged (where (sector S1) M1 Y1 gt N1) F1 Y1))")
    assert check(program) == SCALAR
    assert check(program.args[0]) == SET  # type: ignore[arg-type]
