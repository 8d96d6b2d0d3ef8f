"""Sectors files: recognised by their columns, SIC codes mapped by the shipped table, bad rows rejected."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from generator.ingest import Ingested, ingest
from generator.ingest.base import Probe
from generator.ingest.sectors import accepts, entity_key, sic_range, sic_table


def checked(paths: list[Path]) -> Ingested:
    ingested = ingest(paths)
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height
    return ingested


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def reject(file: Path, line: int, column: str | None, reason: str, entity_id: str | None,
           value: str | None = None) -> dict[str, Any]:
    return {"file": str(file), "line": line, "column": column, "entity_id": entity_id, "item": None, "value": value,
            "reason": reason}


@pytest.mark.parametrize(("header", "expected"), [
    ("entity_id,sector", True), ("Entity_ID,SIC", True), ("entity_id,sector,sic,note", True),
    ("entity_id,fiscal_period,revenue", False), ("entity_id,sector,item,value", False), ("entity_id,name", False),
])
def test_a_sectors_file_is_recognised_by_its_columns(tmp_path: Path, header: str, expected: bool) -> None:
    assert accepts(Probe(write(tmp_path / "s.csv", f"{header}\n"))) is expected


def test_the_shipped_sic_table_covers_the_divisions_without_overlap() -> None:
    assert {r.sector for r in sic_table()} == {"Consumer", "Materials", "Energy", "Industrials", "Communication",
                                         "Healthcare", "Technology", "Utilities", "Financials", "Real Estate"}
    assert [(sic_range(c).sector, sic_range(c).industry) for c in (7372, 2834, 1311, 6022, 6331, 6798, 6199)] == [
        ("Technology", None), ("Healthcare", None), ("Energy", None), ("Financials", "bank"),
        ("Financials", "insurer"), ("Real Estate", "reit"), ("Financials", None)]
    assert sic_range(9995) is None


def test_a_cik_is_written_as_the_companyfacts_adapter_writes_it() -> None:
    assert [entity_key(t) for t in ("1818874", "CIK0001818874", "cik1818874", "NOVA")] == [
        "CIK0001818874", "CIK0001818874", "CIK0001818874", "NOVA"]


LONG = """entity_id,entity_name,sector,fiscal_year,fiscal_period,period_end,item,value,currency
NOVA,Nova Cloud,Technology,2024,FY,2024-12-31,revenue,100,USD
1001,Our Subsidiary,,2024,FY,2024-12-31,revenue,50,USD
KOLA,Kola Beverages,Consumer,2024,FY,2024-12-31,revenue,70,USD
"""


def test_a_named_sector_wins_and_an_internal_numeric_id_still_matches(tmp_path: Path) -> None:
    """``1001`` reads as CIK 1001 unless the facts call a company ``1001``; companies not named keep theirs."""
    facts = write(tmp_path / "facts.csv", LONG)
    sectors = write(tmp_path / "sectors.csv", "entity_id,sector,sic\nNOVA,Software,\n1001,,3569\n")
    ingested = checked([facts, sectors])
    sector = dict(ingested.facts.select("entity_id", "sector").iter_rows())
    assert sector == {"NOVA": "Software", "1001": "Industrials", "KOLA": "Consumer"}
    assert ingested.sectors is not None
    assert ingested.sectors["entity_id"].to_list() == ["NOVA", "1001"]
    assert [(f.path, f.adapter, f.rows) for f in ingested.files] == [(str(sectors), "sectors", 2),
                                                                     (str(facts), "long", 3)]


def test_bad_rows_are_rejected_with_line_column_and_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "sectors.csv", "\n".join([
        "entity_id,sector,SIC",
        "1818874,,6199",
        ",Financials,",
        "ACME,,9995",
        "KOLA,,beverages",
        "NOVA,,",
        "CIK0001818874,Banks,",
        "VOLT,Industrials,3711,extra",
    ]) + "\n")
    ingested = checked([path])
    assert ingested.sectors is not None
    assert ingested.sectors.select("entity_id", "sector").rows() == [("CIK0001818874", "Financials")]
    assert ingested.rejected.to_dicts() == [
        reject(path, 3, "entity_id", "required value is empty", None),
        reject(path, 4, "SIC", "unknown SIC code 9995: no sector for it in the shipped SIC table", "ACME", "9995"),
        reject(path, 5, "SIC", "not a SIC code: 'beverages' (expected a number of up to four digits)", "KOLA",
               "beverages"),
        reject(path, 6, "sector", "neither a sector nor a SIC code", "NOVA"),
        reject(path, 7, "entity_id", f"company already given at {path}:2", "CIK0001818874"),
        reject(path, 8, None, "expected 3 fields, found 4", "VOLT"),
    ]


def test_prices_quoted_under_a_ticker_belong_to_the_company_and_its_benchmark_is_named(tmp_path: Path) -> None:
    """SEC filings name Walmart CIK0000104169 and price files WMT: the sectors file's ticker column joins them, and
    its benchmark column says what the share is measured against; a ticker nobody declares keeps its name."""
    facts = write(tmp_path / "facts.csv", LONG.replace("NOVA", "CIK0000104169"))
    sectors = write(tmp_path / "sectors.csv", "entity_id,sic,ticker,benchmark\n104169,5331,WMT,SPX\n")
    quotes = write(tmp_path / "prices.csv", "ticker,date,close\nWMT,2024-12-30,90\nWMT,2024-12-31,91\n"
                                            "SPX,2024-12-31,5800\n")
    ingested = checked([facts, sectors, quotes])
    assert sorted(set(ingested.prices["entity_id"])) == ["CIK0000104169", "SPX"]
    assert ingested.sectors is not None
    assert ingested.sectors.select("entity_id", "ticker", "benchmark").rows() == [("CIK0000104169", "WMT", "SPX")]


def test_a_gzip_compressed_sectors_file_is_read_as_the_csv_inside(tmp_path: Path) -> None:
    write(tmp_path / "facts.csv", LONG)
    packed = tmp_path / "sectors.csv.gz"
    packed.write_bytes(gzip.compress(b"entity_id,sector\nNOVA,Software\n"))
    ingested = checked([tmp_path])
    assert dict(ingested.facts.select("entity_id", "sector").iter_rows())["NOVA"] == "Software"
    assert [(Path(f.path).name, f.adapter) for f in ingested.files] == [("sectors.csv.gz", "sectors"),
                                                                        ("facts.csv", "long")]
