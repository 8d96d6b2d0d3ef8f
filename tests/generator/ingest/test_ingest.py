"""Ingest as a whole: the properties (on any input only project errors escape, and no input row is lost or counted
twice), the contract every adapter passes (the same statements in any supported format give the same facts), and
what is decided across files: a refused file does not stop the next, duplicates and restatements."""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from generator.errors import FinreportError
from generator.ingest import Ingested, choose_adapter, ingest, read_file
from generator.ingest.xbrl import SEGMENT, candidates
from generator.schema import CANONICAL_SCHEMA, items

from builders import checked, fact_lines, refusal, reject, rejected, row, write

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


@pytest.mark.slow
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


# --- the contract every adapter passes ------------------------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
COMPARED = [c for c in CANONICAL_SCHEMA if c != "source"]
KEYS = ["entity_id", "fiscal_year", "fiscal_period", "item"]
XBRL_ENTITY = "KOLA"


def concept(item: str) -> str:
    """How a US filer tags a canonical item: its first single us-gaap candidate."""
    return next(t[0][1] for t in candidates()[item] if len(t) == 1 and t[0][1].startswith("us-gaap:"))


def unit(item: str, currency: str) -> str:
    return {"currency": currency, "shares": "shares", "currency_per_share": f"{currency}/shares"}[items()[item].unit]


def companyfacts_files(frame: pl.DataFrame, out: Path) -> dict[str, str]:
    """Each company of the long table as a companyfacts file, one filing per report; returns its CIK ids."""
    out.mkdir()
    ciks: dict[str, str] = {}
    for number, ((entity_id, name), rows) in enumerate(frame.group_by("entity_id", "entity_name",
                                                                       maintain_order=True), start=1):
        ciks[entity_id] = f"CIK{number:010d}"
        filings = {key: f"{number:010d}-25-{i:06d}"
                   for i, key in enumerate(rows.select("fiscal_year", "fiscal_period", "filed").unique().rows())}
        facts: dict[str, dict[str, Any]] = defaultdict(dict)
        for r in rows.iter_rows(named=True):
            taxonomy, tag = concept(r["item"]).split(":")
            body = facts[taxonomy].setdefault(tag, {"label": tag, "units": {}})
            value = float(r["value"])
            body["units"].setdefault(unit(r["item"], r["currency"]), []).append({
                **({"start": r["period_start"]} if r["period_start"] else {}), "end": r["period_end"],
                "val": int(value) if value.is_integer() else value,
                "accn": filings[(r["fiscal_year"], r["fiscal_period"], r["filed"])],
                "fy": 2025, "fp": "FY", "form": "10-K", "filed": r["filed"]})
        (out / f"{entity_id}.json").write_text(json.dumps({"cik": number, "entityName": name, "facts": facts}),
                                               encoding="utf-8")
    return ciks


def xbrl_facts_file(frame: pl.DataFrame, path: Path) -> None:
    """One company's facts as an XBRL fact table, each revenue figure followed by a segment breakdown of it."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["namespace", "fact", "value", "units", "start_date", "end_date", "dimensions", "period"])
        writer.writerow(["dei", "EntityCentralIndexKey", "0000000003", "", "", "", "", ""])
        writer.writerow(["dei", "EntityRegistrantName", frame["entity_name"][0], "", "", "", "", ""])
        for r in frame.iter_rows(named=True):
            namespace, fact = concept(r["item"]).split(":")
            start = r["period_start"] or r["period_end"]
            row = [namespace, fact, r["value"], unit(r["item"], r["currency"]), start, r["period_end"]]
            writer.writerow([*row, "", f"{start} to {r['period_end']}"])
            if r["item"] == "revenue":
                writer.writerow([*row[:2], str(float(r["value"]) * 0.6), *row[3:],
                                 "{'srt:ProductOrServiceAxis': 'acme:DrinksMember'}", ""])


@pytest.fixture(scope="module")
def formats(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared sample (copied: its readers leave it as they found it) and the same statements in every other
    format: Parquet, JSON lines, companyfacts files, an XBRL fact table."""
    out = tmp_path_factory.mktemp("formats")
    shutil.copytree(sample_dir, out, dirs_exist_ok=True)
    long_csv = out / "long" / "facts.csv"
    frame = pl.read_csv(long_csv, infer_schema=False)
    frame.write_parquet(out / "facts.parquet")
    with (out / "facts.jsonl").open("w", encoding="utf-8") as handle:
        for record in frame.iter_rows(named=True):
            handle.write(json.dumps({k: v for k, v in record.items() if v is not None}) + "\n")
    ciks = companyfacts_files(frame, out / "companyfacts")
    (out / "ciks.json").write_text(json.dumps(ciks), encoding="utf-8")
    xbrl_facts_file(frame.filter(entity_id=XBRL_ENTITY), out / "xbrl_facts.csv")
    return out


