"""Which kind of business a company is: a bank, an insurer, a REIT or an industrial company.

The standard ratios were built for industrial companies. Banks, insurers and REITs present their
statements differently: no current/non-current split of the balance sheet, interest as the cost of the
product rather than of its financing, premiums instead of sales, investment property instead of plant.
A ratio built on those distinctions says nothing about them ("current ratio" of a bank), so it is absent
with that reason, and the ratios their analysts read are computed instead (see ``metrics``).

A user who knows says so: a SIC code in a sectors file decides (``ingest.sectors`` maps it). Otherwise the
company's own figures decide, by share rather than by presence, because other companies tag these concepts
too (a conglomerate with an insurance arm earns premiums, a manufacturer rents out a building): deposits
funding a fifth of the balance sheet make a bank, premiums earning a quarter of revenue an insurer,
investment property making half the assets a REIT. They are read from the latest annual report (the
latest period when there is none): one industry per company, as it is now, so that its history reads on
one set of ratios.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import polars as pl

Industry = Literal["industrial", "bank", "insurer", "reit"]
INDUSTRIES: tuple[Industry, ...] = ("industrial", "bank", "insurer", "reit")
"""The position of an industry here is its code in a metric's status (see ``metrics._status``)."""

NAMES: dict[Industry, str] = {"industrial": "an industrial company", "bank": "a bank", "insurer": "an insurer",
                              "reit": "a REIT"}

INDUSTRY_SCHEMA: dict[str, pl.DataType] = {"entity_id": pl.String(), "industry": pl.String(), "basis": pl.String()}
"""One row per company: its industry and what decided it."""


@dataclass(frozen=True)
class Evidence:
    """``industry`` when ``item`` is positive and at least ``share`` of ``of`` (or ``of`` is not reported)."""

    industry: Industry
    item: str
    of: str
    share: float


EVIDENCE: tuple[Evidence, ...] = (
    Evidence("bank", "deposits", "total_assets", 0.2),
    Evidence("insurer", "premiums_earned", "revenue", 0.25),
    Evidence("reit", "real_estate_investments", "total_assets", 0.5),
)
"""In order: the first that holds decides (a bank with an insurance arm is a bank)."""


@dataclass(frozen=True)
class NotMeaningful:
    """Standard ratios that say nothing of one industry, and why: each is absent for its companies with that reason
    rather than shown as a misleading figure."""

    industry: Industry
    why: str
    metrics: tuple[str, ...]


_UNCLASSIFIED = ("current_ratio", "quick_ratio", "cash_ratio", "working_capital", "altman_z_double_prime",
                 "piotroski_f_score")
"""Ratios of current assets to current liabilities, and the scores built on them."""

NOT_MEANINGFUL: tuple[NotMeaningful, ...] = (
    NotMeaningful("bank", "no classified balance sheet", _UNCLASSIFIED),
    NotMeaningful("bank", "no cost of goods sold, inventory or trade receivables",
                  ("gross_margin", "inventory_turnover", "dso")),
    NotMeaningful("bank", "interest is its cost of funds, not a financing charge",
                  ("interest_coverage", "ebitda", "ebitda_margin", "net_debt", "net_debt_to_ebitda", "debt_to_equity",
                   "debt_to_assets")),
    NotMeaningful("bank", "its operating cash flow moves with loans and deposits",
                  ("free_cash_flow", "fcf_margin", "cash_conversion")),
    NotMeaningful("insurer", "no classified balance sheet", _UNCLASSIFIED),
    NotMeaningful("insurer", "no cost of goods sold, inventory or trade receivables",
                  ("gross_margin", "inventory_turnover", "dso")),
    NotMeaningful("reit", "no classified balance sheet", _UNCLASSIFIED),
    NotMeaningful("reit", "no inventory", ("inventory_turnover",)),
)


@cache
def not_meaningful(metric: str) -> dict[Industry, str]:
    """Industry → the reason ``metric`` is absent for its companies ("not meaningful for a bank (…)")."""
    return {n.industry: f"not meaningful for {NAMES[n.industry]} ({n.why})" for n in NOT_MEANINGFUL
            if metric in n.metrics}


def _latest(periods: pl.DataFrame) -> pl.DataFrame:
    """Each company's latest annual row, or its latest row when it has no annual one."""
    return (periods.with_columns(__annual=pl.col("fiscal_period").cast(pl.String) == "FY")
            .sort("entity_id", "__annual", "period_end", nulls_last=False)
            .group_by("entity_id", maintain_order=True).last())


def _holds(e: Evidence) -> pl.Expr:
    return (pl.col(e.item) > 0) & (pl.col(e.of).is_null() | (pl.col(e.item) >= e.share * pl.col(e.of)))


def _because(e: Evidence) -> pl.Expr:
    period = pl.format(" ({} {})", pl.col("fiscal_period").cast(pl.String), pl.col("fiscal_year"))
    share = (pl.col(e.item) / pl.col(e.of) * 100).round(0).cast(pl.Int64).cast(pl.String)
    return pl.when(pl.col(e.of).is_null()).then(pl.lit(f"reports {e.item} and no {e.of}") + period) \
        .otherwise(pl.lit(f"{e.item} = ") + share + pl.lit(f"% of {e.of}") + period)


_NONE_HOLDS = "none of: " + "; ".join(f"{e.item} at least {e.share:.0%} of {e.of} ({NAMES[e.industry]})"
                                      for e in EVIDENCE)


def classify(periods: pl.DataFrame, declared: pl.DataFrame | None = None) -> pl.DataFrame:
    """Each company's industry and its basis. ``declared`` (``ingest.sectors``: entity_id, industry, basis)
    wins where it names an industry; the latest report's figures decide the rest."""
    latest = _latest(periods)
    industry = pl.lit("industrial")
    basis = pl.lit(_NONE_HOLDS)
    for e in reversed(EVIDENCE):
        industry = pl.when(_holds(e)).then(pl.lit(e.industry)).otherwise(industry)
        basis = pl.when(_holds(e)).then(_because(e)).otherwise(basis)
    found = latest.select(pl.col("entity_id").cast(pl.String), industry=industry, basis=basis)
    if declared is None or declared.is_empty():
        return found.cast(INDUSTRY_SCHEMA)  # type: ignore[arg-type]
    given = declared.filter(pl.col("industry").is_not_null()).select(
        "entity_id", __industry="industry", __basis="basis")
    return found.join(given, on="entity_id", how="left", maintain_order="left").select(
        "entity_id", industry=pl.coalesce("__industry", "industry"), basis=pl.coalesce("__basis", "basis"),
    ).cast(INDUSTRY_SCHEMA)  # type: ignore[arg-type]
