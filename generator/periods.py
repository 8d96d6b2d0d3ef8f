"""From long facts to one row per entity and period, with explicit derivations, prior periods and TTM.

Every reported value column ``x`` has a ``x__fact`` column beside it: the row of the facts table it
came from, so any figure computed from these rows can name its source lines (see ``provenance``). A
value with no fact row was derived, by the formula in DERIVATIONS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from generator.schema import additive_flows, items

KEYS = ["entity_id", "fiscal_year", "fiscal_period"]
ATTRIBUTES = ["entity_name", "sector", "currency", "period_start", "period_end"]
QUARTERS = {"Q1": 1, "Q2": 2, "Q3": 3, "Q4": 4}


def fact(column: str) -> str:
    """The column beside ``column`` that holds the row of the facts table its value came from."""
    return f"{column}__fact"


@dataclass(frozen=True)
class Derivation:
    """A missing item computed from others; ``optional`` inputs count as zero when absent."""

    target: str
    formula: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    sign: tuple[int, ...] = ()
    when_zero: tuple[str, ...] = ()

    def expr(self) -> pl.Expr:
        """The target from its inputs with their signs; an absent optional input counts as zero."""
        terms = [*self.required, *self.optional]
        signs = self.sign or (1,) * len(terms)
        total = pl.lit(0.0)
        for name, s in zip(terms, signs, strict=True):
            value = pl.col(name).fill_null(0.0) if name in self.optional else pl.col(name)
            total = total + s * value
        return total

    def applies(self) -> pl.Expr:
        """Where the derivation fills the target: the target is missing, its inputs are there (with no required ones,
        any optional one) and every ``when_zero`` item is zero or absent."""
        ok = pl.col(self.target).is_null()
        if self.required:
            ok = ok & pl.all_horizontal([pl.col(r).is_not_null() for r in self.required])
        else:
            ok = ok & pl.any_horizontal([pl.col(o).is_not_null() for o in self.optional])
        for name in self.when_zero:
            ok = ok & (pl.col(name).fill_null(0.0) == 0.0)
        return ok

    def held(self, row: dict[str, Any]) -> bool:
        """Whether :meth:`applies` held for one period's figures once derived (its target then has a value):
        which of two derivations of an item made it, for its sources."""
        inputs = all(row.get(r) is not None for r in self.required) if self.required else \
            any(row.get(o) is not None for o in self.optional)
        return row.get(self.target) is not None and inputs and all(not row.get(n) for n in self.when_zero)


DERIVATIONS: tuple[Derivation, ...] = (
    Derivation("short_term_debt", "short_term_debt = commercial_paper + current_portion_long_term_debt",
               (), ("commercial_paper", "current_portion_long_term_debt")),
    Derivation("total_debt", "total_debt = short_term_debt + long_term_debt", ("short_term_debt", "long_term_debt")),
    Derivation("total_debt", "total_debt = long_term_debt (no short-term borrowings reported)",
               ("long_term_debt",), when_zero=("short_term_debt",)),
    Derivation(
        "total_liabilities",
        "total_liabilities = total_liabilities_and_equity − total_equity − noncontrolling_interest − temporary_equity",
        ("total_liabilities_and_equity", "total_equity"),
        ("noncontrolling_interest", "temporary_equity"),
        (1, -1, -1, -1),
    ),
    Derivation("gross_profit", "gross_profit = revenue − cost_of_revenue", ("revenue", "cost_of_revenue"), (),
               (1, -1)),
    Derivation("net_income_parent", "net_income_parent = net_income (no noncontrolling interest reported)",
               ("net_income",), when_zero=("noncontrolling_interest",)),
    Derivation("net_income", "net_income = net_income_parent (no noncontrolling interest reported)",
               ("net_income_parent",), when_zero=("noncontrolling_interest",)),
)


def pivot(facts: pl.DataFrame) -> pl.DataFrame:
    """Reported values only: one row per entity and period, one value and one fact-row column per item."""
    names = list(items())
    numbered = facts.with_row_index("__fact")
    attrs = numbered.group_by(KEYS).agg(
        pl.col("entity_name").last(),
        pl.col("sector").drop_nulls().first(),
        pl.col("currency").mode().sort().first(),
        pl.col("period_start").min(),
        pl.col("period_end").max(),
    )
    wide = numbered.pivot(on="item", on_columns=names, index=KEYS, values=["value", "__fact"],
                          aggregate_function="first")
    rename = {f"value_{n}": n for n in names} | {f"__fact_{n}": fact(n) for n in names}
    wide = wide.rename({k: v for k, v in rename.items() if k in wide.columns})
    wide = wide.with_columns(
        [pl.lit(None, pl.Float64).alias(n) for n in names if n not in wide.columns]
        + [pl.lit(None, pl.UInt32).alias(fact(n)) for n in names if fact(n) not in wide.columns]
    )
    return attrs.join(wide, on=KEYS).with_columns(
        __q=pl.col("fiscal_period").cast(pl.String).replace_strict(QUARTERS, default=0, return_dtype=pl.Int32),
    ).with_columns(
        __qidx=pl.when(pl.col("__q") > 0).then(pl.col("fiscal_year") * 4 + pl.col("__q") - 1),
        __days=pl.when(pl.col("period_start").is_not_null())
        .then((pl.col("period_end") - pl.col("period_start")).dt.total_days() + 1)
        .otherwise(pl.when(pl.col("fiscal_period") == "FY").then(365).otherwise(91))
        .cast(pl.Float64),
    ).sort(KEYS)


def derive(periods: pl.DataFrame) -> pl.DataFrame:
    """Fill missing items from the explicit DERIVATIONS (a derived value has no fact row)."""
    for d in DERIVATIONS:
        periods = periods.with_columns(pl.when(d.applies()).then(d.expr()).otherwise(pl.col(d.target)).alias(d.target))
    return periods


def with_prior(periods: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``x_prior_year`` (same period a year earlier) and ``x_prior_quarter`` (quarters only) for each column."""
    year = periods.select(
        "entity_id", "fiscal_period", (pl.col("fiscal_year") + 1).alias("fiscal_year"), *columns
    ).rename({c: f"{c}_prior_year" for c in columns})
    quarter = periods.filter(pl.col("__qidx").is_not_null()).select(
        "entity_id", (pl.col("__qidx") + 1).alias("__qidx"), *columns
    ).rename({c: f"{c}_prior_quarter" for c in columns})
    return periods.join(year, on=["entity_id", "fiscal_period", "fiscal_year"], how="left").join(
        quarter, on=["entity_id", "__qidx"], how="left"
    )


def trailing_twelve_months(periods: pl.DataFrame) -> pl.DataFrame:
    """Quarter rows whose flow items are the sum of the four quarters ending there (null unless contiguous)."""
    quarters = periods.filter(pl.col("__qidx").is_not_null()).sort("entity_id", "__qidx")
    same_entity = pl.col("entity_id") == pl.col("entity_id").shift(3)
    contiguous = same_entity & ((pl.col("__qidx") - pl.col("__qidx").shift(3)) == 3)
    summed = []
    for name in additive_flows():
        total = pl.col(name) + pl.col(name).shift(1) + pl.col(name).shift(2) + pl.col(name).shift(3)
        summed.append(pl.when(contiguous).then(total).alias(name))
    return quarters.with_columns(summed).with_columns(__days=pl.lit(365.0))
