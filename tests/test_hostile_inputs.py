"""Hostile inputs through the real CLI: one file's or one company's content never ends the run; each bad value
is one rejected row with its reason, and the run's other files and companies are reported."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = "entity_id,entity_name,fiscal_year,fiscal_period,period_start,period_end,item,value,currency,scale"
GOOD = ["ACME,Acme Corp,2024,FY,2024-01-01,2024-12-31,revenue,1000,USD,units",
        "ACME,Acme Corp,2024,FY,2024-01-01,2024-12-31,net_income,100,USD,units"]


def facts(tmp_path: Path, *inputs: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "out"
    args = [a for p in inputs for a in ("--input", str(p))]
    result = subprocess.run([sys.executable, "-m", "flows.cli", "facts", *args, "--out", str(out)], cwd=ROOT,
                            env=os.environ, capture_output=True, text=True, timeout=300, check=False)
    return result, out


def csv_file(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8", newline="")
    return path


def rejected(out: Path) -> list[dict[str, str]]:
    with (out / "rejected.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def good_file(tmp_path: Path) -> Path:
    return csv_file(tmp_path / "good.csv", *[line.replace("ACME", "GOOD").replace("Acme", "Good") for line in GOOD])


def companyfacts(path: Path, cik: object, val: object) -> Path:
    entry = {"start": "2024-01-01", "end": "2024-12-31", "val": val, "accn": "0000000001-25-000001", "fy": 2024,
             "fp": "FY", "form": "10-K", "filed": "2025-02-01"}
    ok = {**entry, "val": 1000, "start": "2023-01-01", "end": "2023-12-31"}
    body = {"cik": cik, "entityName": "Acme", "facts": {"us-gaap": {"Revenues": {"label": "Revenues",
                                                                                  "units": {"USD": [ok, entry]}}}}}
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def test_a_value_that_overflows_once_scaled_is_one_rejected_row(tmp_path: Path) -> None:
    """1e300 in billions ended the run: 'Out of range float values are not JSON compliant', no manifest."""
    path = csv_file(tmp_path / "huge.csv", *GOOD, "ACME,Acme Corp,2024,FY,2024-01-01,2024-12-31,rnd_expense,1e300,"
                                                   "USD,billions")
    result, out = facts(tmp_path, path, good_file(tmp_path))
    assert result.returncode == 0, result.stderr
    assert [(r["line"], r["column"], r["item"], r["reason"]) for r in rejected(out)] == [
        ("4", "value", "rnd_expense", "out of range: '1e300' × 'billions' is no finite number")]
    assert json.loads((out / "manifest.json").read_text())["counts"]["entities"] == 2


def test_a_companyfacts_integer_beyond_any_float_is_one_rejected_row(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "big.json", 1, int("9" * 400))
    result, out = facts(tmp_path, path, good_file(tmp_path))
    assert result.returncode == 0, result.stderr
    (row,) = [r for r in rejected(out) if r["file"].endswith("big.json")]
    assert row["reason"] == "not a finite number: 9999999999999999999999999999999999999999…"
    assert row["column"] == "facts.us-gaap.Revenues.units.USD[1].val"


@pytest.mark.parametrize("cik", ["7" * 5000, 12345678901])
def test_a_cik_of_more_than_ten_digits_refuses_its_file_alone(tmp_path: Path, cik: object) -> None:
    path = companyfacts(tmp_path / "cik.json", cik, 500)
    result, out = facts(tmp_path, path, good_file(tmp_path))
    assert result.returncode == 0, result.stderr
    refused = json.loads((out / "manifest.json").read_text())["refused_files"]
    assert [r["file"] for r in refused] == [str(path)]
    assert "is not a CIK number (at most 10 digits)" in refused[0]["reason"] and len(refused[0]["reason"]) < 120
    assert (out / "GOOD" / "facts.json").exists()


def test_a_line_break_in_a_company_name_is_a_space(tmp_path: Path) -> None:
    """A quoted CR LF in the name broke the graph's Turtle export ('ParserError: Invalid line') for the run."""
    path = csv_file(tmp_path / "name.csv", *[line.replace("Acme Corp", '"Acme\r\nCorp"') for line in GOOD])
    result, out = facts(tmp_path, path, good_file(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Acme Corp" in (out / "ACME" / "graph.ttl").read_text(encoding="utf-8")
    assert json.loads((out / "ACME" / "facts.json").read_text())


def test_a_line_break_in_an_id_rejects_its_rows_and_the_summary_stays_one_line_each(tmp_path: Path) -> None:
    path = csv_file(tmp_path / "id.csv", *[line.replace("ACME,", '"AC\r\nME",', 1) for line in GOOD])
    result, out = facts(tmp_path, path, good_file(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "FAILED AC\\r\\nME (ingest): none of its 2 rows is usable (see rejected.csv)" in result.stdout.splitlines()
    assert [r["entity_id"] for r in rejected(out)] == ["AC\r\nME", "AC\r\nME"]
    assert {r["reason"] for r in rejected(out)} == {
        "entity_id contains a control or invisible character (a line break, tab, zero-width or right-to-left "
        "mark): an id is one line of visible text"}
    assert (out / "GOOD" / "facts.json").exists()


def test_a_quote_never_closed_loses_one_line_not_the_rest_of_the_file(tmp_path: Path) -> None:
    """A quote opened in line 4 and never closed swallowed every line after it ('9 rows read' of 570)."""
    lines = [*GOOD, *(f"ACME,Acme Corp,{year},FY,{year}-01-01,{year}-12-31,revenue,{year},USD,units"
                      for year in range(2000, 2020))]
    lines[2] = lines[2].replace(",USD,", ',"USD,')
    path = csv_file(tmp_path / "quote.csv", *lines)
    result, out = facts(tmp_path, path)
    assert result.returncode == 0, result.stderr
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["rows_in"] == len(lines) == counts["rows_accepted"] + counts["rows_rejected"]
    assert [(r["line"], r["item"], r["reason"]) for r in rejected(out)] == [
        ("4", "revenue", "a quote opened in this line is never closed (the rest of the file was one field)")]


def test_a_link_out_of_the_input_folder_is_not_followed(tmp_path: Path) -> None:
    """passwd.csv → /etc/passwd in the input folder was read, and its first line copied into the error, the
    rejected rows and the manifest."""
    folder = tmp_path / "in"
    folder.mkdir()
    csv_file(folder / "good.csv", *GOOD)
    secret = tmp_path / "secret.csv"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (folder / "passwd.csv").symlink_to(secret)
    result, out = facts(tmp_path, folder)
    assert result.returncode == 0, result.stderr
    refused = json.loads((out / "manifest.json").read_text())["refused_files"]
    assert refused == [{"file": str(folder / "passwd.csv"), "line": None,
                        "reason": f"a link to {secret}, outside the input folder {folder}: not followed"}]
    for written in (out / "manifest.json", out / "rejected.csv"):
        assert "root:x" not in written.read_text(encoding="utf-8")
    assert (out / "ACME" / "facts.json").exists()


def test_a_fifo_among_the_inputs_is_refused_at_once(tmp_path: Path) -> None:
    """Reading a FIFO waits for a writer for ever: the run hung."""
    folder = tmp_path / "in"
    folder.mkdir()
    csv_file(folder / "good.csv", *GOOD)
    os.mkfifo(folder / "pipe.csv")
    result, out = facts(tmp_path, folder)
    assert result.returncode == 0, result.stderr
    refused = json.loads((out / "manifest.json").read_text())["refused_files"]
    assert refused == [{"file": str(folder / "pipe.csv"), "line": None,
                        "reason": "not a regular file (a FIFO, socket or device): not read"}]
    alone, _ = facts(tmp_path / "alone", folder / "pipe.csv")
    assert alone.returncode == 2
    assert alone.stderr.strip().splitlines() == [
        f"finreport: error: every input file was refused ({folder / 'pipe.csv'}: not a regular file (a FIFO, socket or "
        "device): not read); fix them and run again"]


def test_a_header_of_a_hundred_thousand_columns_is_refused_in_one_short_line(tmp_path: Path) -> None:
    """Such a header took minutes (each name checked against a list of those seen) and its refusal listed every
    column: 189 KB in one line."""
    huge = tmp_path / "huge.csv"
    huge.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n" + ",".join("1" * 100_000) + "\n")
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(5_000)) + "\n" + ",".join("1" * 5_000) + "\n")
    result, out = facts(tmp_path, huge, wide, good_file(tmp_path))
    assert result.returncode == 0, result.stderr
    reasons = {r["file"]: r["reason"] for r in json.loads((out / "manifest.json").read_text())["refused_files"]}
    assert reasons[str(huge)] == "the header has 100,000 columns; an input has at most 10,000"
    assert reasons[str(wide)].startswith("missing required column(s) entity_id, entity_name")
    assert "c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, … (5,000 columns in all)" in reasons[str(wide)]
    assert len(reasons[str(wide)]) < 600


def test_a_figure_in_another_currency_is_rejected_not_combined(tmp_path: Path) -> None:
    """One JPY row in a USD company became USD net income; a EUR year beside USD years a growth rate across
    currencies. Nothing is converted without an FX table."""
    path = csv_file(tmp_path / "fx.csv", *GOOD,
                    "ACME,Acme Corp,2024,FY,2024-01-01,2024-12-31,cost_of_revenue,90000,JPY,units",
                    "ACME,Acme Corp,2023,FY,2023-01-01,2023-12-31,revenue,800,EUR,units")
    result, out = facts(tmp_path, path)
    assert result.returncode == 0, result.stderr
    assert [(r["line"], r["column"], r["item"], r["reason"]) for r in rejected(out)] == [
        ("4", "currency", "cost_of_revenue", "in JPY, but ACME reports in USD (50% of its rows): figures in another "
                                             "currency are not converted (no FX table is read)"),
        ("5", "currency", "revenue", "in EUR, but ACME reports in USD (50% of its rows): figures in another currency "
                                     "are not converted (no FX table is read)")]
    metrics = {(r["metric"], r["fiscal_year"]): r for r in json.loads((out / "ACME" / "facts.json").read_text())}
    assert metrics[("revenue_growth_yoy", 2024)]["value"] is None
    assert metrics[("gross_margin", 2024)]["value"] is None


def test_inputs_with_a_header_and_no_rows_are_a_one_line_usage_error(tmp_path: Path) -> None:
    """A header-only input exited 1 with nothing on stderr."""
    path = csv_file(tmp_path / "empty.csv")
    result, _ = facts(tmp_path, path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"finreport: error: the inputs hold no rows ({path}: a header only?); there is nothing to report"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_file_is_named_as_such(tmp_path: Path, encoding: str) -> None:
    """Spreadsheets save "Unicode text" as UTF-16; the refusal said only "contains NUL bytes"."""
    path = tmp_path / "unicode.csv"
    path.write_bytes("\n".join([HEADER, *GOOD]).encode(encoding))
    result, out = facts(tmp_path, path, good_file(tmp_path))
    assert result.returncode == 0, result.stderr
    refused = json.loads((out / "manifest.json").read_text())["refused_files"]
    assert refused == [{"file": str(path), "line": None,
                        "reason": "is UTF-16 text: save it as UTF-8 (CSV UTF-8) and run again"}]


def test_minus_zero_is_zero(tmp_path: Path) -> None:
    """'-0' was stored as -0.0, which JSON and the report print as "-0"."""
    path = csv_file(tmp_path / "zero.csv", *GOOD, "ACME,Acme Corp,2024,FY,2024-01-01,2024-12-31,rnd_expense,-0,USD,"
                                                  "units")
    result, out = facts(tmp_path, path)
    assert result.returncode == 0, result.stderr
    (row,) = [r for r in json.loads((out / "ACME" / "facts.json").read_text())
              if r["metric"] == "rnd_expense" and r["fiscal_year"] == 2024]
    assert row["value"] == 0 and str(row["value"]) == "0.0"


# One hostile cell per line, each line a case, all in one file read by one real CLI run: (case, line, column and
# reason of its rejected row; None: the row is accepted). Lines 2 and 3 are good rows.
ROWS: list[tuple[str, str, tuple[str, str] | None]] = [
    ("number with a space", "revenue,12 345,USD,units", ("value", "unparseable number '12 345'")),
    ("spreadsheet error", "revenue,#REF!,USD,units", ("value", "unparseable number '#REF!'")),
    ("NaN", "revenue,NaN,USD,units", ("value", "not a finite number: 'NaN'")),
    ("minus infinity", "revenue,-inf,USD,units", ("value", "not a finite number: '-inf'")),
    ("beyond a float", "revenue,1e400,USD,units", ("value", "not a finite number: '1e400'")),
    ("misplaced thousands separators", 'revenue,"1,23,4",USD,units', ("value", "unparseable number '1,23,4'")),
    ("two minus signs", "revenue,--5,USD,units", ("value", "unparseable number '--5'")),
    ("hexadecimal", "revenue,0x10,USD,units", ("value", "unparseable number '0x10'")),
    ("underscore digits", "revenue,1_000,USD,units", ("value", "unparseable number '1_000'")),
    ("empty value", "revenue,,USD,units", ("value", "required value is empty")),
    ("accounting negative", 'net_income,"(1,234)",USD,units', None),
    ("dollar sign and separators", 'cash,"$1,234.50",USD,units', None),
    ("padded number", "total_assets, 1000 ,USD,units", None),
    ("lower-case currency", "total_equity,500,usd,units", None),
    ("no scale", "operating_cash_flow,70,USD,", None),
    ("unknown currency", "revenue,1,US$,units", ("currency", "unknown currency 'US$' (not an ISO 4217 code)")),
    ("no currency", "revenue,1,,units", ("currency", "required value is empty")),
    ("unknown scale", "revenue,1,USD,lakhs",
     ("scale", "unknown scale 'lakhs' (expected units, thousands, millions or billions)")),
    ("unmapped item", "synergy_potential,1,USD,units", ("item", "unmapped item 'synergy_potential'")),
    ("no item", ",1,USD,units", ("item", "required value is empty")),
]
# Cells before the item: (case, id, name, year, period, start, end, expected).
HEADS: list[tuple[str, str, tuple[str, str] | None]] = [
    ("half a year", "ACME,Acme Corp,2024.5,FY,2024-01-01,2024-12-31", ("fiscal_year", "not a fiscal year: '2024.5'")),
    ("year 1800", "ACME,Acme Corp,1800,FY,1800-01-01,1800-12-31", ("fiscal_year", "not a fiscal year: '1800'")),
    ("year in words", "ACME,Acme Corp,twenty,FY,2024-01-01,2024-12-31", ("fiscal_year", "not a fiscal year: 'twenty'")),
    ("year as a float", "ACME,Acme Corp,2023.0,FY,2023-01-01,2023-12-31", None),
    ("fifth quarter", "ACME,Acme Corp,2024,Q5,2024-01-01,2024-03-31",
     ("fiscal_period", "unknown fiscal period 'Q5' (expected FY, Q1, Q2, Q3 or Q4)")),
    ("half year", "ACME,Acme Corp,2024,H1,2024-01-01,2024-06-30",
     ("fiscal_period", "unknown fiscal period 'H1' (expected FY, Q1, Q2, Q3 or Q4)")),
    ("lower-case period", "ACME,Acme Corp,2022,fy,2022-01-01,2022-12-31", None),
    ("thirteenth month", "ACME,Acme Corp,2024,Q1,2024-01-01,2024-13-01",
     ("period_end", "unparseable date '2024-13-01' (expected YYYY-MM-DD)")),
    ("day first", "ACME,Acme Corp,2024,Q2,2024-04-01,30/06/2024",
     ("period_end", "unparseable date '30/06/2024' (expected YYYY-MM-DD)")),
    ("30 February", "ACME,Acme Corp,2024,Q1,2024-01-01,2024-02-30",
     ("period_end", "unparseable date '2024-02-30' (expected YYYY-MM-DD)")),
    ("start after end", "ACME,Acme Corp,2024,Q3,2024-12-01,2024-09-30",
     ("period_start", "period_start 2024-12-01 is after period_end 2024-09-30")),
    ("no id", ",Acme Corp,2024,FY,2024-01-01,2024-12-31", ("entity_id", "required value is empty")),
    ("no name", "ACME,,2024,FY,2024-01-01,2024-12-31", ("entity_name", "required value is empty")),
    ("tab in an id", '"AC\tME",Acme Corp,2024,FY,2024-01-01,2024-12-31',
     ("entity_id", "entity_id contains a control or invisible character (a line break, tab, zero-width or "
                   "right-to-left mark): an id is one line of visible text")),
    ("zero-width space in an id", "AC\u200bME,Acme Corp,2024,FY,2024-01-01,2024-12-31",
     ("entity_id", "entity_id contains a control or invisible character (a line break, tab, zero-width or "
                   "right-to-left mark): an id is one line of visible text")),
    ("right-to-left override in an id", "AC\u202eME,Acme Corp,2024,FY,2024-01-01,2024-12-31",
     ("entity_id", "entity_id contains a control or invisible character (a line break, tab, zero-width or "
                   "right-to-left mark): an id is one line of visible text")),
]
SHAPES: list[tuple[str, str, tuple[str, str] | None]] = [
    ("too few fields", "ACME,Acme Corp,2024,FY", ("", "expected 10 fields, found 4")),
    ("too many fields", "ACME,Acme Corp,2024,FY,2024-01-01,2024-12-31,revenue,1,USD,units,extra,more",
     ("", "expected 10 fields, found 12")),
    ("conflicting refiling", "ACME,Acme Corp,2024,FY,2024-01-01,2024-12-31,revenue,999,USD,units",
     ("value", "conflicting values for the same entity, period, item and filed date: {file}:2 = 1000; "
               "{file}:{line} = 999")),
]
YEAR = "ACME,Acme Corp,2021,FY,2021-01-01,2021-12-31"
CASES = [(name, f"{YEAR},{rest}", outcome) for name, rest, outcome in ROWS] + \
    [(name, f"{head},revenue,1,USD,units", outcome) for name, head, outcome in HEADS] + SHAPES


@pytest.fixture(scope="module")
def hostile_rows(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("rows")
    path = csv_file(tmp / "cells.csv", *GOOD, *[line for _, line, _ in CASES])
    result, out = facts(tmp, path)
    return path, out, result


@pytest.mark.parametrize(("case", "line", "outcome"), [(n, i, o) for i, (n, _, o) in enumerate(CASES, start=4)],
                         ids=[name for name, _, _ in CASES])
def test_each_hostile_cell_is_used_or_rejected_with_its_line_column_and_reason(
        hostile_rows: tuple[Path, Path, subprocess.CompletedProcess[str]], case: str, line: int,
        outcome: tuple[str, str] | None) -> None:
    path, out, result = hostile_rows
    assert result.returncode == 0, result.stderr
    mine = [(r["column"], r["reason"]) for r in rejected(out) if r["line"] == str(line)]
    expected = [] if outcome is None else [(outcome[0], outcome[1].format(file=path, line=line))]
    assert mine == expected, case  # not rejected: used (every row is one or the other, see the count below)


def test_hostile_rows_are_counted_from_the_file_itself(
        hostile_rows: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    path, out, result = hostile_rows
    lines = len(path.read_text(encoding="utf-8").splitlines()) - 1
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["rows_in"] == lines == counts["rows_accepted"] + counts["rows_rejected"]
    assert counts["rows_rejected"] == len(rejected(out)) == sum(o is not None for _, _, o in CASES) + 1  # line 2
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def _zip_bytes() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def _parquet_of_bytes(path: Path) -> None:
    import polars as pl

    pl.DataFrame({"entity_id": ["A"], "entity_name": [b"raw bytes"], "fiscal_year": [2024], "fiscal_period": ["FY"],
                  "period_end": ["2024-12-31"], "item": ["revenue"], "value": [1.0], "currency": ["USD"]}
                 ).write_parquet(path)


GOOD_TEXT = "\n".join([HEADER, *GOOD]) + "\n"
# Whole files, each a case, all in one folder read by one real CLI run: (file, how to write it, the refusal
# without the file's path, or None when its rows are used).
FILES: list[tuple[str, Callable[[Path], object], str | None]] = [
    ("empty.csv", lambda p: p.write_bytes(b""), "file is empty"),
    ("spaces.csv", lambda p: p.write_text(" \n\n \n"), "file is empty"),
    ("gzipped.csv", lambda p: p.write_bytes(gzip.compress(GOOD_TEXT.replace("ACME", "GZIP").encode())), None),
    ("broken.csv.gz", lambda p: p.write_bytes(gzip.compress(GOOD_TEXT.encode())[:40]),
     "cannot decompress it as gzip: "),
    ("workbook.csv", lambda p: p.write_bytes(_zip_bytes()),
     "is a ZIP archive (an Excel workbook is one): export the sheet as CSV UTF-8"),
    ("latin1.csv", lambda p: p.write_bytes(GOOD_TEXT.replace("Acme Corp", "Société").encode("latin-1")),
     ":2: not UTF-8 text: byte b'\\xe9' at column 10 (Latin-1 or Windows-1252? save the file as UTF-8)"),
    ("semicolon.csv", lambda p: p.write_text(GOOD_TEXT.replace(",", ";")),
     ":1: missing required column(s) entity_id, entity_name, fiscal_year, fiscal_period, period_end, item, value, "
     "currency; found entity_id;entity_name;fiscal_year;fiscal_period;period_start… (the columns are separated by "
     "';': a long table separates them by commas)"),
    ("tabs.csv", lambda p: p.write_text(GOOD_TEXT.replace(",", "\t")),
     ":1: missing required column(s) entity_id, entity_name, fiscal_year, fiscal_period, period_end, item, value, "
     "currency; found entity_id\tentity_name\tfiscal_year\tfiscal_period\tperiod_start… (the columns are separated "
     "by '\\t': a long table separates them by commas)"),
    ("twice.csv", lambda p: p.write_text(HEADER + ",value\n" + GOOD[0] + ",5\n"),
     ":1: column 'value': column 'value' appears twice (columns 8 and 11)"),
    ("deep.json", lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "not valid JSON: nested too deeply"),
    ("object.json", lambda p: p.write_text('{"hello": "world"}'),
     "not an SEC companyfacts file (expected a JSON object with cik, entityName and facts)"),
    ("list.json", lambda p: p.write_text("[1, 2, 3]"),
     "not an SEC companyfacts file (expected a JSON object with cik, entityName and facts)"),
    ("truncated.json", lambda p: p.write_text('{"cik": 1, "entityName": "A", "facts": {"us-gaap": {'),
     ":1: not valid JSON: Expecting property name enclosed in double quotes (column 53)"),
    ("lines.jsonl", lambda p: p.write_text('{"entity_id": "A"\nnot json\n'),
     ":1: no line is a JSON object (not valid JSON: Expecting ',' delimiter)"),
    ("bytes.parquet", _parquet_of_bytes,
     "column(s) entity_name (Binary) hold nested or binary values; expected text, numbers or dates"),
    ("fake.parquet", lambda p: p.write_bytes(b"PAR1 not really"), "not a readable Parquet file: "),
    ("bom.csv", lambda p: p.write_bytes(b"\xef\xbb\xbf" + GOOD_TEXT.replace("ACME", "BOMC").encode()), None),
    ("crlf.csv", lambda p: p.write_bytes(GOOD_TEXT.replace("ACME", "CRLF").replace("\n", "\r\n").encode()), None),
    ("cr.csv", lambda p: p.write_bytes(GOOD_TEXT.replace("ACME", "MACC").replace("\n", "\r").encode()), None),
]


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("files")
    folder = tmp / "inputs"
    folder.mkdir()
    for name, write, _ in FILES:
        write(folder / name)
    (folder / "long-line.csv").write_text(f"{HEADER}\n{'A' * 100_000}\n", encoding="utf-8")
    good_file(folder)
    result, out = facts(tmp, folder)
    return folder, out, result


@pytest.mark.parametrize(("name", "refusal"), [(n, r) for n, _, r in FILES], ids=[n for n, _, _ in FILES])
def test_each_hostile_file_is_refused_in_one_line_or_read(
        hostile_files: tuple[Path, Path, subprocess.CompletedProcess[str]], name: str, refusal: str | None) -> None:
    folder, out, result = hostile_files
    assert result.returncode == 0, result.stderr
    path = folder / name
    mine = [line for line in result.stderr.splitlines() if line.startswith(f"finreport: refused {path}")]
    rows = [r for r in rejected(out) if r["file"] == str(path)]
    if refusal is None:
        assert mine == [] and rows == []
        return
    where = "" if refusal.startswith(":") else ": "
    assert len(mine) == 1 and mine[0].startswith(f"finreport: refused {path}{where}{refusal}"), mine
    assert len(rows) == 1 and rows[0]["reason"].startswith("file refused: ")


def test_good_files_beside_hostile_ones_are_reported_and_a_huge_id_is_shortened(
        hostile_files: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, out, result = hostile_files
    reported = sorted(p.name for p in out.iterdir() if (p / "facts.json").exists())
    assert reported == ["BOMC", "CRLF", "GOOD", "GZIP", "MACC"]
    assert f"FAILED {'A' * 60}… (100,000 characters) (ingest): none of its 1 rows is usable (see rejected.csv)" \
        in result.stdout.splitlines()
    assert max(len(line) for line in result.stdout.splitlines()) < 300
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["rows_in"] == manifest["counts"]["rows_accepted"] + manifest["counts"]["rows_rejected"]


@pytest.mark.parametrize("command", ["facts", "run"])
@pytest.mark.parametrize(("where", "why"), [("a-file", "File exists"),
                                           ("/proc/finreport-out", "No such file or directory")])
def test_an_output_folder_that_cannot_be_written_is_a_usage_error_before_any_work(
        tmp_path: Path, command: str, where: str, why: str) -> None:
    """The run read, computed and reasoned, then failed with 'FileNotFoundError: …/proc/…' or 'NotADirectoryError'."""
    out = tmp_path / where if not where.startswith("/") else Path(where)
    if where == "a-file":
        out.write_text("not a folder")
    args = ["--narrator", "reference"] if command == "run" else []
    result = subprocess.run([sys.executable, "-m", "flows.cli", command, "--input", str(good_file(tmp_path)),
                             "--out", str(out), *args], cwd=ROOT, env=os.environ, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"finreport: error: output folder {out}: cannot write there ({why}); give "
                                          "one you can write to"]
