"""Where a metric value came from: its input values and the source lines behind each of them.

Metrics are computed over all entities without carrying provenance (it would cost more than the
arithmetic); this module rebuilds it for one entity at a time, when its files are written, from the
fact-row columns of the period tables and the explicit derivation formulas.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from generator.metrics import BY_NAME, Analysis, definition
from generator.periods import DERIVATIONS, fact
from generator.schema import additive_flows

_FLOWS = {*additive_flows(), "free_cash_flow"}
_FREE_CASH = BY_NAME["free_cash_flow"]


class Provenance:
    """One company's sources, ready to answer for any of its metric values: its period rows, its quarters in order for
    lags and trailing sums, and the facts table's source column."""

    def __init__(self, analysis: Analysis, facts: pl.DataFrame, entity_id: str) -> None:
        def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
            return frame.filter(pl.col("entity_id") == entity_id).to_dicts()

        base = rows(analysis.base)
        self.base = {(r["fiscal_year"], r["fiscal_period"]): r for r in base}
        self.quarters = {r["__qidx"]: r for r in base if r["__qidx"] is not None}
        self.ttm = {(r["fiscal_year"], r["fiscal_period"]): r for r in rows(analysis.ttm)}
        self.sources = facts.get_column("source")

    def period(self, fiscal_year: int, fiscal_period: str) -> dict[str, Any]:
        """One period's row of the base table, whose period end and currency facts.json records beside each value."""
        return self.base[(fiscal_year, fiscal_period)]

    def of(self, metric: str, fiscal_year: int, fiscal_period: str) -> tuple[dict[str, float | None], list[str]]:
        """(inputs by name, source lines) of one metric value."""
        m = definition(metric)
        trailing = metric.endswith("_ttm") and metric not in BY_NAME
        row = (self.ttm if trailing else self.base)[(fiscal_year, fiscal_period)]
        inputs = {i: row.get(i) for i in m.inputs}
        found: list[str] = []
        for name in m.inputs:
            item, _, lag = name.partition("_prior_")
            target = self._shifted(self.base[(fiscal_year, fiscal_period)], lag)
            if target is None:
                continue
            span = self._four_quarters(target) if trailing and item in _FLOWS else [target]
            for r in span:
                found += self._item_sources(r, item)
        return inputs, list(dict.fromkeys(found))

    def _shifted(self, row: dict[str, Any], lag: str) -> dict[str, Any] | None:
        if lag == "year":
            return self.base.get((row["fiscal_year"] - 1, row["fiscal_period"]))
        if lag == "quarter":
            return self.quarters.get(row["__qidx"] - 1) if row["__qidx"] is not None else None
        return row

    def _four_quarters(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        q = row["__qidx"]
        return [r for k in range(4) if (r := self.quarters.get(q - k)) is not None]

    def _item_sources(self, row: dict[str, Any], item: str) -> list[str]:
        if item == "free_cash_flow":
            derived = [f"derived: free_cash_flow = {_FREE_CASH.formula}"]
            return derived + [s for i in _FREE_CASH.inputs for s in self._item_sources(row, i)]
        fact_row = row.get(fact(item))
        if fact_row is not None:
            return [self.sources[fact_row]]
        d = next((d for d in DERIVATIONS if d.target == item and d.held(row)), None)  # the first, as derive applies
        if d is None:
            return []
        return [f"derived: {d.formula}"] + [s for i in (*d.required, *d.optional) for s in self._item_sources(row, i)]
