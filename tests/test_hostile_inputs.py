"""Hostile inputs through the real CLI: one file's or one company's content never ends the run; each bad value
is one rejected row with its reason, and the run's other files and companies are reported."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = "entity_id,entity_name,fiscal_year,fiscal_period,period_start,period_end,item,value,currency,scale"
GOOD = ["ACME,Acme Corp,2024,FY,2024-01-01,2024-12-31,revenue,1000,USD,units",
        "ACME,Acme Corp,2024,FY,2024-01-01,2024-12-31,net_income,100,USD,units"]


def facts(tmp_path: Path, *inputs: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "out"
    args = [a for p in inputs for a in ("--input", str(p))]
    result = subprocess.run([sys.executable, "-m", "generator.cli", "facts", *args, "--out", str(out)], cwd=ROOT,
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
        "entity_id contains a control character (a line break or tab): an id is one line of text"}
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
