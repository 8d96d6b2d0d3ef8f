"""The project's own errors: each says what to fix and where, in one line."""

from __future__ import annotations

import pytest

from generator.errors import FinreportError, InputFileError, MissingColumnsError, UsageError, not_utf8


def test_a_refused_file_names_its_line_and_column_when_it_has_them() -> None:
    assert str(InputFileError("in/facts.csv", "file is empty")) == "in/facts.csv: file is empty"
    error = InputFileError("in/facts.csv", "column 'value' appears twice", line=1, column="value")
    assert str(error) == "in/facts.csv:1: column 'value': column 'value' appears twice"
    assert (error.file, error.line, error.column) == ("in/facts.csv", 1, "value")
    assert isinstance(error, FinreportError) and issubclass(UsageError, FinreportError)


def test_missing_columns_name_what_is_missing_and_a_dozen_of_what_was_found() -> None:
    found = [f"c{i}" for i in range(5_000)]
    error = MissingColumnsError("wide.csv", ["entity_id", "item"], found)
    assert error.reason == ("missing required column(s) entity_id, item; found c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, "
                            "c10, c11, … (5,000 columns in all)")
    assert (error.line, error.missing, error.found) == (1, ["entity_id", "item"], found)
    assert MissingColumnsError("x.csv", ["item"], []).reason == "missing required column(s) item; found no columns"
    long_name = MissingColumnsError("x.csv", ["item"], ["n" * 100], hint="a statement table?").reason
    assert long_name == f"missing required column(s) item; found {'n' * 60}… (a statement table?)"


@pytest.mark.parametrize(("data", "line", "column"), [(b"a,b\nc,\xe9t\xe9\n", 2, 3), (b"\xff", 1, 1),
                                                      ("é,\xe9".encode()[:-2] + b"\xe9", 1, 3)])
def test_text_that_is_not_utf8_is_refused_at_its_line_column_and_byte(data: bytes, line: int, column: int) -> None:
    with pytest.raises(UnicodeDecodeError) as raised:
        data.decode("utf-8")
    error = not_utf8("latin1.csv", data, raised.value)
    byte = data[raised.value.start:raised.value.start + 1]
    assert (error.file, error.line) == ("latin1.csv", line)
    assert error.reason == (f"not UTF-8 text: byte {byte!r} at column {column} (Latin-1 or Windows-1252? save the "
                            "file as UTF-8)")
