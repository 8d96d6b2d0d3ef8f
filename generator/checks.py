"""Accounting checks: identities a statement must satisfy, reported as data-quality findings.

Checks run on reported values only (before derivations fill gaps), so an identity is never "confirmed"
by a figure that was computed from it. A failed check is a finding attached to the entity and period,
never a dropped row and never a crash.
"""

from __future__ import annotations

import polars as pl

from generator.periods import KEYS, QUARTERS, with_prior
from generator.rounding import unit
from generator.schema import FINDING_SCHEMA

RELATIVE_TOLERANCE = 1e-4
"""Statements round each line; a difference under 0.01% of the larger side (or one unit) is rounding."""

c = pl.col


def _tolerance(*sides: pl.Expr, terms: tuple[str, ...] = ()) -> pl.Expr:
    """Rounding: 0.01% of the larger side, or half the rounding of every reported term added up, whichever is
    larger (lines rounded to $1m can miss a total by $0.5m each)."""
    relative = pl.max_horizontal(pl.max_horizontal([s.abs() for s in sides]) * RELATIVE_TOLERANCE, pl.lit(1.0))
    if not terms:
        return relative
    return pl.max_horizontal(relative, pl.sum_horizontal([unit(c(t).fill_null(0.0)) for t in terms]) / 2)


def _fmt(e: pl.Expr) -> pl.Expr:
    """A whole amount as a report prints it: 9,927,000,000, not 9927000000."""
    digits = e.round(0).abs().cast(pl.Int64).cast(pl.String)
    grouped = digits.str.reverse().str.replace_all(r"(\d{3})", "$1,").str.reverse().str.strip_chars_start(",")
    return pl.when(e.round(0) < 0).then(pl.lit("-") + grouped).otherwise(grouped)


def _finding(frame: pl.DataFrame, check: str, severity: str, failed: pl.Expr, message: pl.Expr,
             facts: list[str]) -> pl.DataFrame:
    return frame.filter(failed.fill_null(False)).select(
        *KEYS,
        check=pl.lit(check),
        severity=pl.lit(severity),
        message=message,
        facts=pl.concat_list([pl.struct(name=pl.lit(f), value=c(f).cast(pl.Float64)) for f in facts]),
    )


def _equation(frame: pl.DataFrame, check: str, left: str, right: list[tuple[int, str]], needed: list[str],
              label: str, severity: str = "error") -> pl.DataFrame:
    """``left = Σ sign·right`` where every ``needed`` input is reported (others count as zero)."""
    total = pl.lit(0.0)
    for sign, name in right:
        total = total + sign * c(name).fill_null(0.0)
    rows = frame.filter(pl.all_horizontal([c(n).is_not_null() for n in [left, *needed]]))
    gap = c(left) - total
    message = (pl.lit(f"{label}: {left} ") + _fmt(c(left)) + pl.lit(" vs ") + _fmt(total)
               + pl.lit(" (difference ") + _fmt(gap) + pl.lit(")"))
    return _finding(rows, check, severity, gap.abs() > _tolerance(c(left), total, terms=(left, *[n for _, n in right])),
                    message, [left, *[n for _, n in right]])


def accounting_checks(reported: pl.DataFrame) -> pl.DataFrame:
    """All findings for a pivoted table of reported values (see ``periods.pivot``)."""
    frame = with_prior(reported, ["cash"])
    printed_total = c("total_liabilities_and_equity").is_not_null()
    claims = [(1, "total_liabilities"), (1, "total_equity"), (1, "noncontrolling_interest"), (1, "temporary_equity")]
    parts = [
        _equation(frame.filter(~printed_total), "balance_sheet_identity", "total_assets", claims,
                  ["total_liabilities", "total_equity"],
                  "assets do not equal liabilities + equity + noncontrolling interest + temporary equity"),
        _equation(frame.filter(printed_total), "balance_sheet_identity", "total_assets",
                  [(1, "total_liabilities_and_equity")], ["total_liabilities_and_equity"],
                  "assets do not equal total liabilities and equity"),
        _equation(frame.filter(printed_total), "balance_sheet_components", "total_liabilities_and_equity", claims,
                  ["total_liabilities", "total_equity"],
                  "the statement balances, but liabilities + equity + noncontrolling interest + temporary equity "
                  "miss part of total liabilities and equity (a line between liabilities and equity, such as "
                  "redeemable preferred stock, carries a company-specific tag)", severity="warning"),
        _equation(frame, "gross_profit_identity", "gross_profit", [(1, "revenue"), (-1, "cost_of_revenue")],
                  ["revenue", "cost_of_revenue"], "gross profit is not revenue − cost of revenue"),
        _equation(frame, "cash_flow_reconciliation", "net_change_in_cash",
                  [(1, "operating_cash_flow"), (1, "investing_cash_flow"), (1, "financing_cash_flow"),
                   (1, "fx_effect_on_cash")],
                  ["operating_cash_flow", "investing_cash_flow", "financing_cash_flow"],
                  "net change in cash is not operating + investing + financing cash flow"),
        _cash_roll_forward(frame),
        _not_above(frame, "current_assets", "total_assets"),
        _not_above(frame, "current_liabilities", "total_liabilities"),
        _quarters_add_up(reported),
        missing_periods(reported),
    ]
    return pl.concat([p.select(list(FINDING_SCHEMA)).cast(FINDING_SCHEMA) for p in parts]).sort(  # type: ignore[arg-type]
        [*KEYS, "check"]
    )


