"""The contract every adapter passes: the same statements in any supported format give the same facts."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from generator.ingest import ADAPTERS, choose_adapter, ingest
from generator.ingest.base import RAW_COLUMNS, TRACE_COLUMNS
from generator.ingest.xbrl import SEGMENT, candidates
from generator.sample import write_sample
from generator.schema import CANONICAL_SCHEMA, items

FIXTURES = Path(__file__).parent / "fixtures"
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
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample(out)
    long_csv = out / "long" / "facts.csv"
    frame = pl.read_csv(long_csv, infer_schema=False)
    frame.write_parquet(out / "facts.parquet")
    with (out / "facts.jsonl").open("w", encoding="utf-8") as handle:
        for row in frame.iter_rows(named=True):
            handle.write(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n")
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
def test_every_format_gives_the_same_facts(sample: Path, variant: str) -> None:
    reference = canonical([sample / "long" / "facts.csv"])
    other = canonical([sample / variant])
    assert reference.height > 7000
    assert other.equals(reference), other.join(reference, on=COMPARED, how="anti").head(5)


def test_companyfacts_give_the_same_facts(sample: Path) -> None:
    """The same filings as companyfacts: the same facts and restatements. A year-end balance sheet is cited by the
    first filing that reports it (here the fourth quarter's), so filing dates are compared through restatements."""
    ciks = json.loads((sample / "ciks.json").read_text(encoding="utf-8"))
    unfiled = [c for c in COMPARED if c != "filed"]
    reference = canonical([sample / "long" / "facts.csv"]).with_columns(pl.col("entity_id").replace_strict(ciks))
    other = canonical([sample / "companyfacts"])
    assert other.select(unfiled).equals(reference.select(unfiled).sort(KEYS))
    long, companyfacts = ingest([sample / "long" / "facts.csv"]), ingest([sample / "companyfacts"])
    assert companyfacts.restatements().drop("entity_id", "original_source", "restated_source").equals(
        long.restatements().drop("entity_id", "original_source", "restated_source"))
    assert companyfacts.superseded.height == 1


def test_xbrl_facts_give_the_same_facts_without_their_segments(sample: Path) -> None:
    unfiled = [c for c in COMPARED if c not in ("filed", "entity_id")]
    reference = canonical([sample / "long" / "facts.csv"]).filter(entity_id=XBRL_ENTITY)
    other = canonical([sample / "xbrl_facts.csv"])
    assert other["entity_id"].unique().to_list() == ["CIK0000000003"]
    assert other.select(unfiled).equals(reference.select(unfiled))


@pytest.mark.parametrize(
    ("path", "adapter"),
    [("long/facts.csv", "long"), ("facts.parquet", "long"), ("facts.jsonl", "long"), ("wide/KOLA.csv", "wide"),
     ("companyfacts/KOLA.json", "companyfacts"), ("xbrl_facts.csv", "xbrl-facts")],
)
def test_adapter_is_chosen_by_layout(sample: Path, path: str, adapter: str) -> None:
    assert choose_adapter(sample / path).name == adapter


def test_statement_tables_are_recognised() -> None:
    assert choose_adapter(FIXTURES / "apple" / "apple_balance_sheet.csv").name == "statement"


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
def test_adapter_output_has_the_raw_contract(sample: Path, adapter: object) -> None:
    """Every value is located: a line below the header, or a JSON path; or it is derived and says from what."""
    path = {"long": sample / "long" / "facts.csv", "wide": sample / "wide" / "KOLA.csv",
            "statement": FIXTURES / "apple" / "apple_consolidated.csv",
            "companyfacts": FIXTURES / "sec-companyfacts" / "snow_facts.json",
            "xbrl-facts": FIXTURES / "xbrl-facts" / "nike_10Q_facts.csv"}[adapter.name]  # type: ignore[attr-defined]
    raw = adapter.read(path)  # type: ignore[attr-defined]
    assert raw.columns == [*RAW_COLUMNS, *TRACE_COLUMNS]
    assert raw.schema["_line"] == pl.Int64
    assert (raw["_line"].drop_nulls() >= 2).all()
    unlocated = raw.filter(pl.col("_line").is_null() & ~pl.col("_column").cast(pl.String).str.starts_with("facts."))
    assert unlocated["_source"].str.starts_with("derived: ").all()
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
