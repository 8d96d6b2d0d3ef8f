"""The canonical facts contract shared by ingest and every later stage (see DESIGN.md).

Item names, aliases and currency codes live in data files under ``generator/data`` so that
adding an alias or an item needs no code change.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import polars as pl

Statement = Literal["income", "balance", "cashflow"]
FISCAL_PERIODS: tuple[str, ...] = ("FY", "Q1", "Q2", "Q3", "Q4")
STATEMENTS: tuple[str, ...] = ("income", "balance", "cashflow")

CANONICAL_SCHEMA: dict[str, pl.DataType] = {
    "entity_id": pl.String(),
    "entity_name": pl.String(),
    "fiscal_year": pl.Int32(),
    "fiscal_period": pl.String(),
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "statement": pl.String(),
    "item": pl.String(),
    "value": pl.Float64(),
    "currency": pl.String(),
    "filed": pl.Date(),
    "source": pl.String(),
}
"""Column order and types of the canonical long table."""

OPTIONAL_COLUMNS: tuple[str, ...] = ("period_start", "filed", "sector", "statement")
"""Columns an input may omit: ``statement`` follows from the item, ``sector`` is metadata."""

REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in CANONICAL_SCHEMA if c not in OPTIONAL_COLUMNS and c != "source")


@dataclass(frozen=True)
class Item:
    """``statement`` is where the item belongs; ``also_in`` lists other statements that may print it."""

    name: str
    statement: Statement
    kind: Literal["flow", "stock"]
    unit: Literal["currency", "shares", "currency_per_share"]
    canonical: bool
    description: str
    also_in: tuple[str, ...] = ()


def _data_file(name: str) -> str:
    return resources.files("generator.data").joinpath(name).read_text(encoding="utf-8")


@cache
def items() -> dict[str, Item]:
    """Canonical items plus the auxiliary items that derivations and checks consume."""
    rows = csv.DictReader(_data_file("items.csv").splitlines())
    return {
        r["item"]: Item(
            name=r["item"],
            statement=r["statement"].split("|")[0],  # type: ignore[arg-type]
            also_in=tuple(r["statement"].split("|")[1:]),
            kind=r["kind"],  # type: ignore[arg-type]
            unit=r["unit"],  # type: ignore[arg-type]
            canonical=r["canonical"] == "true",
            description=r["description"],
        )
        for r in rows
    }


def canonical_items() -> list[str]:
    """The items of the output contract, each also a metric of its own (a report reads all its numbers from one place),
    without the auxiliary items only derivations and checks consume."""
    return [i.name for i in items().values() if i.canonical]


LABEL_NOISE = r"[^0-9a-z]+"
"""What label matching ignores (after lower-casing): punctuation and spacing."""


def normalize_label(label: str) -> str:
    """Key under which labels are matched: case, punctuation and spacing do not matter."""
    return re.sub(LABEL_NOISE, "", label.lower())


@cache
def alias_table() -> pl.DataFrame:
    """``key`` (normalised label) → ``item`` and ``printed_sign``; every item is its own alias."""
    rows = list(csv.DictReader(_data_file("aliases.csv").splitlines()))
    records = {normalize_label(name): (name, 1) for name in items()}
    for r in rows:
        if r["item"] not in items():
            raise ValueError(f"aliases.csv: alias {r['alias']!r} maps to unknown item {r['item']!r}")
        key = normalize_label(r["alias"])
        if key in records and records[key][0] != r["item"]:
            raise ValueError(f"aliases.csv: alias {r['alias']!r} maps to both {records[key][0]} and {r['item']}")
        records[key] = (r["item"], int(r["printed_sign"]))
    return pl.DataFrame(
        {
            "key": list(records),
            "item": [v[0] for v in records.values()],
            "printed_sign": [v[1] for v in records.values()],
        },
        schema={"key": pl.String, "item": pl.String, "printed_sign": pl.Int8},
    )


def resolve_label(label: str) -> str | None:
    """The canonical item a single label maps to, or None when the alias table does not know it."""
    hit = alias_table().filter(pl.col("key") == normalize_label(label))
    return hit["item"][0] if hit.height else None


@cache
def currencies() -> frozenset[str]:
    """ISO 4217 codes accepted as ``currency``."""
    return frozenset(_data_file("currencies.txt").split())


def item_statements() -> pl.DataFrame:
    """Each item's own statement, every statement allowed to print it, and its unit."""
    return pl.DataFrame(
        {
            "item": list(items()),
            "item_statement": [i.statement for i in items().values()],
            "allowed_statements": [[i.statement, *i.also_in] for i in items().values()],
            "item_unit": [i.unit for i in items().values()],
        },
        schema={"item": pl.String, "item_statement": pl.String, "allowed_statements": pl.List(pl.String),
                "item_unit": pl.String},
    )


def additive_flows() -> list[str]:
    """Every item that flows over a period in currency (revenue, capex, ...): four quarters of one add up to a
    trailing twelve months."""
    return [name for name, item in items().items() if item.kind == "flow" and item.unit == "currency"]


FINDING_SCHEMA: dict[str, pl.DataType] = {
    "entity_id": pl.String(),
    "fiscal_year": pl.Int32(),
    "fiscal_period": pl.String(),
    "check": pl.String(),
    "severity": pl.String(),
    "message": pl.String(),
    "facts": pl.List(pl.Struct({"name": pl.String, "value": pl.Float64})),
}
"""A finding of a check or of ingest (a restatement, a stock split): where, which check, how serious, what it says,
and the facts behind it."""
