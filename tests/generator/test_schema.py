"""The canonical facts contract: items, their aliases and currencies, read from the data files."""

from __future__ import annotations

import polars as pl
import pytest

from generator.schema import (
    CANONICAL_SCHEMA,
    FISCAL_PERIODS,
    REQUIRED_COLUMNS,
    STATEMENTS,
    additive_flows,
    alias_table,
    canonical_items,
    currencies,
    item_statements,
    items,
    normalize_label,
    resolve_label,
)


def test_every_item_belongs_to_a_statement_and_has_a_kind_unit_and_description() -> None:
    assert len(items()) > 40
    for item in items().values():
        assert item.statement in STATEMENTS and set(item.also_in) <= set(STATEMENTS), item
        assert item.kind in ("flow", "stock") and item.unit in ("currency", "shares", "currency_per_share"), item
        assert item.description, item
        assert (item.kind == "stock") == (item.statement == "balance"), item  # a balance is at a date
    assert {"revenue", "net_income", "total_assets", "operating_cash_flow"} <= set(canonical_items())
    assert "net_change_in_cash" in items() and "net_change_in_cash" not in canonical_items()


@pytest.mark.parametrize(("label", "item"), [
    ("Revenue", "revenue"), ("Net sales", "revenue"), ("TOTAL NET SALES", "revenue"), ("total_assets", "total_assets"),
    ("Total liabilities", "total_liabilities"), ("Total liabilities and equity", "total_liabilities_and_equity"),
    ("Capital expenditures", "capex"), ("Widget sales", None), ("", None),
])
def test_a_label_resolves_whatever_its_case_punctuation_and_spacing(label: str, item: str | None) -> None:
    assert resolve_label(label) == item


def test_labels_are_matched_without_case_punctuation_or_spaces() -> None:
    assert normalize_label("Total liabilities and stockholders' equity") == \
        normalize_label("TOTAL LIABILITIES AND STOCKHOLDERS’ EQUITY") == "totalliabilitiesandstockholdersequity"
    assert normalize_label(" Net  sales (net) ") == "netsalesnet"


def test_each_alias_maps_to_one_known_item_and_outflows_are_printed_positive() -> None:
    table = alias_table()
    assert table["key"].is_unique().all()
    assert set(table["item"]) <= set(items())
    assert set(table["printed_sign"]) == {1, -1}
    capex = table.filter(pl.col("key") == normalize_label("Capital expenditures"))
    assert capex.select("item", "printed_sign").row(0) == ("capex", -1)  # printed as a positive outflow


def test_currencies_are_iso_4217_codes() -> None:
    assert {"USD", "EUR", "JPY", "TWD", "CHF"} <= currencies()
    assert all(len(code) == 3 and code.isupper() for code in currencies())
    assert "US$" not in currencies()


def test_additive_flows_are_the_currency_flows_a_year_of_quarters_adds_up() -> None:
    flows = set(additive_flows())
    assert {"revenue", "net_income", "operating_cash_flow", "capex"} <= flows
    assert not flows & {"total_assets", "cash", "eps_diluted", "shares_diluted"}  # balances, per-share, counts


def test_the_contract_columns() -> None:
    assert list(CANONICAL_SCHEMA)[:4] == ["entity_id", "entity_name", "fiscal_year", "fiscal_period"]
    assert set(REQUIRED_COLUMNS) == {"entity_id", "entity_name", "fiscal_year", "fiscal_period", "period_end", "item",
                                     "value", "currency"}
    assert FISCAL_PERIODS == ("FY", "Q1", "Q2", "Q3", "Q4")
    statements = item_statements()
    assert statements.height == len(items())
    revenue = statements.filter(item="revenue").row(0, named=True)
    assert revenue["item_statement"] == "income" and "income" in revenue["allowed_statements"]