def canonical(paths: list[Path]) -> pl.DataFrame:
    """The facts of a layout that rejects nothing but what no statement line is made of (unmapped XBRL tags, segment
    breakdowns: listed, not read)."""
    ingested = ingest(paths)
    bad = ingested.rejected.filter(~pl.col("reason").str.starts_with("unmapped item") & (pl.col("reason") != SEGMENT))
    assert bad.height == 0, bad.head(5)
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height
    return ingested.facts.select(COMPARED).sort(KEYS)


@pytest.mark.parametrize("variant", ["facts.parquet", "facts.jsonl", "wide"])
def test_every_format_gives_the_same_facts(formats: Path, variant: str) -> None:
    reference = canonical([formats / "long" / "facts.csv"])
    other = canonical([formats / variant])
    assert reference.height > 7000
    assert other.equals(reference), other.join(reference, on=COMPARED, how="anti").head(5)


def test_companyfacts_give_the_same_facts(formats: Path) -> None:
    """The same filings as companyfacts: the same facts and restatements. A year-end balance sheet is cited by the
    first filing that reports it (here the fourth quarter's), so filing dates are compared through restatements."""
    ciks = json.loads((formats / "ciks.json").read_text(encoding="utf-8"))
    unfiled = [c for c in COMPARED if c != "filed"]
    reference = canonical([formats / "long" / "facts.csv"]).with_columns(pl.col("entity_id").replace_strict(ciks))
    other = canonical([formats / "companyfacts"])
    assert other.select(unfiled).equals(reference.select(unfiled).sort(KEYS))
    long, companyfacts = ingest([formats / "long" / "facts.csv"]), ingest([formats / "companyfacts"])
    assert companyfacts.restatements().drop("entity_id", "original_source", "restated_source").equals(
        long.restatements().drop("entity_id", "original_source", "restated_source"))
    assert companyfacts.superseded.height == 1


def test_xbrl_facts_give_the_same_facts_without_their_segments(formats: Path) -> None:
    unfiled = [c for c in COMPARED if c not in ("filed", "entity_id")]
    reference = canonical([formats / "long" / "facts.csv"]).filter(entity_id=XBRL_ENTITY)
    other = canonical([formats / "xbrl_facts.csv"])
    assert other["entity_id"].unique().to_list() == ["CIK0000000003"]
    assert other.select(unfiled).equals(reference.select(unfiled))


@pytest.mark.parametrize(
    ("path", "adapter"),
    [("long/facts.csv", "long"), ("facts.parquet", "long"), ("facts.jsonl", "long"), ("wide/KOLA.csv", "wide"),
     ("companyfacts/KOLA.json", "companyfacts"), ("xbrl_facts.csv", "xbrl-facts")],
)
def test_adapter_is_chosen_by_layout(formats: Path, path: str, adapter: str) -> None:
    assert choose_adapter(formats / path).name == adapter


def test_statement_tables_are_recognised() -> None:
    assert choose_adapter(FIXTURES / "apple" / "apple_balance_sheet.csv").name == "statement"


def test_sources_point_at_the_line(formats: Path) -> None:
    facts = ingest([formats / "wide" / "KOLA.csv"]).facts
    revenue = facts.filter(item="revenue", fiscal_year=2025, fiscal_period="FY").row(0, named=True)
    file, rest = revenue["source"].split(":", 1)
    line = int(rest.split(" ")[0])
    column = rest.split("[", 1)[1].rstrip("]")
    text = Path(file).read_text().splitlines()
    header = text[0].split(",")
    cell = text[line - 1].split(",")[header.index(column)]
    assert float(cell) * 1000 == revenue["value"]


