"""From long facts to one row per entity and period, with explicit derivations, prior periods and TTM.

Every value column ``x`` has a ``x__src`` list of provenance strings beside it, so any figure computed
from these rows can name the input lines it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from generator.schema import items

KEYS = ["entity_id", "fiscal_year", "fiscal_period"]
ATTRIBUTES = ["entity_name", "sector", "currency", "period_start", "period_end"]
QUARTERS = {"Q1": 1, "Q2": 2, "Q3": 3, "Q4": 4}


def src(column: str) -> str:
    return f"{column}__src"


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
        terms = [*self.required, *self.optional]
        signs = self.sign or (1,) * len(terms)
        total = pl.lit(0.0)
        for name, s in zip(terms, signs, strict=True):
            value = pl.col(name).fill_null(0.0) if name in self.optional else pl.col(name)
            total = total + s * value
        return total

    def applies(self) -> pl.Expr:
        ok = pl.col(self.target).is_null()
        if self.required:
            ok = ok & pl.all_horizontal([pl.col(r).is_not_null() for r in self.required])
        else:
            ok = ok & pl.any_horizontal([pl.col(o).is_not_null() for o in self.optional])
        for name in self.when_zero:
            ok = ok & (pl.col(name).fill_null(0.0) == 0.0)
        return ok


DERIVATIONS: tuple[Derivation, ...] = (
    Derivation("short_term_debt", "short_term_debt = commercial_paper + current_portion_long_term_debt",
               (), ("commercial_paper", "current_portion_long_term_debt")),
    Derivation("total_debt", "total_debt = short_term_debt + long_term_debt", ("short_term_debt", "long_term_debt")),
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
    """Reported values only: one row per entity and period, one value and one source column per item."""
    names = list(items())
    attrs = facts.group_by(KEYS).agg(
        pl.col("entity_name").last(),
        pl.col("sector").drop_nulls().first(),
        pl.col("currency").mode().sort().first(),
        pl.col("period_start").min(),
        pl.col("period_end").max(),
    )
    wide = facts.pivot(on="item", on_columns=names, index=KEYS, values=["value", "source"], aggregate_function="first")
    rename = {f"value_{n}": n for n in names} | {f"source_{n}": src(n) for n in names}
    wide = wide.rename({k: v for k, v in rename.items() if k in wide.columns})
    wide = wide.with_columns(
        [pl.lit(None, pl.Float64).alias(n) for n in names if n not in wide.columns]
        + [pl.lit(None, pl.String).alias(src(n)) for n in names if src(n) not in wide.columns]
    ).with_columns([pl.when(pl.col(src(n)).is_not_null()).then(pl.concat_list(pl.col(src(n)))).alias(src(n))
                    for n in names])
    return attrs.join(wide, on=KEYS).with_columns(
        __q=pl.col("fiscal_period").replace_strict(QUARTERS, default=0, return_dtype=pl.Int32),
    ).with_columns(
        __qidx=pl.when(pl.col("__q") > 0).then(pl.col("fiscal_year") * 4 + pl.col("__q") - 1),
        __days=pl.when(pl.col("period_start").is_not_null())
        .then((pl.col("period_end") - pl.col("period_start")).dt.total_days() + 1)
        .otherwise(pl.when(pl.col("fiscal_period") == "FY").then(365).otherwise(91))
        .cast(pl.Float64),
    ).sort(KEYS)


def derive(periods: pl.DataFrame) -> pl.DataFrame:
    """Fill missing items from the explicit DERIVATIONS; the source says which formula was used."""
    for d in DERIVATIONS:
        inputs = [*d.required, *d.optional]
        sources = pl.concat_list(
            [pl.lit([f"derived: {d.formula}"], pl.List(pl.String))]
            + [pl.col(src(i)).fill_null(pl.lit([], pl.List(pl.String))) for i in inputs]
        )
        applies = d.applies()
        periods = periods.with_columns(
            pl.when(applies).then(d.expr()).otherwise(pl.col(d.target)).alias(d.target),
            pl.when(applies).then(sources).otherwise(pl.col(src(d.target))).alias(src(d.target)),
        )
    return periods


def with_prior(periods: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """``x_prior_year`` (same period a year earlier) and ``x_prior_quarter`` (quarters only) for each column."""
    keep = [c for name in columns for c in (name, src(name))]
    year = periods.select(
        "entity_id", "fiscal_period", (pl.col("fiscal_year") + 1).alias("fiscal_year"), *keep
    ).rename({c: _prior(c, "year") for c in keep})
    quarter = periods.filter(pl.col("__qidx").is_not_null()).select(
        "entity_id", (pl.col("__qidx") + 1).alias("__qidx"), *keep
    ).rename({c: _prior(c, "quarter") for c in keep})
    return periods.join(year, on=["entity_id", "fiscal_period", "fiscal_year"], how="left").join(
        quarter, on=["entity_id", "__qidx"], how="left"
    )


def _prior(column: str, kind: str) -> str:
    if column.endswith("__src"):
        return src(f"{column[:-5]}_prior_{kind}")
    return f"{column}_prior_{kind}"


def trailing_twelve_months(periods: pl.DataFrame) -> pl.DataFrame:
    """Quarter rows whose flow items are the sum of the four quarters ending there (null unless contiguous)."""
    flows = [name for name, item in items().items() if item.kind == "flow" and item.unit == "currency"]
    quarters = periods.filter(pl.col("__qidx").is_not_null()).sort("entity_id", "__qidx")
    contiguous = (pl.col("__qidx") - pl.col("__qidx").shift(3).over("entity_id")) == 3
    summed = []
    for name in flows:
        total = pl.col(name)
        sources = [pl.col(src(name))]
        for k in (1, 2, 3):
            total = total + pl.col(name).shift(k).over("entity_id")
            sources.append(pl.col(src(name)).shift(k).over("entity_id"))
        summed += [
            pl.when(contiguous).then(total).alias(name),
            pl.when(contiguous & pl.all_horizontal([s.is_not_null() for s in sources]))
            .then(pl.concat_list(sources)).alias(src(name)),
        ]
    return quarters.with_columns(summed).with_columns(__days=pl.lit(365.0))
