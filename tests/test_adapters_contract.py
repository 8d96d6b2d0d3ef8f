"""The contract every adapter passes: the same statements in any supported format give the same facts."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from generator.ingest import ADAPTERS, choose_adapter, ingest
from generator.ingest.base import RAW_COLUMNS, TRACE_COLUMNS
from generator.sample import write_sample
from generator.schema import CANONICAL_SCHEMA

FIXTURES = Path(__file__).parent / "fixtures"
COMPARED = [c for c in CANONICAL_SCHEMA if c != "source"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample(out)
    long_csv = out / "long" / "facts.csv"
    frame = pl.read_csv(long_csv, infer_schema=False)
    frame.write_parquet(out / "facts.parquet")
    with (out / "facts.jsonl").open("w", encoding="utf-8") as handle:
        for row in frame.iter_rows(named=True):
            handle.write(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n")
    return out


def canonical(paths: list[Path]) -> pl.DataFrame:
    ingested = ingest(paths)
    assert ingested.rejected.height == 0, ingested.rejected.head(5)
    assert ingested.rows_in == ingested.accepted_count
    return ingested.facts.select(COMPARED).sort(["entity_id", "fiscal_year", "fiscal_period", "item"])


@pytest.mark.parametrize("variant", ["facts.parquet", "facts.jsonl", "wide"])
def test_every_format_gives_the_same_facts(sample: Path, variant: str) -> None:
    reference = canonical([sample / "long" / "facts.csv"])
    other = canonical([sample / variant])
    assert reference.height > 7000
    assert other.equals(reference), other.join(reference, on=COMPARED, how="anti").head(5)


@pytest.mark.parametrize(
    ("path", "adapter"),
    [("long/facts.csv", "long"), ("facts.parquet", "long"), ("facts.jsonl", "long"), ("wide/KOLA.csv", "wide")],
)
def test_adapter_is_chosen_by_layout(sample: Path, path: str, adapter: str) -> None:
    assert choose_adapter(sample / path).name == adapter


def test_statement_tables_are_recognised() -> None:
    assert choose_adapter(FIXTURES / "apple" / "apple_balance_sheet.csv").name == "statement"


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
def test_adapter_output_has_the_raw_contract(sample: Path, adapter: object) -> None:
    path = {"long": sample / "long" / "facts.csv", "wide": sample / "wide" / "KOLA.csv",
            "statement": FIXTURES / "apple" / "apple_consolidated.csv"}[adapter.name]  # type: ignore[attr-defined]
    raw = adapter.read(path)  # type: ignore[attr-defined]
    assert raw.columns == [*RAW_COLUMNS, *TRACE_COLUMNS]
    assert raw.schema["_line"] == pl.Int64
    assert raw["_line"].min() >= 2
    assert raw["_file"].unique().to_list() == [str(path)]


def test_sources_point_at_the_line(sample: Path) -> None:
    facts = ingest([sample / "wide" / "KOLA.csv"]).facts
    row = facts.filter(item="revenue", fiscal_year=2025, fiscal_period="FY").row(0, named=True)
    file, rest = row["source"].split(":", 1)
    line = int(rest.split(" ")[0])
    column = rest.split("[", 1)[1].rstrip("]")
    text = Path(file).read_text().splitlines()
    header = text[0].split(",")
    cell = text[line - 1].split(",")[header.index(column)]
    assert float(cell) * 1000 == row["value"]
