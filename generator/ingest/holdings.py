"""Holdings: which companies each portfolio holds and how much (``portfolio_id, portfolio_name, entity_id,
quantity`` or ``weight``; optional ``as_of, cost, currency, base_currency``), in CSV or Parquet, recognised by
its columns.

A row that cannot be used is rejected with its file, line, column and reason, as every input row is. Some
rejections leave the portfolio as it was meant (a quantity of zero, a row given twice); the others change what
it holds (a quantity that is not a number, a short position, a company no input has), and the portfolio is
not reported until the row is fixed: a book valued without one of its holdings would look right and be wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from generator.errors import InputFileError
from generator.ingest.base import REJECTED_SCHEMA, Probe, format_suffix, refused_record
from generator.ingest.csvread import read_csv_strings
from generator.ingest.sectors import entity_key

HOLDINGS_SCHEMA: dict[str, pl.DataType] = {
    "portfolio_id": pl.String(),
    "portfolio_name": pl.String(),
    "entity_id": pl.String(),
    "given": pl.String(),
    "quantity": pl.Float64(),
    "weight": pl.Float64(),
    "as_of": pl.Date(),
    "cost": pl.Float64(),
    "currency": pl.String(),
    "base_currency": pl.String(),
    "source": pl.String(),
}
"""One row per holding: the portfolio, the company as the other inputs name it (``given``: as the file wrote it),
the quantity (shares) or the weight (a fraction of the portfolio), the date the holdings are as of, what they cost
(in ``currency``), the currency the holding is priced in, the portfolio's base currency, and ``file:line``."""

COLUMNS = ("portfolio_id", "portfolio_name", "entity_id", "quantity", "weight", "as_of", "cost", "currency",
           "base_currency")
_ISO = re.compile(r"^[A-Z]{3}$")


def accepts(probe: Probe) -> bool:
    """A CSV or Parquet file whose columns name a portfolio, a company and a quantity or a weight."""
    try:
        names = set(pl.read_parquet_schema(probe.path)) if probe.suffix in (".parquet", ".pq") else probe.columns
    except (OSError, pl.exceptions.PolarsError, InputFileError):
        return False
    names = {n.strip().lower() for n in names}
    return {"portfolio_id", "entity_id"} <= names and bool(names & {"quantity", "weight"})


@dataclass
class Holdings:
    """What the holdings files gave: the holdings, the rows each file held, files refused, rows rejected, and for
    each portfolio the rejections that change what it holds (``file:line column: reason``)."""

    holdings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=HOLDINGS_SCHEMA))
    rows: dict[Path, int] = field(default_factory=dict)
    refused: list[InputFileError] = field(default_factory=list)
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECTED_SCHEMA))
    blocking: dict[str, list[str]] = field(default_factory=dict)


def _cells(path: Path) -> list[tuple[int, dict[str, str | None], str | None]]:
    """(line, cells by our column names, a problem the reader found with the line) for every record."""
    if format_suffix(path) in (".parquet", ".pq"):
        try:
            frame = pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise InputFileError(path, f"cannot read it as parquet: {exc}") from exc
        named = {c.strip().lower(): c for c in frame.columns}
        return [(n, {k: _text(row.get(named[k])) if k in named else None for k in COLUMNS}, None)
                for n, row in enumerate(frame.select(pl.all().cast(pl.String)).iter_rows(named=True), start=1)]
    frame, lines = read_csv_strings(path)
    named = {c.strip().lower(): c for c in frame.columns if c != "__problem"}
    return [(line, {k: _text(row.get(named[k])) if k in named else None for k in COLUMNS}, row.get("__problem"))
            for row, line in zip(frame.iter_rows(named=True), lines, strict=True)]


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _number(text: str | None) -> float | None:
    try:
        return float(text.replace(",", "")) if text else None
    except ValueError:
        return None


def _problem(cells: dict[str, str | None], problem: str | None) -> tuple[str | None, str, bool] | None:
    """(column, reason, whether it changes the portfolio) of a row that cannot be used; None for a good row."""
    if problem:
        return None, problem, True
    for name in ("portfolio_id", "entity_id"):
        if not cells[name]:
            return name, "required value is empty", True
    for name in ("quantity", "weight", "cost"):
        if cells[name] and _number(cells[name]) is None:
            return name, f"{name} '{cells[name]}' is not a number", True
    quantity, weight = _number(cells["quantity"]), _number(cells["weight"])
    if quantity is None and weight is None:
        return "quantity", "neither a quantity nor a weight", True
    if quantity is not None and quantity < 0:
        return "quantity", f"quantity {cells['quantity']} is negative: short positions are not supported", True
    if quantity is None and weight is not None and not 0 <= weight <= 1:
        return "weight", f"weight {cells['weight']} is not a fraction from 0 to 1 (write 0.15 for 15%)", True
    if quantity == 0 or (quantity is None and weight == 0):
        column = "quantity" if quantity is not None else "weight"
        return column, f"a {column} of 0 holds nothing: not counted", False
    if cells["as_of"] and _day(cells["as_of"]) is None:
        return "as_of", f"as_of '{cells['as_of']}' is not a date (YYYY-MM-DD)", True
    if (cost := _number(cells["cost"])) is not None and cost < 0:
        return "cost", f"cost {cells['cost']} is negative", True
    for name in ("currency", "base_currency"):
        if cells[name] and not _ISO.match(cells[name].upper()):
            return name, f"{name} '{cells[name]}' is not an ISO 4217 code (USD, EUR, ...)", True
    return None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _rejected(path: Path, line: int, column: str | None, cells: dict[str, str | None],
              reason: str) -> dict[str, object]:
    return {"file": str(path), "line": line, "column": column, "entity_id": cells.get("entity_id"), "item": "holding",
            "value": cells.get(column) if column else None, "reason": reason}


