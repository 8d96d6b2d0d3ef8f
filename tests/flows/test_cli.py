"""The CLI as a user runs it: a real subprocess, real files, exit codes and what it prints."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def finreport(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FINREPORT_OUTPUT_DIR": str(cwd / "output")}
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "sample"
    result = finreport("sample", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "14 companies" in result.stdout
    return out


def test_facts_on_sample_writes_the_promised_files(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = finreport("facts", "--input", sample / "long", "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "Traceback" not in result.stdout and "error" not in result.stdout.lower()
    assert "14 entities" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["rows_in"] == counts["rows_accepted"] + counts["rows_rejected"]
    assert counts["restatements"] == 1
    assert len(manifest["inputs"][0]["sha256"]) == 64
    for entity in ("KOLA", "VOLT", "MEDX"):
        records = json.loads((out / entity / "facts.json").read_text())
        assert {"entity_id", "fiscal_year", "fiscal_period", "period_end", "metric", "value", "unit", "formula",
                "inputs", "sources"} <= set(records[0])
        assert all(r["sources"] for r in records if r["value"] is not None)
    with (out / "rejected.csv").open() as handle:
        assert next(csv.reader(handle)) == ["file", "line", "column", "entity_id", "item", "value", "reason"]


def test_facts_on_real_prices_writes_market_json_against_the_index(tmp_path: Path) -> None:
    """The S&P 500 constituents' closes as skfolio ships them (gzipped, wide) beside Apple's statements: every share
    is measured against SP500 at the as-of date, Apple is valued on its statements, the index is no company."""
    out = tmp_path / "run"
    fixtures = ROOT / "tests" / "fixtures"
    result = finreport("facts", "--input", fixtures / "prices", "--input", fixtures / "apple", "--out", out,
                       "--as-of", "2022-12-28", "--benchmark", "SP500")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "market: 21 shares at 2022-12-28 against SP500: " in result.stdout
    assert not (out / "SP500").exists() and (out / "MSFT" / "market.json").is_file()
    records = {r["metric"]: r for r in json.loads((out / "AAPL" / "market.json").read_text())}
    beta = records["beta_1y"]
    assert (beta["benchmark"], beta["observations"], beta["end"], beta["as_of"]) == ("SP500", 252, "2022-12-28",
                                                                                       "2022-12-28")
    assert all(s.startswith(str(fixtures / "prices" / "sp500_")) for s in beta["sources"])
    assert records["pe_ttm"]["period"] == "FY2022" and records["pe_ttm"]["value"] > 0
    assert any("apple" in s for s in records["pe_ttm"]["sources"])
    answers = {a["question_id"]: a["text"] for a in json.loads((out / "AAPL" / "answers.json").read_text())}
    assert answers["market_performance"].startswith("Over the year to 28 December 2022 the share returned ")


def test_bad_rows_are_listed_and_the_run_still_succeeds(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "entity_id,entity_name,fiscal_year,fiscal_period,period_end,item,value,currency\n"
        "X,X Corp,2024,FY,2024-12-31,revenue,100,USD\n"
        "X,X Corp,2024,FY,2024-12-31,net_income,ten,USD\n"
    )
    result = finreport("facts", "--input", bad, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "1 rejected" in result.stdout
    rows = list(csv.DictReader((tmp_path / "out" / "rejected.csv").open()))
    assert rows == [{"file": str(bad), "line": "3", "column": "value", "entity_id": "X", "item": "net_income",
                     "value": "ten", "reason": "unparseable number 'ten'"}]


def test_missing_input_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = finreport("facts", "--input", tmp_path / "nope.csv", "--out", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"finreport: error: no such input: {tmp_path / 'nope.csv'}"]


def test_unreadable_file_is_refused_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    result = finreport("facts", "--input", bad, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}:1: missing required column(s) entity_id, entity_name" in result.stderr
    assert "found foo, bar" in result.stderr


def test_one_refused_file_does_not_stop_the_others(sample: Path, tmp_path: Path) -> None:
    bad = tmp_path / "in" / "broken.csv"
    bad.parent.mkdir()
    bad.write_bytes(b"\xff\xfe\x00garbage")
    good = sample / "wide" / "KOLA.csv"
    result = finreport("facts", "--input", bad, "--input", good, "--out", tmp_path / "out")
    assert result.returncode == 0
    assert "refused" in result.stderr and str(bad) in result.stderr
    assert (tmp_path / "out" / "KOLA" / "facts.json").exists()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["refused_files"][0]["file"] == str(bad)


def test_help_lists_the_commands() -> None:
    result = finreport("--help")
    assert result.returncode == 0
    assert "sample" in result.stdout and "facts" in result.stdout


def test_missing_java_fails_in_one_line(sample: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    command = [sys.executable, "-m", "flows.cli", "facts", "--input", str(sample / "wide" / "KOLA.csv"),
               "--out", str(tmp_path / "out")]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "finreport: failed: Java is needed for HermiT reasoning and was not found on PATH: install a Java runtime "
        "(Debian: apt-get install default-jre-headless)"]


@pytest.mark.slow
@pytest.mark.integration
def test_run_writes_a_pdf_per_company(sample: Path, tmp_path: Path) -> None:
    result = finreport("run", "--input", sample / "wide" / "KOLA.csv", "--out", tmp_path / "out", "--as-of",
                       "2026-11-28")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "reports: 1 PDF written" in result.stdout
    assert (tmp_path / "out" / "KOLA" / "report.pdf").read_bytes().startswith(b"%PDF-")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["as_of"] == "2026-11-28" and manifest["failures"] == []


@pytest.mark.slow
@pytest.mark.integration
def test_run_for_chosen_entities_writes_to_the_dated_folder(sample: Path, tmp_path: Path) -> None:
    result = finreport("run", "--input", sample / "wide" / "KOLA.csv", "--entity", "KOLA", "--entity", "NOPE",
                       "--question", "liquidity", "--as-of", "2026-11-28", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "FAILED NOPE (ingest): not in the inputs" in result.stdout
    assert "details of the failures: prefect flow-run logs " in result.stdout
    folder = tmp_path / "output" / "2026-11-28"
    assert (folder / "KOLA" / "report.pdf").is_file()
    answered = [a["question_id"] for a in json.loads((folder / "KOLA" / "answers.json").read_text())]
    assert answered == ["executive_summary", "liquidity"]  # the summary is always written


@pytest.mark.integration
def test_run_with_nothing_readable_fails_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    result = finreport("run", "--input", bad, "--out", tmp_path / "out")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"finreport: error: every input file was refused ({bad}:1: missing required column(s)")
    assert line.endswith("); fix them and run again")


def test_run_refuses_a_bad_date_or_question_before_starting(sample: Path, tmp_path: Path) -> None:
    result = finreport("run", "--input", sample / "wide" / "KOLA.csv", "--as-of", "yesterday", "--question", "x")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("finreport: error: --as-of: Input should be a valid date")
    assert "--question: Value error, unknown question id(s) x; the catalogue has revenue_trend" in line


@pytest.mark.integration
def test_a_killed_run_leaves_nothing_running(sample: Path, tmp_path: Path) -> None:
    """After SIGKILL of a run (no Python left to unwind) its temporary Prefect server and its printing
    processes ran on for good. The run's watchdog sees it gone and stops everything it started."""
    env = {**os.environ, "FINREPORT_OUTPUT_DIR": str(tmp_path / "output"), "PREFECT_API_URL": ""}
    process = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--narrator", "reference",
                                "--input", str(sample / "long"), "--out", str(tmp_path / "out")],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = psutil.Process(process.pid)
    deadline = time.monotonic() + 180
    started: dict[int, psutil.Process] = {}
    printing = False
    while not printing and time.monotonic() < deadline and process.poll() is None:
        for child in run.children(recursive=True):
            started.setdefault(child.pid, child)
        commands = [_command(c) for c in started.values()]
        printing = any("uvicorn" in c for c in commands) and any("multiprocessing" in c for c in commands)
        time.sleep(0.2)
    assert printing, "the run never started its server and printing processes"
    watchdog = [c for c in started.values() if _command(c) == _command(run)]
    process.kill()
    process.wait(timeout=30)
    _, alive = psutil.wait_procs([c for c in started.values() if c.is_running()], timeout=30)
    assert not alive, [_command(p) for p in alive]
    assert watchdog and not any(w.is_running() for w in watchdog)  # the watchdog is gone too