# --- across files: refusals, duplicates and restatements ------------------------------------------------------------


def test_one_refused_file_does_not_stop_the_next(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.csv", "ACME,1000", header="entity_id,value")
    good = write(tmp_path / "good.csv", row(), row(item="net_income", value="50"))
    ingested = checked([bad, good])
    reason = ("missing required column(s) entity_name, fiscal_year, fiscal_period, period_end, item, currency; "
              "found entity_id, value")
    assert rejected(ingested) == [refusal(bad, reason, line=1)]
    assert [e.file for e in ingested.refused] == [str(bad)]
    assert [f.path for f in ingested.files] == [str(good)]
    assert ingested.facts["source"].to_list() == [f"{good}:2", f"{good}:3"]
    assert ingested.rows_in == 3


def test_conflicting_duplicates_are_both_rejected_naming_both_sources(tmp_path: Path) -> None:
    path = write(tmp_path / "conflict.csv", row(), row(item="net_income"), row(value="1001"))
    ingested = checked([path])
    reason = (f"conflicting values for the same entity, period, item and filed date: "
              f"{path}:2 = 1000; {path}:4 = 1001")
    assert rejected(ingested) == [
        reject(path, 2, "value", reason, value="1000"),
        reject(path, 4, "value", reason, value="1001"),
    ]
    assert fact_lines(ingested) == [("net_income", 3)]


def test_conflicting_duplicates_across_files(tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", row())
    second = write(tmp_path / "b.csv", row(value="999"))
    ingested = checked([first, second])
    reason = (f"conflicting values for the same entity, period, item and filed date: "
              f"{first}:2 = 1000; {second}:2 = 999")
    assert rejected(ingested) == [reject(first, 2, "value", reason, value="1000"),
                                  reject(second, 2, "value", reason, value="999")]
    assert ingested.facts.height == 0


def test_exact_duplicate_keeps_one_and_rejects_the_other(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.csv", row(), row(item="net_income"), row(value="1,000"))
    ingested = checked([path])
    assert rejected(ingested) == [reject(path, 4, "value", f"duplicate of {path}:2 (same value)", value="1,000")]
    assert fact_lines(ingested) == [("revenue", 2), ("net_income", 3)]


def test_restatement_latest_filed_wins(tmp_path: Path) -> None:
    path = write(tmp_path / "restated.csv", row(filed="2025-03-01", value="1100"), row(), row(filed="", value="900"))
    ingested = checked([path])
    assert rejected(ingested) == []
    assert ingested.facts.select("value", "filed", "source").to_dicts() == [
        {"value": 1100.0, "filed": date(2025, 3, 1), "source": f"{path}:2"},
    ]
    assert ingested.superseded.select("value", "filed", "source").to_dicts() == [
        {"value": 1000.0, "filed": date(2025, 2, 1), "source": f"{path}:3"},
        {"value": 900.0, "filed": None, "source": f"{path}:4"},
    ]
    restatements = ingested.restatements()
    assert restatements.select("original_value", "original_source", "restated_value", "restated_source").to_dicts() \
        == [
            {"original_value": 900.0, "original_source": f"{path}:4", "restated_value": 1000.0,
             "restated_source": f"{path}:3"},
            {"original_value": 1000.0, "original_source": f"{path}:3", "restated_value": 1100.0,
             "restated_source": f"{path}:2"},
        ]  # a value without a filed date is the oldest: each value beside the one that replaced it
    assert ingested.accepted_count == 3


def test_a_figure_restated_and_restated_back_reads_as_two_restatements(tmp_path: Path) -> None:
    path = write(tmp_path / "back.csv", row(filed="2025-04-01", value="1000"), row(filed="2025-03-01", value="1100"),
                 row())
    ingested = checked([path])
    assert ingested.restatements().select("original_value", "original_filed", "restated_value", "restated_filed") \
        .to_dicts() == [
            {"original_value": 1000.0, "original_filed": date(2025, 2, 1), "restated_value": 1100.0,
             "restated_filed": date(2025, 3, 1)},
            {"original_value": 1100.0, "original_filed": date(2025, 3, 1), "restated_value": 1000.0,
             "restated_filed": date(2025, 4, 1)},
        ]