def _cash_roll_forward(frame: pl.DataFrame) -> pl.DataFrame:
    """Where no net change in cash is printed: cash now − cash before = the three cash flows."""
    prior = pl.when(c("fiscal_period") == "FY").then(c("cash_prior_year")).otherwise(c("cash_prior_quarter"))
    rows = frame.filter(c("net_change_in_cash").is_null()).with_columns(cash_before=prior)
    rows = rows.filter(pl.all_horizontal([c(n).is_not_null() for n in (
        "cash", "cash_before", "operating_cash_flow", "investing_cash_flow", "financing_cash_flow")]))
    flows = c("operating_cash_flow") + c("investing_cash_flow") + c("financing_cash_flow") \
        + c("fx_effect_on_cash").fill_null(0.0)
    change = c("cash") - c("cash_before")
    message = (pl.lit("cash moved by ") + _fmt(change) + pl.lit(" but the cash-flow statement adds up to ")
               + _fmt(flows) + pl.lit(" (restricted cash or a missing line?)"))
    terms = ("cash", "cash_before", "operating_cash_flow", "investing_cash_flow", "financing_cash_flow",
             "fx_effect_on_cash")
    return _finding(rows, "cash_flow_reconciliation", "warning",
                    (change - flows).abs() > _tolerance(change, flows, terms=terms),
                    message, ["cash", "cash_before", "operating_cash_flow", "investing_cash_flow",
                              "financing_cash_flow"])


def _not_above(frame: pl.DataFrame, part: str, whole: str) -> pl.DataFrame:
    message = pl.lit(f"{part} ") + _fmt(c(part)) + pl.lit(f" exceeds {whole} ") + _fmt(c(whole))
    return _finding(frame, f"{part}_within_{whole}", "error", c(part) > c(whole) + _tolerance(c(whole)), message,
                    [part, whole])


QUARTER_CHECKED_FLOWS = (
    "revenue", "cost_of_revenue", "gross_profit", "operating_income", "net_income", "operating_cash_flow", "capex",
)
"""The flows whose four quarters are checked against their fiscal year: the headline ones (every additive flow,
``schema.additive_flows``, is summed into trailing twelve months; these are the ones a filer must reconcile)."""


def _quarters_add_up(reported: pl.DataFrame) -> pl.DataFrame:
    """Q1 + Q2 + Q3 + Q4 of a flow must equal the fiscal year's figure."""
    quarters = reported.filter(c("fiscal_period").is_in(list(QUARTERS)))
    sums = quarters.group_by("entity_id", "fiscal_year").agg(
        [pl.when(c(i).count() == 4).then(c(i).sum()).alias(f"{i}_quarters") for i in QUARTER_CHECKED_FLOWS]
    )
    years = reported.filter(c("fiscal_period") == "FY").join(sums, on=["entity_id", "fiscal_year"])
    parts = []
    for item in QUARTER_CHECKED_FLOWS:
        total = c(f"{item}_quarters")
        message = (pl.lit(f"{item} of the four quarters adds up to ") + _fmt(total)
                   + pl.lit(", the fiscal year reports ") + _fmt(c(item)))
        rows = years.filter(c(item).is_not_null() & total.is_not_null())
        parts.append(_finding(rows, "quarters_sum_to_year", "warning", (c(item) - total).abs()
                              > _tolerance(c(item), total) * 4, message, [item, f"{item}_quarters"]))
    return pl.concat(parts)


def missing_periods(reported: pl.DataFrame) -> pl.DataFrame:
    """Gaps in an entity's series of quarters or fiscal years, between its first and last period."""
    quarters = reported.filter(c("__qidx").is_not_null()).group_by("entity_id").agg(
        c("__qidx").min().alias("lo"), c("__qidx").max().alias("hi"), c("__qidx").alias("have")
    )
    expected = quarters.with_columns(__qidx=pl.int_ranges("lo", c("hi") + 1)).explode("__qidx")
    missing_q = expected.filter(~c("__qidx").is_in(c("have"))).select(
        "entity_id",
        fiscal_year=(c("__qidx") // 4).cast(pl.Int32),
        fiscal_period=pl.lit("Q") + (c("__qidx") % 4 + 1).cast(pl.String),
    )
    years = reported.filter(c("fiscal_period") == "FY").group_by("entity_id").agg(
        c("fiscal_year").min().alias("lo"), c("fiscal_year").max().alias("hi"), c("fiscal_year").alias("have")
    )
    missing_y = years.with_columns(fiscal_year=pl.int_ranges("lo", c("hi") + 1)).explode("fiscal_year").filter(
        ~c("fiscal_year").is_in(c("have"))
    ).select("entity_id", c("fiscal_year").cast(pl.Int32), fiscal_period=pl.lit("FY"))
    gaps = pl.concat([missing_q, missing_y])
    return gaps.select(
        *KEYS,
        check=pl.lit("missing_period"),
        severity=pl.lit("warning"),
        message=pl.lit("no data for ") + c("fiscal_period") + pl.lit(" FY") + c("fiscal_year").cast(pl.String)
        + pl.lit(": the series has a gap, so growth and TTM figures that need it are absent"),
        facts=pl.lit([], FINDING_SCHEMA["facts"]),
    )
