"""Reading CSV text: each refused file names its reason (empty, not UTF-8, NUL bytes, a column twice), each
ragged or broken line is rejected alone, and every row keeps its physical line number.

Every case also checks that nothing is lost: rows_in == accepted + rejected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import InputFileError, MissingColumnsError
from generator.ingest import Ingested, read_file

from builders import HEADER, NCOLS, checked, fact_lines, refusal, reject, rejected, row, write

# --- whole-file refusals --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "   \n\n", "\ufeff"], ids=["zero-bytes", "whitespace", "bom-only"])
def test_empty_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputFileError) as raised:
        read_file(path)
    assert (raised.value.reason, raised.value.line) == ("file is empty", None)
    ingested = checked([path])
    assert rejected(ingested) == [refusal(path, "file is empty")]
    assert ingested.rows_in == 1


def test_non_utf8_bytes_refuse_the_file_naming_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    data = (",".join(HEADER) + "\n" + row(entity_name="Société Générale") + "\n").encode("latin-1")
    path.write_bytes(data)
    line = data.splitlines()[1]
    column = len(line[:line.index(b"\xe9")].decode()) + 1
    reason = f"not UTF-8 text: byte b'\\xe9' at column {column} (Latin-1 or Windows-1252? save the file as UTF-8)"
    with pytest.raises(InputFileError) as raised:
        read_file(path)
    assert (raised.value.reason, raised.value.line) == (reason, 2)
    assert rejected(checked([path])) == [refusal(path, reason, line=2)]


def test_nul_bytes_refuse_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes((",".join(HEADER) + "\n").encode() + b"ACME\x00,x\n")
    assert rejected(checked([path])) == [refusal(path, "contains NUL bytes: not a text CSV file")]


# --- CSV structure: ragged lines, quoted newlines -------------------------------------------------------------------


def test_ragged_line_with_too_many_fields_is_rejected_and_the_others_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "ragged.csv", row(), row(item="net_income") + ",extra,more", row(item="cost_of_revenue"))
    ingested = checked([path])
    assert rejected(ingested) == [
        reject(path, 3, None, f"expected {NCOLS} fields, found {NCOLS + 2}", item="net_income"),
    ]
    assert fact_lines(ingested) == [("revenue", 2), ("cost_of_revenue", 4)]


@pytest.mark.parametrize("short", [row(item="net_income").rsplit(",", 1)[0], "ACME,Acme Corp,2024"],
                         ids=["one-field-short", "three-fields"])
def test_ragged_line_with_too_few_fields_is_rejected(tmp_path: Path, short: str) -> None:
    path = write(tmp_path / "ragged.csv", row(), short, row(item="cost_of_revenue"))
    ingested = checked([path])
    found = short.count(",") + 1
    assert [(r["line"], r["column"], r["reason"]) for r in rejected(ingested)] == [
        (3, None, f"expected {NCOLS} fields, found {found}"),
    ]
    assert fact_lines(ingested) == [("revenue", 2), ("cost_of_revenue", 4)]


def test_quote_inside_an_unquoted_field_is_read_the_same_on_both_csv_paths(tmp_path: Path) -> None:
    lines = [row(item="cost_of_revenue"), row(entity_name="Acme, Inc.").replace(",2024,FY,", ',2024"x,"FY,'),
             row(entity_name="Acme, Inc.", item="net_income")]
    alone = checked([write(tmp_path / "alone.csv", *lines)])
    with_ragged = checked([write(tmp_path / "with_ragged.csv", *lines, row(item="rnd_expense") + ",extra")])

    def upto_line_4(ingested: Ingested) -> tuple[list[tuple[int | None, str | None]], list[tuple[str, int]]]:
        return ([(r["line"], r["reason"]) for r in rejected(ingested) if r["line"] <= 4], fact_lines(ingested))

    assert upto_line_4(alone) == upto_line_4(with_ragged)


@pytest.mark.parametrize("blank", [False, True], ids=["no-blank-line", "with-blank-line"])
def test_quoted_newline_keeps_physical_line_numbers(tmp_path: Path, blank: bool) -> None:
    lines = [row(entity_name="Acme\nCorp"), row(item="net_income", value="x"), *([""] if blank else []),
             row(item="cost_of_revenue")]
    path = write(tmp_path / "multiline.csv", *lines)
    ingested = checked([path])
    last = 6 if blank else 5
    assert rejected(ingested) == [reject(path, 4, "value", "unparseable number 'x'", item="net_income", value="x")]
    assert fact_lines(ingested) == [("revenue", 2), ("cost_of_revenue", last)]
    assert ingested.facts["entity_name"].to_list() == ["Acme Corp", "Acme Corp"]  # a line break in a name is a space
    assert ingested.facts["source"].to_list() == [f"{path}:2", f"{path}:{last}"]


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes("\r\n".join([",".join(HEADER), row(), row(item="net_income", value="x"), ""]).encode())
    ingested = checked([path])
    assert rejected(ingested) == [reject(path, 3, "value", "unparseable number 'x'", item="net_income", value="x")]
    assert fact_lines(ingested) == [("revenue", 2)]


def test_cr_only_line_endings_lose_no_row(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes("\r".join([",".join(HEADER), row(), row(item="net_income", value="x"), ""]).encode())
    ingested = checked([path])
    if ingested.refused:
        assert [e.file for e in ingested.refused] == [str(path)]
    else:
        assert rejected(ingested) == [reject(path, 3, "value", "unparseable number 'x'", item="net_income", value="x")]
        assert fact_lines(ingested) == [("revenue", 2)]


@pytest.mark.parametrize("extra", ["Value", " value", "VALUE "], ids=["case", "leading-space", "upper-trailing-space"])
def test_header_names_differing_only_in_case_or_spaces_refuse_the_file(tmp_path: Path, extra: str) -> None:
    path = write(tmp_path / "dupcols.csv", row() + ",5", header=",".join([*HEADER, extra]))
    ingested = checked([path])
    assert len(ingested.refused) == 1
    assert "'value'" in ingested.refused[0].reason.lower()


def test_empty_and_blank_header_cells_raise_only_project_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.csv", "1,2,3", header=" ,,item")
    ingested = checked([path])
    assert [type(e) for e in ingested.refused] == [MissingColumnsError]
