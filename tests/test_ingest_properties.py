"""Property tests for ingest: on any input only project errors escape, and no input row is lost or counted twice."""

from __future__ import annotations

import csv
import io
import itertools
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from generator.errors import FinreportError
from generator.ingest import Ingested, ingest, read_file

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}

HEADER = ["entity_id", "entity_name", "fiscal_year", "fiscal_period", "period_start", "period_end", "statement",
          "item", "value", "currency", "filed"]
ITEMS = [("revenue", "income"), ("net_income", "income"), ("cost_of_revenue", "income"), ("cash", "balance"),
         ("total_assets", "balance")]
_names = itertools.count()


def valid_rows() -> list[list[str]]:
    """20 valid records: two entities × two years × five items, one quoted name, one restated value."""
    rows = []
    for entity, name in (("ACME", "Acme, Inc."), ("BETA", "Beta Corp")):
        for year in (2022, 2023):
            for item, statement in ITEMS:
                start = f"{year}-01-01" if statement == "income" else ""
                rows.append([entity, name, str(year), "FY", start, f"{year}-12-31", statement, item,
                             str(1000 + len(rows) * 37), "USD", f"{year + 1}-02-15"])
    rows[-1][-1] = "2024-03-01"
    rows[-2] = [*rows[-1][:8], "4242", "USD", "2024-02-15"]
    return rows


def to_csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([HEADER, *rows])
    return buffer.getvalue()


VALID = to_csv(valid_rows())


def fresh(folder: Path, suffix: str) -> Path:
    return folder / f"input{next(_names)}{suffix}"


def only_project_errors(path: Path) -> Ingested:
    """``read_file`` may raise only FinreportError; ``ingest`` must not raise at all and must keep its books."""
    try:
        read_file(path)
    except FinreportError:
        pass
    except BaseException as exc:  # a polars panic is a BaseException; report it like any other escape
        pytest.fail(f"read_file({path.name}) raised {type(exc).__module__}.{type(exc).__name__}: {exc}")
    try:
        ingested = ingest([path])
    except BaseException as exc:
        pytest.fail(f"ingest([{path.name}]) raised {type(exc).__module__}.{type(exc).__name__}: {exc}")
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height
    assert all(isinstance(e, FinreportError) for e in ingested.refused)
    return ingested


# --- garbage in ------------------------------------------------------------------------------------------------------

SUFFIXES = st.sampled_from([".csv", ".jsonl", ".parquet"])
header_text = st.lists(st.sampled_from([*HEADER, "scale", "Revenue", "Net income", "Sep. 30, 2023", "", " "]),
                       min_size=1, max_size=12).map(",".join)
csvish = st.lists(st.one_of(st.sampled_from([*HEADER, "Revenue", "1,000", "(5)", '"', '""', ",", "\n", "\r\n",
                                            "2024-12-31", "FY", "USD", "nan", "-", " "]),
                            st.text(max_size=6)), max_size=40).map("".join)


@settings(max_examples=200, **SETTINGS)
@given(data=st.binary(max_size=600), suffix=SUFFIXES)
def test_garbage_bytes_raise_only_project_errors(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                                 suffix: str) -> None:
    path = fresh(tmp_path_factory.mktemp("bytes"), suffix)
    path.write_bytes(data)
    only_project_errors(path)


@settings(max_examples=200, **SETTINGS)
@given(text=st.one_of(st.text(max_size=300), st.tuples(header_text, csvish).map("\n".join)), suffix=SUFFIXES)
def test_garbage_text_raises_only_project_errors(tmp_path_factory: pytest.TempPathFactory, text: str,
                                                 suffix: str) -> None:
    path = fresh(tmp_path_factory.mktemp("text"), suffix)
    path.write_text(text, encoding="utf-8")
    only_project_errors(path)