def _command(process: psutil.Process) -> str:
    """A process's command line; empty once it has ended."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


@pytest.mark.integration
def test_a_run_stopped_with_sigterm_stops_the_server_it_started(sample: Path, tmp_path: Path) -> None:
    """A scheduler that stops a run with SIGTERM left Prefect's temporary server running for good."""
    env = {**os.environ, "FINREPORT_OUTPUT_DIR": str(tmp_path / "output"), "PREFECT_API_URL": ""}
    process = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--narrator", "reference",
                                "--input", str(sample / "long"), "--out", str(tmp_path / "out")],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run = psutil.Process(process.pid)
    deadline = time.monotonic() + 120
    servers: list[psutil.Process] = []
    while not servers and time.monotonic() < deadline and process.poll() is None:
        servers = [c for c in run.children(recursive=True) if "uvicorn" in _command(c)]  # a child may end meanwhile
        time.sleep(0.5)
    assert servers, "the run never started its temporary server"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert stderr.strip().splitlines()[-1] == ("finreport: stopped before the run finished (reports already written "
                                               "stay); run it again")
    assert "Traceback" not in stderr
    _, alive = psutil.wait_procs(servers, timeout=30)
    assert not alive, [p.cmdline() for p in alive]


@pytest.mark.slow
def test_ask_answers_from_the_facts_and_says_where_they_came_from(sample: Path) -> None:
    """`finreport ask` as a user runs it: plain text with the computation and its sources, or one JSON object."""
    plain = finreport("ask", "By how much did Kola Beverages' free cash flow change since FY2023?",
                      "--input", sample / "long", "--as-of", "2026-11-27")
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr == ""
    assert plain.stdout.startswith("Kola Beverages Co.'s free cash flow ")
    assert "computed: the change in Kola Beverages Co.'s free cash flow between FY2023" in plain.stdout
    assert "facts.csv:" in plain.stdout
    result = finreport("ask", "Which companies had a net margin above 20% in 2025?", "--input", sample / "long",
                       "--as-of", "2026-11-27", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {"question", "text", "value", "unit", "entities", "program", "refused", "reason", "sources"} <= set(answer)
    assert not answer["refused"] and answer["unit"] == "fraction" and answer["value"] > 0.2
    assert answer["program"]["op"] == "where" and answer["entities"]
    assert all(s["value"] > 0.2 for s in answer["sources"] if s["entity_id"] in answer["entities"][:1])
    unknown = json.loads(finreport("ask", "What was Tesla's revenue in 2024?", "--input", sample / "long",
                                   "--json").stdout)
    assert unknown["refused"] and unknown["value"] is None and "'Tesla'" in unknown["reason"]


def test_ask_without_a_translator_is_a_one_line_usage_error(sample: Path, tmp_path: Path) -> None:
    result = finreport("ask", "What was ACME's revenue?", "--input", sample / "long", "--model", tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"finreport: error: no translator checkpoint in {tmp_path} (a Hugging Face " \
                                    "model folder with config.json); train one with `finreport finetune-ask`"