def read_all(paths: Sequence[Path]) -> Holdings:
    """Every holdings file in turn, then the checks across rows: a company held twice on one date (the same
    quantity: a repeat; another: both rejected), a portfolio held by quantity and by weight at once, a base
    currency that changes within a portfolio."""
    out = Holdings()
    good: list[dict[str, object]] = []
    bad: list[dict[str, object]] = []
    for path in paths:
        try:
            records = _cells(path)
        except InputFileError as exc:
            out.refused.append(exc)
            bad.append(refused_record(exc))
            continue
        out.rows[path] = len(records)
        for line, cells, problem in records:
            found = _problem(cells, problem)
            if found:
                column, reason, blocks = found
                bad.append(_rejected(path, line, column, cells, reason))
                if blocks and cells["portfolio_id"]:
                    out.blocking.setdefault(str(cells["portfolio_id"]), []).append(
                        f"{path}:{line}{f' {column}' if column else ''}: {reason}")
                continue
            quantity = _number(cells["quantity"])
            good.append({
                "portfolio_id": cells["portfolio_id"], "portfolio_name": cells["portfolio_name"],
                "entity_id": entity_key(str(cells["entity_id"])), "given": cells["entity_id"],
                "quantity": quantity, "weight": None if quantity is not None else _number(cells["weight"]),
                "as_of": _day(cells["as_of"]) if cells["as_of"] else None, "cost": _number(cells["cost"]),
                "currency": cells["currency"] and cells["currency"].upper(),
                "base_currency": cells["base_currency"] and cells["base_currency"].upper(),
                "source": f"{path}:{line}", "__path": path, "__line": line})
    kept = _across_rows(good, bad, out.blocking)
    out.holdings = pl.DataFrame([{k: v for k, v in r.items() if not k.startswith("__")} for r in kept],
                                schema=HOLDINGS_SCHEMA)
    out.rejected = pl.DataFrame(bad, schema=REJECTED_SCHEMA)
    return out


def _across_rows(rows: list[dict[str, object]], bad: list[dict[str, object]],
                 blocking: dict[str, list[str]]) -> list[dict[str, object]]:
    """The rows that agree with their portfolio's first: its basis (quantity or weight) and base currency, one row
    per company and date. A repeat with the same figures is listed and changes nothing; the others block it."""
    first: dict[tuple[object, ...], dict[str, object]] = {}
    kept: list[dict[str, object]] = []
    for row in rows:
        portfolio = str(row["portfolio_id"])
        basis = "quantity" if row["quantity"] is not None else "weight"
        reason = column = None
        blocks = True
        if (opening := first.get(("portfolio", portfolio, row["as_of"]))) is not None:
            opened_by = "quantity" if opening["quantity"] is not None else "weight"
            if basis != opened_by:
                column, reason = basis, f"portfolio {portfolio} is held by {opened_by} ({opening['source']}); " \
                                        f"this row gives a {basis}"
        if reason is None and row["base_currency"] and (base := first.get(("base", portfolio))) is not None \
                and base["base_currency"] != row["base_currency"]:
            column, reason = "base_currency", f"portfolio {portfolio}'s base currency is {base['base_currency']} " \
                                              f"({base['source']})"
        if reason is None and (held := first.get(("held", portfolio, row["entity_id"], row["as_of"]))) is not None:
            same = (held["quantity"], held["weight"]) == (row["quantity"], row["weight"])
            column, blocks = "entity_id", not same
            reason = f"repeats {held['source']} (same {basis})" if same else \
                f"{row['given']} is already held at {held['source']} with another {basis}: which is true cannot be told"
        if reason is not None:
            bad.append({"file": str(row["__path"]), "line": row["__line"], "column": column,
                        "entity_id": row["given"], "item": "holding", "value": None, "reason": reason})
            if blocks:
                blocking.setdefault(portfolio, []).append(f"{row['source']} {column}: {reason}")
            continue
        first.setdefault(("portfolio", portfolio, row["as_of"]), row)
        if row["base_currency"]:
            first.setdefault(("base", portfolio), row)
        first[("held", portfolio, row["entity_id"], row["as_of"])] = row
        kept.append(row)
    return kept


def known(holdings: Holdings, entities: set[str], tickers: dict[str, str]) -> Holdings:
    """The holdings under the ids the other inputs use (a ticker a sectors file declares becomes its company's
    id), and each holding of a company no input has rejected: it cannot be valued, so its portfolio is blocked."""
    frame = holdings.holdings.with_columns(
        entity_id=pl.when(pl.col("entity_id").is_in(list(entities))).then(pl.col("entity_id"))
        .otherwise(pl.col("entity_id").replace(tickers)))
    unknown = frame.filter(~pl.col("entity_id").is_in(list(entities)))
    if unknown.is_empty():
        holdings.holdings = frame
        return holdings
    rows = []
    for row in unknown.iter_rows(named=True):
        file, line = str(row["source"]).rsplit(":", 1)
        reason = f"{row['given']} is in no input file (no statements, no prices): the holding cannot be valued"
        rows.append({"file": file, "line": int(line), "column": "entity_id", "entity_id": row["given"],
                     "item": "holding", "value": row["given"], "reason": reason})
        holdings.blocking.setdefault(row["portfolio_id"], []).append(f"{row['source']} entity_id: {reason}")
    holdings.holdings = frame.filter(pl.col("entity_id").is_in(list(entities)))
    holdings.rejected = pl.concat([holdings.rejected, pl.DataFrame(rows, schema=REJECTED_SCHEMA)])
    return holdings