@pytest.fixture(scope="module")
def valid_parquet(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("parquet") / "valid.parquet"
    pl.DataFrame(valid_rows(), schema=HEADER, orient="row").write_parquet(path)
    return path.read_bytes()


@settings(max_examples=80, **SETTINGS)
@given(cuts=st.lists(st.tuples(st.integers(0, 1 << 16), st.binary(min_size=1, max_size=4)), min_size=1, max_size=4),
       truncate=st.one_of(st.none(), st.integers(0, 1 << 16)))
def test_damaged_parquet_raises_only_project_errors(tmp_path_factory: pytest.TempPathFactory, valid_parquet: bytes,
                                                    cuts: list[tuple[int, bytes]], truncate: int | None) -> None:
    data = bytearray(valid_parquet)
    for at, patch in cuts:
        at %= len(data)
        data[at:at + len(patch)] = patch
    if truncate is not None:
        data = data[: truncate % (len(data) + 1)]
    path = fresh(tmp_path_factory.mktemp("parquet"), ".parquet")
    path.write_bytes(bytes(data))
    only_project_errors(path)


# --- mutated valid files: nothing lost, nothing counted twice ---------------------------------------------------------

cell_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=10)
mutation = st.one_of(
    st.tuples(st.just("replace"), st.integers(0, 10 ** 6), st.integers(0, 20), cell_text),
    st.tuples(st.just("replace_raw"), st.integers(0, 10 ** 6), st.integers(0, 20), cell_text),
    st.tuples(st.just("delete_cell"), st.integers(0, 10 ** 6), st.integers(0, 20)),
    st.tuples(st.just("duplicate_line"), st.integers(0, 10 ** 6), st.integers(0, 10 ** 6)),
    st.tuples(st.just("swap_lines"), st.integers(0, 10 ** 6), st.integers(0, 10 ** 6)),
    st.tuples(st.just("blank_line"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("quote"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("value"), st.integers(0, 10 ** 6),
              st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                        st.sampled_from(["", "1,234", "(12)", "$5", "1e400", "-0", " 7 "]))),
    st.tuples(st.just("truncate"), st.integers(0, 10 ** 6)),
)


def _cells(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _joined(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def mutate(text: str, op: tuple) -> str:
    """Apply one mutation; line indexes are taken modulo the current number of data lines (the header stays)."""
    kind, *args = op
    if kind == "truncate":
        data = text.encode()
        return data[: args[0] % (len(data) + 1)].decode(errors="ignore")
    if kind == "quote":
        at = args[0] % (len(text) + 1)
        return text[:at] + '"' + text[at:]
    lines = text.split("\n")
    data_lines = len(lines) - 1
    if data_lines < 1:
        return text
    i = 1 + args[0] % data_lines
    if kind == "replace":
        cells = _cells(lines[i]) or [""]
        cells[args[1] % len(cells)] = args[2]
        lines[i] = _joined(cells)
    elif kind == "replace_raw":
        cells = lines[i].split(",")
        cells[args[1] % len(cells)] = args[2]
        lines[i] = ",".join(cells)
    elif kind == "delete_cell":
        cells = _cells(lines[i])
        if cells:
            del cells[args[1] % len(cells)]
        lines[i] = _joined(cells)
    elif kind == "duplicate_line":
        lines.insert(1 + args[1] % data_lines, lines[i])
    elif kind == "swap_lines":
        j = 1 + args[1] % data_lines
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "blank_line":
        lines.insert(i, "")
    elif kind == "value":
        cells = _cells(lines[i])
        if len(cells) == len(HEADER):
            cells[HEADER.index("value")] = args[1]
            lines[i] = _joined(cells)
    return "\n".join(lines)


def record_lines(text: str) -> tuple[list[int], set[int]]:
    """Physical line on which each data record starts, as the csv module reads the file: (records, blank-ish).

    Empty lines are not records. A record whose fields are all blank (``""``, spaces) is blank-ish: polars' fast
    path rejects it ("required value is empty") while the csv-module path skips it, so either is allowed. A
    quote that is never closed would make the rest of the file one record: that record is its own line alone,
    and reading goes on from the next line.
    """
    lines = text.splitlines(keepends=True)
    starts: list[int] = []
    blankish: set[int] = set()
    first = 2
    while first <= len(lines):
        reader = csv.reader(io.StringIO("".join(lines[first - 1:]), newline=""))
        previous_end, last = 0, None
        for record in reader:
            start = first + previous_end
            if record and any(field.strip() for field in record):
                starts.append(start)
                last = (start, first + reader.line_num - 1)
            elif record:
                blankish.add(start)
            previous_end = reader.line_num
        if last is None or last[1] == last[0] or not _never_closed("".join(lines[last[0] - 1:])):
            break
        first = last[0] + 1
    return starts, blankish


def _never_closed(rest: str) -> bool:
    try:
        list(csv.reader(io.StringIO(rest, newline=""), strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def test_the_unmutated_file_is_accepted_whole(tmp_path: Path) -> None:
    path = tmp_path / "valid.csv"
    path.write_text(VALID, encoding="utf-8")
    ingested = only_project_errors(path)
    assert ingested.rejected.height == 0
    assert (ingested.facts.height, ingested.superseded.height) == (19, 1)
    assert sorted([*ingested.facts["_line"], *ingested.superseded["_line"]]) == list(range(2, 22))


@settings(max_examples=400, **SETTINGS)
@given(ops=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_long_csv_loses_no_record(tmp_path_factory: pytest.TempPathFactory, ops: list[tuple]) -> None:
    text = VALID
    for op in ops:
        text = mutate(text, op)
    path = fresh(tmp_path_factory.mktemp("mutated"), ".csv")
    path.write_text(text, encoding="utf-8")
    ingested = only_project_errors(path)
    assume(not ingested.refused)
    try:
        expected, blankish = record_lines(text.removeprefix("\ufeff"))
    except csv.Error:
        pytest.fail("the csv module could not read a file that ingest accepted")
    kept = ingested.facts.vstack(ingested.superseded)
    assert kept["source"].to_list() == [f"{path}:{line}" for line in kept["_line"]]
    assert (kept["_file"] == str(path)).all()
    assert (ingested.rejected["file"] == str(path)).all()
    seen = Counter([*kept["_line"], *ingested.rejected["line"]])
    blank_seen = Counter({line: n for line, n in seen.items() if line in blankish})
    assert all(n == 1 for n in blank_seen.values()) and not set(blank_seen) & set(kept["_line"])
    seen -= blank_seen
    if ingested.files[0].adapter == "long":
        assert seen == Counter(expected), f"lines seen {sorted(seen.elements())} != records {expected}"
    else:  # a header mutation turned it into a wide file: one row per cell, every record still present
        assert set(seen) == set(expected)
